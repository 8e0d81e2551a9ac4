// vigil commander (/): the map with filters, the shared alert list and camera detail.
//
// Acknowledge / assign / resolve go to the API; the server broadcasts ``alert_state``
// to every browser in scope, so all commanders see the same list. Each violation kind is
// its own layer (static/vigil/js/layers.js), and alerts merged into an incident across
// cameras show as one pin with a count instead of a pin each.

import {
  config, t, el, kindLabel, formatTime, formatDateTime, apiGet, apiPost, rowsOf,
  startClock, notify, isSimulated, simulatedBadge, SEVERITY_COLOURS, STATUS_COLOURS,
  formatNumber,
} from "./core.js";
import {
  createMap, loadAreas, CameraLayer, loadCameras, PinLayer, HeatLayer, heatPoints,
  addLegend, statusLegendRows, statusFromEvent, featureBounds, fitWatched,
} from "./map.js";
import { LiveFeed } from "./live.js";
import { exportEvents } from "./export.js";
import { LayerControl, ViolationLayers, IncidentLayer, VIOLATION_KINDS } from "./layers.js";

const HOUR = 3600 * 1000;
const LIST_LIMIT = 300;
const canAct = ((config.user && config.user.permissions) || []).includes("act");
const canSeeEvidence = ((config.user && config.user.permissions) || []).includes("evidence");

const map = createMap("map");
const cameras = new CameraLayer(map, { radius: 5, onSelect: (camera) => showCamera(camera) });
const pins = new PinLayer(map, {
  maxAgeMs: 7 * 24 * HOUR, limit: LIST_LIMIT,
  onSelect: (ev) => { selectAlert(ev.id); showCamera(cameras.get(ev.camera_id)); },
});
const heat = new HeatLayer(map, {
  name: "incidents", radius: 24, blur: 20,
  gradient: { 0.3: "#3b1c6e", 0.55: "#b3257a", 0.8: "#ff6a3d", 1.0: "#ffe066" },
});

const cameraName = (id) => { const c = cameras.get(id); return c ? c.name || id : id; };
const layerControl = new LayerControl(map, t("Map layers"));
const violations = new ViolationLayers(map, layerControl, {
  cameraName,
  onSelect: (ev) => { selectAlert(ev.id); showCamera(cameras.get(ev.camera_id)); },
});
const incidents = new IncidentLayer(map, layerControl, {
  canAct, cameraName, onChange: () => placePins(),
  onMember: (m) => { selectAlert(m.event_id); showCamera(cameras.get(m.camera_id)); },
});
const VIOLATION_SET = new Set(VIOLATION_KINDS);

const alerts = new Map();       // event id -> {ev, state, node}
const wardNames = new Map();
const zoneNames = new Map();
const areaBounds = new Map();   // ward or zone id -> Leaflet bounds
const form = document.getElementById("filters");
const list = document.getElementById("alert-list");
const template = document.getElementById("alert-item");
let feed = null;
let selectedCamera = null;

startClock();

// -- filters ------------------------------------------------------------------------------

function filters() {
  const data = new FormData(form);
  const hours = Number(data.get("window") || 24);
  return {
    ward: data.get("ward") || "",
    zone: data.get("zone") || "",
    kind: data.get("kind") || "",
    severity_min: data.get("severity_min") || "",
    status: data.get("status") || "",
    since: new Date(Date.now() - hours * HOUR).toISOString(),
  };
}

function matches(ev, state, f = filters()) {
  if (f.ward && ev.ward_id !== f.ward) return false;
  if (f.zone && ev.zone_id !== f.zone) return false;
  if (f.kind && ev.kind !== f.kind) return false;
  if (f.severity_min && ev.severity < Number(f.severity_min)) return false;
  if (new Date(ev.ts) < new Date(f.since)) return false;
  const status = (state && state.status) || "new";
  if (f.status === "open" && status === "resolved") return false;
  if (f.status && f.status !== "open" && f.status !== status) return false;
  return true;
}

function fillSelect(select, entries) {
  for (const [value, label] of entries) {
    const option = el("option", null, label);
    option.value = value;
    select.appendChild(option);
  }
}

// -- the alert list -------------------------------------------------------------------------

/** {ev, state} from an API event (its ``alert`` is the state, null while new). */
function alertOf(row) {
  return { ev: row, state: row.alert || null };
}

function renderState(entry) {
  const node = entry.node;
  const status = (entry.state && entry.state.status) || "new";
  node.dataset.status = status;
  const badge = node.querySelector(".alert-state");
  badge.dataset.status = status;
  badge.textContent = t(STATUS_LABELS[status] || status);
  const who = entry.state && entry.state.assignee;
  const by = entry.state && entry.state.updated_by;
  const parts = [];
  if (who) parts.push(t("Assigned to {name}", { name: who }));
  if (by && entry.state.updated_at) {
    parts.push(t("{name} at {time}", { name: by, time: formatTime(entry.state.updated_at) }));
  }
  node.querySelector(".alert-assignee").textContent = parts.join(" · ");
  node.querySelector('[data-action="acknowledge"]').disabled = status !== "new";
  node.querySelector('[data-action="resolve"]').disabled = status === "resolved";
}

