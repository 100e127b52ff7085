#!/usr/bin/env python3
"""Check `doppel evaluate` against SDMetrics and scikit-learn, and time it against SDMetrics.

Part 1, agreement. For every dataset (default cps1988 / target `wage`, telco_churn / `churn`,
credit_default / `LateSept`; `<name>.train.csv` and `<name>.holdout.csv` under --datasets-dir):

* synthetic data from two engines, as many rows as the train split, seed 0:
  doppel (`doppel synth TRAIN -o S.csv --seed 0 --quiet`) and SDV's GaussianCopulaSynthesizer
  (bench_copula.py's child process: pandas read, auto-detected metadata, default settings);
* `doppel inspect TRAIN -o META.json`; that metadata drives both sides: doppel gets it with
  --metadata, and the Python side reads the CSVs by it (numerical -> float, categorical -> text with
  1.0 written as 1 for integer-stored labels, boolean -> True/False by the column's tokens,
  date/datetime -> pandas datetime; identifiers become SDMetrics sdtype `id`, text / PII columns are
  left out of both frames). Missing = an empty field or one of doppel's default tokens
  (NA, NaN, null, N/A, NULL);
* `doppel evaluate --real TRAIN --synthetic S --holdout HOLD --target T --metadata META --output J
  --quiet` (default threads);
* SDMetrics 0.32 `QualityReport.generate` twice: as shipped (a pair counts only where the real
  |Pearson r| > 0.5, or the real Cramér's V > 0.3) and with `real_correlation_threshold` and
  `real_association_threshold` set to 0 on the report (BaseReport.generate copies them onto the
  Column Pair Trends property; the script checks that every pair then meets the threshold);
* scikit-learn: TSTR / TRTR with HistGradientBoostingClassifier / Regressor (max_iter=100,
  learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20, l2_regularization=0, max_bins=255,
  early_stopping=False, random_state=0, native categorical splits for categorical and boolean
  columns; categories ordinal-encoded over real+synthetic+holdout, more than 254 levels -> plain
  numeric codes), trained on synthetic (TSTR) or real train (TRTR) and tested on the real holdout;
  binary -> ROC AUC, multiclass -> macro F1, numeric -> R²; rows with a missing target dropped.
  Detection: n = min(real rows, synthetic rows, 10 000) rows of each (numpy default_rng(0)), labelled
  real 0 / synthetic 1, StratifiedKFold(K, shuffle=True, random_state=0) with doppel's K
  (`detection.folds` in its JSON, 5 by default), mean of the fold AUCs.
  (doppel keeps identical rows in one fold and samples with its own RNG, so its detection AUC
  can only agree within sampling noise; hence the wider tolerance.)

Acceptance: |doppel - SDMetrics| <= 0.01 for Column Shapes, Column Pair Trends and the overall score,
as shipped and with all pairs; |doppel - sklearn| <= 0.03 for TSTR and the detection AUC.

Part 2, speed. A 30 000 x 25 mixed-type table made with doppel itself: `doppel synth` of
telco_churn.train (20 columns) and of cps1988.train (5 of its columns: wage, education, experience,
ethnicity, region), seeds 1 / 2 / 3 for "real" (30 000 rows) / "holdout" (7 500) / "synthetic"
(30 000), pasted side by side. Timed on those files, one after the other: `doppel evaluate --real R
--synthetic S --holdout H --target churn --output J --quiet` twice (child process: wall, CPU and
peak RSS from os.wait4 / GNU time), once more without --quiet for its own `evaluated in X s` line,
and SDMetrics' QualityReport.generate alone in a child Python process (time of generate() inside
it, and of the whole process: interpreter start, imports, CSV reading and metadata included; the
metadata comes from an untimed `doppel inspect R`). Acceptance: doppel's whole process under 20 s
and faster than SDMetrics' generate() alone. doppel reports no per-stage times, so (unless
--no-breakdown) four more commands, each run twice (--breakdown-repeats), leave one stage out
(--detection-rows 1, --privacy-rows 1, no --target, or all three) and the report shows the
differences from the full run as approximate stage costs.

The doppel binary is copied into the work folder at the start and that copy runs throughout (the
build folder is shared; a rebuild mid-run would otherwise mix two versions); its build time and
sha256 prefix are in the report.

Results: a markdown report on stdout and <out-dir>/evaluate-YYYY-MM-DD.md / .json (every raw number,
per-column and per-pair differences, machine info). Progress goes to stderr. The exit status is 0
when everything ran, even when a comparison is outside its tolerance (look for FAIL); 1 when a
step failed to run; 2 for bad setup. Run with the benchmark's venv (see bench/README.md):

    bench/.venv/bin/python bench/bench_evaluate.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from bench_copula import SDV_CHILD, machine_info, run_measured, write_report  # noqa: E402

DATASETS = {"cps1988": "wage", "telco_churn": "churn", "credit_default": "LateSept"}
CACHE_DOPPEL = Path("/root/.cache/doppel/target/release/doppel")
REPO_DOPPEL = REPO_DIR / "target" / "release" / "doppel"

TOL_QUALITY = 0.01
TOL_LEARNING = 0.03
MISSING_TOKENS = ["", "NA", "NaN", "null", "N/A", "NULL"]  # doppel's defaults (--na) plus empty
MAX_NATIVE_CATEGORIES = 254
DETECTION_ROWS = 10_000

SPEED_PARTS = [("telco_churn", None), ("cps1988", ["wage", "education", "experience", "ethnicity", "region"])]
SPEED_TARGET = "churn"
SPEED_SEEDS = {"real": 1, "holdout": 2, "synthetic": 3}
SPEED_LIMIT_S = 20.0

HGB_PARAMS = dict(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                  l2_regularization=0.0, max_bins=255, early_stopping=False, random_state=0)

# SDMetrics alone on the speed table, in its own process:
# `python -c SDMETRICS_CHILD BENCH_DIR REAL_CSV SYNTH_CSV META_JSON RESULT_JSON`.
SDMETRICS_CHILD = r"""
import json, sys, time, warnings
t_start = time.perf_counter()
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import bench_evaluate as b
from sdmetrics.reports.single_table import QualityReport
t_imported = time.perf_counter()
real_csv, synth_csv, meta_json, result_json = sys.argv[2:6]
meta = b.load_metadata(meta_json)
real = b.read_frame(real_csv, meta)
synth = b.read_frame(synth_csv, meta)
md = b.sdmetrics_metadata(meta)
t_read = time.perf_counter()
report = QualityReport()
t0 = time.perf_counter()
report.generate(real, synth, md, verbose=False)
generate_s = time.perf_counter() - t0
props = dict(zip(report.get_properties()["Property"], report.get_properties()["Score"]))
with open(result_json, "w") as f:
    json.dump({"import_s": t_imported - t_start, "read_s": t_read - t_imported, "generate_s": generate_s,
               "score": float(report.get_score()), "column_shapes": float(props["Column Shapes"]),
               "column_pair_trends": float(props["Column Pair Trends"])}, f)
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def clean(value):
    """JSON-safe copy: NaN / inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    return value


def num(v) -> float | None:
    """A float, or None for missing / NaN."""
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class StepFailed(RuntimeError):
    pass


def run_step(cmd: list[str], work: Path, tag: str, timeout: float, env: dict | None = None) -> dict:
    res = run_measured(cmd, work, tag, env=env, timeout=timeout)
    if not res["ok"]:
        raise StepFailed(f"{tag}: {res.get('error', 'failed')}")
    return res


# ----------------------------------------------------------------------------------------------
# Reading tables by doppel's metadata
# ----------------------------------------------------------------------------------------------


def load_metadata(path) -> list[dict]:
    return json.loads(Path(path).read_text())["columns"]


SDTYPES = {"numerical": "numerical", "categorical": "categorical", "boolean": "boolean",
           "date": "datetime", "datetime": "datetime", "identifier": "id"}
EVALUATED = ("numerical", "categorical", "boolean", "date", "datetime")


def _canonical_number_label(v):
    """`1.0` -> `1` for categories stored as numbers (what pandas users see: 1 == 1.0)."""
    if not isinstance(v, str):
        return v
    try:
        f = float(v)
    except ValueError:
        return v
    if math.isfinite(f) and f == int(f):
        return str(int(f))
    return repr(f)


def read_frame(path, meta: list[dict], notes: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV as doppel's metadata says: every field as text first, then typed per column.
    Text / PII columns are dropped. `notes` collects values that did not parse."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=MISSING_TOKENS, low_memory=False)
    out = {}
    for col in meta:
        name, kind = col["name"], col["type"]
        if kind not in SDTYPES:
            continue
        if name not in raw.columns:
            raise ValueError(f"{path}: column `{name}` missing")
        s = raw[name]
        present = s.notna()
        if kind == "numerical":
            v = pd.to_numeric(s, errors="coerce")
        elif kind in ("date", "datetime"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").dt.tz_localize(None)
        elif kind == "boolean":
            t_tok, f_tok = str(col.get("true_token", "true")), str(col.get("false_token", "false"))
            lower = s.str.strip().str.lower()
            v = pd.Series(pd.NA, index=s.index, dtype="boolean")
            v[(s == t_tok) | lower.isin(["true", "t", "yes", "1", "1.0"])] = True
            v[(s == f_tok) | lower.isin(["false", "f", "no", "0", "0.0"])] = False
        elif kind == "categorical":
            v = s.map(_canonical_number_label) if col.get("storage") in ("integer", "float") else s
            v = v.astype(object).where(present, np.nan)
        else:  # identifier
            v = s.astype(object).where(present, np.nan)
        bad = int((present & pd.isna(v)).sum())
        if bad and notes is not None:
            notes.append(f"{Path(path).name}: {bad} value(s) of `{name}` did not parse as {kind}")
        out[name] = v
    return pd.DataFrame(out)


def sdmetrics_metadata(meta: list[dict]) -> dict:
    return {"columns": {c["name"]: {"sdtype": SDTYPES[c["type"]]} for c in meta if c["type"] in SDTYPES}}


# ----------------------------------------------------------------------------------------------
# SDMetrics
# ----------------------------------------------------------------------------------------------


def sdmetrics_quality(real: pd.DataFrame, synth: pd.DataFrame, md: dict) -> dict:
    """QualityReport as shipped and with every pair counted; scores, timings and details."""
    with warnings.catch_warnings():  # 0.32 marks the single-table module deprecated (same class)
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport

    out = {}
    for label, thresholds in (("shipped", None), ("all_pairs", 0)):
        report = QualityReport()
        if thresholds is not None:
            report.real_correlation_threshold = thresholds
            report.real_association_threshold = thresholds
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(real, synth, md, verbose=False)
        gen_s = time.perf_counter() - t0
        props = report.get_properties()
        props = dict(zip(props["Property"], props["Score"]))
        shapes = report.get_details("Column Shapes")
        pairs = report.get_details("Column Pair Trends")
        meets = pairs["Meets Threshold?"].astype("boolean").fillna(False)
        out[label] = {
            "score": num(report.get_score()),
            "column_shapes": num(props["Column Shapes"]),
            "column_pair_trends": num(props["Column Pair Trends"]),
            "generate_s": gen_s,
            "pairs": int(len(pairs)),
            "pairs_meeting_threshold": int(meets.sum()),
            "thresholds_on_property": [report._properties["Column Pair Trends"].real_correlation_threshold,
                                       report._properties["Column Pair Trends"].real_association_threshold],
            "shape_details": shapes,
            "pair_details": pairs,
        }
    a = out["all_pairs"]
    a["thresholds_took_effect"] = a["pairs_meeting_threshold"] == a["pairs"] and a["thresholds_on_property"] == [0, 0]
    return out


# ----------------------------------------------------------------------------------------------
# scikit-learn
# ----------------------------------------------------------------------------------------------


def datetime_ns(s: pd.Series) -> np.ndarray:
    """Datetimes as float nanoseconds since the epoch, NaT -> NaN."""
    ns = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    ns[s.isna().to_numpy()] = np.nan
    return ns


def encode(frames: list[pd.DataFrame], meta: list[dict], columns: list[str]) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Feature matrices for HistGradientBoosting: numbers / datetimes (int64 ns) as float,
    categories as ordinal codes over the union of all frames (missing -> NaN)."""
    kinds = {c["name"]: c["type"] for c in meta}
    mats = [np.empty((len(f), len(columns))) for f in frames]
    mask = np.zeros(len(columns), dtype=bool)
    notes = []
    for j, name in enumerate(columns):
        kind = kinds[name]
        if kind == "numerical":
            for m, f in zip(mats, frames):
                m[:, j] = pd.to_numeric(f[name], errors="coerce").to_numpy(dtype=float)
        elif kind in ("date", "datetime"):
            for m, f in zip(mats, frames):
                m[:, j] = datetime_ns(f[name])
        else:
            texts = [f[name].astype(object).where(f[name].notna(), None).map(
                lambda v: None if v is None else str(v)) for f in frames]
            levels = sorted({v for t in texts for v in t if v is not None})
            lookup = {v: i for i, v in enumerate(levels)}
            for m, t in zip(mats, texts):
                m[:, j] = [np.nan if v is None else lookup[v] for v in t]
            if len(levels) > MAX_NATIVE_CATEGORIES:
                notes.append(f"`{name}` has {len(levels)} categories (> {MAX_NATIVE_CATEGORIES}): numeric codes")
            else:
                mask[j] = True
    return mats, mask, notes


