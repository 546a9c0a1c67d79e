"""Bulk INSERT and UPDATE for the ingest hot path, through the driver's own executemany.

SQLAlchemy's per-row parameter processing costs more than the database's work for small rows;
here each column's bind conversion is looked up once per statement and rows go to the DBAPI as
tuples (``Connection.exec_driver_sql``). The SQL is generated from the table's metadata, so it
stays in step with the models and the migration, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table


def _placeholder(conn: Connection) -> str:
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"unsupported DBAPI paramstyle {style!r}")


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> list[Callable | None]:
    out: list[Callable | None] = []
    for name in columns:
        out.append(table.c[name].type._cached_bind_processor(conn.dialect))
    return out


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _memo(conv: Callable) -> Callable:
    """Wrap a bind converter: None passes through, a repeated object is converted once.

    A batch binds one receive time to every row; this converts it once.
    """
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if value is last[0]:
            return last[1]
        last[0], last[1] = value, conv(value)
        return last[1]

    return convert


def _skip_none(conv: Callable) -> Callable:
    return lambda value: None if value is None else conv(value)


def _memoised(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[bool]:
    """Columns whose first two rows share one object (a batch-wide value such as ``now``)."""
    if len(rows) < 2:
        return [False] * len(columns)
    first, second = rows[0], rows[1]
    return [first.get(c) is not None and first.get(c) is second.get(c) for c in columns]


def _tuples(rows: Sequence[dict[str, Any]], columns: Sequence[str],
            converters: Sequence[Callable | None]) -> list[tuple]:
    plain = [(col, None) if conv is None else (col, _memo(conv) if memo else _skip_none(conv))
             for col, conv, memo in zip(columns, converters, _memoised(rows, columns),
                                        strict=True)]
    out = []
    for row in rows:
        get = row.get
        out.append(tuple(get(col) if conv is None else conv(get(col)) for col, conv in plain))
    return out


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                skip_conflicts: bool = False) -> int:
    """INSERT ``rows`` (dicts keyed by column name; missing keys are NULL) into ``table``.

    With ``skip_conflicts`` a row whose key exists is skipped (``ON CONFLICT DO NOTHING``, on
    SQLite >= 3.24 and PostgreSQL). Returns the number of rows inserted, as the driver counts
    them over the whole ``executemany``.
    """
    if not rows:
        return 0
    columns = [c.name for c in table.columns]
    mark = _placeholder(conn)
    sql = (f"INSERT INTO {_quote(conn, table.name)} "
           f"({', '.join(_quote(conn, c) for c in columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    result = conn.exec_driver_sql(sql, _tuples(rows, columns, _converters(conn, table, columns)))
    return result.rowcount


def update_changed(conn: Connection, table: Table, key: str | Sequence[str],
                   rows: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    """UPDATE only the columns that differ, matching each row on column(s) ``key``.

    ``rows`` holds ``(new, old)`` pairs of whole rows (dicts keyed by column name; ``old`` as
    read from the database). Rows are grouped by the set of columns that changed, one
    ``executemany`` per group: an unchanged column costs neither its bind conversion (JSON,
    times) nor the upkeep of the indexes that hold it. Returns the number of statements run.
    """
    keys = (key,) if isinstance(key, str) else tuple(key)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for new, old in rows:
        changed = tuple(c for c, value in new.items() if c not in keys and value != old.get(c))
        if changed:
            groups.setdefault(changed, []).append(new)
    mark = _placeholder(conn)
    where = " AND ".join(f"{_quote(conn, k)} = {mark}" for k in keys)
    for columns, group in groups.items():
        sql = (f"UPDATE {_quote(conn, table.name)} SET "
               f"{', '.join(f'{_quote(conn, c)} = {mark}' for c in columns)} "
               f"WHERE {where}")
        ordered = [*columns, *keys]
        conn.exec_driver_sql(sql, _tuples(group, ordered, _converters(conn, table, ordered)))
    return len(groups)
