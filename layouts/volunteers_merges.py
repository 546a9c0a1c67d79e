"""The volunteers page's merge queue (合并审核) and the merges table of a record.

Each open pair is shown side by side with its sources and reason, with the reviewer's buttons
(pattern-matching ids, :func:`action_id`); the recent merges each carry their undo. Names and
phones are as the read models give them (masked unless an audited reveal asked otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from layouts.i18n import PLACEHOLDER, Lang, format_count, t
from layouts.volunteers import (
    View,
    VolunteersIds,
    or_dash,
    panel,
    platform_label,
    record_link,
    table,
    when,
)

#: The merge queue's decisions: action -> label key.
DECISIONS = (("merge_into_a", "vol_merge_into_a"), ("merge_into_b", "vol_merge_into_b"),
             ("reject", "vol_reject"))


def action_id(action: str, key: object) -> dict[str, str]:
    """The id of one merge-queue button (pattern-matching: type, action, key)."""
    return {"type": str(VolunteersIds.ACTION), "action": action, "key": str(key)}


def reason_label(code: str | None, lang: Lang) -> str:
    """A merge or candidate reason's label."""
    try:
        return t(f"vol_reason_{code}", lang)
    except KeyError:
        return code or PLACEHOLDER


def sources_list(sources: Sequence[Mapping[str, Any]], lang: Lang) -> html.Ul:
    """Platform records of one volunteer: platform and id, name and phone (as given)."""
    return html.Ul([html.Li([
        html.B(platform_label(s.get("platform"), lang)), f" {s.get('source_id')} · ",
        or_dash(s.get("name")), " · ", html.Span(or_dash(s.get("phone")), className="vp-phone"),
        f" · {t('pd_id_on_file', lang)}" if s.get("id_on_file") else ""])
        for s in sources], className="vp-sources")


def _side(person: Mapping[str, Any], label: str, view: View) -> html.Div:
    lang = view.lang
    return html.Div(className="vp-side", children=[
        html.Div([html.Span(label, className="vp-side-label"),
                  record_link(person.get("volunteer_id"), lang)], className="vp-side-head"),
        html.Dl(className="vp-side-facts", children=[
            html.Div([html.Dt(t(k, lang)), html.Dd(v)]) for k, v in (
                ("vol_col_name", or_dash(person.get("name"))),
                ("vol_col_phone", or_dash(person.get("phone"))),
                ("vol_col_team", or_dash(person.get("team"))),
                ("vol_col_village", view.village(person.get("village_code"))),
                ("vol_registered", when(person.get("registered_at"))))]),
        sources_list(person.get("sources") or [], lang)])


def candidate_card(item: Mapping[str, Any], view: View) -> html.Article:
    """One proposed pair side by side, its reason and the reviewer's three buttons."""
    lang, cid = view.lang, item["candidate_id"]
    return html.Article(className="vp-candidate", **{"data-candidate": str(cid)}, children=[
        html.Div(className="vp-candidate-head", children=[
            html.B(t("vol_candidate", lang, id=cid)),
            html.Span(reason_label(item.get("reason"), lang), className="vp-chip vp-reason"),
            html.Span(t("vol_proposed_at", lang, at=when(item.get("created_at"))),
                      className="vp-muted")]),
        html.Div(className="vp-pair", children=[_side(item["a"], "A", view),
                                                 _side(item["b"], "B", view)]),
        html.Div(className="vp-decide", children=[
            html.Button(t(key, lang), id=action_id(action, cid), n_clicks=0,
                        className=f"vp-btn vp-btn-{action}") for action, key in DECISIONS]),
    ])


def merges_table(merges: Sequence[Mapping[str, Any]], view: View, may_undo: bool,
                 id_type: str = str(VolunteersIds.ACTION)) -> Any:
    """Logged merges: kept, merged away, records moved, reason, when and by whom, undo.

    ``may_undo``: a 撤销合并 button on each merge not undone (its id: ``id_type``, ``undo``,
    the merge id).
    """
    lang = view.lang
    rows, classes = [], []
    for m in merges:
        if m.get("undone_at"):
            state: Any = t("vol_undone", lang, at=when(m["undone_at"]),
                           by=m.get("undone_by") or PLACEHOLDER)
        elif may_undo:
            state = html.Button(t("vol_undo", lang), n_clicks=0, className="vp-btn vp-btn-undo",
                                id={"type": id_type, "action": "undo", "key": str(m["merge_id"])})
        else:
            state = t("vol_merged_state", lang)
        rows.append([m["merge_id"], record_link(m.get("into_id"), lang),
                     record_link(m.get("from_id"), lang),
                     ", ".join(f"{platform_label(p, lang)} {s}" for p, s in m.get("records") or [])
                     or PLACEHOLDER, reason_label(m.get("reason"), lang), when(m.get("merged_at")),
                     or_dash(m.get("merged_by")) if m.get("merged_by") else t("vol_auto", lang),
                     state])
        classes.append("vp-merge-undone" if m.get("undone_at") else "vp-merge-live")
    return table(("vol_merge_id", "vol_merge_into", "vol_merge_from", "vol_merge_records",
                  "vol_merge_reason", "vol_merge_at", "vol_merge_by", "vol_merge_state"),
                 rows, lang, "vp-merges", classes, empty="vol_merges_none")


def merges_children(models: Mapping[str, Any], view: View) -> list:
    """The merge queue: the count for everyone; for staff each pair and the recent merges."""
    lang, count = view.lang, models.get("open_pairs") or 0
    summary = html.P(t("vol_queue_count", lang, n=format_count(count)), className="vp-count",
                     id=VolunteersIds.QUEUE_COUNT)
    if not view.may_reveal:
        return [summary, html.P(t("vol_queue_staff_only", lang), className="vp-muted")]
    queue = models.get("queue") or []
    cards = [candidate_card(item, view) for item in queue] or [
        html.P(t("vol_queue_empty", lang), className="vp-none")]
    shown = html.Span(t("vol_queue_shown", lang, n=len(queue)), className="vp-panel-count") \
        if 0 < len(queue) < count else None
    return [summary,
            panel(t("vol_queue", lang), cards, "queue", shown),
            panel(t("vol_recent_merges", lang),
                  merges_table(models.get("merges") or [], view, may_undo=True), "recent")]


def queue_revealed(queue: Sequence[Mapping[str, Any]], lang: Lang) -> Any:
    """The open pairs' names and phone numbers unmasked (the audited reveal of the queue)."""
    rows = []
    for item in queue:
        for side in ("a", "b"):
            person = item[side]
            for s in person.get("sources") or []:
                rows.append([item["candidate_id"], side.upper(), person.get("volunteer_id"),
                             f"{platform_label(s.get('platform'), lang)} {s.get('source_id')}",
                             or_dash(s.get("name")), or_dash(s.get("phone"))])
    return table(("vol_candidate_col", "vol_side", "vol_col_id", "vol_col_source",
                  "vol_col_name", "vol_col_phone"), rows, lang, "vp-queue-revealed",
                 empty="vol_queue_empty")
