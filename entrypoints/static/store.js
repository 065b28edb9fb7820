// One store: finding it, its figures, its week drawn day by day, its down periods.

import { apiJson } from "./api.js";
import { chartRoot, chartWidth } from "./charts.js";
import { $, el, idView, showMessage, svg, svgTitle } from "./dom.js";
import { duration, localFormat, micros, span } from "./numbers.js";
import { state } from "./state.js";
import { forgetStoreTrend, loadStoreTrend } from "./store-trend.js";

const SEARCH_RESULTS = 20;

// Poll marks closer than this (in pixels) are drawn as one.
const MERGE_PX = 2;

const KIND_WORDS = { up: "Up", down: "Down", closed: "Closed", outside: "Outside the week", unknown: "No data" };

// A store's id in a table: opens the store; whole and copyable on demand.
export function storeIdView(storeId) {
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

export function search(event) {
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

export function drawTimeline() {
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

  const title =
    "The week of store " + detail.store_id + " in its local time (" + zone + "): up " + duration(totals.up) +
    ", down " + duration(totals.down) + ", closed " + duration(totals.closed) + "; " + polls.length + " polls.";
  const chart = chartRoot(width, height, "timeline-title", title);
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

export function closeStore() {
  $("store-section").hidden = true;
  state.detail = null;
  forgetStoreTrend();
  $("search-input").focus();
}
