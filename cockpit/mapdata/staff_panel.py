"""Read models of the staff map's choropleths, village side panel and item popup.

:func:`village_metrics` gives the three choropleths (waste accuracy, incident density,
volunteer coverage) their figures per village; :func:`village_panel` the side panel of one
village; :func:`incident_item` one incident's detail, masked as the viewer's incident page
masks it. Like :mod:`cockpit.mapdata.staff_queries`, each takes the viewer's scope and shows
nothing of other villages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from cockpit import geo, governance_queries
from cockpit.access import Capability, Viewer
from cockpit.clock import utc_now
from cockpit.governance_config import GovernanceConfig, cached_governance
from cockpit.mapdata.filters import MapFilters
from cockpit.mapdata.layers import grid_layer, village_layer
from cockpit.mapdata.staff_queries import (
    incident_conditions,
    repeat_groups,
    status_column,
    volunteers_on_duty,
)
from cockpit.store.models import Incident
from cockpit.store.volunteer_models import Volunteer
from cockpit.store.waste_models import Household, WasteDisposal
from cockpit.volunteers.config import VolunteerRules
from cockpit.waste.config import cached_waste_rules

#: Categories listed in the side panel, most frequent first.
TOP_CATEGORIES = 5


def _counts(session: Session, statement) -> dict[str | None, int]:
    return {code: int(n) for code, n in session.execute(statement)}


def _waste(session: Session, filters: MapFilters, tz: ZoneInfo, now: datetime,
           scope: Sequence[str] | None) -> dict[str | None, tuple[int, int]]:
    """Village → (correct, rated) of the disposals that occurred in the filter's window.

    The rule of :mod:`cockpit.waste.accuracy` (a count of rated disposals, by the disposal's
    village); the window is exact to the instant (``24h`` cuts a day), the local-day bounds
    only let the day index find the rows.
    """
    d = WasteDisposal
    since, until = filters.window(now, tz)
    query = select(d.village_code, func.sum(cast(d.correct, Integer)), func.count())
    if since is not None:
        query = query.where(d.local_day >= since.astimezone(tz).date().isoformat(),
                            d.occurred_at >= since)
    if until is not None:
        query = query.where(d.local_day <= until.astimezone(tz).date().isoformat(),
                            d.occurred_at < until)
    if scope is not None:
        query = query.where(d.village_code.in_(scope))
    return {code: (int(c or 0), int(n))
            for code, c, n in session.execute(query.group_by(d.village_code))}


def _active(model, scope: Sequence[str] | None):
    query = select(model.village_code, func.count()).where(model.status == "active")
    if scope is not None:
        query = query.where(model.village_code.in_(scope))
    return query.group_by(model.village_code)


def village_metrics(session: Session, filters: MapFilters, tz: ZoneInfo, now: datetime,
                    layer: gpd.GeoDataFrame, villages: Sequence[str] | None = None
                    ) -> dict[str, dict[str, Any]]:
    """Return the figures of the three village choropleths, per village of ``layer``.

    Definitions (quoted in docs):

    * ``waste_correct`` / ``waste_total``: rated disposals that occurred in the filter's
      period (:meth:`MapFilters.window`) and belong to the village (the household's village,
      as every waste figure), of which rated correct. Sorting accuracy is
      ``waste_correct / waste_total`` (a count of disposals, not of kg), computed by the
      caller; none without disposals.
    * ``incidents``: incidents of the village reported in the period that pass the filters'
      categories, stages and grid (every stage when none is named).
    * ``area_km2``: the village's area in ``layer`` (imported polygon, else schematic),
      measured in :data:`cockpit.geo.METRIC_CRS` (UTM 51N), km².
    * ``incident_density``: ``incidents / area_km2``, incidents per km² in the period.
    * ``volunteers``: registered volunteers whose home village it is and whose status is
      active (merged and inactive records not counted), now; the period does not apply.
    * ``households``: waste-registry households of the village with status active (not
      moved out), now.
    * ``volunteer_coverage``: ``100 * volunteers / households``, active volunteers per 100
      active households; None when the village has no household.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        The active village layer (:func:`cockpit.mapdata.layers.village_layer`), EPSG:4326.
    villages : sequence of str, optional
        The viewer's scope; None: every village. ``filters.village`` narrows it further.

    Returns
    -------
    dict
        Village code → the figures above, for each village of ``layer`` in the scope.

    Raises
    ------
    ValueError
        If ``layer`` is not in WGS-84 (EPSG:4326).
    """
    if layer.crs is None or layer.crs.to_epsg() != 4326:
        raise ValueError(f"expected a WGS-84 (EPSG:4326) village layer, got CRS {layer.crs}")
    scope = filters.narrow(villages)
    areas = dict(zip(layer["code"], layer.to_crs(geo.METRIC_CRS).area / 1e6, strict=True))
    codes = [c for c in layer["code"] if scope is None or c in scope]
    incidents = _counts(session, select(Incident.village_code, func.count())
                        .where(*incident_conditions(filters, tz, now, scope))
                        .group_by(Incident.village_code))
    waste = _waste(session, filters, tz, now, scope)
    volunteers = _counts(session, _active(Volunteer, scope))
    households = _counts(session, _active(Household, scope))
    out = {}
    for code in codes:
        area, n = float(areas[code]), incidents.get(code, 0)
        vols, homes = volunteers.get(code, 0), households.get(code, 0)
        correct, total = waste.get(code, (0, 0))
        out[code] = {"waste_correct": correct, "waste_total": total, "incidents": n,
                     "area_km2": area, "incident_density": n / area if area > 0 else None,
                     "volunteers": vols, "households": homes,
                     "volunteer_coverage": 100.0 * vols / homes if homes else None}
    return out


def overview(session: Session, filters: MapFilters, tz: ZoneInfo, now: datetime,
             villages: Sequence[str] | None = None) -> dict[str, int]:
    """Return the side panel's figures before a village is chosen: the filtered incidents.

    The incidents of :func:`~cockpit.mapdata.staff_queries.incident_points` (same filters,
    same scope), counted in one grouped read.

    Returns
    -------
    dict
        ``total``; ``open``, ``overdue``, ``closed`` (map statuses, adding up to ``total``);
        ``unplaced`` (of ``total``, those without a position).
    """
    status = status_column(now).label("status")  # one expression: PostgreSQL groups by it
    out = {"total": 0, "open": 0, "overdue": 0, "closed": 0, "unplaced": 0}
    for state, n, placed in session.execute(
            select(status, func.count(), func.count(Incident.lon))
            .where(*incident_conditions(filters, tz, now, villages)).group_by(status)):
        out[state] += n
        out["total"] += n
        out["unplaced"] += n - placed
    return out


def village_panel(session: Session, code: str, filters: MapFilters, tz: ZoneInfo,
                  now: datetime, villages: Sequence[str] | None = None,
                  waste_target: float | None = None, *, layer: gpd.GeoDataFrame | None = None,
                  rules: VolunteerRules | None = None) -> dict[str, Any] | None:
    """Return the side panel of one village under the filters.

    Parameters
    ----------
    code : str
        The village clicked (its code).
    filters : MapFilters
        Categories, stages, period and grid apply to the incident figures, the period to the
        waste figures; ``filters.village`` is replaced by ``code``.
    villages : sequence of str, optional
        The viewer's scope; a village outside it gives None.
    waste_target : float, optional
        The waste rules' accuracy target, in (0, 1]: pass ``Settings.waste_rules.target``
        (the centre's file); None reads the shipped rules file.
    layer : geopandas.GeoDataFrame, optional
        The active village layer; None reads it (:func:`~cockpit.mapdata.layers.village_layer`).
    rules : VolunteerRules, optional
        For the on-duty grace (:func:`~cockpit.mapdata.staff_queries.volunteers_on_duty`).

    Returns
    -------
    dict or None
        None when ``code`` is out of the scope or not a village of the layer. Else ``code``,
        ``name``, ``schematic`` (True when its polygon is the schematic one, to label 示意);
        ``incidents_by_stage`` (stage → count, stages with none left out); ``open`` and
        ``overdue`` (statuses as on the map); ``by_category`` (the top five
        ``{category, count}``, most first); ``repeat_groups`` (groups with two members or more
        shown); ``volunteers``, ``households``, ``waste_correct``, ``waste_total`` (as
        :func:`village_metrics`); ``on_duty`` (people on duty at its activities now);
        ``waste_target``; ``grids``: ``{count, generated, imported}`` of its grid layer.
    """
    if villages is not None and code not in villages:
        return None
    layer = village_layer(session) if layer is None else layer
    row = layer[layer["code"] == code]
    if row.empty:
        return None
    mine = MapFilters(filters.categories, filters.stages, filters.period, filters.start,
                      filters.end, code, filters.grid)
    metrics = village_metrics(session, mine, tz, now, row, villages)[code]
    by_stage: dict[str, int] = {}
    by_status = {"open": 0, "overdue": 0, "closed": 0}
    status = status_column(now).label("status")  # one expression: PostgreSQL groups by it
    for stage, state, n in session.execute(
            select(Incident.stage, status, func.count())
            .where(*incident_conditions(mine, tz, now, villages))
            .group_by(Incident.stage, status)):
        by_stage[stage] = by_stage.get(stage, 0) + n
        by_status[state] += n
    categories = session.execute(
        select(Incident.category, func.count().label("n"))
        .where(*incident_conditions(mine, tz, now, villages))
        .group_by(Incident.category).order_by(func.count().desc(), Incident.category)
        .limit(TOP_CATEGORIES)).all()
    on_duty = volunteers_on_duty(session, now, (code,), rules)
    grids = grid_layer(session, [code])
    generated = int(grids["generated"].astype(bool).sum()) if not grids.empty else 0
    return {"code": code, "name": row.iloc[0]["name"], "schematic": bool(row.iloc[0]["schematic"]),
            "incidents_by_stage": by_stage, "open": by_status["open"],
            "overdue": by_status["overdue"],
            "by_category": [{"category": c, "count": n} for c, n in categories],
            "repeat_groups": len(repeat_groups(session, mine, tz, now, villages)),
            "volunteers": metrics["volunteers"],
            "on_duty": on_duty[0]["village_on_duty"] if on_duty else 0,
            "households": metrics["households"], "waste_correct": metrics["waste_correct"],
            "waste_total": metrics["waste_total"],
            "waste_target": cached_waste_rules(None).target if waste_target is None
            else waste_target,
            "grids": {"count": len(grids), "generated": generated,
                      "imported": len(grids) - generated}}


def incident_item(session: Session, incident_id: str, tz: ZoneInfo, viewer: Viewer, *,
                  config: GovernanceConfig | None = None, now: datetime | None = None,
                  unmasked: bool = False) -> dict[str, Any] | None:
    """Return one incident's detail for the map's popup, as ``viewer`` may see it.

    The detail is :func:`cockpit.governance_queries.incident_detail`, the incident page's
    own query, so the popup and the page never disagree: the caller (``reporter``) masked
    (周**, 138****1234) for every role; for staff the page offers a reveal, and so does this:
    ``unmasked=True`` returns the caller in full to a viewer with
    :attr:`~cockpit.access.Capability.REVEAL` (the caller writes the audit entry first, as
    the page's reveal does), and is ignored for any other viewer.

    Parameters
    ----------
    viewer : Viewer
        Who looks. Leader, admin and the wall see every village, masked; staff see their
        villages only (another village's incident is None, as if it did not exist, and the
        repeat-group members of other villages are left out); roles that read neither
        items nor the wall (landlord, anonymous) get None.
    config : GovernanceConfig, optional
        The stage limits for the timeline (``Settings.governance``); None: the shipped file.
    now : datetime, optional
        Aware; the overdue clock (default: the current time).

    Returns
    -------
    dict or None
        The incident page's detail (:func:`cockpit.queries.incident_dict` fields,
        ``reporter``, ``timeline``, ``events``, ``repeats`` …) plus ``status`` (as on the
        map) and ``can_reveal`` (True when this viewer may ask for the caller in full).
        None when unknown, out of scope, or not for this viewer.
    """
    if not (viewer.can(Capability.ITEMS) or viewer.can(Capability.WALL)):
        return None
    now = now or utc_now()
    reveal = viewer.can(Capability.REVEAL)
    detail = governance_queries.incident_detail(
        session, tz, incident_id, config or cached_governance(None), now,
        unmasked=unmasked and reveal)
    if detail is None or not viewer.in_scope(detail.get("village_code")):
        return None
    if viewer.scoped:
        detail["repeats"] = [m for m in detail["repeats"] if viewer.in_scope(m["village_code"])]
    detail["status"] = session.scalar(select(status_column(now))
                                      .where(Incident.incident_id == incident_id))
    detail["can_reveal"] = reveal and detail.get("reporter") is not None
    return detail
