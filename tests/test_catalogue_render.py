"""The main pages rendered with ``?lang=en`` show no Chinese but the stored data's; every
document the app serves loads its scripts and styles from the app itself (no CDN).

Server-side: each page is what the router callback returns for its path and ``?lang=en`` (the
way tests/test_access.py renders pages per role), read as JSON. The browser test
(tests/test_pages_browser.py) covers what the pages' own callbacks add afterwards.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.access_support import signed_in_client
from tests.pages_support import (
    MAIN_PAGES,
    VILLAGE,
    chinese_outside,
    data_text,
    store_pages_data,
)
from tests.test_access import _callback_body

#: Pages beyond the main ones that have an English face worth reading.
MORE_PAGES = [("/incidents/pg-1", ""), ("/volunteers", "?tab=mobilization&mob=pg-mob"),
              ("/volunteers", "?tab=assessment"), ("/waste", "?tab=households"),
              ("/waste", "?tab=disposals"), ("/waste", "?tab=followups"),
              ("/waste/households/HH-PG", ""), ("/map", f"?village={VILLAGE}&period=all"),
              ("/map", "?item=pg-1&period=all")]


@pytest.fixture
def app_and_data(sqlite_services):
    entries = store_pages_data(sqlite_services)
    return create_app(sqlite_services.settings, services=sqlite_services), data_text(entries)


def _strings(value) -> list[str]:
    """Every string inside a JSON value (component props, figure text, options)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _page(app, client, path: str, search: str) -> list[str]:
    response = client.post("/_dash-update-component", json=_callback_body(
        app, "shell-page.children", path, search))
    assert response.status_code == 200, (path, search)
    return _strings(json.loads(response.get_data())["response"])


def test_english_pages_show_no_chinese_but_data(app_and_data, sqlite_services):
    app, data = app_and_data
    admin = signed_in_client(app, sqlite_services, "admin")
    seen = {}
    for path, search in [(p, "") for p in MAIN_PAGES] + MORE_PAGES:
        english = _page(app, admin, path, search + ("&" if search else "?") + "lang=en")
        seen[path + search] = chinese_outside("\n".join(english), data)
        chinese = "\n".join(_page(app, admin, path, search))
        assert chinese_outside(chinese, data), f"{path}{search}: no Chinese label in zh-CN?"
    signin = app.server.test_client().get("/signin?lang=en")  # signed out: the form
    assert signin.status_code == 200 and 'name="password"' in signin.get_data(as_text=True)
    seen["/signin"] = chinese_outside(signin.get_data(as_text=True), data)
    assert {page: runs for page, runs in seen.items() if runs} == {}
    # the check sees data as data: the stored title is on the English detail page
    assert "电动车充电起火" in "\n".join(_page(app, admin, "/incidents/pg-1", "?lang=en"))


class _Sources(HTMLParser):
    """The ``src`` of each script and the ``href`` of each link of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def _foreign(html: str) -> list[str]:
    """URLs of a document's scripts, links, images and frames that name another host."""
    parser = _Sources()
    parser.feed(html)
    assert parser.urls, "a document without scripts or styles: the parse found nothing"
    return [u for u in parser.urls if urlsplit(u).netloc or u.startswith("//")]


def test_served_documents_load_nothing_from_another_host(app_and_data, sqlite_services):
    app, _ = app_and_data
    assert app.config.serve_locally and not app.config.external_scripts
    leader = signed_in_client(app, sqlite_services, "leader")
    index = leader.get("/?lang=en").get_data(as_text=True)
    assert "/_dash-component-suites/" in index  # Dash's own bundles, served by the app
    assert re.search(r'href="/assets/fonts\.css', index)
    documents = {"/": index, "/incidents": leader.get("/incidents").get_data(as_text=True),
                 "/map/frame": leader.get("/map/frame?period=all").get_data(as_text=True),
                 "/signin": app.server.test_client().get("/signin").get_data(as_text=True)}
    assert {path: _foreign(html) for path, html in documents.items()} == {
        path: [] for path in documents}
    assert _foreign('<script src="https://cdn.example.com/x.js"></script>'
                    '<link href="//fonts.example.com/a.css">') == [
        "https://cdn.example.com/x.js", "//fonts.example.com/a.css"]
