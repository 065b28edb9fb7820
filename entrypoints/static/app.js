// Store monitor's page: trigger a report, watch it, download it, look into it.
// Plain browser JavaScript and SVG; it talks only to this server's JSON API.
"use strict";

(function () {
  const TOKEN_KEY = "store-monitor.api-token";
  const POLL_INTERVAL_MS = 400;
  const RECENT_LIMIT = 10;
  const TOP_COUNT = 10;
  const SEARCH_RESULTS = 20;
  const STORE_TREND_DAYS = 28;
  const TREND_DAYS_MIN = 1;
  const TREND_DAYS_MAX = 90;
  const REPORT_ID_SHORT = 8; // a UUID's first group
  const SVG_NS = "http://www.w3.org/2000/svg";
  const US_PER_MINUTE = 60e6;
  const US_PER_HOUR = 3600e6;
  // Poll marks closer than this (in pixels) are drawn as one.
  const MERGE_PX = 2;
  // A report writes an id starting with one of these after a "'" (so that a
  // spreadsheet does not run it as a formula); the real id has no "'".
  const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"];
  const WINDOWS = [
    { key: "Hour", title: "Last hour", unit: "min" },
    { key: "Day", title: "Last day", unit: "h" },
    { key: "Week", title: "Last week", unit: "h" },
  ];
  const KIND_WORDS = { up: "Up", down: "Down", closed: "Closed", outside: "Outside the week", unknown: "No data" };

  const $ = (id) => document.getElementById(id);

  const state = {
    watchGeneration: 0, // a newer watch stops the polling of an older one
    currentReportId: null,
    downloadUrl: null,
    stores: [], // rows of the report shown
    storesById: new Map(),
    detail: null, // the store shown
    storeTrend: null, // its daily uptime (GET /stores/<id>/trend)
    fleetTrend: null, // the fleet trend shown (GET /get_trend/<id>, complete)
    trendGeneration: 0, // a newer fleet trend stops the polling of an older one
  };

  // --- DOM helpers ---------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    setAttributes(node, attributes);
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function svg(tag, attributes, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttributes(node, attributes);
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function setAttributes(node, attributes) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function svgTitle(text) {
    return svg("title", { text });
  }

  // Say something to screen readers without moving the focus.
  function announce(text) {
    const node = $("announcer");
    // The same text twice must be heard twice: empty the region first.
    node.textContent = "";
    requestAnimationFrame(() => {
      node.textContent = text;
    });
  }

  // --- long ids: short on the page, whole on demand ---------------------------

  let idViews = 0;

  // An id shown short (cut by CSS where it does not fit, or to shortLength
  // characters), with its whole text on demand: in its title, and in a panel
  // a toggle opens, where it can be selected and copied with a button.
  // options: noun ("store id"), open (a function: the short id is then a
  // button that calls it, named openLabel), shortLength.
  function idView(id, options) {
    const number = ++idViews;
    const panelId = "id-full-" + number;
    const noun = options.noun;
    const short = options.shortLength && id.length > options.shortLength ? id.slice(0, options.shortLength) + "…" : id;
    const main = options.open
      ? el("button", { type: "button", class: "link id-short", title: id, text: short, "aria-label": options.openLabel, onclick: options.open })
      : el("code", { class: "id-short", title: id, text: short });
    const text = el("code", { class: "id-text", text: id });
    const copy = el("button", {
      type: "button",
      class: "secondary small id-copy",
      text: "Copy",
      "aria-label": "Copy the " + noun + " " + id,
      onclick: async () => {
        const copied = await copyText(id, text);
        copy.textContent = copied ? "Copied" : "Select and copy";
        announce(copied ? "The " + noun + " " + id + " is copied." : "The " + noun + " is selected: press Control C (Command C on a Mac) to copy it.");
      },
    });
    const panel = el("div", { id: panelId, class: "id-full", hidden: true }, text, copy);
    const toggle = el("button", {
      type: "button",
      class: "secondary small id-toggle",
      title: "Show the whole " + noun,
      "aria-label": "Show the whole " + noun + (options.open ? "" : " " + short),
      "aria-expanded": "false",
      "aria-controls": panelId,
      onclick: () => {
        const open = panel.hidden;
        panel.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        toggle.classList.toggle("open", open);
        if (!open) copy.textContent = "Copy";
      },
    });
    toggle.append(el("span", { class: "chevron", "aria-hidden": "true", text: "▸" }));
    return el("div", { class: "id-view", "data-id": id }, el("div", { class: "id-line" }, main, toggle), panel);
  }

  async function copyText(text, node) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {
      // No clipboard API here (an insecure origin) or it was refused: select
      // the text, and try the older command.
    }
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function showMessage(text) {
    const message = $("message");
    message.textContent = text;
    message.hidden = !text;
  }

  // --- talking to the API, with the token when the server wants one --------

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (error) {
      return null;
    }
  }

  let tokenRequest = null; // one prompt answers every request waiting for it
  let memoryToken = null; // where sessionStorage is refused

  function askForToken(rejected) {
    if (tokenRequest) return tokenRequest;
    tokenRequest = new Promise((resolve) => {
      const section = $("token-section");
      const form = $("token-form");
      const input = $("token-input");
      const error = $("token-error");
      $("token-reason").textContent = rejected
        ? "The server did not accept that token. Enter the API token of this server."
        : "This server asks for its API token before it shows any report.";
      error.hidden = true;
      input.value = "";
      input.removeAttribute("aria-invalid");
      section.hidden = false;
      input.focus();
      form.onsubmit = (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) {
          error.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        try {
          sessionStorage.setItem(TOKEN_KEY, token);
        } catch (storageError) {
          // Storage refused (a private mode): the token lives in this page only.
          memoryToken = token;
        }
        section.hidden = true;
        form.onsubmit = null;
        tokenRequest = null;
        resolve();
      };
    });
    return tokenRequest;
  }

  function currentToken() {
    return storedToken() || memoryToken;
  }

  function forgetToken() {
    memoryToken = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (error) {
      // nothing stored
    }
  }

  async function api(path, options = {}) {
    for (;;) {
      const token = currentToken();
      const headers = Object.assign({}, options.headers || {});
      if (token) headers.Authorization = "Bearer " + token;
      let response;
      try {
        response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
      } catch (error) {
        throw new ApiError("The server cannot be reached (" + error.message + ").", 0);
      }
      if (response.status !== 401) return response;
      if (currentToken() !== token) continue; // another request got a new token meanwhile
      if (token) forgetToken();
      await askForToken(Boolean(token));
    }
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (error) {
      // not JSON
    }
    return "the server answered HTTP " + response.status;
  }

  async function apiJson(path, options) {
    const response = await api(path, options);
    if (!response.ok) throw new ApiError(await errorText(response), response.status);
    return response.json();
  }

  // --- times and numbers ---------------------------------------------------

  // "2024-10-03T12:00:00.123456Z" -> microseconds since the epoch (exact below 2**53).
  function micros(text) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(text);
    if (!match) return Date.parse(text) * 1000;
    return Date.parse(match[1] + "Z") * 1000 + Number((match[2] || "").padEnd(6, "0"));
  }

  function span(item) {
    return { start: micros(item.start), end: micros(item.end) };
  }

  function localFormat(timeZone, options) {
    try {
      return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone }, options));
    } catch (error) {
      // A zone the browser does not know: show UTC, and say so.
      return new Intl.DateTimeFormat(undefined, Object.assign({}, options, { timeZone: "UTC", timeZoneName: "short" }));
    }
  }

  const whenFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const countFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

  function duration(us) {
    const minutes = Math.round(us / US_PER_MINUTE);
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (!hours) return rest + " min";
    return rest ? hours + " h " + rest + " min" : hours + " h";
  }

  function percent(part, whole) {
    return whole > 0 ? (100 * part) / whole : null;
  }

  // --- the report CSV ------------------------------------------------------

  // Rows of a CSV text (RFC 4180 quoting: a quoted field may hold commas,
  // quotes doubled, and line ends).
  function parseCsv(text) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else {
            quoted = false;
          }
        } else {
          field += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === ",") {
        row.push(field);
        field = "";
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field);
        rows.push(row);
        row = [];
        field = "";
      } else {
        field += c;
      }
    }
    if (field !== "" || row.length) {
      row.push(field);
      rows.push(row);
    }
    return rows;
  }

  function realStoreId(field) {
    return field.length > 1 && field[0] === "'" && FORMULA_STARTS.includes(field[1]) ? field.slice(1) : field;
  }

  function readReport(text) {
    const rows = parseCsv(text);
    rows.shift(); // the header
    return rows
      .filter((row) => row.length === 7)
      .map((row) => ({
        id: realStoreId(row[0]),
        text: row.slice(1), // the six figures exactly as written
        upHour: Number(row[1]),
        upDay: Number(row[2]),
        upWeek: Number(row[3]),
        downHour: Number(row[4]),
        downDay: Number(row[5]),
        downWeek: Number(row[6]),
      }));
  }

  // --- triggering and watching a report -------------------------------------

  async function triggerReport() {
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
  const TREND_BAR = { bar: "trend-progress", fill: "trend-progress-fill", text: "trend-progress-text" };

  function setBar(ids, value, text, kind) {
    const bar = $(ids.bar);
    const rounded = Math.max(0, Math.min(100, Math.round(value)));
    bar.setAttribute("aria-valuenow", String(rounded));
    bar.setAttribute("aria-valuetext", text);
    bar.classList.toggle("done", kind === "done");
    bar.classList.toggle("failed", kind === "failed");
    $(ids.fill).style.width = rounded + "%";
    const line = $(ids.text);
    if (line.textContent !== text) line.textContent = text;
  }

  function setProgress(value, text, kind) {
    setBar(REPORT_BAR, value, text, kind);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // Poll the report until it is complete (then show it) or failed.
  async function watchReport(reportId) {
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

  async function refreshRecent() {
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

  // --- one complete report: totals, histogram, top downtime ------------------

  function showReport(reportId, csvText) {
    const stores = readReport(csvText);
    state.stores = stores;
    state.storesById = new Map(stores.map((store) => [store.id, store]));
    let business = 0;
    let up = 0;
    for (const store of stores) {
      business += store.upWeek + store.downWeek;
      up += store.upWeek;
    }
    const overall = percent(up, business);
    $("summary-subtitle").textContent = "Report " + reportId;
    setTotal("total-stores", stores.length, countFormat.format(stores.length));
    setTotal("total-hours", business, countFormat.format(Math.round(business)) + " h");
    setTotal("total-uptime", overall === null ? "" : overall.toFixed(2), overall === null ? "–" : overall.toFixed(2) + "%");
    // Shown first: the histogram is drawn at the width of its box, which a hidden box does not have.
    $("summary-section").hidden = false;
    drawHistogram();
    showTopLists(stores);
  }

  function setTotal(id, value, text) {
    const node = $(id);
    node.textContent = text;
    node.dataset.value = String(value);
  }

  const BIN_LABELS = ["0–10", "10–20", "20–30", "30–40", "40–50", "50–60", "60–70", "70–80", "80–90", "90–100", "100"];

  function histogramBins(stores) {
    const counts = new Array(BIN_LABELS.length).fill(0);
    let closedAllWeek = 0;
    for (const store of stores) {
      const value = percent(store.upWeek, store.upWeek + store.downWeek);
      if (value === null) {
        closedAllWeek++;
        continue;
      }
      counts[value >= 100 ? 10 : Math.min(9, Math.floor(value / 10))]++;
    }
    return { counts, closedAllWeek };
  }

  function drawHistogram() {
    const box = $("histogram");
    const { counts, closedAllWeek } = histogramBins(state.stores);
    const width = chartWidth(box, 600);
    const narrow = width < 520;
    const height = narrow ? 250 : 260;
    const left = 44;
    const right = 8;
    const top = 18;
    const bottom = narrow ? 72 : 44;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const highest = Math.max(1, ...counts);
    const step = niceStep(highest);
    const scaleTop = Math.ceil(highest / step) * step;
    const y = (value) => top + plotHeight - (plotHeight * value) / scaleTop;
    const slot = plotWidth / counts.length;
    const total = counts.reduce((a, b) => a + b, 0);
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width,
      height,
      role: "img",
      "aria-labelledby": "histogram-title",
      "data-total": total,
    });
    chart.append(
      svg("title", {
        id: "histogram-title",
        text:
          "Stores by weekly uptime: " +
          counts.map((count, i) => BIN_LABELS[i] + "%: " + count).join(", ") +
          " (the 100% bar, in green: the stores up for all of their business hours)" +
          (closedAllWeek ? "; " + closedAllWeek + " stores had no business hours in the week" : ""),
      })
    );
    for (let tick = 0; tick <= scaleTop; tick += step) {
      chart.append(
        svg("line", { class: "grid", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }),
        svg("text", { class: "chart-muted", x: left - 6, y: y(tick) + 4, "text-anchor": "end", text: countFormat.format(tick) })
      );
    }
    counts.forEach((count, i) => {
      const x = left + i * slot + slot * 0.12;
      const barWidth = slot * 0.76;
      const label = BIN_LABELS[i] + "%";
      chart.append(
        svg(
          "rect",
          {
            class: i === 10 ? "bar bar-full" : "bar",
            x,
            // A bar of a few stores among hundreds stays visible.
            y: Math.min(y(count), y(0) - (count ? 2 : 0)),
            width: barWidth,
            height: Math.max(count ? 2 : 0, y(0) - y(count)),
            "data-bin": BIN_LABELS[i],
            "data-count": count,
          },
          svgTitle(label + ": " + count + " stores")
        ),
        svg("text", { class: "chart-text", x: x + barWidth / 2, y: y(count) - 4, "text-anchor": "middle", text: count ? countFormat.format(count) : "" })
      );
      const labelX = x + barWidth / 2;
      const labelY = height - bottom + 16;
      chart.append(
        narrow
          ? svg("text", {
              class: "chart-muted",
              x: labelX,
              y: labelY,
              "text-anchor": "end",
              transform: "rotate(-50 " + labelX + " " + labelY + ")",
              text: label,
            })
          : svg("text", { class: "chart-muted", x: labelX, y: labelY, "text-anchor": "middle", text: label })
      );
    });
    chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }));
    box.replaceChildren(chart);

    const rows = counts.map((count, i) => el("tr", {}, el("td", { text: BIN_LABELS[i] + "%" }), el("td", { class: "number", text: count })));
    if (closedAllWeek) {
      rows.push(el("tr", {}, el("td", { text: "No business hours in the week" }), el("td", { class: "number", text: closedAllWeek })));
    }
    $("histogram-table").tBodies[0].replaceChildren(...rows);
  }

  // Charts are drawn at the width of their box, in its pixels, so that their
  // text keeps its CSS size (a narrower drawing would be scaled down).
  function chartWidth(box, fallback) {
    return Math.max(240, Math.floor(box.clientWidth) || fallback);
  }

  function niceStep(highest) {
    const rough = highest / 4;
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    for (const factor of [1, 2, 5, 10]) {
      if (rough <= factor * power) return Math.max(1, factor * power);
    }
    return Math.max(1, 10 * power);
  }

  function byDowntime(key) {
    return (a, b) => b["down" + key] - a["down" + key] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  function showTopLists(stores) {
    const lists = WINDOWS.map((window) => {
      const worst = stores
        .filter((store) => store["down" + window.key] > 0)
        .sort(byDowntime(window.key))
        .slice(0, TOP_COUNT);
      const caption = window.title + " (" + (window.unit === "min" ? "minutes" : "hours") + ")";
      if (!worst.length) {
        return el("div", { class: "top-list", "data-window": window.key.toLowerCase() }, el("h4", { text: caption }), el("p", { class: "hint", text: "No downtime: every store was up whenever it was open." }));
      }
      const body = worst.map((store) => {
        const down = store["down" + window.key];
        const business = store["up" + window.key] + down;
        const share = percent(down, business);
        return el(
          "tr",
          { "data-store-id": store.id },
          el("td", { class: "store" }, storeIdView(store.id)),
          el("td", { class: "number", text: down.toFixed(2) }),
          el("td", { class: "number", text: share === null ? "–" : share.toFixed(1) + "%" })
        );
      });
      return el(
        "div",
        { class: "top-list table-scroll", "data-window": window.key.toLowerCase() },
        el(
          "table",
          {},
          el("caption", { text: caption }),
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col", text: "Store" }),
              el("th", { scope: "col", class: "number", text: "Down (" + window.unit + ")" }),
              el("th", { scope: "col", class: "number", text: "Of open time" })
            )
          ),
          el("tbody", {}, ...body)
        )
      );
    });
    $("top-lists").replaceChildren(...lists);
  }

  // A store's id in a table: opens the store; whole and copyable on demand.
  function storeIdView(storeId) {
    return idView(storeId, { noun: "store id", open: () => openStore(storeId), openLabel: "Show store " + storeId });
  }

  function storeButton(storeId) {
    return el("button", {
      type: "button",
      class: "link store-id",
      text: storeId,
      "aria-label": "Show store " + storeId,
      onclick: () => openStore(storeId),
    });
  }

  // --- finding a store ---------------------------------------------------------

  function search(event) {
    event.preventDefault();
    const query = $("search-input").value.trim();
    const results = $("search-results");
    results.replaceChildren();
    if (!query) return;
    if (state.storesById.has(query) || !state.stores.length) {
      openStore(query);
      return;
    }
    const lower = query.toLowerCase();
    const matches = state.stores.filter((store) => store.id.toLowerCase().includes(lower));
    if (!matches.length) {
      results.append(el("li", { class: "hint", text: "No store of this report has an id containing “" + query + "”." }));
      return;
    }
    if (matches.length === 1) {
      openStore(matches[0].id);
      return;
    }
    results.append(
      el("li", { class: "hint", text: matches.length + " stores match" + (matches.length > SEARCH_RESULTS ? "; the first " + SEARCH_RESULTS + ":" : ":") }),
      ...matches.slice(0, SEARCH_RESULTS).map((store) => el("li", {}, storeButton(store.id)))
    );
  }

  // --- one store in detail -----------------------------------------------------

  async function openStore(storeId) {
    showMessage("");
    let detail;
    try {
      detail = await apiJson("/stores/" + encodeURIComponent(storeId));
    } catch (error) {
      showMessage(error.status === 404 ? "No store has the id “" + storeId + "”." : "The store could not be read: " + error.message);
      return;
    }
    state.detail = detail;
    showStore(detail);
    loadStoreTrend(detail.store_id);
  }

  function showStore(detail) {
    const section = $("store-section");
    section.hidden = false;
    section.dataset.storeId = detail.store_id;
    $("store-heading").textContent = "Store " + detail.store_id;
    const nowText = localFormat("UTC", {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    }).format(new Date(micros(detail.now) / 1000));
    $("store-meta").textContent =
      "Timezone " + detail.timezone + ". Figures at " + nowText + ", the latest poll of any store; " +
      "they match a report made from the same data. " + detail.polls.length + (detail.polls.length === 1 ? " poll" : " polls") + " in the week.";
    for (const node of section.querySelectorAll("[data-figure]")) {
      node.textContent = Number(detail.figures[node.dataset.figure]).toFixed(2);
    }
    drawTimeline();
    listDownPeriods(detail);
    $("store-heading").focus();
    section.scrollIntoView({ block: "start" });
  }

  // The week split into pieces of one kind: up, down (open, by status), closed.
  function weekPieces(detail) {
    const week = span(detail.windows.week);
    const business = detail.business_hours.map(span);
    const status = detail.status.map((item) => Object.assign(span(item), { up: item.status === "active" }));
    const points = new Set([week.start, week.end]);
    for (const item of business.concat(status)) {
      for (const point of [item.start, item.end]) {
        if (point > week.start && point < week.end) points.add(point);
      }
    }
    const sorted = Array.from(points).sort((a, b) => a - b);
    const pieces = [];
    let b = 0;
    let s = 0;
    for (let i = 0; i + 1 < sorted.length; i++) {
      const start = sorted[i];
      while (b < business.length && business[b].end <= start) b++;
      let kind = "closed";
      if (b < business.length && business[b].start <= start) {
        while (s < status.length && status[s].end <= start) s++;
        kind = s < status.length && status[s].start <= start ? (status[s].up ? "up" : "down") : "unknown";
      }
      const last = pieces[pieces.length - 1];
      if (last && last.kind === kind) last.end = sorted[i + 1];
      else pieces.push({ start, end: sorted[i + 1], kind });
    }
    return { week, pieces };
  }

  function drawTimeline() {
    const detail = state.detail;
    if (!detail) return;
    const box = $("timeline");
    const { week, pieces } = weekPieces(detail);
    const zone = detail.timezone;
    const timeOf = localFormat(zone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const secondsOf = localFormat(zone, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    const dayOf = localFormat(zone, { weekday: "short", day: "numeric", month: "short" });
    const dayLabel = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" });
    const describe = (piece) =>
      KIND_WORDS[piece.kind] + ": " + dayOf.format(new Date(piece.start / 1000)) + " " + timeOf.format(new Date(piece.start / 1000)) +
      " – " + timeOf.format(new Date(piece.end / 1000)) + " (" + duration(piece.end - piece.start) + ")";

    const width = chartWidth(box, 800);
    const narrow = width < 560;
    const labelWidth = narrow ? 0 : 112;
    const plotLeft = labelWidth + 6;
    const plotWidth = width - plotLeft - 8;
    const rowHeight = 26;
    const labelAbove = narrow ? 18 : 0;
    const markSpace = 11;
    const rowGap = 10;
    const axisHeight = 20;
    const rowStride = labelAbove + markSpace + rowHeight + rowGap;
    const days = detail.days.map((day) => Object.assign(span(day), { date: day.date }));
    const height = axisHeight + days.length * rowStride;
    const polls = detail.polls.map((poll) => ({ at: micros(poll.at), active: poll.status === "active" })).sort((a, b) => a.at - b.at);
    const totals = { up: 0, down: 0, closed: 0 };
    for (const piece of pieces) if (piece.kind in totals) totals[piece.kind] += piece.end - piece.start;

    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width,
      height,
      role: "img",
      "aria-labelledby": "timeline-title",
    });
    chart.append(
      svg("title", {
        id: "timeline-title",
        text:
          "The week of store " + detail.store_id + " in its local time (" + zone + "): up " + duration(totals.up) +
          ", down " + duration(totals.down) + ", closed " + duration(totals.closed) + "; " + polls.length + " polls.",
      })
    );
    // Hour ticks: a local day is drawn 24 hours wide (23 or 25 on a DST change day).
    for (let hour = 0; hour <= 24; hour += narrow ? 6 : 3) {
      const x = plotLeft + (plotWidth * hour) / 24;
      chart.append(
        svg("line", { class: "grid", x1: x, x2: x, y1: axisHeight - 4, y2: height - rowGap }),
        svg("text", { class: "chart-muted", x, y: 13, "text-anchor": hour === 0 ? "start" : hour === 24 ? "end" : "middle", text: String(hour).padStart(2, "0") + ":00" })
      );
    }
    days.forEach((day, row) => {
      const rowTop = axisHeight + row * rowStride + labelAbove + markSpace;
      const x = (t) => plotLeft + (plotWidth * (t - day.start)) / (day.end - day.start);
      const group = svg("g", { "data-date": day.date });
      const label = dayLabel.format(new Date(day.date + "T12:00:00Z"));
      group.append(
        narrow
          ? svg("text", { class: "chart-text", x: plotLeft, y: rowTop - markSpace - 3, text: label })
          : svg("text", { class: "chart-text", x: labelWidth, y: rowTop + rowHeight / 2 + 4, "text-anchor": "end", text: label })
      );
      const inRow = [];
      if (day.start < week.start) inRow.push({ start: day.start, end: Math.min(day.end, week.start), kind: "outside" });
      for (const piece of pieces) {
        const start = Math.max(piece.start, day.start);
        const end = Math.min(piece.end, day.end);
        if (end > start) inRow.push({ start, end, kind: piece.kind, whole: piece });
      }
      if (day.end > week.end) inRow.push({ start: Math.max(day.start, week.end), end: day.end, kind: "outside" });
      for (const part of inRow) {
        const x1 = x(part.start);
        const partWidth = Math.max(0.5, x(part.end) - x1);
        const title = part.kind === "outside" ? "Outside the report's week" : describe(part.whole);
        group.append(
          svg("rect", { class: "seg seg-" + part.kind, "data-kind": part.kind, x: x1, y: rowTop, width: partWidth, height: rowHeight }, svgTitle(title))
        );
        const word = KIND_WORDS[part.kind];
        if (part.kind !== "outside" && partWidth > word.length * 8 + 10) {
          group.append(svg("text", { class: "seg-label " + part.kind, x: x1 + partWidth / 2, y: rowTop + rowHeight / 2 + 4, "text-anchor": "middle", text: word }));
        }
      }
      group.append(svg("rect", { class: "row-frame", x: plotLeft, y: rowTop, width: plotWidth, height: rowHeight }));
      if (week.end > day.start && week.end <= day.end) {
        const nowX = x(week.end);
        group.append(svg("line", { class: "now-line", x1: nowX, x2: nowX, y1: rowTop - 3, y2: rowTop + rowHeight + 3 }, svgTitle("Now: the latest poll of any store")));
      }
      const inDay = polls.filter((poll) => poll.at >= day.start && poll.at < day.end);
      for (const mark of pollMarks(inDay, x)) group.append(pollMark(mark, rowTop - 1, dayOf, timeOf, secondsOf));
      chart.append(group);
    });
    box.replaceChildren(chart);
    $("timeline-summary").textContent =
      "In the week: open " + duration(totals.up + totals.down) + ", of which up " + duration(totals.up) +
      " and down " + duration(totals.down) + "; closed " + duration(totals.closed) + ". Times are the store's local time (" + zone + ").";
  }

  // Polls of one row in marks: polls closer than MERGE_PX to the first poll
  // of a mark are drawn as that one mark, which says how many it stands for.
  function pollMarks(polls, x) {
    const marks = [];
    for (const poll of polls) {
      const px = x(poll.at);
      const last = marks[marks.length - 1];
      if (last && px - last.x0 < MERGE_PX) {
        last.polls.push(poll);
        last.x1 = px;
      } else {
        marks.push({ x0: px, x1: px, polls: [poll] });
      }
    }
    return marks;
  }

  function pollMark(mark, tip, dayOf, timeOf, secondsOf) {
    const px = (mark.x0 + mark.x1) / 2;
    const count = mark.polls.length;
    const online = mark.polls.filter((poll) => poll.active).length;
    const status = online === count ? "active" : online === 0 ? "inactive" : "mixed";
    const first = new Date(mark.polls[0].at / 1000);
    const last = new Date(mark.polls[count - 1].at / 1000);
    let title;
    if (count === 1) {
      title = "Poll at " + dayOf.format(first) + " " + timeOf.format(first) + ": " + (online ? "online" : "offline");
    } else {
      const parts = [];
      if (online) parts.push(online + " online");
      if (count - online) parts.push(count - online + " offline");
      title =
        count + " polls drawn as one mark, " + dayOf.format(first) + " " + secondsOf.format(first) + " – " + secondsOf.format(last) +
        ": " + parts.join(", ") + "; the latest " + (mark.polls[count - 1].active ? "online" : "offline");
    }
    const shape =
      status === "active"
        ? svg("path", { class: "poll-active", d: "M" + (px - 5) + " " + (tip - 9) + " H" + (px + 5) + " L" + px + " " + tip + " Z" })
        : status === "inactive"
          ? svg("path", { class: "poll-inactive", d: "M" + (px - 4) + " " + (tip - 9) + " L" + (px + 4) + " " + (tip - 1) + " M" + (px + 4) + " " + (tip - 9) + " L" + (px - 4) + " " + (tip - 1) })
          : svg("path", { class: "poll-mixed", d: "M" + px + " " + (tip - 11) + " L" + (px + 5.5) + " " + (tip - 5.5) + " L" + px + " " + tip + " L" + (px - 5.5) + " " + (tip - 5.5) + " Z" });
    const node = svg("g", { class: "poll", "data-status": status, "data-count": count, "data-first": mark.polls[0].at, "data-last": mark.polls[count - 1].at }, svgTitle(title), shape);
    if (count > 1) {
      node.append(svg("text", { class: "poll-count", x: px + 6.5, y: tip - 1, text: String(count) }));
    }
    return node;
  }

  function listDownPeriods(detail) {
    const { pieces } = weekPieces(detail);
    const zone = detail.timezone;
    const format = localFormat(zone, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const down = pieces.filter((piece) => piece.kind === "down");
    const list = $("down-periods");
    if (!down.length) {
      list.replaceChildren(el("li", { text: "None: the store was up whenever it was open." }));
      return;
    }
    const shown = down.slice(0, 50).map((piece) =>
      el("li", { text: format.format(new Date(piece.start / 1000)) + " – " + format.format(new Date(piece.end / 1000)) + " (" + duration(piece.end - piece.start) + ")" })
    );
    if (down.length > shown.length) shown.push(el("li", { class: "hint", text: "and " + (down.length - shown.length) + " more" }));
    list.replaceChildren(...shown);
  }

  function closeStore() {
    $("store-section").hidden = true;
    state.detail = null;
    state.storeTrend = null;
    storeTrendRequest++;
    $("search-input").focus();
  }


  // --- trends: a store's days, the fleet's days and the stores slipping most ------

  const utcDay = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric" });
  const utcWhen = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  function utcDate(text) {
    return new Date(micros(text) / 1000);
  }

  // "Jan 24, 18:13 – Jan 25, 18:13" (UTC)
  function windowText(item) {
    return utcWhen.format(utcDate(item.window_start_utc)) + " – " + utcWhen.format(utcDate(item.window_end_utc));
  }

  // Days of a trend, oldest first (day 1 is the latest).
  function chronological(days) {
    return days.slice().sort((a, b) => b.day - a.day);
  }

  function storeDayPercent(day) {
    return day.business_hours > 0 ? (100 * day.uptime_hours) / day.business_hours : null;
  }

  function fleetDayPercent(day) {
    return typeof day.uptime_percent === "number" ? day.uptime_percent : null;
  }

  function percentText(value, digits) {
    return value === null || value === undefined ? "–" : value.toFixed(digits) + "%";
  }

  // Days whose date is written under the axis: the latest, then every step
  // days back, as many as fit (a label needs about labelWidth pixels).
  function labelledDays(count, slot, labelWidth) {
    const step = [1, 2, 3, 7, 14, 28, 30, 60, 90].find((candidate) => candidate * slot >= labelWidth) || count;
    const shown = new Set();
    for (let i = count - 1; i >= 0; i -= step) shown.add(i);
    return shown;
  }

  function dayAxis(chart, days, options) {
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

  let storeTrendRequest = 0;

  async function loadStoreTrend(storeId) {
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

  function drawStoreTrend() {
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
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width,
      height,
      role: "img",
      "aria-labelledby": "store-trend-title",
      "data-days": days.length,
    });
    chart.append(svg("title", { id: "store-trend-title", text: "Daily uptime of store " + trend.store_id + ", % of business hours: " + storeTrendSummary(days) }));
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

  function trendDaysError(show) {
    const input = $("trend-days");
    $("trend-days-error").hidden = !show;
    if (show) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  async function triggerTrend(event) {
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

  function drawFleetTrend() {
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
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width,
      height,
      role: "img",
      "aria-labelledby": "fleet-trend-title",
      "data-days": days.length,
    });
    chart.append(svg("title", { id: "fleet-trend-title", text: "The fleet's daily uptime and the stores below 90% and 50%, over " + days.length + " days: " + fleetTrendSummary(days) }));
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

  // --- start ---------------------------------------------------------------------

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
})();
