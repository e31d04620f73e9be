#!/usr/bin/env python3
"""Benchmark harness: sp-impact against DuckDB on the same synthetic data.

    python3 benches/run.py [--persons 1000000] [--reps 3] [--threads 2] [--work DIR] [--binary BIN]
                           [--stages ingest,run,spill]

Steps: build the release binary; generate N people with `sp-impact synth`; then, each
repeated --reps times, time (wall seconds and peak RSS, via /usr/bin/time):
  1. `sp-impact ingest` (full validation, quarantine, typed zstd Parquet) against DuckDB's
     plain typed CSV -> Parquet conversion of the same six files;
  2. the SQL stage of `sp-impact run` (its manifest's models_seconds: every model over the
     ingested Parquet) against DuckDB's equivalent cohort and person-month panel
     (benches/duckdb_panel.sql) over the same Parquet;
  3. the whole `sp-impact run`;
and once more `sp-impact run --memory-limit 2GiB` (spilling). `--stages` picks some of them
(`ingest` = step 1, `run` = steps 2 and 3, `spill`). Prints medians side by side with
the ratio sp-impact / DuckDB (below 1.0 = sp-impact faster). DuckDB is the Python package,
installed into benches/.venv by this script; the machine needs python3 with venv and pip.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "benches" / ".venv"

TYPES = {
    "patients": {"person_id": "VARCHAR", "practice_code": "VARCHAR", "year_of_birth": "INTEGER",
                 "sex": "VARCHAR", "ethnic_category": "VARCHAR", "imd_decile": "INTEGER",
                 "ltc_count": "INTEGER", "registered_from": "DATE", "registered_to": "DATE",
                 "date_of_death": "DATE"},
    "referrals": {"referral_id": "VARCHAR", "person_id": "VARCHAR", "referral_date": "DATE",
                  "snomed_code": "VARCHAR", "referral_source": "VARCHAR", "referral_reasons": "VARCHAR",
                  "first_contact_date": "DATE", "discharge_date": "DATE",
                  "link_worker_contacts": "INTEGER", "status": "VARCHAR"},
    "wellbeing": dict([("person_id", "VARCHAR"), ("referral_id", "VARCHAR"), ("survey_date", "DATE"),
                       ("instrument", "VARCHAR")]
                      + [(f"item_{i}", "INTEGER") for i in range(1, 15)] + [("score", "DOUBLE")]),
    "gp_appointments": {"person_id": "VARCHAR", "appointment_date": "DATE", "status": "VARCHAR",
                        "hcp_type": "VARCHAR", "mode": "VARCHAR", "duration_minutes": "INTEGER"},
    "hospital_activity": {"person_id": "VARCHAR", "activity_date": "DATE", "setting": "VARCHAR",
                          "discharge_date": "DATE", "attended": "BOOLEAN"},
    "activities": {"person_id": "VARCHAR", "referral_id": "VARCHAR", "activity_date": "DATE",
                   "activity_type": "VARCHAR", "provider": "VARCHAR", "attended": "BOOLEAN"},
}


def timed(command, **kwargs):
    """Runs a command under /usr/bin/time; returns (wall seconds, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %M", *command],
                       check=True, **kwargs)
        wall, rss_kib = report.read().split()[-2:]
    return float(wall), int(rss_kib) / 1024


def duckdb_python():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "duckdb"], check=True)
    return str(python)


def duckdb_script(python, sql, threads):
    code = ("import duckdb, sys; con = duckdb.connect(); "
            f"con.execute('set threads = {threads}'); "
            "[con.execute(s) for s in sys.stdin.read().split(';\\n') if s.strip()]")
    return [python, "-c", code], sql


def run_duckdb(python, sql, threads):
    command, text = duckdb_script(python, sql, threads)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(text)
        script.flush()
        with open(script.name) as stdin:
            return timed(command, stdin=stdin)


def csv_to_parquet_sql(data, out):
    statements = []
    for extract, types in TYPES.items():
        matches = sorted(data.glob(f"{extract}.csv*"))
        if not matches:
            continue
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
        statements.append(
            f"copy (select * from read_csv('{matches[0]}', header = true, columns = {{{columns}}}, "
            f"dateformat = '%Y-%m-%d')) to '{out}/{extract}.parquet' (format parquet, compression zstd)")
    return ";\n".join(statements) + ";\n"


