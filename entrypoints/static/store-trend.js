// One store's daily uptime over the last weeks.

import { ApiError, apiJson } from "./api.js";
import { chartRoot, chartWidth, dayAxis } from "./charts.js";
import { $, el, svg, svgTitle } from "./dom.js";
import { chronological, oneDecimal, percent, percentText, utcDate, utcWhen, windowText } from "./numbers.js";
import { state } from "./state.js";

const STORE_TREND_DAYS = 28;

function storeDayPercent(day) {
  return day.business_hours > 0 ? (100 * day.uptime_hours) / day.business_hours : null;
}

let storeTrendRequest = 0;

// A closed store's trend is not drawn, even when its answer comes later.
export function forgetStoreTrend() {
  state.storeTrend = null;
  storeTrendRequest++;
}

export async function loadStoreTrend(storeId) {
  const request = ++storeTrendRequest;
  state.storeTrend = null;
  $("store-trend").replaceChildren();
  $("store-trend-details").hidden = true;
  $("store-trend-table").tBodies[0].replaceChildren();
  const status = $("store-trend-status");
  status.textContent = "Reading the daily uptime…";
  let body;
  try {
    body = await apiJson("/stores/" + encodeURIComponent(storeId) + "/trend?days=" + STORE_TREND_DAYS);
    if (!body || !Array.isArray(body.series)) throw new ApiError("the answer has no series of days", 200);
  } catch (error) {
    if (request === storeTrendRequest) status.textContent = "The daily uptime cannot be shown: " + error.message;
    return;
  }
  if (request !== storeTrendRequest || !state.detail || state.detail.store_id !== storeId) return;
  state.storeTrend = body;
  drawStoreTrend();
  const days = chronological(body.series);
  $("store-trend-table").tBodies[0].replaceChildren(
    ...days.map((day) => {
      const share = storeDayPercent(day);
      return el(
        "tr",
        { "data-day": day.day },
        el("th", { scope: "row", text: windowText(day) }),
        el("td", { class: "number", text: oneDecimal.format(day.business_hours) }),
        el("td", { class: "number", text: oneDecimal.format(day.uptime_hours) }),
        el("td", { class: "number", text: share === null ? "no business hours" : percentText(share, 1) })
      );
    })
  );
  $("store-trend-details").hidden = false;
  status.textContent = storeTrendSummary(days);
}

function storeTrendSummary(days) {
  let business = 0;
  let up = 0;
  let closed = 0;
  let lowest = null;
  for (const day of days) {
    business += day.business_hours;
    up += day.uptime_hours;
    const share = storeDayPercent(day);
    if (share === null) closed++;
    else if (lowest === null || share < lowest.share) lowest = { share, day };
  }
  const parts = [];
  const overall = percent(up, business);
  parts.push(overall === null ? "No business hours in these " + days.length + " days" : "Up " + percentText(overall, 1) + " of the business hours of these " + days.length + " days");
  if (lowest) parts.push("the lowest day " + percentText(lowest.share, 1) + " (the day ending " + utcWhen.format(utcDate(lowest.day.window_end_utc)) + " UTC)");
  if (closed) parts.push(closed + (closed === 1 ? " day" : " days") + " without business hours");
  return parts.join("; ") + ".";
}

export function drawStoreTrend() {
  const trend = state.storeTrend;
  if (!trend) return;
  const box = $("store-trend");
  const days = chronological(trend.series);
  const width = chartWidth(box, 800);
  const narrow = width < 520;
  const left = 46;
  const right = 10;
  const top = 12;
  const plotHeight = narrow ? 140 : 170;
  const bottom = 28;
  const height = top + plotHeight + bottom;
  const plotWidth = width - left - right;
  const slot = plotWidth / Math.max(1, days.length);
  const y = (value) => top + (plotHeight * (100 - value)) / 100;
  const chart = chartRoot(width, height, "store-trend-title", "Daily uptime of store " + trend.store_id + ", % of business hours: " + storeTrendSummary(days), { "data-days": days.length });
  for (let tick = 0; tick <= 100; tick += 25) {
    chart.append(
      svg("line", { class: "grid", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }),
      svg("text", { class: "chart-muted", x: left - 6, y: y(tick) + 4, "text-anchor": "end", text: tick + "%" })
    );
  }
  days.forEach((day, i) => {
    const share = storeDayPercent(day);
    const x = left + i * slot;
    const when = "The day ending " + utcWhen.format(utcDate(day.window_end_utc)) + " UTC: ";
    if (share === null) {
      chart.append(
        svg("rect", { class: "no-hours", x: x + slot * 0.1, y: top, width: Math.max(1, slot * 0.8), height: plotHeight, "data-day": day.day, "data-uptime": "" }, svgTitle(when + "no business hours"))
      );
      return;
    }
    chart.append(
      svg(
        "rect",
        {
          class: "trend-bar",
          x: x + slot * 0.12,
          // A day at 0% still shows a sliver: it is not a day without hours.
          y: Math.min(y(share), y(0) - 2),
          width: Math.max(1, slot * 0.76),
          height: Math.max(2, y(0) - y(share)),
          "data-day": day.day,
          "data-uptime": share.toFixed(2),
        },
        svgTitle(when + "up " + oneDecimal.format(day.uptime_hours) + " h of " + oneDecimal.format(day.business_hours) + " business hours (" + percentText(share, 1) + ")")
      )
    );
  });
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }));
  dayAxis(chart, days, { left, right, width, slot, y: y(0), labelWidth: narrow ? 58 : 54 });
  box.replaceChildren(chart);
}
