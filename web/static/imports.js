// Moves the import's progress bar without reloading: polls the job's
// status (JSON) each second while it is open, and reloads the page once
// when it ends so that the summary and the cancel button are current.
(function () {
  var job = document.getElementById("job");
  if (!job || job.dataset.open !== "true") return;
  var url = job.dataset.statusUrl;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        document.getElementById("progress").value = s.done;
        document.getElementById("done").textContent = s.done;
        document.getElementById("status").textContent = s.status;
        if (s.status === "queued" || s.status === "running") {
          setTimeout(poll, 1000);
        } else {
          location.reload();
        }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
