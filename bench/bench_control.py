#!/usr/bin/env python3
"""Acceptance figures for issue 5, control over what `doppel sample` produces.

Every figure comes from models fitted with `doppel fit TRAIN -o MODEL --engine tree --seed S` on the
train split (`<name>.train.csv` under --datasets-dir) and from `doppel sample MODEL -n ROWS -o OUT.csv
--seed S` with the control options below, each a child process (wall time, CPU, peak RSS). Parts
(run a subset with --only):

* conditions: telco_churn and covid_testing, five `--where` conditions each (equality, set, numeric
  range, `!=`, a combination of two), each met by at least 200 real train rows. Per condition: the
  share of output rows meeting it (bar: 100 %), and for every other column the TVD (categorical) or
  KS statistic (numeric) between the synthetic rows and the real train rows meeting the condition:
  mean over columns (bar: <= 0.05) and the worst column. Next to it a noise floor: what a perfect
  generator would score against so few real rows (bootstrap, see below).
* rare: a condition met by about 0.5 % of cps1988's train rows; wall time of `doppel sample -n ROWS
  --where ...` (bar: < 5 s for 10 000 rows; a plain sample of the same size is timed beside it),
  conformance and fidelity as above.
* rebalance: telco_churn `--rebalance churn=Yes:0.5`, cps1988 `--rebalance ethnicity=uniform`:
  achieved share of every value against its target (bar: within +-1 pp) and the fidelity of the other
  columns within each group against the real rows of that group.
* oversample: telco_churn `--oversample churn=Yes:3x`: achieved share of churn=Yes against
  3p / (3p + 1 - p), p the real share (bar: within +-1 pp), and fidelity within groups.
* fairness: telco_churn `--fair female --target churn` (positive outcome churn=Yes) and cps1988
  `--fair ethnicity --target "wage>=MEDIAN"` (MEDIAN = the median train wage): statistical-parity
  difference (max over groups minus min over groups of P(positive | group)) on the real train rows,
  on a plain sample and on the fair sample (bar: < 0.02 for the fair one); TSTR of the plain and the
  fair sample with `doppel evaluate --holdout` (the difference is the cost of fairness).

Conditions are evaluated here in pandas with doppel's semantics: `col=v`, `col=v1|v2`, `col!=v` (true
for missing values too), `col=` (missing), `col!=` (present), `col>=x`, `col>x`, `col<=x`, `col<x`
(never true for missing values); numbers compare numerically (1 = 1.0; `true`/`false` read as 1/0 in
a numeric column), dates as instants, other values as the strings written in the CSV.

Results: markdown on stdout and <out-dir>/control-YYYY-MM-DD[-SUFFIX].md / .json (every raw number:
commands, timings, per-column scores, per-group shares). Progress goes to stderr. Exit status 0 when
everything ran (even with FAIL lines), 1 when a doppel command failed, 2 for bad setup.

`--self-test` needs no doppel binary for the pandas parts: it checks the condition parser and
evaluator on hand-made cases and against hand-written pandas masks for every configured condition,
the metrics (0 for identical data, large for different data), and then runs every part with
"synthetic" data made by resampling real train rows the way the option asks (filtering, exact
shares, equal outcome rates), checking conformance = 100 %, fidelity ~ 0, shares on target and parity
~ 0. TSTR is computed with the doppel binary when one exists (its `evaluate` command), else skipped.

    bench/.venv/bin/python bench/bench_control.py                 # all parts, about a minute on 2 cores
    bench/.venv/bin/python bench/bench_control.py --self-test     # pandas parts only, no doppel sample
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from bench_copula import (DATE_RE, _as_numbers, _canonical, _parse_dates, classify_columns,  # noqa: E402
                          ks_statistic, machine_info, read_csv, run_measured, tvd, write_report)

CACHE_DOPPEL = Path("/root/.cache/doppel/target/release/doppel")
REPO_DOPPEL = REPO_DIR / "target" / "release" / "doppel"

PARTS = ["conditions", "rare", "rebalance", "oversample", "fairness"]

# Acceptance bars (issue 5).
CONFORMANCE_BAR = 1.0      # share of output rows meeting the --where conditions
FIDELITY_BAR = 0.05        # mean TVD/KS over the other columns
RARE_SECONDS_BAR = 5.0     # wall time of `doppel sample -n 10000 --where RARE`
SHARE_PP_BAR = 1.0         # rebalance / oversample: |achieved - target| in percentage points
PARITY_BAR = 0.02          # statistical-parity difference of the fair sample
MIN_REAL_ROWS = 200        # every part-1 condition is met by at least this many real train rows

# Generated, not modelled (names are replaced by fake values, subject_id is an identifier).
SKIP_COLUMNS = {"subject_id", "fake_first_name", "fake_last_name"}

# Part 1: (kind, [--where ...]) per dataset. Real train rows meeting them (seed-independent):
# telco_churn (5 634 rows): 1 460, 2 478, 1 328, 2 568, 654; covid_testing (12 419): 680, 1 684,
# 3 257, 2 588, 465.
CONDITIONS = {
    "telco_churn": [
        ("equality", ["churn=Yes"]),
        ("set", ["payment_method=Bank transfer (automatic)|Credit card (automatic)"]),
        ("numeric range", ["total_charges>=4000"]),
        ("not equal", ["contract!=Month-to-month"]),
        ("two conditions", ["senior_citizen=1", "internet_service=Fiber optic"]),
    ],
    "covid_testing": [
        ("equality", ["result=positive"]),
        ("set", ["patient_class=emergency|observation"]),
        ("numeric range (two bounds)", ["age>=18", "age<65"]),
        ("not equal", ["demo_group!=patient"]),
        ("two conditions (missing, not equal)", ["payor_group=", "result!=negative"]),
    ],
}
# Part 2: 113 of cps1988's 22 524 train rows (0.50 %).
RARE = ("cps1988", ["ethnicity=afam", "parttime=yes", "wage<150"])
# Part 3 / 4.
REBALANCE = [("telco_churn", "churn=Yes:0.5"), ("cps1988", "ethnicity=uniform")]
OVERSAMPLE = [("telco_churn", "churn=Yes:3x")]
# Part 5: (dataset, fair column, --target, positive outcome as a condition, evaluate target column).
# "MEDIAN" is replaced by the median train wage. cps1988's TSTR is computed twice: on `wage` as is
# (regression, R²) and on the binarised outcome (wage replaced by a yes/no column, ROC AUC).
FAIRNESS = [
    ("telco_churn", "female", "churn", "churn=Yes", "churn"),
    ("cps1988", "ethnicity", "wage>=MEDIAN", "wage>=MEDIAN", "wage"),
]
MIN_CATEGORY_COUNT = 5  # doppel fit's default: rarer categories are left out of the model

T0 = time.monotonic()


def log(msg: str) -> None:
    el = time.monotonic() - T0
    print(f"[control {time.strftime('%H:%M:%S')} +{el / 60:5.1f} min] {msg}", file=sys.stderr, flush=True)


def clean(value):
    """JSON-safe copy: NaN / inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


# ----------------------------------------------------------------------------------------------
# Conditions: parsing and evaluation with doppel's semantics
# ----------------------------------------------------------------------------------------------

OPERATORS = ["!=", ">=", "<=", "=", ">", "<"]  # longest first, as doppel parses them


@dataclass(frozen=True)
class Condition:
    column: str
    op: str                          # "in" (= / !=) or one of < <= > >=
    values: tuple = ()               # for "in": the values, None = missing
    literal: str | None = None       # for comparisons
    negated: bool = False            # `!=`
    text: str = ""


