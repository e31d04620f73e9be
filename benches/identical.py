#!/usr/bin/env python3
"""Byte-identity check for refactors that must not change results.

    python3 benches/identical.py save    --binary BIN --work DIR   # before the change
    python3 benches/identical.py compare --binary BIN --work DIR   # after it

Runs the binary on the bundled sample and on a 20,000-person synthetic world (seed 20261129),
and keeps, per run, every file under results.json, published/ and tables/ (the manifest is
left out: it records times and the binary's version). `compare` reruns and reports every file
that differs from the saved copy. Tables a refactor reshapes on purpose are listed in
RESHAPED: for them the per-measure totals (events and cost, from `sp-impact query`) are
compared instead of bytes, so a reshaped panel still has to hold exactly the same use.
Exits 1 when anything differs.
"""

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH_PERSONS = "20000"
SYNTH_SEED = "20261129"

# Panel tables reshaped from wide (a column per measure) to long (a row per measure with use).
RESHAPED = {"person_months", "placebo_periods", "person_month_use", "placebo_use"}

# Per-measure totals, for either shape of the panel. The wide shape has a column per measure.
WIDE_MEASURES = ["gp_demand", "ae_attendances", "emergency_admissions",
                 "outpatient_attendances", "elective_admissions"]


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")


def query(binary, out, sql):
    result = subprocess.run([binary, "query", "-q", "--out", str(out), "--format", "json", sql],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout or "[]")


def panel_totals(binary, out):
    """Events and cost per measure in the person-month panel and the placebo periods."""
    long = query(binary, out, "select measure, sum(events) as events, "
                 "sum(cost_micro_gbp) as cost from person_month_use group by measure order by measure")
    if long is not None:
        totals = {row["measure"]: [row["events"], row["cost"]] for row in long}
        placebo = query(binary, out, "select measure, sum(pre_events) as pre, sum(post_events) as post "
                        "from placebo_use group by measure order by measure")
        exposure = query(binary, out, "select count(*) as n, sum(exposure_days) as days from person_months")
    else:
        totals = {}
        for measure in WIDE_MEASURES:
            row = query(binary, out, f"select sum({measure}) as events, "
                        f"sum(cast(round({measure}_cost_gbp * 1000000.0) as bigint)) as cost from person_months")[0]
            if row["events"]:
                totals[measure] = [row["events"], row["cost"]]
        placebo = []
        for measure in WIDE_MEASURES:
            row = query(binary, out, f"select sum({measure}_pre) as pre, sum({measure}_post) as post "
                        "from placebo_periods")[0]
            if row["pre"] or row["post"]:
                placebo.append({"measure": measure, "pre": row["pre"], "post": row["post"]})
        exposure = query(binary, out, "select count(*) as n, sum(exposure_days) as days from person_months")
    placebo = sorted(placebo, key=lambda row: row["measure"])
    return {"use": dict(sorted(totals.items())), "placebo": placebo, "exposure": exposure}


def evaluate(binary, work):
    """Runs both datasets into work/<name>/ and returns {name: output folder}."""
    outputs = {}
    sample = work / "sample"
    shutil.rmtree(sample, ignore_errors=True)
    run([binary, "run", "-q", "--out", str(sample)])
    outputs["sample"] = sample
    data = work / "synth-data"
    shutil.rmtree(data, ignore_errors=True)
    run([binary, "synth", "-q", "--persons", SYNTH_PERSONS, "--seed", SYNTH_SEED, "--out", str(data)])
    synth = work / "synth"
    shutil.rmtree(synth, ignore_errors=True)
    run([binary, "run", "-q", "--config", str(ROOT / "sample-data" / "study.toml"),
         "--data", str(data), "--out", str(synth)])
    outputs["synth"] = synth
    for name, out in outputs.items():
        (out / "panel_totals.json").write_text(json.dumps(panel_totals(binary, out), indent=1))
    return outputs


def kept_files(out):
    files = [out / "results.json", out / "panel_totals.json"]
    for folder in ("published", "tables"):
        files += sorted(path for path in (out / folder).rglob("*") if path.is_file())
    return [path for path in files if path.stem not in RESHAPED]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["save", "compare"])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", default="/tmp/sp-impact-identical")
    args = parser.parse_args()
    work = Path(args.work)
    reference = work / "reference"
    if args.mode == "save":
        shutil.rmtree(reference, ignore_errors=True)
        reference.mkdir(parents=True)
        evaluate(args.binary, reference)
        print(f"saved reference outputs in {reference}")
        return
    current = work / "current"
    current.mkdir(parents=True, exist_ok=True)
    differ = []
    for name, out in evaluate(args.binary, current).items():
        before = reference / name
        new_files = {path.relative_to(out) for path in kept_files(out)}
        old_files = {path.relative_to(before) for path in kept_files(before)}
        for added in sorted(new_files - old_files):
            print(f"{name}/{added}: new (not compared)")
        for missing in sorted(old_files - new_files):
            differ.append(f"{name}/{missing}: missing after the change")
        for relative in sorted(old_files & new_files):
            if not filecmp.cmp(before / relative, out / relative, shallow=False):
                differ.append(f"{name}/{relative}: differs")
        print(f"{name}: {len(old_files & new_files)} files compared")
    for line in differ:
        print(line)
    print("identical" if not differ else f"{len(differ)} differences")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
