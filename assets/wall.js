/*
 * Clientside code of the wall page (乔网智治·云上中心驾驶舱).
 *
 * - cockpit.stamp: keeps the server's last status (in the `known` global, not in a store the
 *   clock reads) with the skew between the server's and this browser's clocks, so that the
 *   data age is right even on a screen whose clock is off.
 * - cockpit.tick: the local clock (in the configured zone) and the data-age indicator,
 *   amber after warn_s, red after stale_s ("数据可能已过期"), red when the source is down.
 *   On a past page (cfg.past: the time machine) the clock shows the moment of the picture
 *   on screen (window.cockpitTimeMachine, advancing with a replay) under "回看时刻", and
 *   nothing before the first past frame: a live time is never shown over a past picture.
 *   Its only Input is its own Interval: dash-renderer holds a callback whose Input or State
 *   a pending server callback outputs, and a hung server must not freeze the clock.
 * - a liveness probe, independent of Dash: GET status_url every probe_ms, abandoned after
 *   probe_timeout_ms, skipped while the push stream (assets/push.js) speaks. Without any answer for silent_s the indicator turns red
 *   ("服务器无响应 N 秒") while the data age keeps growing from the last known commit time.
 * - the --ui-scale CSS variable (viewport / 1920×1080), used to scale the plotly graphs.
 * - a bounded undo history: dash-renderer records every Interval tick as an undoable input
 *   change and never drops them; a wall left open for weeks must not grow, so the history is
 *   trimmed on every clock tick (undo/redo is a debug-only feature, hidden in production).
 * - the live ticker: its entries come twice (the second copy marked .ticker-copy); the line
 *   moves left at a constant speed and wraps by the width of one copy, so the loop is seamless
 *   and new entries (React keeps the node, only its children change) never restart it. A line
 *   that fits the screen stands still (html.ticker-still makes the copy invisible).
 * - cockpit.drill: a click on a map point opens that incident's page (/incidents/<id>), a
 *   click on a village bubble the list of that village's open incidents
 *   through the app's router, like a dcc.Link.
 */
