#!/usr/bin/env python3
"""The sixteen questions of bench/aggregates.sh, answered by DuckDB over the same facts.

bench/aggregates.sh times GET /api/v1/aggregates for a ministry analyst over the
bench/aggregates_data.sh database, and runs this script for the other side. It asks DuckDB the same questions
over a copy of the same `reporting_facts`, so the service can be set side by side with what an
analyst with an embedded column store would otherwise run:

1. export `reporting_facts` from PostgreSQL once (psql `COPY ... TO STDOUT` as CSV; no DuckDB
   postgres extension: it is downloaded on first use and this machine has no internet beyond PyPI),
   convert the CSV to Parquet with DuckDB, and report the time and sizes;
2. load the Parquet into an in-memory DuckDB table (or, with --source parquet, query the file);
3. run each question once untimed, then --runs times, and print median and p95 ms and the cells.

The statements reproduce the service's figures (infra/src/store/aggregates.rs, Metric::kinds and
Metric::measure in domain/src/reporting/mod.rs): the same kinds, period and filters; missing
dimension values as 'not_recorded'; the agency as the tenant id; every margin (GROUP BY CUBE over
the grouped dimensions); and the distinct people of each cell, which suppression needs. DuckDB
computes the raw cells only: no suppression, no agency slugs, no JSON.

Usage: python3 bench/aggregates_duckdb.py --list  (the questions, for bench/aggregates.sh)
       python3 bench/aggregates_duckdb.py --pg postgres://postgres@127.0.0.1:5432/vcao_bench \
           --out DIR [--runs 10] [--threads N] [--source table|parquet] [--reuse] [--check]
Needs: the duckdb package (pip install duckdb) and psql on PATH.
"""

import argparse
import csv
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import duckdb

# The columns the service's statements read, with the types of the migration
# (migrations/src/m20261128_000006_create_reporting.rs). Declared, not sniffed, so every run
# reads the CSV alike (a sniffer could take a column of all-NULL sample rows for VARCHAR).
COLUMNS = [
    ("kind", "VARCHAR"),
    ("occurred_on", "DATE"),
    ("fiscal_quarter", "VARCHAR"),
    ("month", "VARCHAR"),
    ("program", "VARCHAR"),
    ("victimization_type", "VARCHAR"),
    ("division", "VARCHAR"),
    ("service_type", "VARCHAR"),
    ("urgency", "VARCHAR"),
    ("gender", "VARCHAR"),
    ("age_band", "VARCHAR"),
    ("amount_cents", "BIGINT"),
    ("minutes", "BIGINT"),
    ("business_days", "BIGINT"),
    ("subject", "VARCHAR"),
    ("tenant_id", "UUID"),
]

NOT_RECORDED = "not_recorded"

# What each metric counts: its fact kinds, any further filter, and its figure. Distinct people
# (the second column of every cell) are COUNT(DISTINCT subject) throughout.
METRICS = {
    "clients_served": {"kinds": ("case_opened", "service_delivered"), "filter": None,
                       "value": "COUNT(DISTINCT subject)"},
    "cases_opened": {"kinds": ("case_opened",), "filter": None, "value": "COUNT(*)"},
    "services": {"kinds": ("service_delivered",), "filter": None, "value": "COUNT(*)"},
    "vqrp_plus_cents": {"kinds": ("service_delivered",), "filter": "service_type = 'vqrp_plus'",
                        "value": "CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)"},
    # Nearest rank (the smallest value with at least 50 % at or below it, rank ceil(n * 50 / 100)),
    # as the service's ROW_NUMBER form computes it. DuckDB's quantile_disc picks the same element
    # (checked against (n * p + 99) / 100 for n = 1..79 and p = 10, 50, 90, 99); being an
    # aggregate, it also works inside CUBE, where the service needs one window pass per subset.
    "minutes_to_accept_p50": {"kinds": ("referral_accepted",), "filter": "minutes IS NOT NULL",
                              "value": "quantile_disc(minutes, 0.5)"},
    # VQRP+ applications (issue 23): their category is the facts' service_type.
    "vqrp_applications": {"kinds": ("vqrp_application_submitted",), "filter": None, "value": "COUNT(*)"},
    "vqrp_days_to_decision_p50": {"kinds": ("vqrp_application_decided",), "filter": "business_days IS NOT NULL",
                                  "value": "quantile_disc(business_days, 0.5)"},
}

