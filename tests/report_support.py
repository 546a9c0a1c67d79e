"""A day of the replayed feed, and the volunteers and waste of that day, through the real ingest.

The day is a local day three days back; the real SF fire calls (shared/data) are replayed from
its 21:00 at speed 6, so some incidents still run past its midnight (they are open at the end
of the day, closed now). Volunteers check in at an activity, a mobilisation is answered, and a
station rates disposals the same day; one disposal the next day stays out of the day's counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from cockpit import replay as rp
from cockpit.replay_mapping import load_mapping
from cockpit.vocab import Stage
from tests import store_support
from tests.conftest import SHARED_DATA, unavailable
from tests.volunteer_factories import activity, answer, punch, registered, requested
from tests.waste_factories import disposal, household, station

SF = SHARED_DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
INCIDENTS = 150
VILLAGE = "330110006201"
#: The landlord of a tenant household (a landlord account needs one).
LANDLORD = "LL-REP-1"
#: The day's disposals at the station: (correct, incorrect); the next day adds one more.
DISPOSALS = (7, 2)


def require_cjk_font() -> None:
    """Skip here (fail on CI) without a CJK font: the briefings' PDF refuses to draw tofu."""
    from cockpit.report_fonts import FontMissing, find_cjk_font

    try:
        find_cjk_font()
    except FontMissing:
        unavailable("a CJK font for the briefings' PDF (Debian: fonts-noto-cjk; "
                    "scripts/ensure-test-deps)")


def day_of_feed(tz, now: datetime | None = None) -> date:
    """The local day the feed is replayed on: three days before today."""
    now = now or datetime.now(UTC)
    return now.astimezone(tz).date() - timedelta(days=3)


def store_day(services, day: date | None = None) -> date:
    """Ingest the replayed incidents, volunteers and waste of a day; return that day."""
    tz = services.settings.tz
    day = day or day_of_feed(tz)
    start = datetime.combine(day, time(21, 0), tz).astimezone(UTC)
    mapping = load_mapping("sf_fire_calls")
    incidents, _ = rp.read_incidents(SF, mapping)
    chosen = sorted(incidents, key=lambda i: i.times[Stage.REPORTED])[:INCIDENTS]
    events = sorted(rp.plan_events(chosen, mapping, start, 6, stage_speed=1, run_id="rep"),
                    key=lambda e: e.offset)
    store_support.ingest(services, [e.fields for e in events], "rep-inc", "incidents")
    at = datetime.combine(day, time(9, 0), tz)
    people = [registered(f"RV-{n}", f"志愿者{n}", village=VILLAGE, at=at - timedelta(days=30))
              for n in range(3)]
    volunteer_events = [*people, activity("RA-1", at, hours=3, village=VILLAGE)]
    for n in range(3):
        volunteer_events += [punch("RA-1", f"RV-{n}", at + timedelta(minutes=5 * n)),
                             punch("RA-1", f"RV-{n}", at + timedelta(hours=2, minutes=n),
                                   out=True)]
    volunteer_events += [requested("RM-1", VILLAGE, 4, at + timedelta(hours=1),
                                   at + timedelta(hours=5), title="防汛巡查"),
                         answer("RM-1", "RV-0", "accepted", at + timedelta(hours=1, minutes=5)),
                         answer("RM-1", "RV-1", "accepted", at + timedelta(hours=1, minutes=9)),
                         answer("RM-1", "RV-0", "arrived", at + timedelta(hours=2))]
    store_support.ingest(services, volunteer_events, "rep-vol", "volunteers")
    good, bad = DISPOSALS
    waste = [station("RS-1", village=VILLAGE, at=at - timedelta(days=30)),
             household("RH-1", village=VILLAGE, at=at - timedelta(days=30)),
             household("RH-2", village=VILLAGE, kind="tenant", house_id="RHS-1",
                       landlord_id=LANDLORD, at=at - timedelta(days=30))]
    waste += [disposal("RH-1", at + timedelta(minutes=10 * k), station_id="RS-1")
              for k in range(good)]
    waste += [disposal("RH-1", at + timedelta(hours=3, minutes=k), correct=False,
                       station_id="RS-1") for k in range(bad)]
    waste.append(disposal("RH-1", at + timedelta(days=1), correct=False, station_id="RS-1"))
    store_support.ingest(services, waste, "rep-waste", "waste")
    return day
