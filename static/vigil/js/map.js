// vigil pages: the Leaflet map shared by the wall, the commander and the planner.
//
// Basemap tiles come from the server (/tiles, MBTiles zoom 0–6 offline); beyond the
// tiles' zoom the ward and zone outlines (vector) keep the viewer oriented. Cameras are
// canvas circle markers (2,300 of them draw in one canvas), alert pins are DOM markers
// that pulse when they arrive and fade with age; pins at one place are one pin with a
// count that opens a list of them (PinStacks).

import {
  config, t, el, kindLabel, formatTime, formatDateTime, formatAge, apiGet, rowsOf,
  SEVERITY_COLOURS, SEVERITY_NAMES, STATUS_COLOURS,
} from "./core.js";

const L = window.L;

/** Create the map in ``container`` with the offline basemap and vigil's panes. */
export function createMap(container, options = {}) {
  const map = L.map(container, {
    preferCanvas: true,
    zoomControl: options.interactive !== false,
    attributionControl: true,
    dragging: options.interactive !== false,
    scrollWheelZoom: options.interactive !== false,
    doubleClickZoom: options.interactive !== false,
    boxZoom: options.interactive !== false,
    keyboard: options.interactive !== false,
    touchZoom: options.interactive !== false,
    minZoom: 3,
    maxZoom: 19,
    zoomSnap: 0.25,
    fadeAnimation: false,
  });
  map.attributionControl.setPrefix(false);
  const tiles = config.tiles || {};
  if (tiles.url) {
    L.tileLayer(tiles.url, {
      maxNativeZoom: tiles.max_native_zoom ?? 6,
      minZoom: tiles.min_zoom ?? 0,
      // Raster beyond a few levels of over-zoom is a blur: there the vector wards and
      // zones orient the viewer on a plain dark ground.
      maxZoom: (tiles.max_native_zoom ?? 6) + 2,
      attribution: tiles.attribution || "",
      className: "vigil-basemap",
    }).addTo(map);
  }
  // leaflet.heat draws in the overlay pane (400): above areas, below cameras and pins.
  map.createPane("areas").style.zIndex = 350;
  map.createPane("cameras").style.zIndex = 420;
  map.createPane("pins").style.zIndex = 640;
  // the shown area, for tests and the benchmark (west,south,east,north)
  map.on("moveend", () => { document.body.dataset.view = map.getBounds().toBBoxString(); });
  const view = config.initial_view;
  if (view && view.bounds) {
    map.fitBounds(view.bounds);
  } else {
    map.setView([16.0, 106.5], 5);
  }
  return map;
}

function bboxOf(geojson) {
  try {
    const bounds = L.geoJSON(geojson).getBounds();
    return bounds.isValid() ? bounds : null;
  } catch (err) {
    return null;
  }
}

/** Ward and zone outlines with their names; resolves to {wards, zones, bounds}. */
export async function loadAreas(map, options = {}) {
  const [wards, zones] = await Promise.all([apiGet("wards"), apiGet("zones")]);
  const wardLayer = L.geoJSON(wards, {
    pane: "areas",
    interactive: false,
    style: () => ({
      color: "#5fa8ff", weight: 1.5, opacity: 0.75, fillColor: "#5fa8ff", fillOpacity: 0.03,
      dashArray: "4 3",
    }),
  }).addTo(map);
  const zoneLayer = L.geoJSON(zones, {
    pane: "areas",
    interactive: false,
    style: (feature) => ({
      color: zoneColour(feature.properties && feature.properties.kind),
      weight: 2, opacity: 0.9, fillOpacity: 0.10,
      fillColor: zoneColour(feature.properties && feature.properties.kind),
    }),
  }).addTo(map);
  if (options.labels !== false) {
    labelAreas(wardLayer, "vigil-label-ward");
    labelAreas(zoneLayer, "vigil-label-zone");
  }
  let bounds = wardLayer.getBounds();
  if (!bounds.isValid()) bounds = zoneLayer.getBounds();
  if (options.fit !== false && bounds.isValid()
      && !(config.initial_view && config.initial_view.bounds)) {
    map.fitBounds(bounds, { padding: [20, 20] });
  }
  const approximate = [...rowsOf(wards), ...rowsOf(zones)].some(
    (f) => f.properties && f.properties.approximate);
  return {
    wards: rowsOf(wards), zones: rowsOf(zones), wardLayer, zoneLayer,
    bounds: bounds.isValid() ? bounds : null, approximate,
  };
}

