// What the SVG charts share: their width, their scale steps, their day axis.

import { svg } from "./dom.js";
import { utcDate, utcDay } from "./numbers.js";

// A chart's drawing, labelled by its first child: a title that is its text alternative.
// data: the chart's data-* attributes, which the tests read.
export function chartRoot(width, height, titleId, titleText, data = {}) {
  const attributes = { viewBox: "0 0 " + width + " " + height, width, height, role: "img", "aria-labelledby": titleId };
  return svg("svg", Object.assign(attributes, data), svg("title", { id: titleId, text: titleText }));
}

// Charts are drawn at the width of their box, in its pixels, so that their
// text keeps its CSS size (a narrower drawing would be scaled down).
export function chartWidth(box, fallback) {
  return Math.max(240, Math.floor(box.clientWidth) || fallback);
}

export function niceStep(highest) {
  const rough = highest / 4;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  for (const factor of [1, 2, 5, 10]) {
    if (rough <= factor * power) return Math.max(1, factor * power);
  }
  return Math.max(1, 10 * power);
}

// Days whose date is written under the axis: the latest, then every step
// days back, as many as fit (a label needs about labelWidth pixels).
function labelledDays(count, slot, labelWidth) {
  const step = [1, 2, 3, 7, 14, 28, 30, 60, 90].find((candidate) => candidate * slot >= labelWidth) || count;
  const shown = new Set();
  for (let i = count - 1; i >= 0; i -= step) shown.add(i);
  return shown;
}

export function dayAxis(chart, days, options) {
  const { left, right, width, slot, y, labelWidth } = options;
  const shown = labelledDays(days.length, slot, labelWidth);
  days.forEach((day, i) => {
    if (!shown.has(i)) return;
    const x = left + (i + 0.5) * slot;
    const anchor = x + labelWidth / 2 > width - right ? "end" : x - labelWidth / 2 < left - 30 ? "start" : "middle";
    chart.append(
      svg("line", { class: "axis", x1: x, x2: x, y1: y, y2: y + 4 }),
      svg("text", { class: "chart-muted", x: anchor === "end" ? Math.min(x + 4, width - 2) : x, y: y + 18, "text-anchor": anchor, text: utcDay.format(utcDate(day.window_end_utc)) })
    );
  });
}
