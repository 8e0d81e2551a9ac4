// vigil pages: alert pins on the map. Each pin pulses on arrival and fades as it ages;
// pins at one place are one pin with a count that opens a list of them (PinStacks), and
// openPickList is that list, shared with the violation layers (layers.js).

import {
  t, el, kindLabel, formatTime, formatDateTime, SEVERITY_COLOURS, SEVERITY_NAMES,
} from "./core.js";

const L = window.L;

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