function labelAreas(layer, className) {
  layer.eachLayer((item) => {
    const props = item.feature && item.feature.properties || {};
    if (!props.name) return;
    item.bindTooltip(el("span", null, props.name), {
      permanent: true, direction: "center", className, opacity: 1,
    });
  });
}

const ZONE_COLOURS = {
  port: "#00c2d1", airport: "#9b8cff", market: "#ffb347", square: "#ffd166",
  casino: "#ff6fb5", tourist_area: "#6be39b", critical_site: "#ff5a5f", geofence: "#c0c0c0",
};

function zoneColour(kind) {
  return ZONE_COLOURS[kind] || "#c0c0c0";
}

/** Zone kinds and colours, for legends. */
export function zoneKinds() {
  return Object.entries(ZONE_COLOURS);
}

/** The bounds of one ward/zone GeoJSON feature, or null. */
export function featureBounds(feature) {
  return bboxOf(feature);
}

/**
 * Cameras as canvas circle markers coloured by status.
 * ``onSelect(camera)`` is called on click when given (the wall passes none).
 */
export class CameraLayer {
  constructor(map, options = {}) {
    this.map = map;
    this.renderer = L.canvas({ pane: "cameras", padding: 0.3 });
    this.group = L.layerGroup().addTo(map);
    this.markers = new Map();
    this.cameras = new Map();
    this.onSelect = options.onSelect || null;
    this.radius = options.radius || 5;
  }

  /** Replace every camera (rows from /api/v1/cameras: GeoJSON features or plain rows). */
  setCameras(rows) {
    this.group.clearLayers();
    this.markers.clear();
    this.cameras.clear();
    for (const row of rows) this.upsert(cameraOf(row));
    document.body.dataset.cameras = String(this.markers.size);
  }

  upsert(camera) {
    if (!camera || camera.lat === undefined || camera.lon === undefined) return;
    this.cameras.set(camera.id, camera);
    let marker = this.markers.get(camera.id);
    const colour = STATUS_COLOURS[camera.status] || STATUS_COLOURS.unknown;
    if (!marker) {
      marker = L.circleMarker([camera.lat, camera.lon], {
        renderer: this.renderer,
        radius: this.radius,
        weight: 1.5,
        color: "#0b1220",
        fillColor: colour,
        fillOpacity: 0.95,
        interactive: Boolean(this.onSelect),
      });
      if (this.onSelect) {
        marker.bindTooltip(el("span", null, camera.name || camera.id), { className: "vigil-tip" });
        marker.on("click", () => this.onSelect(this.cameras.get(camera.id)));
      }
      marker.addTo(this.group);
      this.markers.set(camera.id, marker);
    } else {
      marker.setLatLng([camera.lat, camera.lon]);
      marker.setStyle({ fillColor: colour });
    }
  }

  /** Apply a ``camera_status`` socket message. */
  setStatus(message) {
    const id = message.camera_id || message.id;
    const camera = this.cameras.get(id);
    if (!camera || !message.status) return;
    camera.status = message.status;
    this.upsert(camera);
  }

  /** Counts by status (for legends and ward counters). */
  counts(filter) {
    const counts = { online: 0, offline: 0, tampered: 0, unknown: 0, disabled: 0, total: 0 };
    for (const camera of this.cameras.values()) {
      if (filter && !filter(camera)) continue;
      counts[camera.status in counts ? camera.status : "unknown"] += 1;
      counts.total += 1;
    }
    return counts;
  }

  get(id) {
    return this.cameras.get(id);
  }

