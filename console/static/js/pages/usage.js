// Usage against the plan (bars) and day-by-day use over the month (small SVG charts).
import { h } from "../dom.js";
import { t } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";

function amount(metric, value) {
  if (value === null || value === undefined) return t("usage.unlimited");
  if (metric.endsWith("_ms")) return `${Math.round(value / 60000)} ${t("unit.min")}`;
  return String(Math.round(value));
}

/** A share of the limit as a bar. Its width is set through the CSSOM: the console's CSP refuses style attributes. */
function bar(share, over) {
  const fill = h("span");
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return h("div", { class: `bar ${over ? "over" : ""}`, role: "meter", "aria-valuenow": Math.round(share * 100), "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
}

export function usageBars(usage, { plan = true } = {}) {
  const metrics = Object.entries(usage.metrics || {});
  if (!usage.plan) return h("p", { class: "muted" }, t("usage.noPlan"));
  return h("div", {}, plan ? h("p", {}, t("usage.plan"), ": ", h("strong", {}, usage.plan)) : null,
    metrics.map(([metric, m]) => {
      const share = m.limit ? Math.min(1, m.used / m.limit) : 0;
      return h("div", { class: "usage-metric", "data-metric": metric },
        h("div", { class: "row" }, h("span", {}, t("metric." + metric, {}, metric)), h("span", { class: "spacer" }),
          h("span", { class: "muted" }, `${amount(metric, m.used)} / ${amount(metric, m.limit)}`)),
        bar(share, m.limit && m.used >= m.limit));
    }));
}

/** One metric's days as bars, each at its day of the month (``day`` is 1–31). */
export function dailyChart(metric, days) {
  const values = days.map((d) => d.amount);
  const max = Math.max(1, ...values);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 310 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("metric." + metric, {}, metric));
  days.forEach((d) => {
    const rect = document.createElementNS(SVG, "rect");
    const height = (d.amount / max) * 95;
    rect.setAttribute("x", String((Number(d.day) - 1) * 10 + 1));
    rect.setAttribute("y", String(100 - height));
    rect.setAttribute("width", "8");
    rect.setAttribute("height", String(height));
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${d.day}: ${amount(metric, d.amount)}`;
    rect.append(title);
    svg.append(rect);
  });
  return h("div", { class: "card", "data-chart": metric }, h("h2", {}, t("metric." + metric, {}, metric)),
    days.length ? [svg, h("div", { class: "row muted" }, "1", h("span", { class: "spacer" }), "31")] : h("p", { class: "muted" }, t("usage.none")));
}