# A dimension: what it is grouped by, and what the cell shows. The agency groups by its uuid (16
# bytes, as the service's PostgreSQL form does) and shows as text; the others are codes whose
# missing values group as 'not_recorded' (fiscal_quarter and month are never missing).
DIMENSIONS = {
    "agency": ("tenant_id", "CAST(tenant_id AS VARCHAR)"),
    "fiscal_quarter": ("fiscal_quarter", "fiscal_quarter"),
    "month": ("month", "month"),
}
for _name in ("program", "victimization_type", "division", "service_type", "gender", "age_band", "urgency"):
    _expr = f"COALESCE({_name}, '{NOT_RECORDED}')"
    DIMENSIONS[_name] = (_expr, _expr)

YEAR = ("2026-04-01", "2027-03-31")  # fiscal 2026
QUARTER = ("2026-04-01", "2026-06-30")  # its first quarter

# The sixteen questions of bench/aggregates.sh, in its order (question, then period). Three plain
# dimensions are answered over a year only, so the quarter asks vqrp_plus_cents by two.
QUESTIONS = [
    ("clients_served", "", *YEAR), ("clients_served", "", *QUARTER),
    ("cases_opened", "agency", *YEAR), ("cases_opened", "agency", *QUARTER),
    ("services", "agency,fiscal_quarter", *YEAR), ("services", "agency,fiscal_quarter", *QUARTER),
    ("clients_served", "agency,month", *YEAR), ("clients_served", "agency,month", *QUARTER),
    ("minutes_to_accept_p50", "agency", *YEAR), ("minutes_to_accept_p50", "agency", *QUARTER),
    ("vqrp_plus_cents", "victimization_type,gender,age_band", *YEAR),
    ("vqrp_plus_cents", "victimization_type,gender", *QUARTER),
    ("vqrp_applications", "agency", *YEAR), ("vqrp_applications", "service_type,fiscal_quarter", *YEAR),
    ("vqrp_days_to_decision_p50", "service_type", *YEAR), ("vqrp_days_to_decision_p50", "service_type", *QUARTER),
]


def question_sql(metric, group_by, start, end):
    """The statement answering one question: one row per cell, d0..dn-1 (NULL where the cell
    totals over that dimension), value, people. Dates are ISO literals the script controls."""
    m = METRICS[metric]
    kinds = ", ".join(f"'{k}'" for k in m["kinds"])
    where = f"kind IN ({kinds}) AND occurred_on BETWEEN DATE '{start}' AND DATE '{end}'"
    if m["filter"]:
        where += f" AND {m['filter']}"
    dims = [d for d in group_by.split(",") if d]
    shown = "".join(f"{DIMENSIONS[d][1]} AS d{i}, " for i, d in enumerate(dims))
    sql = f"SELECT {shown}{m['value']} AS value, COUNT(DISTINCT subject) AS people FROM reporting_facts WHERE {where}"
    if dims:
        # CUBE: every subset of the dimensions, the grand total included, as the service answers.
        sql += f" GROUP BY CUBE ({', '.join(DIMENSIONS[d][0] for d in dims)})"
    return sql


def psql(url, sql, stdout=None):
    """Runs one statement in psql (unaligned, tuples only); returns its output unless redirected."""
    result = subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\t", "-c", sql],
        stdout=stdout if stdout is not None else subprocess.PIPE, text=True, check=True)
    return result.stdout


