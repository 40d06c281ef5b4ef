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


@schemathesis.auth(refresh_interval=None).apply_to(path_regex=r"^/api/v1/(?!console/)")
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


@schemathesis.hook
def filter_path_parameters(context, path_parameters):
    """The signed-in admin is not set up by the run: resetting their password or editing them
    would end the sessions every other case signs in with (the setup tests in
    crates/fieldcheck-server/tests/console_setup.rs cover an admin changing themselves)."""
    return (path_parameters or {}).get("id") != ADMIN["username"]
