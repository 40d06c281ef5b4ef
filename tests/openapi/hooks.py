"""Schemathesis hooks for the OpenAPI conformance run (scripts/openapi-conformance.sh).

Every secured operation runs as the demo office admin. Some operations under test end the very
token they are called with (`/logout`, `/admin/users/{id}/revoke` with the admin's id, which the
stateful phase finds in a login answer), so the token is checked before each case and the admin
signs in again when it stopped working, instead of leaving those operations out of the run.
"""

import os

import requests
import schemathesis

BASE = os.environ["FIELDCHECK_ST_BASE"]
HEADERS = {"x-fieldcheck-protocol": "1"}
ADMIN = {"username": "usr-admin-1", "password": "fieldcheck-demo"}


CONSOLE = "/api/v1/console/"


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/api/v1/(?!console/|volunteer/)")
class DemoAdmin:
    def __init__(self):
        self.token = None

    def _valid(self):
        if self.token is None:
            return False
        r = requests.get(
            f"{BASE}/api/v1/me",
            headers={**HEADERS, "authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        return r.status_code == 200

    def get(self, case, context):
        if not self._valid():
            r = requests.post(f"{BASE}/api/v1/login", json=ADMIN, headers=HEADERS, timeout=30)
            r.raise_for_status()
            self.token = r.json()["token"]
        return self.token

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/api/v1/console/")
class ConsoleAdmin:
    """The console's operations run in a signed-in console session of the office admin: its
    cookie, and its CSRF token on state-changing requests. `DELETE /console/session` ends the
    very session it is called with, so the session is checked before each case and the admin
    signs in again when it stopped working."""

    def __init__(self):
        self.session = None

    def _valid(self):
        if self.session is None:
            return False
        cookie, _ = self.session
        r = requests.get(
            f"{BASE}{CONSOLE}session",
            headers=HEADERS,
            cookies={"fieldcheck_console": cookie},
            timeout=30,
        )
        return r.status_code == 200

    def get(self, case, context):
        if not self._valid():
            r = requests.post(f"{BASE}{CONSOLE}session", json=ADMIN, headers=HEADERS, timeout=30)
            r.raise_for_status()
            self.session = (r.cookies["fieldcheck_console"], r.json()["csrf_token"])
        return self.session

    def set(self, case, data, context):
        cookie, csrf = data
        case.cookies = {**(case.cookies or {}), "fieldcheck_console": cookie}
        case.headers = {**(case.headers or {}), "X-CSRF-Token": csrf}


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/api/v1/volunteer/")
class DemoVolunteer:
    """The volunteers' page's operations run as an approved volunteer (the leader of the demo
    city's team): joined through the team's invite link, approved and named leader by the
    office in the console. Signing out ends the session it is called with, and joining again
    makes the volunteer pending, so the session is checked before each case and made again
    when it no longer reports."""

    PHONE = "13800138000"

    def __init__(self):
        self.session = None
        self.joins = 0

    def _valid(self):
        if self.session is None:
            return False
        cookie, _ = self.session
        r = requests.get(
            f"{BASE}/api/v1/volunteer/me",
            headers=HEADERS,
            cookies={"fieldcheck_volunteer": cookie},
            timeout=30,
        )
        return r.status_code == 200 and r.json()["status"] == "approved"

    def get(self, case, context):
        if not self._valid():
            office = requests.Session()
            r = office.post(f"{BASE}{CONSOLE}session", json=ADMIN, headers=HEADERS, timeout=30)
            r.raise_for_status()
            csrf = {**HEADERS, "X-CSRF-Token": r.json()["csrf_token"]}
            page = office.get(f"{BASE}{CONSOLE}volunteers", headers=HEADERS, timeout=30).json()
            invite = page["teams"][0]["invite_url"].rsplit("/", 1)[1]
            # The run's own joins from 127.0.0.1 soon meet the page's per-address limit (429,
            # documented); this one comes from an address of its own (the script trusts the
            # local proxy's X-Forwarded-For).
            self.joins += 1
            r = requests.post(
                f"{BASE}/api/v1/volunteer/join",
                json={"invite": invite, "name": "测试志愿者", "phone": self.PHONE},
                headers={**HEADERS, "X-Forwarded-For": f"10.77.{self.joins // 250}.{self.joins % 250 + 1}"},
                timeout=30,
            )
            r.raise_for_status()
            cookie, me = r.cookies["fieldcheck_volunteer"], r.json()
            office.post(
                f"{BASE}{CONSOLE}volunteers/members/{me['user_id']}",
                json={"status": "approved", "leader": True},
                headers=csrf,
                timeout=30,
            ).raise_for_status()
            self.session = (cookie, me["csrf_token"])
        return self.session

    def set(self, case, data, context):
        cookie, csrf = data
        case.cookies = {**(case.cookies or {}), "fieldcheck_volunteer": cookie}
        case.headers = {**(case.headers or {}), "X-CSRF-Token": csrf}


@schemathesis.hook
def filter_path_parameters(context, path_parameters):
    """The signed-in admin is not set up by the run: resetting their password or editing them
    would end the sessions every other case signs in with (the setup tests in
    crates/fieldcheck-server/tests/console_setup.rs cover an admin changing themselves)."""
    return (path_parameters or {}).get("id") != ADMIN["username"]