  /** The bounds of every camera (null when there is none). */
  bounds() {
    const points = [...this.cameras.values()].map((c) => [c.lat, c.lon]);
    return points.length ? L.latLngBounds(points) : null;
  }

  /**
   * The bounds of the main area of cameras: cameras far out from the rest (an outlying
   * island 100 km off) are left out, so the view is not zoomed out over open sea.
   */
  mainBounds(filter) {
    const points = [...this.cameras.values()].filter((c) => !filter || filter(c))
      .map((c) => [c.lat, c.lon]);
    return mainAreaBounds(points);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Bounds of [lat, lon] points without the outliers: those farther from the median point
 * than four times the median distance (and more than 5 km). Null when there is none.
 */
export function mainAreaBounds(points) {
  if (!points.length) return null;
  const lat0 = median(points.map((p) => p[0]));
  const lon0 = median(points.map((p) => p[1]));
  const kx = 111.32 * Math.cos((lat0 * Math.PI) / 180);
  const km = points.map((p) => Math.hypot((p[1] - lon0) * kx, (p[0] - lat0) * 110.57));
  const limit = Math.max(5, 4 * median(km));
  const kept = points.filter((p, i) => km[i] <= limit);
  return L.latLngBounds(kept.length ? kept : points);
}

/**
 * Fit the map to where the cameras are (else to the wards): the area that is watched.
 * Not animated: Leaflet drops a view change asked for while a zoom animation runs.
 */
export function fitWatched(map, cameras, areas, options = {}) {
  const bounds = (cameras && cameras.mainBounds()) || (areas && areas.bounds);
  if (bounds && bounds.isValid()) {
    map.fitBounds(bounds.pad(0.08), { ...options, animate: false });
    document.body.dataset.fitBounds = bounds.toBBoxString();   // west,south,east,north
  }
  return bounds;
}

const STATUS_BY_KIND = {
  camera_offline: "offline", camera_online: "online",
  camera_scene_change: "tampered", camera_blackout: "tampered",
};

/** The camera status a camera-health event implies ({camera_id, status}), or null. */
export function statusFromEvent(ev) {
  const status = STATUS_BY_KIND[ev.kind];
  return status ? { camera_id: ev.camera_id, status } : null;
}

/** A camera from a GeoJSON feature or a plain row. */
export function cameraOf(row) {
  if (row && row.type === "Feature") {
    const props = { ...(row.properties || {}) };
    const coords = row.geometry && row.geometry.coordinates || [];
    return { ...props, id: props.id ?? row.id, lon: coords[0], lat: coords[1],
      status: props.status || "unknown" };
  }
  return { ...row, status: row.status || "unknown" };
}

/** Fetch every camera and draw it; marks the "cameras drawn" moment for the benchmark. */
export async function loadCameras(layer, params) {
  const payload = await apiGet("cameras", params);
  layer.setCameras(rowsOf(payload));
  performance.mark("vigil-cameras-drawn");
  return layer;
}

/** Pins closer than this (degrees, about a metre) sit at one place: one stack. */
const STACK_GRID = 1e-5;

/** The stack a pin at ``lat, lon`` belongs to (events placed at their camera share one). */
export function stackKey(lat, lon) {
  return `${Math.round(lat / STACK_GRID)},${Math.round(lon / STACK_GRID)}`;
}

const SHARED_STACKS = new WeakMap();

/**
 * Pins that sit at one place (a camera's alerts placed at the camera, its incidents) are
 * shown as one: the newest on top with a badge counting them, the others kept under it,
 * hidden and inert. A click on a stack opens a list, newest first, to pick one. One set
 * of stacks per map (``PinStacks.of(map)``), so alert and incident pins stack together.
 *
 * Items are ``{uid, id, ts, lat, lon, marker, node, z, incident, describe(li), pick}``:
 * ``uid`` is unique across layers, ``z`` the marker's own z-index offset, ``describe``
 * fills the item's entry in the list and ``pick(popup)``, if any, runs when the entry is
 * picked, returning true to keep the popup open (it may show something else in it).
 */
export class PinStacks {
  static of(map) {
    if (!SHARED_STACKS.has(map)) SHARED_STACKS.set(map, new PinStacks(map));
    return SHARED_STACKS.get(map);
  }

  constructor(map) {
    this.map = map;
    this.items = new Map();   // uid -> item
    this.stacks = new Map();  // key -> Set of uids
    this.popup = null;
  }

  add(item) {
    this.remove(item.uid);
    item.key = stackKey(item.lat, item.lon);
    this.items.set(item.uid, item);
    if (!this.stacks.has(item.key)) this.stacks.set(item.key, new Set());
    this.stacks.get(item.key).add(item.uid);
    this.restack(item.key);
  }

  remove(uid) {
    const item = this.items.get(uid);
    if (!item) return;
    this.items.delete(uid);
    const stack = this.stacks.get(item.key);
    stack.delete(uid);
    item.node.classList.remove("vigil-stacked-under");
    item.marker.setZIndexOffset(item.z || 0);
    const badge = item.node.querySelector(".vigil-stack-count");
    if (badge) badge.remove();
    delete item.node.dataset.stack;
    if (stack.size) this.restack(item.key); else this.stacks.delete(item.key);
  }

  /** The items stacked with ``uid`` (itself included), newest first. */
  members(uid) {
    const item = this.items.get(uid);
    if (!item) return [];
    return [...this.stacks.get(item.key)].map((u) => this.items.get(u))
      .sort((a, b) => (b.ts - a.ts) || (b.id - a.id));
  }

  stacked(uid) {
    const item = this.items.get(uid);
    return Boolean(item) && this.stacks.get(item.key).size > 1;
  }

  restack(key) {
    const uids = this.stacks.get(key);
    if (!uids || !uids.size) return;
    const sorted = this.members(uids.values().next().value);
    sorted.forEach((item, rank) => {
      const top = rank === 0;
      item.node.classList.toggle("vigil-stacked-under", !top);
      item.marker.setZIndexOffset((item.z || 0) + (top && sorted.length > 1 ? 100000 : 0));
      let badge = item.node.querySelector(".vigil-stack-count");
      if (top && sorted.length > 1) {
        if (!badge) badge = item.node.appendChild(el("span", "vigil-stack-count"));
        badge.textContent = String(sorted.length);
        item.node.dataset.stack = String(sorted.length);
      } else {
        if (badge) badge.remove();
        delete item.node.dataset.stack;
      }
    });
  }

  /** Open the list of the stack ``uid`` belongs to. */
  openList(uid) {
    const items = this.members(uid);
    if (!items.length) return;
    const title = items.every((i) => i.incident) ? t("Incidents") : t("Alerts");
    this.popup = openPickList(this.map, [items[0].lat, items[0].lon], title, items);
  }
}

/**
 * A popup at ``latlng`` listing ``items`` (in the order given) under "title · count", to
 * pick one: each item is ``{uid, describe(li), pick(popup)}`` as in PinStacks; ``pick``,
 * if any, makes its entry clickable and returns true to keep the popup open. Built from
 * DOM nodes (strict CSP). Returns the popup. Shared by PinStacks and ViolationLayers.
 */
export function openPickList(map, latlng, title, items, options = {}) {
  const box = el("div", "vigil-stack-list");
  box.appendChild(el("strong", null, `${title} · ${items.length}`));
  const popup = L.popup({ className: "vigil-stack-popup", maxWidth: 340, minWidth: 220,
    offset: options.offset || [0, -6] });
  const list = el("ol");
  for (const item of items) {
    const li = el("li");
    if (item.uid) li.dataset.uid = item.uid;
    item.describe(li);
    if (item.pick) {
      li.classList.add("clickable");
      li.tabIndex = 0;
      const pick = (e) => {
        // the entry may be replaced by what is picked: Leaflet, no longer finding it
        // inside the popup, would take the click for one on the map and close the popup
        e.stopPropagation();
        if (!item.pick(popup)) map.closePopup(popup);
      };
      li.addEventListener("click", pick);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(e); });
    }
    list.appendChild(li);
  }
  box.appendChild(list);
  return popup.setLatLng(latlng).setContent(box).openOn(map);
}

