// vigil map wall (/wall): unattended, read-only, full screen.
//
// Cameras coloured by status, ward and zone outlines, live alert pins (pulse, fade by
// age), crowd-density heatmap from the latest samples, incident heatmap over the last
// hours, a ticker of the latest alerts, counters per ward; cycles through wards and
// zones. Every list kept here is bounded so the page can run for weeks.

import {
  config, t, el, kindLabel, formatTime, apiGet, rowsOf, startClock, notify,
  simulatedBadge, SEVERITY_COLOURS,
} from "./core.js";
import {
  createMap, loadAreas, CameraLayer, loadCameras, PinLayer, HeatLayer, heatPoints,
  addLegend, statusLegendRows, featureBounds, statusFromEvent, fitWatched,
} from "./map.js";
import { LiveFeed } from "./live.js";

const opts = config.wall || {};
const HOUR = 3600 * 1000;
const map = createMap("map", { interactive: false });
const cameras = new CameraLayer(map, { radius: 5 });
const pins = new PinLayer(map, {
  maxAgeMs: (opts.pin_max_age_min || 30) * 60 * 1000,
  limit: opts.pin_limit || 400,
});
const incidentHeat = new HeatLayer(map, {
  name: "incidents", radius: 26, blur: 22,
  gradient: { 0.3: "#3b1c6e", 0.55: "#b3257a", 0.8: "#ff6a3d", 1.0: "#ffe066" },
});
const crowdHeat = new HeatLayer(map, {
  name: "crowd", radius: 30, blur: 24,
  gradient: { 0.3: "#0b3d91", 0.6: "#00b3b3", 0.85: "#7cff6b", 1.0: "#f9ff8a" },
});

const wardNames = new Map();
// alerts in the incident window, counted per minute and ward: bounded by the window's
// minutes x wards however many alerts arrive
const alertMinutes = new Map(); // minute number -> Map(ward_id -> count)
const crowdByCamera = new Map();  // camera_id -> [lat, lon, value, ts ms]
let areas = null;
let feed = null;

startClock();

function countAlert(ev) {
  const minute = Math.floor(new Date(ev.ts).getTime() / 60000);
  let wards = alertMinutes.get(minute);
  if (!wards) alertMinutes.set(minute, (wards = new Map()));
  wards.set(ev.ward_id || "", (wards.get(ev.ward_id || "") || 0) + 1);
}

/** Alerts per ward within the incident window (older minutes are dropped). */
function alertCounts() {
  const cutoff = Math.floor((Date.now() - (opts.incident_hours || 6) * HOUR) / 60000);
  const totals = new Map();
  let all = 0;
  for (const [minute, wards] of alertMinutes) {
    if (minute < cutoff) { alertMinutes.delete(minute); continue; }
    for (const [ward, n] of wards) {
      totals.set(ward, (totals.get(ward) || 0) + n);
      all += n;
    }
  }
  return { totals, all };
}

function renderCounters() {
  const alerts = alertCounts();
  const all = cameras.counts();
  document.getElementById("kpi-online").textContent = `${all.online}/${all.total}`;
  document.getElementById("kpi-offline").textContent = String(all.offline);
  document.getElementById("kpi-tampered").textContent = String(all.tampered);
  document.getElementById("kpi-alerts").textContent = String(alerts.all);
  document.getElementById("kpi-alerts-label").textContent =
    t("Alerts, last {n} h", { n: opts.incident_hours || 6 });
  const body = document.getElementById("ward-counters");
  const rows = [...wardNames.entries()].map(([id, name]) => {
    const counts = cameras.counts((c) => c.ward_id === id);
    return { id, name, counts, alerts: alerts.totals.get(id) || 0 };
  }).filter((row) => row.counts.total || row.alerts);    // wards nothing watches: left out
  rows.sort((a, b) => b.alerts - a.alerts || a.name.localeCompare(b.name));
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const tr = el("tr");
    tr.dataset.wardId = row.id;
    tr.dataset.active = String(currentArea && currentArea.id === row.id);
    tr.appendChild(el("td", null, row.name));
    // red when more than one camera in ten is down
    const down = row.counts.offline + row.counts.tampered;
    const cams = el("td", down * 10 > row.counts.total ? "cams-off" : null,
      `${row.counts.online}/${row.counts.total}`);
    tr.appendChild(cams);
    tr.appendChild(el("td", row.alerts ? "alerts-hot" : null, row.alerts));
    fragment.appendChild(tr);
  }
  body.replaceChildren(fragment);
}

