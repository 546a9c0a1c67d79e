"""Tests of ``cockpit replay`` on the real recorded files and a real Redis (db 15)."""

import csv
import json
import math
import os
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import typer
from typer.testing import CliRunner

from cockpit import replay as rp
from cockpit import replay_plan as rp_plan
from cockpit.events import parse_event
from cockpit.replay_mapping import (
    MAPPINGS_DIR,
    QIAOSI_CENTER,
    MappingError,
    load_mapping,
    resolve_mapping_path,
)
from cockpit.replay_resume import next_pass
from cockpit.settings import Settings
from cockpit.vocab import Category, Priority, Stage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SF = DATA / "incidents" / "sf_fire_calls_2020-04-07_to_04-20.csv"
NYC = DATA / "incidents" / "nyc_311_2024-04-15_1000rows.csv"
AREA = (120.1, 30.2, 120.5, 30.5)
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REDIS_URL = "redis://127.0.0.1:6379/15"

pytestmark = pytest.mark.skipif(not SF.is_file() or not NYC.is_file(),
                                reason=f"recorded files not found under {DATA}")


@pytest.fixture(scope="module")
def sf():
    mapping = load_mapping("sf_fire_calls")
    incidents, errors = rp.read_incidents(SF, mapping)
    return mapping, incidents, errors


@pytest.fixture(scope="module")
def nyc():
    mapping = load_mapping("nyc_311")
    incidents, errors = rp.read_incidents(NYC, mapping)
    return mapping, incidents, errors


@pytest.fixture
def r():
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required on CI: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def prefix(r):
    value = f"test-replay-{uuid.uuid4().hex[:8]}:"
    yield value
    keys = list(r.scan_iter(match=f"{value}*"))
    if keys:
        r.delete(*keys)


def settings_for(prefix: str) -> Settings:
    return Settings(REDIS_URL=REDIS_URL, stream_prefix=prefix)


