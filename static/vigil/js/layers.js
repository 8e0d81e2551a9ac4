// vigil pages: toggleable map layers shared by the commander and the planner.
//
// ``LayerControl`` is a small on-map box of checkboxes (built from DOM nodes, never from
// HTML strings, so it works under the strict content security policy). ``ViolationLayers``
// draws each traffic violation and left-object kind as its own layer, fed from the events
// API with the page's filters; a kind's events within a few metres (a junction's stop
// line) are one dot with their count, whose list picks one. ``IncidentLayer`` draws
// merged incidents (alerts from several cameras, store/incidents.py) as one pin with a
// count badge; its popup lists the member events and, for those who act on alerts, marks
// the incident true or false alarm.
// Incidents at one place are one pin whose list picks an incident (PinStacks, map.js).

import {
  config, t, el, kindLabel, formatDateTime, apiGet, apiPost, rowsOf, notify,
  SEVERITY_NAMES, SEVERITY_COLOURS,
} from "./core.js";
import { PinStacks, openPickList } from "./pins.js";

const L = window.L;

/** The kinds drawn as their own layers, in the order of the layer control. */
export const VIOLATION_KINDS = [
  "red_light", "wrong_lane", "no_helmet", "no_seatbelt", "wrong_way",
  "abandoned_object", "littering",
];

/** One colour per violation layer (the swatches in vigil.css use the same). */
export const VIOLATION_COLOURS = {
  red_light: "#ff4d4d", wrong_lane: "#ffa94d", no_helmet: "#ffe066", no_seatbelt: "#c0eb75",
  wrong_way: "#ff66c4", abandoned_object: "#66d9e8", littering: "#b197fc",
};

/** A box of layer checkboxes on the map: ``addRow`` one per layer, counts beside. */
export class LayerControl {
  constructor(map, title, position = "topright") {
    this.rows = new Map();
    this.box = el("div", "vigil-layers leaflet-bar");
    this.box.setAttribute("role", "group");
    this.box.setAttribute("aria-label", title);
    this.box.appendChild(el("div", "vigil-layers-title", title));
    const control = L.control({ position });
    control.onAdd = () => {
      L.DomEvent.disableClickPropagation(this.box);
      L.DomEvent.disableScrollPropagation(this.box);
      return this.box;
    };
    control.addTo(map);
  }

  /** A checkbox row; ``onChange(checked)`` runs when it is toggled. */
  addRow(key, label, swatchClass, checked, onChange) {
    const row = el("label", "vigil-layers-row");
    const input = el("input");
    input.type = "checkbox";
    input.checked = checked;
    input.dataset.layer = key;
    input.addEventListener("change", () => onChange(input.checked));
    row.appendChild(input);
    row.appendChild(el("span", "vigil-layer-swatch " + swatchClass));
    row.appendChild(el("span", "vigil-layers-label", label));
    const count = el("span", "vigil-layers-count", "");
    count.dataset.count = key;
    row.appendChild(count);
    this.box.appendChild(row);
    this.rows.set(key, { row, input, count });
    return input;
  }

  setCount(key, n, more = false) {
    const row = this.rows.get(key);
    if (row) row.count.textContent = String(n) + (more ? "+" : "");
  }
}

/** Violations closer than this (metres) to the first of a group join that group. */
export const GROUP_METRES = 15;
const M_PER_DEG = 111320;

function cellOf(lat, lon) {
  const x = Math.floor((lon * M_PER_DEG * Math.cos((lat * Math.PI) / 180)) / GROUP_METRES);
  return [x, Math.floor((lat * M_PER_DEG) / GROUP_METRES)];
}

function metresApart(a, b) {
  const kx = M_PER_DEG * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot((b.lon - a.lon) * kx, (b.lat - a.lat) * M_PER_DEG);
}

/** A group's dot radius (px): 6 for one event, growing with the log of the count, capped. */
export function groupRadius(n) {
  return n < 2 ? 6 : Math.min(15, 6 + 2.5 * Math.log2(n));
}

