/*
 * Clientside code of the wall page (乔网智治·云上中心驾驶舱).
 *
 * - cockpit.stamp: keeps the server's status with the skew between the server's and this
 *   browser's clocks, so that the data age is right even on a screen whose clock is off.
 * - cockpit.tick: the local clock (in the configured zone) and the data-age indicator,
 *   amber after warn_s, red after stale_s ("数据可能已过期"), red when the source is down.
 * - the --ui-scale CSS variable (viewport / 1920×1080), used to scale the plotly graphs.
 * - a bounded undo history: dash-renderer records every Interval tick as an undoable input
 *   change and never drops them; a wall left open for weeks must not grow, so the history is
 *   trimmed on every clock tick (undo/redo is a debug-only feature, hidden in production).
 */
(function () {
    "use strict";

    var BASE_WIDTH = 1920;
    var BASE_HEIGHT = 1080;
    var HISTORY_KEEP = 20;
    var formatters = {};

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

    function ageText(seconds, texts) {
        if (seconds < 60) {
            return fill(texts.age_s, Math.floor(seconds));
        }
        if (seconds < 3600) {
            return fill(texts.age_m, Math.floor(seconds / 60));
        }
        return fill(texts.age_h, Math.floor(seconds / 3600));
    }

    function stamp(status) {
        if (!status) {
            return window.dash_clientside.no_update;
        }
        var now = Date.now();
        var serverNow = typeof status.server_now_ms === "number" ? status.server_now_ms : now;
        return Object.assign({}, status, {skew_ms: serverNow - now});
    }

    function trimHistory() {
        var store = window.store;
        var state = store && store.getState && store.getState();
        var past = state && state.history && state.history.past;
        if (past && past.length > HISTORY_KEEP) {
            past.splice(0, past.length - HISTORY_KEEP);
        }
    }

    function tick(n, stamped, config) {
        trimHistory();
        var cfg = config || {};
        var texts = cfg.texts || {};
        var now = Date.now();
        var locale = cfg.locale || "zh-CN";
        var timeText = formatter(locale, cfg.tz, "time").format(now);
        var dateText = formatter(locale, cfg.tz, "date").format(now);
        if (texts.title && document.title !== texts.title) {
            document.title = texts.title;
        }
        var text = texts.no_data || "";
        var level = "warn";
        if (stamped && typeof stamped.last_commit_ms === "number") {
            var age = Math.max(0, (now + (stamped.skew_ms || 0) - stamped.last_commit_ms) / 1000);
            text = ageText(age, texts);
            if (age > cfg.stale_s) {
                level = "bad";
                text += " · " + texts.stale;
            } else {
                level = age > cfg.warn_s ? "warn" : "ok";
            }
        }
        if (stamped && stamped.error) {
            text = texts.source_down + " · " + text;
            level = "bad";
        }
        return [timeText, dateText, text, "age age-" + level];
    }

    function setScale() {
        var scale = Math.min(window.innerWidth / BASE_WIDTH, window.innerHeight / BASE_HEIGHT);
        document.documentElement.style.setProperty("--ui-scale", String(Math.max(scale, 0.25)));
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        cockpit: {stamp: stamp, tick: tick}
    });
    setScale();
    window.addEventListener("resize", setScale);
}());
