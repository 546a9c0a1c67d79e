/*
 * Live updates of a page by server push (乔网智治·云上中心驾驶舱), applied with
 * dash_clientside.set_props — see callbacks/push.py for the server side.
 *
 * - One stream per browser, page and language: the tabs of one browser elect a leader with the
 *   Web Locks API; the leader alone holds the EventSource (browsers allow six connections per
 *   host, so six tabs each holding a stream would starve every other request) and relays every
 *   frame to the other tabs on a BroadcastChannel. When the leader closes, the next tab takes the
 *   lock and opens its own stream. A tab that joins asks for a snapshot ("hello"): the leader
 *   reopens its stream, whose first frame is a snapshot, and every tab applies it.
 * - Updates carry Dash's callback answer ({component_id: {prop: value}}, Patch objects
 *   included). Frames are merged and applied once per animation frame: at most one update is
 *   being applied per screen, whatever arrives meanwhile waits and is merged. A delta whose seq
 *   does not follow the last one applied asks for a snapshot. A snapshot whose digest is that
 *   of the picture on screen (cfg.digest: the page's first paint; or the last snapshot, no
 *   delta since) is not applied again.
 * - Without EventSource or when the server refuses a stream (503: it holds as many as it may)
 *   the leader polls the snapshot route every poll_ms, one request at a time, and tries the
 *   stream again every STREAM_RETRY_MS. A 401/403 reloads the page (the session ended).
 * - The browser reconnects a broken stream by itself (the server sets retry: 2000); when the
 *   server comes back, its first frame is a snapshot and the page is current again, no reload.
 * - Stale watermark: when nothing was heard from the server (update, beat or poll answer) for
 *   stale_ms, or the last status said the data source is down (cfg.status_id's data.error, or
 *   a non-empty cfg.alert_id), a watermark across the screen says the picture is not live,
 *   with the time of the last update.
 * - One client per page: cfg.root is the page's root element. A client started for a root
 *   stops the one that served it before (the tablet's link to another view renders the page
 *   again, with another channel), and a client whose root left the document stops itself.
 */
