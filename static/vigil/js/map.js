// vigil pages: the Leaflet map shared by the wall, the commander and the planner.
//
// Basemap tiles come from the server (/tiles, MBTiles zoom 0–6 offline); beyond the
// tiles' zoom the ward and zone outlines (vector) keep the viewer oriented. Cameras are
// canvas circle markers (2,300 of them draw in one canvas), alert pins are DOM markers
// that pulse when they arrive and fade with age; pins at one place are one pin with a
// count that opens a list of them (pins.js).

import {
  config, t, el, formatAge, apiGet, rowsOf, SEVERITY_COLOURS, STATUS_COLOURS,
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
    // a camera with no position yet (lat/lon null or missing) is not drawn
    if (!camera || !Number.isFinite(camera.lat) || !Number.isFinite(camera.lon)) return;
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

  /** The bounds of every camera, or of those ``filter`` keeps (null when there is none). */
  bounds(filter) {
    const points = [...this.cameras.values()].filter((c) => !filter || filter(c))
      .map((c) => [c.lat, c.lon]);
    return points.length ? L.latLngBounds(points) : null;
  }
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
export { PinLayer, PinStacks, openPickList, stackKey } from "./pins.js";
export { FIRST_VIEW_MAX_ZOOM, fitWatched } from "./firstview.js";
