"""The caller block of the incident detail page: masked by default, revealed on request.

The block sits outside the detail's refreshed body, so the two-second refresh never puts the
mask back over a revealed record, nor a revealed one into the refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from dash import html

from layouts.i18n import PLACEHOLDER, Lang, t


class PersonalIds(StrEnum):
    """Component ids of the caller block."""

    BLOCK = "pd-block"
    REVEAL = "pd-reveal"
    NOTE = "pd-note"


def reporter_children(reporter: Mapping[str, Any] | None, lang: Lang) -> list:
    """The caller's name, phone and whether an ID number is on file (the number never)."""
    reporter = reporter or {}
    pairs = (("pd_caller", reporter.get("name")), ("pd_phone", reporter.get("phone")),
             ("pd_id", t("pd_id_on_file", lang) if reporter.get("id_on_file") else None))
    return [html.Div(className="incd-fact", children=[
        html.Dt(t(key, lang)), html.Dd(value or PLACEHOLDER, className="pd-value")])
        for key, value in pairs]


def reporter_block(reporter: Mapping[str, Any] | None, lang: Lang,
                   may_reveal: bool) -> html.Section:
    """The caller section: masked values, and for a role that may, the audited reveal button."""
    masked = bool(reporter) and reporter.get("masked", True)
    return html.Section(className="incd-section incd-caller", children=[
        html.H2(t("pd_caller", lang), className="incd-section-title"),
        html.Dl(reporter_children(reporter, lang), id=PersonalIds.BLOCK,
                className="incd-facts pd-facts"),
        html.Div(t("pd_masked_note", lang) if masked else "", id=PersonalIds.NOTE,
                 className="pd-note"),
        html.Button(t("pd_reveal", lang), id=PersonalIds.REVEAL, n_clicks=0,
                    className="pd-reveal", hidden=not (may_reveal and masked)),
    ])
