#!/usr/bin/env python3
"""doppel's differentially private engine side by side with smartnoise-synth's MST and AIM.

For every dataset (default cps1988 -> `wage`, telco_churn -> `churn`, credit_default -> `LateSept`;
`<name>.train.csv` / `<name>.holdout.csv` under --datasets-dir) and every ε (default 1, 3, 10),
each engine is fitted on the train split with the same total budget and asked for as many rows:

* doppel: `doppel fit TRAIN -o MODEL --engine dp --epsilon E --delta D --quiet` and
  `doppel sample MODEL -n N -o OUT.csv --seed S --quiet`, two child processes, timed together.
  δ is the peers' default (1e-9), so doppel's guarantee is the same or stronger. Its noise comes
  from the operating system, so it is fitted --repeats times (default 3) and the report gives the
  mean of each figure, with the range.
* smartnoise-synth 1.0.8 (from PyPI, in its own venv bench/.venv-smartnoise, made by
  `BENCH_DP=1 bash bench/setup.sh`): `Synthesizer.create("mst" | "aim", epsilon=E)` and
  `fit(df, preprocessor_eps=0.1 * E, categorical_columns=..., continuous_columns=...)`. snsynth
  takes the preprocessing ε (the bounds of continuous columns) out of the same E ("Spent 0.1
  epsilon on preprocessor, leaving 0.9 for training"), so both sides spend E in all. Numeric
  columns with more than 20 distinct values are continuous, the rest categorical (snsynth's
  default binning of continuous columns then applies). Each peer runs in a child process,
  single-threaded, with a wall-clock cap (--peer-timeout); a run past it counts as a timeout,
  which still bounds the speed ratio from below. Peer outputs are shuffled (mbi writes rows in
  sorted blocks) and integer columns rounded back to integers.
* Every output is scored by the same `doppel evaluate --holdout --target --metadata --seed 0`
  (bench_engines.py's `evaluate`), metadata from `doppel inspect TRAIN`.

The acceptance per (dataset, ε): doppel's quality and TSTR/TRTR at least the best of MST and AIM,
and AIM's time at least 10x doppel's. Peer results are cached (--peers-cache) so that a rerun of
doppel alone is cheap; --rerun-peers ignores the cache. Results: stdout and
<out-dir>/dp-YYYY-MM-DD.md / .json.

    BENCH_DP=1 bash bench/setup.sh && bench/.venv/bin/python bench/bench_dp.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from bench_copula import machine_info, run_measured, write_report  # noqa: E402
from bench_engines import SINGLE_THREAD_ENV, evaluate, log  # noqa: E402

DATASETS = {"cps1988": "wage", "telco_churn": "churn", "credit_default": "LateSept"}
PEERS = ["mst", "aim"]
LABELS = {"doppel": "doppel dp", "mst": "smartnoise MST", "aim": "smartnoise AIM"}
PEER_DELTA = 1e-9  # snsynth's default δ for MST and AIM

PEER_CHILD = r"""
import json, random, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
name, train, out, n, seed, eps, result = sys.argv[1:8]
n, seed, eps = int(n), int(seed), float(eps)
random.seed(seed); np.random.seed(seed)
import contextlib, io
from snsynth import Synthesizer
df = pd.read_csv(train, keep_default_na=False, na_values=[""], low_memory=False)
categorical, continuous = [], []
for column in df.columns:
    values = df[column]
    if values.dtype.kind in "if" and values.nunique(dropna=True) > 20:
        continuous.append(column)
    else:
        categorical.append(column)
        df[column] = values.astype(str).where(values.notna(), None)
t0 = time.perf_counter()
synth = Synthesizer.create(name, epsilon=eps, verbose=False)
with contextlib.redirect_stdout(io.StringIO()):
    synth.fit(df, preprocessor_eps=0.1 * eps, categorical_columns=categorical, continuous_columns=continuous,
              nullable=bool(df.isna().any().any()))
fit_s = time.perf_counter() - t0
t1 = time.perf_counter()
sample = synth.sample(n)
sample_s = time.perf_counter() - t1
sample = sample.sample(frac=1.0, random_state=seed).reset_index(drop=True)
original = pd.read_csv(train, keep_default_na=False, na_values=[""], low_memory=False)
for column in sample.columns:
    if pd.api.types.is_integer_dtype(original[column]) and column in continuous:
        sample[column] = pd.to_numeric(sample[column], errors="coerce").round().astype("Int64")
    elif column in categorical and pd.api.types.is_integer_dtype(original[column]):
        sample[column] = pd.to_numeric(sample[column], errors="coerce").astype("Int64")
    elif column in categorical and original[column].dtype == bool:
        sample[column] = sample[column].map({"True": True, "False": False})
