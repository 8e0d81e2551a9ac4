"""Vietnamese plate normalising, validation and per-track voting on parametrised tables."""

from __future__ import annotations

import pytest

from store.plate_format import (PROVINCE_CODES, PlateVoter, compact,
                                                is_valid, parse_plate)


@pytest.mark.parametrize("lines, text, vehicle, province", [
    (["51G-123.45"], "51G-123.45", "car", "TP. Hồ Chí Minh"),
    (["51G12345"], "51G-123.45", "car", "TP. Hồ Chí Minh"),
    (["36A 567.89"], "36A-567.89", "car", "Thanh Hóa"),          # space read as two rows
    (["29A-1234"], "29A-1234", "car", "Hà Nội"),                 # old four-digit plate
    (["51LD-012.34"], "51LD-012.34", "car", "TP. Hồ Chí Minh"),
    (["51G", "123.45"], "51G-123.45", "car", "TP. Hồ Chí Minh"),   # square car plate
    (["59-X3", "123.45"], "59-X3 123.45", "motorbike", "TP. Hồ Chí Minh"),
    (["68-B1", "2345"], "68-B1 2345", "motorbike", "Kiên Giang"),
    (["29-AA", "123.45"], "29-AA 123.45", "motorbike", "Hà Nội"),
    (["59-X3 123.45"], "59-X3 123.45", "motorbike", "TP. Hồ Chí Minh"),
    # OCR confusions repaired by position
    (["5IG-I23.45"], "51G-123.45", "car", "TP. Hồ Chí Minh"),
    (["36A-S67.B9"], "36A-567.89", "car", "Thanh Hóa"),
    (["59-X3", "I23.4S"], "59-X3 123.45", "motorbike", "TP. Hồ Chí Minh"),
    (["3GA-567.89"], "36A-567.89", "car", "Thanh Hóa"),
    (["51 6-123.45"], None, None, None),          # series slot '6' → G, but split wrong
    (["13A-123.45"], None, None, None),           # 13: no such province code
    (["39A-123.45"], None, None, None),
    (["51G-123.4"], None, None, None),            # too short
    (["51G-123.456"], None, None, None),          # too long
    (["59X3123.45"], None, None, None),           # a motorbike plate is never one row
    (["HELLO WORLD"], None, None, None),
    (["5OO-OOO.OO"], None, None, None),           # too many repairs
    ([], None, None, None),
])
def test_parse_plate(lines, text, vehicle, province):
    plate = parse_plate(lines)
    if text is None:
        assert plate is None
        return
    assert plate is not None
    assert (plate.text, plate.vehicle, plate.province) == (text, vehicle, province)
    assert plate.compact == compact(text)


def test_repairs_are_counted():
    assert parse_plate("51G-123.45").fixes == 0
    assert parse_plate("5IG-I23.45").fixes == 2


@pytest.mark.parametrize("text, ok", [
    ("51G-123.45", True), ("59-X3 123.45", True), ("29A-1234", True),
    ("51g-123.45", False), ("51G12345", False), ("5IG-123.45", False),
    ("00A-123.45", False),
])
def test_is_valid(text, ok):
    assert is_valid(text) is ok


def test_province_table_is_real():
    assert PROVINCE_CODES["36"] == "Thanh Hóa" and PROVINCE_CODES["68"] == "Kiên Giang"
    assert all(len(c) == 2 and c.isdigit() for c in PROVINCE_CODES)
    assert "13" not in PROVINCE_CODES and "39" not in PROVINCE_CODES
    # the 63 provinces and cities (before the 2025 mergers) and the central agencies
    assert len(set(PROVINCE_CODES.values())) == 64


def test_voter_decides_on_agreeing_reads_and_outvotes_a_misread():
    voter = PlateVoter(min_reads=3, min_share=0.6)
    good, bad = parse_plate("51G-123.45"), parse_plate("51G-128.45")
    assert voter.add(7, good, 0.9, 0.0) is None
    assert voter.add(7, bad, 0.8, 0.5) is None
    vote = voter.add(7, good, 0.9, 1.0)
    assert vote is not None and vote.plate.text == "51G-123.45"
    assert vote.reads == 3 and vote.share == pytest.approx(1.8 / 2.6)
    assert voter.decided(7)
    assert voter.add(7, good, 0.9, 1.5) is None          # one decision per track
    assert voter.finish([7]) == []


def test_voter_weights_repaired_reads_lower_and_decides_on_track_end():
    voter = PlateVoter(min_reads=5)
    clean, repaired = parse_plate("36A-567.89"), parse_plate("36A-S67.B9")
    assert clean.compact == repaired.compact  # same plate, repaired read counts for it
    other = parse_plate("36A-561.89")
    voter.add(1, other, 0.95, 0.0)
    voter.add(1, clean, 0.6, 0.1)
    voter.add(1, repaired, 0.6, 0.2)  # weight 0.6 * (1 - 2 * 0.25) = 0.3
    assert voter.stale(3.0, 2.0) == [1]
    (vote,) = voter.finish([1])
    assert vote.plate.text == "36A-561.89"  # 0.95 beats 0.6 + 0.3
    assert vote.reads == 3
    assert voter.finish([1]) == []
