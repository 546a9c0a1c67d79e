"""The staff map's read queries: URL state codec, point layers, choropleths, panel, popup.

Unit tests check the query-string codec and the period windows. Integration tests put a
small world of incidents, volunteers and waste events through Redis with the real Ingestor
(and the governance tick's repeat sweep) into SQLite and PostgreSQL, then read every layer:
the filters narrow each, a staff account sees its villages only, and the choropleth figures
equal a recount from the stored rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import select

from cockpit import geo, governance_queries, repeats
from cockpit.access import Role, Viewer
from cockpit.clock import utc_now
from cockpit.mapdata.filters import (
    DEFAULT_LAYERS,
    PERIODS,
    Layer,
    MapFilters,
    MapState,
    MapView,
)
from cockpit.mapdata.layers import GRID, village_layer
from cockpit.mapdata.staff_panel import incident_item, overview, village_metrics, village_panel
from cockpit.mapdata.staff_queries import (
    incident_points,
    repeat_groups,
    stations,
    volunteers_on_duty,
)
from cockpit.store.map_models import BoundaryFeature, BoundaryImport
from cockpit.store.models import Incident
from cockpit.store.volunteer_models import Volunteer
from cockpit.store.waste_models import Household, WasteDisposal
from tests import volunteer_factories as vf
from tests import waste_factories as wf
from tests.factories import incident_fields
from tests.store_support import drain

TZ = ZoneInfo("Asia/Shanghai")
A = "330110006224"  # 朝阳村
B = geo.resolve_village("三角村")
NAME = {code: info["name"] for code, info in geo.village_names().items()}
CALLER = {"reporter_name": "周杰伦", "reporter_phone": "13812341234"}


# ------------------------------------------------------------------ the URL state (unit)

@pytest.mark.parametrize("state", [
    MapState(),
    MapState(MapFilters(categories=("police", "fire", "fire"), stages=("reported",),
                        period="24h", village=A, grid="CY-G1")),
    MapState(MapFilters(period="custom", start=date(2026, 11, 1), end=date(2026, 11, 30)),
             MapView(layers=(Layer.HEAT, Layer.VILLAGES, Layer.STATIONS), z=14.25,
                     lat=30.3518123, lon=120.2819)),
    MapState(MapFilters(period="custom", end=date(2026, 11, 30)), MapView(layers=())),
    MapState(MapFilters(period="all"), MapView(layers=tuple(Layer), z=0.0)),
])
def test_the_state_round_trips_through_the_query_string(state):
    assert MapState.from_query(state.to_query()) == state
    # as a browser would send it back: a query string parsed into lists
    again = MapState.from_query(parse_qs(state.query_string(), keep_blank_values=True))
    assert again == state and again.problems == ()


def test_the_query_is_short_and_canonical():
    state = MapState(MapFilters(categories=("police", "fire"), stages=("closed", "reported")),
                     MapView(layers=(Layer.VILLAGES, Layer.INCIDENTS)))
    assert state.to_query() == {"cat": "fire,police", "stage": "reported,closed"}
    assert MapState().to_query() == {}
    assert MapState(view=MapView(layers=())).query_string() == "layers="
    assert MapState.from_query({}).view.layers == DEFAULT_LAYERS


def test_a_hand_edited_query_never_raises_and_says_what_it_dropped():
    state = MapState.from_query({
        "cat": "fire,bogus,火情,医疗急救", "stage": "reported,nope", "period": "fortnight",
        "village": "Atlantis", "grid": "<script>", "layers": "incidents,bogus,HEAT",
        "z": "99", "lat": "30.35", "from": "2026-13-01", "to": "2026-11-30",
    })
    f, v = state.filters, state.view
    assert f.categories == ("fire", "medical") and f.stages == ("reported",)
    # a bad period with a date left: the date makes it a custom period
    assert (f.period, f.start, f.end) == ("custom", None, date(2026, 11, 30))
    assert f.village is None and f.grid is None
    assert v.layers == (Layer.INCIDENTS, Layer.HEAT) and (v.z, v.lat, v.lon) == (None,) * 3
    text = " | ".join(state.problems)
    for word in ("'bogus'", "'nope'", "'fortnight'", "'Atlantis'", "grid:", "z:", "lat/lon",
                 "'2026-13-01'"):
        assert word in text, word
    assert len(state.problems) == 9
    odd = MapState.from_query({"period": "7d", "from": "2026-11-01", "lat": "nan",
                               "lon": "120.3", "village": "三角村（示意）", "z": "x"})
    assert odd.filters == MapFilters(period="7d", village=B)
    assert odd.view == MapView() and len(odd.problems) == 4
    long = MapFilters.from_query({"cat": "x" * 5000})  # a problem quotes 40 characters at most
    assert long.categories == () and len(long.problems[0]) < 80
    swapped = MapFilters.from_query({"from": "2026-11-30", "to": "2026-11-01"})
    assert (swapped.start, swapped.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert swapped.problems == ("from/to: from is after to; swapped",)


def test_the_constructors_refuse_what_the_codec_drops():
    for bad in ({"period": "week"}, {"categories": ("arson",)}, {"stages": ("done",)},
                {"start": date(2026, 1, 1)},
                {"period": "custom", "start": date(2026, 2, 1), "end": date(2026, 1, 1)}):
        with pytest.raises(ValueError):
            MapFilters(**bad)
    for bad in ({"z": 30.0}, {"lat": 91.0, "lon": 0.0}, {"lat": 30.0}, {"layers": ("x",)}):
        with pytest.raises(ValueError):
            MapView(**bad)


def test_the_windows_are_local_days_in_utc():
    now = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)  # 01:00 on 30 Nov in Shanghai
    midnight = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert MapFilters(period="today").window(now, TZ) == (midnight,
                                                          midnight + timedelta(days=1))
    assert MapFilters(period="24h").window(now, TZ) == (now - timedelta(hours=24), now)
    assert MapFilters(period="7d").window(now, TZ) == (midnight - timedelta(days=6),
                                                       midnight + timedelta(days=1))
    assert MapFilters(period="30d").window(now, TZ)[0] == midnight - timedelta(days=29)
    assert MapFilters(period="all").window(now, TZ) == (None, None)
    custom = MapFilters(period="custom", start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert custom.window(now, TZ) == (datetime(2026, 10, 31, 16, tzinfo=UTC), midnight
                                      + timedelta(days=1))
    assert MapFilters(period="custom", end=date(2026, 11, 30)).window(now, TZ)[0] is None
    assert set(PERIODS) == {"today", "24h", "7d", "30d", "all", "custom"}
    with pytest.raises(ValueError):
        MapFilters().window(datetime(2026, 11, 29), TZ)


def test_a_filter_village_narrows_a_scope():
    assert MapFilters().narrow(None) is None
    assert MapFilters().narrow([A, B]) == (A, B)
    assert MapFilters(village=A).narrow(None) == (A,)
    assert MapFilters(village=A).narrow([B]) == ()


# ------------------------------------------------------------------ a small world (integration)

def _inside(code: str, dx_m: float = 0.0) -> tuple[float, float]:
    """A WGS-84 point inside a village's schematic polygon, moved ``dx_m`` metres east."""
    layer = geo.load_villages()
    point = shapely.point_on_surface(layer.loc[layer["code"] == code, "geometry"].iloc[0])
    return round(point.x + dx_m / 96_000, 6), round(point.y, 6)


