"""Callbacks of the volunteers pages: ``/volunteers`` (five sections) and ``/volunteers/<id>``.

Both pages are rendered whole by the router from the URL: a filter or month change only
navigates (writes the new query to the page's ``dcc.Location``). A poll asks for the data
version and re-reads the shown section only when it moved or the minute changed (time left of
mobilisations), or when an act of the page (:mod:`callbacks.volunteers_review`) says so; the
body is sent only when its read models changed. A staff account sees the volunteers of its
villages only. Names and phone numbers are masked here for every role: unmasked values come
only from the audited reveals of :mod:`callbacks.volunteers_review`.
Database and Redis errors show 数据源连接中断 on the page; they never crash it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, State, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from callbacks import PageRequest
from callbacks.auth import current_viewer
from callbacks.incidents import village_labels
from callbacks.staff_pages import DATA_ERRORS, digest, minute_key, refresh_body
from cockpit.access import Capability, Viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.volunteers import assessment, detail, page_queries, queries
from layouts import volunteer_detail as record_page
from layouts import volunteers as page
from layouts.i18n import Lang, join, normalize_lang, t
from layouts.volunteer_detail import VolunteerDetailIds
from layouts.volunteers import View, VolunteersIds
from layouts.volunteers_query import (
    VOLUNTEERS_PATH,
    VolunteersQuery,
    parse_query,
    with_filters,
)
from layouts.volunteers_sections import (
    body_children,
    mobilization_controls,
    month_picker,
)

log = logging.getLogger(__name__)

#: Shortest poll period of these pages, ms.
MIN_POLL_MS = 2000
LEADERS = 20
#: Where each reveal panel of the list page is shown, and its title.
PD_TITLES = {"mobilization": "vol_pd_unanswered", "merges": "vol_pd_queue"}


def poll_ms(services: Services) -> int:
    """Return the refresh period of the volunteers pages, milliseconds."""
    return max(services.settings.refresh_ms, MIN_POLL_MS)


def scope_of(viewer: Viewer) -> tuple[str, ...] | None:
    """The villages ``viewer`` sees volunteers of (staff); None: every village."""
    return viewer.villages if viewer.scoped else None


def view_of(viewer: Viewer, lang: Lang) -> View:
    """What the builders need to know of ``viewer``."""
    return View(lang, village_labels(lang), viewer.can(Capability.REVEAL))






def list_filters(query: VolunteersQuery, viewer: Viewer) -> dict[str, Any]:
    """Keyword filters of :func:`cockpit.volunteers.queries.list_volunteers` for ``query``.

    Names and phone numbers are searched only for a role that may see them.
    """
    return {"village": query.village, "team": query.team, "team_kind": query.kind,
            "status": query.status, "text": query.text, "scope": scope_of(viewer),
            "personal_search": viewer.can(Capability.REVEAL)}


def read_section(session, services: Services, query: VolunteersQuery, viewer: Viewer,
                 now: datetime) -> tuple[VolunteersQuery, dict[str, Any]]:
    """Return the query (page clamped, month chosen) and the read models of its section."""
    tz, rules, scope = services.settings.tz, services.settings.volunteer_rules, scope_of(viewer)
    if query.tab == "mobilization":
        board = queries.mobilization_board(session, rules, tz, now, scope=scope,
                                           every=query.every)
        models: dict[str, Any] = {"board": board}
        if query.mob:
            shown = any(item["mobilization_id"] == query.mob for item in board)
            models["unanswered"] = queries.unanswered(session, query.mob) if shown else None
        return query, models
    if query.tab == "assessment":
        months = assessment.months(session)
        month = query.month if query.month in months else (months[0] if months else None)
        models = {"months": months, "month": month}
        if month:
            models["assessment"] = assessment.assessment(session, rules, month, scope)
            models["leaders"] = assessment.leaderboard(session, rules, month, LEADERS, scope)
        return replace(query, month=month), models
    if query.tab == "recruitment":
        return query, {"campaigns": assessment.campaigns(session, tz, now)}
    if query.tab == "merges":
        models = {"open_pairs": page_queries.open_candidates(session, scope)}
        if viewer.can(Capability.REVEAL):
            models["queue"] = detail.merge_queue(session, tz, scope=scope)
            models["merges"] = page_queries.recent_merges(session, tz, scope)
        return query, models
    filters = list_filters(query, viewer)
    total = queries.count_volunteers(session, **filters)
    query = replace(query, page=min(query.page, page.page_count(total)))
    rows = queries.list_volunteers(session, tz, limit=page.PAGE_SIZE,
                                   offset=(query.page - 1) * page.PAGE_SIZE, **filters)
    return query, {"total": total, "rows": rows}


def _controls(query: VolunteersQuery, lang: Lang, viewer: Viewer,
              extra: dict[str, Any]) -> Any:
    if query.tab == "registry":
        villages = village_labels(lang)
        scope = scope_of(viewer)
        return page.registry_filters(
            query, lang, tuple(sorted((c, n) for c, n in villages.items()
                                      if scope is None or c in scope)),
            extra.get("teams") or [], viewer.can(Capability.REVEAL))
    if query.tab == "assessment":
        return month_picker(extra.get("months") or [], query.month, lang)
    if query.tab == "mobilization":
        return mobilization_controls(query, lang)
    return None


def _pd(query: VolunteersQuery, lang: Lang, viewer: Viewer, models: dict[str, Any]) -> Any:
    shown = (query.tab == "merges" and viewer.can(Capability.REVEAL)) or (
        query.tab == "mobilization" and query.mob and models.get("unanswered"))
    if not shown:
        return None
    return page.pd_panel(lang, (VolunteersIds.REVEAL, VolunteersIds.NOTE,
                                VolunteersIds.REVEALED), PD_TITLES[query.tab],
                         viewer.can(Capability.REVEAL))


def render_list(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return ``/volunteers`` for the URL query of ``request``, with its data."""
    villages = village_labels(lang)
    query, ignored = parse_query(request.query, villages)
    viewer, now = current_viewer(), utc_now()
    view = view_of(viewer, lang)
    models: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    alert, seen, body, open_pairs = "", {}, [], None
    try:
        key = minute_key(services, now)
        with services.read() as session:
            query, models = read_section(session, services, query, viewer, now)
            open_pairs = page_queries.open_candidates(session, scope_of(viewer))
            if query.tab == "registry":
                extra["teams"] = page_queries.team_names(session)
        extra["months"] = models.get("months")
        body = body_children(models, query, view)
        seen = {"key": key, "digest": digest(models)}
    except DATA_ERRORS as exc:
        log.warning("volunteers page: data source unreachable: %s: %s", type(exc).__name__, exc)
        alert = t("source_down", lang)
    notice = t("inc_ignored", lang, items=join(ignored, lang, "clause_sep")) if ignored else ""
    return page.layout(lang, query, controls=_controls(query, lang, viewer, extra), body=body,
                       pd=_pd(query, lang, viewer, models), notice=notice, alert=alert,
                       poll_ms=poll_ms(services), seen=seen, open_pairs=open_pairs,
                       state={"tab": query.tab})


