/*
 * The time machine's band (乔网智治·云上中心驾驶舱): a page shown at a past moment or replaying a
 * past period — see callbacks/timemachine.py and layouts/timemachine.py.
 *
 * - timemachine.start(cfg) runs when the band's config store renders: the page follows no live
 *   push (its push client is not started); this code asks the page's frame route for the
 *   picture at the current moment (GET cfg.url&at=<epoch ms>, the answer shaped like a push
 *   frame: {component_id: {prop: value}}) and applies it with dash_clientside.set_props.
 * - A still moment is fetched once, then again every STILL_REFRESH_MS (events stored late).
 *   A replay advances the moment by cfg.speed past seconds per second of this clock, one frame
 *   at a time (the next is asked when the last was applied, at most one per FRAME_MS), and stops
 *   at cfg.end_ms. Pause keeps the moment; a new speed applies from the moment shown. The
 *   replay's clock starts when its first frame is applied, and a frame slower than
 *   2 × FRAME_MS holds it (no stretch skipped); after either the next frame is asked FRAME_MS
 *   later (a link slow for every frame still moves the replay on).
 * - The band says "回看 · 非实时 · YYYY-MM-DD HH:MM:SS" (the moment of the frame on screen, in
 *   cfg.tz) with the speed, paused or ended; "返回实时" is a plain link without the parameters.
 * - A 401/403 reloads the page (the session ended); a failed frame is retried, the band says so.
 * - A page drawn by an iframe (the staff map: cfg.frame) is not fetched: its frame's src gets
 *   the moment as at= every cfg.frame.every_ms while a replay plays (the server rendered the
 *   first one); its side panel follows the frame's src.
 * - A link to the same page (the tablet's periods and villages, the map's panel) keeps the past:
 *   it loads the page with the moment shown (a replay: from it on, at the same speed).
 * - It stops when cfg.root leaves the document (the router swapped the page).
 */