def hgb(task: str, mask: np.ndarray):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cat = mask if mask.any() else None
    if task == "regression":
        return HistGradientBoostingRegressor(categorical_features=cat, **HGB_PARAMS)
    return HistGradientBoostingClassifier(categorical_features=cat, **HGB_PARAMS)


def sklearn_utility(meta: list[dict], target: str, train: pd.DataFrame, synth: pd.DataFrame,
                    holdout: pd.DataFrame) -> dict:
    from sklearn.metrics import f1_score, r2_score, roc_auc_score

    kinds = {c["name"]: c["type"] for c in meta}
    features = [c["name"] for c in meta if c["type"] in EVALUATED and c["name"] != target]
    continuous = kinds[target] in ("numerical", "date", "datetime")

    def target_key(s: pd.Series) -> pd.Series:
        if continuous:
            if kinds[target] == "numerical":
                return pd.to_numeric(s, errors="coerce")
            return pd.Series(datetime_ns(s), index=s.index)
        return s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))

    real_y = target_key(train[target]).dropna()
    classes = sorted(real_y.unique())
    if len(classes) < 2:
        return {"error": f"target `{target}` has {len(classes)} distinct value(s)"}
    task = "binary" if len(classes) == 2 else ("regression" if continuous else "multiclass")
    index = {v: i for i, v in enumerate(classes)}

    def labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        y = target_key(frame[target])
        if task == "regression":
            keep = y.notna().to_numpy()
            return frame[keep], y[keep].to_numpy(dtype=float)
        mapped = y.map(lambda v: None if v is None or pd.isna(v) else index.get(v))
        keep = mapped.notna().to_numpy()
        return frame[keep], mapped[keep].to_numpy(dtype=int)

    (tr, y_tr), (sy, y_sy), (ho, y_ho) = labels(train), labels(synth), labels(holdout)
    (x_tr, x_sy, x_ho), mask, notes = encode([tr, sy, ho], meta, features)

    def fit_score(x, y):
        if len(y) < 2 or (task != "regression" and len(np.unique(y)) < 2):
            return None
        model = hgb(task, mask).fit(x, y)
        if task == "regression":
            return float(r2_score(y_ho, model.predict(x_ho)))
        if task == "binary":
            proba = model.predict_proba(x_ho)[:, list(model.classes_).index(1)]
            return float(roc_auc_score(y_ho == 1, proba))
        return float(f1_score(y_ho, model.predict(x_ho), average="macro", labels=list(range(len(classes))),
                              zero_division=0))

    t0 = time.perf_counter()
    tstr = fit_score(x_sy, y_sy)
    trtr = fit_score(x_tr, y_tr)
    return {"task": task, "metric": {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "r2"}[task],
            "tstr": tstr, "trtr": trtr, "test_rows": int(len(y_ho)), "features": features,
            "categorical_features": [f for f, m in zip(features, mask) if m], "notes": notes,
            "seconds": time.perf_counter() - t0}


