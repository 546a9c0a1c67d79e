"""The wall's map layer and its time-driven parts, apart from the poll callback.

The map base, the village rings, names and schematic marks come from the store's active
village layer (:func:`cockpit.mapdata.layers.village_layer`: imported polygons where there are,
else the shipped schematic ones). Each process keeps the layer it last read
(:func:`active_layer`) and asks the store for its version once per data version
(:func:`sync_layer`): an import bumps the data version (``cockpit.streams.signal_change``), so
the first poll after it reads the new layer, without a restart. Everything drawn from a layer
is built once per layer and language.

The overdue board, the announcement queue, the volunteers' deployment and the mobilisations
change with time alone (a limit passes, a deadline nears): the poll (callbacks.wall) reads them
once per data version and at least every ``GOVERNANCE_EVERY_S``, and sends a part only when its
signature changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import shapely

from callbacks.wall_ack import MAX_ACKS
from cockpit import geo, governance_queries
from cockpit.governance_config import GovernanceConfig
from cockpit.mapdata import layers
from cockpit.services import Services
from cockpit.volunteers import queries as volunteer_queries
from layouts.figures import FIRST_INCIDENT_TRACE, MAP_PAD, MapBase
from layouts.i18n import Lang, t
from layouts.map_counts import wall_map_figure, wall_y_range
from layouts.wall_governance import (
    OVERDUE_ROWS,
    announce_queue,
    overdue_children,
    overdue_rows,
    overdue_total,
)
from layouts.wall_volunteers import volunteer_view

#: A village whose area is below this share of the median village's gets the small label.
SMALL_VILLAGE_SHARE = 0.5
#: Announcements sent to the screen at most (the queue's total counts them all): as many as
#: one 确认全部 may acknowledge.
ANNOUNCE_ITEMS = MAX_ACKS


# ------------------------------------------------------------------ the village layer


@dataclass(frozen=True, eq=False)
class WallLayer:
    """The village layer the wall draws, as read from one store at one layer version.

    Compared and hashed by identity: what is drawn from it is cached per layer object.

    Attributes
    ----------
    store : str
        The store it was read from (its URL, password hidden); empty for the shipped layer.
    version : int
        :func:`cockpit.mapdata.layers.layer_version` (0: nothing imported, the shipped layer).
    villages : geopandas.GeoDataFrame
        :func:`cockpit.mapdata.layers.village_layer`, rings oriented as RFC 7946 says
        (exterior counter-clockwise, holes clockwise) whatever the store holds.
    """

    store: str
    version: int
    villages: gpd.GeoDataFrame

    @functools.cached_property
    def schematic(self) -> frozenset[str]:
        """Codes of the villages still drawn with their schematic (示意) outline."""
        villages = self.villages
        return frozenset(villages.loc[villages["schematic"].astype(bool), "code"].astype(str))


def _oriented(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return villages.set_geometry(villages.geometry.orient_polygons(exterior_cw=False))


@functools.lru_cache(maxsize=1)
def shipped_layer() -> WallLayer:
    """Return the shipped schematic layer (version 0), read once per process."""
    return WallLayer("", 0, _oriented(geo.load_villages()))


class _Active:
    """The layer this process draws: a cache of the store's, never written from request data."""

    def __init__(self) -> None:
        self.layer: WallLayer | None = None
        self.checked: tuple[str, int] | None = None  # (store, data version) last asked at
        self.lock = threading.Lock()


_ACTIVE = _Active()


def active_layer() -> WallLayer:
    """Return the layer this process draws now (the shipped one until a store was asked)."""
    return _ACTIVE.layer or shipped_layer()


def use_layer(layer: WallLayer | None) -> None:
    """Draw ``layer`` from now on in this process (None: the shipped one); forget the checks."""
    with _ACTIVE.lock:
        _ACTIVE.layer, _ACTIVE.checked = layer, None


