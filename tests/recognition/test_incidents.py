"""Incidents across cameras on a real database: merge by kind group, distance and time;
verdicts; per-rule precision."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from store import incidents as inc
from store.model import GeoEvent
from store.registry import Camera, upsert_cameras
from store.writer import EventWriter

LON, LAT = 105.7760, 19.8070  # Thanh Hóa
DEG_100M = 100 / 111_320  # ≈ 100 m of latitude


def _write(db_url, settings, events):
    writer = EventWriter(db_url, settings)
    for e in events:
        writer.submit(e)
    writer.flush(timeout=30)
    writer.close()


def _ev(cam, kind, t, dlat_m=0.0, rule="r1"):
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    return GeoEvent(ts=base + timedelta(seconds=t), camera_id=cam, kind=kind, lon=LON,
                    lat=LAT + dlat_m / 100 * DEG_100M, ward_id="w1",
                    attributes={"rule": rule})


def test_related_alerts_merge_into_incidents(db_url, conn, settings):
    upsert_cameras(conn, [Camera(id=c, name=c, lon=LON, lat=LAT) for c in ("c1", "c2", "c3")])
    conn.commit()
    _write(db_url, settings, [
        _ev("c1", "intrusion", 0),                 # A
        _ev("c2", "intrusion", 40, dlat_m=120),    # A: 120 m, 40 s later
        _ev("c2", "loitering", 90, dlat_m=150),    # A: related kind
        _ev("c3", "intrusion", 50, dlat_m=2000),   # B: 2 km away
        _ev("c1", "crowd_density", 60),            # C: other group
        _ev("c1", "intrusion", 1500),              # D: 25 min later
        _ev("c1", "person_count", 10),             # not an alert
    ])
    assert inc.merge_new(conn, radius_m=300, window_s=300) == 6
    assert inc.merge_new(conn) == 0  # watermark
    now = datetime.now(timezone.utc)
    found = inc.list_incidents(conn, now - timedelta(days=1), now)
    summary = sorted((i["kind_group"], i["n"], tuple(i["cameras"])) for i in found)
    assert summary == [("crowd", 1, ("c1",)), ("intrusion", 1, ("c1",)),
                       ("intrusion", 1, ("c3",)), ("intrusion", 3, ("c1", "c2"))]
    big = next(i for i in found if i["n"] == 3)
    assert [m["kind"] for m in big["members"]] == ["intrusion", "intrusion", "loitering"]
    assert LAT < big["lat"] < LAT + 1.5 * DEG_100M  # centroid of the members
    assert inc.list_incidents(conn, now - timedelta(days=1), now, ward_ids=["w2"]) == []
    # later events join an incident still open
    _write(db_url, settings, [_ev("c3", "intrusion", 1600, dlat_m=50)])
    assert inc.merge_new(conn) == 1
    found = inc.list_incidents(conn, now - timedelta(days=1), now)
    assert sorted(i["n"] for i in found) == [1, 1, 2, 3]


def test_verdicts_give_rule_precision(db_url, conn, settings):
    upsert_cameras(conn, [Camera(id=c, name=c, lon=LON, lat=LAT) for c in ("c1", "c2")])
    conn.commit()
    _write(db_url, settings, [_ev("c1", "intrusion", i * 1000, rule="gate") for i in range(4)]
           + [_ev("c2", "red_light", i * 1000, dlat_m=5000, rule="rl") for i in range(2)])
    inc.merge_new(conn)
    now = datetime.now(timezone.utc)
    found = inc.list_incidents(conn, now - timedelta(days=1), now)
    gate = sorted(i["id"] for i in found if i["kind_group"] == "intrusion")
    (rl, _) = sorted(i["id"] for i in found if i["kind_group"] == "traffic")
    for iid, verdict in zip(gate, ["true_alarm", "false_alarm", "false_alarm",
                                   "false_alarm"]):
        inc.set_verdict(conn, iid, verdict, "op1")
    inc.set_verdict(conn, rl, "false_alarm", "op1")
    inc.set_verdict(conn, rl, "true_alarm", "op2", note="xem lại video")  # last word counts
    with pytest.raises(ValueError):
        inc.set_verdict(conn, rl, "maybe", "op1")
    with pytest.raises(LookupError):
        inc.set_verdict(conn, 999_999, "true_alarm", "op1")
    assert inc.rule_precision(conn) == [
        {"camera_id": "c1", "rule": "gate", "kind": "intrusion", "judged": 4,
         "true_alarms": 1, "precision": 0.25},
        {"camera_id": "c2", "rule": "rl", "kind": "red_light", "judged": 1,
         "true_alarms": 1, "precision": 1.0}]
    judged = [i for i in inc.list_incidents(conn, now - timedelta(days=1), now)
              if i["id"] == rl]
    assert judged[0]["verdict_by"] == "op2" and judged[0]["note"] == "xem lại video"
    # a judged incident takes no new members
    _write(db_url, settings, [_ev("c2", "red_light", 1, dlat_m=5000, rule="rl")])
    inc.merge_new(conn)
    assert len(inc.list_incidents(conn, now - timedelta(days=1), now)) == 7
