#!/usr/bin/env python3
"""Validation harness: does each comparison design recover the truth in every simulated world?

    python3 benches/validate.py [--persons 20000] [--reps 10] [--worlds all] [--effect LIST]
                                [--binary PATH] [--work DIR] [--out docs/validation.md]

For each world (`sp-impact synth --world NAME`) and replicate r, one dataset is generated with
seed BASE + r and the true effect `--effect` (synth's syntax; default synth's default: GP demand
0.90, A&E 0.85, emergency admissions 0.85, outpatients and electives 1.0; `none` for a world
with no effect anywhere) and evaluated once with sample-data/study.toml. Every run
estimates the rate ratios and the saving with every candidate design (pipeline/design.rs,
results.json `design_sensitivity`), so each design is scored on the same datasets from the
rows the tool itself reports. Every number is compared with the dataset's truth.json:
  - rate ratios of GP demand, A&E attendances and emergency admissions against the true ratio;
  - the discounted 24-month saving per treated person against truth.json's;
  - and, where the study's look-back allows it (`--history-months 48` with a config whose
    `pre_months` is 48), the headline design's placebo index date (results.json
    `design_sensitivity.placebo_index`), whose truth is no effect in every world: how often each
    reading ("no bias over 10%", "bias", "too uncertain") comes up, and how often its 95% CI
    holds 1;
  - the headline's days alive per person referred over the 24 months (results.json
    `economics.follow_up_days`: the days observed weighted back over the life table of leaving
    the practice) against truth.json's, which counts the days after leaving that no extract has;
  - the headline's events avoided on the cost-effectiveness plane (results.json
    `economics.psa.cost_effectiveness`: the effect measure's discounted events avoided per person
    referred over 24 months, mean and 95% interval of the draws) against truth.json's
    `discounted_avoided_per_person` for that measure.
Per world x design it prints and writes: mean estimate, bias, RMSE and the empirical coverage of
the 95% CI with its Monte Carlo standard error sqrt(c (1 - c) / R). Not part of CI: it runs the
release binary hundreds of times. The command line that made the file is written into it.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLDS = ["latent-crisis", "observed-history", "persistent-need", "referral-visit", "secular-trend",
          "informative-death", "informative-deregistration", "later-referrals"]
RATIOS = ["gp_demand", "ae_attendances", "emergency_admissions"]
SEED_BASE = 9100


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-2000:]}")


def estimates(row):
    """One design's estimates, by target name: (estimate, low, high) or None."""
    out = {}
    for name in RATIOS:
        estimate = (row.get("rate_ratios") or {}).get(name) or {}
        ci = estimate.get("ci95") or [None, None]
        found = estimate.get("rate_ratio") is not None and ci[0] is not None
        out[name] = (estimate["rate_ratio"], ci[0], ci[1]) if found else None
    saving = row.get("saving") or {}
    ci = saving.get("ci95") or [None, None]
    value = saving.get("savings_per_person")
    out["saving_24m"] = (value, ci[0], ci[1]) if value is not None and ci[0] is not None else None
    return out


def plane_effect(economics, truth):
    """(measure, estimate, low, high, true) of the cost-effectiveness plane's effect, or None."""
    plane = (economics.get("psa") or {}).get("cost_effectiveness") or {}
    measure = plane.get("effect_measure")
    ci = plane.get("effect_ci95") or [None, None]
    if measure is None or plane.get("effect_mean") is None or ci[0] is None:
        return None
    true = truth["treated"]["follow_up_events"][measure]["discounted_avoided_per_person"]
    return measure, plane["effect_mean"], ci[0], ci[1], true


def truths(truth):
    out = {name: truth["effects"][name] for name in RATIOS}
    out["saving_24m"] = truth["treated"]["discounted_saving_per_person_24m"]
    return out


