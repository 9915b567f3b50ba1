// Probabilities above 0 that round to 0.0% read "<0.1%": rare is not impossible.
const pct = (p) => (p > 0 && p < 0.0005 ? "<0.1%" : (100 * p).toFixed(1) + "%");
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
};

async function getJSON(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function renderHeader(doc) {
  document.getElementById("question").textContent = doc.question;
  const d = doc.diagnostics || {};
  const meta = document.getElementById("meta");
  meta.textContent = `Candidate ${doc.candidate} · as of ${doc.as_of} · ${doc.evidence_count} evidence items · run ${doc.run_id} · published ${doc.published_at} · `;
  const gate = el("span", { class: d.passed ? "" : "bad", "data-test": "gate" },
    d.passed ? `diagnostics passed (R-hat ${(d.r_hat_max || 0).toFixed(3)}, ESS ≥ ${Math.round(d.ess_bulk_min || 0)}, ${d.divergences} divergences)` : "diagnostics FAILED");
  meta.appendChild(gate);
  const cards = document.getElementById("deadlines");
  for (const dl of doc.deadlines) {
    const card = el("div", { class: "card" });
    card.appendChild(el("div", {}, dl.label));
    card.appendChild(el("div", { class: "p", "data-test": "p-" + dl.key }, pct(dl.p_confirmed)));
    card.appendChild(el("div", { class: "iv", "data-test": "interval-" + dl.key }, `94% interval ${pct(dl.interval[0])} – ${pct(dl.interval[1])} · by ${dl.date}`));
    cards.appendChild(card);
  }
}

function renderAllies(doc) {
  const keys = doc.deadlines.map((d) => d.key);
  const head = document.querySelector("#allies thead");
  const row = el("tr");
  ["ally", "status"].forEach((h) => row.appendChild(el("th", {}, h)));
  ["P(ever endorses)", ...keys.map((k) => "P(by " + k + ")"), "P(last holdout)"].forEach((h) => row.appendChild(el("th", { class: "num" }, h)));
  head.appendChild(row);
  const body = document.querySelector("#allies tbody");
  const allies = [...doc.allies].sort((a, b) => a.p_endorse - b.p_endorse);
  for (const a of allies) {
    const tr = el("tr", { "data-code": a.code });
    tr.appendChild(el("td", {}, `${a.name} (${a.code})`));
    tr.appendChild(el("td", { class: a.status, "data-test": "status" }, a.status));
    const ever = el("td", { class: "num", "data-test": "p_endorse" }, pct(a.p_endorse));
    const bar = el("span", { class: "bar" });
    bar.style.width = Math.round(40 * a.p_endorse) + "px"; // CSSOM: allowed by the page's CSP
    ever.prepend(bar);
    tr.appendChild(ever);
    for (const k of keys) tr.appendChild(el("td", { class: "num", "data-test": "by-" + k }, pct(a.p_endorse_by[k])));
    tr.appendChild(el("td", { class: "num", "data-test": "last" }, pct(a.p_last_holdout)));
    body.appendChild(tr);
  }
  const list = document.getElementById("holdouts");
  allies.filter((a) => a.p_last_holdout > 0).sort((a, b) => b.p_last_holdout - a.p_last_holdout).slice(0, 5)
    .forEach((a) => list.appendChild(el("li", { "data-code": a.code }, `${a.name}: ${pct(a.p_last_holdout)}`)));
}

// A web address becomes a link to it; anything else (a citation, or an address this
// browser cannot parse) is shown as text.
function sourceCell(src) {
  const td = el("td");
  let url = null;
  if (/^https?:\/\//i.test(src)) {
    try { url = new URL(src); } catch (err) { url = null; }
  }
  if (url && url.hostname) td.appendChild(el("a", { href: url.href, rel: "noopener noreferrer" }, url.hostname));
  else td.textContent = src;
  return td;
}

function renderEvidence(items) {
  const body = document.querySelector("#evidence tbody");
  const live = items.filter((e) => !e.retracted).sort((a, b) => (a.date < b.date ? 1 : -1)).slice(0, 15);
  for (const e of live) {
    const tr = el("tr");
    tr.appendChild(el("td", {}, e.date));
    tr.appendChild(el("td", {}, e.ally));
    tr.appendChild(el("td", {}, e.kind));
    tr.appendChild(el("td", { class: "num" }, String(e.reliability)));
    tr.appendChild(el("td", {}, e.summary));
    tr.appendChild(sourceCell(String(e.source)));
    body.appendChild(tr);
  }
}

function renderChart(doc, history) {
  const svg = document.getElementById("chart");
  const W = 940, H = 260, L = 40, R = 10, T = 10, B = 30;
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  const dates = [...history.map((h) => h.as_of), ...doc.curve.map((c) => c.date)].map((d) => Date.parse(d));
  const x0 = Math.min(...dates), x1 = Math.max(...dates, x0 + 864e5);
  const x = (d) => L + ((Date.parse(d) - x0) / (x1 - x0)) * (W - L - R);
  const y = (p) => T + (1 - p) * (H - T - B);
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    add("line", { x1: L, x2: W - R, y1: y(p), y2: y(p), stroke: "#eee" });
    add("text", { x: 4, y: y(p) + 4 }, Math.round(100 * p) + "%");
  }
  const band = doc.curve.map((c) => `${x(c.date)},${y(c.interval[1])}`).concat([...doc.curve].reverse().map((c) => `${x(c.date)},${y(c.interval[0])}`));
  add("polygon", { points: band.join(" "), fill: "#3a6fd8", "fill-opacity": 0.12 });
  add("polyline", { points: doc.curve.map((c) => `${x(c.date)},${y(c.p_confirmed)}`).join(" "), fill: "none", stroke: "#3a6fd8", "stroke-dasharray": "4 3" });
  const colours = ["#d8563a", "#2f9e6a", "#8a4fd8", "#c9a227"];
  doc.deadlines.forEach((dl, i) => {
    const pts = history.filter((h) => h.p_confirmed && dl.key in h.p_confirmed).map((h) => `${x(h.as_of)},${y(h.p_confirmed[dl.key])}`);
    add("polyline", { points: pts.join(" "), fill: "none", stroke: colours[i % 4], "stroke-width": 2 });
    history.filter((h) => h.p_confirmed && dl.key in h.p_confirmed).forEach((h) => add("circle", { cx: x(h.as_of), cy: y(h.p_confirmed[dl.key]), r: 3, fill: colours[i % 4] }));
    add("line", { x1: x(dl.date), x2: x(dl.date), y1: T, y2: H - B, stroke: colours[i % 4], "stroke-dasharray": "2 2" });
    add("text", { x: x(dl.date) + 3, y: T + 12 + 12 * i }, dl.key);
  });
  const first = new Date(x0), last = new Date(x1);
  add("text", { x: L, y: H - 8 }, first.toISOString().slice(0, 10));
  add("text", { x: W - R - 70, y: H - 8 }, last.toISOString().slice(0, 10));
}

