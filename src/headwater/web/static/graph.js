// The asset graph: pan (drag), zoom (wheel, buttons), hover highlights upstream and
// downstream, search by key. The layout comes from the server; this only moves the view.
"use strict";

(function () {
  const svg = document.getElementById("graph-svg");
  const dataEl = document.getElementById("graph-data");
  if (!svg || !dataEl) return;
  const data = JSON.parse(dataEl.textContent);
  const nodes = Array.from(svg.querySelectorAll(".nodes .node"));
  const hl = document.getElementById("edges-hl");
  const full = {x: 0, y: 0, w: Math.max(data.width, 200), h: Math.max(data.height, 120)};
  let view = Object.assign({}, full);

  // -- adjacency, from the flat edge list [source, target, x1, y1, x2, y2, ...] ----------------
  const ups = nodes.map(() => []);
  const downs = nodes.map(() => []);
  for (let i = 0; i < data.edges.length; i += 6) {
    downs[data.edges[i]].push(data.edges[i + 1]);
    ups[data.edges[i + 1]].push(data.edges[i]);
  }
  const indexOf = new Map(nodes.map((n, i) => [n, i]));

  // -- view box ------------------------------------------------------------------------------
  function apply() {
    svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  }
  function fit() {
    const box = svg.getBoundingClientRect();
    const aspect = box.width / Math.max(box.height, 1);
    view = {x: 0, y: 0, w: full.w, h: full.h};
    if (full.w / full.h > aspect) view.h = full.w / aspect; else view.w = full.h * aspect;
    // Very large graphs: start readable at the top left rather than as a speck.
    const minScale = 0.35;
    if (box.width / view.w < minScale) {
      view.w = box.width / minScale;
      view.h = box.height / minScale;
    }
    apply();
  }
  function toSvg(clientX, clientY) {
    const box = svg.getBoundingClientRect();
    return {x: view.x + (clientX - box.left) * view.w / box.width, y: view.y + (clientY - box.top) * view.h / box.height};
  }
  function zoom(factor, clientX, clientY) {
    const box = svg.getBoundingClientRect();
    const p = toSvg(clientX === undefined ? box.left + box.width / 2 : clientX,
                    clientY === undefined ? box.top + box.height / 2 : clientY);
    const w = Math.min(Math.max(view.w * factor, 100), full.w * 20);
    const k = w / view.w;
    view = {x: p.x - (p.x - view.x) * k, y: p.y - (p.y - view.y) * k, w: view.w * k, h: view.h * k};
    apply();
  }
  function centreOn(node) {
    const t = node.transform.baseVal.consolidate().matrix;
    const box = svg.getBoundingClientRect();
    view.w = box.width;
    view.h = box.height;
    view.x = t.e + 105 - view.w / 2;
    view.y = t.f + 36 - view.h / 2;
    apply();
  }

  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom(Math.exp(e.deltaY * 0.0015), e.clientX, e.clientY);
  }, {passive: false});

  let drag = null;
  let moved = false;
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y};
    moved = false;
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    moved = true;
    svg.classList.add("dragging");
    const box = svg.getBoundingClientRect();
    view.x = drag.vx - dx * view.w / box.width;
    view.y = drag.vy - dy * view.h / box.height;
    apply();
  });
  window.addEventListener("pointerup", () => {
    drag = null;
    svg.classList.remove("dragging");
  });
  // A drag that ends on a node is not a click on it.
  svg.addEventListener("click", (e) => {
    if (moved) {
      e.preventDefault();
      e.stopPropagation();
      moved = false;
    }
  }, true);

  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.zoom === "in") zoom(0.8);
    else if (b.dataset.zoom === "out") zoom(1.25);
    else fit();
  }));

  // -- hover: highlight everything upstream and downstream -----------------------------------
  function walk(start, edges) {
    const seen = new Set();
    const stack = [start];
    while (stack.length) {
      for (const next of edges[stack.pop()]) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return seen;
  }
  function highlight(i) {
    const up = walk(i, ups);
    const down = walk(i, downs);
    const on = new Set([i, ...up, ...down]);
    let d = "";
    for (let e = 0; e < data.edges.length; e += 6) {
      const s = data.edges[e];
      const t = data.edges[e + 1];
      if ((t === i || up.has(t)) && (s === i || up.has(s)) || (s === i || down.has(s)) && (t === i || down.has(t))) {
        const [x1, y1, x2, y2] = data.edges.slice(e + 2, e + 6);
        const mid = (x2 - x1) / 2;
        d += `M${x1},${y1}C${x1 + mid},${y1} ${x2 - mid},${y2} ${x2},${y2}`;
      }
    }
    on.forEach((n) => nodes[n].classList.add("hl"));
    hl.setAttribute("d", d);
    svg.classList.add("focus");
  }
  function clear() {
    svg.classList.remove("focus");
    svg.querySelectorAll(".node.hl").forEach((n) => n.classList.remove("hl"));
    hl.setAttribute("d", "");
  }
  const tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  document.body.append(tip);
  svg.addEventListener("mouseover", (e) => {
    const node = e.target.closest(".node");
    if (!node || drag) return;
    clear();
    const i = indexOf.get(node);
    highlight(i);
    tip.textContent = data.tips[i] || "";
    tip.hidden = !tip.textContent;
  });
  svg.addEventListener("mousemove", (e) => {
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 380) + "px";
    tip.style.top = (e.clientY + 16) + "px";
  });
  svg.addEventListener("mouseout", (e) => {
    const node = e.target.closest(".node");
    if (node && !node.contains(e.relatedTarget)) {
      clear();
      tip.hidden = true;
    }
  });

  // -- search ----------------------------------------------------------------------------------
  const search = document.getElementById("graph-search");
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      svg.classList.toggle("searching", q.length > 0);
      nodes.forEach((n) => n.classList.toggle("match", q.length > 0 && n.dataset.id.toLowerCase().includes(q)));
    });
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const first = svg.querySelector(".node.match");
      if (first) centreOn(first);
    });
  }

  // -- live: the nodes whose state changed, drawn again by the server as the page drew them ------
  const byId = new Map(nodes.map((n) => [n.dataset.id, n]));
  const graphBox = document.getElementById("graph");
  const STICKY = ["hl", "match", "self"];  // classes this script (not the state) sets
  function showCounts(answer) {
    const holder = document.getElementById("graph-counts");
    if (!holder || !answer.summary) return;
    const parts = [];
    for (const health of ["healthy", "warning", "degraded", "unknown"]) {
      const count = answer.summary[health];
      if (!count) continue;
      const dot = document.createElement("span");
      dot.className = "dot h-" + health;
      parts.push(dot, document.createTextNode(count + " " + health + " "));
    }
    holder.replaceChildren(...parts);
  }
  hw.follow("/api/graph/changes" + window.location.search, (answer) => {
    for (const changed of answer.nodes) {
      const node = byId.get(changed.id);
      if (!node) continue;
      const sticky = STICKY.filter((c) => node.classList.contains(c));
      node.setAttribute("class", [changed.class, ...sticky].join(" "));
      node.innerHTML = changed.body;  // escaped SVG from the server's own node writer
      data.tips[indexOf.get(node)] = changed.tip;
    }
    showCounts(answer);
    if (answer.shape && graphBox && answer.shape !== graphBox.dataset.shape) {
      const moved = document.getElementById("graph-moved");  // e.g. a health filter now matches others
      moved.href = window.location.href;
      moved.hidden = false;
    }
  });

  fit();
  requestAnimationFrame(() => requestAnimationFrame(() => { document.body.dataset.graphReady = "1"; }));
})();
