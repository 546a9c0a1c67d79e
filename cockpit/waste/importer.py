"""Import household and station registers from CSV and Excel files (``cockpit waste import``).

Every row of a household register becomes a ``household.registered`` of the import's ``source``
with a deterministic id, and a row with a move-out date (搬离日期) also a ``household.moved_out``
at that time; every row of a station register a ``station.registered``. They are validated by
the contract (:func:`cockpit.events.parse_event`) and applied straight to the store by
:func:`cockpit.store.apply.apply_batch` (:class:`cockpit.import_rows.RowImporter`), exactly as
streamed ones. A changed row of a household or station the store knows is sent again at the
import's time, so its values win (the registry keeps the latest carrier of each value).
docs/waste-import.md describes the formats and the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.events import BaseEvent, InvalidEvent
from cockpit.import_report import ImportReport, RowRejected, scrub
from cockpit.import_rows import PendingRow, RowImporter, keyed_id, stored_event_ids, time_text
from cockpit.store.apply import ApplyResult
from cockpit.store.waste_models import Household, Landlord, WasteEventRow, WasteStation
from cockpit.waste.config import WasteRules
from cockpit.waste.import_format import (
    HouseholdColumns,
    StationColumns,
    crs_text,
    members_text,
    status_text,
)


@dataclass
class WasteReport(ImportReport):
    """What a register import read and did, counted from the store."""

    new: int = 0
    tenants: int = 0
    moved_out: int = 0
    landlords: int = 0
    closed: int = 0


def _count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class _WasteImporter(RowImporter):
    """What both registers share: the waste history, the waste rules, the report."""

    report: WasteReport
    #: The store's model of the subjects; its column :attr:`key_field` holds their ids.
    subject_model: ClassVar[type]

    def __init__(self, *args: Any, rules: WasteRules, default_crs: str | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rules = rules
        self.default_crs = default_crs

    def with_datum(self, fields: dict[str, str], values: dict[str, str | None]) -> None:
        """Name the datum of a row's position: its 坐标系, else the mapping's default_crs."""
        crs = crs_text(values.get("crs")) or (
            self.default_crs if values.get("lon") or values.get("lat") else None)
        if crs:
            fields["crs"] = crs

    def new_report(self) -> WasteReport:
        """An empty :class:`WasteReport`."""
        return WasteReport()

    def apply_options(self) -> dict[str, Any]:
        """The waste module's rules."""
        return {"waste_rules": self.rules}

    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        """Ids of ``waste_events`` of the source."""
        return stored_event_ids(session, WasteEventRow, self.source, ids)

    def known_subjects(self, session: Session, subjects: Sequence[str]) -> set[str]:
        """The subjects in the store (households or stations), from any source."""
        column = getattr(self.subject_model, self.key_field)
        return set(session.scalars(select(column).where(column.in_(subjects))))

    def counted(self, session: Session, subjects: Sequence[str], *where: Any) -> int:
        """How many of ``subjects`` the store holds (meeting the ``where`` conditions)."""
        column = getattr(self.subject_model, self.key_field)
        return _count(session, select(column).where(column.in_(subjects), *where))


