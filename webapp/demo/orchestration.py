"""`vigil demo`: everything on one machine, started in order and stopped in reverse.

Start: database (embedded PostgreSQL unless ``VIGIL_DATABASE_URL``) → migrations → the
province's wards, zones and cameras → event writer → history backfill (simulated, the
last 24 h, so heatmaps and charts are not empty) and rollups → real analytics workers on
the sample clip for the calibrated cameras → the event simulator for the others → the web
app. Stop (Ctrl-C, SIGTERM or ``--duration``): web → simulator → workers → writer flush →
database. Each step is one context in an :class:`contextlib.ExitStack`, so a failure half
way unwinds exactly what had started.

Like ``vigil workers``, this is a command that starts analytics workers, so it is the one
place in ``webapp/`` that imports ``analytics/`` (lazily, in :meth:`Demo._workers`). The
demo owns its database: each run keeps only the chosen province's cameras.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from store.model import GeoEvent
from store.settings import Settings
from webapp.demo import seeds
from webapp.demo.media import SampleClipMissing, sample_clips
from webapp.demo.simulator import EventSimulator, SimulatedCamera, setting_of

log = logging.getLogger(__name__)

PROVINCES = {"phu-quoc": "Phú Quốc", "thanh-hoa": "Thanh Hóa"}
_PLATE_PREFIX = {"phu-quoc": "68", "thanh-hoa": "36"}
#: Simulated health events → the camera status the map shows.
_STATUS_OF_KIND = {"camera_offline": "offline", "camera_scene_change": "tampered",
                   "camera_online": "online"}


class DemoError(RuntimeError):
    """The demo cannot start; the message says what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``vigil demo`` was asked for."""

    province: str = "phu-quoc"
    host: str = "127.0.0.1"
    port: int = 5000
    workers: bool = True
    duration_s: float | None = None
    history_hours: float = 24.0
    rate_scale: float = 1.0
    tick_s: float = 1.0
    rollup_every_s: float = 30.0
    seed: int = 7
    password: str | None = None


# -- pieces ---------------------------------------------------------------------------------

def camera_seeds(province: str, wards, zones) -> list[seeds.CameraSeed]:  # noqa: ANN001
    """The province's demo cameras."""
    if province == "phu-quoc":
        return seeds.phu_quoc_cameras()
    return seeds.thanh_hoa_from_frame(wards, zones)


def simulated_cameras(cameras, zone_kinds: dict[str, str], province: str,  # noqa: ANN001
                      ) -> list[SimulatedCamera]:
    """Registry cameras (tagged with ward and zones) as the simulator sees them."""
    out = []
    for cam in cameras:
        zone = cam.zone_ids[0] if cam.zone_ids else None
        out.append(SimulatedCamera(
            id=cam.id, kind=cam.kind, lon=cam.lon, lat=cam.lat,
            heading_deg=cam.heading_deg or 0.0, fov_deg=cam.fov_deg or 90.0,
            range_m=cam.range_m or 50.0,
            setting=setting_of(zone_kinds.get(zone) if zone else None, cam.kind),
            ward_id=cam.ward_id, zone_id=zone, plate_prefix=_PLATE_PREFIX[province]))
    return out