def sklearn_detection(meta: list[dict], real: pd.DataFrame, synth: pd.DataFrame, folds: int = 5) -> dict:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    t0 = time.perf_counter()
    features = [c["name"] for c in meta if c["type"] in EVALUATED]
    n = min(len(real), len(synth), DETECTION_ROWS)
    rng = np.random.default_rng(0)
    r = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    s = synth.iloc[np.sort(rng.choice(len(synth), n, replace=False))]
    (xr, xs), mask, notes = encode([r, s], meta, features)
    x = np.vstack([xr, xs])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    aucs = []
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        model = hgb("binary", mask).fit(x[train_idx], y[train_idx])
        aucs.append(float(roc_auc_score(y[test_idx], model.predict_proba(x[test_idx])[:, 1])))
    return {"auc": float(np.mean(aucs)), "fold_aucs": aucs, "rows_per_class": n, "notes": notes,
            "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------------------
# Part 1: agreement
# ----------------------------------------------------------------------------------------------


def synthesize(engine: str, doppel: Path, python: str, train_csv: Path, n: int, work: Path, timeout: float) -> dict:
    if engine == "doppel":
        out = work / "doppel.csv"
        proc = run_step([str(doppel), "synth", str(train_csv), "-o", str(out), "--seed", "0", "--quiet", "--force"],
                        work, "doppel-synth", timeout)
        return {"path": out, "process": proc}
    out, res_json = work / "sdv.csv", work / "sdv-result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = run_step([python, "-c", SDV_CHILD, str(train_csv), str(out), str(n), "0", str(res_json)],
                    work, "sdv-synth", timeout, env=env)
    inner = json.loads(res_json.read_text())
    return {"path": out, "process": proc, "sdv": inner}


def pair_key(a: str, b: str) -> str:
    return f"{a} × {b}"


