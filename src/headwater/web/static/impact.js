// The asset page's Impact section: asks /api/impact/<key> and draws the answer.
// Every value is inserted with textContent (see app.js).
"use strict";

(function () {
  const section = document.getElementById("impact");
  if (!section) return;
  const form = section.querySelector("form");
  const headline = section.querySelector(".impact-headline");
  const table = section.querySelector(".impact-table");
  const body = table.querySelector("tbody");
  const extra = section.querySelector(".impact-extra");

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function when(asset) {
    if (asset.breach_at === null) return asset.policy ? "never" : "no policy";
    if (asset.already_breached) return "breached " + asset.breach_at.slice(0, 16).replace("T", " ");
    return asset.breach_at.slice(0, 16).replace("T", " ") + " UTC";
  }

  async function load() {
    const params = new URLSearchParams(new FormData(form));
    const response = await fetch(section.dataset.impact + "?" + params, {credentials: "same-origin"});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      headline.textContent = typeof data.detail === "string" ? data.detail : response.statusText;
      return;
    }
    headline.textContent = data.headline;
    body.replaceChildren(...data.assets.map((a) => {
      const tr = document.createElement("tr");
      if (data.breaches.includes(a.key)) tr.className = "impact-breach";
      tr.append(cell(when(a)), cell(a.key), cell(a.owners.join(", ") || "-"), cell(a.policy || "-"),
                cell(a.path.join(" → ")));
      return tr;
    }));
    table.hidden = data.assets.length === 0;
    extra.replaceChildren(
      ...data.checks.map((c) => { const li = document.createElement("li");
        li.textContent = "check " + c.asset + " " + c.check + (c.blocking ? " (blocking)" : ""); return li; }),
      ...data.triggers.map((t) => { const li = document.createElement("li");
        li.textContent = t.kind + " " + t.name + " (" + t.detail + ")" + (t.next_time ? ", next " + t.next_time : "");
        return li; }));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  form.addEventListener("change", load);
  load();
})();
