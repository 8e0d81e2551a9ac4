"""GeoEvents → rows of a binary COPY into ``events``: validation, tagging, encoding.

A batch is checked in numpy (coordinates, timestamps, values) and with set look-ups
(kind, camera); each bad event gets its own :class:`InvalidEvent` and is left out, so
one bad event never spoils a batch. Good events get their grid ``cell_id`` and, where
missing, ``ward_id``/``zone_id`` from the area index, and are encoded straight into
PostgreSQL's binary COPY format: fixed-width columns as one big-endian numpy record
array, text columns from a small cache of encoded strings.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, Callable, Sequence

import numpy as np

from gis.grid import cell_ids
from store.model import EVENT_KINDS, MAX_FUTURE_SKEW, GeoEvent, InvalidEvent

#: Column order of the COPY: fixed-width columns first, so they come from one array.
COPY_COLUMNS = ("ts", "lon", "lat", "severity", "cell_id", "camera_id", "kind", "ward_id",
                "zone_id", "track_id", "value", "attributes", "evidence_path",
                "evidence_sha256")
COPY_SQL = f"COPY events ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

_PG_EPOCH_S = 946_684_800  # 2000-01-01 in Unix seconds
_FIXED = np.dtype([("nf", ">i2"), ("l_ts", ">i4"), ("ts", ">i8"), ("l_lon", ">i4"),
                   ("lon", ">f8"), ("l_lat", ">i4"), ("lat", ">f8"), ("l_sev", ">i4"),
                   ("sev", ">i2"), ("l_cell", ">i4"), ("cell", ">i8")])
_NULL = b"\xff\xff\xff\xff"
_INT8 = struct.Struct(">iq").pack
_FLOAT8 = struct.Struct(">id").pack
_EMPTY_JSONB = struct.pack(">i", 3) + b"\x01{}"
_NULL2 = _NULL + _NULL
_KINDS = frozenset(EVENT_KINDS)
_KIND, _CAMERA, _TS, _TZINFO, _LON, _LAT = map(attrgetter, (
    "kind", "camera_id", "ts", "tzinfo", "lon", "lat"))
log = logging.getLogger(__name__)


@dataclass
class EncodedBatch:
    """The COPY payload of the good events of a batch and what was left out."""

    payload: bytes
    events: list[GeoEvent]
    rejected: list[tuple[GeoEvent, InvalidEvent]]
    days: np.ndarray  # distinct UTC days (days since 1970-01-01) of the good events


class TextCache:
    """Length-prefixed UTF-8 encodings of the strings seen (camera ids, kinds, areas)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._cache: dict[str | None, bytes] = {None: _NULL}
        self._limit = limit

    @property
    def cached(self) -> Callable[[str | None], bytes | None]:
        """``get`` of the cache: the encoding of a string seen, else None (then index)."""
        return self._cache.get

    def __getitem__(self, text: str | None) -> bytes:
        try:
            return self._cache[text]
        except KeyError:
            pass
        if len(self._cache) > self._limit:
            self._cache = {None: _NULL}
        raw = str(text).encode()
        enc = self._cache[text] = struct.pack(">i", len(raw)) + raw
        return enc


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    raw = value.encode()
    return struct.pack(">i", len(raw)) + raw


def _jsonb(attrs: Any) -> bytes:
    if not attrs:
        return _EMPTY_JSONB
    raw = json.dumps(dict(attrs), ensure_ascii=False, separators=(",", ":"),
                     allow_nan=False).encode()
    return struct.pack(">i", len(raw) + 1) + b"\x01" + raw


def _reason(event: GeoEvent, cameras: frozenset[str] | set[str], now: datetime,
            retention: timedelta | None = None) -> InvalidEvent:
    """The first thing wrong with an event the fast check flagged."""
    try:
        event.check(now, retention)
    except InvalidEvent as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a malformed field of any kind
        return InvalidEvent("event", repr(event)[:200], f"malformed: {exc}")
    if event.camera_id not in cameras:
        return InvalidEvent("camera_id", event.camera_id, "unknown camera")
    try:
        _jsonb(event.attributes)
    except (TypeError, ValueError) as exc:
        return InvalidEvent("attributes", repr(event.attributes)[:200],
                            f"not JSON-serialisable: {exc}")
    try:
        int(event.severity)
        if event.track_id is not None:
            _INT8(8, event.track_id)
    except (TypeError, ValueError, struct.error) as exc:
        return InvalidEvent("severity/track_id", (event.severity, event.track_id), str(exc))
    return InvalidEvent("event", repr(event)[:200], "rejected")


def _fast_mask(batch: Sequence[GeoEvent], cameras, now_s: float,
               oldest_s: float = -np.inf) -> tuple[np.ndarray, ...]:
    """(ok mask, lon, lat, unix seconds) for a batch, in numpy.

    Attributes are read with ``map(attrgetter)`` and kinds/cameras checked as whole sets:
    a batch where every kind and camera is known (the usual case) costs no Python-level
    loop; otherwise the per-event mask is built."""
    n = len(batch)
    kinds = list(map(_KIND, batch))
    cams = list(map(_CAMERA, batch))
    stamps = list(map(_TS, batch))
    if (_KINDS.issuperset(kinds) and cameras.issuperset(cams)
            and None not in set(map(_TZINFO, stamps))):
        ok = np.ones(n, bool)
    else:
        ok = np.fromiter((k in _KINDS and c in cameras and t.tzinfo is not None
                          for k, c, t in zip(kinds, cams, stamps)), bool, n)
    lon = np.fromiter(map(_LON, batch), np.float64, n)
    lat = np.fromiter(map(_LAT, batch), np.float64, n)
    ts = np.fromiter(map(datetime.timestamp, stamps), np.float64, n)
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) \
            & (np.abs(lat) <= 90) & (ts <= now_s + MAX_FUTURE_SKEW.total_seconds()) \
            & (ts >= oldest_s)
    return ok, lon, lat, ts


