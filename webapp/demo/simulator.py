"""The demo's EVENT SIMULATOR: made-up events for cameras that have no real video.

Every event it makes is labelled ``attributes["simulated"] = True`` (and
``attributes["source"] = "simulator"``); the README and the demo's start-up banner say so.
Nothing here is a detection.

Rates and times of day follow what a command centre sees: crowd-density samples from AI
cameras (heaviest at Dương Đông night market in the evening, at the square at dusk, at
the ports at ferry times), traffic violations and plate reads from traffic cameras
peaking at the 7:00 and 17:30 rush hours, intrusions mostly at night, occasional camera
outages and tampering followed by recovery, and rare watch-list face and plate matches.
Hours are local (Asia/Ho_Chi_Minh). Generation is vectorised over cameras (2,300 cameras
× 24 h of history take seconds) and deterministic for a given seed and time windows.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence
from zoneinfo import ZoneInfo

import numpy as np

from store.model import EVENT_KINDS, GeoEvent, Severity
from store.ongoing import HOLD_RATIO, OngoingAlerts, default_clear_s, default_cooldown_s
from store.plate_format import PROVINCE_CODES, parse_plate, plate_attributes

log = logging.getLogger(__name__)

#: Crowd density (people per m²) above which a ``crowd_density`` alert is raised.
CROWD_ALERT_DENSITY = 2.0
#: Crowd density above which that alert is critical.
CROWD_CRITICAL_DENSITY = 3.5
_METRES_PER_DEGREE = 111_320.0

#: Where a camera stands, as far as the simulator's profiles care.
SETTINGS = ("market", "square", "port", "airport", "casino", "tourist_area", "road", "street")


@dataclass(frozen=True, slots=True)
class SimulatedCamera:
    """What the simulator needs of a camera: kind, place, field of view, ward and zone."""

    id: str
    kind: str                 # ai | legacy | traffic
    lon: float
    lat: float
    heading_deg: float = 0.0
    fov_deg: float = 90.0
    range_m: float = 50.0
    setting: str = "street"   # one of SETTINGS
    ward_id: str | None = None
    zone_id: str | None = None
    plate_prefix: str = "68"  # province code on plates (68 Kiên Giang, 36 Thanh Hóa)

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"camera {self.id}: setting={self.setting!r} not in {SETTINGS}")
        if self.plate_prefix not in PROVINCE_CODES:
            raise ValueError(f"camera {self.id}: plate_prefix={self.plate_prefix!r} is not an "
                             "issued province code")


# -- time-of-day profiles (local hour → multiplier in [0, ~1]) -----------------------------

def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle."""
    d = np.abs(((hour - centre) + 12.0) % 24.0 - 12.0)
    return np.exp(-0.5 * (d / width) ** 2)


def traffic_profile(hour: np.ndarray) -> np.ndarray:
    """Traffic intensity: low at night, plateau by day, peaks at the 7:00 and 17:30 rush."""
    day = 1.0 / (1.0 + np.exp(-(hour - 6.0) * 2.0)) / (1.0 + np.exp((hour - 22.5) * 2.0))
    return 0.08 + 0.4 * day + 0.6 * _bump(hour, 7.25, 0.9) + 0.6 * _bump(hour, 17.5, 1.0)


def crowd_profile(setting: str, hour: np.ndarray) -> np.ndarray:
    """Crowd intensity by setting: night market in the evening, ports at ferry times…"""
    if setting == "market":
        return 0.05 + 0.15 * _bump(hour, 12.0, 3.0) + 1.0 * _bump(hour, 20.5, 1.6)
    if setting == "square":
        return 0.05 + 0.35 * _bump(hour, 5.75, 0.8) + 0.85 * _bump(hour, 19.5, 1.5)
    if setting == "port":
        return 0.03 + 0.9 * _bump(hour, 7.5, 1.0) + 0.7 * _bump(hour, 13.5, 1.0) \
            + 0.3 * _bump(hour, 16.0, 1.0)
    if setting == "airport":
        return 0.1 + 0.5 * _bump(hour, 9.0, 2.5) + 0.6 * _bump(hour, 18.0, 3.0)
    if setting == "casino":
        return 0.1 + 0.9 * _bump(hour, 23.0, 2.5)
    if setting == "tourist_area":
        return 0.05 + 0.4 * _bump(hour, 14.0, 2.5) + 0.9 * _bump(hour, 18.25, 1.2)
    return 0.05 + 0.35 * _bump(hour, 12.0, 4.0) + 0.45 * _bump(hour, 19.5, 1.8)


