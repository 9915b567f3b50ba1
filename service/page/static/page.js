// The forecast page: every number comes from the JSON API (no model code here). It
// follows new publications by conditional polling on the forecast's ETag (see
// service/README.md), and shows what-ifs the API computes (GET /forecast?assume=).
// pct, el, clear, passed, ahead, settled and interval: format.js, loaded before it.

const points = (d) => (d >= 0 ? "+" : "−") + Math.abs(100 * d).toFixed(1);
const POLL_MS = 1000;

// Where this question's endpoints are: "/questions/<slug>" on its page there, "" on the
// default question's page at "/" (whose endpoints are unprefixed).
const BASE = (location.pathname.match(/^\/questions\/[^/]+/) || [""])[0];
const api = (path) => BASE + path; // an endpoint of this question
const PAGE = BASE + "/"; // this page, without a what-if

const state = {
  etag: null, // of the live forecast, for If-None-Match
  live: null, // the published forecast
  doc: null, // what is shown: the live forecast or a what-if of it
  assume: {}, // ally code -> "endorsed" | "opposed"
  history: [],
  changes: [],
  evidence: [],
  renders: 0,
};

async function getJSON(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

const assumeText = () => Object.entries(state.assume).map(([c, o]) => `${c}:${o}`).join(",");

function readAssume() {
  const text = new URLSearchParams(location.search).get("assume") || "";
  const assume = {};
  for (const part of text.split(",")) {
    const [code, outcome] = part.split(":");
    if (code && (outcome === "endorsed" || outcome === "opposed")) assume[code.toUpperCase()] = outcome;
  }
  return assume;
}

// The live forecast, unless the one held is still current (304).
async function fetchLive() {
  const headers = { accept: "application/json" };
  if (state.etag) headers["If-None-Match"] = state.etag;
  const response = await fetch(api("/forecast"), { cache: "no-store", headers });
  if (response.status === 304) return false;
  if (!response.ok) throw new Error(api("/forecast") + ": " + response.status);
  state.live = await response.json();
  state.etag = response.headers.get("ETag");
  return true;
}

// The what-if, computed by the API; a busy API (503) is asked again shortly.
async function fetchShown() {
  if (!Object.keys(state.assume).length) {
    state.doc = state.live;
    return;
  }
  const path = api("/forecast?assume=") + encodeURIComponent(assumeText());
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, { headers: { accept: "application/json" } });
    if (response.ok) {
      state.doc = await response.json();
      return;
    }
    if (response.status !== 503 || attempt >= 20) {
      state.assume = {}; // the forecast itself is shown, with the reason beside it
      state.doc = state.live;
      throw new Error(path + ": " + response.status);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function renderHeader(doc) {
  document.getElementById("question").textContent = doc.question;
  document.title = `${doc.question} — forecast`;
  document.getElementById("holdouts-note").textContent = `If ${doc.candidate} is confirmed, the ally most likely to be the last to agree.`;
  const d = doc.diagnostics || {};
  const meta = clear(document.getElementById("meta"));
  meta.textContent = `Candidate ${doc.candidate} · as of ${doc.as_of} · ${doc.evidence_count} evidence items · run ${doc.run_id} · published ${doc.published_at} · `;
  const gate = el("span", { class: d.passed ? "" : "bad", "data-test": "gate" },
    d.passed ? `diagnostics passed (R-hat ${(d.r_hat_max || 0).toFixed(3)}, ESS ≥ ${Math.round(d.ess_bulk_min || 0)}, ${d.divergences} divergences)` : "diagnostics FAILED");
  meta.appendChild(gate);
  const cards = clear(document.getElementById("deadlines"));
  for (const dl of doc.deadlines) {
    const card = el("div", { class: "card" });
    card.appendChild(el("div", {}, dl.label));
    if (passed(doc, dl)) {
      card.setAttribute("data-passed", dl.key);
      card.appendChild(el("div", { class: "iv", "data-test": "passed-" + dl.key }, settled(dl)));
      cards.appendChild(card);
      continue;
    }
    card.appendChild(el("div", { class: "p", "data-test": "p-" + dl.key }, pct(dl.p_confirmed)));
    card.appendChild(el("div", { class: "iv", "data-test": "interval-" + dl.key }, `94% interval ${interval(dl.interval)} · by ${dl.date}`));
    cards.appendChild(card);
  }
}

function cutOffAge(doc, f) {
  if (f.cut_off_age_days == null) return "";
  const days = f.cut_off_age_days;
  const age = days === 0 ? "today" : `${days} day${days === 1 ? "" : "s"} ago`;
  const how = f.clock === "live" ? "it follows today's date" : "a replay: it is the newest evidence date";
  return ` Cut-off ${doc.as_of} (${age}; ${how}).`;
}

function renderFreshness(doc) {
  const node = clear(document.getElementById("freshness"));
  const f = doc.freshness;
  if (!f) return;
  const n = f.pending_evidence.length;
  const behind = f.clock === "live" && f.cut_off_age_days > 0;
  const items = [
    ...(n ? [`${n} evidence item${n === 1 ? "" : "s"} (${f.pending_evidence.join(", ")})`] : []),
    ...(behind ? [`the days since ${doc.as_of}`] : []),
  ].join(" and ");
  const age = cutOffAge(doc, f);
  node.setAttribute("data-age", f.cut_off_age_days == null ? "" : String(f.cut_off_age_days));
  if (f.up_to_date) {
    node.setAttribute("data-state", "up_to_date");
    node.appendChild(el("span", { class: "fresh" }, "Up to date: this forecast reflects every stored evidence item." + age));
  } else if (f.failed_run) {
    node.setAttribute("data-state", "failed");
    node.appendChild(el("span", { class: "bad" }, `Not up to date: ${items} not reflected, because run ${f.failed_run.run_id} failed: ${f.failed_run.reason}.` + age));
  } else {
    node.setAttribute("data-state", "pending");
    const run = f.pending_run ? ` run ${f.pending_run.run_id} is ${f.pending_run.status}` : " a run is due";
    node.appendChild(el("span", { class: "pending" }, `Updating: ${items} not reflected yet;${run}.` + age));
  }
}

function renderWhatIf() {
  const box = clear(document.getElementById("whatif"));
  const text = assumeText();
  box.hidden = !text;
  box.setAttribute("data-assume", text);
  if (!text) return;
  const said = Object.entries(state.assume).map(([c, o]) => `${c} ${o}`).join(", ");
  box.appendChild(el("strong", {}, "What-if: "));
  box.appendChild(document.createTextNode(`${said}. These numbers assume it; they are not the published forecast. `));
  box.appendChild(el("a", { href: PAGE + "?assume=" + encodeURIComponent(text), id: "whatif-link" }, "link to this what-if"));
  box.appendChild(document.createTextNode(" · "));
  const reset = el("a", { href: PAGE, id: "whatif-reset" }, "back to the forecast");
  reset.addEventListener("click", (event) => { event.preventDefault(); setAssume({}); });
  box.appendChild(reset);
}

async function setAssume(assume) {
  state.assume = assume;
  const text = assumeText();
  history.replaceState(null, "", text ? PAGE + "?assume=" + encodeURIComponent(text) : PAGE);
  document.body.setAttribute("data-ready", "0");
  await section("whatif", "The what-if", fetchShown);
  render();
}

// Columns: P(ever) and each deadline still ahead (a passed one is settled: its card says how).
function renderAllies(doc) {
  const keys = ahead(doc).map((d) => d.key);
  const head = clear(document.querySelector("#allies thead"));
  const row = el("tr");
  ["ally", "status", "what if"].forEach((h) => row.appendChild(el("th", {}, h)));
  ["P(ever endorses)", ...keys.map((k) => "P(by " + k + ")"), "P(last holdout)"].forEach((h) => row.appendChild(el("th", { class: "num" }, h)));
  head.appendChild(row);
  const body = clear(document.querySelector("#allies tbody"));
  const allies = [...doc.allies].sort((a, b) => a.p_endorse - b.p_endorse);
  for (const a of allies) {
    const tr = el("tr", { "data-code": a.code });
    tr.appendChild(el("td", {}, `${a.name} (${a.code})`));
    tr.appendChild(el("td", { class: a.status, "data-test": "status" }, a.status));
    const choose = el("td");
    if (a.status !== "endorsed" || a.code in state.assume) {
      const select = el("select", { "data-assume": a.code, "aria-label": "what if " + a.name });
      for (const [value, label] of [["", "as forecast"], ["endorsed", "endorses"], ["opposed", "refuses"]]) {
        const option = el("option", { value }, label);
        if ((state.assume[a.code] || "") === value) option.selected = true;
        select.appendChild(option);
      }
      select.addEventListener("change", () => {
        const next = { ...state.assume };
        if (select.value) next[a.code] = select.value; else delete next[a.code];
        setAssume(next);
      });
      choose.appendChild(select);
    }
    tr.appendChild(choose);
    const ever = el("td", { class: "num", "data-test": "p_endorse" }, pct(a.p_endorse));
    const bar = el("span", { class: "bar" });
    bar.style.width = Math.round(40 * a.p_endorse) + "px"; // CSSOM: allowed by the page's CSP
    ever.prepend(bar);
    tr.appendChild(ever);
    for (const k of keys) tr.appendChild(el("td", { class: "num", "data-test": "by-" + k }, pct(a.p_endorse_by[k])));
    tr.appendChild(el("td", { class: "num", "data-test": "last" }, pct(a.p_last_holdout)));
    body.appendChild(tr);
  }
  const list = clear(document.getElementById("holdouts"));
  allies.filter((a) => a.p_last_holdout > 0).sort((a, b) => b.p_last_holdout - a.p_last_holdout).slice(0, 5)
    .forEach((a) => list.appendChild(el("li", { "data-code": a.code }, `${a.name}: ${pct(a.p_last_holdout)}`)));
}

// Rows: undecided members; per deadline, P(confirmed) if each endorsed today (and by how
// much that moves the forecast) or refused. Sorted by the largest move its endorsing makes
// at any deadline; the first PIVOTAL_SHOWN are shown, the rest folded behind a button.
const PIVOTAL_SHOWN = 5;
function renderPivotal(doc) {
  const table = document.getElementById("pivotal");
  const head = clear(table.querySelector("thead"));
  const body = clear(table.querySelector("tbody"));
  const more = document.getElementById("pivotal-more");
  more.hidden = true;
  // Only deadlines still ahead (a document published before the API left passed ones
  // out may still list them).
  const open = new Set(ahead(doc).map((d) => d.key));
  const pivotal = (doc.pivotal || []).filter((p) => open.has(p.key));
  const row = el("tr");
  row.appendChild(el("th", {}, "ally"));
  row.appendChild(el("th", {}, "why it holds out"));
  for (const p of pivotal) {
    const today = p.p_confirmed == null ? "" : ` (now ${pct(p.p_confirmed)})`;
    row.appendChild(el("th", { class: "num" }, `by ${p.key}${today}: if it endorses`));
    row.appendChild(el("th", { class: "num" }, "if it refuses"));
  }
  head.appendChild(row);
  const allies = new Map();
  for (const p of pivotal) {
    for (const a of p.allies) {
      if (!allies.has(a.code)) allies.set(a.code, { ...a, by: {}, move: -Infinity });
      const entry = allies.get(a.code);
      entry.by[p.key] = a;
      // Documents published before "change" ranked by the swing alone.
      entry.move = Math.max(entry.move, a.change ?? a.if_endorses - a.if_refuses);
    }
  }
  const rows = [...allies.values()].sort((a, b) => b.move - a.move);
  if (!rows.length) {
    const why = open.size ? "No undecided member left." : "Every deadline has passed.";
    body.appendChild(el("tr", {}, "")).appendChild(el("td", { colspan: 2 }, why));
  }
  rows.forEach((a, index) => {
    const tr = el("tr", { "data-pivotal": a.code });
    if (index >= PIVOTAL_SHOWN) tr.hidden = true;
    tr.appendChild(el("td", {}, `${a.name} (${a.code})`));
    const reasons = (a.reasons || []).join("; ");
    tr.appendChild(el("td", { class: a.status, "data-test": "reasons" }, reasons || `${a.status}, no reason on record`));
    for (const p of pivotal) {
      const cell = a.by[p.key];
      const td = tr.appendChild(el("td", { class: "num" }));
      td.appendChild(el("span", { "data-test": "if-endorses-" + p.key }, cell ? pct(cell.if_endorses) : ""));
      if (cell && cell.change != null) {
        td.appendChild(el("small", { class: "change", "data-test": "change-" + p.key }, ` ${points(cell.change)}`));
      }
      tr.appendChild(el("td", { class: "num", "data-test": "if-refuses-" + p.key }, cell ? pct(cell.if_refuses) : ""));
    }
    body.appendChild(tr);
  });
  const folded = rows.length - PIVOTAL_SHOWN;
  if (folded > 0) {
    more.hidden = false;
    more.textContent = `Show the other ${folded} members`;
    more.onclick = () => {
      body.querySelectorAll("tr[hidden]").forEach((tr) => { tr.hidden = false; });
      more.hidden = true;
    };
  }
}

// A web address becomes a link to it; anything else (a citation, or an address this
// browser cannot parse) is shown as text.
function sourceNode(src, tag = "td") {
  const node = el(tag);
  let url = null;
  if (/^https?:\/\//i.test(src)) {
    try { url = new URL(src); } catch (err) { url = null; }
  }
  if (url && url.hostname) node.appendChild(el("a", { href: url.href, rel: "noopener noreferrer" }, url.hostname));
  else node.textContent = src;
  return node;
}

function renderEvidence(items) {
  const body = clear(document.querySelector("#evidence tbody"));
  const live = items.filter((e) => !e.retracted).sort((a, b) => (a.date < b.date ? 1 : -1)).slice(0, 15);
  for (const e of live) {
    const tr = el("tr");
    tr.appendChild(el("td", {}, e.date));
    tr.appendChild(el("td", {}, e.ally));
    tr.appendChild(el("td", {}, e.kind));
    tr.appendChild(el("td", { class: "num" }, String(e.reliability)));
    tr.appendChild(el("td", {}, e.summary));
    tr.appendChild(sourceNode(String(e.source)));
    body.appendChild(tr);
  }
}

// What one publication changed, in words: its evidence, then the moves.
function changeText(change) {
  const named = change.evidence.map((e) => `${e.change === "added" ? "+" : "−"} ${e.ally} ${e.kind}: ${e.summary}`);
  const unnamed = change.added.length + change.retracted.length - change.evidence.length;
  if (unnamed > 0) named.push(`${unnamed} more item${unnamed === 1 ? "" : "s"}`);
  return named;
}

function renderChanges(changes) {
  const list = clear(document.getElementById("changes"));
  for (const change of changes.slice(0, 12)) {
    const ids = [...change.added, ...change.retracted];
    const li = el("li", { "data-run": change.run_id, "data-evidence": ids.join(" ") });
    li.appendChild(el("div", { class: "meta" }, `as of ${change.as_of} · run ${change.run_id}`));
    if (change.previous_run_id === null) {
      li.appendChild(el("div", {}, `First forecast at this cut-off, on ${ids.length} evidence items.`));
    } else {
      for (const e of change.evidence.slice(0, 6)) {
        const line = el("div", { "data-evidence-id": e.id }, `${e.change === "added" ? "+" : "−"} ${e.ally} ${e.kind}: ${e.summary} `);
        line.appendChild(sourceNode(String(e.source), "span"));
        li.appendChild(line);
      }
      if (!ids.length) li.appendChild(el("div", {}, "No new evidence (a refit)."));
    }
    for (const d of change.deadlines) {
      if (d.delta === null) continue;
      li.appendChild(el("div", { class: d.delta >= 0 ? "up" : "down", "data-test": "delta-" + d.key },
        `${d.key}: ${pct(d.before)} → ${pct(d.after)} (${points(d.delta)} pts)`));
    }
    list.appendChild(li);
  }
}

function renderChart(doc, history, changes) {
  const svg = clear(document.getElementById("chart"));
  const W = 640, H = 260, L = 40, R = 10, T = 10, B = 30;
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text, parent = svg) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    parent.appendChild(n);
    return n;
  };
  const byRun = new Map(changes.map((c) => [c.run_id, c]));
  const deadlines = ahead(doc); // a passed deadline has no probability left to follow
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
  add("polyline", { points: doc.curve.map((c) => `${x(c.date)},${y(c.p_confirmed)}`).join(" "), fill: "none", stroke: "#3a6fd8", "stroke-dasharray": "4 3", "data-test": "curve" });
  const colours = ["#d8563a", "#2f9e6a", "#8a4fd8", "#c9a227"];
  deadlines.forEach((dl, i) => {
    const rows = history.filter((h) => h.p_confirmed && dl.key in h.p_confirmed);
    add("polyline", { points: rows.map((h) => `${x(h.as_of)},${y(h.p_confirmed[dl.key])}`).join(" "), fill: "none", stroke: colours[i % 4], "stroke-width": 2 });
    for (const h of rows) {
      const change = byRun.get(h.run_id);
      const point = add("circle", { cx: x(h.as_of), cy: y(h.p_confirmed[dl.key]), r: 4, fill: colours[i % 4], "data-run": h.run_id });
      const why = change ? changeText(change) : [];
      add("title", {}, `${dl.key} ${pct(h.p_confirmed[dl.key])} as of ${h.as_of}` + (why.length ? "\n" + why.join("\n") : ""), point);
    }
    add("line", { x1: x(dl.date), x2: x(dl.date), y1: T, y2: H - B, stroke: colours[i % 4], "stroke-dasharray": "2 2" });
    add("text", { x: x(dl.date) + 3, y: T + 12 + 12 * i }, dl.key);
  });
  const first = new Date(x0), last = new Date(x1);
  add("text", { x: L, y: H - 8 }, first.toISOString().slice(0, 10));
  add("text", { x: W - R - 70, y: H - 8 }, last.toISOString().slice(0, 10));
}