def _incident(iid: str, code: str, category: str, at: datetime, dx_m: float = 0.0,
              stages: tuple[str, ...] = ("reported",), placed: bool = True,
              **extra) -> list[dict[str, str]]:
    lon, lat = _inside(code, dx_m)
    first = incident_fields(iid, at=at, category=category, lon=lon, lat=lat,
                            village=NAME[code], **extra)
    if not placed:
        for key in ("lon", "lat", "crs"):
            first.pop(key)
    return [first, *(incident_fields(iid, stage, at + timedelta(minutes=k + 1))
                     for k, stage in enumerate(stages[1:]))]


LOOP = ("reported", "assessed", "dispatched", "arrived", "resolved", "closed")


def _world(services) -> datetime:
    """Ingest the world; returns its ``now``. Village A (朝阳村) and B (三角村):

    * incidents in A: ``a-open`` (urban management, a minute old, grid CY-G1), ``a-over`` and
      ``a-rep`` (fire, 20 and 15 min old, 10 m apart: a repeat group, both overdue),
      ``a-closed`` (police, closed), ``a-resolved`` (traffic, resolved), ``a-nopos`` (other,
      no position), ``a-old`` (police, ten days old); in B: ``b-1`` and ``b-2`` (police, 40
      and 35 min old: a repeat group, overdue). ``a-over`` and ``b-1`` carry a caller;
    * volunteers: three active in A and one inactive, two in B; on duty now: two at ``act-a``
      (one more checked out), one at ``act-b``;
    * waste: households HA1, HA2 in A, HA3 in A moved out, HB1 in B; stations ST-A, ST-B;
      ST-A has 3 of 4 correct in the last days and one correct ten days ago, ST-B 0 of 1.
    """
    now = utc_now().replace(microsecond=0)
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    incidents = [
        *_incident("a-open", A, "urban_management", ago(minutes=1), grid="CY-G1"),
        *_incident("a-over", A, "fire", ago(minutes=20), **CALLER),
        *_incident("a-rep", A, "fire", ago(minutes=15), dx_m=10),
        *_incident("a-closed", A, "police", ago(hours=3), stages=LOOP),
        *_incident("a-resolved", A, "traffic", ago(hours=2), stages=LOOP[:5]),
        *_incident("a-nopos", A, "other", ago(minutes=1), placed=False),
        *_incident("a-old", A, "police", ago(days=10)),
        *_incident("b-1", B, "police", ago(minutes=40), **CALLER),
        *_incident("b-2", B, "police", ago(minutes=35), dx_m=10),
    ]
    lon_a, lat_a = _inside(A)
    lon_b, lat_b = _inside(B)
    people = [vf.registered(f"V-A{n}", f"志愿者{n}", village=NAME[A]) for n in (1, 2, 3, 4)]
    people += [vf.registered(f"V-B{n}", f"志愿者B{n}", village=NAME[B]) for n in (1, 2)]
    people += [vf.updated("V-A4", status="inactive", at=ago(days=1)),
               vf.activity("act-a", ago(hours=1), hours=3, title="桶边督导", lon=lon_a,
                           lat=lat_a, crs="wgs84"),
               vf.activity("act-b", ago(hours=1), hours=3, title="平安巡逻", lon=lon_b,
                           lat=lat_b, crs="wgs84"),
               *(vf.punch("act-a", f"V-A{n}", ago(minutes=30)) for n in (1, 2, 3)),
               vf.punch("act-a", "V-A3", ago(minutes=5), out=True),
               vf.punch("act-b", "V-B1", ago(minutes=30))]
    waste = [*(wf.household(h, village=NAME[A], at=ago(days=30)) for h in ("HA1", "HA2", "HA3")),
             wf.household("HB1", village=NAME[B], at=ago(days=30)),
             wf.moved_out("HA3", ago(days=15)),
             wf.station("ST-A", village=NAME[A], lon=lon_a, lat=lat_a, crs="wgs84"),
             wf.station("ST-B", village=NAME[B], lon=lon_b, lat=lat_b, crs="wgs84"),
             wf.disposal("HA1", ago(hours=1), station_id="ST-A"),
             wf.disposal("HA1", ago(hours=2), station_id="ST-A"),
             wf.disposal("HA1", ago(days=1), correct=False, station_id="ST-A"),
             wf.disposal("HA2", ago(hours=3), station_id="ST-A"),
             wf.disposal("HA1", ago(days=10), station_id="ST-A"),
             wf.disposal("HB1", ago(hours=1), correct=False, station_id="ST-B")]
    settings = services.settings
    for kind, entries in (("incidents", incidents), ("volunteers", people), ("waste", waste)):
        for fields in entries:
            services.redis.xadd(settings.stream(kind), fields)
    drain(services, f"c-{uuid.uuid4().hex[:6]}")
    repeats.update(services.redis, services.sessions, settings, settings.governance, now)
    with services.read() as session:  # everything went in: nothing dead-lettered
        assert session.query(Incident).count() == 9
        assert session.query(WasteDisposal).count() == 6
    assert not services.redis.xrange(settings.key("deadletter"))
    return now