/**
 * Alert pins: each pin pulses on arrival and fades as it ages; pins older than
 * ``maxAgeMs`` are removed and at most ``limit`` are kept, so memory stays flat on a
 * wall that runs for weeks. Alerts at one place are one pin with a count (PinStacks).
 */
export class PinLayer {
  constructor(map, options = {}) {
    this.map = map;
    this.pins = new Map();
    this.maxAgeMs = options.maxAgeMs || 30 * 60 * 1000;
    this.limit = options.limit || 400;
    this.onSelect = options.onSelect || null;
    this.stacks = PinStacks.of(map);
    this.timer = setInterval(() => this.age(), options.ageEveryMs || 5000);
  }

  add(event, options = {}) {
    if (event.lat === undefined || event.lon === undefined || event.lat === null) return;
    if (this.pins.has(event.id)) return;
    const node = el("div", "vigil-pin vigil-sev-" + (SEVERITY_NAMES[event.severity] || "info"));
    node.dataset.eventId = String(event.id);
    node.dataset.kind = event.kind;
    node.style.setProperty("--pin-colour", SEVERITY_COLOURS[event.severity] || SEVERITY_COLOURS[0]);
    if (options.fresh !== false) node.classList.add("vigil-pin-fresh");
    node.appendChild(el("span", "vigil-pin-dot"));
    node.appendChild(el("span", "vigil-pin-ring"));
    const marker = L.marker([event.lat, event.lon], {
      pane: "pins",
      icon: L.divIcon({ html: node, className: "vigil-pin-icon", iconSize: [28, 28] }),
      keyboard: false,
    });
    if (this.onSelect) {
      const tip = el("span");
      tip.appendChild(el("strong", null, kindLabel(event.kind)));
      tip.appendChild(el("span", null, " · " + formatTime(event.ts)));
      marker.bindTooltip(tip, { className: "vigil-tip", direction: "top" });
    }
    marker.on("click", () => this.clicked(event.id));
    marker.addTo(this.map);
    const pin = { uid: "alert:" + event.id, id: event.id, marker, node, event,
      ts: new Date(event.ts).getTime(), lat: event.lat, lon: event.lon,
      describe: (li) => this.describe(event, li),
      pick: this.onSelect ? () => { this.onSelect(event); return false; } : null };
    this.pins.set(event.id, pin);
    this.stacks.add(pin);
    if (options.fresh !== false) {
      setTimeout(() => node.classList.remove("vigil-pin-fresh"), 12000);
    }
    this.styleAge(pin, Date.now());
    while (this.pins.size > this.limit) {
      this.remove(this.pins.keys().next().value);
    }
  }

