"""The landlord's page (``/landlord``), rendered whole by the router for the signed-in landlord.

Only :attr:`cockpit.access.Capability.LANDLORD` opens it (declared in app.py), and what it
shows is always the signed-in account's own landlord id (:attr:`cockpit.access.Viewer.
landlord_id`), never one from the URL: a landlord cannot ask for another's houses. The figures
come from :func:`cockpit.waste.queries.landlord_view` (each household over its own disposals,
so a tenant who moved out keeps its history and the next one starts afresh) and
:func:`cockpit.waste.accuracy.trend`. The page has no callback of its own.
Database and Redis errors show 数据源连接中断 on the page; they never crash it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from zoneinfo import ZoneInfo

from dash.development.base_component import Component

from callbacks.auth import current_viewer
from callbacks.incidents import village_labels
from callbacks.staff_pages import DATA_ERRORS
from cockpit.clock import utc_now
from cockpit.services import Services
from cockpit.waste import accuracy, queries
from layouts import landlord as page
from layouts.i18n import Lang, t
from layouts.landlord import LANDLORD_PATH, TREND_DAYS

log = logging.getLogger(__name__)



def read_models(session, landlord_id: str, tz: ZoneInfo) -> tuple[dict[str, Any] | None, list]:
    """The landlord's houses and households (None when the register has none) and the trend.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open read session.
    landlord_id : str
        The signed-in account's landlord.
    tz : ZoneInfo
        The cockpit's zone: the trend ends with today's local day.
    """
    view = queries.landlord_view(session, landlord_id)
    today = utc_now().astimezone(tz).date()
    trend = accuracy.trend(session, "day", today, TREND_DAYS, landlord_id=landlord_id)
    return view, trend


def render(services: Services, lang: Lang) -> Component:
    """Return ``/landlord`` for the signed-in landlord, with their houses' figures."""
    settings = services.settings
    landlord_id = current_viewer().landlord_id
    view, trend, alert = None, [], ""
    if landlord_id:
        try:
            with services.read() as session:
                view, trend = read_models(session, landlord_id, settings.tz)
        except DATA_ERRORS as exc:
            log.warning("landlord page: data source unreachable: %s", type(exc).__name__)
            alert = t("source_down", lang)
    return page.layout(lang, view=view, trend=trend, target=settings.waste_rules.target,
                       tz=settings.tz, villages=village_labels(lang), alert=alert)


def validation_page() -> Component:
    """The page built without data, for the app's ``validation_layout``."""
    return page.layout("zh", view={"households": [], "accuracy": accuracy.Tally(None)},
                       trend=[], target=0.95, tz=ZoneInfo("UTC"), villages={})


def routes(services: Services) -> dict[str, Any]:
    """Router entry of the landlord's page."""
    return {LANDLORD_PATH: functools.partial(render, services)}
