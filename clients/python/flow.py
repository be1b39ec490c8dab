"""Walks one Exit Route referral end to end through the Python client generated from openapi/openapi.json.

Run by .ci/clients against a freshly started service: FLOW_BASE_URL is its address, FLOW_ADMIN_PASSWORD the platform
admin's bootstrap password. Every call goes through the generated api functions and typed models (enums included; they
are str enums, so responses compare equal to the contract's strings), so a change to the document that breaks a real
client breaks this run.
"""

import base64
import datetime
import hashlib
import hmac
import os
import struct
import sys
import time
import uuid
from typing import TypeVar

from vcao_platform_api_client import AuthenticatedClient, Client
from vcao_platform_api_client.api.auth import change_password, complete_mfa, confirm_totp, enrol_totp, get_me, login
from vcao_platform_api_client.api.cases import get_case
from vcao_platform_api_client.api.embedding import create_shift
from vcao_platform_api_client.api.platform import create_tenant
from vcao_platform_api_client.api.reference import list_police_divisions
from vcao_platform_api_client.api.referrals import accept_referral, convert_referral, create_referral, get_referral
from vcao_platform_api_client.api.users import create_user
from vcao_platform_api_client.models import (
    CaseResponse,
    ChangePasswordRequest,
    ConversionResponse,
    CreateReferralRequest,
    CreateReferralRequestUrgency,
    CreateReferralRequestVictimizationTypesItem,
    CreateShiftRequest,
    CreateTenantRequest,
    CreateTenantRequestKind,
    CreateUserRequest,
    CreateUserRequestRolesItem,
    LoginRequest,
    MeResponse,
    MfaChallengeResponse,
    MfaRequest,
    PagePoliceDivisionResponse,
    Problem,
    ReferralDetailResponse,
    ReferralPersonDto,
    RecoveryCodesResponse,
    ReferralResponse,
    SafeContactDto,
    SetupTokenResponse,
    ShiftResponse,
    TenantAdminRequest,
    TenantResponse,
    TokenResponse,
    TotpCodeRequest,
    TotpEnrolmentResponse,
    UserResponse,
)
from vcao_platform_api_client.types import Response

BASE_URL = os.environ["FLOW_BASE_URL"]
INITIAL_PASSWORD = "flow-check-initial-2026"  # what an admin gives a user they create: changed at first sign-in
PASSWORD = "flow-check-passphrase-2026"  # 12..128 characters: what each user then chooses
T = TypeVar("T")


def expect(step: str, response: Response[T | Problem], status: int, kind: type[T]) -> T:
    """The documented success status and model, or exit with the problem+json the service sent."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        detail = response.parsed if isinstance(response.parsed, Problem) else response.content[:500]
        sys.exit(f"flow: {step}: expected {status} {kind.__name__}, got {int(response.status_code)}: {detail}")
    return response.parsed


def setup_sign_in(tenant: str, email: str, password: str) -> SetupTokenResponse:
    """A sign-in that answers a token for the account's setup only (and no refresh token)."""
    # The document marks login `security: [{}]` (anonymous allowed), which the generator types as needing an
    # AuthenticatedClient; a plain Client is what login really takes, hence the ignore.
    anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
    body = LoginRequest(tenant=tenant, email=email, password=password)
    return expect(f"login {email}", login.sync_detailed(client=anonymous, body=body), 200, SetupTokenResponse)  # type: ignore[arg-type]


def first_sign_in(tenant: str, email: str, initial: str) -> SetupTokenResponse:
    """A new user's first sign-ins: the password someone else set may only be changed; then, as the tenant requires
    a second factor, the next sign-in may only enrol one."""
    setup = setup_sign_in(tenant, email, initial)
    assert setup.password_change_required and not setup.mfa_enrolment_required, setup
    restricted = AuthenticatedClient(base_url=BASE_URL, token=setup.access_token, raise_on_unexpected_status=False)
    refused = get_case.sync_detailed(client=restricted, id=uuid.uuid4())
    assert refused.status_code == 403 and isinstance(refused.parsed, Problem), refused
    assert refused.parsed.code == "password_change_required", refused.parsed
    change = ChangePasswordRequest(current_password=initial, new_password=PASSWORD)
    changed = change_password.sync_detailed(client=restricted, body=change)
    assert changed.status_code == 204, changed
    setup = setup_sign_in(tenant, email, PASSWORD)
    assert setup.mfa_enrolment_required and not setup.password_change_required, setup
    return setup


