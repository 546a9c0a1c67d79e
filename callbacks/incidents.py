"""Callbacks of the incidents pages: the list (``/incidents``) and the detail (``/incidents/<id>``).

Both pages are rendered whole by the router from the URL (path and query), with their data:
the filter state lives in the URL, so a filter change only navigates (``navigate`` writes the
new query to the page's ``dcc.Location``) and the router renders the list for it. A poll asks
for the data version every ``poll_ms`` and re-queries only when it moved, or when the minute
changed (the time-in-stage and overdue clocks, and "today", move with the clock); the list's
team load strip refreshes with its rows.
Database and Redis errors show 数据源连接中断 on the page; they never crash it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from callbacks import PageRequest
from callbacks.auth import audit_view, current_viewer
from callbacks.staff_pages import DATA_ERRORS, minute_key
from cockpit import geo, governance_queries, queries
from cockpit.access import Capability, Viewer
from cockpit.clock import period_bounds, utc_now
from cockpit.governance_config import GovernanceConfig
from cockpit.services import Services
from layouts import incident_detail as detail_page
from layouts import incidents as list_page
from layouts.i18n import Lang, normalize_lang, t
from layouts.incident_detail import DetailIds
from layouts.incidents import IncidentsIds
from layouts.incidents_query import ListQuery, parse_list_query, with_filters
from layouts.personal import PersonalIds, reporter_block, reporter_children

log = logging.getLogger(__name__)

#: Shortest poll period of these pages, ms (staff pages need not follow the wall's pace).
MIN_POLL_MS = 1000
#: Local days of the rolling periods (today included).


def list_filters(query: ListQuery, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Return the keyword filters of :func:`cockpit.queries.list_incidents` for ``query``."""
    out: dict[str, Any] = {}
    if query.stage == "overdue":
        out.update(stage="open", overdue_at=now)
    elif query.stage:
        out["stage"] = query.stage
    for name in ("category", "village", "team", "text"):
        if getattr(query, name):
            out[name] = getattr(query, name)
    if query.period:
        out["reported_from"], out["reported_to"] = period_bounds(query.period, now, tz)
    if query.repeats:
        out["repeats"] = True
    return out


def read_page(session, tz: ZoneInfo, query: ListQuery, now: datetime,
              scope: tuple[str, ...] | None = None) -> tuple[ListQuery, list[dict[str, Any]], int]:
    """Return the query with its page clamped to the last one, that page's rows and the total.

    ``scope``: a staff account's villages (only their incidents are listed); None: all.
    """
    filters = list_filters(query, now, tz)
    filters["scope"] = scope
    total = queries.count_incidents(session, **filters)
    page = min(query.page, list_page.page_count(total))
    if page != query.page:
        query = replace(query, page=page)
    rows = queries.list_incidents(session, tz, **filters, sort=query.sort,
                                  descending=query.descending, limit=list_page.PAGE_SIZE,
                                  offset=(page - 1) * list_page.PAGE_SIZE)
    return query, rows, total


@functools.lru_cache(maxsize=2)
def village_labels(lang: Lang) -> dict[str, str]:
    """Return village code -> name in ``lang`` (from the shipped geodata; read once)."""
    field = "name_en" if lang == "en" else "name"
    return {code: info[field] for code, info in geo.village_names().items()}


def team_labels(config: GovernanceConfig, lang: Lang) -> dict[str, str]:
    """Return every name a configured team goes by (code, zh, en) -> its label in ``lang``."""
    out = {}
    for team in config.teams:
        label = team.en if lang == "en" else team.zh
        out.update({team.code: label, team.zh: label, team.en: label})
    return out


def team_options(load: list[dict[str, Any]], lang: Lang) -> tuple[tuple[str, str], ...]:
    """Return the team filter's choices from :func:`governance_queries.team_load`.

    Configured teams first (by code, labelled in ``lang``), then names sent in dispatches.
    """
    out = []
    for row in load:
        if not row.get("team"):
            continue
        label = (row.get("en") if lang == "en" else row.get("zh")) or row["team"]
        out.append((row["team"], label))
    return tuple(out)


def ladder(config: GovernanceConfig, lang: Lang) -> tuple[tuple[str, str], ...]:
    """Return the escalation ladder as ``(level code, label in lang)``, in order."""
    return tuple((lv.level, lv.en if lang == "en" else lv.zh) for lv in config.escalation)




def poll_ms(services: Services) -> int:
    """Return the refresh period of the incidents pages, milliseconds."""
    return max(services.settings.refresh_ms, MIN_POLL_MS)


