/*
 * 乔网智治 — the staff map page (/map) around its map frame.
 *
 * The frame (assets/map/staff_map_frame.js) posts what the user did; this keeps it in the
 * page's URL with history.replaceState (so the link shares the view and a reload reopens it,
 * without re-rendering the page) and hands a village, grid or incident chosen to the side
 * panel through the map-selection store. Filters changed on the page reload the frame with
 * the new filters and the layers and view the URL holds by then (clientside callback
 * staff_map.frame). The panel's "back" links and grid rows drill without a page load.
 */
(function () {
    "use strict";

    var SELECTION = "map-selection";
    var SELECT_KEYS = ["village", "grid", "item"];

    function onMapPage() {
        return window.location.pathname.replace(/\/+$/, "") === "/map";
    }

    function params() {
        return new URLSearchParams(window.location.search);
    }

    function replace(p) {
        var search = p.toString();
        var url = window.location.pathname + (search ? "?" + search : "");
        window.history.replaceState(window.history.state, "", url);
    }

    function select(selection) {
        var p = params();
        SELECT_KEYS.forEach(function (key) {
            if (selection[key]) { p.set(key, selection[key]); } else { p.delete(key); }
        });
        replace(p);
        if (window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props(SELECTION, {data: selection});
        }
    }

    function current() {
        var p = params();
        return {village: p.get("village"), grid: p.get("grid"), item: p.get("item")};
    }

    function frameWindow() {
        var frame = document.getElementById("map-frame");
        return frame ? frame.contentWindow : null;
    }

    window.addEventListener("message", function (event) {
        if (event.origin !== window.location.origin || !onMapPage()) { return; }
        var m = event.data;
        if (!m || m.source !== "staff-map") { return; }
        var p = params();
        if (m.type === "layers") {
            p.set("layers", m.layers.join(","));
            replace(p);
        } else if (m.type === "view") {
            p.set("z", String(m.z));
            p.set("lat", Number(m.lat).toFixed(6));
            p.set("lon", Number(m.lon).toFixed(6));
            if (m.crs && m.crs !== "wgs84") { p.set("vcrs", m.crs); } else { p.delete("vcrs"); }
            replace(p);
        } else if (m.type === "village") {
            select({village: m.code, grid: null, item: null});
        } else if (m.type === "grid") {
            select({village: m.village || current().village, grid: m.code, item: null});
        } else if (m.type === "item") {
            var now = current();
            select({village: now.village, grid: now.grid, item: m.id});
        }
    });

    document.addEventListener("click", function (event) {
        if (!onMapPage()) { return; }
        var target = event.target.closest("[data-select], [data-grid]");
        if (!target) { return; }
        event.preventDefault();
        var now = current();
        if (target.hasAttribute("data-grid")) {
            select({village: now.village, grid: target.getAttribute("data-grid"), item: null});
            return;
        }
        var to = target.getAttribute("data-select");
        if (to === "clear") {
            select({village: null, grid: null, item: null});
            var win = frameWindow();
            if (win && win.postMessage) {
                win.postMessage({source: "staff-map-page", type: "fit"}, window.location.origin);
            }
        } else if (to === "village") {
            select({village: now.village, grid: null, item: null});
        }
    });

    document.addEventListener("click", function (event) {
        var button = event.target.closest("#map-share");
        if (!button || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(window.location.href).then(function () {
            button.textContent = button.getAttribute("data-done") || button.textContent;
        }, function () { /* the address bar still holds the link */ });
    });

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        staff_map: {
            /* Filters changed: keep them in the URL and reload the frame with them. */
            frame: function (categories, stages, period) {
                if (!onMapPage()) { return window.dash_clientside.no_update; }
                var p = params();
                var set = function (key, values) {
                    if (values && values.length) { p.set(key, values.join(",")); }
                    else { p.delete(key); }
                };
                set("cat", categories);
                set("stage", stages);
                if (period) { p.set("period", period); }
                p.delete("item");
                replace(p);
                var search = p.toString();
                return "/map/frame" + (search ? "?" + search : "");
            },
            /* The boundary layers moved (an import): the frame again, as the URL has it now. */
            reload: function (version) {
                if (!onMapPage()) { return window.dash_clientside.no_update; }
                var p = params();
                p.set("v", String(version));
                return "/map/frame?" + p.toString();
            }
        }
    });
}());
