-- pgbench script for bench/requests.sh: the statements the service sent for one POST /cases, as captured
-- with log_statement = 'all' (bench/requests.sh, stage capture), in the same transactions. Run as
-- vcao_app with -M prepared (the service's driver prepares and caches its statements too). Values the
-- service computes (ids, times, sealed bytes) are made in SQL; the ids a client sends are drawn from
-- bench_ids (10,000 of the tenant's cases and clients) inside the statement that uses them, so no
-- round trip is added. @TENANT@ is replaced before the run: SET takes no parameters.
\set n random(1, :nids)
-- The create: the client (visible? for a supervisor, no case condition), then the case, its types,
-- its fact and its audit event as one statement (the appends queued on the transaction,
-- infra::db::appends). The service makes the case id itself; here a first CTE makes it, so the
-- statement stays one round trip. The types are rows appended together, which the service sends as
-- one JSON array parameter read by jsonb_populate_recordset (infra::db::row_inserts); here the same
-- text is made in SQL and parsed the same way.
BEGIN;
-- The transaction's first message sets the tenant and checks the caller's session (migration
-- m20261129_000008): the service sends `SET LOCAL app.tenant_id = '…'; SELECT
-- vcao_require_live_session(…)` as one simple-protocol message, one round trip. pgbench cannot send
-- two statements in one message in prepared mode, so it sends set_config(…, true), SET LOCAL's
-- function form (the same assignment, for the rest of the transaction), with the check in one
-- prepared statement: one round trip, as the service.
SELECT set_config('app.tenant_id', '@TENANT@', true), vcao_require_live_session(:tenant, :session, :user);
SELECT "clients"."tenant_id", "clients"."id", "clients"."given_name_sealed", "clients"."family_name_sealed", "clients"."date_of_birth_sealed", "clients"."gender", "clients"."phone_sealed", "clients"."email_sealed", "clients"."preferred_language_sealed", "clients"."address_sealed", "clients"."safe_contact_sealed", "clients"."given_name_index", "clients"."family_name_index", "clients"."date_of_birth_index", "clients"."version", "clients"."created_at", "clients"."updated_at" FROM "clients" WHERE "clients"."tenant_id" = :tenant AND "clients"."id" = (SELECT client_id FROM bench_ids WHERE n = :n) LIMIT 1 \gset c_
WITH "made" AS (SELECT bench_uuid_v7() AS "case_id"), "append_0" AS (INSERT INTO "cases" ("tenant_id", "id", "client_id", "status", "victimization_types", "referral_source", "program_id", "division_id", "assigned_to", "restricted", "risk_level", "opened_at", "closed_at", "version", "created_at", "updated_at") SELECT :tenant, "case_id", :c_id, 'open', 'intimate_partner_violence', 'police', NULL, NULL, NULL, false, NULL, now(), NULL, 1, now(), now() FROM "made") , "append_1" AS (INSERT INTO "case_victimization_types" ("tenant_id", "case_id", "victimization_type") SELECT "r"."tenant_id", "r"."case_id", "r"."victimization_type" FROM "made", jsonb_populate_recordset(NULL::"case_victimization_types", ('[{"tenant_id": "' || :tenant || '", "case_id": "' || "made"."case_id" || '", "victimization_type": "intimate_partner_violence"}]')::jsonb) AS "r") , "append_2" AS (INSERT INTO "reporting_facts" ("tenant_id", "id", "kind", "occurred_on", "fiscal_quarter", "month", "program", "victimization_type", "division", "service_type", "urgency", "gender", "age_band", "amount_cents", "minutes", "subject") VALUES (:tenant, bench_uuid_v7(), 'case_opened', current_date, '2026-Q3', '2026-11', NULL, 'intimate_partner_violence', NULL, NULL, NULL, 'woman', '35-44', NULL, NULL, md5(:c_id))) INSERT INTO "audit_events" ("tenant_id", "id", "occurred_at", "actor_id", "action", "resource_type", "resource_id", "client_ip", "request_id", "details") SELECT :tenant, bench_uuid_v7(), now(), :user, 'case.created', 'case', "case_id", '127.0.0.1', bench_uuid_v7()::text, '{"client_id":"' || :c_id || '","restricted"' || chr(58) || 'false}' FROM "made";
COMMIT;
