// Shows, as the person types, which of the account's password rules their
// password meets. The server checks the same rules (and the common-password
// and email rules this page cannot) whatever this script says.
(function () {
  "use strict";
  var input = document.querySelector("input[data-min-length]");
  var list = document.getElementById("password-rules");
  if (!input || !list) { return; }
  var d = input.dataset;
  var checks = [function (p) { return Array.from(p).length >= Number(d.minLength); }];
  if (d.requireUpper === "true") { checks.push(function (p) { return /\p{Lu}/u.test(p); }); }
  if (d.requireLower === "true") { checks.push(function (p) { return /\p{Ll}/u.test(p); }); }
  if (d.requireDigit === "true") { checks.push(function (p) { return /\p{Nd}/u.test(p); }); }
  if (d.requireSymbol === "true") { checks.push(function (p) { return /[^\p{L}\p{N}\s]/u.test(p); }); }
  var items = list.querySelectorAll("li");
  function update() {
    checks.forEach(function (check, i) {
      if (!items[i]) { return; }
      var ok = check(input.value);
      items[i].classList.toggle("met", ok);
      items[i].setAttribute("aria-label", items[i].textContent + (ok ? ": met" : ": not met yet"));
    });
  }
  input.addEventListener("input", update);
  update();
})();
