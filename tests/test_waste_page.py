"""Tests of the waste pages (``/waste`` and ``/waste/households/<id>``) and the photo route.

The pure builders (query, figures, cells, the photo key check), and on the real Redis and both
databases, events ingested through the real Ingestor and pages read through the app's own
callbacks as each role: every accuracy shown equals the one recomputed here from the stored
``WasteDisposal`` rows; staff see their villages only; names and phones masked, and revealed
to staff with an audit entry; a landlord's two tenants each in their own period; the photo
route serves what lies in the store and refuses traversal, symlinks out, other villages and
missing files.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from app import create_app
from callbacks.waste_photos import BadKey, check_key, resolve_photo
from cockpit import audit
from layouts.waste import View, pct, rate_cell
from layouts.waste_figures import trend_figure, village_figure
from layouts.waste_lists import photo_cell
from layouts.waste_query import WasteQuery, household_href, parse_query, photo_src, with_filters
from tests.access_support import clients_by_role
from tests.test_volunteers_page import call, text_of
from tests.waste_page_support import (
    DAY,
    IN_SCOPE,
    OUT_OF_SCOPE,
    PNG,
    RAW,
    components,
    counts,
    expect,
    graph_of,
    local_today,
    page,
    plant,
    rows_of,
    within,
    write_photos,
)


@pytest.fixture
def planted(services):
    return plant(services)


@pytest.fixture
def app(services, planted):
    return create_app(services.settings, services=services)


@pytest.fixture
def clients(app, services):
    return clients_by_role(app, services, IN_SCOPE)


# -- pure builders -------------------------------------------------------------------------------
def test_query_round_trips_and_refuses_bad_values():
    villages = {IN_SCOPE: "胜稼村"}
    query, bad = parse_query({"tab": "disposals", "period": "2026-11", "village": IN_SCOPE,
                              "rating": "incorrect", "class": "hazardous", "day": "2026-11-03",
                              "page": "2"}, villages)
    assert bad == []
    assert parse_query(query.params(), villages)[0] == query
    assert query.month == "2026-11" and query.days is None
    _, bad = parse_query({"tab": "x", "period": "45d", "village": "nowhere", "day": "2026-02-30",
                          "class": "建筑", "page": "0"}, villages)
    assert sorted(b.split("=")[0] for b in bad) == ["class", "day", "page", "period", "tab",
                                                   "village"]
    moved = with_filters(query, rating=None, day="")
    assert (moved.rating, moved.day, moved.page) == (None, None, 1)
    assert query.section("landlords") == WasteQuery(tab="landlords", period="2026-11",
                                                    village=IN_SCOPE)
    assert household_href("QS/01 a", "en") == "/waste/households/QS%2F01%20a?lang=en"
    assert photo_src("2026/11/29/a b.png") == "/waste/photos/2026/11/29/a%20b.png"


def test_cells_and_figures_show_the_tallies_they_are_given():
    tally = {"correct": 19, "total": 20, "kg": 30.0, "rate": 0.95, "meets": True}
    cell = rate_cell(tally, "zh")
    assert cell.className == "wp-rate wp-rate-ok" and cell.children[0].children == "95.0%"
    assert rate_cell({"correct": 0, "total": 0, "rate": None}, "zh").children[0].children == "—"
    assert pct(1 / 3) == "33.3%"
    days = [{"key": "2026-11-28", "correct": 9, "total": 10, "rate": 0.9},
            {"key": "2026-11-29", "correct": 0, "total": 0, "rate": None}]
    figure = trend_figure(days, 0.95, "day", "zh")
    line = figure["data"][1]
    assert line["y"] == [90.0, None] and line["x"] == ["11-28", "11-29"]
    (target,) = figure["layout"]["shapes"]
    assert target["y0"] == target["y1"] == 95.0
    bars = village_figure([{"key": IN_SCOPE, "rate": 0.5, "correct": 1, "total": 2}], 0.9,
                          View("zh", {IN_SCOPE: "胜稼村"}))
    assert bars["data"][0]["y"] == ["胜稼村"] and bars["layout"]["shapes"][0]["x0"] == 90.0


def test_photo_cell_thumbnail_object_url_and_simulated():
    thumb = photo_cell({"photo": "2026/11/29/a.png", "event_id": "e1"}, "zh")
    link = thumb.children[0]
    assert link.href == link.children.src == "/waste/photos/2026/11/29/a.png"
    url = photo_cell({"photo": "oss://bucket/k.jpg"}, "zh")
    assert "Img" not in repr(url) and url.children[0].children == "oss://bucket/k.jpg"
    sim = photo_cell({"photo": "sim/perishable-correct-1.png", "simulated": True}, "zh")
    assert sim.children[-1].children == "模拟照片"
    assert photo_cell({"photo": None}, "zh") == "—"


def test_photo_keys_are_checked_and_resolved_inside_the_store(tmp_path):
    store = tmp_path / "photos"
    (store / "2026").mkdir(parents=True)
    (store / "2026" / "a.png").write_bytes(PNG)
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    (store / "2026" / "link.png").symlink_to(outside)
    (store / "2026" / "note.png").symlink_to(store / "2026" / "a.png")
    (store / "2026" / "text.txt").write_text("x")
    (store / "2026" / "txt.png").symlink_to(store / "2026" / "text.txt")
    assert resolve_photo(store, "2026/a.png") == (store / "2026" / "a.png").resolve()
    assert resolve_photo(store, "2026/note.png") is not None  # a link inside the store
    assert resolve_photo(store, "2026/link.png") is None  # a link out of it
    assert resolve_photo(store, "2026/txt.png") is None  # a link to no image
    assert resolve_photo(store, "2026/none.png") is None
    for key in ("../secret.png", "2026/../../secret.png", "/etc/passwd.png", "C:/x.png",
                "2026\\a.png", "2026//a.png", "./a.png", "2026/text.txt", "", "a.png\x00"):
        with pytest.raises(BadKey):
            check_key(key)
    assert resolve_photo(tmp_path / "missing", "a.png") is None


@pytest.mark.parametrize("role", ["leader", "staff"])
def test_overview_equals_the_stored_disposals(app, clients, services, planted, role):
    rows = rows_of(services)
    scope = {} if role == "leader" else {"village_code": IN_SCOPE}
    today = local_today(services, planted)
    tree, text = page(clients[role], app, "/waste")
    kpis = counts(tree, "kpi")
    assert kpis["today"] == expect(rows, today, today, **scope)
    assert kpis["7d"] == expect(rows, today - 6 * DAY, today, **scope)
    first = today - 29 * DAY
    assert kpis["30d"] == kpis["period"] == expect(rows, first, today, **scope)
    assert kpis["30d"][1] > 0
    days = graph_of(tree, "daily")["data"][1]
    assert len(days["y"]) == 30
    for i, y in enumerate(days["y"]):
        c, n = expect(rows, first + i * DAY, first + i * DAY, **scope)
        assert y == (round(100 * c / n, 2) if n else None), first + i * DAY
    weeks = graph_of(tree, "weekly")
    assert len(weeks["data"][1]["y"]) == 12
    assert weeks["layout"]["shapes"][0]["y0"] == 100 * services.settings.waste_rules.target
    rates = counts(within(tree, "wp-villages"), "key")
    villages = [IN_SCOPE] if role == "staff" else [IN_SCOPE, OUT_OF_SCOPE]
    assert rates == {v: expect(rows, first, today, village_code=v) for v in villages}
    stations = counts(within(tree, "wp-stations"), "key")
    assert stations == {s: expect(rows, first, today, station_id=s, **scope)
                        for s in (["ST-IN"] if role == "staff" else ["ST-IN", "ST-OUT"])}
    groups = counts(within(tree, "wp-groups"), "key")
    assert groups[f"{IN_SCOPE}|3组"] == expect(rows, first, today, household_id="H-LOCAL")
    assert groups[f"{IN_SCOPE}|5组"] == expect(rows, first, today,
                                              household_id=("TEN-A", "TEN-B"))
    assert counts(within(tree, "wp-supervisors"), "key") == {
        "SUP-1": expect(rows, first, today, **scope)}
    kg = sum(r.weight_kg for r in rows if first.isoformat() <= r.local_day <= today.isoformat()
             and (role == "leader" or r.village_code == IN_SCOPE))
    assert f"{kg:,.1f} kg" in text
    assert "目标准确率 95.0%" in text
    if role == "staff":
        assert "新街社区" not in json.dumps(within(tree, "wp-villages"), ensure_ascii=False)


def test_a_month_or_a_village_narrows_the_figures(app, clients, services, planted):
    rows = rows_of(services)
    # the month of the newest disposals (an hour before ``planted``: on a month's first day,
    # before 01:00, the last month)
    month = local_today(services, planted - timedelta(hours=1)).isoformat()[:7]
    tree, _ = page(clients["leader"], app, "/waste", f"?period={month}&village={OUT_OF_SCOPE}")
    first = date.fromisoformat(f"{month}-01")
    last = (first + 32 * DAY).replace(day=1) - DAY
    assert counts(tree, "kpi")["period"] == expect(rows, first, last, village_code=OUT_OF_SCOPE)
    assert set(counts(within(tree, "wp-villages"), "key")) == {OUT_OF_SCOPE}
    staff, _ = page(clients["staff"], app, "/waste", f"?village={OUT_OF_SCOPE}")
    assert counts(staff, "kpi")["30d"] == (0, 0)  # not theirs: nothing counted


def test_households_list_scoped_masked_and_searchable_by_name_for_staff(app, clients, services,
                                                                        planted):
    rows = rows_of(services)
    today = local_today(services, planted)
    tree, text = page(clients["staff"], app, "/waste", "?tab=households")
    listed = counts(within(tree, "wp-households"), "key")
    assert set(listed) == {"H-LOCAL", "TEN-A", "TEN-B"}
    for household_id, figures in listed.items():
        assert figures == expect(rows, today - 29 * DAY, today, household_id=household_id)
    assert "共 3 户" in text and "王**" in text and "138****5678" not in text
    assert all(value not in text for value in RAW)
    leader, text = page(clients["leader"], app, "/waste", "?tab=households&period=7d")
    assert set(counts(leader, "key")) == {"H-LOCAL", "TEN-A", "TEN-B", "H-OUT", "T-OUT"}
    assert counts(leader, "key")["H-OUT"] == expect(rows, today - 6 * DAY, today,
                                                    household_id="H-OUT")
    found, _ = page(clients["staff"], app, "/waste", "?tab=households&q=王小明")
    assert set(counts(found, "key")) == {"H-LOCAL"}
    _, text = page(clients["leader"], app, "/waste", "?tab=households&q=王小明")
    assert "没有符合条件的住户" in text  # a leader's search does not confirm a name
    tenants, _ = page(clients["staff"], app, "/waste", "?tab=households&kind=tenant")
    assert set(counts(tenants, "key")) == {"TEN-A", "TEN-B"}
    gone, _ = page(clients["staff"], app, "/waste", "?tab=households&status=moved_out")
    assert set(counts(gone, "key")) == {"TEN-A"}


def test_a_household_record_shows_its_months_disposals_photos_and_follow_ups(app, clients,
                                                                            services):
    rows = rows_of(services)
    tree, text = page(clients["staff"], app, "/waste/households/H-LOCAL")
    mine = [r for r in rows if r.household_id == "H-LOCAL"]
    months = counts(within(tree, "wp-months"), "key")
    assert months == {m: (sum(r.correct for r in mine if r.local_day[:7] == m),
                          sum(1 for r in mine if r.local_day[:7] == m))
                      for m in {r.local_day[:7] for r in mine}}
    table = within(tree, "wp-record-disposals")
    images = [c["props"]["src"] for c in components(table) if c["type"] == "Img"]
    assert len(images) == len(mine) - 1  # the object-store photo is shown as text
    assert all(src.startswith("/waste/photos/") for src in images)
    assert "oss://qiaosi-photos/2026/a.jpg" in text and "模拟照片" in text
    assert "王**" in text and "138****5678" in text and "胜稼村**组**号" in text
    assert "王小明" not in text and "13812345678" not in text
    weak, text = page(clients["staff"], app, "/waste/households/H-OUT")
    assert "未找到住户 H-OUT" in text
    _, text = page(clients["leader"], app, "/waste/households/H-OUT")
    assert "钱**" in text and "薄弱户跟进" in text


def test_a_landlord_sees_both_tenants_each_in_its_period(app, clients, services, planted):
    rows = rows_of(services)
    tree, text = page(clients["staff"], app, "/waste", "?tab=landlords&landlord=LL-9")
    tenants = counts(within(tree, "wp-tenants"), "key")
    assert tenants == {h: expect(rows, household_id=h) for h in ("TEN-A", "TEN-B")}
    assert all(n > 0 for _, n in tenants.values())
    assert "沈**" in text and "139****5678" in text and "沈建国" not in text
    move = (planted - 10 * DAY).astimezone(services.settings.tz)
    assert f"{move:%Y-%m-%d %H:%M}" in text  # TEN-A's move-out
    assert "已搬离" in text and "在住" in text
    today = local_today(services, planted)
    ranking = counts(within(tree, "wp-landlords"), "key")
    assert ranking == {"LL-9": expect(rows, today - 29 * DAY, today,
                                      household_id=("TEN-A", "TEN-B"))}
    _, text = page(clients["staff"], app, "/waste", "?tab=landlords&landlord=LL-X")
    assert "未找到房东 LL-X" in text and "孙**" not in text
    leader, _ = page(clients["leader"], app, "/waste", "?tab=landlords")
    assert set(counts(within(leader, "wp-landlords"), "key")) == {"LL-9", "LL-X"}


def test_disposals_filtered_with_photos_object_urls_and_simulated(app, clients, services):
    rows = rows_of(services)
    tree, text = page(clients["staff"], app, "/waste", "?tab=disposals&rating=incorrect")
    wrong = [r for r in rows if not r.correct and r.village_code == IN_SCOPE]
    shown = json.dumps(within(tree, "wp-recent"), ensure_ascii=False)
    assert f"共 {len(wrong)} 次投放" in text and "错误" in shown and "正确" not in shown
    _, text = page(clients["staff"], app, "/waste", "?tab=disposals")
    assert "oss://qiaosi-photos/2026/a.jpg" in text and "模拟照片" in text
    assert f"共 {sum(r.village_code == IN_SCOPE for r in rows)} 次投放" in text
    one_day = rows[0].local_day
    _, text = page(clients["leader"], app, "/waste",
                   f"?tab=disposals&day={one_day}&station=ST-OUT")
    assert f"共 {sum(r.local_day == one_day and r.station_id == 'ST-OUT' for r in rows)} 次投放" \
        in text


def test_reveals_are_staff_only_scoped_and_audited(app, clients, services):
    def reveal(role: str, output: str, trigger: str, state: dict):
        return call(clients[role], app, output, {f"{trigger}.n_clicks": 1,
                                                 output.replace("revealed", "state") + ".data":
                                                     state}, trigger=f"{trigger}.n_clicks")
    record = {"lang": "zh", "household_id": "H-LOCAL"}
    shown = text_of(reveal("staff", "wsth-revealed", "wsth-reveal", record))
    assert "王小明" in shown and "13812345678" in shown and "胜稼村3组12号" in shown
    assert reveal("leader", "wsth-revealed", "wsth-reveal", record).status_code == 403
    refused = text_of(reveal("staff", "wsth-revealed", "wsth-reveal",
                             {"lang": "zh", "household_id": "H-OUT"}))
    assert "钱多多" not in refused and "无权查看" in refused
    landlord = {"lang": "zh", "params": {"tab": "landlords", "landlord": "LL-9"}}
    shown = text_of(reveal("staff", "wst-revealed", "wst-reveal", landlord))
    assert "沈建国" in shown and "13900005678" in shown
    with services.read() as db:
        entries = audit.read(db, action="view_unmasked").rows
        assert sorted((e.target, e.role) for e in entries) == [
            ("household:H-LOCAL", "staff"), ("landlord:LL-9", "staff")]


def test_no_personal_data_reaches_leader_or_admin(app, clients):
    for role in ("leader", "admin"):
        texts = [page(clients[role], app, "/waste", f"?tab={tab}")[1]
                 for tab in ("overview", "households", "disposals", "landlords", "followups")]
        texts.append(page(clients[role], app, "/waste", "?tab=landlords&landlord=LL-9")[1])
        texts += [page(clients[role], app, f"/waste/households/{h}")[1]
                  for h in ("H-LOCAL", "TEN-A", "TEN-B", "H-OUT", "T-OUT")]
        everything = "\n".join(texts)
        assert [v for v in RAW if v in everything] == [], role
    _, wall = page(clients["wall"], app, "/waste")
    assert "无权访问此页面" in wall


# -- the photo route -----------------------------------------------------------------------------
def test_the_photo_route_serves_the_store_and_refuses_the_rest(app, clients, services, tmp_path):
    rows = rows_of(services)
    key_of = {r.event_id: r.photo for r in rows}
    missing = key_of["d-H-LOCAL-5"]
    store = write_photos(services, skip=(missing,))
    leader, staff = clients["leader"], clients["staff"]
    mine, other = key_of["d-H-LOCAL-1"], key_of["d-H-OUT-1"]
    response = staff.get(photo_src(mine))
    assert response.status_code == 200 and response.get_data() == PNG
    assert response.mimetype == "image/png" and response.headers["Cache-Control"] == "no-store"
    assert staff.get(photo_src(key_of["d-sim"])).status_code == 200
    assert leader.get(photo_src(other)).status_code == 200
    refused = staff.get(photo_src(other))  # another village's photo
    assert refused.status_code == 404 and refused.get_data() != PNG
    gone = staff.get(photo_src(missing))
    assert gone.status_code == 404 and gone.mimetype == "text/plain"
    assert gone.get_data(as_text=True).strip() == "照片不存在"
    (store / "2026").mkdir(exist_ok=True)
    (store / "2026" / "stray.png").write_bytes(PNG)  # in the store, but no disposal's
    assert leader.get("/waste/photos/2026/stray.png").status_code == 404
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    linked = key_of["d-H-LOCAL-6"]
    (store / linked).unlink()
    (store / linked).symlink_to(secret)
    assert leader.get(photo_src(linked)).status_code == 404
    for path in ("/waste/photos/2026/%2e%2e/%2e%2e/secret.png", "/waste/photos/../secret.png",
                 f"/waste/photos/{mine.split('/')[0]}/..%2F..%2Fsecret.png",
                 "/waste/photos/%2Fetc%2Fpasswd.png", "/waste/photos/a%5C..%5Csecret.png",
                 f"/waste/photos/{mine[:-4]}.txt"):
        answer = leader.get(path)  # refused, or (a "//" path) not this route: the app's shell
        assert answer.status_code in (400, 404) or answer.mimetype == "text/html", path
        assert not answer.mimetype.startswith("image/") and b"secret" not in answer.get_data()
    assert leader.get(photo_src("oss://qiaosi-photos/2026/a.jpg")).status_code in (400, 404)
    assert clients["wall"].get(photo_src(mine)).status_code == 403
    assert app.server.test_client().get(photo_src(mine)).status_code == 401


def test_filters_navigate_and_the_poll_sends_a_body_only_when_it_changed(app, clients):
    staff = clients["staff"]
    state = {"lang": "zh", "params": {"tab": "households", "period": "7d"}}
    went = call(staff, app, "wst-nav.href", {"wst-f-kind.value": "tenant",
                                             "wst-state.data": state}, "wst-f-kind.value")
    assert json.loads(went.get_data())["response"]["wst-nav"]["href"] == \
        "/waste?tab=households&period=7d&kind=tenant"
    went = call(staff, app, "wst-period-nav.href", {"wst-f-period.value": "90d",
                                                    "wst-f-village.value": IN_SCOPE,
                                                    "wst-state.data": state})
    assert json.loads(went.get_data())["response"]["wst-period-nav"]["href"] == \
        f"/waste?tab=households&period=90d&village={IN_SCOPE}"
    first = call(staff, app, "wst-body.children", {"wst-tick.n_intervals": 1,
                                                   "wst-state.data": state,
                                                   "wst-seen.data": {}})
    answer = json.loads(first.get_data())["response"]
    assert set(counts(answer["wst-body"], "key")) == {"H-LOCAL", "TEN-A", "TEN-B"}
    again = call(staff, app, "wst-body.children", {"wst-tick.n_intervals": 2,
                                                   "wst-state.data": state,
                                                   "wst-seen.data": answer["wst-seen"]["data"]})
    assert again.status_code == 204  # same data, same minute: nothing sent
    record = call(staff, app, "wsth-body.children", {
        "wsth-tick.n_intervals": 1, "wsth-seen.data": {},
        "wsth-state.data": {"lang": "en", "household_id": "TEN-A"}})
    assert "Monthly accuracy" in text_of(record) and "TEN-A" in text_of(record)


def test_every_tab_reads_in_english(app, clients):
    for tab, word in (("overview", "Accuracy today"), ("households", "Households"),
                      ("disposals", "disposals"), ("landlords", "Landlords by tenants"),
                      ("followups", "Weak households")):
        _, text = page(clients["leader"], app, "/waste", f"?lang=en&tab={tab}")
        assert word in text, tab
        assert "垃圾分类" not in text.replace("Waste sorting", ""), tab
    _, text = page(clients["leader"], app, "/waste/households/TEN-A", "?lang=en")
    assert "Monthly accuracy" in text and "Accuracy, all time" in text
