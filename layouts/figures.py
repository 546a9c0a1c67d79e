"""Pure builders of the wall's plotly figures and of the data its panels show.

Every function takes read-model dicts (:mod:`cockpit.queries`) or plain geometry and returns
plain dicts and lists: live updates send dicts, never ``go.Figure`` (DESIGN §8). Nothing here
does I/O.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cockpit import vocab
from layouts.i18n import PLACEHOLDER, Lang, category_label, phase_label, stage_label, t

#: The figures' font: the page's one stack (assets/fonts.css, docs/fonts.md). Plotly sets it
#: as the style of each SVG text, where the custom property resolves like anywhere on the page.
FONT_FAMILY = "var(--font-cjk)"
#: Latitude of 乔司街道, degrees; one degree of longitude is cos(lat) degrees of latitude long.
MAP_LAT_DEG = 30.35
MAP_SCALE_RATIO = 1.0 / math.cos(math.radians(MAP_LAT_DEG))
#: Index of the first incident trace; the ones before are the base layer (see map_figure).
FIRST_INCIDENT_TRACE = 4
#: Room around the villages' extent, share of its width and height; more above it, where the
#: wall's announcement banner lies over the map, so the banner hides no village.
MAP_PAD = 0.03
MAP_TOP_PAD = 0.13
CATEGORIES: tuple[vocab.Category, ...] = tuple(vocab.Category)
CATEGORY_CODES = frozenset(c.value for c in CATEGORIES)
OPEN_STAGES = frozenset(s.value for s in vocab.Stage if s not in {
    vocab.Stage.RESOLVED, vocab.Stage.CLOSED, vocab.Stage.CANCELLED})
MAX_HOVER_CHARS = 80

TEXT_COLOR = "#d6ecff"
MUTED_COLOR = "#7f9cc0"
ACCENT = "#00e5ff"

#: Village label sizes, px, by language: normal and small villages (English labels stack one
#: word a line, still wider than Chinese ones); the schematic marker is smaller still.
LABEL_PX = {"zh": {"normal": 13, "small": 11}, "en": {"normal": 13, "small": 10}}
MARK_PX = {"normal": 10, "small": 9}
#: Text colour of the schematic marker under a village name.
MARK_COLOR = "rgba(127, 156, 192, 0.95)"

#: Marker look: open incidents solid, bright and on top; finished ones small and faded.
OPEN_OPACITY = 0.95
DONE_OPACITY = 0.35
_SIZE = {"open": 15, "critical": 21, "done": 10, "cancelled": 12}
_SYMBOL = {"open": "circle", "done": "circle", "cancelled": "x-thin-open"}
#: Line width of the finished markers: the thin × of a cancelled incident needs a thicker line.
_DONE_LINE = {"done": 1, "cancelled": 2}


@dataclass(frozen=True)
class MapBase:
    """The map's fixed layer: outlines and labels in WGS-84 degrees, longitude first.

    Attributes
    ----------
    outline_x, outline_y : list of float or None
        Village rings joined by None (``cockpit.geo.outline_xy``).
    boundary_x, boundary_y : list of float or None
        The subdistrict outline, drawn thicker.
    labels : list of (code, name, lon, lat)
        One label per village: its plain name (the marker is added by :func:`label_text`).
    bounds : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` shown.
    schematic : frozenset of str
        Codes of the villages whose label carries the schematic marker (（示意）).
    small : frozenset of str
        Codes of the villages too small for the normal label size: drawn smaller, so that
        the labels of neighbouring small villages do not run into each other.
    """

    outline_x: list[float | None] = field(default_factory=list)
    outline_y: list[float | None] = field(default_factory=list)
    boundary_x: list[float | None] = field(default_factory=list)
    boundary_y: list[float | None] = field(default_factory=list)
    labels: list[tuple[str, str, float, float]] = field(default_factory=list)
    bounds: tuple[float, float, float, float] = (120.23, 30.317, 120.333, 30.398)
    schematic: frozenset[str] = frozenset()
    small: frozenset[str] = frozenset()


def plain(text: object, limit: int = MAX_HOVER_CHARS) -> str:
    """Return upstream text safe for plotly's pseudo-HTML: one line, escaped, shortened."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=False)


def label_text(name: str, lang: Lang = "zh", schematic: bool = True,
               small: bool = False) -> str:
    """Return a village label for the map: compact, in plotly's pseudo-HTML.

    The name comes first (in English one word per line, so that long names stay narrow), then
    the schematic marker on a line of its own in a smaller, muted font: every schematic name
    on screen carries it, without doubling the label's width.

    Parameters
    ----------
    name : str
        The village's plain name (escaped here).
    lang : {"zh", "en"}
        Language of the marker.
    schematic : bool, default True
        Append the marker (``（示意）`` / ``(schematic)``).
    small : bool, default False
        The village is small: its marker uses the small size (:data:`MARK_PX`).
    """
    words = plain(name).split(" ") if lang == "en" else [plain(name)]
    lines = [w for w in words if w]
    if schematic:
        size = MARK_PX["small" if small else "normal"]
        lines.append(f'<span style="font-size:{size}px;color:{MARK_COLOR}">'
                     f'{plain(t("schematic", lang).strip())}</span>')
    return "<br>".join(lines)


def _label_trace(base: MapBase, lang: Lang) -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "text", "uid": "labels", "showlegend": False,
        "hoverinfo": "skip", "x": [p[2] for p in base.labels], "y": [p[3] for p in base.labels],
        "text": [label_text(name, lang, code in base.schematic, code in base.small)
                 for code, name, _, _ in base.labels],
        "textfont": {"color": "rgba(190, 220, 255, 0.78)", "family": FONT_FAMILY,
                     "size": [LABEL_PX[lang]["small" if code in base.small else "normal"]
                              for code, *_ in base.labels]}}


def local_time(iso: str | None, today: date | None = None) -> str:
    """Return ``HH:MM:SS`` of an ISO-8601 local time; ``MM-DD HH:MM`` when not ``today``."""
    if not iso:
        return PLACEHOLDER
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return PLACEHOLDER
    if today is not None and moment.date() != today:
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%H:%M:%S")


def hover_text(incident: Mapping[str, Any], lang: Lang = "zh",
               village: str | None = None) -> str:
    """Return the hover label of one incident (category, stage, title, address, time)."""
    head = f"{category_label(incident.get('category'), lang)} · " \
           f"{stage_label(incident.get('stage'), lang)}"
    lines = [f"<b>{html.escape(head, quote=False)}</b>",
             plain(incident.get("title") or t("untitled", lang))]
    place = " ".join(p for p in (village, incident.get("address")) if p)
    if place:
        lines.append(plain(place))
    when = incident.get("reported_at") or incident.get("stage_at")
    lines.append(f"{t('hover_time', lang)} {plain((when or PLACEHOLDER).replace('T', ' ')[:19])}")
    return "<br>".join(lines)


def is_open(incident: Mapping[str, Any]) -> bool:
    """Return True while the incident is in the loop (not resolved, closed or cancelled)."""
    return incident.get("stage") in OPEN_STAGES


def _marker_trace(category: vocab.Category, rows: list[Mapping[str, Any]], is_open_layer: bool,
                  count: int, lang: Lang, villages: Mapping[str, str]) -> dict[str, Any]:
    if is_open_layer:
        sizes = [_SIZE["critical"] if r.get("priority") == vocab.Priority.CRITICAL
                 else _SIZE["open"] for r in rows]
        symbols = [_SYMBOL["open"]] * len(rows)
        line = {"color": "#ffffff", "width": 1.5}
    else:
        kinds = ["cancelled" if r.get("stage") == vocab.Stage.CANCELLED else "done"
                 for r in rows]
        sizes = [_SIZE[k] for k in kinds]
        symbols = [_SYMBOL[k] for k in kinds]
        line = {"color": vocab.CATEGORY_TERMS[category].color,
                "width": [_DONE_LINE[k] for k in kinds]}
    layer = "open" if is_open_layer else "done"
    return {
        "type": "scatter", "mode": "markers", "uid": f"{layer}-{category.value}",
        "name": f"{category_label(category.value, lang)} {count}",
        "legendgroup": category.value, "showlegend": False,
        "x": [r["lon"] for r in rows], "y": [r["lat"] for r in rows],
        "customdata": [r.get("incident_id") for r in rows],
        "hovertext": [hover_text(r, lang, villages.get(r.get("village_code") or ""))
                      for r in rows],
        "hoverinfo": "text",
        "marker": {"color": vocab.CATEGORY_TERMS[category].color, "size": sizes,
                   "symbol": symbols, "line": line,
                   "opacity": OPEN_OPACITY if is_open_layer else DONE_OPACITY},
    }


def incident_traces(incidents: Iterable[Mapping[str, Any]], lang: Lang = "zh",
                    villages: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Return the incident marker traces: per category, a faded one and a bright one.

    Every category keeps its two traces even when empty, so trace indices never move and a
    live update can patch them in place.

    Parameters
    ----------
    incidents : iterable of dict
        :func:`cockpit.map_queries.map_points` rows (``lon``/``lat`` WGS-84 degrees); rows
        without a position are skipped, unknown categories count as ``other``.
    lang : {"zh", "en"}
        Language of legend and hover text.
    villages : mapping, optional
        Village code -> display name, for the hover text.

    Returns
    -------
    list of dict
        ``2 * len(vocab.Category)`` plotly scatter traces, every category present even when
        empty: first the finished incidents (resolved, closed, cancelled; uid
        ``done-<code>``, faded, no legend entry), then the open ones (uid ``open-<code>``,
        bright, drawn on top); ``name`` reads ``<label> <count on the map>``.
    """
    villages = villages or {}
    groups: dict[str, list[Mapping[str, Any]]] = {c.value: [] for c in CATEGORIES}
    for row in incidents:
        if row.get("lon") is None or row.get("lat") is None:
            continue
        code = row.get("category")
        groups[code if code in groups else vocab.Category.OTHER.value].append(row)
    done, live = [], []
    for category in CATEGORIES:
        rows = groups[category.value]
        count = len(rows)
        done.append(_marker_trace(category, [r for r in rows if not is_open(r)], False, count,
                                  lang, villages))
        live.append(_marker_trace(category, [r for r in rows if is_open(r)], True, count,
                                  lang, villages))
    return done + live


def _line(uid: str, xs: Sequence, ys: Sequence, color: str, width: float,
          fill: str | None = None) -> dict[str, Any]:
    trace = {"type": "scatter", "mode": "lines", "uid": uid, "x": list(xs), "y": list(ys),
             "line": {"color": color, "width": width}, "hoverinfo": "skip",
             "showlegend": False}
    if fill:
        trace.update(fill="toself", fillcolor=fill)
    return trace


def map_figure(base: MapBase, incidents: Iterable[Mapping[str, Any]] = (), lang: Lang = "zh",
               villages: Mapping[str, str] | None = None,
               extra: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Return the live map as a plotly figure dict: a plain cartesian plot, no tiles.

    Traces, in order: ``outline`` (village rings, filled faintly), ``boundary-glow`` and
    ``boundary`` (the subdistrict edge), ``labels`` (village names with the schematic
    marker, :func:`label_text`), then :func:`incident_traces` from index
    :data:`FIRST_INCIDENT_TRACE`, then the ``extra`` traces (the wall's village counts).
    The y axis is anchored to x with ratio 1/cos(30.35°) so the map keeps its shape.
    """
    x0, y0, x1, y1 = base.bounds
    pad_x, pad_y = (x1 - x0) * MAP_PAD, (y1 - y0) * MAP_PAD
    data = [
        _line("outline", base.outline_x, base.outline_y, "rgba(0, 229, 255, 0.55)", 1.2,
              fill="rgba(0, 140, 255, 0.07)"),
        _line("boundary-glow", base.boundary_x, base.boundary_y, "rgba(0, 229, 255, 0.18)", 9),
        _line("boundary", base.boundary_x, base.boundary_y, ACCENT, 2.2),
        _label_trace(base, lang),
        *incident_traces(incidents, lang, villages),
        *extra,
    ]
    axis = {"visible": False, "fixedrange": True, "showgrid": False, "zeroline": False}
    return {"data": data, "layout": {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 4, "r": 4, "t": 4, "b": 4},
        "font": {"family": FONT_FAMILY, "color": TEXT_COLOR, "size": 15},
        "xaxis": {**axis, "range": [x0 - pad_x, x1 + pad_x]},
        "yaxis": {**axis, "range": [y0 - pad_y, y1 + (y1 - y0) * MAP_TOP_PAD],
                  "scaleanchor": "x",
                  "scaleratio": MAP_SCALE_RATIO},
        # The legend is HTML (layouts.wall.map_legend): plotly drops empty traces from its own.
        "showlegend": False, "dragmode": False, "hovermode": "closest",
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 15},
                       "bgcolor": "rgba(4, 16, 38, 0.95)", "bordercolor": ACCENT},
        "annotations": [{"text": plain(t("map_caption", lang)), "showarrow": False,
                         "xref": "paper", "yref": "paper", "x": 1.0, "y": 0.0,
                         "xanchor": "right", "yanchor": "bottom",
                         "font": {"size": 13, "color": MUTED_COLOR}}],
        "uirevision": "wall-map",
    }}


def funnel_model(funnel: Sequence[Mapping[str, Any]], lang: Lang = "zh") -> list[dict]:
    """Group ``summary["funnel"]`` by the loop's four phases, in loop order.

    Parameters
    ----------
    funnel : sequence of dict
        ``{stage, count}`` rows, first stage first (``cockpit.queries.summary``).
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    list of dict
        One dict per phase of :data:`cockpit.vocab.LOOP_PHASES`: ``phase`` (label),
        ``index`` (1-4) and ``stages``, each ``{code, label, count, share, rate, color}``:
        ``share`` is the count relative to the largest (bar length, 0-1) and ``rate`` the
        count relative to the first stage (None when nothing entered the loop).
    """
    counts = {row["stage"]: int(row.get("count") or 0) for row in funnel}
    first = counts.get(funnel[0]["stage"], 0) if funnel else 0
    top = max(counts.values(), default=0)
    phases = []
    for index, phase in enumerate(vocab.LOOP_PHASES, start=1):
        stages = [{"code": s.value, "label": stage_label(s.value, lang),
                   "count": counts[s.value],
                   "share": counts[s.value] / top if top else 0.0,
                   "rate": counts[s.value] / first if first else None,
                   "color": vocab.STAGE_TERMS[s].color}
                  for s in phase[2] if s.value in counts]
        phases.append({"phase": phase_label(phase, lang), "index": index, "stages": stages})
    return phases


def category_rows(by_category: Sequence[Mapping[str, Any]], lang: Lang = "zh") -> list[dict]:
    """Return ``{code, label, count, share, color}`` per category of ``today_by_category``."""
    top = max((int(r.get("count") or 0) for r in by_category), default=0)
    rows = []
    for row in by_category:
        code, count = row["category"], int(row.get("count") or 0)
        term = vocab.CATEGORY_TERMS.get(vocab.Category(code)) if code in CATEGORY_CODES else None
        rows.append({"code": code, "label": category_label(code, lang), "count": count,
                     "share": count / top if top else 0.0,
                     "color": term.color if term else MUTED_COLOR})
    return rows


def _luminance(color: str) -> float:
    channels = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """Return the WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable_color(color: str, background: str, ratio: float = 4.5) -> str:
    """Return ``color``, mixed towards white just enough to reach ``ratio`` on ``background``.

    Vocabulary colours are kept where they are readable; a dark one (已撤销's grey on the
    dark panels) is lightened in 5 % steps, keeping its hue, until small text passes WCAG AA.
    """
    value = color
    rgb = [int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    for step in range(21):
        value = "#" + "".join(f"{round(c + (255 - c) * step / 20):02x}" for c in rgb)
        if contrast_ratio(value, background) >= ratio:
            break
    return value


#: Rendered background of a wall list row (1920×1080 screenshot); chips must be readable on
#: it (WCAG AA for small text).
ROW_BACKGROUND = "#052241"
CHIP_CONTRAST = 4.5


def chip_color(terms: Mapping, code: str) -> str:
    """Return the vocabulary colour of ``code``, lightened where needed to be readable."""
    color = next((term.color for member, term in terms.items() if member == code), "#9aa5b1")
    return readable_color(color, ROW_BACKGROUND, CHIP_CONTRAST)


def chip_style(terms: Mapping, code: str) -> dict[str, str]:
    """Return the inline style of a vocabulary chip (text and border in its colour)."""
    color = chip_color(terms, code)
    return {"color": color, "borderColor": color}
