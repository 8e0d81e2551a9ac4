"""The one typed event of vigil: what analytics produce, the store keeps and sockets emit.

A ``GeoEvent`` is immutable. Analytics build it, the store writer validates and stores
it (the database assigns ``id``), readers and the listener hand back stored events with
``id`` set, and the web app serialises it once with :meth:`GeoEvent.to_json`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Mapping


class Severity(enum.IntEnum):
    """How urgently a command centre should look at an event."""

    INFO = 0
    LOW = 1
    HIGH = 2
    CRITICAL = 3


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What an event kind is: whether it is an alert, its default severity, its labels."""

    code: str
    is_alert: bool
    severity: Severity
    label_vi: str
    label_en: str


def _k(code: str, is_alert: bool, severity: Severity, vi: str, en: str) -> KindSpec:
    return KindSpec(code, is_alert, severity, vi, en)


#: Every event kind vigil knows. The ``event_kinds`` table is seeded from this list
#: (see ``store.migrate``); an event of any other kind is rejected by the writer.
EVENT_KINDS: Mapping[str, KindSpec] = MappingProxyType({k.code: k for k in (
    # public order
    _k("intrusion", True, Severity.HIGH, "Xâm nhập khu vực", "Zone intrusion"),
    _k("loitering", True, Severity.LOW, "Lảng vảng", "Loitering"),
    _k("line_crossing", False, Severity.INFO, "Vượt đường kẻ", "Line crossing"),
    _k("wrong_way", True, Severity.LOW, "Đi ngược chiều", "Wrong way"),
    _k("crowd_density", True, Severity.HIGH, "Mật độ đám đông cao", "High crowd density"),
    _k("crowd_sample", False, Severity.INFO, "Mẫu mật độ đám đông", "Crowd density sample"),
    _k("person_count", False, Severity.INFO, "Đếm người", "Person count"),
    _k("vehicle_count", False, Severity.INFO, "Đếm phương tiện", "Vehicle count"),
    _k("abandoned_object", True, Severity.HIGH, "Vật thể bị bỏ lại", "Abandoned object"),
    _k("littering", True, Severity.LOW, "Xả rác", "Littering"),
    _k("fight", True, Severity.CRITICAL, "Ẩu đả", "Fight"),
    # recognition
    _k("face_match", True, Severity.CRITICAL, "Khớp khuôn mặt truy nã", "Watchlist face match"),
    _k("plate_read", False, Severity.INFO, "Đọc biển số", "Plate read"),
    _k("plate_match", True, Severity.HIGH, "Biển số trong danh sách", "Hotlist plate match"),
    # traffic violations
    _k("red_light", True, Severity.LOW, "Vượt đèn đỏ", "Red light violation"),
    _k("wrong_lane", True, Severity.LOW, "Sai làn đường", "Wrong lane"),
    _k("no_helmet", True, Severity.LOW, "Không đội mũ bảo hiểm", "No helmet"),
    _k("no_seatbelt", True, Severity.LOW, "Không thắt dây an toàn", "No seatbelt"),
    # camera health
    _k("camera_offline", True, Severity.HIGH, "Camera mất kết nối", "Camera offline"),
    _k("camera_online", False, Severity.INFO, "Camera hoạt động trở lại", "Camera back online"),
    _k("camera_frozen", True, Severity.HIGH, "Hình ảnh camera bị đứng", "Camera image frozen"),
    _k("camera_blackout", True, Severity.HIGH, "Ống kính bị che/tối", "Lens covered or black"),
    _k("camera_blur", True, Severity.LOW, "Hình ảnh bị mờ", "Image blurred"),
    _k("camera_scene_change", True, Severity.HIGH, "Camera bị xoay/can thiệp",
       "Camera moved or tampered"),
)})

#: How far in the future (camera clock skew) an event timestamp may lie.
MAX_FUTURE_SKEW = timedelta(minutes=5)
#: Why an event older than the retention window is refused (``days``: the window).
RETENTION_REASON = "older than the retention window ({days:g} days): not stored"


class InvalidEvent(ValueError):
    """An event the store refuses; ``field`` names what is wrong."""

    def __init__(self, field_name: str, value: Any, reason: str) -> None:
        super().__init__(f"{field_name}={value!r}: {reason}")
        self.field = field_name
        self.value = value
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Evidence:
    """An image written by a worker: path relative to the evidence directory and its hash."""

    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class GeoEvent:
    """One geotagged observation from one camera at one instant."""

    ts: datetime
    camera_id: str
    kind: str
    lon: float
    lat: float
    severity: Severity = Severity.INFO
    ward_id: str | None = None
    zone_id: str | None = None
    track_id: int | None = None
    value: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    evidence: Evidence | None = None
    id: int | None = None

    def check(self, now: datetime | None = None, retention: timedelta | None = None) -> None:
        """Raise :class:`InvalidEvent` naming the first bad field (camera existence is the store's).

        With ``retention``, an event older than ``now - retention`` is refused: the store
        would drop it at the next housekeeping anyway, and its day may be gone already."""
        if not isinstance(self.ts, datetime) or self.ts.tzinfo is None:
            raise InvalidEvent("ts", self.ts, "must be a timezone-aware datetime")
        now = now or datetime.now(timezone.utc)
        if self.ts > now + MAX_FUTURE_SKEW:
            raise InvalidEvent("ts", self.ts.isoformat(), "lies in the future")
        if retention is not None and self.ts < now - retention:
            raise InvalidEvent("ts", self.ts.isoformat(), RETENTION_REASON.format(
                days=retention / timedelta(days=1)))
        if self.kind not in EVENT_KINDS:
            raise InvalidEvent("kind", self.kind, "unknown event kind")
        if not self.camera_id:
            raise InvalidEvent("camera_id", self.camera_id, "must not be empty")
        for name, value, bound in (("lon", self.lon, 180.0), ("lat", self.lat, 90.0)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or abs(value) > bound:
                raise InvalidEvent(name, value, f"must be a finite number within ±{bound:g}")
        if self.value is not None and not math.isfinite(self.value):
            raise InvalidEvent("value", self.value, "must be finite")

    @property
    def spec(self) -> KindSpec:
        """The kind's catalogue entry."""
        return EVENT_KINDS[self.kind]

    def with_id(self, event_id: int) -> "GeoEvent":
        """The same event as stored under ``event_id``."""
        return replace(self, id=event_id)

    def to_json(self) -> dict[str, Any]:
        """The event as the API and sockets send it (timestamps ISO 8601 UTC)."""
        return {
            "id": self.id,
            "ts": self.ts.astimezone(timezone.utc).isoformat(),
            "camera_id": self.camera_id,
            "kind": self.kind,
            "severity": int(self.severity),
            "is_alert": self.spec.is_alert,
            "lon": self.lon,
            "lat": self.lat,
            "ward_id": self.ward_id,
            "zone_id": self.zone_id,
            "track_id": self.track_id,
            "value": self.value,
            "attributes": dict(self.attributes),
            "evidence": None if self.evidence is None else
            {"path": self.evidence.path, "sha256": self.evidence.sha256},
        }
