"""Camera and rule configuration for analytics workers: validated once, fails fast, says where.

A camera row from the registry (``cameras`` table) or a TOML/JSON mapping becomes one
:class:`CameraConfig`. Rules live in the camera's ``config`` JSON under ``rules``.
Errors name the camera, the field path and the bad value, e.g.
``camera cam-1: rules.0.polygon=[[0, 0]]: List should have at least 3 items``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, Mapping, Union

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

# recognition and violation rules (plates, faces, red light, lanes, abandoned, helmet)
from analytics.violations.config import FRAME_RULE_KINDS, FRAME_RULES

Point = tuple[float, float]

#: COCO class ids the rules mean by "person" and "vehicle".
PERSON_CLASSES = (0,)
VEHICLE_CLASSES = (1, 2, 3, 5, 7)  # bicycle, car, motorcycle, bus, truck


class CameraConfigError(ValueError):
    """A camera configuration that cannot be used; the message names camera, field and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    id: str = Field(..., min_length=1, description="Rule id, unique per camera; events "
                    "carry it in attributes.rule.")
    classes: tuple[int, ...] = Field(PERSON_CLASSES, description="COCO class ids the rule "
                                     "watches (default: person).")
    cooldown_s: float = Field(60.0, ge=0, description="Seconds before the same track may "
                              "fire this rule again (while its alert is ongoing, a repeat "
                              "counted into the alert).")
    zone_id: str | None = Field(None, description="Zone the events are tagged with.")
    alert_cooldown_s: float | None = Field(None, ge=0, description="Seconds an ongoing "
                                           "alert of this rule (its zone, this camera) "
                                           "stays one alert: firings meanwhile are counted "
                                           "as its repeats; after that only a new track "
                                           "(or a trackless condition) raises a reminder. "
                                           "0: every firing is an alert. Default by kind: "
                                           "intrusion 300, loitering 600, crowd 1800, "
                                           "others 0 (store.ongoing.COOLDOWN_S).")
    clear_s: float | None = Field(None, ge=0, description="Seconds the condition must be "
                                  "absent before the ongoing alert ends (the next firing "
                                  "is a new alert). Default: crowd 300, others 60.")


class IntrusionRule(_Rule):
    """A tracked object's ground point (bottom centre) enters a polygon."""

    kind: Literal["intrusion"]
    polygon: list[Point] | None = Field(None, min_length=3, description="Image polygon, "
                                        "pixels of the full frame.")
    geofence: list[Point] | None = Field(None, min_length=3, description="Map polygon "
                                         "(lon, lat); needs the camera's homography.")


class LoiteringRule(_Rule):
    """A track stays inside a polygon (or anywhere, without one) longer than ``dwell_s``."""

    kind: Literal["loitering"]
    dwell_s: float = Field(..., gt=0)
    polygon: list[Point] | None = Field(None, min_length=3)
    geofence: list[Point] | None = Field(None, min_length=3)


class LineCrossingRule(_Rule):
    """A track's ground point crosses the segment ``line``; ``a→b`` left-to-right is "in"."""

    kind: Literal["line_crossing"]
    line: tuple[Point, Point]
    allowed: Literal["both", "in", "out"] = Field("both", description="Direction that is "
                                                  "allowed; the other fires wrong_way.")

    @field_validator("line")
    @classmethod
    def _not_degenerate(cls, v: tuple[Point, Point]) -> tuple[Point, Point]:
        if v[0] == v[1]:
            raise ValueError("line end points must differ")
        return v


class CrowdRule(_Rule):
    """People per square metre over the ground area the camera sees (or ``polygon``)."""

    kind: Literal["crowd_density"]
    threshold_per_m2: float = Field(..., gt=0)
    sample_every_s: float = Field(60.0, gt=0, description="A crowd_sample event this often.")
    polygon: list[Point] | None = Field(None, min_length=3)
    area_m2: float | None = Field(None, gt=0, description="Ground area when the camera "
                                  "has no homography.")


