#!/usr/bin/env python3
"""Benchmark doppel's `copula` engine against SDV's GaussianCopulaSynthesizer.

For every dataset (the `<name>.train.csv` split under --datasets-dir) both engines are fitted on the
same training table and asked for as many rows as it has (N). Measured per engine:

* doppel: `doppel fit` and `doppel sample` run as two child processes; wall time, CPU time and
  peak RSS of each come from os.wait4 (ru_maxrss is in KiB on Linux).
* SDV: one child Python process that reads the CSV, detects metadata, fits, samples and writes a
  CSV. fit() and sample() are timed inside it; the whole process (interpreter start, imports and
  I/O included) is timed and its peak RSS taken from os.wait4 like doppel's.
* Fidelity of both outputs against the train CSV: mean two-sample KS statistic over numeric (and
  date/datetime) columns, mean total-variation distance over categorical columns, and the largest
  absolute missing-rate difference in percentage points.

Optionally (--big-sample, cps1988 only) doppel samples a large Parquet file with 2 threads.

Results: a markdown table on stdout, and <out-dir>/copula-YYYY-MM-DD.md / .json with all raw numbers.
Progress goes to stderr. Run with the benchmark's venv (see bench/README.md):

    bash bench/setup.sh && bench/.venv/bin/python bench/bench_copula.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_DATASETS = ["cps1988", "telco_churn", "credit_default", "flchain", "covid_testing"]
BIG_SAMPLE_DATASET = "cps1988"

# Fidelity column rules (see classify_columns).
TEXT_DISTINCT_FRACTION = 0.5  # string columns with more distinct values than this are free text
ID_DISTINCT_FRACTION = 0.95  # integer/string columns at least this distinct are ids
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

# The SDV side, run as `python -c SDV_CHILD TRAIN_CSV OUT_CSV N SEED RESULT_JSON` in its own process
# so that its peak RSS is its own. Works with SDV 1.x (single-table API) and 2.x (dict API).
SDV_CHILD = r"""
import json, random, sys, time, warnings
t_start = time.perf_counter()
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
import sdv
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
t_imported = time.perf_counter()

train_csv, out_csv, n_rows, seed, result_json = sys.argv[1:6]
n_rows, seed = int(n_rows), int(seed)
random.seed(seed)
np.random.seed(seed)  # SDV also fixes its own sampling seed, so output is reproducible

df = pd.read_csv(train_csv)
t_read = time.perf_counter()
if hasattr(Metadata, "detect_from_dataframe"):  # SDV 1.x
    metadata = Metadata.detect_from_dataframe(df, table_name="table")
    fit_arg = df
else:  # SDV 2.x: tables are always passed as {name: DataFrame}
    metadata = Metadata.detect_from_dataframes({"table": df})
    fit_arg = {"table": df}
t_detected = time.perf_counter()

synth = GaussianCopulaSynthesizer(metadata)
t0 = time.perf_counter()
synth.fit(fit_arg)
fit_s = time.perf_counter() - t0
t0 = time.perf_counter()
out = synth.sample(n_rows)
sample_s = time.perf_counter() - t0
if isinstance(out, dict):
    out = out["table"]
t0 = time.perf_counter()
out.to_csv(out_csv, index=False)
write_s = time.perf_counter() - t0

columns = metadata.to_dict()["tables"]["table"]["columns"]
with open(result_json, "w") as f:
    json.dump({
        "sdv_version": sdv.__version__,
        "import_s": t_imported - t_start,
        "read_s": t_read - t_imported,
        "detect_s": t_detected - t_read,
        "fit_s": fit_s,
        "sample_s": sample_s,
        "write_s": write_s,
        "rows_out": int(len(out)),
        "sdtypes": {name: col.get("sdtype") for name, col in columns.items()},
    }, f)
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Process measurement
# ----------------------------------------------------------------------------------------------