def encode_batch(batch: Sequence[GeoEvent], cameras: frozenset[str] | set[str],
                 tag: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
                 texts: TextCache, now: datetime | None = None,
                 retention: timedelta | None = None) -> EncodedBatch:
    """Validate, tag and encode ``batch`` (see the module docstring); with ``retention``
    events older than ``now - retention`` are rejected."""
    now = now or datetime.now(timezone.utc)
    oldest_s = -np.inf if retention is None else (now - retention).timestamp()
    n = len(batch)
    try:
        ok, lon, lat, ts = _fast_mask(batch, cameras, now.timestamp(), oldest_s)
        fast = True
    except (TypeError, ValueError, AttributeError, OverflowError):
        ok = np.zeros(n, bool)
        fast = False
    rejected: list[tuple[GeoEvent, InvalidEvent]] = []
    good = list(batch) if ok.all() else None
    if good is None:
        keep = []
        for i, e in enumerate(batch):
            if ok[i]:
                keep.append(i)
            else:
                reason = _reason(e, cameras, now, retention)
                if reason.reason == "rejected":  # the fast path was wrong: recheck below
                    keep.append(i)
                else:
                    rejected.append((e, reason))
        good = [batch[i] for i in keep]
        if len(keep) != n or not fast:
            lon = np.fromiter((e.lon for e in good), np.float64, len(good))
            lat = np.fromiter((e.lat for e in good), np.float64, len(good))
            ts = np.fromiter((e.ts.timestamp() for e in good), np.float64, len(good))
    # Per-event encoding of the variable columns; a failure rejects that event only.
    tails: list[bytes] = []
    kept: list[GeoEvent] = []
    keep_idx: list[int] = []
    wards = zones = None
    if tag is not None and good:
        need = [i for i, e in enumerate(good) if e.ward_id is None or e.zone_id is None]
        if need:
            try:
                w, z = tag(lon[need], lat[need])
            except Exception:  # noqa: BLE001 - untagged beats not stored
                log.exception("ward/zone tagging failed; %d events stored untagged",
                              len(need))
            else:
                wards = dict(zip(need, w.tolist()))
                zones = dict(zip(need, z.tolist()))
    cached = texts.cached  # dict.get of the cache: a miss (None) goes through texts[]
    for i, e in enumerate(good):
        ward, zone = e.ward_id, e.zone_id
        if wards is not None and i in wards:
            ward = ward if ward is not None else wards[i]
            zone = zone if zone is not None else zones[i]
        try:
            track, value, attrs, evidence = e.track_id, e.value, e.attributes, e.evidence
            tail = ((cached(e.camera_id) or texts[e.camera_id])
                    + (cached(e.kind) or texts[e.kind])
                    + (cached(ward) or texts[ward]) + (cached(zone) or texts[zone])
                    + (_NULL if track is None else _INT8(8, track))
                    + (_NULL if value is None else _FLOAT8(8, value))
                    + (_jsonb(attrs) if attrs else _EMPTY_JSONB)
                    + (_NULL2 if evidence is None else
                       _text(evidence.path) + _text(evidence.sha256)))
            if e.value is not None and not math.isfinite(e.value):
                raise ValueError("value must be finite")
        except (TypeError, ValueError, AttributeError, struct.error) as exc:
            rejected.append((e, _reason(e, cameras, now) if not isinstance(exc, ValueError)
                             or "finite" not in str(exc) else
                             InvalidEvent("value", e.value, "must be finite")))
            continue
        tails.append(tail)
        kept.append(e)
        keep_idx.append(i)
    m = len(kept)
    if m != len(good):
        idx = np.array(keep_idx, dtype=np.intp)
        lon, lat, ts = lon[idx], lat[idx], ts[idx]
    if m == 0:
        return EncodedBatch(b"", [], rejected, np.zeros(0, np.int64))
    rec = np.empty(m, dtype=_FIXED)
    rec["nf"] = len(COPY_COLUMNS)
    rec["l_ts"] = rec["l_lon"] = rec["l_lat"] = rec["l_cell"] = 8
    rec["l_sev"] = 2
    rec["ts"] = np.rint((ts - _PG_EPOCH_S) * 1e6).astype(np.int64)
    rec["lon"] = lon
    rec["lat"] = lat
    rec["sev"] = np.fromiter((e.severity for e in kept), np.int16, m)
    rec["cell"] = cell_ids(lon, lat)
    parts: list[bytes] = [b""] * (2 * m)
    parts[0::2] = rec.view(f"V{_FIXED.itemsize}").tolist()
    parts[1::2] = tails
    days = np.unique(np.floor(ts / 86400).astype(np.int64))
    return EncodedBatch(b"".join(parts), kept, rejected, days)
