"""A small store that fills every main page, and what of its text is data, not UI.

Used by ``tests/test_catalogue_render.py`` (server-side) and ``tests/test_pages_browser.py``:
a page in English may show Chinese only where it shows what was stored (a title, an address,
a name), never a label.

    store_pages_data(services)
    assert chinese_outside(text, DATA_TEXT) == []
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from cockpit.events import parse_event
from cockpit.ingest import resolve_villages
from cockpit.store.apply import apply_batch
from tests.factories import incident_fields
from tests.volunteer_factories import registered, requested
from tests.waste_factories import disposal, household, station

VILLAGE = "330110006201"
#: The main pages (issue 8): each opened in zh-CN and with ``?lang=en``.
MAIN_PAGES = ["/", "/incidents", "/analysis", "/map", "/volunteers", "/waste", "/admin"]
#: Free-text fields of the stored events: the only Chinese an English page may show.
DATA_FIELDS = ("title", "address", "reporter_name", "name", "head_name", "landlord_name",
               "found_item", "skills", "team")
#: The language switch names Chinese in Chinese on the English page (the catalogue's
#: ``lang_switch``; tests/test_catalogue.py allows it the same way).
SWITCH = "中文"
CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
                     r"\uff00-\uffef]+")


def _entries(now: datetime) -> list[dict[str, str]]:
    hour = timedelta(hours=1)
    return [
        incident_fields("pg-1", at=now - hour, village=VILLAGE, title="电动车充电起火",
                        address="乔司街道朝阳村5组", reporter_name="周杰伦",
                        reporter_phone="13812341234"),
        incident_fields("pg-1", "dispatched", at=now - hour / 2),
        incident_fields("pg-2", at=now - 2 * hour, village=VILLAGE, category="public_safety",
                        priority="normal", title="邻里噪音纠纷", address="三角村8组"),
        registered("PD-1", "孙悟空", phone="13611112222", village=VILLAGE, skills="急救,电工",
                   team="乔司街道青年突击队", team_kind="youth"),
        requested("pg-mob", VILLAGE, 2, now - timedelta(minutes=5), now + hour),
        station("ST-PG", village=VILLAGE, name="朝阳村一号投放点"),
        household("HH-PG", village=VILLAGE, address="胜稼村3组8号", head_name="林黛玉",
                  head_phone="13700001111"),
        disposal("HH-PG", now - 2 * hour, station_id="ST-PG"),
        disposal("HH-PG", now - 3 * hour, correct=False, station_id="ST-PG"),
    ]


def store_pages_data(services) -> list[dict[str, str]]:
    """Store the events of the pages (times relative to now) and return them."""
    entries = _entries(datetime.now(UTC))
    key = services.settings.secret("pd_key")
    with services.sessions.begin() as session:
        apply_batch(session, [(parse_event(f, pd_key=key), f"0-{i + 1}")
                              for i, f in enumerate(entries)], resolve_villages)
    return entries


def data_text(entries: list[dict[str, str]]) -> list[str]:
    """The free-text values of ``entries`` (skills split as the pages list them)."""
    values = [e[f] for e in entries for f in DATA_FIELDS if e.get(f)]
    return values + [s for e in entries for s in e.get("skills", "").split(",") if s]


def chinese_outside(text: str, data: list[str]) -> list[str]:
    """Runs of Chinese in ``text`` that are not part of a stored value (nor the switch).

    A masked name (``周**``) keeps a character of the name: a run counts as data when it is a
    substring of any value.
    """
    return sorted({run for run in CJK_RUN.findall(text)
                   if run != SWITCH and not any(run in value for value in data)})
