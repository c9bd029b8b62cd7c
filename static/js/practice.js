// The mock exam's countdown: the time left as the server gave it, counted down here, and the paper handed in
// when it reaches zero (the server takes a late paper too: it is practice).
(function () {
  "use strict";
  var timer = document.getElementById("mock-timer");
  var form = document.getElementById("mock-paper");
  if (!timer || !form) return;
  var shown = document.getElementById("mock-time-left");
  var end = Date.now() + Number(timer.dataset.secondsLeft) * 1000;
  var sent = false;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    shown.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    if (left === 0 && !sent) {
      sent = true;
      form.requestSubmit ? form.requestSubmit() : form.submit();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  form.addEventListener("submit", function () { sent = true; });
  tick();
})();
