// Copy buttons beside the values an identity provider's admin pastes: a
// button names the id of the element whose text it copies. Without
// JavaScript the buttons stay hidden and the values are selectable text.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  if (!navigator.clipboard) { return; }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    button.hidden = false;
    button.setAttribute("aria-label", "Copy " + source.closest("dd").previousElementSibling.textContent);
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
        if (status) { status.textContent = "Copied to the clipboard."; }
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      }, function () {
        if (status) { status.textContent = "Copying failed: select the value and copy it by hand."; }
      });
    });
  });
})();
