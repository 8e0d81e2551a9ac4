// vigil pages: configuration, catalogue, time formatting and the REST client.
//
// The page template puts one JSON block (#vigil-config) into every page: the locale,
// the time zone, the translated strings for this script (from the Babel catalogue),
// event kinds with their labels, and the URLs of the API. Nothing here reaches
// beyond the server that served the page.

const configNode = document.getElementById("vigil-config");

/** The page's configuration (see webapp/views.py: page_config). */
export const config = JSON.parse(configNode ? configNode.textContent : "{}");

const strings = config.strings || {};

/** Translate an English message (the catalogue's msgid) into the page's language. */
export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  if (params) {
    for (const [name, value] of Object.entries(params)) {
      text = text.split("{" + name + "}").join(String(value));
    }
  }
  return text;
}

/** The label of an event kind in the page's language. */
export function kindLabel(code) {
  const kind = (config.kinds || {})[code];
  return kind ? kind.label : code;
}

/** Whether an event came from the demo's event simulator (never a real camera). */
export function isSimulated(ev) {
  return Boolean(ev && ev.attributes && ev.attributes.simulated);
}

/** A small "simulated" badge for lists, or null for real events. */
export function simulatedBadge(ev) {
  return isSimulated(ev) ? el("span", "sim-badge", t("Simulated")) : null;
}

/** Whether events of this kind are alerts (shown as pins and in the alert list). */
export function isAlertKind(code) {
  const kind = (config.kinds || {})[code];
  return kind ? kind.is_alert : false;
}

export const SEVERITY_NAMES = ["info", "low", "high", "critical"];

/** Colour of a severity (0..3), shared by pins, list badges and the legend. */
export const SEVERITY_COLOURS = ["#4ea8de", "#f4d35e", "#ff8c42", "#ff3b47"];

/** Colour of a camera status. */
export const STATUS_COLOURS = {
  online: "#2ee59d",
  offline: "#8a94a6",
  tampered: "#ff3bd4",
  unknown: "#4a5568",
  disabled: "#2d3748",
};

const zone = config.timezone || "Asia/Ho_Chi_Minh";
const locale = config.locale === "en" ? "en-GB" : "vi-VN";
const timeFormat = new Intl.DateTimeFormat(locale, {
  timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: zone, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hourCycle: "h23",
});
// "21/11 14:03:07" in both languages (day first, 24 h), whatever the browser's locale.
const dateTimeFormat = {
  format(date) {
    const p = Object.fromEntries(partsFormat.formatToParts(date).map((x) => [x.type, x.value]));
    return `${p.day}/${p.month} ${p.hour}:${p.minute}:${p.second}`;
  },
};
const dayFormat = new Intl.DateTimeFormat(locale, {
  timeZone: zone, day: "2-digit", month: "2-digit", year: "numeric",
});

/** "14:03:07" in the command centre's time zone. */
/** A count in the page's language ("1.599" in Vietnamese, "1,599" in English). */
export function formatNumber(n) {
  return n.toLocaleString(config.locale === "en" ? "en-GB" : "vi-VN");
}

export function formatTime(value) {
  return timeFormat.format(new Date(value));
}

/** "21/11 14:03:07" in the command centre's time zone. */
export function formatDateTime(value) {
  return dateTimeFormat.format(new Date(value));
}

/** "21/11/2026" in the command centre's time zone. */
export function formatDay(value) {
  return dayFormat.format(new Date(value));
}

/** "3 min ago" style age of an ISO timestamp. */
export function formatAge(value, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - new Date(value).getTime()) / 1000));
  if (seconds < 60) return t("{n} s ago", { n: seconds });
  if (seconds < 3600) return t("{n} min ago", { n: Math.floor(seconds / 60) });
  return t("{n} h ago", { n: Math.floor(seconds / 3600) });
}

/** Keep a live clock in every element with [data-clock]. */
export function startClock() {
  const nodes = document.querySelectorAll("[data-clock]");
  if (!nodes.length) return;
  const tick = () => {
    const text = dateTimeFormat.format(new Date());
    nodes.forEach((node) => { node.textContent = text; });
  };
  tick();
  setInterval(tick, 1000);
}

/** Create an element with a class and text (text is never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** An API failure with the server's message. */
export class ApiError extends Error {
  constructor(status, message, detail = null) {
    super(message);
    this.status = status;
    this.detail = detail;   // the server's own words (English, for the logs), if any
  }
}

/** What went wrong, in the page's language: the API's messages are English (for API
 * clients), so a person reads the reason for the status, with the server's words only
 * where they name the bad value (400, 422). */
export function reasonFor(status, serverMessage) {
  if (status === 0) return t("the server cannot be reached; check the connection and try again");
  if (status === 400 || status === 422) {
    return t("the request was refused: {detail}", { detail: serverMessage });
  }
  const reasons = {
    401: "your session has ended; sign in again",
    403: "your role or wards do not allow this",
    404: "it no longer exists (removed meanwhile?)",
    409: "someone else changed it meanwhile; reload and try again",
    413: "what was sent is too large",
    429: "too many requests; wait a moment and try again",
  };
  if (reasons[status]) return t(reasons[status]);
  if (status >= 500) return t("the server or its database is not answering; try again in a moment");
  return t("the server answered {status}", { status });
}

