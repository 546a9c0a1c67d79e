"""``GET /export/incidents.csv``: the incident list as a CSV file Excel opens (UTF-8 with BOM).

The list's own query applies (``stage``, ``category``, ``village``, ``team``, ``period``, ``q``,
``repeats``, ``sort``), a staff account's villages limit it, and the caller's name and phone
are masked for every role: an export leaves the cockpit, so it carries no more than a screen.
Every export is written to the audit log (who, when, which query, how many rows, from where).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import dash
from flask import Response, request

from callbacks.auth import audit_view, current_viewer
from callbacks.incidents import list_filters, scope_of_viewer, team_labels, village_labels
from callbacks.policy import Policy
from cockpit import queries, vocab
from cockpit.access import Capability
from cockpit.clock import utc_now
from cockpit.privacy import mask_name, mask_phone
from cockpit.services import Services
from layouts.i18n import category_label, normalize_lang, stage_label
from layouts.incidents import EXPORT_PATH
from layouts.incidents_query import parse_list_query

#: Most rows in one export (a filter narrows a larger one).
MAX_ROWS = 50_000
COLUMNS = ("incident_id", "category", "priority", "stage", "village", "address", "title",
           "reported_at", "stage_at", "due_at", "team", "caller", "caller_phone")


def csv_bytes(rows: list[dict], callers: dict[str, tuple], lang, villages: dict[str, str],
              teams: dict[str, str] | None = None) -> bytes:
    """The rows as CSV, UTF-8 with BOM, caller masked; every cell is text, none a formula."""
    teams = teams or {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        name, phone, _ = callers.get(row["incident_id"], (None, None, False))
        writer.writerow([_cell(value) for value in (
            row["incident_id"], category_label(row.get("category"), lang),
            vocab.label(vocab.PRIORITY_TERMS, row.get("priority") or "", lang),
            stage_label(row.get("stage"), lang), villages.get(row.get("village_code") or "", ""),
            row.get("address"), row.get("title"), row.get("reported_at"), row.get("stage_at"),
            row.get("due_at"), teams.get(row.get("assigned_team") or "",
                                         row.get("assigned_team")),
            mask_name(name), mask_phone(phone))])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @) is prefixed with a quote."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def register(app: dash.Dash, services: Services, policy: Policy | None = None) -> None:
    """Add the export route; it needs :attr:`Capability.EXPORT`."""
    policy = policy or Policy.of(app)
    tz = services.settings.tz

    @app.server.get(EXPORT_PATH, endpoint="export_incidents")
    def export_incidents():
        lang = normalize_lang(request.args.get("lang"))
        villages = village_labels(lang)
        query, _ = parse_list_query(request.args.to_dict(), villages)
        now = utc_now()
        filters = {**list_filters(query, now, tz), "scope": scope_of_viewer()}
        rows: list[dict] = []
        with services.read() as session:
            while len(rows) < MAX_ROWS:  # pages of the list query's own size limit
                page = queries.list_incidents(session, tz, **filters, sort=query.sort,
                                              descending=query.descending,
                                              limit=queries.MAX_LIMIT, offset=len(rows))
                rows += page
                if len(page) < queries.MAX_LIMIT:
                    break
            callers = queries.callers_of(session, [r["incident_id"] for r in rows])
        asked = request.query_string.decode(errors="replace")[:500]
        audit_view(services, current_viewer(), "incidents",
                   f"{asked} rows={len(rows)}" if asked else f"rows={len(rows)}",
                   action="export")
        stamp = datetime.now(tz).strftime("%Y%m%d-%H%M")
        name = f"incidents-{stamp}.csv"
        teams = team_labels(services.settings.governance, lang)
        return Response(csv_bytes(rows, callers, lang, villages, teams), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    policy.route("export_incidents", Capability.EXPORT)
