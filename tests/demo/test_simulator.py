"""The demo's event simulator: valid, labelled GeoEvents with plausible kinds and timing."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from store.model import EVENT_KINDS, GeoEvent, Severity
from webapp.demo import seeds, simulator
from webapp.demo.simulator import EventSimulator, SimulatedCamera

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
END = datetime(2026, 11, 21, 17, 0, tzinfo=timezone.utc)   # midnight local


def _cameras():
    out = []
    for cam in seeds.phu_quoc_cameras():
        zone_kind = seeds.PHU_QUOC_SITES[cam.site].zone_kind
        out.append(SimulatedCamera(cam.id, cam.kind, cam.lon, cam.lat, cam.heading_deg,
                                   cam.fov_deg, cam.range_m,
                                   simulator.setting_of(zone_kind, cam.kind),
                                   ward_id="pq-duong-dong"))
    return out


@pytest.fixture(scope="module")
def day():
    """One simulated day (local midnight to midnight) for the 41 Phú Quốc cameras."""
    sim = EventSimulator(_cameras(), seed=3)
    events = list(sim.events_between(END - timedelta(days=1), END, step_s=300))
    return sim, events


def test_every_event_is_a_valid_labelled_geoevent(day):
    _, events = day
    assert len(events) > 10_000
    for ev in events:
        assert isinstance(ev, GeoEvent)
        ev.check(now=END)
        assert ev.attributes["simulated"] is True
        assert ev.to_json()["attributes"]["simulated"] is True
        assert END - timedelta(days=1) <= ev.ts < END


def test_kinds_cover_crowds_traffic_health_and_matches(day):
    _, events = day
    kinds = Counter(e.kind for e in events)
    for kind in ("crowd_sample", "crowd_density", "vehicle_count", "no_helmet", "red_light",
                 "plate_read", "camera_offline", "camera_online", "loitering"):
        assert kinds[kind] > 0, kind
    assert set(kinds) <= set(EVENT_KINDS)
    # plate reads are common, hot-list matches rare; face matches rarer than loitering
    assert kinds["plate_match"] < kinds["plate_read"] / 100
    assert kinds["face_match"] < kinds["loitering"]
    # alerts per day for 41 cameras: enough for a lively wall, not a flood
    alerts = sum(n for k, n in kinds.items() if EVENT_KINDS[k].is_alert)
    assert 300 < alerts < 5000


def test_night_market_crowds_peak_in_the_evening(day):
    _, events = day
    by_hour: dict[int, list[float]] = {}
    for ev in events:
        if ev.kind == "crowd_sample" and ev.camera_id.startswith("pq-night_market"):
            by_hour.setdefault(ev.ts.astimezone(LOCAL).hour, []).append(ev.value)
    evening = np.mean(by_hour[20] + by_hour[21])
    morning = np.mean(by_hour[4] + by_hour[5])
    assert evening > 5 * morning
    # and the crowd alerts come from crowded places in the evening
    alerts = [e for e in events if e.kind == "crowd_density"]
    assert alerts and all(e.value >= simulator.CROWD_ALERT_DENSITY for e in alerts)
    assert Counter(e.ts.astimezone(LOCAL).hour for e in alerts).most_common(1)[0][0] in range(17, 24)


def test_a_crowd_that_stays_dense_is_one_ongoing_alert(day):
    """As the analytics rules do (store.ongoing): one alert when a crowd gets dense, a
    reminder at most every 30 minutes while it stays dense, the samples in between
    counted in the reminder's ``repeats``."""
    from store.ongoing import COOLDOWN_S

    _, events = day
    by_camera: dict[str, list] = {}
    for e in events:
        if e.kind == "crowd_density":
            by_camera.setdefault(e.camera_id, []).append(e)
    assert by_camera
    for alerts in by_camera.values():
        for before, after in zip(alerts, alerts[1:]):
            if after.attributes["ongoing_s"] > 0:       # a reminder of the same crowd
                assert (after.ts - before.ts).total_seconds() >= COOLDOWN_S["crowd_density"]
                assert after.attributes["repeats"] > 0
    reminders = sum(1 for a in by_camera.values() for e in a if e.attributes["ongoing_s"])
    assert reminders > 0
    # a night-market camera: a few alerts an evening, not one every 15 minutes
    market = [len(a) for cid, a in by_camera.items() if cid.startswith("pq-night_market")]
    assert max(market) <= 12