def diagnose(ev: dict, sdm: dict) -> dict:
    """Per-column and per-pair differences between doppel's JSON and SDMetrics' details."""
    shapes = []
    sd_shapes = {row["Column"]: row for _, row in sdm["all_pairs"]["shape_details"].iterrows()}
    for c in ev["quality"]["columns"]:
        row = sd_shapes.get(c["column"])
        d, s = num(c["score"]), (num(row["Score"]) if row is not None else None)
        shapes.append({"column": c["column"], "metric_doppel": c["metric"],
                       "metric_sdmetrics": row["Metric"] if row is not None else None,
                       "doppel": d, "sdmetrics": s,
                       "diff": (d - s) if d is not None and s is not None else None,
                       "error": row.get("Error") if row is not None else "absent from SDMetrics"})
    for name in sd_shapes:
        if name not in {c["column"] for c in ev["quality"]["columns"]}:
            shapes.append({"column": name, "doppel": None, "sdmetrics": num(sd_shapes[name]["Score"]),
                           "diff": None, "error": "absent from doppel"})

    def index(details: pd.DataFrame) -> dict:
        return {frozenset((r["Column 1"], r["Column 2"])): r for _, r in details.iterrows()}

    all_rows, shipped_rows = index(sdm["all_pairs"]["pair_details"]), index(sdm["shipped"]["pair_details"])
    pairs = []
    for p in ev["quality"]["pairs"]:
        key = frozenset(p["columns"])
        a, s = all_rows.get(key), shipped_rows.get(key)
        d_score, s_score = num(p["score"]), (num(a["Score"]) if a is not None else None)
        s_meets = bool(s["Meets Threshold?"]) if s is not None and not pd.isna(s["Meets Threshold?"]) else False
        real_dop = num(p["real_correlation"]) if p["metric"] == "CorrelationSimilarity" else num(p["real_association"])
        real_sdm = None
        if s is not None:
            real_sdm = num(s["Real Correlation"]) if s["Metric"] == "CorrelationSimilarity" else num(s["Real Association"])
        pairs.append({
            "pair": pair_key(*p["columns"]), "metric_doppel": p["metric"],
            "metric_sdmetrics": a["Metric"] if a is not None else None,
            "doppel": d_score, "sdmetrics": s_score,
            "diff": (d_score - s_score) if d_score is not None and s_score is not None else None,
            "real_stat_doppel": real_dop, "real_stat_sdmetrics": real_sdm,
            "meets_doppel": bool(p["meets_threshold"]), "meets_sdmetrics": s_meets,
            "error": (a.get("Error") if a is not None else "absent from SDMetrics"),
        })
    return {"shapes": shapes, "pairs": pairs}


CHECKS = [
    # label, doppel path, reference getter, tolerance
    ("Column Shapes", ("quality", "column_shapes"), lambda r: r["sdmetrics"]["shipped"]["column_shapes"], TOL_QUALITY),
    ("Column Pair Trends (shipped)", ("quality", "column_pair_trends"),
     lambda r: r["sdmetrics"]["shipped"]["column_pair_trends"], TOL_QUALITY),
    ("Column Pair Trends (all pairs)", ("quality", "column_pair_trends_all_pairs"),
     lambda r: r["sdmetrics"]["all_pairs"]["column_pair_trends"], TOL_QUALITY),
    ("Quality (shipped)", ("quality", "score"), lambda r: r["sdmetrics"]["shipped"]["score"], TOL_QUALITY),
    ("Quality (all pairs)", ("quality", "score_all_pairs"), lambda r: r["sdmetrics"]["all_pairs"]["score"],
     TOL_QUALITY),
    ("TSTR", ("utility", "tstr"), lambda r: r["sklearn_utility"].get("tstr"), TOL_LEARNING),
    ("Detection AUC", ("detection", "auc"), lambda r: r["sklearn_detection"].get("auc"), TOL_LEARNING),
]


def compare(r: dict) -> list[dict]:
    rows = []
    for label, (section, key), ref, tol in CHECKS:
        d = num(r["doppel_eval"][section].get(key))
        try:
            s = num(ref(r))
        except (KeyError, TypeError):
            s = None
        if d is None and s is None:
            diff, status = None, "PASS (both n/a)"
        elif d is None or s is None:
            diff, status = None, "FAIL (one side n/a)"
        else:
            diff = abs(d - s)
            status = "PASS" if diff <= tol else "FAIL"
        rows.append({"check": label, "doppel": d, "reference": s, "abs_diff": diff, "tolerance": tol,
                     "status": status, "reference_name": "sklearn" if tol == TOL_LEARNING else "SDMetrics"})
    return rows


def part1_one(name: str, target: str, engine: str, args, doppel: Path, ds_work: Path, meta_path: Path,
              meta: list[dict], train: pd.DataFrame, holdout: pd.DataFrame) -> dict:
    train_csv = (args.datasets_dir / name / f"{name}.train.csv").resolve()
    holdout_csv = (args.datasets_dir / name / f"{name}.holdout.csv").resolve()
    work = ds_work / engine
    work.mkdir()
    r = {"dataset": name, "engine": engine, "target": target, "rows": len(train)}
    log(f"  {engine}: synthesize {len(train)} rows")
    syn = synthesize(engine, doppel, args.sdv_python, train_csv, len(train), work, args.timeout)
    r["synthesis"] = {"process": syn["process"], **({"sdv": syn["sdv"]} if "sdv" in syn else {})}
    log(f"  {engine}: doppel evaluate")
    ev_json = work / "evaluation.json"
    r["doppel_process"] = run_step(
        [str(doppel), "evaluate", "--real", str(train_csv), "--synthetic", str(syn["path"]), "--holdout",
         str(holdout_csv), "--target", target, "--metadata", str(meta_path), "--output", str(ev_json),
         "--quiet", "--force"], work, "doppel-evaluate", args.timeout)
    r["doppel_eval"] = json.loads(ev_json.read_text())
    notes: list[str] = []
    synth = read_frame(syn["path"], meta, notes)
    r["read_notes"] = notes
    md = sdmetrics_metadata(meta)
    log(f"  {engine}: SDMetrics QualityReport (as shipped, all pairs)")
    sdm = sdmetrics_quality(train, synth, md)
    r["sdmetrics"] = sdm
    log(f"  {engine}: scikit-learn TSTR/TRTR and detection")
    r["sklearn_utility"] = sklearn_utility(meta, target, train, synth, holdout)
    r["sklearn_detection"] = sklearn_detection(meta, train, synth, int(r["doppel_eval"]["detection"]["folds"]))
    r["diagnosis"] = diagnose(r["doppel_eval"], sdm)
    r["checks"] = compare(r)
    # keep the JSON small: details go out as records, the full doppel evaluation is trimmed
    for label in ("shipped", "all_pairs"):
        sdm[label].pop("shape_details")
        sdm[label].pop("pair_details")
    e = r["doppel_eval"]
    r["doppel_eval"] = {k: e[k] for k in ("quality", "utility", "detection", "privacy", "skipped_columns", "warnings")}
    r["doppel_eval"]["quality"] = {k: v for k, v in e["quality"].items() if k not in ("columns", "pairs")}
    if not args.keep_workdir:
        Path(syn["path"]).unlink(missing_ok=True)
    return r