const newestFirst = (a, b) => (Date.parse(b.ts) - Date.parse(a.ts)) || (b.id - a.id);

/**
 * Each violation kind as its own layer. A camera's violations pile up at one stop line,
 * so per kind, events within GROUP_METRES of a group's first event are ONE dot (SVG path)
 * whose radius grows with the count, shown on it (a label marker, not interactive); a
 * click on a group opens a list, newest first, to pick one (``openPickList``, map.js), a
 * click on a single event selects it. Counts in the layer control stay per event.
 */
export class ViolationLayers {
  constructor(map, control, options = {}) {
    this.map = map;
    map.createPane("violations").style.zIndex = 430;
    map.createPane("violation-counts").style.zIndex = 431;
    this.renderer = L.svg({ pane: "violations", padding: 0.3 });
    this.pageSize = options.pageSize || 1000;
    this.maxPages = options.maxPages || 3;
    this.cameraName = options.cameraName || ((id) => id);
    this.onSelect = options.onSelect || null;
    this.layers = new Map();
    this.cells = new Map();         // kind -> Map "x,y" -> groups whose first event is there
    this.ids = new Set();
    this.counts = new Map();
    this.control = control;
    for (const kind of VIOLATION_KINDS) {
      const group = L.layerGroup().addTo(map);
      this.layers.set(kind, group);
      this.cells.set(kind, new Map());
      this.counts.set(kind, 0);
      control.addRow(kind, kindLabel(kind), "vk-" + kind, true,
        (on) => this.setVisible(kind, on));
    }
    this.truncated = false;
  }

  setVisible(kind, on) {
    const group = this.layers.get(kind);
    if (!group) return;
    if (on) group.addTo(this.map); else group.remove();
    this.publish();
  }

  visible(kind) {
    return this.map.hasLayer(this.layers.get(kind));
  }

  /** Reload from the events API: ``params`` are the page's filters (since, until, ward...). */
  async load(params, onlyKind = "") {
    const kinds = onlyKind ? VIOLATION_KINDS.filter((k) => k === onlyKind) : VIOLATION_KINDS;
    let rows = [];
    let before = null;
    this.truncated = false;
    if (kinds.length) {
      for (let page = 0; page < this.maxPages; page += 1) {
        const payload = await apiGet("events", {
          ...params, kind: kinds.join(","), limit: this.pageSize, before,
        });
        rows = rows.concat(rowsOf(payload));
        before = payload.next_before;
        if (!before) break;
        this.truncated = page === this.maxPages - 1;
      }
    }
    this.clear();
    const placed = new Set();
    for (const ev of rows) {
      const group = this.place(ev);
      if (group) placed.add(group);
    }
    for (const group of placed) this.draw(group);       // one marker per group, once
    this.publish();
  }

  clear() {
    for (const group of this.layers.values()) group.clearLayers();
    for (const cells of this.cells.values()) cells.clear();
    this.ids.clear();
    for (const kind of VIOLATION_KINDS) this.counts.set(kind, 0);
  }

  /** Draw one event of a violation kind (others are ignored): it joins its group. */
  add(ev, live = true) {
    const group = this.place(ev);
    if (!group) return;
    this.draw(group);
    if (live) this.publish();
  }

