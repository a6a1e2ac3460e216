// The streamopt dashboard: lists streams and models, draws a stream key's values with the
// smoothed mean and a ±std band, and a model's loss and accuracy (raw and EWA-smoothed).
// Polls the /v1 API; with auth on, asks for the token once and sends it on every call.
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "streamopt-token";
const app = { token: sessionStorage.getItem(TOKEN_KEY) || "", view: null, key: null, timer: null };

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;

function setStatus(text, bad) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("bad", !!bad);
}

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (app.token) headers.Authorization = "Bearer " + app.token;
  const r = await fetch(path, { headers, cache: "no-store" });
  if (r.status === 401) throw new Unauthorized("token needed");
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}

function askToken(message) {
  const form = $("#login");
  form.hidden = false;
  $("#login-error").textContent = message || "";
  $("#token").focus();
  setStatus("waiting for the token", true);
}

$("#login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  app.token = $("#token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, app.token);
  $("#login").hidden = true;
  refresh();
});

// ------------------------------------------------------------------ charts
const COLORS = { raw: "#9aa3b5", smooth: "#2463eb", second: "#d9480f" };

function drawChart(canvas, lines, band) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 56, r: 12, t: 10, b: 26 };
  const xs = [], ys = [];
  for (const s of lines) s.x.forEach((x, i) => { if (s.y[i] != null) { xs.push(x); ys.push(s.y[i]); } });
  if (band) band.x.forEach((x, i) => { if (band.lo[i] != null) { ys.push(band.lo[i], band.hi[i]); } });
  const points = lines.length ? lines[0].y.filter((v) => v != null).length : 0;
  canvas.dataset.points = String(points);
  if (!xs.length) {
    ctx.fillStyle = "#6b7385";
    ctx.fillText("no data yet", pad.l, pad.t + 20);
    return;
  }
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const sx = (x) => pad.l + (x - x0) / (x1 - x0) * (w - pad.l - pad.r);
  const sy = (y) => h - pad.b - (y - y0) / (y1 - y0) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#d9dde5";
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  for (let k = 0; k <= 4; k++) {
    const y = y0 + (y1 - y0) * k / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, sy(y)); ctx.lineTo(w - pad.r, sy(y)); ctx.stroke();
    ctx.fillText(Number(y.toPrecision(4)).toString(), 4, sy(y) + 4);
  }
  if (band) {
    ctx.fillStyle = "rgba(36, 99, 235, .15)";
    ctx.beginPath();
    let started = false;
    const idx = band.x.map((_, i) => i).filter((i) => band.lo[i] != null);
    for (const i of idx) { const p = [sx(band.x[i]), sy(band.hi[i])]; started ? ctx.lineTo(...p) : ctx.moveTo(...p); started = true; }
    for (const i of idx.slice().reverse()) ctx.lineTo(sx(band.x[i]), sy(band.lo[i]));
    ctx.closePath();
    ctx.fill();
  }
  for (const s of lines) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.5;
    ctx.beginPath();
    let pen = false;
    s.x.forEach((x, i) => {
      const y = s.y[i];
      if (y == null) { pen = false; return; }
      pen ? ctx.lineTo(sx(x), sy(y)) : ctx.moveTo(sx(x), sy(y));
      pen = true;
    });
    ctx.stroke();
    if (s.dots) {
      ctx.fillStyle = s.color;
      s.x.forEach((x, i) => { if (s.y[i] != null) ctx.fillRect(sx(x) - 1.5, sy(s.y[i]) - 1.5, 3, 3); });
    }
  }
}

function legend(items) {
  return '<div class="legend">' + items.map(([c, t]) => `<span><i style="background:${c}"></i>${t}</span>`).join("") + "</div>";
}

function fmt(v) {
  if (v == null) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6);
  return String(v);
}

function facts(obj) {
  return '<div class="facts">' + Object.entries(obj).map(([k, v]) =>
    `<div><span>${k}</span><b id="fact-${k.replace(/\W+/g, "-")}">${fmt(v)}</b></div>`).join("") + "</div>";
}

// ------------------------------------------------------------------ lists
function fillList(ul, kind, names) {
  const current = app.view && app.view.kind === kind ? app.view.name : null;
  if (!names.length) { ul.innerHTML = '<li class="empty">none yet</li>'; return; }
  ul.innerHTML = names.map((n) =>
    `<li><a href="#${kind}/${enc(n)}" data-kind="${kind}" data-name="${n.replace(/"/g, "&quot;")}"` +
    `${n === current ? ' class="active"' : ""}>${n.replace(/</g, "&lt;")}</a></li>`).join("");
}

async function refreshLists() {
  const [streams, models] = await Promise.all([api("/v1/streams"), api("/v1/models")]);
  fillList($("#streams"), "stream", streams.streams.map((s) => s.name));
  fillList($("#models"), "model", models.models.map((m) => m.name));
}

