"""The waste module against the real Redis and both databases, through the real ingest:
dead letters of the contract, accuracy equal to the stored disposals, tenants moving out and in,
weak households and their follow-ups, and personal data kept out of history."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cockpit.store.waste_models import (
    FollowUp,
    Household,
    Landlord,
    WasteDisposal,
    WasteEventRow,
)
from cockpit.waste import accuracy, queries
from cockpit.waste.config import load_waste_rules
from cockpit.waste.followup import judge, upper_bound
from tests.factories import T0
from tests.store_support import dead_letters
from tests.waste_factories import disposal, followup_event, household, moved_out, station
from tests.waste_factories import ingest as _ingest

CHAOYANG = "330110006224"
DAY = timedelta(days=1)


def test_outliers_and_unknown_classes_are_dead_lettered_and_the_rest_kept(services):
    start = T0 - 3 * DAY
    good = [disposal("H-1", start + i * timedelta(hours=1)) for i in range(5)]
    bad = [disposal("H-1", start, weight="-3", event_id="bad-neg"),
           disposal("H-1", start, weight="9000", event_id="bad-huge"),
           disposal("H-1", start, declared="建筑垃圾", event_id="bad-class"),
           disposal("H-1", start, photo="data:image/jpeg;base64,/9j/4AAQ", event_id="bad-photo"),
           disposal("H-1", start, correct=False, found_class="", event_id="bad-found")]
    _ingest(services, [station("ST-1"), household("H-1"), *good[:2], *bad, *good[2:]])
    dead = {json.loads(d["fields"])["event_id"]: d["reason"] for d in dead_letters(services)}
    assert set(dead) == {"bad-neg", "bad-huge", "bad-class", "bad-photo", "bad-found"}
    assert "weight_kg: -3 kg is not a weight" in dead["bad-neg"]
    assert "9000 kg is outside the sane range" in dead["bad-huge"]
    assert "'建筑垃圾' is not one of Hangzhou's four classes" in dead["bad-class"]
    assert "photo: must be a file or object key" in dead["bad-photo"]
    assert "found_class: required when rating is incorrect" in dead["bad-found"]
    with services.read() as session:
        assert session.scalar(select(func.count()).select_from(WasteDisposal)) == 5


def test_a_disposal_on_the_volunteers_stream_is_dead_lettered(services):
    services.redis.xadd(services.settings.stream("volunteers"), disposal("H-1", T0))
    _ingest(services, [])
    (dead,) = dead_letters(services)
    assert "belongs on" in dead["reason"] and "waste" in dead["reason"]


def test_accuracy_of_every_grouping_equals_the_stored_disposals(services):
    rng = random.Random(6)
    entries = [station("ST-1"), station("ST-2", village="新街社区"),
               household("LL-H1", kind="租户", house_id="HS-1", landlord_id="LL-1",
                         group="3组", at=T0 - 40 * DAY, landlord_name="沈建国",
                         landlord_phone="13900005678"),
               household("H-2", group="3组", at=T0 - 40 * DAY),
               household("H-3", village="新街社区", group="1组", at=T0 - 40 * DAY)]
    for _ in range(300):
        who = rng.choice(["LL-H1", "H-2", "H-3"])
        entries.append(disposal(who, T0 - timedelta(hours=rng.randint(1, 24 * 20)),
                                correct=rng.random() < 0.85,
                                station_id="ST-2" if who == "H-3" else "ST-1",
                                weight=f"{rng.uniform(0.3, 8):.2f}"))
    _ingest(services, entries)
    with services.read() as session:
        rows = session.execute(select(WasteDisposal.household_id, WasteDisposal.village_code,
                                      WasteDisposal.station_id, WasteDisposal.local_day,
                                      WasteDisposal.correct)).all()
        assert len(rows) == 300
        for by, pick in [("household", lambda r: r[0]), ("village", lambda r: r[1]),
                         ("station", lambda r: r[2]), ("day", lambda r: r[3])]:
            expect: dict = {}
            for row in rows:
                c, n = expect.get(pick(row), (0, 0))
                expect[pick(row)] = (c + row[4], n + 1)
            got = {t.key: (t.correct, t.total) for t in accuracy.accuracy_by(session, by)}
            assert got == expect, by
        landlord = {t.key: (t.correct, t.total)
                    for t in accuracy.accuracy_by(session, "landlord")}
        mine = [r for r in rows if r[0] == "LL-H1"]
        assert landlord == {"LL-1": (sum(r[4] for r in mine), len(mine))}
        groups = {t.key: t.total for t in accuracy.accuracy_by(session, "group")}
        assert groups[f"{CHAOYANG}|3组"] == sum(1 for r in rows if r[0] in ("LL-H1", "H-2"))
        whole = accuracy.overall(session)
        assert (whole.correct, whole.total) == (sum(r[4] for r in rows), 300)
        days = accuracy.trend(session, "day", T0.date(), 30)
        assert len(days) == 30 and sum(t.total for t in days) == 300


def test_a_tenant_moves_out_and_the_next_one_moves_in(services):
    """House-card disposals follow the tenancy; the landlord sees both tenants' periods."""
    move = T0 - 10 * DAY
    old = household("TEN-A", kind="tenant", house_id="HS-9", landlord_id="LL-9",
                    at=T0 - 30 * DAY, address="朝阳村5组9号")
    new = household("TEN-B", kind="tenant", house_id="HS-9", landlord_id="LL-9",
                    at=move + timedelta(hours=2), moved_in_at=(move + timedelta(hours=1))
                    .isoformat())
    cards = [disposal(None, T0 - d * DAY, correct=d % 2 == 0, house_id="HS-9")
             for d in range(1, 25) if d != 10]
    gap = disposal(None, move + timedelta(minutes=30), house_id="HS-9")  # nobody lived there
    # the new tenant's registration and the old one's move-out arrive after the disposals
    _ingest(services, [station("ST-1"), old, *cards, gap])
    _ingest(services, [moved_out("TEN-A", move), new])
    with services.read() as session:
        a = session.get(Household, "TEN-A")
        assert a.status == "moved_out" and a.moved_out_at == move
        owners = dict(session.execute(
            select(WasteDisposal.occurred_at, WasteDisposal.household_id)).all())
        assert owners.pop(move + timedelta(minutes=30)) is None
        for when, owner in owners.items():
            assert owner == ("TEN-A" if when < move else "TEN-B"), when
        view = queries.landlord_view(session, "LL-9")
        tenants = {t["household_id"]: t for t in view["households"]}
        assert set(tenants) == {"TEN-A", "TEN-B"}
        assert tenants["TEN-A"]["moved_out_at"] == move
        assert tenants["TEN-A"]["total"] == sum(1 for w in owners if w < move)
        assert tenants["TEN-B"]["total"] == sum(1 for w in owners if w >= move)
        assert view["accuracy"].total == 23


