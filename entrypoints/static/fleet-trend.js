// The fleet's daily uptime and the stores slipping most.

import { api, ApiError, apiJson, errorText } from "./api.js";
import { chartRoot, chartWidth, dayAxis, niceStep } from "./charts.js";
import { $, el, setBar, showMessage, sleep, svg, svgTitle } from "./dom.js";
import { chronological, countFormat, oneDecimal, percentText, utcDate, utcDay, utcWhen, windowText } from "./numbers.js";
import { POLL_INTERVAL_MS, state } from "./state.js";
import { storeIdView } from "./store.js";

const TREND_DAYS_MIN = 1;
const TREND_DAYS_MAX = 90;

const TREND_BAR = { bar: "trend-progress", fill: "trend-progress-fill", text: "trend-progress-text" };

function fleetDayPercent(day) {
  return typeof day.uptime_percent === "number" ? day.uptime_percent : null;
}

function trendDaysError(show) {
  const input = $("trend-days");
  $("trend-days-error").hidden = !show;
  if (show) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

export async function triggerTrend(event) {
  event.preventDefault();
  const input = $("trend-days");
  const text = input.value.trim();
  const days = Number(text);
  if (!/^\d+$/.test(text) || days < TREND_DAYS_MIN || days > TREND_DAYS_MAX) {
    trendDaysError(true);
    input.focus();
    return;
  }
  trendDaysError(false);
  const button = $("trend-trigger");
  button.disabled = true;
  showMessage("");
  try {
    const body = await apiJson("/trigger_trend", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ days }),
    });
    if (!body || typeof body.trend_id !== "string") throw new ApiError("the answer has no trend id", 200);
    watchTrend(body.trend_id);
  } catch (error) {
    showMessage("The fleet trend could not be started: " + error.message);
  } finally {
    button.disabled = false;
  }
}

