"""``cockpit users`` and ``cockpit kiosk``: accounts and the kiosk links of wall screens.

Each command migrates the database first (as ``cockpit db upgrade``), then does its work in
one transaction; every change is audited with ``by="cli"``. A refused change (unknown role,
name taken, missing secret) prints one line to stderr and exits with code 2.

:mod:`cockpit.accounts` is imported by the commands that use it: importing it hashes a dummy
password (Argon2, a fifth of a second), which the other ``cockpit`` commands need not wait for.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cockpit.settings import MissingSecret, Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cockpit.accounts import Account

#: Who changes accounts from the command line, in the audit log.
BY = "cli"
#: ``secrets.token_urlsafe(12)``: 16 characters, 96 random bits.
GENERATED_BYTES = 12
USAGE_ERROR = 2

users_app = typer.Typer(help="Accounts: add, list, disable, enable, set-role, set-password.",
                        no_args_is_help=True)
kiosk_app = typer.Typer(help="Kiosk links of wall screens: add, list, link, revoke.",
                        no_args_is_help=True)

_Name = Annotated[str, typer.Argument(help="Account name (not a person's real name).")]
_Villages = Annotated[str | None, typer.Option(
    help="Village codes of a staff account, comma-separated (cockpit.geo village codes).")]
_Landlord = Annotated[str | None, typer.Option(
    "--landlord", help="The landlord id of a landlord account (e.g. LL-CY-0045), as the waste "
                       "register names it; required for --role landlord, refused otherwise.")]
_Stdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from one line of stdin (≥ 10 characters).")]
_KioskName = Annotated[str, typer.Argument(help="The screen's name, e.g. hall-1.")]
_BaseUrl = Annotated[str | None, typer.Option(
    help="Where screens reach the cockpit (default http://COCKPIT_HOST:COCKPIT_PORT).")]


def fail(message: str) -> NoReturn:
    """Print ``cockpit: message`` to stderr and exit with code 2 (no traceback).

    Raises
    ------
    typer.Exit
        Always, with code :data:`USAGE_ERROR`.
    """
    typer.echo(f"cockpit: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def require_secrets(settings: Settings, *names: str) -> None:
    """Exit with code 2 and a line naming the variable unless every named secret is set.

    Parameters
    ----------
    settings : Settings
        The process's settings.
    *names : str
        ``secret_key`` and/or ``pd_key``.

    Raises
    ------
    typer.Exit
        With code 2 after printing :class:`~cockpit.settings.MissingSecret`'s message.
    """
    try:
        settings.require(*names)
    except MissingSecret as exc:
        fail(str(exc))


@contextlib.contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """Migrate the database, then yield a session in one transaction; refusals exit 2.

    The transaction commits when the block ends and rolls back on any error, so a refused
    change leaves nothing behind.

    Raises
    ------
    typer.Exit
        With code 2 after printing the message of an
        :class:`~cockpit.accounts.AccountError` or :class:`~cockpit.settings.MissingSecret`
        raised in the block.
    sqlalchemy.exc.OperationalError
        If the database cannot be reached (``cockpit`` prints it as one line).
    """
    from cockpit.accounts import AccountError
    from cockpit.store.db import engine_for, session_factory
    from cockpit.store.migrate import upgrade

    engine = engine_for(settings)
    try:
        upgrade(engine)
        with session_factory(engine).begin() as db:
            yield db
    except (AccountError, MissingSecret) as exc:
        fail(str(exc))
    finally:
        engine.dispose()


def _known_villages(villages: str | None) -> set[str] | None:
    if not villages:
        return None  # nothing to check: skip loading the geodata
    from cockpit.geo import village_names

    return set(village_names())


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated (then it is printed once)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(GENERATED_BYTES), True


def _scope_text(account: Account) -> str:
    """What an account sees beyond its role: a staff's villages, a landlord's id; ``-``."""
    if account.landlord_id:
        return f"landlord:{account.landlord_id}"
    return ",".join(account.villages) or "-"


def _scope_note(account: Account) -> str:
    """``, villages …`` or ``, landlord …`` after an account's role in a command's answer."""
    if account.landlord_id:
        return f", landlord {account.landlord_id}"
    return f", villages {','.join(account.villages)}" if account.villages else ""


def _local(value: datetime | None, settings: Settings) -> str:
    return value.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if value else "never"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# --- users ------------------------------------------------------------------------------

@users_app.command("add")
def users_add(
    name: _Name,
    role: Annotated[str, typer.Option(help="wall, leader, staff, admin or landlord.")],
    villages: _Villages = None,
    landlord: _Landlord = None,
    password_stdin: _Stdin = False,
    sso: Annotated[bool, typer.Option(
        "--sso", help="No password: signs in only through the SSO proxy header.")] = False,
) -> None:
    """Add an account; without --password-stdin or --sso its password is generated and shown."""
    from cockpit import accounts

    if sso and password_stdin:
        fail("--sso and --password-stdin exclude each other (an SSO account has no password)")
    settings = Settings()
    password, generated = (None, False) if sso else _password(password_stdin)
    with transaction(settings) as db:
        account = accounts.add_user(db, name, role, password, villages=villages,
                                    landlord_id=landlord, by=BY,
                                    known_villages=_known_villages(villages))
    typer.echo(f"added {account.username} ({account.role}{_scope_note(account)})"
               + (", signs in through the SSO proxy only" if sso else ""))
    if generated:
        typer.echo(f"password: {password}   (shown once; hand it over in person)")


@users_app.command("list")
def users_list() -> None:
    """List the accounts: name, role, scope, state, sign-in kind, last sign-in (local time).

    The scope is a staff account's villages or a landlord account's ``landlord:<id>``.
    """
    from cockpit import accounts

    settings = Settings()
    with transaction(settings) as db:
        rows = [(a.username, str(a.role), _scope_text(a),
                 "disabled" if a.disabled else "enabled",
                 "password" if a.has_password else "sso", _local(a.last_sign_in_at, settings))
                for a in accounts.list_users(db)]
    if not rows:
        typer.echo("no accounts; add one: cockpit users add NAME --role admin")
        return
    _table(("username", "role", "scope", "state", "sign-in",
            f"last sign-in ({settings.timezone})"), rows)


def _set_disabled(name: str, disabled: bool) -> None:
    from cockpit import accounts

    with transaction(Settings()) as db:
        account = accounts.set_disabled(db, name, disabled, by=BY)
    typer.echo(f"{account.username} is disabled; its sessions end at their next request"
               if disabled else f"{account.username} is enabled")


@users_app.command("disable")
def users_disable(name: _Name) -> None:
    """Disable an account; its sessions end at their next request."""
    _set_disabled(name, True)


@users_app.command("enable")
def users_enable(name: _Name) -> None:
    """Enable a disabled account."""
    _set_disabled(name, False)


@users_app.command("set-role")
def users_set_role(
    name: _Name,
    role: Annotated[str, typer.Argument(help="wall, leader, staff, admin or landlord.")],
    villages: _Villages = None,
    landlord: _Landlord = None,
) -> None:
    """Change an account's role (staff needs --villages, landlord --landlord); sessions end."""
    from cockpit import accounts

    with transaction(Settings()) as db:
        account = accounts.set_role(db, name, role, villages, landlord_id=landlord, by=BY,
                                    known_villages=_known_villages(villages))
    typer.echo(f"{account.username} is now {account.role}{_scope_note(account)}; "
               "its sessions end")


