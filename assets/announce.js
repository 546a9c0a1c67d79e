/*
 * Announcements of the wall page (新警情播报): a tone by priority and the notice spoken with
 * the browser's speech synthesis, repeated until someone acknowledges it on a screen.
 *
 * - The queue (unacknowledged new-incident notices, priority first) arrives in the
 *   wall-announce-queue store; announce.banner keeps it and shows the first notice in the
 *   banner over the map, with the count of the others waiting.
 * - Every PUMP_MS the first notice not acknowledged here is announced when it never was, or
 *   when repeat_every_s passed since it last was: at most once per repeat period, and only
 *   while unacknowledged.
 * - A click on 确认 / 确认全部 silences the notice(s) at once (in the click event itself) and
 *   remembers them in localStorage, so that this screen never speaks them again (even after a
 *   reload, before the ingest has applied the acknowledgement); announce.acknowledge then hands
 *   them to the server callback that writes the notification.acknowledged events.
 * - Mute is per screen (localStorage): no tone, no speech; the banner still shows.
 * - Browsers refuse audio before a user gesture: a suspended AudioContext or a "not-allowed"
 *   speech error shows the 点击启用声音 control; any click on the page unlocks sound. Kiosk
 *   screens run Chromium with --autoplay-policy=no-user-gesture-required.
 * Nothing here is fed by a server output except the queue itself, so a hung server never holds
 * back a click's silence.
 */
