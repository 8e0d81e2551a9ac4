"""store.ongoing: one alert per ongoing condition, repeats counted, memory bounded."""

from __future__ import annotations

import pytest

from store.ongoing import FORGET_TRACK_S, OngoingAlerts, default_cooldown_s


def test_kinds_without_a_cooldown_raise_every_firing():
    assert default_cooldown_s("red_light") == 0
    alerts = OngoingAlerts(0)
    assert all(alerts.admit("k", t, 1) is not None for t in range(5))


def test_folded_repeats_of_a_cleared_alert_are_handed_back_not_lost():
    alerts = OngoingAlerts(cooldown_s=300, clear_s=30)
    assert alerts.admit("k", 0, 1) == {"repeats": 0, "ongoing_s": 0}
    assert alerts.admit("k", 10, 2) is None and alerts.admit("k", 20, 1) is None
    # the condition is gone for 40 s; the next firing is a fresh alert …
    assert alerts.admit("k", 60, 3) == {"repeats": 0, "ongoing_s": 0}
    # … and the ended one, with its two repeats, is handed back once
    ended = alerts.expire(61)
    assert [(k, a.alerts, a.folded, a.repeats) for k, a in ended] == [("k", 1, 2, 2)]
    assert alerts.expire(62) == []


def test_a_zone_busy_for_days_keeps_a_bounded_memory():
    alerts = OngoingAlerts(cooldown_s=300, clear_s=60)
    for track in range(20_000):           # a new passer-by every 5 s for a day
        t = 5.0 * track
        alerts.admit("zone", t, track)
        alerts.expire(t)
    (alert,) = alerts.ongoing.values()
    assert len(alert.tracks) <= FORGET_TRACK_S / 5 + 64
    assert alert.alerts == 1 + int(5 * 19_999 // 300)   # one reminder per cool-down


def test_negative_times_are_refused():
    with pytest.raises(ValueError, match="cooldown_s=-1"):
        OngoingAlerts(-1)
