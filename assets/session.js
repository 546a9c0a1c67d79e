/*
 * 乔网智治 — the end of a session on any page. When the server answers a Dash callback or an
 * API request with 401 (the session expired, the account was disabled, or this wall screen's
 * kiosk link was revoked), the page leaves for the sign-in page, which says why. A wall
 * screen whose link was revoked therefore closes within the server's re-check time
 * (callbacks.auth.VIEWER_TTL_S) plus one poll.
 */
(function () {
    "use strict";
    if (!window.fetch || window.fetch.cockpitSession) {
        return;
    }
    var original = window.fetch.bind(window);
    var leaving = false;

    function sameOrigin(input) {
        var url = typeof input === "string" ? input : (input && input.url) || "";
        try {
            return new URL(url, window.location.href).origin === window.location.origin;
        } catch (e) {
            return false;
        }
    }

    function leave(reason) {
        if (leaving) {
            return;
        }
        leaving = true;
        if (reason === "anonymous" || reason === "forbidden") {
            reason = "";
        }
        var here = window.location.pathname + window.location.search;
        window.location.assign("/signin?" + (reason ? "reason=" + encodeURIComponent(reason) +
                               "&" : "") + "next=" + encodeURIComponent(here));
    }

    var wrapped = function (input, init) {
        return original(input, init).then(function (response) {
            if (response.status !== 401 || !sameOrigin(input)) {
                return response;
            }
            response.json().then(function (body) {
                leave(body && body.reason);
            }, function () {
                leave("expired");
            });
            // the page is leaving: the caller (dash-renderer) gets no answer to handle
            return new Promise(function () {});
        });
    };
    wrapped.cockpitSession = true;
    window.fetch = wrapped;
}());
