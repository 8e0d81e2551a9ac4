// vigil planner (/planner): heatmaps over a chosen period, per-ward time series and
// counts by kind, violations per ward and kind, each violation kind as its own map layer,
// the coverage / blind-spot layer and the hotspot report download.

import {
  config, t, el, kindLabel, formatDateTime, apiGet, rowsOf, startClock, notify,
  formatNumber,
} from "./core.js";
import {
  createMap, loadAreas, CameraLayer, loadCameras, HeatLayer, heatPoints, addLegend,
  fitWatched,
} from "./map.js";
import { LayerControl, ViolationLayers, VIOLATION_KINDS } from "./layers.js";

const L = window.L;
const DAY = 24 * 3600 * 1000;
const SERIES_COLOURS = ["#5fa8ff", "#ff8c42", "#2ee59d", "#ff3bd4", "#f4d35e", "#9b8cff",
  "#00c2d1", "#ff5a5f"];

const map = createMap("map");
const cameras = new CameraLayer(map, { radius: 4 });
const INCIDENT_GRADIENT = { 0.3: "#3b1c6e", 0.55: "#b3257a", 0.8: "#ff6a3d", 1.0: "#ffe066" };
const CROWD_GRADIENT = { 0.3: "#0b3d91", 0.6: "#00b3b3", 0.85: "#7cff6b", 1.0: "#f9ff8a" };
const heat = new HeatLayer(map, { name: "incidents", radius: 24, blur: 20,
  gradient: INCIDENT_GRADIENT });
const coverage = L.layerGroup().addTo(map);
const cameraName = (id) => { const c = cameras.get(id); return c ? c.name || id : id; };
const violations = new ViolationLayers(map, new LayerControl(map, t("Map layers")),
  { cameraName, maxPages: 5 });
const form = document.getElementById("period");
const wardNames = new Map();
let chart = null;

startClock();

/** "YYYY-MM-DD" of an instant in the command centre's time zone. */
function localDate(when) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: config.timezone || "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit",
    day: "2-digit",
  }).format(when);
}

/** The period as ISO instants: from 00:00 of the first day to 24:00 of the last (UTC+7). */
function period() {
  const data = new FormData(form);
  const from = data.get("from");
  const to = data.get("to");
  const since = new Date(`${from}T00:00:00+07:00`);
  const until = new Date(new Date(`${to}T00:00:00+07:00`).getTime() + DAY);
  return {
    from, to, since: since.toISOString(), until: until.toISOString(),
    kind: data.get("kind") || "", ward: data.get("ward") || "",
    heat: data.get("heat") || "incidents",
  };
}

/** Incidents (count per cell) or crowd density (peak sample per cell) over the period. */
async function loadHeat(p) {
  const crowd = p.heat === "crowd";
  const payload = await apiGet("heatmap_incidents", {
    since: p.since, until: p.until, ward: p.ward,
    kind: crowd ? "crowd_sample" : p.kind,
  });
  heat.setGradient(crowd ? CROWD_GRADIENT : INCIDENT_GRADIENT);
  heat.setPoints(heatPoints(payload, crowd ? "value_max" : "n"));
}

const BUCKET_SECONDS = { "15min": 900, hour: 3600, day: 86400 };

/** Ticks at least this far apart (CSS px): the widest label ("21/11") is about 36 px. */
const X_TICK_SPACE = 64;

/** x-axis labels in the command centre's time zone, 24-hour: "21/11" when the ticks are a
 * day or more apart, else "14:00", with the day under the first tick of each day. */
function tickLabels(u, splits, axisIdx, space, incr) {
  let lastDay = null;
  return splits.map((seconds) => {
    const text = formatDateTime(seconds * 1000);        // "21/11 14:03:07"
    const day = text.slice(0, 5);
    if (incr >= 86400) return day;
    const label = day === lastDay ? text.slice(6, 11) : `${text.slice(6, 11)}\n${day}`;
    lastDay = day;
    return label;
  });
}

function bucketOf(p) {
  const days = (new Date(p.until) - new Date(p.since)) / DAY;
  if (days <= 1) return "15min";
  if (days <= 14) return "hour";
  return "day";
}

const ALERT_KINDS = new Set(Object.entries(config.kinds || {})
  .filter(([, k]) => k.is_alert).map(([code]) => code));

