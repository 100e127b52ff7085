#!/usr/bin/env python3
"""doppel's default engine side by side with SDV GaussianCopula, CTGAN, TVAE and MOSTLY AI's TabularARGN.

For every dataset (default cps1988 -> `wage`, telco_churn -> `churn`, credit_default -> `LateSept`,
flchain -> `death`, covid_testing -> `result`; `<name>.train.csv` / `<name>.holdout.csv` under
--datasets-dir) every engine is fitted on the train split and asks for as many rows (N):

* doppel: `doppel fit TRAIN -o MODEL --seed S --quiet [--engine E]` and
  `doppel sample MODEL -n N -o OUT.csv --seed S --quiet --force`, two child processes (default
  thread count); wall time, CPU time and peak RSS of each (GNU time %M, see bench_copula.py).
* peers, each in its own child Python process, single-threaded (OMP/MKL/OpenBLAS/... = 1,
  torch.set_num_threads(1), no GPU visible): pandas reads the CSV, the peer is fitted with its
  defaults (../shared/docs/PEERS.md), samples N rows and writes a CSV. fit() and sample() are timed
  inside the process, the whole process from outside.
  - gaussian_copula: SDV GaussianCopulaSynthesizer(metadata), metadata auto-detected as in
    bench_copula.py;
  - ctgan / tvae: SDV CTGANSynthesizer / TVAESynthesizer(metadata, epochs=300, enable_gpu=False);
  - mostlyai: mostlyai.engine.TabularARGN(device="cpu", random_state=S), defaults otherwise
    (it runs from its own venv, bench/.venv-mostlyai: it pins an older torch than SDV's ctgan).
* Every output, doppel's and the peers', is scored by the same doppel binary:
  `doppel evaluate --real TRAIN --synthetic OUT --holdout HOLDOUT --target T --metadata META
  --output X.json --seed 0 --quiet` with META from `doppel inspect TRAIN`, so every engine is scored
  alike (docs/evaluation.md defines the figures).

Then one markdown table (dataset x engine) and an acceptance section per dataset: doppel's row
against the peers measured in the same run (quality, pair trends, TSTR/TRTR, detection AUC, DCR
share, exact copies, speed). Results: stdout, and <out-dir>/engines-YYYY-MM-DD[-suffix].md / .json
with every raw number. Progress goes to stderr, with timestamps. Exit status 0 when everything ran
(even with FAIL lines in the acceptance), 1 when some engine run or evaluation failed, 2 for bad
setup. The full run takes over an hour (CTGAN and TVAE dominate); see bench/README.md.

    BENCH_PEERS=1 bash bench/setup.sh && bench/.venv/bin/python bench/bench_engines.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from bench_copula import machine_info, run_measured, write_report  # noqa: E402

DATASETS = {"cps1988": "wage", "telco_churn": "churn", "credit_default": "LateSept",
            "flchain": "death", "covid_testing": "result"}
ENGINES = ["doppel", "gaussian_copula", "ctgan", "tvae", "mostlyai"]
PEERS = ENGINES[1:]
LABELS = {"doppel": "doppel", "gaussian_copula": "SDV GaussianCopula", "ctgan": "SDV CTGAN",
          "tvae": "SDV TVAE", "mostlyai": "MOSTLY AI TabularARGN"}
SDV_PEERS = ("gaussian_copula", "ctgan", "tvae")
DEFAULT_EPOCHS = 300  # SDV 2.0.0's default for CTGAN and TVAE, as in PEERS.md

CACHE_DOPPEL = Path("/root/.cache/doppel/target/release/doppel")
REPO_DOPPEL = REPO_DIR / "target" / "release" / "doppel"
SDV_PYTHON = BENCH_DIR / ".venv" / "bin" / "python"
MOSTLYAI_PYTHON = BENCH_DIR / ".venv-mostlyai" / "bin" / "python"

# Acceptance bar (issue 4) for doppel's row against the peers of the same run.
QUALITY_MARGIN = 0.01
DCR_SHARE_MAX = 0.53
SPEED_QUALITY_WINDOW = 0.02
SPEED_FACTOR_COMPARABLE = 10
SPEED_FACTOR_CTGAN = 50

# Every peer runs single-threaded and on the CPU.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "BLIS_NUM_THREADS": "1",
    "LOKY_MAX_CPU_COUNT": "1",  # joblib: mostlyai's analyze/encode use cpu_count() - 1 workers
    "TOKENIZERS_PARALLELISM": "false",
    "CUDA_VISIBLE_DEVICES": "",
    # nothing may be fetched from a model hub (TabularARGN needs nothing from one)
    "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}

# A peer, run as `python -c PEER_CHILD PEER TRAIN_CSV OUT_CSV N SEED RESULT_JSON EPOCHS MAX_TRAINING_MIN WS`.
# EPOCHS / MAX_TRAINING_MIN are "-" for the peer's default.
PEER_CHILD = r"""
import json, os, random, sys, time, warnings
t_start = time.perf_counter()
warnings.simplefilter("ignore")
peer, train_csv, out_csv, n_rows, seed, result_json, epochs, max_min, ws = sys.argv[1:10]
n_rows, seed = int(n_rows), int(seed)
import numpy as np
import pandas as pd
import torch
torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
random.seed(seed)
np.random.seed(seed)
torch.manual_seed(seed)
info = {"peer": peer, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cuda_available": bool(torch.cuda.is_available())}
if peer == "mostlyai":
    from mostlyai.engine import TabularARGN
    import mostlyai.engine
    info["mostlyai_engine"] = mostlyai.engine.__version__
else:
    import sdv
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    info["sdv"] = sdv.__version__
    if peer != "gaussian_copula":
        import ctgan
        info["ctgan"] = ctgan.__version__
t_imported = time.perf_counter()

df = pd.read_csv(train_csv)
t_read = time.perf_counter()
settings = {}
if peer == "mostlyai":
    kw = {"device": "cpu", "random_state": seed, "workspace_dir": ws}
    if max_min != "-":
        kw["max_training_time"] = float(max_min)
    settings = dict(kw)
    model = TabularARGN(**kw)
    t0 = time.perf_counter()
    model.fit(df)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = model.sample(n_samples=n_rows)
    sample_s = time.perf_counter() - t0
    info["max_training_time_min"] = model.max_training_time
    info["max_epochs"] = model.max_epochs
    detect_s = 0.0
else:
    if hasattr(Metadata, "detect_from_dataframe"):  # SDV 1.x
        metadata = Metadata.detect_from_dataframe(df, table_name="table")
        fit_arg = df
    else:  # SDV 2.x: tables are always passed as {name: DataFrame}
        metadata = Metadata.detect_from_dataframes({"table": df})
        fit_arg = {"table": df}
    detect_s = time.perf_counter() - t_read
    if peer == "gaussian_copula":
        synth = GaussianCopulaSynthesizer(metadata)
    else:
        kw = {"enable_gpu": False}
        if epochs != "-":
            kw["epochs"] = int(epochs)
        settings = dict(kw)
        synth = (CTGANSynthesizer if peer == "ctgan" else TVAESynthesizer)(metadata, **kw)
        settings["epochs_effective"] = synth.get_parameters().get("epochs")
    t0 = time.perf_counter()
    synth.fit(fit_arg)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = synth.sample(n_rows)
    sample_s = time.perf_counter() - t0
    if isinstance(out, dict):
        out = out["table"]
    columns = metadata.to_dict()["tables"]["table"]["columns"]
    info["sdtypes"] = {name: col.get("sdtype") for name, col in columns.items()}

# Minimal normalisation so that `doppel evaluate` reads the output as the train split's types:
# whole-number floats in a column that is integer in the train CSV are written as integers
# (pandas turns an int column with missing values into float and would write 1.0), and the
# columns are put in the train split's order. Nothing else is touched.
t0 = time.perf_counter()
notes = []
out = out.reset_index(drop=True)
for col in df.columns:
    if col not in out.columns:
        notes.append(f"column `{col}` missing from the output")
        continue
    s = out[col]
    if pd.api.types.is_integer_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
        if pd.api.types.is_float_dtype(s):
            v = s.dropna()
            if len(v) == 0 or bool(np.all(np.mod(v.to_numpy(dtype=float), 1.0) == 0)):
                out[col] = s.astype("Int64")
                notes.append(f"`{col}`: whole-number floats written as integers")
            else:
                notes.append(f"`{col}`: integer in train, fractional values in the output (left as is)")
extra = [c for c in out.columns if c not in df.columns]
if extra:
    notes.append(f"extra columns dropped: {extra}")
out = out[[c for c in df.columns if c in out.columns]]
out.to_csv(out_csv, index=False)
write_s = time.perf_counter() - t0

info.update({
    "import_s": t_imported - t_start, "read_s": t_read - t_imported, "detect_s": detect_s,
    "fit_s": fit_s, "sample_s": sample_s, "write_s": write_s, "rows_out": int(len(out)),
    "settings": settings, "output_dtypes": {c: str(t) for c, t in out.dtypes.items()},
    "normalisation": notes,
})
with open(result_json, "w") as f:
    json.dump(info, f, default=str)
"""

VERSIONS_CHILD = r"""
import importlib.metadata as m, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""

T0 = time.monotonic()


def log(msg: str) -> None:
    el = time.monotonic() - T0
    print(f"[bench {time.strftime('%H:%M:%S')} +{el / 60:5.1f} min] {msg}", file=sys.stderr, flush=True)


def clean(value):
    """JSON-safe copy: NaN / inf -> None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def first_line(text: str, limit: int = 120) -> str:
    """The last non-empty line of an error (a Python traceback's last line is the exception)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return "failed"
    head = lines[0]
    # run_measured puts "exit code N: <stderr tail>"; prefer the stderr's last line
    line = lines[-1] if len(lines) > 1 else head
    if head.startswith("timed out"):
        line = head.split(":")[0]
    return line[:limit].replace("|", "/")


# ----------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------


def run_doppel(args, doppel: Path, train_csv: Path, n: int, work: Path) -> dict:
    model, out = work / "doppel.model", work / "doppel.csv"
    fit_cmd = [str(doppel), "fit", str(train_csv), "-o", str(model), "--seed", str(args.seed), "--quiet", "--force"]
    if args.doppel_engine:
        fit_cmd += ["--engine", args.doppel_engine]
    res = {"engine": "doppel", "out_path": str(out)}
    log(f"  doppel fit{' --engine ' + args.doppel_engine if args.doppel_engine else ''}")
    res["fit"] = run_measured(fit_cmd, work, "doppel-fit", timeout=args.timeout)
    if not res["fit"]["ok"]:
        res["error"] = "fit: " + res["fit"]["error"]
        res["status"] = "timeout" if res["fit"]["error"].startswith("timed out") else "failed"
        return res
    log(f"  doppel sample -n {n}")
    res["sample"] = run_measured([str(doppel), "sample", str(model), "-n", str(n), "-o", str(out),
                                  "--seed", str(args.seed), "--quiet", "--force"], work, "doppel-sample",
                                 timeout=args.timeout)
    if not res["sample"]["ok"]:
        res["error"] = "sample: " + res["sample"]["error"]
        res["status"] = "timeout" if res["sample"]["error"].startswith("timed out") else "failed"
        return res
    if not out.is_file():
        res.update(status="failed", error=f"sample: exited 0 but wrote no {out.name}")
        return res
    f, s = res["fit"], res["sample"]
    res.update({
        "ok": True, "status": "ok",
        "fit_s": f["wall_s"], "sample_s": s["wall_s"],
        "fit_sample_s": f["wall_s"] + s["wall_s"],  # the two processes are the whole story
        "process_s": f["wall_s"] + s["wall_s"],
        "cpu_s": f["cpu_s"] + s["cpu_s"],
        "peak_rss_mib": max(f["peak_rss_mib"], s["peak_rss_mib"]),
        "sample_rows_per_s": n / s["wall_s"] if s["wall_s"] > 0 else None,
        "model_bytes": model.stat().st_size if model.is_file() else None,
    })
    model.unlink(missing_ok=True)
    return res


def run_peer(args, peer: str, train_csv: Path, n: int, work: Path) -> dict:
    python = args.mostlyai_python if peer == "mostlyai" else args.sdv_python
    out, result_json = work / f"{peer}.csv", work / f"{peer}-result.json"
    ws = work / f"{peer}-workspace"
    epochs = str(args.epochs) if (args.epochs is not None and peer in ("ctgan", "tvae")) else "-"
    max_min = (str(args.mostlyai_max_training_time)
               if (args.mostlyai_max_training_time is not None and peer == "mostlyai") else "-")
    env = dict(os.environ, PYTHONHASHSEED=str(args.seed), **SINGLE_THREAD_ENV)
    cmd = [str(python), "-c", PEER_CHILD, peer, str(train_csv), str(out), str(n), str(args.seed),
           str(result_json), epochs, max_min, str(ws)]
    log(f"  {LABELS[peer]}: fit + sample -n {n} (child process, timeout {args.timeout:g} s)")
    proc = run_measured(cmd, work, peer, env=env, timeout=args.timeout)
    proc["cmd"] = [str(python), "-c", "<PEER_CHILD>"] + cmd[3:]
    res = {"engine": peer, "process": proc, "out_path": str(out)}
    if not args.keep_workdir:
        shutil.rmtree(ws, ignore_errors=True)
    if not proc["ok"]:
        res["error"] = proc["error"]
        res["status"] = "timeout" if proc["error"].startswith("timed out") else "failed"
        return res
    inner = json.loads(result_json.read_text())
    res.update(inner)
    res.update({
        "ok": True, "status": "ok",
        "fit_sample_s": inner["fit_s"] + inner["sample_s"],
        "process_s": proc["wall_s"],
        "cpu_s": proc["cpu_s"],
        "peak_rss_mib": proc["peak_rss_mib"],
        "sample_rows_per_s": n / inner["sample_s"] if inner["sample_s"] > 0 else None,
    })
    if inner.get("rows_out") != n:
        log(f"  warning: {peer} wrote {inner.get('rows_out')} rows, asked for {n}")
    for note in inner.get("normalisation", []):
        log(f"  {peer} output: {note}")
    return res


def evaluate(args, doppel: Path, engine: str, ds: dict, synth: Path, work: Path) -> dict:
    ev_json = work / f"{engine}-evaluation.json"
    cmd = [str(doppel), "evaluate", "--real", ds["train_csv"], "--synthetic", str(synth), "--holdout",
           ds["holdout_csv"], "--target", ds["target"], "--metadata", ds["metadata_path"], "--output",
           str(ev_json), "--seed", "0", "--quiet", "--force"]
    log(f"  doppel evaluate ({engine})")
    proc = run_measured(cmd, work, f"{engine}-evaluate", timeout=args.timeout)
    res = {"process": proc}
    if not proc["ok"]:
        res["error"] = proc["error"]
        return res
    e = json.loads(ev_json.read_text())
    q, u, d, p = e.get("quality") or {}, e.get("utility") or {}, e.get("detection") or {}, e.get("privacy") or {}
    res.update({
        "ok": True,
        "quality": q.get("score"),
        "quality_all_pairs": q.get("score_all_pairs"),
        "column_shapes": q.get("column_shapes"),
        "column_pair_trends": q.get("column_pair_trends"),
        "column_pair_trends_all_pairs": q.get("column_pair_trends_all_pairs"),
        "pairs_counted": sum(1 for x in q.get("pairs", []) if x.get("meets_threshold")),
        "pairs": len(q.get("pairs", [])),
        "accuracy": e.get("accuracy"),
        "utility": {k: u.get(k) for k in ("target", "task", "metric", "tstr", "trtr", "ratio", "test_rows", "note")},
        "tstr_trtr": u.get("ratio"),
        "detection": {k: d.get(k) for k in ("auc", "fold_aucs", "rows_per_class", "folds", "score")},
        "detection_auc": d.get("auc"),
        "privacy": {k: v for k, v in p.items() if k not in ("dcr_histogram",)},
        "dcr_share": p.get("dcr_share"),
        "exact_copy_rate": p.get("exact_copy_rate"),
        "holdout_exact_match_rate": p.get("holdout_exact_match_rate"),
        "membership_auc": p.get("membership_auc"),
        "skipped_columns": e.get("skipped_columns"),
        "warnings": e.get("warnings"),
        "columns": e.get("columns"),
    })
    if not args.keep_workdir:
        ev_json.unlink(missing_ok=True)
    return res


# ----------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------


def fmt(v, spec: str = ".3f") -> str:
    return "—" if v is None else f"{v:{spec}}"


def secs(v) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def cell_status(e: dict) -> str | None:
    """None when the engine ran and was scored; otherwise the text for the table."""
    if not e.get("ok"):
        if e.get("status") == "timeout":
            return "timeout"
        return f"failed: {first_line(e.get('error', 'failed'))}"
    ev = e.get("evaluation") or {}
    if not ev.get("ok"):
        return f"evaluate failed: {first_line(ev.get('error', 'failed'))}"
    return None


def markdown_table(results: list[dict]) -> str:
    head = ("| dataset | engine | fit s | sample rows/s | fit+sample s | CPU s | peak MB | quality | "
            "quality, all pairs | pair trends | TSTR/TRTR | detection AUC | DCR share | "
            "exact copies (holdout's own rate) |")
    lines = [head, "|---|---|" + "---:|" * 12]
    notes: list[str] = []
    for r in results:
        for eng in r["engines_run"]:
            e = r["engines"][eng]
            label = LABELS[eng]
            if not e.get("ok"):
                lines.append(f"| {r['dataset']} | {label} | {cell_status(e)} |" + " |" * 11)
                continue
            if eng == "doppel":
                fs = f"{secs(e['fit_sample_s'])} (2 processes)"
            else:
                fs = f"{secs(e['fit_sample_s'])} / {secs(e['process_s'])} whole"
            timing = (f"| {r['dataset']} | {label} | {secs(e['fit_s'])} | {fmt(e['sample_rows_per_s'], ',.0f')} | "
                      f"{fs} | {secs(e['cpu_s'])} | {e['peak_rss_mib']:,.0f} |")
            ev = e.get("evaluation") or {}
            status = cell_status(e)
            if status:
                lines.append(f"{timing} {status} |" + " |" * 6)
                continue
            copies = f"{fmt(ev['exact_copy_rate'], '.4f')} ({fmt(ev['holdout_exact_match_rate'], '.4f')})"
            utility = fmt(ev["tstr_trtr"])
            if ev["tstr_trtr"] is None and ev["utility"].get("note"):
                notes.append(f"{r['dataset']} / {label}: {ev['utility']['note']}")
                utility = f"— [{len(notes)}]"
            lines.append(f"{timing} {fmt(ev['quality'])} | {fmt(ev['quality_all_pairs'])} | "
                         f"{fmt(ev['column_pair_trends'])} | {utility} | {fmt(ev['detection_auc'])} | "
                         f"{fmt(ev['dcr_share'])} | {copies} |")
    if notes:
        lines.append("")
        lines += [f"[{i}] {n}" + ("  " if i < len(notes) else "") for i, n in enumerate(notes, 1)]
    return "\n".join(lines)


def _scored(r: dict, eng: str) -> dict | None:
    e = r["engines"].get(eng)
    if e and e.get("ok") and (e.get("evaluation") or {}).get("ok"):
        return e
    return None


def acceptance(r: dict) -> list[dict]:
    """Issue 4's bar for doppel's row against the peers of the same run. Each check:
    {"check", "status": PASS / FAIL / n/a, "detail"}."""
    checks: list[dict] = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        checks.append({"check": name, "status": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
                       "detail": detail})

    d = _scored(r, "doppel")
    peers = {p: _scored(r, p) for p in r["engines_run"] if p != "doppel"}
    scored = {p: e for p, e in peers.items() if e}
    missing = [LABELS[p] for p, e in peers.items() if not e]
    if d is None:
        add("doppel", None, "doppel did not run or was not scored: nothing to check")
        return checks
    if not scored:
        add("peers", None, "no peer ran and was scored in this run: nothing to compare with")
        return checks
    dv = d["evaluation"]
    note = f" (not run / not scored: {', '.join(missing)})" if missing else ""

    def best(field: str, pick=max):
        vals = [(e["evaluation"][field], p) for p, e in scored.items() if e["evaluation"].get(field) is not None]
        return pick(vals) if vals else (None, None)

    for field, label in (("quality", "quality (as shipped)"), ("quality_all_pairs", "quality, all pairs")):
        bv, bp = best(field)
        mine = dv.get(field)
        if mine is None or bv is None:
            add(f"{label} ≥ best peer + {QUALITY_MARGIN}", None, f"doppel {fmt(mine, '.4f')}, best peer {fmt(bv, '.4f')}")
        else:
            add(f"{label} ≥ best peer + {QUALITY_MARGIN}", mine >= bv + QUALITY_MARGIN - 1e-12,
                f"doppel {mine:.4f} vs {LABELS[bp]} {bv:.4f} + {QUALITY_MARGIN} = {bv + QUALITY_MARGIN:.4f}{note}")
    bv, bp = best("column_pair_trends")
    mine = dv.get("column_pair_trends")
    if mine is None or bv is None:
        add("pair trends ≥ best peer", None, f"doppel {fmt(mine, '.4f')}, best peer {fmt(bv, '.4f')} (no pair meets the threshold?)")
    else:
        add("pair trends ≥ best peer", mine >= bv, f"doppel {mine:.4f} vs {LABELS[bp]} {bv:.4f}{note}")
    bv, bp = best("tstr_trtr")
    mine = dv.get("tstr_trtr")
    if mine is None or bv is None:
        add("TSTR/TRTR ≥ every peer", None, f"doppel {fmt(mine, '.4f')}, best peer {fmt(bv, '.4f')}")
    else:
        add("TSTR/TRTR ≥ every peer", mine >= bv, f"doppel {mine:.4f} vs best {LABELS[bp]} {bv:.4f}{note}")
    bv, bp = best("detection_auc", pick=min)
    mine = dv.get("detection_auc")
    if mine is None or bv is None:
        add("detection AUC < every peer", None, f"doppel {fmt(mine, '.4f')}, lowest peer {fmt(bv, '.4f')}")
    else:
        add("detection AUC < every peer", mine < bv, f"doppel {mine:.4f} vs lowest {LABELS[bp]} {bv:.4f}{note}")
    mine = dv.get("dcr_share")
    add(f"DCR share ≤ {DCR_SHARE_MAX}", None if mine is None else mine <= DCR_SHARE_MAX, f"doppel {fmt(mine, '.4f')}")
    ec, hm = dv.get("exact_copy_rate"), dv.get("holdout_exact_match_rate")
    add("exact-copy rate ≤ holdout's own exact-match rate", None if ec is None or hm is None else ec <= hm,
        f"doppel {fmt(ec, '.4f')} vs holdout {fmt(hm, '.4f')}")

    # Speed. doppel: wall of its two processes. Peers: whole process (pass/fail) and in-process.
    mine = d["fit_sample_s"]
    qd = dv.get("quality")
    comparable = {p: e for p, e in scored.items()
                  if qd is not None and e["evaluation"].get("quality") is not None
                  and e["evaluation"]["quality"] >= qd - SPEED_QUALITY_WINDOW}
    name = (f"fit+sample ≤ 1/{SPEED_FACTOR_COMPARABLE} of the fastest peer with quality ≥ doppel's − "
            f"{SPEED_QUALITY_WINDOW}")
    if not comparable:
        add(name, None, f"no peer's quality is within {SPEED_QUALITY_WINDOW} of doppel's {fmt(qd, '.4f')} (or better)")
    else:
        fp = min(comparable, key=lambda p: comparable[p]["process_s"])
        pe = comparable[fp]
        whole, inproc = pe["process_s"] / mine, pe["fit_sample_s"] / mine
        add(name, whole >= SPEED_FACTOR_COMPARABLE,
            f"doppel {mine:.2f} s vs {LABELS[fp]} (quality {pe['evaluation']['quality']:.4f}) whole process "
            f"{pe['process_s']:.1f} s = {whole:.1f}× (in-process fit+sample {pe['fit_sample_s']:.1f} s = "
            f"{inproc:.1f}×); needs ≥ {SPEED_FACTOR_COMPARABLE}× on the whole process")
    ct = r["engines"].get("ctgan")
    name = f"fit+sample ≤ 1/{SPEED_FACTOR_CTGAN} of CTGAN's"
    if not (ct and ct.get("ok")):
        add(name, None, "CTGAN not run" if ct is None else f"CTGAN {ct.get('status', 'failed')}")
    else:
        whole, inproc = ct["process_s"] / mine, ct["fit_sample_s"] / mine
        add(name, whole >= SPEED_FACTOR_CTGAN,
            f"doppel {mine:.2f} s vs CTGAN whole process {ct['process_s']:.1f} s = {whole:.1f}× (in-process "
            f"{ct['fit_sample_s']:.1f} s = {inproc:.1f}×); needs ≥ {SPEED_FACTOR_CTGAN}× on the whole process")
    return checks


def acceptance_text(results: list[dict]) -> str:
    parts = []
    for r in results:
        checks = r.get("acceptance", [])
        n_pass = sum(c["status"] == "PASS" for c in checks)
        n_fail = sum(c["status"] == "FAIL" for c in checks)
        parts.append(f"### {r['dataset']} (target `{r['target']}`): {n_pass} PASS, {n_fail} FAIL, "
                     f"{len(checks) - n_pass - n_fail} n/a\n")
        parts += [f"- **{c['status']}** {c['check']}: {c['detail']}" for c in checks]
        parts.append("")
    return "\n".join(parts)


NOTES = """\
- One run per number, on a shared machine (look at the load average above). CPU seconds are steadier than
  wall seconds; the acceptance's speed checks use wall seconds as issue 4 says.
- doppel: *fit s* is the `doppel fit` process's wall time, *fit+sample s* the sum of the `fit` and `sample`
  processes' wall times (CSV read, model file and CSV write included), *sample rows/s* = N / the `sample`
  process's wall time, *peak MB* the larger of the two processes. doppel runs with its default thread count.
- Peers: *fit s* / *sample rows/s* come from `fit()` / `sample()` timed inside the peer's process;
  *fit+sample s* shows that in-process time, then the whole process's wall time (interpreter start, imports,
  CSV read, metadata detection, CSV write). Peers run single-threaded (OMP_NUM_THREADS=1 and friends,
  `torch.set_num_threads(1)`) with no GPU visible. *CPU s* is user + sys of all the engine's processes.
- Every output is scored by the same `doppel evaluate --holdout --target --metadata --seed 0` run, metadata from
  `doppel inspect` of the train split; the figures are defined in docs/evaluation.md. *pair trends* is Column
  Pair Trends as SDMetrics 0.32 ships it (only strongly associated pairs count; the all-pairs figure is in the
  JSON). *TSTR/TRTR*: ROC AUC (binary), macro-F1 (multiclass) or R² (regression) of gradient-boosted trees trained
  on synthetic / real train rows, tested on the holdout. *detection AUC*: 0.5 = indistinguishable.
  *DCR share*: 0.5 ideal. *exact copies*: share of synthetic rows equal to a train row, next to the holdout's own rate.
- Peer outputs are normalised minimally before scoring (whole-number floats in integer columns written as
  integers, train column order); the JSON lists what was changed per peer (`normalisation`).
- Acceptance (issue 4), per dataset, doppel against the peers that ran and were scored in this run: quality and
  quality all pairs ≥ best peer + 0.01; pair trends ≥ best peer; TSTR/TRTR ≥ every peer; detection AUC < every
  peer; DCR share ≤ 0.53; exact-copy rate ≤ the holdout's own; fit+sample wall ≤ 1/10 of the fastest peer
  whose quality is at least doppel's − 0.02 (whole process decides, in-process ratio shown) and ≤ 1/50 of CTGAN's."""


def nondefault_warnings(args) -> list[str]:
    out = []
    if args.epochs is not None and args.epochs != DEFAULT_EPOCHS and {"ctgan", "tvae"} & set(args.engines):
        out.append(f"CTGAN/TVAE trained for --epochs {args.epochs} instead of the default {DEFAULT_EPOCHS}")
    if args.mostlyai_max_training_time is not None and "mostlyai" in args.engines:
        out.append(f"MOSTLY AI TabularARGN capped at --mostlyai-max-training-time {args.mostlyai_max_training_time:g} "
                   f"min instead of its default (14400 min, 100 epochs)")
    return out


def package_versions(python: Path, names: list[str], work: Path) -> dict:
    if not python.is_file():
        return {}
    try:
        out = subprocess.run([str(python), "-c", VERSIONS_CHILD, *names], capture_output=True, text=True,
                             timeout=120, cwd=work)
        return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[-300:]}
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        return {"error": str(e)}


def check_venv(python: Path, imports: str, work: Path, tag: str) -> str | None:
    """Import what the peer needs once (untimed; also warms the disk cache). None when fine."""
    if not python.is_file():
        return f"{python} does not exist"
    res = run_measured([str(python), "-c", imports], work, f"warmup-{tag}", env=dict(os.environ, **SINGLE_THREAD_ENV),
                       timeout=600)
    if res["ok"]:
        log(f"warm-up: {tag} imports in {res['wall_s']:.1f} s (untimed)")
        return None
    return first_line(res.get("error", "failed"), 300)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def default_doppel() -> Path:
    return CACHE_DOPPEL if CACHE_DOPPEL.is_file() else REPO_DOPPEL


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated dataset names")
    p.add_argument("--datasets-dir", type=Path, default=REPO_DIR.parent / "shared" / "datasets",
                   help="folder holding <name>/<name>.train.csv and .holdout.csv")
    p.add_argument("--peers", dest="engines_arg", default=",".join(ENGINES),
                   help=f"comma-separated engines to run: {', '.join(ENGINES)}")
    p.add_argument("--doppel", type=Path, default=default_doppel(), help="doppel binary (a private copy runs)")
    p.add_argument("--doppel-engine", default=None, help="pass --engine NAME to doppel fit (default: its default)")
    p.add_argument("--seed", type=int, default=0, help="seed for every engine")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"CTGAN/TVAE epochs instead of {DEFAULT_EPOCHS} (SMOKE TESTS ONLY: flagged in the report)")
    p.add_argument("--mostlyai-max-training-time", type=float, default=None, metavar="MIN",
                   help="cap TabularARGN training at MIN minutes (SMOKE TESTS ONLY: flagged in the report)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per engine process")
    p.add_argument("--sdv-python", type=Path, default=SDV_PYTHON, help="interpreter with sdv, ctgan and torch")
    p.add_argument("--mostlyai-python", type=Path, default=MOSTLYAI_PYTHON, help="interpreter with mostlyai-engine")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results", help="where the .md/.json go")
    p.add_argument("--suffix", default="", help="appended to the report name: engines-DATE-SUFFIX.md")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary folder (outputs, stderr, JSON)")
    args = p.parse_args(argv)
    args.engines = [e.strip() for e in args.engines_arg.split(",") if e.strip()]
    # absolute, not resolved: a venv's python is a symlink whose target is outside the venv
    args.sdv_python = Path(os.path.abspath(args.sdv_python))
    args.mostlyai_python = Path(os.path.abspath(args.mostlyai_python))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    bad = [e for e in args.engines if e not in ENGINES]
    if bad or not args.engines:
        print(f"error: unknown engine(s) {', '.join(bad) or '(none given)'}; --peers takes {', '.join(ENGINES)}",
              file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        print(f"error: unknown dataset(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(DATASETS)}",
              file=sys.stderr)
        return 2
    source = args.doppel.resolve()
    if not (source.is_file() and os.access(source, os.X_OK)):
        print(f"error: doppel binary not found at {source}\n       build it with `cargo build --release -p doppel-cli` "
              f"(or pass --doppel PATH)", file=sys.stderr)
        return 2
    missing = [f"{n}/{n}.{s}.csv" for n in names for s in ("train", "holdout")
               if not (args.datasets_dir / n / f"{n}.{s}.csv").is_file()]
    if missing:
        print(f"error: missing under {args.datasets_dir.resolve()}: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="doppel-bench-engines-"))
    log(f"work dir: {work}")
    # The build folder is shared with people rebuilding it: run one private copy throughout.
    doppel = work / "doppel"
    shutil.copy2(source, doppel)
    stat = source.stat()

    # Setup checks: every venv a chosen peer needs must import (untimed warm-up).
    sdv_peers = [e for e in args.engines if e in SDV_PEERS]
    setup_errors = []
    if sdv_peers:
        imports = "import sdv.single_table, sdv.metadata, torch"
        if {"ctgan", "tvae"} & set(sdv_peers):
            imports += ", ctgan"
        err = check_venv(args.sdv_python, imports, work, "sdv")
        if err:
            setup_errors.append(f"SDV peers ({args.sdv_python}): {err}")
    if "mostlyai" in args.engines:
        err = check_venv(args.mostlyai_python, "import torch; from mostlyai.engine import TabularARGN", work, "mostlyai")
        if err:
            setup_errors.append(f"mostlyai ({args.mostlyai_python}): {err}")
    if setup_errors:
        print("error: peer environment not ready:\n  " + "\n  ".join(setup_errors) +
              "\n  run `BENCH_PEERS=1 bash bench/setup.sh` (or choose engines with --peers)", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        return 2

    machine = machine_info(doppel)
    machine.update({
        "doppel_binary": str(source),
        "doppel_binary_mtime": dt.datetime.fromtimestamp(stat.st_mtime).astimezone().isoformat(timespec="seconds"),
        "doppel_binary_sha256": hashlib.sha256(doppel.read_bytes()).hexdigest()[:16],
        "sdv_venv": package_versions(args.sdv_python, ["sdv", "sdmetrics", "rdt", "ctgan", "torch", "pandas", "numpy",
                                                       "scikit-learn"], work) if sdv_peers else {},
        "mostlyai_venv": package_versions(args.mostlyai_python, ["mostlyai-engine", "torch", "pandas", "numpy",
                                                                 "scikit-learn"], work)
        if "mostlyai" in args.engines else {},
    })
    run_measured([str(doppel), "--version"], work, "warmup-doppel")
    log(f"machine: {machine['cpu_model']} | nproc {machine['nproc']} | load {machine['loadavg_at_start']}")
    log(f"doppel: copy of {source} (built {machine['doppel_binary_mtime']}, sha256 {machine['doppel_binary_sha256']})"
        f"; engine {args.doppel_engine or '(default)'}")
    warns = nondefault_warnings(args)
    for w in warns:
        log(f"WARNING, non-default setting (smoke test only): {w}")

    results, failures = [], []
    try:
        for name in names:
            ds_work = work / name
            ds_work.mkdir()
            train_csv = (args.datasets_dir / name / f"{name}.train.csv").resolve()
            holdout_csv = (args.datasets_dir / name / f"{name}.holdout.csv").resolve()
            train = pd.read_csv(train_csv, low_memory=False)  # N, and warms the page cache for every engine
            n = len(train)
            log(f"{name}: {n} rows x {train.shape[1]} columns, target `{DATASETS[name]}`")
            meta_path = ds_work / "metadata.json"
            r = {"dataset": name, "target": DATASETS[name], "rows": n, "columns": int(train.shape[1]),
                 "train_csv": str(train_csv), "holdout_csv": str(holdout_csv), "metadata_path": str(meta_path),
                 "engines_run": list(args.engines), "engines": {}}
            insp = run_measured([str(doppel), "inspect", str(train_csv), "-o", str(meta_path), "--quiet", "--force"],
                                ds_work, "doppel-inspect", timeout=args.timeout)
            if not insp["ok"]:
                failures.append(f"{name}: doppel inspect: {first_line(insp['error'])}")
                log(failures[-1])
                r["inspect_error"] = insp["error"]
                results.append(r)
                continue
            r["metadata"] = json.loads(meta_path.read_text())
            for eng in args.engines:
                t_eng = time.monotonic()
                e = (run_doppel(args, doppel, train_csv, n, ds_work) if eng == "doppel"
                     else run_peer(args, eng, train_csv, n, ds_work))
                if e.get("ok"):
                    e["evaluation"] = evaluate(args, doppel, eng, r, Path(e["out_path"]), ds_work)
                    if not e["evaluation"].get("ok"):
                        failures.append(f"{name}/{eng}: evaluate: {first_line(e['evaluation']['error'])}")
                        log(failures[-1])
                    if not args.keep_workdir:
                        Path(e["out_path"]).unlink(missing_ok=True)
                else:
                    failures.append(f"{name}/{eng}: {e.get('status')}: {first_line(e.get('error', '?'))}")
                    log(failures[-1])
                r["engines"][eng] = e
                ev = e.get("evaluation") or {}
                log(f"  {eng}: {e.get('status')} in {time.monotonic() - t_eng:.1f} s"
                    + (f"; quality {fmt(ev.get('quality'))}, detection AUC {fmt(ev.get('detection_auc'))}"
                       if ev.get("ok") else ""))
            if "doppel" in args.engines:
                r["acceptance"] = acceptance(r)
            results.append(r)
    finally:
        machine["loadavg_at_end"] = list(os.getloadavg())
        if args.keep_workdir:
            log(f"kept work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(results)
    day = dt.date.today().isoformat()
    stem = f"engines-{day}" + (f"-{args.suffix}" if args.suffix else "")
    cmd = " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))
    sv, mv = machine.get("sdv_venv") or {}, machine.get("mostlyai_venv") or {}
    load = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    peer_desc = []
    if sdv_peers:
        peer_desc.append(f"{', '.join(LABELS[p] for p in sdv_peers)}: sdv {sv.get('sdv', '—')}, ctgan "
                         f"{sv.get('ctgan', '—')}, torch {sv.get('torch', '—')} ({args.sdv_python})"
                         + (f", CTGAN/TVAE epochs {args.epochs or DEFAULT_EPOCHS}"
                            if {"ctgan", "tvae"} & set(sdv_peers) else ""))
    if "mostlyai" in args.engines:
        cap = args.mostlyai_max_training_time
        peer_desc.append(f"{LABELS['mostlyai']}: mostlyai-engine {mv.get('mostlyai-engine', '—')}, torch "
                         f"{mv.get('torch', '—')}, pandas {mv.get('pandas', '—')} ({args.mostlyai_python}), "
                         f"max training time {'default' if cap is None else f'{cap:g} min'}")
    header = [f"# doppel vs SDV GaussianCopula, CTGAN, TVAE and MOSTLY AI TabularARGN — {day}\n"]
    if warns:
        header.append("> **⚠ NOT A REAL BENCHMARK: non-default peer settings (smoke test).**\n>")
        header += [f"> - {w}" for w in warns]
        header.append("> \n> Quality and speed of these peers are not what their defaults give; do not quote.\n")
    header += [
        f"- machine: `{machine['uname']}`; nproc {machine['nproc']}; CPU {machine['cpu_model']}; "
        f"{machine['mem_total_gib']} GiB RAM; load average at start {load(machine['loadavg_at_start'])}, "
        f"at end {load(machine['loadavg_at_end'])}",
        f"- doppel: {machine['doppel_version'] or '—'} (repo commit {machine['repo_commit'] or '—'}, working tree may "
        f"differ; binary {machine['doppel_binary']} built {machine['doppel_binary_mtime']}, sha256 "
        f"{machine['doppel_binary_sha256']}…); engine `{args.doppel_engine or '(default)'}`",
        "- peers: " + ("; ".join(peer_desc) or "none"),
        f"- command: `{cmd}`; seed {args.seed}; timeout {args.timeout:g} s per engine process\n",
    ]
    parts = ["\n".join(header), table, ""]
    if "doppel" in args.engines:
        parts += ["## Acceptance (issue 4: doppel against the peers of this run)\n", acceptance_text(results)]
    if failures:
        parts += ["## Runs that failed\n", "\n".join(f"- {f}" for f in failures), ""]
    parts += ["Notes:\n", NOTES, ""]
    md = "\n".join(parts)
    print(md)
    raw = clean({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                 "command": cmd, "nondefault_settings": warns, "machine": machine, "results": results,
                 "failures": failures})
    md_path, json_path = write_report(args.out_dir, stem, md, raw)
    log(f"wrote {md_path} and {json_path}")
    if failures:
        log(f"failures: {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