def test_a_weak_household_is_followed_up_and_its_change_measured(services):
    rules = services.settings.waste_rules
    entries = [station("ST-1"), household("W-1", at=T0 - 60 * DAY)]
    bad_days = [T0 - 20 * DAY + i * DAY for i in range(8)]
    entries += [disposal("W-1", when, correct=i % 3 == 0) for i, when in enumerate(bad_days)]
    _ingest(services, entries)
    with services.read() as session:
        (task,) = queries.followups(session, rules)
        assert task["household_id"] == "W-1" and task["status"] == "open"
        assert task["reason"] == "below" and task["finding"]["total"] == 8
        assert task["before"].total == 8 and task["after"] is None
    visit = bad_days[-1] + 2 * DAY
    good = [disposal("W-1", visit + (i + 1) * DAY) for i in range(6)]
    _ingest(services, [followup_event("assigned", task["followup_id"], visit - DAY,
                                      assignee_id="HQ-0012345", assignee_kind="volunteer"),
                       followup_event("visited", task["followup_id"], visit,
                                      outcome="educated", by="HQ-0012345"), *good])
    with services.read() as session:
        (task,) = queries.followups(session, rules)
        assert task["status"] == "visited" and task["assignee_id"] == "HQ-0012345"
        assert (task["before"].correct, task["before"].total) == (3, 8)
        assert (task["after"].correct, task["after"].total) == (6, 6)
        assert task["after"].rate - task["before"].rate == pytest.approx(1 - 3 / 8)
        # no second task: the first was found within the cooldown
        assert session.scalar(select(func.count()).select_from(FollowUp)) == 1


def test_a_visit_to_an_unknown_follow_up_is_dead_lettered(services):
    _ingest(services, [followup_event("visited", "FU-nobody-20261129", T0, outcome="educated")])
    (dead,) = dead_letters(services)
    assert "no such follow-up" in dead["reason"]


