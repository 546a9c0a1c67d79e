"""``cockpit waste import`` through the real command, on real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import redis
from sqlalchemy import func, select

from cockpit.store.db import make_engine, session_factory
from cockpit.store.waste_models import Household, Landlord, WasteEventRow, WasteStation
from cockpit.waste.import_format import crs_text, members_text, status_text
from tests.conftest import TEST_SECRETS
from tests.import_support import Command, count, run_env, store_sessions, write_csv

HOUSEHOLDS = ["户号", "户别", "村社", "组", "房屋编号", "地址", "房东编号", "房东姓名", "房东电话",
              "户主", "联系电话", "人数", "入住日期", "搬离日期"]
STATIONS = ["站点编号", "站点名称", "村社", "经度", "纬度", "坐标系", "状态"]
CHAOYANG = "330110006224"
ROOT = Path(__file__).resolve().parents[1]
SANJIAO = "330110006222"


@pytest.fixture
def env(tmp_path, migrated_database_url, redis_server_url):
    """The environment of one CLI run: the test database, Redis under a fresh prefix."""
    yield from run_env(tmp_path, migrated_database_url, redis_server_url)


@pytest.fixture
def db(migrated_database_url):
    """A session factory on the same database, to check what the command stored."""
    yield from store_sessions(migrated_database_url)


cli = Command("waste", "import")
ok, refused = cli.ok, cli.refused


def household(hid, kind="本地", village="朝阳村", group="3组", house="", address="",
              landlord="", landlord_name="", landlord_phone="", head="张三",
              phone="13800000001", members="3", moved_in="", moved_out="") -> list[str]:
    return [hid, kind, village, group, house, address, landlord, landlord_name, landlord_phone,
            head, phone, members, moved_in, moved_out]


def tenant(hid, landlord="LL-1", moved_in="2024/3/1", **extra) -> list[str]:
    extra.setdefault("landlord_name", "沈建国")
    extra.setdefault("landlord_phone", "13900005678")
    return household(hid, "租户", house=f"H-{hid}", address=f"朝阳村3组{hid}号",
                     landlord=landlord, moved_in=moved_in, **extra)


def shanghai(*args) -> datetime:
    """A local (Asia/Shanghai) wall time as aware UTC."""
    return datetime(*args, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def test_households_csv_local_and_tenant(env, db, tmp_path):
    path = write_csv(tmp_path / "hh.csv", HOUSEHOLDS, [
        household("QS-1", head="张三", phone="13800000001", members="4"),
        tenant("QS-2", head="李四", phone="13800000002", members="3人"),
        tenant("QS-3", landlord="LL-2", landlord_name="周梅", landlord_phone="13900001111",
               village="三角村", group="1组", moved_in="2024-05-02 08:30"),
    ])
    out = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste")
    assert "mapping waste_households_qiaosi.yaml" in out
    assert (count("rows read", out), count("accepted", out), count("rejected", out)) == (3, 3, 0)
    assert (count("events stored", out), count("households new", out),
            count("of them tenants", out), count("landlords new", out)) == (3, 3, 2, 2)
    with db() as s:
        local = s.get(Household, "QS-1")
        assert (local.kind, local.village_code, local.group_name, local.status) == \
            ("local", CHAOYANG, "3组", "active")
        assert (local.head_name, local.head_phone, local.members) == ("张三", "13800000001", 4)
        assert local.house_id is None and local.landlord_id is None
        assert local.moved_out_at is None and local.source == "qiaosi-waste"
        second = s.get(Household, "QS-2")
        assert (second.kind, second.house_id, second.landlord_id, second.members) == \
            ("tenant", "H-QS-2", "LL-1", 3)
        assert second.moved_in_at == shanghai(2024, 3, 1)
        third = s.get(Household, "QS-3")
        assert (third.village_code, third.group_name) == (SANJIAO, "1组")
        assert third.moved_in_at == shanghai(2024, 5, 2, 8, 30)
        landlords = {r.landlord_id: (r.name, r.phone) for r in s.scalars(select(Landlord))}
        assert landlords == {"LL-1": ("沈建国", "13900005678"), "LL-2": ("周梅", "13900001111")}
        history = str(s.scalars(select(WasteEventRow.payload)).all())
        for value in ("张三", "李四", "13800000002", "沈建国", "13900005678"):
            assert value not in history


def test_households_xlsx_date_cells_and_moved_out(env, db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "户籍"
    sheet.append(HOUSEHOLDS)
    sheet.append(["QS-10", "租户", "朝阳村", "2组", "H-10", "朝阳村2组10号", "LL-9", "吴磊",
                  13900009999, "陈一", 13800000010, 2, datetime(2024, 3, 1),
                  datetime(2025, 6, 30, 18, 0)])
    sheet.append([None] * 14)  # a formatted but empty row
    sheet.append(["QS-11", "本地", "330110006222", "5", None, None, None, None, None, "陈二",
                  None, 5.0, None, None])
    sheet.append(["QS-12", "租户", "朝阳村", "2组", "H-12", None, "LL-9", None, None, None, None,
                  None, None, "2025/7/1"])  # moved out, move-in unknown
    path = tmp_path / "register.xlsx"
    book.save(path)
    out = ok(env, str(path), "--kind", "households", "--source", "乔司街道", "--quiet")
    assert (count("rows read", out), count("accepted", out), count("moved out", out)) == \
        (3, 3, 2)
    assert count("events stored", out) == 5  # three registrations, two move-outs
    with db() as s:
        gone = s.get(Household, "QS-10")
        assert (gone.status, gone.moved_out_at) == ("moved_out", shanghai(2025, 6, 30, 18))
        assert gone.moved_in_at == shanghai(2024, 3, 1)
        assert s.get(Landlord, "LL-9").phone == "13900009999"
        local = s.get(Household, "QS-11")
        assert (local.village_code, local.members, local.status) == (SANJIAO, 5, "active")
        unknown_in = s.get(Household, "QS-12")
        assert (unknown_in.status, unknown_in.moved_out_at) == ("moved_out", shanghai(2025, 7, 1))
    assert "no sheet 'other'" in refused(env, str(path), "--kind", "households", "--source",
                                         "qiaosi", "--sheet", "other")


def test_stations_csv_xlsx_datums_and_status(env, db, tmp_path):
    path = write_csv(tmp_path / "st.csv", STATIONS, [
        ["QS-CY-ST-01", "朝阳村3组投放点", "朝阳村", "120.2931", "30.3512", "GCJ-02", "正常"],
        ["QS-CY-ST-02", "朝阳村智能回收站", "朝阳村", "120.2931", "30.3512", "WGS84", "停用"],
        ["QS-CY-ST-03", "朝阳村5组投放点", "朝阳村", "120.2931", "30.3512", "", ""],
        ["QS-CY-ST-04", "反了的点", "朝阳村", "30.3512", "120.2931", "高德", "正常"],
        ["QS-CY-ST-05", "", "朝阳村", "", "", "", "正常"],
    ])
    out = ok(env, str(path), "--kind", "stations", "--source", "qiaosi-waste", "--quiet")
    assert (count("accepted", out), count("rejected", out), count("stations new", out),
            count("closed", out)) == (3, 2, 3, 1)
    report = (tmp_path / "st.rejected.csv").read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "row,station_id,reason"
    assert report[1].startswith("5,QS-CY-ST-04,") and "swapped" in report[1]
    assert report[2] == "6,QS-CY-ST-05,name (站点名称): is empty"
    with db() as s:
        gcj = s.get(WasteStation, "QS-CY-ST-01")
        wgs = s.get(WasteStation, "QS-CY-ST-02")
        default = s.get(WasteStation, "QS-CY-ST-03")
        assert (wgs.lon, wgs.lat, wgs.status) == (120.2931, 30.3512, "closed")
        assert 0.003 < abs(gcj.lon - 120.2931) < 0.007 and gcj.status == "active"
        assert (default.lon, default.lat) == (gcj.lon, gcj.lat)  # the mapping's gcj02
        assert gcj.village_code == CHAOYANG and gcj.name == "朝阳村3组投放点"
    book = openpyxl.Workbook()
    book.active.append(STATIONS)
    book.active.append(["QS-SJ-ST-01", "三角村投放点", "三角村", 120.31, 30.36, "wgs84", "启用"])
    xlsx = tmp_path / "st.xlsx"
    book.save(xlsx)
    assert count("stations new", ok(env, str(xlsx), "--kind", "stations", "--source",
                                    "qiaosi-waste", "--quiet")) == 1
    with db() as s:
        station = s.get(WasteStation, "QS-SJ-ST-01")
        assert (station.lon, station.lat, station.village_code) == (120.31, 30.36, SANJIAO)


def test_gbk_file_needs_its_encoding(env, db, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", HOUSEHOLDS, [tenant("QS-20", head="欧阳娜娜")],
                     encoding="gbk")
    line = refused(env, str(path), "--kind", "households", "--source", "qiaosi-waste")
    assert "not valid UTF-8" in line and "--encoding gbk" in line
    out = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste",
             "--encoding", "gbk", "--quiet")
    assert count("households new", out) == 1
    with db() as s:
        row = s.get(Household, "QS-20")
        assert (row.head_name, row.village_code) == ("欧阳娜娜", CHAOYANG)
        assert s.get(Landlord, "LL-1").name == "沈建国"


def test_missing_column_and_bad_options(env, tmp_path):
    header = [h for h in HOUSEHOLDS if h != "房东编号"]
    path = write_csv(tmp_path / "hh.csv", header, [["QS-1", "本地", "朝阳村"] + [""] * 10])
    line = refused(env, str(path), "--kind", "households", "--source", "qiaosi-waste")
    assert "column(s) 房东编号 of the mapping waste_households_qiaosi.yaml not in the header" \
        in line and "found: 户号, 户别, 村社" in line
    plain = write_csv(tmp_path / "plain.csv", ["household_id", "village"], [["H1", "朝阳村"]])
    assert "column(s) kind of the mapping (contract field names)" in refused(
        env, str(plain), "--kind", "households", "--source", "other")
    assert "not found; give a file or one of ['qiaosi']" in refused(
        env, str(path), "--kind", "stations", "--source", "x", "--mapping", "nosuch")
    result = cli(env, str(path), "--kind", "people", "--source", "qiaosi-waste")
    assert result.exit_code == 2 and "people" in result.output


def test_bad_rows_rejected_with_row_and_reason_rest_imported(env, db, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    rows = [
        tenant("QS-30", head="好人甲"),
        tenant("QS-31", landlord="", head="无房东", phone="13811112222"),  # row 3
        household("QS-32", kind="外星", head="怪户别"),  # row 4
        household("QS-33", moved_in="2024/13/01", head="坏日期"),  # row 5
        tenant("QS-34", moved_in="2024-06-01", moved_out="2024-05-01", head="先走"),  # row 6
        household("QS-35", phone="1381111222233334444", head="长号码"),  # row 7
        household("QS-30", head="重复户"),  # row 8
        household("QS-36", moved_out="2099-01-01", head="未来人"),  # row 9
        household("13877776666", kind="火星", head="手机户", phone="13877776666"),  # row 10
        household("QS-37", village="翁梅村", head="旧村名"),  # row 11: accepted, warned
    ]
    path = write_csv(tmp_path / "hh.csv", HOUSEHOLDS, rows)
    result = cli(env, str(path), "--kind", "households", "--source", "qiaosi-waste")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert (count("rows read", out), count("accepted", out), count("rejected", out)) == \
        (10, 2, 8)
    assert "1 rows name a village that is not one of the 15: 翁梅村 (1)" in out
    report = tmp_path / "hh.rejected.csv"
    data = report.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == ["row", "household_id", "reason"]
    reasons = {int(r[0]): r[1:] for r in lines[1:]}
    assert reasons[3] == ["QS-31", "a tenant household needs landlord_id (房东编号)"]
    assert reasons[4][1].startswith("kind (户别): '外星' is not a household kind")
    assert reasons[5][1] == "moved_in_at (入住日期): '2024-13-01' is neither ISO-8601 nor epoch " \
        "milliseconds"
    assert reasons[6][1] == "moved_out_at (搬离日期): is before moved_in_at (入住日期)"
    assert reasons[7][1] == "head_phone (联系电话): phone number is not 5 to 15 digits"
    assert reasons[8] == ["QS-30", "duplicate household_id, first at row 2"]
    assert reasons[9][1].startswith("moved_out_at (搬离日期): '2099-01-01' is ") \
        and "in the future" in reasons[9][1]
    assert reasons[10][0] == "***"
    for value in ("无房东", "13811112222", "怪户别", "坏日期", "先走", "1381111222233334444",
                  "重复户", "未来人", "13877776666", "沈建国", "13900005678"):
        for text in (data.decode("utf-8-sig"), result.stdout, result.stderr, caplog.text):
            assert value not in text
    with db() as s:
        assert sorted(s.scalars(select(Household.household_id))) == ["QS-30", "QS-37"]
        assert s.get(Household, "QS-37").village_text == "翁梅村"


def test_dry_run_stores_nothing(env, db, tmp_path):
    path = write_csv(tmp_path / "hh.csv", HOUSEHOLDS, [
        household("QS-40"), tenant("QS-41", moved_out="2025-01-31")])
    out = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste", "--dry-run",
             "--quiet")
    assert out.startswith("dry run of hh.csv") and count("events stored", out) == 3
    assert (count("households new", out), count("moved out", out)) == (2, 1)
    with db() as s:
        for model in (Household, Landlord, WasteEventRow):
            assert s.scalar(select(func.count()).select_from(model)) == 0


def test_reimport_idempotent_and_changed_row_wins(env, db, tmp_path):
    rows = [tenant("QS-50", head="孙八", phone="13800000050"), household("QS-51"),
            tenant("QS-52", moved_in="")]
    path = write_csv(tmp_path / "hh.csv", HOUSEHOLDS, rows)
    first = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste", "--quiet")
    assert count("events stored", first) == 3
    again = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste", "--quiet")
    assert (count("events stored", again), count("already imported", again)) == (0, 3)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(WasteEventRow)) == 3
        moved_in = s.get(Household, "QS-52").moved_in_at
    rows[0] = tenant("QS-50", head="孙八", phone="13900000050", group="4组",
                     landlord="LL-7", landlord_phone="13700007777", moved_out="2025-06-30")
    rows[2] = tenant("QS-52", moved_in="", members="5")
    write_csv(path, HOUSEHOLDS, rows)
    changed = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste", "--quiet")
    assert (count("changed records", changed), count("already imported", changed),
            count("events stored", changed), count("moved out", changed)) == (2, 1, 3, 1)
    with db() as s:
        row = s.get(Household, "QS-50")
        assert (row.head_phone, row.group_name, row.landlord_id) == ("13900000050", "4组", "LL-7")
        assert row.moved_in_at == shanghai(2024, 3, 1)
        assert (row.status, row.moved_out_at) == ("moved_out", shanghai(2025, 6, 30))
        assert s.get(Landlord, "LL-7").phone == "13700007777"
        kept = s.get(Household, "QS-52")
        assert (kept.members, kept.moved_in_at, kept.status) == (5, moved_in, "active")
        assert s.scalar(select(func.count()).select_from(WasteEventRow)) == 6
    last = ok(env, str(path), "--kind", "households", "--source", "qiaosi-waste", "--quiet")
    assert (count("events stored", last), count("already imported", last)) == (0, 3)


def test_changed_station_wins(env, db, tmp_path):
    rows = [["QS-ST-1", "一号点", "朝阳村", "120.29", "30.35", "wgs84", "正常"]]
    path = write_csv(tmp_path / "st.csv", STATIONS, rows)
    ok(env, str(path), "--kind", "stations", "--source", "qiaosi-waste", "--quiet")
    rows[0] = ["QS-ST-1", "一号点(迁)", "三角村", "120.30", "30.36", "wgs84", "撤除"]
    out = ok(env, str(write_csv(path, STATIONS, rows)), "--kind", "stations", "--source",
             "qiaosi-waste", "--quiet")
    assert (count("changed records", out), count("stations new", out), count("closed", out)) \
        == (1, 0, 1)
    with db() as s:
        station = s.get(WasteStation, "QS-ST-1")
        assert (station.name, station.village_code, station.status, station.lon) == \
            ("一号点(迁)", SANJIAO, "closed", 120.30)


def test_register_words():
    assert [crs_text(v) for v in ("GCJ-02", "高德坐标", "bd-09", "WGS 84", "CGCS2000", "x")] \
        == ["gcj02", "gcj02", "bd09", "wgs84", "wgs84", "x"]
    assert [status_text(v) for v in ("正常", "停用", "Closed", "维修")] == \
        ["active", "closed", "closed", "维修"]
    assert [members_text(v) for v in ("3人", "4 口", "3", "三人")] == ["3", "4", "3", "三人"]


def test_ten_thousand_households_with_bar(tmp_path, redis_server_url, sqlite_template):
    database = tmp_path / "cockpit.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    env = {"DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": redis_server_url,
           "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"],
           "COCKPIT_STREAM_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
           "COCKPIT_DATA_DIR": str(tmp_path / "var")}
    villages = ["朝阳村", "三角村", "永和村", "胜稼村"]
    rows = []
    for i in range(10_000):
        if i % 3:
            rows.append(tenant(f"QS-{i:05d}", landlord=f"LL-{i % 700}", head=f"户主{i}",
                               village=villages[i % 4], phone=f"138{i:08d}",
                               moved_out="2025-06-30" if i % 10 == 1 else ""))
        else:
            rows.append(household(f"QS-{i:05d}", village=villages[i % 4], head=f"户主{i}",
                                  phone=f"138{i:08d}"))
    path = write_csv(tmp_path / "big.csv", HOUSEHOLDS, rows)
    started = time.perf_counter()
    result = cli(env, str(path), "--kind", "households", "--source", "qiaosi-waste")
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "10000/10000" in result.stderr and "100%" in result.stderr
    out = result.stdout
    assert (count("accepted", out), count("households new", out), count("of them tenants", out),
            count("moved out", out), count("landlords new", out)) == \
        (10_000, 10_000, 6_666, 667, 700)
    assert elapsed < 60, f"10,000 households took {elapsed:.1f} s"
    engine = make_engine(env["DATABASE_URL"])
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Household)
                        .where(Household.status == "moved_out")) == 667
    engine.dispose()
    client = redis.Redis.from_url(redis_server_url)
    assert client.get(f"{env['COCKPIT_STREAM_PREFIX']}version") == b"1"  # screens told
    client.delete(f"{env['COCKPIT_STREAM_PREFIX']}version",
                  f"{env['COCKPIT_STREAM_PREFIX']}ingest:last_commit")
    client.close()


def test_a_register_with_positions_places_its_households(env, db, tmp_path):
    """A register with 经度/纬度 (its own mapping, the datum by row or by default): the houses
    are stored in WGS-84, so the staff map counts them per grid."""
    mapping = tmp_path / "with_positions.yaml"
    mapping.write_text(
        (ROOT / "mappings" / "waste_households_qiaosi.yaml").read_text(encoding="utf-8")
        .replace("sources: [qiaosi-waste, qiaosi, 乔司街道]", "sources: [positions]")
        + "  lon: 经度\n  lat: 纬度\n  crs: 坐标系\ndefault_crs: gcj02\n", encoding="utf-8")
    path = write_csv(tmp_path / "hh.csv", [*HOUSEHOLDS, "经度", "纬度", "坐标系"], [
        [*household("QS-P-1"), "120.2931", "30.3512", "WGS84"],
        [*household("QS-P-2"), "120.2931", "30.3512", ""],  # the mapping's gcj02
        [*household("QS-P-3"), "", "", ""],
    ])
    out = ok(env, str(path), "--kind", "households", "--source", "positions", "--mapping",
             str(mapping), "--quiet")
    assert count("accepted", out) == 3
    with db() as s:
        wgs, gcj, none = (s.get(Household, f"QS-P-{n}") for n in (1, 2, 3))
        assert (wgs.lon, wgs.lat) == (120.2931, 30.3512)
        assert 0.003 < abs(gcj.lon - 120.2931) < 0.007
        assert (none.lon, none.lat) == (None, None)
