/*
 * The shell's fault banner (callbacks/faults.py): every few seconds, GET the link status and
 * say on the page when a source is down.
 *
 * - Redis down (the live link): the pages render from the database; the banner says
 *   "实时链路中断 · 显示的是 HH:MM 的已提交数据" (the last commit the server knows).
 * - The database down: the pages keep what they show; "数据库不可用 · 显示的是 HH:MM 的数据"
 *   (the database's last good answer).
 * Both sources back: the banner goes. The texts come from the shell (#shell-fault's
 * data-texts, from the i18n catalogue), in the page's language (?lang=en).
 */
(function () {
    "use strict";

    var EVERY_MS = 5000;
    var TIMEOUT_MS = 4000;
    var busy = false;

    function lang() {
        return /(?:^|[?&])lang=en(?:&|$)/.test(window.location.search) ? "en" : "zh";
    }

    function texts(node) {
        try {
            var all = JSON.parse(node.getAttribute("data-texts") || "{}");
            return all[lang()] || all.zh || {};
        } catch (err) {
            return {};
        }
    }

    function say(node, text) {
        if (text) {
            if (node.textContent !== text) {
                node.textContent = text;
            }
            node.hidden = false;
            document.documentElement.classList.add("source-fault");
        } else {
            node.hidden = true;
            document.documentElement.classList.remove("source-fault");
        }
    }

    function message(state, words) {
        if (state.database === "down") {
            return state.database_ok_at
                ? String(words.db_down || "").replace("{time}", state.database_ok_at)
                : words.db_down_never;
        }
        if (state.redis === "down") {
            return state.committed_at
                ? String(words.link_down || "").replace("{time}", state.committed_at)
                : words.link_down_never;
        }
        return "";
    }

    function check() {
        var node = document.getElementById("shell-fault");
        if (!node || busy || typeof fetch !== "function") {
            return;
        }
        busy = true;
        var options = {cache: "no-store", credentials: "same-origin",
                       headers: {Accept: "application/json"}};
        if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
            options.signal = AbortSignal.timeout(TIMEOUT_MS);
        }
        fetch(node.getAttribute("data-url"), options).then(function (response) {
            return response.ok ? response.json() : null;
        }).then(function (state) {
            if (state) {
                say(node, message(state, texts(node)));
            }
        }).catch(function () {
            return null;  // the server itself is silent: the wall's own probe says so
        }).then(function () {
            busy = false;
        });
    }

    window.setInterval(check, EVERY_MS);
    window.setTimeout(check, 300);
})();
