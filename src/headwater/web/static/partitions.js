// Partitions: launch forms that stay on the page, a quick tooltip over the strip, and the
// partition pages following changes. Builds on app.js's `hw` (loaded before this runs).
"use strict";

(() => {
  if (window.hwPartitions) return;  // loaded once, even when a refreshed fragment names it again
  window.hwPartitions = true;

  function liveBody() {
    return document.getElementById("partition-body") || document.getElementById("partitions-body")
      || document.getElementById("asset-body");
  }

  async function follow(run) {
    const link = {href: "/runs/" + run.run_id, text: run.run_id.slice(0, 8)};
    let status = run.status;
    while (!["succeeded", "failed", "canceled"].includes(status)) {
      hw.say(["Run ", link, " " + status + "…"]);
      await hw.sleep(Math.min(1000, hw.pollMs()));
      try {
        status = (await hw.getJSON("/api/runs/" + run.run_id)).status;
      } catch (err) {
        hw.say(["Lost track of run ", link, ": " + err.message], true);
        return;
      }
      await hw.refresh(liveBody());
    }
    await hw.refresh(liveBody());
    hw.say(["Run ", link, " " + status + "."], status !== "succeeded");
  }

  // Launch forms work without JS (POST + redirect to the run); with JS they call the API.
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.paction[data-api]");
    if (!form) return;
    event.preventDefault();
    const f = Object.fromEntries(new FormData(form).entries());
    const body = {key: f.key};
    if (f.partition) body.partitions = f.partition.split(",");
    if (f.only) body.only = f.only;
    if (f.from) body.from = f.from;
    if (f.to) body.to = f.to;
    if (f.downstream) body.downstream = f.downstream === "1";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await hw.post(form.dataset.api, body);
      hw.say(["Queued " + data.count + " partition(s) of " + body.key + "."]);
      await follow(data.run);
    } catch (err) {
      hw.say([err.message], true);
    } finally {
      button.disabled = false;
    }
  });

  // A tooltip without the native title's delay: the cell's title, at once.
  let tip = null;
  document.addEventListener("mouseover", (event) => {
    const cell = event.target.closest && event.target.closest("svg.pstrip a.pc");
    if (!cell) { if (tip) tip.hidden = true; return; }
    if (!tip) { tip = document.createElement("div"); tip.className = "ptip"; document.body.appendChild(tip); }
    tip.textContent = cell.querySelector("title").textContent;
    tip.hidden = false;
  });
  document.addEventListener("mousemove", (event) => {
    if (tip && !tip.hidden) { tip.style.left = (event.clientX + 14) + "px"; tip.style.top = (event.clientY + 14) + "px"; }
  });

  // The partition pages redraw when their asset changes (the asset page already does).
  const body = document.getElementById("partition-body") || document.getElementById("partitions-body");
  if (body) {
    hw.follow("/api/changes", async (answer) => {
      if (answer.full || answer.assets.some((a) => a.key === body.dataset.asset)) await hw.refresh(body);
    });
  }
})();
