"""``cockpit users`` and ``cockpit kiosk`` on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import re
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cockpit import accounts, audit
from cockpit.cli import app
from cockpit.store.db import make_engine, session_factory
from cockpit.store.models import User
from tests.conftest import TEST_SECRETS

SECRET = TEST_SECRETS["secret_key"]
_PASSWORD = re.compile(r"^password: (\S+)", re.MULTILINE)
_LINK = re.compile(r"^kiosk (\S+): (https?://\S+/kiosk/(\S+))$", re.MULTILINE)


@pytest.fixture
def env(tmp_path, database_url) -> dict[str, str | None]:
    """The environment of one CLI run: the test database, a kiosk secret, Shanghai time."""
    return {"DATABASE_URL": database_url, "COCKPIT_DATA_DIR": str(tmp_path / "var"),
            "COCKPIT_SECRET_KEY": SECRET, "COCKPIT_PD_KEY": None,
            "COCKPIT_TIMEZONE": "Asia/Shanghai", "COCKPIT_HOST": "127.0.0.1",
            "COCKPIT_PORT": "8050", "COLUMNS": "200"}


@pytest.fixture
def db(database_url):
    """A session factory on the same database, to check what the commands stored."""
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def cli(env, *args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), env=env, input=input)


def ok(env, *args: str, input: str | None = None) -> str:
    result = cli(env, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(env, *args: str, input: str | None = None) -> str:
    """Run a command that must be refused: exit 2, one line on stderr, no traceback."""
    result = cli(env, *args, input=input)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cockpit: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_add_list_disable_enable_set_role_and_password(env, db):
    out = ok(env, "users", "add", "chief", "--role", "leader")
    assert "added chief (leader)" in out
    generated = _PASSWORD.search(out).group(1)
    assert len(generated) >= 10
    ok(env, "users", "add", "desk-1", "--role", "staff", "--villages",
       "330110006204,330110006201")
    ok(env, "users", "add", "sso-admin", "--role", "admin", "--sso")
    typed = ok(env, "users", "add", "typed", "--role", "wall", "--password-stdin",
               input="typed-password-123\n")
    assert "password:" not in typed  # a typed password is never echoed

    with db.begin() as session:
        assert accounts.authenticate(session, "chief", generated) is not None
        assert accounts.authenticate(session, "typed", "typed-password-123") is not None
        hashes = [h for h in session.scalars(select(User.password_hash)) if h]
        signed_in = session.scalar(select(User.last_sign_in_at).where(User.username == "chief"))
    listing = ok(env, "users", "list")
    for stored in hashes:
        assert stored not in listing
    assert "$argon2" not in listing and generated not in listing
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert "last sign-in (Asia/Shanghai)" in listing.splitlines()[0]
    local = signed_in.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert rows["chief"] == ["chief", "leader", "-", "enabled", "password", *local.split()]
    assert rows["desk-1"][:6] == ["desk-1", "staff", "330110006201,330110006204", "enabled",
                                  "password", "never"]
    assert rows["sso-admin"][1:5] == ["admin", "-", "enabled", "sso"]

    assert "disabled" in ok(env, "users", "disable", "chief")
    assert ok(env, "users", "list").count("disabled") == 1
    with db.begin() as session:
        assert accounts.authenticate(session, "chief", generated) is None
    ok(env, "users", "enable", "chief")
    ok(env, "users", "set-role", "chief", "staff", "--villages", "330110006201")
    again = ok(env, "users", "set-password", "chief")
    new = _PASSWORD.search(again).group(1)
    assert new != generated
    ok(env, "users", "set-password", "typed", "--password-stdin", input="another-password-1\n")
    with db.begin() as session:
        assert accounts.authenticate(session, "chief", new) is not None
        assert accounts.authenticate(session, "chief", generated) is None
        assert accounts.authenticate(session, "typed", "another-password-1") is not None
        chief = next(a for a in accounts.list_users(session) if a.username == "chief")
        log = audit.read(session, actor="cli", limit=50)
    assert (chief.role, chief.villages) == ("staff", ("330110006201",))
    assert {"user_added", "user_disabled", "user_enabled", "user_role_set",
            "user_password_set"} <= {row.action for row in log.rows}


def test_refusals_are_one_line_with_exit_code_2(env, db):
    ok(env, "users", "add", "chief", "--role", "leader")
    assert "unknown role 'boss'" in refused(env, "users", "add", "x1", "--role", "boss")
    assert "--villages" in refused(env, "users", "add", "x2", "--role", "staff")
    assert "unknown village code(s): 999" in refused(
        env, "users", "add", "x3", "--role", "staff", "--villages", "330110006201,999")
    assert "exists" in refused(env, "users", "add", "chief", "--role", "admin")
    assert "shorter than 10" in refused(env, "users", "add", "x4", "--role", "leader",
                                        "--password-stdin", input="short\n")
    assert "exclude" in refused(env, "users", "add", "x5", "--role", "leader", "--sso",
                                "--password-stdin", input="long-enough-password\n")
    assert "no account 'nobody'" in refused(env, "users", "disable", "nobody")
    assert "no account 'nobody'" in refused(env, "users", "set-password", "nobody")
    assert "villages scope staff" in refused(env, "users", "set-role", "chief", "leader",
                                             "--villages", "330110006201")
    with db.begin() as session:  # nothing refused was stored, not even half
        assert [a.username for a in accounts.list_users(session)] == ["chief"]


def test_kiosk_add_link_list_revoke(env, db):
    out = ok(env, "kiosk", "add", "hall-1")
    name, url, token = _LINK.search(out).groups()
    assert (name, url) == ("hall-1", f"http://127.0.0.1:8050/kiosk/{token}")
    with db.begin() as session:
        assert accounts.kiosk_of_token(session, SECRET.encode(), token).name == "hall-1"
    assert ok(env, "kiosk", "link", "hall-1") == out
    other = ok(env, "kiosk", "add", "hall-2", "--base-url", "https://cockpit.example/")
    assert _LINK.search(other).group(2).startswith("https://cockpit.example/kiosk/")
    listing = ok(env, "kiosk", "list")
    assert token not in listing
    assert re.search(r"^hall-1\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+cli\s+live$", listing, re.M)

    ok(env, "kiosk", "revoke", "hall-1")
    with db.begin() as session:
        assert accounts.kiosk_of_token(session, SECRET.encode(), token) is None
    assert re.search(r"^hall-1 .* revoked \d{4}-\d\d-\d\d \d\d:\d\d by cli$",
                     ok(env, "kiosk", "list"), re.M)
    assert "no live kiosk 'hall-1'" in refused(env, "kiosk", "link", "hall-1")
    assert "no live kiosk 'hall-1'" in refused(env, "kiosk", "revoke", "hall-1")
    assert "exists" in refused(env, "kiosk", "add", "hall-2")
    renewed = _LINK.search(ok(env, "kiosk", "add", "hall-1")).group(3)
    assert renewed != token  # the old link stays void
    with db.begin() as session:
        assert accounts.kiosk_of_token(session, SECRET.encode(), token) is None
        assert accounts.kiosk_of_token(session, SECRET.encode(), renewed).name == "hall-1"


def test_kiosk_commands_need_the_secret_key(env, db):
    ok(env, "kiosk", "add", "hall-1")
    no_key = {**env, "COCKPIT_SECRET_KEY": None}
    for args in (("kiosk", "add", "hall-2"), ("kiosk", "link", "hall-1")):
        assert "COCKPIT_SECRET_KEY is not set" in refused(no_key, *args)
    with db.begin() as session:  # no kiosk without a link
        assert [k.name for k in accounts.list_kiosks(session)] == ["hall-1"]
    assert "hall-1" in ok(no_key, "kiosk", "list")  # listing needs no key


def test_empty_lists_say_how_to_add(env):
    assert "cockpit users add NAME --role admin" in ok(env, "users", "list")
    assert "cockpit kiosk add NAME" in ok(env, "kiosk", "list")


def test_the_installed_command_reports_a_missing_secret_in_one_line(tmp_path, sqlite_url):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": sqlite_url,
           "COCKPIT_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run([sys.executable, "-m", "cockpit.cli", "kiosk", "add", "hall-1"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("cockpit: COCKPIT_SECRET_KEY is not set")
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
