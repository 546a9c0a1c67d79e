"""The wall's waste-sorting part: its read model, view and outputs, apart from the poll.

The waste panel (垃圾分类) and the map's fills change with the stored disposals and with the
local day (the period, 近7日, ends today): the poll (:mod:`callbacks.wall`) reads them once per
data version and day — one query call, :func:`cockpit.waste.wall_queries.wall_accuracy`, given
the process's last model so that only the days whose disposals moved are counted again —
builds the view once per language (both cached for every screen of the process) and sends
the parts only when their signature differs from the one the screen has. The accuracy target
is ``settings.waste_rules.target``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from dash import Output, Patch
from flask_caching import Cache

from callbacks.caching import CACHE_TIMEOUT_S, single_flight
from callbacks.wall_parts import (  # noqa: F401 - village_rings re-exported
    active_layer,
    base_figure,
    map_base,
    signature,
    village_names,
    village_rings,
)
from cockpit.services import Services
from cockpit.waste import wall_queries
from layouts.i18n import Lang
from layouts.wall_waste import WasteIds, waste_view

#: What the poll sends of the waste panel (besides the map's patch).
WASTE_OUTPUTS = {
    "waste_summary": Output(WasteIds.SUMMARY, "children"),
    "waste_key_note": Output(WasteIds.KEY_NOTE, "children"),
    "waste_bars": Output(WasteIds.BARS, "figure"),
}
#: The map's village outlines, the base layer's first trace (layouts.figures): their faint
#: fill gives way to the accuracy fills.
OUTLINE_TRACE = 0
NO_FILL = "rgba(0, 0, 0, 0)"
#: The process's last waste read model, handed to the next read (callbacks.caching).
LAST_MODEL = "wall:waste:last"


def base_notes(lang: Lang) -> tuple[dict[str, Any], ...]:
    """Return the active layer's own map annotations, kept before the 无数据 notes.

    Its 示意 caption, while any village is still schematic (layouts.map_counts).
    """
    return tuple(base_figure(lang)["layout"]["annotations"])


def read_waste(services: Services, now: datetime,
               previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the waste accuracy of the seven local days ending with ``now``'s (one query call).

    Returns :func:`cockpit.waste.wall_queries.wall_accuracy`: per village, overall and per
    day, counts only; ``previous`` (the last model) spares counting unchanged days again.
    """
    today = now.astimezone(services.settings.tz).date()
    with services.read() as session:
        return wall_queries.wall_accuracy(session, today, previous=previous)


def waste_model(services: Services, cache: Cache | None, lock: threading.Lock, key: str,
                now: datetime) -> dict[str, Any]:
    """Return the waste read model at data version and day ``key``, once per key and process.

    The panel, the map's fills and the focus region's tiles share it.
    """
    def read() -> dict[str, Any]:
        previous = cache.get(LAST_MODEL) if cache is not None else None
        models = read_waste(services, now, previous)
        if cache is not None:
            cache.set(LAST_MODEL, models, timeout=CACHE_TIMEOUT_S)
        return models

    return single_flight(cache, lock, f"wall:waste:{key}", read)


def waste_for(services: Services, cache: Cache | None, lock: threading.Lock, key: str,
              lang: Lang, now: datetime) -> dict[str, Any]:
    """Return the waste view at data version and day ``key``, read once per key and process.

    The view is built once per language and counts shown (an incident's version re-reads the
    marks, not the view).
    """
    models = waste_model(services, cache, lock, key, now)
    shown = signature([models["marks"], models["last_day"], models["simulated"]])
    target = services.settings.waste_rules.target
    layer = active_layer().version  # the fills' outlines are the layer's
    return single_flight(cache, lock, f"wall:wasteview:{layer}:{shown}:{lang}",
                         lambda: build_waste_view(models, lang, target))


def build_waste_view(models: dict[str, Any], lang: Lang, target: float) -> dict[str, Any]:
    """Turn the waste read model into the panel's parts and the map's fills, with a signature.

    ``sig`` maps ``waste`` to a short digest of what the parts show: the poll sends them only
    when it differs from the screen's.
    """
    layer = active_layer()
    view = waste_view(models, lang, target=target, base=map_base(lang), rings=village_rings(),
                      order=sorted(village_names(lang)), villages=village_names(lang))
    view["sig"] = {"waste": signature([layer.version, view.pop("shown")])}
    return view


def send_waste(view: dict[str, Any], out: dict[str, Any], patch: Patch, lang: Lang) -> None:
    """Put the waste view into the poll's outputs and the map's patch.

    The map gets its village fills (``layout.shapes``) and its annotations (its own, then
    the 无数据 notes), and loses the outlines' faint fill; the incident traces, counts, badges
    and labels stay as they are.
    """
    out.update(waste_summary=view["summary"], waste_key_note=view["key_note"],
               waste_bars=view["bars"])
    patch["layout"]["shapes"] = view["shapes"]
    patch["layout"]["annotations"] = [*base_notes(lang), *view["notes"]]
    patch["data"][OUTLINE_TRACE]["fillcolor"] = NO_FILL