  /** Put ``ev`` in its group (a new one if none is near); the group, or null if skipped. */
  place(ev) {
    const cells = this.cells.get(ev.kind);
    if (!cells || this.ids.has(ev.id) || !Number.isFinite(ev.lat)
        || !Number.isFinite(ev.lon)) return null;
    this.ids.add(ev.id);
    this.counts.set(ev.kind, this.counts.get(ev.kind) + 1);
    const [x, y] = cellOf(ev.lat, ev.lon);
    for (let dx = -1; dx <= 1; dx += 1) {
      for (let dy = -1; dy <= 1; dy += 1) {
        for (const group of cells.get(`${x + dx},${y + dy}`) || []) {
          if (metresApart(group, ev) <= GROUP_METRES) {
            group.events.push(ev);
            return group;
          }
        }
      }
    }
    const group = { kind: ev.kind, lat: ev.lat, lon: ev.lon, events: [ev], marker: null,
      label: null, count: null };
    const key = `${x},${y}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(group);
    return group;
  }

  /** Create or update the group's dot (and its count label from two events on). */
  draw(group) {
    const n = group.events.length;
    const layer = this.layers.get(group.kind);
    if (!group.marker) {
      group.marker = L.circleMarker([group.lat, group.lon], {
        renderer: this.renderer, radius: groupRadius(n), weight: 2, color: "#0b1220",
        fillColor: VIOLATION_COLOURS[group.kind], fillOpacity: 0.9,
        className: "vigil-violation vk-" + group.kind,
      });
      // built when shown: a live event changes it, and most are never hovered
      group.marker.bindTooltip(() => this.tip(group), { className: "vigil-tip",
        direction: "top" });
      group.marker.on("click", () => this.clicked(group));
      group.marker.on("add", () => this.mark(group));
      group.marker.addTo(layer);
    } else {
      group.marker.setRadius(groupRadius(n));
      if (group.marker.isTooltipOpen()) group.marker.setTooltipContent(() => this.tip(group));
    }
    this.mark(group);
    if (n >= 2) {
      if (!group.label) {
        group.count = el("span", "vigil-violation-count");
        group.count.dataset.kind = group.kind;
        group.label = L.marker([group.lat, group.lon], {
          pane: "violation-counts", interactive: false, keyboard: false,
          icon: L.divIcon({ html: group.count, className: "vigil-violation-count-icon",
            iconSize: [32, 16] }),
        }).addTo(layer);
      }
      group.count.dataset.n = String(n);
      group.count.textContent = n > 999 ? "999+" : String(n);
    }
  }

  /** The count on the group's SVG path (a new path each time its layer is shown). */
  mark(group) {
    const path = group.marker.getElement();
    if (path) path.dataset.n = String(group.events.length);
  }

  /** "12 · Vượt đèn đỏ · camera" for a group; kind · time · camera for one event. */
  tip(group) {
    const events = group.events;
    const tip = el("span");
    if (events.length === 1) {
      tip.appendChild(el("strong", null, kindLabel(group.kind)));
      tip.appendChild(el("span", null, " · " + formatDateTime(events[0].ts) + " · "
        + this.cameraName(events[0].camera_id)));
      return tip;
    }
    const cameras = [...new Set(events.map((ev) => ev.camera_id))];
    const where = cameras.slice(0, 2).map((id) => this.cameraName(id)).join(", ")
      + (cameras.length > 2 ? ` +${cameras.length - 2}` : "");
    tip.appendChild(el("strong", null, `${events.length} · ${kindLabel(group.kind)}`));
    tip.appendChild(el("span", null, " · " + where));
    return tip;
  }

  /** One event: select it; a group: the list of its events, newest first, to pick one. */
  clicked(group) {
    if (group.events.length === 1) {
      if (this.onSelect) this.onSelect(group.events[0]);
      return;
    }
    const events = [...group.events].sort(newestFirst);
    const radius = groupRadius(events.length);
    openPickList(this.map, [group.lat, group.lon], kindLabel(group.kind), events.map((ev) => ({
      uid: "violation:" + ev.id,
      describe: (li) => {
        li.dataset.eventId = String(ev.id);
        li.style.setProperty("--pin-colour", VIOLATION_COLOURS[ev.kind]);
        li.appendChild(el("time", null, formatDateTime(ev.ts)));
        li.appendChild(el("span", null, this.cameraName(ev.camera_id)));
      },
      pick: this.onSelect ? () => { this.onSelect(ev); return false; } : null,
    })), { offset: [0, -radius] });
  }

  publish() {
    let shown = 0;
    for (const kind of VIOLATION_KINDS) {
      this.control.setCount(kind, this.counts.get(kind), this.truncated);
      if (this.visible(kind)) shown += this.counts.get(kind);
    }
    document.body.dataset.violations = String(shown);
  }
}

/** Merged incidents as one pin per incident with a count badge (``minMembers`` or more). */
export class IncidentLayer {
  constructor(map, control, options = {}) {
    this.map = map;
    map.createPane("incidents").style.zIndex = 650;
    this.group = L.layerGroup().addTo(map);
    this.canAct = Boolean(options.canAct);
    this.minMembers = options.minMembers || 2;
    this.cameraName = options.cameraName || ((id) => id);
    this.onChange = options.onChange || (() => {});
    this.onMember = options.onMember || null;
    this.incidents = new Map();     // id -> {props, marker, node}
    this.members = new Set();       // event ids inside a drawn incident
    this.card = null;               // {entry, popup}: the incident card shown
    this.stacks = PinStacks.of(map);  // shared with the alert pins of the map
    control.addRow("incidents", t("Incidents (merged alerts)"), "vk-incidents", true,
      (on) => {
        if (on) this.group.addTo(map); else this.group.remove();
        for (const entry of this.incidents.values()) {
          if (on) this.stacks.add(entry.item); else this.stacks.remove(entry.item.uid);
        }
        this.onChange();
      });
    this.control = control;
  }

  get visible() {
    return this.map.hasLayer(this.group);
  }

  /** Whether an alert is drawn as part of an incident pin (so not as a pin of its own). */
  covers(eventId) {
    return this.visible && this.members.has(eventId);
  }

  /** Reload from the recognition API (which merges new alerts first). */
  async load(params, keep = () => true) {
    const payload = await apiGet("incidents", { ...params, format: "geojson", limit: 500 });
    for (const entry of this.incidents.values()) this.stacks.remove(entry.item.uid);
    if (this.card) this.map.closePopup(this.card.popup);
    this.card = null;
    this.group.clearLayers();
    this.incidents.clear();
    this.members.clear();
    const features = rowsOf(payload);      // newest first: drawn on top of older ones
    features.forEach((feature, rank) => {
      const props = feature.properties || {};
      if ((props.n || 0) < this.minMembers || !keep(props)) return;
      const [lon, lat] = feature.geometry.coordinates;
      this.draw({ ...props, lon, lat }, 1000 * (features.length - rank));
    });
    this.control.setCount("incidents", this.incidents.size);
    document.body.dataset.incidents = String(this.incidents.size);
    this.onChange();
  }

  draw(props, zIndexOffset = 0) {
    const node = el("div", "vigil-incident vigil-sev-"
      + (SEVERITY_NAMES[props.max_severity] || "info"));
    node.dataset.incidentId = String(props.id);
    node.dataset.n = String(props.n);
    node.style.setProperty("--pin-colour",
      SEVERITY_COLOURS[props.max_severity] || SEVERITY_COLOURS[0]);
    node.appendChild(el("span", "vigil-incident-dot"));
    node.appendChild(el("span", "vigil-incident-count", props.n));
    const marker = L.marker([props.lat, props.lon], {
      pane: "incidents",
      icon: L.divIcon({ html: node, className: "vigil-incident-icon", iconSize: [34, 34] }),
      keyboard: false,
      zIndexOffset,
      title: t("Incident: {n} alerts", { n: props.n }),
    });
    const entry = { props, marker, node };
    entry.item = { uid: "incident:" + props.id, id: props.id, incident: true, marker, node,
      ts: new Date(props.last_ts).getTime(), lat: props.lat, lon: props.lon, z: zIndexOffset,
      describe: (li) => this.describe(entry, li),
      pick: (popup) => { this.openCard(entry, popup); return true; } };
    marker.on("click", () => {
      if (this.stacks.stacked(entry.item.uid)) this.stacks.openList(entry.item.uid);
      else this.openCard(entry);
    });
    marker.addTo(this.group);
    this.incidents.set(props.id, entry);
    if (this.visible) this.stacks.add(entry.item);
    for (const m of props.members || []) this.members.add(m.event_id);
    this.styleVerdict(entry);
  }

  /** The incident's entry in a stack's list. */
  describe(entry, li) {
    const p = entry.props;
    li.dataset.incidentId = String(p.id);
    li.style.setProperty("--pin-colour", SEVERITY_COLOURS[p.max_severity] || SEVERITY_COLOURS[0]);
    li.appendChild(el("time", null, formatDateTime(p.last_ts)));
    li.appendChild(el("span", null, t("Incident: {n} alerts", { n: p.n })));
    const kinds = [...new Set((p.members || []).map((m) => kindLabel(m.kind)))];
    li.appendChild(el("span", "where", kinds.join(", ")));
  }

  /** The incident's card in ``popup`` (a stack's list), or in a popup of its own. */
  openCard(entry, popup = null) {
    const card = popup || L.popup({ className: "vigil-incident-popup", maxWidth: 340,
      minWidth: 240, offset: [0, -8] }).setLatLng(entry.marker.getLatLng());
    card.setContent(this.popup(entry));
    if (!card.isOpen()) card.openOn(this.map);
    this.card = { entry, popup: card };
  }

  styleVerdict(entry) {
    entry.node.dataset.verdict = entry.props.verdict || "";
  }

  popup(entry) {
    const p = entry.props;
    const box = el("div", "incident-card");
    box.dataset.incidentId = String(p.id);
    box.appendChild(el("strong", null, t("Incident: {n} alerts", { n: p.n })));
    box.appendChild(el("div", "incident-when",
      `${formatDateTime(p.first_ts)} – ${formatDateTime(p.last_ts)} · `
      + t("{n} cameras", { n: (p.cameras || []).length })));
    const list = el("ol", "incident-members");
    for (const m of p.members || []) {
      const li = el("li");
      li.dataset.eventId = String(m.event_id);
      li.appendChild(el("time", null, formatDateTime(m.ts)));
      li.appendChild(el("span", null, kindLabel(m.kind)));
      li.appendChild(el("span", "where", this.cameraName(m.camera_id)));
      if (this.onMember) {
        li.classList.add("clickable");
        li.addEventListener("click", () => this.onMember(m));
      }
      list.appendChild(li);
    }
    box.appendChild(list);
    const verdict = el("div", "incident-verdict");
    verdict.dataset.verdict = p.verdict || "";
    verdict.textContent = p.verdict === "true_alarm" ? t("Marked true alarm by {name}",
      { name: p.verdict_by || "" }) : p.verdict === "false_alarm"
      ? t("Marked false alarm by {name}", { name: p.verdict_by || "" }) : t("Not judged yet");
    box.appendChild(verdict);
    if (this.canAct) {
      const actions = el("div", "incident-actions");
      for (const [value, label] of [["true_alarm", t("True alarm")],
        ["false_alarm", t("False alarm")]]) {
        const button = el("button", null, label);
        button.type = "button";
        button.dataset.verdict = value;
        button.disabled = p.verdict === value;
        button.addEventListener("click", () => this.judge(entry, value));
        actions.appendChild(button);
      }
      box.appendChild(actions);
    }
    return box;
  }

  async judge(entry, verdict) {
    try {
      await apiPost("incident_verdict", { incident_id: entry.props.id }, { verdict });
      entry.props.verdict = verdict;
      entry.props.verdict_by = (config.user && config.user.name) || "";
      this.styleVerdict(entry);
      if (this.card && this.card.entry === entry) this.card.popup.setContent(this.popup(entry));
    } catch (err) {
      notify(t("Could not save: {reason}", { reason: err.message }), "error");
    }
  }
}
