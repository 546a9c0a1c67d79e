"""The briefing download panel (日报 / 周报, PDF / Excel) of the analysis and tablet pages.

A plain GET form: the day typed (``YYYY-MM-DD``, today by default) and the button pressed
make the URL
``/reports/<daily|weekly>?date=…&format=pdf|xlsx&lang=…``; the browser downloads the answer
and stays on the page. No callback: nothing on the page changes.
"""

from __future__ import annotations

from enum import StrEnum

from dash import dcc, html

from layouts.i18n import Lang, t

#: The route of the briefings (``callbacks/reports.py``): ``/reports/daily``, ``/reports/weekly``.
REPORTS_PATH = "/reports"


class ReportIds(StrEnum):
    """Ids of the panel's parts."""

    PANEL = "report-panel"
    DAY = "report-day"
    LANG = "report-lang"


def download_panel(lang: Lang, today: str) -> html.Form:
    """The panel: a day (default ``today``, ``YYYY-MM-DD``) and four download buttons.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of the panel and of the briefing downloaded.
    today : str
        Today in the cockpit's zone, ``YYYY-MM-DD``.
    """
    buttons = []
    for kind in ("daily", "weekly"):
        for fmt, label in (("pdf", "rep_pdf"), ("xlsx", "rep_excel")):
            buttons.append(html.Button(
                f"{t(f'rep_{kind}', lang)} · {t(label, lang)}", type="submit", name="format",
                value=fmt, formAction=f"{REPORTS_PATH}/{kind}",
                className=f"report-button report-{kind}-{fmt}", id=f"report-{kind}-{fmt}"))
    return html.Form(id=ReportIds.PANEL, className="report-panel", method="get",
                     action=f"{REPORTS_PATH}/daily", children=[
        html.Span(t("rep_download", lang), className="report-panel-title"),
        html.Label([html.Span(t("rep_pick_day", lang), className="report-day-label"),
                    html.Div(className="report-day-field", children=[
                        dcc.Input(id=ReportIds.DAY, name="date", type="text", value=today,
                                  pattern=r"\d{4}-\d{2}-\d{2}", required=True,
                                  debounce=True, className="report-day")])]),
        dcc.Input(type="hidden", name="lang", value=lang, id=ReportIds.LANG),
        html.Div(buttons, className="report-buttons")])
