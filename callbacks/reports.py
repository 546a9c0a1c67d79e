"""``GET /reports/daily`` and ``/reports/weekly``: a briefing as a PDF or Excel download.

Parameters: ``date`` (a local day ``YYYY-MM-DD``; weekly: any day of the week; default
today), ``format`` (``pdf`` or ``xlsx``), ``lang`` (``zh`` or ``en``), ``figures=0`` (leave
the figures out: no browser is started). The route needs
:attr:`Capability.REPORTS` (leaders and admins: docs/access.md); every download is written to
the audit log. A bad parameter is a 400, a day without data a 404, a machine without a CJK
font a 503, each with a one-line text saying what.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from flask import Response, request

from callbacks.auth import audit_view, current_viewer
from callbacks.policy import Policy
from cockpit import report
from cockpit.access import Capability
from cockpit.clock import utc_now
from cockpit.report_fonts import FontMissing
from cockpit.services import Services
from layouts.i18n import Lang, normalize_lang
from layouts.report_files import FORMATS, MIME, file_name, render_files
from layouts.report_panel import REPORTS_PATH, download_panel


def report_panel(services: Services, lang: Lang, at: datetime | None = None) -> Any:
    """The download panel for the current viewer if it may download briefings, else None.

    ``at``: the moment a past page shows (aware); its local day is the panel's date (today's
    without it).
    """
    if not current_viewer().can(Capability.REPORTS):
        return None
    day = (at or utc_now()).astimezone(services.settings.tz).date().isoformat()
    return download_panel(lang, day)


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain",
                    headers={"Cache-Control": "no-store"})


def register(app: dash.Dash, services: Services, policy: Policy | None = None) -> None:
    """Add the briefing route; it needs :attr:`Capability.REPORTS`."""
    policy = policy or Policy.of(app)
    settings = services.settings

    @app.server.get(f"{REPORTS_PATH}/<kind>", endpoint="report_download")
    def report_download(kind: str):
        if kind not in report.KINDS:
            return _text(f"kind: {kind[:20]!r}; expected one of {', '.join(report.KINDS)}", 404)
        fmt = request.args.get("format") or "pdf"
        if fmt not in FORMATS:
            return _text(f"format: {fmt[:20]!r}; expected one of {', '.join(FORMATS)}", 400)
        asked_lang = request.args.get("lang") or "zh"
        if asked_lang not in ("zh", "en"):
            return _text(f"lang: {asked_lang[:20]!r}; expected one of zh, en", 400)
        lang = normalize_lang(asked_lang)
        raw = (request.args.get("date") or "").strip()
        try:
            day = report.parse_day(raw) if raw else utc_now().astimezone(settings.tz).date()
            period = report.period_of(kind, day, settings.tz)
        except report.ReportError as exc:
            return _text(str(exc), 400)
        try:
            content = report.build(report.as_of(services), settings, period)
        except report.ReportError as exc:
            return _text(str(exc), 404)
        try:
            files, _ = render_files(content, lang, [fmt], settings.tz.key,
                                    use_browser=request.args.get("figures") != "0")
        except FontMissing as exc:
            return _text(str(exc), 503)
        audit_view(services, current_viewer(), "report",
                   f"{kind} {period.first.isoformat()} {fmt} {lang}", action="export")
        name = file_name(content, lang, fmt)
        return Response(files[fmt], mimetype=MIME[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    policy.route("report_download", Capability.REPORTS)