function addTicker(ev, fresh) {
  const list = document.getElementById("ticker");
  const item = el("li", fresh ? "fresh" : null);
  item.dataset.eventId = String(ev.id);
  const dot = el("span", "sev-dot");
  dot.style.setProperty("--sev", SEVERITY_COLOURS[ev.severity] || SEVERITY_COLOURS[0]);
  item.appendChild(dot);
  item.appendChild(el("time", null, formatTime(ev.ts)));
  item.appendChild(el("strong", null, kindLabel(ev.kind)));
  const camera = cameras.get(ev.camera_id);
  const where = [camera ? camera.name : ev.camera_id, wardNames.get(ev.ward_id)]
    .filter(Boolean).join(" · ");
  item.appendChild(el("span", "where", where));
  const badge = simulatedBadge(ev);
  if (badge) item.appendChild(badge);
  list.prepend(item);
  while (list.children.length > (opts.ticker_items || 12)) list.lastElementChild.remove();
}

function onEvent(ev, fresh = true) {
  if (ev.kind === "crowd_sample" || ev.kind === "crowd_density") {
    if (ev.value !== null && ev.value !== undefined) {
      crowdByCamera.set(ev.camera_id, [ev.lat, ev.lon, Number(ev.value), Date.now()]);
      crowdDirty = true;
    }
  }
  const status = statusFromEvent(ev);
  if (status) { cameras.setStatus(status); countersDirty = true; }
  if (!ev.is_alert) return;
  pins.add(ev, { fresh });
  if (fresh && ev.severity >= 3) showCritical(ev);
  addTicker(ev, fresh);
  countAlert(ev);
  countersDirty = true;
}

let crowdDirty = false;
let countersDirty = false;

function redrawCrowd() {
  const cutoff = Date.now() - (opts.crowd_minutes || 15) * 60 * 1000;
  for (const [id, sample] of crowdByCamera) if (sample[3] < cutoff) crowdByCamera.delete(id);
  crowdHeat.setPoints([...crowdByCamera.values()].map((s) => [s[0], s[1], s[2]]));
  crowdDirty = false;
}

async function loadHeatmaps() {
  try {
    const incidents = await apiGet("heatmap_incidents", { hours: opts.incident_hours || 6 });
    incidentHeat.setPoints(heatPoints(incidents, "n"));
  } catch (err) {
    notify(t("Incident heatmap unavailable: {reason}", { reason: err.message }), "error");
  }
}

async function loadCrowd() {
  try {
    const payload = await apiGet("heatmap_crowd", { minutes: opts.crowd_minutes || 15 });
    for (const ev of rowsOf(payload.samples)) {
      if (ev.value === null || ev.value === undefined) continue;
      crowdByCamera.set(ev.camera_id, [ev.lat, ev.lon, Number(ev.value),
        new Date(ev.ts).getTime()]);
    }
    redrawCrowd();
  } catch (err) {
    notify(t("Crowd heatmap unavailable: {reason}", { reason: err.message }), "error");
  }
}

async function loadRecentAlerts() {
  // newest first, keyset-paged: at most 5 pages of 1,000 alerts
  const since = new Date(Date.now() - (opts.incident_hours || 6) * HOUR).toISOString();
  let rows = [];
  let before = null;
  for (let page = 0; page < 5; page += 1) {
    const payload = await apiGet("events", { alerts_only: "true", since, limit: 1000, before });
    rows = rows.concat(rowsOf(payload));
    before = payload.next_before;
    if (!before) break;
  }
  rows.sort((a, b) => a.id - b.id);
  const pinCutoff = Date.now() - (opts.pin_max_age_min || 30) * 60 * 1000;
  for (const ev of rows) {
    if (feed && !feed.markSeen(ev.id)) continue;
    if (new Date(ev.ts).getTime() >= pinCutoff) pins.add(ev, { fresh: false });
    addTicker(ev, false);
    countAlert(ev);
  }
  return rows.length ? rows[rows.length - 1].id : null;
}

// -- idle cycle through wards and zones ------------------------------------------------

let currentArea = null;
let cycleIndex = -1;
let holdUntil = 0;    // the cycle waits while a critical alert is shown

/** Fly to a critical alert and name it; the idle cycle resumes after a while. */
function showCritical(ev) {
  holdUntil = Date.now() + (opts.critical_hold_s || 45) * 1000;
  const camera = cameras.get(ev.camera_id);
  document.getElementById("wall-area").textContent =
    `${kindLabel(ev.kind)} · ${camera ? camera.name : ev.camera_id}`;
  document.body.dataset.critical = String(ev.id);
  map.flyTo([ev.lat, ev.lon], Math.max(map.getZoom(), 16), { duration: 1.5 });
}

