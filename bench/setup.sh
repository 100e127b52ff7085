#!/usr/bin/env bash
# Create bench/.venv and install the pinned SDV environment from bench/requirements.txt.
#
# Usage:   bash bench/setup.sh              # from anywhere; idempotent
#          SDV_WITH_TORCH=1 bash bench/setup.sh   # also install ctgan/deepecho/torch (several GB)
#          BENCH_PEERS=1 bash bench/setup.sh      # everything bench_engines.py needs: the above, plus
#                                                 # bench/.venv-mostlyai from requirements-mostlyai.txt
#          BENCH_DP=1 bash bench/setup.sh         # also bench/.venv-smartnoise (smartnoise-synth MST
#                                                 # and AIM) for bench_dp.py
#          PYTHON=python3.12 bash bench/setup.sh  # choose the interpreter for the venvs
#
# A second run is a no-op while requirements.txt (and SDV_WITH_TORCH) are unchanged: the hash of
# what was installed is kept in bench/.venv/.bench-requirements.sha256 (and likewise in
# bench/.venv-mostlyai for requirements-mostlyai.txt).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv"
REQ="$BENCH_DIR/requirements.txt"
STAMP="$VENV/.bench-requirements.sha256"
PYTHON="${PYTHON:-python3}"
PEERS="${BENCH_PEERS:-0}"
# BENCH_PEERS=1 needs ctgan (CTGAN, TVAE) and therefore torch in bench/.venv.
if [[ "$PEERS" == "1" ]]; then
    WITH_TORCH=1
else
    WITH_TORCH="${SDV_WITH_TORCH:-0}"
fi
# Versions resolved by pip for sdv==2.0.0 on CPython 3.11; only used with SDV_WITH_TORCH=1.
TORCH_EXTRAS=(ctgan==0.12.1 deepecho==0.8.1 torch==2.15.0)

MAI_VENV="$BENCH_DIR/.venv-mostlyai"
MAI_REQ="$BENCH_DIR/requirements-mostlyai.txt"
MAI_STAMP="$MAI_VENV/.bench-requirements.sha256"

# ---- bench/.venv: SDV (GaussianCopula; with torch also CTGAN and TVAE) -------------------------
setup_sdv() {
    local want
    want="$( { cat "$REQ"; echo "with_torch=$WITH_TORCH"; } | sha256sum | cut -d' ' -f1)"

    if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        echo "bench/.venv is up to date ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("sdv", m.version("sdv"))'))"
        return 0
    fi

    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi

    local PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)

    # --no-deps: requirements.txt is the complete pinned set; without it pip would follow sdv's hard
    # dependency on ctgan -> torch -> CUDA wheels. --only-binary: never compile anything on this box.
    "${PIP[@]}" install --no-deps --only-binary :all: -r "$REQ"

    if [[ "$WITH_TORCH" == "1" ]]; then
        echo "SDV_WITH_TORCH=1: installing ${TORCH_EXTRAS[*]} (with their dependencies)"
        "${PIP[@]}" install --only-binary :all: "${TORCH_EXTRAS[@]}"
    fi

    # Consistency check. Without torch, the only complaints allowed are the two deliberately missing
    # optional-in-practice packages.
    local check_out unexpected
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
    if [[ "$WITH_TORCH" == "1" ]]; then
        "$VENV/bin/python" -c '
import ctgan, torch
from sdv.single_table import CTGANSynthesizer, TVAESynthesizer
print("ok: ctgan", ctgan.__version__, "torch", torch.__version__)
'
    fi

    echo "$want" > "$STAMP"
    echo "bench/.venv ready: run  bench/.venv/bin/python bench/bench_copula.py --help"
}

