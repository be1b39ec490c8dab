-- pgbench script for bench/requests.sh: the statements the service sent for one GET /cases/{id}, as captured
-- with log_statement = 'all' (bench/requests.sh, stage capture), in the same transactions. Run as
-- vcao_app with -M prepared (the service's driver prepares and caches its statements too). Values the
-- service computes (ids, times, sealed bytes) are made in SQL; the ids a client sends are drawn from
-- bench_ids (10,000 of the tenant's cases and clients) inside the statement that uses them, so no
-- round trip is added. @TENANT@ is replaced before the run: SET takes no parameters.
\set n random(1, :nids)
-- The read and its audit event (appended: written at the commit), in one transaction.
BEGIN;
-- The transaction's first message sets the tenant and checks the caller's session (migration
-- m20261129_000008): the service sends `SET LOCAL app.tenant_id = '…'; SELECT
-- vcao_require_live_session(…)` as one simple-protocol message, one round trip. pgbench cannot send
-- two statements in one message in prepared mode, so it sends set_config(…, true), SET LOCAL's
-- function form (the same assignment, for the rest of the transaction), with the check in one
-- prepared statement: one round trip, as the service.
SELECT set_config('app.tenant_id', '@TENANT@', true), vcao_require_live_session(:tenant, :session, :user);
SELECT "cases"."tenant_id", "cases"."id", "cases"."client_id", "cases"."status", "cases"."victimization_types", "cases"."referral_source", "cases"."program_id", "cases"."division_id", "cases"."assigned_to", "cases"."restricted", "cases"."risk_level", "cases"."opened_at", "cases"."closed_at", "cases"."version", "cases"."created_at", "cases"."updated_at" FROM "cases" WHERE "cases"."tenant_id" = :tenant AND "cases"."id" = (SELECT case_id FROM bench_ids WHERE n = :n) LIMIT 1 \gset k_
INSERT INTO "audit_events" ("tenant_id", "id", "occurred_at", "actor_id", "action", "resource_type", "resource_id", "client_ip", "request_id", "details") VALUES (:tenant, bench_uuid_v7(), now(), :user, 'case.read', 'case', :k_id, '127.0.0.1', bench_uuid_v7()::text, '{}');
COMMIT;
