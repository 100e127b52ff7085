#!/usr/bin/env python3
"""Time `doppel chat` against a local OpenAI-compatible server, and check resuming after a kill.

Needs only the Python 3 standard library, a built doppel (`cargo build --release -p doppel-cli`)
and the test server (`scripts/llm-server.sh start`: llama.cpp's llama-server with
SmolLM2-135M-Instruct on the CPU; started by this script when --base-url is not given and none
answers).

Steps, one after the other, all with `--seed 1 --model smollm2 --backend http --quiet`:

1. `doppel chat --spec SPEC -n N8 --concurrency 8 -o c8.jsonl`;
2. `doppel chat --spec SPEC -n N1 --concurrency 1 -o c1.jsonl` (the first N1 dialogue indices of
   the same seed, i.e. the same kind of work as step 1);
3. the kill check: `doppel chat --spec SPEC -n NKILL --concurrency 8 -o kill.jsonl` is killed
   (SIGKILL) once it has written NKILL/2 records, then the same command runs again; the output must
   hold exactly NKILL records with NKILL distinct `metadata.index`es and NKILL distinct conversations;
4. `doppel chat-report kill.jsonl --spec SPEC -o report.json` (distinct-n, scenario coverage as total
   variation from the spec's weights, near-duplicates, judge scores if the spec has a judge).

Per run: wall time of the process, and from its manifest (`<out>.manifest.json`) the records
written, dialogues dropped (and why), requests, prompt and completion tokens and tokens/s
(completion tokens / generation seconds). Dialogues/min = records written / wall minutes.

`--max-tokens T` / `--max-turns K` run a copy of the spec with `[sampling] max_tokens` /
`[conversation] max_turns` changed (the unchanged HR-coaching spec asks SmolLM2 for up to 12 turns of
up to 220 tokens, about 2000 completion tokens per dialogue, which a 2-core machine serves at a few
dialogues per minute). The report says which spec ran.

The doppel binary is copied into the work folder first (the build folder may be rebuilt meanwhile).
Results: markdown on stdout and <out-dir>/chat-YYYY-MM-DD.md / .json. Progress goes to stderr.
Exit status 0 when every step ran and the kill check passed, 1 otherwise, 2 for bad setup.

    python3 bench/bench_chat.py --n8 200 --n1 40 --n-kill 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def default_doppel() -> Path:
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release/doppel")
    candidates += [Path.home() / ".cache/doppel/target/release/doppel", REPO / "target/release/doppel"]
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]


def machine_info() -> dict:
    info = {"uname": " ".join(platform.uname()), "nproc": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_total_kib"] = int(line.split()[1])
                break
    except OSError:
        pass
    return info


def server_info(base_url: str) -> dict:
    root = base_url.rstrip("/").removesuffix("/v1")
    info: dict = {"base_url": base_url}
    for name, url in [("models", base_url.rstrip("/") + "/models"), ("props", root + "/props")]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                data = json.load(response)
        except (OSError, ValueError) as error:
            info[name] = f"unavailable: {error}"
            continue
        if name == "props":
            settings = data.get("default_generation_settings", {})
            info["props"] = {
                "total_slots": data.get("total_slots"),
                "n_ctx_per_slot": settings.get("n_ctx"),
                "model_path": data.get("model_path"),
                "build_info": data.get("build_info"),
            }
        else:
            info["models"] = [m.get("id") for m in data.get("data", [])]
    info["settings_env"] = {k: v for k, v in os.environ.items() if k.startswith("DOPPEL_LLM_")}
    return info


def healthy(base_url: str) -> bool:
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(root + "/health", timeout=3) as response:
            return b'"ok"' in response.read()
    except OSError:
        return False


def chat_command(doppel: Path, spec: Path, out: Path, n: int, concurrency: int, base_url: str) -> list[str]:
    return [
        str(doppel), "chat", "--spec", str(spec), "-n", str(n), "--concurrency", str(concurrency),
        "--backend", "http", "--base-url", base_url, "--model", "smollm2", "--seed", "1", "-o", str(out), "--quiet",
    ]  # fmt: skip


def read_records(path: Path) -> list[dict]:
    records = []
    if not path.exists():
        return records
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode().splitlines():
        records.append(json.loads(line))
    return records


def complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def manifest_numbers(out: Path) -> dict:
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    summary = manifest["summary"]
    keys = ["requested", "resumed", "written", "dialogues", "dropped", "dropped_by_reason", "attempts", "requests",
            "prompt_tokens", "completion_tokens", "seconds", "tokens_per_second"]  # fmt: skip
    numbers = {k: summary.get(k) for k in keys}
    numbers["timings"] = manifest.get("timings")
    return numbers


def run_chat(command: list[str], out: Path, timeout: float) -> dict:
    log("running " + " ".join(command[1:]))
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"exit {result.returncode}: {result.stderr.strip()}")
    numbers = manifest_numbers(out)
    numbers["wall_seconds"] = wall
    numbers["dialogues_per_minute"] = numbers["written"] / (wall / 60) if wall > 0 else None
    log(
        f"  {numbers['written']} records in {wall:.1f}s ({numbers['dialogues_per_minute']:.2f}/min), "
        f"dropped {numbers['dropped']}, {numbers['completion_tokens']} completion tokens, "
        f"{numbers['tokens_per_second']:.1f} tokens/s"
    )
    return numbers


def kill_check(command: list[str], out: Path, n: int, timeout: float) -> dict:
    half = n // 2
    log(f"kill check: running to n={n}, killing at {half} records")
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while complete_lines(out) < half:
        if child.poll() is not None:
            raise RuntimeError(f"the run ended (exit {child.returncode}) before {half} records: {child.stderr.read()}")
        if time.perf_counter() - started > timeout:
            child.kill()
            raise RuntimeError(f"fewer than {half} records after {timeout}s")
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    first_wall = time.perf_counter() - started
    at_kill = complete_lines(out)
    partial = out.read_bytes()[-1:] != b"\n"
    log(f"  killed after {first_wall:.1f}s with {at_kill} complete records (partial last line: {partial})")
    restart = run_chat(command, out, timeout)
    records = read_records(out)
    indices = [r["metadata"]["index"] for r in records]
    conversations = {json.dumps(r["messages"], sort_keys=True) for r in records}
    gaps = sorted(set(range(max(indices) + 1)) - set(indices)) if indices else []
    ok = len(records) == n and len(set(indices)) == n and len(conversations) == n and indices == sorted(indices)
    result = {
        "n": n,
        "killed_at_records": at_kill,
        "partial_line_at_kill": partial,
        "first_run_wall_seconds": first_wall,
        "restart": restart,
        "records": len(records),
        "distinct_indices": len(set(indices)),
        "distinct_conversations": len(conversations),
        "indices_in_order": indices == sorted(indices),
        "max_index": max(indices) if indices else None,
        "index_gaps": gaps,
        "resume_dropped": restart["dropped"],
        "passed": ok,
    }
    log(f"  after restart: {len(records)} records, {len(set(indices))} distinct indices, "
        f"{len(conversations)} distinct conversations, gaps {gaps} -> {'PASS' if ok else 'FAIL'}")  # fmt: skip
    return result


def report_numbers(doppel: Path, records: Path, spec: Path, out: Path, timeout: float) -> dict:
    command = [str(doppel), "chat-report", str(records), "--spec", str(spec), "-o", str(out), "--quiet", "--force"]
    log("running " + " ".join(command[1:]))
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)
    report = json.loads(out.read_text())
    diversity = report.get("diversity", {})
    nd = report.get("near_duplicates", {})
    scenarios = report.get("scenarios", {})
    return {
        "dialogues": report.get("dialogues"),
        "turns": report.get("turns"),
        "distinct_1": diversity.get("all", {}).get("distinct_1"),
        "distinct_2": diversity.get("all", {}).get("distinct_2"),
        "distinct_3": diversity.get("all", {}).get("distinct_3"),
        "distinct_2_by_role": {k: v.get("distinct_2") for k, v in diversity.get("by_role", {}).items()},
        "self_similarity": diversity.get("self_similarity"),
        "scenario_total_variation": scenarios.get("total_variation"),
        "scenario_rows": scenarios.get("rows"),
        "near_duplicates": {k: nd.get(k) for k in ["threshold", "pairs", "exact_pairs", "removable", "removable_share"]},
        "turns_per_dialogue": report.get("turns_per_dialogue"),
        "words_per_turn": report.get("words_per_turn"),
        "judge": report.get("judge"),
        "warnings": report.get("warnings"),
    }


def derived_spec(spec: Path, workdir: Path, max_tokens: int | None, max_turns: int | None) -> tuple[Path, list[str]]:
    if max_tokens is None and max_turns is None:
        return spec, []
    text = spec.read_text()
    changes = []
    lines = text.splitlines(keepends=True)
    section = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if section == "[sampling]" and key == "max_tokens" and max_tokens is not None:
            lines[i] = f"max_tokens = {max_tokens}\n"
            changes.append(f"[sampling] {stripped} -> max_tokens = {max_tokens}")
        if section == "[conversation]" and key == "max_turns" and max_turns is not None:
            lines[i] = f"max_turns = {max_turns}\n"
            changes.append(f"[conversation] {stripped} -> max_turns = {max_turns}")
    wanted = (max_tokens is not None) + (max_turns is not None)
    if len(changes) != wanted:
        raise SystemExit(f"error: could not find max_tokens / max_turns to change in {spec}")
    out = workdir / f"{spec.stem}-bench.toml"
    out.write_text("".join(lines))
    return out, changes


def fmt(value, digits=2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(res: dict) -> str:
    m, s = res["machine"], res["server"]
    out = [f"# doppel chat against llama-server (SmolLM2-135M-Instruct Q4_1), {res['date']}", ""]
    out.append(f"Machine: {m.get('cpu_model', '?')}, {m['nproc']} cores, {m.get('mem_total_kib', 0) // 1024} MiB; "
               f"`{m['uname']}`. Load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}, "
               f"at the end {', '.join(f'{x:.2f}' for x in res['loadavg_at_end'])} (the machine was shared).")  # fmt: skip
    props = s.get("props", {}) if isinstance(s.get("props"), dict) else {}
    out.append(f"Server: {s['base_url']}, {props.get('total_slots', '?')} slots x {props.get('n_ctx_per_slot', '?')} "
               f"context, build {props.get('build_info', '?')}, settings {s.get('settings_env') or 'defaults'} "
               "(scripts/llm-server.sh: 2 threads unless DOPPEL_LLM_THREADS).")  # fmt: skip
    out.append(f"doppel: {res['doppel']['path']} (sha256 {res['doppel']['sha256'][:12]}).")
    spec = res["spec"]
    out.append(f"Spec: {spec['source']}" + (f", run as a copy with {'; '.join(spec['changes'])}" if spec["changes"] else ", unchanged") + ".")
    out.append(f"Command: `{res['command_line']}`")
    out += ["", "## Throughput", "", "| run | n | records | dropped | wall s | dialogues/min | requests | completion tokens | tokens/s (manifest) |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ["concurrency_8", "concurrency_1"]:
        r = res["runs"].get(name)
        if not r:
            continue
        if "error" in r:
            out.append(f"| {name} | {r.get('n')} | failed: {r['error']} |||||||")
            continue
        out.append(f"| {name} | {r['requested']} | {r['written']} | {r['dropped']} {r['dropped_by_reason'] or ''} | "
                   f"{r['wall_seconds']:.1f} | {r['dialogues_per_minute']:.2f} | {r['requests']} | {r['completion_tokens']} | "
                   f"{r['tokens_per_second']:.1f} |")  # fmt: skip
    ratio = res.get("ratio_8_vs_1")
    if ratio:
        out += ["", f"Throughput ratio concurrency 8 / 1: dialogues/min x{fmt(ratio['dialogues_per_minute'])}, "
                    f"tokens/s x{fmt(ratio['tokens_per_second'])} (different n: the two runs cover different numbers of dialogues)."]  # fmt: skip
    k = res.get("kill_check")
    if k:
        out += ["", "## Kill half-way and restart", ""]
        if "error" in k:
            out.append(f"failed: {k['error']}")
        else:
            out.append(f"n={k['n']}, concurrency 8: SIGKILL after {k['first_run_wall_seconds']:.1f}s with {k['killed_at_records']} "
                       f"complete records (partial last line: {k['partial_line_at_kill']}); the restart wrote {k['restart']['written']} "
                       f"in {k['restart']['wall_seconds']:.1f}s (dropped {k['restart']['dropped']}). Result: {k['records']} records, "
                       f"{k['distinct_indices']} distinct indices, {k['distinct_conversations']} distinct conversations, "
                       f"indices in order: {k['indices_in_order']}, max index {k['max_index']}, gaps {k['index_gaps']} "
                       f"-> **{'PASS' if k['passed'] else 'FAIL'}**.")  # fmt: skip
    r = res.get("report")
    if r:
        out += ["", "## chat-report of the kill-check output", ""]
        if "error" in r:
            out.append(f"failed: {r['error']}")
        else:
            nd = r["near_duplicates"]
            out.append(f"{r['dialogues']} dialogues, {r['turns']} turns. distinct-1/2/3 {fmt(r['distinct_1'], 3)} / "
                       f"{fmt(r['distinct_2'], 3)} / {fmt(r['distinct_3'], 3)} (distinct-2 by role {r['distinct_2_by_role']}); "
                       f"self-similarity {fmt(r['self_similarity'], 3)}; scenario coverage total variation from the spec's "
                       f"weights {fmt(r['scenario_total_variation'], 3)}; near-duplicates at >= {nd['threshold']}: "
                       f"{nd['pairs']} pairs ({nd['exact_pairs']} exact), {nd['removable']} removable; judge: "
                       f"{r['judge'] if r['judge'] else 'none (the spec has the judge disabled)'}.")  # fmt: skip
            if r.get("warnings"):
                out.append(f"Warnings: {r['warnings']}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doppel", type=Path, default=default_doppel())
    parser.add_argument("--base-url", default=os.environ.get("DOPPEL_LLM_BASE_URL"))
    parser.add_argument("--spec", type=Path, default=REPO / "examples/chat/hr-coaching.toml")
    parser.add_argument("--max-tokens", type=int, help="run a copy of the spec with this [sampling] max_tokens")
    parser.add_argument("--max-turns", type=int, help="run a copy of the spec with this [conversation] max_turns")
    parser.add_argument("--n8", type=int, default=200, help="dialogues at concurrency 8 (0 skips)")
    parser.add_argument("--n1", type=int, default=40, help="dialogues at concurrency 1 (0 skips)")
    parser.add_argument("--n-kill", type=int, default=200, help="dialogues of the kill check (0 skips)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench/results")
    parser.add_argument("--date", default=dt.date.today().isoformat())
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per doppel process")
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args()

    if not args.doppel.is_file():
        log(f"error: no doppel binary at {args.doppel}; build it with `cargo build --release -p doppel-cli`")
        return 2
    if not args.base_url:
        log("no --base-url / DOPPEL_LLM_BASE_URL: starting scripts/llm-server.sh")
        args.base_url = subprocess.run([str(REPO / "scripts/llm-server.sh"), "start"], check=True, capture_output=True,
                                       text=True).stdout.strip()  # fmt: skip
    if not healthy(args.base_url):
        log(f"error: the server at {args.base_url} is not healthy")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    doppel = workdir / "doppel"
    shutil.copy2(args.doppel, doppel)
    spec, changes = derived_spec(args.spec, workdir, args.max_tokens, args.max_turns)
    res: dict = {
        "date": args.date,
        "command_line": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine_info(),
        "server": server_info(args.base_url),
        "doppel": {"path": str(args.doppel), "sha256": hashlib.sha256(doppel.read_bytes()).hexdigest()},
        "spec": {"source": str(args.spec.relative_to(REPO) if args.spec.is_relative_to(REPO) else args.spec),
                 "changes": changes, "text": spec.read_text()},  # fmt: skip
        "runs": {},
    }
    log(f"workdir {workdir}; server {args.base_url}; spec changes {changes or 'none'}")
    failed = False
    for name, n, concurrency in [("concurrency_8", args.n8, 8), ("concurrency_1", args.n1, 1)]:
        if n <= 0:
            continue
        out = workdir / f"{name}.jsonl"
        try:
            res["runs"][name] = run_chat(chat_command(doppel, spec, out, n, concurrency, args.base_url), out, args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as error:
            res["runs"][name] = {"n": n, "error": str(error)}
            failed = True
            log(f"  failed: {error}")
    c8, c1 = res["runs"].get("concurrency_8", {}), res["runs"].get("concurrency_1", {})
    if "written" in c8 and "written" in c1:
        res["ratio_8_vs_1"] = {
            "dialogues_per_minute": c8["dialogues_per_minute"] / c1["dialogues_per_minute"],
            "tokens_per_second": c8["tokens_per_second"] / c1["tokens_per_second"],
        }
    report_source = workdir / "concurrency_8.jsonl"
    if args.n_kill > 0:
        out = workdir / "kill.jsonl"
        try:
            res["kill_check"] = kill_check(chat_command(doppel, spec, out, args.n_kill, 8, args.base_url), out,
                                           args.n_kill, args.timeout)  # fmt: skip
            failed |= not res["kill_check"]["passed"]
            report_source = out
        except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as error:
            res["kill_check"] = {"n": args.n_kill, "error": str(error)}
            failed = True
            log(f"  failed: {error}")
    if report_source.exists():
        try:
            res["report"] = report_numbers(doppel, report_source, spec, workdir / "report.json", args.timeout)
            res["report"]["source"] = report_source.name
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, ValueError) as error:
            res["report"] = {"error": str(error)}
            failed = True
    res["loadavg_at_end"] = list(os.getloadavg())
    res["workdir"] = str(workdir) if args.keep_workdir else None
    args.out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(res)
    (args.out_dir / f"chat-{args.date}.md").write_text(text)
    (args.out_dir / f"chat-{args.date}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(text)
    if not args.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
