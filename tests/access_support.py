"""Signing tests in as a real account or kiosk, through the app's own sign-in routes.

Nothing here bypasses the app: accounts are created with :mod:`cockpit.accounts`, sessions come
from ``POST /signin`` (CSRF token read from the form) or ``GET /kiosk/<token>``.

    client = signed_in_client(app, services, "leader")
    browser_sign_in(driver, server.url, services, "staff", villages="330110006201")
    landlord = signed_in_client(app, services, "landlord", landlord="LL-CY-0045")
    kiosk_url = kiosk_link(services, "hall-1")   # then driver.get(server.url + kiosk_url)
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.request
import uuid
from urllib.parse import quote, urlencode, urlsplit

from flask.testing import FlaskClient

from cockpit import accounts
from cockpit.access import Role

PASSWORD = "test-password-123"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_account(services, role: str | Role, villages: str | None = None,
                username: str | None = None, password: str | None = PASSWORD,
                landlord: str | None = None) -> str:
    """Create an account of ``role`` (staff default village: the first of geodata) → its name.

    A landlord account needs ``landlord``: a landlord id the store already knows.
    """
    role = Role(role)
    if role is Role.STAFF and villages is None:
        villages = "330110006201"
    name = username or f"{role}-{uuid.uuid4().hex[:8]}"
    with services.sessions.begin() as db:
        accounts.add_user(db, name, role.value, password,
                          villages=villages if role is Role.STAFF else None,
                          landlord_id=landlord if role is Role.LANDLORD else None, by="test")
    return name


def csrf_of(client: FlaskClient, path: str = "/signin") -> str:
    """The CSRF token of the sign-in form (and of the client's session)."""
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD):
    """POST the sign-in form; returns the response (302 on success)."""
    token = csrf_of(client)
    return client.post("/signin", data={"username": username, "password": password,
                                        "csrf_token": token})


def signed_in_client(app, services, role: str | Role | None, villages: str | None = None,
                     landlord: str | None = None) -> FlaskClient:
    """A test client signed in as a new account of ``role``; None: anonymous; "wall": a kiosk.

    The client sends the CSRF header Dash sends (``X-CSRFToken`` from the ``_csrf_token``
    cookie) on every later request, so callback POSTs pass the CSRF check. ``client.account``
    is the account's username (a kiosk: its name; anonymous: None).
    """
    client = app.server.test_client()
    client.account = None
    if role is None:
        return client
    if Role(role) is Role.WALL:
        client.account = f"screen-{uuid.uuid4().hex[:8]}"
        response = client.get(kiosk_link(services, client.account))
        assert response.status_code == 302, response.status_code
    else:
        client.account = add_account(services, role, villages, landlord=landlord)
        response = sign_in(client, client.account)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
    client.get("/", follow_redirects=True)  # a page (a landlord's own): sets the _csrf_token
    cookie = client.get_cookie("_csrf_token")
    if cookie is not None:
        client.environ_base["HTTP_X_CSRFTOKEN"] = cookie.value
    return client


#: The roles a staff page's tests sign in as ("wall": a kiosk).
PAGE_ROLES = ("leader", "staff", "admin", "wall")


def clients_by_role(app, services, villages: str | None = None,
                    roles: tuple[str | None, ...] = PAGE_ROLES,
                    landlord: str | None = None) -> dict[str | None, FlaskClient]:
    """A :func:`signed_in_client` of each of ``roles`` (None: anonymous), by role."""
    return {role: signed_in_client(app, services, role, villages=villages, landlord=landlord)
            for role in roles}


def kiosk_link(services, name: str | None = None) -> str:
    """Create a kiosk and return its link path (``/kiosk/<token>``)."""
    name = name or f"screen-{uuid.uuid4().hex[:8]}"
    with services.sessions.begin() as db:
        kiosk = accounts.add_kiosk(db, name, by="test")
        token = accounts.kiosk_token(services.settings.secret("secret_key"), kiosk)
    return f"/kiosk/{token}"


def browser_sign_in(driver, base_url: str, services, role: str | Role = "leader",
                    villages: str | None = None, then: str = "/", timeout: float = 10,
                    landlord: str | None = None) -> str:
    """Sign a Chromium session in (kiosk link for ``wall``, the form otherwise).

    Returns once the browser is on the page it was sent to (``then``; a kiosk: the wall with
    ``?screen=<kiosk name>``; a landlord: ``/landlord``); returns the username, or the kiosk's
    name. A landlord account needs ``landlord``, a landlord id the store knows.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    role = Role(role)
    if role is Role.WALL:
        name = f"screen-{uuid.uuid4().hex[:8]}"
        driver.get(base_url + kiosk_link(services, name))
        assert urlsplit(driver.current_url).path == "/", driver.current_url
        return name
    name = add_account(services, role, villages, landlord=landlord)
    driver.get(f"{base_url}/signin?next={quote(then, safe='')}")
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.signin-form button").click()
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: urlsplit(d.current_url).path != "/signin",
        f"sign-in as {role} did not leave /signin")
    return name


def http_session(base_url: str, services, role: str | Role = "leader",
                 villages: str | None = None) -> urllib.request.OpenerDirector:
    """An HTTP client (urllib, with a cookie jar) signed in to a live server like a browser.

    For code that calls a running app from outside, as a script would (``opener.open(url)``).
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    if Role(role) is Role.WALL:
        with opener.open(base_url + kiosk_link(services), timeout=10) as reply:
            landed = reply.geturl()
    else:
        with opener.open(base_url + "/signin", timeout=10) as reply:
            match = _CSRF.search(reply.read().decode())
        assert match, "no CSRF token on /signin"
        form = urlencode({"username": add_account(services, role, villages),
                          "password": PASSWORD, "csrf_token": match.group(1)})
        with opener.open(base_url + "/signin", data=form.encode(), timeout=10) as reply:
            landed = reply.geturl()  # redirected to the page after sign-in
    assert urlsplit(landed).path == "/", f"sign-in as {role} ended at {landed}"
    return opener
