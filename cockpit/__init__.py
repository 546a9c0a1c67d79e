"""Qiaosi Cloud Cockpit core: settings, event contract, streams, ingest, store and queries.

This package is plain Python. It never imports dash, flask, flask_caching or plotly; the web
layers (``layouts/``, ``callbacks/``, ``app.py``) build on it.
"""

__version__ = "0.1.0"
