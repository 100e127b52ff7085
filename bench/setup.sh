#!/usr/bin/env bash
# Create bench/.venv and install the pinned SDV environment from bench/requirements.txt.
#
# Usage:   bash bench/setup.sh              # from anywhere; idempotent
#          SDV_WITH_TORCH=1 bash bench/setup.sh   # also install ctgan/deepecho/torch (several GB)
#          PYTHON=python3.12 bash bench/setup.sh  # choose the interpreter for the venv
#
# A second run is a no-op while requirements.txt (and SDV_WITH_TORCH) are unchanged: the hash of
# what was installed is kept in bench/.venv/.bench-requirements.sha256.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv"
REQ="$BENCH_DIR/requirements.txt"
STAMP="$VENV/.bench-requirements.sha256"
PYTHON="${PYTHON:-python3}"
WITH_TORCH="${SDV_WITH_TORCH:-0}"
# Versions resolved by pip for sdv==2.0.0 on CPython 3.11; only used with SDV_WITH_TORCH=1.
TORCH_EXTRAS=(ctgan==0.12.1 deepecho==0.8.1 torch==2.15.0)

want="$( { cat "$REQ"; echo "with_torch=$WITH_TORCH"; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    echo "bench/.venv is up to date ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("sdv", m.version("sdv"))'))"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)

# --no-deps: requirements.txt is the complete pinned set; without it pip would follow sdv's hard
# dependency on ctgan -> torch -> CUDA wheels. --only-binary: never compile anything on this box.
"${PIP[@]}" install --no-deps --only-binary :all: -r "$REQ"

if [[ "$WITH_TORCH" == "1" ]]; then
    echo "SDV_WITH_TORCH=1: installing ${TORCH_EXTRAS[*]} (with their dependencies)"
    "${PIP[@]}" install --only-binary :all: "${TORCH_EXTRAS[@]}"
fi

# Consistency check. Without torch, the only complaints allowed are the two deliberately missing
# optional-in-practice packages.
check_out="$("${PIP[@]}" check 2>&1 || true)"
unexpected="$(printf '%s\n' "$check_out" \
    | grep -v -E '^No broken requirements found\.$' \
    | grep -v -E '^sdv 2\.0\.0 requires (ctgan|deepecho), which is not installed\.$' \
    | grep -v -E '^$' || true)"
if [[ -n "$unexpected" ]]; then
    echo "pip check found problems:" >&2
    echo "$unexpected" >&2
    exit 1
fi

# Smoke test: the import used by the benchmark must work.
"$VENV/bin/python" -c '
import sdv, pandas, numpy, scipy
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
print("ok: sdv", sdv.__version__, "pandas", pandas.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)
'

echo "$want" > "$STAMP"
echo "bench/.venv ready: run  bench/.venv/bin/python bench/bench_copula.py --help"