def summarise(rows):
    """rows: list of (estimate, low, high, true) -> dict of summary statistics."""
    done = [row for row in rows if row is not None]
    if not done:
        return None
    n = len(done)
    errors = [estimate - true for estimate, _, _, true in done]
    covered = sum(1 for _, low, high, true in done if low <= true <= high)
    coverage = covered / n
    return {
        "n": n,
        "mean": sum(row[0] for row in done) / n,
        "true": sum(row[3] for row in done) / n,
        "bias": sum(errors) / n,
        "rmse": math.sqrt(sum(error * error for error in errors) / n),
        "coverage": coverage,
        "coverage_mcse": math.sqrt(coverage * (1 - coverage) / n),
        "failed": len(rows) - n,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--worlds", default="all")
    parser.add_argument("--effect", help="true rate ratios passed to `synth --effect` "
                                         "(`none`, or measure=ratio pairs; default synth's)")
    parser.add_argument("--binary", help="a built sp-impact (default: `cargo build --release`, "
                                          "then $CARGO_TARGET_DIR or ./target)")
    parser.add_argument("--work", default="/tmp/sp-impact-validate")
    parser.add_argument("--config", default=str(ROOT / "sample-data" / "study.toml"),
                        help="the study configuration every dataset is evaluated with")
    parser.add_argument("--out", default=str(ROOT / "docs" / "validation.md"))
    parser.add_argument("--history-months", type=int,
                        help="months of history before the service opens (`synth --history-months`)")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--jobs", type=int, default=2, help="datasets evaluated at once")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    worlds = WORLDS if args.worlds == "all" else args.worlds.split(",")
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, cwd=ROOT)
        binary = str(target / "release" / "sp-impact")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    config = Path(args.config)
    designs = {}  # name -> description, in the order the tool reports them

    def evaluate(world, rep):
        """Generates one dataset and evaluates it: (truth, design rows, error or None)."""
        seed = SEED_BASE + rep
        data = work / f"{world}-{rep}"
        shutil.rmtree(data, ignore_errors=True)
        try:
            effect = ["--effect", args.effect] if args.effect else []
            if args.history_months:
                effect += ["--history-months", str(args.history_months)]
            run([binary, "synth", "-q", "--persons", str(args.persons), "--seed", str(seed),
                 "--world", world, "--threads", str(args.threads), "--out", str(data / "csv"), *effect])
            truth_file = json.loads((data / "csv" / "truth.json").read_text())
            truth = truths(truth_file)
            run([binary, "run", "-q", "--config", str(config), "--data", str(data / "csv"),
                 "--out", str(data / "out"), "--threads", str(args.threads)])
            results = json.loads((data / "out" / "results.json").read_text())
            sensitivity = results["design_sensitivity"]
            economics = results.get("economics") or {}
            days = economics.get("follow_up_days") or {}
            follow_up = (truth_file["treated"]["follow_up_days_alive_per_person"],
                         days.get("alive_per_person"), days.get("registered_and_alive_per_person"),
                         plane_effect(economics, truth_file))
            return truth, sensitivity["designs"], sensitivity.get("placebo_index"), follow_up, None
        except (RuntimeError, KeyError, TypeError, OSError) as error:
            return None, [], None, None, f"{world} replicate {rep}: {error}"
        finally:
            shutil.rmtree(data, ignore_errors=True)

    # (world, design, target) -> list of (estimate, low, high, true) or None per replicate.
    collected = {}
    raw = []
    failures = []
    started = time.time()
    tasks = [(world, rep) for world in worlds for rep in range(args.reps)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(lambda task: (task, evaluate(*task)), tasks))
    # (world, measure) -> list of (estimate, low, high, reading) per replicate it ran in.
    placebos = {}
    # world -> list of (true days alive, estimated days alive, days observed, plane effect).
    follow_ups = {}
    for (world, rep), (truth, rows, placebo, follow_up, error) in outcomes:
        if error:
            print(f"  failed: {error}", file=sys.stderr)
            failures.append(error)
            continue
        if follow_up[1] is not None:
            follow_ups.setdefault(world, []).append(follow_up)
        for name, measure in ((placebo or {}).get("measures") or {}).items():
            ratio = measure.get("rate_ratio") or {}
            ci = ratio.get("ci95") or [None, None]
            placebos.setdefault((world, name), []).append(
                (ratio.get("rate_ratio"), ci[0], ci[1], measure.get("reading")))
        for row in rows:
            design = row["design"]["name"]
            designs.setdefault(design, row["design"])
            found = estimates(row)
            for target, true in truth.items():
                value = found.get(target)
                collected.setdefault((world, design, target), []).append(
                    None if value is None else (*value, true))
                raw.append({"world": world, "rep": rep, "seed": SEED_BASE + rep, "design": design,
                            "target": target, "true": true, "estimate": None if value is None else value[0],
                            "ci95": None if value is None else [value[1], value[2]]})
    print(f"{len(tasks)} datasets in {time.time() - started:.0f} s, {len(failures)} failed", flush=True)

    true_effects = next((truth for _, (truth, _, _, _, error) in outcomes if not error), {})
    lines = report(args, worlds, designs, collected, failures, true_effects)
    lines += placebo_report(worlds, placebos, collected, args.reps)
    lines += follow_up_report(worlds, follow_ups)
    lines += plane_report(worlds, follow_ups)
    print("\n".join(lines))
    Path(args.out).write_text("\n".join(lines) + "\n")
    (work / "validation-raw.json").write_text(json.dumps(raw, indent=1))
    print(f"\nwritten {args.out}; replicate-level rows in {work / 'validation-raw.json'}")