def _ids(points) -> set[str]:
    return set(points["ids"])


def test_incident_points_have_statuses_and_every_filter_narrows_them(services):
    now = _world(services)
    tz = services.settings.tz
    with services.read() as s:
        points = incident_points(s, MapFilters(), tz, now)
        stored = {r.incident_id: r for r in s.scalars(select(Incident))}
        status = dict(zip(points["ids"], points["status"], strict=True))
        assert status == {"a-open": "open", "a-over": "overdue", "a-rep": "overdue",
                          "a-closed": "closed", "a-resolved": "closed", "b-1": "overdue",
                          "b-2": "overdue"}
        assert (points["total"], points["unplaced"]) == (8, 1)  # a-nopos; a-old is older
        for iid, lon, lat, cat in zip(points["ids"], points["lon"], points["lat"],
                                      points["category"], strict=True):
            row = stored[iid]
            assert (lon, lat) == (pytest.approx(row.lon, abs=5e-7),
                                  pytest.approx(row.lat, abs=5e-7))
            assert (round(lon, 6), round(lat, 6), cat) == (lon, lat, row.category)
        # overdue means open and past due_at, from the stored due times
        assert all((stored[i].due_at <= now) == (status[i] == "overdue")
                   for i in status if status[i] != "closed")

        # the panel's overview counts the same incidents
        assert overview(s, MapFilters(), tz, now) == {
            "total": 8, "unplaced": 1, "open": 2, "overdue": 4, "closed": 2}
        assert overview(s, MapFilters(), tz, now, (B,)) == {
            "total": 2, "unplaced": 0, "open": 0, "overdue": 2, "closed": 0}

        def ids(**kw):
            return _ids(incident_points(s, MapFilters(**kw), tz, now))

        assert ids(period="all") == _ids(points) | {"a-old"}
        assert ids(period="30d") == _ids(points) | {"a-old"}
        assert ids(period="24h") == _ids(points)
        assert ids(categories=("fire",)) == {"a-over", "a-rep"}
        assert ids(stages=("closed", "resolved")) == {"a-closed", "a-resolved"}
        assert ids(village=B) == {"b-1", "b-2"}
        assert ids(grid="CY-G1") == {"a-open"}
        assert ids(categories=("police",), period="all", village=A) == {"a-closed", "a-old"}
        assert incident_points(s, MapFilters(categories=("other",)), tz, now) == {
            "ids": [], "lon": [], "lat": [], "status": [], "category": [], "total": 1,
            "unplaced": 1}


