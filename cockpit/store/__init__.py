"""The SQL store: the one source of truth (SQLAlchemy 2, SQLite or PostgreSQL)."""
