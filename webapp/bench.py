"""``vigil bench web``: alert latency from row commit to receipt by N Socket.IO clients.

Loopback only, bounded in count and time. A throwaway database (``vigil_bench_web_<pid>``)
on the configured or embedded server is migrated and seeded with two wards and a few
cameras; the app is served by :class:`webapp.server.WebServer` exactly as ``vigil serve``
runs it, N python-socketio clients (kiosk token, all wards) subscribe, and a producer
commits alerts in batches every ``batch_ms`` — ids under the writer's lock, one NOTIFY
per batch, as :class:`store.writer.EventWriter` does — at ``rate`` per second for
``seconds``. Latency = receipt time − the moment the batch's COMMIT was sent (so it
includes the commit itself and is never negative), over every (client, alert) pair. The
server runs in this process, the clients (10 per process) and the producer in spawned
child processes (one monotonic clock on Linux), so that 50 Python clients do not steal
the server's interpreter lock — in production they are browsers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from store.db import connect, open_database
from store.migrate import drop_database, fresh_database
from store.settings import Settings
from store.writer import ID_LOCK_KEY, NOTIFY_CHANNEL

log = logging.getLogger(__name__)

KINDS = ("intrusion", "fight", "loitering", "abandoned_object", "plate_match")
WARDS = ("bench-ward-1", "bench-ward-2")
CLIENTS_PER_PROCESS = 10


@dataclass
class WebBenchResult:
    """What one run measured."""

    clients: int
    rate: int
    seconds: int
    batch_ms: int
    sent: int = 0
    received: int = 0
    latencies_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    connect_s: float = 0.0
    produce_s: float = 0.0
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    async_mode: str = "threading"
    cpu_server_s: float = 0.0
    cpu_clients_s: float = 0.0

    def report(self) -> list[str]:
        """The figures, one per line."""
        lat = self.latencies_ms
        expected = self.sent * self.clients
        lines = [
            f"web bench: {self.clients} Socket.IO clients, {self.rate} alerts/s for "
            f"{self.seconds} s (commit every {self.batch_ms} ms), loopback,"
            f" {self.async_mode} mode",
            f"  machine: {self.cpu_count} CPUs, load average before "
            f"{self.load_before[0]:.2f} {self.load_before[1]:.2f} {self.load_before[2]:.2f}",
            f"  alerts committed: {self.sent} in {self.produce_s:.1f} s "
            f"({self.sent / max(self.produce_s, 1e-9):.0f}/s); clients connected in "
            f"{self.connect_s:.1f} s",
            f"  CPU seconds: web server {self.cpu_server_s:.1f}, the {self.clients} "
            f"clients {self.cpu_clients_s:.1f}",
            f"  deliveries: {self.received} of {expected} "
            f"({100.0 * self.received / max(expected, 1):.2f} %)",
        ]
        if lat.size:
            p50, p90, p99 = np.percentile(lat, [50, 90, 99])
            lines.append(f"  latency commit → client (ms): p50 {p50:.1f}  p90 {p90:.1f}  "
                         f"p99 {p99:.1f}  max {lat.max():.1f}")
            lines.append(f"  goal p99 ≤ 250 ms: {'met' if p99 <= 250 else 'NOT met'}")
        return lines


def _seed(conn: psycopg.Connection) -> list[tuple[str, str, float, float]]:
    cameras = []
    square = {"type": "Polygon", "coordinates": [[[103.9, 10.1], [104.1, 10.1], [104.1, 10.3],
                                                  [103.9, 10.3], [103.9, 10.1]]]}
    with conn.transaction():
        for ward in WARDS:
            conn.execute("INSERT INTO wards (id, name, geometry) VALUES (%s, %s, %s::jsonb)",
                         (ward, ward, json.dumps(square)))
        for i in range(20):
            cam = (f"bench-cam-{i:02d}", WARDS[i % 2], 103.95 + i * 0.003, 10.2 + i * 0.002)
            conn.execute("INSERT INTO cameras (id, name, lon, lat, ward_id, status) "
                         "VALUES (%s, %s, %s, %s, %s, 'online')",
                         (cam[0], cam[0], cam[2], cam[3], cam[1]))
            cameras.append(cam)
    return cameras


class _Receiver:
    """One Socket.IO client noting when each event id arrived."""

    def __init__(self, url: str, token: str) -> None:
        import socketio
        self.url, self.token = url, token
        self.arrivals: list[tuple[int, float]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("geo_events", self._on_events)

    def _on_events(self, message: dict) -> None:
        now = time.monotonic()
        self.arrivals.extend((e["id"], now) for e in message["events"])

    def connect(self) -> None:
        self.sio.connect(self.url, auth={"token": self.token}, transports=["websocket"],
                         wait_timeout=20)
        self.sio.call("subscribe", {"after_id": None}, timeout=20)

    def close(self) -> None:
        self.sio.disconnect()


def _clients_process(url: str, token: str, n: int, ready: Any, expected: Any,
                     out: Any) -> None:
    """Child process: N clients; report connect time, then every (id, arrival)."""
    t0 = time.monotonic()
    receivers = []
    for _ in range(n):
        receiver = _Receiver(url, token)
        receiver.connect()
        receivers.append(receiver)
    ready.put(time.monotonic() - t0)
    total = expected.get()                       # alerts committed, once the producer is done
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(len(r.arrivals) for r in receivers) < total * n:
        time.sleep(0.05)
    out.put(([a for r in receivers for a in r.arrivals], time.process_time()))
    for receiver in receivers:
        receiver.close()


def _producer_process(url: str, cameras: list, rate: int, seconds: int, batch_ms: int,
                      out: Any) -> None:
    """Child process: commit ``rate`` alerts/s in batches as the writer does; report
    id → monotonic time its COMMIT was sent, and the time it took."""
    committed: dict[int, float] = {}
    per_batch = max(1, round(rate * batch_ms / 1000))
    batches = max(1, round(seconds * rate / per_batch))
    rng = np.random.default_rng(7)
    with connect(url) as conn:
        start = time.monotonic()
        for b in range(batches):
            delay = start + b * per_batch / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            picks = [cameras[int(i)] for i in rng.integers(0, len(cameras), per_batch)]
            now = datetime.now(timezone.utc)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (ID_LOCK_KEY,))
                ids = [r[0] for r in cur.execute(
                    "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id) "
                    "SELECT %s, c, k, 2, x, y, w FROM unnest(%s::text[], %s::text[], "
                    "%s::float8[], %s::float8[], %s::text[]) AS u(c, k, x, y, w) RETURNING id",
                    (now, [p[0] for p in picks],
                     [KINDS[i % len(KINDS)] for i in range(b, b + per_batch)],
                     [p[2] for p in picks], [p[3] for p in picks], [p[1] for p in picks])
                ).fetchall()]
                cur.execute("SELECT pg_notify(%s, json_build_object('first_id', %s::bigint, "
                            "'last_id', %s::bigint)::text)", (NOTIFY_CHANNEL, min(ids), max(ids)))
            sent = time.monotonic()          # COMMIT sent: the latency includes the commit
            conn.commit()
            committed.update((i, sent) for i in ids)
        out.put((committed, time.monotonic() - start))


_GEVENT_SERVER = """
from gevent import monkey; monkey.patch_all()
import json, sys
from store.settings import load_settings
from webapp import create_app, socketio
args = json.loads(sys.argv[1])
settings = load_settings({"state_dir": args["state_dir"],
                          "socket_max_per_address": args["sockets"]}, environ={})
