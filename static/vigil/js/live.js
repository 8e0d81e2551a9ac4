// vigil pages: the live feed over Socket.IO.
//
// The browser remembers the id of the last event it drew. On every (re)connect it
// emits ``subscribe`` {after_id}; the server replays everything committed after that id
// from the database and then streams new rows, so a network blip or a server restart
// loses nothing (protocol: webapp/realtime.py). Events arrive in ``geo_events``
// messages; an id seen before (REST load racing the stream) is dropped.

import { config, t } from "./core.js";

export class LiveFeed {
  /**
   * handlers: {event(ev), alertState(msg), cameraStatus(msg), status(state), resync()}
   * ``afterId``: the newest event id already on screen (from the REST load), or null.
   */
  constructor(handlers, afterId = null) {
    this.handlers = handlers;
    this.lastId = afterId;
    this.subscription = {};
    this.started = false;   // the first subscribe() waits for the page's REST load
    const io = window.io;
    this.socket = io(config.socket_url || "/", {
      path: config.socket_path || "/socket.io",
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
    });
    this.socket.on("connect", () => {
      this.setStatus("live");
      if (this.started) this.subscribe();
    });
    this.socket.on("disconnect", () => this.setStatus("offline"));
    this.socket.on("connect_error", () => this.setStatus("offline"));
    this.socket.on("geo_events", (msg) => {
      for (const ev of (msg && msg.events) || []) this.receive(ev);
    });
    this.socket.on("alert_state", (msg) => handlers.alertState && handlers.alertState(msg));
    this.socket.on("camera_status", (msg) => handlers.cameraStatus && handlers.cameraStatus(msg));
  }

  /** (Re)subscribe with the last id drawn; ``extra`` (e.g. ward filters) is kept for later. */
  subscribe(extra) {
    if (extra) this.subscription = extra;
    this.started = true;
    if (!this.socket.connected) return;
    this.socket.emit("subscribe", { ...this.subscription, after_id: this.lastId }, (ack) => {
      if (!ack || ack.error) {
        console.warn("vigil: subscribe refused:", ack && ack.error);
        this.setStatus("offline");
        return;
      }
      if (ack.last_id !== undefined && ack.last_id !== null
          && (this.lastId === null || ack.last_id > this.lastId)) {
        this.lastId = ack.last_id;
        document.body.dataset.lastEventId = String(ack.last_id);
      }
      document.body.dataset.subscribed = "true";
      // More was missed than the server replays: the page reloads its data over the API.
      if (ack.truncated && this.handlers.resync) this.handlers.resync();
    });
  }

  /**
   * Record an event id as drawn; false if it is not newer than the last one. The server
   * sends ids in ascending order, each at most once per subscription, so the last id is
   * all the memory this needs (nothing grows on a wall that runs for weeks).
   */
  markSeen(id) {
    if (this.lastId !== null && id <= this.lastId) return false;
    this.lastId = id;
    document.body.dataset.lastEventId = String(id);
    return true;
  }

  receive(ev) {
    if (!ev || ev.id === undefined || ev.id === null) return;
    if (!this.markSeen(ev.id)) return;
    if (this.handlers.event) this.handlers.event(ev);
  }

  setStatus(state) {
    document.body.dataset.live = state;
    document.querySelectorAll("[data-live-status]").forEach((node) => {
      node.dataset.state = state;
      node.textContent = state === "live" ? t("Live") : t("Reconnecting…");
    });
    if (this.handlers.status) this.handlers.status(state);
  }
}
