// Live previews on the console's Branding page: a moment after a field
// changes, both preview frames load the typed values. Nothing is saved;
// without JavaScript the "Preview without saving" button does the same.
(function () {
  "use strict";
  var save = document.getElementById("save-branding");
  var frames = [document.getElementById("preview-email"), document.getElementById("preview-sign-in")];
  if (!save || !frames[0] || !frames[1]) { return; }
  var form = save.form;
  var timer;
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = new URLSearchParams();
      ["display_name", "logo_url", "color", "sender_name"].forEach(function (name) {
        q.set(name, form.elements[name].value);
      });
      frames.forEach(function (frame) {
        frame.src = frame.getAttribute("src").split("?")[0] + "?" + q.toString();
      });
    }, 400);
  });
})();