def run_measured(cmd: list[str], workdir: Path, tag: str, env: dict | None = None,
                 timeout: float | None = None) -> dict:
    """Run `cmd` to completion; return wall/CPU seconds, peak RSS and exit status.

    The child's resource usage comes from os.wait4, so it covers exactly that process (plus any
    children it reaped itself). stdout/stderr go to files in `workdir` (no pipe to deadlock on).

    Peak RSS: a child forked from this (large) Python process inherits its high-water mark until
    it execs, so ru_maxrss alone overstates small children. When GNU time is available the
    command runs under `/usr/bin/time -f %M`, which forks from a tiny process, and its figure is
    used instead.
    """
    out_path, err_path = workdir / f"{tag}.stdout", workdir / f"{tag}.stderr"
    rss_path = workdir / f"{tag}.maxrss"
    if os.path.exists("/usr/bin/time"):
        cmd_run = ["/usr/bin/time", "-f", "%M", "-o", str(rss_path)] + list(cmd)
    else:
        cmd_run = list(cmd)
    timed_out = False
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd_run, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                                    env=env, cwd=workdir, start_new_session=True)
        except OSError as e:
            return {"cmd": cmd, "ok": False, "error": f"could not start: {e}"}

        def kill() -> None:
            nonlocal timed_out
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
    exit_code = os.waitstatus_to_exitcode(status)
    proc.returncode = exit_code  # reaped by wait4; keep Popen from waiting again

    peak_kib = ru.ru_maxrss
    try:
        peak_kib = int(rss_path.read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    res = {
        "cmd": cmd,
        "ok": exit_code == 0 and not timed_out,
        "exit_code": exit_code,
        "wall_s": wall,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "peak_rss_kib": peak_kib,
        "peak_rss_mib": peak_kib / 1024.0,
    }
    if not res["ok"]:
        tail = err_path.read_text(errors="replace")[-2000:].strip()
        reason = f"timed out after {timeout:g} s" if timed_out else f"exit code {exit_code}"
        res["error"] = f"{reason}: {tail}" if tail else reason
    return res


# ----------------------------------------------------------------------------------------------
# Fidelity
# ----------------------------------------------------------------------------------------------


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV the way the datasets are written: only an empty field means missing."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)


def _is_whole(values: pd.Series) -> bool:
    v = values.dropna()
    return bool(len(v)) and bool(np.all(np.mod(v.to_numpy(dtype=float), 1.0) == 0))


def _parse_dates(s: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")


def classify_columns(train: pd.DataFrame) -> dict[str, str]:
    """Decide how each train column is scored.

    numeric      int/float columns (KS), unless categorical below
    datetime     text columns whose values all look like ISO dates and parse (KS on the instant)
    categorical  object/bool columns, and whole-number columns with <= 2 distinct values (TVD;
                 missing counts as its own category)
    skip:id      integer/text columns whose non-missing values are (nearly) unique per row
    skip:text    other text columns with more than 50% distinct values
    skip:empty   columns with no values at all
    """
    kinds = {}
    for col in train.columns:
        s = train[col]
        nn = s.dropna()
        n, distinct = len(nn), nn.nunique()
        if n == 0:
            kinds[col] = "skip:empty"
        elif pd.api.types.is_bool_dtype(s):
            kinds[col] = "categorical"
        elif pd.api.types.is_numeric_dtype(s):
            whole = _is_whole(s)
            if whole and distinct <= 2:
                kinds[col] = "categorical"
            elif whole and n > 1 and distinct >= ID_DISTINCT_FRACTION * n:
                kinds[col] = "skip:id"
            else:
                kinds[col] = "numeric"
        else:
            text = nn.astype(str)
            head = text.head(200)
            if head.map(lambda v: bool(DATE_RE.match(v))).all() and _parse_dates(text).notna().mean() > 0.99:
                kinds[col] = "datetime"
            elif n > 1 and distinct >= ID_DISTINCT_FRACTION * n:
                kinds[col] = "skip:id"
            elif distinct > TEXT_DISTINCT_FRACTION * n:
                kinds[col] = "skip:text"
            else:
                kinds[col] = "categorical"
    return kinds


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: sup |F_a(x) - F_b(x)|."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _as_numbers(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        d = _parse_dates(s.astype("string"))
        return d.dropna().astype("int64").to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)


def _canonical(s: pd.Series) -> pd.Series:
    """Category labels comparable across CSV writers: 1.0 == 1, True == 'True', missing own label."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return "\x00<missing>"
        if isinstance(v, (bool, np.bool_)):
            return "True" if v else "False"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        text = str(v)
        return {"true": "True", "false": "False"}.get(text.lower(), text)
    return s.astype(object).map(one)


def tvd(a: pd.Series, b: pd.Series) -> float:
    p = _canonical(a).value_counts(normalize=True)
    q = _canonical(b).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(p - q).sum())


def fidelity(train: pd.DataFrame, kinds: dict[str, str], synth_path: Path) -> dict:
    synth = read_csv(synth_path)
    per_col, ks, tv, miss = {}, [], [], []
    absent = [c for c in train.columns if c not in synth.columns]
    for col, kind in kinds.items():
        train_miss = float(train[col].isna().mean() * 100)
        if col in absent:
            entry = {"kind": kind, "absent": True, "missing_pp_diff": 100.0 - train_miss}
            if kind in ("numeric", "datetime"):
                entry["ks"] = 1.0
                ks.append(1.0)
            elif kind == "categorical":
                entry["tvd"] = 1.0
                tv.append(1.0)
            miss.append(entry["missing_pp_diff"])
            per_col[col] = entry
            continue
        synth_miss = float(synth[col].isna().mean() * 100)
        entry = {"kind": kind, "missing_pct_train": train_miss, "missing_pct_synth": synth_miss,
                 "missing_pp_diff": abs(synth_miss - train_miss)}
        miss.append(entry["missing_pp_diff"])
        if kind in ("numeric", "datetime"):
            a, b = _as_numbers(train[col], kind), _as_numbers(synth[col], kind)
            entry["ks"] = ks_statistic(a, b) if len(a) and len(b) else 1.0
            ks.append(entry["ks"])
        elif kind == "categorical":
            entry["tvd"] = tvd(train[col], synth[col])
            tv.append(entry["tvd"])
        per_col[col] = entry
    return {
        "rows_out": int(len(synth)),
        "mean_ks": float(np.mean(ks)) if ks else None,
        "mean_tvd": float(np.mean(tv)) if tv else None,
        "max_missing_pp_diff": float(np.max(miss)) if miss else None,
        "n_ks_columns": len(ks),
        "n_tvd_columns": len(tv),
        "absent_columns": absent,
        "extra_columns": [c for c in synth.columns if c not in train.columns],
        "columns": per_col,
    }


# ----------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------


def run_doppel(doppel: Path, train_csv: Path, n: int, work: Path, seed: int, timeout: float) -> dict:
    model, out = work / "doppel.model", work / "doppel.csv"
    res = {"model_path": str(model), "out_path": str(out)}
    log(f"  doppel fit ({train_csv.name})")
    res["fit"] = run_measured([str(doppel), "fit", str(train_csv), "-o", str(model), "--engine", "copula",
                               "--seed", str(seed), "--quiet"], work, "doppel-fit", timeout=timeout)
    if not res["fit"]["ok"]:
        res["error"] = "fit: " + res["fit"]["error"]
        return res
    log(f"  doppel sample -n {n}")
    res["sample"] = run_measured([str(doppel), "sample", str(model), "-n", str(n), "-o", str(out),
                                  "--seed", str(seed), "--quiet", "--force"], work, "doppel-sample",
                                 timeout=timeout)
    if not res["sample"]["ok"]:
        res["error"] = "sample: " + res["sample"]["error"]
        return res
    if not out.is_file():
        res["error"] = f"sample: exited 0 but wrote no {out.name}"
        return res
    f, s = res["fit"], res["sample"]
    res.update({
        "ok": True,
        "fit_s": f["wall_s"],
        "sample_s": s["wall_s"],
        "total_s": f["wall_s"] + s["wall_s"],  # in doppel's case the processes are the whole story
        "process_s": f["wall_s"] + s["wall_s"],
        "cpu_s": f["cpu_s"] + s["cpu_s"],
        "peak_rss_mib": max(f["peak_rss_mib"], s["peak_rss_mib"]),
        "sample_rows_per_s": n / s["wall_s"] if s["wall_s"] > 0 else None,
    })
    return res


def run_sdv(python: str, train_csv: Path, n: int, work: Path, seed: int, timeout: float) -> dict:
    out, result_json = work / "sdv.csv", work / "sdv-result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED=str(seed))
    log(f"  SDV GaussianCopulaSynthesizer fit+sample -n {n}")
    proc = run_measured([python, "-c", SDV_CHILD, str(train_csv), str(out), str(n), str(seed),
                         str(result_json)], work, "sdv", env=env, timeout=timeout)
    res = {"process": proc, "out_path": str(out)}
    if not proc["ok"]:
        res["error"] = proc["error"]
        return res
    inner = json.loads(result_json.read_text())
    res.update(inner)
    res.update({
        "ok": True,
        "total_s": inner["fit_s"] + inner["sample_s"],
        "process_s": proc["wall_s"],
        "cpu_s": proc["cpu_s"],
        "peak_rss_mib": proc["peak_rss_mib"],
        "sample_rows_per_s": n / inner["sample_s"] if inner["sample_s"] > 0 else None,
    })
    return res


def run_big_sample(doppel: Path, model: Path, rows: int, work: Path, seed: int, timeout: float) -> dict:
    out = work / "big.parquet"
    log(f"big sample: doppel sample -n {rows} -> parquet, 2 threads")
    proc = run_measured([str(doppel), "sample", str(model), "-n", str(rows), "-o", str(out), "--threads", "2",
                         "--seed", str(seed), "--quiet", "--force"], work, "doppel-big", timeout=timeout)
    res = {"dataset": BIG_SAMPLE_DATASET, "rows": rows, "process": proc}
    if not proc["ok"]:
        res["error"] = proc["error"]
    elif not out.is_file():
        res["error"] = f"exited 0 but wrote no {out.name}"
    else:
        res.update({
            "ok": True,
            "wall_s": proc["wall_s"],
            "cpu_s": proc["cpu_s"],
            "rows_per_s": rows / proc["wall_s"],
            "peak_rss_mib": proc["peak_rss_mib"],
            "file_mib": out.stat().st_size / 2**20,
        })
    out.unlink(missing_ok=True)
    return res


# ----------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------


def warm_up(doppel: Path | None, sdv_python: str | None, work: Path) -> None:
    """Untimed first runs, so that the first dataset does not pay for cold disk caches
    (SDV's ~1,000 modules, the doppel binary)."""
    if sdv_python:
        log("warm-up: importing sdv once (untimed)")
        run_measured([sdv_python, "-c", "import sdv.single_table, sdv.metadata"], work, "warmup-sdv")
    if doppel:
        run_measured([str(doppel), "--version"], work, "warmup-doppel")


def machine_info(doppel: Path | None) -> dict:
    def cmd_out(cmd: list[str]) -> str | None:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    cpu_model, mem_total = None, None
    try:
        cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                          if line.startswith("model name")), None)
        mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem_total = round(mem_kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "uname": cmd_out(["uname", "-a"]) or " ".join(platform.uname()),
        "nproc": cmd_out(["nproc"]),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_gib": mem_total,
        "loadavg_at_start": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "doppel_version": cmd_out([str(doppel), "--version"]) if doppel else None,
        "repo_commit": cmd_out(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"]),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                           "MKL_NUM_THREADS", "RAYON_NUM_THREADS") if k in os.environ},
    }


def fmt(v, spec: str = ".2f", suffix: str = "") -> str:
    return "—" if v is None else f"{v:{spec}}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


def markdown_table(results: list[dict], big: dict | None) -> str:
    head = ("| dataset | N | engine | fit s | sample s | fit+sample s | whole process s | CPU s | "
            "sample rows/s | peak RSS MiB | mean KS | mean TVD | max Δmiss pp |")
    lines = [head, "|" + "---|" * 3 + "---:|" * 10]
    for r in results:
        ds, n = r["dataset"], r["rows"]
        for name, e in (("doppel", r.get("doppel")), ("SDV", r.get("sdv"))):
            if e is None:
                continue
            if not e.get("ok"):
                err = e.get("error", "failed").splitlines()[0][:80].replace("|", "/")
                lines.append(f"| {ds} | {n} | {name} | failed: {err} |" + " |" * 9)
                continue
            fid = e.get("fidelity", {})
            peak = (f"{e['fit']['peak_rss_mib']:.1f} / {e['sample']['peak_rss_mib']:.1f}" if name == "doppel"
                    else f"{e['peak_rss_mib']:.1f}")
            lines.append(
                f"| {ds} | {n} | {name} | {fmt(e['fit_s'], '.3f')} | {fmt(e['sample_s'], '.3f')} | "
                f"{fmt(e['total_s'], '.3f')} | {fmt(e['process_s'], '.3f')} | {fmt(e['cpu_s'], '.2f')} | "
                f"{fmt(e['sample_rows_per_s'], ',.0f')} | {peak} | {fmt(fid.get('mean_ks'), '.4f')} | "
                f"{fmt(fid.get('mean_tvd'), '.4f')} | {fmt(fid.get('max_missing_pp_diff'), '.2f')} |")
        rt = r.get("ratios")
        if rt:
            x = lambda v: fmt(v, ".1f", "×")  # noqa: E731
            lines.append(f"| {ds} | | **SDV / doppel** | {x(rt['fit'])} | {x(rt['sample'])} | "
                         f"{x(rt['in_process'])} | {x(rt['whole_process'])} | {x(rt['cpu'])} | | "
                         f"{x(rt['peak_rss'])} | | | |")
    if big:
        desc = f"{BIG_SAMPLE_DATASET} big sample → parquet, 2 threads"
        if big.get("ok"):
            lines.append(f"| {desc} | {big['rows']:,} | doppel | | {big['wall_s']:.3f} | | {big['wall_s']:.3f} | "
                         f"{big['cpu_s']:.2f} | {big['rows_per_s']:,.0f} | {big['peak_rss_mib']:.1f} | | | |")
        else:
            err = big.get("error", "failed").splitlines()[0][:80].replace("|", "/")
            lines.append(f"| {desc} | {big['rows']:,} | doppel | failed: {err} |" + " |" * 9)
    return "\n".join(lines)


NOTES = """\
- One run per number, on a shared machine: expect noise of ±10-20 % on small timings. Both engines run
  back to back per dataset, so the ratios in one report are comparable; absolute numbers across reports less so.
- doppel: *fit s* / *sample s* are the wall times of the two `doppel` processes (CSV/model I/O included);
  peak RSS is shown as fit / sample process. SDV: *fit s* / *sample s* are `fit()` / `sample()` inside the
  process; *whole process s* adds interpreter start, imports, CSV read, metadata detection and CSV write.
- Ratios are SDV / doppel: *fit+sample* = SDV in-process fit+sample over doppel's two processes;
  *whole process* = SDV's process over doppel's two processes; peak RSS uses doppel's larger process.
- SDV runs with OMP_NUM_THREADS=1 and the metadata it auto-detects (ids and PII-like columns are regenerated,
  not modelled; see `sdtypes` in the JSON). Sample rows/s = N / sample time.
- Fidelity vs the train CSV: KS over numeric/date columns, TVD over categorical columns (missing = own
  category), max |missing-rate difference| in percentage points over all columns; id-like and free-text
  columns are skipped (column kinds and per-column scores are in the JSON)."""


MODELLED_SDTYPES = {"numerical", "categorical", "ordinal", "boolean", "datetime"}


def sdv_regenerated_note(results: list[dict]) -> str:
    """One note line per dataset listing columns SDV's detected metadata does not model
    (ids, PII such as names: SDV makes up fresh values for those, which costs it KS/TVD)."""
    parts = []
    for r in results:
        sdtypes = r.get("sdv", {}).get("sdtypes") or {}
        odd = [f"`{c}` ({t})" for c, t in sdtypes.items() if t not in MODELLED_SDTYPES]
        if odd:
            parts.append(f"{r['dataset']}: {', '.join(odd)}")
    if not parts:
        return ""
    return ("\n- Columns SDV's auto-detected metadata regenerates instead of modelling (they still count in "
            "the fidelity numbers when not skipped as id/text): " + "; ".join(parts) + ".")


def write_report(out_dir: Path, stem: str, md: str, raw: dict) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    for path, text in ((md_path, md), (json_path, json.dumps(raw, indent=2, default=str) + "\n")):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return md_path, json_path


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                   help="comma-separated dataset names")
    p.add_argument("--datasets-dir", type=Path, default=REPO_DIR.parent / "shared" / "datasets",
                   help="folder holding <name>/<name>.train.csv")
    p.add_argument("--doppel", type=Path, default=REPO_DIR / "target" / "release" / "doppel",
                   help="doppel binary")
    p.add_argument("--only", choices=["doppel", "sdv"], help="run just one engine")
    p.add_argument("--big-sample", type=int, default=10_000_000, metavar="ROWS",
                   help=f"rows for the extra doppel parquet sample of {BIG_SAMPLE_DATASET} (0 = skip)")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results", help="where the .md/.json go")
    p.add_argument("--seed", type=int, default=1, help="seed for both engines")
    p.add_argument("--sdv-python", default=sys.executable, help="interpreter with sdv installed")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per child process")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary model/output folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    run_doppel_side, run_sdv_side = args.only in (None, "doppel"), args.only in (None, "sdv")

    doppel = args.doppel.resolve()
    if run_doppel_side and not (doppel.is_file() and os.access(doppel, os.X_OK)):
        print(f"error: doppel binary not found at {doppel}\n"
              f"       build it with `cargo build --release` (or pass --doppel PATH, or --only sdv)",
              file=sys.stderr)
        return 2
    missing = [n for n in names if not (args.datasets_dir / n / f"{n}.train.csv").is_file()]
    if missing:
        print(f"error: no train split for {', '.join(missing)} under {args.datasets_dir.resolve()}\n"
              f"       (expected <name>/<name>.train.csv; see --datasets-dir)", file=sys.stderr)
        return 2

    machine = machine_info(doppel if run_doppel_side else None)
    log(f"machine: {machine['uname']} | nproc {machine['nproc']} | load {machine['loadavg_at_start']}")
    work = Path(tempfile.mkdtemp(prefix="doppel-bench-"))
    log(f"work dir: {work}")
    results, big = [], None
    try:
        warm_up(doppel if run_doppel_side else None, args.sdv_python if run_sdv_side else None, work)
        big_model = None
        for name in names:
            train_csv = (args.datasets_dir / name / f"{name}.train.csv").resolve()
            train = read_csv(train_csv)  # also warms the page cache for both engines
            kinds = classify_columns(train)
            n = len(train)
            log(f"{name}: {n} rows x {train.shape[1]} columns")
            ds_work = work / name
            ds_work.mkdir()
            r = {"dataset": name, "rows": n, "columns": int(train.shape[1]), "train_csv": str(train_csv),
                 "column_kinds": kinds}
            engines = []
            if run_doppel_side:
                engines.append(("doppel", run_doppel, doppel))
            if run_sdv_side:
                engines.append(("sdv", run_sdv, args.sdv_python))
            for side, runner, exe in engines:
                e = runner(exe, train_csv, n, ds_work, args.seed, args.timeout)
                if e.get("ok"):
                    try:
                        e["fidelity"] = fidelity(train, kinds, Path(e["out_path"]))
                    except Exception as ex:  # a malformed output must not abort the run
                        e["fidelity"] = {"error": f"{type(ex).__name__}: {ex}"}
                    if e["fidelity"].get("rows_out") not in (None, n):
                        log(f"  warning: {side} wrote {e['fidelity']['rows_out']} rows, asked for {n}")
                    Path(e["out_path"]).unlink(missing_ok=True)
                else:
                    log(f"  {side} failed: {e.get('error', '?').splitlines()[0]}")
                r[side] = e
            d, s = r.get("doppel"), r.get("sdv")
            if d and s and d.get("ok") and s.get("ok"):
                r["ratios"] = {
                    "fit": ratio(s["fit_s"], d["fit_s"]),
                    "sample": ratio(s["sample_s"], d["sample_s"]),
                    "in_process": ratio(s["total_s"], d["total_s"]),
                    "whole_process": ratio(s["process_s"], d["process_s"]),
                    "cpu": ratio(s["cpu_s"], d["cpu_s"]),
                    "peak_rss": ratio(s["peak_rss_mib"], d["peak_rss_mib"]),
                }
            if name == BIG_SAMPLE_DATASET and d and d.get("ok"):
                big_model = Path(d["model_path"])
            results.append(r)

        if args.big_sample > 0 and run_doppel_side:
            if big_model is not None:
                big = run_big_sample(doppel, big_model, args.big_sample, work, args.seed, args.timeout)
            else:
                log(f"big sample skipped: no fitted {BIG_SAMPLE_DATASET} model in this run")
    finally:
        if args.keep_workdir:
            log(f"kept work dir {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(results, big)
    print(table)

    day = dt.date.today().isoformat()
    stem = f"copula-{day}" + (f"-{args.only}-only" if args.only else "")
    sdv_version = next((r["sdv"].get("sdv_version") for r in results if r.get("sdv", {}).get("ok")), None)
    header = (f"# doppel `copula` vs SDV GaussianCopulaSynthesizer — {day}\n\n"
              f"- machine: `{machine['uname']}`; nproc {machine['nproc']}; CPU {machine['cpu_model']}; "
              f"{machine['mem_total_gib']} GiB RAM; load average at start "
              f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}\n"
              f"- doppel: {machine['doppel_version'] or '—'} (commit {machine['repo_commit'] or '—'}); "
              f"SDV {sdv_version or '—'}; Python {machine['python']}\n"
              f"- command: `{' '.join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))}`"
              f"; seed {args.seed}\n")
    md = f"{header}\n{table}\n\nNotes:\n\n{NOTES}{sdv_regenerated_note(results)}\n"
    raw = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "machine": machine, "results": results, "big_sample": big}
    md_path, json_path = write_report(args.out_dir, stem, md, raw)
    log(f"wrote {md_path} and {json_path}")
    failed = [f"{r['dataset']}/{side}" for r in results for side in ("doppel", "sdv")
              if side in r and not r[side].get("ok")]
    if big is not None and not big.get("ok"):
        failed.append("big-sample")
    if failed:
        log(f"failures: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
