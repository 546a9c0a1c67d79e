"""The waste pages' reveals, which need :attr:`Capability.REVEAL` (staff; app.py declares it).

- A household's record: the head's name and phone, the address and the landlord's name and
  phone, unmasked.
- The landlord shown on the landlords tab: the name and phone, unmasked.

Each writes ``view_unmasked`` to the audit log before the values are sent, and a staff
account reveals only what lies in its villages (the same scoped reads as the pages').
"""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from callbacks.auth import current_viewer
from callbacks.staff_pages import reveal_audited
from callbacks.waste import page_state, read_household, scope_of
from cockpit.services import Services
from cockpit.waste import landlord_queries
from layouts.i18n import normalize_lang, t
from layouts.volunteers import or_dash
from layouts.waste import WasteIds
from layouts.waste_household import WasteHouseholdIds, revealed_children

log = logging.getLogger(__name__)


def landlord_revealed(item: dict, lang) -> list:
    """A landlord's name and phone, unmasked."""
    pairs = (("wst_col_landlord", item.get("landlord_id")), ("vol_col_name", item.get("name")),
             ("vol_col_phone", item.get("phone")))
    return [html.Dl(className="incd-facts pd-facts", children=[
        html.Div(className="incd-fact", children=[html.Dt(t(key, lang)),
                                                  html.Dd(or_dash(value), className="pd-value")])
        for key, value in pairs])]


def register(app: dash.Dash, services: Services) -> None:
    """Register the reveal of a household's record and of the landlord shown."""
    settings = services.settings

    @app.callback(Output(WasteHouseholdIds.REVEALED, "children"),
                  Output(WasteHouseholdIds.NOTE, "children"),
                  Output(WasteHouseholdIds.REVEAL, "hidden"),
                  Input(WasteHouseholdIds.REVEAL, "n_clicks"),
                  State(WasteHouseholdIds.STATE, "data"), prevent_initial_call=True)
    def reveal_household(clicks, state) -> tuple:
        if not clicks:
            raise PreventUpdate
        state = state or {}
        lang = normalize_lang(state.get("lang"))
        household_id = str(state.get("household_id") or "")
        viewer = current_viewer()
        return reveal_audited(
            services, viewer, lang,
            lambda: read_household(services, household_id, viewer, unmasked=True),
            lambda record: revealed_children(record, lang), f"household:{household_id}",
            "waste household record")

    @app.callback(Output(WasteIds.REVEALED, "children"), Output(WasteIds.NOTE, "children"),
                  Output(WasteIds.REVEAL, "hidden"), Input(WasteIds.REVEAL, "n_clicks"),
                  State(WasteIds.STATE, "data"), prevent_initial_call=True)
    def reveal_landlord(clicks, state) -> tuple:
        if not clicks:
            raise PreventUpdate
        lang, query = page_state(state)
        if query.tab != "landlords" or not query.landlord:
            raise PreventUpdate
        viewer = current_viewer()

        def read() -> dict | None:
            with services.read() as session:
                return landlord_queries.landlord(session, settings.tz, query.landlord,
                                                 settings.waste_rules.target, scope_of(viewer),
                                                 unmasked=True)
        return reveal_audited(services, viewer, lang, read,
                              lambda item: landlord_revealed(item, lang),
                              f"landlord:{query.landlord}", "waste page: landlord")
