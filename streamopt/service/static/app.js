// The streamopt dashboard: lists streams and models, draws a stream key's recent values with the
// smoothed mean and a ±std band, and a model's loss and prequential accuracy (raw and EWA-smoothed).
// Polls the /v1 API once a second; with auth on, asks for the token once (kept for the tab's session)
// and sends it on every call.
"use strict";

const POLL_MS = 1000;
const RECENT = 2000; // points of a stream key drawn (the server keeps the stream's last 10,000)
const TOKEN_KEY = "streamopt-token";
const app = { token: sessionStorage.getItem(TOKEN_KEY) || "", view: null, key: null, timer: null, prompts: 0 };

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function setStatus(text, bad) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("bad", !!bad);
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
  if (form.hidden) app.prompts += 1;
  document.body.dataset.prompts = String(app.prompts);
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
const COLORS = { raw: "#9aa3b5", smooth: "#2463eb", second: "#d9480f", band: "rgba(36, 99, 235, .15)" };

function ticks(lo, hi) {
  return [0, 1, 2, 3, 4].map((k) => lo + (hi - lo) * k / 4);
}

// time: seconds since the epoch, shown as a UTC date (and time of day when the span is short)
function label(v, time, span) {
  const days = span > 3 * 86400;
  if (time) return new Date(v * 1000).toISOString().slice(days ? 0 : 5, days ? 10 : 16).replace("T", " ");
  return Number(v.toPrecision(4)).toString();
}

// lines: [{x, y, color, width, dots}], band: {x, lo, hi} or null; x in seconds when `time`.
function drawChart(canvas, lines, band, time) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  const pad = { l: 56, r: 14, t: 10, b: 24 };
  const xs = [], ys = [];
  for (const s of lines) s.x.forEach((x, i) => { if (s.y[i] != null) { xs.push(x); ys.push(s.y[i]); } });
  if (band) band.x.forEach((x, i) => { if (band.lo[i] != null) ys.push(band.lo[i], band.hi[i]); });
  canvas.dataset.points = String(lines.length ? lines[0].y.filter((v) => v != null).length : 0);
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
  ctx.strokeStyle = "#e3e6ec";
  ctx.fillStyle = "#6b7385";
  for (const y of ticks(y0, y1)) {
    ctx.beginPath(); ctx.moveTo(pad.l, sy(y)); ctx.lineTo(w - pad.r, sy(y)); ctx.stroke();
    ctx.fillText(label(y, false), 4, sy(y) + 4);
  }
  // x: times, or step / observation numbers (whole numbers)
  const xt = time ? [x0, (x0 + x1) / 2, x1] : [...new Set(ticks(x0, x1).map(Math.round))];
  xt.forEach((x, k) => {
    ctx.textAlign = k === 0 ? "start" : k === xt.length - 1 ? "end" : "center";  // the ends stay inside
    ctx.fillText(label(x, time, x1 - x0), sx(x), h - 6);
  });
  ctx.textAlign = "start";
  if (band) {
    const idx = band.x.map((_, i) => i).filter((i) => band.lo[i] != null);
    if (idx.length) {
      ctx.fillStyle = COLORS.band;
      ctx.beginPath();
      idx.forEach((i, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, sx(band.x[i]), sy(band.hi[i])));
      for (const i of idx.slice().reverse()) ctx.lineTo(sx(band.x[i]), sy(band.lo[i]));
      ctx.closePath();
      ctx.fill();
    }
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
  return el("div", { class: "legend" }, ...items.map(([color, text]) => {
    const swatch = el("i");
    swatch.style.background = color;
    return el("span", {}, swatch, text);
  }));
}

function fmt(v) {
  if (v == null) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en") : v.toPrecision(6);
  return String(v);
}

function setFacts(obj) {
  $("#facts").replaceChildren(...Object.entries(obj).map(([k, v]) =>
    el("div", {}, el("span", { text: k }), el("b", { id: "fact-" + k.replace(/\W+/g, "-"), text: fmt(v) }))));
}

// ------------------------------------------------------------------ lists
function fillList(ul, kind, names) {
  const current = app.view && app.view.kind === kind ? app.view.name : null;
  if (!names.length) { ul.replaceChildren(el("li", { class: "empty", text: "none yet" })); return; }
  const shown = Array.from(ul.querySelectorAll("a")).map((a) => a.dataset.name);
  if (shown.join("\u0000") === names.join("\u0000")) {
    ul.querySelectorAll("a").forEach((a) => a.classList.toggle("active", a.dataset.name === current));
    return;
  }
  ul.replaceChildren(...names.map((n) => {
    const a = el("a", { href: `#${kind}/${enc(n)}`, "data-kind": kind, "data-name": n, text: n });
    if (n === current) a.classList.add("active");
    return el("li", {}, a);
  }));
}

