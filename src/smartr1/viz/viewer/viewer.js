// smartr1 viewer: plain JavaScript over one embedded JSON block (see smartr1/viz/viewer/encode.py).
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("smartr1-data").textContent);
  window.smartr1View = { DATA };
  const ST = DATA.style;
  const NSTEPS = DATA.steps, CUR = DATA.current, DT = DATA.dt;
  const NM = DATA.labels.length;
  const COMP = DATA.components;
  const KIND = DATA.map_kinds;
  const ARR = { i1: Int8Array, u1: Uint8Array, i2: Int16Array, i4: Int32Array };
  const S = {
    scene: -1, step: CUR, model: NM > 0 ? 1 : 0, layout: "single", rollout: 0, playing: false,
    future: true, history: true, worst: false, agent: -1, view: null, order: [], sortKey: "metametric:0", sortDir: 1,
  };
  const cache = new Map();
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));

  function fail(msg) { const e = $("error"); e.textContent = msg; e.style.display = "block"; }

  async function inflate(b64, parts) {
    const bin = atob(b64), u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    const stream = new Blob([u8]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buf = await new Response(stream).arrayBuffer();
    const out = []; let pos = 0;
    for (const [dt, n] of parts) {
      const C = ARR[dt]; const size = C.BYTES_PER_ELEMENT * n;
      out.push(new C(buf.slice(pos, pos + size))); pos += size;
    }
    return out;
  }

  // Second-difference decode of one row: a0, a1 - a0, then a_i - 2a_(i-1) + a_(i-2).
  function undelta2(d, off, n, out, oOff, start, hasStart) {
    let v = 0, a = 0, i = 0;
    if (hasStart) { a = start; } else { a = d[off]; out[oOff] = a; i = 1; }
    for (; i < n; i++) { v += d[off + i]; a += v; out[oOff + i] = a; }
  }

  async function decodeScene(k) {
    if (cache.has(k)) return cache.get(k);
    const sc = DATA.scenes[k];
    const n = sc.log.id.length;
    const [dx, dy, dh, valid] = await inflate(sc.log.data, sc.log.parts);
    const lx = new Int32Array(n * NSTEPS), ly = new Int32Array(n * NSTEPS), lh = new Int32Array(n * NSTEPS);
    for (let a = 0; a < n; a++) {
      const o = a * NSTEPS;
      undelta2(dx, o, NSTEPS, lx, o, 0, false); undelta2(dy, o, NSTEPS, ly, o, 0, false);
      let h = 0; for (let t = 0; t < NSTEPS; t++) { h += dh[o + t]; lh[o + t] = h; }
    }
    const runs = [];
    for (const run of sc.runs) {
      const [rx, ry, rh] = await inflate(run.data, run.parts);
      const R = run.rollouts, F = NSTEPS - CUR - 1;
      const x = new Int32Array(R * n * F), y = new Int32Array(R * n * F), h = new Int32Array(R * n * F);
      for (let r = 0; r < R; r++) for (let a = 0; a < n; a++) {
        const o = (r * n + a) * F, s = a * NSTEPS + CUR;
        undelta2(rx, o, F, x, o, lx[s], true); undelta2(ry, o, F, y, o, ly[s], true);
        let hh = lh[s]; for (let t = 0; t < F; t++) { hh += rh[o + t]; h[o + t] = hh; }
      }
      runs.push({ R, x, y, h, diag: run.agents, metrics: run.metrics, index: new Map(run.agents.object_id.map((id, i) => [id, i])) });
    }
    const [kind, sub, counts, ids, mx, my, slanes, stops, states] = await inflate(sc.map.data, sc.map.parts);
    const feats = []; let p = 0;
    const lanesById = new Map();
    for (let f = 0; f < counts.length; f++) {
      const c = counts[f], pts = new Float32Array(2 * c); let ax = 0, ay = 0;
      for (let i = 0; i < c; i++) { ax += mx[p + i]; ay += my[p + i]; pts[2 * i] = ax / 100; pts[2 * i + 1] = ay / 100; }
      p += c;
      const feat = { kind: kind[f], sub: sub[f], id: ids[f], pts };
      feats.push(feat);
      if (kind[f] === KIND.lane) lanesById.set(ids[f], feat);
    }
    const signals = [];
    for (let s = 0; s < slanes.length; s++) {
      signals.push({ lane: lanesById.get(slanes[s]), x: stops[2 * s] / 100, y: stops[2 * s + 1] / 100, states: states.subarray(s * NSTEPS, (s + 1) * NSTEPS) });
    }
    const d = { n, lx, ly, lh, valid, runs, feats, signals, sc };
    cache.set(k, d);
    return d;
  }

  // ---- poses -------------------------------------------------------------------------------
  function pose(d, m, r, a, t) { // model m: 0 = logged, 1.. = runs; returns [x, y, h] metres or null
    if (m === 0 || t <= CUR) {
      const i = a * NSTEPS + t;
      return d.valid[i] ? [d.lx[i] / 100, d.ly[i] / 100, d.lh[i] / 1000] : null;
    }
    const run = d.runs[m - 1], F = NSTEPS - CUR - 1, i = (r * d.n + a) * F + (t - CUR - 1);
    return [run.x[i] / 100, run.y[i] / 100, run.h[i] / 1000];
  }

  // ---- drawing -------------------------------------------------------------------------------
  const panes = [];
  function makePanes() {
    const stage = $("stage"); stage.innerHTML = ""; panes.length = 0;
    const models = S.layout === "side" ? DATA.labels.map((_, i) => i + 1) : [S.model];
    for (const m of models) {
      const div = document.createElement("div"); div.className = "pane";
      const cv = document.createElement("canvas"); const tag = document.createElement("div"); tag.className = "tag";
      div.append(cv, tag); stage.append(div);
      const pane = { cv, tag, m }; panes.push(pane); window.smartr1View.bindPointer(pane);
    }
    resize();
  }
  function resize() {
    const dpr = window.devicePixelRatio || 1;
    for (const p of panes) { const r = p.cv.getBoundingClientRect(); p.cv.width = Math.max(1, r.width * dpr); p.cv.height = Math.max(1, r.height * dpr); p.w = r.width; p.h = r.height; }
    draw();
  }
  function toScreen(p, x, y) { const v = S.view; return [p.w / 2 + (x - v.cx) * v.scale, p.h / 2 - (y - v.cy) * v.scale]; }
  function toWorld(p, sx, sy) { const v = S.view; return [(sx - p.w / 2) / v.scale + v.cx, -(sy - p.h / 2) / v.scale + v.cy]; }

  function polyline(ctx, p, pts, close) {
    ctx.beginPath();
    for (let i = 0; i < pts.length; i += 2) { const [sx, sy] = toScreen(p, pts[i], pts[i + 1]); if (i) ctx.lineTo(sx, sy); else ctx.moveTo(sx, sy); }
    if (close) ctx.closePath();
  }
  function drawMap(ctx, p, d) {
    const px = S.view.scale; // pixels per metre
    const order = [KIND.driveway, KIND.crosswalk, KIND.speed_bump, KIND.lane, KIND.road_line, KIND.road_edge];
    for (const kind of order) for (const f of d.feats) {
      if (f.kind !== kind || f.pts.length < 4) continue;
      if (kind === KIND.crosswalk || kind === KIND.driveway || kind === KIND.speed_bump) {
        polyline(ctx, p, f.pts, true);
        ctx.fillStyle = kind === KIND.crosswalk ? ST.crosswalk_face : kind === KIND.driveway ? ST.driveway_face : ST.speed_bump_face; ctx.fill();
        ctx.strokeStyle = kind === KIND.crosswalk ? ST.crosswalk_hatch : ST.speed_bump_edge; ctx.lineWidth = 1; ctx.setLineDash([]); ctx.stroke();
      } else if (kind === KIND.lane) {
        polyline(ctx, p, f.pts, false); ctx.strokeStyle = f.sub === 3 ? ST.bike_lane : ST.lane; ctx.lineWidth = Math.max(0.5, 0.12 * px); ctx.setLineDash([]); ctx.stroke();
      } else if (kind === KIND.road_line) {
        const ls = ST.road_lines[f.sub] || ST.road_lines[0];
        polyline(ctx, p, f.pts, false);
        if (ls.casing) { ctx.strokeStyle = ST.white_casing; ctx.lineWidth = ls.width + 1.2; ctx.setLineDash([]); ctx.stroke(); }
        ctx.strokeStyle = ls.color; ctx.lineWidth = ls.width; ctx.setLineDash(ls.dashes ? ls.dashes.map((v) => v * 1.5) : []); ctx.stroke();
      } else {
        polyline(ctx, p, f.pts, false); ctx.strokeStyle = ST.road_edge; ctx.lineWidth = 1.8; ctx.setLineDash([]); ctx.stroke();
      }
    }
    ctx.setLineDash([]);
    for (const f of d.feats) if (f.kind === KIND.stop_sign && f.pts.length >= 2) {
      const [sx, sy] = toScreen(p, f.pts[0], f.pts[1]); octagon(ctx, sx, sy, 5); ctx.fillStyle = ST.stop_sign; ctx.fill();
    }
  }
  function octagon(ctx, x, y, r) {
    ctx.beginPath();
    for (let i = 0; i < 8; i++) { const a = Math.PI / 8 + (i * Math.PI) / 4; ctx[i ? "lineTo" : "moveTo"](x + r * Math.cos(a), y + r * Math.sin(a)); }
    ctx.closePath();
  }
  function drawSignals(ctx, p, d, t) {
    for (const s of d.signals) {
      const st = s.states[t]; if (st === 255) continue;
      const col = ST.signals[st] || ST.signals[0];
      if (s.lane) { // tint the last metres of the controlled lane
        const pts = s.lane.pts; const tail = []; let len = 0;
        for (let i = pts.length - 2; i >= 0 && len < ST.signal_lane_m; i -= 2) {
          tail.unshift(pts[i], pts[i + 1]);
          if (i >= 2) len += Math.hypot(pts[i] - pts[i - 2], pts[i + 1] - pts[i - 1]);
        }
        polyline(ctx, p, tail, false); ctx.strokeStyle = col; ctx.globalAlpha = 0.55; ctx.lineWidth = Math.max(2, 1.2 * S.view.scale); ctx.stroke(); ctx.globalAlpha = 1;
      }
      const [sx, sy] = toScreen(p, s.x, s.y);
      ctx.beginPath(); ctx.arc(sx, sy, 4.5, 0, 2 * Math.PI); ctx.fillStyle = col; ctx.fill(); ctx.strokeStyle = "#222"; ctx.lineWidth = 1; ctx.stroke();
    }
  }
  function worstColor(v) { // likelihood 0 (bad) .. 1 (good) on a purple-to-pale scale
    const stops = ST.worst_scale; const x = Math.min(1, Math.max(0, v)) * (stops.length - 1); const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i, a = stops[i], b = stops[i + 1];
    return `rgb(${a.map((c, k) => Math.round(c + (b[k] - c) * f)).join(",")})`;
  }
  function agentStyle(d, m, a) {
    const sc = d.sc, type = sc.log.type[a];
    let [fill, edge] = ST.agents[type] || ST.agents[4]; let lw = 0.8;
    const isEval = sc.eval[a];
    if (isEval) { edge = ST.predict_edge; lw = 2; }
    if (a === sc.sdc) fill = ST.sdc_fill;
    if (S.worst && m > 0) {
      const run = d.runs[m - 1], e = run.index.get(sc.log.id[a]);
      if (e === undefined) fill = "#cfcfcf";
      else { const c = run.diag.worst_component[e]; fill = c ? worstColor(run.diag.likelihood[c][e]) : "#cfcfcf"; }
    }
    return { fill, edge, lw };
  }
  function box(ctx, p, x, y, h, L, W) {
    const c = Math.cos(h), s = Math.sin(h), pts = [];
    for (const [u, v] of [[L / 2, W / 2], [L / 2, -W / 2], [-L / 2, -W / 2], [-L / 2, W / 2]]) pts.push(x + u * c - v * s, y + u * s + v * c);
    polyline(ctx, p, pts, true);
  }
  function trail(ctx, p, d, m, r, a, t0, t1) {
    ctx.beginPath(); let on = false;
    for (let t = t0; t <= t1; t++) {
      const q = pose(d, m, r, a, t); if (!q) { on = false; continue; }
      const [sx, sy] = toScreen(p, q[0], q[1]); if (on) ctx.lineTo(sx, sy); else ctx.moveTo(sx, sy); on = true;
    }
    ctx.stroke();
  }
  function eventsOf(d, m, a) { // [{event, step}] of the selected rollout for agent a (evaluated agents only)
    if (m === 0) return [];
    const run = d.runs[m - 1], e = run.index.get(d.sc.log.id[a]); if (e === undefined) return [];
    const out = [];
    for (const ev of DATA.events) { const s = run.diag.first_step[ev][e][S.rollout < 0 ? 0 : S.rollout]; if (s >= 0) out.push({ ev, step: CUR + 1 + s }); }
    return out;
  }
  function marker(ctx, ev, sx, sy) {
    const r = 8; ctx.lineWidth = 2.2; ctx.strokeStyle = ST.events[ev]; ctx.fillStyle = "rgba(255,255,255,.8)";
    ctx.beginPath();
    if (ev === "collision") { ctx.arc(sx, sy, r, 0, 2 * Math.PI); ctx.fill(); ctx.stroke(); ctx.beginPath(); ctx.moveTo(sx - 5, sy - 5); ctx.lineTo(sx + 5, sy + 5); ctx.moveTo(sx + 5, sy - 5); ctx.lineTo(sx - 5, sy + 5); }
    else if (ev === "offroad") { ctx.moveTo(sx, sy - r); ctx.lineTo(sx + r, sy + r * 0.8); ctx.lineTo(sx - r, sy + r * 0.8); ctx.closePath(); ctx.fill(); }
    else { ctx.rect(sx - r * 0.8, sy - r * 0.8, r * 1.6, r * 1.6); ctx.fill(); }
    ctx.stroke();
  }
  function drawPane(p, d) {
    const ctx = p.cv.getContext("2d"), dpr = p.cv.width / Math.max(1, p.w);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.fillStyle = ST.background; ctx.fillRect(0, 0, p.w, p.h);
    const m = p.m, t = S.step, n = d.n, sc = d.sc;
    drawMap(ctx, p, d); drawSignals(ctx, p, d, t);
    const R = m > 0 ? d.runs[m - 1].R : 1;
    const rolls = m > 0 && S.rollout < 0 ? [...Array(R).keys()] : [Math.max(0, S.rollout)];
    if (S.future) { // the logged future, dashed
      ctx.strokeStyle = ST.log_future; ctx.lineWidth = 1.2; ctx.setLineDash([4, 3]);
      for (let a = 0; a < n; a++) trail(ctx, p, d, 0, 0, a, CUR, NSTEPS - 1);
      ctx.setLineDash([]);
    }
    if (m > 0 && S.rollout < 0) { // all rollouts as faint full futures
      ctx.lineWidth = 1; ctx.globalAlpha = 0.18;
      for (const r of rolls) for (let a = 0; a < n; a++) { ctx.strokeStyle = (ST.agents[sc.log.type[a]] || ST.agents[4])[1]; trail(ctx, p, d, m, r, a, CUR, NSTEPS - 1); }
      ctx.globalAlpha = 1;
    }
    if (S.history) {
      ctx.lineWidth = 2; ctx.globalAlpha = rolls.length > 1 ? 0.25 : 0.8;
      for (const r of rolls) for (let a = 0; a < n; a++) { ctx.strokeStyle = (ST.agents[sc.log.type[a]] || ST.agents[4])[0]; trail(ctx, p, d, m, r, a, Math.max(0, t - 30), t); }
      ctx.globalAlpha = 1;
    }
    const alpha = rolls.length > 1 ? 0.22 : 1;
    const drawOrder = [...Array(n).keys()].sort((a, b) => (sc.eval[a] + (a === sc.sdc) * 2) - (sc.eval[b] + (b === sc.sdc) * 2));
    for (const r of rolls) for (const a of drawOrder) {
      const q = pose(d, m, r, a, t); if (!q) continue;
      const st = agentStyle(d, m, a);
      box(ctx, p, q[0], q[1], q[2], sc.log.length[a] / 100, sc.log.width[a] / 100);
      ctx.globalAlpha = alpha; ctx.fillStyle = st.fill; ctx.fill(); ctx.strokeStyle = st.edge; ctx.lineWidth = st.lw; ctx.stroke();
      const L = sc.log.length[a] / 200, [hx, hy] = toScreen(p, q[0] + L * Math.cos(q[2]), q[1] + L * Math.sin(q[2])), [cx, cy] = toScreen(p, q[0], q[1]);
      ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(hx, hy); ctx.strokeStyle = ST.heading; ctx.lineWidth = 1; ctx.stroke(); ctx.globalAlpha = 1;
      if (a === S.agent && rolls.length === 1) { ctx.beginPath(); ctx.arc(cx, cy, Math.max(12, 3 * S.view.scale), 0, 2 * Math.PI); ctx.strokeStyle = ST.selected; ctx.lineWidth = 2.5; ctx.stroke(); }
    }
    if (m > 0 && S.rollout >= 0) for (let a = 0; a < n; a++) for (const e of eventsOf(d, m, a)) {
      if (e.step > t) continue;
      const q = pose(d, m, S.rollout, a, e.step); const [sx, sy] = toScreen(p, q[0], q[1]); marker(ctx, e.ev, sx, sy);
    }
    scaleBar(ctx, p);
    p.tag.textContent = m === 0 ? "logged" : `${DATA.labels[m - 1]} · ${S.rollout < 0 ? "all rollouts" : "rollout " + S.rollout}`;
  }
  function scaleBar(ctx, p) {
    const target = 110 / S.view.scale, k = Math.pow(10, Math.floor(Math.log10(target)));
    const len = [1, 2, 5, 10].map((f) => f * k).filter((v) => v <= target).pop() || k;
    const px = len * S.view.scale, x = 14, y = p.h - 16;
    ctx.fillStyle = "rgba(255,255,255,.8)"; ctx.fillRect(x - 6, y - 18, px + 12, 26);
    ctx.strokeStyle = "#222"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5); ctx.stroke();
    ctx.fillStyle = "#222"; ctx.font = "11px system-ui, sans-serif"; ctx.fillText(`${len} m`, x + 2, y - 7);
  }
  function draw() {
    const d = cache.get(S.scene); if (!d || !S.view) return;
    for (const p of panes) drawPane(p, d);
    $("slider").value = S.step;
    const secs = ((S.step - CUR) * DT).toFixed(1);
    $("clock").textContent = `step ${S.step} / ${NSTEPS - 1} · t = ${secs >= 0 ? "+" : ""}${secs} s`;
  }
  window.smartr1View.draw = draw;
  window.smartr1View.state = S;
  window.smartr1View.pose = pose;
  window.smartr1View.cache = cache;
  window.smartr1View.toScreen = toScreen;
  window.smartr1View.panes = panes;
  window.smartr1View.decodeScene = decodeScene;
  window.smartr1View.fail = fail;
  window.smartr1View.makePanes = makePanes;
  window.smartr1View.resize = resize;
})();
