"""Keeping the event store in shape: rollups, incidents, partitions ahead, retention.

:func:`maintain` does one round; :class:`Maintainer` runs it in a thread (rollups and
incident merging every few seconds, so incidents form without anyone opening a page;
partitions and retention hourly). Both layouts are served by the same SQL
functions (``migrations/repeatable/events.sql``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import psycopg

from store.incidents import merge_new
from store.migrate import ensure_partitions
from store.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenanceResult:
    """What one round did."""

    rolled_up: int
    partitions_made: int
    dropped: int
    merged: int = 0     # alert events merged into incidents


def refresh_rollups(conn: psycopg.Connection) -> int:
    """Fold newly committed events into the heatmap rollups; returns how many."""
    with conn.transaction():
        return int(conn.execute("SELECT vigil_refresh_heatmap()").fetchone()[0])


def apply_retention(conn: psycopg.Connection, days: int) -> int:
    """Drop chunks/partitions (and rollups, heartbeats) older than ``days``."""
    with conn.transaction():
        return int(conn.execute("SELECT vigil_apply_retention(make_interval(days => %s))",
                                (days,)).fetchone()[0])


def maintain(conn: psycopg.Connection, settings: Settings, housekeeping: bool = True,
             incident_radius_m: float = 300.0, incident_window_s: float = 300.0
             ) -> MaintenanceResult:
    """One round: rollups and incident merging; with ``housekeeping`` also partitions
    ahead and retention."""
    rolled = refresh_rollups(conn)
    merged = merge_new(conn, incident_radius_m, incident_window_s)
    made = dropped = 0
    if housekeeping:
        with conn.transaction():
            made = ensure_partitions(conn, ahead_days=settings.partitions_ahead_days)
        dropped = apply_retention(conn, settings.retention_days)
        if conn.autocommit:  # keeps the rollups' index-only scans index-only
            for table in ("heatmap_rollup", "heatmap_cell_span", "heatmap_kind_span",
                          "ward_kind_span"):
                conn.execute(f"VACUUM (SKIP_LOCKED) {table}")
        if made or dropped:
            log.info("event partitions made: %d; chunks/partitions dropped: %d", made, dropped)
    return MaintenanceResult(rolled, made, dropped, merged)


class Maintainer:
    """Background maintenance: ``maintain`` every ``every_s``, housekeeping hourly."""

    def __init__(self, url: str, settings: Settings, every_s: float = 5.0,
                 housekeeping_s: float = 3600.0, incident_radius_m: float = 300.0,
                 incident_window_s: float = 300.0) -> None:
        self.url = url
        self.incident_radius_m = incident_radius_m
        self.incident_window_s = incident_window_s
        self.settings = settings
        self.every_s = every_s
        self.housekeeping_s = housekeeping_s
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-maintainer",
                                        daemon=True)

    def start(self) -> "Maintainer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        last_house = 0.0
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True,
                                           application_name="vigil-maintainer")
                house = time.monotonic() - last_house >= self.housekeeping_s
                maintain(conn, self.settings, housekeeping=house,
                         incident_radius_m=self.incident_radius_m,
                         incident_window_s=self.incident_window_s)
                if house:
                    last_house = time.monotonic()
                self.rounds += 1
            except psycopg.Error as exc:
                log.warning("store maintenance failed (%s); retrying", str(exc).strip())
                if conn is not None:
                    conn.close()
                conn = None
            self._stop.wait(self.every_s)
        if conn is not None:
            conn.close()