def test_repeat_groups_volunteers_and_stations_follow_the_filters(services):
    now = _world(services)
    tz = services.settings.tz
    with services.read() as s:
        groups = {g["group"]: g for g in repeat_groups(s, MapFilters(), tz, now)}
        assert set(groups) == {"a-over", "b-1"}
        a = groups["a-over"]
        assert (a["size"], a["category"], a["village_code"]) == (2, "fire", A)
        assert a["incident_ids"] == ["a-over", "a-rep"] and len(a["points"]) == 2
        assert a["first_at"] < a["last_at"] and a["first_at"].endswith("+08:00")

        def group_ids(**kw):
            return {g["group"] for g in repeat_groups(s, MapFilters(**kw), tz, now)}

        assert group_ids(categories=("police",)) == {"b-1"}
        assert group_ids(village=A) == {"a-over"}
        assert group_ids(grid="CY-G1") == set()
        # a group needs two members among the filtered incidents
        assert group_ids(period="custom", end=(now - timedelta(days=2)).astimezone(tz).date()) \
            == set()

        duty = {d["activity_id"]: d for d in volunteers_on_duty(s, now)}
        assert {k: (d["on_duty"], d["village_code"], d["village_on_duty"])
                for k, d in duty.items()} == {"act-a": (2, A, 2), "act-b": (1, B, 1)}
        assert (duty["act-a"]["lon"], duty["act-a"]["lat"]) == _inside(A)
        narrowed = volunteers_on_duty(s, now, MapFilters(village=B).narrow(None))
        assert [d["activity_id"] for d in narrowed] == ["act-b"]
        # after the activity and its grace, nobody is on duty any more
        assert volunteers_on_duty(s, now + timedelta(hours=3)) == []

        points = {p["station_id"]: p for p in stations(s, now, tz)}
        assert {k: (p["correct"], p["total"], p["village_code"]) for k, p in points.items()} \
            == {"ST-A": (3, 4, A), "ST-B": (0, 1, B)}
        assert (points["ST-A"]["lon"], points["ST-A"]["lat"], points["ST-A"]["status"]) \
            == (*_inside(A), "active")
        assert [p["station_id"] for p in stations(s, now, tz, (A,))] == ["ST-A"]


