"""Ongoing alerts: a condition that keeps firing is one alert, not one alert per firing.

A camera's rule over one zone that fires again and again — the same intruder seen every
cool-down, the next passer-by crossing the same lawn, a crowd that stays dense — is one
*ongoing alert*:

* the first firing raises it;
* later firings are folded into it and counted (``repeats``) until ``cooldown_s`` have
  passed since its last alert; after that a firing raises a reminder alert only if it
  brings something new — a track the ongoing alert has not seen yet, or, for conditions
  without tracks (crowd density), any firing. The same track staying put is never raised
  twice;
* it ends once the condition has been absent for ``clear_s``; the next firing raises a
  fresh alert.

Each raised alert carries ``repeats`` (firings folded since the previous alert of the same
ongoing alert, 0 for the first) and ``ongoing_s`` (seconds since the ongoing alert began),
so nothing is silently lost; what was folded after the last alert is handed back when
the ongoing alert ends (:meth:`OngoingAlerts.expire`) for the caller to log or count.

Used by the analytics rule engine (:mod:`analytics.rules`) and by the demo's event
simulator, so simulated alerts repeat the way real ones do. Times are seconds on any one
clock (media seconds, epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable

#: Seconds an ongoing alert stays one alert, by event kind, when its rule does not say.
#: Kinds not listed raise every firing (a traffic violation is one offence per vehicle).
COOLDOWN_S: dict[str, float] = {"intrusion": 300.0, "loitering": 600.0,
                                "crowd_density": 1800.0}
#: Seconds a condition must be absent before its ongoing alert ends, by kind; others 60.
CLEAR_S: dict[str, float] = {"crowd_density": 300.0}
DEFAULT_CLEAR_S = 60.0
#: A measured condition (crowd density) still holds down to this share of its threshold:
#: a crowd hovering at the threshold is one ongoing alert, not one per crossing.
HOLD_RATIO = 0.8
#: An ongoing alert forgets a track that has not fired for this long (trackers do not
#: reuse ids; this only bounds the memory of a zone that stays busy for days).
FORGET_TRACK_S = 900.0


def default_cooldown_s(kind: str) -> float:
    """The ongoing-alert cool-down of an event kind (0: every firing is an alert)."""
    return COOLDOWN_S.get(kind, 0.0)


def default_clear_s(kind: str) -> float:
    """How long an event kind's condition must be absent before its ongoing alert ends."""
    return CLEAR_S.get(kind, DEFAULT_CLEAR_S)


@dataclass
class OngoingAlert:
    """One ongoing alert: when it began, last raised and last held; its tracks, repeats."""

    started: float
    alerted: float
    active: float
    tracks: dict[int, float] = field(default_factory=dict)  # track → last firing
    repeats: int = 0      # folded since the last raised alert
    alerts: int = 1       # raised so far
    folded: int = 0       # folded in all


class OngoingAlerts:
    """The ongoing alerts of one rule (or one simulated alert stream), by key."""

    def __init__(self, cooldown_s: float, clear_s: float = DEFAULT_CLEAR_S) -> None:
        if cooldown_s < 0 or clear_s < 0:
            raise ValueError(f"cooldown_s={cooldown_s!r}, clear_s={clear_s!r}: must be ≥ 0")
        self.cooldown_s = cooldown_s
        self.clear_s = clear_s
        self.ongoing: dict[Hashable, OngoingAlert] = {}
        self._ended: list[tuple[Hashable, OngoingAlert]] = []

    def holds(self, key: Hashable, t: float) -> None:
        """The condition of ``key`` holds at ``t`` (keeps its ongoing alert from ending)."""
        alert = self.ongoing.get(key)
        if alert is not None:
            alert.active = max(alert.active, t)

    def admit(self, key: Hashable, t: float, track_id: int | None = None
              ) -> dict[str, int] | None:
        """A firing of ``key`` at ``t``: the attributes of the alert it raises, or None
        when it is folded into the ongoing alert (and counted)."""
        if self.cooldown_s <= 0:
            return {"repeats": 0, "ongoing_s": 0}
        alert = self.ongoing.get(key)
        if alert is not None and t - alert.active > self.clear_s:
            self._ended.append((key, alert))  # cleared meanwhile: this is a new alert
            alert = None
        if alert is None:
            self.ongoing[key] = OngoingAlert(t, t, t, {track_id: t} if track_id is not None
                                             else {})
            return {"repeats": 0, "ongoing_s": 0}
        alert.active = max(alert.active, t)
        new_track = track_id is None or track_id not in alert.tracks
        if track_id is not None:
            alert.tracks[track_id] = t
        if new_track and t - alert.alerted >= self.cooldown_s:
            attrs = {"repeats": alert.repeats, "ongoing_s": round(t - alert.started)}
            alert.alerted, alert.repeats = t, 0
            alert.alerts += 1
            return attrs
        alert.repeats += 1
        alert.folded += 1
        return None

    def expire(self, t: float) -> list[tuple[Hashable, OngoingAlert]]:
        """End the ongoing alerts whose condition has been absent for ``clear_s``."""
        ended, self._ended = self._ended, []
        gone = [(k, a) for k, a in self.ongoing.items() if t - a.active > self.clear_s]
        for key, _ in gone:
            del self.ongoing[key]
        for alert in self.ongoing.values():
            if len(alert.tracks) > 64:
                alert.tracks = {k: v for k, v in alert.tracks.items()
                                if t - v <= FORGET_TRACK_S}
        return ended + gone