def enrol_authenticator(setup: SetupTokenResponse) -> tuple[str, list[str]]:
    """Enrols and confirms an authenticator with the setup token; its secret and the recovery codes."""
    restricted = AuthenticatedClient(base_url=BASE_URL, token=setup.access_token, raise_on_unexpected_status=True)
    enrolment = expect("enrol totp", enrol_totp.sync_detailed(client=restricted), 201, TotpEnrolmentResponse)
    assert enrolment.otpauth_uri.startswith("otpauth://totp/"), enrolment.otpauth_uri
    confirmed = expect(
        "confirm totp",
        confirm_totp.sync_detailed(client=restricted, body=TotpCodeRequest(code=totp(enrolment.secret, time.time()))),
        200,
        RecoveryCodesResponse,
    )
    assert len(confirmed.recovery_codes) == 10, confirmed
    return enrolment.secret, confirmed.recovery_codes


def totp(secret: str, at: float) -> str:
    """The code an authenticator app shows for `secret` (base32) at `at` (RFC 6238: SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def sign_in_with_code(tenant: str, email: str, password: str, code: str) -> AuthenticatedClient:
    """Signs in with a password and then a code: from the authenticator, or a recovery code."""
    anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
    body = LoginRequest(tenant=tenant, email=email, password=password)
    challenge = expect(f"login {email}", login.sync_detailed(client=anonymous, body=body), 200, MfaChallengeResponse)  # type: ignore[arg-type]
    assert challenge.mfa_required and "totp" in challenge.methods, challenge
    second = MfaRequest(mfa_token=challenge.mfa_token, code=code)
    tokens = expect(f"mfa {email}", complete_mfa.sync_detailed(client=anonymous, body=second), 200, TokenResponse)  # type: ignore[arg-type]
    assert tokens.token_type == "Bearer" and tokens.expires_in > 0, tokens
    return AuthenticatedClient(base_url=BASE_URL, token=tokens.access_token, raise_on_unexpected_status=True)


def main() -> None:
    # The bootstrap admin's password came from the operator's settings, and platform admins always need a second
    # factor: the first sign-ins change the one and enrol the other; this session signs in with a recovery code
    # (the confirmation spent the authenticator's current code).
    platform_email = "admin@platform.local"
    setup = first_sign_in("platform", platform_email, os.environ["FLOW_ADMIN_PASSWORD"])
    _, platform_codes = enrol_authenticator(setup)
    platform = sign_in_with_code("platform", platform_email, PASSWORD, platform_codes[0])

    # An agency tenant with its first admin (agency_admin).
    slug = f"flow-{uuid.uuid4().hex[:12]}"
    admin_email = f"admin@{slug}.example"
    tenant = expect(
        "create tenant",
        create_tenant.sync_detailed(
            client=platform,
            body=CreateTenantRequest(
                slug=slug,
                name="Flow Check Victim Services",
                kind=CreateTenantRequestKind.AGENCY,
                admin=TenantAdminRequest(email=admin_email, display_name="Flow Admin", password=INITIAL_PASSWORD),
            ),
        ),
        201,
        TenantResponse,
    )
    assert (tenant.slug, tenant.kind, tenant.mfa_required) == (slug, "agency", True), tenant
    _, admin_codes = enrol_authenticator(first_sign_in(slug, admin_email, INITIAL_PASSWORD))
    admin = sign_in_with_code(slug, admin_email, PASSWORD, admin_codes[0])
    admin_me = expect("me (admin)", get_me.sync_detailed(client=admin), 200, MeResponse)
    assert admin_me.roles == ["agency_admin"] and admin_me.tenant.id == tenant.id, admin_me

    # A case manager, who will be on duty, receive the referral, accept and convert it.
    worker_email = f"worker@{slug}.example"
    worker = expect(
        "create user",
        create_user.sync_detailed(
            client=admin,
            body=CreateUserRequest(
                email=worker_email,
                display_name="Flow Worker",
                roles=[CreateUserRequestRolesItem.CASE_MANAGER],
                password=INITIAL_PASSWORD,
            ),
        ),
        201,
        UserResponse,
    )
    assert worker.active and worker.roles == ["case_manager"], worker

    # The worker chooses a password and enrols an authenticator at first sign-in, then signs in with a code from it
    # (the next step's: the confirmation spent the current one).
    secret, _ = enrol_authenticator(first_sign_in(slug, worker_email, INITIAL_PASSWORD))
    case_manager = sign_in_with_code(slug, worker_email, PASSWORD, totp(secret, time.time() + 30))

    # Toronto Police 51 Division, from the seeded reference data.
    divisions = expect(
        "list divisions",
        list_police_divisions.sync_detailed(client=case_manager, limit=200),
        200,
        PagePoliceDivisionResponse,
    )
    d51 = next(d for d in divisions.items if d.code == "51")

    # The admin puts the worker on shift there now, so the referral is assigned to them.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    shift = expect(
        "create shift",
        create_shift.sync_detailed(
            client=admin,
            body=CreateShiftRequest(
                user_id=worker.id,
                division_id=d51.id,
                starts_at=now - datetime.timedelta(hours=1),
                ends_at=now + datetime.timedelta(hours=7),
            ),
        ),
        201,
        ShiftResponse,
    )
    assert (shift.user_id, shift.division_id) == (worker.id, d51.id), shift

    referral = expect(
        "create referral",
        create_referral.sync_detailed(
            client=case_manager,
            idempotency_key=f"flow-{slug}",
            body=CreateReferralRequest(
                division_id=d51.id,
                urgency=CreateReferralRequestUrgency.IMMEDIATE,
                victimization_types=[CreateReferralRequestVictimizationTypesItem.HUMAN_TRAFFICKING_SEXUAL],
                consent_to_contact=True,
                occurrence_number="TPS-2026-0051",
                person=ReferralPersonDto(
                    given_name="Flow",
                    family_name="Check",
                    phone="416-555-0151",
                    safe_contact=SafeContactDto(ok_to_call=True, ok_to_text=False, ok_to_voicemail=False),
                ),
            ),
        ),
        201,
        ReferralResponse,
    )
    assert (referral.status, referral.assigned_to, referral.division_id) == ("pending", worker.id, d51.id), referral

    accepted = expect(
        "accept referral",
        accept_referral.sync_detailed(referral.id, client=case_manager),
        200,
        ReferralResponse,
    )
    assert (accepted.status, accepted.accepted_by) == ("accepted", worker.id), accepted
    assert isinstance(accepted.accepted_at, datetime.datetime), accepted

    converted = expect(
        "convert referral",
        convert_referral.sync_detailed(referral.id, client=case_manager),
        201,
        ConversionResponse,
    )

    case = expect("get case", get_case.sync_detailed(converted.case_id, client=case_manager), 200, CaseResponse)
    assert case.id == converted.case_id and case.client_id == converted.client_id, case
    assert (case.status, case.referral_source, case.restricted) == ("open", "police", False), case
    assert case.victimization_types == ["human_trafficking_sexual"], case
    assert (case.division_id, case.assigned_to, case.program_id) == (d51.id, worker.id, None), case
    assert case.closed_at is None and case.version >= 1, case

    detail = expect(
        "get referral",
        get_referral.sync_detailed(referral.id, client=case_manager),
        200,
        ReferralDetailResponse,
    )
    assert (detail.status, detail.case_id, detail.client_id) == ("converted", case.id, case.client_id), detail

    print(f"flow: ok: referral {referral.id} at division 51 accepted by {worker_email} and converted into case {case.id}")


if __name__ == "__main__":
    main()