class SimulatorLoop(threading.Thread):
    """Feeds simulated events to the writer in real time; keeps camera statuses and rollups."""

    def __init__(self, simulator: EventSimulator, submit: Callable[[GeoEvent], None],
                 url: str, tick_s: float = 1.0, rollup_every_s: float = 30.0,
                 start_at: datetime | None = None) -> None:
        super().__init__(name="vigil-demo-simulator", daemon=True)
        self.simulator = simulator
        self.submit = submit
        self.url = url
        self.tick_s = tick_s
        self.rollup_every_s = rollup_every_s
        self.last = start_at or datetime.now(timezone.utc)
        self.stopping = threading.Event()
        self.submitted = 0
        self.error: BaseException | None = None
        self._conn: Any = None                   # psycopg connection, while it works
        self._away_since: float | None = None    # the database is unreachable since

    def run(self) -> None:
        """Each tick: the tick's events to the writer, then (when the database answers)
        camera statuses, and now and then rollups and incidents.

        While the database is away (a restart) the events still go to the writer, which
        keeps them until it is back; statuses wait and are applied then.
        """
        next_rollup = time.monotonic() + self.rollup_every_s
        statuses: dict[str, str] = {}
        try:
            while not self.stopping.wait(self.tick_s):
                now = datetime.now(timezone.utc)
                for event in self.simulator.events_between(self.last, now,
                                                           step_s=max(self.tick_s, 1.0)):
                    self.submit(event)
                    self.submitted += 1
                    if event.kind in _STATUS_OF_KIND:
                        statuses[event.camera_id] = _STATUS_OF_KIND[event.kind]
                self.last = now
                due = time.monotonic() >= next_rollup
                if self._keep_up(statuses, due):
                    statuses = {}
                    if due:
                        next_rollup = time.monotonic() + self.rollup_every_s
        except Exception as exc:  # noqa: BLE001 - reported by the demo, which stops
            log.exception("the event simulator stopped")
            self.error = exc
        finally:
            self._disconnect()

    def _keep_up(self, statuses: dict[str, str], rollup: bool) -> bool:
        """Statuses (and rollups, incidents) to the database; False while it is away."""
        import psycopg
        try:
            self._write_state(statuses, rollup)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if self._away_since is None:
                self._away_since = time.monotonic()
                log.warning("the database is unreachable (%s); the simulator carries on "
                            "and the writer keeps its events until it is back",
                            str(exc).strip())
            return False
        if self._away_since is not None:
            log.warning("the database is back after %.0f s; camera statuses caught up",
                        time.monotonic() - self._away_since)
            self._away_since = None
        return True

    def _write_state(self, statuses: dict[str, str], rollup: bool) -> None:
        """On the loop's connection; one broken by a database restart is replaced once."""
        import psycopg
        from store.db import connect
        from store.incidents import merge_new
        for last_try in (self._conn is None, True):
            try:
                if self._conn is None:
                    self._conn = connect(self.url, autocommit=True)
                apply_statuses(self._conn, statuses)
                if rollup:
                    refresh_rollups(self._conn)
                    merge_new(self._conn)     # incidents form without a page open
                return
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self._disconnect()
                if last_try:
                    raise

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for it."""
        self.stopping.set()
        self.join(timeout)


def apply_statuses(conn, statuses: dict[str, str]) -> None:  # noqa: ANN001
    """Carry simulated health changes to the cameras' status (the map's marker colours)."""
    from store.registry import set_camera_status
    for camera_id, status in statuses.items():
        set_camera_status(conn, camera_id, status)


def refresh_rollups(conn) -> int:  # noqa: ANN001
    """Fold newly committed events into the heatmap rollups; returns rows folded."""
    row = conn.execute("SELECT vigil_refresh_heatmap()").fetchone()
    return int(row[0] or 0) if row else 0


# -- the demo -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoLogin:
    """What the banner prints."""

    url: str
    username: str
    password: str
    wall_url: str


class Demo:
    """One demo run; :meth:`run` blocks until ``stop`` is set or the duration ends."""

    def __init__(self, settings: Settings, options: DemoOptions,
                 say: Callable[[str], None] = print) -> None:
        if options.province not in PROVINCES:
            raise DemoError(f"--province {options.province!r}: choose one of "
                            f"{', '.join(PROVINCES)}")
        self.settings = settings
        self.options = options
        self.say = say
        self.stop_event = threading.Event()
        self.login: DemoLogin | None = None
        self.ready = threading.Event()

    def stop(self) -> None:
        """Ask a running demo to stop (signal handlers call this)."""
        self.stop_event.set()

    def run(self, on_started: Callable[[], None] | None = None) -> int:
        """Start everything in order, wait, stop everything in reverse; 0 on a clean run.

        ``on_started`` is called once the database is up (the command installs its signal
        handlers there); a stop asked for during start-up skips the remaining steps.
        """
        opts = self.options
        with ExitStack() as stack:
            from store.db import open_database
            self.say(f"vigil demo: {PROVINCES[opts.province]} — starting the database…")
            url = stack.enter_context(open_database(self.settings))
            stack.callback(self.say, "vigil demo: database stopped")
            if on_started is not None:
                on_started()
            cameras, zone_kinds = self._prepare(url)
            writer = stack.enter_context(self._writer(url))
            if self.stop_event.is_set():
                return self._stopping()
            sim_cams, real_cams = self._split(cameras)
            simulator = EventSimulator(
                simulated_cameras(sim_cams, zone_kinds, opts.province), seed=opts.seed,
                rate_scale=opts.rate_scale,
                crowd_sample_s=60.0 if len(sim_cams) < 500 else 300.0)
            started = self._backfill(url, writer, simulator,
                                     simulated_cameras(real_cams, zone_kinds, opts.province))
            if self.stop_event.is_set():
                return self._stopping()
            if real_cams:
                stack.enter_context(self._workers(url, real_cams))
            loop = SimulatorLoop(simulator, writer.submit, url, opts.tick_s,
                                 opts.rollup_every_s, start_at=started)
            loop.start()
            stack.callback(self._stop_loop, loop)
            _app, port = stack.enter_context(self._web(url))
            self._banner(port, len(cameras), len(real_cams), len(sim_cams))
            self.ready.set()
            deadline = None if opts.duration_s is None else time.monotonic() + opts.duration_s
            while not self.stop_event.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self.stop_event.wait(1.0 if left is None else min(1.0, left))
                if loop.error is not None:
                    raise DemoError(f"the event simulator failed: {loop.error}")
            self._stopping()
        self.say("vigil demo: stopped cleanly")
        return 0

    def _stopping(self) -> int:
        self.say("vigil demo: stopping (web → simulator → workers → writer → database)…")
        return 0

    # -- start-up steps -----------------------------------------------------------------

    def _prepare(self, url: str):  # noqa: ANN202
        """Migrate; load wards, zones and cameras; returns (cameras, zone kind by id)."""
        from gis.boundaries import load_shipped
        from store import migrate
        from store.db import connect
        from store.registry import Camera, list_cameras, replace_wards, replace_zones, \
            upsert_cameras
        opts = self.options
        migrate.upgrade(url, self.settings.migrations_dir,
                        partitions_ahead_days=self.settings.partitions_ahead_days)
        wards, zones = load_shipped(opts.province)
        seeds_ = camera_seeds(opts.province, wards, zones)
        calibrated = [s.id for s in seeds_ if s.homography is not None]
        clips: dict[str, str] = {}
        if opts.workers and calibrated:
            try:
                found = sample_clips(self.settings.state_dir / "media", len(calibrated))
            except SampleClipMissing as exc:
                raise DemoError(str(exc)) from None
            clips = {cid: str(path) for cid, path in zip(calibrated, found)}
        with connect(url, autocommit=True) as conn:
            # the demo owns this database: one province's areas and cameras at a time
            conn.execute("DELETE FROM cameras WHERE id <> ALL(%s)", ([s.id for s in seeds_],))
            replace_wards(conn, wards)
            replace_zones(conn, zones, keep_geofences=True)
            records = []
            for seed in seeds_:
                rec = seed.as_record()
                rec["stream_url"] = clips.get(seed.id)
                rec["status"] = "online"
                records.append(Camera(**rec))
            upsert_cameras(conn, records)
            cameras = list_cameras(conn)
        zone_kinds = dict(zip(zones["id"].astype(str), zones["kind"].astype(str)))
        self.say(f"vigil demo: {len(wards)} wards, {len(zones)} zones, "
                 f"{len(cameras)} cameras loaded (positions and boundaries approximate)")
        return cameras, zone_kinds

    def _split(self, cameras):  # noqa: ANN202
        """(cameras the simulator drives, cameras real workers analyse)."""
        real = [c for c in cameras if self.options.workers and c.stream_url]
        real_ids = {c.id for c in real}
        return [c for c in cameras if c.id not in real_ids], real

    @contextmanager
    def _writer(self, url: str) -> Iterator:
        from store.writer import EventWriter
        writer = EventWriter(url, self.settings)
        try:
            yield writer
        finally:
            try:
                writer.flush(timeout=30)
            finally:
                writer.close()
                st = writer.stats
                self.say(f"vigil demo: event writer flushed and closed ({st.stored} stored, "
                         f"{st.rejected} rejected, {st.overflowed} overflowed)")

    def _backfill(self, url: str, writer, simulator: EventSimulator,  # noqa: ANN001
                  real: list[SimulatedCamera]) -> datetime:
        """Simulated history up to now (only the gap since the last run), rollups refreshed.

        The live simulator writes the history of its own cameras, so outages still under
        way at the end carry on live; the cameras real workers analyse get their (equally
        simulated) past from a second simulator.
        """
        from store.db import connect
        opts = self.options
        now = datetime.now(timezone.utc)
        start = now - timedelta(hours=opts.history_hours)
        with connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT max(ts) FROM events WHERE attributes @> %s::jsonb",
                               ('{"simulated": true}',)).fetchone()
        if row and row[0] is not None and row[0] > start:
            start = row[0] + timedelta(microseconds=1)
        if start >= now or opts.history_hours <= 0:
            return now
        t0 = time.perf_counter()
        big = len(simulator.cameras) >= 500
        live_rates = simulator.crowd_sample_s, simulator.count_sample_s
        simulator.crowd_sample_s, simulator.count_sample_s = (900.0 if big else 120.0), 900.0
        streams = [simulator.events_between(start, now, step_s=300.0)]
        if real:
            streams.append(EventSimulator(real, seed=opts.seed + 1, rate_scale=opts.rate_scale,
                                          crowd_sample_s=120.0, count_sample_s=900.0)
                           .events_between(start, now, step_s=300.0))
        n = 0
        statuses: dict[str, str] = {}
        for stream in streams:
            batch: list[GeoEvent] = []
            for event in stream:
                batch.append(event)
                if event.kind in _STATUS_OF_KIND:
                    statuses[event.camera_id] = _STATUS_OF_KIND[event.kind]
                if len(batch) >= 5000:
                    n += writer.submit_many(batch)
                    batch = []
            n += writer.submit_many(batch)
        simulator.crowd_sample_s, simulator.count_sample_s = live_rates
        if not writer.flush(timeout=600):
            raise DemoError("the history could not be written within 10 minutes")
        real_ids = {c.id for c in real}
        with connect(url, autocommit=True) as conn:
            apply_statuses(conn, {k: v for k, v in statuses.items() if k not in real_ids})
            folded = refresh_rollups(conn)
        self.say(f"vigil demo: {n} simulated events of history "
                 f"({(now - start).total_seconds() / 3600:.1f} h) written in "
                 f"{time.perf_counter() - t0:.1f} s, {folded} rolled up")
        return now

    @contextmanager
    def _workers(self, url: str, cameras) -> Iterator[None]:  # noqa: ANN001
        """Real analytics on the sample clip: the supervisor runs the registry's cameras
        that have a stream (the calibrated ones), in one worker sharing a batched detector."""
        from analytics.supervisor import Supervisor, SupervisorOptions
        supervisor = Supervisor(self.settings, url, options=SupervisorOptions(
            group_size=max(1, len(cameras)), poll_s=30.0))
        supervisor.start()
        pids = [s.process.pid for s in supervisor.slots.values() if s.process is not None]
        self.say(f"vigil demo: analytics worker (pid {', '.join(map(str, pids)) or '-'}) "
                 f"analysing the sample clip for {', '.join(c.id for c in cameras)}")
        try:
            yield
        finally:
            supervisor.stop()
            self.say("vigil demo: analytics workers stopped")

    def _stop_loop(self, loop: SimulatorLoop) -> None:
        loop.stop()
        self.say(f"vigil demo: simulator stopped ({loop.submitted} live events)")

    @contextmanager
    def _web(self, url: str) -> Iterator[tuple]:
        """The map app on the shared threaded server (:class:`webapp.server.WebServer`)."""
        from webapp import create_app
        from webapp.auth.bootstrap import ensure_first_admin
        from webapp.server import WebServer
        opts = self.options
        login = ensure_first_admin(url, reset=True, password=opts.password,
                                   login_file=self.settings.state_dir / "web_login.json")
        app = create_app({"SETTINGS": self.settings, "DATABASE_URL": url,
                          "LOGIN_FILE": None, "DEMO": True})
        try:
            # Werkzeug reports a busy port with sys.exit(1), other bind errors as OSError
            server = WebServer(app, opts.host, opts.port)
        except (OSError, SystemExit) as exc:
            from webapp import db, realtime
            realtime.shutdown(app)
            db.close_pool(app)
            why = getattr(exc, "strerror", None) or "the address is in use or not available"
            raise DemoError(f"cannot listen on {opts.host}:{opts.port}: {why}; "
                            "choose another port with --port") from None
        server.start()
        self.login = DemoLogin(server.url + "/", login.username, login.password,
                               f"{server.url}/wall?token={login.wall_token}")
        try:
            yield app, server.port
        finally:
            server.stop()
            self.say("vigil demo: web server stopped")

    def _banner(self, port: int, n_cameras: int, n_real: int, n_sim: int) -> None:
        login = self.login
        assert login is not None
        lines = [
            "",
            f"  vigil demo — {PROVINCES[self.options.province]}: {n_cameras} cameras",
            f"    {n_real} analysed live from the sample clip (vtest.avi), "
            f"{n_sim} driven by the EVENT SIMULATOR",
            "    (simulated events are labelled \"simulated\" on the map and in the API)",
            "",
            f"  Map (commander):  {login.url}",
            f"  Login:            user {login.username}   password {login.password}",
            f"  Map wall (kiosk): {login.wall_url}",
            f"  Planner:          {login.url}planner",
            "",
            "  Ctrl-C stops everything.",
            "",
        ]
        self.say("\n".join(lines))


def replace_settings(settings: Settings, **changes) -> Settings:  # noqa: ANN003
    """A copy of frozen settings with some values changed (validated again)."""
    return type(settings)(**{**settings.model_dump(), **changes})

