/*
 * The wall's focus region (layouts/wall_focus.py): rotation, takeover, kiosk pointer.
 *
 * - Rotation: the focus panels that share the focus slot (those a preset does not fix
 *   elsewhere: --focus-fixed, assets/wall_focus.css) take turns, rotate_ms each. The shown
 *   one and the next are attributes of <html> (data-focus, data-focus-next), and each panel
 *   and dot is marked data-shown="now" / "next", which the CSS turns into the visible panel
 *   and the lit dots, whatever their names (the scenario panels come from cockpit/tiles.yaml):
 *   no server round trip, no React re-render.
 *   rotate_ms 0 keeps the first panel; ?focus=NAME on the address keeps that one.
 * - Takeover: focus.takeover is a clientside callback of the announcement queue store (whatever
 *   fills it: the poll or a push). While the queue holds a notice of the takeover priority
 *   (the highest), the takeover covers the focus slot and the rotation pauses; when the notice
 *   leaves the queue (acknowledged by anyone) it disappears and the rotation resumes with the
 *   time the shown panel had left. How long the notice has waited is redrawn every second.
 * - Kiosk: the pointer hides after cursor_idle_ms without moving.
 */
(function () {
    "use strict";

    var STEP_MS = 250;
    var ROOT = document.documentElement;
    var WAITED_ID = "wall-takeover-waited";
    var state = {config: null, elapsed: 0, last: null, taken: null, idleTimer: null,
                 timer: null};

    function focusPanels() {
        return Array.prototype.slice.call(document.querySelectorAll(".wall .focus-panel[data-focus]"));
    }

    // The panels in the focus slot now (a resize may move the preset's fixed ones).
    function rotating() {
        return focusPanels().filter(function (el) {
            return window.getComputedStyle(el).getPropertyValue("--focus-fixed").trim() !== "1";
        }).map(function (el) { return el.getAttribute("data-focus"); });
    }

    // Each panel and dot says whether it is shown (data-shown="now") or next ("next"); the
    // CSS draws them from that, whatever their names (the scenario panels come from a file).
    // Marked at every step: a panel the server replaced comes back unmarked.
    function mark(name, next) {
        var els = focusPanels().concat(Array.prototype.slice.call(
            document.querySelectorAll(".wall .focus-dot[data-focus]")));
        els.forEach(function (el) {
            var focus = el.getAttribute("data-focus");
            var want = focus === name ? "now" : (focus === next ? "next" : "");
            if ((el.getAttribute("data-shown") || "") !== want) {
                if (want) {
                    el.setAttribute("data-shown", want);
                } else {
                    el.removeAttribute("data-shown");
                }
            }
        });
    }

    // The scenario panels and the dots are server outputs: a panel sent again is a new
    // element. Marked from a MutationObserver (it runs before the next paint), the shown one
    // never blinks out while its values change.
    // The grid (stable for the page's life) is watched, not the two containers: a container
    // re-created by React would otherwise go unwatched until the next step.
    var watched = null;
    var observer = window.MutationObserver ? new MutationObserver(function () {
        var name = ROOT.getAttribute("data-focus");
        if (name) {
            mark(name, ROOT.getAttribute("data-focus-next") || "");
        }
    }) : null;

    function watch() {
        var grid = document.querySelector(".wall .wall-grid");
        if (!observer || !grid || grid === watched) {
            return;
        }
        observer.disconnect();
        observer.observe(grid, {childList: true, subtree: true});  // not attributes: mark sets them
        watched = grid;
    }

    // pinned: ?focus=NAME keeps this panel, so no panel is next (its dot stays unlit)
    function show(name, names, pinned) {
        var at = names.indexOf(name);
        var next = !pinned && names.length > 1 ? names[(at + 1) % names.length] : "";
        if (ROOT.getAttribute("data-focus") !== name) {
            ROOT.setAttribute("data-focus", name);
        }
        if (ROOT.getAttribute("data-focus-next") !== next) {
            ROOT.setAttribute("data-focus-next", next);
        }
        mark(name, next);
    }

    function pad(n) {
        return (n < 10 ? "0" : "") + n;
    }

    function fill(template, fields) {
        return String(template || "").replace(/\{(\w+)\}/g, function (whole, key) {
            return Object.prototype.hasOwnProperty.call(fields, key) ? String(fields[key]) : whole;
        });
    }

    function waitedText(ms, texts) {
        var s = Math.max(0, Math.floor(ms / 1000));
        if (s < 60) {
            return fill(texts.wf_wait_s, {s: s});
        }
        if (s < 3600) {
            return fill(texts.wf_wait_m, {m: Math.floor(s / 60), s: pad(s % 60)});
        }
        return fill(texts.wf_wait_h, {h: Math.floor(s / 3600), m: pad(Math.floor(s / 60) % 60)});
    }

    function drawWaited() {
        var el = document.getElementById(WAITED_ID);
        if (!el || !state.taken || !state.config) {
            return;
        }
        var texts = state.config.focus_texts || {};
        var text = isFinite(state.taken.since)
            ? fill(texts.wf_takeover_waited, {d: waitedText(Date.now() - state.taken.since, texts)})
            : "";
        if (el.textContent !== text) {
            el.textContent = text;
        }
    }

    // ?focus=NAME on the wall's address pins the focus region to one panel (a screen that
    // shows only the volunteers, say); an unknown name is ignored.
    function pinnedPanel() {
        try {
            return new URLSearchParams(window.location.search).get("focus");
        } catch (err) {
            return null;
        }
    }

    function step() {
        var now = Date.now();
        var dt = state.last === null ? 0 : now - state.last;
        state.last = now;
        var names = rotating();
        if (!names.length) {
            return;  // not on the wall page
        }
        watch();
        var pinned = pinnedPanel();
        if (pinned && names.indexOf(pinned) >= 0) {
            show(pinned, names, true);
            if (state.taken) {
                drawWaited();
            }
            return;  // ?focus=NAME: this screen shows that panel only
        }
        var current = ROOT.getAttribute("data-focus");
        var at = names.indexOf(current);
        if (at < 0) {
            show(names[0], names);
            state.elapsed = 0;
            return;
        }
        show(current, names);
        var period = state.config ? Number(state.config.rotate_ms) || 0 : 0;
        if (state.taken) {
            drawWaited();
            return;  // paused: the panel keeps the time it had left
        }
        if (period > 0) {
            state.elapsed += dt;
            if (state.elapsed >= period) {
                state.elapsed = 0;
                show(names[(at + 1) % names.length], names);
            }
        }
    }

    function idle() {
        ROOT.classList.add("cursor-idle");
    }

    function moved() {
        if (!state.config || !state.config.kiosk) {
            return;
        }
        ROOT.classList.remove("cursor-idle");
        window.clearTimeout(state.idleTimer);
        state.idleTimer = window.setTimeout(idle, state.config.cursor_idle_ms || 3000);
    }

    function start(config) {
        var first = state.config === null;
        state.config = config || {};
        if (first && state.config.kiosk) {
            moved();
        }
        if (state.timer === null) {
            state.timer = window.setInterval(step, STEP_MS);
        }
        step();
    }

    // The clientside callback: the queue store (and the village names) -> the takeover.
    function takeover(queue, names, config) {
        start(config);
        var cfg = state.config;
        var texts = cfg.focus_texts || {};
        var items = (queue && Array.isArray(queue.items)) ? queue.items : [];
        var critical = items.filter(function (n) { return n.priority === cfg.takeover; });
        var first = critical[0];
        if (!first) {
            state.taken = null;
            ROOT.classList.remove("focus-taken");
            return ["takeover takeover-hidden", "", "", "", "", "", ""];
        }
        var since = Date.parse(first.at || "");
        state.taken = {id: first.id, since: since};
        ROOT.classList.add("focus-taken");
        window.setTimeout(drawWaited, 0);
        var village = (names && first.village_code && names[first.village_code]) ||
            first.village_code || "";
        var reported = String(first.reported_at || first.at || "");
        var more = critical.length - 1;
        var alert = first.kind === "alert";  // an alert rule's notice (docs/alerts.md)
        return ["takeover", fill(alert ? texts.wf_takeover_alert : texts.wf_takeover_head,
                                 {p: first.priority_label || ""}),
                first.category_label || "",
                alert ? (first.text || "") : (first.title || first.text || ""), village,
                reported.length >= 16 ? fill(alert ? texts.wf_takeover_raised : texts.wf_takeover_at,
                                             {t: reported.slice(11, 16)}) : "",
                more > 0 ? fill(texts.wf_takeover_more, {n: more}) : ""];
    }

    ["mousemove", "pointerdown", "touchstart"].forEach(function (kind) {
        document.addEventListener(kind, moved, {capture: true, passive: true});
    });
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        focus: {takeover: takeover}
    });
    state.timer = window.setInterval(step, STEP_MS);
}());
