// Moves the import's progress bar without reloading: polls the job's
// status (JSON) each second while it is open, and when it ends shows the
// final counts (in the words the server chose) and takes the cancel button away.
(function () {
  var job = document.getElementById("job");
  if (!job || job.dataset.open !== "true") return;
  var url = job.dataset.statusUrl;
  function show(s) {
    document.getElementById("progress").value = s.done;
    document.getElementById("done").textContent = s.done;
    document.getElementById("status").textContent = s.status;
    document.getElementById("counts").textContent = s.summary;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        show(s);
        if (s.status === "queued" || s.status === "running") {
          setTimeout(poll, 1000);
          return;
        }
        var cancel = document.getElementById("cancel");
        if (cancel) cancel.closest("form").remove();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