# ---- bench/.venv-mostlyai: MOSTLY AI's engine (its own torch / pandas pins) -------------------
setup_mostlyai() {
    local want
    want="$(sha256sum < "$MAI_REQ" | cut -d' ' -f1)"

    if [[ -x "$MAI_VENV/bin/python" && -f "$MAI_STAMP" && "$(cat "$MAI_STAMP")" == "$want" ]]; then
        echo "bench/.venv-mostlyai is up to date ($("$MAI_VENV/bin/python" -c 'import importlib.metadata as m; print("mostlyai-engine", m.version("mostlyai-engine"))'))"
        return 0
    fi

    if [[ ! -x "$MAI_VENV/bin/python" ]]; then
        echo "creating $MAI_VENV with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$MAI_VENV"
    fi
    # Keep the venv out of git without touching the repository's .gitignore files.
    printf '*\n' > "$MAI_VENV/.gitignore"

    local PIP=("$MAI_VENV/bin/python" -m pip --disable-pip-version-check --no-input)
    # The requirements file is a complete pip freeze: --no-deps installs exactly that set.
    "${PIP[@]}" install --no-deps --only-binary :all: -r "$MAI_REQ"

    local check_out
    check_out="$("${PIP[@]}" check 2>&1 || true)"
    if [[ "$check_out" != "No broken requirements found." ]]; then
        echo "pip check found problems in bench/.venv-mostlyai:" >&2
        echo "$check_out" >&2
        exit 1
    fi

    CUDA_VISIBLE_DEVICES="" "$MAI_VENV/bin/python" -c '
import torch, pandas
import mostlyai.engine
from mostlyai.engine import TabularARGN
print("ok: mostlyai-engine", mostlyai.engine.__version__, "torch", torch.__version__, "pandas", pandas.__version__)
'
    echo "$want" > "$MAI_STAMP"
    echo "bench/.venv-mostlyai ready"
}

# ---- bench/.venv-smartnoise: smartnoise-synth's MST and AIM (bench_dp.py) ---------------------
# smartnoise-synth 1.0.8 declares opacus<0.15, pac-synth and mbi<2, but its MST and AIM need none of
# the first two and import the API of mbi 1.1.0 (mbi 2.0 fails on its Dataset call): the pinned set
# in requirements-smartnoise.txt is installed as it is, without dependency resolution.
SN_VENV="$BENCH_DIR/.venv-smartnoise"
SN_REQ="$BENCH_DIR/requirements-smartnoise.txt"
SN_STAMP="$SN_VENV/.bench-requirements.sha256"
setup_smartnoise() {
    local want
    want="$(sha256sum < "$SN_REQ" | cut -d' ' -f1)"
    if [[ -x "$SN_VENV/bin/python" && -f "$SN_STAMP" && "$(cat "$SN_STAMP")" == "$want" ]]; then
        echo "bench/.venv-smartnoise is up to date"
        return 0
    fi
    if [[ ! -x "$SN_VENV/bin/python" ]]; then
        "$PYTHON" -m venv "$SN_VENV"
    fi
    printf '*\n' > "$SN_VENV/.gitignore"
    # antlr4-python3-runtime 4.9.3 is a pure-Python sdist (no compiler involved).
    "$SN_VENV/bin/python" -m pip --disable-pip-version-check --no-input install --no-deps -r "$SN_REQ"
    "$SN_VENV/bin/python" -c '
import warnings; warnings.filterwarnings("ignore")
import pandas as pd
from snsynth import Synthesizer
df = pd.DataFrame({"a": ["x", "y"] * 50, "b": ["p", "q", "q", "p"] * 25})
s = Synthesizer.create("mst", epsilon=1.0, verbose=False)
s.fit(df, preprocessor_eps=0.0, categorical_columns=["a", "b"])
assert len(s.sample(10)) == 10
print("ok: smartnoise-synth MST")
'
    echo "$want" > "$SN_STAMP"
}

setup_sdv
if [[ "${BENCH_DP:-0}" == "1" ]]; then
    setup_smartnoise
fi
if [[ "$PEERS" == "1" ]]; then
    setup_mostlyai
    echo "peers ready: run  bench/.venv/bin/python bench/bench_engines.py --help"
fi