(function () {
    "use strict";

    var BASE_WIDTH = 1920;
    var BASE_HEIGHT = 1080;
    var HISTORY_KEEP = 20;
    var TICKER_ID = "wall-ticker";
    var TICKER_PX_S = 70;  // speed at 1920×1080, px per second (scaled with the screen)
    var ticker = {offset: 0, last: null, still: null};
    var formatters = {};
    // What the page knows of the server: last commit time, clock skew, source error, and when
    // the server last answered (a status update or a probe response), browser ms.
    var known = {lastCommitMs: null, skewMs: 0, error: false, answeredMs: null,
                 probeTimer: null, probing: false};

    function formatter(locale, tz, kind) {
        var key = locale + "|" + tz + "|" + kind;
        if (!formatters[key]) {
            var options = kind === "time"
                ? {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"}
                : {year: "numeric", month: "long", day: "numeric", weekday: "long"};
            try {
                formatters[key] = new Intl.DateTimeFormat(locale, Object.assign({timeZone: tz}, options));
            } catch (err) {
                formatters[key] = new Intl.DateTimeFormat(locale, options);
            }
        }
        return formatters[key];
    }

    function fill(template, n) {
        return String(template || "").replace("{n}", String(n));
    }

    // texts[kind + "_s" | "_m" | "_h"] filled with the whole seconds, minutes or hours.
    function spanText(seconds, texts, kind) {
        if (seconds < 60) {
            return fill(texts[kind + "_s"], Math.floor(seconds));
        }
        if (seconds < 3600) {
            return fill(texts[kind + "_m"], Math.floor(seconds / 60));
        }
        return fill(texts[kind + "_h"], Math.floor(seconds / 3600));
    }

    function stamp(status) {
        if (!status) {
            return window.dash_clientside.no_update;
        }
        var now = Date.now();
        var serverNow = typeof status.server_now_ms === "number" ? status.server_now_ms : now;
        known.skewMs = serverNow - now;
        known.answeredMs = now;
        known.error = Boolean(status.error);
        if (typeof status.last_commit_ms === "number") {
            known.lastCommitMs = status.last_commit_ms;
        }
        return Object.assign({}, status, {skew_ms: known.skewMs});
    }

    // One GET of the status route; any HTTP answer proves the server alive (a 503 says only
    // that its data source is down, which the poll callback reports). Failures and timeouts
    // are expected while the server is down or hung: they only stop refreshing answeredMs.
    // Frames of the push stream (assets/push.js) prove the server alive as well as a probe.
    function pushHeardMs() {
        return window.cockpitPush ? window.cockpitPush.lastHeardMs() : null;
    }

    function probe(cfg) {
        if (known.probing || !cfg.status_url || typeof fetch !== "function") {
            return;
        }
        var heard = pushHeardMs();
        if (heard !== null && Date.now() - heard < (cfg.probe_ms || 2000)) {
            return;  // the stream spoke lately: no request needed
        }
        known.probing = true;
        var sent = Date.now();
        var options = {cache: "no-store", headers: {Accept: "application/json"}};
        if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
            options.signal = AbortSignal.timeout(cfg.probe_timeout_ms || 3000);
        }
        fetch(cfg.status_url, options).then(function (response) {
            var now = Date.now();
            known.answeredMs = now;
            return response.ok ? response.json().then(function (body) {
                if (typeof body.server_time_ms === "number") {
                    known.skewMs = body.server_time_ms - (sent + now) / 2;
                }
                if (typeof body.last_commit_ms === "number") {
                    known.lastCommitMs = body.last_commit_ms;
                }
            }) : null;
        }).catch(function () {
            return null;
        }).then(function () {
            known.probing = false;
        });
    }

    function startProbe(cfg) {
        if (known.probeTimer === null && cfg.status_url) {
            known.answeredMs = known.answeredMs || Date.now();  // the page itself just came
            known.probeTimer = window.setInterval(function () {
                probe(cfg);
            }, cfg.probe_ms || 2000);
            probe(cfg);
        }
    }

    function trimHistory() {
        var store = window.store;
        var state = store && store.getState && store.getState();
        var past = state && state.history && state.history.past;
        if (past && past.length > HISTORY_KEEP) {
            past.splice(0, past.length - HISTORY_KEEP);
        }
    }

    function tick(n, config) {
        trimHistory();
        var cfg = config || {};
        startProbe(cfg);
        var texts = cfg.texts || {};
        var now = Date.now();
        var locale = cfg.locale || "zh-CN";
        var timeText, dateText;
        if (cfg.past) {
            var machine = window.cockpitTimeMachine && window.cockpitTimeMachine.state();
            var shownMs = machine ? machine.shownMs : null;
            timeText = shownMs === null ? "--:--:--" : formatter(locale, cfg.tz, "time").format(shownMs);
            dateText = shownMs === null ? texts.tm_clock_wait
                : texts.tm_clock + " · " + formatter(locale, cfg.tz, "date").format(shownMs);
        } else {
            timeText = formatter(locale, cfg.tz, "time").format(now);
            dateText = formatter(locale, cfg.tz, "date").format(now);
        }
        if (texts.title && document.title !== texts.title) {
            document.title = texts.title;
        }
        var heard = pushHeardMs();
        if (heard !== null && (known.answeredMs === null || heard > known.answeredMs)) {
            known.answeredMs = heard;
        }
        var text = texts.no_data || "";
        var level = "warn";
        var silent = known.answeredMs === null ? 0 : (now - known.answeredMs) / 1000;
        var unanswered = silent > (cfg.silent_s || 5);
        if (typeof known.lastCommitMs === "number") {
            var age = Math.max(0, (now + known.skewMs - known.lastCommitMs) / 1000);
            text = spanText(age, texts, "age");
            if (age > cfg.stale_s && !unanswered) {
                level = "bad";
                text += " · " + texts.stale;
            } else {
                level = age > cfg.warn_s ? "warn" : "ok";
            }
        }
        if (known.error && !unanswered) {
            text = texts.source_down + " · " + text;
            level = "bad";
        }
        if (unanswered) {
            text = spanText(silent, texts, "silent") + " · " + text;
            level = "bad";
        }
        return [timeText, dateText, text, "age age-" + level + (unanswered ? " age-silent" : "")];
    }

    function setStill(still) {
        if (ticker.still !== still) {
            ticker.still = still;
            document.documentElement.classList.toggle("ticker-still", still);
        }
    }

    function tickerFrame(now) {
        var track = document.getElementById(TICKER_ID);
        var dt = ticker.last === null ? 0 : Math.min(now - ticker.last, 100) / 1000;
        ticker.last = now;
        if (track && track.parentElement) {
            // the copy keeps its place even when still (it is only made invisible)
            var copy = track.querySelector(".ticker-copy");
            var width = copy ? copy.offsetLeft : 0;
            var fits = width <= track.parentElement.clientWidth;
            setStill(fits);
            if (fits || width <= 0) {
                ticker.offset = 0;
            } else {
                var scale = window.innerWidth / BASE_WIDTH;
                ticker.offset -= TICKER_PX_S * Math.max(scale, 0.25) * dt;
                while (-ticker.offset >= width) {
                    ticker.offset += width;
                }
            }
            track.style.transform = "translate3d(" + ticker.offset.toFixed(1) + "px, 0, 0)";
        }
        window.requestAnimationFrame(tickerFrame);
    }

    function navigate(href) {
        window.history.pushState({}, "", href);
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    }

    var VILLAGE_PREFIX = "village:";

    function drill(clickData, config) {
        var point = clickData && clickData.points && clickData.points[0];
        var id = point ? point.customdata : null;
        if (typeof id !== "string" || !id || (config && config.drill === false)) {
            return window.dash_clientside.no_update;  // nothing to click, or a wall screen
        }
        var href;
        if (id.indexOf(VILLAGE_PREFIX) === 0) {  // a village bubble (layouts/map_counts.py)
            var list = (config && config.village_url) || "/incidents?stage=open&village={code}";
            href = list.replace("{code}", encodeURIComponent(id.slice(VILLAGE_PREFIX.length)));
        } else {
            var template = (config && config.detail_url) || "/incidents/{id}";
            href = template.replace("{id}", encodeURIComponent(id));
        }
        navigate(href);
        return href;
    }

    function setScale() {
        var scale = Math.min(window.innerWidth / BASE_WIDTH, window.innerHeight / BASE_HEIGHT);
        document.documentElement.style.setProperty("--ui-scale", String(Math.max(scale, 0.25)));
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        cockpit: {stamp: stamp, tick: tick, drill: drill}
    });
    setScale();
    window.addEventListener("resize", setScale);
    window.requestAnimationFrame(tickerFrame);
}());
