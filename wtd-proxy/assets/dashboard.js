// The WTD proxy's dashboard. It reads /api/stats once, then follows /api/events (a
// snapshot each second and whenever a node joins or leaves). Everything a node sent
// (names, missions, functions) is put on the page with textContent, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const HISTORY = 300;
let history = [];
let selected = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function ago(ms, now) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function missions(node) {
  return node.missions.map(m => {
    const offered = m.functions.concat((m.behaviours || []).map(b => b + "@…"));
    return m.mission + " (" + offered.join(", ") + ")";
  }).join("; ");
}

function renderNodes(snap) {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren();
  for (const n of snap.nodes) {
    const row = el("tr", undefined, n.online ? "online" : "offline");
    row.dataset.node = n.name;
    const cells = [n.name, n.online ? "online" : "offline", ago(n.since_ms, snap.at_ms),
      ago(n.last_seen_ms, snap.at_ms), missions(n), n.accepts.length, n.sent.calls,
      n.received.calls, n.calls_per_s, n.mailbox_messages, n.apply_waiters];
    for (const c of cells) row.appendChild(el("td", c));
    row.addEventListener("click", () => { selected = n.name; renderDetail(snap); });
    body.appendChild(row);
  }
  if (snap.nodes.length === 0) {
    const row = el("tr");
    const td = el("td", "No node has registered yet. A node appears here once it registers, and shows online while its program runs.");
    td.colSpan = 11;
    row.appendChild(td);
    body.appendChild(row);
  }
  renderDetail(snap);
}

function renderDetail(snap) {
  const pre = document.getElementById("detail");
  const n = snap.nodes.find(n => n.name === selected);
  if (!n) { pre.textContent = ""; return; }
  const refused = Object.entries(n.sent.refused).map(([k, v]) => k + ": " + v).join(", ") || "none";
  pre.textContent = n.name + "  key " + n.key + "…\n" +
    "keys accepted (first 16 hex digits):\n" +
    (n.accepts.map(k => "  " + k).join("\n") || "  none") + "\n" +
    "bytes sent " + n.sent.bytes + ", received " + n.received.bytes + "\n" +
    "refused while sending: " + refused;
}

function renderPicture(snap) {
  const pic = document.getElementById("picture");
  pic.replaceChildren();
  const names = snap.nodes.map(n => n.name);
  if (snap.links.some(l => l.from === "apply")) names.push("apply");
  const pos = {};
  const r = 100, cx = 200, cy = 130;
  names.forEach((name, i) => {
    const a = 2 * Math.PI * i / Math.max(1, names.length) - Math.PI / 2;
    pos[name] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
  for (const l of snap.links) {
    const a = pos[l.from], b = pos[l.to];
    if (!a || !b) continue;
    const line = svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], "data-from": l.from, "data-to": l.to });
    line.appendChild(svg("title", {}, l.from + " → " + l.to + ": " + l.messages + " calls"));
    pic.appendChild(line);
  }
  for (const name of names) {
    const n = snap.nodes.find(n => n.name === name);
    const [x, y] = pos[name];
    const online = n ? n.online : true;
    pic.appendChild(svg("circle", { cx: x, cy: y, r: 12, class: online ? "online" : "offline", "data-node": name }));
    pic.appendChild(svg("text", { x: x + 14, y: y + 4 }, name));
  }
}

function renderTraffic(snap) {
  const t = snap.total, last = snap.last;
  document.getElementById("totals").textContent =
    "Relayed since start: " + t.calls + " calls, " + t.replies + " replies, " + t.bytes +
    " bytes. Last second: " + last.calls + " calls, " + last.bytes + " bytes. Waiting now: " +
    last.mailbox_messages + " messages in mailboxes, " + last.apply_waiters + " calls on /apply.";
  const refused = Object.entries(t.refused).map(([k, v]) => k + ": " + v).join(", ");
  document.getElementById("refusals").textContent = "Refused, by reason: " + (refused || "none");
  const chart = document.getElementById("chart");
  chart.replaceChildren();
  const max = Math.max(1, ...history.map(s => s.calls));
  // The newest second at the right edge; the chart fills leftwards as seconds pass.
  const skip = HISTORY - history.length;
  const points = history.map((s, i) =>
    (400 * (skip + i) / (HISTORY - 1)).toFixed(1) + "," + (78 - 70 * s.calls / max).toFixed(1)).join(" ");
  chart.appendChild(svg("polyline", { points }));
  chart.appendChild(svg("text", { x: 2, y: 10, "font-size": 9 }, "max " + max + "/s"));
}

function render(snap) {
  if (!snap || !Array.isArray(snap.nodes)) return;
  if (Array.isArray(snap.history)) history = snap.history.slice(-HISTORY);
  else if (snap.last && (history.length === 0 || history[history.length - 1].at_ms !== snap.last.at_ms)) {
    history.push(snap.last);
    if (history.length > HISTORY) history.shift();
  }
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = "Live" + (snap.approve ? " (this proxy approves new nodes by hand)" : "") +
    ": " + snap.nodes.filter(n => n.online).length + " of " + snap.nodes.length + " nodes online.";
  renderNodes(snap);
  renderPicture(snap);
  renderTraffic(snap);
  document.body.dataset.updated = String(snap.at_ms);
}

// For scripts and tests: the page's renderer, fed any snapshot.
window.wtdDashboard = { render };

function follow() {
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", e => {
    try { render(JSON.parse(e.data)); } catch (err) { console.error(err); }
  });
  events.onerror = () => {
    const status = document.getElementById("status");
    status.className = "down";
    status.textContent = "The proxy does not answer; retrying…";
  };
}

fetch("/api/stats").then(r => r.json()).then(render).catch(() => {}).finally(follow);
