#!/usr/bin/env python3
"""Signs a benchmark's account in and prints its access token, taking it through whatever the sign-in asks first.

Usage: bench/sign_in.py BASE_URL TENANT EMAIL PASSWORD STATE_FILE

- `password_change_required` (the bootstrap admin, anyone a script created): the password is changed to
  PASSWORD + "-chosen", and the state file remembers it;
- `mfa_enrolment_required` (a platform admin, a tenant that requires a second factor): an authenticator is enrolled,
  its secret and recovery codes kept in the state file;
- `mfa_required`: a code from that authenticator (waiting for the next 30-second step when this one was used).

The state file (JSON, per tenant and email) lets a script sign the same accounts in again, across runs that keep their
database. Standard library only: the benchmark scripts run it with the system's python3.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request

base, tenant, email, password, state_path = sys.argv[1:6]
key = f"{tenant}/{email}"
state = json.load(open(state_path)) if os.path.exists(state_path) else {}
account = state.setdefault(key, {"password": password})


def save():
    with open(state_path, "w") as out:
        json.dump(state, out)
    os.chmod(state_path, 0o600)


def call(path, body, token=None):
    request = urllib.request.Request(base + "/api/v1" + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        sys.exit(f"sign_in: POST {path} answered {error.code}: {error.read()[:300]!r}")
    return json.loads(raw) if raw else None


def totp(secret, step):
    digest = hmac.new(base64.b32decode(secret + "=" * (-len(secret) % 8)), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset:offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def fresh_code():
    """A code of a step later than the last one used (each is accepted once)."""
    step = max(int(time.time()) // 30, account.get("last_step", 0) + 1)
    while step > int(time.time()) // 30 + 1:  # the service accepts one step ahead at most
        time.sleep(1)
    account["last_step"] = step
    save()
    return totp(account["secret"], step)


def login():
    return call("/auth/login", {"tenant": tenant, "email": email, "password": account["password"]})


for _ in range(4):
    answer = login()
    if answer.get("password_change_required"):
        chosen = password + "-chosen"
        call("/me/password", {"current_password": account["password"], "new_password": chosen}, answer["access_token"])
        account["password"] = chosen
        save()
    elif answer.get("mfa_enrolment_required"):
        token = answer["access_token"]
        account["secret"] = call("/me/mfa/totp", {}, token)["secret"]
        account["codes"] = call("/me/mfa/totp/confirm", {"code": fresh_code()}, token)["recovery_codes"]
        save()
    elif answer.get("mfa_required"):
        answer = call("/auth/mfa", {"mfa_token": answer["mfa_token"], "code": fresh_code()})
        print(answer["access_token"])
        break
    else:
        print(answer["access_token"])
        break
else:
    sys.exit(f"sign_in: {key} did not finish signing in")