def part1(args, doppel: Path, work: Path, names: list[str], engines: list[str]) -> tuple[list[dict], list[str]]:
    results, failures = [], []
    for name in names:
        target = DATASETS.get(name) or args.target
        ds_work = work / name
        ds_work.mkdir()
        train_csv = (args.datasets_dir / name / f"{name}.train.csv").resolve()
        holdout_csv = (args.datasets_dir / name / f"{name}.holdout.csv").resolve()
        meta_path = ds_work / "meta.json"
        try:
            run_step([str(doppel), "inspect", str(train_csv), "-o", str(meta_path), "--quiet", "--force"],
                     ds_work, "doppel-inspect", args.timeout)
        except StepFailed as e:
            failures.append(f"{name}: {e}")
            log(f"{name}: {e}")
            continue
        meta = load_metadata(meta_path)
        train, holdout = read_frame(train_csv, meta), read_frame(holdout_csv, meta)
        log(f"{name}: {len(train)} train / {len(holdout)} holdout rows, target `{target}`")
        for engine in engines:
            try:
                r = part1_one(name, target, engine, args, doppel, ds_work, meta_path, meta, train, holdout)
                r["metadata"] = meta
                results.append(r)
            except (StepFailed, Exception) as e:  # noqa: BLE001  one failure must not end the run
                msg = f"{name}/{engine}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                failures.append(msg)
                log(msg)
    return results, failures


# ----------------------------------------------------------------------------------------------
# Part 2: speed
# ----------------------------------------------------------------------------------------------