def _geodesic_km2(geometry) -> float:
    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geometry)
    return abs(area) / 1e6


def test_choropleth_figures_equal_a_recount_of_the_stored_rows(services):
    now = _world(services)
    tz = services.settings.tz
    for filters in (MapFilters(), MapFilters(period="all"), MapFilters(period="24h"),
                    MapFilters(categories=("police",), stages=("closed", "reported"))):
        since, until = filters.window(now, tz)

        def inside(t, since=since, until=until):
            return t is not None and (since is None or t >= since) and (
                until is None or t < until)

        with services.read() as s:
            layer = village_layer(s)
            metrics = village_metrics(s, filters, tz, now, layer)
            # the stored rows, read plainly (no ORM objects: they outlive the session)
            incidents = s.execute(select(Incident.village_code, Incident.reported_at,
                                         Incident.category, Incident.stage)).all()
            disposals = s.execute(select(WasteDisposal.village_code, WasteDisposal.occurred_at,
                                         WasteDisposal.correct)).all()
            volunteers = s.execute(select(Volunteer.village_code, Volunteer.status)).all()
            households = s.execute(select(Household.village_code, Household.status)).all()
        assert set(metrics) == set(layer["code"])
        for code, geometry in zip(layer["code"], layer.geometry, strict=True):
            m = metrics[code]
            n = sum(1 for i in incidents if i.village_code == code and inside(i.reported_at)
                    and (not filters.categories or i.category in filters.categories)
                    and (not filters.stages or i.stage in filters.stages))
            mine = [d for d in disposals if d.village_code == code and inside(d.occurred_at)]
            vols = sum(1 for v in volunteers if v.village_code == code and v.status == "active")
            homes = sum(1 for h in households if h.village_code == code
                        and h.status == "active")
            assert (m["incidents"], m["waste_total"], m["waste_correct"]) == (
                n, len(mine), sum(d.correct for d in mine))
            assert (m["volunteers"], m["households"]) == (vols, homes)
            assert m["area_km2"] == pytest.approx(_geodesic_km2(geometry), rel=0.005)
            assert m["incident_density"] == pytest.approx(n / m["area_km2"])
            assert m["volunteer_coverage"] == (pytest.approx(100 * vols / homes) if homes
                                               else None)
        assert metrics[A]["incidents"] > 0 or filters.categories
    assert metrics[A]["volunteer_coverage"] == pytest.approx(150.0)  # 3 active, 2 homes
    with services.read() as s:  # a filter's village keeps that village only
        assert set(village_metrics(s, MapFilters(village=B), tz, now, village_layer(s))) == {B}
    with services.read() as s, pytest.raises(ValueError, match="WGS-84"):
        village_metrics(s, MapFilters(), tz, now, village_layer(s).to_crs(geo.METRIC_CRS))


def _add_grid(services, code: str) -> None:
    """One generated grid (a 100 m square in the village), as ``cockpit geodata grids`` stores."""
    lon, lat = _inside(code)
    d = 0.0005
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]
    with services.sessions.begin() as s:
        s.add(BoundaryImport(import_id=1, level=GRID, method="regular", source="test",
                             features=1, report={}, imported_at=utc_now()))
        s.add(BoundaryFeature(level=GRID, code=f"{code}-G01", name="网格1", village_code=code,
                              geometry=json.dumps({"type": "Polygon", "coordinates": [ring]}),
                              generated=True, method="regular", import_id=1))


