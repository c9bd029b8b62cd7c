// The exam page: a countdown to the server's deadline, autosave of every answer through the JSON API with an
// offline queue in localStorage, a question navigator with flags, integrity signals, and submission (by the
// candidate, or by itself at the deadline). Plain ES2015 for the browsers of ordinary office PCs and phones; no
// inline script anywhere (the page's state comes in a JSON block, the CSP forbids inline code).
(function () {
  "use strict";

  var root = document.getElementById("exam");
  var stateNode = document.getElementById("exam-state");
  if (!root || !stateNode) return;

  var state = JSON.parse(stateNode.textContent);
  var M = state.messages;
  var offset = Date.parse(state.serverTime) - Date.now(); // add to the browser's clock to get the server's
  var GRACE = state.graceSeconds * 1000; // saves are still taken this long after the deadline
  var api = state.api; // /api/v1/attempts/<id>
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var paper = document.getElementById("paper");
  var KEY = "qe-" + state.attempt + "-";
  var blocks = {};
  Array.prototype.forEach.call(paper.querySelectorAll(".question-block"), function (block) {
    blocks[block.getAttribute("data-pos")] = block;
  });

  // ------------------------------------------------------------ local storage (best effort: private mode may refuse)

  function load(name, fallback) {
    try {
      var raw = window.localStorage.getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function store(name, value) {
    try {
      window.localStorage.setItem(KEY + name, JSON.stringify(value));
    } catch (e) {
      /* full or refused: the in-memory queue still works while the page stays open */
    }
  }

  function pageId() {
    // One id per tab, kept across reloads of that tab (sessionStorage), so a reload takes nothing over. A tab
    // duplicated from this one inherits its sessionStorage: a heartbeat in localStorage tells it that the id is
    // in use by a live page, and it takes an id of its own (and with it the attempt).
    var name = KEY + "page";
    var id = null;
    try {
      id = window.sessionStorage.getItem(name);
    } catch (e) {
      id = null;
    }
    var beat = id ? load("beat-" + id, 0) : 0;
    if (!id || (beat && Date.now() - beat < 5000)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try {
        window.sessionStorage.setItem(name, id);
      } catch (e) {
        /* no sessionStorage: a reload then counts as another page */
      }
    }
    store("beat-" + id, Date.now());
    setInterval(function () { store("beat-" + id, Date.now()); }, 2000);
    window.addEventListener("pagehide", function () {
      try {
        window.localStorage.removeItem(KEY + "beat-" + id);
      } catch (e) {
        /* nothing to clean */
      }
    });
    return id;
  }

  var client = pageId();

  // ------------------------------------------------------------ answers in the form

  function inputs(block) {
    return block.querySelectorAll("input:not(.flag), textarea");
  }

  function readValue(block) {
    var type = block.getAttribute("data-type");
    var fields = inputs(block);
    var i;
    if (type === "single" || type === "truefalse") {
      for (i = 0; i < fields.length; i++) {
        if (fields[i].checked) {
          return type === "single" ? parseInt(fields[i].value, 10) : fields[i].value === "true";
        }
      }
      return null;
    }
    if (type === "multiple") {
      var chosen = [];
      for (i = 0; i < fields.length; i++) {
        if (fields[i].checked) chosen.push(parseInt(fields[i].value, 10));
      }
      return chosen;
    }
    if (type === "fill") {
      return Array.prototype.map.call(fields, function (f) { return f.value; });
    }
    return fields.length ? fields[0].value : "";
  }

  function writeValue(block, value) {
    var type = block.getAttribute("data-type");
    var fields = inputs(block);
    Array.prototype.forEach.call(fields, function (f, i) {
      if (type === "single") f.checked = value !== null && parseInt(f.value, 10) === value;
      else if (type === "truefalse") f.checked = value !== null && (f.value === "true") === value;
      else if (type === "multiple") f.checked = Array.isArray(value) && value.indexOf(parseInt(f.value, 10)) >= 0;
      else if (type === "fill") f.value = Array.isArray(value) && value[i] != null ? value[i] : "";
      else f.value = value || "";
    });
  }

  function given(value) {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.length > 0;
    if (typeof value === "string") return value.trim() !== "";
    return true;
  }

  function progress(pos) {
    // "answered", "partial" (a fill-in question with a blank left empty) or "unanswered": as the server counts
    // it (QuestionType.progress in question_bank/types.py), so the page and the result page agree.
    var value = readValue(blocks[pos]);
    if (blocks[pos].getAttribute("data-type") !== "fill") return given(value) ? "answered" : "unanswered";
    var filled = value.filter(given).length;
    var blanks = Math.max(parseInt(blocks[pos].getAttribute("data-blanks"), 10) || 0, value.length);
    return !filled ? "unanswered" : filled >= blanks ? "answered" : "partial";
  }

  // ------------------------------------------------------------ the navigator, flags and per-question state

  var flags = load("flags", {});
  var status = {}; // position -> saved | saving | queued | error
  var progressOf = {}; // position -> answered | partial | unanswered

  function updateNav(pos) {
    var link = root.querySelector('.nav-item[data-pos="' + pos + '"]');
    if (!link) return;
    var state = (progressOf[pos] = progress(pos));
    link.classList.toggle("answered", state === "answered");
    link.classList.toggle("partial", state === "partial");
    link.classList.toggle("flagged", !!flags[pos]);
    link.classList.toggle("error", status[pos] === "error");
    link.setAttribute("data-state", state);
    updateCounts();
  }

  function updateCounts() {
    // The bar's "answered n/N" counts whole answers only; partly answered ones are shown beside it.
    var all = Object.keys(blocks);
    var count = function (state) { return all.filter(function (p) { return progressOf[p] === state; }).length; };
    var partial = count("partial");
    document.getElementById("answered-count").textContent = M.answeredCount
      .replace("{n}", count("answered")).replace("{total}", all.length);
    var node = document.getElementById("partial-count");
    node.textContent = M.partialCount.replace("{m}", partial);
    node.hidden = !partial;
  }

  function setStatus(pos, value, message) {
    status[pos] = value;
    var node = root.querySelector('.q-state[data-pos="' + pos + '"]');
    if (node) {
      node.setAttribute("data-state", value);
      node.textContent = message || M[value] || "";
    }
    updateNav(pos);
    updateOverall();
  }

  Array.prototype.forEach.call(paper.querySelectorAll(".flag"), function (box) {
    var pos = box.getAttribute("data-pos");
    box.checked = !!flags[pos];
    box.addEventListener("change", function () {
      if (box.checked) flags[pos] = true;
      else delete flags[pos];
      store("flags", flags);
      updateNav(pos);
    });
  });

  // ------------------------------------------------------------ saving: a queue sent in order, kept in localStorage

  // [{pos, value, seq, at}], oldest first: what the server has not acknowledged yet (`at`: the server's time of
  // the edit, to tell, after a take-over, which of two devices answered last).
  var queue = load("queue", []);
  var seq = load("seq", 0);
  var online = true;
  var downState = "offline"; // why saves wait: "offline" (no network) or "unavailable" (the server said 503)
  var inFlight = null; // the entry being sent (one at a time, in order)
  var halted = false; // taken over by another page, or refused for good: nothing more is sent from this one
  var leaving = false; // the attempt has ended: on the way to the result
  var submitting = false;
  var claimed = false; // writes wait until this page holds the attempt (see claim below)
  var authLost = false; // the login or its CSRF token expired: waiting for a new one (see refreshToken)
  var timers = {}; // position -> the debounce timer of an edit still being typed
  // A proctor holds the clock (exam.adjustments.pause): saves and submits are refused with "paused" meanwhile, so
  // they stay queued here and go out once the page learns (at its next sync) that the clock runs again.
  var paused = false;
  var pausedLeft = 0; // the time left, frozen while paused (ms)

  function showServer(answers) {
    Object.keys(answers).forEach(function (pos) {
      seq = Math.max(seq, answers[pos].seq);
      if (blocks[pos] && !timers[pos] && !queue.some(function (e) { return e.pos === pos; })) {
        writeValue(blocks[pos], answers[pos].value);
        setStatus(pos, "saved");
      }
    });
    store("seq", seq);
  }

  function reconcile(answers) {
    // Keep a queued edit unless the server holds a later save of the question (from another device, say).
    queue = queue.filter(function (entry) {
      var saved = answers[entry.pos];
      return blocks[entry.pos] && !(saved && Date.parse(saved.saved_at) >= (entry.at || 0));
    });
    store("queue", queue);
    showServer(answers);
    queue.forEach(function (entry) {
      seq = Math.max(seq, entry.seq);
      writeValue(blocks[entry.pos], entry.value);
      setStatus(entry.pos, "queued");
    });
  }

  reconcile(state.answers);
  Object.keys(blocks).forEach(updateNav);

  function nextSeq() {
    seq += 1;
    store("seq", seq);
    return seq;
  }

  function serverNow() {
    return Date.now() + offset;
  }

  function updateOverall() {
    var node = document.getElementById("save-state");
    var errors = Object.keys(status).filter(function (p) { return status[p] === "error"; });
    var busy = queue.length || Object.keys(timers).length; // an edit still being typed is not saved yet either
    var name = !online && busy ? downState : paused && busy ? "queued" : busy ? "saving" : errors.length ? "error" : "saved";
    node.setAttribute("data-state", name);
    node.textContent = M[name];
  }

  function forget(entry) {
    queue = queue.filter(function (e) { return e !== entry; });
    store("queue", queue);
  }

  function enqueue(pos) {
    clearTimeout(timers[pos]);
    delete timers[pos];
    if (halted || leaving) return;
    var entry = { pos: pos, value: readValue(blocks[pos]), seq: nextSeq(), at: serverNow() };
    // The newest answer of a question is enough, but the one on its way stays: its reply must find it.
    queue = queue.filter(function (e) { return e === inFlight || e.pos !== pos; });
    queue.push(entry);
    store("queue", queue);
    setStatus(pos, online && !paused ? "saving" : "queued");
    pump();
  }

  function request(method, url, body) {
    var headers = { "Content-Type": "application/json", "X-CSRFToken": csrf, "X-Exam-Client": client };
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(
        function (data) { return { response: response, data: data }; },
        function () { return { response: response, data: null }; }
      );
    });
  }

  function errorCode(result) {
    return result.data && result.data.error ? result.data.error.code : String(result.response.status);
  }

  function retryable(result) {
    // A server error, a rate limit, or a success that is not our API's answer (a proxy's or a portal's page).
    return result.response.status >= 500 || result.response.status === 429 || (result.response.ok && !result.data);
  }

  function needsLogin(result) {
    var code = errorCode(result);
    return code === "csrf" || code === "401" || code === "password_change_required";
  }

  var retryTimer = null;

  function goOffline(result) {
    // No answer, or a retryable one: the queue waits on this computer and goes again. A 503 (the server's
    // database is briefly down) says when to try again; the page waits that long, between 2 and 30 seconds.
    var unavailable = result && result.response && result.response.status === 503;
    var after = unavailable ? parseInt(result.response.headers.get("Retry-After"), 10) : NaN;
    online = false;
    downState = unavailable ? "unavailable" : "offline";
    queue.forEach(function (e) { setStatus(e.pos, "queued"); });
    updateOverall();
    var wait = isNaN(after) ? 4000 : Math.min(Math.max(after, 2), 30) * 1000;
    if (!retryTimer) retryTimer = setTimeout(function () { retryTimer = null; pump(); }, wait);
  }

  function refreshToken() {
    // After a new login (in another tab) this page's CSRF token is stale: read the new one from the page itself.
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      return response.text().then(function (html) {
        var match = html.match(/name="csrf-token" content="([^"]+)"/);
        if (response.ok && !response.redirected && match) {
          csrf = match[1];
          authLost = false;
          document.getElementById("banner").hidden = true;
          pump();
        } else {
          setTimeout(refreshToken, 10000);
        }
      });
    }, function () { setTimeout(refreshToken, 10000); });
  }

  function loginExpired() {
    if (authLost) return;
    authLost = true;
    online = false;
    updateOverall();
    showBanner(M.relogin); // the answers stay queued on this computer
    refreshToken();
  }

  function pump() {
    if (!claimed) {
      claim();
      return;
    }
    if (inFlight || halted || leaving || authLost || retryTimer || paused || !queue.length) {
      // (retryTimer: the server asked to wait, or the network is down; the timer sends the queue again)
      updateOverall();
      return;
    }
    var entry = queue[0];
    inFlight = entry;
    request("PUT", api + "/answers/" + entry.pos, { value: entry.value, seq: entry.seq }).then(function (result) {
      inFlight = null;
      if (result.response.ok && result.data && typeof result.data.seq === "number") {
        online = true;
        forget(entry);
        if (!result.data.accepted) {
          // The server holds a save of this question with a higher number (this page's counter was behind):
          // what this page shows goes again, numbered above it, unless a newer edit is already queued.
          seq = Math.max(seq, result.data.seq);
          if (!queue.some(function (e) { return e.pos === entry.pos; })) {
            queue.push({ pos: entry.pos, value: entry.value, seq: nextSeq(), at: entry.at });
            store("queue", queue);
          }
        } else if (!queue.some(function (e) { return e.pos === entry.pos; })) {
          setStatus(entry.pos, "saved");
        }
        pump();
        return;
      }
      if (retryable(result)) {
        goOffline(result);
        return;
      }
      if (needsLogin(result)) {
        loginExpired();
        return;
      }
      var code = errorCode(result);
      if (code === "taken_over") return takenOver();
      if (code === "paused") {
        // Not an error: the answer waits here (never dropped) and goes out once the clock runs again.
        setStatus(entry.pos, "queued", M.pausedSaving);
        setPaused(true, null);
        return;
      }
      if (code === "seq_reused" && !entry.renumbered) {
        // Another writer (a script with this login) saved another answer under this number: what this page shows
        // goes again once, numbered above it. A second refusal is shown below, never sent round and round.
        forget(entry);
        if (!queue.some(function (e) { return e.pos === entry.pos; })) {
          queue.push({ pos: entry.pos, value: entry.value, seq: nextSeq(), at: entry.at, renumbered: true });
          store("queue", queue);
        }
        pump();
        return;
      }
      // Refused for good (after the deadline, or an answer that does not fit): said plainly, never dropped silently.
      forget(entry);
      var message = code === "deadline_passed" ? M.deadline : result.data && result.data.error ? result.data.error.message : M.error;
      setStatus(entry.pos, "error", message);
      showBanner(message);
      if (code === "deadline_passed" || code === "attempt_ended") {
        halted = true; // say so for a moment, then show the result (the attempt is over on the server)
        setTimeout(function () { halted = false; finish(); }, 4000);
        return;
      }
      pump();
    }, function () {
      inFlight = null;
      goOffline();
    });
  }

  paper.addEventListener("submit", function (event) { event.preventDefault(); });

  function blockOf(target) {
    return target.closest ? target.closest(".question-block") : null;
  }

  function typed(target) {
    return target.tagName === "TEXTAREA" || target.type === "text";
  }

  // Text is saved a moment after typing stops (and at once when the field is left); a click on an option at once.
  paper.addEventListener("input", function (event) {
    var block = blockOf(event.target);
    if (!block || !typed(event.target)) return;
    var pos = block.getAttribute("data-pos");
    clearTimeout(timers[pos]);
    timers[pos] = setTimeout(function () { enqueue(pos); }, 700);
    setStatus(pos, "saving");
  });
  paper.addEventListener("change", function (event) {
    var block = blockOf(event.target);
    if (!block || event.target.classList.contains("flag")) return;
    var pos = block.getAttribute("data-pos");
    if (typed(event.target)) {
      if (timers[pos]) enqueue(pos); // left the field before the pause: save now, once
    } else {
      enqueue(pos);
    }
  });
  window.addEventListener("online", function () { online = true; pump(); });
  window.addEventListener("offline", goOffline);
  setInterval(function () { if (queue.length && !inFlight && !retryTimer) pump(); }, 5000);
  window.addEventListener("beforeunload", function (event) {
    if ((queue.length || Object.keys(timers).length) && !halted && !leaving) {
      event.preventDefault();
      event.returnValue = M.leave;
      return M.leave;
    }
  });

  // ------------------------------------------------------------ the clock: the server's deadline, whatever the browser's clock says

  var deadline = Date.parse(state.deadline);
  var warned = {};
  var clock = document.getElementById("time-left");

  function left() {
    return deadline - (Date.now() + offset);
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function tick() {
    var ms = Math.max(0, paused ? pausedLeft : left());
    var s = Math.ceil(ms / 1000);
    var h = Math.floor(s / 3600);
    clock.textContent = (h ? h + ":" : "") + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    clock.parentNode.classList.toggle("urgent", ms <= 5 * 60 * 1000);
    clock.parentNode.classList.toggle("paused", paused);
    if (paused) {
      document.getElementById("paused-left").textContent = clock.textContent;
      return; // a held clock neither warns nor runs out
    }
    if (ms <= 5 * 60 * 1000 && ms > 60 * 1000 && !warned[5]) {
      warned[5] = true;
      showBanner(M.warn5);
    }
    if (ms <= 60 * 1000 && ms > 0 && !warned[1]) {
      warned[1] = true;
      showBanner(M.warn1);
    }
    if (ms <= 0 && !submitting && !halted && !leaving) {
      showBanner(M.timeUp);
      submit();
    }
  }

  function sync(then) {
    // The server's time again, halfway through the round trip (the page's own load time does not count); the
    // deadline too (a later close can move it); and, when asked, what the server has saved.
    var sent = Date.now();
    request("GET", api).then(function (result) {
      if (!result.response.ok || !result.data) return;
      var now = Date.now();
      offset = Date.parse(result.data.server_time) - (sent + now) / 2;
      if (result.data.status !== "in_progress") {
        finish();
        return;
      }
      var moved = Date.parse(result.data.deadline_at);
      var wasPaused = paused;
      if (result.data.paused) {
        deadline = moved;
        setPaused(true, result.data.seconds_left);
      } else {
        if (!wasPaused && moved > deadline + 1000 && !leaving) {
          // More time given by the proctor (a technical failure): said plainly, the countdown already shows it.
          var at = new Date(moved);
          showBanner(M.extended.replace("{t}", pad(at.getHours()) + ":" + pad(at.getMinutes()) + ":" + pad(at.getSeconds())));
        }
        deadline = moved;
        if (left() > 5 * 60 * 1000) warned[5] = false;
        if (left() > 60 * 1000) warned[1] = false;
        if (wasPaused) setPaused(false);
      }
      if (then) then(result.data);
    }, function () { /* offline: the clock runs on with the last offset */ });
  }

  var SYNC = Math.max(1, state.syncSeconds || 15) * 1000; // EXAM_SYNC_SECONDS

  function fields() {
    return paper.querySelectorAll("input, textarea");
  }

  function setPaused(on, secondsLeft) {
    // The overlay, the frozen clock and the inputs held while a proctor holds the clock; resumed: all back, and
    // what was typed meanwhile (or refused as "paused") goes out.
    var overlay = document.getElementById("paused");
    if (on) {
      pausedLeft = secondsLeft === null || secondsLeft === undefined ? Math.max(0, paused ? pausedLeft : left())
        : secondsLeft * 1000;
      if (!paused) {
        paused = true;
        flushTyping();
        Array.prototype.forEach.call(fields(), function (f) { f.disabled = true; });
        document.getElementById("submit-button").disabled = true;
        overlay.hidden = false;
        setTimeout(function () { sync(); }, Math.min(SYNC, 5000)); // learn the resume soon
      }
      tick();
      updateOverall();
      return;
    }
    if (!paused) return;
    paused = false;
    overlay.hidden = true;
    if (!submitting && !halted && !leaving) {
      Array.prototype.forEach.call(fields(), function (f) { f.disabled = false; });
      document.getElementById("submit-button").disabled = false;
    }
    showBanner(M.resumed);
    tick();
    pump();
  }

  if (state.paused) setPaused(true, state.secondsLeft);
  tick();
  setInterval(tick, 500);
  setInterval(function () { sync(); }, SYNC);

  // ------------------------------------------------------------ submitting

  function finish() {
    if (leaving) return;
    leaving = true;
    window.location.href = state.result;
  }

  function flushTyping() {
    Object.keys(timers).forEach(enqueue);
  }

  function afterQueue(callback, until) {
    // Call back once every queued answer has gone out, or at `until` (server time) whatever is left.
    (function wait() {
      if (halted || leaving) return;
      if (!queue.length || serverNow() >= until) return callback();
      pump();
      setTimeout(wait, 300);
    })();
  }

  function submit() {
    // Never before the queued answers have gone out, as long as they can still be taken (deadline plus grace);
    // what could not be sent by then is listed on the result page (static/js/result.js), not dropped silently.
    if (submitting || halted || leaving) return;
    submitting = true;
    flushTyping();
    document.getElementById("submit-button").disabled = true;
    Array.prototype.forEach.call(paper.querySelectorAll("input, textarea"), function (f) { f.disabled = true; });
    showBanner(M.submitting);
    (function send() {
      afterQueue(function () {
        request("POST", api + "/submit").then(function (result) {
          if (result.response.ok && result.data) return finish();
          if (errorCode(result) === "taken_over") return takenOver();
          if (errorCode(result) === "paused") {
            // The proctor holds the clock: the submit waits for the resume (the answers queued go out first).
            setPaused(true, null);
            setTimeout(send, 3000);
            return;
          }
          if (retryable(result) || needsLogin(result)) {
            if (needsLogin(result)) loginExpired();
            showBanner(result.response.status === 503 ? M.submitUnavailable : M.submitRetry);
            setTimeout(send, 3000);
            return;
          }
          finish();
        }, function () {
          showBanner(M.submitRetry);
          setTimeout(send, 3000);
        });
      }, deadline + GRACE - 3000);
    })();
  }

  var dialog = document.getElementById("confirm");

  function numbers(test) {
    var list = Object.keys(blocks).filter(test).map(Number).sort(function (a, b) { return a - b; });
    return list.length ? list.join("、") : M.none;
  }

  document.getElementById("submit-button").addEventListener("click", function () {
    Object.keys(blocks).forEach(function (p) { progressOf[p] = progress(p); });
    document.getElementById("confirm-unanswered").textContent = numbers(function (p) { return progressOf[p] === "unanswered"; });
    document.getElementById("confirm-partial").textContent = numbers(function (p) { return progressOf[p] === "partial"; });
    document.getElementById("confirm-flagged").textContent = numbers(function (p) { return !!flags[p]; });
    dialog.hidden = false;
    document.getElementById("confirm-no").focus();
  });
  document.getElementById("confirm-no").addEventListener("click", function () {
    dialog.hidden = true;
    document.getElementById("submit-button").focus();
  });
  document.getElementById("confirm-yes").addEventListener("click", function () {
    dialog.hidden = true;
    submit();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (!dialog.hidden) dialog.hidden = true;
    else if (navOpen()) closeNav(true);
  });

  // ------------------------------------------------------------ the navigator on demand (a phone's narrow screen)

  // On a narrow screen the bar shows the time, the count and the save state; the navigator opens below it on
  // demand (the button is hidden on a wide screen, where the navigator stays beside the paper).
  var side = root.querySelector(".exam-side");
  var toggle = document.getElementById("nav-toggle");

  function navOpen() {
    return toggle.getAttribute("aria-expanded") === "true";
  }

  function closeNav(refocus) {
    toggle.setAttribute("aria-expanded", "false");
    side.classList.remove("nav-open");
    if (refocus) toggle.focus();
  }

  toggle.addEventListener("click", function () {
    if (navOpen()) return closeNav(false);
    toggle.setAttribute("aria-expanded", "true");
    side.classList.add("nav-open");
    var first = root.querySelector(".navigator .nav-item");
    if (first) first.focus();
  });
  root.querySelector(".navigator").addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".nav-item") && navOpen()) closeNav(false);
  });
  document.addEventListener("click", function (event) {
    if (navOpen() && !side.contains(event.target)) closeNav(false);
  });

  // ------------------------------------------------------------ banner, take-over and integrity signals

  function showBanner(text) {
    var banner = document.getElementById("banner");
    banner.textContent = text;
    banner.hidden = false;
  }

  function takenOver() {
    halted = true;
    showBanner(M.takenOver);
    Array.prototype.forEach.call(paper.querySelectorAll("input, textarea"), function (f) { f.disabled = true; });
    document.getElementById("submit-button").disabled = true;
  }

  var claiming = false;

  function claim() {
    // This page holds the attempt from now on; one opened before elsewhere is taken over (and told so there).
    if (claiming || claimed) return;
    claiming = true;
    request("POST", api + "/claim", { client: client }).then(function (result) {
      claiming = false;
      if (result.response.ok && result.data) {
        claimed = true;
        online = true;
        // What the server holds now (another page may have saved since this one was rendered), then the
        // answers left in the queue by an earlier visit go out.
        sync(function (data) {
          reconcile(data.answers || {});
          pump();
        });
      } else if (retryable(result)) {
        goOffline(result);
      } else if (needsLogin(result)) {
        loginExpired();
      } else {
        showBanner(result.data && result.data.error ? result.data.error.message : M.error);
      }
    }, function () {
      claiming = false;
      goOffline();
    });
  }

  claim();

  var lastLoss = 0;
  // A focus loss (切屏) counts once the page is seen to stay: a reload, the page's own links and submit, the
  // language switch all unload it, and the blur or visibilitychange fired on the way out are no switch away.
  var unloading = false; // from beforeunload (or pagehide) until the page is seen to stay
  var unloaded = false; // pagehide: the page really goes
  var hiddenWhileLeaving = false;
  var unloadingTimer = null;
  var pendingLoss = null;
  var LOSS_SETTLE_MS = 1500;
  var focusLossHooks = []; // called at each counted focus loss (the proctoring camera takes a snapshot)

  function report(kind, detail, onReply) {
    if (halted || leaving || !claimed) return;
    // A focus loss may end the attempt (the exam's limit): the queued answers go out first.
    afterQueue(function () { send(kind, detail, onReply); }, serverNow() + 3000);
  }

  function send(kind, detail, onReply) {
    request("POST", api + "/events", { kind: kind, detail: detail || {} }).then(function (result) {
      if (!result.response.ok || !result.data) {
        if (errorCode(result) === "taken_over") takenOver();
        return;
      }
      var data = result.data;
      if (kind === "focus_loss") {
        var text = M.focus.replace("{n}", data.focus_losses);
        if (data.focus_loss_limit) text += " " + M.focusLimit.replace("{m}", data.focus_loss_limit);
        showBanner(text);
      }
      if (onReply) onReply(data);
      if (data.status !== "in_progress") finish();
    }, function () { /* offline: the signal is lost, the answers are not */ });
  }

  function focusLost() {
    // Not counted yet: it is if the page comes back, or is still here LOSS_SETTLE_MS later, not if it unloads.
    // Blur and visibilitychange of one switch count once.
    if (unloading || submitting || pendingLoss || Date.now() - lastLoss < 1500) return;
    pendingLoss = setTimeout(countLoss, LOSS_SETTLE_MS);
  }

  function countLoss() {
    clearTimeout(pendingLoss);
    pendingLoss = null;
    if (unloading || submitting) return;
    lastLoss = Date.now();
    report("focus_loss");
    focusLossHooks.forEach(function (hook) { hook(); });
  }

  function focusBack() {
    if (hiddenWhileLeaving) {
      // Hidden after beforeunload but never unloaded (the reload stopped, the prompt cancelled): it was a switch.
      hiddenWhileLeaving = false;
      stayed();
      countLoss();
      return;
    }
    if (unloading && !unloaded) {
      stayed(); // the leave prompt was cancelled: the page stays, and leaving it was no switch away
      return;
    }
    if (pendingLoss) countLoss();
  }

  function stayed() {
    unloading = false;
    clearTimeout(unloadingTimer);
  }

  function pageLeaving() {
    unloading = true;
    clearTimeout(pendingLoss);
    pendingLoss = null;
    // Should the page stay after all (the prompt cancelled, a slow answer), losses count again shortly.
    clearTimeout(unloadingTimer);
    unloadingTimer = setTimeout(stayed, 2000);
  }

  window.addEventListener("beforeunload", pageLeaving);
  window.addEventListener("pagehide", function () {
    // Comes before the hidden state of a page that really unloads (or goes into the back-forward cache).
    pageLeaving();
    clearTimeout(unloadingTimer);
    unloaded = true;
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    unloaded = hiddenWhileLeaving = false; // back from the back-forward cache: a page of its own again
    stayed();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      focusBack();
    } else if (!unloading) {
      focusLost();
    } else if (!unloaded) {
      hiddenWhileLeaving = true;
    }
  });
  window.addEventListener("blur", focusLost);
  window.addEventListener("focus", focusBack);
  paper.addEventListener("paste", function (event) {
    var block = event.target.closest ? event.target.closest(".question-block") : null;
    report("paste", { position: block ? Number(block.getAttribute("data-pos")) : 0 });
  });
  // Copying the paper is discouraged (not prevented: nothing in a browser can prevent it).
  paper.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  paper.addEventListener("copy", function (event) {
    if (!/^(INPUT|TEXTAREA)$/.test(event.target.tagName)) event.preventDefault();
  });

  // ------------------------------------------------------------ what the proctoring controls share (static/js/proctoring.js)

  window.QualExam = {
    state: state,
    api: api,
    client: client,
    csrf: function () { return csrf; }, // refreshed after a new login
    serverNow: serverNow,
    request: request,
    report: report, // report(kind, detail, onReply): after the queued answers; the end of the attempt handled here
    showBanner: showBanner,
    finish: finish,
    ended: function () { return halted || leaving || submitting; },
    ready: function () { return claimed; }, // the page holds the attempt: events and uploads are taken
    paused: function () { return paused; }, // a proctor holds the clock
    onFocusLoss: function (hook) { focusLossHooks.push(hook); }
  };
})();
