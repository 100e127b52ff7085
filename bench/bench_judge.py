#!/usr/bin/env python3
"""Can the chat judge tell good dialogues from broken ones? A discrimination bench for
`doppel chat-judge` with small local models.

Needs only the Python 3 standard library and a doppel built with the embedded model
(`cargo build --release -p doppel-cli --features embedded`).

From N dialogues written by `doppel chat` (metadata inline), four broken copies are made, each
aimed at one of the judge's questions of `examples/chat/hr-coaching.toml`:

- `role_swap` (aimed at `coach_in_role`, `candidate_in_role`): every turn is given to the other
  agent, so the coach speaks the candidate's lines and the other way round;
- `off_topic` (aimed at `on_topic`): the dialogue is unchanged but judged against another
  scenario of the spec (the next one in the spec's order);
- `ai_talk` (aimed at `no_ai_talk`): the first and the third assistant turn start with a stock
  sentence about being an AI language model;
- `shuffled` (aimed at `coherent`): each agent's turns are put in a seeded random order (roles
  still alternate, but answers no longer follow questions).

Every judge model given with `--model NAME=PATH.gguf` scores the originals and the copies with
`doppel chat-judge --backend embedded --model-path PATH --concurrency C`. For each kind of
damage the bench reports, over the N pairs (original, broken copy of it):

- the paired win rate of the aimed question: the share of pairs where the original scores
  higher (ties count a half); 0.5 is a judge that cannot tell, 1 a perfect one;
- the same for the overall judge score;
- the mean scores of originals and copies.

It also reports the distribution of the original dialogues' scores (the figure `doppel
chat-report` shows) and the seconds per dialogue.

    python3 bench/bench_judge.py --dialogues dialogues.jsonl -n 100 \\
        --model smollm2=~/.cache/doppel/models/SmolLM2-135M-Instruct.Q4_1.gguf

Results: markdown on stdout and <out-dir>/judge-YYYY-MM-DD.md / .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_chat import default_doppel

REPO = Path(__file__).resolve().parent.parent
AI_SENTENCE = "As an AI language model, I don't have personal experiences, but I can share some general advice. "
AIMED = {
    "role_swap": ["coach_in_role", "candidate_in_role"],
    "off_topic": ["on_topic"],
    "ai_talk": ["no_ai_talk"],
    "shuffled": ["coherent"],
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def spec_scenarios(spec: Path) -> list[str]:
    import tomllib

    with open(spec, "rb") as f:
        return [s["name"] for s in tomllib.load(f)["scenarios"]]


def role_swap(record: dict, _rng: random.Random, _scenarios: list[str]) -> dict:
    flip = {"user": "assistant", "assistant": "user", "system": "system"}
    record["messages"] = [{"role": flip[m["role"]], "content": m["content"]} for m in record["messages"]]
    return record


def off_topic(record: dict, _rng: random.Random, scenarios: list[str]) -> dict:
    current = record["metadata"]["scenario"]
    record["metadata"]["scenario"] = scenarios[(scenarios.index(current) + 1) % len(scenarios)]
    return record


def ai_talk(record: dict, _rng: random.Random, _scenarios: list[str]) -> dict:
    seen = 0
    for m in record["messages"]:
        if m["role"] == "assistant":
            if seen in (0, 2):
                m["content"] = AI_SENTENCE + m["content"]
            seen += 1
    return record


def shuffled(record: dict, rng: random.Random, _scenarios: list[str]) -> dict:
    spoken = [m for m in record["messages"] if m["role"] != "system"]
    for role in ("user", "assistant"):
        texts = [m["content"] for m in spoken if m["role"] == role]
        if len(texts) > 1:
            original = list(texts)
            while texts == original:
                rng.shuffle(texts)
        it = iter(texts)
        for m in spoken:
            if m["role"] == role:
                m["content"] = next(it)
    return record


DAMAGE = {"role_swap": role_swap, "off_topic": off_topic, "ai_talk": ai_talk, "shuffled": shuffled}


def win_rate(originals: list[float], broken: list[float]) -> float:
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(originals, broken))
    return wins / len(originals)


def quantiles(values: list[float]) -> dict:
    ordered = sorted(values)
    n = len(ordered)

    def q(p: float) -> float:
        return ordered[min(n - 1, int(p * (n - 1) + 0.5))]

    histogram = [0] * 10
    for v in values:
        histogram[min(9, int(v * 10))] += 1
    return {
        "count": n,
        "mean": sum(values) / n,
        "min": ordered[0],
        "p10": q(0.1),
        "median": q(0.5),
        "p90": q(0.9),
        "max": ordered[-1],
        "histogram_tenths": histogram,
    }


def judge(doppel: Path, spec: Path, model: Path, dialogues: Path, out: Path, concurrency: int, threads: int) -> float:
    command = [
        str(doppel), "chat-judge", str(dialogues), "--spec", str(spec), "-o", str(out), "--backend", "embedded",
        "--model-path", str(model), "--concurrency", str(concurrency), "--threads", str(threads), "--quiet", "--force",
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_judge: `{' '.join(command)}` failed:\n{done.stderr}")
    return time.monotonic() - started


def read_scores(path: Path) -> list[dict]:
    rows = []
    with open(path) as f:
        for line in f:
            metadata = json.loads(line)["metadata"]
            rows.append({"score": metadata["judge_score"], **metadata["judge_criteria"]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doppel", type=Path, default=default_doppel())
    parser.add_argument("--dialogues", type=Path, required=True, help="JSON Lines from `doppel chat`")
    parser.add_argument("-n", type=int, default=100, help="the first N dialogues are used")
    parser.add_argument("--spec", type=Path, default=REPO / "examples/chat/hr-coaching.toml")
    parser.add_argument("--model", action="append", required=True, help="NAME=PATH.gguf (repeatable)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1, help="seed of the shuffles")
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench/results")
    parser.add_argument("--date", default=dt.date.today().isoformat())
    args = parser.parse_args()
    if not args.doppel.is_file():
        print(f"bench_judge: no doppel at {args.doppel}; build it with --features embedded", file=sys.stderr)
        return 2
    models = {}
    for item in args.model:
        name, _, path = item.partition("=")
        path = Path(os.path.expanduser(path))
        if not name or not path.is_file():
            print(f"bench_judge: --model {item}: expected NAME=PATH of an existing GGUF file", file=sys.stderr)
            return 2
        models[name] = path

    work = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    doppel = work / "doppel"
    shutil.copy2(args.doppel, doppel)
    lines = args.dialogues.read_text().splitlines()[: args.n]
    records = [json.loads(line) for line in lines]
    scenarios = spec_scenarios(args.spec)
    rng = random.Random(args.seed)
    sets = {"original": work / "original.jsonl"}
    sets["original"].write_text("".join(json.dumps(r) + "\n" for r in records))
    for kind, damage in DAMAGE.items():
        broken = [damage(json.loads(json.dumps(r)), rng, scenarios) for r in records]
        sets[kind] = work / f"{kind}.jsonl"
        sets[kind].write_text("".join(json.dumps(r) + "\n" for r in broken))

    result = {
        "date": args.date,
        "dialogues": str(args.dialogues),
        "dialogues_sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
        "n": len(records),
        "spec": str(args.spec.relative_to(REPO) if args.spec.is_relative_to(REPO) else args.spec),
        "concurrency": args.concurrency,
        "threads": args.threads,
        "machine": {"uname": " ".join(platform.uname()), "nproc": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())},
        "models": {},
    }
    for name, path in models.items():
        log(f"{name}: judging {len(records)} dialogues and {len(DAMAGE)} broken copies of each")
        scores, seconds = {}, {}
        for kind, dialogues in sets.items():
            out = work / f"{name}-{kind}.judged.jsonl"
            seconds[kind] = judge(doppel, args.spec, path, dialogues, out, args.concurrency, args.threads)
            scores[kind] = read_scores(out)
            log(f"{name}: {kind} in {seconds[kind]:.0f}s, mean score {sum(r['score'] for r in scores[kind]) / len(records):.3f}")
        originals = scores["original"]
        damage = {}
        for kind, aimed in AIMED.items():
            broken = scores[kind]
            damage[kind] = {
                "aimed": {
                    q: {
                        "win_rate": win_rate([r[q] for r in originals], [r[q] for r in broken]),
                        "mean_original": sum(r[q] for r in originals) / len(originals),
                        "mean_broken": sum(r[q] for r in broken) / len(broken),
                    }
                    for q in aimed
                },
                "score": {
                    "win_rate": win_rate([r["score"] for r in originals], [r["score"] for r in broken]),
                    "mean_original": sum(r["score"] for r in originals) / len(originals),
                    "mean_broken": sum(r["score"] for r in broken) / len(broken),
                },
            }
        questions = sorted(k for k in originals[0] if k != "score")
        result["models"][name] = {
            "path": str(path),
            "size_bytes": path.stat().st_size,
            "seconds_per_dialogue": sum(seconds.values()) / (len(records) * len(sets)),
            "original_scores": quantiles([r["score"] for r in originals]),
            "original_questions": {q: sum(r[q] for r in originals) / len(originals) for q in questions},
            "damage": damage,
        }

    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"judge-{args.date}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [f"# Chat judge discrimination, {args.date}", ""]
    md.append(f"{len(records)} dialogues from `{args.dialogues}` (sha256 of the lines used `{result['dialogues_sha256'][:16]}…`), "
              f"spec `{result['spec']}`, `doppel chat-judge --backend embedded --concurrency {args.concurrency} --threads {args.threads}`.")
    md.append("Win rate: share of (original, broken copy) pairs where the original scores higher (ties ½); 0.5 = cannot tell.")
    md.append("")
    for name, m in result["models"].items():
        s = m["original_scores"]
        md.append(f"## {name} ({m['size_bytes'] / 1e6:.0f} MB, {m['seconds_per_dialogue']:.1f} s per dialogue)")
        md.append("")
        md.append(f"Scores of the originals: mean {s['mean']:.3f}, p10 {s['p10']:.3f}, median {s['median']:.3f}, "
                  f"p90 {s['p90']:.3f} (min {s['min']:.3f}, max {s['max']:.3f}); tenths histogram {s['histogram_tenths']}.")
        md.append("")
        md.append("| damage | aimed question | win rate | mean P(yes) original → broken | score win rate | mean score original → broken |")
        md.append("|---|---|---:|---|---:|---|")
        for kind, d in m["damage"].items():
            for q, a in d["aimed"].items():
                md.append(f"| {kind} | `{q}` | {a['win_rate']:.2f} | {a['mean_original']:.3f} → {a['mean_broken']:.3f} | "
                          f"{d['score']['win_rate']:.2f} | {d['score']['mean_original']:.3f} → {d['score']['mean_broken']:.3f} |")
        md.append("")
    text = "\n".join(md) + "\n"
    (out_dir / f"judge-{args.date}.md").write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