def report(args, worlds, designs, collected, failures, true_effects):
    runs = len(worlds) * args.reps
    lines = [
        "# Validation: each design in every simulated world",
        "",
        "Generated by `benches/validate.py`; do not edit by hand. Reproduce with:",
        "",
        "```",
        f"python3 benches/validate.py --persons {args.persons} --reps {args.reps} "
        f"--worlds {','.join(worlds)} --jobs {args.jobs} --threads {args.threads}"
        + (f" --effect {args.effect}" if args.effect else "")
        + (f" --config {args.config}" if Path(args.config) != ROOT / "sample-data" / "study.toml" else ""),
        "```",
        "",
        f"{len(worlds)} worlds x {args.reps} replicates = {runs} datasets of {args.persons:,} people "
        f"(seeds {SEED_BASE}..{SEED_BASE + args.reps - 1}), each evaluated by all {len(designs)} designs "
        f"({runs * len(designs)} design-replicates; {len(failures)} datasets failed to run"
        + (": " + "; ".join(failures) if failures else "") + "). "
        "True effect in every world (rate ratios): "
        + ", ".join(f"{name} {true_effects.get(name, float('nan')):.2f}" for name in RATIOS)
        + "; the saving is truth.json's discounted 24-month saving per eligible treated person. "
        "Coverage is the share of replicates whose 95% CI contains the truth, with its Monte Carlo SE; "
        "a design is acceptable in a world when coverage is 90-98% for every target.",
        "",
        "Worlds (README \"Synthetic worlds\"): " + ", ".join(f"`{world}`" for world in worlds) + ".",
        "",
        "Designs:",
        "",
    ]
    for design, spec in designs.items():
        keys = [f"`washout_months = {spec['washout_months']}`",
                f"`match_on_prior_use = \"{spec['match_on_prior_use']}\"`"]
        if spec.get("exact_on_prior_use_bands"):
            keys.append("`exact_on_prior_use_bands = true`")
        if spec.get("adjust_for_prior_use"):
            keys.append("adjusted for prior use (a candidate only)")
        lines.append(f"- `{design}`: {spec['description']} ({', '.join(keys)})")
    lines.append("")
    targets = RATIOS + ["saving_24m"]
    # Summary: coverage per world x design x target.
    lines += ["## Coverage of the 95% CI (Monte Carlo SE)", ""]
    header = "| world | design | " + " | ".join(targets) + " |"
    lines += [header, "|" + "---|" * (len(targets) + 2)]
    for world in worlds:
        for design in designs:
            cells = []
            for target in targets:
                summary = summarise(collected.get((world, design, target), []))
                cells.append("n/a" if summary is None else f"{summary['coverage']:.0%} ({summary['coverage_mcse']:.0%})")
            lines.append(f"| {world} | {design} | " + " | ".join(cells) + " |")
    lines += ["", "## Mean estimate, bias and RMSE", ""]
    lines += ["| world | design | target | true | mean | bias | RMSE | coverage | not estimated |",
              "|---|---|---|---|---|---|---|---|---|"]
    for world in worlds:
        for design in designs:
            for target in targets:
                summary = summarise(collected.get((world, design, target), []))
                if summary is None:
                    lines.append(f"| {world} | {design} | {target} | | | | | | all |")
                    continue
                places = 0 if target == "saving_24m" else 3
                lines.append(
                    f"| {world} | {design} | {target} | {summary['true']:.{places}f} | {summary['mean']:.{places}f} | "
                    f"{summary['bias']:+.{places}f} | {summary['rmse']:.{places}f} | {summary['coverage']:.0%} | {summary['failed']} |")
    lines += ["", "## Worst coverage per design across all worlds and targets", ""]
    lines += ["| design | worst coverage | where | acceptable worlds |", "|---|---|---|---|"]
    for design in designs:
        if all(summarise(collected.get((world, design, target), [])) is None
               for world in worlds for target in targets):
            lines.append(f"| {design} | not estimated | the study's look-back is too short for it | |")
            continue
        worst = (2.0, "")
        acceptable = []
        for world in worlds:
            ok = True
            for target in targets:
                summary = summarise(collected.get((world, design, target), []))
                coverage = -1.0 if summary is None else summary["coverage"]
                if coverage < worst[0]:
                    worst = (coverage, f"{world} / {target}")
                if not 0.90 <= coverage <= 0.98:
                    ok = False
            if ok:
                acceptable.append(world)
        lines.append(f"| {design} | {max(worst[0], 0):.0%} | {worst[1]} | {', '.join(acceptable) or 'none'} |")
    return lines