def test_weak_rule_fires_on_falling_accuracy():
    rules = load_waste_rules()
    rows = [(T0 - (27 - i) * DAY, True) for i in range(14)]
    rows += [(T0 - (13 - i) * DAY, i % 2 == 0) for i in range(14)]  # 100 % → 50 %
    finding = judge(rows, T0, rules)
    assert finding is not None and finding.reason == "falling"
    assert judge([(T0 - i * DAY, True) for i in range(20)], T0, rules) is None


def test_chance_in_a_few_disposals_flags_nobody():
    """11 of 14 right (79 %) is not weak at 95 % confidence; 8 of 14 (57 %) is."""
    rules = load_waste_rules()
    assert upper_bound(50, 100, 0.95) == pytest.approx(0.5812, abs=1e-4)  # Wilson, z=1.645
    assert upper_bound(3, 4, 0) == 0.75
    few = [(T0 - i * DAY, i not in (2, 5, 9)) for i in range(14)]
    assert judge(few, T0, rules) is None
    raw = rules.model_copy(update={"weak": rules.weak.model_copy(update={"confidence": 0})})
    assert judge(few, T0, raw).reason == "below"
    many = [(T0 - i * DAY, i % 2 == 0 or i % 7 == 1) for i in range(14)]
    assert sum(ok for _, ok in many) == 8
    assert judge(many, T0, rules).reason == "below"


def test_personal_data_stays_out_of_history(services):
    _ingest(services, [household("T-1", kind="tenant", house_id="HS-1", landlord_id="LL-1",
                                 head_name="王小明", head_phone="13812345678",
                                 landlord_name="沈建国", landlord_phone="13900005678")])
    with services.read() as session:
        (row,) = session.scalars(select(WasteEventRow)).all()
        text = json.dumps(row.payload, ensure_ascii=False)
        assert "王小明" not in text and "13812345678" not in text and "沈建国" not in text
        assert session.get(Landlord, "LL-1").phone == "13900005678"
        assert session.get(Household, "T-1").head_name == "王小明"


def test_a_redelivered_batch_stores_nothing_twice(services):
    entries = [station("ST-1"), household("H-1"),
               *[disposal("H-1", T0 - i * timedelta(hours=5), correct=i % 2 == 0,
                          event_id=f"rd-{i}") for i in range(12)]]
    first = _ingest(services, entries)
    assert first.stats.stored == 14
    again = _ingest(services, [*entries[5:], disposal("H-1", T0, event_id="rd-new")])
    assert again.stats.stored == 1 and again.stats.duplicates == len(entries) - 5
    with services.read() as session:
        assert session.scalar(select(func.count()).select_from(WasteDisposal)) == 13
        assert session.scalar(select(func.count()).select_from(FollowUp)) == 1


def test_a_dead_letter_keeps_no_name_phone_or_home_address(services):
    _ingest(services, [household("T-9", kind="外星", house_id="HS-1", landlord_id="LL-1",
                                 head_name="王小明", head_phone="13812345678",
                                 landlord_name="沈建国", landlord_phone="13900005678",
                                 address="朝阳村3组12号")])
    (dead,) = dead_letters(services)
    assert "kind" in dead["reason"]
    kept = json.loads(dead["fields"])
    assert (kept["head_name"], kept["landlord_name"]) == ("王**", "沈**")
    assert (kept["head_phone"], kept["landlord_phone"]) == ("138****5678", "139****5678")
    assert kept["address"] == "朝阳村**组**号"
    text = json.dumps(dead, ensure_ascii=False)
    for secret in ("王小明", "沈建国", "13812345678", "13900005678", "3组12号"):
        assert secret not in text


