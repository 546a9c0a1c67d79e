"""The wall's fixed map layer and its time-driven parts, apart from the poll callback.

The map base and village names are read once per process from the shipped geodata. The overdue
board, the announcement queue, the volunteers' deployment and the mobilisations change with
time alone (a limit passes, a deadline nears): the poll (callbacks.wall) reads them once per
data version and at least every ``GOVERNANCE_EVERY_S``, and sends a part only when its
signature changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from callbacks.wall_ack import MAX_ACKS
from cockpit import geo, governance_queries
from cockpit.governance_config import GovernanceConfig
from cockpit.services import Services
from cockpit.volunteers import queries as volunteer_queries
from layouts.figures import MAP_PAD, MapBase
from layouts.i18n import Lang, t
from layouts.map_counts import wall_y_range
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


@functools.lru_cache(maxsize=4)
def map_base(lang: Lang) -> MapBase:
    """Return the map's fixed layer from the shipped geodata (read once per process).

    Labels carry the plain names; the schematic marker is added by the figure for the codes
    in ``schematic``, and villages much smaller than the median one get the small label.
    """
    villages = geo.load_villages()
    if lang == "en":
        villages = villages.assign(name=villages["name_en"])
    outline_x, outline_y = geo.outline_xy(villages)
    boundary_x, boundary_y = geo.outline_xy(geo.load_subdistrict())
    x0, y0, x1, y1 = (float(v) for v in villages.total_bounds)
    areas = villages.to_crs(geo.METRIC_CRS).geometry.area
    small = villages.loc[areas < SMALL_VILLAGE_SHARE * areas.median(), "code"]
    return MapBase(outline_x, outline_y, boundary_x, boundary_y,
                   geo.label_points(villages, with_suffix=False), (x0, y0, x1, y1),
                   schematic=schematic_villages(), small=frozenset(small.astype(str)))


@functools.lru_cache(maxsize=1)
def map_bounds() -> tuple[float, float, float, float]:
    """Return what the map shows, ``(min_lon, min_lat, max_lon, max_lat)`` in WGS-84 degrees.

    The villages' extent with the figure's padding (:func:`layouts.map_counts.wall_y_range`
    above and below): a point outside it would take a point's room and not be seen.
    """
    base = map_base("zh")
    x0, _, x1, _ = base.bounds
    low, high = wall_y_range(base)
    pad_x = (x1 - x0) * MAP_PAD
    return (x0 - pad_x, low, x1 + pad_x, high)


@functools.lru_cache(maxsize=1)
def schematic_villages() -> frozenset[str]:
    """Return the codes of the villages whose outline is schematic (示意): all shipped ones."""
    villages = geo.load_villages()
    return frozenset(villages.loc[villages["schematic"].astype(bool), "code"].astype(str))


@functools.lru_cache(maxsize=4)
def village_names(lang: Lang, marked: bool = False) -> dict[str, str]:
    """Return village code -> display name in ``lang``; ``marked`` appends （示意） where due."""
    field = "name_en" if lang == "en" else "name"
    mark = t("schematic", lang) if marked else ""
    schematic = schematic_villages()
    return {code: info[field] + (mark if code in schematic else "")
            for code, info in geo.village_names().items()}


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
