/*
 * 乔网智治 — the app shell's clientside code (layouts.shell): the document's title in the
 * page's language. Dash sets <title> once, from the server's default; the router renders the
 * page in the language of ?lang=, so the title follows the same query here, from the words
 * the shell's store holds (layouts/i18n.py "title" in each language).
 */
(function () {
    "use strict";

    function language(search) {
        var asked = new URLSearchParams(search || "").getAll("lang").pop() || "";
        asked = asked.trim().toLowerCase();
        return asked === "en" || asked.indexOf("en-") === 0 ? "en" : "zh";
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        shell: {
            title: function (search, titles) {
                var lang = language(search);
                if (titles && titles[lang]) {
                    document.title = titles[lang];
                    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
                }
                return window.dash_clientside.no_update;
            }
        }
    });
}());
