// Store monitor's page: trigger a report, watch it, download it, look into it.
// Plain browser JavaScript and SVG; it talks only to this server's JSON API.
"use strict";

(function () {
  const TOKEN_KEY = "store-monitor.api-token";
  const POLL_INTERVAL_MS = 400;
  const RECENT_LIMIT = 10;
  const TOP_COUNT = 10;
  const SEARCH_RESULTS = 20;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const US_PER_MINUTE = 60e6;
  const US_PER_HOUR = 3600e6;
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

  function setProgress(value, text, kind) {
    const bar = $("progress");
    const rounded = Math.max(0, Math.min(100, Math.round(value)));
    bar.setAttribute("aria-valuenow", String(rounded));
    bar.setAttribute("aria-valuetext", text);
    bar.classList.toggle("done", kind === "done");
    bar.classList.toggle("failed", kind === "failed");
    $("progress-fill").style.width = rounded + "%";
    const line = $("progress-text");
    if (line.textContent !== text) line.textContent = text;
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
    const action =
      status === "Failed"
        ? null
        : el("button", {
            type: "button",
            class: "secondary",
            text: status === "Complete" ? "Show" : "Watch",
            "aria-label": (status === "Complete" ? "Show the report of " : "Watch the report of ") + created,
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
    drawHistogram();
    showTopLists(stores);
    $("summary-section").hidden = false;
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
    const width = Math.max(300, box.clientWidth || 600);
    const narrow = width < 520;
    const height = narrow ? 230 : 260;
    const left = 44;
    const right = 8;
    const top = 18;
    const bottom = narrow ? 62 : 44;
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
          el("td", { class: "store", title: store.id }, storeButton(store.id)),
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
    const dayOf = localFormat(zone, { weekday: "short", day: "numeric", month: "short" });
    const dayLabel = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" });
    const describe = (piece) =>
      KIND_WORDS[piece.kind] + ": " + dayOf.format(new Date(piece.start / 1000)) + " " + timeOf.format(new Date(piece.start / 1000)) +
      " – " + timeOf.format(new Date(piece.end / 1000)) + " (" + duration(piece.end - piece.start) + ")";

    const width = Math.max(300, box.clientWidth || 800);
    const narrow = width < 560;
    const labelWidth = narrow ? 0 : 104;
    const plotLeft = labelWidth + 6;
    const plotWidth = width - plotLeft - 8;
    const rowHeight = 26;
    const labelAbove = narrow ? 16 : 0;
    const markSpace = 11;
    const rowGap = 10;
    const axisHeight = 18;
    const rowStride = labelAbove + markSpace + rowHeight + rowGap;
    const days = detail.days.map((day) => Object.assign(span(day), { date: day.date }));
    const height = axisHeight + days.length * rowStride;
    const polls = detail.polls.map((poll) => ({ at: micros(poll.at), active: poll.status === "active" }));
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
        svg("text", { class: "chart-muted", x, y: 12, "text-anchor": hour === 0 ? "start" : hour === 24 ? "end" : "middle", text: String(hour).padStart(2, "0") + ":00" })
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
        if (part.kind !== "outside" && partWidth > word.length * 7 + 10) {
          group.append(svg("text", { class: "seg-label " + part.kind, x: x1 + partWidth / 2, y: rowTop + rowHeight / 2 + 4, "text-anchor": "middle", text: word }));
        }
      }
      group.append(svg("rect", { class: "row-frame", x: plotLeft, y: rowTop, width: plotWidth, height: rowHeight }));
      if (week.end > day.start && week.end <= day.end) {
        const nowX = x(week.end);
        group.append(svg("line", { class: "now-line", x1: nowX, x2: nowX, y1: rowTop - 3, y2: rowTop + rowHeight + 3 }, svgTitle("Now: the latest poll of any store")));
      }
      for (const poll of polls) {
        if (poll.at < day.start || poll.at >= day.end) continue;
        const px = x(poll.at);
        const tip = rowTop - 1;
        const when = dayOf.format(new Date(poll.at / 1000)) + " " + timeOf.format(new Date(poll.at / 1000));
        group.append(
          poll.active
            ? svg("path", { class: "poll poll-active", "data-status": "active", d: "M" + (px - 5) + " " + (tip - 9) + " H" + (px + 5) + " L" + px + " " + tip + " Z" }, svgTitle("Poll at " + when + ": online"))
            : svg("path", { class: "poll poll-inactive", "data-status": "inactive", d: "M" + (px - 4) + " " + (tip - 9) + " L" + (px + 4) + " " + (tip - 1) + " M" + (px + 4) + " " + (tip - 9) + " L" + (px - 4) + " " + (tip - 1) }, svgTitle("Poll at " + when + ": offline"))
        );
      }
      chart.append(group);
    });
    box.replaceChildren(chart);
    $("timeline-summary").textContent =
      "In the week: open " + duration(totals.up + totals.down) + ", of which up " + duration(totals.up) +
      " and down " + duration(totals.down) + "; closed " + duration(totals.closed) + ". Times are the store's local time (" + zone + ").";
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
    $("search-input").focus();
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
    });
  }

  function start() {
    $("trigger").addEventListener("click", triggerReport);
    $("refresh").addEventListener("click", refreshRecent);
    $("search-form").addEventListener("submit", search);
    $("store-close").addEventListener("click", closeStore);
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
