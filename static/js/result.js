// The result page: answers the exam page could not send before the attempt ended are listed, never dropped
// silently; then this computer forgets the attempt's queue, counters and flags (office PCs are shared).
(function () {
  "use strict";
  var node = document.getElementById("unsent");
  if (!node) return;
  var key = "qe-" + node.getAttribute("data-attempt") + "-";
  var queue = [];
  try {
    queue = JSON.parse(window.localStorage.getItem(key + "queue") || "[]");
  } catch (e) {
    queue = [];
  }
  if (queue.length) {
    var positions = queue.map(function (e) { return Number(e.pos); }).sort(function (a, b) { return a - b; });
    node.textContent = node.getAttribute("data-message").replace("{list}", positions.join("、"));
    node.hidden = false;
  }
  try {
    Object.keys(window.localStorage).forEach(function (name) {
      if (name.indexOf(key) === 0) window.localStorage.removeItem(name);
    });
  } catch (e) {
    /* nothing to forget */
  }
})();
