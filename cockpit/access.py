"""Who may do what: roles, their capabilities and the viewer of one request.

Four roles (docs/access.md):

- ``wall``: a command-hall screen signed in by its kiosk link. Reads the wall page only; sees
  no personal data; changes nothing (acknowledging a notice is a person's act).
- ``leader``: every page and the API, every village; personal data always masked; asks
  volunteers to come (mobilisations).
- ``staff``: pages and the API for the villages of their scope only; personal data masked
  until they reveal one record, which is audited; acknowledges notices; asks the volunteers of
  their villages to come.
- ``admin``: accounts, kiosk links and the audit log, plus what a leader sees.

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
    #: Accounts, kiosk links, the audit log.
    ADMIN = "admin"


GRANTS: dict[Role, frozenset[Capability]] = {
    Role.WALL: frozenset({Capability.WALL}),
    Role.LEADER: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                            Capability.EXPORT, Capability.MOBILIZE}),
    Role.STAFF: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                           Capability.REVEAL, Capability.EXPORT, Capability.MOBILIZE}),
    Role.ADMIN: frozenset({Capability.WALL, Capability.ITEMS, Capability.ACKNOWLEDGE,
                           Capability.EXPORT, Capability.ADMIN}),
}


def parse_role(value: str) -> Role:
    """Return the :class:`Role` named ``value``.

    Raises
    ------
    ValueError
        Naming the four roles.
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
    """

    kind: str = "anonymous"
    name: str = ""
    role: Role | None = None
    villages: tuple[str, ...] = ()

    @property
    def signed_in(self) -> bool:
        """True for a user or a kiosk."""
        return self.role is not None

    def can(self, capability: Capability) -> bool:
        """True when the role grants ``capability``."""
        return self.role is not None and capability in GRANTS[self.role]

    @property
    def scoped(self) -> bool:
        """True when item lists are limited to :attr:`villages` (staff)."""
        return self.role is Role.STAFF

    def in_scope(self, village_code: str | None) -> bool:
        """True when this viewer may see items of ``village_code``."""
        return not self.scoped or (village_code is not None and village_code in self.villages)

    @property
    def label(self) -> str:
        """``name (role)`` for the page header and the audit log."""
        return f"{self.name} ({self.role})" if self.role else ""


ANONYMOUS = Viewer()