  /** A stacked pin opens the list of its place; a single one selects its alert. */
  clicked(id) {
    const pin = this.pins.get(id);
    if (!pin) return;
    if (this.stacks.stacked(pin.uid)) this.stacks.openList(pin.uid);
    else if (this.onSelect) this.onSelect(pin.event);
  }

  /** The alert's entry in a stack's list. */
  describe(ev, li) {
    li.dataset.eventId = String(ev.id);
    li.style.setProperty("--pin-colour", SEVERITY_COLOURS[ev.severity] || SEVERITY_COLOURS[0]);
    li.appendChild(el("time", null, formatDateTime(ev.ts)));
    li.appendChild(el("span", null, kindLabel(ev.kind)));
  }

  remove(id) {
    const pin = this.pins.get(id);
    if (!pin) return;
    this.stacks.remove(pin.uid);
    pin.marker.remove();
    this.pins.delete(id);
  }

  /** Drop every pin not matching ``keep(event)``. */
  filter(keep) {
    for (const [id, pin] of [...this.pins]) if (!keep(pin.event)) this.remove(id);
  }

  clear() {
    for (const id of [...this.pins.keys()]) this.remove(id);
  }

  styleAge(pin, now) {
    const ageFraction = Math.min(1, Math.max(0, (now - pin.ts) / this.maxAgeMs));
    pin.node.style.opacity = String(1 - 0.8 * ageFraction);
  }

