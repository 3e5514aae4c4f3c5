// The run page: follow the event log (GET /api/runs/ID/events?after_id=N) and the step
// table while the run goes on; stop when it has ended.
"use strict";

(function () {
  const table = document.getElementById("events");
  if (!table) return;
  const body = table.querySelector("tbody");
  const runId = table.dataset.run;
  let after = parseInt(table.dataset.after || "0", 10);
  if (table.dataset.terminal) return;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function addRow(ev) {
    const tr = document.createElement("tr");
    tr.className = "lvl-" + (ev.level || "info");
    const time = new Date(ev.timestamp * 1000).toISOString().slice(11, 19);
    tr.append(cell(time), cell(ev.type), cell(ev.data.step_key || ""), cell(ev.text || ""));
    const tb = ev.data.error && ev.data.error.traceback;
    if (tb) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "traceback";
      const pre = document.createElement("pre");
      pre.className = "tb";
      pre.textContent = tb;
      details.append(summary, pre);
      tr.lastChild.append(details);
    }
    body.append(tr);
  }

  function badge(status) {
    const holder = document.getElementById("run-badge");
    if (!holder) return;
    const span = document.createElement("span");
    span.className = "badge r-" + status;
    span.textContent = status;
    holder.replaceChildren(span);
  }

  async function loop() {
    for (;;) {
      await hw.sleep(Math.min(1000, hw.pollMs()));
      let page;
      try {
        page = await hw.getJSON("/api/runs/" + runId + "/events?after_id=" + after);
      } catch (err) {
        continue;
      }
      page.events.forEach(addRow);
      after = page.last_id;
      badge(page.status);
      await hw.refresh(document.getElementById("steps"));
      if (["succeeded", "failed", "canceled"].includes(page.status)) {
        // The summary (times, reason, errors, re-execute button) is final now.
        await hw.refresh(document.getElementById("run-summary"));
        return;
      }
    }
  }
  loop();
})();
