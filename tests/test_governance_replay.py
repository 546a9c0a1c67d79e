"""The real SF fire feed through the governance: realistic stage times, and an overdue board
that fills and empties as the limits pass (a replay at speed 1, its clock stepped)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cockpit import governance_queries as gq
from cockpit import replay as rp
from cockpit.ingest import Ingestor
from cockpit.replay_mapping import load_mapping
from cockpit.store.models import Incident
from cockpit.vocab import Stage
from tests.conftest import SHARED_DATA

SF = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
INCIDENTS = 120
STEP = timedelta(minutes=5)

pytestmark = pytest.mark.skipif(not SF.is_file(), reason=f"{SF} not found")


@pytest.fixture(scope="module")
def sf_plan():
    mapping = load_mapping("sf_fire_calls")
    incidents, _ = rp.read_incidents(SF, mapping)
    chosen = sorted(incidents, key=lambda i: i.times[Stage.REPORTED])[:INCIDENTS]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    events = rp.plan_events(chosen, mapping, start, 1, run_id="gov")
    return chosen, sorted(events, key=lambda e: e.offset), start


def _median_gap(pairs) -> float:
    return statistics.median((b - a).total_seconds() for a, b in pairs if a and b and b >= a)


def test_sf_feed_keeps_its_stage_times_and_the_board_fills_and_empties(services, sf_plan):
    chosen, events, start = sf_plan
    worker = Ingestor(services.settings, services.redis, services.sessions, consumer="sf",
                      block_ms=20)
    worker.start()
    stream = services.settings.stream("incidents")
    tz = services.settings.tz
    clock, board, sent = start, [], 0
    end = start + timedelta(seconds=events[-1].offset) + STEP
    while clock <= end:
        batch = [e for e in events[sent:] if e.offset <= (clock - start).total_seconds()]
        for event in batch:
            services.redis.xadd(stream, event.fields)
        sent += len(batch)
        while worker.step():
            pass
        with services.read() as session:
            board.append(gq.overdue(session, tz, clock)["total"])
        clock += STEP
    assert sent == len(events) and worker.stats.dead == 0
    # the board fills as limits pass, empties as incidents move on, and is empty at the end
    assert max(board) >= 3
    assert any(later < earlier for earlier, later in zip(board, board[1:], strict=False))
    assert board[-1] == 0

    # stage times are the file's own: received → dispatch → on scene → available
    with services.read() as session:
        rows = session.execute(select(Incident.reported_at, Incident.dispatched_at,
                                      Incident.arrived_at, Incident.closed_at,
                                      Incident.stage)).all()
    assert len(rows) == INCIDENTS
    real = [(i.times.get(Stage.REPORTED), i.times.get(Stage.DISPATCHED),
             i.times.get(Stage.ARRIVED), i.times.get(Stage.CLOSED)) for i in chosen]
    for a, b in ((0, 1), (1, 2), (0, 3)):
        stored = _median_gap([(r[a], r[b]) for r in rows])
        assert stored == pytest.approx(_median_gap([(r[a], r[b]) for r in real]), abs=1)
    assert 30 < _median_gap([(r[0], r[1]) for r in rows]) < 600  # minutes, not hours
    assert {r.stage for r in rows} <= {"closed", "cancelled"}