@pytest.mark.parametrize(("extra", "reason"), [
    ({"photo": "javascript:alert(1)"}, "a file key is letters"),
    ({"photo": "sim/%2e%2e/%2e%2e/etc/passwd"}, "a file key is letters"),
    ({"photo": "http://evil.example/x.jpg"}, "scheme 'http' is not supported"),
    ({"photo": "../../etc/passwd"}, "may not contain '..'"),
    ({"photo": "/etc/passwd"}, "not an absolute path"),
    ({"correct": False, "found_item": "塑料袋\x1b[31m"}, "control character"),
    ({"weight": "nan"}, "not a finite number"),
    ({"weight": "abc"}, "is not a number of kg"),
])
def test_hostile_disposal_fields_are_refused_with_their_reason(extra, reason):
    from cockpit.events import InvalidEvent, parse_event
    fields = disposal("H-1", T0, **{k: v for k, v in extra.items()
                                    if k not in ("correct", "weight")},
                      correct=extra.get("correct", True), weight=extra.get("weight", "2.5"))
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(")):
        parse_event(fields, now=T0 + DAY)


def test_field_app_events_that_make_no_sense_are_dead_lettered(services):
    entries = [station("ST-1"), household("W-2", at=T0 - 60 * DAY)]
    entries += [disposal("W-2", T0 - 10 * DAY + i * timedelta(hours=3), correct=i % 3 == 0)
                for i in range(8)]
    _ingest(services, entries)
    with services.read() as session:
        (task,) = queries.followups(session, services.settings.waste_rules)
    fid, found = task["followup_id"], task["found_at"]
    _ingest(services, [
        followup_event("visited", fid, found - DAY, outcome="educated"),
        followup_event("assigned", fid, found + timedelta(hours=1), assignee_id="SUP-1",
                       due_at=(found - DAY).isoformat()),
        followup_event("assigned", fid, found + timedelta(hours=2), assignee_id="SUP-2"),
        followup_event("visited", fid, found + timedelta(hours=3), outcome="educated",
                       note="户主电话 138 1234 5678，已讲解"),
        moved_out("W-2", found + timedelta(hours=4)),
    ])
    reasons = sorted(d["reason"] for d in dead_letters(services))
    assert len(reasons) == 2
    assert "is before the household was found weak" in reasons[0]
    assert "due_at must be after occurred_at" in reasons[1]
    with services.read() as session:
        row = session.get(FollowUp, fid)
        assert row.due_at == task["due_at"]  # an assignment does not postpone the visit
        assert row.status == "visited" and row.note == "户主电话 ***，已讲解"
    _ingest(services, [household("W-3", at=T0 - 60 * DAY),
                       *[disposal("W-3", T0 - 5 * DAY + i * timedelta(hours=1),
                                  correct=False) for i in range(6)]])
    with services.read() as session:
        other = session.scalars(select(FollowUp.followup_id)
                                .where(FollowUp.household_id == "W-3")).one()
    _ingest(services, [moved_out("W-3", T0 - DAY),
                       followup_event("visited", other, T0, outcome="educated")])
    assert any("cancelled, the household moved out" in d["reason"] for d in dead_letters(services))


def test_a_household_position_is_folded_latest_wins_in_wgs84_and_kept_out_of_history(services):
    from cockpit import geo
    from cockpit.crs import from_wgs84

    villages = geo.load_villages().set_index("code")
    home = villages.geometry[CHAOYANG].representative_point()
    lon_g, lat_g = from_wgs84(home.x, home.y, "gcj02")
    later = (home.x + 0.001, home.y - 0.001)
    _ingest(services, [
        household("P-1", at=T0 - 3 * DAY, lon=f"{lon_g:.7f}", lat=f"{lat_g:.7f}", crs="gcj02"),
        household("P-1", at=T0 - 2 * DAY, members=4),  # no position: the last one stays
        household("P-2", at=T0 - 3 * DAY)])
    with services.read() as session:
        row = session.get(Household, "P-1")
        assert abs(row.lon - home.x) < 1e-6 and abs(row.lat - home.y) < 1e-6  # GCJ-02 undone
        assert row.members == 4
        assert session.get(Household, "P-2").lon is None
    _ingest(services, [household("P-1", at=T0 - DAY, lon=later[0], lat=later[1], crs="wgs84"),
                       household("P-1", at=T0 - 4 * DAY, lon=home.x - 0.002, lat=home.y,
                                 crs="wgs84")])  # older than every other: changes nothing
    with services.read() as session:
        row = session.get(Household, "P-1")
        assert (row.lon, row.lat) == pytest.approx(later, abs=1e-9)
        payloads = session.scalars(select(WasteEventRow.payload)).all()
        assert len(payloads) == 5 and not any({"lon", "lat"} & set(p) for p in payloads)


def test_a_household_position_outside_the_service_area_or_half_given_is_dead_lettered(services):
    _ingest(services, [household("Q-1", lon="116.397", lat="39.909", crs="wgs84"),
                       household("Q-2", lon="120.29"),
                       household("Q-3", lon="120.29", lat="30.35")])
    reasons = {json.loads(d["fields"])["household_id"]: d["reason"] for d in dead_letters(services)}
    assert "outside the service area" in reasons["Q-1"]
    assert "lon and lat must be given together" in reasons["Q-2"]
    assert "crs: is required" in reasons["Q-3"]
    with services.read() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 0