// Each section is drawn on its own: one that fails (a bad item, an endpoint that does not
// answer) shows its own message and leaves the others standing.
async function section(id, what, draw) {
  const old = document.querySelector(`[data-test="failed-${id}"]`);
  if (old) old.remove();
  try {
    await draw();
    return true;
  } catch (err) {
    const node = document.getElementById(id);
    const note = el("p", { class: "bad", "data-test": "failed-" + id }, `${what} could not be shown: ${err.message}`);
    node.parentNode.insertBefore(note, node);
    return false;
  }
}

const listOf = (body, key) => (Array.isArray(body) ? body : body[key] || []);
let listsOk = true;

// History, changes and evidence change with each publication (and evidence with each post).
async function fetchLists() {
  const results = await Promise.all([
    section("chart", "The history", async () => { state.history = listOf(await getJSON(api("/forecast/history")), "runs"); }),
    section("changes", "What changed", async () => { state.changes = await getJSON(api("/forecast/changes?limit=50")); }),
    section("evidence", "The evidence", async () => { state.evidence = listOf(await getJSON(api("/evidence")), "items"); }),
  ]);
  listsOk = results.every(Boolean);
}

async function render() {
  const doc = state.doc;
  if (!doc) return;
  const results = await Promise.all([
    section("meta", "The forecast", async () => { renderHeader(doc); renderFreshness(state.live); renderWhatIf(); }),
    section("pivotal", "What would move it", async () => renderPivotal(doc)),
    section("allies", "The allies", async () => renderAllies(doc)),
    section("chart", "The chart", async () => renderChart(doc, state.history, state.changes)),
    section("changes", "What changed", async () => renderChanges(state.changes)),
    section("evidence", "The evidence", async () => renderEvidence(state.evidence)),
  ]);
  state.renders += 1;
  document.body.setAttribute("data-run", state.live.run_id);
  document.body.setAttribute("data-etag", state.etag || "");
  document.body.setAttribute("data-renders", String(state.renders));
  document.body.setAttribute("data-ready", listsOk && results.every(Boolean) ? "1" : "error");
}

