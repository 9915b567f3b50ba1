// What the forecast page and the question index both show, written once: probabilities,
// elements, and a deadline that has passed. Loaded before either page's own script.

// Probabilities above 0 that round to 0.0% read "<0.1%": rare is not impossible.
const pct = (p) => (p > 0 && p < 0.0005 ? "<0.1%" : (100 * p).toFixed(1) + "%");
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
};
const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); return node; };
// A deadline whose last day is on or before the cut-off has passed: the reports settle it,
// so it is shown as a fact, not as a probability (ISO dates compare as text).
const passed = (doc, dl) => dl.date <= doc.as_of;
const ahead = (doc) => doc.deadlines.filter((dl) => !passed(doc, dl));
const settled = (dl) => (dl.p_confirmed >= 1 ? `passed: confirmed by ${dl.date}`
  : dl.p_confirmed <= 0 ? `passed: not confirmed by ${dl.date}`
    : `passed ${dl.date}: ${pct(dl.p_confirmed)} on the reports`);
const interval = (iv) => `${pct(iv[0])} – ${pct(iv[1])}`;