sample.to_csv(out, index=False)
json.dump({"fit_s": fit_s, "sample_s": sample_s, "rows_out": len(sample), "categorical": categorical,
           "continuous": continuous}, open(result, "w"))
"""


def run_doppel(args, doppel: Path, ds: dict, epsilon: float, work: Path) -> dict:
    model, out = work / f"doppel-{epsilon:g}.model", work / f"doppel-{epsilon:g}.csv"
    fit = run_measured([str(doppel), "fit", ds["train_csv"], "-o", str(model), "--engine", "dp", "--epsilon",
                        f"{epsilon:g}", "--delta", f"{args.delta:g}", "--metadata", ds["metadata_path"],
                        "--quiet", "--force"], work, f"doppel-fit-{epsilon:g}", timeout=args.peer_timeout)
    res = {"engine": "doppel", "out_path": str(out), "fit": fit}
    if not fit["ok"]:
        return {**res, "status": "failed", "error": "fit: " + fit["error"]}
    sample = run_measured([str(doppel), "sample", str(model), "-n", str(ds["rows"]), "-o", str(out), "--seed",
                           str(args.seed), "--quiet", "--force"], work, f"doppel-sample-{epsilon:g}",
                          timeout=args.peer_timeout)
    res["sample"] = sample
    if not sample["ok"]:
        return {**res, "status": "failed", "error": "sample: " + sample["error"]}
    ledger = json.loads(model.read_text())["model"]["ledger"]
    res.update(status="ok", ok=True, seconds=fit["wall_s"] + sample["wall_s"], cpu_s=fit["cpu_s"] + sample["cpu_s"],
               epsilon_spent=ledger["epsilon_spent"], delta_spent=ledger["delta_spent"],
               measurements=len(ledger["entries"]))
    return res


MEAN_KEYS = ("quality", "quality_all_pairs", "column_pair_trends", "tstr_trtr", "detection_auc", "dcr_share")


def run_doppel_repeated(args, doppel: Path, ds: dict, epsilon: float, work: Path) -> tuple[dict, bool]:
    """doppel's noise comes from the operating system, so every fit differs: fit and score it
    `--repeats` times and report the mean (and the range) of every figure."""
    runs, failed = [], False
    for repeat in range(args.repeats):
        res = run_doppel(args, doppel, ds, epsilon, work)
        if res.get("status") != "ok":
            log(f"  doppel run {repeat + 1} failed: {res.get('error', '')[-500:]}")
            failed = True
            continue
        res["evaluation"] = evaluate(args, doppel, f"doppel-{epsilon:g}-{repeat}", ds, Path(res["out_path"]), work)
        failed |= not res["evaluation"].get("ok")
        runs.append(res)
    if not runs:
        return {"engine": "doppel", "status": "failed", "runs": []}, True
    mean = {}
    for key in MEAN_KEYS:
        values = [r["evaluation"].get(key) for r in runs if r["evaluation"].get(key) is not None]
        if values:
            mean[key] = sum(values) / len(values)
            mean[f"{key}_range"] = [min(values), max(values)]
    membership = [(r["evaluation"].get("privacy") or {}).get("membership_auc") for r in runs]
    membership = [m for m in membership if m is not None]
    mean["privacy"] = {"membership_auc": max(membership) if membership else None}
    seconds = [r["seconds"] for r in runs]
    return {"engine": "doppel", "status": "ok", "ok": True, "runs": runs, "evaluation": mean,
            "seconds": sum(seconds) / len(seconds), "seconds_range": [min(seconds), max(seconds)],
            "epsilon_spent": max(r["epsilon_spent"] for r in runs)}, failed


def run_peer(args, peer: str, ds: dict, epsilon: float, work: Path) -> dict:
    out, result = work / f"{peer}-{epsilon:g}.csv", work / f"{peer}-{epsilon:g}.json"
    env = dict(os.environ, PYTHONHASHSEED=str(args.seed), **SINGLE_THREAD_ENV)
    cmd = [args.smartnoise_python, "-c", PEER_CHILD, peer, ds["train_csv"], str(out), str(ds["rows"]),
           str(args.seed), f"{epsilon:g}", str(result)]
    log(f"  {LABELS[peer]} ε={epsilon:g}: fit + sample (timeout {args.peer_timeout:g} s)")
    proc = run_measured(cmd, work, f"{peer}-{epsilon:g}", env=env, timeout=args.peer_timeout)
    proc["cmd"] = [args.smartnoise_python, "-c", "<PEER_CHILD>"] + cmd[3:]
    res = {"engine": peer, "process": proc, "out_path": str(out), "delta": PEER_DELTA}
    if not proc["ok"]:
        status = "timeout" if proc["error"].startswith("timed out") else "failed"
        return {**res, "status": status, "error": proc["error"], "seconds": proc["wall_s"]}
    inner = json.loads(result.read_text())
    res.update(inner, status="ok", ok=True, seconds=proc["wall_s"], cpu_s=proc["cpu_s"])
    return res


def fmt(value, spec=".3f"):
    return "—" if value is None else format(value, spec)


def report(results: list[dict], info: dict, args) -> str:
    lines = [f"# doppel dp against smartnoise-synth MST and AIM ({info['date'][:10]})", "",
             f"Machine: {info.get('cpu_model')}, {info.get('nproc')} cores, load at start "
             f"{', '.join(f'{x:.1f}' for x in info['loadavg_at_start'])}. doppel {info.get('doppel_version')} "
             f"({info.get('repo_commit')}); smartnoise-synth 1.0.8 with mbi 1.1.0, single-threaded. "
             f"δ = {args.delta:g} for every engine (snsynth's default). Seconds: wall time of the whole "
             "process(es): doppel's fit and sample, the peer's Python child including start-up.", "",
             "| dataset | ε | engine | s | quality | all pairs | pair trends | TSTR/TRTR | detection AUC | DCR share | membership AUC |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        e = r.get("evaluation") or {}
        p = e.get("privacy") or {}
        status = "" if r.get("status") == "ok" else f" ({r.get('status')})"
        if r["engine"] == "doppel" and r.get("runs"):
            status += f" (mean of {len(r['runs'])})"
        lines.append(f"| {r['dataset']} | {r['epsilon']:g} | {LABELS[r['engine']]}{status} | "
                     f"{fmt(r.get('seconds'), '.1f')} | {fmt(e.get('quality'))} | {fmt(e.get('quality_all_pairs'))} | "
                     f"{fmt(e.get('column_pair_trends'))} | {fmt(e.get('tstr_trtr'))} | {fmt(e.get('detection_auc'))} | "
                     f"{fmt(e.get('dcr_share'))} | {fmt(p.get('membership_auc'))} |")
    lines += ["", "doppel's rows are means over its fits (each with fresh noise from the operating system); "
              "membership AUC is the worst fit's. The ranges over the fits:", ""]
    for r in results:
        e = r.get("evaluation") or {}
        if r["engine"] == "doppel" and r.get("runs"):
            spans = ", ".join(f"{k} {e[k + '_range'][0]:.3f}–{e[k + '_range'][1]:.3f}"
                              for k in ("quality", "quality_all_pairs", "tstr_trtr") if k + "_range" in e)
            lines.append(f"- {r['dataset']}, ε = {r['epsilon']:g}: {spans}")
    lines += ["", "## Acceptance", ""]
    by_key: dict = {}
    for r in results:
        by_key.setdefault((r["dataset"], r["epsilon"]), {})[r["engine"]] = r
    for (name, epsilon), engines in by_key.items():
        d = engines.get("doppel") or {}
        de = d.get("evaluation") or {}
        peers = [engines[p] for p in PEERS if p in engines]
        scored = [p for p in peers if (p.get("evaluation") or {}).get("quality") is not None]
        checks = []
        for label, key in (("quality", "quality"), ("quality, all pairs", "quality_all_pairs"),
                           ("TSTR/TRTR", "tstr_trtr")):
            best = max(((p["evaluation"][key], p["engine"]) for p in scored if p["evaluation"].get(key) is not None),
                       default=None)
            mine = de.get(key)
            if best is None or mine is None:
                checks.append(f"{label}: n/a")
            else:
                verdict = "PASS" if mine >= best[0] else "FAIL"
                checks.append(f"{label}: {verdict} ({mine:.3f} vs {LABELS[best[1]]} {best[0]:.3f})")
        aim = engines.get("aim")
        if aim and d.get("seconds"):
            bound = "≥ " if aim.get("status") == "timeout" else ""
            speed = aim["seconds"] / d["seconds"]
            checks.append(f"speed vs AIM: {'PASS' if speed >= 10 else 'FAIL'} ({bound}{speed:.0f}x: "
                          f"{bound}{aim['seconds']:.0f} s vs {d['seconds']:.2f} s)")
        lines.append(f"- **{name}, ε = {epsilon:g}**: " + "; ".join(checks))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--epsilons", default="1,3,10")
    ap.add_argument("--engines", default="doppel,mst,aim")
    ap.add_argument("--datasets-dir", type=Path, default=REPO_DIR.parent / "shared" / "datasets")
    ap.add_argument("--doppel", type=Path, default=None, help="the doppel binary (default: build --release)")
    ap.add_argument("--smartnoise-python", default=str(BENCH_DIR / ".venv-smartnoise" / "bin" / "python"))
    ap.add_argument("--delta", type=float, default=PEER_DELTA)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="doppel fits per dataset and ε (its noise differs each time)")
    ap.add_argument("--peer-timeout", type=float, default=1800.0)
    ap.add_argument("--peers-cache", type=Path, default=None,
                    help="JSON of earlier peer results to reuse (default: bench/results/dp-peers-DATE.json)")
    ap.add_argument("--rerun-peers", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/doppel-bench-dp"))
    ap.add_argument("--timeout", type=float, default=1800.0, help="for `doppel evaluate`")
    ap.add_argument("--keep-workdir", action="store_true", help="keep evaluation JSON files")
    args = ap.parse_args(argv)

    doppel = args.doppel
    if doppel is None:
        import subprocess
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "doppel-cli"], cwd=REPO_DIR, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_DIR / "target"))
        doppel = target / "release" / "doppel"
    engines = args.engines.split(",")
    if any(e in PEERS for e in engines) and not Path(args.smartnoise_python).exists():
        print(f"{args.smartnoise_python} is missing: run `BENCH_DP=1 bash bench/setup.sh`", file=sys.stderr)
        return 2
    today = dt.date.today().isoformat()
    cache_path = args.peers_cache or args.out_dir / f"dp-peers-{today}.json"
    cache = {} if args.rerun_peers or not cache_path.is_file() else json.loads(cache_path.read_text())
    info = machine_info(doppel)
    results, failed = [], False
    for name in args.datasets.split(","):
        work = args.workdir / name
        work.mkdir(parents=True, exist_ok=True)
        train = args.datasets_dir / name / f"{name}.train.csv"
        holdout = args.datasets_dir / name / f"{name}.holdout.csv"
        meta = work / "metadata.json"
        run_measured([str(doppel), "inspect", str(train), "-o", str(meta), "--quiet", "--force"], work, "inspect")
        rows = sum(1 for _ in open(train)) - 1
        ds = {"name": name, "target": DATASETS[name], "train_csv": str(train), "holdout_csv": str(holdout),
              "metadata_path": str(meta), "rows": rows}
        for epsilon in (float(e) for e in args.epsilons.split(",")):
            for engine in engines:
                key = f"{name}/{epsilon:g}/{engine}"
                if engine in PEERS and key in cache:
                    log(f"{key}: from {cache_path.name}")
                    results.append(cache[key])
                    continue
                log(f"{key}")
                if engine == "doppel":
                    res, failed_runs = run_doppel_repeated(args, doppel, ds, epsilon, work)
                    failed |= failed_runs
                else:
                    res = run_peer(args, engine, ds, epsilon, work)
                    if res.get("status") == "ok":
                        res["evaluation"] = evaluate(args, doppel, f"{engine}-{epsilon:g}", ds,
                                                     Path(res["out_path"]), work)
                        failed |= not res["evaluation"].get("ok")
                    elif res.get("status") != "timeout":
                        failed = True
                        log(f"  {key} failed: {res.get('error', '')[-500:]}")
                res.update(dataset=name, epsilon=epsilon)
                results.append(res)
                if engine in PEERS:
                    cache[key] = res
                    args.out_dir.mkdir(parents=True, exist_ok=True)
                    cache_path.write_text(json.dumps(cache, indent=2, default=str) + "\n")
    md = report(results, info, args)
    print(md)
    md_path, json_path = write_report(args.out_dir, f"dp-{today}", md, {"machine": info, "results": results})
    log(f"wrote {md_path} and {json_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
