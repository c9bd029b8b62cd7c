// The start page's camera consent (issue 25): the candidate agrees, tries the camera and sees its picture; the form
// then says whether the browser gave the camera ("granted", "refused" or "unavailable"), and the server decides
// whether the exam may start without it. Asked at the latest when the form is sent with the consent ticked.
(function () {
  "use strict";

  var consent = document.getElementById("camera-consent");
  if (!consent) return;
  var field = document.getElementById("camera-state");
  var result = document.getElementById("camera-result");
  var preview = document.getElementById("camera-preview");
  var form = consent.form;
  var stream = null;

  function show(state) {
    field.value = state;
    result.textContent = result.getAttribute("data-" + state) || "";
    result.setAttribute("data-state", state);
  }

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    preview.srcObject = null;
    preview.hidden = true;
  }

  function test() {
    // A promise of the outcome; the preview runs until the page is left (or the consent withdrawn).
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      show("unavailable");
      return Promise.resolve("unavailable");
    }
    return navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false }).then(function (got) {
      stop();
      stream = got;
      preview.srcObject = got;
      preview.hidden = false;
      var playing = preview.play();
      if (playing && playing.then) playing.then(null, function () { /* muted: plays anyway */ });
      show("granted");
      return "granted";
    }, function (error) {
      var name = error && error.name;
      show(name === "NotAllowedError" || name === "SecurityError" ? "refused" : "unavailable");
      return field.value;
    });
  }

  document.getElementById("camera-test").addEventListener("click", test);
  consent.addEventListener("change", function () {
    if (!consent.checked) {
      stop();
      show("");
    }
  });

  var asked = false;
  form.addEventListener("submit", function (event) {
    // Consent given but the camera not tried yet: try it first, then send the form with the outcome.
    if (!consent.checked || field.value || asked) return;
    event.preventDefault();
    asked = true;
    test().then(function () { form.submit(); });
  });
  window.addEventListener("pagehide", stop);
})();
