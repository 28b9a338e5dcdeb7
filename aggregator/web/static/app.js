// The live page: reads the daemon's /feed WebSocket and draws its states. No library: the
// page must work offline, from the daemon alone.
"use strict";

const CHART_SECONDS = 300; // the chart's width in time
const RETRY_MIN = 500; // ms before reconnecting; doubled up to RETRY_MAX while it fails
const RETRY_MAX = 5000;

// What the page has seen, for people reading the console and for the browser test.
const page = { states: 0, connects: 0, link: "down", symbol: null };
window.aggregatorPage = page;

let socket = null;
let retry = RETRY_MIN;
let points = []; // [ms, bid, ask] of the chosen symbol
let filter = "";
const decimals = new Map(); // symbol -> decimals shown (only grows: columns stay aligned)

const $ = (id) => document.getElementById(id);

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/feed`);
  socket.onopen = () => {
    page.connects += 1;
    retry = RETRY_MIN;
    setLink("up", "live");
    if (page.symbol) socket.send(JSON.stringify({ symbol: page.symbol }));
  };
  socket.onmessage = (event) => {
    const state = JSON.parse(event.data);
    if (state.type === "state") show(state);
  };
  socket.onclose = () => {
    setLink("down", `daemon unreachable: reconnecting in ${(retry / 1000).toFixed(1)} s`);
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, RETRY_MAX);
  };
}

function setLink(link, text) {
  page.link = link;
  const el = $("link");
  el.className = link;
  el.textContent = text;
}

function choose(symbol) {
  page.symbol = symbol;
  points = [];
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ symbol }));
}

// --- numbers -------------------------------------------------------------------------------
function places(x) {
  const text = String(x);
  if (text.includes("e-")) return Math.min(10, Number(text.split("e-")[1]) + 2);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : Math.min(10, text.length - dot - 1);
}

function learn(symbol, ...values) {
  let d = decimals.get(symbol) || 0;
  for (const v of values) if (v != null) d = Math.max(d, places(v));
  decimals.set(symbol, d);
}

function price(symbol, x) {
  return x == null ? "-" : x.toFixed(decimals.get(symbol) || 0);
}

function size(x) {
  return x == null ? "-" : x.toPrecision(6).replace(/\.?0+$/, "");
}

// --- tables --------------------------------------------------------------------------------
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function show(state) {
  page.states += 1;
  if (state.symbol && state.symbol !== page.symbol) {
    page.symbol = state.symbol;
    points = [];
  }
  const live = state.venues.filter((v) => v.state === "live").length;
  $("summary").textContent =
    `${state.venues.length} venues (${live} live), ${state.book_count} books, ` +
    `${state.healthy ? "healthy" : "not healthy"}, up ${Math.round(state.uptime)} s`;
  showVenues(state.venues);
  showBooks(state.books, state.book_count);
  showQuotes(state.symbol, state.quotes);
  if (state.history) points = state.history.slice();
  if (state.point && (!points.length || points[points.length - 1][0] < state.point[0])) {
    points.push(state.point);
  }
  const since = Date.now() - CHART_SECONDS * 1000;
  while (points.length && points[0][0] < since) points.shift();
  draw(state.symbol);
}

function showVenues(venues) {
  fill(
    $("venues").tBodies[0],
    venues.map((v) => {
      const tr = document.createElement("tr");
      const age = v.last_record_age == null ? "never" : `${v.last_record_age.toFixed(1)} s ago`;
      tr.append(
        cell(v.exchange),
        cell(v.mode || ""),
        cell(v.state, v.state === "live" ? "" : "warn"),
        cell(age, "num" + (v.fresh === false ? " warn" : "")),
        cell(v.rate == null ? "-" : `${v.rate.toFixed(1)}/s`, "num"),
        cell(v.reconnects == null ? "-" : String(v.reconnects), "num"),
      );
      return tr;
    }),
  );
}

function showBooks(books, total) {
  const shown = books.filter((b) => b.symbol.toLowerCase().includes(filter));
  fill(
    $("books").tBodies[0],
    shown.map((b) => {
      learn(b.symbol, b.bid, b.ask);
      const tr = document.createElement("tr");
      if (b.symbol === page.symbol) tr.className = "chosen";
      tr.onclick = () => choose(b.symbol);
      const name = b.quotes ? `${b.symbol} (${b.quotes.join("+")})` : b.symbol;
      tr.append(
        cell(name),
        cell(price(b.symbol, b.bid), "num bid"),
        cell(size(b.bid_size), "num"),
        cell(b.bid_exchange || "-"),
        cell(price(b.symbol, b.ask), "num ask"),
        cell(size(b.ask_size), "num"),
        cell(b.ask_exchange || "-"),
        cell(String(b.venues), "num"),
        cell(b.crossed ? "crossed" : "", "crossed"),
      );
      return tr;
    }),
  );
  const hidden = total - shown.length;
  $("books-note").textContent = hidden > 0 ? `${hidden} books not shown (filter, or beyond the first ${books.length})` : "";
}

function showQuotes(symbol, quotes) {
  $("quotes-symbol").textContent = symbol || "-";
  fill(
    $("quotes").tBodies[0],
    quotes.map((q) => {
      learn(symbol, q.bid, q.ask);
      const tr = document.createElement("tr");
      if (!q.used) tr.className = "unused";
      const why = q.used ? "yes" : q.flags ? `no: ${q.flags.join(", ")}` : "no: venue down";
      tr.append(
        cell(q.exchange),
        cell(q.symbol),
        cell(price(symbol, q.bid), "num bid" + (q.best_bid ? " best" : "")),
        cell(size(q.bid_size), "num"),
        cell(price(symbol, q.ask), "num ask" + (q.best_ask ? " best" : "")),
        cell(size(q.ask_size), "num"),
        cell(`${q.age.toFixed(1)} s`, "num"),
        cell(why),
      );
      return tr;
    }),
  );
}

// --- the chart -----------------------------------------------------------------------------
function draw(symbol) {
  $("chart-symbol").textContent = symbol || "-";
  const canvas = $("chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== width * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const values = points.flatMap((p) => [p[1], p[2]]).filter((v) => v != null);
  ctx.fillStyle = "#7b8494";
  ctx.font = "11px system-ui, sans-serif";
  if (!values.length) {
    ctx.fillText("no consolidated prices yet", 12, 20);
    return;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = (hi - lo) * 0.1 || hi * 0.0005 || 1;
  lo -= pad;
  hi += pad;
  const left = 8;
  const right = width - 90;
  const now = Date.now();
  const x = (t) => left + (right - left) * (1 - (now - t) / (CHART_SECONDS * 1000));
  const y = (v) => 10 + (height - 30) * (1 - (v - lo) / (hi - lo));
  ctx.strokeStyle = "#262d38";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y(v));
    ctx.lineTo(right, y(v));
    ctx.stroke();
    ctx.fillText(price(symbol, v), right + 6, y(v) + 4);
  }
  for (let s = 0; s <= CHART_SECONDS; s += 60) {
    ctx.fillText(s ? `-${s / 60} min` : "now", x(now - s * 1000) - 12, height - 6);
  }
  line(ctx, x, y, 1, "#3fbf7f");
  line(ctx, x, y, 2, "#e0605a");
  ctx.fillStyle = "#3fbf7f";
  ctx.fillText("best bid", left + 4, 22);
  ctx.fillStyle = "#e0605a";
  ctx.fillText("best ask", left + 64, 22);
}

function line(ctx, x, y, side, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let drawing = false;
  for (const p of points) {
    if (p[side] == null) {
      drawing = false; // a gap in the data stays a gap
      continue;
    }
    if (drawing) ctx.lineTo(x(p[0]), y(p[side]));
    else ctx.moveTo(x(p[0]), y(p[side]));
    drawing = true;
  }
  ctx.stroke();
}

$("filter").addEventListener("input", (e) => {
  filter = e.target.value.trim().toLowerCase();
});
connect();
