// The question index: GET /questions (JSON) drawn as one entry per question, in the order
// the API gives (open ones first), each with its headline numbers and a small chart of
// its live forecast, and a link to its page. pct, el, clear, ahead, settled, interval:
// format.js, loaded before it.

const CLOCK = {
  live: "open: follows today's date",
  evidence: "replayed from its evidence",
};

// P(confirmed by date) with its band, and the deadlines still ahead (a passed one is
// settled before the curve starts).
function sparkline(h) {
  const W = 260, H = 84, L = 4, R = 4, T = 6, B = 16;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const add = (tag, attrs, text = "", parent = svg) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    parent.appendChild(n);
    return n;
  };
  for (const [k, v] of Object.entries({ width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "spark", role: "img", "data-test": "chart" })) svg.setAttribute(k, v);
  const curve = h.curve;
  const first = curve[0].date, last = curve[curve.length - 1].date;
  svg.setAttribute("aria-label", `P(confirmed by date) from ${first} to ${last}`);
  const x0 = Date.parse(first), x1 = Math.max(Date.parse(last), x0 + 864e5);
  const x = (d) => L + ((Date.parse(d) - x0) / (x1 - x0)) * (W - L - R);
  const y = (p) => T + (1 - p) * (H - T - B);
  add("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#dde" });
  add("line", { x1: L, x2: W - R, y1: y(1), y2: y(1), stroke: "#eee" });
  const band = curve.map((c) => `${x(c.date)},${y(c.interval[1])}`).concat([...curve].reverse().map((c) => `${x(c.date)},${y(c.interval[0])}`));
  add("polygon", { points: band.join(" "), fill: "#3a6fd8", "fill-opacity": 0.15, "data-test": "band" });
  add("polyline", { points: curve.map((c) => `${x(c.date)},${y(c.p_confirmed)}`).join(" "), fill: "none", stroke: "#3a6fd8", "stroke-width": 1.5, "data-test": "curve" });
  for (const dl of ahead(h).filter((d) => d.date <= last)) {
    add("line", { x1: x(dl.date), x2: x(dl.date), y1: T, y2: y(0), stroke: "#d8563a", "stroke-dasharray": "2 2", "data-deadline": dl.key });
    const dot = add("circle", { cx: x(dl.date), cy: y(dl.p_confirmed), r: 2.5, fill: "#d8563a" });
    add("title", {}, `${dl.label}: ${pct(dl.p_confirmed)}`, dot);
  }
  add("text", { x: L, y: H - 3 }, first);
  add("text", { x: W - R, y: H - 3, "text-anchor": "end" }, last);
  return svg;
}

function numbers(h) {
  const list = el("ul", { class: "headline" });
  for (const dl of h.deadlines) {
    const li = list.appendChild(el("li", { "data-deadline": dl.key }, dl.label + ": "));
    if (passed(h, dl)) {
      li.appendChild(el("span", { "data-test": "passed-" + dl.key }, settled(dl)));
      continue;
    }
    li.appendChild(el("strong", { "data-test": "p-" + dl.key }, pct(dl.p_confirmed)));
    li.appendChild(el("span", { class: "iv", "data-test": "interval-" + dl.key }, ` 94% ${interval(dl.interval)} · by ${dl.date}`));
  }
  const ever = list.appendChild(el("li", { "data-deadline": "ever" }, "Ever: "));
  ever.appendChild(el("strong", { "data-test": "p-ever" }, pct(h.p_ever_confirmed)));
  ever.appendChild(el("span", { class: "iv", "data-test": "interval-ever" }, ` 94% ${interval(h.p_ever_confirmed_interval)}`));
  return list;
}

function entry(q) {
  const h = q.headline;
  const item = el("article", { class: "question", "data-slug": q.slug });
  const text = item.appendChild(el("div", { class: "summary" }));
  text.appendChild(el("h2", {})).appendChild(el("a", { href: q.links.page }, q.question));
  const clock = [CLOCK[q.clock] || q.clock, ...(q.resolved ? ["outcome on record"] : [])].join(" · ");
  const meta = text.appendChild(el("div", { class: "meta" }, `${q.candidate} · opened ${q.opened} · `));
  meta.appendChild(el("span", { "data-test": "clock" }, clock));
  if (!h) {
    text.appendChild(el("p", { class: "pending", "data-test": "nothing" }, "Nothing published yet."));
    return item;
  }
  meta.appendChild(document.createTextNode(" · cut-off "));
  meta.appendChild(el("span", { "data-test": "cut-off" }, h.as_of));
  text.appendChild(numbers(h));
  item.appendChild(sparkline(h));
  return item;
}

async function main() {
  const list = clear(document.getElementById("questions"));
  try {
    const response = await fetch("/questions", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error("/questions: " + response.status);
    for (const q of (await response.json()).questions) list.appendChild(entry(q));
    document.body.setAttribute("data-ready", "1");
  } catch (err) {
    list.appendChild(el("p", { class: "bad", "data-test": "failed" }, "The questions could not be shown: " + err.message));
    document.body.setAttribute("data-ready", "error");
  }
}

main();
