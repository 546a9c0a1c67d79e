"""Browser test of the wall's map on an imported village layer: headless Chromium.

Two villages get imported squares — one stored clockwise, one counter-clockwise — while the
wall is open; with disposals both get an accuracy fill. The open page must draw them without a
reload, and on the screenshot each fill must cover its square and nothing outside it: the
pixels are compared with those of the same screen with the two fills hidden (the fill's colour
laid over what is under it inside, unchanged outside). Screenshots go to tests/artifacts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from app import create_app
from layouts.wall import WallIds
from tests.access_support import browser_sign_in
from tests.browser_support import chrome, live_server, save_screenshot, screenshot_pixels
from tests.test_wall_browser import Wall
from tests.test_wall_layer import (  # noqa: F401 - _shipped_layer: the fixture, autouse
    NAMES,
    QIAOSI,
    SQUARES,
    WUJIA,
    _shipped_layer,
    import_villages,
)
from tests.test_wall_waste import disposals, ingest, registry

pytestmark = pytest.mark.browser

#: JavaScript: the map's waste fills, its caption and whether its outline has a point.
SHOWN = """
const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
if (!gd || !gd._fullLayout || !gd.data) { return null; }
const outline = gd.data[0], [x, y] = arguments[1];
const fills = (gd.layout.shapes || []).filter(s => (s.name || '').startsWith('waste-'));
return {fills: Object.fromEntries(fills.map(s => [s.name.slice(6), s.fillcolor])),
        caption: (gd.layout.annotations || []).filter(a => a.xref === 'paper')
            .map(a => a.text),
        square: outline.x.some((v, i) => v === x && outline.y[i] === y)};
"""
#: JavaScript: page pixels (x, y) of WGS-84 points (lon, lat) on the map, and its plot area.
PIXELS = """
const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
const box = gd.querySelector('.main-svg').getBoundingClientRect();
return {points: arguments[1].map(([lon, lat]) => [box.left + xa._offset + xa.l2p(lon),
                                                  box.top + ya._offset + ya.l2p(lat)]),
        area: [box.left + xa._offset, box.top + ya._offset, xa._length, ya._length]};
"""
#: JavaScript: hide the village labels (their text would lie over a probed pixel); then, with
#: ``arguments[1]``, the named fills too.
HIDE = """
const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
const update = {};
(gd.layout.shapes || []).forEach((s, i) => {
    if (arguments[1].includes(s.name)) { update[`shapes[${i}].visible`] = false; } });
return Promise.all([Plotly.restyle(gd, {visible: false}, [3]),
                    Plotly.relayout(gd, update)]).then(() => true);
"""
#: Pixels probed outside a square, px from its edge.
OUTSIDE_PX = 10
#: Channel difference allowed (antialiasing and rounding of the blend).
TOLERANCE = 3


def rgba(color: str) -> tuple[np.ndarray, float]:
    """``rgba(r, g, b, a)`` as (RGB array, alpha)."""
    *rgb, alpha = (float(v) for v in color.removeprefix("rgba(").rstrip(")").split(","))
    return np.array(rgb), alpha


def test_wall301_imported_cw_and_ccw_squares_fill_only_themselves_live(sqlite_services):
    services = sqlite_services
    now = datetime.now(UTC)
    ingest(services, registry([NAMES[WUJIA], NAMES[QIAOSI]])
           + disposals(now, {NAMES[WUJIA]: (40, 0), NAMES[QIAOSI]: (30, 10)}))
    app = create_app(services=services)
    with live_server(app.server) as server, chrome() as driver:
        browser_sign_in(driver, server.url, services, "wall")
        wall = Wall(server.url, driver, services)
        wall.open("/")
        corner = (SQUARES[WUJIA][0], SQUARES[WUJIA][1])
        shown = wall.wait(lambda d: (s := wall.js(SHOWN, WallIds.MAP, corner))
                          and WUJIA in s["fills"] and s)
        assert shown["caption"] == ["村社边界为示意"] and not shown["square"]
        wall.js("window.sameDocument = true")

        # imported while the wall is open: one square clockwise, one counter-clockwise
        import_villages(services, SQUARES, clockwise={WUJIA: True, QIAOSI: False})
        shown = wall.wait(lambda d: (s := wall.js(SHOWN, WallIds.MAP, corner))["square"] and s)
        assert shown["caption"] == ["标（示意）的村社边界为示意"]
        assert wall.js("return window.sameDocument") is True  # no reload
        save_screenshot(driver, "wall_layer_squares.png")

        # every pixel probed: each square's centre, 10 px outside each of its sides, and the
        # map's far corners
        probes, inside = [], []
        for code, (x0, y0, x1, y1) in SQUARES.items():
            box = wall.js(PIXELS, WallIds.MAP, [[x0, y0], [x1, y1]])
            (left, bottom), (right, top) = box["points"]
            cx, cy = (left + right) / 2, (top + bottom) / 2
            assert right - left > 4 * OUTSIDE_PX and bottom - top > 4 * OUTSIDE_PX, box
            inside.append((code, len(probes)))
            probes += [(cx, cy), (left - OUTSIDE_PX, cy), (right + OUTSIDE_PX, cy),
                       (cx, top - OUTSIDE_PX), (cx, bottom + OUTSIDE_PX)]
        ax, ay, aw, ah = box["area"]
        probes += [(ax + 4, ay + ah - 4), (ax + aw - 4, ay + ah - 4)]
        pixels = [(round(x), round(y)) for x, y in probes]

        assert wall.js(HIDE, WallIds.MAP, [])  # the labels only
        filled = screenshot_pixels(driver)
        assert wall.js(HIDE, WallIds.MAP, [f"waste-{code}" for code in SQUARES])
        bare = screenshot_pixels(driver)
        save_screenshot(driver, "wall_layer_squares_bare.png")

        centres = {index for _, index in inside}
        for index, (x, y) in enumerate(pixels):
            with_fill, under = filled[y, x, :3].astype(int), bare[y, x, :3].astype(int)
            if index in centres:
                code = next(c for c, i in inside if i == index)
                color, alpha = rgba(shown["fills"][code])
                expected = alpha * color + (1 - alpha) * under
                assert np.abs(with_fill - expected).max() <= TOLERANCE, (code, with_fill,
                                                                         expected)
                assert np.abs(with_fill - under).max() > 20  # the fill shows
            else:
                assert np.abs(with_fill - under).max() <= 1, (index, (x, y), with_fill, under)
        wall.assert_no_console_errors()