def test_the_village_panel_shows_its_figures_within_the_scope(services):
    now = _world(services)
    _add_grid(services, A)
    tz = services.settings.tz
    target = services.settings.waste_rules.target
    with services.read() as s:
        panel = village_panel(s, A, MapFilters(), tz, now, waste_target=target)
        assert panel["code"] == A and panel["name"] == NAME[A] and panel["schematic"] is True
        assert panel["incidents_by_stage"] == {"reported": 4, "resolved": 1, "closed": 1}
        assert (panel["open"], panel["overdue"]) == (2, 2)  # a-open, a-nopos; the fire pair
        assert panel["by_category"][0] == {"category": "fire", "count": 2}
        assert len(panel["by_category"]) == 5
        assert panel["repeat_groups"] == 1
        assert (panel["volunteers"], panel["on_duty"], panel["households"]) == (3, 2, 2)
        assert (panel["waste_correct"], panel["waste_total"]) == (3, 4)
        assert panel["waste_target"] == target
        assert panel["grids"] == {"count": 1, "generated": 1, "imported": 0}
        # the filters apply; the clicked village replaces a filter's village
        fires = village_panel(s, A, MapFilters(categories=("fire",), village=B), tz, now,
                              waste_target=target)
        assert fires["incidents_by_stage"] == {"reported": 2} and fires["overdue"] == 2
        assert village_panel(s, B, MapFilters(), tz, now, waste_target=target)["grids"] == {
            "count": 0, "generated": 0, "imported": 0}
        assert village_panel(s, "999999999999", MapFilters(), tz, now,
                             waste_target=target) is None


def test_a_staff_scope_hides_other_villages_everywhere(services):
    now = _world(services)
    tz = services.settings.tz
    scope = (A,)
    staff = Viewer(kind="user", name="s-a", role=Role.STAFF, villages=scope)
    config = services.settings.governance
    with services.read() as s:
        points = incident_points(s, MapFilters(), tz, now, scope)
        assert _ids(points) == {"a-open", "a-over", "a-rep", "a-closed", "a-resolved"}
        assert incident_points(s, MapFilters(village=B), tz, now, scope)["total"] == 0
        assert {g["group"] for g in repeat_groups(s, MapFilters(), tz, now, scope)} \
            == {"a-over"}
        assert [d["activity_id"] for d in volunteers_on_duty(s, now, scope)] == ["act-a"]
        assert [p["station_id"] for p in stations(s, now, tz, scope)] == ["ST-A"]
        assert set(village_metrics(s, MapFilters(), tz, now, village_layer(s), scope)) \
            == {A}
        assert village_panel(s, B, MapFilters(), tz, now, scope, waste_target=0.9) is None
        assert village_panel(s, A, MapFilters(), tz, now, scope, waste_target=0.9) is not None
        assert incident_item(s, "b-1", tz, staff, config=config, now=now) is None
        assert incident_item(s, "a-over", tz, staff, config=config, now=now)["incident_id"] \
            == "a-over"
        assert incident_item(s, "nothing", tz, staff, config=config, now=now) is None


def test_incident_items_are_masked_per_role_as_the_incident_page_masks_them(services):
    now = _world(services)
    tz, config = services.settings.tz, services.settings.governance
    staff = Viewer(kind="user", name="s-a", role=Role.STAFF, villages=(A,))
    leader = Viewer(kind="user", name="boss", role=Role.LEADER)
    wall = Viewer(kind="kiosk", name="hall", role=Role.WALL)
    landlord = Viewer(kind="user", name="ll", role=Role.LANDLORD, landlord_id="LL-1")
    with services.read() as s:
        page = governance_queries.incident_detail(s, tz, "a-over", config, now)

        def item(viewer, **kw):
            return incident_item(s, "a-over", tz, viewer, config=config, now=now, **kw)

        for viewer in (leader, wall):
            for unmasked in (False, True):  # asking for it in full changes nothing
                shown = item(viewer, unmasked=unmasked)
                assert shown["reporter"]["name"] == "周**"
                assert shown["reporter"]["phone"] == "138****1234"
                assert shown["can_reveal"] is False and shown["status"] == "overdue"
                assert "周杰伦" not in json.dumps(shown, ensure_ascii=False, default=str)
        mine = item(staff)
        # staff see what the incident page shows them: masked, with a reveal offered
        assert mine["reporter"] == page["reporter"] and mine["reporter"]["masked"] is True
        assert mine["can_reveal"] is True
        assert {k: mine[k] for k in page} == page
        assert [m["incident_id"] for m in mine["repeats"]] == ["a-rep"]
        revealed = item(staff, unmasked=True)["reporter"]
        assert (revealed["name"], revealed["phone"]) == ("周杰伦", "13812341234")
        assert item(landlord) is None and item(Viewer()) is None
        assert incident_item(s, "a-rep", tz, staff, config=config, now=now)["reporter"] is None
