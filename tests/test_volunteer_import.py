"""``cockpit volunteers import`` through the real command, on real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import redis
from sqlalchemy import func, select
from typer.testing import CliRunner

from cockpit.cli import app
from cockpit.store.db import make_engine, session_factory
from cockpit.store.volunteer_models import (
    MergeCandidate,
    Volunteer,
    VolunteerEventRow,
    VolunteerRecord,
)
from cockpit.volunteers.import_files import decode_csv
from tests.conftest import TEST_SECRETS
from tests.import_support import Command, count, run_env, store_sessions, write_csv
from tests.volunteer_factories import id_number

HONGQIAO = ["志愿者编号", "姓名", "手机号码", "身份证号", "所属队伍", "队伍类型", "技能特长",
            "所在村社", "所属网格", "注册时间"]
XIHU = ["编号", "姓名", "联系电话", "证件号码", "队伍名称", "队伍类别", "志愿技能", "所属社区",
        "网格编号", "加入时间"]
ZHIYUANHUI = ["user_id", "real_name", "mobile", "id_card", "team_name", "team_type", "skills",
              "community", "grid_code", "reg_time"]


@pytest.fixture
def env(tmp_path, database_url, redis_server_url):
    """The environment of one CLI run: the test database, Redis under a fresh prefix."""
    yield from run_env(tmp_path, database_url, redis_server_url)


@pytest.fixture
def db(database_url):
    """A session factory on the same database, to check what the command stored."""
    yield from store_sessions(database_url)


cli = Command("volunteers", "import")
ok, refused = cli.ok, cli.refused


def row(vid, name, phone="", idn="", team="乔司街道青年突击队", kind="青年", skills="急救、驾驶",
        village="朝阳村", grid="G01", at="2023-05-01 09:30") -> list[str]:
    return [vid, name, phone, idn, team, kind, skills, village, grid, at]


def test_same_id_number_on_two_platforms_is_one_volunteer(env, db, tmp_path):
    idn = id_number(101, born="19851224")
    hq = write_csv(tmp_path / "hq.csv", HONGQIAO, [row("HQ-1", "张三", "13800000001", idn)])
    xh = write_csv(tmp_path / "xh.csv", XIHU, [row("XH-9", "张 三", "13900000009", idn,
                                                   at="2024/3/2 8:15")])
    assert count("volunteers new", ok(env, str(hq), "--source", "hongqiao")) == 1
    out = ok(env, str(xh), "--source", "xihu")
    assert count("joined by ID number", out) == 1 and count("volunteers new", out) == 0
    with db() as s:
        records = s.scalars(select(VolunteerRecord).order_by(VolunteerRecord.platform)).all()
        assert [(r.platform, r.source_id) for r in records] == [("hongqiao", "HQ-1"),
                                                                ("xihu", "XH-9")]
        assert records[0].volunteer_id == records[1].volunteer_id
        person = s.get(Volunteer, records[0].volunteer_id)
        assert person.record_count == 2 and person.status == "active"
        assert s.scalar(select(func.count()).select_from(Volunteer)
                        .where(Volunteer.status != "merged")) == 1
        assert s.scalar(select(func.count()).select_from(MergeCandidate)) == 0
        assert records[1].registered_at == datetime(2024, 3, 2, 0, 15, tzinfo=UTC)
        assert records[0].team_kind == "youth" and records[0].skills == ["急救", "驾驶"]
        assert records[0].village_code == "330110006224"
        assert idn not in str(s.scalars(select(VolunteerEventRow.payload)).all())


def test_same_phone_without_id_number_waits_for_review(env, db, tmp_path):
    hq = write_csv(tmp_path / "hq.csv", HONGQIAO, [row("HQ-2", "李四", "138-0000-0002")])
    zy = write_csv(tmp_path / "zy.csv", ZHIYUANHUI, [row("U7", "李 四", "13800000002",
                                                         skills="急救;心理 疏导")])
    ok(env, str(hq), "--source", "hongqiao")
    out = ok(env, str(zy), "--source", "zhiyuanhui")
    assert count("proposed for review", out) == 1 and count("volunteers new", out) == 1
    assert count("joined by ID number", out) == 0
    with db() as s:
        people = s.scalars(select(Volunteer)).all()
        assert len(people) == 2 and {p.phone for p in people} == {"13800000002"}
        candidate = s.scalars(select(MergeCandidate)).one()
        assert candidate.status == "open" and candidate.reason == "same_phone_name"
        assert {candidate.volunteer_a, candidate.volunteer_b} == {p.volunteer_id for p in people}
        zy_record = s.get(VolunteerRecord, ("zhiyuanhui", "U7"))
        assert zy_record.skills == ["急救", "心理 疏导"]  # the mapping's separator: ;


def _big_file(path: Path, n: int) -> tuple[Path, dict[str, str]]:
    """``n`` rows of distinct people, five planted bad ones; returns the planted values."""
    planted = {"name_missing_phone": "13712345670", "bad_phone": "1371234567890123456",
               "bad_phone_name": "错号码人", "bad_id": id_number(5, born="19990909")[:-1] + "0",
               "bad_id_name": "坏证件", "dup_name": "重复者"}
    if planted["bad_id"] == id_number(5, born="19990909"):
        planted["bad_id"] = planted["bad_id"][:-1] + "1"
    rows = []
    for i in range(n):
        born = (date(1970, 1, 1) + timedelta(days=i // 1000)).strftime("%Y%m%d")
        rows.append(row(f"HQ-{i:05d}", f"志愿者{i}", f"139{i:08d}", id_number(i, born=born),
                        village="翁梅村" if i % 2500 == 7 else "朝阳村"))
    rows[99] = row("=HYPERLINK(1)", "", planted["name_missing_phone"])  # row 101: no name
    rows[4999] = row("HQ-bad-phone", planted["bad_phone_name"], planted["bad_phone"])  # 5001
    rows[7776] = row("HQ-bad-id", planted["bad_id_name"], "13612345678", planted["bad_id"])
    rows[9998] = row("HQ-00042", planted["dup_name"], "13512345678")  # row 10000
    return write_csv(path, HONGQIAO, rows), planted


def test_ten_thousand_rows_progress_rejections_and_counts(tmp_path, redis_server_url, sqlite_url,
                                                          caplog):
    caplog.set_level(logging.DEBUG)
    env = {"DATABASE_URL": sqlite_url, "REDIS_URL": redis_server_url,
           "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"],
           "COCKPIT_STREAM_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
           "COCKPIT_DATA_DIR": str(tmp_path / "var")}
    path, planted = _big_file(tmp_path / "volunteers.csv", 10_000)
    result = cli(env, str(path), "--source", "hongqiao")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "10000/10000" in result.stderr and "100%" in result.stderr  # the progress bar
    assert (count("rows read", out), count("accepted", out), count("rejected", out)) == \
        (10_000, 9_996, 4)
    assert count("events stored", out) == 9_996 and count("volunteers new", out) == 9_996
    assert count("unknown villages", out) == 4
    assert "4 rows name a village that is not one of the 15: 翁梅村 (4)" in out
    report = tmp_path / "volunteers.rejected.csv"
    assert f"report: {report}" in out
    data = report.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == ["row", "volunteer_id", "reason"]
    rejected = {int(r[0]): r for r in lines[1:]}
    assert sorted(rejected) == [101, 5001, 7778, 10000]
    assert rejected[101][1] == "'=HYPERLINK(1)"  # formula-safe
    assert rejected[101][2] == "name (姓名): is empty"
    assert rejected[5001][2] == "phone (手机号码): phone number is not 5 to 15 digits"
    assert rejected[7778][2] == "id_number (身份证号): ID number check character is wrong"
    assert rejected[10000][1:] == ["HQ-00042", "duplicate volunteer_id, first at row 44"]
    for value in planted.values():
        for text in (data.decode("utf-8-sig"), result.stdout, result.stderr, caplog.text):
            assert value not in text
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Volunteer)) == 9_996
        assert s.scalar(select(func.count()).select_from(VolunteerRecord)
                        .where(VolunteerRecord.village_code.is_(None))) == 4
    engine.dispose()
    client = redis.Redis.from_url(redis_server_url)
    assert client.get(f"{env['COCKPIT_STREAM_PREFIX']}version") == b"1"  # screens told
    client.delete(f"{env['COCKPIT_STREAM_PREFIX']}version",
                  f"{env['COCKPIT_STREAM_PREFIX']}ingest:last_commit")
    client.close()


def test_gbk_file_needs_its_encoding(env, db, tmp_path):
    path = write_csv(tmp_path / "xihu.csv", XIHU, [row("XH-1", "王小明", "13800000003"),
                                                   row("XH-2", "欧阳娜娜", "")], encoding="gbk")
    line = refused(env, str(path), "--source", "xihu")
    assert "not valid UTF-8" in line and "GBK" in line and "--encoding gbk" in line
    out = ok(env, str(path), "--source", "xihu", "--encoding", "gbk", "--quiet")
    assert count("accepted", out) == 2
    with db() as s:
        names = s.scalars(select(VolunteerRecord.name).order_by(VolunteerRecord.source_id)).all()
        assert names == ["王小明", "欧阳娜娜"]
        assert s.get(VolunteerRecord, ("xihu", "XH-1")).village_code == "330110006224"
    utf8 = write_csv(tmp_path / "utf8.csv", XIHU, [row("XH-3", "李雷")])
    assert "drop --encoding gbk" in refused(env, str(utf8), "--source", "xihu",
                                            "--encoding", "gbk")


def test_decode_reports_the_byte_and_plain_bad_bytes(tmp_path):
    with pytest.raises(ValueError, match=r"byte 0xff at offset 2\); pass its encoding"):
        decode_csv(tmp_path / "x.csv", b"ab\xff\xff\xfe", None)
    assert decode_csv(tmp_path / "x.csv", b"\xef\xbb\xbfa,b\n", None) == "a,b\n"


def test_missing_column_empty_file_and_bad_mapping(env, tmp_path):
    header = [h for h in HONGQIAO if h != "手机号码"]
    path = write_csv(tmp_path / "hq.csv", header, [["HQ-1", "张三"] + [""] * 8])
    line = refused(env, str(path), "--source", "hongqiao")
    assert "手机号码" in line and "volunteers_hongqiao.yaml" in line and "found: 志愿者编号" in line
    plain = write_csv(tmp_path / "plain.csv", ["volunteer_id", "phone"], [["A1", "13800000001"]])
    assert "column(s) name of the mapping" in refused(env, str(plain), "--source", "other")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf\r\n")
    assert "empty (no header row)" in refused(env, str(empty), "--source", "hongqiao")
    blank_first = tmp_path / "blank.csv"
    blank_first.write_text(",,\nHQ-1,张三\n", encoding="utf-8")
    assert "no header row" in refused(env, str(blank_first), "--source", "hongqiao")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  volunteer_id: 编号\n  nmae: 姓名\n", encoding="utf-8")
    line = refused(env, str(path), "--source", "x", "--mapping", str(bad))
    assert "columns.name: required key is missing" in line and "columns.nmae: unknown key" in line
    assert "not found" in refused(env, str(path), "--source", "x", "--mapping", "nosuch")
    assert "no such file" in refused(env, str(tmp_path / "none.csv"), "--source", "hongqiao")
    assert "COCKPIT_PD_KEY" in refused({**env, "COCKPIT_PD_KEY": None}, str(path),
                                       "--source", "hongqiao")


def test_xlsx_imports(env, db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "members"
    sheet.append(ZHIYUANHUI)
    sheet.append(["U1", "赵六", 13800000004, id_number(33, born="19800202"), "工会志愿队", "工会",
                   "急救;心理 疏导", "330110006201", "G07", datetime(2023, 1, 2, 9, 0)])
    sheet.append([None] * 10)  # a formatted but empty row
    sheet.append(["U2", "钱七", "13800000005", 3.3011019800202e17, None, None, None, None, None,
                  None])  # an ID number as Excel keeps it in a number cell
    sheet.append(["U3", "孙八", "13800000006", id_number(34, born="19800202"), None, None,
                  None, None, None, None])
    path = tmp_path / "members.xlsx"
    book.save(path)
    out = ok(env, str(path), "--source", "志愿汇", "--quiet")
    assert "mapping volunteers_zhiyuanhui.yaml" in out
    assert (count("rows read", out), count("accepted", out), count("rejected", out)) == (3, 2, 1)
    report = (tmp_path / "members.rejected.csv").read_text(encoding="utf-8-sig")
    assert "4,U2,\"id_number (id_card): the cell is a number" in report
    with db() as s:
        record = s.get(VolunteerRecord, ("志愿汇", "U1"))
        assert (record.name, record.phone, record.team_kind) == ("赵六", "13800000004", "union")
        assert record.skills == ["急救", "心理 疏导"] and record.village_code == "330110006201"
        assert record.registered_at == datetime(2023, 1, 2, 1, 0, tzinfo=UTC)
        assert record.id_hash.startswith("hmac-sha256:")
    assert "no sheet 'other'" in refused(env, str(path), "--source", "zhiyuanhui",
                                         "--sheet", "other")


def test_reimport_stores_nothing_new_and_dry_run_stores_nothing(env, db, tmp_path):
    rows = [row("HQ-1", "张三", "13800000001"), row("HQ-2", "李四", "13800000002", at="")]
    path = write_csv(tmp_path / "hq.csv", HONGQIAO, rows)
    out = ok(env, str(path), "--source", "hongqiao", "--dry-run", "--quiet")
    assert out.startswith("dry run of hq.csv") and count("events stored", out) == 2
    assert count("volunteers new", out) == 2
    with db() as s:
        assert s.scalar(select(func.count()).select_from(VolunteerEventRow)) == 0
        assert s.scalar(select(func.count()).select_from(VolunteerRecord)) == 0
    ok(env, str(path), "--source", "hongqiao", "--quiet")
    again = ok(env, str(path), "--source", "hongqiao", "--quiet")
    assert count("events stored", again) == 0 and count("already imported", again) == 2
    with db() as s:
        assert s.scalar(select(func.count()).select_from(VolunteerEventRow)) == 2
        first = s.get(VolunteerRecord, ("hongqiao", "HQ-1")).registered_at
    rows[0] = row("HQ-1", "张三", "13900000001")  # a new phone, same registration time
    changed = ok(env, str(write_csv(path, HONGQIAO, rows)), "--source", "hongqiao", "--quiet")
    assert count("changed records", changed) == 1 and count("already imported", changed) == 1
    assert count("volunteers new", changed) == 0
    with db() as s:
        record = s.get(VolunteerRecord, ("hongqiao", "HQ-1"))
        assert record.phone == "13900000001" and record.registered_at == first
        assert s.scalar(select(func.count()).select_from(VolunteerEventRow)) == 3
    assert count("already imported", ok(env, str(path), "--source", "hongqiao", "--quiet")) == 2


def test_reasons_never_echo_personal_values(env, tmp_path):
    """A mapping that sends the name and phone to checked fields: the reason names no value."""
    mapping = tmp_path / "odd.yaml"
    mapping.write_text("columns:\n  volunteer_id: id\n  name: name\n  team_kind: name\n"
                       "  phone: phone\n  registered_at: phone\n", encoding="utf-8")
    path = write_csv(tmp_path / "odd.csv", ["id", "name", "phone"],
                     [["A1", "欧阳锋", "13800001234"], ["A2", "Li", "13800005678"]])
    out = ok(env, str(path), "--source", "odd", "--mapping", str(mapping), "--quiet")
    assert count("rejected", out) == 2
    report = (tmp_path / "odd.rejected.csv").read_text(encoding="utf-8-sig")
    assert "team_kind (name): '***' is not a team kind" in report
    assert "registered_at (phone): '***' is outside the years 2000-2100" in report
    for value in ("欧阳锋", "'Li'", "13800001234", "13800005678"):
        assert value not in report and value not in out


def test_redis_down_keeps_the_import_and_says_so(env, db, tmp_path):
    path = write_csv(tmp_path / "hq.csv", HONGQIAO, [row("HQ-1", "张三", "13800000001")])
    result = cli({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, str(path), "--source",
                 "hongqiao", "--quiet")
    assert result.exit_code == 0, result.output
    assert "warning: could not signal open screens" in result.stderr
    assert count("events stored", result.stdout) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(VolunteerRecord)) == 1


def test_merge_queue_from_the_shell_list_merge_undo_reject(env, db, tmp_path):
    from cockpit.audit import read

    first = tmp_path / "hq.csv"
    first.write_text("volunteer_id,name,phone,village\nH1,陈一,13911112222,朝阳村\n"
                     "H2,陈二,13933334444,朝阳村\n", encoding="utf-8")
    second = tmp_path / "zy.csv"
    second.write_text("volunteer_id,name,phone,village\nZ1,陈 一,13911112222,朝阳村\n"
                      "Z2,陈贰,13933334444,朝阳村\n", encoding="utf-8")
    ok(env, str(first), "--source", "hq", "--quiet")
    ok(env, str(second), "--source", "zy", "--quiet")
    merges = ["volunteers", "merges"]
    listed = CliRunner().invoke(app, [*merges, "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "2 open pair(s)" in listed.stdout and "陈一" not in listed.stdout
    assert "139****2222" in listed.stdout
    with db() as session:
        pairs = sorted(session.scalars(select(MergeCandidate.candidate_id)))
    merged = CliRunner().invoke(app, [*merges, "merge", str(pairs[0]), "--into", "b"], env=env)
    assert merged.exit_code == 0, merged.output
    merge_id = merged.stdout.split("(merge ")[1].split(";")[0]
    again = CliRunner().invoke(app, [*merges, "merge", str(pairs[0])], env=env)
    assert again.exit_code == 2 and "no open merge candidate" in again.output
    rejected = CliRunner().invoke(app, [*merges, "reject", str(pairs[1])], env=env)
    assert rejected.exit_code == 0, rejected.output
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Volunteer)
                              .where(Volunteer.status != "merged")) == 3
    undone = CliRunner().invoke(app, [*merges, "undo", merge_id], env=env)
    assert undone.exit_code == 0, undone.output
    log = CliRunner().invoke(app, [*merges, "log"], env=env)
    assert f"{merge_id}: " in log.stdout and "undone" in log.stdout
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Volunteer)
                              .where(Volunteer.status != "merged")) == 4
        actions = [e.action for e in read(session, limit=20).rows]
    assert {"volunteer_merged", "volunteer_merge_rejected",
            "volunteer_merge_undone"} <= set(actions)
