// Compiled (never run) by .ci/clients with `tsc --strict --noEmit` against the types openapi-typescript generates from
// openapi/openapi.json. It uses the types the way a client would, so a schema regression (a renamed or dropped field,
// a required field turned optional, a lost response body) stops it compiling.
import type { components, paths } from "../generated/typescript/api";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

// Request bodies and responses, reached through the paths a client calls.
type LoginBody = paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"];
type LoginOk = paths["/api/v1/auth/login"]["post"]["responses"][200]["content"]["application/json"];
type LoginThrottled = paths["/api/v1/auth/login"]["post"]["responses"][429]["content"]["application/problem+json"];
type CreateReferralBody = paths["/api/v1/referrals"]["post"]["requestBody"]["content"]["application/json"];
type ReferralCreated = paths["/api/v1/referrals"]["post"]["responses"][201]["content"]["application/json"];
type Accepted = paths["/api/v1/referrals/{id}/accept"]["post"]["responses"][200]["content"]["application/json"];
type Converted = paths["/api/v1/referrals/{id}/convert"]["post"]["responses"][201]["content"]["application/json"];
type CaseOk = paths["/api/v1/cases/{id}"]["get"]["responses"][200]["content"]["application/json"];
type CaseNotFound = paths["/api/v1/cases/{id}"]["get"]["responses"][404]["content"]["application/problem+json"];
type CasePath = paths["/api/v1/cases/{id}"]["get"]["parameters"]["path"];
type CaseList = paths["/api/v1/cases"]["get"]["responses"][200]["content"]["application/json"];

const login: LoginBody = { tenant: "platform", email: "admin@platform.local", password: "correct horse battery" };

const referral: CreateReferralBody = {
  division_id: "01936f1e-0000-7000-8000-000000000004",
  urgency: "immediate",
  victimization_types: ["human_trafficking_sexual"],
  consent_to_contact: true,
  person: {
    given_name: "Ana",
    phone: "416-555-0199",
    safe_contact: { ok_to_call: true, ok_to_text: false, ok_to_voicemail: false },
  },
};

// Required fields must stay required: each of these lines must fail to compile.
// @ts-expect-error consent_to_contact is required
const noConsent: CreateReferralBody = { ...referral, consent_to_contact: undefined };
// @ts-expect-error the password is required to sign in
const noPassword: LoginBody = { tenant: login.tenant, email: login.email };
// @ts-expect-error a case is read by its id
const noId: CasePath = {};
// Closed sets stay closed: an unknown urgency or case status must not compile.
// @ts-expect-error urgency is immediate, same_day or routine
const whenever: CreateReferralBody["urgency"] = "whenever";
// @ts-expect-error a case is open or closed
const archived: CaseOk["status"] = "archived";

// A sign-in answers tokens; for a user with an authenticator, the second step it waits for; or a token that may
// only finish the account's setup (change a password someone else set, enrol a second factor).
function authorization(answer: LoginOk): string {
  if ("mfa_required" in answer) {
    const next: string = answer.mfa_token;
    return next.length > 0 ? "" : "";
  }
  if ("password_change_required" in answer) {
    const step: string = answer.password_change_required ? "POST /api/v1/me/password" : "POST /api/v1/me/mfa/totp";
    // @ts-expect-error a setup token comes without a refresh token
    const refresh: string = answer.refresh_token;
    return `${step} ${refresh}`;
  }
  const renew: string = answer.refresh_token;
  const seconds: number = answer.expires_in + renew.length * 0;
  return seconds > 0 ? `${answer.token_type} ${answer.access_token}` : "";
}

// Every error body is the one Problem shape, with a stable code and optional per-field errors.
function explain(problem: Problem | CaseNotFound | LoginThrottled): string {
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
  return [`${problem.status} ${problem.code}: ${problem.detail}`, ...fields].join("\n");
}

function stillPending(created: ReferralCreated): boolean {
  const assigned: string | null | undefined = created.assigned_to;
  return created.status === "pending" && assigned !== undefined && created.version >= 1;
}

function acceptedBy(accepted: Accepted): string | null {
  return accepted.accepted_at ? (accepted.accepted_by ?? null) : null;
}

function summary(c: CaseOk, from: Converted): string {
  const types: string[] = c.victimization_types;
  const open = c.status === "open" && c.closed_at == null && c.id === from.case_id && c.client_id === from.client_id;
  return `${c.id} v${c.version.toFixed(0)} ${open ? "open" : c.status} ${types.join(",")} ${c.referral_source}`;
}

function nextPage(page: CaseList): string | undefined {
  const ids: string[] = page.items.map((c) => c.id);
  return ids.length > 0 ? (page.next_cursor ?? undefined) : undefined;
}

export { authorization, explain, stillPending, acceptedBy, summary, nextPage };
export { login, referral, noConsent, noPassword, noId, whenever, archived };
