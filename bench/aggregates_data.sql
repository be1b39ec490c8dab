-- The reporting facts 1,000,000 cases in 50 agencies would have written over two fiscal years
-- (2025-04-01 to 2027-03-31), for bench/aggregates.sh. Run by bench/aggregates_data.sh as the
-- owner (postgres) on a freshly migrated database. GET /aggregates reads only reporting_facts
-- (and tenants, for agency slugs), so no case, client or referral rows are made.
\set ON_ERROR_STOP on
-- Staging lives in temp tables; give them and the final sort room in memory.
SET temp_buffers = '1GB';
SET work_mem = '512MB';
SET maintenance_work_mem = '1GB';
SET synchronous_commit = off;
-- random() is seeded and pseudonyms hash the agency's number, not its random uuid, so every run
-- makes the same figures (only the uuids differ).
SELECT setseed(0.2025) \g /dev/null

-- A uniform number in [0,1) from a text: client-level attributes hash the client's pseudonym, so a
-- client with two cases keeps one gender and date of birth.
CREATE FUNCTION pg_temp.u(t text) RETURNS float8 LANGUAGE sql IMMUTABLE
  AS $$ SELECT ('x' || substr(md5(t), 1, 8))::bit(32)::bigint / 4294967296.0 $$;
-- domain::person::age_band on the day of the fact (age >= 12 exactly when dob <= d - 12 years).
CREATE FUNCTION pg_temp.age_band(dob date, d date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN dob IS NULL THEN 'unknown'
    WHEN dob > d - interval '12 years' THEN '0-11' WHEN dob > d - interval '18 years' THEN '12-17'
    WHEN dob > d - interval '25 years' THEN '18-24' WHEN dob > d - interval '35 years' THEN '25-34'
    WHEN dob > d - interval '45 years' THEN '35-44' WHEN dob > d - interval '55 years' THEN '45-54'
    WHEN dob > d - interval '65 years' THEN '55-64' ELSE '65+' END $$;
-- Ontario fiscal quarter label (the year starts 1 April): 2027-02-10 is 2026-Q4.
CREATE FUNCTION pg_temp.fq(d date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN extract(month FROM d) >= 4
    THEN extract(year FROM d)::int || '-Q' || ((extract(month FROM d)::int - 4) / 3 + 1)
    ELSE (extract(year FROM d)::int - 1) || '-Q4' END $$;
-- A standard normal variate (Box-Muller), for log-normal amounts and response times.
CREATE FUNCTION pg_temp.z(u1 float8, u2 float8) RETURNS float8 LANGUAGE sql IMMUTABLE
  AS $$ SELECT sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2) $$;
-- Victimization types as domain::case names them, skewed as agencies report (2 % not recorded).
CREATE FUNCTION pg_temp.vt(r float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r < 0.44 THEN 'intimate_partner_violence' WHEN r < 0.62 THEN 'sexual_assault'
    WHEN r < 0.77 THEN 'other_violent_crime' WHEN r < 0.81 THEN 'homicide_bereavement'
    WHEN r < 0.855 THEN 'human_trafficking_sexual' WHEN r < 0.865 THEN 'human_trafficking_labour'
    WHEN r < 0.98 THEN 'other' END $$;
-- Police division codes, the busiest first (power > 1 skews toward the start of the list).
CREATE FUNCTION pg_temp.division(r float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (ARRAY['51','52','14','32','31','22','41','55','42','43','12','13','53','11','23','33'])
    [1 + floor(16 * power(r, 1.7))::int] $$;
-- A date of birth from two uniforms: the age band (3 % unknown) as of 2026-04-01, then an age in it.
CREATE FUNCTION pg_temp.dob(a float8, b float8) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN a < 0.03 THEN NULL ELSE DATE '2026-04-01' - (365.25 * CASE
    WHEN a < 0.07 THEN 12 * b WHEN a < 0.15 THEN 12 + 6 * b WHEN a < 0.30 THEN 18 + 7 * b
    WHEN a < 0.55 THEN 25 + 10 * b WHEN a < 0.75 THEN 35 + 10 * b WHEN a < 0.87 THEN 45 + 10 * b
    WHEN a < 0.95 THEN 55 + 10 * b ELSE 65 + 25 * b END)::int END $$;

BEGIN;

-- 50 agencies with Zipf-like sizes (the largest ~23 % of cases), plus five tiny ones (60 to 300
-- cases) so that small cells, and therefore suppression, really occur.
CREATE TEMP TABLE bench_agency AS
WITH sized AS (
  SELECT i, CASE WHEN i > 45 THEN (i - 45) * 60
    ELSE floor(999100 * power(i, -1.1) / (SELECT sum(power(j, -1.1)) FROM generate_series(1, 45) j))::int END AS cases
  FROM generate_series(1, 50) i
), exact AS ( -- the rounding remainder goes to the largest, so there are exactly 1,000,000 cases
  SELECT i, cases + CASE WHEN i = 1 THEN 1000000 - (SELECT sum(cases) FROM sized)::int ELSE 0 END AS cases FROM sized
)
SELECT i, gen_random_uuid() AS id, format('bench-agency-%s', lpad(i::text, 2, '0')) AS slug, cases,
       sum(cases) OVER (ORDER BY i) - cases + 1 AS lo, sum(cases) OVER (ORDER BY i) AS hi
FROM exact;

-- The service names agencies by slug, looking their ids up in tenants.
INSERT INTO tenants (id, slug, name, kind, created_at)
SELECT id, slug, format('Bench Agency %s', lpad(i::text, 2, '0')), 'agency', now() FROM bench_agency;

-- One row per case. The MATERIALIZED CTE draws each random number once per case. About 13 % of
-- cases are a returning client's (n * 0.87 maps two neighbouring cases to one client).
CREATE TEMP TABLE bench_case AS
WITH c AS MATERIALIZED (
  SELECT a.id AS tenant_id, n, md5(a.i || ':client:' || floor(n * 0.87)::bigint) AS subject,
         random() AS r_day, random() AS r_vt, random() AS r_prog, random() AS r_div, random() AS r_div2,
         random() AS r_close, random() AS r_close_days, random() AS r_svc
  FROM bench_agency a, generate_series(a.lo, a.hi) AS n
)
SELECT tenant_id, n, subject,
  -- Opening dates grow ~20 % a year (density rises over the two years).
  DATE '2025-04-01' + floor(730 * power(r_day, 0.85))::int AS opened_on,
  pg_temp.vt(r_vt) AS victimization_type,
  CASE WHEN r_prog < 0.55 THEN 'crisis_response' WHEN r_prog < 0.77 THEN 'exit_route'
       WHEN r_prog < 0.86 THEN 'court_support' WHEN r_prog < 0.91 THEN 'human_trafficking' END AS program,
  CASE WHEN r_div < 0.55 THEN pg_temp.division(r_div2) END AS division, -- police-referred cases
  CASE WHEN u < 0.66 THEN 'woman' WHEN u < 0.91 THEN 'man' WHEN u < 0.935 THEN 'non_binary'
       WHEN u < 0.943 THEN 'two_spirit' WHEN u < 0.95 THEN 'another_gender'
       WHEN u < 0.98 THEN 'prefer_not_to_say' END AS gender, -- 2 % not recorded
  pg_temp.dob(pg_temp.u(subject || 'a'), pg_temp.u(subject || 'b')) AS dob,
  -- ~62 % are closed, after an exponential 50 days on average; later than the period: still open.
  CASE WHEN r_close < 0.62 THEN floor(-ln(1 - r_close_days) * 50)::int END AS days_open,
  1 + (r_svc < 0.45)::int + (r_svc < 0.15)::int AS services -- 1-3, 1.6 on average
FROM c, LATERAL (SELECT pg_temp.u(subject || 'g') AS u) g;

-- Services: dated in the case's first ~90 days (early ones more likely), not after it closed.
-- 7 % are VQRP+ with a log-normal amount (median $800, at most $6,000).
CREATE TEMP TABLE bench_service AS
WITH s AS MATERIALIZED (
  SELECT c.*, random() AS r_type, random() AS r_day, random() AS r_min, random() AS u1, random() AS u2
  FROM bench_case c, generate_series(1, c.services) AS k
)
SELECT tenant_id, subject, program, victimization_type, division, gender, dob,
  least(opened_on + floor(90 * power(r_day, 2))::int, opened_on + coalesce(days_open, 100000)) AS delivered_on,
  t.service_type,
  CASE WHEN t.service_type = 'vqrp_plus'
       THEN least(600000, round(exp(ln(80000) + 0.7 * pg_temp.z(u1, u2)) / 100) * 100)::bigint END AS amount_cents,
  (10 + floor(170 * power(r_min, 2)))::bigint AS minutes
FROM s, LATERAL (SELECT CASE
  WHEN r_type < 0.22 THEN 'crisis_intervention' WHEN r_type < 0.40 THEN 'emotional_support'
  WHEN r_type < 0.54 THEN 'safety_planning' WHEN r_type < 0.64 THEN 'practical_assistance'
  WHEN r_type < 0.72 THEN 'court_support' WHEN r_type < 0.78 THEN 'accompaniment'
  WHEN r_type < 0.82 THEN 'transportation' WHEN r_type < 0.85 THEN 'emergency_shelter_referral'
  WHEN r_type < 0.92 THEN 'vqrp_plus' WHEN r_type < 0.96 THEN 'referral_to_community'
  ELSE 'follow_up' END AS service_type) t;

-- Each VQRP+ service's application (issue 23): submitted about a week before the money was paid,
-- decided within its window (1 to 10 business days, most in 3 to 5; 8 % declined, approving 0),
-- and paid on the service's day; its category is the facts' service type.
CREATE TEMP TABLE bench_vqrp AS
WITH v AS MATERIALIZED (
  SELECT s.*, random() AS r_cat, random() AS r_days, random() AS r_dec, random() AS r_wait
  FROM bench_service s WHERE s.service_type = 'vqrp_plus'
)
SELECT tenant_id, subject, program, victimization_type, division, gender, dob, delivered_on,
  CASE WHEN r_cat < 0.35 THEN 'immediate_safety' WHEN r_cat < 0.45 THEN 'crime_scene_cleanup'
       WHEN r_cat < 0.70 THEN 'transportation_accommodation' WHEN r_cat < 0.95 THEN 'counselling'
       ELSE 'funeral' END AS category,
  delivered_on - 4 - floor(10 * r_wait)::int AS submitted_on,
  1 + floor(9 * power(r_days, 1.6))::bigint AS business_days,
  CASE WHEN r_dec < 0.08 THEN 0 ELSE amount_cents END AS approved_cents,
  r_dec >= 0.08 AS paid, amount_cents
FROM v;

-- One referral per two cases, in the same agencies. A referral's person is its own subject and
-- has no recorded gender. ~95 % are accepted and ~85 % reach first contact; minutes are
-- log-normal with medians by urgency (accept: 7 / 50 / 360, then contact 15 / 90 / 600 later).
CREATE TEMP TABLE bench_referral AS
WITH r AS MATERIALIZED (
  SELECT tenant_id, md5(tenant_id::text || ':referral:' || n) AS subject,
         random() AS r_day, random() AS r_tod, random() AS r_urg, random() AS r_div, random() AS r_prog,
         random() AS r_vt, random() AS r_a, random() AS r_b, random() AS r_acc, random() AS u1, random() AS u2
  FROM bench_case WHERE n % 2 = 0
)
SELECT tenant_id, subject, DATE '2025-04-01' + floor(730 * power(r_day, 0.85))::int AS created_on,
  floor(1440 * r_tod)::int AS minute_of_day, urgency, pg_temp.division(r_div) AS division,
  CASE WHEN r_prog < 0.80 THEN 'exit_route' WHEN r_prog < 0.95 THEN 'crisis_response' END AS program,
  pg_temp.vt(r_vt) AS victimization_type,
  CASE WHEN r_a >= 0.27 THEN pg_temp.dob((r_a - 0.27) / 0.73, r_b) END AS dob, -- 30 % unknown
  CASE WHEN r_acc < 0.95 THEN least(20160, round(exp(ln(m.accept) + pg_temp.z(u1, u2))))::bigint END AS accept_min,
  CASE WHEN r_acc < 0.85 THEN least(20160, round(exp(ln(m.accept) + pg_temp.z(u1, u2)))
       + round(exp(ln(m.contact) + 0.9 * sqrt(-2 * ln(1 - u1)) * sin(2 * pi() * u2))))::bigint END AS contact_min
FROM r, LATERAL (SELECT CASE WHEN r_urg < 0.20 THEN 'immediate' WHEN r_urg < 0.55 THEN 'same_day' ELSE 'routine' END AS urgency) g,
  LATERAL (SELECT CASE g.urgency WHEN 'immediate' THEN 7 WHEN 'same_day' THEN 50 ELSE 360 END AS accept,
                  CASE g.urgency WHEN 'immediate' THEN 15 WHEN 'same_day' THEN 90 ELSE 600 END AS contact) m;

-- All facts in one insert, in date order, as the service would have appended them over time
-- (so the heap is ordered by day, with agencies and kinds mixed within a day). Facts that would
-- fall after 2027-03-31 have not happened yet.
INSERT INTO reporting_facts (tenant_id, id, kind, occurred_on, fiscal_quarter, month, program, victimization_type,
  division, service_type, urgency, gender, age_band, amount_cents, minutes, business_days, subject)
SELECT tenant_id, gen_random_uuid(), kind, d, pg_temp.fq(d), to_char(d, 'YYYY-MM'), program, victimization_type,
  division, service_type, urgency, gender, pg_temp.age_band(dob, d), amount_cents, minutes, business_days, subject
FROM (
  SELECT tenant_id, 'case_opened' AS kind, opened_on AS d, program, victimization_type, division,
         NULL AS service_type, NULL AS urgency, gender, dob, NULL::bigint AS amount_cents, NULL::bigint AS minutes, NULL::bigint AS business_days, subject
  FROM bench_case
  UNION ALL
  SELECT tenant_id, 'case_closed', opened_on + days_open, program, victimization_type, division,
         NULL, NULL, gender, dob, NULL, NULL, NULL, subject
  FROM bench_case WHERE days_open IS NOT NULL
  UNION ALL
  SELECT tenant_id, 'service_delivered', delivered_on, program, victimization_type, division,
         service_type, NULL, gender, dob, amount_cents, minutes, NULL, subject
  FROM bench_service
  UNION ALL
  SELECT tenant_id, 'referral_created', created_on, program, victimization_type, division,
         NULL, urgency, NULL, dob, NULL, NULL, NULL, subject
  FROM bench_referral
  UNION ALL
  SELECT tenant_id, 'referral_accepted', created_on + (minute_of_day + accept_min)::int / 1440, program,
         victimization_type, division, NULL, urgency, NULL, dob, NULL, accept_min, NULL, subject
  FROM bench_referral WHERE accept_min IS NOT NULL
  UNION ALL
  SELECT tenant_id, 'referral_first_contact', created_on + (minute_of_day + contact_min)::int / 1440, program,
         victimization_type, division, NULL, urgency, NULL, dob, NULL, contact_min, NULL, subject
  FROM bench_referral WHERE contact_min IS NOT NULL
  UNION ALL
  SELECT tenant_id, 'vqrp_application_submitted', submitted_on, program, victimization_type, division,
         category, NULL, gender, dob, NULL, NULL, NULL, subject
  FROM bench_vqrp
  UNION ALL
  SELECT tenant_id, 'vqrp_application_decided', submitted_on + (business_days * 7 / 5)::int, program,
         victimization_type, division, category, NULL, gender, dob, approved_cents, NULL, business_days, subject
  FROM bench_vqrp
  UNION ALL
  SELECT tenant_id, 'vqrp_payment', delivered_on, program, victimization_type, division,
         category, NULL, gender, dob, amount_cents, NULL, NULL, subject
  FROM bench_vqrp WHERE paid
) f
WHERE d <= DATE '2027-03-31'
ORDER BY d;

COMMIT;