def export(pg_url, out_dir, con):
    """Copies reporting_facts into out_dir/reporting_facts.parquet, through a CSV from psql.
    Returns the Parquet path. The CSV is removed afterwards: it is several times the Parquet."""
    csv_path = os.path.join(out_dir, "reporting_facts.csv")
    parquet_path = os.path.join(out_dir, "reporting_facts.parquet")
    names = ", ".join(name for name, _ in COLUMNS)
    start = time.perf_counter()
    # COPY TO STDOUT streams through psql into the file: no server-side file, no path quoting.
    with open(csv_path, "w") as f:
        psql(pg_url, f"COPY (SELECT {names} FROM reporting_facts) TO STDOUT WITH (FORMAT csv)", stdout=f)
    exported = time.perf_counter()
    columns = "{" + ", ".join(f"'{name}': '{typ}'" for name, typ in COLUMNS) + "}"
    # PostgreSQL's CSV writes NULL as an empty unquoted field and an empty string as "": keep
    # the two apart (allow_quoted_nulls = false). Rows keep PostgreSQL's order, which is by day
    # (bench/aggregates_data.sql inserts in date order), so row groups have narrow date ranges.
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}', header = false, auto_detect = false, columns = {columns}, "
        f"nullstr = '', allow_quoted_nulls = false)) TO '{parquet_path}' (FORMAT parquet, COMPRESSION zstd)")
    converted = time.perf_counter()
    csv_bytes = os.path.getsize(csv_path)
    os.remove(csv_path)
    print(f"export: psql COPY to CSV {exported - start:.1f} s ({mib(csv_bytes)} MiB), "
          f"CSV to Parquet {converted - exported:.1f} s ({mib(os.path.getsize(parquet_path))} MiB, zstd); "
          f"total {converted - start:.1f} s")
    return parquet_path


def mib(n_bytes):
    return f"{n_bytes / 1048576:.1f}"


def rss_mib():
    """This process's resident memory now (DuckDB runs inside it)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return f"{int(line.split()[1]) / 1024:.0f}"
    return "?"


def load(con, parquet_path, source):
    """Makes `reporting_facts` in DuckDB: an in-memory table of the Parquet, or a view over it."""
    start = time.perf_counter()
    if source == "table":
        con.execute(f"CREATE TABLE reporting_facts AS SELECT * FROM read_parquet('{parquet_path}')")
    else:
        con.execute(f"CREATE VIEW reporting_facts AS SELECT * FROM read_parquet('{parquet_path}')")
    rows = con.execute("SELECT COUNT(*) FROM reporting_facts").fetchone()[0]
    used = con.execute("SELECT COALESCE(SUM(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()[0]
    print(f"load ({source}): {time.perf_counter() - start:.1f} s, {rows:,} rows; "
          f"DuckDB buffer memory {mib(used)} MiB, process RSS {rss_mib()} MiB")


def timed(con, sql):
    """One run: the statement and fetching every cell into Python (the service fetches its
    cells too). Returns (ms, rows)."""
    start = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return (time.perf_counter() - start) * 1000, rows


def stats(samples):
    """Median and nearest-rank p95, as bench/aggregates.sh's stats()."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[math.ceil(len(ordered) * 0.95) - 1]


