"""The live map's village counts: the incidents it does not draw one by one.

A wall map with thousands of open incidents drawn as points is unreadable and slow to send and
to draw. The wall draws the newest :data:`callbacks.wall.MAP_POINTS` as points
(:func:`layouts.figures.incident_traces`) and the rest as one bubble per village that reads
``+N``: the village's incidents on the map (:func:`cockpit.queries.map_villages`) less those
drawn as points. A click on a bubble opens the village's open incidents in the list. Pure
builders, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from layouts.figures import FONT_FAMILY, MapBase, plain
from layouts.i18n import Lang, format_count, t

#: ``customdata`` of a bubble: this prefix and the village code (``assets/wall.js`` drills).
VILLAGE_PREFIX = "village:"
#: Bubble diameter, px: ``MIN_PX`` for one incident, growing with the log of the count.
MIN_PX = 16
PX_PER_DECADE = 10
MAX_PX = 56
#: Bubbles sit this share of the map's height below their village's label.
BELOW_LABEL = 0.035
COLOR = "rgba(255, 176, 32, 0.30)"
LINE = "rgba(255, 196, 80, 0.95)"
TEXT = "#ffe2a8"


def bubble_px(count: int) -> float:
    """Return a bubble's diameter in px for ``count`` incidents (>= 1)."""
    return min(MAX_PX, MIN_PX + PX_PER_DECADE * math.log10(max(count, 1)))


def undrawn(counts: Mapping[str, Mapping[str, int]],
            points: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Return village code -> incidents on the map not drawn as points (only those > 0).

    Parameters
    ----------
    counts : mapping
        :func:`cockpit.queries.map_villages`: code -> ``{"open": n, "done": n}``.
    points : iterable of dict
        The rows drawn as points (:func:`cockpit.queries.map_points`), each with
        ``village_code``.
    """
    drawn = Counter(p.get("village_code") or "" for p in points)
    rest = {code: c.get("open", 0) + c.get("done", 0) - drawn.get(code, 0)
            for code, c in counts.items() if code}
    return {code: n for code, n in rest.items() if n > 0}


def count_trace(base: MapBase, counts: Mapping[str, Mapping[str, int]],
                points: Iterable[Mapping[str, Any]], lang: Lang = "zh",
                names: Mapping[str, str] | None = None, hours: float = 24.0) -> dict[str, Any]:
    """Return the bubble trace (uid ``villages``): one ``+N`` per village with undrawn incidents.

    Parameters
    ----------
    base : MapBase
        Its label points place the bubbles (lon, lat: WGS-84 degrees); villages without a
        label get none.
    counts, points
        As :func:`undrawn`.
    lang : {"zh", "en"}
        Language of the hover text.
    names : mapping, optional
        Village code -> display name (defaults to the label's name).
    hours : float
        The map's window for finished incidents, named in the hover text.

    Returns
    -------
    dict
        A plotly scatter trace, present (with empty lists) when nothing is undrawn, so the
        map's trace indices never move.
    """
    names = names or {}
    rest = undrawn(counts, points)
    dy = (base.bounds[3] - base.bounds[1]) * BELOW_LABEL
    xs, ys, texts, sizes, hovers, ids = [], [], [], [], [], []
    for code, label, lon, lat in base.labels:
        n = rest.get(code)
        if not n:
            continue
        village = counts[code]
        xs.append(lon)
        ys.append(lat - dy)
        texts.append(f"+{format_count(n)}")
        sizes.append(bubble_px(n))
        ids.append(f"{VILLAGE_PREFIX}{code}")
        hovers.append("<br>".join((
            f"<b>{plain(names.get(code) or label)}</b>",
            t("map_more_hover", lang).format(n=format_count(n)),
            t("map_more_counts", lang).format(open=format_count(village.get("open", 0)),
                                              done=format_count(village.get("done", 0)),
                                              hours=f"{hours:g}"),
            t("map_more_click", lang))))
    return {"type": "scatter", "mode": "markers+text", "uid": "villages", "showlegend": False,
            "x": xs, "y": ys, "text": texts, "customdata": ids, "hovertext": hovers,
            "hoverinfo": "text", "textposition": "middle center",
            "textfont": {"family": FONT_FAMILY, "size": 13, "color": TEXT},
            "marker": {"size": sizes, "color": COLOR, "line": {"color": LINE, "width": 1.5}}}
