"""Who may do what: roles, their capabilities and the viewer of one request.

Five roles (docs/access.md):

- ``wall``: a command-hall screen signed in by its kiosk link. Reads the wall page only; sees
  no personal data; changes nothing (acknowledging a notice is a person's act).
- ``leader``: every page and the API, every village; personal data always masked; asks
  volunteers to come (mobilisations); follows weak households up (waste sorting).
- ``staff``: pages and the API for the villages of their scope only; personal data masked
  until they reveal one record, which is audited; acknowledges notices; asks the volunteers of
  their villages to come and follows up their weak households.
- ``admin``: accounts, kiosk links and the audit log, plus what a leader sees.
- ``landlord``: a landlord (房东) of rental houses, with their landlord id. Sees their own
  houses' households and their sorting accuracy (``/landlord``), nothing else: no wall, no
  items, no API, no export, no personal data.

The web layer asks :meth:`Viewer.can` for a :class:`Capability`; nothing here knows Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles of the cockpit."""

    WALL = "wall"
    LEADER = "leader"
    STAFF = "staff"
    ADMIN = "admin"
    LANDLORD = "landlord"


class Capability(StrEnum):
    """What a route or callback needs."""

    #: The wall page and its live read models (no personal data in them).
    WALL = "wall"
    #: Incident lists, details, analysis and the read API (masked, scoped for staff).
    ITEMS = "items"
    #: Acknowledge a notice on the wall (确认).
    ACKNOWLEDGE = "acknowledge"
    #: See one record's personal data unmasked (audited).
    REVEAL = "reveal"
    #: Download an export (audited, masked as the role's pages).
    EXPORT = "export"
    #: Ask volunteers to come: request a mobilisation, re-call those who have not answered
    #: (audited; staff for their villages only).
    MOBILIZE = "mobilize"
    #: Follow a weak household up: assign its task, record the visit (audited; staff for
    #: their villages only).
    FOLLOW_UP = "followup"
    #: Download the daily and weekly briefings (日报 / 周报): the whole subdistrict's figures
    #: and its overdue incidents by id, so not for a staff account limited to some villages.
    REPORTS = "reports"
    #: Accounts, kiosk links, the audit log.
    ADMIN = "admin"
    #: See the own houses' tenants' sorting accuracy (``/landlord``; a landlord account's id).
    LANDLORD = "landlord"


GRANTS: dict[Role, frozenset[Capability]] = {
    Role.WALL: frozenset({Capability.WALL}),
    Role.LEADER: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                            Capability.EXPORT, Capability.MOBILIZE, Capability.FOLLOW_UP,
                            Capability.REPORTS}),
    Role.STAFF: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                           Capability.REVEAL, Capability.EXPORT, Capability.MOBILIZE,
                           Capability.FOLLOW_UP}),
    Role.ADMIN: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                           Capability.EXPORT, Capability.REPORTS, Capability.ADMIN}),
    Role.LANDLORD: frozenset({Capability.LANDLORD}),
}


def parse_role(value: str) -> Role:
    """Return the :class:`Role` named ``value``.

    Raises
    ------
    ValueError
        Naming the roles.
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ValueError(f"unknown role {value!r}; one of {', '.join(Role)}") from None


def parse_villages(value: str | None) -> tuple[str, ...]:
    """``"330110006201, 330110006002"`` → a sorted tuple of distinct codes; blank → ()."""
    return tuple(sorted({v.strip() for v in (value or "").split(",") if v.strip()}))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in person, a kiosk screen, or nobody.

    Attributes
    ----------
    kind : str
        ``user``, ``kiosk`` or ``anonymous``.
    name : str
        Username or kiosk name; ``""`` for anonymous. Written to the audit log, never a
        person's real name.
    role : Role or None
        None for anonymous.
    villages : tuple of str
        A staff account's scope (village codes). Other roles see every village.
    landlord_id : str or None
        A landlord account's landlord (``LL-CY-0045``): whose houses it sees. None otherwise.
    """

    kind: str = "anonymous"
    name: str = ""
    role: Role | None = None
    villages: tuple[str, ...] = ()
    landlord_id: str | None = None

    @property
    def signed_in(self) -> bool:
        """True for a user or a kiosk."""
        return self.role is not None

    def can(self, capability: Capability) -> bool:
        """True when the role grants ``capability``."""
        return self.role is not None and capability in GRANTS[self.role]

    @property
    def scoped(self) -> bool:
        """True when item lists are limited to :attr:`villages` (staff).

        A landlord is scoped too, to no village: they see no items at all, even if a rule
        let them ask.
        """
        return self.role in (Role.STAFF, Role.LANDLORD)

    def in_scope(self, village_code: str | None) -> bool:
        """True when this viewer may see items of ``village_code``."""
        return not self.scoped or (village_code is not None and village_code in self.villages)

    @property
    def label(self) -> str:
        """``name (role)`` for the page header and the audit log."""
        return f"{self.name} ({self.role})" if self.role else ""


ANONYMOUS = Viewer()