def build_speed_table(args, doppel: Path, work: Path, rows: int) -> dict[str, Path]:
    sizes = {"real": rows, "holdout": rows // 4, "synthetic": rows}
    paths = {}
    for role, seed in SPEED_SEEDS.items():
        parts = []
        for name, columns in SPEED_PARTS:
            train_csv = (args.datasets_dir / name / f"{name}.train.csv").resolve()
            out = work / f"{name}-{role}.csv"
            log(f"  speed table: doppel synth {name} -n {sizes[role]} --seed {seed}")
            run_step([str(doppel), "synth", str(train_csv), "-n", str(sizes[role]), "--seed", str(seed), "-o",
                      str(out), "--quiet", "--force"], work, f"synth-{name}-{role}", args.timeout)
            df = pd.read_csv(out, dtype=str, keep_default_na=False)
            parts.append(df[columns] if columns else df)
            out.unlink()
        table = pd.concat(parts, axis=1)
        paths[role] = work / f"{role}.csv"
        table.to_csv(paths[role], index=False)
    return paths


# Stage costs by ablation: the full command less one stage (detection off with --detection-rows 1,
# which is below the 2 x folds minimum; privacy reduced to one row per table with --privacy-rows 1;
# utility off by leaving out --target); everything else identical.
ABLATIONS = [("without detection", ["--detection-rows", "1"], []),
             ("without privacy", ["--privacy-rows", "1"], []),
             ("without utility", [], ["--target", SPEED_TARGET]),
             ("fidelity (+ reading) only", ["--detection-rows", "1", "--privacy-rows", "1"], ["--target", SPEED_TARGET])]


def breakdown(base: list[str], work: Path, timeout: float, repeats: int) -> list[dict]:
    """Each ablated command `repeats` times; the run with the least wall time is reported."""
    rows = []
    for label, add, drop in ABLATIONS:
        cmd = [a for a in base if a not in drop] + add + ["--quiet"]
        tag = "ablation-" + label.split()[0] + "-" + label.split()[-1]
        log(f"  speed breakdown: doppel evaluate {label} (x{repeats})")
        runs = [run_step(cmd, work, f"{tag}-{i}", timeout) for i in range(repeats)]
        rows.append({"label": label, "extra_args": add, "left_out": drop, "runs": runs,
                     "process": min(runs, key=lambda r: r["wall_s"])})
    return rows


def part2(args, doppel: Path, work: Path) -> dict:
    rows = args.speed_rows
    log(f"speed: building a {rows} x 25 table")
    paths = build_speed_table(args, doppel, work, rows)
    meta_path = work / "meta.json"
    run_step([str(doppel), "inspect", str(paths["real"]), "-o", str(meta_path), "--quiet", "--force"], work,
             "speed-inspect", args.timeout)
    meta = load_metadata(meta_path)
    res = {"rows": {k: len(pd.read_csv(p, dtype=str, usecols=[0])) for k, p in paths.items()},
           "columns": len(pd.read_csv(paths["real"], nrows=1).columns),
           "file_mib": {k: p.stat().st_size / 2**20 for k, p in paths.items()},
           "column_types": {c["name"]: c["type"] for c in meta}}
    # Warm-up (untimed): page cache for the files, the doppel binary, SDMetrics' modules.
    for p in paths.values():
        p.read_bytes()
    run_measured([str(doppel), "--version"], work, "warmup-doppel")
    run_measured([args.sdv_python, "-c", "import sdmetrics.reports.single_table"], work, "warmup-sdmetrics")

    res["loadavg_before"] = list(os.getloadavg())
    base = [str(doppel), "evaluate", "--real", str(paths["real"]), "--synthetic", str(paths["synthetic"]),
            "--holdout", str(paths["holdout"]), "--target", SPEED_TARGET, "--output", str(work / "eval.json"),
            "--force"]
    runs = []
    for i in (1, 2):
        log(f"  speed: doppel evaluate, run {i}")
        runs.append(run_step(base + ["--quiet"], work, f"doppel-evaluate-{i}", args.timeout))
    res["doppel_runs"] = runs
    ev = json.loads((work / "eval.json").read_text())
    res["doppel_quality"] = {k: v for k, v in ev["quality"].items() if k not in ("columns", "pairs")}
    res["doppel_utility"] = ev["utility"]
    res["doppel_detection"] = {k: ev["detection"][k] for k in ("auc", "rows_per_class")}
    log("  speed: doppel evaluate without --quiet (for its own timing line)")
    verbose = run_step(base, work, "doppel-evaluate-verbose", args.timeout)
    stderr = (work / "doppel-evaluate-verbose.stderr").read_text(errors="replace")
    line = next((ln for ln in stderr.splitlines() if ln.startswith("evaluated in")), None)
    res["doppel_verbose_run"] = {"process": verbose, "evaluated_in_line": line,
                                 "evaluated_in_s": float(line.split()[2]) if line else None}
    if args.breakdown:
        res["breakdown"] = breakdown(base, work, args.timeout, args.breakdown_repeats)
    log("  speed: SDMetrics QualityReport.generate in a child process")
    sdm_json = work / "sdmetrics.json"
    proc = run_step([args.sdv_python, "-c", SDMETRICS_CHILD, str(BENCH_DIR), str(paths["real"]),
                     str(paths["synthetic"]), str(meta_path), str(sdm_json)], work, "sdmetrics", args.timeout)
    res["sdmetrics"] = {"process": proc, **json.loads(sdm_json.read_text())}
    res["loadavg_after"] = list(os.getloadavg())
    walls = [r["wall_s"] for r in runs]
    gen = res["sdmetrics"]["generate_s"]
    res["ratio_generate_over_doppel"] = [gen / w for w in walls]
    res["ratio_sdmetrics_process_over_doppel"] = [proc["wall_s"] / w for w in walls]
    res["pass_under_limit"] = all(w < SPEED_LIMIT_S for w in walls)
    res["pass_faster_than_generate"] = all(w < gen for w in walls)
    return res


# ----------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------


def f4(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def agreement_table(results: list[dict]) -> str:
    lines = ["| dataset | engine | check | doppel | reference | abs diff | tol | result |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        for c in r["checks"]:
            status = c["status"] if c["status"].startswith("PASS") else f"**{c['status']}**"
            lines.append(f"| {r['dataset']} | {r['engine']} | {c['check']} ({c['reference_name']}) | "
                         f"{f4(c['doppel'])} | {f4(c['reference'])} | {f4(c['abs_diff'])} | {c['tolerance']:.2f} | "
                         f"{status} |")
    return "\n".join(lines)


def learning_table(results: list[dict]) -> str:
    lines = ["| dataset | engine | metric | TSTR doppel | TSTR sklearn | TRTR doppel | TRTR sklearn | |TRTR diff| | "
             "detection rows doppel / sklearn | DCR share (doppel) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        u, su = r["doppel_eval"]["utility"], r["sklearn_utility"]
        d_trtr, s_trtr = num(u.get("trtr")), num(su.get("trtr"))
        diff = abs(d_trtr - s_trtr) if d_trtr is not None and s_trtr is not None else None
        lines.append(f"| {r['dataset']} | {r['engine']} | {u.get('metric')} | {f4(num(u.get('tstr')))} | "
                     f"{f4(num(su.get('tstr')))} | {f4(d_trtr)} | {f4(s_trtr)} | {f4(diff)} | "
                     f"{r['doppel_eval']['detection'].get('rows_per_class')} / {r['sklearn_detection'].get('rows_per_class')} | "
                     f"{f4(num(r['doppel_eval']['privacy'].get('dcr_share')))} |")
    return "\n".join(lines)


def timing_table(results: list[dict]) -> str:
    lines = ["| dataset | engine | doppel evaluate s (whole process, incl. utility/detection/privacy) | "
             "SDMetrics generate s (shipped / all pairs) | pairs meeting threshold doppel / SDMetrics | "
             "all-pairs thresholds took effect |",
             "|---|---|---:|---:|---:|---|"]
    for r in results:
        s = r["sdmetrics"]
        d_meet = sum(1 for p in r["diagnosis"]["pairs"] if p["meets_doppel"])
        lines.append(f"| {r['dataset']} | {r['engine']} | {r['doppel_process']['wall_s']:.2f} | "
                     f"{s['shipped']['generate_s']:.2f} / {s['all_pairs']['generate_s']:.2f} | "
                     f"{d_meet} / {s['shipped']['pairs_meeting_threshold']} (of {s['all_pairs']['pairs']}) | "
                     f"{'yes' if s['all_pairs']['thresholds_took_effect'] else '**no**'} |")
    return "\n".join(lines)


def diagnosis_text(results: list[dict], top: int = 5) -> str:
    out = []
    for r in results:
        d = r["diagnosis"]
        head = f"**{r['dataset']} / {r['engine']}**"
        shapes = sorted((s for s in d["shapes"] if s["diff"] is not None), key=lambda s: -abs(s["diff"]))
        pairs = sorted((p for p in d["pairs"] if p["diff"] is not None), key=lambda p: -abs(p["diff"]))
        odd = [s for s in d["shapes"] if s["diff"] is None or s.get("error")] + \
              [p for p in d["pairs"] if p["diff"] is None or p.get("error")]
        meets = [p for p in d["pairs"] if p["meets_doppel"] != p["meets_sdmetrics"]]
        max_s = abs(shapes[0]["diff"]) if shapes else 0.0
        max_p = abs(pairs[0]["diff"]) if pairs else 0.0
        stat_diffs = [abs(p["real_stat_doppel"] - p["real_stat_sdmetrics"]) for p in d["pairs"]
                      if p["real_stat_doppel"] is not None and p["real_stat_sdmetrics"] is not None]
        out.append(f"- {head}: largest |column shape diff| {max_s:.2e}, largest |pair trend diff| {max_p:.2e}, "
                   f"largest |real r / Cramér's V diff| {max(stat_diffs) if stat_diffs else 0:.2e}; "
                   f"threshold disagreements: {len(meets)}; unscored on one side: {len(odd)}.")
        if max_s > 1e-9:
            out.append("  - columns: " + "; ".join(
                f"`{s['column']}` {s['metric_doppel']} doppel {s['doppel']:.4f} vs {s['sdmetrics']:.4f} "
                f"({s['diff']:+.4f})" for s in shapes[:top] if abs(s["diff"]) > 1e-9))
        if max_p > 1e-9:
            out.append("  - pairs: " + "; ".join(
                f"`{p['pair']}` {p['metric_doppel']} doppel {p['doppel']:.4f} vs {p['sdmetrics']:.4f} "
                f"({p['diff']:+.4f})" for p in pairs[:top] if abs(p["diff"]) > 1e-9))
        for p in meets[:top]:
            out.append(f"  - threshold: `{p['pair']}` doppel meets={p['meets_doppel']} "
                       f"(real {f4(p['real_stat_doppel'])}) vs SDMetrics meets={p['meets_sdmetrics']} "
                       f"(real {f4(p['real_stat_sdmetrics'])})")
        for o in odd[:top]:
            name = o.get("column") or o.get("pair")
            out.append(f"  - unscored: `{name}` doppel {f4(o['doppel'])}, SDMetrics {f4(o['sdmetrics'])}"
                       f"{' — ' + str(o['error']) if o.get('error') else ''}")
        for n in r.get("read_notes", []) + r["sklearn_utility"].get("notes", []):
            out.append(f"  - note: {n}")
    return "\n".join(out)


def speed_text(s: dict) -> str:
    runs, sdm = s["doppel_runs"], s["sdmetrics"]
    v = s["doppel_verbose_run"]
    kinds = list(s["column_types"].values())
    kind_counts = ", ".join(f"{k}: {kinds.count(k)}" for k in sorted(set(kinds)))
    lines = [f"Table: real {s['rows']['real']} rows, holdout {s['rows']['holdout']}, synthetic "
             f"{s['rows']['synthetic']}; {s['columns']} columns ({kind_counts}); "
             f"CSV {s['file_mib']['real']:.1f} / {s['file_mib']['holdout']:.1f} / {s['file_mib']['synthetic']:.1f} MiB. "
             f"Load average (1/5/15 min) before the timed runs {', '.join(f'{x:.2f}' for x in s['loadavg_before'])}, "
             f"after {', '.join(f'{x:.2f}' for x in s['loadavg_after'])}.",
             "",
             "| run | wall s | CPU s (user+sys) | CPU / wall | peak RSS MiB |",
             "|---|---:|---:|---:|---:|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| doppel evaluate (--holdout, --target churn), run {i} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                     f"{r['cpu_s'] / r['wall_s']:.2f} | {r['peak_rss_mib']:.0f} |")
    vp = v["process"]
    lines.append(f"| doppel evaluate, not --quiet (stderr: `{v['evaluated_in_line']}`) | {vp['wall_s']:.2f} | "
                 f"{vp['cpu_s']:.2f} | {vp['cpu_s'] / vp['wall_s']:.2f} | {vp['peak_rss_mib']:.0f} |")
    p = sdm["process"]
    lines.append(f"| SDMetrics QualityReport.generate() alone (in process) | {sdm['generate_s']:.2f} | | | |")
    lines.append(f"| SDMetrics whole child process (imports {sdm['import_s']:.1f} s, CSV read + typing "
                 f"{sdm['read_s']:.1f} s, generate) | {p['wall_s']:.2f} | {p['cpu_s']:.2f} | "
                 f"{p['cpu_s'] / p['wall_s']:.2f} | {p['peak_rss_mib']:.0f} |")
    full_wall = min(r["wall_s"] for r in runs)
    full_cpu = min(r["cpu_s"] for r in runs)
    if s.get("breakdown"):
        reps = len(s["breakdown"][0].get("runs", [1]))
        lines += ["", f"Stage costs by ablation (each row: the fastest of {reps} more doppel processes with that "
                  "stage off; *stage ≈* the faster full run above minus that row; differences below ~0.5 s are "
                  "within run-to-run noise here):", "",
                  "| doppel evaluate … | wall s | CPU s | stage ≈ wall s | stage ≈ CPU s |", "|---|---:|---:|---:|---:|"]
        for b in s["breakdown"]:
            bp = b["process"]
            stage = "" if b["label"].startswith("fidelity") else \
                f"{full_wall - bp['wall_s']:.2f} | {full_cpu - bp['cpu_s']:.2f}"
            lines.append(f"| {b['label']} | {bp['wall_s']:.2f} | {bp['cpu_s']:.2f} | {stage or ' | '} |")
    ratios = " / ".join(f"{x:.1f}×" for x in s["ratio_generate_over_doppel"])
    pratios = " / ".join(f"{x:.1f}×" for x in s["ratio_sdmetrics_process_over_doppel"])
    q = s["doppel_quality"]
    lines += ["",
              f"- SDMetrics generate() / doppel whole process: **{ratios}** (run 1 / run 2); "
              f"SDMetrics whole process / doppel: {pratios}.",
              f"- under {SPEED_LIMIT_S:.0f} s: **{'PASS' if s['pass_under_limit'] else 'FAIL'}**; "
              f"faster than SDMetrics generate() alone: **{'PASS' if s['pass_faster_than_generate'] else 'FAIL'}**.",
              f"- same table, quality: doppel {f4(num(q.get('score')))} (shapes {f4(num(q.get('column_shapes')))}, "
              f"trends {f4(num(q.get('column_pair_trends')))}) vs SDMetrics {f4(sdm['score'])} "
              f"(shapes {f4(sdm['column_shapes'])}, trends {f4(sdm['column_pair_trends'])}); doppel also computed "
              f"TSTR {f4(num(s['doppel_utility'].get('tstr')))}, detection AUC "
              f"{f4(num(s['doppel_detection'].get('auc')))} on {s['doppel_detection'].get('rows_per_class')} rows "
              f"per class, and the privacy section, which SDMetrics' time does not include."]
    return "\n".join(lines)


NOTES = f"""\
- Tolerances: |doppel − SDMetrics| ≤ {TOL_QUALITY} for the quality figures, |doppel − scikit-learn| ≤
  {TOL_LEARNING} for TSTR and the detection AUC. TRTR is shown for information (same models on real data).
- Both sides read the CSVs by `doppel inspect`'s metadata of the train split; SDMetrics gets the matching
  sdtypes. Every contingency table here has < 50 000 rows, so SDMetrics does not subsample and its
  numbers are deterministic.
- doppel's detection samples rows and folds with its own RNG (identical rows kept in one fold); the
  scikit-learn side uses numpy default_rng(0) and StratifiedKFold(K, shuffle=True, random_state=0), so
  the two AUCs differ by resampling noise even with identical classifiers.
- Timings are single runs on a small shared machine; see the load average above."""


def default_doppel() -> Path:
    return CACHE_DOPPEL if CACHE_DOPPEL.is_file() else REPO_DOPPEL


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated dataset names (part 1)")
    p.add_argument("--datasets-dir", type=Path, default=REPO_DIR.parent / "shared" / "datasets",
                   help="folder holding <name>/<name>.train.csv and .holdout.csv")
    p.add_argument("--doppel", type=Path, default=default_doppel(), help="doppel binary")
    p.add_argument("--engines", default="doppel,sdv", help="synthetic data for part 1: doppel, sdv or both")
    p.add_argument("--target", help="target column for datasets other than the three known ones")
    p.add_argument("--speed-rows", type=int, default=30_000, help="rows of the part-2 real/synthetic tables")
    p.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                   help="skip part 2's extra doppel runs with one stage turned off")
    p.add_argument("--breakdown-repeats", type=int, default=2, help="runs per stage-off command (fastest kept)")
    p.add_argument("--skip-agreement", action="store_true", help="only part 2")
    p.add_argument("--skip-speed", action="store_true", help="only part 1")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: first dataset only, doppel engine only, 5 000-row speed table")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results", help="where the .md/.json go")
    p.add_argument("--sdv-python", default=sys.executable, help="interpreter with sdv / sdmetrics installed")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per child process")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.quick:
        names, engines = names[:1], ["doppel"]
        if args.speed_rows == 30_000:
            args.speed_rows = 5_000
    if any(e not in ("doppel", "sdv") for e in engines):
        print("error: --engines takes doppel and/or sdv", file=sys.stderr)
        return 2
    doppel = args.doppel.resolve()
    if not (doppel.is_file() and os.access(doppel, os.X_OK)):
        print(f"error: doppel binary not found at {doppel}\n       build it with `cargo build --release "
              f"-p doppel-cli` (or pass --doppel PATH)", file=sys.stderr)
        return 2
    needed = [] if args.skip_agreement else [(n, s) for n in names for s in ("train", "holdout")]
    needed += [] if args.skip_speed else [(n, "train") for n, _ in SPEED_PARTS]
    missing = [f"{n}.{s}.csv" for n, s in needed if not (args.datasets_dir / n / f"{n}.{s}.csv").is_file()]
    if missing:
        print(f"error: missing under {args.datasets_dir.resolve()}: {', '.join(missing)}", file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in DATASETS and not args.target]
    if unknown and not args.skip_agreement:
        print(f"error: no known target for {', '.join(unknown)}; pass --target", file=sys.stderr)
        return 2

    import sdmetrics
    import sklearn

    work = Path(tempfile.mkdtemp(prefix="doppel-bench-eval-"))
    log(f"work dir: {work}")
    # The build folder is shared with people rebuilding it: run one private copy throughout.
    source, doppel = doppel, work / "doppel"
    shutil.copy2(source, doppel)
    stat = source.stat()
    machine = machine_info(doppel)
    machine.update({"sdmetrics": sdmetrics.__version__, "scikit_learn": sklearn.__version__,
                    "doppel_binary": str(source),
                    "doppel_binary_mtime": dt.datetime.fromtimestamp(stat.st_mtime).astimezone().isoformat(
                        timespec="seconds"),
                    "doppel_binary_sha256": hashlib.sha256(doppel.read_bytes()).hexdigest()[:16]})
    log(f"machine: {machine['cpu_model']} | nproc {machine['nproc']} | load {machine['loadavg_at_start']}")
    log(f"doppel: copy of {source} (built {machine['doppel_binary_mtime']}, sha256 {machine['doppel_binary_sha256']})")
    results, failures, speed = [], [], None
    try:
        if not args.skip_agreement:
            results, failures = part1(args, doppel, work, names, engines)
        if not args.skip_speed:
            sp_work = work / "speed"
            sp_work.mkdir()
            try:
                speed = part2(args, doppel, sp_work)
            except (StepFailed, Exception) as e:  # noqa: BLE001
                failures.append(f"speed: {type(e).__name__}: {e}")
                log(failures[-1])
    finally:
        if args.keep_workdir:
            log(f"kept work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    day = dt.date.today().isoformat()
    stem = f"evaluate-{day}" + ("-quick" if args.quick else "")
    cmd = " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))
    header = (f"# `doppel evaluate` vs SDMetrics / scikit-learn — {day}\n\n"
              f"- machine: {machine['cpu_model']}; nproc {machine['nproc']}; {machine['mem_total_gib']} GiB RAM; "
              f"load average at start {', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}\n"
              f"- doppel: {machine['doppel_version'] or '—'} (repo commit {machine['repo_commit'] or '—'}, "
              f"working tree may differ; binary built {machine['doppel_binary_mtime']}, sha256 "
              f"{machine['doppel_binary_sha256']}…); sdmetrics {sdmetrics.__version__}; scikit-learn {sklearn.__version__}; "
              f"pandas {pd.__version__}; Python {machine['python']}\n"
              f"- command: `{cmd}`\n")
    parts = [header]
    n_fail = 0
    if results:
        n_fail = sum(1 for r in results for c in r["checks"] if not c["status"].startswith("PASS"))
        parts += ["## Part 1: agreement\n", agreement_table(results), "",
                  f"**{n_fail} of {sum(len(r['checks']) for r in results)} checks outside tolerance.**\n",
                  "TSTR / TRTR (trained on synthetic / real train, tested on the real holdout) and detection:\n",
                  learning_table(results), "", timing_table(results), "",
                  "### Per-column / per-pair differences (doppel − SDMetrics, all-pairs report)\n",
                  diagnosis_text(results), ""]
    if speed:
        parts += ["## Part 2: speed\n", speed_text(speed), ""]
    if failures:
        parts += ["## Steps that failed to run\n", "\n".join(f"- {f}" for f in failures), ""]
    parts += ["Notes:\n", NOTES, ""]
    md = "\n".join(parts)
    print(md)
    raw = clean({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                 "machine": machine, "agreement": results, "speed": speed, "failures": failures,
                 "checks_failed": n_fail})
    md_path, json_path = write_report(args.out_dir, stem, md, raw)
    log(f"wrote {md_path} and {json_path}")
    if n_fail:
        log(f"FAIL: {n_fail} comparison(s) outside tolerance")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