def parse_condition(text: str) -> Condition:
    """`col=v`, `col=a|b`, `col!=v`, `col=` (missing), `col!=` (present), `col>=x` etc."""
    at = next((i for i, ch in enumerate(text) if ch in "=!<>"), None)
    if at is None or not text[:at].strip():
        raise ValueError(f"condition `{text}`: expected COLUMN=VALUE, COLUMN=A|B, COLUMN!=VALUE or COLUMN>=VALUE")
    column, rest = text[:at].strip(), text[at:]
    op = next((o for o in OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise ValueError(f"condition `{text}`: no operator")
    value = rest[len(op):]
    if op in ("=", "!="):
        values = tuple(v.strip() or None for v in value.split("|"))
        return Condition(column, "in", values, None, op == "!=", text)
    if not value.strip():
        raise ValueError(f"condition `{text}`: `{op}` needs a value after it")
    return Condition(column, op, (), value.strip(), False, text)


def value_kind(real: pd.Series) -> str:
    """How a column's values compare: "number", "date" or "text" (decided on the real train column)."""
    if pd.api.types.is_bool_dtype(real) or pd.api.types.is_numeric_dtype(real):
        return "number"
    text = real.dropna().astype(str)
    if len(text) and text.head(200).map(lambda v: bool(DATE_RE.match(v))).all() \
            and _parse_dates(text).notna().mean() > 0.99:
        return "date"
    return "text"


def _to_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    low = s.astype("string").str.strip().str.lower()
    low = low.replace({"true": "1", "false": "0"})
    return pd.to_numeric(low, errors="coerce").astype(float)


def _literal_number(lit: str) -> float | None:
    low = lit.strip().lower()
    if low in ("true", "false"):
        return 1.0 if low == "true" else 0.0
    try:
        return float(low)
    except ValueError:
        return None


def condition_mask(df: pd.DataFrame, cond: Condition, kind: str) -> np.ndarray:
    """Boolean array: which rows of `df` meet `cond`; `kind` is value_kind() of the real column."""
    if cond.column not in df.columns:
        raise KeyError(f"condition `{cond.text}`: no column `{cond.column}`")
    raw = df[cond.column]
    present = raw.notna().to_numpy()
    if kind == "number":
        vals = _to_number(raw).to_numpy()
    elif kind == "date":
        vals = _parse_dates(raw.astype("string")).to_numpy()
    else:
        vals = raw.astype(object).where(raw.notna(), None).map(lambda v: None if v is None else str(v)).to_numpy()

    def literal(lit: str):
        if kind == "number":
            return _literal_number(lit)
        if kind == "date":
            p = _parse_dates(pd.Series([lit]))
            return None if pd.isna(p.iloc[0]) else p.to_numpy()[0]
        return lit

    if cond.op == "in":
        base = np.zeros(len(df), dtype=bool)
        for v in cond.values:
            if v is None:
                base |= ~present
                continue
            x = literal(v)
            if x is None:
                continue  # e.g. a word in a numeric column: equal to nothing
            with np.errstate(invalid="ignore"):
                eq = np.array([(y is not None and y == x) for y in vals], dtype=bool) if kind == "text" \
                    else (vals == x)
            base |= present & np.asarray(eq, dtype=bool)
        return base != cond.negated
    x = literal(cond.literal)
    if x is None:
        return np.zeros(len(df), dtype=bool)
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    if kind == "text":
        f = {"<": lambda a: a < x, "<=": lambda a: a <= x, ">": lambda a: a > x, ">=": lambda a: a >= x}[cond.op]
        res = np.array([(y is not None and f(y)) for y in vals], dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            res = np.asarray(ops[cond.op](vals, x), dtype=bool)
    return present & res


def conditions_mask(df: pd.DataFrame, conds: list[Condition], vkinds: dict[str, str]) -> np.ndarray:
    m = np.ones(len(df), dtype=bool)
    for c in conds:
        m &= condition_mask(df, c, vkinds.get(c.column, "text"))
    return m


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def compare_frames(real: pd.DataFrame, synth: pd.DataFrame, columns: list[str], kinds: dict[str, str]) -> dict:
    """Per-column TVD (categorical; missing is a category) or KS (numeric/date; missing left out) of
    `synth` against `real`; mean over columns, worst column, largest missing-rate difference."""
    per = {}
    for col in columns:
        kind = kinds[col]
        if kind.startswith("skip"):
            continue
        metric = "ks" if kind in ("numeric", "datetime") else "tvd"
        miss_r = float(real[col].isna().mean() * 100) if len(real) else None
        if col not in synth.columns:
            per[col] = {"kind": kind, "metric": metric, "value": 1.0, "absent": True}
            continue
        miss_s = float(synth[col].isna().mean() * 100) if len(synth) else None
        if metric == "ks":
            a, b = _as_numbers(real[col], kind), _as_numbers(synth[col], kind)
            if len(a) == 0 and len(b) == 0:
                value = 0.0
            elif len(a) == 0 or len(b) == 0:
                value = 1.0
            else:
                value = ks_statistic(a, b)
        else:
            value = tvd(real[col], synth[col]) if len(real) and len(synth) else 1.0
        per[col] = {"kind": kind, "metric": metric, "value": value, "missing_pct_real": miss_r,
                    "missing_pct_synth": miss_s,
                    "missing_pp_diff": None if miss_r is None or miss_s is None else abs(miss_s - miss_r)}
    if not per:
        return {"mean": None, "worst_column": None, "worst": None, "max_missing_pp_diff": None, "columns": per}
    worst = max(per, key=lambda c: per[c]["value"])
    miss = [e["missing_pp_diff"] for e in per.values() if e.get("missing_pp_diff") is not None]
    return {"mean": float(np.mean([e["value"] for e in per.values()])), "worst_column": worst,
            "worst": per[worst]["value"], "worst_metric": per[worst]["metric"],
            "max_missing_pp_diff": max(miss) if miss else None, "n_columns": len(per), "columns": per}


def noise_floor(real: pd.DataFrame, columns: list[str], kinds: dict[str, str], reps: int, seed: int) -> float | None:
    """What a perfect generator would score against these few real rows: the mean over `reps`
    bootstrap resamples (as many rows as `real`, with replacement) of compare_frames(real, resample)."""
    if len(real) == 0 or reps <= 0:
        return None
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(reps):
        boot = real.iloc[rng.integers(0, len(real), len(real))]
        m = compare_frames(real, boot, columns, kinds)["mean"]
        if m is not None:
            vals.append(m)
    return float(np.mean(vals)) if vals else None


# ----------------------------------------------------------------------------------------------
# Rebalance / oversample / fairness specs
# ----------------------------------------------------------------------------------------------


def parse_shares(spec: str, factor: bool) -> tuple[str, str, list[tuple[str, float]]]:
    """`col=uniform`, `col=v:share[,v:share]` or (factor) `col=v:3x[,...]` -> (column, mode, pairs)."""
    column, rhs = spec.split("=", 1)
    if not factor and rhs.strip() == "uniform":
        return column.strip(), "uniform", []
    pairs = []
    for item in rhs.split(","):
        value, number = item.rsplit(":", 1)
        number = number.strip()
        if factor and number[-1:] in ("x", "X"):
            number = number[:-1]
        pairs.append((value.strip(), float(number)))
    return column.strip(), ("multiply" if factor else "given"), pairs


def canon_literal(lit: str, real: pd.Series) -> str:
    """The _canonical() label a value written in a spec stands for in this column."""
    if value_kind(real) == "number":
        x = _literal_number(lit)
        if x is not None:
            return _canonical(pd.Series([x])).iloc[0]
    return _canonical(pd.Series([lit])).iloc[0]


def share_targets(real: pd.Series, mode: str, pairs: list[tuple[str, float]]) -> dict[str, float]:
    """Target share of every (canonical) value: the named ones as given (or multiplied), the rest in
    the real proportions (doppel uses its model's, which follow the real ones closely). Values held by
    fewer than MIN_CATEGORY_COUNT rows are left out, as doppel's model leaves them out."""
    counts = _canonical(real).value_counts()
    counts = counts[counts >= MIN_CATEGORY_COUNT]
    props = counts / counts.sum()
    named = {canon_literal(v, real): s for v, s in pairs}
    if mode == "uniform":
        return {v: 1.0 / len(props) for v in props.index}
    if mode == "multiply":
        w = {v: props[v] * named.get(v, 1.0) for v in props.index}
        total = sum(w.values())
        return {v: float(x / total) for v, x in w.items()}
    rest = 1.0 - sum(named.values())
    others = props[[v for v in props.index if v not in named]]
    out = dict(named)
    for v, p in others.items():
        out[v] = float(rest * p / others.sum()) if others.sum() > 0 else 0.0
    return out


def parity(df: pd.DataFrame, group: str, positive: np.ndarray) -> dict:
    """P(positive | group) per group, and max - min over the groups."""
    labels = _canonical(df[group])
    groups = {}
    for g in sorted(labels.unique()):
        m = (labels == g).to_numpy()
        groups[g] = {"rows": int(m.sum()), "share": float(m.mean()), "rate": float(positive[m].mean())}
    rates = [x["rate"] for x in groups.values()]
    return {"groups": groups, "parity": float(max(rates) - min(rates)) if rates else None,
            "overall_rate": float(positive.mean()) if len(positive) else None}


# ----------------------------------------------------------------------------------------------
# Datasets and runners
# ----------------------------------------------------------------------------------------------


class Dataset:
    def __init__(self, name: str, datasets_dir: Path):
        self.name = name
        self.train_csv = (datasets_dir / name / f"{name}.train.csv").resolve()
        self.holdout_csv = (datasets_dir / name / f"{name}.holdout.csv").resolve()
        self.train = read_csv(self.train_csv)
        self.kinds = classify_columns(self.train)
        for c in SKIP_COLUMNS & set(self.train.columns):
            self.kinds[c] = "skip:generated"
        self.vkinds = {c: value_kind(self.train[c]) for c in self.train.columns}

    def scored_columns(self, exclude: set[str]) -> list[str]:
        return [c for c in self.train.columns if c not in exclude and not self.kinds[c].startswith("skip")]


def fmt_cmd(cmd: list[str], model: str | None = None) -> str:
    """A command line for the report: the binary as `doppel`, temporary paths as their file names."""
    out = []
    for i, part in enumerate(cmd):
        if i == 0:
            out.append("doppel")
        elif os.sep in part and Path(part).is_absolute():
            out.append(Path(part).name)
        else:
            out.append(part)
    return shlex.join(out)


class DoppelRunner:
    """Runs the doppel binary (a private copy) as child processes."""

    label = "doppel"

    def __init__(self, args, doppel: Path, work: Path):
        self.args, self.doppel, self.work = args, doppel, work
        self.models: dict[str, dict] = {}
        self.counter = 0

    def fit(self, ds: Dataset) -> dict:
        if ds.name in self.models:
            return self.models[ds.name]
        d = self.work / ds.name
        d.mkdir(exist_ok=True)
        model = d / "model.doppel"
        cmd = [str(self.doppel), "fit", str(ds.train_csv), "-o", str(model), "--engine", self.args.engine,
               "--seed", str(self.args.seed), "--quiet", "--force"]
        log(f"{ds.name}: {fmt_cmd(cmd)}")
        res = run_measured(cmd, d, "fit", timeout=self.args.timeout)
        res["display"] = fmt_cmd(cmd)
        res["model"] = str(model)
        if res["ok"] and not model.is_file():
            res.update(ok=False, error=f"exited 0 but wrote no {model.name}")
        self.models[ds.name] = res
        return res

    def sample(self, ds: Dataset, tag: str, control: list[str], rows: int) -> dict:
        fit = self.fit(ds)
        if not fit["ok"]:
            return {"ok": False, "error": "fit failed: " + fit.get("error", "?")}
        self.counter += 1
        d = self.work / ds.name
        out = d / f"{self.counter:02d}-{tag}.csv"
        cmd = [str(self.doppel), "sample", fit["model"], "-n", str(rows), "-o", str(out), "--seed", str(self.args.seed),
               "--quiet", "--force"] + control
        log(f"{ds.name}: {fmt_cmd(cmd)}")
        res = run_measured(cmd, d, f"{self.counter:02d}-{tag}", timeout=self.args.timeout)
        res["display"] = fmt_cmd(cmd)
        res["path"] = str(out)
        if res["ok"] and not out.is_file():
            res.update(ok=False, error=f"exited 0 but wrote no {out.name}")
        return res

    def evaluate(self, real_csv: Path, synth_csv: Path, holdout_csv: Path, target: str, tag: str) -> dict:
        return run_evaluate(self.args, self.doppel, self.work, real_csv, synth_csv, holdout_csv, target, tag)


def run_evaluate(args, doppel: Path | None, work: Path, real_csv: Path, synth_csv: Path, holdout_csv: Path,
                 target: str, tag: str) -> dict:
    """`doppel evaluate` for TSTR only: detection and privacy are cut to nothing (--detection-rows 1
    is below its minimum, --privacy-rows 1) to save time; utility does not depend on them."""
    if doppel is None:
        return {"ok": False, "skipped": True, "error": "no doppel binary: TSTR not computed"}
    out = work / f"evaluate-{tag}.json"
    cmd = [str(doppel), "evaluate", "--real", str(real_csv), "--synthetic", str(synth_csv), "--holdout",
           str(holdout_csv), "--target", target, "--output", str(out), "--seed", "0", "--detection-rows", "1",
           "--privacy-rows", "1", "--quiet", "--force"]
    log(f"  {fmt_cmd(cmd)}")
    res = run_measured(cmd, work, f"evaluate-{tag}", timeout=args.timeout)
    res["display"] = fmt_cmd(cmd)
    if not res["ok"]:
        return res
    try:
        e = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        res.update(ok=False, error=f"unreadable evaluation JSON: {exc}")
        return res
    u = e.get("utility") or {}
    res["utility"] = {k: u.get(k) for k in ("target", "task", "metric", "tstr", "trtr", "ratio", "test_rows", "note")}
    res["quality"] = (e.get("quality") or {}).get("score")
    return res


class FakeRunner:
    """--self-test: "synthetic" rows made by resampling real train rows the way the options ask."""

    label = "self-test (resampled real rows)"

    def __init__(self, args, doppel: Path | None, work: Path):
        self.args, self.doppel, self.work = args, doppel, work
        self.counter = 0
        self.rng = np.random.default_rng(args.seed)

    def fit(self, ds: Dataset) -> dict:
        return {"ok": True, "wall_s": 0.0, "display": "(self-test: no model)"}

    def _draw(self, pool: pd.DataFrame, k: int) -> pd.DataFrame:
        if k <= 0:
            return pool.iloc[:0]
        if len(pool) == 0:
            raise ValueError("no real row to draw from")
        return pool.iloc[self.rng.integers(0, len(pool), k)]

    @staticmethod
    def _exact_counts(shares: dict, n: int) -> dict:
        """Largest-remainder rounding of n * share."""
        raw = {k: n * s for k, s in shares.items()}
        counts = {k: int(math.floor(v)) for k, v in raw.items()}
        for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
            counts[k] += 1
        return counts

    def sample(self, ds: Dataset, tag: str, control: list[str], rows: int) -> dict:
        t0 = time.perf_counter()
        self.counter += 1
        d = self.work / ds.name
        d.mkdir(exist_ok=True)
        out = d / f"{self.counter:02d}-{tag}.csv"
        train = ds.train
        where, rebalance, oversample, fair, target = [], [], [], None, None
        it = iter(control)
        for flag in it:
            value = next(it)
            if flag == "--where":
                where.append(parse_condition(value))
            elif flag == "--rebalance":
                rebalance.append(value)
            elif flag == "--oversample":
                oversample.append(value)
            elif flag == "--fair":
                fair = value
            elif flag == "--target":
                target = value
        try:
            pool = train[conditions_mask(train, where, ds.vkinds)] if where else train
            if rebalance or oversample:
                spec = (rebalance or oversample)[0]
                col, mode, pairs = parse_shares(spec, bool(oversample))
                targets = share_targets(train[col], mode, pairs)
                labels = _canonical(pool[col])
                parts = [self._draw(pool[(labels == v).to_numpy()], k)
                         for v, k in self._exact_counts(targets, rows).items()]
                df = pd.concat(parts)
            elif fair:
                glabels = _canonical(pool[fair])
                if any(ch in target for ch in "=<>"):
                    outcome = pd.Series(np.where(conditions_mask(pool, [parse_condition(target)], ds.vkinds),
                                                 "pos", "neg"), index=pool.index)
                else:
                    outcome = _canonical(pool[target])
                overall = outcome.value_counts(normalize=True).to_dict()
                gshares = glabels.value_counts(normalize=True).to_dict()
                parts = []
                for g, n_g in self._exact_counts(gshares, rows).items():
                    in_g = (glabels == g).to_numpy()
                    for o, k in self._exact_counts(overall, n_g).items():
                        parts.append(self._draw(pool[in_g & (outcome == o).to_numpy()], k))
                df = pd.concat(parts)
            else:
                df = self._draw(pool, rows)
        except ValueError as exc:
            return {"ok": False, "error": str(exc), "display": "(self-test)"}
        df = df.sample(frac=1.0, random_state=int(self.rng.integers(0, 2**31)))  # shuffle
        df.to_csv(out, index=False)
        wall = time.perf_counter() - t0
        return {"ok": True, "wall_s": wall, "cpu_s": None, "peak_rss_mib": None, "path": str(out),
                "display": "(self-test) sample -n %d %s" % (rows, shlex.join(control))}

    def evaluate(self, real_csv: Path, synth_csv: Path, holdout_csv: Path, target: str, tag: str) -> dict:
        doppel = None if self.args.no_evaluate else self.doppel
        return run_evaluate(self.args, doppel, self.work, real_csv, synth_csv, holdout_csv, target, tag)


class Context:
    def __init__(self, args, runner, datasets_dir: Path):
        self.args, self.runner, self.datasets_dir = args, runner, datasets_dir
        self.datasets: dict[str, Dataset] = {}
        self.failures: list[str] = []

    def ds(self, name: str) -> Dataset:
        if name not in self.datasets:
            self.datasets[name] = Dataset(name, self.datasets_dir)
        return self.datasets[name]

    def fail(self, what: str, res: dict) -> str:
        err = first_line(res.get("error", "failed"))
        self.failures.append(f"{what}: {err}")
        log(f"FAILED {what}: {err}")
        return err


def first_line(text: str, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return "failed"
    # run_measured gives "exit code N: <stderr tail>"; doppel's (and clap's) message starts with "error"
    body = [lines[0].split(": ", 1)[1] if lines[0].startswith("exit code") and ": " in lines[0] else lines[0]]
    errors = [ln for ln in body + lines[1:] if ln.lower().startswith("error")]
    line = errors[0] if errors else (lines[-1] if len(lines) > 1 else lines[0])
    if lines[0].startswith("timed out"):
        line = lines[0].split(":")[0]
    return line[:limit].replace("|", "/")


def where_args(conds: list[str]) -> list[str]:
    out = []
    for c in conds:
        out += ["--where", c]
    return out


def where_text(conds: list[str]) -> str:
    return " ".join(f"--where {shlex.quote(c)}" for c in conds)


# ----------------------------------------------------------------------------------------------
# Parts
# ----------------------------------------------------------------------------------------------


def conditioned_sample(ctx: Context, ds: Dataset, conds_text: list[str], tag: str) -> dict:
    """Sample under --where conditions and score conformance and fidelity against the real subset."""
    conds = [parse_condition(c) for c in conds_text]
    real_mask = conditions_mask(ds.train, conds, ds.vkinds)
    real = ds.train[real_mask]
    cols = ds.scored_columns({c.column for c in conds})
    r = {"dataset": ds.name, "where": conds_text, "real_rows": int(real_mask.sum()),
         "real_share": float(real_mask.mean()), "rows_asked": ctx.args.rows,
         "noise_floor": noise_floor(real, cols, ds.kinds, ctx.args.noise_reps, ctx.args.seed)}
    res = ctx.runner.sample(ds, tag, where_args(conds_text), ctx.args.rows)
    r["sample"] = {k: v for k, v in res.items() if k != "path"}
    if not res["ok"]:
        r["error"] = ctx.fail(f"{ds.name} {where_text(conds_text)}", res)
        return r
    synth = read_csv(Path(res["path"]))
    try:
        ok = conditions_mask(synth, conds, ds.vkinds)
    except KeyError as exc:
        r["error"] = str(exc)
        ctx.failures.append(f"{ds.name} {where_text(conds_text)}: {exc}")
        return r
    r.update({"rows_out": int(len(synth)), "conforming": int(ok.sum()),
              "conformance": float(ok.mean()) if len(synth) else None, "wall_s": res["wall_s"],
              "fidelity": compare_frames(real, synth[ok], cols, ds.kinds)})
    return r


def part_conditions(ctx: Context) -> dict:
    rows = []
    for name, conds in CONDITIONS.items():
        ds = ctx.ds(name)
        for i, (kind, texts) in enumerate(conds, 1):
            r = conditioned_sample(ctx, ds, texts, f"where{i}")
            r["kind"] = kind
            rows.append(r)
    return {"rows": rows, "fits": {n: ctx.runner.fit(ctx.ds(n)) for n in CONDITIONS}}


def part_rare(ctx: Context) -> dict:
    name, texts = RARE
    ds = ctx.ds(name)
    plain = ctx.runner.sample(ds, "plain-rare", [], ctx.args.rows)
    if not plain["ok"]:
        ctx.fail(f"{name} plain sample", plain)
    r = conditioned_sample(ctx, ds, texts, "rare")
    r["plain_sample"] = {k: v for k, v in plain.items() if k != "path"}
    return {"rows": [r], "fits": {name: ctx.runner.fit(ds)}}


def group_fidelity(ctx: Context, ds: Dataset, synth: pd.DataFrame, column: str, targets: dict) -> dict:
    labels_s, labels_r = _canonical(synth[column]), _canonical(ds.train[column])
    cols = ds.scored_columns({column})
    shares = labels_s.value_counts(normalize=True).to_dict()
    groups = {}
    for v in sorted(set(targets) | set(shares)):
        real = ds.train[(labels_r == v).to_numpy()]
        syn = synth[(labels_s == v).to_numpy()]
        target, got = targets.get(v), shares.get(v, 0.0)
        groups[v] = {"target": target, "achieved": got, "rows_out": int(len(syn)), "real_rows": int(len(real)),
                     "real_share": float(len(real) / len(ds.train)),
                     "error_pp": None if target is None else (got - target) * 100,
                     "fidelity": compare_frames(real, syn, cols, ds.kinds) if len(syn) else None,
                     "noise_floor": noise_floor(real, cols, ds.kinds, ctx.args.noise_reps, ctx.args.seed)}
    return groups


def part_shares(ctx: Context, specs: list[tuple[str, str]], oversample: bool) -> dict:
    rows = []
    flag = "--oversample" if oversample else "--rebalance"
    for name, spec in specs:
        ds = ctx.ds(name)
        col, mode, pairs = parse_shares(spec, oversample)
        targets = share_targets(ds.train[col], mode, pairs)
        r = {"dataset": name, "option": f"{flag} {spec}", "column": col, "mode": mode, "targets": targets}
        if oversample:
            r["real_shares"] = {canon_literal(v, ds.train[col]): float((_canonical(ds.train[col]) ==
                                                                        canon_literal(v, ds.train[col])).mean())
                                for v, _ in pairs}
        res = ctx.runner.sample(ds, "oversample" if oversample else "rebalance", [flag, spec], ctx.args.rows)
        r["sample"] = {k: v for k, v in res.items() if k != "path"}
        if not res["ok"]:
            r["error"] = ctx.fail(f"{name} {flag} {spec}", res)
            rows.append(r)
            continue
        synth = read_csv(Path(res["path"]))
        r["rows_out"] = int(len(synth))
        r["wall_s"] = res["wall_s"]
        if col not in synth.columns:
            r["error"] = f"output has no column `{col}`"
            ctx.failures.append(f"{name} {flag} {spec}: {r['error']}")
        else:
            r["groups"] = group_fidelity(ctx, ds, synth, col, targets)
        rows.append(r)
    return {"rows": rows, "fits": {n: ctx.runner.fit(ctx.ds(n)) for n, _ in specs}}


def part_rebalance(ctx: Context) -> dict:
    return part_shares(ctx, REBALANCE, oversample=False)


def part_oversample(ctx: Context) -> dict:
    return part_shares(ctx, OVERSAMPLE, oversample=True)


def binarised(df: pd.DataFrame, column: str, positive: np.ndarray, new: str) -> pd.DataFrame:
    """`column` replaced in place by `new` = yes/no from `positive` (for TSTR on the fairness outcome)."""
    out = df.copy()
    at = list(out.columns).index(column)
    out.insert(at, new, np.where(positive, "yes", "no"))
    return out.drop(columns=[column])


def part_fairness(ctx: Context) -> dict:
    rows = []
    for name, group, target_opt, positive_text, eval_target in FAIRNESS:
        ds = ctx.ds(name)
        if "MEDIAN" in target_opt or "MEDIAN" in positive_text:
            col = parse_condition(positive_text.replace("MEDIAN", "0")).column
            med = float(ds.train[col].median())
            med_s = f"{med:.10g}"
            target_opt, positive_text = target_opt.replace("MEDIAN", med_s), positive_text.replace("MEDIAN", med_s)
        pos_cond = parse_condition(positive_text)
        r = {"dataset": name, "group": group, "target": target_opt, "positive": positive_text,
             "option": f"--fair {group} --target {shlex.quote(target_opt)}"}
        pos_real = condition_mask(ds.train, pos_cond, ds.vkinds[pos_cond.column])
        r["real"] = parity(ds.train, group, pos_real)
        outs = {}
        for label, control in (("plain", []), ("fair", ["--fair", group, "--target", target_opt])):
            res = ctx.runner.sample(ds, f"{label}-{group}", control, ctx.args.rows)
            r[f"{label}_sample"] = {k: v for k, v in res.items() if k != "path"}
            if not res["ok"]:
                r[f"{label}_error"] = ctx.fail(f"{name} {label} sample {shlex.join(control)}", res)
                continue
            synth = read_csv(Path(res["path"]))
            outs[label] = (synth, Path(res["path"]))
            pos = condition_mask(synth, pos_cond, ds.vkinds[pos_cond.column])
            r[label] = parity(synth, group, pos)
            r[label]["rows_out"] = int(len(synth))
        # TSTR: the evaluate target column as is; for an expression target also the binarised outcome.
        targets = [(eval_target, ds.train_csv, ds.holdout_csv, {k: p for k, (_, p) in outs.items()})]
        if pos_cond.column == eval_target and pos_cond.op != "in":
            new = f"{eval_target}_high"
            d = ctx.runner.work / name
            d.mkdir(exist_ok=True)
            paths = {}
            for tag, df in (("train", ds.train), ("holdout", read_csv(ds.holdout_csv))):
                p = d / f"bin-{tag}.csv"
                binarised(df, eval_target, condition_mask(df, pos_cond, ds.vkinds[eval_target]), new).to_csv(p, index=False)
                paths[tag] = p
            synth_paths = {}
            for label, (synth, _) in outs.items():
                p = d / f"bin-{label}.csv"
                binarised(synth, eval_target, condition_mask(synth, pos_cond, ds.vkinds[eval_target]), new) \
                    .to_csv(p, index=False)
                synth_paths[label] = p
            targets.append((new, paths["train"], paths["holdout"], synth_paths))
        r["tstr"] = []
        for tgt, real_csv, hold_csv, synths in targets:
            entry = {"target": tgt, "binarised": tgt != eval_target}
            for label, path in synths.items():
                ev = ctx.runner.evaluate(real_csv, path, hold_csv, tgt, f"{name}-{label}-{tgt}")
                entry[label] = ev
                if not ev.get("ok") and not ev.get("skipped"):
                    ctx.fail(f"{name} evaluate {label} --target {tgt}", ev)
            r["tstr"].append(entry)
        rows.append(r)
    return {"rows": rows, "fits": {n: ctx.runner.fit(ctx.ds(n)) for n, *_ in FAIRNESS}}


PART_FUNCS = {"conditions": part_conditions, "rare": part_rare, "rebalance": part_rebalance,
              "oversample": part_oversample, "fairness": part_fairness}


def datasets_for(parts: list[str]) -> list[str]:
    names = []
    if "conditions" in parts:
        names += list(CONDITIONS)
    if "rare" in parts:
        names.append(RARE[0])
    if "rebalance" in parts:
        names += [n for n, _ in REBALANCE]
    if "oversample" in parts:
        names += [n for n, _ in OVERSAMPLE]
    if "fairness" in parts:
        names += [f[0] for f in FAIRNESS]
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------


def f3(v, spec=".3f") -> str:
    return "—" if v is None else f"{v:{spec}}"


def pf(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def pct(v, digits=2) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f} %"


def md_code(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def fid_cells(fid: dict | None, floor: float | None) -> tuple[str, str, str, bool | None]:
    if not fid or fid.get("mean") is None:
        return "—", "—", f3(floor), None
    worst = f"{fid['worst_column']} ({fid['worst_metric'].upper()} {fid['worst']:.3f})"
    return f"{fid['mean']:.3f}", worst, f3(floor), fid["mean"] <= FIDELITY_BAR


def md_conditions(res: dict, title: str, rare: bool = False) -> str:
    lines = []
    if rare:
        lines.append(f"Bar: 100 % of the rows meet the condition, and `sample -n 10000 --where …` takes < "
                     f"{RARE_SECONDS_BAR:g} s wall (one process; rows asked here: {res['rows'][0]['rows_asked']:,}). "
                     f"Fidelity (mean TVD/KS ≤ {FIDELITY_BAR}) is shown for information: about a hundred real rows "
                     "make a noisy reference (see the noise floor).\n")
        lines.append("| dataset | conditions | real rows (share) | rows out | conforming | sample s (plain sample s) | "
                     "mean TVD/KS | worst column | noise floor | Δmiss pp max | time | conformance |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    else:
        lines.append(f"Bar: 100 % of the output rows meet the condition; mean TVD/KS of the other columns against the "
                     f"real train rows meeting it ≤ {FIDELITY_BAR}.\n")
        lines.append("| dataset | kind | conditions | real rows (share) | rows out | conforming | sample s | "
                     "mean TVD/KS | worst column | noise floor | Δmiss pp max | conformance | fidelity |")
        lines.append("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    for r in res["rows"]:
        cond = md_code(where_text(r["where"]))
        real = f"{r['real_rows']:,} ({pct(r['real_share'])})"
        if r.get("error") and "conformance" not in r:
            err = f"failed: {r['error']}".replace("|", "/")
            if rare:
                lines.append(f"| {r['dataset']} | {cond} | {real} | {err} |" + " |" * 8)
            else:
                lines.append(f"| {r['dataset']} | {r['kind']} | {cond} | {real} | {err} |" + " |" * 8)
            continue
        conf_ok = r["conformance"] is not None and r["conformance"] >= CONFORMANCE_BAR
        bad = r["rows_out"] - r["conforming"]
        conf = f"{pct(r['conformance'])}" + (f" ({bad:,} not)" if bad else "")
        mean, worst, floor, fid_ok = fid_cells(r["fidelity"], r["noise_floor"])
        miss = f3(r["fidelity"].get("max_missing_pp_diff"), ".2f")
        rows_out = f"{r['rows_out']:,}" + ("" if r["rows_out"] == r["rows_asked"] else f" (asked {r['rows_asked']:,})")
        if rare:
            plain = r.get("plain_sample") or {}
            ps = f3(plain.get("wall_s"), ".2f") if plain.get("ok") else "failed"
            time_ok = r["wall_s"] < RARE_SECONDS_BAR
            lines.append(f"| {r['dataset']} | {cond} | {real} | {rows_out} | {conf} | {r['wall_s']:.2f} ({ps}) | "
                         f"{mean} | {worst} | {floor} | {miss} | {pf(time_ok)} | {pf(conf_ok)} |")
        else:
            lines.append(f"| {r['dataset']} | {r['kind']} | {cond} | {real} | {rows_out} | {conf} | {r['wall_s']:.2f} | "
                         f"{mean} | {worst} | {floor} | {miss} | {pf(conf_ok)} | {pf(fid_ok)} |")
    return "\n".join(lines)


def md_shares(res: dict, oversample: bool) -> str:
    lines = []
    if oversample:
        lines.append(f"Bar: the oversampled value's share within ±{SHARE_PP_BAR:g} pp of f·p / (f·p + 1 − p), p its real "
                     f"train share (the same bar as rebalancing); fidelity within each group (mean TVD/KS ≤ "
                     f"{FIDELITY_BAR}) for information.\n")
    else:
        lines.append(f"Bar: every value's share within ±{SHARE_PP_BAR:g} pp of its target (named values as given, the "
                     f"others sharing the rest in the real proportions; `uniform`: every value kept by the model "
                     f"equally); mean TVD/KS of the other columns within each group against the real rows of that "
                     f"group ≤ {FIDELITY_BAR}.\n")
    lines.append("| dataset | option | value | real share | target | achieved | error pp | rows out | real rows | "
                 "mean TVD/KS | worst column | noise floor | share | fidelity |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|")
    for r in res["rows"]:
        opt = md_code(r["option"])
        if "groups" not in r:
            lines.append(f"| {r['dataset']} | {opt} | failed: {str(r.get('error')).replace('|', '/')} |" + " |" * 11)
            continue
        for v, g in r["groups"].items():
            share_ok = None if g["error_pp"] is None else abs(g["error_pp"]) <= SHARE_PP_BAR
            mean, worst, floor, fid_ok = fid_cells(g["fidelity"], g["noise_floor"])
            lines.append(f"| {r['dataset']} | {opt} | {v} | {pct(g['real_share'])} | {pct(g['target'])} | "
                         f"{pct(g['achieved'])} | {f3(g['error_pp'], '+.2f')} | {g['rows_out']:,} | {g['real_rows']:,} | "
                         f"{mean} | {worst} | {floor} | {pf(share_ok)} | {pf(fid_ok)} |")
    return "\n".join(lines)


def md_fairness(res: dict) -> str:
    lines = [f"Bar: statistical-parity difference of the fair sample (max − min over the groups of P(positive | group)) "
             f"< {PARITY_BAR}. TSTR: `doppel evaluate --holdout` (train on the sample, test on the real holdout; ROC AUC "
             f"for a binary target, R² for a numeric one); cost = plain − fair.\n",
             "| dataset | option | positive | parity real | parity plain | parity fair | P(positive \\| group): real / "
             "plain / fair | group shares: real / fair | parity |",
             "|---|---|---|---:|---:|---:|---|---|---|"]
    for r in res["rows"]:
        def rates(key):
            p = r.get(key)
            return None if p is None else p["groups"]

        real, plain, fair = rates("real"), rates("plain"), rates("fair")
        groups = sorted(set(real or {}) | set(plain or {}) | set(fair or {}))
        per = "; ".join(f"{g}: {pct((real or {}).get(g, {}).get('rate'), 1)} / {pct((plain or {}).get(g, {}).get('rate'), 1)}"
                        f" / {pct((fair or {}).get(g, {}).get('rate'), 1)}" for g in groups)
        shares = "; ".join(f"{g}: {pct((real or {}).get(g, {}).get('share'), 1)} / {pct((fair or {}).get(g, {}).get('share'), 1)}"
                           for g in groups)
        pr = lambda k: f3((r.get(k) or {}).get("parity"), ".4f") if r.get(k) else f"failed"  # noqa: E731
        ok = None if not r.get("fair") else r["fair"]["parity"] < PARITY_BAR
        lines.append(f"| {r['dataset']} | {md_code(r['option'])} | {md_code(r['positive'])} | {pr('real')} | {pr('plain')} | "
                     f"{pr('fair')} | {per} | {shares} | {pf(ok)} |")
    lines += ["", "| dataset | TSTR target | metric | TRTR | TSTR plain | TSTR fair | cost (plain − fair) | TSTR/TRTR plain | "
              "TSTR/TRTR fair |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        for e in r.get("tstr", []):
            p, f = e.get("plain") or {}, e.get("fair") or {}
            pu, fu = p.get("utility") or {}, f.get("utility") or {}

            def cell(ev, key):
                if not ev:
                    return "—"
                if not ev.get("ok"):
                    return "not run" if ev.get("skipped") else f"failed: {first_line(ev.get('error', '?'), 60)}"
                return f3((ev.get("utility") or {}).get(key), ".4f")

            cost = (pu["tstr"] - fu["tstr"]) if pu.get("tstr") is not None and fu.get("tstr") is not None else None
            tgt = md_code(e["target"]) + (" (binarised outcome, replaces `wage`)" if e["binarised"] else "")
            lines.append(f"| {r['dataset']} | {tgt} | {pu.get('metric') or fu.get('metric') or '—'} | "
                         f"{f3(pu.get('trtr') if pu.get('trtr') is not None else fu.get('trtr'), '.4f')} | {cell(p, 'tstr')} | "
                         f"{cell(f, 'tstr')} | {f3(cost, '+.4f')} | {cell(p, 'ratio')} | {cell(f, 'ratio')} |")
    return "\n".join(lines)


NOTES = """\
- Models: `doppel fit TRAIN -o MODEL --engine tree --seed S` on the train split; every sample is one
  `doppel sample MODEL -n ROWS -o OUT.csv --seed S --quiet --force [options]` process (default thread count).
  *sample s* is its wall time (model read and CSV write included), from a single run on a shared machine.
- Conformance and shares are computed here in pandas with doppel's condition semantics (numbers
  numerically, other values as written; `!=` holds for missing values, comparisons never do).
- Fidelity: per column TVD of the category frequencies (categorical columns and 0/1 columns; missing is a
  category) or the two-sample KS statistic (numeric columns; missing values left out, their rate
  difference is the *Δmiss pp* column), between the synthetic rows and the real train rows of the same
  condition / group; the columns the condition or option is about are left out, and so are covid_testing's
  generated `subject_id`, `fake_first_name`, `fake_last_name`. *noise floor*: the mean TVD/KS that a
  perfect generator would still show against so few real rows, estimated by bootstrap (resamples of the
  real rows, as many as there are, scored against them; mean of `--noise-reps`). A mean near its floor is
  sampling noise of the real reference, not a fault of the model; with a few hundred real rows and
  many-valued columns (covid_testing's `clinic_name`) the floor itself can exceed 0.05.
- Rebalance targets for the values not named follow the real train proportions; doppel uses its model's,
  which follow them closely. Values held by fewer than 5 train rows are not in doppel's model and not in
  the targets.
- Fairness: *parity* = max − min over the groups of the fair column of P(positive | group); `--target
  churn` (a column) equalises churn's whole distribution, the positive outcome shown is churn=Yes. TSTR
  comes from `doppel evaluate --real TRAIN --synthetic S --holdout HOLDOUT --target T --seed 0` with
  detection and privacy switched off (`--detection-rows 1 --privacy-rows 1`; they do not affect utility).
  For cps1988 it is computed on `wage` itself (R²) and on the binarised outcome (`wage` replaced by a
  yes/no column `wage_high` in the train, holdout and both samples; ROC AUC)."""


def build_markdown(ctx: Context, results: dict, machine: dict, cmd: str, self_test: bool) -> str:
    day = dt.date.today().isoformat()
    load = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    head = [f"# doppel control (issue 5): conditions, rare conditions, rebalancing, oversampling, fairness — {day}\n"]
    if self_test:
        head.append("> **SELF-TEST: the \"synthetic\" rows are resampled real train rows, not doppel's output.** The "
                    "figures check this script, not doppel.\n")
    head += [
        f"- machine: `{machine.get('uname')}`; nproc {machine.get('nproc')}; CPU {machine.get('cpu_model')}; "
        f"{machine.get('mem_total_gib')} GiB RAM; load average at start {load(machine.get('loadavg_at_start', []))}"
        + (f", at end {load(machine['loadavg_at_end'])}" if machine.get("loadavg_at_end") else ""),
        f"- doppel: {machine.get('doppel_version') or '—'} (repo commit {machine.get('repo_commit') or '—'}, working tree "
        f"may differ; binary {machine.get('doppel_binary', '—')} built {machine.get('doppel_binary_mtime', '—')}, sha256 "
        f"{machine.get('doppel_binary_sha256', '—')}…); engine `{ctx.args.engine}`",
        f"- command: `{cmd}`; seed {ctx.args.seed}; {ctx.args.rows:,} rows per sample; noise floor from "
        f"{ctx.args.noise_reps} bootstrap resamples\n",
    ]
    fits = {}
    for part in results.values():
        fits.update(part.get("fits", {}))
    if fits and not self_test:
        head.append("Fits (`doppel fit --engine " + ctx.args.engine + "`): " + "; ".join(
            f"{n} {f['wall_s']:.2f} s" if f.get("ok") else f"{n} failed: {first_line(f.get('error', '?'))}"
            for n, f in fits.items()) + "\n")
    parts = ["\n".join(head)]
    titles = {"conditions": "1. Conditions (`--where`)", "rare": "2. A rare condition",
              "rebalance": "3. Rebalancing (`--rebalance`)", "oversample": "4. Oversampling (`--oversample`)",
              "fairness": "5. Fairness (`--fair … --target …`)"}
    for part, res in results.items():
        parts.append(f"## {titles[part]}\n")
        if part == "conditions":
            parts.append(md_conditions(res, titles[part]))
        elif part == "rare":
            parts.append(md_conditions(res, titles[part], rare=True))
        elif part in ("rebalance", "oversample"):
            parts.append(md_shares(res, part == "oversample"))
        else:
            parts.append(md_fairness(res))
        parts.append("")
    if ctx.failures:
        parts += ["## Commands that failed\n", "\n".join(f"- {f}" for f in ctx.failures), ""]
    parts += ["Notes:\n", NOTES, ""]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# Self-test
# ----------------------------------------------------------------------------------------------

# Independent pandas masks for every configured condition (the parser-based evaluation must agree).
HAND_MASKS = {
    "churn=Yes": lambda d: d.churn == "Yes",
    "payment_method=Bank transfer (automatic)|Credit card (automatic)":
        lambda d: d.payment_method.isin(["Bank transfer (automatic)", "Credit card (automatic)"]),
    "total_charges>=4000": lambda d: d.total_charges.notna() & (d.total_charges >= 4000),
    "contract!=Month-to-month": lambda d: d.contract.isna() | (d.contract != "Month-to-month"),
    "senior_citizen=1 internet_service=Fiber optic":
        lambda d: (d.senior_citizen == 1) & (d.internet_service == "Fiber optic"),
    "result=positive": lambda d: d.result == "positive",
    "patient_class=emergency|observation": lambda d: d.patient_class.isin(["emergency", "observation"]),
    "age>=18 age<65": lambda d: (d.age >= 18) & (d.age < 65),
    "demo_group!=patient": lambda d: d.demo_group.isna() | (d.demo_group != "patient"),
    "payor_group= result!=negative": lambda d: d.payor_group.isna() & (d.result.isna() | (d.result != "negative")),
    "ethnicity=afam parttime=yes wage<150": lambda d: (d.ethnicity == "afam") & (d.parttime == "yes") & (d.wage < 150),
}


def self_test_units(ctx: Context) -> list[tuple[str, bool, str]]:
    checks = []

    def check(name, ok, detail=""):
        checks.append((name, bool(ok), detail))

    # Parser and evaluator on hand-made cases.
    df = pd.DataFrame({"a": ["x", "y", None, "z"], "n": [1.0, 2.5, None, 10.0], "b": [0, 1, 1, 0],
                       "d": ["2020-01-01", "2020-02-01", None, "2019-12-31"]})
    vk = {c: value_kind(df[c]) for c in df.columns}
    check("value kinds", vk == {"a": "text", "n": "number", "b": "number", "d": "date"}, str(vk))
    cases = {"a=x": [1, 0, 0, 0], "a=x|y": [1, 1, 0, 0], "a!=x": [0, 1, 1, 1], "a=": [0, 0, 1, 0],
             "a!=": [1, 1, 0, 1], "a=x|": [1, 0, 1, 0], "a!=x|y": [0, 0, 1, 1], "a>=y": [0, 1, 0, 1],
             "n>=2.5": [0, 1, 0, 1], "n>2.5": [0, 0, 0, 1], "n<=2.5": [1, 1, 0, 0], "n<2.5": [1, 0, 0, 0],
             "n=1": [1, 0, 0, 0], "n=1.0": [1, 0, 0, 0], "n!=1": [0, 1, 1, 1], "n=": [0, 0, 1, 0],
             "n=abc": [0, 0, 0, 0], "b=1": [0, 1, 1, 0], "b!=1": [1, 0, 0, 1], "d>=2020-01-15": [0, 1, 0, 0],
             "d<2020-01-01": [0, 0, 0, 1], " a = x ": [1, 0, 0, 0]}
    for text, want in cases.items():
        got = condition_mask(df, parse_condition(text), vk[parse_condition(text).column]).astype(int).tolist()
        check(f"condition `{text}`", got == want, f"got {got}, want {want}")
    # A synthetic file may write a 0/1 column as true/false, or integers as 1.0.
    syn = pd.DataFrame({"b": ["true", "false", "True", None], "n": ["1.0", "2.5", "", "10"]})
    got = condition_mask(syn, parse_condition("b=1"), "number").astype(int).tolist()
    check("`b=1` on true/false text", got == [1, 0, 1, 0], str(got))
    got = condition_mask(syn.replace({"": None}), parse_condition("n=1"), "number").astype(int).tolist()
    check("`n=1` on `1.0` text", got == [1, 0, 0, 0], str(got))
    for bad in ("a", "=x", "n>=", "n<"):
        try:
            parse_condition(bad)
            check(f"`{bad}` rejected", False)
        except ValueError:
            check(f"`{bad}` rejected", True)

    # Every configured condition: parser mask = hand mask, enough rows.
    configured = [(n, t) for n, conds in CONDITIONS.items() for _, t in conds] + [RARE]
    for name, texts in configured:
        ds = ctx.ds(name)
        key = " ".join(texts)
        mine = conditions_mask(ds.train, [parse_condition(t) for t in texts], ds.vkinds)
        hand = HAND_MASKS[key](ds.train).to_numpy(dtype=bool)
        check(f"{name} `{key}`: parser = hand mask", np.array_equal(mine, hand),
              f"{int(mine.sum())} vs {int(hand.sum())} rows")
        if (name, texts) != RARE:
            check(f"{name} `{key}`: ≥ {MIN_REAL_ROWS} real rows", mine.sum() >= MIN_REAL_ROWS, f"{int(mine.sum())}")
    ds = ctx.ds(RARE[0])
    share = conditions_mask(ds.train, [parse_condition(t) for t in RARE[1]], ds.vkinds).mean()
    check(f"rare condition share about 0.5 %", 0.004 <= share <= 0.006, f"{share * 100:.3f} %")

    # Metrics: 0 on identical data, large where the data differ.
    t = ctx.ds("telco_churn")
    cols = t.scored_columns(set())
    same = compare_frames(t.train, t.train.copy(), cols, t.kinds)
    check("identical data: every TVD/KS = 0", max(e["value"] for e in same["columns"].values()) == 0.0,
          f"max {max(e['value'] for e in same['columns'].values())}")
    yes, no = t.train[t.train.churn == "Yes"], t.train[t.train.churn == "No"]
    diff = compare_frames(yes, no, t.scored_columns({"churn"}), t.kinds)
    check("churn=Yes vs churn=No rows: tenure KS > 0.2, mean > 0.05",
          diff["columns"]["tenure"]["value"] > 0.2 and diff["mean"] > 0.05,
          f"tenure KS {diff['columns']['tenure']['value']:.3f}, mean {diff['mean']:.3f}")
    written = ctx.runner.work / "telco-roundtrip.csv"
    t.train.to_csv(written, index=False)
    rt = compare_frames(t.train, read_csv(written), cols, t.kinds)
    check("train written and read back: mean TVD/KS = 0", rt["mean"] == 0.0, f"{rt['mean']}")
    check("TVD: 1 = 1.0 and true = True across writers",
          tvd(pd.Series([1, 0, 1]), pd.Series([1.0, 0.0, 1.0])) == 0.0
          and tvd(pd.Series(["true", "False"]), pd.Series([True, False])) == 0.0)
    check("TVD: disjoint labels = 1", tvd(pd.Series(["a", "b"]), pd.Series(["c", "c"])) == 1.0)

    # Targets and parity against hand computations.
    tg = share_targets(t.train.churn, *parse_shares("churn=Yes:0.5", False)[1:])
    check("rebalance churn=Yes:0.5 targets", abs(tg["Yes"] - 0.5) < 1e-12 and abs(tg["No"] - 0.5) < 1e-12, str(tg))
    p = (t.train.churn == "Yes").mean()
    tg = share_targets(t.train.churn, *parse_shares("churn=Yes:3x", True)[1:])
    check("oversample churn=Yes:3x target = 3p/(3p+1-p)", abs(tg["Yes"] - 3 * p / (3 * p + 1 - p)) < 1e-12,
          f"{tg['Yes']:.4f}")
    c = ctx.ds("cps1988")
    tg = share_targets(c.train.ethnicity, *parse_shares("ethnicity=uniform", False)[1:])
    check("rebalance ethnicity=uniform targets", tg == {"afam": 0.5, "cauc": 0.5}, str(tg))
    tg = share_targets(t.train.female, *parse_shares("female=1:0.7", False)[1:])
    check("rebalance on a 0/1 column", abs(tg["1"] - 0.7) < 1e-12 and abs(tg["0"] - 0.3) < 1e-12, str(tg))
    hand = t.train.groupby("female").churn.apply(lambda s: (s == "Yes").mean())
    got = parity(t.train, "female", (t.train.churn == "Yes").to_numpy())["parity"]
    check("telco parity (female, churn=Yes) = hand", abs(got - (hand.max() - hand.min())) < 1e-12, f"{got:.4f}")
    med = c.train.wage.median()
    hand = c.train.groupby("ethnicity").wage.apply(lambda s: (s >= med).mean())
    got = parity(c.train, "ethnicity", condition_mask(c.train, parse_condition(f"wage>={med:.10g}"), "number"))["parity"]
    check("cps parity (ethnicity, wage>=median) = hand", abs(got - (hand.max() - hand.min())) < 1e-12, f"{got:.4f}")
    return checks


def self_test_results(results: dict) -> list[tuple[str, bool, str]]:
    """With resampled real rows as the samples, every part's figures must be (close to) perfect."""
    checks = []

    def check(name, ok, detail=""):
        checks.append((name, bool(ok), detail))

    for part in ("conditions", "rare"):
        for r in results.get(part, {}).get("rows", []):
            key = f"{part}: {r['dataset']} `{' '.join(r['where'])}`"
            if "conformance" not in r:
                check(key, False, r.get("error", "?"))
                continue
            check(f"{key}: conformance 100 %, {r['rows_out']} rows", r["conformance"] == 1.0 and r["rows_out"] == r["rows_asked"],
                  f"{r['conformance']}")
            # resampled from the very rows it is compared with: only the resampling noise of 10 000 rows
            check(f"{key}: mean TVD/KS ≈ 0", r["fidelity"]["mean"] <= 0.03,
                  f"{r['fidelity']['mean']:.4f} (noise floor {f3(r['noise_floor'], '.4f')})")
    for part in ("rebalance", "oversample"):
        for r in results.get(part, {}).get("rows", []):
            for v, g in r.get("groups", {}).items():
                check(f"{part}: {r['dataset']} {r['option']} {v}: share on target", abs(g["error_pp"]) <= 0.05,
                      f"{g['error_pp']:+.3f} pp")
                check(f"{part}: {r['dataset']} {r['option']} {v}: fidelity ≈ 0", g["fidelity"]["mean"] <= 0.03,
                      f"{g['fidelity']['mean']:.4f}")
            if "groups" not in r:
                check(f"{part}: {r['dataset']}", False, r.get("error", "?"))
    for r in results.get("fairness", {}).get("rows", []):
        key = f"fairness: {r['dataset']} {r['option']}"
        if not (r.get("plain") and r.get("fair")):
            check(key, False, "sample failed")
            continue
        check(f"{key}: plain parity ≈ real", abs(r["plain"]["parity"] - r["real"]["parity"]) <= 0.03,
              f"{r['plain']['parity']:.4f} vs {r['real']['parity']:.4f}")
        check(f"{key}: fair parity ≈ 0", r["fair"]["parity"] <= 0.002, f"{r['fair']['parity']:.4f}")
        for e in r.get("tstr", []):
            for label in ("plain", "fair"):
                ev = e.get(label) or {}
                if ev.get("skipped"):
                    continue
                u = ev.get("utility") or {}
                check(f"{key}: evaluate --target {e['target']} ({label}) ran", ev.get("ok") and u.get("tstr") is not None,
                      f"TSTR {f3(u.get('tstr'), '.4f')} TRTR {f3(u.get('trtr'), '.4f')} {u.get('note') or ''}"
                      if ev.get("ok") else first_line(ev.get("error", "?")))
    return checks


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def default_doppel() -> Path:
    return CACHE_DOPPEL if CACHE_DOPPEL.is_file() else REPO_DOPPEL


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--doppel", type=Path, default=default_doppel(), help="doppel binary (a private copy runs)")
    p.add_argument("--datasets-dir", type=Path, default=REPO_DIR.parent / "shared" / "datasets",
                   help="folder holding <name>/<name>.train.csv and .holdout.csv")
    p.add_argument("--rows", type=int, default=10_000, help="rows per sample")
    p.add_argument("--seed", type=int, default=0, help="seed of doppel fit and sample (and of the bootstrap)")
    p.add_argument("--engine", default="tree", help="doppel fit --engine")
    p.add_argument("--noise-reps", type=int, default=10, help="bootstrap resamples for the noise floor (0: none)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed per doppel process")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results", help="where the .md/.json go")
    p.add_argument("--suffix", default="", help="appended to the report name: control-DATE-SUFFIX.md")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary folder (models, samples, stderr)")
    p.add_argument("--self-test", action="store_true",
                   help="check the pandas side with resampled real rows as the samples (no doppel sample runs; "
                        "nothing written to --out-dir)")
    p.add_argument("--no-evaluate", action="store_true", help="--self-test: skip doppel evaluate even if a binary exists")
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.only.split(",") if x.strip()]
    args.parts = sorted(dict.fromkeys(args.parts), key=lambda x: PARTS.index(x) if x in PARTS else -1)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bad = [x for x in args.parts if x not in PARTS]
    if bad or not args.parts:
        print(f"error: unknown part(s) {', '.join(bad) or '(none given)'}; --only takes {', '.join(PARTS)}", file=sys.stderr)
        return 2
    if args.rows < 1:
        print("error: --rows must be at least 1", file=sys.stderr)
        return 2
    names = datasets_for(args.parts)
    if args.self_test:
        names = list(dict.fromkeys(names + list(CONDITIONS) + [RARE[0], "telco_churn", "cps1988"]))
    missing = [f"{n}/{n}.{s}.csv" for n in names for s in ("train", "holdout")
               if not (args.datasets_dir / n / f"{n}.{s}.csv").is_file()]
    if missing:
        print(f"error: missing under {args.datasets_dir.resolve()}: {', '.join(missing)}", file=sys.stderr)
        return 2
    source = args.doppel.resolve()
    have_binary = source.is_file() and os.access(source, os.X_OK)
    if not have_binary and not args.self_test:
        print(f"error: doppel binary not found at {source}\n       build it with `cargo build --release -p doppel-cli` "
              f"(or pass --doppel PATH)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="doppel-bench-control-"))
    log(f"work dir: {work}")
    doppel = None
    machine: dict = {}
    if have_binary:
        doppel = work / "doppel"  # the build folder is shared: run one private copy throughout
        shutil.copy2(source, doppel)
        st = source.stat()
        machine = machine_info(doppel)
        machine.update({
            "doppel_binary": str(source),
            "doppel_binary_mtime": dt.datetime.fromtimestamp(st.st_mtime).astimezone().isoformat(timespec="seconds"),
            "doppel_binary_sha256": hashlib.sha256(doppel.read_bytes()).hexdigest()[:16],
        })
        run_measured([str(doppel), "--version"], work, "warmup-doppel")
    else:
        machine = machine_info(None)
    log(f"machine: {machine.get('cpu_model')} | nproc {machine.get('nproc')} | load {machine.get('loadavg_at_start')}")

    runner = FakeRunner(args, doppel, work) if args.self_test else DoppelRunner(args, doppel, work)
    ctx = Context(args, runner, args.datasets_dir)
    checks: list[tuple[str, bool, str]] = []
    results: dict = {}
    try:
        if args.self_test:
            log("self-test: parser, evaluator, metrics, targets, parity")
            checks += self_test_units(ctx)
        for part in args.parts:
            log(f"part {part}")
            t0 = time.monotonic()
            results[part] = PART_FUNCS[part](ctx)
            log(f"part {part} done in {time.monotonic() - t0:.1f} s")
        if args.self_test:
            checks += self_test_results(results)
    finally:
        machine["loadavg_at_end"] = list(os.getloadavg())
        if args.keep_workdir:
            log(f"kept work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    cmd = " ".join([Path(sys.argv[0]).name] + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    md = build_markdown(ctx, results, machine, cmd, args.self_test)
    print(md)
    if args.self_test:
        n_fail = sum(not ok for _, ok, _ in checks)
        print("\n## Self-test checks\n")
        for name, ok, detail in checks:
            print(f"- {'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))
        print(f"\n{len(checks) - n_fail} of {len(checks)} checks passed")
        if ctx.failures:
            print("failures: " + "; ".join(ctx.failures))
        return 0 if n_fail == 0 and not ctx.failures else 1
    raw = clean({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "command": cmd,
                 "machine": machine, "bars": {"conformance": CONFORMANCE_BAR, "fidelity_mean": FIDELITY_BAR,
                                              "rare_seconds": RARE_SECONDS_BAR, "share_pp": SHARE_PP_BAR,
                                              "parity": PARITY_BAR},
                 "datasets": {n: {"train_csv": str(d.train_csv), "holdout_csv": str(d.holdout_csv),
                                  "rows": len(d.train), "column_kinds": d.kinds, "value_kinds": d.vkinds}
                              for n, d in ctx.datasets.items()},
                 "results": results, "failures": ctx.failures})
    stem = f"control-{dt.date.today().isoformat()}" + (f"-{args.suffix}" if args.suffix else "")
    md_path, json_path = write_report(args.out_dir, stem, md, raw)
    log(f"wrote {md_path} and {json_path}")
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