// Each section is fetched and drawn on its own: one that fails (a bad item, an endpoint
// that does not answer) shows its own message and leaves the others standing.
function failed(id, what, err) {
  const node = document.getElementById(id);
  const note = el("p", { class: "bad", "data-test": "failed-" + id }, `${what} could not be shown: ${err.message}`);
  node.parentNode.insertBefore(note, node);
}

async function section(id, what, draw) {
  try {
    await draw();
    return true;
  } catch (err) {
    failed(id, what, err);
    return false;
  }
}

const listOf = (body, key) => (Array.isArray(body) ? body : body[key] || []);

async function main() {
  const docP = getJSON("/forecast");
  const historyP = getJSON("/forecast/history");
  const evidenceP = getJSON("/evidence");
  let doc = null;
  try {
    doc = await docP;
  } catch (err) {
    document.getElementById("question").textContent = "No forecast yet: " + err.message;
  }
  const results = await Promise.all([
    section("meta", "The forecast", async () => { if (doc) renderHeader(doc); }),
    section("allies", "The allies", async () => { if (doc) renderAllies(doc); }),
    section("chart", "The chart", async () => { if (doc) renderChart(doc, listOf(await historyP, "runs")); }),
    section("evidence", "The evidence", async () => renderEvidence(listOf(await evidenceP, "items"))),
  ]);
  document.body.setAttribute("data-ready", doc && results.every(Boolean) ? "1" : "error");
}
main();
