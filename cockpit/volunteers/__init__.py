"""Volunteers (数字党建 · 红乔先锋): registry, activities and hours, points, mobilisation, sign-ups.

Plain Python like the rest of :mod:`cockpit`: the contract's volunteer events
(:mod:`.events`), their fold into the store, the rules of hours and points, and the queries
the wall and the volunteers page read.
"""
