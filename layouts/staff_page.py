"""What every staff page shares: the header with its navigation, the pager, who it is built for.

The incidents, analysis, volunteers, waste, map and tablet pages all open with
:func:`page_header`; their lists page with :func:`pager_links` and filter with
:func:`filter_field` and :func:`filter_dropdown`. :class:`StaffView` carries the
language, the village names and whether the viewer may reveal personal data. Pure builders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dash import dcc, html

from layouts.i18n import PLACEHOLDER, Lang, t
from layouts.incidents_query import LIST_PATH, with_lang

ANALYSIS_PATH = "/analysis"
VOLUNTEERS_PATH = "/volunteers"
WASTE_PATH = "/waste"
WALL_PATH = "/"
#: The staff map (layouts.staff_map.MAP_PATH; that module imports this one).
MAP_NAV_PATH = "/map"
TABLET_NAV_PATH = "/tablet"
#: The header's links within the app: (label key, path), in order.
NAV_LINKS = (("inc_nav_list", LIST_PATH), ("inc_nav_analysis", ANALYSIS_PATH),
             ("vol_nav", VOLUNTEERS_PATH), ("wst_nav", WASTE_PATH), ("map_nav", MAP_NAV_PATH),
             ("tab_nav", TABLET_NAV_PATH))


def page_header(lang: Lang, title: str, other_lang_href: str) -> html.Header:
    """Return the staff pages' header: title, links to the other pages, language switch.

    The links: list, analysis, volunteers, waste, map, tablet and wall.
    """
    links = [dcc.Link(t(key, lang), href=with_lang(path, lang), className="inc-nav-link")
             for key, path in NAV_LINKS]
    return html.Header(className="inc-header", children=[
        html.H1(title, className="inc-title"),
        html.Nav(className="inc-nav", children=[
            *links,
            # a full load: the wall sets up its own sound and screen state
            html.A(t("inc_nav_wall", lang), href=with_lang(WALL_PATH, lang),
                   className="inc-nav-link"),
            dcc.Link(t("lang_switch", lang), href=other_lang_href, className="inc-lang")]),
    ])


def filter_field(label: str, control: Any, wide: bool = False) -> html.Div:
    """Return a labelled control of a filter bar or form; ``wide`` takes two columns."""
    # a div, not a <label>: a label around the dropdown's button would toggle it twice
    return html.Div(className="inc-field inc-field-wide" if wide else "inc-field", children=[
        html.Span(label, className="inc-field-label"), control])


def filter_dropdown(ident: str, pairs: Sequence[tuple[str, str]], value: str | None,
                    lang: Lang, searchable: bool = False, clearable: bool = True
                    ) -> dcc.Dropdown:
    """Return a filter's dropdown of ``(value, label)`` pairs; empty means 全部 (all)."""
    return dcc.Dropdown(id=ident, options=[{"value": v, "label": label} for v, label in pairs],
                        value=value, placeholder=t("inc_f_all", lang), clearable=clearable,
                        searchable=searchable, className="inc-dropdown")


def pager_links(query: Any, pages: int, lang: Lang) -> list:
    """Return a list's pager: first, previous, ``第 2 / 7 页``, next and last.

    ``query`` is a page's frozen query dataclass with a ``page`` (1-based) and
    ``href(lang)``; ``pages`` (>= 1) how many pages the list has. A link to the page shown or
    beyond the list is a disabled span.
    """
    page = min(query.page, pages)

    def link(key: str, target: int) -> Any:
        name = f"inc-page-link {key.replace('_', '-')}"
        if target == page or not 1 <= target <= pages:
            return html.Span(t(key, lang), className=f"{name} disabled")
        return dcc.Link(t(key, lang), href=replace(query, page=target).href(lang),
                        className=name)

    return [link("inc_first", 1), link("inc_prev", page - 1),
            html.Span(t("inc_page", lang, page=page, pages=pages), className="inc-page-now"),
            link("inc_next", page + 1), link("inc_last", pages)]


@dataclass(frozen=True)
class StaffView:
    """Who a staff page is built for and the labels it needs.

    Attributes
    ----------
    lang : {"zh", "en"}
        Language.
    villages : mapping
        Village code -> name in ``lang``.
    may_reveal : bool
        The viewer may reveal personal data (staff, audited) and review merges.
    """

    lang: Lang = "zh"
    villages: Mapping[str, str] = field(default_factory=dict)
    may_reveal: bool = False

    def village(self, code: str | None, text: str | None = None) -> str:
        """The village's name (its code or the text sent when unknown; ``—`` for none)."""
        if not code:
            return text or PLACEHOLDER
        return self.villages.get(code, code)
