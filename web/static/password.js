// Shows, as the person types, which of the account's password rules their
// password meets. Met and unmet differ by a symbol and a word as well as by
// colour, and a polite live region says how many rules are met whenever
// that number changes (not at every keystroke, which would drown the
// typing). The server checks the same rules (and the common-password and
// email rules this page cannot) whatever this script says.
(function () {
  "use strict";
  var input = document.querySelector("input[data-min-length]");
  var list = document.getElementById("password-rules");
  if (!input || !list) { return; }
  var d = input.dataset;
  // The checks follow the order of PasswordPolicy.Rules: length, then the
  // required character classes; the rules after them are the server's.
  var checks = [function (p) { return Array.from(p).length >= Number(d.minLength); }];
  if (d.requireUpper === "true") { checks.push(function (p) { return /\p{Lu}/u.test(p); }); }
  if (d.requireLower === "true") { checks.push(function (p) { return /\p{Ll}/u.test(p); }); }
  if (d.requireDigit === "true") { checks.push(function (p) { return /\p{Nd}/u.test(p); }); }
  if (d.requireSymbol === "true") { checks.push(function (p) { return /[^\p{L}\p{N}\s]/u.test(p); }); }

  var items = Array.from(list.querySelectorAll("li"));
  checks = checks.slice(0, items.length);
  var marks = items.map(function (li, i) {
    var mark = document.createElement("span");
    mark.className = "rule-mark";
    mark.setAttribute("aria-hidden", "true");
    var state = document.createElement("span");
    state.className = "visually-hidden rule-state";
    li.prepend(mark);
    li.append(state);
    if (i >= checks.length) {
      mark.textContent = "•";
      state.textContent = " (checked when you submit)";
    }
    return { mark: mark, state: state };
  });
  list.classList.add("checking");

  var status = document.createElement("p");
  status.id = "password-rules-status";
  status.className = "visually-hidden";
  status.setAttribute("aria-live", "polite");
  status.setAttribute("aria-atomic", "true");
  list.after(status);

  var lastMet = -1;
  function update() {
    var met = 0;
    checks.forEach(function (check, i) {
      var ok = check(input.value);
      if (ok) { met++; }
      items[i].classList.toggle("met", ok);
      marks[i].mark.textContent = ok ? "✓" : "✗";
      marks[i].state.textContent = ok ? " (met)" : " (not met yet)";
    });
    // The first run only marks the rules; the count is news only once
    // the person types.
    if (lastMet !== -1 && met !== lastMet) {
      status.textContent = met + " of " + checks.length + " rules met";
    }
    lastMet = met;
  }
  input.addEventListener("input", update);
  update();
})();
