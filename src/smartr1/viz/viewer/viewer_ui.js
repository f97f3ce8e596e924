// smartr1 viewer: controls, the sortable scenario list, the agent panel and pointer handling.
"use strict";
(function () {
  const V = window.smartr1View, S = V.state;
  const DATA = V.DATA;
  const NSTEPS = DATA.steps, CUR = DATA.current, DT = DATA.dt, NM = DATA.labels.length;
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  // ---- scenario list ---------------------------------------------------------------------------
  const COLS = [{ key: "id", label: "scenario" }, { key: "agents", label: "agents", title: "sim agents (valid at the current step)" }];
  for (let m = 0; m < NM; m++) {
    const tag = NM > 1 ? ` ${"ABCDEFGH"[m]}` : "";
    COLS.push({ key: `metametric:${m}`, label: `meta${tag}`, title: "realism meta-metric" });
    COLS.push({ key: `simulated_collision_rate:${m}`, label: `coll${tag}`, title: "collision rate" });
    COLS.push({ key: `simulated_offroad_rate:${m}`, label: `off${tag}`, title: "offroad rate" });
  }
  function cell(k, key) {
    const sc = DATA.scenes[k];
    if (key === "id") return sc.id;
    if (key === "agents") return sc.log.id.length;
    const [f, m] = key.split(":"); return sc.runs[+m].metrics[f];
  }
  function renderList() {
    const head = COLS.map((c) => `<th data-key="${c.key}" title="${esc(c.title || c.label)}">${esc(c.label)}${S.sortKey === c.key ? (S.sortDir > 0 ? " ▲" : " ▼") : ""}</th>`).join("");
    document.querySelector("#scenes thead").innerHTML = `<tr>${head}</tr>`;
    const order = DATA.scenes.map((_, k) => k).sort((a, b) => {
      const x = cell(a, S.sortKey), y = cell(b, S.sortKey);
      return (x < y ? -1 : x > y ? 1 : 0) * S.sortDir;
    });
    S.order = order;
    document.querySelector("#scenes tbody").innerHTML = order.map((k) => {
      const tds = COLS.map((c) => { const v = cell(k, c.key); return `<td>${typeof v === "number" && c.key !== "agents" ? fmt(v, c.key.startsWith("metametric") ? 3 : 2) : esc(v)}</td>`; });
      return `<tr data-k="${k}" class="${k === S.scene ? "sel" : ""}" title="${esc(DATA.scenes[k].id)} (${esc(DATA.scenes[k].source)})">${tds.join("")}</tr>`;
    }).join("");
  }
  document.querySelector("#scenes thead").addEventListener("click", (ev) => {
    const th = ev.target.closest("th"); if (!th) return;
    const key = th.dataset.key; S.sortDir = S.sortKey === key ? -S.sortDir : 1; S.sortKey = key; renderList();
  });
  document.querySelector("#scenes tbody").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr"); if (tr) selectScene(+tr.dataset.k);
  });

  // ---- controls --------------------------------------------------------------------------------
  function options(sel, items, value) { sel.innerHTML = items.map(([v, l]) => `<option value="${v}">${esc(l)}</option>`).join(""); sel.value = String(value); }
  options($("layout"), NM > 1 ? [["single", "one model"], ["side", "side by side"]] : [["single", "one model"]], S.layout);
  options($("model"), [[0, "logged"], ...DATA.labels.map((l, i) => [i + 1, l])], S.model);
  function rolloutOptions(d) {
    const R = d && d.runs.length ? d.runs[0].R : 0;
    options($("rollout"), [[-1, `all ${R}`], ...[...Array(R).keys()].map((r) => [r, `#${r}`])], Math.min(S.rollout, R - 1));
  }
  $("layout").onchange = (e) => { S.layout = e.target.value; $("model").disabled = S.layout === "side"; V.makePanes(); fitView(); V.draw(); };
  V.fitView = fitView;
  $("model").onchange = (e) => { S.model = +e.target.value; V.makePanes(); panel(); };
  $("rollout").onchange = (e) => { S.rollout = +e.target.value; V.draw(); panel(); };
  $("future").onchange = (e) => { S.future = e.target.checked; V.draw(); };
  $("history").onchange = (e) => { S.history = e.target.checked; V.draw(); };
  $("worst").onchange = (e) => { S.worst = e.target.checked; legend(); V.draw(); };
  $("slider").oninput = (e) => { S.step = +e.target.value; V.draw(); };
  $("fit").onclick = () => { fitView(); V.draw(); };
  $("play").onclick = () => togglePlay();
  window.addEventListener("resize", () => V.resize());
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT" || e.target.tagName === "INPUT") return; // the slider steps by itself
    if (e.code === "Space") { e.preventDefault(); togglePlay(); }
    else if (e.code === "ArrowRight") { S.step = Math.min(NSTEPS - 1, S.step + 1); V.draw(); }
    else if (e.code === "ArrowLeft") { S.step = Math.max(0, S.step - 1); V.draw(); }
  });
  let last = 0, acc = 0;
  function togglePlay() {
    S.playing = !S.playing; $("play").innerHTML = S.playing ? "&#10074;&#10074;" : "&#9654;";
    if (S.playing) { if (S.step >= NSTEPS - 1) S.step = 0; last = performance.now(); acc = 0; requestAnimationFrame(tick); }
  }
  function tick(now) { // real time: one step per 0.1 s
    if (!S.playing) return;
    acc += (now - last) / 1000; last = now;
    const k = Math.floor(acc / DT);
    if (k > 0) { acc -= k * DT; S.step = Math.min(NSTEPS - 1, S.step + k); V.draw(); }
    if (S.step >= NSTEPS - 1) { togglePlay(); return; }
    requestAnimationFrame(tick);
  }

  function legend() {
    const st = DATA.style, items = [];
    for (const [t, name] of Object.entries(st.agent_labels)) items.push(`<span><i style="background:${st.agents[t][0]}"></i>${name}</span>`);
    items.push(`<span><i style="background:${st.sdc_fill}"></i>SDC</span>`, `<span><i style="border:2px solid ${st.predict_edge}"></i>evaluated</span>`, `<span><i style="border-top:2px dashed ${st.log_future};height:0;border-radius:0"></i>logged future</span>`);
    for (const ev of DATA.events) items.push(`<span><i style="border:2px solid ${st.events[ev]}"></i>${ev.replace("_", " ")}</span>`);
    if (S.worst) items.push(`<span><i style="background:linear-gradient(90deg,${st.worst_scale.map((c) => `rgb(${c})`).join(",")})"></i>worst component 0 → 1</span>`);
    $("legend").innerHTML = items.join("");
  }

  // ---- view ------------------------------------------------------------------------------------
  function fitView() {
    const d = V.cache.get(S.scene); if (!d) return;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let a = 0; a < d.n; a++) for (let t = 0; t < NSTEPS; t += 5) {
      const q = V.pose(d, 0, 0, a, t); if (!q) continue;
      x0 = Math.min(x0, q[0]); x1 = Math.max(x1, q[0]); y0 = Math.min(y0, q[1]); y1 = Math.max(y1, q[1]);
    }
    if (!Number.isFinite(x0)) { x0 = y0 = -50; x1 = y1 = 50; }
    const p = V.panes[0], w = Math.max(40, x1 - x0 + 20), h = Math.max(40, y1 - y0 + 20);
    S.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: Math.min(p.w / w, p.h / h) };
  }
  async function selectScene(k) {
    if (k === S.scene) return;
    try { await V.decodeScene(k); } catch (err) { V.fail(`could not decode scenario ${DATA.scenes[k].id}: ${err}`); return; }
    S.scene = k; S.agent = -1;
    fitView(); // each scene has its own extent
    rolloutOptions(V.cache.get(k));
    renderList(); panel(); V.draw();
    const sc = DATA.scenes[k];
    $("summary").textContent = `${sc.id} · ${sc.log.id.length} agents, ${sc.eval.filter(Boolean).length} evaluated`;
  }

  // ---- pointer: drag pans, wheel zooms, click selects ------------------------------------------
  V.bindPointer = function (pane) {
    const cv = pane.cv; let down = null;
    cv.addEventListener("mousedown", (e) => { down = { x: e.clientX, y: e.clientY, cx: S.view.cx, cy: S.view.cy, moved: false }; });
    window.addEventListener("mousemove", (e) => {
      if (!down) return; const dx = e.clientX - down.x, dy = e.clientY - down.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) down.moved = true;
      if (down.moved) { S.view.cx = down.cx - dx / S.view.scale; S.view.cy = down.cy + dy / S.view.scale; V.draw(); }
    });
    window.addEventListener("mouseup", (e) => {
      if (down && !down.moved && e.target === cv) { const r = cv.getBoundingClientRect(); pick(pane, e.clientX - r.left, e.clientY - r.top); }
      down = null;
    });
    cv.addEventListener("wheel", (e) => {
      e.preventDefault(); const r = cv.getBoundingClientRect(); const sx = e.clientX - r.left, sy = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015), v = S.view;
      const wx = (sx - pane.w / 2) / v.scale + v.cx, wy = -(sy - pane.h / 2) / v.scale + v.cy;
      v.scale = Math.min(80, Math.max(0.3, v.scale * f));
      v.cx = wx - (sx - pane.w / 2) / v.scale; v.cy = wy + (sy - pane.h / 2) / v.scale; V.draw();
    }, { passive: false });
  };
  function pick(pane, sx, sy) {
    const d = V.cache.get(S.scene); if (!d) return;
    let best = -1, bd = 14;
    const r = Math.max(0, S.rollout);
    for (let a = 0; a < d.n; a++) {
      const q = V.pose(d, pane.m, r, a, S.step); if (!q) continue;
      const [ax, ay] = V.toScreen(pane, q[0], q[1]);
      const reach = Math.max(bd, (d.sc.log.length[a] / 200) * S.view.scale);
      const dist = Math.hypot(ax - sx, ay - sy);
      if (dist < reach && (best < 0 || dist < bd)) { best = a; bd = Math.min(bd, dist); }
    }
    S.agent = best; panel(); V.draw();
  }
  V.agentScreen = function (a, paneIndex = 0) { // test hook: CSS pixel position of agent a in a pane
    const d = V.cache.get(S.scene), p = V.panes[paneIndex]; const q = V.pose(d, p.m, Math.max(0, S.rollout), a, S.step);
    return q ? V.toScreen(p, q[0], q[1]) : null;
  };

  // ---- agent panel -----------------------------------------------------------------------------
  function panel() {
    const el = $("panel"), d = V.cache.get(S.scene);
    if (!d || S.agent < 0) { el.innerHTML = `<p class="muted">Click an agent to see its realism components, its minADE and the rollouts in which it collides, leaves the road or runs a red light.</p>${scenarioTable(d)}`; return; }
    const a = S.agent, sc = d.sc, id = sc.log.id[a];
    const kind = DATA.style.agent_labels[sc.log.type[a]] || "other";
    const roles = [a === sc.sdc ? "SDC" : null, sc.eval[a] ? "evaluated" : "not evaluated"].filter(Boolean).join(", ");
    let html = `<h2 data-agent="${id}">agent ${id} <span class="muted">· ${kind} · ${roles}</span></h2>`;
    const runs = d.runs.map((run, m) => ({ run, m, e: run.index.get(id) })).filter((x) => x.e !== undefined);
    if (!runs.length) { el.innerHTML = html + `<p class="muted">WOSAC does not score this agent (only the SDC and the tracks to predict are evaluated).</p>${scenarioTable(d)}`; return; }
    html += `<h3>component likelihood: agent / scenario</h3><table><tr><th>component</th>${runs.map(({ m }) => `<th colspan="2">${esc(DATA.labels[m])}</th>`).join("")}</tr>`;
    for (const c of DATA.components) {
      html += `<tr><td>${c.replaceAll("_", " ")}</td>`;
      for (const { run, m, e } of runs) {
        const v = run.diag.likelihood[c][e], worst = run.diag.worst_component[e] === c;
        html += `<td class="${worst ? "worst" : ""}" data-model="${m}" data-comp="${c}" data-value="${v === null ? "" : v}"><span class="bar" style="width:${v === null ? 0 : Math.round(v * 28)}px"></span>${fmt(v)}</td><td class="muted">${fmt(run.metrics[c + "_likelihood"])}</td>`;
      }
      html += "</tr>";
    }
    html += `<tr><td>minADE (m)</td>${runs.map(({ run, m, e }) => `<td data-model="${m}" data-comp="min_ade" data-value="${run.diag.min_ade[e]}">${fmt(run.diag.min_ade[e], 2)}</td><td class="muted">${fmt(run.metrics.min_average_displacement_error, 2)}</td>`).join("")}</tr></table>`;
    for (const { run, m, e } of runs) {
      const rows = [];
      for (let r = 0; r < run.R; r++) {
        const evs = DATA.events.map((ev) => [ev, run.diag.first_step[ev][e][r]]).filter(([, s]) => s >= 0);
        if (evs.length) rows.push(`<tr class="ev ${r === S.rollout && S.model === m + 1 ? "cur" : ""}" data-model="${m}" data-rollout="${r}"><td>#${r}</td><td>${evs.map(([ev, s]) => `<span data-event="${ev}" data-step="${CUR + 1 + s}">${ev.replace("_", " ")} ${((s + 1) * DT).toFixed(1)} s</span>`).join(", ")}</td></tr>`);
      }
      const counts = DATA.events.map((ev) => `${ev.replace("_", " ")} ${run.diag.first_step[ev][e].filter((s) => s >= 0).length}/${run.R}`).join(" · ");
      html += `<h3>${esc(DATA.labels[m])}: events per rollout</h3><p class="muted">${counts}</p>`;
      html += rows.length ? `<table>${rows.join("")}</table>` : `<p class="muted">none in any rollout</p>`;
    }
    el.innerHTML = html + scenarioTable(d);
  }
  function scenarioTable(d) {
    if (!d) return "";
    const sc = DATA.scenes[S.scene];
    const rows = [["metametric", "meta-metric", 3], ["min_average_displacement_error", "minADE (m)", 2], ["simulated_collision_rate", "collision rate", 3], ["simulated_offroad_rate", "offroad rate", 3], ["simulated_traffic_light_violation_rate", "red-light rate", 3]];
    return `<h3>scenario ${esc(sc.id)}</h3><table><tr><th></th>${DATA.labels.map((l) => `<th>${esc(l)}</th>`).join("")}</tr>${rows.map(([k, l, n]) => `<tr><td>${l}</td>${sc.runs.map((r) => `<td>${fmt(r.metrics[k], n)}</td>`).join("")}</tr>`).join("")}</table><p class="muted">${esc(sc.source)}</p>`;
  }
  $("panel").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.ev"); if (!tr) return;
    S.rollout = +tr.dataset.rollout; if (S.layout === "single") S.model = +tr.dataset.model + 1;
    $("model").value = String(S.model); $("rollout").value = String(S.rollout);
    const step = Math.min(...[...tr.querySelectorAll("[data-step]")].map((s) => +s.dataset.step));
    S.step = step; V.makePanes(); panel();
  });

  // ---- start -----------------------------------------------------------------------------------
  legend(); V.makePanes();
  if (!DATA.scenes.length) { V.fail("no scenario in this view"); return; }
  renderList();
  if (NM > 1) $("scenes").insertAdjacentHTML("afterbegin", `<p class="models">${DATA.labels.map((l, m) => `<b>${"ABCDEFGH"[m]}</b> ${esc(l)}`).join(" · ")} · click a header to sort</p>`);
  selectScene(S.order[0] !== undefined ? S.order[0] : 0).then(() => {
    document.body.dataset.readyMs = performance.now().toFixed(0); document.body.dataset.ready = "1";
  });
  V.selectScene = selectScene; V.panel = panel;
})();