@users_app.command("set-password")
def users_set_password(name: _Name, password_stdin: _Stdin = False) -> None:
    """Give an account a new password (generated and shown unless --password-stdin)."""
    from cockpit import accounts

    password, generated = _password(password_stdin)
    with transaction(Settings()) as db:
        account = accounts.set_password(db, name, password, by=BY)
    typer.echo(f"new password set for {account.username}; its sessions end")
    if generated:
        typer.echo(f"password: {password}   (shown once; hand it over in person)")


# --- kiosk links ------------------------------------------------------------------------

def kiosk_url(settings: Settings, token: str, base_url: str | None = None) -> str:
    """The full link of a kiosk: ``{base_url}/kiosk/{token}``.

    Without ``base_url``, ``http://COCKPIT_HOST:COCKPIT_PORT``; a wildcard host (``0.0.0.0``,
    ``::``) is replaced by this machine's name, which screens can reach.
    """
    if not base_url:
        host = settings.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming a wildcard, not binding one
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        base_url = f"http://{host}:{settings.port}"
    return f"{base_url.rstrip('/')}/kiosk/{token}"


@kiosk_app.command("add")
def kiosk_add(name: _KioskName, base_url: _BaseUrl = None) -> None:
    """Create a kiosk and print its link (opens the wall without sign-in; keep it private)."""
    from cockpit import accounts

    settings = Settings()
    require_secrets(settings, "secret_key")
    with transaction(settings) as db:
        kiosk = accounts.add_kiosk(db, name, by=BY)
        token = accounts.kiosk_token(settings.secret("secret_key"), kiosk)
    typer.echo(f"kiosk {name}: {kiosk_url(settings, token, base_url)}")


@kiosk_app.command("list")
def kiosk_list() -> None:
    """List the kiosks: name, when and by whom created, live or revoked (local time)."""
    from cockpit import accounts

    settings = Settings()
    with transaction(settings) as db:
        rows = [(k.name, _local(k.created_at, settings), k.created_by,
                 "live" if k.revoked_at is None
                 else f"revoked {_local(k.revoked_at, settings)} by {k.revoked_by}")
                for k in accounts.list_kiosks(db)]
    if not rows:
        typer.echo("no kiosks; add one: cockpit kiosk add NAME")
        return
    _table(("name", f"created ({settings.timezone})", "by", "state"), rows)


@kiosk_app.command("link")
def kiosk_link(name: _KioskName, base_url: _BaseUrl = None) -> None:
    """Print the link of a live kiosk again."""
    from cockpit import accounts

    settings = Settings()
    require_secrets(settings, "secret_key")
    with transaction(settings) as db:
        kiosk = accounts.live_kiosk_named(db, name)
        token = accounts.kiosk_token(settings.secret("secret_key"), kiosk)
    typer.echo(f"kiosk {name}: {kiosk_url(settings, token, base_url)}")


@kiosk_app.command("revoke")
def kiosk_revoke(name: _KioskName) -> None:
    """Revoke a kiosk's link; its screen is signed out within a minute."""
    from cockpit import accounts

    with transaction(Settings()) as db:
        accounts.revoke_kiosk(db, name, by=BY)
    typer.echo(f"kiosk {name} revoked; its link no longer opens the wall")
