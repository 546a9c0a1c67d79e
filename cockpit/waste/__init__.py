"""Waste sorting (数字城管 · 垃圾分类, 一拍二称三评价): households, disposals, accuracy, follow-ups.

Plain Python like the rest of :mod:`cockpit`: the contract's waste events (:mod:`.events`),
their fold into the store (:mod:`.apply`), the accuracy rule (:mod:`.accuracy`), the
weak-household rule and its follow-ups (:mod:`.followup`), and the queries the screens read.
"""
