// The check-in page at the door: the camera scanner (getUserMedia + the vendored jsQR), the ticket photo, the typed
// ticket number and the name search all ask the server for the candidate's card; a confirmation checks them in.
(function () {
  "use strict";
  var tools = document.getElementById("checkin-tools");
  if (!tools) {
    return;
  }
  var messages = JSON.parse(document.getElementById("checkin-messages").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var result = document.getElementById("checkin-result");
  var state = document.getElementById("scan-state");
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var startButton = document.getElementById("scan-start");
  var stopButton = document.getElementById("scan-stop");
  var stream = null;
  var lastCode = null;
  var busy = false;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function post(url, fields) {
    var body = new FormData();
    body.append("csrf_token", csrf);
    body.append("room", tools.dataset.room);
    Object.keys(fields).forEach(function (key) {
      body.append(key, fields[key]);
    });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    }).then(function (response) {
      return response.json().then(
        function (data) {
          return data;
        },
        function () {
          return { error: { message: messages.network } };
        }
      );
    });
  }

  function showError(message) {
    result.replaceChildren(el("p", message, "text-error checkin-error"));
  }

  function fact(dl, label, value) {
    dl.appendChild(el("dt", label));
    dl.appendChild(el("dd", value === null || value === undefined || value === "" ? "—" : String(value)));
  }

  function updateRoster(candidate, counts) {
    var row = document.getElementById("seat-" + candidate.seat);
    if (row) {
      row.dataset.state = candidate.state;
      var cell = row.querySelector(".state");
      var badge = el("span", candidate.state_label, "status status-active");
      cell.replaceChildren(badge, document.createTextNode(" " + (candidate.checked_in_at || "")));
    }
    if (counts) {
      Object.keys(counts).forEach(function (key) {
        var node = document.querySelector('#checkin-counts [data-count="' + key + '"]');
        if (node) {
          node.textContent = counts[key];
        }
      });
    }
  }

  function card(candidate) {
    var box = el("article", null, "candidate-card");
    box.dataset.seat = candidate.seat;
    if (candidate.photo) {
      var img = el("img");
      img.src = candidate.photo;
      img.alt = candidate.name;
      box.appendChild(img);
    } else {
      box.appendChild(el("div", messages.no_photo, "no-photo"));
    }
    var body = el("div");
    body.appendChild(el("p", candidate.name, "who"));
    var dl = el("dl");
    fact(dl, messages.employee, candidate.username);
    fact(dl, messages.unit, candidate.unit);
    fact(dl, messages.room, candidate.room);
    fact(dl, messages.seat, candidate.seat_no);
    fact(dl, messages.ticket, candidate.ticket);
    body.appendChild(dl);
    var status = el("p", null, "candidate-state");
    var badge = el("span", candidate.state_label, "status status-" + (candidate.state === "checked_in" ? "active" : candidate.state === "absent" ? "retired" : "in_review"));
    status.appendChild(badge);
    if (candidate.checked_in_at) {
      status.appendChild(document.createTextNode(" " + candidate.checked_in_at));
    }
    body.appendChild(status);
    if (candidate.problem) {
      body.appendChild(el("p", candidate.problem, "problem"));
    }
    if (candidate.can_confirm) {
      var button = el("button", messages.confirm, "button primary wide confirm-checkin");
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        post(tools.dataset.confirm, { seat: candidate.seat }).then(function (data) {
          if (data.error) {
            button.disabled = false;
            body.appendChild(el("p", data.error.message, "problem"));
            return;
          }
          box.replaceWith(card(data.candidate));
          updateRoster(data.candidate, data.counts);
        }, function () {
          button.disabled = false;
          body.appendChild(el("p", messages.network, "problem"));
        });
      });
      body.appendChild(button);
    }
    box.appendChild(body);
    return box;
  }

  function lookup(fields) {
    busy = true;
    return post(tools.dataset.lookup, fields).then(function (data) {
      busy = false;
      if (data.error) {
        showError(data.error.message);
        return;
      }
      result.replaceChildren.apply(result, data.candidates.map(card));
    }, function () {
      busy = false;
      showError(messages.network);
    });
  }

  function decode(source, width, height, both) {
    var scale = Math.min(1, 1280 / Math.max(width, height));
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: both ? "attemptBoth" : "dontInvert" });
    return found && found.data ? found.data : null;
  }

  // The camera: a frame every 250 ms; the same code is looked up once until another is seen.
  function tick() {
    if (!stream) {
      return;
    }
    if (!busy && video.readyState >= 2 && video.videoWidth) {
      var code = decode(video, video.videoWidth, video.videoHeight, false);
      if (code && code !== lastCode) {
        lastCode = code;
        lookup({ code: code });
      }
    }
    window.setTimeout(tick, 250);
  }

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    stream = null;
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
    state.textContent = "";
  }

  startButton.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      state.textContent = messages.camera_unavailable;
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      lastCode = null;
      video.srcObject = s;
      video.hidden = false;
      startButton.hidden = true;
      stopButton.hidden = false;
      state.textContent = messages.scanning;
      video.play();
      tick();
    }, function () {
      state.textContent = messages.camera_unavailable;
    });
  });
  stopButton.addEventListener("click", stop);

  document.getElementById("scan-photo").addEventListener("change", function (event) {
    var file = event.target.files && event.target.files[0];
    if (!file) {
      return;
    }
    createImageBitmap(file).then(function (bitmap) {
      var code = decode(bitmap, bitmap.width, bitmap.height, true);
      event.target.value = "";
      if (code) {
        lookup({ code: code });
      } else {
        showError(messages.no_code_in_photo);
      }
    }, function () {
      showError(messages.no_code_in_photo);
    });
  });

  document.getElementById("lookup-ticket").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("lookup-ticket-no");
    if (input.value.trim()) {
      lookup({ ticket: input.value.trim() }).then(function () {
        input.select();
      });
    }
  });
  document.getElementById("lookup-name").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("lookup-name-q");
    if (input.value.trim()) {
      lookup({ name: input.value.trim() });
    }
  });
})();