(function () {
    "use strict";

    var FRAME_MS = 1000;
    var STILL_REFRESH_MS = 60000;
    var RETRY_MS = 3000;
    var WATCH_MS = 1000;
    var LOG_KEEP = 50;  // frames remembered for state().log (the latest ones)
    var TEXT_ID = "tm-text";
    var PAUSE_ID = "tm-pause";
    var SPEED_ID = "tm-speed";
    var current = null;

    function pad(n) {
        return (n < 10 ? "0" : "") + n;
    }

    // YYYY-MM-DD HH:MM:SS of epoch ms in zone tz
    function format(ms, tz) {
        var parts = {};
        try {
            new Intl.DateTimeFormat("en-GB", {
                timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
                hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
            }).formatToParts(ms).forEach(function (p) {
                parts[p.type] = p.value;
            });
        } catch (err) {
            var d = new Date(ms);
            parts = {year: d.getFullYear(), month: pad(d.getMonth() + 1), day: pad(d.getDate()),
                     hour: pad(d.getHours()), minute: pad(d.getMinutes()), second: pad(d.getSeconds())};
        }
        return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
            parts.minute + ":" + parts.second;
    }

    function fill(template, fields) {
        return String(template || "").replace(/\{(\w+)\}/g, function (all, key) {
            return fields[key] !== undefined ? String(fields[key]) : all;
        });
    }

    function Machine(cfg) {
        this.cfg = cfg;
        this.texts = cfg.texts || {};
        this.speed = Number(cfg.speed) || 1;
        this.still = Boolean(cfg.still);
        this.playing = !this.still;
        this.anchorT = cfg.start_ms;
        this.anchorWall = Date.now();
        this.holding = true;  // no frame shown yet
        this.shownMs = null;
        this.frames = 0;
        this.log = [];  // {shownMs, askedMs, tookMs} of the latest frames applied, oldest first
        this.failed = false;
        this.ended = false;
        this.stopped = false;
        this.timer = null;
        this.busy = false;
    }

    Machine.prototype.moment = function () {
        // the clock stands until the first frame is on screen and after a frame that failed:
        // a replay asks its period's start first, and asks again where it failed (at x3600 a
        // 70 ms wait for the page would otherwise skip four minutes of the period)
        if (!this.playing || this.holding) {
            return this.anchorT;
        }
        return Math.min(this.cfg.end_ms, this.anchorT + (Date.now() - this.anchorWall) * this.speed);
    };

    Machine.prototype.setProps = function (id, props) {
        var setProps = window.dash_clientside && window.dash_clientside.set_props;
        if (setProps && document.getElementById(id)) {
            setProps(id, props);
        }
    };

    Machine.prototype.label = function () {
        var t = this.texts;
        var text = this.shownMs === null ? t.tm_band_loading
            : fill(t.tm_band, {t: format(this.shownMs, this.cfg.tz)});
        if (!this.still && this.shownMs !== null) {
            var state = this.ended ? t.tm_band_ended : (this.playing ? fill(t.tm_band_speed, {n: this.speed})
                : t.tm_band_paused);
            text += " · " + state;
        }
        if (this.failed) {
            text += " · " + t.tm_band_failed;
        }
        this.setProps(TEXT_ID, {children: text});
        this.setProps(PAUSE_ID, {children: this.playing ? t.tm_pause : t.tm_resume});
    };

    Machine.prototype.schedule = function (delay) {
        var self = this;
        window.clearTimeout(this.timer);
        this.timer = window.setTimeout(function () {
            self.step();
        }, Math.max(0, delay));
    };

    Machine.prototype.stepFrame = function (at) {
        var frame = this.cfg.frame;
        var element = document.getElementById(frame.id);
        if (this.holding) {  // the frame (an iframe) is on screen from now: the clock starts
            this.anchorT = at;
            this.anchorWall = Date.now();
            this.holding = false;
        }
        if (this.frames > 0 && element) {
            var url = new URL(element.getAttribute("src") || "", window.location.href);
            url.searchParams.set("at", String(at));
            this.setProps(frame.id, {src: url.pathname + url.search});
        }
        this.shownMs = at;
        this.frames += 1;
        if (this.playing && at >= this.cfg.end_ms) {
            this.playing = false;
            this.ended = true;
            this.anchorT = this.cfg.end_ms;
        }
        this.label();
        if (this.playing) {
            this.schedule(frame.every_ms || 5000);
        }
    };

    // the query of a link to this page at the moment shown (a replay: on from it)
    Machine.prototype.carry = function (url) {
        ["at", "from", "to", "speed"].forEach(function (key) {
            url.searchParams.delete(key);
        });
        var at = Math.round(this.shownMs === null ? this.moment() : this.shownMs);
        if (this.playing) {
            url.searchParams.set("from", String(at));
            url.searchParams.set("to", String(this.cfg.end_ms));
            url.searchParams.set("speed", String(this.speed));
        } else {
            url.searchParams.set("at", String(at));
        }
        return url;
    };

    Machine.prototype.step = function () {
        var self = this;
        if (this.stopped || this.busy) {
            return;
        }
        if (!this.present()) {
            this.stop();
            return;
        }
        var at = Math.round(this.moment());
        if (this.cfg.frame) {
            this.stepFrame(at);
            return;
        }
        var asked = Date.now();
        var held = false;
        this.busy = true;
        fetch(this.cfg.url + "&at=" + at, {cache: "no-store", credentials: "same-origin",
                                           headers: {Accept: "application/json"}})
            .then(function (response) {
                if (response.status === 401 || response.status === 403) {
                    window.location.reload();
                    return null;
                }
                if (!response.ok) {
                    throw new Error("frame " + response.status);
                }
                return response.json();
            })
            .then(function (payload) {
                if (!payload || self.stopped) {
                    return;
                }
                var response = payload.response || {};
                Object.keys(response).forEach(function (id) {
                    self.setProps(id, response[id]);
                });
                self.shownMs = payload.at_ms;
                self.frames += 1;
                self.log.push({shownMs: payload.at_ms, askedMs: asked, tookMs: Date.now() - asked});
                if (self.log.length > LOG_KEEP) {
                    self.log.shift();
                }
                self.failed = false;
                if (self.playing && (self.holding || Date.now() - asked > 2 * FRAME_MS)) {
                    // the replay's clock starts from the first frame shown, and a slow frame
                    // (the as-of store rebuilt) holds it: no stretch of history is skipped;
                    // the next frame then comes a whole FRAME_MS later, so that a link slow
                    // for every frame still moves the replay on (by FRAME_MS * speed a frame)
                    self.anchorT = at;
                    self.anchorWall = Date.now();
                    self.holding = false;
                    held = true;
                }
                if (self.playing && at >= self.cfg.end_ms) {
                    self.playing = false;
                    self.ended = true;
                    self.anchorT = self.cfg.end_ms;
                }
            })
            .catch(function () {
                self.failed = true;
                if (self.playing) {  // ask this moment again: nothing of the period skipped
                    self.anchorT = at;
                    self.holding = true;
                }
            })
            .then(function () {
                self.busy = false;
                if (self.stopped) {
                    return;
                }
                self.label();
                if (self.failed) {
                    self.schedule(RETRY_MS);
                } else if (self.playing) {
                    self.schedule(held ? FRAME_MS : FRAME_MS - (Date.now() - asked));
                } else {
                    self.schedule(STILL_REFRESH_MS);
                }
            });
    };

    Machine.prototype.toggle = function () {
        if (this.still) {
            return;
        }
        if (this.playing) {
            this.anchorT = this.moment();
            this.playing = false;
        } else {
            if (this.ended) {
                return;
            }
            this.anchorWall = Date.now();
            this.playing = true;
            this.schedule(0);
        }
        this.label();
    };

    Machine.prototype.setSpeed = function (speed) {
        if (!(speed > 0)) {
            return;
        }
        this.anchorT = this.moment();
        this.anchorWall = Date.now();
        this.speed = speed;
        this.label();
    };

    Machine.prototype.present = function () {
        return !this.cfg.root || Boolean(document.getElementById(this.cfg.root));
    };

    Machine.prototype.stop = function () {
        this.stopped = true;
        window.clearTimeout(this.timer);
        window.clearInterval(this.watch);
        if (current === this) {
            current = null;
            document.documentElement.classList.remove("tm-past");  // the page left is live
        }
    };

    function bind(machine) {
        var pause = document.getElementById(PAUSE_ID);
        if (pause) {
            pause.addEventListener("click", function () {
                machine.toggle();
            });
        }
        var speed = document.getElementById(SPEED_ID);
        if (speed) {
            speed.addEventListener("change", function () {
                machine.setSpeed(Number(speed.value));
            });
        }
    }

    // a click on a link to this same page, while a past is shown: keep the past
    document.addEventListener("click", function (event) {
        var link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
        if (current && !current.present()) {
            current.stop();  // the router swapped the page: it is live
        }
        if (!current || !link || link.id === "tm-back" || event.defaultPrevented) {
            return;
        }
        var url = new URL(link.getAttribute("href"), window.location.href);
        if (url.origin !== window.location.origin || url.pathname !== window.location.pathname
                || url.searchParams.has("at") || url.searchParams.has("from")) {
            return;
        }
        event.preventDefault();
        event.stopPropagation();
        window.location.assign(current.carry(url).toString());
    }, true);

    function start(cfg) {
        if (current) {
            current.stop();
        }
        if (!cfg || (!cfg.url && !cfg.frame)) {
            return window.dash_clientside.no_update;
        }
        var machine = new Machine(cfg);
        current = machine;
        machine.watch = window.setInterval(function () {
            if (!machine.present()) {
                machine.stop();
            }
        }, WATCH_MS);
        document.documentElement.classList.add("tm-past");
        // the band's controls render with the store; bind once they are in the document
        window.setTimeout(function () {
            bind(machine);
            machine.step();
        }, 0);
        return cfg.start_ms;
    }

    window.cockpitTimeMachine = {
        // what a test or an operator may ask: the moment shown (epoch ms), frames applied and
        // the latest frames' moments with when each was asked and how long it took (log: the
        // moment shown, epoch ms; asked, this browser's clock, ms; took, ms)
        state: function () {
            return current ? {shownMs: current.shownMs, frames: current.frames,
                              playing: current.playing, ended: current.ended,
                              speed: current.speed, moment: current.moment(),
                              log: current.log.slice()} : null;
        }
    };
    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.timemachine = {start: start};
}());
