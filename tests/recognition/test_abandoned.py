"""Abandoned object on a short synthetic clip built from a real background frame: a real
photographed box (opencv-doc box.png) is set down by a person (a real person cut from
bus.jpg, a scripted track) who then walks away."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analytics.violations.abandoned import AbandonedWatcher
from analytics.violations.config import AbandonedRule
from tests.recognition.recognition_testing import opencv_sample
from tests.recognition.plate_images import DATA
from tests.recognition.scene import tracks

OBJ = (420, 430)  # where the box is set down: top-left corner


@pytest.fixture(scope="module")
def props():
    box = cv2.resize(cv2.imread(str(opencv_sample("box.png"))), (64, 44))
    person = cv2.resize(cv2.imread(str(DATA / "bus.jpg"))[400:880, 40:240], (60, 150))
    return box, person


def clip(background, props, *, left_at=5, walks_off=9, taken_at=None, owner_stays=False,
         seconds=30):
    """(image, person boxes) per second: the person arrives with the box, puts it down at
    ``left_at``, walks off from ``walks_off`` (unless ``owner_stays``)."""
    box, person = props
    rng = np.random.default_rng(1)
    for t in range(seconds):
        image = background.copy()
        if t >= left_at and (taken_at is None or t < taken_at):
            image[OBJ[1]:OBJ[1] + 44, OBJ[0]:OBJ[0] + 64] = box
        if t < walks_off or owner_stays:
            px = 320 + min(t, left_at) * 10
        else:
            px = 320 + left_at * 10 + (t - walks_off + 1) * 70
        people = {}
        if px + 60 < image.shape[1]:
            image[340:490, px:px + 60] = person
            people[4] = (px, 340, px + 60, 490)
        noise = rng.normal(0, 2.0, image.shape)
        yield np.clip(image + noise, 0, 255).astype(np.uint8), people


def run(background, props, rule=None, **kw):
    watcher = AbandonedWatcher(rule or AbandonedRule(id="ab", kind="abandoned_object",
                                                     dwell_s=10))
    out = []
    for t, (image, people) in enumerate(clip(background, props, **kw)):
        for f in watcher.observe(image, float(t), tracks(people, class_id=0)):
            out.append((t, f))
    return out


def test_box_left_behind_fires_after_its_owner_is_gone(street_frame, props):
    (t, f), = run(street_frame, props)
    # the owner walks off at t=9 and is no longer near the box from t≈10: fires ≈10 s later
    assert 18 <= t <= 21
    assert f.kind == "abandoned_object" and f.attributes["owner_tracks"] == [4]
    x1, y1, x2, y2 = f.box
    assert abs(x1 - OBJ[0]) < 8 and abs(y1 - OBJ[1]) < 8 and abs(x2 - OBJ[0] - 64) < 8
    before = cv2.imdecode(np.frombuffer(f.attributes["_before"], np.uint8), cv2.IMREAD_COLOR)
    patch = (slice(OBJ[1], OBJ[1] + 44), slice(OBJ[0], OBJ[0] + 64))
    # the "before" frame shows the road where the box now stands
    assert np.abs(before[patch].astype(int) - street_frame[patch]).mean() < 12


def test_no_event_while_the_owner_stays(street_frame, props):
    assert run(street_frame, props, owner_stays=True) == []


def test_no_event_when_the_box_is_taken_away(street_frame, props):
    assert run(street_frame, props, taken_at=15) == []


def test_outside_the_watched_zone_nothing_fires(street_frame, props):
    rule = AbandonedRule(id="ab", kind="littering", dwell_s=10,
                         polygon=[(0, 0), (300, 0), (300, 300), (0, 300)])
    assert run(street_frame, props, rule) == []
    rule = AbandonedRule(id="ab", kind="littering", dwell_s=10,
                         polygon=[(350, 350), (600, 350), (600, 560), (350, 560)])
    (t, f), = run(street_frame, props, rule)
    assert f.kind == "littering"
