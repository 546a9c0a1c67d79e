"""``/reports/<kind>`` and ``cockpit report``: who may download, what a bad request gets, the
download panel by role, and the command's files and errors (real Redis, SQLite/PostgreSQL)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from app import create_app
from cockpit import audit
from cockpit.cli import app as cli_app
from tests.access_support import clients_by_role
from tests.conftest import TEST_SECRETS
from tests.report_pdf_support import page_text
from tests.report_support import LANDLORD, require_cjk_font, store_day

IN_SCOPE = "330110006201"


@pytest.fixture
def stored(services):
    return store_day(services)


@pytest.fixture
def clients(services, stored):
    app = create_app(services.settings, services=services)
    return app, clients_by_role(app, services, IN_SCOPE,
                                (None, "wall", "leader", "staff", "admin", "landlord"),
                                landlord=LANDLORD)


@pytest.fixture(autouse=True)
def _cjk_font():
    require_cjk_font()


def test_leaders_and_admins_download_others_are_refused(services, stored, clients):
    _, by_role = clients
    day = stored.isoformat()
    leader = by_role["leader"].get(f"/reports/daily?date={day}&format=pdf&figures=0")
    assert leader.status_code == 200, leader.get_data()[:300]
    assert leader.mimetype == "application/pdf" and leader.get_data().startswith(b"%PDF")
    assert leader.headers["Content-Disposition"] == \
        f'attachment; filename="qiaosi-daily-{day}-zh.pdf"'
    assert "乔司街道 · 日报" in page_text(leader.get_data())[0]
    admin = by_role["admin"].get(f"/reports/weekly?date={day}&format=xlsx&lang=en&figures=0")
    assert admin.status_code == 200, admin.get_data()[:300]
    book = load_workbook(io.BytesIO(admin.get_data()))
    assert book.sheetnames[:2] == ["Key figures", "By day"]
    key = {row[0]: row[2] for row in book["Key figures"].iter_rows(min_row=5, values_only=True)}
    assert key["Median dispatch time"] == "seconds" and key["Reported that day"] == "incidents"
    for role, status in (("staff", 403), ("wall", 403), ("landlord", 403), (None, 401)):
        got = by_role[role].get(f"/reports/daily?date={day}&figures=0").status_code
        assert got == status, role
    with services.read() as db:
        rows = sorted((r.role, r.target, r.detail) for r in audit.read(db, action="export").rows)
    monday = stored - timedelta(days=stored.weekday())
    assert rows == [("admin", "report", f"weekly {monday} xlsx en"),
                    ("leader", "report", f"daily {day} pdf zh")]


BAD = [("/reports/daily?date=2026-02-30", 400, "is not a date"),
       ("/reports/daily?date=2999-01-01", 400, "in the future"),
       ("/reports/daily?date=2020-01-01", 404, "no data for 2020-01-01"),
       ("/reports/weekly?date=2020-01-01", 404, "the week 2019-12-30 to 2020-01-05"),
       ("/reports/daily?format=docx", 400, "format"),
       ("/reports/daily?format=pdf&lang=fr", 400, "lang: 'fr'"),
       ("/reports/monthly", 404, "kind")]


def test_a_bad_request_says_what_is_wrong(clients):
    _, by_role = clients
    for query, status, says in BAD:
        response = by_role["leader"].get(query)
        assert response.status_code == status, query
        assert says in response.get_data(as_text=True), query


def _page(app, client, path: str) -> str:
    spec = app.callback_map["shell-page.children"]
    path, _, query = path.partition("?")
    given = {("shell-url", "pathname"): path, ("shell-url", "search"): f"?{query}" if query
             else None}
    inputs = [{"id": str(i["id"]), "property": i["property"],
               "value": given.get((str(i["id"]), i["property"]))} for i in spec["inputs"]]
    state = [{"id": str(i["id"]), "property": i["property"], "value": None}
             for i in spec["state"]]
    body = {"output": "shell-page.children", "outputs": {"id": "shell-page",
                                                         "property": "children"},
            "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    return json.dumps(json.loads(response.get_data()), ensure_ascii=False)


def test_the_download_panel_is_on_the_pages_of_those_who_may_use_it(clients):
    app, by_role = clients
    for role in ("leader", "admin"):
        page = _page(app, by_role[role], "/analysis")
        assert "report-panel" in page and "日报 · PDF" in page and "周报 · Excel" in page, role
        assert "/reports/weekly" in page
    assert "report-panel" not in _page(app, by_role["staff"], "/analysis")
    assert "report-panel" in _page(app, by_role["leader"], "/tablet")
    assert "report-panel" not in _page(app, by_role["staff"], "/tablet")
    # a past tablet offers the briefing of the day it shows
    past = _page(app, by_role["leader"], "/tablet?at=2026-11-20T15:00:00")
    assert "report-panel" in past and "2026-11-20" in past
    assert "report-panel" not in _page(app, by_role["staff"], "/tablet?at=2026-11-20T15:00:00")


@pytest.fixture
def env(services, redis_server_url, tmp_path) -> dict[str, str]:
    return {"REDIS_URL": redis_server_url, "DATABASE_URL": services.settings.database_url,
            "COCKPIT_STREAM_PREFIX": services.settings.stream_prefix,
            "COCKPIT_DATA_DIR": str(tmp_path / "cli"), "COCKPIT_PD_KEY": TEST_SECRETS["pd_key"],
            "COCKPIT_TIMEZONE": "Asia/Shanghai", "COLUMNS": "200"}


def _cli(env, *args: str):
    return CliRunner().invoke(cli_app, ["report", *args], env=env)


def test_the_command_writes_the_files_and_refuses_bad_days(services, stored, env, tmp_path):
    out = tmp_path / "out"
    day = stored.isoformat()
    done = _cli(env, "daily", "--date", day, "--out", str(out), "--no-figures")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [f"qiaosi-daily-{day}-zh.pdf",
                                                     f"qiaosi-daily-{day}-zh.xlsx"]
    assert "figure heat not drawn" in done.stderr
    done = _cli(env, "weekly", "--week", day, "--lang", "en", "--format", "pdf", "--out",
                str(out), "--no-figures")
    assert done.exit_code == 0, done.output
    assert "Qiaosi weekly briefing" in page_text(
        next(out.glob("qiaosi-weekly-*-en.pdf")).read_bytes())[0]
    for args, says in ((("daily", "--date", "2026-13-01"), "is not a date YYYY-MM-DD"),
                       (("daily", "--date", "2999-01-01"), "in the future"),
                       (("daily", "--date", "2020-01-01"), "no data for 2020-01-01"),
                       (("weekly", "--week", "yesterday"), "is not a date")):
        refused = _cli(env, *args, "--out", str(out))
        assert refused.exit_code == 2, (args, refused.output)
        assert says in refused.stderr and "Traceback" not in refused.output
    assert len(list(out.iterdir())) == 3
