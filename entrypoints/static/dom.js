// Building the page: elements, SVG, long ids, messages, progress bars.

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

// --- DOM helpers ---------------------------------------------------------

export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function svg(tag, attributes, ...children) {
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

export function svgTitle(text) {
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
export function idView(id, options) {
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

export function showMessage(text) {
  const message = $("message");
  message.textContent = text;
  message.hidden = !text;
}

export function setBar(ids, value, text, kind) {
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

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
