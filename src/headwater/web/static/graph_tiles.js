// The graph's frames, cheap by construction: the world is painted in square tiles of
// TILE screen pixels at the view's exact scale and kept (a tile cache); a frame copies the
// tiles in view onto the canvas. A pan reuses every tile still in view and paints only the
// ones it uncovers; a zoom step paints none up front. What a frame cannot paint within its
// budget it shows from the frame before, moved and scaled to the new view, and paints on
// the next frames until the view is complete: a frame costs a few copies of the screen and
// at most `budget` ms of painting, however many assets there are.
//
// Any change of what is drawn (state, hover, search) invalidates the cache; the frames after
// it paint the view again the same way, from the middle out, over the picture before it.
// Only the first frame (and one after a resize) paints everything before it shows.
"use strict";

function hwTiler(paintTile, background) {
  const TILE = 256;
  const KEEP = 120;                    // tiles kept: three screens' worth
  const cache = new Map();             // "scale|tx|ty" -> {canvas, scale}; oldest use first
  const pool = [];                     // canvases of evicted tiles, painted over again
  const buffers = [document.createElement("canvas"), document.createElement("canvas")];
  const missing = [];
  let front = 0;                       // buffers[front]: the last frame's picture, no overlays
  let shown = null;                    // what it shows: {s, x, y, version, w, h}
  let version = 0;
  const counts = {frames: 0, painted: 0, copied: 0, borrowed: 0, waiting: 0, complete: false, version: 0,
                  whole: 0, slowest: 0, ms: {prepare: 0, paint: 0, borrow: 0, copy: 0, present: 0}};
  const config = {budget: 6};          // ms of tile painting per frame, once a picture exists

  function invalidate() {
    version++;
    counts.version = version;
    for (const t of cache.values()) pool.push(t.canvas);
    cache.clear();
  }

  function tileCanvas(dpr) {
    const c = pool.pop() || document.createElement("canvas");
    if (c.width !== TILE * dpr) { c.width = TILE * dpr; c.height = TILE * dpr; }
    return c;
  }

  function keep(key, tile) {
    cache.set(key, tile);
    while (cache.size > KEEP) {
      const [oldest, t] = cache.entries().next().value;
      cache.delete(oldest);
      pool.push(t.canvas);
    }
  }

  // Composes the view {s, x, y} (screen = world * s + (x, y)) of W x H CSS pixels into
  // `out`; returns whether it is complete (else the caller asks for another frame).
  // `prepare(x0, y0, x1, y1)` is called once before any tile is painted, with the world
  // box of the tiles in view. `whole`: paint every tile in view now, whatever it costs.
  function frame(out, view, W, H, dpr, prepare, whole) {
    const s = view.s;
    const ox = Math.round(view.x * dpr) / dpr, oy = Math.round(view.y * dpr) / dpr;
    const tx0 = Math.floor(-ox / TILE), tx1 = Math.floor((W - 1 - ox) / TILE);
    const ty0 = Math.floor(-oy / TILE), ty1 = Math.floor((H - 1 - oy) / TILE);
    const cx = (W / 2 - ox) / TILE, cy = (H / 2 - oy) / TILE;
    for (const b of buffers) {
      if (b.width !== W * dpr || b.height !== H * dpr) { b.width = W * dpr; b.height = H * dpr; shown = null; }
    }
    missing.length = 0;
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const key = s + "|" + tx + "|" + ty;
        const t = cache.get(key);
        if (t === undefined) missing.push([tx, ty, (tx + 0.5 - cx) ** 2 + (ty + 0.5 - cy) ** 2]);
        else { cache.delete(key); cache.set(key, t); }  // most recently used
      }
    }
    const usable = shown !== null && !whole;  // also after a change: the old picture, until the new one is painted
    if (!usable) counts.whole++;
    const t0 = performance.now();
    const back = buffers[1 - front];
    const b = back.getContext("2d", {alpha: false});
    b.setTransform(1, 0, 0, 1, 0, 0);
    if (missing.length && usable) {  // the last picture, moved and scaled to this view, under the tiles
      b.fillStyle = background;
      b.fillRect(0, 0, back.width, back.height);
      const f = s / shown.s;
      b.imageSmoothingEnabled = true;
      b.drawImage(buffers[front], (ox - shown.x * f) * dpr, (oy - shown.y * f) * dpr, shown.w * f * dpr, shown.h * f * dpr);
      counts.borrowed++;
    }
    b.imageSmoothingEnabled = false;
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const t = cache.get(s + "|" + tx + "|" + ty);
        if (t === undefined) continue;
        b.drawImage(t.canvas, Math.round((tx * TILE + ox) * dpr), Math.round((ty * TILE + oy) * dpr));
        counts.copied++;
      }
    }
    const t1 = performance.now();
    counts.ms.copy += t1 - t0;
    if (missing.length) {
      missing.sort((a, b) => a[2] - b[2]);  // the middle of the screen first
      prepare(tx0 * TILE / s, ty0 * TILE / s, (tx1 + 1) * TILE / s, (ty1 + 1) * TILE / s);
    }
    const t2 = performance.now();
    counts.ms.prepare += t2 - t1;
    // Each tile is copied as soon as it is painted: a canvas records its drawing and
    // rasterizes it when it is first read, so the budget counts the rasterizing too.
    let k = 0;
    for (; k < missing.length; k++) {
      if (usable && k > 0 && performance.now() - t2 > config.budget) break;
      const [tx, ty] = missing[k];
      const c = tileCanvas(dpr);
      const p0 = performance.now();
      paintTile(c.getContext("2d", {alpha: false}), s, tx, ty, TILE, dpr);
      b.drawImage(c, Math.round((tx * TILE + ox) * dpr), Math.round((ty * TILE + oy) * dpr));
      counts.slowest = Math.max(counts.slowest, performance.now() - p0);
      keep(s + "|" + tx + "|" + ty, {canvas: c});
      counts.painted++;
    }
    const waiting = missing.length - k;
    const t4 = performance.now();
    counts.ms.paint += t4 - t2;
    front = 1 - front;
    shown = {s, x: ox, y: oy, version, w: W, h: H};
    out.setTransform(1, 0, 0, 1, 0, 0);
    out.drawImage(back, 0, 0);
    counts.ms.present += performance.now() - t4;
    counts.frames++;
    counts.waiting = waiting;
    counts.complete = waiting === 0;
    return waiting === 0;
  }

  return {frame, invalidate, counts, config, TILE};
}