  age() {
    const now = Date.now();
    for (const [id, pin] of [...this.pins]) {
      if (now - pin.ts > this.maxAgeMs) this.remove(id);
      else this.styleAge(pin, now);
    }
  }
}

/** A heat layer (leaflet.heat) whose points are replaced as data arrive. */
export class HeatLayer {
  constructor(map, options = {}) {
    this.map = map;
    this.name = options.name || "heat";
    this.layer = L.heatLayer([], {
      pane: "heat",
      radius: options.radius || 22,
      blur: options.blur || 18,
      maxZoom: options.maxZoom || 15,
      minOpacity: 0.25,
      max: 1.0,
      gradient: options.gradient,
    });
    this.visible = false;
    this.points = [];
    if (options.visible !== false) this.show();
  }

  /** Points are [lat, lon, weight]; weights are scaled to the largest. */
  setPoints(points) {
    const top = points.reduce((m, p) => Math.max(m, p[2] || 0), 0) || 1;
    this.points = points.map((p) => [p[0], p[1], (p[2] || 0) / top]);
    // leaflet.heat redraws on setLatLngs and fails off the map: a hidden layer gets its
    // points when it is shown again
    if (this.visible) this.layer.setLatLngs(this.points);
    if (this.layer._canvas) this.layer._canvas.dataset.heat = this.name;
    document.body.dataset["heat" + this.name[0].toUpperCase() + this.name.slice(1)] =
      String(this.points.length);
  }

  setGradient(gradient) {
    this.layer.setOptions({ gradient });
  }

  show() {
    if (!this.visible) {
      this.layer.addTo(this.map);
      this.layer.setLatLngs(this.points || []);
      if (this.layer._canvas) {
        this.layer._canvas.classList.add("vigil-heat", "vigil-heat-" + this.name);
        this.layer._canvas.dataset.heat = this.name;
      }
      this.visible = true;
    }
  }

  hide() {
    if (this.visible) {
      this.layer.remove();
      this.visible = false;
    }
  }
}

/** Heat points [lat, lon, weight] from heatmap cells (``n`` or ``value`` as weight). */
export function heatPoints(payload, weightKey = "n") {
  return rowsOf(payload).map((cell) => {
    const c = cell.type === "Feature" ? { ...cell.properties,
      lon: cell.geometry.coordinates[0], lat: cell.geometry.coordinates[1] } : cell;
    const weight = c[weightKey] ?? c.weight ?? c.n ?? c.value ?? 1;
    return [c.lat, c.lon, Number(weight) || 0];
  }).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
}

/** A legend control: rows of [swatch colour, label]; ``note`` below in small print. */
export function addLegend(map, title, rows, note, position = "bottomleft") {
  const control = L.control({ position });
  control.onAdd = () => {
    const box = el("div", "vigil-legend");
    box.appendChild(el("div", "vigil-legend-title", title));
    for (const [colour, label, shape] of rows) {
      const row = el("div", "vigil-legend-row");
      const swatch = el("span", "vigil-swatch" + (shape ? " vigil-swatch-" + shape : ""));
      swatch.style.background = colour;
      swatch.style.color = colour;
      row.appendChild(swatch);
      row.appendChild(el("span", null, label));
      box.appendChild(row);
    }
    if (note) box.appendChild(el("div", "vigil-legend-note", note));
    return box;
  };
  control.addTo(map);
  return control;
}

/** The standard legend rows for camera statuses and alert severities. */
export function statusLegendRows() {
  return [
    [STATUS_COLOURS.online, t("Online"), "dot"],
    [STATUS_COLOURS.offline, t("Offline"), "dot"],
    [STATUS_COLOURS.tampered, t("Tampered"), "dot"],
    [SEVERITY_COLOURS[3], t("Critical alert"), "ring"],
    [SEVERITY_COLOURS[2], t("High alert"), "ring"],
    [SEVERITY_COLOURS[1], t("Low alert"), "ring"],
  ];
}

export { formatAge };
