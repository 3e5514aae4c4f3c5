// The asset graph, drawn on a canvas: our own renderer, no library.
//
// The server lays the graph out (cached per definitions version) and sends it with every
// node's state as parallel arrays (/api/graph/canvas). This script only draws what is in
// view (culling), at the level of detail the zoom allows (groups -> nodes -> labels), and
// keeps a minimap. A pan or zoom step redraws the visible part from typed arrays: no DOM
// node per asset, so 10,000 assets cost what the ~100 on screen cost.
//
// Mouse: drag pans, the wheel zooms, a click selects (shift-click adds or removes), a
// shift-drag selects a box, a double-click opens. Keys (the canvas takes focus): Tab and
// Shift+Tab move between assets, arrows move to the nearest asset that way, Enter opens,
// Space selects, Escape clears, + and - zoom, 0 fits.
"use strict";

const hwGraph = (function () {
  const canvas = document.getElementById("graph-canvas");
  if (!canvas) return null;
  const wrap = document.getElementById("graph");
  const mini = document.getElementById("graph-minimap");
  const live = document.getElementById("graph-live");
  const g = canvas.getContext("2d", {alpha: false});
  const css = getComputedStyle(document.documentElement);
  const COLOR = {};
  for (const h of ["healthy", "warning", "degraded", "unknown", "skipped", "accent"]) {
    COLOR[h] = css.getPropertyValue("--" + h).trim() || "#888";
  }
  const LOD_NODES = 14;   // a node narrower than this many pixels: draw groups, not nodes
  const LOD_LABELS = 110; // wider than this: draw its words
  const MAX_SCALE = 3;
  const BACKGROUND = "#fbfcfd";

  let D = null;            // the answer of /api/graph/canvas
  let n = 0;
  let X, Y, NW, NH;        // node positions (typed arrays) and the node size
  let up = [], down = [];  // adjacency: index -> indexes
  let laneOf;              // node -> lane index
  let laneEdges = [];      // [laneA, laneB] pairs, for the groups level
  let index = new Map();   // key -> node index
  const view = {s: 1, x: 0, y: 0};  // screen = world * s + (x, y)
  let W = 0, H = 0, dpr = 1;
  const selected = new Set();
  let focus = -1;
  let hover = -1;
  let lit = null;          // the hovered node's upstream and downstream (Set), or null
  let matches = null;      // search matches (Set), or null
  let box = null;          // the box being selected, in world coordinates
  let pending = false;
  const stats = {draws: [], last: 0, trace: false};
  const listeners = [];
  const painter = hwPainter({  // what graph_paint.js reads, always current
    get D() { return D; }, get X() { return X; }, get Y() { return Y; }, get NW() { return NW; },
    get NH() { return NH; }, get lit() { return lit; }, get matches() { return matches; },
    get laneEdges() { return laneEdges; }, COLOR, lines, shortKey,
  });
  const tiler = hwTiler(paintTile, BACKGROUND);
  stats.tiles = tiler.counts;

  // -- data ------------------------------------------------------------------------------
  function load(data) {
    D = data;
    n = data.ids.length;
    X = Float64Array.from(data.x);
    Y = Float64Array.from(data.y);
    NW = data.node_w;
    NH = data.node_h;
    index = new Map(data.ids.map((id, i) => [id, i]));
    up = Array.from({length: n}, () => []);
    down = Array.from({length: n}, () => []);
    for (let e = 0; e < data.edges.length; e += 2) {
      down[data.edges[e]].push(data.edges[e + 1]);
      up[data.edges[e + 1]].push(data.edges[e]);
    }
    const laneOfGroup = new Map(data.lanes.map((l, i) => [l[4], i]));
    laneOf = Int32Array.from(data.group, (gi) => laneOfGroup.get(gi));
    const pairs = new Set();
    for (let e = 0; e < data.edges.length; e += 2) {
      const a = laneOf[data.edges[e]], b = laneOf[data.edges[e + 1]];
      if (a !== b) pairs.add(a * 100000 + b);
    }
    laneEdges = Array.from(pairs, (p) => [Math.floor(p / 100000), p % 100000]);
    candN = new Int32Array(n);
    scratch = new Int32Array(n);
    candE = new Int32Array(data.edges.length / 2 + 1);
    painter.measure();
    if (mini) {  // the graph's shape, within 220 x 150
      const k = Math.min(220 / Math.max(data.width, 1), 150 / Math.max(data.height, 1));
      mini.width = Math.max(40, Math.round(data.width * k));
      mini.height = Math.max(30, Math.round(data.height * k));
    }
    count();
  }

  // "materialized 3m ago" is told from one clock for every tile of a picture (a node across
  // two tiles reads the same on both), moved on with every change and twice a minute.
  let clock = Date.now() / 1000;
  setInterval(() => { if (D) { clock = Date.now() / 1000; invalidate(); redraw(); } }, 30000);

  function count() {
    clock = Date.now() / 1000;
    D.laneCounts = D.lanes.map(() => [0, 0, 0, 0]);
    for (let i = 0; i < n; i++) D.laneCounts[laneOf[i]][D.h[i]]++;
    miniDirty = true;
    invalidate();
  }

  function healthOf(i) { return D.healths[D.h[i]]; }
  function statusOf(i) { return D.statuses[D.s[i]]; }

  // -- view ------------------------------------------------------------------------------
  function resize() {
    const r = wrap.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    W = Math.max(1, Math.floor(r.width));
    H = Math.max(1, Math.floor(r.height));
    canvas.width = W * dpr;
    canvas.height = H * dpr;
    canvas.style.width = W + "px";
    canvas.style.height = H + "px";
    invalidate();
  }

  function fitTo(x0, y0, x1, y1, pad) {
    const w = Math.max(x1 - x0, 1), h = Math.max(y1 - y0, 1);
    view.s = Math.min((W - 2 * pad) / w, (H - 2 * pad) / h, MAX_SCALE);
    view.x = (W - w * view.s) / 2 - x0 * view.s;
    view.y = (H - h * view.s) / 2 - y0 * view.s;
    redraw();
  }

  // Fits any graph: no lower bound on the scale (the groups level keeps it readable).
  function fit() { fitTo(0, 0, Math.max(D.width, 1), Math.max(D.height, 1), 16); }

  function zoom(factor, sx, sy) {
    const px = sx === undefined ? W / 2 : sx, py = sy === undefined ? H / 2 : sy;
    const s = Math.min(Math.max(view.s * factor, 1e-4), MAX_SCALE);
    view.x = px - (px - view.x) * (s / view.s);
    view.y = py - (py - view.y) * (s / view.s);
    view.s = s;
    redraw();
  }

  function centreOn(i, scale) {
    if (scale) view.s = scale;
    view.x = W / 2 - (X[i] + NW / 2) * view.s;
    view.y = H / 2 - (Y[i] + NH / 2) * view.s;
    redraw();
  }

  function toWorld(sx, sy) { return {x: (sx - view.x) / view.s, y: (sy - view.y) / view.s}; }

  function nodeAt(sx, sy) {
    if (NW * view.s < LOD_NODES) return -1;
    const p = toWorld(sx, sy);
    for (let i = 0; i < n; i++) {
      if (p.x >= X[i] && p.x <= X[i] + NW && p.y >= Y[i] && p.y <= Y[i] + NH) return i;
    }
    return -1;
  }

  function laneAt(sx, sy) {
    const p = toWorld(sx, sy);
    return D.lanes.findIndex((l) => p.x >= l[0] && p.x <= l[0] + l[2] && p.y >= l[1] && p.y <= l[1] + l[3]);
  }

  // -- drawing ---------------------------------------------------------------------------
  // Never more than one frame's work per animation frame: input only moves the view and
  // asks for a frame; the frame composes the view from cached tiles (graph_tiles.js).
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  // What is drawn changed (state, hover, search): every tile is painted again.
  function invalidate() { if (tiler) tiler.invalidate(); titles.clear(); }

  function levelOf(s) {
    const width = NW * s;
    return width < LOD_NODES ? "groups" : width < LOD_LABELS ? "nodes" : "labels";
  }

  // The candidates for the tiles about to be painted: the nodes and edges that touch the
  // world box of the tiles in view, found once per frame, not once per tile.
  let candN = new Int32Array(0), candE = new Int32Array(0), scratch = new Int32Array(0);
  let nCandN = 0, nCandE = 0;
  function prepare(x0, y0, x1, y1) {
    const m = 4 / view.s, E = D.edges;
    x0 -= m; y0 -= m; x1 += m; y1 += m;
    nCandN = 0;
    for (let i = 0; i < n; i++) {
      if (X[i] < x1 && X[i] + NW > x0 && Y[i] < y1 && Y[i] + NH > y0) candN[nCandN++] = i;
    }
    nCandE = 0;
    for (let e = 0; e < E.length; e += 2) {
      const a = E[e], b = E[e + 1];
      const ax = X[a] + NW, bx = X[b], ay = Y[a] + NH / 2, by = Y[b] + NH / 2;
      if (Math.min(ax, bx) <= x1 && Math.max(ax, bx) >= x0 && Math.min(ay, by) <= y1 && Math.max(ay, by) >= y0) {
        candE[nCandE++] = e;
      }
    }
  }

  function paintTile(t, s, tx, ty, TILE, dpr) {
    t.setTransform(1, 0, 0, 1, 0, 0);
    t.fillStyle = BACKGROUND;
    t.fillRect(0, 0, TILE * dpr, TILE * dpr);
    t.setTransform(dpr * s, 0, 0, dpr * s, -tx * TILE * dpr, -ty * TILE * dpr);
    const m = 2 / s;  // a hairline on the tile's border belongs to both tiles
    painter.region(t, s, tx * TILE / s - m, ty * TILE / s - m, (tx + 1) * TILE / s + m, (ty + 1) * TILE / s + m,
                   levelOf(s), candN, nCandN, candE, nCandE, scratch);
  }

  function draw(whole) {
    const t0 = performance.now();
    if (!D) {
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = BACKGROUND;
      g.fillRect(0, 0, W, H);
      return;
    }
    const level = levelOf(view.s);
    const complete = tiler.frame(g, view, W, H, dpr, prepare, whole === true);
    const t1 = performance.now();
    g.setTransform(dpr * view.s, 0, 0, dpr * view.s, dpr * view.x, dpr * view.y);
    if (level !== "groups") outline();
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawLaneTitles(level);
    if (box) {
      g.strokeStyle = COLOR.accent;
      g.setLineDash([5, 4]);
      g.lineWidth = 1.5;
      const a = {x: box.x0 * view.s + view.x, y: box.y0 * view.s + view.y};
      const b = {x: box.x1 * view.s + view.x, y: box.y1 * view.s + view.y};
      g.strokeRect(Math.min(a.x, b.x), Math.min(a.y, b.y), Math.abs(b.x - a.x), Math.abs(b.y - a.y));
      g.setLineDash([]);
    }
    drawMinimap();
    const t2 = performance.now();
    if (stats.trace) {
      performance.measure("hw:tiles", {start: t0, end: t1});
      performance.measure("hw:overlay", {start: t1, end: t2});
    }
    stats.last = t2 - t0;
    stats.draws.push(stats.last);
    if (stats.draws.length > 500) stats.draws.shift();
    wrap.dataset.level = level;
    wrap.dataset.scale = view.s.toFixed(4);
    wrap.dataset.complete = complete ? "1" : "0";
    if (!complete) redraw();  // the tiles still missing: painted on the next frames
  }

  // Group names stay on screen while their lane does; cut to the lane's width on screen
  // (kept per lane and width: measuring words is the costly part of a title).
  const titles = new Map();
  function drawLaneTitles(level) {
    g.font = "600 12px system-ui, sans-serif";
    g.textBaseline = "top";
    g.fillStyle = "#4b5661";
    for (let l = 0; l < D.lanes.length; l++) {
      const [lx, ly, lw, lh, gi, size] = D.lanes[l];
      const sx = lx * view.s + view.x, sy = ly * view.s + view.y;
      if (sx > W || sy > H || (lx + lw) * view.s + view.x < 0 || (ly + lh) * view.s + view.y < 0) continue;
      if (lh * view.s < 14 && level === "groups") continue;
      const room = Math.floor((Math.min((lx + lw) * view.s + view.x, W) - Math.max(sx, 0) - 12) / 8) * 8;
      if (room < 40) continue;
      const key = l + "|" + room + "|" + (level === "groups");
      let text = titles.get(key);
      if (text === undefined) {
        text = laneTitle(l, level, gi, size, room);
        titles.set(key, text);
      }
      g.fillText(text, Math.max(sx, 0) + 8, Math.max(sy, 0) + 6);
    }
  }

  function laneTitle(l, level, gi, size, room) {
    const c = D.laneCounts[l];
    let text = `${D.groups[gi]} (${size})`;
    if (level === "groups") {
      const parts = [];
      for (const hi of [2, 1, 3, 0]) if (c[hi]) parts.push(`${c[hi]} ${D.healths[hi]}`);
      text += " — " + parts.join(", ");
    }
    const full = g.measureText(text).width;
    if (full <= room) return text;
    let cut = Math.max(1, Math.floor(text.length * room / full) - 1);
    while (cut > 1 && g.measureText(text.slice(0, cut) + "…").width > room) cut--;
    return text.slice(0, cut) + "…";
  }

  // Selection and focus are drawn over the tiles: selecting repaints nothing.
  function outline() {
    const x0 = -view.x / view.s - NW, y0 = -view.y / view.s - NH;
    const x1 = x0 + W / view.s + 2 * NW, y1 = y0 + H / view.s + 2 * NH;
    if (selected.size) {
      const p = new Path2D();
      for (const i of selected) if (X[i] > x0 && X[i] < x1 && Y[i] > y0 && Y[i] < y1) p.rect(X[i] - 4, Y[i] - 4, NW + 8, NH + 8);
      g.strokeStyle = COLOR.accent;
      g.lineWidth = Math.max(3, 3 / view.s);
      g.stroke(p);
    }
    if (focus >= 0) {
      g.setLineDash([8 / view.s, 5 / view.s]);
      g.strokeStyle = "#111";
      g.lineWidth = 2.5 / view.s;
      g.strokeRect(X[focus] - 8, Y[focus] - 8, NW + 16, NH + 16);
      g.setLineDash([]);
    }
  }

  function ago(t) {
    if (!t) return null;
    const d = Math.max(0, clock - t);
    if (d < 60) return Math.floor(d) + "s ago";
    if (d < 3600) return Math.floor(d / 60) + "m ago";
    if (d < 86400) return Math.floor(d / 3600) + "h ago";
    return Math.floor(d / 86400) + "d ago";
  }

  function shortKey(key) { return key.length <= 26 ? key : "…" + key.slice(-25); }

  function lines(i) {
    const status = statusOf(i) + (D.stale[i] ? " · stale" : "");
    const verb = status.startsWith("observed") || status.startsWith("unobserved") ? "observed" : "materialized";
    const when = ago(D.t[i]);
    const bad = D.bad[i] ? `${D.bad[i]} check(s) failing` : "";
    return [`${healthOf(i)} · ${status}`, when ? `${verb} ${when}` : `never ${verb}`, bad];
  }

  // -- minimap ---------------------------------------------------------------------------
  let miniDirty = true;
  const miniBase = document.createElement("canvas");
  function miniScale() {
    return Math.min(mini.width / Math.max(D.width, 1), mini.height / Math.max(D.height, 1));
  }
  function drawMinimap() {
    if (!mini) return;
    const m = mini.getContext("2d");
    const k = miniScale();
    if (miniDirty) {
      miniBase.width = mini.width;
      miniBase.height = mini.height;
      const b = miniBase.getContext("2d");
      b.fillStyle = "#fff";
      b.fillRect(0, 0, mini.width, mini.height);
      for (let l = 0; l < D.lanes.length; l++) {
        const [lx, ly, lw, lh] = D.lanes[l];
        const c = D.laneCounts[l];
        const worst = c[2] ? 2 : c[1] ? 1 : c[3] ? 3 : 0;
        b.fillStyle = COLOR[D.healths[worst]];
        b.fillRect(lx * k, ly * k, Math.max(lw * k, 1), Math.max(lh * k, 1));
      }
      miniDirty = false;
    }
    m.drawImage(miniBase, 0, 0);
    m.strokeStyle = "#111";
    m.lineWidth = 1.5;
    const x0 = -view.x / view.s, y0 = -view.y / view.s;
    m.strokeRect(x0 * k, y0 * k, W / view.s * k, H / view.s * k);
  }
  function miniJump(e) {
    const r = mini.getBoundingClientRect();
    const k = miniScale();
    const wx = (e.clientX - r.left) / k, wy = (e.clientY - r.top) / k;
    view.x = W / 2 - wx * view.s;
    view.y = H / 2 - wy * view.s;
    redraw();
  }

  // -- highlight, selection, focus -----------------------------------------------------------
  function walk(start, edges, into) {
    const stack = [start];
    while (stack.length) {
      for (const next of edges[stack.pop()]) {
        if (!into.has(next)) { into.add(next); stack.push(next); }
      }
    }
  }
  function setHover(i) {
    if (i === hover) return;
    hover = i;
    if (i < 0) {
      lit = null;
    } else {
      lit = new Set([i]);
      walk(i, up, lit);
      walk(i, down, lit);
    }
    const tip = document.getElementById("graph-tip");
    if (tip) {
      tip.hidden = i < 0;
      if (i >= 0) tip.textContent = describe(i) + (D.tips[String(i)] ? " — " + D.tips[String(i)] : "");
    }
    wrap.dataset.hover = i < 0 ? "" : D.ids[i];
    invalidate();
    redraw();
  }
  function describe(i) {
    const [l1, l2, l3] = lines(i);
    return `${D.ids[i]}: ${l1}; ${l2}${l3 ? "; " + l3 : ""}`;
  }
  function changed() {
    wrap.dataset.selected = String(selected.size);
    for (const f of listeners) f(selectedKeys());
    redraw();
  }
  function selectedKeys() { return Array.from(selected, (i) => D.ids[i]).sort(); }
  function setFocus(i) {
    focus = i;
    if (i < 0) { redraw(); return; }
    const sx = X[i] * view.s + view.x, sy = Y[i] * view.s + view.y;
    if (NW * view.s < LOD_LABELS) centreOn(i, Math.max(view.s, LOD_LABELS / NW * 1.15));
    else if (sx < 0 || sy < 0 || sx + NW * view.s > W || sy + NH * view.s > H) centreOn(i);
    else redraw();
    wrap.dataset.focus = D.ids[i];
    if (live) live.textContent = describe(i);
  }
  function nearest(from, dx, dy) {
    const cx = X[from], cy = Y[from];
    let best = -1, score = Infinity;
    for (let i = 0; i < n; i++) {
      if (i === from) continue;
      const vx = X[i] - cx, vy = Y[i] - cy;
      const along = vx * dx + vy * dy;
      if (along <= 0) continue;
      const across = Math.abs(vx * dy - vy * dx);
      const s = along + 3 * across;
      if (s < score) { score = s; best = i; }
    }
    return best;
  }
  function open(i) { window.location.href = "/assets/" + D.ids[i].split("/").map(encodeURIComponent).join("/"); }

  // -- input -------------------------------------------------------------------------------
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    drag = {sx: e.clientX, sy: e.clientY, vx: view.x, vy: view.y, moved: false, shift: e.shiftKey};
    if (e.shiftKey) {
      const r = canvas.getBoundingClientRect();
      const p = toWorld(e.clientX - r.left, e.clientY - r.top);
      box = {x0: p.x, y0: p.y, x1: p.x, y1: p.y};
    }
  });
  canvas.addEventListener("pointermove", (e) => {
    const r = canvas.getBoundingClientRect();
    if (!drag) {
      const i = nodeAt(e.clientX - r.left, e.clientY - r.top);
      setHover(i);
      const tip = document.getElementById("graph-tip");
      if (tip && i >= 0) {
        tip.style.left = Math.min(e.clientX - r.left + 14, W - 380) + "px";
        tip.style.top = (e.clientY - r.top + 16) + "px";
      }
      canvas.style.cursor = i >= 0 ? "pointer" : "grab";
      return;
    }
    const dx = e.clientX - drag.sx, dy = e.clientY - drag.sy;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true;
    if (box) {
      const p = toWorld(e.clientX - r.left, e.clientY - r.top);
      box.x1 = p.x;
      box.y1 = p.y;
      redraw();
    } else {
      setHover(-1);
      view.x = drag.vx + dx;
      view.y = drag.vy + dy;
      redraw();
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const r = canvas.getBoundingClientRect();
    if (box && drag.moved) {
      const [ax, bx] = [Math.min(box.x0, box.x1), Math.max(box.x0, box.x1)];
      const [ay, by] = [Math.min(box.y0, box.y1), Math.max(box.y0, box.y1)];
      for (let i = 0; i < n; i++) {
        if (X[i] + NW > ax && X[i] < bx && Y[i] + NH > ay && Y[i] < by) selected.add(i);
      }
      changed();
    } else if (!drag.moved) {
      const i = nodeAt(e.clientX - r.left, e.clientY - r.top);
      if (i >= 0) {
        if (!drag.shift) selected.clear();
        if (selected.has(i) && drag.shift) selected.delete(i); else selected.add(i);
        focus = i;
        changed();
      } else if (NW * view.s < LOD_NODES) {
        const l = laneAt(e.clientX - r.left, e.clientY - r.top);
        if (l >= 0) { const [lx, ly, lw, lh] = D.lanes[l]; fitTo(lx, ly, lx + lw, ly + lh, 24); }
      } else if (!drag.shift) {
        selected.clear();
        changed();
      }
    }
    box = null;
    drag = null;
    redraw();
  });
  canvas.addEventListener("dblclick", (e) => {
    const r = canvas.getBoundingClientRect();
    const i = nodeAt(e.clientX - r.left, e.clientY - r.top);
    if (i >= 0) open(i);
  });
  canvas.addEventListener("pointerleave", () => { if (!drag) setHover(-1); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});

  const ORDER = () => { const o = Array.from({length: n}, (_, i) => i); return o; };
  canvas.addEventListener("keydown", (e) => {
    if (!D || !n) return;
    const k = e.key;
    if (k === "Tab") {
      const next = focus < 0 ? (e.shiftKey ? n - 1 : 0) : focus + (e.shiftKey ? -1 : 1);
      if (next < 0 || next >= n) { focus = -1; redraw(); return; }  // let the focus leave the graph
      e.preventDefault();
      setFocus(ORDER()[next]);
    } else if (k.startsWith("Arrow")) {
      e.preventDefault();
      if (focus < 0) { setFocus(0); return; }
      const [dx, dy] = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]}[k];
      const i = nearest(focus, dx, dy);
      if (i >= 0) setFocus(i);
    } else if (k === "Enter" && focus >= 0) {
      e.preventDefault();
      open(focus);
    } else if (k === " " && focus >= 0) {
      e.preventDefault();
      if (selected.has(focus)) selected.delete(focus); else selected.add(focus);
      changed();
    } else if (k === "Escape") {
      selected.clear();
      changed();
    } else if (k === "+" || k === "=") {
      zoom(1.25);
    } else if (k === "-") {
      zoom(0.8);
    } else if (k === "0") {
      fit();
    }
  });
  canvas.addEventListener("focus", () => { if (focus < 0 && live) live.textContent = "asset graph: Tab or arrow keys move between assets, Enter opens"; });

  if (mini) {
    let miniDrag = false;
    mini.addEventListener("pointerdown", (e) => { miniDrag = true; mini.setPointerCapture(e.pointerId); miniJump(e); });
    mini.addEventListener("pointermove", (e) => { if (miniDrag) miniJump(e); });
    mini.addEventListener("pointerup", () => { miniDrag = false; });
  }

  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.zoom === "in") zoom(1.25);
    else if (b.dataset.zoom === "out") zoom(0.8);
    else fit();
  }));

  const search = document.getElementById("graph-search");
  if (search) {
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      matches = q ? new Set(D.ids.flatMap((id, i) => id.toLowerCase().includes(q) ? [i] : [])) : null;
      wrap.dataset.matches = matches ? String(matches.size) : "";
      invalidate();
      redraw();
    });
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || !matches || !matches.size) return;
      e.preventDefault();
      setFocus(Math.min(...matches));
    });
  }

  window.addEventListener("resize", () => { resize(); miniDirty = true; redraw(); });

  // -- live: the assets whose state changed ----------------------------------------------------
  function follow(since) {  // from the cursor of the state drawn (the canvas answer's)
    hw.follow("/api/changes", (answer) => {
      let moved = false;
      for (const a of answer.assets) {
        const i = index.get(a.key);
        if (i === undefined) continue;
        D.h[i] = D.healths.indexOf(a.health);
        D.s[i] = D.statuses.indexOf(a.status);
        D.stale[i] = a.stale ? 1 : 0;
        D.t[i] = a.last_updated_at ? Date.parse(a.last_updated_at) / 1000 : null;
        D.bad[i] = a.failing_checks.length;
        if (a.health === "healthy") delete D.tips[String(i)];
        else D.tips[String(i)] = (a.reasons || []).join("; ");
        moved = true;
      }
      if (!moved) return;
      count();
      showCounts();
      redraw();
    }, since);
  }

  function showCounts() {
    const holder = document.getElementById("graph-counts");
    if (!holder) return;
    const totals = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) totals[D.h[i]]++;
    const parts = [];
    D.healths.forEach((h, hi) => {
      if (!totals[hi]) return;
      const dot = document.createElement("span");
      dot.className = "dot h-" + h;
      parts.push(dot, document.createTextNode(totals[hi] + " " + h + " "));
    });
    holder.replaceChildren(...parts);
  }

  async function start() {
    resize();
    const t0 = performance.now();
    const data = await hw.getJSON("/api/graph/canvas" + window.location.search);
    load(data);
    const empty = document.getElementById("graph-empty");
    if (empty) empty.hidden = n > 0;
    document.getElementById("graph-shown").textContent = `${data.shown} of ${data.total} assets:`;
    showCounts();
    fit();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      stats.firstDraw = performance.now() - t0;
      document.body.dataset.graphReady = "1";
    }));
    follow(data.cursor);
  }
  start().catch((err) => {
    const box = document.getElementById("graph-error");
    if (box) { box.hidden = false; box.textContent = String(err.message || err); }
  });

  return {
    stats, view, zoom, fit, redraw, draw, centreOn, invalidate,
    tiles: {counts: tiler.counts, config: tiler.config, size: tiler.TILE},
    pan(dx, dy) { view.x += dx; view.y += dy; redraw(); },
    look(s, wx, wy) { view.s = s; view.x = W / 2 - wx * s; view.y = H / 2 - wy * s; redraw(); },
    size() { return {width: D.width, height: D.height, nodes: n}; },
    state(key) {  // what a node shows now (for tests): its health, status and words
      const i = index.get(key);
      return i === undefined ? null : {health: healthOf(i), status: statusOf(i), text: describe(i)};
    },
    select(keys, add) {
      if (!add) selected.clear();
      for (const k of keys) { const i = index.get(k); if (i !== undefined) selected.add(i); }
      changed();
    },
    clear() { selected.clear(); changed(); },
    selectedKeys,
    onSelect(f) { listeners.push(f); },
    rect(key) {  // a node's box on screen (for tests)
      const i = index.get(key);
      return i === undefined ? null : {x: X[i] * view.s + view.x, y: Y[i] * view.s + view.y, w: NW * view.s, h: NH * view.s};
    },
    point(key) {  // where a node is on screen (for tests and the bench)
      const i = index.get(key);
      return i === undefined ? null : {x: (X[i] + NW / 2) * view.s + view.x, y: (Y[i] + NH / 2) * view.s + view.y};
    },
  };
})();
