// The proctor's console of one room: the candidates' states, re-read from the page's JSON twin every few seconds
// (light polling; sitting/console.py says why not server-sent events), and the actions on one attempt, each asked
// for in a dialog with a reason and sent as a POST with the CSRF token. Plain ES2015; no inline script (CSP).
(function () {
  "use strict";

  var root = document.getElementById("console");
  var stateNode = document.getElementById("console-state");
  if (!root || !stateNode) return;
  var initial = JSON.parse(stateNode.textContent);
  var M = initial.messages;
  var STATES = initial.states;
  var feed = root.getAttribute("data-feed");
  var actionUrl = root.getAttribute("data-action");
  var snapshotsUrl = root.getAttribute("data-snapshots"); // an attempt's camera snapshots (proctoring)
  var reopenOpen = root.getAttribute("data-reopen") === "true";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var rows = document.getElementById("console-rows");
  var dialog = document.getElementById("action-dialog");
  var form = document.getElementById("action-form");
  var pending = null; // {attempt, action}
  var poll = Math.max(1, initial.poll_seconds || 5) * 1000;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function time(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return d.toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
  }

  function button(c, action) {
    var b = el("button", "button", M[action]);
    b.type = "button";
    b.setAttribute("data-action", action);
    b.setAttribute("data-attempt", c.attempt_id);
    b.setAttribute("data-name", c.name);
    return b;
  }

  function row(c) {
    var tr = el("tr");
    tr.setAttribute("data-user", c.username);
    tr.setAttribute("data-state", c.state);
    tr.setAttribute("data-answered", c.answered);
    tr.setAttribute("data-online", c.online ? "true" : "false");
    tr.setAttribute("data-paused", c.paused ? "true" : "false");
    if (c.alerts.length) tr.className = "alerted";
    tr.appendChild(el("td", "", c.seat_no === null ? "—" : String(c.seat_no)));
    var who = el("td");
    who.appendChild(el("strong", "", c.name));
    who.appendChild(el("span", "muted", " " + c.username + " · " + c.ticket_no));
    tr.appendChild(who);
    var state = el("td", "state", STATES[c.state]);
    if (c.paused) state.appendChild(el("span", "tag paused", M.paused));
    tr.appendChild(state);
    var progress = el("td", "progress");
    if (c.attempt_id) {
      progress.appendChild(el("span", "answered", fill(M.answered, { n: c.answered, total: c.total })));
      if (c.state === "in_progress") {
        progress.appendChild(el("br"));
        progress.appendChild(el("span", "muted", fill(M.left, { t: duration(c.seconds_left) })));
        var extra = c.extra_minutes + c.extended_minutes;
        if (extra) progress.appendChild(el("span", "tag", fill(M.extra, { m: extra })));
      }
    }
    tr.appendChild(progress);
    var contact = el("td", "contact");
    if (c.state === "in_progress") {
      contact.appendChild(c.online ? el("span", "online", M.online)
        : el("span", "silent", fill(M.silent, { s: duration(c.silent_seconds) })));
      contact.appendChild(el("br"));
    }
    if (c.last_save) contact.appendChild(el("span", "muted", fill(M.lastSave, { t: time(c.last_save) })));
    tr.appendChild(contact);
    var signals = el("td", "signals");
    if (c.attempt_id) {
      signals.appendChild(el("span", "", fill(M.focus, { n: c.focus_losses }) + " · " + fill(M.pastes, { n: c.pastes })));
      if (c.fullscreen_exits) signals.appendChild(el("span", "", " · " + fill(M.fullscreen, { n: c.fullscreen_exits })));
      if (c.snapshots && snapshotsUrl) {
        var shots = el("a", "snapshots-link", fill(M.snapshots, { n: c.snapshots }));
        shots.href = snapshotsUrl.replace("/0/", "/" + c.attempt_id + "/");
        shots.setAttribute("data-attempt", c.attempt_id);
        signals.appendChild(el("br"));
        signals.appendChild(shots);
      }
      c.alerts.forEach(function (name) {
        var tag = el("span", "tag alert", initial.alerts[name]);
        tag.setAttribute("data-alert", name);
        signals.appendChild(el("br"));
        signals.appendChild(tag);
      });
    }
    tr.appendChild(signals);
    var actions = el("td");
    var box = el("div", "actions");
    if (c.state === "in_progress") {
      box.appendChild(button(c, "extend"));
      box.appendChild(button(c, c.paused ? "resume" : "pause"));
      box.appendChild(button(c, "submit"));
      box.appendChild(button(c, "release"));
    } else if ((c.state === "submitted" || c.state === "expired") && reopenOpen) {
      box.appendChild(button(c, "reopen"));
    }
    actions.appendChild(box);
    tr.appendChild(actions);
    return tr;
  }

  function render(data) {
    var fragment = document.createDocumentFragment();
    data.candidates.forEach(function (c) { fragment.appendChild(row(c)); });
    if (!data.candidates.length) {
      var empty = el("tr");
      var cell = el("td", "muted", M.none);
      cell.colSpan = 7;
      empty.appendChild(cell);
      fragment.appendChild(empty);
    }
    rows.textContent = "";
    rows.appendChild(fragment);
    var summary = document.getElementById("console-summary");
    summary.textContent = "";
    (initial.order || Object.keys(STATES)).forEach(function (key) { // the states in the day's order
      var tag = el("span", "tag", STATES[key] + " " + data.summary.states[key]);
      tag.setAttribute("data-state", key);
      summary.appendChild(tag);
    });
    Object.keys(initial.alerts).forEach(function (key) {
      if (data.summary.alerts[key]) summary.appendChild(el("span", "tag alert", initial.alerts[key] + " " + data.summary.alerts[key]));
    });
    document.getElementById("console-updated").textContent = fill(M.updated, { t: time(data.server_time) });
  }

  var timer = null;

  function refresh() {
    clearTimeout(timer);
    fetch(feed, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) { render(data); }, function () {
        document.getElementById("console-updated").textContent = M.stale;
      })
      .then(function () { timer = setTimeout(refresh, poll); });
  }

  // ------------------------------------------------------------ actions, confirmed in the dialog

  var confirmKey = {
    extend: "confirmExtend", pause: "confirmPause", resume: "confirmResume", submit: "confirmSubmit",
    release: "confirmRelease", reopen: "confirmReopen"
  };

  rows.addEventListener("click", function (event) {
    var b = event.target.closest ? event.target.closest("button[data-action]") : null;
    if (!b) return;
    pending = { attempt: b.getAttribute("data-attempt"), action: b.getAttribute("data-action") };
    document.getElementById("action-title").textContent = fill(M[confirmKey[pending.action]], { name: b.getAttribute("data-name") });
    document.getElementById("action-minutes-row").hidden = !(pending.action === "extend" || pending.action === "reopen");
    document.getElementById("action-reason").value = "";
    document.getElementById("action-error").hidden = true;
    dialog.hidden = false;
    document.getElementById("action-reason").focus();
  });

  document.getElementById("action-cancel").addEventListener("click", function () {
    dialog.hidden = true;
    pending = null;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !dialog.hidden) {
      dialog.hidden = true;
      pending = null;
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!pending) return;
    var body = new FormData(form);
    if (document.getElementById("action-minutes-row").hidden) body.delete("minutes");
    var url = actionUrl.replace("/0/", "/" + pending.attempt + "/").replace("ACTION", pending.action);
    var confirmButton = document.getElementById("action-confirm");
    confirmButton.disabled = true;
    fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; },
        function () { return { ok: false, data: null }; });
    }).then(function (result) {
      confirmButton.disabled = false;
      if (result.ok) {
        dialog.hidden = true;
        pending = null;
        refresh();
        return;
      }
      var error = document.getElementById("action-error");
      error.textContent = result.data && result.data.error ? result.data.error.message : M.failed;
      error.hidden = false;
    }, function () {
      confirmButton.disabled = false;
      var error = document.getElementById("action-error");
      error.textContent = M.failed;
      error.hidden = false;
    });
  });

  render(initial);
  timer = setTimeout(refresh, poll);
})();