const STATUS_LABELS = {
  new: "New", acknowledged: "Acknowledged", assigned: "Assigned", resolved: "Resolved",
};

function addAlert(ev, state, fresh) {
  if (alerts.has(ev.id)) return;
  const node = template.content.firstElementChild.cloneNode(true);
  node.dataset.eventId = String(ev.id);
  node.dataset.canAct = String(canAct);
  node.style.setProperty("--sev", SEVERITY_COLOURS[ev.severity] || SEVERITY_COLOURS[0]);
  node.querySelector(".sev-dot").style.setProperty("--sev", SEVERITY_COLOURS[ev.severity]);
  node.querySelector(".alert-kind").textContent = kindLabel(ev.kind);
  node.querySelector(".sim-badge").hidden = !isSimulated(ev);
  node.querySelector(".alert-time").textContent = formatDateTime(ev.ts);
  const camera = cameras.get(ev.camera_id);
  node.querySelector(".alert-camera").textContent = camera ? camera.name : ev.camera_id;
  node.querySelector(".alert-ward").textContent =
    [wardNames.get(ev.ward_id), zoneNames.get(ev.zone_id)].filter(Boolean).join(" / ");
  if (fresh) node.classList.add("fresh");
  const entry = { ev, state, node };
  alerts.set(ev.id, entry);
  renderState(entry);
  // newest first: live alerts have the largest ids
  let before = null;
  for (const child of list.children) {
    if (Number(child.dataset.eventId) < ev.id) { before = child; break; }
  }
  list.insertBefore(node, before);
  if (!drawnElsewhere(ev)) pins.add(ev, { fresh });
  while (list.children.length > LIST_LIMIT) {
    const last = list.lastElementChild;
    alerts.delete(Number(last.dataset.eventId));
    pins.remove(Number(last.dataset.eventId));
    last.remove();
  }
  updateCount();
}

function removeAlert(id) {
  const entry = alerts.get(id);
  if (!entry) return;
  entry.node.remove();
  pins.remove(id);
  alerts.delete(id);
  updateCount();
}

/** The header: how many alerts match the filters on the server (in the user's scope),
 * and, when the list holds fewer (it keeps the newest LIST_LIMIT), a note saying so. */
function updateCount() {
  const shown = alerts.size;
  const total = matchCount === null ? shown : Math.max(matchCount, shown);
  document.getElementById("alert-count").textContent = `(${formatNumber(total)})`;
  const note = document.getElementById("alert-list-note");
  note.hidden = total <= shown;
  note.textContent = note.hidden ? "" : t("The list shows the newest {shown} of {total}.",
    { shown: formatNumber(shown), total: formatNumber(total) });
  document.body.dataset.alerts = String(shown);
  document.body.dataset.alertTotal = String(total);
}

let matchCount = null;          // alerts matching the filters on the server; null: unknown
let countTimer = null;

/** The list's query: the filters, "open" as its three statuses. */
function listQuery() {
  const query = { ...filters() };
  if (query.status === "open") query.status = ["new", "acknowledged", "assigned"];
  return query;
}

/** Ask the server how many alerts match the filters (a list reload, live changes). */
async function loadCount() {
  try {
    matchCount = (await apiGet("alert_count", listQuery())).count;
  } catch (err) {
    matchCount = null;            // the header falls back to the list's length
  }
  updateCount();
}

/** Live alerts and state changes: recount a moment later (at most every 2 s). */
function countSoon() {
  if (countTimer) return;
  countTimer = setTimeout(() => { countTimer = null; loadCount(); }, 2000);
}

/** Violations are drawn on their kind's layer, merged alerts as their incident's pin. */
function drawnElsewhere(ev) {
  return VIOLATION_SET.has(ev.kind) || incidents.covers(ev.id);
}

/** One pin per listed alert, except those drawn on a layer of their own. */
function placePins() {
  for (const [id, entry] of alerts) {
    if (drawnElsewhere(entry.ev)) pins.remove(id); else pins.add(entry.ev, { fresh: false });
  }
}

function selectAlert(id) {
  for (const node of list.querySelectorAll(".alert-item[aria-selected]")) {
    node.removeAttribute("aria-selected");
  }
  const entry = alerts.get(id);
  if (entry) {
    entry.node.setAttribute("aria-selected", "true");
    entry.node.scrollIntoView({ block: "nearest" });
  }
}

