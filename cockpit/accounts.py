"""Accounts and kiosk links: create, list, disable, change role, verify; the signed kiosk link.

Passwords are hashed with Argon2id (``argon2-cffi``, its default parameters); the hash alone is
stored. A kiosk link is ``/kiosk/<token>`` where the token signs (itsdangerous, under
``COCKPIT_SECRET_KEY``) the kiosk's id and a random nonce; revoking the kiosk voids it.

Functions take a :class:`~sqlalchemy.orm.Session`; the caller commits. Every change is written
to the audit log in the same transaction (:func:`cockpit.audit.record`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cockpit.access import Role, Viewer, parse_role, parse_villages
from cockpit.audit import record
from cockpit.clock import utc_now
from cockpit.store.models import Kiosk, User
from cockpit.store.waste_models import Landlord

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_HASHER = PasswordHasher()
#: Verified against when the account does not exist, so a wrong name costs as much as a wrong
#: password and the timing does not tell which accounts exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_KIOSK_SALT = "cockpit.kiosk"


class AccountError(ValueError):
    """An account or kiosk operation that cannot be done; the message says why.

    ``code`` names the reason and ``fields`` its values, so that a screen can say it in its
    own language (``acc_err_<code>`` in layouts.strings_access).
    """

    def __init__(self, message: str, code: str, **fields: object):
        super().__init__(message)
        self.code, self.fields = code, fields


@dataclass(frozen=True)
class Account:
    """What may be shown of an account (no hash)."""

    username: str
    role: Role
    villages: tuple[str, ...]
    disabled: bool
    has_password: bool
    created_at: datetime
    last_sign_in_at: datetime | None
    #: A landlord account's landlord; None for the other roles.
    landlord_id: str | None = None

    @classmethod
    def of(cls, user: User) -> Account:
        """The account of one row."""
        return cls(user.username, Role(user.role), parse_villages(user.villages), user.disabled,
                   user.password_hash is not None, user.created_at, user.last_sign_in_at,
                   user.landlord_id)


def check_password(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD` characters (raises AccountError)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password is shorter than {MIN_PASSWORD} characters", "password",
                           n=MIN_PASSWORD)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no account {username!r}", "no_account", name=username)
    return user


def _scope(role: Role, villages: str | None, known: set[str] | None) -> str:
    codes = parse_villages(villages)
    if role is Role.STAFF and not codes:
        raise AccountError("a staff account needs its villages (codes, comma-separated; "
                           "--villages on the command line)", "staff_villages")
    if role is not Role.STAFF and codes:
        raise AccountError(f"villages scope staff accounts only, not {role}", "villages_staff")
    unknown = [c for c in codes if known is not None and c not in known]
    if unknown:
        raise AccountError(f"unknown village code(s): {', '.join(unknown)}", "village",
                           codes=", ".join(unknown))
    return ",".join(codes)


def _landlord(session: Session, role: Role, landlord_id: str | None) -> str | None:
    """The landlord id a ``role`` account keeps: required for landlords, refused for others.

    The id must be a landlord of the waste register (a ``household.registered`` named it), so
    that a mistyped id cannot make an account that silently sees nothing.
    """
    value = (landlord_id or "").strip() or None
    if role is Role.LANDLORD and value is None:
        raise AccountError("a landlord account needs its landlord id (--landlord on the "
                           "command line, e.g. LL-CY-0045)", "landlord_id")
    if role is not Role.LANDLORD and value is not None:
        raise AccountError(f"a landlord id belongs to landlord accounts only, not {role}",
                           "landlord_role")
    if value is not None and session.get(Landlord, value) is None:
        raise AccountError(f"unknown landlord {value!r}: no household of the waste register "
                           "names it", "landlord", id=value)
    return value


def _detail(role: Role, villages: str, landlord_id: str | None) -> str:
    """``role=staff villages=…`` / ``role=landlord landlord=…``: the audit log's detail."""
    return (f"role={role}" + (f" villages={villages}" if villages else "")
            + (f" landlord={landlord_id}" if landlord_id else ""))