def study_values():
    import tomllib
    with open(ROOT / "sample-data" / "study.toml", "rb") as handle:
        study = tomllib.load(handle)["study"]
    return {"start": study["start"], "end": study["end"], "data_end": study["data_end"],
            "pre": study.get("pre_months", 12), "post": study.get("post_months", 24),
            "seed": study.get("seed", 20240401)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--binary", default=None,
                        help="an sp-impact binary to measure (default: build this tree's release binary)")
    parser.add_argument("--stages", default="ingest,run,spill",
                        help="comma-separated stages to measure: ingest, run, spill (default: all)")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    unknown = stages - {"ingest", "run", "spill"}
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")

    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, cwd=ROOT)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        binary = str(target / "release" / "sp-impact")
    python = duckdb_python()
    work = args.work or Path(tempfile.mkdtemp(prefix="sp-impact-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    threads = str(args.threads)
    results = {}

    if not (data / "patients.csv").exists():
        wall, rss = timed([binary, "synth", "-q", "--persons", str(args.persons), "--out", str(data)])
        print(f"synth {args.persons:,} people: {wall:.1f} s, peak RSS {rss:.0f} MiB", flush=True)
    sizes = sum(path.stat().st_size for path in data.glob("*.csv*")) / 2**30
    print(f"input: {sizes:.2f} GiB of CSV in {data}", flush=True)

    def record(name, value):
        results.setdefault(name, []).append(value)

    for rep in range(args.reps):
        if "ingest" in stages:
            ingest_out = work / "ingest"
            shutil.rmtree(ingest_out, ignore_errors=True)
            record("ingest", timed([binary, "ingest", "-q", "--threads", threads, "--data", str(data),
                                    "--out", str(ingest_out)]))
            duck_parquet = work / "duckdb-parquet"
            shutil.rmtree(duck_parquet, ignore_errors=True)
            duck_parquet.mkdir()
            record("duckdb_csv_to_parquet", run_duckdb(python, csv_to_parquet_sql(data, duck_parquet), threads))

        if "run" in stages:
            run_out = work / "run"
            wall, rss = timed([binary, "run", "-q", "--threads", threads, "--config",
                               str(ROOT / "sample-data" / "study.toml"), "--data", str(data), "--out", str(run_out)])
            record("run", (wall, rss))
            manifest = json.loads((run_out / "manifest.json").read_text())
            record("sql_stage", (manifest["stage_timings_seconds"]["models_seconds"], rss))
            panel_out = work / "duckdb-panel"
            shutil.rmtree(panel_out, ignore_errors=True)
            panel_out.mkdir()
            sql = (ROOT / "benches" / "duckdb_panel.sql").read_text()
            for key, value in {**study_values(), "data": str(run_out / "data"), "out": str(panel_out)}.items():
                sql = sql.replace("{" + key + "}", str(value))
            sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
            record("duckdb_panel", run_duckdb(python, sql, threads))
        print(f"repetition {rep + 1}/{args.reps} done", flush=True)

    if "spill" in stages:
        spill_out = work / "run-2gib"
        record("run_2gib", timed([binary, "run", "-q", "--threads", threads, "--memory-limit", "2GiB", "--config",
                                  str(ROOT / "sample-data" / "study.toml"), "--data", str(data), "--out", str(spill_out)]))

    def median(name, index):
        return statistics.median(value[index] for value in results[name])

    print()
    print(f"{'stage':<34}{'sp-impact s':>12}{'DuckDB s':>10}{'ratio':>8}{'sp-impact RSS MiB':>19}{'DuckDB RSS MiB':>16}")
    for label, ours, theirs in [("ingest vs CSV->Parquet", "ingest", "duckdb_csv_to_parquet"),
                                ("SQL stage vs cohort+panel SQL", "sql_stage", "duckdb_panel")]:
        if ours not in results:
            continue
        ratio = median(ours, 0) / median(theirs, 0)
        ours_rss = "(whole run)" if ours == "sql_stage" else f"{median(ours, 1):.0f}"
        print(f"{label:<34}{median(ours, 0):>12.1f}{median(theirs, 0):>10.1f}{ratio:>8.2f}{ours_rss:>19}{median(theirs, 1):>16.0f}")
    for label, name in [("full run", "run"), ("full run, --memory-limit 2GiB", "run_2gib")]:
        if name in results:
            print(f"{label:<34}{median(name, 0):>12.1f}{'':>10}{'':>8}{median(name, 1):>19.0f}")
    print(f"(medians of {args.reps}; {args.threads} threads; {args.persons:,} people; work folder {work})")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