/** Counts per ward and kind (alerts, or the chosen kind), then series of the top wards. */
async function loadSeries(p) {
  const payload = await apiGet("ward_counts", { since: p.since, until: p.until, ward: p.ward });
  const all = rowsOf(payload.counts);
  drawViolationTable(all);
  const counts = all.filter((c) => (p.kind ? c.kind === p.kind : ALERT_KINDS.has(c.kind)));
  drawKinds(counts);
  const totals = new Map();
  for (const c of counts) {
    if (!c.ward_id) continue;
    totals.set(c.ward_id, (totals.get(c.ward_id) || 0) + Number(c.n || 0));
  }
  const wards = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
  const kinds = p.kind ? [p.kind] : [...ALERT_KINDS];
  const series = await Promise.all(wards.map((ward) => apiGet("ward_series", {
    ward_id: ward, since: p.since, until: p.until, bucket: bucketOf(p), kind: kinds.join(","),
  })));
  const rows = [];
  series.forEach((s, i) => {
    for (const point of rowsOf(s.series)) {
      rows.push({ ward_id: wards[i], bucket: point.t, n: point.n });
    }
  });
  drawSeries(rows);
}

function drawSeries(rows) {
  const box = document.getElementById("chart-series");
  if (chart) { chart.destroy(); chart = null; }
  box.replaceChildren();
  if (!rows.length) {
    box.appendChild(el("p", "empty", t("No events in this period")));
    return;
  }
  const totals = new Map();
  const buckets = new Set();
  for (const row of rows) {
    const ward = row.ward_id || "";
    totals.set(ward, (totals.get(ward) || 0) + Number(row.n || 0));
    buckets.add(new Date(row.bucket).getTime() / 1000);
  }
  const wards = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map((e) => e[0]);
  // every bucket of the period, so that quiet buckets show as zero, not as a slope
  const p = period();
  const step = BUCKET_SECONDS[bucketOf(p)];
  const first = Math.floor(new Date(p.since).getTime() / 1000 / step) * step;
  for (let x = first; x < new Date(p.until).getTime() / 1000; x += step) buckets.add(x);
  const xs = [...buckets].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = wards.map(() => xs.map(() => 0));
  for (const row of rows) {
    const w = wards.indexOf(row.ward_id || "");
    if (w < 0) continue;
    ys[w][index.get(new Date(row.bucket).getTime() / 1000)] += Number(row.n || 0);
  }
  const width = box.clientWidth || 600;
  chart = new window.uPlot({
    width, height: 220,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), config.timezone || "Asia/Ho_Chi_Minh"),
    scales: { x: { time: true } },
    axes: [
      { stroke: "#8a9bb8", grid: { stroke: "#1e2a44" }, ticks: { stroke: "#1e2a44" },
        space: X_TICK_SPACE, size: 48, values: tickLabels },
      { stroke: "#8a9bb8", grid: { stroke: "#1e2a44" }, ticks: { stroke: "#1e2a44" } },
    ],
    series: [
      { label: t("Time") },
      ...wards.map((w, i) => ({
        label: wardNames.get(w) || w || t("No ward"),
        stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 2,
      })),
    ],
  }, [xs, ...ys], box);
  box.uplot = chart;              // for the browser tests: its axes' ticks and labels
  document.body.dataset.seriesPoints = String(xs.length);
}

function drawKinds(rows) {
  const list = document.getElementById("chart-kinds");
  list.replaceChildren();
  const counts = new Map();
  for (const row of rows) {
    counts.set(row.kind, (counts.get(row.kind) || 0) + Number(row.n || 0));
  }
  const entries = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (!entries.length) {
    list.appendChild(el("li", "empty", t("No events in this period")));
    return;
  }
  const top = entries[0][1] || 1;
  for (const [kind, n] of entries) {
    const li = el("li");
    li.dataset.kind = kind;
    li.appendChild(el("span", null, kindLabel(kind)));
    const bar = el("span", "bar");
    bar.style.width = `${Math.max(1, (100 * n) / top)}%`;
    li.appendChild(bar);
    li.appendChild(el("span", "n", formatNumber(n)));
    list.appendChild(li);
  }
}