def sync_layer(services: Services, data_version: int | None = None) -> WallLayer:
    """Return the store's active village layer, read again only when its version moved.

    The store is asked for the layer version (one indexed scalar query) once per
    ``data_version`` and process — every time when it is None; the layer itself is read only
    when that version differs from the one drawn.
    """
    store = services.engine.url.render_as_string(hide_password=True)
    if data_version is not None and _ACTIVE.checked == (store, data_version):
        return active_layer()
    with _ACTIVE.lock:
        if data_version is not None and _ACTIVE.checked == (store, data_version):
            return active_layer()
        with services.read() as session:
            version = layers.layer_version(session)
            current = _ACTIVE.layer or shipped_layer()
            if not version:
                _ACTIVE.layer = shipped_layer()
            elif (current.store, current.version) != (store, version):
                _ACTIVE.layer = WallLayer(store, version,
                                          _oriented(layers.village_layer(session)))
        if data_version is not None:
            _ACTIVE.checked = (store, data_version)
        return active_layer()


def map_base(lang: Lang) -> MapBase:
    """Return the map's fixed layer of the active village layer (built once per layer).

    Labels carry the plain names; the schematic marker is added by the figure for the codes
    in ``schematic``, and villages much smaller than the median one get the small label.
    """
    return layer_base(active_layer(), lang)


@functools.lru_cache(maxsize=8)
def layer_base(layer: WallLayer, lang: Lang) -> MapBase:
    """Return the map's fixed layer drawn from ``layer`` in ``lang`` (built once)."""
    villages = layer.villages
    if lang == "en":
        villages = villages.assign(name=villages["name_en"])
    outline_x, outline_y = geo.outline_xy(villages)
    boundary_x, boundary_y = geo.outline_xy(_subdistrict(layer))
    x0, y0, x1, y1 = (float(v) for v in villages.total_bounds)
    areas = villages.to_crs(geo.METRIC_CRS).geometry.area
    small = villages.loc[areas < SMALL_VILLAGE_SHARE * areas.median(), "code"]
    return MapBase(outline_x, outline_y, boundary_x, boundary_y,
                   geo.label_points(villages, with_suffix=False), (x0, y0, x1, y1),
                   schematic=layer.schematic, small=frozenset(small.astype(str)))


def base_figure(lang: Lang) -> dict[str, Any]:
    """Return the wall map without its live traces, of the active layer (built once per layer).

    :func:`layouts.map_counts.wall_map_figure` of :func:`map_base`; shared: do not change it.
    """
    return _base_figure(active_layer(), lang)


@functools.lru_cache(maxsize=8)
def _base_figure(layer: WallLayer, lang: Lang) -> dict[str, Any]:
    return wall_map_figure(layer_base(layer, lang), lang)


def send_base(patch: Any, lang: Lang) -> None:
    """Put the active layer's outlines, labels, extent and caption into the map's patch.

    For a screen drawn from another layer: the base traces (before
    :data:`layouts.figures.FIRST_INCIDENT_TRACE`), the axes' ranges and the map's own
    annotations (the 示意 caption, when any village is still schematic).
    """
    figure = base_figure(lang)
    for index, trace in enumerate(figure["data"][:FIRST_INCIDENT_TRACE]):
        patch["data"][index] = trace
    for axis in ("xaxis", "yaxis"):
        patch["layout"][axis]["range"] = figure["layout"][axis]["range"]
    patch["layout"]["annotations"] = figure["layout"]["annotations"]


def _subdistrict(layer: WallLayer) -> gpd.GeoDataFrame:
    # the shipped (schematic) outline while any village is schematic, else the outer edge of
    # the villages' union (outline_xy draws exterior rings only)
    if layer.schematic:
        return geo.load_subdistrict()
    union = shapely.union_all(layer.villages.geometry.to_numpy())
    return gpd.GeoDataFrame(geometry=[union], crs=geo.WGS84)


def map_bounds() -> tuple[float, float, float, float]:
    """Return what the map shows, ``(min_lon, min_lat, max_lon, max_lat)`` in WGS-84 degrees.

    The active layer's villages' extent with the figure's padding
    (:func:`layouts.map_counts.wall_y_range` above and below): a point outside it would take a
    point's room and not be seen.
    """
    return _map_bounds(active_layer())