async function loadAlerts() {
  const query = listQuery();
  const [payload] = await Promise.all([
    apiGet("events", { ...query, alerts_only: "true", limit: LIST_LIMIT }), loadCount()]);
  list.replaceChildren();
  alerts.clear();
  pins.clear();
  const rows = rowsOf(payload).map(alertOf).sort((a, b) => b.ev.id - a.ev.id);
  for (const { ev, state } of rows.reverse()) {
    if (feed && !feed.started) feed.markSeen(ev.id);   // later reloads: the stream decides
    addAlert(ev, state, false);
  }
  updateCount();
}

/** Violation layers and incidents with the current filters. */
async function loadLayers() {
  const f = filters();
  const jobs = [
    violations.load({ since: f.since, ward: f.ward, zone: f.zone,
      severity_min: f.severity_min }, f.kind)
      .catch((err) => notify(t("Violation layers unavailable: {reason}",
        { reason: err.message }), "error")),
    incidents.load({ since: f.since }, (p) => (!f.ward || p.ward_id === f.ward)
      && (!f.kind || (p.members || []).some((m) => m.kind === f.kind)))
      .catch((err) => notify(t("Incidents unavailable: {reason}",
        { reason: err.message }), "error")),
  ];
  await Promise.all(jobs);
}

let incidentTimer = null;

/** New alerts may join incidents: reload them a moment later (at most every 3 s). */
function incidentsSoon() {
  if (incidentTimer) return;
  incidentTimer = setTimeout(() => {
    incidentTimer = null;
    const f = filters();
    incidents.load({ since: f.since }, (p) => (!f.ward || p.ward_id === f.ward)
      && (!f.kind || (p.members || []).some((m) => m.kind === f.kind))).catch(() => {});
  }, 3000);
}

async function loadHeat() {
  const f = filters();
  try {
    const payload = await apiGet("heatmap_incidents", {
      since: f.since, ward: f.ward, kind: f.kind,
    });
    heat.setPoints(heatPoints(payload, "n"));
  } catch (err) {
    notify(t("Incident heatmap unavailable: {reason}", { reason: err.message }), "error");
  }
}

async function act(id, action, assignee) {
  const body = assignee ? { assignee } : {};
  try {
    applyState(await apiPost("alert_action", { event_id: id, action }, body));
    countSoon();
  } catch (err) {
    notify(t("Could not save: {reason}", { reason: err.message }), "error");
  }
}

function applyState(state) {
  if (!state || state.event_id === undefined) return;
  const entry = alerts.get(state.event_id);
  if (!entry) return;
  entry.state = state;
  renderState(entry);
  if (!matches(entry.ev, state)) {
    if (matchCount !== null) matchCount -= 1;
    removeAlert(state.event_id);
  }
}

/** A state change from anyone: the list's entry (if listed), then the header's count. */
function onAlertState(state) {
  applyState(state);
  countSoon();
}

list.addEventListener("click", (e) => {
  const item = e.target.closest(".alert-item");
  if (!item) return;
  const id = Number(item.dataset.eventId);
  const button = e.target.closest("button[data-action]");
  if (button) {
    const action = button.dataset.action;
    const input = item.querySelector(".assign-to");
    if (action === "assign" && !input.value.trim()) {
      input.focus();
      notify(t("Type who to assign the alert to."));
      return;
    }
    act(id, action, action === "assign" ? input.value.trim() : null);
    return;
  }
  if (e.target.closest("input")) return;
  const entry = alerts.get(id);
  if (!entry) return;
  selectAlert(id);
  map.flyTo([entry.ev.lat, entry.ev.lon], Math.max(map.getZoom(), 15), { duration: 0.8 });
  showCamera(cameras.get(entry.ev.camera_id));
});

// -- camera detail --------------------------------------------------------------------------

