// The mock exam's page: the countdown (the time left as the server gave it), the paper handed in when it reaches
// zero (the server takes a late paper too: it is practice), and the answers kept in this browser as they are
// given, so that a reload or a dropped connection loses none before the paper is handed in.
(function () {
  "use strict";
  var result = document.getElementById("mock-result");
  var form = document.getElementById("mock-paper");
  var key = "qe-mock-" + (form || result || {dataset: {}}).dataset.session;
  if (result) { try { window.localStorage.removeItem(key); } catch (e) { /* storage off: nothing kept */ } return; }
  var timer = document.getElementById("mock-timer");
  if (!timer || !form) return;

  function keep() {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      (values[el.name] = values[el.name] || []).push(el.value);
    });
    try { window.localStorage.setItem(key, JSON.stringify(values)); } catch (e) { /* full or off */ }
  }
  function restore() {
    var values;
    try { values = JSON.parse(window.localStorage.getItem(key) || "{}"); } catch (e) { values = {}; }
    Array.prototype.forEach.call(form.elements, function (el) {
      var kept = values[el.name];
      if (!kept || el.name === "csrf_token") return;
      if (el.type === "radio" || el.type === "checkbox") el.checked = kept.indexOf(el.value) !== -1;
      else el.value = kept[0];
    });
  }
  restore();
  form.addEventListener("change", keep);
  form.addEventListener("input", keep);

  var shown = document.getElementById("mock-time-left");
  var end = Date.now() + Number(timer.dataset.secondsLeft) * 1000;
  var sent = false;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    shown.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    if (left === 0 && !sent) {
      sent = true;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  form.addEventListener("submit", function () { sent = true; });
  tick();
})();