def rows_of(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


# -- mapping files ------------------------------------------------------------------------------

def test_shipped_mappings_load_by_name_and_path():
    for name in ("sf_fire_calls", "nyc_311"):
        by_name = load_mapping(name)
        assert by_name == load_mapping(MAPPINGS_DIR / f"{name}.yaml")
        assert by_name.source == f"replay:{by_name.name}"
    assert load_mapping("sf_fire_calls").timezone == "America/Los_Angeles"
    assert load_mapping("nyc_311").timezone == "America/New_York"


def test_unknown_mapping_name_lists_the_shipped_ones():
    with pytest.raises(MappingError, match="sf_fire_calls"):
        resolve_mapping_path("no_such_city")


def _write_mapping(tmp_path: Path, edit) -> Path:
    import yaml

    data = yaml.safe_load((MAPPINGS_DIR / "sf_fire_calls.yaml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("id"), r"id: required key is missing"),
    (lambda d: d["stages"].pop("reported"), r"stages\.reported: required key is missing"),
    (lambda d: d.update(time_zone="UTC"), r"time_zone: unknown key"),
    (lambda d: d.update(timezone="Mars/Olympus"), r"timezone: unknown IANA time zone"),
    (lambda d: d["category"]["map"].update(Foo="arson"),
     r"category\.map: 'Foo': unknown value 'arson'"),
    (lambda d: d["position"].update(pattern=r"\((.*), (.*)\)"), r"position: .*named groups"),
    (lambda d: d["transform"].update(source_center=[37.77, -122.44]), r"lon and lat swapped"),
    (lambda d: d["stages"]["closed"].update(agg="last"), r"stages\.closed\.agg"),
])
def test_bad_mapping_names_the_key(tmp_path, edit, message):
    path = _write_mapping(tmp_path, edit)
    with pytest.raises(MappingError, match=message) as info:
        load_mapping(path)
    assert str(path) in str(info.value)


def test_column_missing_from_file_is_a_mapping_error(tmp_path):
    path = _write_mapping(tmp_path, lambda d: d.update(title="Call Typ"))
    with pytest.raises(MappingError, match=r"\['Call Typ'\].*not in the file's header"):
        rp.read_incidents(SF, load_mapping(path))


# -- reading ------------------------------------------------------------------------------------

def test_sf_rows_merge_into_incidents(sf):
    mapping, incidents, errors = sf
    assert errors == []
    assert len(incidents) == 5292
    assert sum(i.rows for i in incidents) == 10410
    first = incidents[0].first_at
    assert all(i.first_at >= first for i in incidents)
    inc = next(i for i in incidents if i.source_id == "20041901")
    la = ZoneInfo("America/Los_Angeles")
    # Two units (E32, 85); the earliest dispatch / on-scene and the latest available win.
    assert inc.rows == 2
    assert inc.times[Stage.REPORTED] == datetime(2020, 4, 7, 23, 53, 8, tzinfo=la)
    assert inc.times[Stage.ASSESSED] == datetime(2020, 4, 7, 23, 55, 30, tzinfo=la)
    assert inc.times[Stage.DISPATCHED] == datetime(2020, 4, 7, 23, 55, 56, tzinfo=la)
    assert inc.times[Stage.ARRIVED] == datetime(2020, 4, 8, 0, 0, 0, tzinfo=la)
    assert inc.times[Stage.CLOSED] == datetime(2020, 4, 8, 1, 35, 0, tzinfo=la)
    assert inc.times[Stage.RESOLVED] == inc.times[Stage.CLOSED]
    assert inc.units == {Stage.DISPATCHED: "E32", Stage.ARRIVED: "E32"}
    assert (inc.category, inc.priority) == (Category.MEDICAL, Priority.URGENT)
    assert (inc.title, inc.disposition) == ("Medical Incident", "Code 2 Transport")
    assert inc.address == "4000 Block of MISSION ST"
    lon, lat = mapping.transform.apply(-122.42779351441527, 37.73217458500619)
    assert (inc.lon, inc.lat) == pytest.approx((lon, lat))


def test_sf_cancelled_calls_end_cancelled(sf):
    _, incidents, _ = sf
    cancelled = [i for i in incidents if i.cancelled]
    assert len(cancelled) == 176
    for inc in cancelled:
        assert Stage.CANCELLED in inc.times
        assert Stage.CLOSED not in inc.times and Stage.RESOLVED not in inc.times


def test_nyc_multiline_fields_and_open_requests(nyc):
    _, incidents, errors = nyc
    assert errors == []
    assert len(incidents) == 1000
    closed = [i for i in incidents if Stage.CLOSED in i.times]
    assert len(closed) == 292
    assert sum(i.lon is not None for i in incidents) == 977  # 23 requests have no position
    titles = Counter(i.title for i in incidents)
    assert titles["Noise - Residential / Loud Music/Party"] == 78
    assert titles["Graffiti"] == 17  # "Graffiti / Graffiti" collapses
    assert titles["Encampment"] == 3  # descriptor "N/A" is a null value
    cats = Counter(i.category for i in incidents)
    assert cats[Category.URBAN_MANAGEMENT] > 500
    assert cats[Category.POLICE] > 0


def test_broken_rows_are_reported_with_their_numbers(tmp_path, sf):
    mapping = sf[0]
    rows = rows_of(SF)
    header = rows[0]
    rows[4][header.index("Dispatch DtTm")] = "04/07/2020 25:61:00 PM"  # row 5 of the file
    rows[6][header.index("Location")] = "(37.7, nowhere)"  # row 7
    rows[8][header.index("Location")] = "(137.7, -122.4)"  # row 9
    rows[10][header.index("Incident Number")] = ""  # row 11
    path = tmp_path / "broken.csv"
    write_rows(path, rows)
    incidents, errors = rp.read_incidents(path, mapping)
    assert [e.row for e in errors] == [5, 7, 9, 11]
    assert "Dispatch DtTm" in errors[0].reason and "not a time" in errors[0].reason
    assert "Location" in errors[1].reason and "pattern" in errors[1].reason
    assert "latitude is outside" in errors[2].reason
    assert "Incident Number" in errors[3].reason and "empty" in errors[3].reason
    assert sum(i.rows for i in incidents) == 10410 - 4


def test_row_numbers_count_records_not_lines(tmp_path, nyc):
    mapping = nyc[0]
    rows = rows_of(NYC)
    rows[4][rows[0].index("created_date")] = "yesterday"
    path = tmp_path / "broken.csv"
    write_rows(path, rows)
    incidents, errors = rp.read_incidents(path, mapping)
    assert len(errors) == 1 and errors[0].row == 5
    assert errors[0].line > 5  # earlier records span several lines
    assert "created_date" in errors[0].reason
    assert len(incidents) == 999
    assert str(errors[0]).startswith(f"row 5 (line {errors[0].line}): created_date")


def test_error_summary_shows_twenty_then_a_count():
    errors = [rp.RowError(n, "bad", n) for n in range(2, 32)]
    lines = rp.error_summary(errors)
    assert len(lines) == 21 and lines[0] == "row 2: bad"
    assert lines[-1] == "... and 10 more rows skipped"


# -- planning -----------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["sf", "nyc"])
def test_every_planned_event_is_valid_and_lands_on_qiaosi(which, request):
    mapping, incidents, _ = request.getfixturevalue(which)
    plan = rp.plan_events(incidents, mapping, NOW, 60)
    ids = set()
    placed = 0
    for event in plan:
        parsed = parse_event(event.fields, area=AREA)
        assert parsed.source == mapping.source and parsed.is_replay
        assert all(isinstance(v, str) for v in event.fields.values())
        ids.add(parsed.event_id)
        placed += getattr(parsed, "lon", None) is not None
    assert len(ids) == len(plan)
    assert placed == sum(i.lon is not None for i in incidents)
    reported = [e for e in plan if e.fields["type"] == "incident.reported"]
    assert len(reported) == len(incidents)
    assert plan[0].offset == 0.0
    assert [e.offset for e in plan] == sorted(e.offset for e in plan)


def test_event_counts(sf, nyc):
    sf_types = Counter(e.fields["type"] for e in rp.plan_events(sf[1], sf[0], NOW, 60))
    assert sf_types == {"incident.reported": 5292, "incident.assessed": 5292,
                        "incident.dispatched": 5292, "incident.arrived": 5118,
                        "incident.resolved": 5114, "incident.closed": 5114,
                        "incident.cancelled": 176}
    nyc_types = Counter(e.fields["type"] for e in rp.plan_events(nyc[1], nyc[0], NOW, 60))
    assert nyc_types == {"incident.reported": 1000, "incident.resolved": 292,
                         "incident.closed": 292}


def test_relative_times_are_preserved_and_sped_up(sf):
    mapping, incidents, _ = sf
    real = rp.plan_events(incidents[:300], mapping, NOW, 1, run_id="a")
    fast = rp.plan_events(incidents[:300], mapping, NOW, 60, run_id="a")
    assert [e.fields for e in real][0]["event_id"] == fast[0].fields["event_id"]
    for slow, quick in zip(real, fast, strict=True):
        assert slow.fields["event_id"] == quick.fields["event_id"]
        assert quick.offset == pytest.approx(slow.offset / 60)
        at = datetime.fromisoformat(quick.fields["occurred_at"])
        assert at.utcoffset() == timedelta(hours=8)
        assert (at - NOW).total_seconds() == pytest.approx(quick.offset, abs=0.001)
    first = incidents[0]
    gap = (first.times[Stage.DISPATCHED] - first.times[Stage.REPORTED]).total_seconds()
    by_id = {e.fields["event_id"]: e.offset for e in fast}
    prefix = f"sf_fire-a-{first.source_id}"
    assert by_id[f"{prefix}-dispatched"] - by_id[f"{prefix}-reported"] == pytest.approx(gap / 60)


def test_stage_fields(sf):
    mapping, incidents, _ = sf
    inc = next(i for i in incidents if i.source_id == "20041901")
    plan = {e.fields["type"]: e.fields for e in rp.plan_events([inc], mapping, NOW, 1,
                                                                 run_id="x")}
    assert plan["incident.reported"]["incident_id"] == "sf_fire-x-20041901"
    assert plan["incident.reported"]["event_id"] == "sf_fire-x-20041901-reported"
    assert plan["incident.reported"]["crs"] == "wgs84"
    assert plan["incident.dispatched"]["unit"] == "E32"
    assert plan["incident.closed"]["disposition"] == "Code 2 Transport"
    assert "lon" not in plan["incident.closed"] and "unit" not in plan["incident.closed"]


def test_runs_do_not_collide(sf):
    mapping, incidents, _ = sf
    one = rp.plan_events(incidents[:50], mapping, NOW, 60)
    two = rp.plan_events(incidents[:50], mapping, NOW + timedelta(milliseconds=1), 60)
    assert not {e.fields["incident_id"] for e in one} & {e.fields["incident_id"] for e in two}
    assert not {e.fields["event_id"] for e in one} & {e.fields["event_id"] for e in two}
    with pytest.raises(ValueError, match="run id"):
        rp.plan_events(incidents[:1], mapping, NOW, 60, run_id="has space")
    with pytest.raises(ValueError, match="speed"):
        rp.plan_events(incidents[:1], mapping, NOW, 0)


def test_start_offset_skips_the_quiet_start(sf):
    mapping, incidents, _ = sf
    plan = rp.plan_events(incidents, mapping, NOW, 60, start=6 * 3600)
    t_first = incidents[0].first_at + timedelta(hours=6)
    kept = sum(1 for i in incidents if i.first_at >= t_first)
    assert sum(e.fields["type"] == "incident.reported" for e in plan) == kept < len(incidents)
    assert plan[0].offset >= 0


def test_transform_keeps_distances_proportional(sf, nyc):
    for mapping in (sf[0], nyc[0]):
        t = mapping.transform
        tc_lon, tc_lat = t.target_center
        assert t.apply(*t.source_center) == pytest.approx(t.target_center)
        # 0.01° east and north of the source centre, in metres, before and after
        sc_lon, sc_lat = t.source_center
        east = t.apply(sc_lon + 0.01, sc_lat)
        north = t.apply(sc_lon, sc_lat + 0.01)
        m_east_src = 0.01 * 111_320 * math.cos(math.radians(sc_lat))
        m_east_dst = (east[0] - tc_lon) * 111_320 * math.cos(math.radians(tc_lat))
        m_north_dst = (north[1] - tc_lat) * 111_320
        assert m_east_dst / m_east_src == pytest.approx(t.scale)
        assert m_north_dst / (0.01 * 111_320) == pytest.approx(t.scale)
    # both cities fit a ~10 km square around Qiaosi
    for _, incidents, _ in (sf, nyc):
        lons = [i.lon for i in incidents if i.lon is not None]
        lats = [i.lat for i in incidents if i.lat is not None]
        assert (max(lats) - min(lats)) * 111.32 < 10.5
        assert (max(lons) - min(lons)) * 111.32 * math.cos(math.radians(30.35)) < 10.5


def test_target_centre_is_the_cockpit_constant():
    geo = pytest.importorskip("cockpit.geo")
    assert geo.QIAOSI_CENTER_WGS84 == QIAOSI_CENTER


@pytest.mark.parametrize("which", ["sf", "nyc"])
def test_moved_positions_land_inside_the_subdistrict(which, request):
    geo = pytest.importorskip("cockpit.geo")
    shapely = pytest.importorskip("shapely")
    mapping, incidents, _ = request.getfixturevalue(which)
    polygon = geo.load_subdistrict().geometry.union_all()
    # the shipped transforms aim at the centroid of the schematic subdistrict polygon
    assert mapping.transform.target_center == pytest.approx(
        (polygon.centroid.x, polygon.centroid.y), abs=1e-4)
    placed = [i for i in incidents if i.lon is not None]
    inside = shapely.contains_xy(polygon, [i.lon for i in placed], [i.lat for i in placed])
    assert inside.mean() >= 0.99  # docs/replay.md: 99.4 % for both files


def test_parse_duration():
    assert rp.parse_duration("90m") == 5400
    assert rp.parse_duration("2h") == 7200
    assert rp.parse_duration("300") == 300
    with pytest.raises(ValueError, match="duration"):
        rp.parse_duration("soon")


# -- real Redis ---------------------------------------------------------------------------------

def test_short_replay_into_redis(r, prefix, sf):
    settings = settings_for(prefix)
    mapping, incidents, _ = sf
    expected = sum(len(i.times) for i in incidents[:5])
    stats = rp.replay(settings, r, SF, mapping, speed=10_000, limit=5, progress=False)
    assert (stats.incidents, stats.sent, stats.events, stats.runs) == (5, expected, expected, 1)
    assert not stats.stopped and stats.rows_bad == 0
    stream = settings.stream("incidents")
    assert stream.startswith(prefix)
    entries = r.xrange(stream)
    assert len(entries) == expected
    for _, fields in entries:
        parse_event(fields, area=AREA)
    assert r.exists(settings.key("feed:replay")) == 0


def test_heartbeat_while_running_and_prompt_stop(r, prefix, sf):
    settings = settings_for(prefix)
    mapping = sf[0]
    stop = threading.Event()
    out = {}
    worker = threading.Thread(target=lambda: out.update(stats=rp.replay(
        settings, r, SF, mapping, speed=60, limit=200, stop_event=stop, progress=False,
        stage_speed=30)))
    worker.start()
    key = settings.key("feed:replay")
    deadline = time.monotonic() + 10
    while not r.exists(key) and time.monotonic() < deadline:
        time.sleep(0.02)
    beat = json.loads(r.get(key))
    assert beat["name"] == "sf_fire" and beat["file"] == SF.name and beat["speed"] == 60
    assert beat["stage_speed"] == 30
    assert {"started_at", "sent", "total", "run_id"} <= beat.keys()
    assert 0 < r.ttl(key) <= rp.HEARTBEAT_TTL_S
    stopped_at = time.monotonic()
    stop.set()
    worker.join(2)
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 0.3
    assert out["stats"].stopped
    assert r.exists(key) == 0


def test_loop_starts_again_with_a_new_run(r, prefix, sf):
    settings = settings_for(prefix)
    mapping, incidents, _ = sf
    stop = threading.Event()
    out = {}
    worker = threading.Thread(target=lambda: out.update(stats=rp.replay(
        settings, r, SF, mapping, speed=100_000, limit=2, loop=True, stop_event=stop,
        progress=False, run_id="demo")))
    worker.start()
    stream = settings.stream("incidents")
    per_run = sum(len(i.times) for i in incidents[:2])
    deadline = time.monotonic() + 10
    while r.xlen(stream) < 3 * per_run and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(2)
    stats = out["stats"]
    assert stats.runs >= 3 and stats.run_ids[0] == "demo"
    assert len(set(stats.run_ids)) == stats.runs
    incident_ids = {f["incident_id"] for _, f in r.xrange(stream)}
    runs_seen = Counter(i.split("-")[1] for i in incident_ids)
    assert set(runs_seen) <= set(stats.run_ids) and len(runs_seen) >= 3
    assert all(n <= 2 for n in runs_seen.values())  # each run's incidents are new ones


# -- CLI ----------------------------------------------------------------------------------------

def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    rp.register(app)
    return app


def test_cli_replays_into_redis(r, prefix, sf):
    env = {"REDIS_URL": REDIS_URL, "COCKPIT_STREAM_PREFIX": prefix}
    result = CliRunner().invoke(cli_app(), ["replay", str(SF), "--mapping", "sf_fire_calls",
                                            "--limit", "5", "--speed", "10000", "--run-id",
                                            "cli1", "--no-progress"], env=env)
    assert result.exit_code == 0, result.output
    expected = sum(len(i.times) for i in sf[1][:5])
    assert f"{expected} events sent to {prefix}incidents" in result.output
    entries = r.xrange(f"{prefix}incidents")
    assert len(entries) == expected
    assert all(f["incident_id"].startswith("sf_fire-cli1-") for _, f in entries)
    assert r.exists(f"{prefix}feed:replay") == 0


def test_cli_dry_run_and_errors(tmp_path):
    runner = CliRunner()
    app = cli_app()
    result = runner.invoke(app, ["replay", str(NYC), "-m", "nyc_311", "--dry-run",
                                 "--speed", "60"])
    assert result.exit_code == 0, result.output
    assert "nyc_311: 1000 incidents, 1584 events, 0 rows skipped" in result.output
    result = runner.invoke(app, ["replay", str(NYC), "-m", "atlantis", "--dry-run"])
    assert result.exit_code == 2 and "not found" in result.output
    rows = rows_of(NYC)
    rows[2][rows[0].index("latitude")] = "north"
    broken = tmp_path / "broken.csv"
    write_rows(broken, rows)
    result = runner.invoke(app, ["replay", str(broken), "-m", "nyc_311", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 rows skipped" in result.output and "row 3" in result.output


# -- stage times far from the reported time ----------------------------------------------------

def _lasts(output: str) -> float:
    return float(output.split("replay lasts ")[1].split(" min")[0])


def test_stage_time_far_from_reported_is_dropped_with_a_warning(tmp_path, sf):
    mapping = sf[0]
    rows = rows_of(SF)
    header, head = rows[0], rows[:41]
    col = {name: header.index(name) for name in (
        "Incident Number", "Call Number", "Available DtTm", "On Scene DtTm", "Received DtTm")}
    ids = Counter(row[col["Incident Number"]] for row in head[1:])
    single = next(row for row in head[1:] if ids[row[col["Incident Number"]]] == 1
                  and row[col["Available DtTm"]] and row[col["On Scene DtTm"]])
    clean = tmp_path / "clean.csv"
    write_rows(clean, head)
    early, late, jitter = list(single), list(single), list(single)
    for n, extra in enumerate((early, late, jitter), start=1):
        extra[col["Incident Number"]] = extra[col["Call Number"]] = f"9999999{n}"
    early[col["Available DtTm"]] = "01/01/2019 01:00:00 AM"  # 462 days before Received
    received = mapping.parse_time(single[col["Received DtTm"]])
    late[col["Available DtTm"]] = (received + timedelta(days=45)).strftime(mapping.time_format)
    jitter[col["On Scene DtTm"]] = (received - timedelta(minutes=10)).strftime(
        mapping.time_format)
    path = tmp_path / "backwards.csv"
    write_rows(path, [*head, early, late, jitter])  # rows 42, 43 and 44 of the file

    incidents, errors = rp.read_incidents(path, mapping)
    assert [(e.row, e.warning) for e in errors] == [(42, True), (43, True)]
    assert errors[0].reason.startswith("Available DtTm 2019-01-01 01:00 precedes Received DtTm "
                                       f"{received:%Y-%m-%d %H:%M} by ")
    assert "462 days" in errors[0].reason and "resolved/closed dropped" in errors[0].reason
    assert "follows Received DtTm" in errors[1].reason and "45 days" in errors[1].reason
    by_id = {i.source_id: i for i in incidents}
    for ident in ("99999991", "99999992"):
        assert Stage.RESOLVED not in by_id[ident].times
        assert Stage.CLOSED not in by_id[ident].times
        assert by_id[ident].first_at == received
    assert by_id["99999993"].times[Stage.ARRIVED] == received - timedelta(minutes=10)
    assert incidents[0].first_at == min(i.first_at for i in rp.read_incidents(clean, mapping)[0])

    runner, app = CliRunner(), cli_app()
    normal = runner.invoke(app, ["replay", str(clean), "-m", "sf_fire_calls", "--dry-run",
                                 "--speed", "60"])
    result = runner.invoke(app, ["replay", str(path), "-m", "sf_fire_calls", "--dry-run",
                                 "--speed", "60"])
    assert normal.exit_code == 0 and result.exit_code == 0, result.output
    assert _lasts(result.output) == pytest.approx(_lasts(normal.output), abs=0.1)
    assert _lasts(result.output) < 60
    assert "0 rows skipped, 2 stage times dropped" in result.output
    assert "2 stage times dropped:" in result.output and "row 42: Available DtTm" in result.output


def test_a_bad_unit_row_does_not_drop_the_other_rows_time(tmp_path, sf):
    mapping, incidents, _ = sf
    rows = rows_of(SF)
    header = rows[0]
    col = {name: header.index(name) for name in ("Incident Number", "Available DtTm")}
    first = next(n for n, row in enumerate(rows[1:], start=1)
                 if row[col["Incident Number"]] == "20041901")
    rows[first][col["Available DtTm"]] = "01/01/2019 01:00:00 AM"
    path = tmp_path / "one_bad_unit.csv"
    write_rows(path, rows)
    read, errors = rp.read_incidents(path, mapping)
    assert [(e.row, e.warning) for e in errors] == [(first + 1, True)]
    assert "ignored (resolved/closed from the other rows)" in errors[0].reason
    inc = next(i for i in read if i.source_id == "20041901")
    assert Stage.CLOSED in inc.times and inc.times[Stage.CLOSED].year == 2020
    assert len(read) == len(incidents)


# -- resume ------------------------------------------------------------------------------------

def test_resume_plan_keeps_ids_order_and_spacing(sf):
    mapping, incidents, _ = sf
    plan = rp.plan_events(incidents[:40], mapping, NOW, 60, run_id="keep")
    again = rp.plan_events(incidents[:40], mapping, NOW + timedelta(days=3), 7, run_id="keep")
    assert [e.fields["event_id"] for e in again] == [e.fields["event_id"] for e in plan]
    later = NOW + timedelta(days=2)
    rest = rp.resume_plan(plan, 25, later)
    assert [e.fields["event_id"] for e in rest] == [e.fields["event_id"] for e in plan[25:]]
    assert [e.fields["incident_id"] for e in rest] == [e.fields["incident_id"]
                                                       for e in plan[25:]]
    assert rest[0].offset == 0
    assert datetime.fromisoformat(rest[0].fields["occurred_at"]) == later
    for a, b, new in zip(plan[25:], plan[26:], rest[1:], strict=False):
        assert new.offset == pytest.approx(b.offset - plan[25].offset)
        assert b.offset - a.offset >= 0
    assert rp.resume_plan(plan, len(plan), later) == []


def _progress(r, settings) -> dict | None:
    raw = r.get(settings.key("replay:sf_fire:progress"))
    return json.loads(raw) if raw else None


def _speed_for(sf, n: int, seconds: float) -> float:
    mapping, incidents, _ = sf
    plan = rp.plan_events(incidents[:n], mapping, NOW, 1, run_id="x")
    return plan[-1].offset / seconds


def _run_until(client, stream, n, **kwargs) -> tuple[rp.ReplayStats, int]:
    """Run a replay in a thread until the stream holds ``n`` entries, then stop it."""
    r = client
    stop = threading.Event()
    out = {}
    worker = threading.Thread(target=lambda: out.update(stats=rp.replay(
        stop_event=stop, progress=False, **kwargs)))
    worker.start()
    deadline = time.monotonic() + 20
    while r.xlen(stream) < n and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    return out["stats"], r.xlen(stream)


def test_stopped_replay_resumes_the_same_run(r, prefix, sf):
    settings = settings_for(prefix)
    mapping, incidents, _ = sf
    stream = settings.stream("incidents")
    full = rp.plan_events(incidents[:12], mapping, NOW, 60, run_id="x")
    common = dict(settings=settings, r=r, csv_path=SF, mapping=mapping, limit=12)
    stats, sent = _run_until(r, stream, 4, speed=_speed_for(sf, 12, 4.0), **common)
    assert stats.stopped and 4 <= sent < len(full) and stats.sent == sent
    run = stats.run_ids[0]
    record = _progress(r, settings)
    assert record["run_id"] == run and record["file"] == str(SF.resolve())
    assert (record["sent"], record["total"]) == (sent, len(full))
    assert record["speed"] == record["stage_speed"] == _speed_for(sf, 12, 4.0)
    assert datetime.fromisoformat(record["updated_at"]).tzinfo is not None

    # resumed with --loop: the rest of the same run, then a new run; said before it sends
    per_run = len(full)
    said = []
    more, total = _run_until(r, stream, 2 * per_run, speed=100_000, resume=True, loop=True,
                             announce=lambda line: said.append((line, r.xlen(stream))),
                             **common)
    assert more.run_ids[0] == run and more.resumed_from == sent
    assert said == [(f"replay sf_fire: resumed run {run} at event {sent} of {len(full)}", sent)]
    assert len(more.run_ids) >= 2 and run not in more.run_ids[1:]
    entries = r.xrange(stream)
    first_run = [f["event_id"] for _, f in entries if f["incident_id"].split("-")[1] == run]
    expected = [e.fields["event_id"].replace("-x-", f"-{run}-") for e in full]
    assert first_run == expected  # exactly the rest, no event twice, same ids
    times = [datetime.fromisoformat(f["occurred_at"]) for _, f in entries[sent:per_run]]
    assert times == sorted(times)


def test_progress_is_deleted_after_a_completed_pass(r, prefix, sf):
    settings = settings_for(prefix)
    stats = rp.replay(settings, r, SF, sf[0], speed=100_000, limit=3, progress=False,
                      run_id="whole")
    assert not stats.stopped and stats.resumed_from is None
    assert _progress(r, settings) is None


@pytest.mark.parametrize("record", [
    None,
    {"run_id": "old", "file": "/elsewhere/other.csv", "sent": 2, "total": 18},
    {"run_id": "old", "file": str(SF.resolve()), "sent": 2, "total": 99},
    {"run_id": "old", "file": str(SF.resolve()), "sent": 18, "total": 18},
    # planned with real stage durations: its first 2 events are not the first 2 at one speed
    {"run_id": "old", "file": str(SF.resolve()), "sent": 2, "total": 18, "speed": 10,
     "stage_speed": 1},
])
def test_resume_without_a_fitting_record_starts_a_new_run(r, prefix, sf, record):
    settings = settings_for(prefix)
    mapping, incidents, _ = sf
    assert sum(len(i.times) for i in incidents[:3]) == 18
    if record is not None:
        r.set(settings.key("replay:sf_fire:progress"), json.dumps(record))
    stats = rp.replay(settings, r, SF, mapping, speed=100_000, limit=3, progress=False,
                      run_id="fresh", resume=True)
    assert stats.run_ids == ["fresh"] and stats.resumed_from is None
    assert stats.sent == 18 == r.xlen(settings.stream("incidents"))
    assert _progress(r, settings) is None


def test_sigterm_writes_progress_and_cli_resume_continues(r, prefix, sf):
    import signal
    import subprocess
    import sys

    settings = settings_for(prefix)
    stream = settings.stream("incidents")
    full = rp.plan_events(sf[1][:12], sf[0], NOW, 60, run_id="x")
    env = {**os.environ, "REDIS_URL": REDIS_URL, "COCKPIT_STREAM_PREFIX": prefix}
    argv = [sys.executable, "-m", "cockpit.cli", "replay", str(SF), "-m", "sf_fire_calls",
            "--limit", "12", "--no-progress", "--run-id", "sig1"]
    proc = subprocess.Popen([*argv, "--speed", str(_speed_for(sf, 12, 5.0))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while r.xlen(stream) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out
    sent = r.xlen(stream)
    assert 3 <= sent < len(full)
    assert _progress(r, settings)["sent"] == sent

    result = CliRunner().invoke(cli_app(), ["replay", *argv[4:], "--speed", "100000",
                                            "--resume"], env={k: env[k] for k in (
                                                "REDIS_URL", "COCKPIT_STREAM_PREFIX")})
    assert result.exit_code == 0, result.output
    assert f"{len(full) - sent} events sent" in result.output
    assert f"resumed run sig1 at event {sent}" in result.output
    start_line = f"replay sf_fire: resumed run sig1 at event {sent} of {len(full)}"
    assert result.stderr.splitlines()[0] == start_line  # at the start, before the summary
    ids = [f["event_id"] for _, f in r.xrange(stream)]
    assert ids == [e.fields["event_id"].replace("-x-", "-sig1-") for e in full]
    assert _progress(r, settings) is None


# -- reported times far outside the file's span -------------------------------------------------

def _sf_with(tmp_path, rows_of_sf, edits) -> tuple[Path, list[list[str]]]:
    """Write the SF file's header and first 40 rows, each edit ``(index, column, value)``."""
    rows = [list(row) for row in rows_of_sf[:41]]
    header = rows[0]
    for index, column, value in edits:
        rows[index][header.index(column)] = value
    path = tmp_path / "edited.csv"
    write_rows(path, rows)
    return path, rows


def test_reported_time_far_outside_the_file_skips_the_incident(tmp_path, sf):
    mapping, incidents, _ = sf
    rows = rows_of(SF)
    header = rows[0]
    ids = Counter(row[header.index("Incident Number")] for row in rows[1:])
    single = next(n for n in range(1, 41) if ids[rows[n][header.index("Incident Number")]] == 1)
    pair = next(n for n in range(1, 40) if ids[rows[n][header.index("Incident Number")]] > 1
                and rows[n + 1][header.index("Incident Number")]
                == rows[n][header.index("Incident Number")])
    received = mapping.parse_time(rows[pair][header.index("Received DtTm")])
    late = (received + timedelta(days=60)).strftime(mapping.time_format)
    path, edited = _sf_with(tmp_path, rows, [(single, "Received DtTm", "01/01/2019 01:00:00 AM"),
                                             (pair + 1, "Received DtTm", late)])
    read, errors = rp.read_incidents(path, mapping)
    assert [(e.row, e.warning) for e in errors] == sorted([(single + 1, False),
                                                           (pair + 2, False)])
    by_row = {e.row: e.reason for e in errors}
    assert by_row[single + 1].startswith("Received DtTm 2019-01-01 01:00 lies ")
    assert by_row[single + 1].endswith("days before the file's other calls; incident skipped")
    assert "precedes" not in by_row[single + 1] and "follows" not in by_row[single + 1]
    assert by_row[pair + 2].startswith(
        f"Received DtTm {received + timedelta(days=60):%Y-%m-%d %H:%M} lies ")
    assert "after the file's other calls; row skipped (the incident keeps its other rows)" in (
        by_row[pair + 2])
    single_id = edited[single][header.index("Incident Number")]
    pair_id = edited[pair][header.index("Incident Number")]
    by_id = {i.source_id: i for i in read}
    assert single_id not in by_id
    assert by_id[pair_id].rows == 1 and by_id[pair_id].times[Stage.REPORTED] == received
    assert read[0].first_at >= incidents[0].first_at
    assert max(i.first_at for i in read) - read[0].first_at < timedelta(hours=2)


def test_bad_reported_time_no_longer_stretches_the_dry_run(tmp_path):
    """The tester's case: one row of the whole SF file received on 01/01/2019."""
    rows = rows_of(SF)
    header = rows[0]
    extra = list(rows[5])
    extra[header.index("Incident Number")] = extra[header.index("Call Number")] = "99999999"
    extra[header.index("Received DtTm")] = "01/01/2019 01:00:00 AM"
    rows.insert(16, extra)  # row 17 of the file
    path = tmp_path / "bad_received.csv"
    write_rows(path, rows)
    runner, app = CliRunner(), cli_app()
    args = ["-m", "sf_fire_calls", "--dry-run", "--speed", "60"]
    normal = runner.invoke(app, ["replay", str(SF), *args])
    result = runner.invoke(app, ["replay", str(path), *args])
    assert normal.exit_code == 0 and result.exit_code == 0, result.output
    assert _lasts(result.output) == _lasts(normal.output) < 400  # was 11111.6 min
    assert "5292 incidents, 31398 events, 1 rows skipped, 0 stage times dropped" in result.output
    assert "row 17: Received DtTm 2019-01-01 01:00 lies 461 days before the file's other " \
           "calls; incident skipped" in result.output


def test_reported_window_keeps_real_and_sparse_files(sf, nyc):
    from cockpit.replay_plan import reported_window

    for _, incidents, errors in (sf, nyc):
        times = [i.times[Stage.REPORTED] for i in incidents]
        lo, hi = reported_window(times)
        assert lo <= min(times) and max(times) <= hi and errors == []
        # even the earliest and latest call could lie most of a day further out
        assert min(times) - lo > timedelta(hours=20) and hi - max(times) > timedelta(hours=20)
    base = datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))
    sparse = [base + timedelta(days=2 * n) for n in range(12)]  # a call every two days
    lo, hi = reported_window(sparse)
    assert lo < sparse[0] and sparse[-1] < hi
    assert reported_window(sparse[:9]) is None  # too few rows to tell the span
    stray = [*sparse, base + timedelta(days=400)]
    assert reported_window(stray)[1] < stray[-1]


# -- CLI: options, start offset, configuration errors -------------------------------------------

@pytest.mark.parametrize("speed", ["inf", "nan", "-inf", "0"])
def test_cli_refuses_non_finite_speed(speed):
    result = CliRunner().invoke(cli_app(), ["replay", str(NYC), "-m", "nyc_311", "--dry-run",
                                            "--speed", speed])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "--speed" in result.output and "Traceback" not in result.output


def test_start_offset_beyond_the_file_is_a_usage_error(sf):
    mapping, incidents, _ = sf
    span = (incidents[-1].first_at - incidents[0].first_at).total_seconds()
    last = rp.plan_events(incidents, mapping, NOW, 60, start=span)
    assert [e.fields["type"] for e in last][0] == "incident.reported" and last[0].offset == 0
    with pytest.raises(rp.StartOffsetError, match=r"skips the whole file \(it spans 13\.9 days"):
        rp.plan_events(incidents, mapping, NOW, 60, start=span + 1)
    result = CliRunner().invoke(cli_app(), ["replay", str(SF), "-m", "sf_fire_calls",
                                            "--start-offset", "99d", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "--start-offset 99d skips the whole file (it spans 13.9 days)" in result.output


def test_start_offset_beyond_the_file_sends_nothing(r, prefix):
    env = {"REDIS_URL": REDIS_URL, "COCKPIT_STREAM_PREFIX": prefix}
    result = CliRunner().invoke(cli_app(), ["replay", str(NYC), "-m", "nyc_311",
                                            "--start-offset", "1d", "--no-progress"], env=env)
    assert result.exit_code == 2, result.output
    assert "--start-offset 1d skips the whole file (it spans 4.1 h)" in result.output
    assert r.exists(f"{prefix}incidents") == 0


@pytest.mark.parametrize(("url", "message"), [
    ("redis://127.0.0.1:1/0", "Connection refused"),
    ("bogus://nowhere", "Redis URL must specify"),
])
def test_cli_redis_unreachable_is_one_line_exit_1(tmp_path, url, message):
    result = CliRunner().invoke(cli_app(), ["replay", str(NYC), "-m", "nyc_311", "--speed",
                                            "60", "--no-progress"], env={"REDIS_URL": url})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    # the CLI's own output is the one line; the test process's other threads (a server of an
    # earlier test winding down) may log into the same captured stream, so they are not counted
    lines = [line for line in result.output.strip().splitlines() if line.startswith("replay")]
    assert len(lines) == 1 and lines[0].startswith("replay: cannot reach Redis (REDIS_URL): "), \
        result.output
    assert message in lines[0] and "Traceback" not in result.output, result.output


def test_cli_missing_file_and_bad_mapping_stay_usage_errors(tmp_path):
    runner, app = CliRunner(), cli_app()
    # never reached: the usage is checked first; wide, so rich's error box does not wrap a
    # long temporary path in the middle of the message
    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "COLUMNS": "400"}
    missing = runner.invoke(app, ["replay", str(tmp_path / "none.csv"), "-m", "nyc_311"],
                            env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad = runner.invoke(app, ["replay", str(NYC), "-m", "atlantis"], env=env)
    assert bad.exit_code == 2 and "not found" in bad.output


def test_cli_mapping_that_does_not_fit_the_file_is_a_usage_error(r, prefix):
    env = {"REDIS_URL": REDIS_URL, "COCKPIT_STREAM_PREFIX": prefix}
    result = CliRunner().invoke(cli_app(), ["replay", str(NYC), "-m", "sf_fire_calls",
                                            "--no-progress"], env=env)
    assert result.exit_code == 2 and "not in the file's header" in result.output
    assert isinstance(result.exception, SystemExit)


# -- two speeds: arrivals compressed, stage durations real --------------------------------------

def _incident(source_id: str, **seconds: float) -> rp.IncidentPlan:
    base = datetime(2020, 4, 7, tzinfo=ZoneInfo("UTC"))
    times = {Stage(stage): base + timedelta(seconds=s) for stage, s in seconds.items()}
    return rp.IncidentPlan(source_id=source_id, row=1, rows=1, times=times,
                           category=Category.FIRE, priority=Priority.URGENT, title="t")


def test_stage_speed_keeps_real_stage_gaps_while_arrivals_are_compressed(sf):
    mapping, incidents, _ = sf
    chosen = incidents[:400]
    plan = rp.plan_events(chosen, mapping, NOW, 10, stage_speed=1, run_id="two")
    assert len(plan) == sum(len(i.times) for i in chosen)
    by_id = {e.fields["event_id"]: e for e in plan}
    t0 = chosen[0].first_at
    for inc in chosen:
        arrives = (inc.first_at - t0).total_seconds() / 10
        for stage, t in inc.times.items():
            event = by_id[f"sf_fire-two-{inc.source_id}-{stage.value}"]
            assert event.offset == pytest.approx(
                arrives + (t - inc.first_at).total_seconds(), abs=1e-6)
            at = datetime.fromisoformat(event.fields["occurred_at"])
            assert (at - NOW).total_seconds() == pytest.approx(event.offset, abs=0.001)
    # 20041901: received 23:53:08, dispatched 23:55:56, available 01:35:00: real gaps
    key = "sf_fire-two-20041901"
    assert by_id[f"{key}-dispatched"].offset - by_id[f"{key}-reported"].offset == (
        pytest.approx(168))
    assert by_id[f"{key}-closed"].offset - by_id[f"{key}-reported"].offset == (
        pytest.approx(6112))
    reported = [e.offset for e in plan if e.fields["type"] == "incident.reported"]
    real = [(i.times[Stage.REPORTED] - t0).total_seconds() for i in chosen]
    assert sorted(reported) == pytest.approx(sorted(r / 10 for r in real))
    assert [e.offset for e in plan] == sorted(e.offset for e in plan)
    # one speed for both: exactly the plan without stage_speed
    assert rp.plan_events(chosen, mapping, NOW, 60, stage_speed=60, run_id="a") == (
        rp.plan_events(chosen, mapping, NOW, 60, run_id="a"))
    with pytest.raises(ValueError, match="stage_speed"):
        rp.plan_events(chosen, mapping, NOW, 10, stage_speed=0)
    with pytest.raises(ValueError, match="stage_speed"):
        rp.plan_events(chosen, mapping, NOW, 10, stage_speed=math.inf)


def test_two_speed_plan_is_ordered_by_offset_then_stage_then_incident():
    mapping = load_mapping("sf_fire_calls")
    a = _incident("a", reported=0, dispatched=60, closed=3000)
    b = _incident("b", reported=600, closed=900)
    c = _incident("c", reported=600, closed=650)
    plan = rp.plan_events([a, b, c], mapping, NOW, 10, stage_speed=1, run_id="o")
    # a's dispatch (60 s after it) ties exactly with b's and c's arrival (600 s / 10)
    assert [(e.offset, e.fields["event_id"].removeprefix("sf_fire-o-")) for e in plan] == [
        (0, "a-reported"), (60, "b-reported"), (60, "c-reported"), (60, "a-dispatched"),
        (110, "c-closed"), (360, "b-closed"), (3000, "a-closed")]
    assert rp.plan_events([a, b, c], mapping, NOW, 10, stage_speed=1, run_id="o") == plan
    flipped = rp.plan_events([a, c, b], mapping, NOW, 10, stage_speed=1, run_id="o")
    assert [e.fields["event_id"][-10:] for e in flipped][1:3] == ["c-reported", "b-reported"]
    one = rp.plan_events([a, b, c], mapping, NOW, 10, run_id="o")  # file time order
    assert [e.fields["event_id"].removeprefix("sf_fire-o-") for e in one] == [
        "a-reported", "a-dispatched", "b-reported", "c-reported", "c-closed", "b-closed",
        "a-closed"]


def test_plan_order_depends_on_the_ratio_of_the_speeds(sf):
    mapping, incidents, _ = sf
    chosen = incidents[:200]

    def order(speed, stage_speed=None):
        plan = rp.plan_events(chosen, mapping, NOW, speed, stage_speed=stage_speed, run_id="r")
        return [e.fields["event_id"] for e in plan]

    assert order(10, 1) == order(40, 4) == order(2.5, 0.25)
    assert order(10, 1) != order(10)
    assert order(10) == order(3) == order(7, 7)
    assert rp_plan.order_ratio(40, 4) == rp_plan.order_ratio(10, 1) == 10
    assert rp_plan.order_ratio(10) == rp_plan.order_ratio(3, 3) == 1


@pytest.mark.parametrize(("speeds", "recorded", "resumes"), [
    ((10, 1), {"speed": 10, "stage_speed": 1}, True),
    ((40, 4), {"speed": 10, "stage_speed": 1}, True),  # same ratio, same order
    ((10, None), {"speed": 10, "stage_speed": 1}, False),
    ((10, 1), {"speed": 10, "stage_speed": 10}, False),
    ((60, None), {}, True),  # written before stage_speed existed: the order of file times
    ((10, 1), {}, False),
    ((10, 1), {"speed": "fast", "stage_speed": 1}, False),
])
def test_resume_needs_a_plan_in_the_same_order(sf, speeds, recorded, resumes):
    mapping, incidents, _ = sf
    chosen = incidents[:40]
    speed, stage_speed = speeds
    then_speed = recorded["speed"] if isinstance(recorded.get("speed"), int) else 60
    then = rp.plan_events(chosen, mapping, NOW, then_speed,
                          stage_speed=recorded.get("stage_speed"), run_id="old")
    record = {"run_id": "old", "file": "f.csv", "sent": 25, "total": len(then), **recorded}
    later = NOW + timedelta(days=1)
    run, rest, done = next_pass(chosen, mapping, later, speed, None, "new", record, stage_speed)
    now_plan = rp.plan_events(chosen, mapping, later, speed, stage_speed=stage_speed,
                              run_id="old")
    if resumes:
        assert (run, done) == ("old", 25)
        sent = {e.fields["event_id"] for e in then[:25]}
        rest_ids = [e.fields["event_id"] for e in rest]
        assert not sent & set(rest_ids)  # nothing twice, nothing left out
        assert sent | set(rest_ids) == {e.fields["event_id"] for e in then}
        assert rest_ids == [e.fields["event_id"] for e in now_plan[25:]]
        assert rest[0].offset == 0 and datetime.fromisoformat(
            rest[0].fields["occurred_at"]) == later
    else:
        assert (run, done) == ("new", None) and len(rest) == len(then)
        assert rest[0].fields["incident_id"].startswith("sf_fire-new-")
        if recorded.get("speed") != "fast":  # why: the same index is another set of events
            assert ({e.fields["event_id"] for e in then[:25]}
                    != {e.fields["event_id"] for e in now_plan[:25]})


def test_open_at_once_counts_incidents_between_first_and_closing_event():
    def event(offset, incident, kind):
        return rp.PlannedEvent(offset, {"incident_id": incident, "type": f"incident.{kind}"})

    plan = [event(0, "A", "reported"), event(5, "B", "reported"), event(10, "A", "closed"),
            event(10, "C", "reported"), event(12, "C", "cancelled"),
            event(20, "D", "reported"), event(20, "D", "closed")]
    # A 0-10, B 5-20 (never closed: to the end), C 10-12, D 20-20; at 10 A closes as C opens
    assert rp.open_at_once(plan) == (pytest.approx((10 + 15 + 2 + 0) / 20), 2)
    assert rp.open_at_once([]) == (0.0, 0)


def test_sf_at_x10_with_real_stage_times_keeps_about_142_open(sf):
    mapping, incidents, _ = sf
    mean, peak = rp.open_at_once(rp.plan_events(incidents, mapping, NOW, 10, stage_speed=1))
    assert (round(mean), peak) == (142, 268)  # docs/replay.md
    real = rp.open_at_once(rp.plan_events(incidents, mapping, NOW, 10))
    assert round(real[0]) == 15 and real[1] == 45


def test_real_stage_times_pass_the_limits_and_compressed_ones_do_not(sf):
    """docs/replay.md: ~40 % of SF incidents pass a limit at x1, one at x10, none at x60."""
    from cockpit.governance_config import load_governance
    from cockpit.vocab import STAGE_RANK

    rules = load_governance()
    _, incidents, _ = sf

    def late(stage_speed: float) -> tuple[int, float]:
        count, seconds = 0, 0.0
        for inc in incidents:
            times = sorted(inc.times.items(), key=lambda kv: (kv[1], STAGE_RANK[kv[0]]))
            over = []
            for (stage, t), (_, t_next) in zip(times, times[1:], strict=False):
                limit = rules.limit(inc.category.value, inc.priority.value, stage.value)
                if limit is not None:
                    over.append((t_next - t).total_seconds() / stage_speed
                                - limit.total_seconds())
            count += any(s > 0 for s in over)
            seconds += sum(s for s in over if s > 0)
        return count, seconds

    count, seconds = late(1)
    assert 0.35 < count / len(incidents) < 0.45
    plan = rp.plan_events(incidents, sf[0], NOW, 10, stage_speed=1)
    assert 3.5 < seconds / plan[-1].offset < 4.5  # about 4 on the board at a time at x10
    assert late(10)[0] == 1 and late(60)[0] == 0

def test_two_speed_replay_stops_and_resumes_the_same_run(r, prefix, sf):
    settings = settings_for(prefix)
    mapping, incidents, _ = sf
    stream = settings.stream("incidents")
    full = rp.plan_events(incidents[:12], mapping, NOW, 10, stage_speed=1, run_id="x")
    k = 2.0 ** round(math.log2(full[-1].offset / 4))  # about 4 s; powers of two: ratio exact
    common = dict(settings=settings, r=r, csv_path=SF, mapping=mapping, limit=12)
    stats, sent = _run_until(r, stream, 4, speed=10 * k, stage_speed=k, **common)
    assert stats.stopped and 4 <= sent < len(full)
    run = stats.run_ids[0]
    record = _progress(r, settings)
    assert (record["run_id"], record["sent"], record["total"]) == (run, sent, len(full))
    assert (record["speed"], record["stage_speed"]) == (10 * k, k)

    more = rp.replay(speed=10 * 2.0**20, stage_speed=2.0**20, resume=True, progress=False,
                     **common)
    assert more.run_ids == [run] and more.resumed_from == sent and not more.stopped
    assert more.sent == len(full) - sent
    ids = [f["event_id"] for _, f in r.xrange(stream)]
    assert ids == [e.fields["event_id"].replace("-x-", f"-{run}-") for e in full]
    assert _progress(r, settings) is None


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_cli_refuses_a_bad_stage_speed(value):
    result = CliRunner().invoke(cli_app(), ["replay", str(NYC), "-m", "nyc_311", "--dry-run",
                                            "--stage-speed", value])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "--stage-speed" in result.output and "Traceback" not in result.output


def test_dry_run_gives_both_speeds_and_how_many_are_open(nyc):
    mapping, incidents, _ = nyc
    runner, app = CliRunner(), cli_app()
    args = ["replay", str(NYC), "-m", "nyc_311", "--dry-run", "--speed", "60"]
    both = runner.invoke(app, [*args, "--stage-speed", "1"])
    one = runner.invoke(app, args)
    assert both.exit_code == 0 and one.exit_code == 0, both.output
    for output, stage_speed in ((both.output, 1), (one.output, None)):
        plan = rp.plan_events(incidents, mapping, NOW, 60, stage_speed=stage_speed)
        mean, peak = rp.open_at_once(plan)
        assert (f"replay lasts {plan[-1].offset / 60:.1f} min at x60 (stage times "
                f"x{stage_speed or 60}); {mean:.0f} incidents open at once on average, "
                f"{peak} at most") in output
    assert _lasts(both.output) > _lasts(one.output)


# -- the demo's replay --------------------------------------------------------------------------

def test_demo_replays_arrivals_at_x10_and_stages_in_real_time():
    import inspect
    import sys

    from cockpit import cli, demo

    params = inspect.signature(cli.demo).parameters
    assert (params["speed"].default, params["stage_speed"].default) == (
        demo.DEMO_SPEED, demo.DEMO_STAGE_SPEED) == (10, 1)
    argv = demo.part_commands(NYC, "nyc_311", (demo.DEMO_SPEED, demo.DEMO_STAGE_SPEED))["replay"]
    assert argv[:3] == [sys.executable, "-m", "cockpit.cli"]
    assert {"--loop", "--resume", "--no-progress"} <= set(argv)
    result = CliRunner().invoke(cli.app, [*argv[3:], "--dry-run"])  # the replay part's options
    assert result.exit_code == 0, result.output
    assert "min at x10 (stage times x1);" in result.output


@pytest.mark.parametrize(("option", "value"), [("--stage-speed", "0"), ("--stage-speed", "nan"),
                                               ("--speed", "inf")])
def test_demo_refuses_a_bad_speed_before_starting(option, value):
    from cockpit import cli
    from cockpit.demo import run_demo

    result = CliRunner().invoke(cli.app, ["demo", option, value])
    assert result.exit_code == 2, result.output
    assert option in result.output and "finite number > 0" in result.output
    with pytest.raises(ValueError, match=option):
        run_demo(Settings(), **{option.removeprefix("--").replace("-", "_"): float(value)})