(function () {
    "use strict";

    var STREAM_RETRY_MS = 30000;
    var HELLO_DELAY_MS = 300;
    var RELOAD_GUARD_MS = 60000;
    var CHECK_MS = 1000;
    var clients = {};

    function nowMs() {
        return Date.now();
    }

    function isPatch(value) {
        return value !== null && typeof value === "object" && value.__dash_patch_update !== undefined;
    }

    // Merge `incoming` ({id: {prop: value}}) into `into`: a later value replaces an earlier
    // one; two Patch objects of one prop become one Patch with both operation lists in order.
    function merge(into, incoming) {
        Object.keys(incoming).forEach(function (id) {
            var props = incoming[id];
            var target = into[id] || (into[id] = {});
            Object.keys(props).forEach(function (prop) {
                var value = props[prop];
                var earlier = target[prop];
                if (isPatch(value) && isPatch(earlier)) {
                    target[prop] = {
                        __dash_patch_update: value.__dash_patch_update,
                        operations: earlier.operations.concat(value.operations)
                    };
                } else {
                    target[prop] = value;
                }
            });
        });
        return into;
    }

    function formatTime(ms, tz) {
        if (ms === null) {
            return null;
        }
        var options = {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"};
        try {
            return new Intl.DateTimeFormat("en-GB", Object.assign({timeZone: tz}, options)).format(ms);
        } catch (err) {
            return new Intl.DateTimeFormat("en-GB", options).format(ms);
        }
    }

    function Client(cfg) {
        this.cfg = cfg;
        this.texts = cfg.texts || {};
        this.boot = null;
        this.seq = 0;
        // the digest of the snapshot the screen shows (null once a delta moved it past one):
        // at first the page's own first paint, when the page rendered it with its data
        this.digest = cfg.digest || null;
        this.startedMs = nowMs();
        this.lastHeardMs = null;
        this.lastUpdateServerMs = null;
        this.skewMs = 0;
        this.sourceError = false;
        this.pending = null;
        this.scheduled = false;
        this.mode = "starting";
        this.leader = false;
        this.source = null;
        this.polling = false;
        this.pollTimer = null;
        this.streamRetryAt = 0;
        this.helloTimer = null;
        this.applied = 0;
        this.frames = 0;
        this.stopped = false;
        this.channel = null;
        this.release = null;
        this.watermark = null;
        this.checkTimer = window.setInterval(this.check.bind(this), CHECK_MS);
    }

    Client.prototype.start = function () {
        var self = this;
        if (window.BroadcastChannel && navigator.locks && navigator.locks.request) {
            this.channel = new window.BroadcastChannel(this.cfg.channel);
            this.channel.onmessage = function (event) {
                self.onShared(event.data || {});
            };
            this.mode = "follow";
            navigator.locks.request(this.cfg.channel, function () {
                return new Promise(function (resolve) {
                    self.release = resolve;
                    if (self.stopped) {
                        resolve();
                        return;
                    }
                    self.lead();
                });
            });
            // a follower asks the leader for a snapshot; ignored if this tab leads by then
            this.sayHello();
        } else {
            this.lead();
        }
    };

    Client.prototype.stop = function () {
        if (clients[this.cfg.channel] === this) {
            delete clients[this.cfg.channel];
        }
        this.stopped = true;
        this.closeStream();
        window.clearTimeout(this.pollTimer);
        window.clearTimeout(this.helloTimer);
        window.clearInterval(this.checkTimer);
        if (this.channel) {
            this.channel.close();
        }
        if (this.release) {
            this.release();
        }
        if (this.watermark && this.watermark.parentNode) {
            this.watermark.parentNode.removeChild(this.watermark);
        }
        document.documentElement.classList.remove("push-stale");
    };

    // ------------------------------------------------------------------ leading: the stream

    Client.prototype.lead = function () {
        this.leader = true;
        if (this.cfg.push !== false && typeof window.EventSource === "function") {
            this.openStream();
        } else {
            this.startPolling();
        }
    };

    Client.prototype.openStream = function () {
        var self = this;
        this.closeStream();
        this.mode = "stream";
        var source = new window.EventSource(this.cfg.events);
        this.source = source;
        source.addEventListener("update", function (event) {
            self.relay("update", event.data);
            self.receive(event.data);
        });
        source.addEventListener("beat", function (event) {
            self.relay("beat", event.data);
            self.beat(event.data);
        });
        source.onerror = function () {
            if (source.readyState === window.EventSource.CLOSED && self.source === source) {
                // refused (503: the server holds its limit of streams) or not a stream at all:
                // poll, and try a stream again later; a network error (CONNECTING) is retried
                // by the browser itself
                self.closeStream();
                self.streamRetryAt = nowMs() + STREAM_RETRY_MS;
                self.startPolling();
            }
        };
    };

    Client.prototype.closeStream = function () {
        if (this.source) {
            this.source.close();
            this.source = null;
        }
    };

    Client.prototype.relay = function (kind, data) {
        if (this.channel) {
            this.channel.postMessage({kind: kind, data: data});
        }
    };

    // ------------------------------------------------------------------ leading: polling

    Client.prototype.startPolling = function () {
        this.mode = "poll";
        this.schedulePoll(0);
    };

    Client.prototype.schedulePoll = function (delay) {
        var self = this;
        window.clearTimeout(this.pollTimer);
        this.pollTimer = window.setTimeout(function () {
            self.poll();
        }, delay);
    };

    Client.prototype.poll = function () {
        var self = this;
        if (this.stopped || this.polling || this.mode !== "poll") {
            return;
        }
        if (this.streamRetryAt && nowMs() >= this.streamRetryAt && this.cfg.push !== false
                && typeof window.EventSource === "function") {
            this.streamRetryAt = 0;
            this.openStream();
            return;
        }
        this.polling = true;
        var url = this.cfg.snapshot + (this.digest ? "&digest=" + encodeURIComponent(this.digest) : "");
        fetch(url, {cache: "no-store", credentials: "same-origin",
                    headers: {Accept: "application/json"}}).then(function (response) {
            if (response.status === 401 || response.status === 403) {
                self.reloadForSignIn();
                return null;
            }
            return response.ok ? response.text() : null;
        }).then(function (text) {
            if (text) {
                var payload = JSON.parse(text);
                if (!payload.response) {  // nothing changed since our digest
                    self.relay("beat", text);
                    self.beat(text);
                } else {
                    self.relay("update", text);
                    self.receive(text);
                }
            }
        }).catch(function () {
            return null;  // the server is unreachable: the watermark says so
        }).then(function () {
            self.polling = false;
            if (!self.stopped && self.mode === "poll") {
                self.schedulePoll(self.cfg.poll_ms || 1000);
            }
        });
    };

    Client.prototype.reloadForSignIn = function () {
        var key = "qiaosi-push-reload";
        var last = Number(window.sessionStorage.getItem(key) || 0);
        if (nowMs() - last > RELOAD_GUARD_MS) {
            window.sessionStorage.setItem(key, String(nowMs()));
            window.location.reload();
        }
    };

    // ------------------------------------------------------------------ following

    Client.prototype.onShared = function (message) {
        if (this.leader) {
            if (message.kind === "hello") {
                this.resync();
            }
            return;
        }
        if (message.kind === "update") {
            this.receive(message.data);
        } else if (message.kind === "beat") {
            this.beat(message.data);
        }
    };

    Client.prototype.sayHello = function () {
        var self = this;
        if (!this.channel || this.helloTimer !== null) {
            return;
        }
        this.helloTimer = window.setTimeout(function () {
            self.helloTimer = null;
            if (!self.leader && !self.stopped) {
                self.channel.postMessage({kind: "hello"});
            }
        }, HELLO_DELAY_MS);
    };

    // A snapshot for every tab: a leader reopens its stream (its first frame is one) or polls
    // at once without its digest.
    Client.prototype.resync = function () {
        if (!this.leader) {
            this.sayHello();
        } else if (this.mode === "stream") {
            this.openStream();
        } else {
            this.digest = null;
            this.schedulePoll(0);
        }
    };

    // ------------------------------------------------------------------ applying

    Client.prototype.beat = function (text) {
        var payload = null;
        try {
            payload = JSON.parse(text);
        } catch (err) {
            payload = null;
        }
        this.heard(payload);
    };

    // The server spoke (a frame or an answer, parsed: null if it was not JSON).
    Client.prototype.heard = function (payload) {
        this.lastHeardMs = nowMs();
        if (payload && typeof payload.server_now_ms === "number") {
            this.skewMs = payload.server_now_ms - this.lastHeardMs;
        }
    };

    Client.prototype.receive = function (text) {
        var payload;
        try {
            payload = JSON.parse(text);
        } catch (err) {
            return;
        }
        this.frames += 1;
        this.heard(payload);  // parsed once: an update is tens of kB
        var shown = false;
        if (payload.kind === "snapshot") {
            this.boot = payload.boot;
            this.seq = payload.seq;
            // the screen shows this very picture already: nothing to redraw (no flicker)
            shown = Boolean(payload.digest) && payload.digest === this.digest;
            this.digest = payload.digest || null;
        } else if (payload.boot === this.boot && payload.seq <= this.seq) {
            return;  // already in the snapshot this tab applied
        } else if (payload.boot !== this.boot || payload.seq !== this.seq + 1) {
            this.resync();  // a gap: this tab missed an update
            return;
        } else {
            this.seq = payload.seq;
            this.digest = null;
        }
        if (payload.response) {
            this.lastUpdateServerMs = payload.server_now_ms || nowMs();
            this.watchStatus(payload.response);
            if (!shown) {
                this.pending = merge(this.pending || {}, payload.response);
                this.schedule();
            }
        }
    };

    Client.prototype.watchStatus = function (response) {
        var id = this.cfg.status_id;
        var status = id && response[id] && response[id].data;
        if (status && typeof status === "object") {
            this.sourceError = Boolean(status.error);
        }
        var alert = this.cfg.alert_id && response[this.cfg.alert_id];
        if (alert && alert.children !== undefined) {
            this.sourceError = Boolean(alert.children);
        }
    };

    Client.prototype.schedule = function () {
        var self = this;
        if (this.scheduled) {
            return;
        }
        this.scheduled = true;
        var run = function () {
            self.scheduled = false;
            self.flush();
        };
        // hidden tabs get no animation frames; a timer (throttled by the browser) still runs
        if (document.hidden) {
            window.setTimeout(run, 50);
        } else {
            window.requestAnimationFrame(run);
        }
    };

    Client.prototype.flush = function () {
        var batch = this.pending;
        this.pending = null;
        if (!batch || this.stopped) {
            return;
        }
        if (this.cfg.root && !document.getElementById(this.cfg.root)) {
            this.stop();  // the page was left (the router swapped it)
            return;
        }
        var setProps = window.dash_clientside && window.dash_clientside.set_props;
        Object.keys(batch).forEach(function (id) {
            setProps(id, batch[id]);
        });
        this.applied += 1;
    };

    // ------------------------------------------------------------------ the watermark

    Client.prototype.check = function () {
        if (this.cfg.root && !document.getElementById(this.cfg.root)) {
            this.stop();  // the page was left: let go of the stream and the tabs' lock
            return;
        }
        var now = nowMs();
        var silent = this.lastHeardMs === null ? now - this.startedMs : now - this.lastHeardMs;
        var stale = silent > (this.cfg.stale_ms || 10000) || this.sourceError;
        document.documentElement.classList.toggle("push-stale", stale);
        if (!stale) {
            if (this.watermark) {
                this.watermark.hidden = true;
            }
            return;
        }
        if (!this.watermark) {
            this.watermark = document.createElement("div");
            this.watermark.className = "push-watermark";
            this.watermark.setAttribute("role", "status");
            this.watermark.innerHTML = "<div class=\"push-watermark-box\">"
                + "<div class=\"push-watermark-title\"></div>"
                + "<div class=\"push-watermark-detail\"></div></div>";
            document.body.appendChild(this.watermark);
        }
        var last = formatTime(this.lastUpdateServerMs, this.cfg.tz);
        var detail = last === null ? this.texts.push_never
            : String(this.texts.push_last || "").replace("{time}", last);
        if (this.mode === "poll") {
            detail += " · " + this.texts.push_polling;
        } else if (!this.sourceError) {
            detail += " · " + this.texts.push_reconnecting;
        }
        this.watermark.querySelector(".push-watermark-title").textContent = this.texts.push_stale;
        this.watermark.querySelector(".push-watermark-detail").textContent = detail;
        this.watermark.hidden = false;
    };

    Client.prototype.stats = function () {
        return {mode: this.mode, leader: this.leader, boot: this.boot, seq: this.seq,
                frames: this.frames, applied: this.applied, lastHeardMs: this.lastHeardMs,
                stale: document.documentElement.classList.contains("push-stale")};
    };

    function start(config) {
        var cfg = (config && config.push) || null;
        if (!cfg || !cfg.events) {
            return window.dash_clientside.no_update;
        }
        var key = cfg.channel;
        Object.keys(clients).forEach(function (other) {
            if (other === key || (cfg.root && clients[other].cfg.root === cfg.root)) {
                clients[other].stop();
            }
        });
        var client = new Client(Object.assign({tz: config.tz}, cfg));
        clients[key] = client;
        client.start();
        return key;
    }

    window.cockpitPush = {
        // browser ms of the last frame or answer any live page heard from the server
        lastHeardMs: function () {
            var best = null;
            Object.keys(clients).forEach(function (key) {
                var heard = clients[key].stopped ? null : clients[key].lastHeardMs;
                if (heard !== null && (best === null || heard > best)) {
                    best = heard;
                }
            });
            return best;
        },
        stats: function () {
            var out = {};
            Object.keys(clients).forEach(function (key) {
                out[key] = clients[key].stats();
            });
            return out;
        },
        // apply one update frame's data as if it came from the stream (the tabs' relay uses it)
        receive: function (key, text) {
            if (clients[key]) {
                clients[key].receive(text);
            }
        }
    };
    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.push = {start: start};
}());
