"use strict";
// The question index: GET /questions (JSON) drawn as a table, each row linking to its page.

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

const pct = (p) => (100 * p).toFixed(1) + "%";

async function main() {
  const response = await fetch("/questions", { headers: { accept: "application/json" } });
  const body = await response.json();
  const rows = document.querySelector("#questions tbody");
  for (const q of body.questions) {
    const h = q.headline;
    const deadlines = h ? h.deadlines.map((d) => `${d.key} ${pct(d.p_confirmed)}`).join(", ") : "nothing published yet";
    const clock = q.clock === "live" ? "open, follows today" : q.resolved ? "replay, outcome on record" : "replayed from its evidence";
    rows.append(el("tr", { "data-slug": q.slug },
      el("td", {}, el("a", { href: q.links.page }, q.question)),
      el("td", {}, clock),
      el("td", {}, h ? h.as_of : ""),
      el("td", {}, deadlines),
      el("td", {}, h ? pct(h.p_ever_confirmed) : "")));
  }
}

main();