@functools.lru_cache(maxsize=4)
def _map_bounds(layer: WallLayer) -> tuple[float, float, float, float]:
    base = layer_base(layer, "zh")
    x0, _, x1, _ = base.bounds
    low, high = wall_y_range(base)
    pad_x = (x1 - x0) * MAP_PAD
    return (x0 - pad_x, low, x1 + pad_x, high)


def schematic_villages() -> frozenset[str]:
    """Return the codes of the villages whose outline is schematic (示意) in the active layer."""
    return active_layer().schematic


def village_names(lang: Lang, marked: bool = False) -> dict[str, str]:
    """Return village code -> display name in ``lang``; ``marked`` appends （示意） where due."""
    return _village_names(active_layer(), lang, marked)


@functools.lru_cache(maxsize=16)
def _village_names(layer: WallLayer, lang: Lang, marked: bool) -> dict[str, str]:
    field = "name_en" if lang == "en" else "name"
    mark = t("schematic", lang) if marked else ""
    return {code: info[field] + (mark if code in layer.schematic else "")
            for code, info in geo.village_names().items()}


def village_rings() -> dict[str, list[tuple[list[float], list[float]]]]:
    """Return village code -> its rings, ``(lons, lats)`` in WGS-84 degrees (active layer).

    Exterior rings counter-clockwise, holes clockwise, whatever the store holds.
    """
    return _village_rings(active_layer())


@functools.lru_cache(maxsize=4)
def _village_rings(layer: WallLayer) -> dict[str, list[tuple[list[float], list[float]]]]:
    villages = layer.villages
    return {str(code): geo.outline_coords(villages[villages["code"] == code])
            for code in villages["code"]}


def read_governance(services: Services, now: datetime) -> dict[str, Any]:
    """Read the overdue board and the announcement queue as of ``now`` (one session)."""
    settings = services.settings
    with services.read() as session:
        return {"overdue": governance_queries.overdue(session, settings.tz, now,
                                                      limit=OVERDUE_ROWS),
                "pending": governance_queries.pending_announcements(
                    session, settings.tz, settings.governance, now, limit=ANNOUNCE_ITEMS)}


def read_volunteers(services: Services, now: datetime) -> dict[str, Any]:
    """Read the volunteers' deployment and the mobilisations on show as of ``now``.

    Like the overdue board they change with time alone (a deadline nears, a schedule lags):
    the poll reads them once per version and :data:`GOVERNANCE_EVERY_S` period.
    """
    settings = services.settings
    rules = settings.volunteer_rules
    with services.read() as session:
        return {"deployment": volunteer_queries.deployment(session, rules, now),
                "mobilizations": volunteer_queries.mobilization_board(session, rules,
                                                                      settings.tz, now)}


def build_volunteer_view(models: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Turn the volunteer read models into their panels and map badges, with signatures."""
    view = volunteer_view(models, lang, base=map_base(lang), order=sorted(village_names(lang)),
                          villages=village_names(lang), marked=village_names(lang, True),
                          schematic=schematic_villages())
    view["sig"] = {f"vol_{part}": signature(data) for part, data in view.pop("shown").items()}
    return view


def signature(value: Any) -> str:
    """A short digest of what a part shows (JSON of it): equal digests, nothing to send."""
    return hashlib.blake2b(json.dumps(value, sort_keys=True, default=str).encode(),
                           digest_size=8).hexdigest()


def build_governance_view(models: dict[str, Any], lang: Lang,
                          levels: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Turn the overdue board and queue into the panels' children, with their signatures.

    ``sig`` maps ``overdue`` and ``queue`` to a short digest of what each shows: the poll
    sends a part only when its digest differs from the one the screen has.
    """
    board, queue = models["overdue"], announce_queue(models["pending"], lang)
    shown = overdue_rows(board.get("items") or [], levels, lang)
    return {"overdue": overdue_children(board, village_names(lang), lang, levels,
                                        schematic_villages()),
            "overdue_total": overdue_total(board, lang), "queue": queue,
            "sig": {"overdue": signature([shown, board.get("total")]),
                    "queue": signature(queue)}}


def escalation_levels(config: GovernanceConfig) -> list[tuple[str, str]]:
    """Return the escalation ladder's rung names, (zh, en) from the first rung up."""
    return [(level.zh, level.en) for level in config.escalation]
