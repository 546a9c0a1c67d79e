"""The analysis page's alerts panel: active, acknowledged and recently cleared alerts.

A pure builder of :func:`cockpit.alert_queries.list_alerts` (docs/alerts.md): a line of counts
and a table, uncleared alerts first. Alert texts are passed as children (escaped by React).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from cockpit import vocab
from layouts.i18n import PLACEHOLDER, Lang, t

#: Alerts listed on the page; the counts count every one.
ALERT_ROWS = 30
STATUS_COLORS = {"active": "#ff3b30", "acknowledged": "#ff9500", "cleared": "#3ddc97"}


def _when(iso: str | None) -> str:
    return iso[5:16].replace("T", " ") if iso else PLACEHOLDER  # MM-DD HH:MM, local


def alert_children(listed: Mapping[str, Any], lang: Lang) -> list:
    """Return the alerts panel's body: counts by status, then one row per alert.

    Parameters
    ----------
    listed : dict
        :func:`cockpit.alert_queries.list_alerts`: ``counts`` and ``items``.
    lang : {"zh", "en"}
        Language of the labels and of the alert texts.
    """
    counts = listed.get("counts") or {}
    line = html.P(t("an_alerts_counts", lang, a=counts.get("active", 0),
                    k=counts.get("acknowledged", 0), c=counts.get("cleared", 0)),
                  className="an-alerts-counts")
    items = list(listed.get("items") or ())[:ALERT_ROWS]
    if not items:
        return [line, html.P(t("an_alerts_empty", lang), className="an-empty")]
    head = html.Thead(html.Tr([html.Th(t(f"an_col_{c}", lang))
                               for c in ("status", "severity", "alert", "raised", "since")]))
    rows = []
    for item in items:
        status, severity = item["status"], item.get("severity") or "normal"
        since = item.get("cleared_at") if status == "cleared" else item.get("acked_at")
        color = STATUS_COLORS.get(status, "#9aa5b1")
        rows.append(html.Tr(key=item["alert_id"], **{"data-alert": item["alert_id"],
                                                     "data-status": status}, children=[
            html.Td(html.Span(t(f"an_status_{status}", lang), className="an-chip",
                              style={"color": color, "borderColor": color})),
            html.Td(vocab.label(vocab.PRIORITY_TERMS, severity, lang)),
            html.Td(item.get("text_en" if lang == "en" else "text_zh") or ""),
            html.Td(_when(item.get("raised_at"))), html.Td(_when(since))]))
    return [line, html.Table([head, html.Tbody(rows)], className="an-table an-alerts")]
