// The question editor: a small rich-text toolbar over each data-rich textarea, the option count, image upload and
// a live preview rendered by the server (so it is exactly what a candidate will see). Without JavaScript the
// textareas still work: the server sanitises whatever HTML they hold.
(function () {
  "use strict";
  var form = document.getElementById("question-form");
  if (!form) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var preview = document.getElementById("preview");
  var timer = null;

  function refreshPreview() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRFToken": csrf },
        credentials: "same-origin",
      }).then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { if (html) preview.innerHTML = html; })
        .catch(function () { /* the preview is a convenience; saving does not depend on it */ });
    }, 350);
  }

  function uploadImage(editor, textarea) {
    var input = document.createElement("input");
    input.type = "file";
    input.accept = "image/png,image/jpeg,image/gif,image/webp";
    input.addEventListener("change", function () {
      if (!input.files.length) return;
      var data = new FormData();
      data.append("image", input.files[0]);
      fetch(form.getAttribute("data-image-url"), {
        method: "POST", body: data, headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
      }).then(function (r) { return r.json(); }).then(function (json) {
        if (json.url) {
          editor.focus();
          document.execCommand("insertImage", false, json.url);
          sync(editor, textarea);
        } else if (json.error) {
          window.alert(json.error.message);
        }
      });
    });
    input.click();
  }

  function sync(editor, textarea) {
    textarea.value = editor.innerHTML;
    refreshPreview();
  }

  // [command, face, key of the translated label on the form]
  var TOOLS = [
    ["bold", "B", "labelBold"], ["italic", "I", "labelItalic"], ["underline", "U", "labelUnderline"],
    ["subscript", "x₂", "labelSubscript"], ["superscript", "x²", "labelSuperscript"],
    ["insertUnorderedList", "•", "labelList"],
  ];

  form.querySelectorAll("textarea[data-rich]").forEach(function (textarea) {
    var wrap = document.createElement("div");
    wrap.className = "rich";
    var bar = document.createElement("div");
    bar.className = "rich-toolbar";
    bar.setAttribute("role", "toolbar");
    var editor = document.createElement("div");
    editor.className = "rich-editor";
    editor.contentEditable = "true";
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    var label = form.querySelector('label[for="' + textarea.id + '"]');
    if (label) { label.id = label.id || textarea.id + "-label"; editor.setAttribute("aria-labelledby", label.id); }
    editor.innerHTML = textarea.value;
    TOOLS.forEach(function (tool) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = tool[1];
      b.title = form.dataset[tool[2]] || tool[0];
      b.setAttribute("aria-label", b.title);
      b.addEventListener("click", function () { editor.focus(); document.execCommand(tool[0]); sync(editor, textarea); });
      bar.appendChild(b);
    });
    var img = document.createElement("button");
    img.type = "button";
    img.textContent = "🖼";
    img.title = form.dataset.labelImage || "image";
    img.setAttribute("aria-label", img.title);
    img.addEventListener("click", function () { uploadImage(editor, textarea); });
    bar.appendChild(img);
    editor.addEventListener("input", function () { sync(editor, textarea); });
    textarea.classList.add("rich-source");
    textarea.parentNode.insertBefore(wrap, textarea);
    wrap.appendChild(bar);
    wrap.appendChild(editor);
    wrap.appendChild(textarea);
  });

  var count = form.querySelector('input[name="option_count"]');
  function showOptions() {
    if (!count) return;
    var n = Math.max(2, Math.min(8, parseInt(count.value, 10) || 4));
    form.querySelectorAll(".option-row").forEach(function (row) {
      row.hidden = parseInt(row.getAttribute("data-option"), 10) >= n;
    });
    var correct = form.querySelector('select[name="correct"]');
    if (correct) {
      Array.prototype.forEach.call(correct.options, function (o, i) { o.hidden = i >= n; });
    }
  }
  if (count) { count.addEventListener("input", function () { showOptions(); refreshPreview(); }); }
  showOptions();
  form.addEventListener("input", refreshPreview);
  form.addEventListener("change", refreshPreview);
  refreshPreview();
})();
