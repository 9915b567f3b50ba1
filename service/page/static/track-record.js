// The track record page: every number comes from GET /track-record (made offline by
// `python -m forecast track-record`); a stale or missing record says why and how to
// make it.

const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
};
const num = (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
const pct = (p) => (p === null || p === undefined ? "–" : (100 * p).toFixed(0) + "%");
const row = (cells) => {
  const tr = el("tr");
  for (const [text, cls] of cells) tr.appendChild(el("td", cls ? { class: cls } : {}, String(text)));
  return tr;
};

function showStatus(record) {
  const status = document.getElementById("status");
  if (record.status === "ok") {
    status.textContent = `Made ${record.made_at} in ${Math.round(record.seconds)} s (version ${record.package_version}, seed ${record.settings.seed}).`;
    status.className = "meta fresh";
  } else {
    status.textContent = `${record.status === "stale" ? "Stale" : "No track record"}: ${record.reason}. Rebuild it with: ${record.how_to_rebuild}`;
    status.className = "meta bad";
  }
  if (record.quick) {
    status.appendChild(el("span", { class: "bad" }, " Quick record (few draws): it runs end to end; its numbers are not to be judged."));
  }
}

function showPooled(pooled) {
  const scores = document.querySelector("#pooled-scores tbody");
  for (const [what, s] of Object.entries(pooled.scores)) {
    const label = what === "ever" ? "P(ever confirmed)" : "P(confirmed by a deadline)";
    scores.appendChild(row([[label], [s.model.n, "num"], [num(s.model.brier), "num"], [num(s.base_rate.brier), "num"], [num(s.model.log), "num"], [num(s.base_rate.log), "num"]]));
  }
  const calibration = document.querySelector("#calibration tbody");
  for (const b of pooled.calibration) {
    calibration.appendChild(row([[b.bin], [b.n, "num"], [num(b.mean_forecast), "num"], [num(b.observed), "num"]]));
  }
  const coverage = document.querySelector("#coverage tbody");
  for (const [level, c] of Object.entries(pooled.coverage)) {
    coverage.appendChild(row([[`${level}%`], [c.covered, "num"], [c.n, "num"], [pct(c.share), "num"]]));
  }
}

function showQuestion(q) {
  const box = document.getElementById("questions");
  box.appendChild(el("h2", {}, `${q.slug}: ${q.candidate}`));
  box.appendChild(el("p", { class: "meta" }, `${q.question} Opened ${q.opened}; confirmed ${q.confirmed ?? "never"}.`));
  const table = el("table", { "data-test": "checkpoints" });
  const head = el("tr");
  for (const h of ["as of", "forecast", "P", "94% interval", "outcome", "Brier", "log", "base rate", "its Brier", "its log"]) {
    head.appendChild(el("th", ["as of", "forecast"].includes(h) ? {} : { class: "num" }, h));
  }
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  for (const c of q.checkpoints) {
    if (c.gate !== "passed") {
      body.appendChild(row([[c.as_of], [`not scored: ${c.gate}`]]));
      continue;
    }
    const ever = { ...c.ever, label: "Ever confirmed" };
    for (const d of [...c.deadlines, ever]) {
      const [lo, hi] = d.interval;
      body.appendChild(row([[c.as_of], [d.label], [num(d.p, 2), "num"], [`${num(lo, 2)}–${num(hi, 2)}`, "num"], [d.outcome ? "yes" : "no", "num"], [num(d.brier), "num"], [num(d.log), "num"], [num(d.base_rate, 2), "num"], [num(d.base_rate_brier), "num"], [num(d.base_rate_log), "num"]]));
    }
    const when = c.confirmation_date;
    const span = (iv) => `${iv[0] ?? "beyond " + when.grid_last_day} to ${iv[1] ?? "later or never"}`;
    body.appendChild(row([[""], [`Confirmation date: 50% ${span(when.interval_50)} (${when.covered_50 ? "held" : "missed"}); 94% ${span(when.interval_94)} (${when.covered_94 ? "held" : "missed"}); actual ${when.actual ?? "never"}`]]));
  }
  box.appendChild(table);
  const s = q.scores && q.scores.deadlines;
  if (!s) return;
  box.appendChild(el("p", { class: "meta" }, `By deadline: Brier ${num(s.model.brier)} against the base rate's ${num(s.base_rate.brier)}, log ${num(s.model.log)} against ${num(s.base_rate.log)} (${s.model.n} forecasts).`));
}

async function main() {
  const response = await fetch("/track-record", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error("/track-record: " + response.status);
  const record = await response.json();
  showStatus(record);
  if (record.pooled) showPooled(record.pooled);
  for (const q of record.questions) showQuestion(q);
}

main().catch((error) => {
  const status = document.getElementById("status");
  status.textContent = `The track record could not be loaded: ${error.message}`;
  status.className = "meta bad";
});