def night_profile(hour: np.ndarray) -> np.ndarray:
    """1 in the small hours, low by day: when intrusions happen."""
    return 0.15 + 0.85 * _bump(hour, 2.0, 2.5)


def evening_profile(hour: np.ndarray) -> np.ndarray:
    """Late evening: loitering, fights."""
    return 0.1 + 0.9 * _bump(hour, 22.5, 2.0)


#: Peak crowd density (people/m²) of each setting.
_CROWD_PEAK = {"market": 3.0, "square": 2.2, "port": 1.8, "airport": 1.5, "casino": 1.3,
               "tourist_area": 2.0, "road": 0.4, "street": 0.6}

# Alert rates, events per camera per hour at a profile of 1.
# (camera kind, event kind, rate/h, profile, settings it applies to or None for all)
_RATES: tuple[tuple[str, str, float, str, frozenset[str] | None], ...] = (
    ("ai", "intrusion", 0.25, "night", frozenset({"port", "airport", "casino", "tourist_area"})),
    ("ai", "intrusion", 0.03, "night", frozenset({"market", "square", "street", "road"})),
    ("ai", "loitering", 0.5, "evening", None),
    ("ai", "abandoned_object", 0.04, "crowd", frozenset({"port", "airport", "market"})),
    ("ai", "littering", 0.2, "crowd", frozenset({"market", "tourist_area", "square"})),
    ("ai", "fight", 0.04, "evening", frozenset({"market", "casino", "square", "street"})),
    ("ai", "face_match", 0.01, "crowd", frozenset({"airport", "port", "casino"})),
    ("ai", "face_match", 0.002, "crowd", frozenset({"market", "square", "street"})),
    ("traffic", "no_helmet", 6.0, "traffic", None),
    ("traffic", "red_light", 2.0, "traffic", None),
    ("traffic", "wrong_lane", 1.5, "traffic", None),
    ("traffic", "no_seatbelt", 0.5, "traffic", None),
    ("traffic", "wrong_way", 0.3, "traffic", None),
    ("traffic", "plate_read", 30.0, "traffic", None),
    ("traffic", "plate_match", 0.02, "traffic", None),
)
# Health: outages per camera per hour, and mean minutes until recovery.
_OFFLINE_RATE = {"ai": 0.01, "traffic": 0.01, "legacy": 0.03}
_TAMPER_RATE = 0.0015
_BLUR_RATE = 0.004
_OFFLINE_MINUTES = 25.0
_TAMPER_MINUTES = 40.0

_VEHICLES = ("motorbike", "motorbike", "motorbike", "car", "car", "truck", "bus")
_PLATE_LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
#: Why a plate is on the hotlist, as an operator would write it.
_HOTLIST_REASONS = ("Xe bị mất trộm", "Liên quan vụ việc đang điều tra",
                    "Chưa nộp phạt nguội")


def setting_of(site_zone_kind: str | None, camera_kind: str) -> str:
    """The simulator setting for a camera from its zone kind (None: road or street)."""
    if site_zone_kind in SETTINGS:
        return site_zone_kind
    if site_zone_kind in ("critical_site", "geofence"):
        return "street"
    return "road" if camera_kind == "traffic" else "street"


