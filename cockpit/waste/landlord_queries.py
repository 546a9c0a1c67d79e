"""Read models of the staff page's landlords tab (房东): the ranking and one landlord's tenants.

Figures are :class:`~cockpit.waste.accuracy.Tally` of the stored disposals, handed on as
:func:`cockpit.waste.page_queries.tally_dict`; names, phones and addresses are masked unless
``unmasked`` (a staff member's audited reveal); ``scope`` limits every read to a staff
account's villages in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cockpit.privacy import mask_address
from cockpit.store.waste_models import Household, Landlord
from cockpit.waste import accuracy, queries
from cockpit.waste.accuracy import Tally
from cockpit.waste.page_queries import Scope, _iso, landlord_name, landlord_phone, tally_dict

#: Most landlords the ranking lists.
MAX_LANDLORDS = 300


def landlord_ranking(session: Session, start: date, end: date, target: float,
                     scope: Scope = None, limit: int = MAX_LANDLORDS) -> dict[str, Any]:
    """Landlords with tenants in ``scope``, by their tenants' accuracy of the period, worst first.

    Worst first: the landlords whose tenants most need a word are the ones a list cut at
    ``limit`` must show.

    Returns
    -------
    dict
        ``{"total": landlords, "rows": [{landlord_id, name (masked), households, active,
        accuracy (tally of the period; rate None without disposals)}, ...]}`` limited to
        ``limit`` rows; landlords without disposals in the period come last.
    """
    count = (select(Household.landlord_id, func.count(),
                    func.sum(case((Household.status == "active", 1), else_=0)))
             .where(Household.landlord_id.is_not(None)).group_by(Household.landlord_id))
    if scope is not None:
        count = count.where(Household.village_code.in_(list(scope)))
    counts = {lid: (int(n), int(a or 0)) for lid, n, a in session.execute(count)}
    tallies = {t.key: t for t in accuracy.accuracy_by(session, "landlord", start, end, scope)}

    def rank(lid: str) -> tuple:
        t = tallies.get(lid)
        return (t is None, t.rate or 0.0 if t is not None else 0.0, lid)
    order = sorted(counts, key=rank)
    shown = order[:max(1, limit)]
    names = {row.landlord_id: row for row in session.scalars(
        select(Landlord).where(Landlord.landlord_id.in_(shown)))} if shown else {}
    return {"total": len(counts), "rows": [
        {"landlord_id": lid, "name": landlord_name(names.get(lid)),
         "households": counts[lid][0], "active": counts[lid][1],
         "accuracy": tally_dict(tallies.get(lid, Tally(lid)), target)} for lid in shown]}


def landlord(session: Session, tz: ZoneInfo, landlord_id: str, target: float,
             scope: Scope = None, unmasked: bool = False) -> dict[str, Any] | None:
    """:func:`cockpit.waste.queries.landlord_view` as JSON, masked unless ``unmasked``.

    Each household keeps its moved in/out dates and its accuracy over its own tenancy (its own
    disposals), so a tenant who moved out and the next one are both shown. None for an unknown
    landlord or one with no household in ``scope``.
    """
    view = queries.landlord_view(session, landlord_id, scope)
    if view is None:
        return None
    rows = []
    for r in view["households"]:
        rate = Tally(r["household_id"], r["correct"], r["total"], r["kg"])
        rows.append({**{k: r[k] for k in ("household_id", "house_id", "kind", "village_code",
                                          "group_name", "status")},
                     "address": r["address"] if unmasked else mask_address(r["address"]),
                     "moved_in_at": _iso(r["moved_in_at"], tz),
                     "moved_out_at": _iso(r["moved_out_at"], tz),
                     "accuracy": tally_dict(rate, target)})
    return {"landlord_id": landlord_id, "name": landlord_name(view["landlord"], unmasked),
            "phone": landlord_phone(view["landlord"], unmasked),
            "accuracy": tally_dict(view["accuracy"], target), "households": rows,
            "masked": not unmasked}