function apiUrl(name, params) {
  const template = (config.api || {})[name];
  if (!template) throw new Error("vigil: no API URL for " + name);
  let path = template;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (path.includes("{" + key + "}")) {
      path = path.replace("{" + key + "}", encodeURIComponent(value));
    } else if (Array.isArray(value)) {
      value.forEach((item) => query.append(key, item));
    } else {
      query.set(key, value);
    }
  }
  const search = query.toString();
  return search ? path + "?" + search : path;
}

// -- idle sign-out -----------------------------------------------------------------
//
// A user's session ends after the server's idle limit without *user* activity. The
// pages' own polls and session checks are marked as background requests
// (X-Vigil-Background: 1) and do not keep the session alive; navigation, POSTs and
// clicks or keys on the page do: the first activity after a quiet spell is reported at
// once, then at most once a minute (a plain GET of the session). When the server says
// the session is gone (401, or no user), the page goes to the sign-in page, which says
// why. The map wall's kiosk session has no idle limit; a revoked one ends the same way.

const BACKGROUND_HEADER = "X-Vigil-Background";
const REPORT_EVERY_MS = 60 * 1000;
const session = {
  idleMs: null,        // the server's idle limit (null: none), from GET /api/v1/session
  lastReport: Date.now(),   // loading the page was activity
  reportTimer: null,
  checkTimer: null,
  leaving: false,
};

/** Go to the sign-in page (once), coming back here afterwards. */
function signInAgain() {
  if (session.leaving) return;
  session.leaving = true;
  const next = window.location.pathname + window.location.search;
  window.location.assign("/login?next=" + encodeURIComponent(next));
}

function reportEveryMs() {
  return session.idleMs ? Math.min(REPORT_EVERY_MS, session.idleMs / 4) : REPORT_EVERY_MS;
}

/** Ask the server about this session: a background check, or (activity) a report. */
async function checkSession(activity) {
  const options = { headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (!activity) options.headers[BACKGROUND_HEADER] = "1";
  let payload;
  try {
    const response = await fetch(apiUrl("session"), options);
    if (!response.ok) return;
    payload = await response.json();
  } catch (err) {
    return;              // server away (restarting): the next check tries again
  }
  if (!payload.user) {
    signInAgain();
    return;
  }
  session.idleMs = payload.idle_s ? payload.idle_s * 1000 : null;
}

function scheduleCheck() {
  // Check a little more often than the idle limit, at least once a minute.
  const every = session.idleMs ? Math.max(1000, Math.min(60 * 1000, session.idleMs / 3))
    : 60 * 1000;
  session.checkTimer = setTimeout(async () => {
    await checkSession(false);
    if (!session.leaving) scheduleCheck();
  }, every);
}

function noteActivity() {
  if (session.reportTimer !== null || session.leaving) return;
  const wait = Math.max(0, session.lastReport + reportEveryMs() - Date.now());
  session.reportTimer = setTimeout(() => {
    session.reportTimer = null;
    session.lastReport = Date.now();
    checkSession(true);
  }, wait);
}

/** Watch the session of a signed-in page (started once, when core.js loads). */
function watchSession() {
  if (!config.user || !(config.api || {}).session) return;
  for (const type of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    document.addEventListener(type, noteActivity, { capture: true, passive: true });
  }
  checkSession(false).then(() => { if (!session.leaving) scheduleCheck(); });
}

watchSession();

async function request(method, name, params, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method === "GET") options.headers[BACKGROUND_HEADER] = "1";   // polls, not activity
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
    if (config.csrf_token) options.headers["X-CSRF-Token"] = config.csrf_token;
  }
  let response;
  try {
    response = await fetch(apiUrl(name, params), options);
  } catch (err) {                                  // no answer at all: network, server down
    throw new ApiError(0, reasonFor(0, null), String(err));
  }
  if (response.status === 401 && config.user) signInAgain();
  let payload = null;
  try {
    payload = await response.json();
  } catch (err) {
    payload = null;
  }
  if (!response.ok) {
    const error = payload && payload.error;
    const detail = (error && (error.message || error)) || response.statusText;
    throw new ApiError(response.status, reasonFor(response.status, detail), detail);
  }
  return payload;
}

/** GET one of the API URLs named in the page configuration (a background request: it
 * does not keep an idle session alive; what the user does is reported separately). */
export function apiGet(name, params) {
  return request("GET", name, params);
}

/** POST JSON to one of the API URLs named in the page configuration. */
export function apiPost(name, params, body) {
  return request("POST", name, params, body);
}

/** The rows of a list answer, whatever envelope the API uses (items, features, rows). */
export function rowsOf(payload) {
  if (!payload) return [];
  if (Array.isArray(payload)) return payload;
  for (const key of ["items", "events", "cells", "features", "rows", "data", "series"]) {
    if (Array.isArray(payload[key])) return payload[key];
  }
  return [];
}

/** Show a short message in the page's status line (and the console for the record). */
export function notify(message, level = "info") {
  const bar = document.getElementById("vigil-notice");
  if (level === "error") console.warn("vigil:", message);
  if (!bar) return;
  bar.textContent = message;
  bar.dataset.level = level;
  bar.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { bar.hidden = true; }, 6000);
}