class EventSimulator:
    """Poisson event streams per camera and kind, modulated by local time of day."""

    def __init__(self, cameras: Sequence[SimulatedCamera], seed: int = 7,
                 rate_scale: float = 1.0, crowd_sample_s: float = 60.0,
                 count_sample_s: float = 300.0, tz: str = "Asia/Ho_Chi_Minh") -> None:
        if not cameras:
            raise ValueError("the simulator needs at least one camera")
        if rate_scale < 0 or crowd_sample_s <= 0 or count_sample_s <= 0:
            raise ValueError(f"rate_scale={rate_scale!r}, crowd_sample_s={crowd_sample_s!r}, "
                             f"count_sample_s={count_sample_s!r}: must be positive")
        self.cameras = list(cameras)
        self.rate_scale = rate_scale
        self.crowd_sample_s = crowd_sample_s
        self.count_sample_s = count_sample_s
        self.tz = ZoneInfo(tz)
        self._rng = np.random.default_rng(seed)
        n = len(self.cameras)
        self._kind = np.array([c.kind for c in self.cameras])
        self._setting = np.array([c.setting for c in self.cameras])
        self._phase = self._rng.uniform(0.0, 1.0, n)       # of each sampling period
        self._down_until = np.zeros(n)                      # epoch s; > now: offline
        self._recoveries: list[tuple[float, int]] = []      # (epoch s, camera index)
        # a crowd that stays dense is one ongoing alert, as the analytics rules make it
        self._crowd_alerts = OngoingAlerts(default_cooldown_s("crowd_density"),
                                           default_clear_s("crowd_density"))
        self.generated = 0

    # -- public --------------------------------------------------------------------------

    def events_between(self, start: datetime, end: datetime, step_s: float = 60.0
                       ) -> Iterator[GeoEvent]:
        """Every simulated event with start ≤ ts < end, in time order within each step."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        t0, t_end = start.timestamp(), end.timestamp()
        while t0 < t_end:
            t1 = min(t0 + step_s, t_end)
            batch = self._step(t0, t1)
            batch.sort(key=lambda e: e.ts)
            self.generated += len(batch)
            yield from batch
            t0 = t1

    def status_of(self, camera_index: int, at: datetime) -> str:
        """'offline' while a simulated outage lasts, else 'online'."""
        return "offline" if self._down_until[camera_index] > at.timestamp() else "online"

    # -- one window ----------------------------------------------------------------------

    def _step(self, t0: float, t1: float) -> list[GeoEvent]:
        dt_h = (t1 - t0) / 3600.0
        mid = datetime.fromtimestamp((t0 + t1) / 2, timezone.utc).astimezone(self.tz)
        hour = np.array(mid.hour + mid.minute / 60.0 + mid.second / 3600.0)
        out: list[GeoEvent] = []
        out += self._recover(t0, t1)
        up = self._down_until <= t0
        out += self._health(t0, t1, dt_h, hour, up)
        up = self._down_until <= t0
        out += self._crowd_samples(t0, t1, hour, up)
        out += self._counts(t0, t1, hour, up)
        out += self._alerts(t0, t1, dt_h, hour, up)
        return out

    def _profile(self, name: str, hour: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if name == "traffic":
            return np.full(len(idx), float(traffic_profile(hour)))
        if name == "night":
            return np.full(len(idx), float(night_profile(hour)))
        if name == "evening":
            return np.full(len(idx), float(evening_profile(hour)))
        settings = self._setting[idx]
        out = np.empty(len(idx))
        for s in np.unique(settings):
            out[settings == s] = float(crowd_profile(str(s), hour))
        return out

    def _alerts(self, t0: float, t1: float, dt_h: float, hour: np.ndarray,
                up: np.ndarray) -> list[GeoEvent]:
        out = []
        for cam_kind, kind, rate, profile, settings in _RATES:
            mask = (self._kind == cam_kind) & up
            if settings is not None:
                mask &= np.isin(self._setting, list(settings))
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            lam = rate * self.rate_scale * dt_h * self._profile(profile, hour, idx)
            counts = self._rng.poisson(lam)
            for i in np.repeat(idx, counts):
                ts = self._rng.uniform(t0, t1)
                out.append(self._event(int(i), kind, ts, **self._details(kind, int(i))))
        return out

    def _details(self, kind: str, i: int) -> dict:
        rng = self._rng
        cam = self.cameras[i]
        attrs: dict = {}
        value = None
        if kind in ("no_helmet", "red_light", "wrong_lane", "wrong_way", "no_seatbelt",
                    "plate_read", "plate_match"):
            vehicle = "car" if kind == "no_seatbelt" else (
                "motorbike" if kind == "no_helmet" else str(rng.choice(_VEHICLES)))
            plate = parse_plate(self._plate(cam.plate_prefix, vehicle))
            assert plate is not None  # _plate prints valid plates of an issued code
            # the attributes a real read carries (plate_compact: what the search matches)
            attrs.update(plate_attributes(plate))
            if kind == "plate_match":
                attrs["hotlist"] = {"plate": plate.text,
                                    "reason": str(rng.choice(_HOTLIST_REASONS))}
            if kind in ("plate_read", "plate_match"):
                value = round(float(rng.uniform(0.82, 0.99)), 3)   # OCR confidence
                attrs["confidence"] = value
        elif kind == "face_match":
            attrs["watchlist_id"] = f"WL-{int(rng.integers(1000, 9999))}"
            value = round(float(rng.uniform(0.78, 0.95)), 3)       # similarity
        elif kind == "loitering":
            value = round(float(rng.uniform(120, 900)), 0)          # dwell seconds
        elif kind == "fight":
            attrs["people"] = int(rng.integers(2, 6))
        return {"attributes": attrs, "value": value,
                "track_id": int(rng.integers(1, 2**31 - 1))}

    def _plate(self, prefix: str, vehicle: str) -> str:
        rng = self._rng
        letter = _PLATE_LETTERS[int(rng.integers(0, len(_PLATE_LETTERS)))]
        if vehicle == "motorbike":
            return f"{prefix}-{letter}{int(rng.integers(1, 10))} {int(rng.integers(0, 1000)):03d}." \
                   f"{int(rng.integers(0, 100)):02d}"
        return f"{prefix}{letter}-{int(rng.integers(0, 1000)):03d}.{int(rng.integers(0, 100)):02d}"

    def _periodic(self, t0: float, t1: float, period: float, idx: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(camera indices, epoch times) of periodic samples falling in [t0, t1)."""
        phase = self._phase[idx] * period
        k0 = np.ceil((t0 - phase) / period)
        k1 = np.ceil((t1 - phase) / period)
        n = (k1 - k0).astype(int)
        cams = np.repeat(idx, n)
        first = np.repeat(k0, n)
        offset = np.concatenate([np.arange(m) for m in n]) if n.sum() else np.empty(0)
        times = (first + offset) * period + np.repeat(phase, n)
        return cams, times

    def _crowd_samples(self, t0: float, t1: float, hour: np.ndarray,
                       up: np.ndarray) -> list[GeoEvent]:
        idx = np.flatnonzero((self._kind == "ai") & up)
        cams, times = self._periodic(t0, t1, self.crowd_sample_s, idx)
        if cams.size == 0:
            return []
        peak = np.array([_CROWD_PEAK[s] for s in self._setting[cams]])
        level = self._profile("crowd", hour, cams)
        density = peak * level * self._rng.lognormal(0.0, 0.25, cams.size)
        out = []
        for i, ts, d in zip(cams.tolist(), times.tolist(), density.tolist()):
            d = round(d, 3)
            out.append(self._event(i, "crowd_sample", ts, value=d,
                                   attributes={"unit": "people/m2"}))
            if d >= HOLD_RATIO * CROWD_ALERT_DENSITY:
                self._crowd_alerts.holds(i, ts)
            if d < CROWD_ALERT_DENSITY:
                continue
            ongoing = self._crowd_alerts.admit(i, ts)
            if ongoing is not None:
                sev = Severity.CRITICAL if d >= CROWD_CRITICAL_DENSITY else Severity.HIGH
                out.append(self._event(i, "crowd_density", ts, value=d, severity=sev,
                                       attributes={"unit": "people/m2",
                                                   "threshold": CROWD_ALERT_DENSITY,
                                                   **ongoing}))
        self._crowd_alerts.expire(t0)
        return out

    def _counts(self, t0: float, t1: float, hour: np.ndarray, up: np.ndarray
                ) -> list[GeoEvent]:
        out = []
        minutes = self.count_sample_s / 60.0
        for cam_kind, kind, per_minute, profile in (("traffic", "vehicle_count", 40.0, "traffic"),
                                                    ("ai", "person_count", 12.0, "crowd")):
            idx = np.flatnonzero((self._kind == cam_kind) & up)
            cams, times = self._periodic(t0, t1, self.count_sample_s, idx)
            if cams.size == 0:
                continue
            lam = per_minute * minutes * self._profile(profile, hour, cams)
            counts = self._rng.poisson(lam)
            for i, ts, n in zip(cams.tolist(), times.tolist(), counts.tolist()):
                out.append(self._event(i, kind, ts, value=float(n),
                                       attributes={"period_s": self.count_sample_s}))
        return out

    def _health(self, t0: float, t1: float, dt_h: float, hour: np.ndarray,
                up: np.ndarray) -> list[GeoEvent]:
        out = []
        rate = np.array([_OFFLINE_RATE[k] for k in self._kind]) * self.rate_scale
        for kind, lam, minutes in (("camera_offline", rate, _OFFLINE_MINUTES),
                                   ("camera_scene_change",
                                    np.full(len(self._kind), _TAMPER_RATE * self.rate_scale),
                                    _TAMPER_MINUTES)):
            hit = up & (self._rng.random(len(self._kind)) < 1.0 - np.exp(-lam * dt_h))
            for i in np.flatnonzero(hit).tolist():
                ts = self._rng.uniform(t0, t1)
                back = ts + 60.0 * max(2.0, self._rng.exponential(minutes))
                self._down_until[i] = back
                self._recoveries.append((back, i))
                attrs = {"status": "offline" if kind == "camera_offline" else "tampered"}
                out.append(self._event(i, kind, ts, at_camera=True, attributes=attrs))
            up = up & ~hit
        # blur: rain squalls and dew, more at night; no outage
        blur = up & (self._rng.random(len(self._kind))
                     < 1.0 - np.exp(-_BLUR_RATE * self.rate_scale * dt_h
                                    * (0.5 + float(night_profile(hour)))))
        for i in np.flatnonzero(blur).tolist():
            out.append(self._event(i, "camera_blur", self._rng.uniform(t0, t1),
                                   at_camera=True, value=round(float(self._rng.uniform(8, 40)), 1)))
        return out

    def _recover(self, t0: float, t1: float) -> list[GeoEvent]:
        due = [(t, i) for t, i in self._recoveries if t < t1]
        if not due:
            return []
        self._recoveries = [(t, i) for t, i in self._recoveries if t >= t1]
        return [self._event(i, "camera_online", max(t, t0), at_camera=True,
                            attributes={"status": "online"}) for t, i in due]

    # -- one event -----------------------------------------------------------------------

    def _event(self, i: int, kind: str, ts: float, *, value: float | None = None,
               severity: Severity | None = None, attributes: dict | None = None,
               track_id: int | None = None, at_camera: bool = False) -> GeoEvent:
        cam = self.cameras[i]
        if at_camera:
            lon, lat = cam.lon, cam.lat
        else:
            lon, lat = self._point_in_view(cam)
        attrs = {"simulated": True, "source": "simulator"}
        attrs.update(attributes or {})
        return GeoEvent(
            ts=datetime.fromtimestamp(ts, timezone.utc), camera_id=cam.id, kind=kind,
            lon=lon, lat=lat, severity=EVENT_KINDS[kind].severity if severity is None
            else severity, ward_id=cam.ward_id, zone_id=cam.zone_id, track_id=track_id,
            value=value, attributes=attrs)

    def _point_in_view(self, cam: SimulatedCamera) -> tuple[float, float]:
        """A ground point inside the camera's field-of-view sector (area-uniform)."""
        r = cam.range_m * math.sqrt(self._rng.uniform(0.02, 0.85))
        bearing = math.radians(cam.heading_deg + self._rng.uniform(-0.5, 0.5) * cam.fov_deg)
        dx, dy = r * math.sin(bearing), r * math.cos(bearing)
        lat = cam.lat + dy / _METRES_PER_DEGREE
        lon = cam.lon + dx / (_METRES_PER_DEGREE * math.cos(math.radians(cam.lat)))
        return round(lon, 7), round(lat, 7)


def history_window(hours: float, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The (start, end) of the last ``hours`` hours, ending now (UTC)."""
    end = now or datetime.now(timezone.utc)
    return end - timedelta(hours=hours), end
