"""The time machine's parts of a page: the band that says a page is not live, and the opener.

:func:`band` goes at the top of a page shown at a past moment or replaying a past period
(``?at=`` / ``?from=&to=&speed=``): "回看 · 非实时 · 2026-12-03 02:00:00", pause and speed
controls and the one-click "返回实时" link that drops the parameters. ``assets/timemachine.js``
reads :data:`TimeIds.CONFIG`, advances the moment and fetches each frame from the page's
``/timemachine/<page>`` route. :func:`opener` is the form that opens it (a date-time picker and
a speed), for the roles that may (``callbacks/timemachine.py``). Both are pure builders.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from dash import dcc, html

from layouts.i18n import Lang, strings, t

#: Replay speeds offered (the URL takes any from :data:`MIN_SPEED` to :data:`MAX_SPEED`).
SPEEDS = (1, 10, 60, 600)
MIN_SPEED = 0.1
MAX_SPEED = 3600.0
#: Strings the clientside code needs.
CLIENT_TEXTS = ("tm_band", "tm_band_speed", "tm_band_paused", "tm_band_ended",
                "tm_band_loading", "tm_band_failed", "tm_pause", "tm_resume")


class TimeIds(StrEnum):
    """Component ids of the time machine's band and opener (one page shows one band)."""

    BAND = "tm-band"
    TEXT = "tm-text"
    PAUSE = "tm-pause"
    SPEED = "tm-speed"
    BACK = "tm-back"
    CONFIG = "tm-config"
    STARTED = "tm-started"
    OPENER = "tm-opener"


def band_config(lang: Lang, *, url: str | None, live_url: str, start_ms: int, end_ms: int,
                speed: float, still: bool, timezone: str, root: str | None = None,
                frame: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return what ``assets/timemachine.js`` needs.

    ``url`` is the page's frame route (``/timemachine/wall?lang=zh``; the moment is added as
    ``&at=<epoch ms>``), ``start_ms``/``end_ms`` the period replayed (epoch ms; equal for a
    still moment), ``speed`` past seconds per second, ``root`` the page's root element (the
    replay stops when it leaves the document). A page drawn by an iframe (the staff map) has
    no ``url`` but ``frame``: ``{"id", "every_ms"}``, whose ``src`` gets the moment as ``at``.
    """
    return {"url": url, "live_url": live_url, "start_ms": start_ms, "end_ms": end_ms,
            "speed": speed, "still": still, "tz": timezone, "root": root,
            "frame": dict(frame) if frame else None, "texts": strings(lang, CLIENT_TEXTS)}


def band(lang: Lang, config: Mapping[str, Any] | None, live_url: str,
         kiosk: bool = False, bad: str = "tm_band_bad") -> html.Div:
    """Return the band: the moment, pause and speed (not on a kiosk screen), back to live.

    ``config`` None: the page's parameters could not be used (the band says so and offers
    only the way back); ``bad`` is the catalogue key of what it says.
    """
    back = html.A(t("tm_back", lang), id=TimeIds.BACK, className="tm-back", href=live_url)
    if config is None:
        return html.Div(id=TimeIds.BAND, className="tm-band tm-bad", role="status", children=[
            html.Span(t(bad, lang), id=TimeIds.TEXT, className="tm-text"), back])
    controls: list[Any] = []
    if not kiosk and not config.get("still"):
        speed = config.get("speed") or 1
        choices = sorted({*SPEEDS, speed})
        controls = [
            html.Button(t("tm_pause", lang), id=TimeIds.PAUSE, className="tm-pause",
                        type="button"),
            html.Label(className="tm-speed-label", children=[
                html.Span(t("tm_speed", lang)),
                html.Select(id=TimeIds.SPEED, className="tm-speed", children=[
                    html.Option(t("tm_speed_n", lang, n=_speed_text(s)), value=str(s),
                                selected=s == speed) for s in choices])])]
    return html.Div(id=TimeIds.BAND, className="tm-band", role="status", children=[
        html.Span(t("tm_band_loading", lang), id=TimeIds.TEXT, className="tm-text"),
        *controls, back,
        dcc.Store(id=TimeIds.CONFIG, data=dict(config)),
        dcc.Store(id=TimeIds.STARTED)])


def _speed_text(speed: float) -> str:
    return str(int(speed)) if float(speed).is_integer() else f"{speed:g}"


def opener(lang: Lang, path: str, keep: Mapping[str, str], max_local: str) -> html.Details:
    """Return the opener: a form that reloads ``path`` at a moment, still or replayed.

    ``keep`` holds the page's parameters to carry (``lang``, ``screen``, the tablet's view);
    ``max_local`` the latest moment the picker offers (``YYYY-MM-DDTHH:MM``, the cockpit's
    zone: the time machine shows the past only).
    """
    speeds = [html.Option(t("tm_still", lang), value="0")] + [
        html.Option(t("tm_speed_n", lang, n=s), value=str(s)) for s in SPEEDS]
    return html.Details(id=TimeIds.OPENER, className="tm-opener", children=[
        html.Summary(t("tm_open", lang), className="tm-open"),
        html.Form(action=path, method="get", className="tm-form", children=[
            *[dcc.Input(type="hidden", name=k, value=v) for k, v in keep.items() if v],
            html.Label(className="tm-field", children=[
                html.Span(t("tm_moment", lang)),
                dcc.Input(type="datetime-local", name="at", required=True, max=max_local,
                          step=1, className="tm-at")]),
            html.Label(className="tm-field", children=[
                html.Span(t("tm_speed", lang)),
                html.Select(name="speed", className="tm-speed-pick", children=speeds)]),
            html.Button(t("tm_go", lang), type="submit", className="tm-go")])])