class CountRule(_Rule):
    """Objects of ``classes`` in view, reported every ``every_s`` seconds."""

    kind: Literal["person_count", "vehicle_count"]
    every_s: float = Field(60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _vehicle_classes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") == "vehicle_count" \
                and "classes" not in data:
            data = dict(data, classes=VEHICLE_CLASSES)
        return data


Rule = Annotated[Union[(IntrusionRule, LoiteringRule, LineCrossingRule, CrowdRule,
                        CountRule) + FRAME_RULES], Field(discriminator="kind")]


class HealthConfig(_Strict):
    """Thresholds for camera health events."""

    offline_after_s: float = Field(10.0, gt=0)
    frozen_after_s: float = Field(20.0, gt=0, description="Identical frames this long.")
    black_luma: float = Field(18.0, ge=0, le=255, description="Mean luma below this is black.")
    blur_var: float = Field(15.0, ge=0, description="Laplacian variance below this is blurred.")
    hold_s: float = Field(5.0, ge=0, description="A condition must last this long to fire.")
    scene_change: float = Field(0.55, gt=0, le=1, description="Histogram distance that "
                                "counts as the camera being moved.")


class CameraConfig(_Strict):
    """One camera as a worker sees it."""

    id: str = Field(..., min_length=1, max_length=128)
    name: str = ""
    stream_url: str = Field(..., min_length=1, description="File path, rtsp://, http(s):// "
                            "MJPEG, or file:// URL.")
    analysis_url: str | None = Field(None, min_length=1, description="The camera's "
                                     "sub-stream (same forms as stream_url): when set, the "
                                     "analysis reads it; stream_url stays the main stream "
                                     "for recording and live view.")
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    homography: dict[str, Any] | None = Field(None, description="The cameras.homography "
                                              "JSON (gis.homography.Homography.to_json).")
    range_m: float = Field(150.0, gt=0, description="Useful viewing range, metres; cuts "
                           "the ground area near the horizon.")
    ward_id: str | None = None
    zone_ids: tuple[str, ...] = ()
    sample_fps: float = Field(1.0, gt=0, le=60)
    loop: bool = Field(False, description="Loop a video file (demo).")
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    realtime: bool = Field(False, description="Pace a file at its own frame rate.")
    decoder: Literal["auto", "pyav", "opencv"] = Field("auto", description="auto: PyAV "
                                                      "(keyframes only when sample_fps is at "
                                                      "or below the keyframe rate), OpenCV "
                                                      "where PyAV cannot open the URL.")
    decoder_threads: int = Field(1, ge=1, le=8, description="Decoder threads of this "
                                 "camera's source.")
    detect_classes: tuple[int, ...] = PERSON_CLASSES + VEHICLE_CLASSES
    min_confidence: float = Field(0.3, gt=0, lt=1)
    motion_gating: bool = True
    blur_faces: bool = Field(True, description="Pixelate every face in this camera's "
                             "evidence images before they are written (a face_match keeps "
                             "the matched face); see analytics/privacy.py.")
    rules: tuple[Rule, ...] = ()
    health: HealthConfig = HealthConfig()

    @field_validator("homography")
    @classmethod
    def _is_homography(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            from gis.homography import Homography
            Homography.from_json(v)  # ValueError names what is wrong
        return v

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, v: tuple[Any, ...]) -> tuple[Any, ...]:
        ids = [r.id for r in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids {sorted(dup)}")
        return v


def parse_camera(data: Mapping[str, Any]) -> CameraConfig:
    """Validate one camera mapping; :class:`CameraConfigError` names camera, field and value."""
    cid = data.get("id", "?") if isinstance(data, Mapping) else "?"
    try:
        cam = CameraConfig.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            # drop the discriminator tag pydantic inserts ("rules.0.intrusion.polygon")
            if len(loc) > 2 and loc[0] == "rules" and loc[2] in _RULE_KINDS:
                del loc[2]
            lines.append(f"{'.'.join(loc) or '?'}={err.get('input')!r}: {err['msg']}")
        raise CameraConfigError(f"camera {cid}: " + "; ".join(lines)) from None
    problems = []
    for rule in cam.rules:
        if getattr(rule, "geofence", None) and cam.homography is None:
            problems.append(f"rules.{rule.id}.geofence={rule.geofence!r}: needs the "
                            "camera's homography")
        if isinstance(rule, CrowdRule) and cam.homography is None and rule.area_m2 is None:
            problems.append(f"rules.{rule.id}.area_m2=None: crowd density needs the "
                            "camera's homography or area_m2")
        if isinstance(rule, IntrusionRule) and not (rule.polygon or rule.geofence):
            problems.append(f"rules.{rule.id}.polygon=None: an intrusion rule needs a "
                            "polygon or a geofence")
    if problems:
        raise CameraConfigError(f"camera {cam.id}: " + "; ".join(problems))
    return cam


def load_camera_files(paths: Iterable[str | Path]) -> list[CameraConfig]:
    """Every camera of JSON files holding one camera or a list; CameraConfigError listing
    every problem of every file (``file:line:col: message`` for JSON syntax, ``file: [index]
    camera id: field=value: why`` per bad camera, ids given twice) before any is used."""
    cameras: list[CameraConfig] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in map(Path, paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            where = f"{path}: [{i}]" if isinstance(data, list) else f"{path}:"
            if not isinstance(item, Mapping):
                problems.append(f"{where} a camera is a JSON object, got {item!r:.60}")
                continue
            try:
                cam = parse_camera(item)
            except CameraConfigError as exc:
                problems.append(f"{where} {exc}")
                continue
            if cam.id in seen:
                problems.append(f"{where} camera {cam.id}: id={cam.id!r}: given twice "
                                f"(also {seen[cam.id]})")
                continue
            seen[cam.id] = where.rstrip(":")
            cameras.append(cam)
    if problems:
        raise CameraConfigError("\n".join(problems))
    return cameras


_RULE_KINDS = {"intrusion", "loitering", "line_crossing", "crowd_density",
               "person_count", "vehicle_count"} | FRAME_RULE_KINDS


def camera_from_row(row: Mapping[str, Any]) -> CameraConfig:
    """Build a camera config from a registry row (``cameras`` table columns)."""
    extra = dict(row.get("config") or {})
    homography = row.get("homography")
    data: dict[str, Any] = {
        "id": row["id"], "name": row.get("name") or "", "stream_url": row.get("stream_url"),
        "lon": row.get("lon"), "lat": row.get("lat"), "ward_id": row.get("ward_id"),
        "zone_ids": tuple(row.get("zone_ids") or ()),
        "homography": homography or None, "range_m": row.get("range_m") or 150.0,
    }
    data.update(extra)
    return parse_camera(data)


class DetectorConfig(_Strict):
    """How a worker's detectors are built: the full-frame one and the region one (motion
    regions packed on small tiles)."""

    region_imgsz: int | None = Field(320, ge=128, le=1280, multiple_of=32, description=(
        "Input size of the region detector; None: the full-frame model."))
    region_scale: float = Field(0.85, gt=0, le=1, description="Object scale in regions, "
                                "relative to a full-frame pass.")
    int8: bool = Field(True, description="Run regions through an INT8 copy of the model, "
                       "quantised locally from the float weights (about twice as fast on "
                       "CPUs with VNNI; same track recall on vtest.avi); false: float.")
    int8_full: bool = Field(True, description="The full-frame passes too (the periodic "
                            "refresh of gated cameras, every frame of ungated ones).")


def parse_detection(data: "DetectorConfig | Mapping[str, Any]") -> DetectorConfig:
    """Validate a worker's detector settings; :class:`CameraConfigError` says which field."""
    if isinstance(data, DetectorConfig):
        return data
    try:
        return DetectorConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise CameraConfigError("detection: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '?'}={e.get('input')!r}: {e['msg']}"
            for e in exc.errors())) from None
