// The backfill page: follow GET /api/backfills/ID while the backfill is requested, updating
// the bar, the counts, rate, ETA and failures in place; reload once it ends (to list its runs).
"use strict";

(function () {
  const root = document.getElementById("backfill");
  if (!root || !root.dataset.live) return;
  const id = root.dataset.backfill;
  const meta = document.querySelector('meta[name="poll-seconds"]');
  const every = Math.max(0.5, parseFloat(meta ? meta.content : "2") || 2) * 1000;
  const $ = (sel) => document.getElementById(sel);

  function seconds(s) {
    s = Math.round(s);
    if (s >= 3600) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
    return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  }

  function show(data) {
    $("bf-bar").max = data.total;
    $("bf-bar").value = data.counts.done;
    $("bf-summary").textContent = data.summary;
    $("bf-status").textContent = data.status;
    $("bf-status").className = "badge b-" + data.status;
    $("bf-rate").textContent = data.rate_per_second ? data.rate_per_second.toFixed(2) + " partitions/s" : "";
    $("bf-eta").textContent = data.eta_seconds != null ? " · ETA " + seconds(data.eta_seconds) : "";
    $("bf-driver").textContent = data.driver ? " · driven by " + data.driver : "";
    for (const a of data.per_asset) {
      const row = document.querySelector('#bf-assets tr[data-key="' + CSS.escape(a.key) + '"]');
      if (!row) continue;
      for (const td of row.querySelectorAll("td[data-count]")) td.textContent = a.counts[td.dataset.count];
    }
    const list = $("bf-failures");
    if (data.failures.length) {
      list.replaceChildren(...data.failures.map((f) => {
        const li = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = f.partition;
        li.append(code, ": " + f.reason);
        return li;
      }));
    }
  }

  async function poll() {
    try {
      const resp = await fetch("/api/backfills/" + encodeURIComponent(id), { headers: { Accept: "application/json" } });
      if (resp.ok) {
        const data = await resp.json();
        show(data);
        if (data.status !== "requested") { window.location.reload(); return; }
      }
    } catch (e) { /* the server restarts: try again */ }
    setTimeout(poll, every);
  }
  setTimeout(poll, every);
})();