app = create_app({"SETTINGS": settings, "DATABASE_URL": args["url"], "USERS": {},
                  "LOGIN_FILE": None, "REALTIME": True, "SOCKETIO_ASYNC_MODE": "gevent",
                  "WALL_TOKENS": {args["token"]: {"name": "bench"}}, "DB_POOL_SIZE": 4})
print("READY", flush=True)
socketio.run(app, host="127.0.0.1", port=args["port"], log_output=False)
"""


class _GeventServer:
    """The app under gevent (monkey-patched first) in a child process."""

    def __init__(self, settings: Settings, url: str, token: str) -> None:
        import socket
        import subprocess
        import sys
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        args = json.dumps({"state_dir": str(settings.state_dir), "url": url, "token": token,
                           "port": port, "sockets": settings.socket_max_per_address})
        self.proc = subprocess.Popen([sys.executable, "-c", _GEVENT_SERVER, args],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            raise RuntimeError("the gevent server did not start (is gevent importable?)")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def run_web_bench(settings: Settings, *, clients: int = 50, rate: int = 200,
                  seconds: int = 10, batch_ms: int = 20,
                  async_mode: str = "threading") -> WebBenchResult:
    """Run the benchmark once: the server in this process, the clients and the producer
    in two child processes (each with its own interpreter lock, as in production)."""
    from webapp import create_app
    from webapp.server import WebServer

    result = WebBenchResult(clients, rate, seconds, batch_ms, load_before=os.getloadavg(),
                            async_mode=async_mode)
    # every client connects from 127.0.0.1: allow them all (webapp.socket_limits)
    settings = settings.model_copy(update={"socket_max_per_address": max(
        settings.socket_max_per_address, clients + 10)})
    token = secrets.token_urlsafe(16)
    spawn = mp.get_context("spawn")
    bench_name = f"vigil_bench_web_{os.getpid()}"
    with open_database(settings) as url:
        bench_url = fresh_database(url, bench_name)
        server = None
        procs: list[Any] = []
        try:
            with connect(bench_url) as conn:
                cameras = _seed(conn)
            if async_mode == "gevent":
                server = _GeventServer(settings, bench_url, token)
            else:
                app = create_app({"SETTINGS": settings, "DATABASE_URL": bench_url,
                                  "USERS": {}, "LOGIN_FILE": None, "REALTIME": True,
                                  "WALL_TOKENS": {token: {"name": "bench"}},
                                  "DB_POOL_SIZE": 4})
                server = WebServer(app, "127.0.0.1", 0).start()
            cpu0 = server.cpu_seconds() if isinstance(server, _GeventServer) \
                else time.process_time()
            ready, expected, arrivals, produced = (spawn.Queue() for _ in range(4))
            groups = [min(CLIENTS_PER_PROCESS, clients - i)
                      for i in range(0, clients, CLIENTS_PER_PROCESS)]
            t0 = time.monotonic()
            for n in groups:
                procs.append(spawn.Process(target=_clients_process, daemon=True, args=(
                    server.url, token, n, ready, expected, arrivals)))
                procs[-1].start()
            for _ in groups:
                ready.get(timeout=120)
            result.connect_s = time.monotonic() - t0
            producer = spawn.Process(target=_producer_process, daemon=True, args=(
                bench_url, cameras, rate, seconds, batch_ms, produced))
            procs.append(producer)
            producer.start()
            committed, result.produce_s = produced.get(timeout=seconds * 3 + 60)
            result.sent = len(committed)
            for _ in groups:
                expected.put(result.sent)
            latencies = []
            for _ in groups:
                received, cpu = arrivals.get(timeout=60)
                result.cpu_clients_s += cpu
                latencies += [(t - committed[i]) * 1000.0 for i, t in received
                              if i in committed]
            result.cpu_server_s = (server.cpu_seconds() if isinstance(server, _GeventServer)
                                   else time.process_time()) - cpu0
            result.received = len(latencies)
            result.latencies_ms = np.array(latencies)
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
            if server is not None:
                server.stop()
            drop_database(url, bench_name)
    return result