def volunteer_id_of(request: PageRequest) -> str:
    """The volunteer id of a record path (``/volunteers/<id>``, percent-decoded)."""
    return unquote(request.rest.strip("/"))


def read_record(services: Services, volunteer_id: str, viewer: Viewer,
                unmasked: bool = False) -> dict | None:
    """A volunteer's record as ``viewer`` may see it; None when unknown or not theirs.

    A staff account gets None for a volunteer living outside its villages (the record's
    existence is not shown either); a merged-away id only says where it went, to staff of the
    village of the volunteer it went into.
    """
    with services.read() as session:
        record = detail.volunteer_detail(session, services.settings.tz, volunteer_id,
                                         unmasked=unmasked)
        if record is None:
            return None
        village = record.get("village_code") if "sources" in record \
            else page_queries.home_village(session, record.get("merged_into") or "")
    return record if viewer.in_scope(village) else None


def render_record(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return a volunteer's record page, or its not-found notice."""
    volunteer_id = volunteer_id_of(request)
    viewer = current_viewer()
    view = view_of(viewer, lang)
    alert, seen, body, found = "", {}, [], False
    try:
        key = minute_key(services, utc_now())
        record = read_record(services, volunteer_id, viewer)
        found = record is not None and "sources" in record
        body = record_page.body_children(record, volunteer_id, view)
        seen = {"key": key, "digest": digest(record)}
    except DATA_ERRORS as exc:
        log.warning("volunteer record: data source unreachable: %s: %s", type(exc).__name__,
                    exc)
        alert = t("source_down", lang)
    return record_page.layout(lang, volunteer_id, body, may_reveal=view.may_reveal,
                              alert=alert, poll_ms=poll_ms(services), seen=seen, found=found)


def routes(services: Services) -> dict[str, Any]:
    """Router entries of the volunteers pages (``/volunteers`` and ``/volunteers/*``)."""
    return {VOLUNTEERS_PATH: functools.partial(render_list, services),
            f"{VOLUNTEERS_PATH}/*": functools.partial(render_record, services)}


def validation_pages() -> list[Component]:
    """Both pages built without data, with every control, for ``validation_layout``."""
    query = VolunteersQuery()
    controls = [page.registry_filters(query, "zh", (), (), False), month_picker([], None, "zh")]
    pd = page.pd_panel("zh", (VolunteersIds.REVEAL, VolunteersIds.NOTE,
                              VolunteersIds.REVEALED), "vol_pd_queue", True)
    return [page.layout("zh", query, controls=controls, pd=pd),
            record_page.layout("zh", "-", [], may_reveal=True)]


def page_state(state: dict | None) -> tuple[Lang, VolunteersQuery]:
    """The language and query a page was rendered for (from its STATE store)."""
    state = state or {}
    lang = normalize_lang(state.get("lang"))
    query, _ = parse_query(state.get("params") or {}, village_labels(lang))
    return lang, query


def register(app: dash.Dash, services: Services) -> None:
    """Register the filter and month navigation and the refresh polls of both pages.

    Every callback here reads only (app.py gives them :attr:`Capability.ITEMS`); the acts and
    reveals are :func:`callbacks.volunteers_review.register`'s.
    """

    @app.callback(Output(VolunteersIds.NAV, "href"),
                  Input(VolunteersIds.VILLAGE, "value"), Input(VolunteersIds.TEAM, "value"),
                  Input(VolunteersIds.KIND, "value"), Input(VolunteersIds.STATUS, "value"),
                  Input(VolunteersIds.TEXT, "value"), State(VolunteersIds.STATE, "data"),
                  prevent_initial_call=True)
    def navigate(village, team, kind, status, text, state) -> str:
        lang, current = page_state(state)
        wanted = with_filters(current, village=village, team=team, kind=kind, status=status,
                              text=text)
        if wanted == current:
            raise PreventUpdate
        return wanted.href(lang)

    @app.callback(Output(VolunteersIds.MONTH_NAV, "href"), Input(VolunteersIds.MONTH, "value"),
                  State(VolunteersIds.STATE, "data"), prevent_initial_call=True)
    def choose_month(month, state) -> str:
        lang, current = page_state(state)
        if not month or month == current.month:
            raise PreventUpdate
        return replace(current, month=month).href(lang)

    @app.callback(Output(VolunteersIds.BODY, "children"), Output(VolunteersIds.ALERT, "children"),
                  Output(VolunteersIds.SEEN, "data"),
                  Input(VolunteersIds.TICK, "n_intervals"), Input(VolunteersIds.CHANGED, "data"),
                  State(VolunteersIds.STATE, "data"), State(VolunteersIds.SEEN, "data"),
                  prevent_initial_call=True)
    def refresh_list(_tick, _changed, state, seen) -> tuple:
        lang, query = page_state(state)
        viewer, now = current_viewer(), utc_now()
        shown = {"query": query}

        def read() -> dict[str, Any]:
            with services.read() as session:
                shown["query"], models = read_section(session, services, query, viewer, now)
            return models
        return refresh_body(services, seen, now, read, lambda models: body_children(
            models, shown["query"], view_of(viewer, lang)), lang, "volunteers page",
            forced=ctx.triggered_id == VolunteersIds.CHANGED)

    @app.callback(Output(VolunteerDetailIds.BODY, "children"),
                  Output(VolunteerDetailIds.ALERT, "children"),
                  Output(VolunteerDetailIds.SEEN, "data"),
                  Input(VolunteerDetailIds.TICK, "n_intervals"),
                  Input(VolunteerDetailIds.CHANGED, "data"),
                  State(VolunteerDetailIds.STATE, "data"), State(VolunteerDetailIds.SEEN, "data"),
                  prevent_initial_call=True)
    def refresh_record(_tick, _changed, state, seen) -> tuple:
        state = state or {}
        lang = normalize_lang(state.get("lang"))
        volunteer_id = str(state.get("volunteer_id") or "")
        viewer = current_viewer()
        return refresh_body(
            services, seen, utc_now(), lambda: read_record(services, volunteer_id, viewer),
            lambda record: record_page.body_children(record, volunteer_id,
                                                     view_of(viewer, lang)),
            lang, "volunteer record", forced=ctx.triggered_id == VolunteerDetailIds.CHANGED)
