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
    // One id per tab, kept across reloads of that tab (sessionStorage), so a reload takes nothing over.
    var name = KEY + "page";
    var id = null;
    try {
      id = window.sessionStorage.getItem(name);
    } catch (e) {
      id = null;
    }
    if (!id) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try {
        window.sessionStorage.setItem(name, id);
      } catch (e) {
        /* no sessionStorage: a reload then counts as another page */
      }
    }
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

  function answered(value) {
    if (value === null || value === undefined) return false;
    if (Array.isArray(value)) return value.some(function (v) { return typeof v === "number" || (v && v.trim()); });
    if (typeof value === "string") return value.trim() !== "";
    return true;
  }

  // ------------------------------------------------------------ the navigator, flags and per-question state

  var flags = load("flags", {});
  var status = {}; // position -> saved | saving | queued | error

  function updateNav(pos) {
    var link = root.querySelector('.nav-item[data-pos="' + pos + '"]');
    if (!link) return;
    var done = answered(readValue(blocks[pos]));
    link.classList.toggle("answered", done);
    link.classList.toggle("flagged", !!flags[pos]);
    link.classList.toggle("error", status[pos] === "error");
    link.setAttribute("data-state", done ? "answered" : "unanswered");
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

  var queue = load("queue", []); // [{pos, value, seq}], oldest first; what the server has not acknowledged yet
  var seq = load("seq", 0);
  var online = true;
  var sending = false;
  var halted = false; // taken over by another page: nothing more is sent from this one
  var leaving = false; // the attempt has ended: on the way to the result
  var submitting = false;
  var claimed = false; // writes wait until this page holds the attempt (see claim below)
  var timers = {}; // position -> the debounce timer of an edit still being typed

  Object.keys(state.answers).forEach(function (pos) {
    var saved = state.answers[pos];
    seq = Math.max(seq, saved.seq);
    if (blocks[pos]) {
      writeValue(blocks[pos], saved.value);
      setStatus(pos, "saved");
    }
  });
  queue = queue.filter(function (entry) {
    // What the server already has (an equal or newer save) is not sent again; the rest goes back in the form.
    var saved = state.answers[entry.pos];
    return blocks[entry.pos] && !(saved && saved.seq >= entry.seq);
  });
  queue.forEach(function (entry) {
    seq = Math.max(seq, entry.seq);
    writeValue(blocks[entry.pos], entry.value);
    setStatus(entry.pos, "queued");
  });
  store("queue", queue);
  Object.keys(blocks).forEach(updateNav);

  function nextSeq() {
    seq += 1;
    store("seq", seq);
    return seq;
  }

  function updateOverall() {
    var node = document.getElementById("save-state");
    var errors = Object.keys(status).filter(function (p) { return status[p] === "error"; });
    var busy = queue.length || Object.keys(timers).length; // an edit still being typed is not saved yet either
    var name = !online && busy ? "offline" : busy ? "saving" : errors.length ? "error" : "saved";
    node.setAttribute("data-state", name);
    node.textContent = M[name];
  }

  function enqueue(pos) {
    clearTimeout(timers[pos]);
    delete timers[pos];
    if (halted || leaving) return;
    var entry = { pos: pos, value: readValue(blocks[pos]), seq: nextSeq() };
    queue = queue.filter(function (e) { return e.pos !== pos; }); // the newest answer of a question is enough
    queue.push(entry);
    store("queue", queue);
    setStatus(pos, online ? "saving" : "queued");
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
    return result.response.status >= 500 || result.response.status === 429;
  }

  var retryTimer = null;

  function goOffline() {
    online = false;
    queue.forEach(function (e) { setStatus(e.pos, "queued"); });
    updateOverall();
    if (!retryTimer) retryTimer = setTimeout(function () { retryTimer = null; pump(); }, 4000);
  }

  function pump() {
    if (!claimed) {
      claim();
      return;
    }
    if (sending || halted || leaving || !queue.length) {
      updateOverall();
      return;
    }
    sending = true;
    var entry = queue[0];
    request("PUT", api + "/answers/" + entry.pos, { value: entry.value, seq: entry.seq }).then(function (result) {
      sending = false;
      if (result.response.ok) {
        online = true;
        queue.shift();
        store("queue", queue);
        if (!queue.some(function (e) { return e.pos === entry.pos; })) setStatus(entry.pos, "saved");
        pump();
        return;
      }
      if (retryable(result)) {
        goOffline();
        return;
      }
      var code = errorCode(result);
      if (code === "taken_over") return takenOver();
      if (code === "csrf" || code === "401" || code === "password_change_required") {
        showBanner(M.relogin); // the answers stay queued on this computer
        goOffline();
        return;
      }
      // Refused for good (after the deadline, or an answer that does not fit): said plainly, never dropped silently.
      queue.shift();
      store("queue", queue);
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
      sending = false;
      goOffline();
    });
  }

  paper.addEventListener("submit", function (event) { event.preventDefault(); });
  function onEdit(event) {
    var block = event.target.closest ? event.target.closest(".question-block") : null;
    if (!block || event.target.classList.contains("flag")) return;
    var pos = block.getAttribute("data-pos");
    var typing = event.target.tagName === "TEXTAREA" || event.target.type === "text";
    clearTimeout(timers[pos]);
    delete timers[pos];
    updateNav(pos);
    if (typing) {
      setStatus(pos, "saving");
      timers[pos] = setTimeout(function () { enqueue(pos); }, 700);
    } else {
      enqueue(pos);
    }
  }
  paper.addEventListener("input", onEdit);
  paper.addEventListener("change", onEdit);
  window.addEventListener("online", function () { online = true; pump(); });
  window.addEventListener("offline", goOffline);
  setInterval(function () { if (queue.length && !sending) pump(); }, 5000);
  window.addEventListener("beforeunload", function (event) {
    if ((queue.length || Object.keys(timers).length) && !halted && !leaving) {
      event.preventDefault();
      event.returnValue = M.leave;
      return M.leave;
    }
  });

  // ------------------------------------------------------------ the clock: the server's deadline, whatever the browser's clock says

  var offset = Date.parse(state.serverTime) - Date.now(); // add to the browser's clock to get the server's
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
    var ms = Math.max(0, left());
    var s = Math.ceil(ms / 1000);
    var h = Math.floor(s / 3600);
    clock.textContent = (h ? h + ":" : "") + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    clock.parentNode.classList.toggle("urgent", ms <= 5 * 60 * 1000);
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

  function sync() {
    // The server's time again, halfway through the round trip; the deadline too (a later close can move it).
    var sent = Date.now();
    request("GET", api).then(function (result) {
      if (!result.response.ok || !result.data) return;
      var now = Date.now();
      offset = Date.parse(result.data.server_time) - (sent + now) / 2;
      if (result.data.status !== "in_progress") {
        finish();
        return;
      }
      deadline = Date.parse(result.data.deadline_at);
    }, function () { /* offline: the clock runs on with the last offset */ });
  }

  tick();
  setInterval(tick, 500);
  setInterval(sync, 30000);

  // ------------------------------------------------------------ submitting

  function finish() {
    if (leaving) return;
    leaving = true;
    window.location.href = state.result;
  }

  function whenSaved(callback) {
    // Give queued answers a few seconds to go out (they are accepted within the network grace after the deadline).
    var waited = 0;
    (function wait() {
      if (halted || leaving) return;
      if (!queue.length || waited >= 8000) return callback();
      pump();
      waited += 250;
      setTimeout(wait, 250);
    })();
  }

  function submit() {
    if (submitting || halted || leaving) return;
    submitting = true;
    document.getElementById("submit-button").disabled = true;
    whenSaved(function send() {
      showBanner(M.submitting);
      request("POST", api + "/submit").then(function (result) {
        if (result.response.ok) {
          store("queue", []);
          return finish();
        }
        if (errorCode(result) === "taken_over") return takenOver();
        if (retryable(result)) {
          showBanner(M.submitRetry);
          setTimeout(send, 3000);
          return;
        }
        finish();
      }, function () {
        showBanner(M.submitRetry);
        setTimeout(send, 3000);
      });
    });
  }

  var dialog = document.getElementById("confirm");

  function numbers(test) {
    var list = Object.keys(blocks).filter(test).map(Number).sort(function (a, b) { return a - b; });
    return list.length ? list.join("、") : M.none;
  }

  document.getElementById("submit-button").addEventListener("click", function () {
    document.getElementById("confirm-unanswered").textContent = numbers(function (p) { return !answered(readValue(blocks[p])); });
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
    if (event.key === "Escape" && !dialog.hidden) dialog.hidden = true;
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
      if (result.response.ok) {
        claimed = true;
        online = true;
        pump(); // answers left in the queue by an earlier visit go out now
      } else if (retryable(result)) {
        goOffline();
      }
    }, function () {
      claiming = false;
      goOffline();
    });
  }

  claim();

  var lastLoss = 0;

  function report(kind, detail) {
    if (halted || leaving || !claimed) return;
    request("POST", api + "/events", { kind: kind, detail: detail || {} }).then(function (result) {
      if (!result.response.ok) {
        if (errorCode(result) === "taken_over") takenOver();
        return;
      }
      var data = result.data;
      if (kind === "focus_loss") {
        var text = M.focus.replace("{n}", data.focus_losses);
        if (data.focus_loss_limit) text += " " + M.focusLimit.replace("{m}", data.focus_loss_limit);
        showBanner(text);
      }
      if (data.status !== "in_progress") finish();
    }, function () { /* offline: the signal is lost, the answers are not */ });
  }

  function focusLost() {
    var now = Date.now();
    if (now - lastLoss < 1500 || submitting) return; // blur and visibilitychange of one switch count once
    lastLoss = now;
    report("focus_loss");
  }

  document.addEventListener("visibilitychange", function () { if (document.hidden) focusLost(); });
  window.addEventListener("blur", focusLost);
  paper.addEventListener("paste", function (event) {
    var block = event.target.closest ? event.target.closest(".question-block") : null;
    report("paste", { position: block ? Number(block.getAttribute("data-pos")) : 0 });
  });
  // Copying the paper is discouraged (not prevented: nothing in a browser can prevent it).
  paper.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  paper.addEventListener("copy", function (event) {
    if (!/^(INPUT|TEXTAREA)$/.test(event.target.tagName)) event.preventDefault();
  });
})();