// ------------------------------------------------------------------ views
async function showStream(name) {
  const info = await api(`/v1/streams/${enc(name)}`);
  const keys = (await api(`/v1/streams/${enc(name)}/keys?limit=1000`)).keys;
  if (app.key == null || !keys.map(String).includes(String(app.key))) app.key = keys.length ? keys[0] : null;
  const view = $("#view");
  if (view.dataset.view !== "stream/" + name) {
    view.dataset.view = "stream/" + name;
    view.innerHTML = `<h2>Stream</h2><h3 id="title"></h3><div id="facts"></div>
      <label>Key <select id="key"></select></label>
      <canvas id="chart-stream"></canvas>` +
      legend([[COLORS.raw, "values"], [COLORS.smooth, "EW mean"], ["rgba(36,99,235,.3)", "± EW std"]]);
    $("#title").textContent = name;
    $("#key").addEventListener("change", (ev) => { app.key = ev.target.value; refresh(); });
  }
  const sel = $("#key");
  const options = keys.map((k) => String(k));
  if (sel.dataset.keys !== options.join("\u0000")) {
    sel.dataset.keys = options.join("\u0000");
    sel.innerHTML = options.map((k) => `<option>${k.replace(/</g, "&lt;")}</option>`).join("");
  }
  if (app.key != null) sel.value = String(app.key);
  $("#facts").innerHTML = facts({ keys: info.keys, observations: info.observations, batches: info.batches });
  const canvas = $("#chart-stream");
  if (app.key == null) { drawChart(canvas, []); return; }
  const r = await api(`/v1/streams/${enc(name)}/keys/${enc(app.key)}/recent`);
  const x = r.time && r.time.some((t) => t != null) ? r.time.map((t) => t / 1e9) : r.value.map((_, i) => i);
  const lines = [{ x, y: r.value, color: COLORS.raw, width: 1, dots: true }];
  if (r.mean) lines.push({ x, y: r.mean, color: COLORS.smooth, width: 2 });
  let band = null;
  if (r.mean && r.std) {
    band = { x, lo: r.mean.map((m, i) => (m == null || r.std[i] == null ? null : m - r.std[i])),
             hi: r.mean.map((m, i) => (m == null || r.std[i] == null ? null : m + r.std[i])) };
  }
  drawChart(canvas, lines, band);
}

async function showModel(name) {
  const m = await api(`/v1/models/${enc(name)}`);
  const view = $("#view");
  if (view.dataset.view !== "model/" + name) {
    view.dataset.view = "model/" + name;
    view.innerHTML = `<h2>Model</h2><h3 id="title"></h3><div id="facts"></div>
      <h4>Loss</h4><canvas id="chart-loss"></canvas>` +
      legend([[COLORS.raw, "batch loss"], [COLORS.smooth, "EWA (β = 0.98, bias-corrected)"]]) +
      `<h4>Prequential accuracy</h4><canvas id="chart-accuracy"></canvas>` +
      legend([[COLORS.raw, "batch accuracy before the step"], [COLORS.second, "EWA (β = 0.98, bias-corrected)"]]);
    $("#title").textContent = name;
  }
  $("#facts").innerHTML = facts({ step: m.step, loss: m.loss, accuracy: m.accuracy,
                                  layers: (m.config.layers || []).join("-"), optimizer: m.config.optimizer.name });
  const p = m.points;
  drawChart($("#chart-loss"), [{ x: p.step, y: p.loss, color: COLORS.raw, width: 1 },
                               { x: p.step, y: p.loss_ewa, color: COLORS.smooth, width: 2 }]);
  drawChart($("#chart-accuracy"), [{ x: p.step, y: p.accuracy, color: COLORS.raw, width: 1 },
                                   { x: p.step, y: p.accuracy_ewa, color: COLORS.second, width: 2 }]);
}

function route() {
  const h = decodeURIComponent(location.hash.slice(1));
  const i = h.indexOf("/");
  app.view = i > 0 ? { kind: h.slice(0, i), name: h.slice(i + 1) } : null;
}

async function refresh() {
  clearTimeout(app.timer);
  try {
    await refreshLists();
    if (app.view && app.view.kind === "stream") await showStream(app.view.name);
    else if (app.view && app.view.kind === "model") await showModel(app.view.name);
    setStatus("live · updated " + new Date().toLocaleTimeString());
  } catch (e) {
    if (e instanceof Unauthorized) { askToken(app.token ? "That token was refused." : ""); return; }
    setStatus(e.message, true);
  }
  app.timer = setTimeout(refresh, POLL_MS);
}

window.addEventListener("hashchange", () => { route(); app.key = null; refresh(); });
document.addEventListener("click", (ev) => {
  const a = ev.target.closest("nav a");
  if (a) document.querySelectorAll("nav a").forEach((b) => b.classList.toggle("active", b === a));
});
route();
refresh();
