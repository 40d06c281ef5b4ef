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


@schemathesis.auth(refresh_interval=None)
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
