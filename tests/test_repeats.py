"""Repeat grouping against a brute-force reading of its rule, on random incidents."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from cockpit.governance_config import load_governance
from cockpit.repeats import AnchorIndex, distance_m, sweep

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def brute_force(rows, distance, window):
    """The rule as written: each incident, in report order, repeats the earliest anchor of its
    category within ``distance`` and ``window`` before it; otherwise it is an anchor."""
    anchors, group = [], {}
    for row in sorted(rows, key=lambda r: (r.reported_at, r.incident_id)):
        near = [a for a in anchors if a.category == row.category
                and row.reported_at - window <= a.reported_at <= row.reported_at
                and distance_m(row.lon, row.lat, a.lon, a.lat) <= distance]
        if near:
            first = min(near, key=lambda a: (a.reported_at, a.incident_id))
            group[row.incident_id] = first.incident_id
            group[first.incident_id] = first.incident_id
        else:
            anchors.append(row)
            group.setdefault(row.incident_id, None)
    return group


def _rows(rng: random.Random, n: int) -> list[SimpleNamespace]:
    out = []
    for i in range(n):
        out.append(SimpleNamespace(
            incident_id=f"r{rng.randrange(10**6):06d}-{i}",
            category=rng.choice(["fire", "police"]),
            # a 1 km square: many neighbours within 150 m; times over 10 days, some tied
            lon=120.28 + rng.random() * 0.0104, lat=30.35 + rng.random() * 0.009,
            reported_at=T0 + timedelta(hours=rng.randrange(240), minutes=rng.choice([0, 30])),
            repeat_group=None, repeat_size=0))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_sweep_follows_the_rule(seed):
    config = load_governance()
    rng = random.Random(seed)
    rows = _rows(rng, 400)
    rng.shuffle(rows)  # the sweep does not rely on the order it is given
    expected = brute_force(rows, config.repeats.distance_m, config.repeats.window)
    assert sweep([], rows, config) == expected
    assert sum(1 for g in expected.values() if g) > 50  # the case is not trivial


def test_sweep_with_context_anchors_matches_one_sweep_over_everything():
    config = load_governance()
    rows = sorted(_rows(random.Random(7), 300), key=lambda r: (r.reported_at, r.incident_id))
    whole = sweep([], rows, config)
    start = rows[150].reported_at
    before = [r for r in rows if r.reported_at < start]
    after = [r for r in rows if r.reported_at >= start]
    for r in before:
        r.repeat_group = whole[r.incident_id]
    context = [r for r in before if r.reported_at >= start - config.repeats.window
               and r.repeat_group in (None, r.incident_id)]
    part = sweep(list(reversed(context)), after, config)
    assert {k: v for k, v in part.items() if k in {r.incident_id for r in after}} == \
        {r.incident_id: whole[r.incident_id] for r in after}


def test_anchors_must_come_in_report_order():
    index = AnchorIndex(150, timedelta(hours=72))
    late = SimpleNamespace(incident_id="b", category="fire", lon=120.3, lat=30.35,
                           reported_at=T0 + timedelta(hours=1))
    index.add(late)
    with pytest.raises(ValueError, match="report order"):
        index.add(SimpleNamespace(incident_id="a", category="fire", lon=120.3, lat=30.35,
                                  reported_at=T0))
