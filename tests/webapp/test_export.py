"""Exports a person opens: no cell a spreadsheet would run (also after leading spaces or
line breaks), times in Asia/Ho_Chi_Minh to the second, names beside the ids, in the
reader's language."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from tests.webapp.web_testing import WARD_A, seed_areas
from webapp.api.export import csv_text, safe_cell

LOCAL_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")
FORMULAS = ["=1+2", " =1+2", "\n=HYPERLINK(\"http://x\")", "\r\n@SUM(A1)", "  +cmd",
            "\t-2+3", "\u00a0=1", "\r=x", "\nPhường"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_a_spreadsheet_would_run_is_prefixed(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value, cell", [
    ("Phường 1", "Phường 1"), ("Chợ đêm = vui", "Chợ đêm = vui"), (3, 3), (-2.5, -2.5),
    (None, ""), (float("nan"), ""), ({"a": "=1"}, '{"a":"=1"}'), (["@x"], '["@x"]'),
])
def test_other_cells_pass_as_they_are(value, cell):
    assert safe_cell(value) == cell


def test_csv_text_has_bom_and_safe_header_and_cells():
    text = csv_text(["id", " =name"], [[1, " =1+2"], [2, "Cảng"]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [["id", "' =name"], ["1", "' =1+2"], ["2", "Cảng"]]


@pytest.fixture
def seeded(db_app: Flask, conn) -> Flask:
    seed_areas(conn)
    return db_app


def _event(conn, camera_id: str, kind: str, ward_id: str | None, attributes: dict,
           zone_id: str | None = None, ts: datetime | None = None) -> int:
    from store.migrate import ensure_partitions
    from store.model import EVENT_KINDS
    if ts is not None:
        ensure_partitions(conn, ts.date(), ts.date())
        conn.commit()
    with conn.transaction():
        return conn.execute(
            "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id, zone_id, "
            "attributes) VALUES (%s, %s, %s, %s, 103.96, 10.22, %s, %s, %s::jsonb) "
            "RETURNING id", (ts or datetime.now(timezone.utc) - timedelta(minutes=1),
                             camera_id, kind, int(EVENT_KINDS[kind].severity), ward_id,
                             zone_id, json.dumps(attributes))).fetchone()[0]


def test_event_export_cells_after_spaces_or_line_breaks_are_not_formulas(seeded, conn,
                                                                          login):
    conn.execute("UPDATE cameras SET name = %s WHERE id = 'cam-a'", ("  =cmd|' /C calc'!A0",))
    conn.execute("UPDATE wards SET name = %s WHERE id = %s", ("\n+SUM(1)", WARD_A))
    conn.commit()
    for text in FORMULAS:
        _event(conn, "cam-a", "fight", WARD_A, {"rule": text})
    client = seeded.test_client()
    login(client, "admin")
    rows = list(csv.reader(io.StringIO(
        client.get("/api/v1/events/export").data.decode("utf-8-sig"))))[1:]
    cells = [c for row in rows for c in row]
    assert len(rows) == len(FORMULAS)
    assert "'  =cmd|' /C calc'!A0" in cells and "'\n+SUM(1)" in cells
    assert not [c for c in cells
                if c[:1] in ("\t", "\r", "\n") or c.lstrip()[:1] in ("=", "+", "-", "@")], cells


def test_event_exports_give_local_times_and_names(seeded, conn, login):
    at = datetime(2026, 12, 1, 18, 30, 5, 123456, tzinfo=timezone.utc)   # 01:30:05 on 2/12 in VN
    fight = _event(conn, "cam-a", "fight", WARD_A, {}, zone_id="night-market", ts=at)
    client = seeded.test_client()
    login(client, "operator")
    query = "since=2026-12-01T18:00:00Z&until=2026-12-01T19:00:00Z"
    answer = client.get(f"/api/v1/events/export?{query}")
    (row,) = csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig")))
    assert row["event_id"] == str(fight) and row["ts"] == "2026-12-02T01:30:05+07:00"
    assert (row["kind"], row["kind_name"]) == ("fight", "Ẩu đả")
    assert (row["camera_id"], row["camera_name"]) == ("cam-a", "Chợ đêm <b>Dinh Cậu</b>")
    assert (row["ward_id"], row["ward_name"]) == (WARD_A, f"Phường {WARD_A}")
    assert (row["zone_id"], row["zone_name"]) == ("night-market", "Chợ đêm")
    doc = client.get(f"/api/v1/events/export?format=json&lang=en&{query}").json
    (event,) = doc["events"]
    assert event["ts"] == "2026-12-02T01:30:05+07:00" and event["kind_name"] == "Fight"
    assert event["camera_name"] == "Chợ đêm <b>Dinh Cậu</b>" and event["zone_name"] == "Chợ đêm"
    assert event["alert"]["status"] == "new"
    assert LOCAL_ISO.match(doc["exported_at"]) and doc["timezone"] == "Asia/Ho_Chi_Minh"
    assert doc["filters"]["since"] == "2026-12-02T01:00:00+07:00"
    assert doc["filters"]["until"] == "2026-12-02T02:00:00+07:00"


def test_plate_export_gives_local_times_and_names(seeded, conn, login):
    at = datetime(2026, 12, 1, 18, 30, 5, 123456, tzinfo=timezone.utc)
    _event(conn, "cam-b", "plate_read", "ward-b",
           {"plate": "51G-123.45", "plate_compact": "51G12345"}, ts=at)
    client = seeded.test_client()
    login(client, "operator")
    text = client.get("/api/v1/recognition/plates?plate=51G-123&format=csv"
                      "&since=2026-12-01T18:00:00Z&until=2026-12-01T19:00:00Z&lang=en")
    (row,) = csv.DictReader(io.StringIO(text.data.decode("utf-8-sig")))
    assert row["ts"] == "2026-12-02T01:30:05+07:00"
    assert (row["kind"], row["kind_name"]) == ("plate_read", "Plate read")
    assert (row["camera_id"], row["camera_name"]) == ("cam-b", "Cảng Bãi Vòng")
    assert (row["ward_id"], row["ward_name"]) == ("ward-b", "Phường ward-b")