async function watchTrend(trendId) {
  const generation = ++state.trendGeneration;
  $("trend-progress-area").hidden = false;
  $("trend-progress-id").textContent = trendId;
  $("trend-result").hidden = true;
  setBar(TREND_BAR, 0, "Waiting for the trend to start…", "running");
  for (;;) {
    let response;
    try {
      response = await api("/get_trend/" + encodeURIComponent(trendId), { headers: { Accept: "application/json" } });
    } catch (error) {
      if (generation !== state.trendGeneration) return;
      setBar(TREND_BAR, 0, "Cannot reach the server; trying again…", "running");
      await sleep(POLL_INTERVAL_MS * 5);
      continue;
    }
    if (generation !== state.trendGeneration) return;
    if (!response.ok) {
      setBar(TREND_BAR, 0, "The trend cannot be shown: " + (await errorText(response)), "failed");
      return;
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      setBar(TREND_BAR, 0, "The trend cannot be shown: the server's answer is not JSON", "failed");
      return;
    }
    if (generation !== state.trendGeneration) return;
    if (body.status === "Failed") {
      setBar(TREND_BAR, 100, "Failed: " + body.error, "failed");
      return;
    }
    if (body.status === "Complete") {
      if (!Array.isArray(body.fleet)) {
        setBar(TREND_BAR, 0, "The trend cannot be shown: the answer has no days", "failed");
        return;
      }
      setBar(TREND_BAR, 100, "Complete: 100%. The trend is ready.", "done");
      showTrend(body, trendId);
      return;
    }
    const progress = body.progress || { done: 0, total: 0 };
    if (progress.total > 0) {
      const value = Math.floor((100 * progress.done) / progress.total);
      setBar(TREND_BAR, value, "Computing: " + progress.done + " of " + progress.total + " parts (" + value + "%)", "running");
    } else {
      setBar(TREND_BAR, 0, "Waiting for a worker to plan the trend…", "running");
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function showTrend(trend, trendId) {
  state.fleetTrend = trend;
  const days = chronological(trend.fleet);
  $("trend-subtitle").textContent =
    "Fleet trend " + trendId + ": " + days.length + (days.length === 1 ? " day" : " days") + " up to " + utcWhen.format(utcDate(trend.now)) + " UTC, the latest poll.";
  $("trend-result").hidden = false;
  drawFleetTrend();
  $("fleet-trend-table").tBodies[0].replaceChildren(
    ...days.map((day) =>
      el(
        "tr",
        { "data-day": day.day },
        el("th", { scope: "row", text: windowText(day) }),
        el("td", { class: "number", text: oneDecimal.format(day.business_hours) }),
        el("td", { class: "number", text: percentText(fleetDayPercent(day), 2) }),
        el("td", { class: "number", text: countFormat.format(day.stores_below_90) }),
        el("td", { class: "number", text: countFormat.format(day.stores_below_50) })
      )
    )
  );
  showSlipping(trend);
}

function fleetTrendSummary(days) {
  const values = days.map(fleetDayPercent).filter((value) => value !== null);
  if (!values.length) return "No business hours in these " + days.length + " days.";
  const latest = days[days.length - 1];
  const most90 = Math.max(...days.map((day) => day.stores_below_90));
  return (
    "From " + percentText(Math.min(...values), 1) + " to " + percentText(Math.max(...values), 1) + " a day; the latest day " +
    percentText(fleetDayPercent(latest), 1) + ", with " + latest.stores_below_90 + " stores below 90% and " + latest.stores_below_50 +
    " below 50%; at most " + most90 + " stores below 90% on one day."
  );
}

export function drawFleetTrend() {
  const trend = state.fleetTrend;
  if (!trend) return;
  const box = $("fleet-trend");
  const days = chronological(trend.fleet);
  const width = chartWidth(box, 800);
  const narrow = width < 520;
  const left = 50;
  const right = 10;
  const topA = 24;
  const heightA = narrow ? 130 : 170;
  const gap = 44;
  const topB = topA + heightA + gap;
  const heightB = narrow ? 100 : 120;
  const bottom = 28;
  const height = topB + heightB + bottom;
  const plotWidth = width - left - right;
  const slot = plotWidth / Math.max(1, days.length);
  const values = days.map(fleetDayPercent);
  const known = values.filter((value) => value !== null);
  // The uptime scale starts at a round number below the lowest day (at least 10 points shown).
  let low = known.length ? Math.max(0, Math.floor((Math.min(...known) - 1) / 10) * 10) : 0;
  if (100 - low < 10) low = 90;
  const stepA = 100 - low <= 20 ? 5 : 100 - low <= 50 ? 10 : 25;
  const yA = (value) => topA + (heightA * (100 - value)) / (100 - low);
  const highest = Math.max(1, ...days.map((day) => Math.max(day.stores_below_90, day.stores_below_50)));
  const stepB = niceStep(highest);
  const scaleB = Math.ceil(highest / stepB) * stepB;
  const yB = (count) => topB + heightB - (heightB * count) / scaleB;
  const chart = chartRoot(width, height, "fleet-trend-title", "The fleet's daily uptime and the stores below 90% and 50%, over " + days.length + " days: " + fleetTrendSummary(days), { "data-days": days.length });
  chart.append(
    svg("text", { class: "chart-text panel-title", x: 2, y: topA - 10, text: "Fleet uptime, % of business hours" }),
    svg("text", { class: "chart-text panel-title", x: 2, y: topB - 12, text: narrow ? "Stores below 90% and 50%" : "Stores below 90% (of them below 50%, striped)" })
  );
  for (let tick = low; tick <= 100; tick += stepA) {
    chart.append(
      svg("line", { class: "grid", x1: left, x2: width - right, y1: yA(tick), y2: yA(tick) }),
      svg("text", { class: "chart-muted", x: left - 6, y: yA(tick) + 4, "text-anchor": "end", text: tick + "%" })
    );
  }
  for (let tick = 0; tick <= scaleB; tick += stepB) {
    chart.append(
      svg("line", { class: "grid", x1: left, x2: width - right, y1: yB(tick), y2: yB(tick) }),
      svg("text", { class: "chart-muted", x: left - 6, y: yB(tick) + 4, "text-anchor": "end", text: countFormat.format(tick) })
    );
  }
  // The uptime line, broken where a day has no business hours.
  let path = "";
  let pen = false;
  values.forEach((value, i) => {
    if (value === null) {
      pen = false;
      return;
    }
    path += (pen ? " L" : " M") + (left + (i + 0.5) * slot) + " " + yA(value);
    pen = true;
  });
  days.forEach((day, i) => {
    const x = left + i * slot;
    const value = values[i];
    const group = svg("g", {
      class: "fleet-day",
      "data-day": day.day,
      "data-uptime": value === null ? "" : String(value),
      "data-below-90": day.stores_below_90,
      "data-below-50": day.stores_below_50,
    });
    group.append(
      svgTitle(
        "The day ending " + utcWhen.format(utcDate(day.window_end_utc)) + " UTC: fleet uptime " +
          (value === null ? "none (no business hours)" : percentText(value, 2) + " of " + oneDecimal.format(day.business_hours) + " business hours") +
          "; " + day.stores_below_90 + " stores below 90%, " + day.stores_below_50 + " below 50%"
      ),
      // The whole column answers the pointer with the day's title.
      svg("rect", { class: "day-hit", x, y: topA, width: slot, height: topB + heightB - topA })
    );
    if (value === null) {
      group.append(svg("rect", { class: "no-hours", x: x + slot * 0.1, y: topA, width: Math.max(1, slot * 0.8), height: heightA }));
    }
    const barX = x + slot * 0.14;
    const barWidth = Math.max(1, slot * 0.72);
    if (day.stores_below_90 > 0) {
      group.append(svg("rect", { class: "below-90", x: barX, y: yB(day.stores_below_90), width: barWidth, height: yB(0) - yB(day.stores_below_90) }));
    }
    if (day.stores_below_50 > 0) {
      group.append(svg("rect", { class: "below-50", x: barX, y: yB(day.stores_below_50), width: barWidth, height: yB(0) - yB(day.stores_below_50) }));
    }
    const alone = value !== null && (i === 0 || values[i - 1] === null) && (i === days.length - 1 || values[i + 1] === null);
    if (value !== null && (slot >= 6 || alone)) {
      group.append(svg("circle", { class: "fleet-point", cx: x + slot / 2, cy: yA(value), r: slot >= 10 ? 3.2 : 2.4 }));
    }
    chart.append(group);
  });
  chart.append(svg("path", { class: "fleet-line", d: path.trim() }));
  // Points over the line.
  for (const point of chart.querySelectorAll(".fleet-point")) chart.append(point);
  chart.append(
    svg("line", { class: "axis", x1: left, x2: width - right, y1: topA + heightA, y2: topA + heightA }),
    svg("line", { class: "axis", x1: left, x2: width - right, y1: yB(0), y2: yB(0) })
  );
  dayAxis(chart, days, { left, right, width, slot, y: yB(0), labelWidth: narrow ? 58 : 54 });
  box.replaceChildren(chart);
}

function showSlipping(trend) {
  const weeks = (trend.weeks || []).slice().sort((a, b) => a.week - b.week);
  const dates = (week) => utcDay.format(utcDate(week.window_start_utc)) + " – " + utcDay.format(utcDate(week.window_end_utc));
  $("slipping-weeks").textContent = weeks.length >= 2 ? " The last week: " + dates(weeks[0]) + "; the week before: " + dates(weeks[1]) + " (UTC)." : "";
  const table = $("slipping-table");
  const empty = $("slipping-empty");
  const slipping = trend.slipping || [];
  let why = "";
  if (weeks.length < 2) why = "Two full weeks are needed to compare one with the other: compute the trend over 14 days or more.";
  else if (!slipping.length) why = "No store's uptime dropped from the week before to the last week.";
  empty.textContent = why;
  empty.hidden = !why;
  table.hidden = Boolean(why);
  table.tBodies[0].replaceChildren(
    ...slipping.map((store) => {
      const weekly = store.weekly_uptime_percent || [];
      const change = typeof store.change === "number" ? store.change : null;
      const changeText = change === null ? "–" : (change < 0 ? "▼ −" : change > 0 ? "▲ +" : "") + oneDecimal.format(Math.abs(change));
      return el(
        "tr",
        { "data-store-id": store.store_id, "data-change": change === null ? "" : String(change) },
        el("td", { class: "store" }, storeIdView(store.store_id)),
        el("td", { class: "number", text: percentText(weekly[1], 1) }),
        el("td", { class: "number", text: percentText(weekly[0], 1) }),
        el("td", { class: "number" + (change !== null && change < 0 ? " drop" : ""), text: changeText })
      );
    })
  );
}
