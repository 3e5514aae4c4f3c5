// Launching from anywhere: the selection bar and the launch dialog, shared by the graph and
// the catalog. A page tells it what is selected (hwLaunch.source); a launch posts to
// /api/actions/materialize and opens the run, which shows its progress live.
"use strict";

const hwLaunch = (function () {
  const bar = document.getElementById("launch-bar");
  if (!bar) return null;
  const dialog = document.getElementById("launch-dialog");
  let source = null;  // {target(): {keys} | {match}, count(): n, clear()}

  function update() {
    const n = source ? source.count() : 0;
    bar.hidden = n === 0;
    document.getElementById("launch-count").textContent = `${n} selected`;
  }

  function parseTags(text) {
    const tags = {};
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line) continue;
      const at = line.indexOf("=");
      if (at <= 0) throw new Error(`tag line "${line}": write key=value`);
      tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return tags;
  }

  async function launch(options) {
    const body = Object.assign({}, source.target(), options);
    const answer = await hw.post("/api/actions/materialize", body);
    window.location.href = "/runs/" + answer.run.run_id;
  }

  async function quick(kind) {
    const options = {all: {}, downstream: {downstream: true}, stale: {mode: "stale"}, missing: {mode: "missing"}}[kind];
    try {
      hw.say(["Launching…"]);
      await launch(options);
    } catch (err) {
      hw.say([String(err.message || err)], true);
    }
  }

  bar.addEventListener("click", (e) => {
    const b = e.target.closest("[data-launch]");
    if (!b || b.disabled || !source) return;
    const kind = b.dataset.launch;
    if (kind === "clear") { source.clear(); update(); return; }
    if (kind === "dialog") {
      document.getElementById("launch-what").textContent = `${source.count()} asset(s) selected`;
      document.getElementById("launch-error").hidden = true;
      dialog.showModal();
      return;
    }
    quick(kind);
  });

  if (dialog) {
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "launch") return;
      const form = dialog.querySelector("form");
      try {
        const options = {downstream: form.downstream.checked, mode: form.mode.value,
                         tags: parseTags(form.tags.value)};
        if (form.executor.value) options.executor = form.executor.value;
        await launch(options);
      } catch (err) {
        const box = document.getElementById("launch-error");
        box.textContent = String(err.message || err);
        box.hidden = false;
        dialog.showModal();
      }
    });
  }

  return {
    source(s) { source = s; update(); },
    update,
  };
})();

// The graph page: the canvas's selection, and "Select" by a query.
if (hwLaunch && typeof hwGraph !== "undefined" && hwGraph) {
  hwLaunch.source({
    target: () => ({keys: hwGraph.selectedKeys()}),
    count: () => hwGraph.selectedKeys().length,
    clear: () => hwGraph.clear(),
  });
  hwGraph.onSelect(() => hwLaunch.update());
  const pick = document.getElementById("graph-pick");
  const go = async () => {
    const text = pick.value.trim();
    if (!text) return;
    try {
      const answer = await hw.getJSON("/api/selection?select=" + encodeURIComponent(text));
      hwGraph.select(answer.keys, false);
      hw.say([`${answer.keys.length} asset(s) selected by ${text}`]);
    } catch (err) {
      hw.say([String(err.message || err)], true);
    }
  };
  document.getElementById("graph-pick-go").addEventListener("click", go);
  pick.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); go(); } });
}

// The catalog: checkboxes, and "select all matching" (every page, resolved by the server).
if (hwLaunch && document.getElementById("catalog-live")) {
  const livePart = document.getElementById("catalog-live");
  const picked = new Set();
  let all = false;
  const boxes = () => Array.from(livePart.querySelectorAll("input.pick[data-key]"));
  const total = () => parseInt((document.getElementById("catalog-count") || {}).dataset?.total || "0", 10);
  const filters = () => JSON.parse(livePart.dataset.filters || "{}");
  const sync = () => {
    for (const b of boxes()) b.checked = all || picked.has(b.dataset.key);
    const head = livePart.querySelector("input.pick-page");
    if (head) head.checked = boxes().length > 0 && boxes().every((b) => b.checked);
    const allBox = document.getElementById("pick-all");
    if (allBox) allBox.checked = all;
    hwLaunch.update();
  };
  hwLaunch.source({
    target: () => (all ? {match: filters()} : {keys: Array.from(picked)}),
    count: () => (all ? total() : picked.size),
    clear: () => { picked.clear(); all = false; sync(); },
  });
  livePart.addEventListener("change", (e) => {
    const t = e.target;
    if (t.matches("input.pick[data-key]")) {
      if (all) { all = false; boxes().forEach((b) => picked.add(b.dataset.key)); }
      if (t.checked) picked.add(t.dataset.key); else picked.delete(t.dataset.key);
    } else if (t.matches("input.pick-page")) {
      all = false;
      for (const b of boxes()) { if (t.checked) picked.add(b.dataset.key); else picked.delete(b.dataset.key); }
    } else if (t.id === "pick-all") {
      all = t.checked;
      if (!all) picked.clear();
    } else {
      return;
    }
    sync();
  });
  // the table is redrawn live: keep the ticks
  new MutationObserver(sync).observe(livePart, {childList: true});
}