async function showCamera(camera) {
  if (!camera) return;
  selectedCamera = camera.id;
  const panel = document.getElementById("camera-detail");
  if (panel.hidden) {
    panel.hidden = false;
    setTimeout(() => map.invalidateSize(), 0);
  }
  document.getElementById("detail-name").textContent = camera.name || camera.id;
  document.getElementById("detail-id").textContent = camera.id;
  document.getElementById("detail-kind").textContent = camera.kind || "";
  const status = document.getElementById("detail-status");
  status.textContent = t(STATUS_NAMES[camera.status] || "Unknown");
  status.style.setProperty("--status", STATUS_COLOURS[camera.status] || STATUS_COLOURS.unknown);
  const image = document.getElementById("detail-image");
  const caption = document.getElementById("detail-caption");
  const timeline = document.getElementById("detail-timeline");
  timeline.replaceChildren(el("li", "empty", t("Loading…")));
  try {
    const detail = await apiGet("camera", { camera_id: camera.id, limit: 50 });
    if (selectedCamera !== camera.id) return;
    const events = (detail.timeline || []).slice().sort((a, b) => b.id - a.id);
    timeline.replaceChildren();
    for (const ev of events) {
      const li = el("li");
      const dot = el("span", "sev-dot");
      dot.style.setProperty("--sev", SEVERITY_COLOURS[ev.severity] || SEVERITY_COLOURS[0]);
      li.appendChild(dot);
      li.appendChild(el("time", null, formatDateTime(ev.ts)));
      li.appendChild(el("span", null, kindLabel(ev.kind)));
      const badge = simulatedBadge(ev);
      if (badge) li.appendChild(badge);
      timeline.appendChild(li);
    }
    if (!events.length) timeline.appendChild(el("li", "empty", t("No events in this period")));
    const latest = detail.latest_evidence;
    if (latest && latest.url && canSeeEvidence) {
      image.src = latest.url;
      image.hidden = false;
      caption.textContent = t("{kind} at {time}", {
        kind: kindLabel(latest.kind), time: formatDateTime(latest.ts) });
    } else {
      image.hidden = true;
      image.removeAttribute("src");
      caption.textContent = canSeeEvidence ? t("No evidence image yet")
        : t("Your role may not view evidence images");
    }
  } catch (err) {
    timeline.replaceChildren(el("li", "empty", err.message));
  }
}

const STATUS_NAMES = {
  online: "Online", offline: "Offline", tampered: "Tampered", unknown: "Unknown",
  disabled: "Disabled",
};

document.getElementById("detail-close").addEventListener("click", () => {
  document.getElementById("camera-detail").hidden = true;
  selectedCamera = null;
  setTimeout(() => map.invalidateSize(), 0);
});

// -- live -----------------------------------------------------------------------------------

function onEvent(ev) {
  const status = statusFromEvent(ev);
  if (status) cameras.setStatus(status);
  if (!ev.is_alert) return;
  if (matches(ev, null)) {
    addAlert(ev, null, true);
    if (VIOLATION_SET.has(ev.kind)) violations.add(ev);
    if (matchCount !== null) matchCount += 1;
    updateCount();
    countSoon();
  }
  incidentsSoon();
  if (selectedCamera === ev.camera_id) showCamera(cameras.get(ev.camera_id));
}

async function reload() {
  try {
    await loadAlerts();
  } catch (err) {
    notify(t("Could not load alerts: {reason}", { reason: err.message }), "error");
  }
  loadHeat();
  await loadLayers();
}

async function start() {
  let loadedAreas = null;
  const areasLoaded = loadAreas(map, { fit: false }).then((areas) => {
    loadedAreas = areas;
    for (const f of areas.wards) wardNames.set(f.properties.id ?? f.id, f.properties.name);
    for (const f of areas.zones) zoneNames.set(f.properties.id ?? f.id, f.properties.name);
    for (const f of [...areas.wards, ...areas.zones]) {
      const bounds = featureBounds(f);
      if (bounds) areaBounds.set(f.properties.id ?? f.id, bounds);
    }
    fillSelect(document.getElementById("f-ward"), [...wardNames.entries()]);
    fillSelect(document.getElementById("f-zone"), [...zoneNames.entries()]);
    addLegend(map, t("Legend"), statusLegendRows(),
      areas.approximate ? t("Ward and zone boundaries are approximate.") : null);
  });
  fillSelect(document.getElementById("f-kind"), Object.entries(config.kinds || {})
    .filter(([, k]) => k.is_alert).map(([code, k]) => [code, k.label])
    .sort((a, b) => a[1].localeCompare(b[1])));
  feed = new LiveFeed({
    event: onEvent,
    alertState: onAlertState,
    cameraStatus: (msg) => cameras.setStatus(msg),
    resync: reload,
  }, null);
  try {
    await Promise.all([loadCameras(cameras), areasLoaded]);
    fitWatched(map, cameras, loadedAreas);
  } catch (err) {
    notify(t("Could not load the map: {reason}", { reason: err.message }), "error");
  }
  await reload();
  feed.subscribe();
  document.body.dataset.ready = "true";
  form.addEventListener("change", (e) => {
    const bounds = areaBounds.get(e.target.value);
    if ((e.target.name === "ward" || e.target.name === "zone") && bounds) {
      map.flyToBounds(bounds, { padding: [30, 30], duration: 0.8 });
    }
    reload();
  });
  for (const button of document.querySelectorAll(".cmd-export button")) {
    button.addEventListener("click", () => exportEvents(button.dataset.format, filters()));
  }
  document.getElementById("t-heat").addEventListener("change", (e) => {
    if (e.target.checked) heat.show(); else heat.hide();
  });
  setInterval(loadHeat, 60 * 1000);
  setInterval(incidentsSoon, 60 * 1000);
}

start();
