// Times, numbers and the report's CSV.

const US_PER_MINUTE = 60e6;

// A report writes an id starting with one of these after a "'" (so that a
// spreadsheet does not run it as a formula); the real id has no "'".
const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"];

// "2024-10-03T12:00:00.123456Z" -> microseconds since the epoch (exact below 2**53).
export function micros(text) {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(text);
  if (!match) return Date.parse(text) * 1000;
  return Date.parse(match[1] + "Z") * 1000 + Number((match[2] || "").padEnd(6, "0"));
}

export function span(item) {
  return { start: micros(item.start), end: micros(item.end) };
}

export function localFormat(timeZone, options) {
  try {
    return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone }, options));
  } catch (error) {
    // A zone the browser does not know: show UTC, and say so.
    return new Intl.DateTimeFormat(undefined, Object.assign({}, options, { timeZone: "UTC", timeZoneName: "short" }));
  }
}

export const whenFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export const countFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function duration(us) {
  const minutes = Math.round(us / US_PER_MINUTE);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (!hours) return rest + " min";
  return rest ? hours + " h " + rest + " min" : hours + " h";
}

export function percent(part, whole) {
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

export function readReport(text) {
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

export const utcDay = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric" });
export const utcWhen = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
export const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function utcDate(text) {
  return new Date(micros(text) / 1000);
}

// "Jan 24, 18:13 – Jan 25, 18:13" (UTC)
export function windowText(item) {
  return utcWhen.format(utcDate(item.window_start_utc)) + " – " + utcWhen.format(utcDate(item.window_end_utc));
}

// Days of a trend, oldest first (day 1 is the latest).
export function chronological(days) {
  return days.slice().sort((a, b) => b.day - a.day);
}

export function percentText(value, digits) {
  return value === null || value === undefined ? "–" : value.toFixed(digits) + "%";
}