// Before the first forecast: what the worker is doing (/health), with the time left of a
// compile as long as the last one.
async function showPreparing(err) {
  const node = document.getElementById("question");
  let text = "No forecast yet: " + err.message;
  try {
    const health = await getJSON(api("/health"));
    const worker = health.worker;
    node.setAttribute("data-phase", worker ? worker.phase : "");
    if (worker && worker.phase === "compiling") {
      const spent = Math.max(0, (Date.now() - Date.parse(worker.phase_started_at)) / 1000);
      const expected = worker.expected_seconds;
      const left = expected == null ? " (the first compile on this machine takes a minute or two)"
        : expected > spent ? `, about ${Math.ceil(expected - spent)} s left (the last compile took ${Math.round(expected)} s)`
        : `, longer than the last compile (${Math.round(expected)} s)`;
      text = `Preparing the first forecast: compiling the model, ${Math.round(spent)} s so far${left}.`;
    } else if (health.running || health.queued) {
      text = `Preparing the first forecast: fitting it (${health.running} run fitting, ${health.queued} queued).`;
    }
  } catch (healthErr) {
    node.setAttribute("data-phase", "");
  }
  node.textContent = text;
}

// Conditional polling: a 304 costs the server a cached lookup; a new ETag (a publication,
// or a change of freshness) redraws the page.
async function poll() {
  try {
    if (await fetchLive()) {
      await fetchLists();
      await section("whatif", "The what-if", fetchShown);
      await render();
    }
  } catch (err) {
    if (!state.live) await showPreparing(err);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// The questions this service forecasts, each linking to its page, this one marked (the
// default question's at "/"); hidden while it serves only this one.
async function renderSwitcher() {
  const served = (await getJSON("/questions")).questions;
  const nav = clear(document.getElementById("switcher"));
  nav.hidden = served.length < 2;
  const slug = BASE ? decodeURIComponent(BASE.slice("/questions/".length)) : null;
  for (const q of served) {
    const link = el("a", { href: q.links.page, title: q.question, "data-slug": q.slug }, `${q.candidate} (${q.opened.slice(0, 4)})`);
    if (slug === null ? q.default : q.slug === slug) link.setAttribute("aria-current", "page");
    nav.appendChild(link);
  }
  nav.appendChild(el("a", { href: "/questions", class: "index" }, "all questions"));
}

state.assume = readAssume();
section("switcher", "The list of questions", renderSwitcher);
poll();
