"""Test users and tokens of the map application tests (one user per role)."""

from werkzeug.security import generate_password_hash

PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # cheap, tests only
WALL_TOKEN = "wall-token-for-tests-0123456789"
WARD_A, WARD_B = "ward-a", "ward-b"
USERS = {
    "admin": {"password_hash": _HASH, "role": "admin"},
    "commander": {"password_hash": _HASH, "role": "commander", "wards": [WARD_A]},
    "operator": {"password_hash": _HASH, "role": "operator"},
    "planner": {"password_hash": _HASH, "role": "planner"},
}
ROLES = ("admin", "commander", "operator", "planner", "wall")


def _square(lon: float, lat: float, d: float = 0.01) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                [lon + d, lat + d], [lon - d, lat + d],
                                                [lon - d, lat - d]]]}


#: Two wards on Phú Quốc, a camera in each, one without a ward.
CAMERAS = [("cam-a", "Chợ đêm <b>Dinh Cậu</b>", 103.96, 10.22, WARD_A, "online"),
           ("cam-b", "Cảng Bãi Vòng", 104.04, 10.15, WARD_B, "offline"),
           ("cam-x", "Ngoài phường", 103.90, 10.40, None, "tampered")]


def seed_areas(conn) -> None:
    """Wards, a zone and cameras, committed."""
    with conn.transaction():
        for ward, lon, lat in ((WARD_A, 103.96, 10.22), (WARD_B, 104.04, 10.15)):
            conn.execute("INSERT INTO wards (id, name, province, geometry) "
                         "VALUES (%s, %s, 'Kiên Giang', %s::jsonb)",
                         (ward, f"Phường {ward}", __import__("json").dumps(_square(lon, lat))))
        conn.execute("INSERT INTO zones (id, name, kind, ward_id, geometry) VALUES "
                     "('night-market', 'Chợ đêm', 'market', %s, %s::jsonb)",
                     (WARD_A, __import__("json").dumps(_square(103.96, 10.22, 0.002))))
        for cid, name, lon, lat, ward, status in CAMERAS:
            conn.execute("INSERT INTO cameras (id, name, lon, lat, ward_id, status, stream_url) "
                         "VALUES (%s, %s, %s, %s, %s, %s, 'rtsp://user:secret@cam/1')",
                         (cid, name, lon, lat, ward, status))


def insert_event(conn, camera_id: str, kind: str, ward_id: str | None, *,
                 ts=None, value: float | None = None, evidence_path: str | None = None,
                 lon: float = 103.96, lat: float = 10.22, cell_id: int | None = None) -> int:
    """One event row, committed at once (like the writer's batches); its id."""
    from datetime import datetime, timezone
    from store.model import EVENT_KINDS
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id, value, "
            "cell_id, evidence_path, evidence_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s) RETURNING id",
            (ts or datetime.now(timezone.utc), camera_id, kind,
             int(EVENT_KINDS[kind].severity), lon, lat, ward_id, value, cell_id,
             evidence_path, "0" * 64 if evidence_path else None)).fetchone()
        conn.execute("SELECT pg_notify('vigil_events', json_build_object("
                     "'first_id', %s::bigint, 'last_id', %s::bigint)::text)", (row[0], row[0]))
    return row[0]
