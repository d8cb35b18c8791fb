// The Add user form's initial password shows only while "Set an initial
// password" is chosen: an invitation or single sign-on uses none. A hidden
// field is disabled too, so that a password typed before another choice
// was made is not sent (the server refuses one sent with another way, as
// it must without this script).
(function () {
  "use strict";
  var fields = document.getElementById("password-fields");
  var chosen = document.getElementById("how-password");
  var input = document.getElementById("password");
  if (!fields || !chosen || !input) { return; }
  function update() {
    fields.hidden = !chosen.checked;
    input.disabled = !chosen.checked;
  }
  document.querySelectorAll('input[name="how"]').forEach(function (radio) {
    radio.addEventListener("change", update);
  });
  update();
})();
