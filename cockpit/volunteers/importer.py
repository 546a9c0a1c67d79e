"""Import volunteers from other platforms' CSV and Excel exports (``cockpit volunteers import``).

A column mapping (YAML, ``mappings/volunteers_*.yaml``) says which column of the file gives
each field of ``volunteer.registered``. Every row becomes such an event with the import's
``source`` and a deterministic id, is validated by the contract (:func:`cockpit.events.parse_event`)
and is applied straight to the store by :func:`cockpit.store.apply.apply_batch`
(:class:`cockpit.import_rows.RowImporter`), so the registry deduplicates imported people exactly
as streamed ones. A row whose record is known already and whose content changed is sent as
``volunteer.updated`` at the import's time, so its new values win over the old.
docs/volunteers-import.md describes the format and the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cockpit.events import BaseEvent
from cockpit.import_report import ImportReport, RowRejected
from cockpit.import_rows import PendingRow, RowImporter, stored_event_ids, time_text
from cockpit.store.apply import ApplyResult
from cockpit.store.volunteer_models import (
    MergeCandidate,
    VolunteerEventRow,
    VolunteerMerge,
    VolunteerRecord,
)
from cockpit.volunteers.config import VolunteerRules
from cockpit.volunteers.import_files import Columns
from cockpit.volunteers.registry import person_id

#: Columns in the report and reasons: the rejected row's key.
SUBJECT = "volunteer_id"


@dataclass
class VolunteerReport(ImportReport):
    """What a volunteers import read and did, with the registry's outcome."""

    new_volunteers: int = 0
    joined: int = 0
    proposed: int = 0


class Importer(RowImporter):
    """Rows of a platform's export as ``volunteer.registered`` events of its ``source``.

    Parameters
    ----------
    rules : VolunteerRules
        Rules of the volunteers module (for :func:`apply_batch`).
    separator : str, optional
        The mapping's ``skills_separator``.
    **kwargs
        As :class:`cockpit.import_rows.RowImporter`; the source is the records' platform.
    """

    key_field = SUBJECT
    columns_model = Columns
    personal = ("name", "phone", "id_number")
    renames = {"occurred_at": "registered_at"}
    report: VolunteerReport

    def __init__(self, *args: Any, rules: VolunteerRules, separator: str | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rules, self.separator = rules, separator

    def new_report(self) -> VolunteerReport:
        """An empty :class:`VolunteerReport`."""
        return VolunteerReport()

    def prepare(self, number: int, values: dict[str, str | None], cells: Sequence[Any],
                indexes: dict[str, int]) -> PendingRow:
        """The row's ``volunteer.registered``. Raises InvalidEvent or RowRejected."""
        fields = self.required(values, skip=("registered_at",))
        at = indexes.get("id_number")
        raw_id = cells[at] if at is not None and at < len(cells) else None
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):  # never exact
            raise RowRejected(f"id_number ({self.columns['id_number']}): the cell is a number, "
                              "which keeps only 15 digits; format the column as text and "
                              "export again")
        if self.separator and fields.get("skills"):
            fields["skills"] = [s.strip() for s in fields["skills"].split(self.separator)]
        when = values.get("registered_at")
        fields.update(type="volunteer.registered", source=self.source,
                      occurred_at=time_text(when) if when else self.started,
                      event_id=self.event_id("volunteer.registered", values))
        event = self.parse(fields)
        return PendingRow(number, event.volunteer_id, fields, [event],
                          self.event_id("volunteer.updated", values))

    def stored_ids(self, session: Session, ids: Sequence[str]) -> set[str]:
        """Ids of ``volunteer_events`` of the source."""
        return stored_event_ids(session, VolunteerEventRow, self.source, ids)

    def known_subjects(self, session: Session, subjects: Sequence[str]) -> set[str]:
        """Volunteer ids that have a record of the source's platform."""
        return set(session.scalars(select(VolunteerRecord.source_id).where(
            VolunteerRecord.platform == self.source, VolunteerRecord.source_id.in_(subjects))))

    def changed_events(self, session: Session, row: PendingRow) -> list[BaseEvent]:
        """``volunteer.updated`` at the import's time: empty cells leave stored values."""
        return [self.resend(row, "volunteer.updated")]

    def apply_options(self) -> dict[str, Any]:
        """The volunteers module's rules."""
        return {"rules": self.rules}

    def applied(self, session: Session, fresh: list[PendingRow], changed: list[PendingRow],
                result: ApplyResult, now: datetime) -> None:
        """Count new volunteers, joins by ID number and merge candidates of the batch."""
        placed = session.execute(select(VolunteerRecord.source_id, VolunteerRecord.volunteer_id)
                                 .where(VolunteerRecord.platform == self.source,
                                        VolunteerRecord.source_id.in_(
                                            [r.subject for r in fresh])))
        self.report.new_volunteers += sum(1 for sid, vid in placed
                                          if vid == person_id(self.source, sid))
        self.report.joined += session.scalar(
            select(func.count()).select_from(VolunteerMerge).where(
                VolunteerMerge.merged_at == now, VolunteerMerge.reason == "same_id_number"))
        self.report.proposed += session.scalar(
            select(func.count()).select_from(MergeCandidate).where(
                MergeCandidate.created_at == now))
