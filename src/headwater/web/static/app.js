// Headwater UI: actions without a reload, and live fragments. Our own code, no library.
// Every piece of text from the server is inserted with textContent, or is a fragment the
// server rendered through its autoescaping templates.
"use strict";

const hw = {
  csrf: () => document.querySelector('meta[name="csrf-token"]').content,
  pollMs: () => 1000 * parseFloat(document.querySelector('meta[name="poll-seconds"]').content || "2"),

  async post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body || {}),
      headers: {"Content-Type": "application/json", "X-CSRF-Token": hw.csrf()},
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || response.statusText);
      throw new Error(detail);
    }
    return data;
  },

  async getJSON(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    return response.json();
  },

  // Replace a server-rendered fragment: the element's data-fragment URL renders it again.
  async refresh(el) {
    if (!el || !el.dataset.fragment) return;
    const response = await fetch(el.dataset.fragment, {credentials: "same-origin"});
    if (response.ok) el.innerHTML = await response.text();
  },

  say(parts, failed) {
    const box = document.getElementById("action-status");
    if (!box) return;
    box.hidden = false;
    box.classList.toggle("failed", !!failed);
    box.replaceChildren(...parts.map((p) => {
      if (typeof p === "string") return document.createTextNode(p);
      const a = document.createElement("a");
      a.href = p.href;
      a.textContent = p.text;
      return a;
    }));
  },

  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),

  // Follow the change feed from the cursor of the snapshot the page was drawn from (`since`,
  // else the page's own): every poll asks what changed since the last cursor, and `apply`
  // gets each answer that has changes. An answer with nothing new is a few hundred bytes.
  async follow(feed, apply, since) {
    const meta = document.querySelector('meta[name="hw-cursor"]');
    let cursor = since || (meta && meta.content);
    if (!cursor) return;
    for (;;) {
      await hw.sleep(hw.pollMs());
      if (document.hidden) continue;
      try {
        const answer = await hw.getJSON(feed + (feed.includes("?") ? "&" : "?") + "since=" + encodeURIComponent(cursor));
        if (answer.changed) await apply(answer);
        cursor = answer.cursor;
      } catch (err) {
        // the UI restarting or a network blip: the next poll asks again
      }
    }
  },
};

// Follow a run until it ends, refreshing the asset's state on the way.
async function followRun(run) {
  const link = {href: "/runs/" + run.run_id, text: run.run_id.slice(0, 8)};
  const state = document.getElementById("state");
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
    await hw.refresh(state);
  }
  await hw.refresh(document.getElementById("asset-body"));  // history, lineage, checks too
  hw.say(["Run ", link, " " + status + "."], status !== "succeeded");
}

function describeResult(data) {
  if (data.observed) {
    const failed = data.failures.length ? "; failed: " + data.failures.join("; ") : "";
    return ["Observed " + data.observed.length + " source(s)" + failed + "."];
  }
  if (data.results) {
    const bad = data.results.filter((r) => !r.data.passed).length;
    return ["Ran " + data.results.length + " check(s): " + (data.results.length - bad) + " passed, " + bad + " failed."];
  }
  return ["Done."];
}

// Action forms work without JS (POST + redirect); with JS they call the API and stay here.
// Delegated, so that forms inside refreshed fragments keep working.
document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.action[data-api]");
    if (!form) return;
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form).entries());
    const body = {};
    if (fields.key) body.key = fields.key;
    if (fields.selection) body.selection = fields.selection;
    if (fields.downstream) body.downstream = fields.downstream === "1";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await hw.post(form.dataset.api, body);
      if (data.run && !document.getElementById("state")) {
        window.location.href = "/runs/" + data.run.run_id;  // e.g. re-execute from the run page
      } else if (data.run) {
        await followRun(data.run);
      } else {
        hw.say(describeResult(data), false);
        await hw.refresh(document.getElementById("asset-body"));
      }
    } catch (err) {
      hw.say([err.message], true);
    } finally {
      button.disabled = false;
    }
});

// Graph nodes (the graph page, an asset's lineage) open their asset on click.
document.addEventListener("click", (event) => {
  const node = event.target.closest && event.target.closest("g.node[data-href]");
  if (!node) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey) window.open(node.dataset.href, "_blank");
  else window.location.href = node.dataset.href;
});
document.addEventListener("auxclick", (event) => {
  const node = event.target.closest && event.target.closest("g.node[data-href]");
  if (node && event.button === 1) window.open(node.dataset.href, "_blank");
});

// Live fragments. The runs list refreshes while a run is in progress; the catalog and the
// asset page follow the change feed (the graph page's own script does, in graph.js).
async function followRuns() {
  for (;;) {
    await hw.sleep(hw.pollMs());
    const runs = document.getElementById("runs-body");
    if (!document.hidden && runs && runs.dataset.live) await hw.refresh(runs);
  }
}
followRuns();

const catalogLive = document.getElementById("catalog-live");
if (catalogLive) hw.follow("/api/changes", () => hw.refresh(catalogLive));

const assetBody = document.getElementById("asset-body");
if (assetBody) {
  hw.follow("/api/changes", async (answer) => {
    // The asset and the neighbours its lineage draws: any of them changing redraws the page's body.
    const shown = new Set(Array.from(assetBody.querySelectorAll(".mini-graph g.node"), (n) => n.dataset.id));
    if (answer.full || answer.assets.some((a) => shown.has(a.key))) await hw.refresh(assetBody);
  });
}