/**
 * Where the idle wall goes: every camera, then each ward and zone that has cameras (a
 * ward without any, an island 100 km out, is never shown on its own), so every site with
 * cameras gets its turn. A ward whose outline runs far beyond its cameras is framed on
 * its cameras. The list is also left on ``body[data-cycle]`` (JSON: id, name and
 * "west,south,east,north"), where tests read it without waiting for the turns.
 */
function cycleTargets() {
  if (!areas) return [];
  const watched = cameras.bounds();
  const targets = [{ id: null, name: t("All areas"), bounds: watched || areas.bounds }];
  const add = (f, watchedBy) => {
    const id = f.properties.id ?? f.id;
    const outline = featureBounds(f);
    const seen = cameras.bounds((c) => watchedBy(c, id, outline));
    if (!outline || !seen) return;
    const framed = seen.pad(0.15);
    const big = outline.getNorthEast().distanceTo(outline.getSouthWest())
      > 3 * Math.max(2000, framed.getNorthEast().distanceTo(framed.getSouthWest()));
    // the outline, grown to the cameras where one stands on its edge
    targets.push({ id, name: f.properties.name,
      bounds: big ? framed : outline.pad(0).extend(seen) });
  };
  for (const f of areas.wards) add(f, (c, id) => c.ward_id === id);
  for (const f of areas.zones) {
    add(f, (c, id, outline) => (Array.isArray(c.zone_ids) && c.zone_ids.length
      ? c.zone_ids.includes(id) : Boolean(outline && outline.contains([c.lat, c.lon]))));
  }
  const shown = targets.filter((target) => target.bounds && target.bounds.isValid());
  document.body.dataset.cycle = JSON.stringify(shown.map((target) => ({
    id: target.id, name: target.name, bounds: target.bounds.toBBoxString() })));
  return shown;
}

function nextArea() {
  if (Date.now() < holdUntil) return;
  const targets = cycleTargets();
  if (!targets.length) return;
  cycleIndex = (cycleIndex + 1) % targets.length;
  currentArea = targets[cycleIndex];
  document.getElementById("wall-area").textContent = currentArea.name;
  map.flyToBounds(currentArea.bounds, {
    paddingTopLeft: [40, 130], paddingBottomRight: [40, 40], duration: 2.5, maxZoom: 16,
  });
  renderCounters();
}

// -- start ---------------------------------------------------------------------------------

async function start() {
  const camerasLoaded = loadCameras(cameras).then(() => renderCounters());
  const areasLoaded = loadAreas(map, { fit: false }).then((loaded) => {
    areas = loaded;
    for (const f of loaded.wards) {
      wardNames.set(f.properties.id ?? f.id, f.properties.name);
    }
    const note = loaded.approximate
      ? t("Ward and zone boundaries are approximate.") : null;
    addLegend(map, t("Legend"), [
      ...statusLegendRows(),
      ["#5fa8ff", t("Ward boundary"), "line"],
      ["#6be39b", t("Tourist and critical zones"), "line"],
    ], note);
    renderCounters();
  });
  feed = new LiveFeed({
    event: (ev) => onEvent(ev, true),
    cameraStatus: (msg) => { cameras.setStatus(msg); countersDirty = true; },
    // more was missed than the server replays (a long outage): start again from the API
    resync: () => window.location.reload(),
  }, null);
  try {
    await Promise.all([camerasLoaded, areasLoaded]);
    // clear of the title box (top left) and the legend (bottom left)
    fitWatched(map, cameras, areas, { paddingTopLeft: [20, 130], paddingBottomRight: [20, 20] });
    cycleTargets();
  } catch (err) {
    notify(t("Could not load the map: {reason}", { reason: err.message }), "error");
  }
  document.body.dataset.ready = "true";
  performance.mark("vigil-wall-ready");
  try {
    await loadRecentAlerts();
  } catch (err) {
    notify(t("Could not load recent alerts: {reason}", { reason: err.message }), "error");
  }
  feed.subscribe();
  loadHeatmaps();
  loadCrowd();
  renderCounters();
  setInterval(() => { if (crowdDirty) redrawCrowd(); }, 5000);
  setInterval(() => { if (countersDirty) { countersDirty = false; renderCounters(); } }, 2000);
  setInterval(loadHeatmaps, (opts.refresh_s || 60) * 1000);
  setInterval(() => { countersDirty = true; }, 60 * 1000);
  setInterval(nextArea, (opts.cycle_s || 40) * 1000);
}

start();