def render_list(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return the list page for the URL query of ``request``, with its data."""
    tz, config = services.settings.tz, services.settings.governance
    villages = village_labels(lang)
    query, ignored = parse_list_query(request.query, villages)
    now = utc_now()
    rows = total = load = None
    scope = scope_of_viewer()
    options = list_page.FilterOptions(villages=tuple(sorted(
        (code, name) for code, name in villages.items() if scope is None or code in scope)))
    alert, seen = "", {}
    try:
        seen = {"key": minute_key(services, now)}
        with services.read() as session:
            query, rows, total = read_page(session, tz, query, now, scope_of_viewer())
            load = governance_queries.team_load(session, tz, config, now)
        options = list_page.FilterOptions(options.villages, team_options(load, lang))
    except DATA_ERRORS as exc:
        log.warning("incidents list: data source unreachable: %s: %s", type(exc).__name__, exc)
        alert = t("source_down", lang)
        options = list_page.FilterOptions(options.villages, team_options(
            [{"team": tm.code, "zh": tm.zh, "en": tm.en} for tm in config.teams], lang))
    return list_page.layout(lang, query, options=options, rows=rows, total=total,
                            now=now.astimezone(tz), villages=villages,
                            teams=team_labels(config, lang), ignored=ignored, alert=alert,
                            poll_ms=poll_ms(services), seen=seen, load=load)


def incident_id_of(request: PageRequest) -> str:
    """Return the incident id of a detail path (``/incidents/<id>``, percent-decoded)."""
    return unquote(request.rest.strip("/"))


def scope_of_viewer() -> tuple[str, ...] | None:
    """The villages the current viewer's items are limited to (staff); None: every village."""
    viewer = current_viewer()
    return viewer.villages if viewer.scoped else None


def read_detail(services: Services, incident_id: str, now: datetime,
                unmasked: bool = False) -> dict | None:
    """Return :func:`governance_queries.incident_detail` of one incident (None: unknown).

    An incident outside a staff account's villages is None too: its existence is not shown.
    """
    with services.read() as session:
        detail = governance_queries.incident_detail(session, services.settings.tz,
                                                    incident_id, services.settings.governance,
                                                    now, unmasked=unmasked)
    return scoped_detail(detail, current_viewer())


def scoped_groups(services: Services, groups: list[dict[str, Any]],
                  villages: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return the repeat groups of ``villages`` with only their members in those villages.

    A group belongs to the village of its first incident.
    """
    with services.read() as session:
        mine = set(queries.in_villages(session, [i for g in groups for i in g["incident_ids"]],
                                       villages))
    return [{**g, "incident_ids": [i for i in g["incident_ids"] if i in mine]}
            for g in groups if g["village_code"] in villages]


def scoped_detail(detail: dict | None, viewer: Viewer) -> dict | None:
    """Return ``detail`` as ``viewer`` may see it.

    None outside a staff account's villages; the repeat-group members of other villages left
    out for staff.
    """
    if detail is None or not viewer.in_scope(detail.get("village_code")):
        return None
    if viewer.scoped:
        detail["repeats"] = [m for m in detail.get("repeats") or []
                             if viewer.in_scope(m.get("village_code"))]
    return detail


def _detail_body(services: Services, lang: Lang, incident_id: str, query: ListQuery,
                 detail: dict | None, now: datetime) -> list:
    config = services.settings.governance
    return detail_page.body_children(detail, incident_id, lang,
                                     now=now.astimezone(services.settings.tz), query=query,
                                     villages=village_labels(lang),
                                     teams=team_labels(config, lang),
                                     levels=ladder(config, lang))


def render_detail(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return the detail page of the incident named by the path, or its not-found notice."""
    incident_id = incident_id_of(request)
    query, _ = parse_list_query(request.query, village_labels(lang))
    now = utc_now()
    alert, seen, body, caller = "", {}, [], None
    try:
        seen = {"key": minute_key(services, now)}
        detail = read_detail(services, incident_id, now)
        body = _detail_body(services, lang, incident_id, query, detail, now)
        if detail is not None:
            caller = reporter_block(detail.get("reporter"), lang,
                                    current_viewer().can(Capability.REVEAL))
    except DATA_ERRORS as exc:
        log.warning("incident detail: data source unreachable: %s: %s", type(exc).__name__, exc)
        alert = t("source_down", lang)
    return detail_page.layout(lang, incident_id, body, query=query, alert=alert,
                              poll_ms=poll_ms(services), seen=seen, caller=caller)


def routes(services: Services) -> dict[str, Any]:
    """Return the router entries of the incidents pages (``/incidents`` and ``/incidents/*``)."""
    return {list_page.LIST_PATH: functools.partial(render_list, services),
            f"{list_page.LIST_PATH}/*": functools.partial(render_detail, services)}


def validation_pages() -> list[Component]:
    """Return both pages built without data, for the app's ``validation_layout``."""
    now = utc_now()
    return [list_page.layout("zh", ListQuery(), options=list_page.FilterOptions(), rows=[],
                             total=0, now=now, villages={}, teams={}),
            detail_page.layout("zh", "-", [], query=ListQuery(),
                               caller=reporter_block(None, "zh", True))]


def register_reveal(app: dash.Dash, services: Services) -> None:
    """Register the caller block's reveal: unmasked values for a role that may, audited.

    The callback needs :attr:`Capability.REVEAL` (app.py declares it); each reveal writes
    ``view_unmasked`` with the incident id to the audit log before the values are sent.
    """

    @app.callback(Output(PersonalIds.BLOCK, "children"), Output(PersonalIds.NOTE, "children"),
                  Output(PersonalIds.REVEAL, "hidden"),
                  Input(PersonalIds.REVEAL, "n_clicks"), State(DetailIds.STATE, "data"),
                  prevent_initial_call=True)
    def reveal(clicks, state) -> tuple:
        state = state or {}
        if not clicks:
            raise PreventUpdate
        lang = normalize_lang(state.get("lang"))
        incident_id = str(state.get("incident_id") or "")
        try:
            detail = read_detail(services, incident_id, utc_now(), unmasked=True)
            if detail is None or not detail.get("reporter"):
                raise PreventUpdate
            audit_view(services, current_viewer(), incident_id, "incident detail page")
        except DATA_ERRORS as exc:
            log.warning("reveal: data source unreachable: %s", type(exc).__name__)
            return dash.no_update, t("source_down", lang), False
        return reporter_children(detail["reporter"], lang), t("pd_revealed", lang), True


def register(app: dash.Dash, services: Services) -> None:
    """Register the list's filter navigation and the refresh polls of both pages.

    Parameters
    ----------
    app : dash.Dash
        The app; its validation layout must contain :func:`validation_pages`.
    services : Services
        Redis (data version) and the store.
    """
    tz = services.settings.tz

    @app.callback(Output(IncidentsIds.NAV, "href"),
                  Input(IncidentsIds.STAGE, "value"), Input(IncidentsIds.CATEGORY, "value"),
                  Input(IncidentsIds.VILLAGE, "value"), Input(IncidentsIds.TEAM, "value"),
                  Input(IncidentsIds.PERIOD, "value"), Input(IncidentsIds.TEXT, "value"),
                  Input(IncidentsIds.REPEATS, "value"), State(IncidentsIds.STATE, "data"),
                  prevent_initial_call=True)
    def navigate(stage, category, village, team, period, text, repeats,
                 state: Mapping[str, Any] | None) -> str:
        state = state or {}
        lang = normalize_lang(state.get("lang"))
        current, _ = parse_list_query(state.get("params") or {}, village_labels(lang))
        wanted = with_filters(current, stage=stage, category=category, village=village,
                              team=team, period=period, text=text, repeats=repeats)
        if wanted == current:
            raise PreventUpdate
        return wanted.href(lang)

    @app.callback(Output(IncidentsIds.ROWS, "children"), Output(IncidentsIds.TOTAL, "children"),
                  Output(IncidentsIds.PAGER, "children"), Output(IncidentsIds.TEAMS, "children"),
                  Output(IncidentsIds.ALERT, "children"), Output(IncidentsIds.SEEN, "data"),
                  Input(IncidentsIds.TICK, "n_intervals"), State(IncidentsIds.STATE, "data"),
                  State(IncidentsIds.SEEN, "data"), prevent_initial_call=True)
    def refresh_list(_tick, state, seen) -> tuple:
        state, seen = state or {}, seen or {}
        lang = normalize_lang(state.get("lang"))
        now = utc_now()
        try:
            key = minute_key(services, now)
            if key == seen.get("key"):
                raise PreventUpdate
            villages = village_labels(lang)
            query, _ = parse_list_query(state.get("params") or {}, villages)
            with services.read() as session:
                query, rows, total = read_page(session, tz, query, now, scope_of_viewer())
                load = governance_queries.team_load(session, tz, services.settings.governance,
                                                    now)
        except DATA_ERRORS as exc:
            if seen.get("error"):
                raise PreventUpdate from exc
            log.warning("incidents list: data source unreachable: %s", exc)
            return (*[dash.no_update] * 4, t("source_down", lang), {"key": None, "error": True})
        local = now.astimezone(tz)
        return (list_page.rows_children(rows, query, lang, local, villages,
                                         team_labels(services.settings.governance, lang)),
                list_page.total_children(total, lang),
                list_page.pager_children(query, total, lang),
                list_page.team_panel_children(load, query, lang), "", {"key": key})

    @app.callback(Output(DetailIds.BODY, "children"), Output(DetailIds.ALERT, "children"),
                  Output(DetailIds.SEEN, "data"),
                  Input(DetailIds.TICK, "n_intervals"), State(DetailIds.STATE, "data"),
                  State(DetailIds.SEEN, "data"), prevent_initial_call=True)
    def refresh_detail(_tick, state, seen) -> tuple:
        state, seen = state or {}, seen or {}
        lang = normalize_lang(state.get("lang"))
        incident_id = str(state.get("incident_id") or "")
        now = utc_now()
        try:
            key = minute_key(services, now)
            if key == seen.get("key"):
                raise PreventUpdate
            query, _ = parse_list_query(state.get("params") or {}, village_labels(lang))
            body = _detail_body(services, lang, incident_id, query,
                                read_detail(services, incident_id, now), now)
        except DATA_ERRORS as exc:
            if seen.get("error"):
                raise PreventUpdate from exc
            log.warning("incident detail: data source unreachable: %s", exc)
            return dash.no_update, t("source_down", lang), {"key": None, "error": True}
        return body, "", {"key": key}
