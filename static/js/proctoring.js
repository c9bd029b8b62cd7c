// The exam page's proctoring controls, each as the exam's settings ask (state.proctoring, issue 25): a faint
// watermark naming the candidate and the time, full screen with its leaves counted, a warning after a spell of no
// input, and camera snapshots. They ride on exam.js (window.QualExam) for its requests, events, banner and the end
// of the attempt, and none of them stands in the way of saving answers. Plain ES5 like exam.js; no inline script.
(function () {
  "use strict";

  var Q = window.QualExam;
  if (!Q || !Q.state.proctoring) return;
  var P = Q.state.proctoring;
  var M = Q.state.messages;

  function $(id) {
    return document.getElementById(id);
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return values[name] === undefined ? all : values[name]; });
  }

  function whenReady(callback) {
    // Events and uploads are taken once the page holds the attempt (exam.js claims it on load).
    (function wait(tries) {
      if (Q.ended()) return;
      if (Q.ready()) return callback();
      if (tries < 120) setTimeout(function () { wait(tries + 1); }, 500);
    })(0);
  }

  // ------------------------------------------------------------ the watermark: who, and when (Beijing time)

  var SVG = "http://www.w3.org/2000/svg";

  function svg(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function beijing() {
    // The server's clock (the browser's may be wrong, or set back), in the district's time (UTC+8, no DST).
    var at = new Date(Q.serverNow() + 8 * 3600 * 1000);
    return pad(at.getUTCHours()) + ":" + pad(at.getUTCMinutes());
  }

  function textWidth(text, size) {
    // Wide enough for the label in any font: a CJK character takes a full em, anything else about 0.62.
    var em = 0;
    for (var i = 0; i < text.length; i++) em += text.charCodeAt(i) > 0x2e80 ? 1 : 0.62;
    return Math.ceil(em * size);
  }

  function watermark(label) {
    // One inline SVG pattern of the label over the whole viewport, rotated, in a brick layout: a screenshot or a
    // photo of any part of the screen carries it. No data: URL (the CSP keeps images to the site's own).
    var overlay = document.createElement("div");
    overlay.id = "watermark";
    overlay.className = "watermark";
    overlay.setAttribute("aria-hidden", "true");
    document.body.appendChild(overlay);
    var phone = window.matchMedia ? window.matchMedia("(max-width: 720px)") : { matches: false };
    var shown = "";

    function text() {
      return label + " " + beijing();
    }

    function build() {
      shown = text();
      var size = phone.matches ? 11 : 15;
      var width = textWidth(label + " 00:00", size) + (phone.matches ? 36 : 72);
      var height = phone.matches ? 84 : 120;
      var root = svg("svg", { width: "100%", height: "100%" });
      var pattern = svg("pattern", {
        id: "watermark-tile", patternUnits: "userSpaceOnUse", width: width, height: height,
        patternTransform: "rotate(-24)"
      });
      // Row one at the tile's start; row two half a tile along, its text wrapping round to the tile's left edge.
      [[0, 0.3], [width / 2, 0.8], [-width / 2, 0.8]].forEach(function (at) {
        var node = svg("text", { x: at[0], y: Math.round(height * at[1]), "font-size": size });
        node.setAttribute("class", "watermark-text");
        node.textContent = shown;
        pattern.appendChild(node);
      });
      var defs = svg("defs");
      defs.appendChild(pattern);
      root.appendChild(defs);
      root.appendChild(svg("rect", { width: "100%", height: "100%", fill: "url(#watermark-tile)" }));
      overlay.textContent = "";
      overlay.appendChild(root);
    }

    function update() {
      var now = text();
      if (now === shown) return;
      shown = now;
      Array.prototype.forEach.call(overlay.querySelectorAll(".watermark-text"), function (node) { node.textContent = now; });
    }

    function nextMinute() {
      // At each turn of the minute (a little after it), and every 15 s besides should the clock's offset move.
      setTimeout(function () { update(); nextMinute(); }, 60000 - (Q.serverNow() % 60000) + 250);
    }

    build();
    nextMinute();
    setInterval(update, 15000);
    if (phone.addEventListener) phone.addEventListener("change", build);
  }

  if (P.watermark) watermark(P.watermark.label);

  // ------------------------------------------------------------ camera snapshots

  var S = P.snapshots;
  var video = null;
  var cameraState = $("camera-state");
  var cameraDown = false;

  function showCamera(on) {
    if (!cameraState) return;
    cameraState.hidden = false;
    cameraState.setAttribute("data-state", on ? "on" : "off");
    cameraState.textContent = on ? M.cameraOn : M.cameraOff;
  }

  function cameraOff(reason) {
    showCamera(false);
    if (cameraDown) return; // said once
    cameraDown = true;
    whenReady(function () { Q.report("camera_off", { reason: reason }); });
  }

  function snapshot(reason) {
    // 320×240 JPEG at quality 0.6 (a few tens of KB), sent beside the answers, never in their queue. The server
    // takes one every 5 s at most: one refused for that goes again once, later; one lost offline is not sent again.
    if (!video || cameraDown || Q.ended() || video.readyState < 2) return;
    var canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 240;
    canvas.getContext("2d").drawImage(video, 0, 0, 320, 240);
    var image = canvas.toDataURL("image/jpeg", 0.6);
    whenReady(function () { upload(reason, image, true); });
  }

  function upload(reason, image, again) {
    if (Q.ended()) return;
    Q.request("POST", S.url, { reason: reason, image: image }).then(function (result) {
      if (result.response.status === 429 && again) setTimeout(function () { upload(reason, image, false); }, 6000);
    }, function () { /* offline: lost */ });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return cameraOff("unavailable");
    navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false }).then(function (stream) {
      video = document.createElement("video");
      video.className = "camera-video";
      video.muted = true;
      video.setAttribute("playsinline", "");
      video.setAttribute("aria-hidden", "true");
      video.srcObject = stream;
      document.body.appendChild(video);
      stream.getVideoTracks().forEach(function (track) {
        track.addEventListener("ended", function () { cameraOff("ended"); });
      });
      var started = false;
      var begin = function () {
        if (started) return;
        started = true;
        showCamera(true);
        snapshot("start");
        setInterval(function () { snapshot("interval"); }, Math.max(10, S.everySeconds) * 1000);
      };
      video.addEventListener("loadeddata", begin);
      var playing = video.play();
      if (playing && playing.then) playing.then(null, function () { /* muted inline video: plays anyway */ });
      if (video.readyState >= 2) begin();
    }, function (error) {
      var name = error && error.name;
      cameraOff(name === "NotAllowedError" || name === "SecurityError" ? "refused" : "unavailable");
    });
  }

  if (S && S.camera) {
    showCamera(false);
    startCamera();
    Q.onFocusLoss(function () { snapshot("focus"); });
  } else if (S) {
    showCamera(false); // no consent, or no camera at the start: the exam runs without photos (and the server knows)
  }

  // ------------------------------------------------------------ full screen

  var F = P.fullscreen;
  var rootNode = document.documentElement;
  var canFull = !!(rootNode.requestFullscreen || rootNode.webkitRequestFullscreen) && document.fullscreenEnabled !== false;

  function isFull() {
    return !!(document.fullscreenElement || document.webkitFullscreenElement);
  }

  if (F && canFull) {
    // (A browser without full screen, an iPhone's say, is not shut out of its exam: the paper runs as it is.)
    var gate = $("fullscreen-gate");
    var exits = F.exits || 0;
    var limit = F.limit;
    var leftAt = null; // when the page left full screen
    var counted = false; // that leave was longer than the grace and reported
    var graceTimer = null;

    var countText = function () {
      if (!exits) return limit ? fill(M.fullscreenLimit, { m: limit }) : "";
      var text = fill(M.fullscreenExits, { n: exits });
      return limit ? text + " " + fill(M.focusLimit, { m: limit }) : text;
    };

    var showGate = function () {
      var count = $("fullscreen-count");
      count.textContent = countText();
      count.hidden = !exits && !limit;
      gate.hidden = false;
      $("fullscreen-enter").focus();
    };

    $("fullscreen-enter").addEventListener("click", function () {
      var error = $("fullscreen-error");
      error.hidden = true;
      var asked = rootNode.requestFullscreen ? rootNode.requestFullscreen() : rootNode.webkitRequestFullscreen();
      if (asked && asked.then) {
        asked.then(null, function () {
          error.textContent = M.fullscreenFailed;
          error.hidden = false;
        });
      }
    });

    var leave = function () {
      leftAt = Date.now();
      counted = false;
      clearTimeout(graceTimer);
      graceTimer = setTimeout(function () {
        // Still out after the grace: counted on the server (the limit may submit the paper), with a snapshot.
        graceTimer = null;
        if (isFull() || Q.ended()) return;
        counted = true;
        Q.report("fullscreen_exit", {}, function (data) {
          if (typeof data.fullscreen_exits === "number") exits = data.fullscreen_exits;
          if (data.fullscreen_limit !== undefined) limit = data.fullscreen_limit;
          Q.showBanner(countText());
          if (!gate.hidden) showGate();
        });
        snapshot("fullscreen");
      }, Math.max(0, F.graceSeconds) * 1000);
    };

    var back = function () {
      clearTimeout(graceTimer);
      graceTimer = null;
      if (counted && leftAt !== null) Q.report("fullscreen_back", { seconds: Math.round((Date.now() - leftAt) / 1000) });
      counted = false;
      leftAt = null;
    };

    var changed = function () {
      if (Q.ended()) return;
      if (isFull()) {
        gate.hidden = true;
        back();
      } else {
        showGate();
        leave();
      }
    };

    document.addEventListener("fullscreenchange", changed);
    document.addEventListener("webkitfullscreenchange", changed);
    if (!isFull()) showGate(); // full screen needs a click of the candidate's: the gate asks for it
  }

  // ------------------------------------------------------------ inactivity

  var I = P.inactivity;
  if (I) {
    var warning = $("inactivity-warning");
    var countdown = $("inactivity-countdown");
    var lastInput = Date.now();
    var warnUntil = null; // the countdown's end while the warning shows
    var reporting = false;

    $("inactivity-then-submit").hidden = !I.submit;
    $("inactivity-then-record").hidden = !!I.submit;

    var dismiss = function () {
      warnUntil = null;
      warning.hidden = true;
    };

    var active = function () {
      lastInput = Date.now();
      if (warnUntil !== null && !reporting) dismiss();
    };

    ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "input", "scroll"].forEach(function (type) {
      document.addEventListener(type, active, { capture: true, passive: true });
    });

    var expire = function (now) {
      // The whole countdown without input: recorded, and the paper submitted when the exam says so.
      reporting = true;
      Q.report("inactive", { seconds: Math.round((now - lastInput) / 1000) }, function (data) {
        reporting = false;
        if (data.status === "in_progress") {
          dismiss();
          lastInput = Date.now();
        }
      });
      // Without submission the candidate goes on at once; with it, the server's answer is awaited (unless it
      // never comes: offline, the page then goes on too).
      setTimeout(function () {
        if (!reporting || Q.ended()) return;
        reporting = false;
        dismiss();
        lastInput = Date.now();
      }, I.submit ? 15000 : 0);
    };

    var check = function () {
      var now = Date.now();
      if (Q.ended() || reporting) return;
      if (Q.paused()) {
        lastInput = now; // waiting for the proctor is no inactivity
        return;
      }
      if (warnUntil === null) {
        if (now - lastInput < I.seconds * 1000) return;
        warnUntil = now + I.warningSeconds * 1000;
        warning.hidden = false;
      }
      var left = Math.max(0, Math.ceil((warnUntil - now) / 1000));
      countdown.textContent = left;
      if (left <= 0) expire(now);
    };

    setInterval(check, 1000);
  }
})();
