// One complete report: totals, histogram, the stores with the most downtime.

import { chartRoot, chartWidth, niceStep } from "./charts.js";
import { $, el, svg, svgTitle } from "./dom.js";
import { countFormat, percent, readReport } from "./numbers.js";
import { state } from "./state.js";
import { storeIdView } from "./store.js";

const TOP_COUNT = 10;

const WINDOWS = [
  { key: "Hour", title: "Last hour", unit: "min" },
  { key: "Day", title: "Last day", unit: "h" },
  { key: "Week", title: "Last week", unit: "h" },
];

export function showReport(reportId, csvText) {
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

export function drawHistogram() {
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
  const title =
    "Stores by weekly uptime: " +
    counts.map((count, i) => BIN_LABELS[i] + "%: " + count).join(", ") +
    " (the 100% bar, in green: the stores up for all of their business hours)" +
    (closedAllWeek ? "; " + closedAllWeek + " stores had no business hours in the week" : "");
  const chart = chartRoot(width, height, "histogram-title", title, { "data-total": total });
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
