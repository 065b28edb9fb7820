// Triggering a report, watching it until it is ready, and the recent reports.

import { api, apiJson, errorText } from "./api.js";
import { $, el, idView, setBar, showMessage, sleep } from "./dom.js";
import { countFormat, whenFormat } from "./numbers.js";
import { showReport } from "./report-summary.js";
import { POLL_INTERVAL_MS, state } from "./state.js";

const RECENT_LIMIT = 10;

const REPORT_ID_SHORT = 8; // a UUID's first group

export async function triggerReport() {
  const button = $("trigger");
  button.disabled = true;
  showMessage("");
  try {
    const body = await apiJson("/trigger_report", { method: "POST" });
    watchReport(body.report_id);
    refreshRecent();
  } catch (error) {
    showMessage("The report could not be started: " + error.message);
  } finally {
    button.disabled = false;
  }
}

const REPORT_BAR = { bar: "progress", fill: "progress-fill", text: "progress-text" };

function setProgress(value, text, kind) {
  setBar(REPORT_BAR, value, text, kind);
}

// Poll the report until it is complete (then show it) or failed.
export async function watchReport(reportId) {
  const generation = ++state.watchGeneration;
  state.currentReportId = reportId;
  markCurrentInRecent();
  $("progress-area").hidden = false;
  $("progress-report-id").textContent = reportId;
  $("download-row").hidden = true;
  setProgress(0, "Waiting for the report to start…", "running");
  for (;;) {
    let response;
    try {
      response = await api("/get_report/" + encodeURIComponent(reportId));
    } catch (error) {
      if (generation !== state.watchGeneration) return;
      setProgress(0, "Cannot reach the server; trying again…", "running");
      await sleep(POLL_INTERVAL_MS * 5);
      continue;
    }
    if (generation !== state.watchGeneration) return;
    const type = response.headers.get("Content-Type") || "";
    if (response.ok && type.startsWith("text/csv")) {
      const blob = await response.blob();
      const text = await blob.text();
      if (generation !== state.watchGeneration) return;
      setProgress(100, "Complete: 100%. The report is ready.", "done");
      offerDownload(reportId, blob);
      showReport(reportId, text);
      if (listedStatus(reportId) !== "Complete") refreshRecent();
      return;
    }
    if (!response.ok) {
      setProgress(0, "The report cannot be shown: " + (await errorText(response)), "failed");
      return;
    }
    const body = await response.json();
    if (body.status === "Failed") {
      setProgress(100, "Failed: " + body.error, "failed");
      if (listedStatus(reportId) !== "Failed") refreshRecent();
      return;
    }
    const { done, total } = body.progress;
    if (total > 0) {
      const value = Math.floor((100 * done) / total);
      setProgress(value, "Computing: " + done + " of " + total + " parts (" + value + "%)", "running");
    } else {
      setProgress(0, "Waiting for a worker to plan the report…", "running");
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function offerDownload(reportId, blob) {
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  // The link carries the bytes fetched with the token: a plain link to the
  // API would be refused without the Authorization header.
  state.downloadUrl = URL.createObjectURL(blob);
  const link = $("download");
  link.href = state.downloadUrl;
  link.download = "report-" + reportId + ".csv";
  link.textContent = "Download the report (CSV, " + countFormat.format(Math.ceil(blob.size / 1024)) + " KB)";
  $("download-row").hidden = false;
}

// --- recent reports --------------------------------------------------------

let recentRequest = 0;

export async function refreshRecent() {
  const request = ++recentRequest;
  let body;
  try {
    body = await apiJson("/reports?limit=" + RECENT_LIMIT);
  } catch (error) {
    if (request === recentRequest) showMessage("The list of reports could not be read: " + error.message);
    return;
  }
  if (request !== recentRequest) return;
  const list = $("recent-list");
  list.replaceChildren(...body.reports.map(recentItem));
  $("recent-empty").hidden = body.reports.length > 0;
  markCurrentInRecent();
  return body.reports;
}

function recentItem(report) {
  const status = report.status;
  const badge = el("span", {
    class: "badge " + status.toLowerCase(),
    text: { Complete: "✓ Complete", Running: "… Running", Failed: "✕ Failed" }[status] || status,
  });
  let detail = "";
  if (status === "Running") {
    const { done, total } = report.progress;
    detail = total > 0 ? done + " of " + total + " parts" : "waiting for a worker";
  } else if (status === "Failed") {
    detail = report.error || "";
  } else if (report.finished_at) {
    detail = "finished " + whenFormat.format(new Date(report.finished_at));
  }
  const created = whenFormat.format(new Date(report.created_at));
  const shortId = report.report_id.slice(0, REPORT_ID_SHORT);
  const action =
    status === "Failed"
      ? null
      : el("button", {
          type: "button",
          class: "secondary",
          text: status === "Complete" ? "Show" : "Watch",
          "aria-label": (status === "Complete" ? "Show report " : "Watch report ") + shortId + " of " + created,
          onclick: () => {
            watchReport(report.report_id);
            $("run-section").scrollIntoView({ block: "start" });
          },
        });
  return el(
    "li",
    { "data-report-id": report.report_id, "data-status": status },
    el("span", { class: "when", text: created }),
    badge,
    el("span", { class: "report-id" }, el("span", { class: "visually-hidden", text: "Report id " }), idView(report.report_id, { noun: "report id", shortLength: REPORT_ID_SHORT })),
    el("span", { class: "detail", text: detail }),
    action
  );
}

// The state the list shows for a report, or null when it is not listed.
function listedStatus(reportId) {
  const item = $("recent-list").querySelector('li[data-report-id="' + CSS.escape(reportId) + '"]');
  return item ? item.dataset.status : null;
}

function markCurrentInRecent() {
  for (const item of $("recent-list").children) {
    item.classList.toggle("current", item.dataset.reportId === state.currentReportId);
  }
}
