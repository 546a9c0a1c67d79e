"""The live map's village counts: the incidents it does not draw one by one.

The wall draws at most :data:`callbacks.wall_feed.MAP_POINTS` incidents as points, open ones
first (:func:`cockpit.map_queries.map_points`), and counts all of them per village
(:func:`cockpit.map_queries.map_villages`). Two cases:

* every open incident with a position on the map fits: all are drawn, and a village that also
  has open incidents without a position (or placed off the map) gets a small ``+N`` bubble;
* they do not fit (thousands open): a village whose open incidents are not all drawn is shown
  as one *cluster* bubble with its open count, and none of its points are drawn (a cluster
  replaces its points, as map clustering does, so no point hides the bubble or takes its
  clicks). Villages whose open incidents all fit keep their points.

A bubble sits under its village's name; a click opens that village's open incidents in the
list, whose total is the cluster's number. Above the name, a green badge counts the village's
volunteers on duty or mobilised (:func:`volunteer_trace`). Pure builders, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit import vocab
from layouts.figures import FONT_FAMILY, MAP_PAD, MapBase, map_figure, plain
from layouts.i18n import Lang, format_count, t

#: ``customdata`` of a bubble: this prefix and the village code (``assets/wall.js`` drills).
VILLAGE_PREFIX = "village:"
#: Bubble diameter, px: ``MIN_PX`` for one incident, growing with the log of the count.
MIN_PX = 18
PX_PER_DECADE = 11
MAX_PX = 60
#: Bubbles sit this share of the map's height below their village's label.
BELOW_LABEL = 0.035
#: Clusters are opaque (they stand for the points they replace); ``+N`` bubbles are lighter.
COLOR = {"cluster": "rgba(122, 78, 8, 0.94)", "extra": "rgba(255, 176, 32, 0.30)"}
LINE = "rgba(255, 196, 80, 0.95)"
#: Stages after which an incident has left the loop (the map's "open" is every other).
_FINISHED = frozenset(s.value for s in vocab.TERMINAL_STAGES)
TEXT = "#ffe2a8"
#: The volunteers' badge: green, just above its village's label, sized by the people it counts
#: as a bubble is (:func:`bubble_px`), px.
BADGE_COLOR = "rgba(16, 122, 72, 0.92)"
BADGE_LINE = "rgba(61, 220, 151, 0.95)"
BADGE_TEXT = "#e6fff3"
BADGE_MIN_PX = 16
BADGE_PX_PER_DECADE = 5
BADGE_MAX_PX = 26
#: The wall's map keeps this little room above the villages (share of their height): its
#: announcement banner lies over the page's header (layouts.wall), not over the map, and the
#: room is the waste panel's under it (:func:`wall_map_figure`).
WALL_TOP_PAD = 0.01
#: To keep a badge off its label: the height in px of the map's y range (:func:`wall_y_range`)
#: as drawn at 1920×1080 (the wall scales that picture up on larger screens; assets/wall.css
#: gives the map what the waste panel leaves), a label's line height and its text's drop below
#: its point, and the gap left, px (:func:`layouts.figures.label_text` writes the lines).
MAP_PX = 733
LABEL_LINE_PX = 16
LABEL_DROP_PX = 3
BADGE_GAP_PX = 4
#: Room above a label for the waste view's 无数据 note (layouts/wall_waste_figures.py): its
#: line and the gap under it, px.
NOTE_PX = 18
#: What the badge's hover text counts (of :func:`cockpit.volunteers.queries.deployment`).
PEOPLE = ("on_duty", "mobilised", "available")
#: While only some villages are schematic, the map's caption names them when they are at most
#: this many; more, and it points at the labels' marker (``map_caption_marked``).
CAPTION_NAMES = 3


@dataclass(frozen=True)
class VillageMarks:
    """What the map draws: the points kept and each bubble's village, kind and number.

    Attributes
    ----------
    points : list of dict
        The rows still drawn as points (a cluster's are dropped).
    bubbles : list of (code, kind, n)
        ``kind`` is ``"cluster"`` (``n``: the village's open incidents) or ``"extra"``
        (``n``: its open incidents not drawn: without a position, or placed off the map).
    """

    points: list[dict[str, Any]]
    bubbles: list[tuple[str, str, int]]


def village_marks(points: Sequence[Mapping[str, Any]], counts: Mapping[str, Mapping[str, int]],
                  limit: int, known: Collection[str]) -> VillageMarks:
    """Decide which villages become bubbles and which points stay.

    Parameters
    ----------
    points : sequence of dict
        :func:`cockpit.map_queries.map_points` rows (open first).
    counts : mapping
        :func:`cockpit.map_queries.map_villages`: code -> ``{"open": n, "done": n}``.
    limit : int
        The most points the map reads: when the open ones alone reach it, open incidents may
        be left out and villages become clusters (finished ones never cause a cluster).
    known : collection of str
        Village codes the map can place a bubble for (those with a label).
    """
    drawn_open = Counter(p.get("village_code") or "" for p in points
                         if p.get("stage") not in _FINISHED)
    truncated = sum(drawn_open.values()) >= limit
    bubbles: list[tuple[str, str, int]] = []
    clustered: set[str] = set()
    for code, c in counts.items():
        if not code or code not in known:
            continue
        undrawn = c.get("open", 0) - drawn_open.get(code, 0)
        if undrawn <= 0:
            continue
        if truncated:
            clustered.add(code)
            bubbles.append((code, "cluster", c.get("open", 0)))
        else:
            bubbles.append((code, "extra", undrawn))
    kept = [dict(p) for p in points if (p.get("village_code") or "") not in clustered]
    return VillageMarks(kept, bubbles)


def bubble_px(count: int) -> float:
    """Return a bubble's diameter in px for ``count`` incidents (>= 1)."""
    return min(MAX_PX, MIN_PX + PX_PER_DECADE * math.log10(max(count, 1)))


def count_trace(base: MapBase, marks: Iterable[tuple[str, str, int]],
                counts: Mapping[str, Mapping[str, int]], lang: Lang = "zh",
                names: Mapping[str, str] | None = None, hours: float = 24.0) -> dict[str, Any]:
    """Return the bubble trace (uid ``villages``), drawn over the points.

    Parameters
    ----------
    base : MapBase
        Its label points place the bubbles (lon, lat: WGS-84 degrees).
    marks : iterable of (code, kind, n)
        :attr:`VillageMarks.bubbles`.
    counts : mapping
        :func:`cockpit.map_queries.map_villages`, for the hover text.
    lang : {"zh", "en"}
        Language of the hover text.
    names : mapping, optional
        Village code -> display name (defaults to the label's name).
    hours : float
        The map's window for finished incidents, named in the hover text.

    Returns
    -------
    dict
        A plotly scatter trace, present (with empty lists) when there is no bubble, so the
        map's trace indices never move.
    """
    names = names or {}
    places = {code: (label, lon, lat) for code, label, lon, lat in base.labels}
    dy = (base.bounds[3] - base.bounds[1]) * BELOW_LABEL
    xs, ys, texts, sizes, colors, hovers, ids = [], [], [], [], [], [], []
    for code, kind, n in marks:
        if code not in places:
            continue
        label, lon, lat = places[code]
        village = counts.get(code, {})
        xs.append(lon)
        ys.append(lat - dy)
        texts.append(format_count(n) if kind == "cluster" else f"+{format_count(n)}")
        sizes.append(bubble_px(n))
        colors.append(COLOR[kind])
        ids.append(f"{VILLAGE_PREFIX}{code}")
        hovers.append("<br>".join((
            f"<b>{plain(names.get(code) or label)}</b>",
            t(f"map_{kind}_hover", lang).format(n=format_count(n)),
            t("map_more_counts", lang).format(open=format_count(village.get("open", 0)),
                                              done=format_count(village.get("done", 0)),
                                              hours=f"{hours:g}"),
            t("map_more_click", lang))))
    return {"type": "scatter", "mode": "markers+text", "uid": "villages", "showlegend": False,
            "x": xs, "y": ys, "text": texts, "customdata": ids, "hovertext": hovers,
            "hoverinfo": "text", "textposition": "middle center",
            "textfont": {"family": FONT_FAMILY, "size": 13, "color": TEXT},
            "marker": {"size": sizes, "color": colors, "opacity": 1,
                       "line": {"color": LINE, "width": 1.5}}}


def badge_px(count: int) -> float:
    """Return a map badge's diameter in px for ``count`` people (>= 1)."""
    return min(BADGE_MAX_PX, BADGE_MIN_PX + BADGE_PX_PER_DECADE * math.log10(max(count, 1)))


def label_lines(base: MapBase, name: str, code: str, lang: Lang) -> int:
    """Return how many lines a village's map label has.

    Its name's (one per English word) and one for the schematic marker
    (:func:`layouts.figures.label_text` writes them).
    """
    return (len(name.split()) if lang == "en" else 1) + (code in base.schematic)


def label_top_px(lines: int) -> float:
    """Return how far above its point a label of ``lines`` lines reaches, px at 1920×1080."""
    return lines * LABEL_LINE_PX / 2 + LABEL_DROP_PX


def badge_rise(base: MapBase, name: str, code: str, lang: Lang, size: float) -> float:
    """Return how far above its label point a badge of ``size`` px sits, degrees of latitude.

    Clear of the label (:func:`label_top_px`) and of the 无数据 note the waste view may put
    above it (:data:`NOTE_PX`), by the badge's radius, at the map's scale (:data:`MAP_PX` for
    the y range shown, :func:`wall_y_range`).
    """
    px = label_top_px(label_lines(base, name, code, lang)) + NOTE_PX + BADGE_GAP_PX + size / 2
    low, high = wall_y_range(base)
    return px * (high - low) / MAP_PX


def wall_y_range(base: MapBase) -> list[float]:
    """Return the wall map's latitudes shown, ``[low, high]`` degrees.

    The villages, :data:`MAP_PAD` of their height below them and :data:`WALL_TOP_PAD` above:
    the room other maps keep above for the announcement banner is the waste panel's here.
    """
    y0, y1 = base.bounds[1], base.bounds[3]
    return [y0 - (y1 - y0) * MAP_PAD, y1 + (y1 - y0) * WALL_TOP_PAD]


def schematic_caption(base: MapBase, lang: Lang = "zh") -> str | None:
    """Return what the map's caption says of schematic (示意) outlines; None if none is.

    Every village schematic: 村社边界为示意. Some: the same naming them when they are at most
    :data:`CAPTION_NAMES` (村社边界为示意：朝阳村、三角村), else pointing at the （示意）
    marker their labels carry. An imported village's label has no marker.
    """
    names = [name for code, name, *_ in base.labels if code in base.schematic]
    if not names:
        return None
    if len(names) == len(base.labels):
        return t("map_caption", lang)
    if len(names) <= CAPTION_NAMES:
        return t("map_caption_list", lang, names=t("list_separator", lang).join(names))
    return t("map_caption_marked", lang)


def wall_map_figure(base: MapBase, lang: Lang = "zh",
                    extra: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Return the wall's map: :func:`layouts.figures.map_figure` showing :func:`wall_y_range`.

    No incidents yet (the poll patches them in), the ``extra`` traces after them. Its caption
    is :func:`schematic_caption`: none once no village is schematic.
    """
    figure = map_figure(base, (), lang, extra=extra)
    figure["layout"]["yaxis"]["range"] = wall_y_range(base)
    caption = schematic_caption(base, lang)
    figure["layout"]["annotations"] = [
        {**note, "text": plain(caption)} for note in figure["layout"]["annotations"][:1]
    ] if caption else []
    return figure


def volunteer_trace(base: MapBase, deployment: Mapping[str, Any], lang: Lang = "zh",
                    names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the map's volunteer badges (uid ``volunteers``): on duty + mobilised per village.

    A green badge above each village's label that has anyone on duty or mobilised, its number
    their sum; the hover text gives the three numbers. The trace is present (with empty lists)
    when no village has anyone out, so the map's trace indices never move. It carries no
    ``customdata``: a click on it drills nowhere.

    Parameters
    ----------
    base : MapBase
        Its label points place the badges (WGS-84 degrees).
    deployment : dict
        :func:`cockpit.volunteers.queries.deployment`.
    lang : {"zh", "en"}
        Language of the hover text.
    names : mapping, optional
        Village code -> display name (defaults to the label's name).
    """
    names = names or {}
    by_code = {v.get("village_code"): v for v in deployment.get("villages") or ()}
    xs, ys, texts, sizes, hovers = [], [], [], [], []
    for code, label, lon, lat in base.labels:
        row = {k: int((by_code.get(code) or {}).get(k) or 0) for k in PEOPLE}
        out = row["on_duty"] + row["mobilised"]
        if out <= 0:
            continue
        size = badge_px(out)
        xs.append(lon)
        ys.append(lat + badge_rise(base, label, code, lang, size))
        texts.append(format_count(out))
        sizes.append(size)
        hovers.append(f"<b>{plain(names.get(code) or label)}</b><br>" + plain(t(
            "vw_map_hover", lang, **{k: format_count(row[k]) for k in PEOPLE})))
    return {"type": "scatter", "mode": "markers+text", "uid": "volunteers", "showlegend": False,
            "x": xs, "y": ys, "text": texts, "hovertext": hovers, "hoverinfo": "text",
            "textposition": "middle center",
            "textfont": {"family": FONT_FAMILY, "size": 11, "color": BADGE_TEXT},
            "marker": {"size": sizes, "color": BADGE_COLOR, "symbol": "circle", "opacity": 1,
                       "line": {"color": BADGE_LINE, "width": 1.5}}}