def test_traffic_violations_peak_at_rush_hours(day):
    _, events = day
    hours = Counter(e.ts.astimezone(LOCAL).hour for e in events
                    if e.kind in ("no_helmet", "red_light", "wrong_lane"))
    rush = hours[7] + hours[17]
    night = hours[2] + hours[3]
    assert rush > 4 * max(night, 1)


def test_outages_recover_and_silence_the_camera(day):
    _, events = day
    offline = [e for e in events if e.kind in ("camera_offline", "camera_scene_change")]
    assert offline
    for ev in offline:
        back = [e for e in events if e.camera_id == ev.camera_id and e.kind == "camera_online"
                and e.ts > ev.ts]
        if not back:
            continue          # still down at the end of the day
        gap = [e for e in events if e.camera_id == ev.camera_id and ev.ts < e.ts < back[0].ts
               and not e.kind.startswith("camera_")]
        assert gap == []
        assert back[0].lon == ev.lon and back[0].lat == ev.lat


def test_events_lie_in_front_of_their_camera(day):
    _, events = day
    cams = {c.id: c for c in _cameras()}
    for ev in events[:2000]:
        cam = cams[ev.camera_id]
        dx = (ev.lon - cam.lon) * 111_320 * np.cos(np.radians(cam.lat))
        dy = (ev.lat - cam.lat) * 111_320
        assert np.hypot(dx, dy) <= cam.range_m + 1
        if np.hypot(dx, dy) > 1:
            bearing = np.degrees(np.arctan2(dx, dy)) % 360
            assert abs((bearing - cam.heading_deg + 180) % 360 - 180) <= cam.fov_deg / 2 + 1


def test_same_seed_and_windows_give_the_same_events():
    start = END - timedelta(hours=2)
    a = [e.to_json() for e in EventSimulator(_cameras(), seed=9).events_between(start, END)]
    b = [e.to_json() for e in EventSimulator(_cameras(), seed=9).events_between(start, END)]
    c = [e.to_json() for e in EventSimulator(_cameras(), seed=10).events_between(start, END)]
    assert a == b
    assert a != c


def test_severity_follows_the_kind_catalogue(day):
    _, events = day
    for ev in events:
        if ev.kind != "crowd_density":
            assert ev.severity == EVENT_KINDS[ev.kind].severity
        else:
            assert ev.severity in (Severity.HIGH, Severity.CRITICAL)


def test_scales_to_thanh_hoa_in_seconds():
    import time
    from gis.boundaries import load_shipped
    wards, _ = load_shipped("thanh-hoa")
    cams = [SimulatedCamera(c.id, c.kind, c.lon, c.lat, c.heading_deg, c.fov_deg, c.range_m,
                            simulator.setting_of(None, c.kind), plate_prefix="36")
            for c in seeds.thanh_hoa_from_frame(wards)]
    sim = EventSimulator(cams, seed=1, crowd_sample_s=900)
    t = time.perf_counter()
    n = sum(1 for _ in sim.events_between(END - timedelta(hours=3), END, step_s=300))
    elapsed = time.perf_counter() - t
    print(f"thanh-hoa: {n} events for 3 h of {len(cams)} cameras in {elapsed:.2f} s")
    assert n > 5000


@pytest.mark.parametrize("kwargs, match", [
    ({"rate_scale": -1}, "rate_scale"),
    ({"crowd_sample_s": 0}, "crowd_sample_s"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EventSimulator(_cameras(), **kwargs)


def test_naive_times_and_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="setting"):
        SimulatedCamera("x", "ai", 104.0, 10.2, setting="beach")
    sim = EventSimulator(_cameras())
    with pytest.raises(ValueError, match="timezone-aware"):
        list(sim.events_between(datetime(2026, 1, 1), datetime(2026, 1, 2)))