def add_user(session: Session, username: str, role: str, password: str | None, *,
             villages: str | None = None, landlord_id: str | None = None, by: str = "cli",
             known_villages: set[str] | None = None) -> Account:
    """Create an account.

    Parameters
    ----------
    username : str
        2-64 characters of ``A-Z a-z 0-9 _ . @ -``; not a person's real name.
    role : str
        ``wall``, ``leader``, ``staff``, ``admin`` or ``landlord``.
    password : str or None
        At least :data:`MIN_PASSWORD` characters; None for an account that signs in only
        through the SSO proxy.
    villages : str, optional
        Comma-separated village codes; required for staff, refused for other roles.
    landlord_id : str, optional
        The landlord (``LL-CY-0045``) whose houses a landlord account sees; required for the
        landlord role, refused for other roles; must be a landlord of the waste register.
    by : str
        Who creates it (for the audit log).
    known_villages : set of str, optional
        Valid village codes; when given, others are refused.

    Raises
    ------
    AccountError
        Bad name, role, password, scope or landlord, or the name is taken.
    """
    if not _USERNAME.match(username):
        raise AccountError("username: 2-64 characters of letters, digits and _ . @ -", "name")
    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise AccountError(str(exc), "role") from None
    scope = _scope(parsed, villages, known_villages)
    landlord = _landlord(session, parsed, landlord_id)
    if password is not None:
        check_password(password)
    if session.scalar(select(User.user_id).where(User.username == username)) is not None:
        raise AccountError(f"account {username!r} exists", "exists", name=username)
    now = utc_now()
    user = User(username=username, role=parsed.value, villages=scope, landlord_id=landlord,
                password_hash=_HASHER.hash(password) if password is not None else None,
                disabled=False, session_epoch=0, created_at=now, updated_at=now)
    session.add(user)
    record(session, by, "user_added", target=username,
           detail=_detail(parsed, scope, landlord))
    return Account.of(user)


def list_users(session: Session) -> list[Account]:
    """Every account, by name."""
    return [Account.of(u) for u in session.scalars(select(User).order_by(User.username))]


def set_disabled(session: Session, username: str, disabled: bool = True,
                 by: str = "cli") -> Account:
    """Disable (or enable) an account; a disabled one's sessions end at their next request."""
    user = _user(session, username)
    user.disabled = disabled
    user.session_epoch += 1
    user.updated_at = utc_now()
    record(session, by, "user_disabled" if disabled else "user_enabled", target=username)
    return Account.of(user)


def set_role(session: Session, username: str, role: str, villages: str | None = None, *,
             landlord_id: str | None = None, by: str = "cli",
             known_villages: set[str] | None = None) -> Account:
    """Change an account's role (and a staff account's villages, a landlord's id).

    Its sessions end. A role other than staff drops the villages, other than landlord the
    landlord id.

    Raises
    ------
    AccountError
        Unknown account, role, village or landlord; a staff role without villages, a landlord
        role without its landlord id; villages or a landlord id for a role they do not fit.
    """
    user = _user(session, username)
    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise AccountError(str(exc), "role") from None
    user.villages = _scope(parsed, villages, known_villages)
    user.landlord_id = _landlord(session, parsed, landlord_id)
    user.role = parsed.value
    user.session_epoch += 1
    user.updated_at = utc_now()
    record(session, by, "user_role_set", target=username,
           detail=_detail(parsed, user.villages, user.landlord_id))
    return Account.of(user)


