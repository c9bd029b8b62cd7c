// The live progress of a job (templates/jobs/_progress.html): polls the job's status once a second until it ends.
(function () {
  "use strict";

  function fmt(box, seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return box.dataset.textSeconds.replace("{n}", seconds);
    return box.dataset.textMinutes.replace("{m}", Math.floor(seconds / 60)).replace("{s}", seconds % 60);
  }

  function part(box, name) { return box.querySelector('[data-job="' + name + '"]'); }

  function show(box, s) {
    box.dataset.state = s.state;
    part(box, "state_label").textContent = s.state_label;
    part(box, "counts").textContent = s.total ? s.done + " / " + s.total : (s.done ? String(s.done) : "");
    var bar = part(box, "bar");
    if (s.total) { bar.max = s.total; bar.value = s.done; }
    else if (s.finished) { bar.max = 1; bar.value = 1; }
    else { bar.removeAttribute("value"); }
    var times = [];
    if (s.elapsed !== null) times.push(box.dataset.textElapsed + " " + fmt(box, s.elapsed));
    if (s.eta !== null && !s.finished) times.push(box.dataset.textEta.replace("{s}", fmt(box, s.eta)));
    if (s.waited !== null) {
      times.push(box.dataset.textWaited.replace("{s}", fmt(box, s.waited)));
      if (s.waited > 30) times.push(box.dataset.textNoWorker);
    }
    part(box, "times").textContent = times.join(" · ");
    part(box, "message").textContent = s.message || "";
    var error = part(box, "error");
    error.hidden = !s.error;
    error.textContent = s.error || "";
    var cancel = part(box, "cancel");
    if (cancel && !s.cancellable) cancel.hidden = true;
    if (s.state === "done") {
      var result = part(box, "result");
      var files = part(box, "files");
      files.textContent = "";
      s.result.files.forEach(function (f) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.className = "button"; a.href = f.url; a.textContent = f.name; a.setAttribute("download", "");
        li.appendChild(a); files.appendChild(li);
      });
      if (s.result.message && !part(box, "result-message")) {
        var p = document.createElement("p");
        p.dataset.job = "result-message"; p.textContent = s.result.message;
        result.insertBefore(p, files);
      }
      if (s.result.url && !part(box, "result-url")) {
        var link = document.createElement("a");
        link.className = "button"; link.dataset.job = "result-url"; link.href = s.result.url;
        link.textContent = box.dataset.textSeeResult || s.result.url;
        var wrap = document.createElement("p"); wrap.appendChild(link); result.appendChild(wrap);
      }
      result.hidden = false;
    }
  }

  function poll(box) {
    fetch(box.dataset.jobStatusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) {
        show(box, s);
        if (!s.finished) setTimeout(function () { poll(box); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(box); }, 3000); });
  }

  document.querySelectorAll("[data-job-status-url]").forEach(function (box) {
    if (box.dataset.state === "done" || box.dataset.state === "failed" || box.dataset.state === "cancelled") return;
    poll(box);
  });
})();