def placebo_report(worlds, placebos, collected, reps):
    """The headline design's placebo index date per world and measure: its truth is no effect,
    so the share of "bias" readings where the headline is unbiased is a false-alarm rate, and
    where the headline is biased, its power to see it."""
    if not placebos:
        return []
    headline = next(iter(dict.fromkeys(design for (_, design, _) in collected)), None)
    lines = ["", "## The placebo index date (the headline design; true effect nil)", "",
             "Readings against the 1.10 margin (docs/methods.md, Placebo index date); the headline's "
             f"bias in the same world (`{headline}`, against the true ratio) beside it.", "",
             "| world | measure | runs | mean placebo ratio | CI holds 1 | no bias over 10% | bias | too uncertain | not estimated | headline bias |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    names = sorted({name for (_, name) in placebos}, key=lambda name: (RATIOS + [name]).index(name))
    for world in worlds:
        for name in names:
            rows = placebos.get((world, name), [])
            done = [row for row in rows if row[0] is not None and row[1] is not None]
            n = len(done)
            share = lambda count: f"{count / n:.0%}" if n else "n/a"
            readings = [row[3] for row in done]
            holds = sum(1 for _, low, high, _ in done if low <= 1.0 <= high)
            mean = f"{sum(row[0] for row in done) / n:.3f}" if n else "n/a"
            summary = summarise(collected.get((world, headline, name), [])) if name in RATIOS else None
            bias = f"{summary['bias']:+.3f}" if summary else ""
            lines.append(
                f"| {world} | {name} | {n} | {mean} | {share(holds)} | {share(readings.count('within_margin'))} | "
                f"{share(readings.count('bias'))} | {share(readings.count('inconclusive'))} | {reps - n} | {bias} |")
    return lines


def plane_report(worlds, follow_ups):
    """The cost-effectiveness plane's effect (events avoided, discounted) per world."""
    effects = {world: [row[3] for row in rows if row[3] is not None] for world, rows in follow_ups.items()}
    measure = next((effect[0] for rows in effects.values() for effect in rows), None)
    if measure is None:
        return []
    lines = ["", f"## Events avoided on the cost-effectiveness plane (the headline; {measure})", "",
             "Discounted events avoided per person referred over 24 months: the mean of the PSA "
             "draws and their 95% interval against truth.json's.", "",
             "| world | runs | true | mean | bias | RMSE | coverage (MC SE) |", "|---|---|---|---|---|---|---|"]
    for world in worlds:
        summary = summarise([effect[1:] for effect in effects.get(world, [])])
        if summary is None:
            lines.append(f"| {world} | 0 | | | | | |")
            continue
        lines.append(
            f"| {world} | {summary['n']} | {summary['true']:.4f} | {summary['mean']:.4f} | {summary['bias']:+.4f} | "
            f"{summary['rmse']:.4f} | {summary['coverage']:.0%} ({summary['coverage_mcse']:.0%}) |")
    return lines


def follow_up_report(worlds, follow_ups):
    """The savings' days alive per person referred against the truth's, per world: the
    weighting for leaving the practice (docs/methods.md, Economics) against the days observed."""
    lines = ["", "## Days alive per person referred (the headline; 24 months)", "",
             "The days the savings count: days registered and alive weighted by the inverse of the "
             "probability of still being registered (the life table of leaving the practice), against "
             "truth.json's days alive, registered or not. Errors relative to the truth.", "",
             "| world | runs | true | estimated | mean error | largest error | days observed | observed short by |",
             "|---|---|---|---|---|---|---|---|"]
    for world in worlds:
        rows = follow_ups.get(world, [])
        if not rows:
            lines.append(f"| {world} | 0 | | | | | | |")
            continue
        n = len(rows)
        mean = lambda values: sum(values) / n
        errors = [alive / true - 1 for true, alive, _, _ in rows]
        largest = max(errors, key=abs)
        lines.append(
            f"| {world} | {n} | {mean([r[0] for r in rows]):.1f} | {mean([r[1] for r in rows]):.1f} | "
            f"{mean(errors):+.2%} | {largest:+.2%} | {mean([r[2] for r in rows]):.1f} | "
            f"{mean([1 - observed / true for true, _, observed, _ in rows]):.1%} |")
    return lines


if __name__ == "__main__":
    main()