class HouseholdImporter(_WasteImporter):
    """Rows of a household register (户籍台账) as ``household.registered`` (and moved_out)."""

    key_field = "household_id"
    subject_model = Household
    personal = ("head_name", "head_phone", "landlord_name", "landlord_phone", "address")
    renames = {"occurred_at": "registered_at"}
    columns_model = HouseholdColumns

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._moved_in: dict[str, datetime | None] = {}
        self._landlords: set[str] = set()
        self._landlords_before = 0

    def prepare(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                indexes: dict[str, int]) -> PendingRow:
        """The row's registration, and its move-out when dated.

        Raises
        ------
        InvalidEvent, RowRejected
            With the contract's or the importer's reason.
        """
        fields = self.required(values, skip=("moved_out_at", "registered_at"))
        self.with_datum(fields, values)
        if fields.get("members"):
            fields["members"] = members_text(fields["members"])
        if fields.get("moved_in_at"):
            fields["moved_in_at"] = time_text(fields["moved_in_at"])
        when = values.get("registered_at")
        out = self._moved_out(values) if values.get("moved_out_at") else None
        fields.update(type="household.registered", source=self.source,
                      occurred_at=time_text(when) if when else self.started,
                      event_id=self.event_id("household.registered", values))
        # without a move-in, one that moved out is taken to have lived there until then: a
        # move-in at the registration's time, after the move-out, would count as moving back
        moved_in = {"moved_in_at": out.occurred_at} if out and not fields.get("moved_in_at") \
            else {}
        event = self.parse({**fields, **moved_in})
        if out is not None and out.occurred_at < event.moved_in_at:
            raise RowRejected(f"moved_out_at ({self.columns['moved_out_at']}): is before "
                              f"moved_in_at ({self.columns.get('moved_in_at', 'the move-in')})")
        return PendingRow(number, event.household_id, fields,
                          [event] if out is None else [event, out],
                          self.event_id("household.registered:update", values))

    def _moved_out(self, values: dict[str, str | None]) -> BaseEvent:
        """The row's ``household.moved_out``, its id over the household and the date only."""
        household, text = values.get("household_id") or "", values["moved_out_at"] or ""
        fields = {"type": "household.moved_out", "source": self.source,
                  "household_id": household, "occurred_at": time_text(text),
                  "event_id": keyed_id(self.key, "household.moved_out", self.source,
                                       [household, text])}
        try:
            return self.parse(fields)
        except InvalidEvent as exc:  # its time is the move-out date's: named so
            raise RowRejected(scrub(exc.reason, values, self.columns, self.personal,
                                    {"occurred_at": "moved_out_at"})) from None

    def before_apply(self, session: Session, rows: list[PendingRow]) -> None:
        """Note the stored move-ins (kept by re-sent rows) and the landlords known."""
        self._moved_in = dict(session.execute(
            select(Household.household_id, Household.moved_in_at)
            .where(Household.household_id.in_([r.subject for r in rows]))).all())
        self._landlords = {r.fields["landlord_id"] for r in rows if r.fields.get("landlord_id")}
        self._landlords_before = _count(session, select(Landlord.landlord_id).where(
            Landlord.landlord_id.in_(self._landlords)))

    def changed_events(self, session: Session, row: PendingRow) -> list[BaseEvent]:
        """The registration at the import's time (the move-in kept when the row has none)."""
        extra = {}
        if "moved_in_at" not in row.fields:
            extra["moved_in_at"] = self._moved_in.get(row.subject) or row.events[0].moved_in_at
        return [self.resend(row, **extra), *row.events[1:]]

    def applied(self, session: Session, fresh: list[PendingRow], changed: list[PendingRow],
                result: ApplyResult, now: datetime) -> None:
        """Count new households and tenants, move-outs and new landlords from the store."""
        new = [r.subject for r in fresh]
        self.report.new += self.counted(session, new)
        self.report.tenants += self.counted(session, new, Household.kind == "tenant")
        leaving = [r.subject for r in fresh + changed if len(r.events) > 1]
        self.report.moved_out += self.counted(session, leaving, Household.status == "moved_out")
        self.report.landlords += _count(session, select(Landlord.landlord_id).where(
            Landlord.landlord_id.in_(self._landlords))) - self._landlords_before


class StationImporter(_WasteImporter):
    """Rows of a station register (投放点台账) as ``station.registered``.

    The mapping's ``default_crs`` names the datum of lon/lat when a row names none.
    """

    key_field = "station_id"
    subject_model = WasteStation
    columns_model = StationColumns

    def prepare(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                indexes: dict[str, int]) -> PendingRow:
        """The row's ``station.registered``. Raises InvalidEvent."""
        fields = self.required(values)
        self.with_datum(fields, values)
        if fields.get("status"):
            fields["status"] = status_text(fields["status"])
        fields.update(type="station.registered", source=self.source, occurred_at=self.started,
                      event_id=self.event_id("station.registered", values))
        event = self.parse(fields)
        return PendingRow(number, event.station_id, fields, [event],
                          self.event_id("station.registered:update", values))

    def changed_events(self, session: Session, row: PendingRow) -> list[BaseEvent]:
        """The registration again, at the import's time."""
        return [self.resend(row)]

    def applied(self, session: Session, fresh: list[PendingRow], changed: list[PendingRow],
                result: ApplyResult, now: datetime) -> None:
        """Count new stations and the stations of the file now closed, from the store."""
        new = [r.subject for r in fresh]
        self.report.new += self.counted(session, new)
        self.report.closed += self.counted(session, new + [r.subject for r in changed],
                                           WasteStation.status == "closed")
