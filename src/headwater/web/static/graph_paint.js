// Painting a rectangle of the asset graph's world: lanes, edges and nodes at one level of
// detail. graph_tiles.js calls this once per tile, so every rule here depends only on the
// scale and the world, never on where the view is: a tile painted now joins seamlessly the
// tiles painted before it. The caller sets the canvas transform (world -> pixels) and
// passes the candidates (node and edge indexes near the tile), so no call walks 10,000
// assets.
"use strict";

function hwPainter(M) {  // M: the graph's model, kept current by graph.js
  const CURVE_MAX = 1200;  // screen px: an edge up to this long at the labels level is a curve
  const STUB = 40;         // screen px
  const INK = 0.06;        // screen px of edge per screen px of graph, at most
  let lengths = new Float64Array(0), sums = new Float64Array(1);  // edge lengths (world), sorted; running sums
  const rules = new Map();

  // How much of the edges a scale draws, decided for the whole graph at once (so every
  // tile agrees): the shortest edges in full and the rest as stubs, as long as the ink
  // stays within INK of the graph's area; zoomed out over a graph whose edges cross it
  // at random (all of it a grey haze) the stubs shorten, and then go.
  function measure() {
    const E = M.D.edges, X = M.X, Y = M.Y, NW = M.NW, NH = M.NH;
    lengths = new Float64Array(E.length / 2);
    for (let e = 0; e < E.length; e += 2) lengths[e / 2] = Math.hypot(X[E[e + 1]] - X[E[e]] - NW, Y[E[e + 1]] - Y[E[e]]);
    lengths.sort();
    sums = new Float64Array(lengths.length + 1);
    for (let k = 0; k < lengths.length; k++) sums[k + 1] = sums[k] + lengths[k];
    rules.clear();
  }

  function rule(s) {
    let r = rules.get(s);
    if (r !== undefined) return r;
    const m = lengths.length, budget = INK * M.D.width * M.D.height * s * s;
    let k = 0;  // edges [0, k) in full: at least those shorter than their two stubs
    while (k < m && lengths[k] * s <= 2 * STUB) k++;
    while (k < m && s * sums[k + 1] + 2 * STUB * (m - k - 1) <= budget) k++;
    const left = budget - s * sums[k];
    let stub = m > k ? Math.min(STUB, left / (2 * (m - k))) : STUB;
    if (stub < 3) stub = 0;
    r = {long: k < m ? lengths[k] * s : Infinity, stub};
    if (rules.size > 64) rules.clear();
    rules.set(s, r);
    return r;
  }
  const HV = {healthy: "#1e7142", warning: "#8a5a00", degraded: "#b42f2f", unknown: "#56606b"};

  function faded(i) {
    return (M.lit !== null && !M.lit.has(i)) || (M.matches !== null && !M.matches.has(i));
  }

  // Lanes as filled rectangles, cut to the box: a stroked outline of a huge rectangle costs
  // its whole length in a software rasterizer, and a cut one would draw edges that are not
  // the lane's.
  function lanes(g, s, x0, y0, x1, y1, level) {
    const D = M.D, px = 1 / s;
    for (let l = 0; l < D.lanes.length; l++) {
      const [lx, ly, lw, lh] = D.lanes[l];
      if (lx > x1 || lx + lw < x0 || ly > y1 || ly + lh < y0) continue;
      fillCut(g, "#d3dae1", lx, ly, lx + lw, ly + lh, x0, y0, x1, y1);
      if (lw > 2 * px && lh > 2 * px) fillCut(g, "#eef2f6", lx + px, ly + px, lx + lw - px, ly + lh - px, x0, y0, x1, y1);
      if (level === "groups") {
        // the group's health as a bar across it: each health its share of the width
        const counts = D.laneCounts[l];
        const total = counts[0] + counts[1] + counts[2] + counts[3] || 1;
        let x = lx;
        const y = ly + lh * 0.35, h = Math.max(lh * 0.3, 2 * px);
        for (const hi of [2, 1, 3, 0]) {
          if (!counts[hi]) continue;
          const w = lw * counts[hi] / total;
          fillCut(g, M.COLOR[D.healths[hi]], x, y, x + w, y + h, x0, y0, x1, y1);
          x += w;
        }
      }
    }
  }

  function fillCut(g, colour, ax, ay, bx, by, x0, y0, x1, y1) {
    const cx0 = Math.max(ax, x0), cy0 = Math.max(ay, y0), cx1 = Math.min(bx, x1), cy1 = Math.min(by, y1);
    if (cx1 <= cx0 || cy1 <= cy0) return;
    g.fillStyle = colour;
    g.fillRect(cx0, cy0, cx1 - cx0, cy1 - cy0);
  }

  function laneEdges(g, s, x0, y0, x1, y1) {
    const D = M.D;
    const p = new Path2D();
    for (const [a, b] of M.laneEdges) {
      const la = D.lanes[a], lb = D.lanes[b];
      clipped(p, la[0] + la[2] * 0.5, la[1] + la[3] / 2, lb[0] + lb[2] * 0.5, lb[1] + lb[3] / 2, x0, y0, x1, y1);
    }
    g.strokeStyle = "rgba(110,125,140,.55)";
    g.lineWidth = 1.5 / s;
    g.stroke(p);
  }

  // Every edge is a one-device-pixel hairline (the cheapest stroke there is), cut to the box
  // (a software rasterizer walks the whole of a path); at the labels level a short one is a
  // curve; one longer than the scale's rule allows is a stub at each end pointing at the
  // other (long crossing lines say little and cost much); a highlighted one is whole.
  function edges(g, s, x0, y0, x1, y1, level, cand, nc) {
    const E = M.D.edges, X = M.X, Y = M.Y, NW = M.NW, NH = M.NH, lit = M.lit;
    const curves = level === "labels";
    const {long, stub} = rule(s);
    const plain = new Path2D();
    const bright = lit !== null ? new Path2D() : null;
    for (let k = 0; k < nc; k++) {
      const e = cand[k], a = E[e], b = E[e + 1];
      const ax = X[a] + NW, ay = Y[a] + NH / 2, bx = X[b], by = Y[b] + NH / 2;
      if (Math.min(ax, bx) > x1 || Math.max(ax, bx) < x0 || Math.min(ay, by) > y1 || Math.max(ay, by) < y0) continue;
      const len = Math.hypot(bx - ax, by - ay) * s;
      if (bright !== null && lit.has(a) && lit.has(b)) {  // a highlighted path is drawn whole
        clipped(bright, ax, ay, bx, by, x0, y0, x1, y1);
        continue;
      }
      const p = plain;
      if (curves && len <= CURVE_MAX) {
        const m = (bx - ax) / 2;
        p.moveTo(ax, ay);
        p.bezierCurveTo(ax + m, ay, bx - m, by, bx, by);
      } else if (len < long) {
        clipped(p, ax, ay, bx, by, x0, y0, x1, y1);
      } else if (stub > 0) {
        const f = stub / len;
        clipped(p, ax, ay, ax + (bx - ax) * f, ay + (by - ay) * f, x0, y0, x1, y1);
        clipped(p, bx, by, bx + (ax - bx) * f, by + (ay - by) * f, x0, y0, x1, y1);
      }
    }
    g.lineWidth = 1 / s;
    g.strokeStyle = lit !== null ? "rgba(169,180,191,.35)" : "#98a4b0";
    g.stroke(plain);
    if (bright !== null) {
      g.strokeStyle = M.COLOR.accent;
      g.lineWidth = 2 / s;
      g.stroke(bright);
    }
  }

  // The part of a segment inside a box (Liang-Barsky), added to a path.
  function clipped(p, ax, ay, bx, by, x0, y0, x1, y1) {
    let t0 = 0, t1 = 1;
    const dx = bx - ax, dy = by - ay;
    const qs = [-dx, dx, -dy, dy], rs = [ax - x0, x1 - ax, ay - y0, y1 - ay];
    for (let k = 0; k < 4; k++) {
      const q = qs[k], r = rs[k];
      if (q === 0) { if (r < 0) return; continue; }
      const t = r / q;
      if (q < 0) { if (t > t1) return; if (t > t0) t0 = t; } else { if (t < t0) return; if (t < t1) t1 = t; }
    }
    p.moveTo(ax + t0 * dx, ay + t0 * dy);
    p.lineTo(ax + t1 * dx, ay + t1 * dy);
  }

  // The candidates that touch the box, into `out` (reused): how many.
  function within(cand, nc, x0, y0, x1, y1, out) {
    const X = M.X, Y = M.Y, NW = M.NW, NH = M.NH;
    let k = 0;
    for (let j = 0; j < nc; j++) {
      const i = cand[j];
      if (X[i] < x1 && X[i] + NW > x0 && Y[i] < y1 && Y[i] + NH > y0) out[k++] = i;
    }
    return k;
  }

  // Nodes as blocks: filled by health; a shape says it too (never colour alone): degraded
  // has a plus, warning a bar, unknown is hollow, skipped has two upright bars. Everything
  // is a filled rectangle: a software rasterizer strokes thick lines many times slower.
  function blocks(g, shown, ns) {
    const D = M.D, X = M.X, Y = M.Y, NW = M.NW, NH = M.NH;
    const fills = [new Path2D(), new Path2D(), new Path2D(), new Path2D()];
    const dim = new Path2D();
    const marks = new Path2D();
    const SKIPPED = D.statuses.indexOf("skipped");
    for (let k = 0; k < ns; k++) {
      const i = shown[k], hi = D.h[i], x = X[i], y = Y[i];
      if (faded(i)) { dim.rect(x, y, NW, NH); continue; }
      fills[hi].rect(x, y, NW, NH);
      if (hi === 3) marks.rect(x + 8, y + 8, NW - 16, NH - 16);                       // hollow
      else if (hi === 2) { marks.rect(x + 25, y + NH / 2 - 5, 50, 10); marks.rect(x + 45, y + 14, 10, NH - 28); }
      else if (hi === 1) marks.rect(x + 25, y + NH / 2 - 5, NW - 50, 10);
      if (D.s[i] === SKIPPED) { marks.rect(x + NW - 60, y + 12, 10, NH - 24); marks.rect(x + NW - 40, y + 12, 10, NH - 24); }
    }
    for (let hi = 0; hi < 4; hi++) { g.fillStyle = M.COLOR[D.healths[hi]]; g.fill(fills[hi]); }
    g.fillStyle = "#e3e8ed";
    g.fill(dim);
    g.fillStyle = "rgba(255,255,255,.92)";
    g.fill(marks);
  }

  // Boxes first, then the words grouped by font and colour: a canvas state change per
  // node (font, colour, alpha) costs more than the drawing itself.
  function labelled(g, s, shown, ns) {
    const D = M.D, X = M.X, Y = M.Y, NW = M.NW, NH = M.NH;
    const near = [], far = [];
    for (let k = 0; k < ns; k++) (faded(shown[k]) ? far : near).push(shown[k]);
    for (const [group, alpha] of [[far, 0.25], [near, 1]]) {
      if (!group.length) continue;
      g.globalAlpha = alpha;
      const bodies = new Path2D();
      const stripes = [new Path2D(), new Path2D(), new Path2D(), new Path2D()];
      for (const i of group) { bodies.rect(X[i], Y[i], NW, NH); stripes[D.h[i]].rect(X[i], Y[i], 7, NH); }
      g.fillStyle = "#fff";
      g.fill(bodies);
      g.strokeStyle = "#c4ccd4";
      g.lineWidth = 1 / s;
      g.stroke(bodies);
      stripes.forEach((p, hi) => { g.fillStyle = M.COLOR[D.healths[hi]]; g.fill(p); });
      g.strokeStyle = M.COLOR.degraded;
      for (const i of group) if (D.h[i] === 2) g.strokeRect(X[i], Y[i], NW, NH);
      const texts = group.map((i) => M.lines(i));
      g.textBaseline = "alphabetic";
      g.font = "600 12.5px system-ui, sans-serif";
      g.fillStyle = "#15202b";
      group.forEach((i) => g.fillText(M.shortKey(D.ids[i]), X[i] + 16, Y[i] + 17));
      g.font = "11.5px system-ui, sans-serif";
      for (let hi = 0; hi < 4; hi++) {
        g.fillStyle = HV[D.healths[hi]];
        group.forEach((i, k) => { if (D.h[i] === hi) g.fillText(texts[k][0], X[i] + 16, Y[i] + 33); });
      }
      g.fillStyle = "#3d4751";
      group.forEach((i, k) => g.fillText(texts[k][1], X[i] + 16, Y[i] + 48));
      g.fillStyle = "#b42f2f";
      group.forEach((i, k) => { if (texts[k][2]) g.fillText(texts[k][2], X[i] + 16, Y[i] + 63); });
    }
    g.globalAlpha = 1;
  }

  // One world box at scale s, the transform already set; `nodes` and `edgeList` hold the
  // candidates (any superset of what touches the box), `scratch` room for the nodes in it.
  function region(g, s, x0, y0, x1, y1, level, nodes, nn, edgeList, ne, scratch) {
    lanes(g, s, x0, y0, x1, y1, level);
    if (level === "groups") { laneEdges(g, s, x0, y0, x1, y1); return; }
    edges(g, s, x0, y0, x1, y1, level, edgeList, ne);
    const ns = within(nodes, nn, x0, y0, x1, y1, scratch);
    if (level === "nodes") blocks(g, scratch, ns); else labelled(g, s, scratch, ns);
  }

  return {region, faded, measure, rule};
}
