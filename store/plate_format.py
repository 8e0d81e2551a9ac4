"""Vietnamese licence plates: patterns, province codes, OCR clean-up and per-track voting.

Plates are normalised to two printed forms (Circular 24/2023/TT-BCA layouts):

* cars (one row, or the square two-row plate): ``51G-123.45``, ``51LD-123.45``,
  older four-digit ``29A-1234``;
* motorbikes (two rows): ``59-X3 123.45``, ``59-X3 1234``, under-50cc ``29-AA 123.45``.

``compact`` (``51G12345``) is what searches match on. OCR reads are repaired position
by position (``O`` in a digit slot is ``0``, ``8`` in a letter slot is ``B``); a read
needing more than :data:`MAX_FIXES` repairs, or whose province code is not issued, is
refused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

#: Two-digit plate codes issued to each province or city (code → name). Hà Nội and
#: Hồ Chí Minh City hold several; 80 is for central agencies.
PROVINCE_CODES: dict[str, str] = {
    "11": "Cao Bằng", "12": "Lạng Sơn", "14": "Quảng Ninh", "15": "Hải Phòng",
    "16": "Hải Phòng", "17": "Thái Bình", "18": "Nam Định", "19": "Phú Thọ",
    "20": "Thái Nguyên", "21": "Yên Bái", "22": "Tuyên Quang", "23": "Hà Giang",
    "24": "Lào Cai", "25": "Lai Châu", "26": "Sơn La", "27": "Điện Biên",
    "28": "Hòa Bình", "29": "Hà Nội", "30": "Hà Nội", "31": "Hà Nội", "32": "Hà Nội",
    "33": "Hà Nội", "34": "Hải Dương", "35": "Ninh Bình", "36": "Thanh Hóa",
    "37": "Nghệ An", "38": "Hà Tĩnh", "40": "Hà Nội", "41": "TP. Hồ Chí Minh",
    "43": "Đà Nẵng", "47": "Đắk Lắk", "48": "Đắk Nông", "49": "Lâm Đồng",
    "50": "TP. Hồ Chí Minh", "51": "TP. Hồ Chí Minh", "52": "TP. Hồ Chí Minh",
    "53": "TP. Hồ Chí Minh", "54": "TP. Hồ Chí Minh", "55": "TP. Hồ Chí Minh",
    "56": "TP. Hồ Chí Minh", "57": "TP. Hồ Chí Minh", "58": "TP. Hồ Chí Minh",
    "59": "TP. Hồ Chí Minh", "60": "Đồng Nai", "61": "Bình Dương", "62": "Long An",
    "63": "Tiền Giang", "64": "Vĩnh Long", "65": "Cần Thơ", "66": "Đồng Tháp",
    "67": "An Giang", "68": "Kiên Giang", "69": "Cà Mau", "70": "Tây Ninh",
    "71": "Bến Tre", "72": "Bà Rịa - Vũng Tàu", "73": "Quảng Bình", "74": "Quảng Trị",
    "75": "Thừa Thiên Huế", "76": "Quảng Ngãi", "77": "Bình Định", "78": "Phú Yên",
    "79": "Khánh Hòa", "80": "Cơ quan Trung ương", "81": "Gia Lai", "82": "Kon Tum",
    "83": "Sóc Trăng", "84": "Trà Vinh", "85": "Ninh Thuận", "86": "Bình Thuận",
    "88": "Vĩnh Phúc", "89": "Hưng Yên", "90": "Hà Nam", "92": "Quảng Nam",
    "93": "Bình Phước", "94": "Bạc Liêu", "95": "Hậu Giang", "97": "Bắc Kạn",
    "98": "Bắc Giang", "99": "Bắc Ninh",
}

#: Series letters printed on plates (I, J, O, Q and W are not used).
LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"
#: How many characters a read may have repaired and still count.
MAX_FIXES = 2

_TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "J": "1",
             "T": "1", "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4", "Y": "7"}
_TO_LETTER = {"0": "D", "1": "T", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T",
              "8": "B", "O": "D", "Q": "D", "I": "T", "J": "T", "W": "V"}


@dataclass(frozen=True)
class Layout:
    """One plate layout: the character classes of the top part and of the number."""

    name: str
    vehicle: str           # "car" | "motorbike"
    head: str              # D digit, L letter, l letter never repaired
    number: int            # digits in the registration number
    rows: tuple[int, ...]  # rows this layout is printed on (1, 2)


LAYOUTS: tuple[Layout, ...] = (
    Layout("car5", "car", "DDL", 5, (1, 2)),
    Layout("car5-2l", "car", "DDLl", 5, (1, 2)),
    Layout("car4", "car", "DDL", 4, (1, 2)),
    Layout("moto5", "motorbike", "DDLD", 5, (2,)),
    Layout("moto4", "motorbike", "DDLD", 4, (2,)),
    Layout("moto5-2l", "motorbike", "DDLl", 5, (2,)),
)


@dataclass(frozen=True)
class Plate:
    """A validated plate: printed form, compact form, province and vehicle type."""

    text: str        # "51G-123.45" / "59-X3 123.45"
    compact: str     # "51G12345" / "59X312345"
    province_code: str
    province: str
    vehicle: str     # "car" | "motorbike"
    layout: str
    fixes: int = 0   # characters repaired from the OCR read


def compact(text: str) -> str:
    """Upper-case letters and digits only: what plate searches compare."""
    return re.sub(r"[^0-9A-Z]", "", text.upper().replace("Đ", "D"))


def _coerce(chars: str, classes: str) -> tuple[str, int] | None:
    out, fixes = [], 0
    for ch, cls in zip(chars, classes):
        if cls == "D":
            if ch.isdigit():
                out.append(ch)
            elif ch in _TO_DIGIT:
                out.append(_TO_DIGIT[ch])
                fixes += 1
            else:
                return None
        elif cls == "l":  # a second series letter: only a real letter, never a repair
            if ch not in LETTERS:
                return None
            out.append(ch)
        else:
            if ch in LETTERS:
                out.append(ch)
            elif ch in _TO_LETTER:
                out.append(_TO_LETTER[ch])
                fixes += 1
            else:
                return None
    return "".join(out), fixes


def _format(layout: Layout, head: str, number: str) -> str:
    num = f"{number[:3]}.{number[3:]}" if len(number) == 5 else number
    if layout.vehicle == "car":
        return f"{head}-{num}"
    return f"{head[:2]}-{head[2:]} {num}"


def parse_plate(lines: Sequence[str] | str) -> Plate | None:
    """The plate an OCR read spells (one line, or the rows of a two-row plate), or None.

    Among the layouts the read fits, the one needing fewest repairs wins; a two-row read
    must split where the layout's head ends, and a one-row read is never a motorbike.
    """
    if isinstance(lines, str):
        lines = [lines]
    # "59-X3 123.45": a space separates the rows
    rows = [compact(part) for line in lines for part in line.split()]
    rows = [r for r in rows if r]
    if not rows or len(rows) > 2:
        return None
    text = "".join(rows)
    dotted = any("." in line for line in lines)  # "123.45": a five-digit number
    best: tuple[int, int, Plate] | None = None
    for rank, layout in enumerate(LAYOUTS):
        if len(rows) not in layout.rows or len(text) != len(layout.head) + layout.number:
            continue
        if len(rows) == 2 and len(rows[0]) != len(layout.head) or \
                dotted and layout.number != 5:
            continue
        head = _coerce(text[:len(layout.head)], layout.head)
        number = _coerce(text[len(layout.head):], "D" * layout.number)
        if head is None or number is None:
            continue
        fixes = head[1] + number[1]
        code = head[0][:2]
        if fixes > MAX_FIXES or code not in PROVINCE_CODES:
            continue
        plate = Plate(_format(layout, head[0], number[0]), head[0] + number[0], code,
                      PROVINCE_CODES[code], layout.vehicle, layout.name, fixes)
        # two rows: a motorbike plate before a square car plate of the same characters
        order = rank + (len(LAYOUTS) if len(rows) == 2 and layout.vehicle == "car" else 0)
        if best is None or (fixes, order) < best[:2]:
            best = (fixes, order, plate)
    return None if best is None else best[2]


def plate_attributes(plate: Plate) -> dict[str, Any]:
    """The attributes of every ``plate_read``/``plate_match`` event about ``plate``.

    ``plate_compact`` is what the plate search matches on; workers and the demo's
    simulator both build plate events from this, so a search finds either the same way.
    """
    return {"plate": plate.text, "plate_compact": plate.compact,
            "province_code": plate.province_code, "province": plate.province,
            "vehicle": plate.vehicle}


def is_valid(text: str) -> bool:
    """Whether ``text`` is already a correctly printed plate (no repairs needed)."""
    plate = parse_plate(text)
    return plate is not None and plate.fixes == 0 and plate.text == text


@dataclass
class _TrackVotes:
    score: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    plates: dict[str, Plate] = field(default_factory=dict)
    reads: int = 0
    first_t: float = 0.0
    last_t: float = 0.0
    decided: bool = False


@dataclass(frozen=True)
class PlateVote:
    """The plate a track voted for: winner, its share of the votes and how many reads."""

    track_id: int
    plate: Plate
    share: float
    reads: int
    confidence: float


class PlateVoter:
    """Votes plate reads across the frames of each track; decides once per track.

    A read votes with its OCR confidence, less for each repaired character. A track is
    decided when ``min_reads`` reads agree on a winner with at least ``min_share`` of the
    votes, or when it ends (:meth:`finish`) with any valid read.
    """

    def __init__(self, min_reads: int = 3, min_share: float = 0.6,
                 fix_penalty: float = 0.25) -> None:
        self.min_reads = min_reads
        self.min_share = min_share
        self.fix_penalty = fix_penalty
        self._tracks: dict[int, _TrackVotes] = {}

    def add(self, track_id: int, plate: Plate, confidence: float, t: float
            ) -> PlateVote | None:
        """Count one read; the vote when this read decides the track."""
        votes = self._tracks.get(track_id)
        if votes is None:
            votes = self._tracks[track_id] = _TrackVotes(first_t=t)
        votes.last_t = t
        if votes.decided:
            return None
        weight = max(0.05, confidence * (1.0 - self.fix_penalty * plate.fixes))
        votes.score[plate.compact] += weight
        votes.plates.setdefault(plate.compact, plate)
        votes.reads += 1
        vote = self._winner(track_id, votes)
        if vote.reads >= self.min_reads and vote.share >= self.min_share:
            votes.decided = True
            return vote
        return None

    def _winner(self, track_id: int, votes: _TrackVotes) -> PlateVote:
        key = max(votes.score, key=votes.score.__getitem__)
        total = sum(votes.score.values())
        return PlateVote(track_id, votes.plates[key], votes.score[key] / total, votes.reads,
                         votes.score[key] / max(1, votes.reads))

    def decided(self, track_id: int) -> bool:
        """Whether the track already has its plate."""
        votes = self._tracks.get(track_id)
        return votes is not None and votes.decided

    def finish(self, track_ids: Iterable[int]) -> list[PlateVote]:
        """Close ended tracks; the vote of each that had reads but was not yet decided."""
        out = []
        for tid in track_ids:
            votes = self._tracks.pop(tid, None)
            if votes is not None and not votes.decided and votes.reads:
                out.append(self._winner(tid, votes))
        return out

    def stale(self, t: float, after_s: float) -> list[int]:
        """Tracks with no read for ``after_s`` media seconds."""
        return [tid for tid, v in self._tracks.items() if t - v.last_t > after_s]
