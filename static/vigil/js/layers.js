// vigil pages: toggleable map layers shared by the commander and the planner.
//
// ``LayerControl`` is a small on-map box of checkboxes (built from DOM nodes, never from
// HTML strings, so it works under the strict content security policy). ``ViolationLayers``
// draws each traffic violation and left-object kind as its own layer, fed from the events
// API with the page's filters. ``IncidentLayer`` draws merged incidents (alerts from
// several cameras, store/incidents.py) as one pin with a count badge; its popup lists the
// member events and, for those who act on alerts, marks the incident true or false alarm.
// Incidents at one place are one pin whose list picks an incident (PinStacks, map.js).

import {
  config, t, el, kindLabel, formatDateTime, apiGet, apiPost, rowsOf, notify,
  SEVERITY_NAMES, SEVERITY_COLOURS,
} from "./core.js";
import { PinStacks } from "./map.js";

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

/** Each violation kind as its own layer of circle markers (SVG: one node per event). */
export class ViolationLayers {
  constructor(map, control, options = {}) {
    this.map = map;
    map.createPane("violations").style.zIndex = 430;
    this.renderer = L.svg({ pane: "violations", padding: 0.3 });
    this.pageSize = options.pageSize || 1000;
    this.maxPages = options.maxPages || 3;
    this.cameraName = options.cameraName || ((id) => id);
    this.onSelect = options.onSelect || null;
    this.layers = new Map();
    this.ids = new Set();
    this.counts = new Map();
    this.control = control;
    for (const kind of VIOLATION_KINDS) {
      const group = L.layerGroup().addTo(map);
      this.layers.set(kind, group);
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
    for (const ev of rows) this.add(ev, false);
    this.publish();
  }

  clear() {
    for (const group of this.layers.values()) group.clearLayers();
    this.ids.clear();
    for (const kind of VIOLATION_KINDS) this.counts.set(kind, 0);
  }

  /** Draw one event of a violation kind (others are ignored); ``live`` ones update counts. */
  add(ev, live = true) {
    const group = this.layers.get(ev.kind);
    if (!group || this.ids.has(ev.id) || !Number.isFinite(ev.lat)) return;
    this.ids.add(ev.id);
    const colour = VIOLATION_COLOURS[ev.kind];
    const marker = L.circleMarker([ev.lat, ev.lon], {
      renderer: this.renderer, radius: 6, weight: 2, color: "#0b1220", fillColor: colour,
      fillOpacity: 0.9, className: "vigil-violation vk-" + ev.kind,
    });
    const tip = el("span");
    tip.appendChild(el("strong", null, kindLabel(ev.kind)));
    tip.appendChild(el("span", null, " · " + formatDateTime(ev.ts) + " · "
      + this.cameraName(ev.camera_id)));
    marker.bindTooltip(tip, { className: "vigil-tip", direction: "top" });
    if (this.onSelect) marker.on("click", () => this.onSelect(ev));
    marker.addTo(group);
    this.counts.set(ev.kind, this.counts.get(ev.kind) + 1);
    if (live) this.publish();
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