def set_password(session: Session, username: str, password: str, by: str = "cli") -> Account:
    """Give an account a new password; its sessions end."""
    check_password(password)
    user = _user(session, username)
    user.password_hash = _HASHER.hash(password)
    user.session_epoch += 1
    user.updated_at = utc_now()
    record(session, by, "user_password_set", target=username)
    return Account.of(user)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled account whose password this is, or None (same cost either way)."""
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled or not user.password_hash:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_sign_in_at = utc_now()
    return user


def exists(session: Session, username: str) -> bool:
    """True when an account of this name exists (enabled or not)."""
    return session.scalar(select(User.user_id).where(User.username == username)) is not None


def touch_sign_in(session: Session, username: str) -> None:
    """Record a sign-in time for an account that came in through the SSO proxy."""
    user = session.scalar(select(User).where(User.username == username))
    if user is not None:
        user.last_sign_in_at = utc_now()


def viewer_of_user(user: User | None, epoch: int | None = None) -> Viewer | None:
    """The viewer of an enabled account whose session epoch matches (None otherwise)."""
    if user is None or user.disabled or (epoch is not None and epoch != user.session_epoch):
        return None
    return Viewer("user", user.username, Role(user.role), parse_villages(user.villages),
                  user.landlord_id)


# --- kiosk links -------------------------------------------------------------------------

def _serializer(secret: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_KIOSK_SALT)


def add_kiosk(session: Session, name: str, by: str = "cli") -> Kiosk:
    """Create a kiosk (a named wall screen); its link comes from :func:`kiosk_token`.

    Raises
    ------
    AccountError
        Bad name, or a kiosk of that name exists and is not revoked.
    """
    if not _USERNAME.match(name):
        raise AccountError("kiosk name: 2-64 characters of letters, digits and _ . @ -", "name")
    existing = session.scalar(select(Kiosk).where(Kiosk.name == name))
    if existing is not None and existing.revoked_at is None:
        raise AccountError(f"kiosk {name!r} exists", "kiosk_exists", name=name)
    if existing is not None:  # a revoked name is reused with a new nonce: old links stay void
        existing.nonce, existing.revoked_at, existing.revoked_by = secrets.token_hex(16), None, None
        existing.created_at, existing.created_by = utc_now(), by
        kiosk = existing
    else:
        kiosk = Kiosk(name=name, nonce=secrets.token_hex(16), created_at=utc_now(),
                      created_by=by)
        session.add(kiosk)
    record(session, by, "kiosk_added", target=name)
    session.flush()
    return kiosk


def kiosk_token(secret: bytes, kiosk: Kiosk) -> str:
    """The signed token of a kiosk's link (``/kiosk/<token>``)."""
    return _serializer(secret).dumps([kiosk.kiosk_id, kiosk.nonce])


def kiosk_of_token(session: Session, secret: bytes, token: str) -> Kiosk | None:
    """The live (not revoked) kiosk a token names, or None for a forged or revoked one."""
    try:
        kiosk_id, nonce = _serializer(secret).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return live_kiosk(session, kiosk_id, nonce)


def live_kiosk(session: Session, kiosk_id: object, nonce: object) -> Kiosk | None:
    """The kiosk with this id and nonce if it is not revoked."""
    if not isinstance(kiosk_id, int) or not isinstance(nonce, str):
        return None
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None or kiosk.revoked_at is not None or kiosk.nonce != nonce:
        return None
    return kiosk


def live_kiosk_named(session: Session, name: str) -> Kiosk:
    """The live kiosk called ``name`` (its link can be shown again).

    Raises
    ------
    AccountError
        No such live kiosk.
    """
    kiosk = session.scalar(select(Kiosk).where(Kiosk.name == name))
    if kiosk is None or kiosk.revoked_at is not None:
        raise AccountError(f"no live kiosk {name!r}", "no_kiosk", name=name)
    return kiosk


def revoke_kiosk(session: Session, name: str, by: str = "cli") -> Kiosk:
    """Revoke a kiosk's link; its screen is signed out within a minute.

    Raises
    ------
    AccountError
        No such live kiosk.
    """
    kiosk = live_kiosk_named(session, name)
    kiosk.revoked_at, kiosk.revoked_by = utc_now(), by
    record(session, by, "kiosk_revoked", target=name)
    return kiosk


def list_kiosks(session: Session) -> list[Kiosk]:
    """Every kiosk, live ones first, by name."""
    return list(session.scalars(select(Kiosk).order_by(Kiosk.revoked_at.is_not(None),
                                                       Kiosk.name)))
