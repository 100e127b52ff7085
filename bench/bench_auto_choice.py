#!/usr/bin/env python3
"""Where `--engine auto` switches from `copula` to `tree`: both engines on small random samples.

For each dataset, random samples of 200, 500 and 1000 training rows are synthesised by both
engines (`--min-category-count 3`, seed 0) and scored by `doppel evaluate` against the full
holdout split with the dataset's target. Prints a markdown table; standard library only.

    python3 bench/bench_auto_choice.py [--doppel PATH] > bench/results/auto-choice-DATE.md
"""

import argparse
import json
import random
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"cps1988": "wage", "telco_churn": "churn", "flchain": "death", "credit_default": "LateSept"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doppel", default="/root/.cache/doppel/target/release/doppel")
    parser.add_argument("--datasets-dir", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--sizes", default="200,500,1000")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="doppel-auto-"))
    print("| dataset | rows | engine | quality | quality, all pairs | detection AUC | DCR share | TSTR/TRTR |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, target in TARGETS.items():
        folder = Path(args.datasets_dir) / name
        lines = (folder / f"{name}.train.csv").read_text().splitlines()
        for rows in (int(s) for s in args.sizes.split(",")):
            random.seed(rows)
            sample = work / "sample.csv"
            sample.write_text("\n".join([lines[0]] + random.sample(lines[1:], rows)) + "\n")
            for engine in ("tree", "copula"):
                synthetic, report = work / "synthetic.csv", work / "evaluation.json"
                common = ["--quiet", "--force"]
                subprocess.run(
                    [args.doppel, "synth", str(sample), "-o", str(synthetic), "--engine", engine, "--seed", "0",
                     "--min-category-count", "3", *common], check=True)
                subprocess.run(
                    [args.doppel, "evaluate", "--real", str(sample), "--synthetic", str(synthetic), "--holdout",
                     str(folder / f"{name}.holdout.csv"), "--target", target, "--output", str(report), *common],
                    check=True)
                result = json.loads(report.read_text())
                quality, privacy = result["quality"], result["privacy"]
                ratio = result["utility"]["ratio"]
                print(f"| {name} | {rows} | {engine} | {quality['score']:.3f} | {quality['score_all_pairs']:.3f} | "
                      f"{result['detection']['auc']:.3f} | {privacy['dcr_share']:.3f} | "
                      f"{'n/a' if ratio is None else f'{ratio:.3f}'} |")


if __name__ == "__main__":
    main()
