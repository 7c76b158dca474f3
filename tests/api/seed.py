#!/usr/bin/env python3
"""Seed a fresh `oversight serve` with one record of each kind for schemathesis.

Usage: seed.py BASE_URL TOKEN HJ212_ADDR OVERSIGHT_BIN WORK_DIR CONFIG_OUT

Without records, schemathesis names points, alerts, tasks and accounts that do
not exist, so the operations with a path parameter stop at 404 before their
handlers run. This script creates real records through the HTTP API and the
HJ 212 simulator, then writes a schemathesis configuration that fixes each
path parameter of those operations to a real id. The other parameters and the
request bodies are still generated.

The point ST000000000001 must be registered with PW 123456 and limits that
the simulator's exceedances break, as schemathesis.sh imports it.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

POINT = "ST000000000001"
# Unregistered MNs whose uploads land in quarantine: the first for the
# operations that read or release an entry, the second for the one that
# deletes it, so that the deletion cannot leave the others a 404.
QUARANTINED = "ST000000000098"
DELETED = "ST000000000099"
AREA = "350203"
# Bound on how long records made by the simulator may take to appear.
SETTLE_SECS = 30


class Api:
    """Sends JSON requests with the administrator's API token."""

    def __init__(self, base, token):
        self.base = base
        self.token = token

    def request(self, method, path, body=None, content_type="application/json"):
        data = None
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            sys.exit(f"error: seeding failed: {method} {path} returned {error.code}: {detail}")

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def wait_for_items(self, path, what, accept=lambda items: bool(items)):
        """Polls a list until `accept` returns true for its items.

        Exits with an error naming `what` after SETTLE_SECS.
        """
        deadline = time.monotonic() + SETTLE_SECS
        while True:
            items = self.get(path)["items"]
            if accept(items):
                return items
            if time.monotonic() > deadline:
                sys.exit(f"error: seeding failed: no {what} at {path} after {SETTLE_SECS} s")
            time.sleep(0.2)


def simulate_uploads(oversight_bin, hj212, work_dir):
    """Sends uploads above the point's limits, and uploads from unregistered MNs.

    The registered point gets readings and firing alerts, and the unknown MNs
    land in quarantine.
    """
    devices = f"{work_dir}/devices.csv"
    with open(devices, "w", encoding="utf-8") as file:
        file.write("mn,password\n")
        for mn in (POINT, QUARANTINED, DELETED):
            file.write(f"{mn},123456\n")
    subprocess.run(
        [
            oversight_bin, "simulate", "hj212",
            "--target", hj212,
            "--devices", devices,
            "--connections", "3",
            "--rate", "2",
            "--duration", "3",
            "--exceedance-share", "1",
            "--report-interval", "0",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )


def upload_evidence(api, task_id):
    """Attaches a small text file to a task and returns its SHA-256."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="note.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "site photo placeholder\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    stored = api.request(
        "POST",
        f"/api/v1/tasks/{task_id}/evidence",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    return stored["sha256"]


def seed(api, oversight_bin, hj212, work_dir):
    """Creates the records and returns the path parameters of each operation."""
    simulate_uploads(oversight_bin, hj212, work_dir)
    alert = api.wait_for_items(f"/api/v1/alerts?mn={POINT}", "alert")[0]["id"]
    api.wait_for_items(
        "/api/v1/quarantine?limit=1000",
        f"quarantined uploads of {QUARANTINED} and {DELETED}",
        lambda items: {QUARANTINED, DELETED} <= {item["mn"] for item in items},
    )

    department = api.post(
        "/api/v1/departments",
        {"name": "Schemathesis EEB", "areas": [AREA], "categories": ["water"]},
    )["id"]
    user = api.post(
        "/api/v1/users",
        {
            "username": "schemathesis-inspector",
            "password": f"inspector password {uuid.uuid4().hex}",
            "role": "inspector",
            "department_id": department,
        },
    )["id"]
    token = api.post(
        "/api/v1/auth/tokens",
        {"name": "schemathesis spare", "expires_in_days": 1, "actions": []},
    )["id"]
    silence = api.post(
        "/api/v1/silences",
        {
            "mn": POINT,
            "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
            "comment": "seeded for schemathesis",
        },
    )["id"]
    task = api.post(
        "/api/v1/tasks",
        {
            "subject": POINT,
            "area": AREA,
            "category": "water",
            "title": "Check the outlet",
            "description": "COD above the limit in the latest uploads",
        },
    )["task"]["id"]
    sha256 = upload_evidence(api, task)
    rule = api.get("/api/v1/rules")["items"][0]["id"]

    parameters = {
        "GET /api/v1/areas/{code}": {"code": AREA},
        "GET /api/v1/points/{mn}": {"mn": POINT},
        "GET /api/v1/points/{mn}/readings": {"mn": POINT},
        "GET /api/v1/points/{mn}/revisions": {"mn": POINT},
        "POST /api/v1/points/{mn}/password": {"mn": POINT},
        "GET /api/v1/alerts/{id}": {"id": alert},
        "POST /api/v1/alerts/{id}/acknowledge": {"id": alert},
        "POST /api/v1/alerts/{id}/resolve": {"id": alert},
        "POST /api/v1/alerts/{id}/silence": {"id": alert},
        "POST /api/v1/silences/{id}/expire": {"id": silence},
        "GET /api/v1/rules/{id}": {"id": rule},
        "POST /api/v1/rules/{id}/enable": {"id": rule},
        "POST /api/v1/rules/{id}/disable": {"id": rule},
        "GET /api/v1/tasks/{id}": {"id": task},
        "POST /api/v1/tasks/{id}/actions/{action}": {"id": task},
        "POST /api/v1/tasks/{id}/evidence": {"id": task},
        "GET /api/v1/tasks/{id}/evidence/{sha256}": {"id": task, "sha256": sha256},
        "GET /api/v1/subjects/{subject}/outcomes": {"subject": POINT},
        "GET /api/v1/quarantine/{mn}": {"mn": QUARANTINED},
        "DELETE /api/v1/quarantine/{mn}": {"mn": DELETED},
        "POST /api/v1/quarantine/{mn}/release": {"mn": QUARANTINED},
        "DELETE /api/v1/auth/tokens/{id}": {"id": token},
        "GET /api/v1/users/{id}": {"id": user},
        "PATCH /api/v1/users/{id}": {"id": user},
        "POST /api/v1/users/{id}/password": {"id": user},
        "PUT /api/v1/departments/{id}": {"id": department},
        "GET /api/v1/ledger/entries/{index}": {"index": 0},
    }
    notifications = api.get("/api/v1/notifications")["items"]
    if notifications:
        notification = notifications[0]["id"]
        parameters["GET /api/v1/notifications/{id}"] = {"id": notification}
        parameters["POST /api/v1/notifications/{id}/retry"] = {"id": notification}
    return parameters


def toml_value(value):
    return str(value) if isinstance(value, int) else json.dumps(value)


def write_config(parameters, path):
    """Writes one [[operations]] table per operation with its fixed path parameters."""
    lines = []
    for name, values in parameters.items():
        bound = ", ".join(f'"path.{key}" = {toml_value(value)}' for key, value in values.items())
        lines += ["[[operations]]", f"include-name = {json.dumps(name)}", f"parameters = {{ {bound} }}", ""]
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    base, token, hj212, oversight_bin, work_dir, config = sys.argv[1:]
    parameters = seed(Api(base, token), oversight_bin, hj212, work_dir)
    write_config(parameters, config)
    print(f"seeded records for {len(parameters)} operations with path parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
