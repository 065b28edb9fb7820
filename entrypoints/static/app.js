// Store monitor's page: trigger a report, watch it, download it, look into it.
// Plain browser JavaScript modules and SVG; it talks only to this server's JSON API.

import { $ } from "./dom.js";
import { drawFleetTrend, triggerTrend } from "./fleet-trend.js";
import { drawHistogram } from "./report-summary.js";
import { refreshRecent, triggerReport, watchReport } from "./reports.js";
import { state } from "./state.js";
import { drawStoreTrend } from "./store-trend.js";
import { closeStore, drawTimeline, search } from "./store.js";

let redrawPending = false;
function redrawCharts() {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    if (state.stores.length && !$("summary-section").hidden) drawHistogram();
    if (state.detail) drawTimeline();
    if (state.storeTrend) drawStoreTrend();
    if (state.fleetTrend && !$("trend-result").hidden) drawFleetTrend();
  });
}

function start() {
  $("trigger").addEventListener("click", triggerReport);
  $("refresh").addEventListener("click", refreshRecent);
  $("search-form").addEventListener("submit", search);
  $("store-close").addEventListener("click", closeStore);
  $("trend-form").addEventListener("submit", triggerTrend);
  window.addEventListener("resize", redrawCharts);
  refreshRecent().then((reports) => {
    // Open the newest report that did not fail, unless one is shown already.
    const newest = (reports || []).find((report) => report.status !== "Failed");
    if (newest && state.currentReportId === null) watchReport(newest.report_id);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