/** Violations per ward and kind over the period (the seeds count them per type). */
function drawViolationTable(rows) {
  const table = document.getElementById("violation-table");
  const head = el("tr");
  head.appendChild(el("th", null, t("Ward")));
  for (const kind of VIOLATION_KINDS) {
    const th = el("th", null, kindLabel(kind));
    th.dataset.kind = kind;
    head.appendChild(th);
  }
  head.appendChild(el("th", null, t("Total")));
  const byWard = new Map();
  for (const row of rows) {
    if (!VIOLATION_KINDS.includes(row.kind)) continue;
    const ward = row.ward_id || "";
    if (!byWard.has(ward)) byWard.set(ward, new Map());
    const kinds = byWard.get(ward);
    kinds.set(row.kind, (kinds.get(row.kind) || 0) + Number(row.n || 0));
  }
  const total = (kinds) => [...kinds.values()].reduce((a, b) => a + b, 0);
  const body = el("tbody");
  const wards = [...byWard.entries()].sort((a, b) => total(b[1]) - total(a[1]));
  for (const [ward, kinds] of wards) {
    const tr = el("tr");
    tr.dataset.wardId = ward;
    tr.appendChild(el("th", null, wardNames.get(ward) || ward || t("No ward")));
    for (const kind of VIOLATION_KINDS) {
      const n = kinds.get(kind) || 0;
      const td = el("td", n ? null : "zero", formatNumber(n));
      td.dataset.kind = kind;
      tr.appendChild(td);
    }
    tr.appendChild(el("td", "total", formatNumber(total(kinds))));
    body.appendChild(tr);
  }
  if (!wards.length) {
    const tr = el("tr");
    const td = el("td", "empty", t("No violations in this period"));
    td.colSpan = VIOLATION_KINDS.length + 2;
    tr.appendChild(td);
    body.appendChild(tr);
  }
  const thead = el("thead");
  thead.appendChild(head);
  table.replaceChildren(thead, body);
}

async function loadCoverage() {
  coverage.clearLayers();
  if (!document.getElementById("p-coverage").checked) return;
  const p = period();
  const payload = await apiGet("coverage", { ward: p.ward });
  L.geoJSON(payload, {
    pane: "areas",
    interactive: false,
    style: (feature) => {
      const blind = feature.properties && (feature.properties.kind === "blind_spot"
        || feature.properties.layer === "blind_spot");
      return blind
        ? { color: "#ff3b47", weight: 1, fillColor: "#ff3b47", fillOpacity: 0.28, dashArray: "3 3" }
        : { color: "#2ee59d", weight: 0.5, fillColor: "#2ee59d", fillOpacity: 0.16 };
    },
  }).addTo(coverage);
  document.body.dataset.coverage = String(rowsOf(payload).length);
}

function updateReportLink(p) {
  const link = document.getElementById("report-link");
  const url = new URL(config.report_url, window.location.origin);
  url.searchParams.set("from", p.from);
  url.searchParams.set("to", p.to);
  if (p.ward) url.searchParams.set("ward", p.ward);
  if (p.kind) url.searchParams.set("kind", p.kind);
  link.href = url.pathname + url.search;
  link.download = `vigil-hotspots-${p.from}-${p.to}.html`;
}

async function refresh() {
  const p = period();
  updateReportLink(p);
  const jobs = [
    loadHeat(p).catch((err) => notify(t("Heatmap unavailable: {reason}", { reason: err.message }), "error")),
    loadSeries(p).catch((err) => notify(t("Charts unavailable: {reason}", { reason: err.message }), "error")),
    loadCoverage().catch((err) => notify(t("Coverage unavailable: {reason}", { reason: err.message }), "error")),
    violations.load({ since: p.since, until: p.until, ward: p.ward }, p.kind).catch(
      (err) => notify(t("Violation layers unavailable: {reason}", { reason: err.message }), "error")),
  ];
  await Promise.all(jobs);
}

async function start() {
  const today = new Date();
  document.getElementById("p-to").value = localDate(today);
  document.getElementById("p-from").value = localDate(new Date(today.getTime() - 6 * DAY));
  const kinds = Object.entries(config.kinds || {}).filter(([, k]) => k.is_alert)
    .sort((a, b) => a[1].label.localeCompare(b[1].label));
  for (const [code, k] of kinds) {
    const option = el("option", null, k.label);
    option.value = code;
    document.getElementById("p-kind").appendChild(option);
  }
  try {
    const areas = await loadAreas(map, { fit: false });
    for (const f of areas.wards) wardNames.set(f.properties.id ?? f.id, f.properties.name);
    for (const [id, name] of wardNames) {
      const option = el("option", null, name);
      option.value = id;
      document.getElementById("p-ward").appendChild(option);
    }
    addLegend(map, t("Legend"), [
      ["#ffe066", t("Most incidents"), null],
      ["#b3257a", t("Fewer incidents"), null],
      ["#2ee59d", t("Covered by a camera"), null],
      ["#ff3b47", t("Blind spot"), null],
    ], areas.approximate ? t("Ward and zone boundaries are approximate.") : null);
    await loadCameras(cameras);
    fitWatched(map, cameras, areas);
  } catch (err) {
    notify(t("Could not load the map: {reason}", { reason: err.message }), "error");
  }
  await refresh();
  document.body.dataset.ready = "true";
  form.addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  document.getElementById("p-coverage").addEventListener("change", () => {
    loadCoverage().catch((err) => notify(err.message, "error"));
  });
}

start();
