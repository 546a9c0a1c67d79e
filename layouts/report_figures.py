"""The briefing's figures: the cockpit's own plotly figures, drawn to PNG by kaleido.

The figures are those of the screens (:mod:`layouts.analysis_figures`'s village × hour
heatmap, :mod:`layouts.waste_figures`'s village accuracy bars against the target, and the
wall's category colours), built from the briefing's content. kaleido (1.x) draws them in a
headless Chrome/Chromium found on the machine (Debian's ``chromium``); one browser serves
every figure of a briefing. Without a browser, or when drawing fails, the briefing is still
made and says which figure is missing and why (:func:`render`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit import geo
from layouts.analysis_figures import heatmap_figure
from layouts.figures import plain
from layouts.i18n import Lang, category_label, t
from layouts.staff_page import StaffView
from layouts.waste_figures import village_figure

log = logging.getLogger(__name__)

#: The figures of a briefing, in order: key → catalogue key of its title.
FIGURES = {"categories": "rep_fig_categories", "heat": "rep_fig_heat", "waste": "rep_fig_waste"}
#: Browsers kaleido can drive, looked up on PATH in this order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Pixel size of each figure (drawn at twice this for print).
SIZE = {"categories": (900, 380), "heat": (900, 560), "waste": (900, 480)}
#: The panel colour of the wall, behind every figure (the cockpit's figures are drawn light
#: on dark).
PANEL = "#0a1d3a"
#: The font kaleido's browser draws with (the pages' stack, by name: no CSS variables there).
FONT = "Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, sans-serif"
#: Seconds kaleido may take for one figure.
TIMEOUT_S = 60


def village_names(lang: Lang) -> dict[str, str]:
    """Village code → name in ``lang`` (the shipped geodata)."""
    field = "name_en" if lang == "en" else "name"
    return {code: info[field] for code, info in geo.village_names().items()}


def _printable(figure: dict[str, Any], key: str) -> dict[str, Any]:
    width, height = SIZE[key]
    layout = dict(figure.get("layout") or {})
    layout.update(width=width, height=height, paper_bgcolor=PANEL, plot_bgcolor=PANEL)
    layout["font"] = {**(layout.get("font") or {}), "family": FONT}
    layout["margin"] = {**(layout.get("margin") or {}), "l": 120, "r": 40, "t": 20, "b": 50}
    for axis in ("xaxis", "yaxis"):  # long labels (English names) get room, not clipped
        layout[axis] = {**(layout.get(axis) or {}), "automargin": True}
    return {"data": figure.get("data") or [], "layout": layout}


def categories_figure(content: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """Bars of the period's incidents per category, in the wall's category colours."""
    from cockpit import vocab

    rows = content["incidents"]["by_category"]
    colors = [vocab.CATEGORY_TERMS[vocab.Category(r["category"])].color for r in rows]
    return {"data": [{"type": "bar", "x": [plain(category_label(r["category"], lang))
                                           for r in rows],
                      "y": [r["count"] for r in rows], "text": [r["count"] for r in rows],
                      "textposition": "outside", "cliponaxis": False,
                      "marker": {"color": colors}}],
            "layout": {"font": {"color": "#d6ecff", "size": 14}, "showlegend": False,
                       "xaxis": {"color": "#d6ecff"},
                       "yaxis": {"rangemode": "tozero", "gridcolor": "rgba(127,156,192,0.2)",
                                 "color": "#7f9cc0"}}}


def figures(content: Mapping[str, Any], lang: Lang) -> dict[str, dict[str, Any]]:
    """The briefing's figures as plotly figure dicts, sized for print, by :data:`FIGURES` key."""
    names = village_names(lang)
    waste = content["waste"]
    rows = [{"key": r["village_code"], "rate": r["rate"], "correct": r["correct"],
             "total": r["total"]} for r in waste["by_village"]]
    built = {"categories": categories_figure(content, lang),
             "heat": heatmap_figure(content["heat"], names, lang),
             "waste": village_figure(rows, waste["target"], StaffView(lang=lang,
                                                                      villages=names))}
    return {key: _printable(figure, key) for key, figure in built.items()}


def find_browser() -> str | None:
    """The path of a Chrome/Chromium kaleido can drive, or None."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def render(content: Mapping[str, Any], lang: Lang, browser: str | None = None,
           use_browser: bool = True) -> tuple[dict[str, bytes], dict[str, str]]:
    """Draw the briefing's figures to PNG.

    Parameters
    ----------
    content : mapping
        :func:`cockpit.report.build`'s content.
    lang : {"zh", "en"}
    browser : str, optional
        A Chrome/Chromium executable; default :func:`find_browser`.
    use_browser : bool
        False: draw nothing (every figure is reported missing for want of a browser).

    Returns
    -------
    images : dict
        :data:`FIGURES` key → PNG bytes, for those drawn.
    missing : dict
        :data:`FIGURES` key → why it is not drawn (text in ``lang``), for the others.
    """
    wanted = figures(content, lang)
    browser = browser or (find_browser() if use_browser else None)
    if not browser or not Path(browser).exists():
        return {}, {key: t("rep_why_no_browser", lang) for key in wanted}
    try:
        import kaleido
    except ImportError as exc:  # a broken install: say so in the briefing, do not fail it
        return {}, {key: t("rep_why_failed", lang, error=str(exc)) for key in wanted}
    images: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cockpit-report-") as folder:
        jobs = [{"fig": fig, "path": str(Path(folder) / f"{key}.png"),
                 "opts": {"format": "png", "scale": 2}} for key, fig in wanted.items()]
        try:
            kaleido.write_fig_from_object_sync(
                jobs, kopts={"path": browser, "mathjax": False, "timeout": TIMEOUT_S})
        except Exception as exc:  # noqa: BLE001 - kaleido and Chrome raise many kinds: not drawn
            log.warning("report figures not drawn with %s: %s", browser, exc)
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            return {}, {key: t("rep_why_failed", lang, error=reason) for key in wanted}
        for key in wanted:
            png = Path(folder) / f"{key}.png"
            if png.is_file() and png.stat().st_size:
                images[key] = png.read_bytes()
            else:
                missing[key] = t("rep_why_failed", lang, error="no image")
    return images, missing