const nameOf = (item) => (typeof item === "string" ? item : item.name);

async function refreshLists() {
  const [streams, models] = await Promise.all([api("/v1/streams"), api("/v1/models")]);
  fillList($("#streams"), "stream", streams.streams.map(nameOf));
  fillList($("#models"), "model", models.models.map(nameOf));
}

// ------------------------------------------------------------------ views
function frame(kind, name, build) {
  const view = $("#view");
  if (view.dataset.view === kind + "/" + name) return false;
  view.dataset.view = kind + "/" + name;
  view.replaceChildren(el("h2", { text: kind === "stream" ? "Stream" : "Model" }),
                       el("h3", { id: "title", text: name }),
                       el("div", { id: "facts", class: "facts" }), ...build());
  return true;
}

async function showStream(name) {
  const info = await api(`/v1/streams/${enc(name)}`);
  const keys = (await api(`/v1/streams/${enc(name)}/keys?limit=1000`)).keys.map(String);
  if (app.key == null || !keys.includes(app.key)) app.key = keys.length ? keys[0] : null;
  if (frame("stream", name, () => [
    el("label", { class: "pick" }, "Key ", el("select", { id: "key" })),
    el("canvas", { id: "chart-stream" }),
    legend([[COLORS.raw, "values"], [COLORS.smooth, "EW mean"], ["rgba(36,99,235,.35)", "± EW std"]]),
  ])) {
    $("#key").addEventListener("change", (ev) => { app.key = ev.target.value; refresh(); });
  }
  const sel = $("#key");
  if (sel.dataset.keys !== keys.join("\u0000")) {
    sel.dataset.keys = keys.join("\u0000");
    sel.replaceChildren(...keys.map((k) => el("option", { value: k, text: k })));
  }
  if (app.key != null) sel.value = app.key;
  const c = info.config;
  const decay = ["halflife", "com", "span", "alpha"].filter((k) => c[k] != null).map((k) => `${k} ${c[k]}`).join(", ");
  setFacts({ keys: info.keys, observations: info.observations, batches: info.batches, decay });
  const canvas = $("#chart-stream");
  if (app.key == null) { drawChart(canvas, []); return; }
  const r = await api(`/v1/streams/${enc(name)}/recent?key=${enc(app.key)}&limit=${RECENT}`);
  const time = r.time != null;
  const x = time ? r.time.map((t) => t / 1e9) : r.index;
  const lines = [{ x, y: r.value, color: COLORS.raw, width: 1, dots: true }];
  if (r.mean) lines.push({ x, y: r.mean, color: COLORS.smooth, width: 2 });
  let band = null;
  if (r.mean && r.std) {
    const edge = (sign) => r.mean.map((m, i) => (m == null || r.std[i] == null ? null : m + sign * r.std[i]));
    band = { x, lo: edge(-1), hi: edge(1) };
  }
  drawChart(canvas, lines, band, time);
}

async function showModel(name) {
  const m = await api(`/v1/models/${enc(name)}`);
  frame("model", name, () => [
    el("div", { class: "charts" },
       el("div", {}, el("h4", { text: "Loss (before each step)" }), el("canvas", { id: "chart-loss" }),
          legend([[COLORS.raw, "batch loss"], [COLORS.smooth, "EWA (β = 0.98, bias-corrected)"]])),
       el("div", {}, el("h4", { text: "Prequential accuracy" }), el("canvas", { id: "chart-accuracy" }),
          legend([[COLORS.raw, "batch accuracy before the step"],
                  [COLORS.second, "EWA (β = 0.98, bias-corrected)"]]))),
  ]);
  const o = m.config.optimizer;
  setFacts({ step: m.step, loss: m.loss, accuracy: m.accuracy, layers: m.config.layers.join("-"),
             optimizer: `${o.name} (lr ${o.lr})`, producers: m.producers });
  const p = m.points;
  drawChart($("#chart-loss"), [{ x: p.step, y: p.loss, color: COLORS.raw, width: 1 },
                               { x: p.step, y: p.loss_ewa, color: COLORS.smooth, width: 2 }]);
  drawChart($("#chart-accuracy"), [{ x: p.step, y: p.accuracy, color: COLORS.raw, width: 1 },
                                   { x: p.step, y: p.accuracy_ewa, color: COLORS.second, width: 2 }]);
}

function route() {
  const h = location.hash.slice(1);
  const i = h.indexOf("/");
  app.view = i > 0 ? { kind: h.slice(0, i), name: decodeURIComponent(h.slice(i + 1)) } : null;
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
route();
refresh();