(function () {
    "use strict";

    var KEYS = {muted: "cockpit.wall.muted", screen: "cockpit.wall.screen",
                acked: "cockpit.wall.acked"};
    var PUMP_MS = 500;
    // Acknowledged ids are remembered this long (longer than the queue's wall window).
    var ACK_KEEP_MS = 6 * 3600 * 1000;
    var ACK_KEEP_MAX = 2500;  // more than one 确认全部 sends (wall_ack.MAX_ACK_ALL)
    var BANNER_ID = "wall-announce";
    var SOUND_ID = "wall-sound";
    var ACK_ID = "wall-ack";
    var ACK_ALL_ID = "wall-ack-all";
    var ENABLE_ID = "wall-sound-enable";
    // [frequency Hz (0 = rest), seconds] per priority: critical a fast high triple beep twice,
    // urgent a falling two-tone, normal one soft chime; unknown priorities sound as normal.
    var TONES = {
        critical: {wave: "square", gain: 0.18, notes: [[988, 0.14], [0, 0.06], [988, 0.14],
            [0, 0.06], [988, 0.14], [0, 0.25], [988, 0.14], [0, 0.06], [988, 0.14], [0, 0.06],
            [988, 0.14]]},
        urgent: {wave: "triangle", gain: 0.3, notes: [[880, 0.25], [0, 0.08], [659, 0.25],
            [0, 0.08], [880, 0.25], [0, 0.08], [659, 0.25]]},
        normal: {wave: "sine", gain: 0.3, notes: [[659, 0.3], [0, 0.06], [523, 0.45]]}
    };
    var TONE_GAP_MS = 250;

    var state = {
        queue: null, config: {}, acked: {}, unsent: {}, spokenAt: {}, lastDone: null,
        audio: null, oscillators: [], pendingSpeech: null, utterance: null, blocked: false,
        muted: false, timer: null, pendingAcks: [], pendingAll: false
    };

    function storageGet(key) {
        try {
            return window.localStorage.getItem(key);
        } catch (err) {
            return null;
        }
    }

    function storageSet(key, value) {
        try {
            window.localStorage.setItem(key, value);
        } catch (err) {
            // storage may be full or disabled: the screen still works for this page's life
        }
    }

    function loadAcked() {
        var now = Date.now();
        var kept = {};
        try {
            var saved = JSON.parse(storageGet(KEYS.acked) || "{}");
            Object.keys(saved).forEach(function (id) {
                if (typeof saved[id] === "number" && now - saved[id] < ACK_KEEP_MS) {
                    kept[id] = saved[id];
                }
            });
        } catch (err) {
            kept = {};
        }
        return kept;
    }

    function saveAcked() {
        var ids = Object.keys(state.acked).sort(function (a, b) {
            return state.acked[b] - state.acked[a];
        }).slice(0, ACK_KEEP_MAX);
        var out = {};
        ids.forEach(function (id) { out[id] = state.acked[id]; });
        state.acked = out;
        storageSet(KEYS.acked, JSON.stringify(out));
    }

    function screenId(config) {
        if (config && config.screen) {
            return String(config.screen);
        }
        var id = storageGet(KEYS.screen);
        if (!id) {
            id = "screen-" + Math.random().toString(16).slice(2, 10);
            storageSet(KEYS.screen, id);
        }
        return id;
    }

    function setRootClass() {
        var root = document.documentElement;
        root.classList.toggle("sound-muted", state.muted);
        root.classList.toggle("sound-blocked", state.blocked && !state.muted);
    }

    function setBlocked(blocked) {
        if (state.blocked !== blocked) {
            state.blocked = blocked;
            setRootClass();
        }
    }

    // -- the queue ---------------------------------------------------------------------------
    function items() {
        return (state.queue && Array.isArray(state.queue.items)) ? state.queue.items : [];
    }

    // Notices the banner shows: not acknowledged here, or acknowledged but not recorded.
    function shown() {
        return items().filter(function (n) { return !state.acked[n.id] || state.unsent[n.id]; });
    }

    // Notices to announce: never one acknowledged on this screen.
    function speakable() {
        return items().filter(function (n) { return !state.acked[n.id]; });
    }

    // A page left open for weeks keeps no trace of notices that left the queue (the
    // acknowledged ids are kept apart, bounded by age and count).
    function forgetLeft() {
        var queued = {};
        items().forEach(function (n) { queued[n.id] = true; });
        [state.spokenAt, state.unsent].forEach(function (map) {
            Object.keys(map).forEach(function (id) {
                if (!queued[id]) {
                    delete map[id];
                }
            });
        });
    }

    // -- sound -------------------------------------------------------------------------------
    function audioContext() {
        if (state.audio === null) {
            var Ctx = window.AudioContext || window.webkitAudioContext;
            if (!Ctx) {
                return null;
            }
            try {
                state.audio = new Ctx();
                state.audio.onstatechange = function () {
                    if (state.audio.state === "running") {
                        setBlocked(false);
                    }
                };
            } catch (err) {
                return null;
            }
        }
        return state.audio;
    }

    // Play the priority's pattern; returns its length in ms (0 when audio is not allowed).
    function playTone(priority) {
        var ctx = audioContext();
        if (!ctx) {
            return 0;
        }
        if (ctx.state !== "running") {
            setBlocked(true);
            ctx.resume().catch(function () { return null; });
            return 0;
        }
        var tone = TONES[priority] || TONES.normal;
        var at = ctx.currentTime + 0.02;
        var start = at;
        tone.notes.forEach(function (note) {
            var freq = note[0];
            var length = note[1];
            if (freq > 0) {
                var osc = ctx.createOscillator();
                var gain = ctx.createGain();
                osc.type = tone.wave;
                osc.frequency.setValueAtTime(freq, at);
                gain.gain.setValueAtTime(0, at);
                gain.gain.linearRampToValueAtTime(tone.gain, at + 0.01);
                gain.gain.setValueAtTime(tone.gain, at + Math.max(length - 0.03, 0.01));
                gain.gain.linearRampToValueAtTime(0, at + length);
                osc.connect(gain);
                gain.connect(ctx.destination);
                osc.onended = function () {
                    state.oscillators = state.oscillators.filter(function (o) { return o !== osc; });
                };
                osc.start(at);
                osc.stop(at + length);
                state.oscillators.push(osc);
            }
            at += length;
        });
        return Math.round((at - start) * 1000) + TONE_GAP_MS;
    }

    function speech() {
        return window.speechSynthesis && typeof window.SpeechSynthesisUtterance === "function"
            ? window.speechSynthesis : null;
    }

    function pickVoice(synth, lang) {
        var voices = synth.getVoices ? synth.getVoices() : [];
        var exact = voices.filter(function (v) { return v.lang === lang; });
        if (exact.length) {
            return exact[0];
        }
        var prefix = lang.split("-")[0];
        var near = voices.filter(function (v) { return (v.lang || "").indexOf(prefix) === 0; });
        return near.length ? near[0] : null;
    }

    function speak(notice) {
        var synth = speech();
        if (!synth || !notice.text) {
            return;
        }
        var lang = state.config.speech_lang || "zh-CN";
        var utterance = new window.SpeechSynthesisUtterance(notice.text);
        utterance.lang = lang;
        utterance.rate = 0.95;
        var voice = pickVoice(synth, lang);
        if (voice) {
            utterance.voice = voice;
        }
        utterance.onerror = function (event) {
            if (event && event.error === "not-allowed") {
                setBlocked(true);
            }
        };
        utterance.onend = function () {
            if (state.utterance && state.utterance.utterance === utterance) {
                state.utterance = null;
            }
        };
        state.utterance = {id: notice.id, utterance: utterance};
        synth.speak(utterance);
    }

    // Stop what is sounding now (speech, tone, a speech waiting for its tone to end).
    function silence() {
        if (state.pendingSpeech !== null) {
            window.clearTimeout(state.pendingSpeech);
            state.pendingSpeech = null;
        }
        state.oscillators.forEach(function (osc) {
            try {
                osc.stop();
            } catch (err) {
                // already stopped
            }
        });
        state.oscillators = [];
        var synth = speech();
        if (synth && state.utterance !== null) {
            synth.cancel();
        }
        state.utterance = null;
    }

    function announce(notice) {
        state.spokenAt[notice.id] = Date.now();
        var wait = playTone(notice.priority);
        state.pendingSpeech = window.setTimeout(function () {
            state.pendingSpeech = null;
            // acknowledged or muted while the tone played: say nothing
            if (!state.muted && !state.acked[notice.id] && document.getElementById(BANNER_ID)) {
                state.spokenAt[notice.id] = Date.now();  // the period runs from the words
                speak(notice);
            }
        }, wait);
    }

    function pump() {
        if (!document.getElementById(BANNER_ID) || state.muted) {
            return;  // not on the wall page, or this screen is muted
        }
        var first = speakable()[0];
        if (!first || state.pendingSpeech !== null) {
            return;
        }
        var period = Number(state.queue && state.queue.repeat_every_s) * 1000;
        var last = state.spokenAt[first.id];
        if (last !== undefined && (!(period > 0) || Date.now() - last < period)) {
            return;
        }
        var synth = speech();
        if (synth && (synth.speaking || synth.pending)) {
            return;  // a previous announcement is still being spoken; wait for it
        }
        announce(first);
    }

    function startPump() {
        if (state.timer === null) {
            state.timer = window.setInterval(pump, PUMP_MS);
        }
    }

    // -- user gestures -----------------------------------------------------------------------
    function unlock() {
        var ctx = state.audio;
        if (ctx && ctx.state !== "running") {
            ctx.resume().catch(function () { return null; });
        }
    }

    function toggleMute() {
        state.muted = !state.muted;
        storageSet(KEYS.muted, state.muted ? "1" : "0");
        if (state.muted) {
            silence();
        }
        setRootClass();
    }

    function enableSound() {
        var ctx = audioContext();
        if (ctx) {
            ctx.resume().catch(function () { return null; });
        }
        setBlocked(false);
        var first = speakable()[0];
        if (first) {
            delete state.spokenAt[first.id];  // announce it now that sound is allowed
        }
        pump();
    }

    // The notice(s) a click acknowledges: the one shown, or all that are shown.
    function chosen(all) {
        var list = shown();
        return (all ? list : list.slice(0, 1)).map(function (n) { return n.id; });
    }

    // Silence at once, in the click itself: a timer may not speak between the click and the
    // Dash callback that sends the acknowledgement.
    function acknowledgeNow(ids) {
        var now = Date.now();
        ids.forEach(function (id) {
            state.acked[id] = now;
            delete state.unsent[id];
        });
        saveAcked();
        silence();
        state.pendingAcks = state.pendingAcks.concat(ids);
    }

    function onClick(event) {
        var target = event.target;
        if (!target || !target.closest) {
            return;
        }
        var ack = target.closest("#" + ACK_ID + ", #" + ACK_ALL_ID);
        if (ack) {
            // 确认全部 means every queued notice, also those beyond what this screen holds
            state.pendingAll = state.pendingAll || ack.id === ACK_ALL_ID;
            acknowledgeNow(chosen(ack.id === ACK_ALL_ID));
        } else if (target.closest("#" + SOUND_ID)) {
            toggleMute();
        } else if (target.closest("#" + ENABLE_ID)) {
            enableSound();
        }
    }

    // -- Dash clientside callbacks -----------------------------------------------------------
    function fill(template, n) {
        return String(template || "").replace("{n}", String(n));
    }

    function banner(queue, request, done, config) {
        state.config = config || {};
        if (queue !== undefined && queue !== null && queue !== state.queue) {
            state.queue = queue;
            forgetLeft();
        }
        if (done && done.nonce && done.nonce !== state.lastDone) {
            state.lastDone = done.nonce;
            (done.failed || []).forEach(function (id) { state.unsent[id] = true; });
            if (done.all) {
                // 确认全部 acknowledged queued notices this screen had not received yet: they
                // are silent here from now on, before the ingest has recorded them
                var now = Date.now();
                (done.sent || []).forEach(function (id) {
                    if (!state.acked[id]) {
                        state.acked[id] = now;
                    }
                });
                saveAcked();
            }
        }
        startPump();
        var texts = state.config.announce_texts || {};
        var list = shown();
        var first = list[0];
        if (!first) {
            return ["announce announce-hidden", "", "announce-priority", "", "", ""];
        }
        var total = Number(state.queue && state.queue.total) || 0;
        var hiddenHere = items().length - list.length;
        var others = Math.max(0, total - hiddenHere - 1);
        var priority = String(first.priority || "normal");
        var failed = Object.keys(state.unsent).length > 0;
        window.setTimeout(pump, 0);
        var kind = first.kind === "alert" ? " announce-kind-alert" : "";
        return ["announce announce-" + priority + kind, first.priority_label || "",
                "announce-priority prio-" + priority, first.text || "",
                others > 0 ? fill(texts.gw_announce_more, others) : "",
                failed ? (texts.gw_ack_failed || "") : ""];
    }

    // Hand the acknowledged ids (every click since the last call: Dash may merge quick clicks
    // into one call) to the server callback that records them.
    function acknowledge(nOne, nAll, config) {
        var ids = state.pendingAcks;
        var all = state.pendingAll;
        state.pendingAcks = [];
        state.pendingAll = false;
        if (!ids.length) {
            var ctx = window.dash_clientside.callback_context;
            var trigger = ctx && ctx.triggered && ctx.triggered[0] ? ctx.triggered[0].prop_id : "";
            all = trigger.indexOf(ACK_ALL_ID + ".") === 0;
            ids = chosen(all);
            if (!ids.length) {
                return window.dash_clientside.no_update;
            }
            acknowledgeNow(ids);
            state.pendingAcks = [];
        }
        return {ids: ids, all: all, by: screenId(config),
                nonce: Date.now() + "-" + Math.random().toString(16).slice(2)};
    }

    state.acked = loadAcked();
    state.muted = storageGet(KEYS.muted) === "1";
    setRootClass();
    document.addEventListener("click", onClick, true);
    // any gesture on the page lets the browser start audio
    document.addEventListener("pointerdown", unlock, true);
    document.addEventListener("keydown", unlock, true);

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        announce: {banner: banner, acknowledge: acknowledge}
    });
}());
