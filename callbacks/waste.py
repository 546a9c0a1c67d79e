"""Callbacks of the waste-sorting pages: ``/waste`` (five tabs) and ``/waste/households/<id>``.

Both pages are rendered whole by the router from the URL: a filter or period change only
navigates (writes the new query to one of the page's ``dcc.Location``). A poll asks for the
data version and re-reads the shown tab only when it moved or the minute changed; the body is
sent only when its read models changed. The follow-ups tab is
:mod:`callbacks.waste_followups`' (its own list and poll). A staff account sees the
households, disposals and landlords of its villages only (in SQL). Names, phones and addresses
are masked here for every role: unmasked values come only from the audited reveals of
:mod:`callbacks.waste_review`. Every accuracy shown is a tally of
:mod:`cockpit.waste.page_queries`, counted from the stored disposals on each read.
Database and Redis errors show 数据源连接中断 on the page; they never crash it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, State
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from callbacks import PageRequest
from callbacks.auth import current_viewer
from callbacks.incidents import village_labels
from callbacks.staff_pages import DATA_ERRORS, digest, minute_key, refresh_body
from cockpit.access import Capability, Role, Viewer
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.waste import accuracy, landlord_queries, page_queries
from layouts import waste as page
from layouts import waste_household as record_page
from layouts.i18n import Lang, join, normalize_lang, t
from layouts.volunteers import pd_panel
from layouts.waste import View, WasteIds
from layouts.waste_followups import followups_section
from layouts.waste_household import WasteHouseholdIds
from layouts.waste_lists import page_count
from layouts.waste_query import HOUSEHOLD_PATH, WASTE_PATH, WasteQuery, parse_query, with_filters
from layouts.waste_sections import body_children

log = logging.getLogger(__name__)

#: Shortest poll period of these pages, ms.
MIN_POLL_MS = 2000


def poll_ms(services: Services) -> int:
    """Return the refresh period of the waste pages, milliseconds."""
    return max(services.settings.refresh_ms, MIN_POLL_MS)


def scope_of(viewer: Viewer) -> tuple[str, ...] | None:
    """The villages ``viewer`` sees (staff); None: every village."""
    return viewer.villages if viewer.scoped else None


def counted(query: WasteQuery, viewer: Viewer) -> tuple[str, ...] | None:
    """The villages the figures count: the one chosen (if the viewer's), else the scope."""
    if query.village:
        return (query.village,) if viewer.in_scope(query.village) else ()
    return scope_of(viewer)


def view_of(viewer: Viewer, lang: Lang) -> View:
    """What the builders need to know of ``viewer``."""
    return View(lang, village_labels(lang), viewer.can(Capability.REVEAL))


def period_span(query: WasteQuery, today: date) -> tuple[date, date]:
    """First and last local day of the query's period (days up to ``today``, or a month)."""
    if query.month:
        return page_queries.month_span(query.month)
    return accuracy.days_back(today, query.days or 30)






def read_section(session, services: Services, query: WasteQuery, viewer: Viewer,
                 now: datetime) -> tuple[WasteQuery, dict[str, Any]]:
    """Return the query (page clamped) and the read models of its tab."""
    tz, rules = services.settings.tz, services.settings.waste_rules
    today = page_queries.today_of(now, tz)
    start, end = period_span(query, today)
    villages = counted(query, viewer)
    if query.tab == "overview":
        return query, page_queries.overview(session, rules, today, start, end, villages)
    if query.tab == "households":
        filters = {"group": query.group, "kind": query.kind, "status": query.status,
                   "text": query.text, "scope": villages,
                   "personal_search": viewer.can(Capability.REVEAL)}
        total = page_queries.count_households(session, **filters)
        query = replace(query, page=min(query.page, page_count(total)))
        rows = page_queries.list_households(
            session, tz, start, end, rules.target, limit=page.PAGE_SIZE,
            offset=(query.page - 1) * page.PAGE_SIZE, **filters)
        return query, {"total": total, "rows": rows}
    if query.tab == "disposals":
        filters = {"station": query.station, "rating": query.rating,
                   "waste_class": query.waste_class, "day": query.day, "scope": villages}
        total = page_queries.count_disposals(session, **filters)
        query = replace(query, page=min(query.page, page_count(total)))
        rows = page_queries.list_disposals(session, tz, limit=page.PAGE_SIZE,
                                           offset=(query.page - 1) * page.PAGE_SIZE, **filters)
        return query, {"total": total, "rows": rows}
    if query.tab == "landlords":
        models: dict[str, Any] = {"ranking": landlord_queries.landlord_ranking(
            session, start, end, rules.target, villages)}
        if query.landlord:
            models["landlord"] = landlord_queries.landlord(session, tz, query.landlord,
                                                       rules.target, scope_of(viewer))
        return query, models
    return query, {}


def _controls(query: WasteQuery, lang: Lang, viewer: Viewer, extra: dict[str, Any],
              target: float) -> Any:
    if query.tab == "followups":
        return None
    scope = scope_of(viewer)
    villages = tuple(sorted((c, n) for c, n in village_labels(lang).items()
                            if scope is None or c in scope))
    out = [page.common_controls(query, lang, villages, extra.get("months") or [], target)]
    if query.tab == "households":
        out.append(page.household_filters(query, lang, extra.get("groups") or [],
                                          viewer.can(Capability.REVEAL)))
    elif query.tab == "disposals":
        out.append(page.disposal_filters(query, lang, [
            (s["station_id"], f"{s['name'] or s['station_id']} · {s['station_id']}")
            for s in extra.get("stations") or []]))
    elif query.tab == "landlords":
        out.append(page.landlord_lookup(query, lang))
    return out


def landlord_pd(lang: Lang, may_reveal: bool) -> Any:
    """The reveal panel of the landlord shown (its name and phone, staff's audited reveal)."""
    return pd_panel(lang, (WasteIds.REVEAL, WasteIds.NOTE, WasteIds.REVEALED),
                    "wst_pd_landlord", may_reveal)


def _extra(session, query: WasteQuery, viewer: Viewer) -> dict[str, Any]:
    scope = scope_of(viewer)
    extra: dict[str, Any] = {"months": page_queries.months(session, scope)}
    if query.tab == "households":
        extra["groups"] = page_queries.group_names(session, counted(query, viewer))
    elif query.tab == "disposals":
        extra["stations"] = page_queries.stations(session, counted(query, viewer))
    return extra


def render_page(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return ``/waste`` for the URL query of ``request``, with its data."""
    query, ignored = parse_query(request.query, village_labels(lang))
    viewer, now = current_viewer(), utc_now()
    view = view_of(viewer, lang)
    models: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    alert, seen, body = "", {}, []
    try:
        key = minute_key(services, now)
        with services.read() as session:
            query, models = read_section(session, services, query, viewer, now)
            extra = _extra(session, query, viewer)
        body = followups_section(viewer, lang) if query.tab == "followups" \
            else body_children(models, query, view)
        seen = {"key": key, "digest": digest(models)}
    except DATA_ERRORS as exc:
        log.warning("waste page: data source unreachable: %s: %s", type(exc).__name__, exc)
        alert = t("source_down", lang)
    notice = t("inc_ignored", lang, items=join(ignored, lang, "clause_sep")) if ignored else ""
    pd = landlord_pd(lang, view.may_reveal) if query.tab == "landlords" \
        and models.get("landlord") else None
    return page.layout(lang, query, controls=_controls(
        query, lang, viewer, extra, services.settings.waste_rules.target), body=body, pd=pd,
        notice=notice, alert=alert, poll_ms=poll_ms(services), seen=seen)


def household_id_of(request: PageRequest) -> str:
    """The household id of a record path (``/waste/households/<id>``, percent-decoded)."""
    return unquote(request.rest.strip("/"))


def read_household(services: Services, household_id: str, viewer: Viewer,
                   unmasked: bool = False) -> dict[str, Any] | None:
    """A household's record as ``viewer`` may see it; None when unknown or not theirs."""
    settings = services.settings
    with services.read() as session:
        return page_queries.household_record(
            session, settings.tz, settings.waste_rules, household_id,
            page_queries.today_of(utc_now(), settings.tz), scope_of(viewer), unmasked)


def render_household(services: Services, lang: Lang, request: PageRequest) -> Component:
    """Return a household's record page, or its not-found notice."""
    household_id = household_id_of(request)
    viewer = current_viewer()
    view = view_of(viewer, lang)
    alert, seen, body, found = "", {}, [], False
    try:
        key = minute_key(services, utc_now())
        record = read_household(services, household_id, viewer)
        found = record is not None
        body = record_page.body_children(record, household_id, view)
        seen = {"key": key, "digest": digest(record)}
    except DATA_ERRORS as exc:
        log.warning("household record: data source unreachable: %s: %s", type(exc).__name__,
                    exc)
        alert = t("source_down", lang)
    return record_page.layout(lang, household_id, body, may_reveal=view.may_reveal,
                              alert=alert, poll_ms=poll_ms(services), seen=seen, found=found)


def routes(services: Services) -> dict[str, Any]:
    """Router entries of the waste pages (``/waste`` and ``/waste/households/*``)."""
    return {WASTE_PATH: functools.partial(render_page, services),
            f"{HOUSEHOLD_PATH}/*": functools.partial(render_household, services)}


def validation_pages() -> list[Component]:
    """Both pages built without data, with every control, for ``validation_layout``."""
    query = WasteQuery()
    controls = [page.common_controls(query, "zh", (), (), 0.95),
                page.household_filters(query, "zh", (), False),
                page.disposal_filters(query, "zh", ()), page.landlord_lookup(query, "zh")]
    staff = Viewer("user", "-", Role.STAFF, ())
    return [page.layout("zh", query, controls=controls, pd=landlord_pd("zh", True),
                        body=followups_section(staff, "zh")),
            record_page.layout("zh", "-", [], may_reveal=True)]


def page_state(state: dict | None) -> tuple[Lang, WasteQuery]:
    """The language and query a page was rendered for (from its STATE store)."""
    state = state or {}
    lang = normalize_lang(state.get("lang"))
    query, _ = parse_query(state.get("params") or {}, village_labels(lang))
    return lang, query


def _go(state: dict | None, **changes: Any) -> str:
    lang, current = page_state(state)
    wanted = with_filters(current, **changes)
    if wanted == current:
        raise PreventUpdate
    return wanted.href(lang)




def register(app: dash.Dash, services: Services) -> None:
    """Register the filter and period navigation and the refresh polls of both pages.

    Every callback here reads only (app.py gives them :attr:`Capability.ITEMS`); the reveals
    are :func:`callbacks.waste_review.register`'s, the follow-ups tab's
    :func:`callbacks.waste_followups.register`'s.
    """

    @app.callback(Output(WasteIds.PERIOD_NAV, "href"), Input(WasteIds.PERIOD, "value"),
                  Input(WasteIds.VILLAGE, "value"), State(WasteIds.STATE, "data"),
                  prevent_initial_call=True)
    def choose_period(period, village, state) -> str:
        return _go(state, period=period, village=village)

    @app.callback(Output(WasteIds.NAV, "href"), Input(WasteIds.GROUP, "value"),
                  Input(WasteIds.KIND, "value"), Input(WasteIds.STATUS, "value"),
                  Input(WasteIds.TEXT, "value"), State(WasteIds.STATE, "data"),
                  prevent_initial_call=True)
    def filter_households(group, kind, status, text, state) -> str:
        return _go(state, group=group, kind=kind, status=status, text=text)

    @app.callback(Output(WasteIds.DISPOSAL_NAV, "href"), Input(WasteIds.STATION, "value"),
                  Input(WasteIds.RATING, "value"), Input(WasteIds.CLASS, "value"),
                  Input(WasteIds.DAY, "value"), State(WasteIds.STATE, "data"),
                  prevent_initial_call=True)
    def filter_disposals(station, rating, waste_class, day, state) -> str:
        return _go(state, station=station, rating=rating, waste_class=waste_class, day=day)

    @app.callback(Output(WasteIds.LANDLORD_NAV, "href"), Input(WasteIds.LANDLORD, "value"),
                  State(WasteIds.STATE, "data"), prevent_initial_call=True)
    def look_up_landlord(landlord, state) -> str:
        return _go(state, landlord=landlord)

    @app.callback(Output(WasteIds.BODY, "children"), Output(WasteIds.ALERT, "children"),
                  Output(WasteIds.SEEN, "data"), Input(WasteIds.TICK, "n_intervals"),
                  State(WasteIds.STATE, "data"), State(WasteIds.SEEN, "data"),
                  prevent_initial_call=True)
    def refresh_page(_tick, state, seen) -> tuple:
        lang, query = page_state(state)
        if query.tab == "followups":  # its own callbacks keep it fresh
            raise PreventUpdate
        viewer = current_viewer()
        shown: dict[str, WasteQuery] = {}

        def read() -> dict[str, Any]:
            with services.read() as session:
                shown["query"], models = read_section(session, services, query, viewer,
                                                      utc_now())
            return models
        return refresh_body(services, seen, utc_now(), read, lambda models: body_children(
            models, shown.get("query", query), view_of(viewer, lang)), lang, "waste page")

    @app.callback(Output(WasteHouseholdIds.BODY, "children"),
                  Output(WasteHouseholdIds.ALERT, "children"),
                  Output(WasteHouseholdIds.SEEN, "data"),
                  Input(WasteHouseholdIds.TICK, "n_intervals"),
                  State(WasteHouseholdIds.STATE, "data"), State(WasteHouseholdIds.SEEN, "data"),
                  prevent_initial_call=True)
    def refresh_household(_tick, state, seen) -> tuple:
        state = state or {}
        lang = normalize_lang(state.get("lang"))
        household_id = str(state.get("household_id") or "")
        viewer = current_viewer()
        return refresh_body(services, seen, utc_now(),
                            lambda: read_household(services, household_id, viewer),
                            lambda record: record_page.body_children(record, household_id,
                                                                     view_of(viewer, lang)),
                            lang, "waste household")