def check(con, pg_url):
    """Compares two answers with PostgreSQL's, cell by cell (value and people): the FY2026 total
    of clients_served, and cases_opened by agency. The PostgreSQL side is written independently
    (a GROUP BY per subset joined by UNION ALL, the service's portable form), not the CUBE above."""
    start, end = YEAR
    period = f"occurred_on BETWEEN DATE '{start}' AND DATE '{end}'"
    pairs = [
        (("clients_served", ""),
         "SELECT COUNT(DISTINCT subject), COUNT(DISTINCT subject) FROM reporting_facts "
         f"WHERE kind IN ('case_opened', 'service_delivered') AND {period}"),
        (("cases_opened", "agency"),
         "SELECT CAST(tenant_id AS text), COUNT(*), COUNT(DISTINCT subject) FROM reporting_facts "
         f"WHERE kind = 'case_opened' AND {period} GROUP BY tenant_id "
         "UNION ALL SELECT NULL, COUNT(*), COUNT(DISTINCT subject) FROM reporting_facts "
         f"WHERE kind = 'case_opened' AND {period}"),
    ]
    ok = True
    for (metric, group_by), pg_sql in pairs:
        # psql -A -t prints NULL as an empty field; render DuckDB's cells the same way.
        pg_cells = sorted(tuple(row) for row in csv.reader(psql(pg_url, pg_sql).splitlines(), delimiter="\t"))
        _, rows = timed(con, question_sql(metric, group_by, start, end))
        duck_cells = sorted(tuple("" if v is None else str(v) for v in row) for row in rows)
        same = pg_cells == duck_cells
        ok &= same
        total = [c for c in duck_cells if c[0] == ""] if group_by else duck_cells
        print(f"check {metric} by '{group_by or '-'}' {start}..{end}: {len(duck_cells)} cells, "
              f"{'identical to PostgreSQL' if same else 'DIFFERENT from PostgreSQL'}; "
              f"grand total (value, people) = {total[0][-2:] if total else None}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true",
                        help="print the questions (metric|group_by|from|to, one per line) and exit")
    parser.add_argument("--pg", help="PostgreSQL URL of the bench database (a role that reads "
                        "every agency's facts, e.g. the owner postgres)")
    parser.add_argument("--out", help="directory for reporting_facts.parquet and duckdb.tsv")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per question, after one warm-up")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="DuckDB threads (default: all cores)")
    parser.add_argument("--source", choices=("table", "parquet"), default="table",
                        help="query an in-memory table loaded from the Parquet, or the Parquet file itself")
    parser.add_argument("--reuse", action="store_true", help="skip the export if DIR already has the Parquet")
    parser.add_argument("--check", action="store_true",
                        help="compare two answers with PostgreSQL's before timing (exit 1 if they differ)")
    args = parser.parse_args()
    if args.list:
        # bench/aggregates.sh asks the service these, so both sides ask the same sixteen.
        for metric, group_by, start, end in QUESTIONS:
            print(f"{metric}|{group_by}|{start}|{end}")
        return
    if not args.pg or not args.out:
        parser.error("--pg and --out are required")
    os.makedirs(args.out, exist_ok=True)

    con = duckdb.connect()  # in memory
    con.execute(f"SET threads = {args.threads}")
    print(f"DuckDB {duckdb.__version__}, threads {con.execute('SELECT current_setting(?)', ['threads']).fetchone()[0]} "
          f"of {os.cpu_count()} cores; load average {' '.join(open('/proc/loadavg').read().split()[:3])}")

    parquet_path = os.path.join(args.out, "reporting_facts.parquet")
    if args.reuse and os.path.exists(parquet_path):
        print(f"export: reusing {parquet_path} ({mib(os.path.getsize(parquet_path))} MiB)")
    else:
        parquet_path = export(args.pg, args.out, con)
    load(con, parquet_path, args.source)

    if args.check and not check(con, args.pg):
        sys.exit(1)

    results = []
    print()
    print("| metric | group_by | period | DuckDB median | DuckDB p95 | cells |")
    print("|---|---|---|---|---|---|")
    for metric, group_by, start, end in QUESTIONS:
        sql = question_sql(metric, group_by, start, end)
        timed(con, sql)  # warm-up: DuckDB has no plan cache to fill, but the first run pays for allocations
        samples = []
        for _ in range(args.runs):
            ms, rows = timed(con, sql)
            samples.append(ms)
        median, p95 = stats(samples)
        results.append((metric, group_by, start, end, median, p95, len(rows)))
        print(f"| {metric} | {group_by.replace(',', ', ') or '–'} | {start} to {end} | {median:.1f} ms | {p95:.1f} ms "
              f"| {len(rows)} |", flush=True)

    tsv_path = os.path.join(args.out, "duckdb.tsv")
    with open(tsv_path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["metric", "group_by", "from", "to", "median_ms", "p95_ms", "cells"])
        for metric, group_by, start, end, median, p95, cells in results:
            writer.writerow([metric, group_by, start, end, f"{median:.1f}", f"{p95:.1f}", cells])
    # ru_maxrss is in KiB on Linux. The peak covers the whole process: the export when run, the table, and the
    # hash tables of the distinct counts.
    print(f"\nprocess RSS {rss_mib()} MiB at the end, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}; TSV in {tsv_path}")


if __name__ == "__main__":
    main()
