#!/usr/bin/env bash
# Switchboard against aiogram 3 and teloxide, side by side: every bot talks to the same fake
# Telegram Bot API (bench/loadgen) under the same closed-loop load, and one table is printed.
#
#   bench/compare.sh                      # every configuration
#   bench/compare.sh switchboard-sqlite-polling aiogram-memory   # just these
#
# Settings (environment):
#   CUSTOMERS=300   customers talking at once        DURATION=30  seconds measured
#   WARMUP=5        seconds before measuring          SEED=100000  conversations stored first
#                                                                  in the "-100k" configurations
#   SWITCHBOARD_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres  (a server to create
#                   a throw-away database on)
#   BENCH_REDIS_URL=redis://127.0.0.1:6379/0          API_PORT=18181  BOT_PORT=18182
#   SWITCHBOARD_BIN=path  measure this switchboard binary instead of building one
#   SWITCHBOARD_BIN_B=path  before and after in one run: every switchboard configuration runs
#                   with both binaries (labels `<config>@a` for SWITCHBOARD_BIN or the build,
#                   `<config>@b` for this one), A first in odd rounds and B first in even ones
#   ROUNDS=1        how many times the whole list runs, interleaved; with more than one, the
#                   table gives each figure's median and the updates/s range
#
# Needs: cargo, python3 (with venv), PostgreSQL and Redis for those configurations. Builds
# Switchboard and teloxide with the `dist` profile (fat LTO, one codegen unit: what the
# Dockerfile ships), the load driver in release mode; aiogram goes into bench/.venv.
# Results: bench/results/<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
CUSTOMERS=${CUSTOMERS:-300}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
SEED=${SEED:-100000}
ROUNDS=${ROUNDS:-1}
case $ROUNDS in '' | *[!0-9]* | 0) echo "ROUNDS must be a whole number of at least 1" >&2; exit 2 ;; esac
API_PORT=${API_PORT:-18181}
BOT_PORT=${BOT_PORT:-18182}
PG_URL=${SWITCHBOARD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}
REDIS_PREFIX=switchboard-bench
TOKEN=123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq
API_URL=http://127.0.0.1:$API_PORT

ALL=(
  switchboard-sqlite-polling
  switchboard-sqlite-webhook
  switchboard-postgres-polling
  switchboard-postgres-webhook
  switchboard-sqlite-polling-100k
  teloxide-inmem
  aiogram-memory
  aiogram-redis
)
if [ $# -gt 0 ]; then CONFIGS=("$@"); else CONFIGS=("${ALL[@]}"); fi
for config in "${CONFIGS[@]}"; do
  case " ${ALL[*]} " in *" $config "*) ;; *) echo "unknown configuration: $config (one of: ${ALL[*]})" >&2; exit 2 ;; esac
done

OUT=$BENCH/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Build what is needed

log "== building (dist)"
cargo build --release --quiet --manifest-path "$BENCH/loadgen/Cargo.toml" --target-dir "$BENCH/target"
LOADGEN=$BENCH/target/release/switchboard-loadgen
needs() { case " ${CONFIGS[*]} " in *" $1"*) return 0 ;; *) return 1 ;; esac; }
# The bots start in their own working directories: binaries given by a relative path are
# made absolute first.
absolute() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
if [ -n "${SWITCHBOARD_BIN_B:-}" ]; then SWITCHBOARD_BIN_B=$(absolute "$SWITCHBOARD_BIN_B"); fi
if [ -n "${SWITCHBOARD_BIN:-}" ]; then
  SWITCHBOARD=$(absolute "$SWITCHBOARD_BIN")
else
  if needs switchboard; then
    cargo build --profile dist --quiet --manifest-path "$ROOT/Cargo.toml" --bin switchboard
  fi
  SWITCHBOARD=$ROOT/target/dist/switchboard
fi
SWITCHBOARD_A=$SWITCHBOARD
for binary in "$SWITCHBOARD" ${SWITCHBOARD_BIN_B:+"$SWITCHBOARD_BIN_B"}; do
  if needs switchboard && [ ! -x "$binary" ]; then echo "$binary is not an executable" >&2; exit 2; fi
done
if needs teloxide; then
  cargo build --profile dist --quiet --manifest-path "$BENCH/teloxide_bot/Cargo.toml" --target-dir "$BENCH/target"
fi
TELOXIDE=$BENCH/target/dist/teloxide-baseline-bot
if needs aiogram; then
  if [ ! -x "$BENCH/.venv/bin/python" ]; then python3 -m venv "$BENCH/.venv"; fi
  "$BENCH/.venv/bin/python" -c 'import aiogram, redis' 2>/dev/null ||
    "$BENCH/.venv/bin/pip" install --quiet 'aiogram[redis]>=3,<4'
fi

# ---------------------------------------------------------------------------------------------
# One run: the fake API and its customers, the bot, its peak RSS

BOT_PID=
LOADGEN_PID=
cleanup() {
  [ -n "$BOT_PID" ] && kill "$BOT_PID" 2>/dev/null || true
  [ -n "$LOADGEN_PID" ] && kill "$LOADGEN_PID" 2>/dev/null || true
}
trap cleanup EXIT

# Clean environment for the bots, so no SWITCHBOARD_* or .env of the caller leaks in.
CLEAN_ENV=(env -i "PATH=$PATH" "HOME=$HOME" "LANG=C.UTF-8")

# run_one LABEL SEED_COUNT WORKDIR -- COMMAND...   (the command is started in WORKDIR)
run_one() {
  local label=$1 seed=$2 workdir=$3
  shift 4
  log "== $label"
  "$LOADGEN" --listen "127.0.0.1:$API_PORT" --token "$TOKEN" --customers "$CUSTOMERS" \
    --warmup "$WARMUP" --duration "$DURATION" --seed "$seed" --label "$label" \
    >"$OUT/$label.json" 2>"$OUT/$label.loadgen.log" &
  LOADGEN_PID=$!
  for _ in $(seq 1 100); do
    grep -q 'waiting for the bot' "$OUT/$label.loadgen.log" 2>/dev/null && break
    sleep 0.1
  done
  (cd "$workdir" && exec "$@") >"$OUT/$label.bot.log" 2>&1 &
  BOT_PID=$!
  local peak=0 hwm driver_cpu=0 seen
  while kill -0 "$LOADGEN_PID" 2>/dev/null; do
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$BOT_PID/status" 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    # The load driver's CPU so far (it exits by itself, taking its figures with it).
    seen=$(awk '{print ($14 + $15) / 100}' "/proc/$LOADGEN_PID/stat" 2>/dev/null || true)
    [ -n "$seen" ] && driver_cpu=$seen
    sleep 0.5
  done
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$BOT_PID/status" 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
  local cpu
  cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$BOT_PID/stat" 2>/dev/null || echo 0)
  wait "$LOADGEN_PID" || log "   the load driver failed; see $OUT/$label.loadgen.log"
  LOADGEN_PID=
  if ! kill -0 "$BOT_PID" 2>/dev/null; then log "   the bot exited early; see $OUT/$label.bot.log"; fi
  kill "$BOT_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$BOT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$BOT_PID" 2>/dev/null || true
  wait "$BOT_PID" 2>/dev/null || true
  BOT_PID=
  printf '{"label":"%s","peak_rss_kb":%s,"cpu_s":%s,"driver_cpu_s":%s}\n' "$label" "$peak" "$cpu" "$driver_cpu" \
    >"$OUT/$label.rss.json"
  log "   $(cat "$OUT/$label.json" 2>/dev/null | head -c 200)"
}

switchboard() {
  local label=$1 backend=$2 mode=$3 seed=$4
  local dir=$OUT/$label.data
  mkdir -p "$dir"
  local db_url database=
  if [ "$backend" = sqlite ]; then
    db_url="sqlite://$dir/switchboard.db"
  else
    database="switchboard_bench_$$_${mode}"
    PGOPTIONS=--client-min-messages=warning psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS $database" \
      -c "CREATE DATABASE $database" >/dev/null
    db_url="${PG_URL%/*}/$database"
  fi
  local env=("${CLEAN_ENV[@]}"
    "SWITCHBOARD_DATABASE_URL=$db_url" "SWITCHBOARD_BIND=127.0.0.1:$BOT_PORT"
    "SWITCHBOARD_MEDIA_DIR=$dir/media" "SWITCHBOARD_LOG=warn"
    "SWITCHBOARD_TELEGRAM_TOKEN=$TOKEN" "SWITCHBOARD_TELEGRAM_API_URL=$API_URL"
    "SWITCHBOARD_TELEGRAM_RATE_LIMIT=off"
    # Simulated customers write faster than any person; per-customer flood control (a limit
    # on people, like the platform's on bots) would answer them with a notice instead.
    "SWITCHBOARD_FLOOD_LIMIT=0")
  if [ "$mode" = webhook ]; then
    env+=("SWITCHBOARD_TELEGRAM_WEBHOOK_URL=http://127.0.0.1:$BOT_PORT/webhooks/telegram"
      "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET=bench_webhook_secret")
  fi
  run_one "$label" "$seed" "$dir" -- "${env[@]}" "$SWITCHBOARD" serve
  if [ -n "$database" ]; then
    psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS $database" >/dev/null || true
  fi
  rm -rf "$dir"
}

redis_clear() {
  redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null
}

aiogram() {
  local label=$1 storage=$2
  [ "$storage" = redis ] && redis_clear
  run_one "$label" 0 "$BENCH/aiogram_bot" -- "${CLEAN_ENV[@]}" "BENCH_TOKEN=$TOKEN" "BENCH_API_URL=$API_URL" \
    "BENCH_STORAGE=$storage" "BENCH_REDIS_URL=$REDIS_URL" "BENCH_REDIS_PREFIX=$REDIS_PREFIX" \
    "$BENCH/.venv/bin/python" bot.py
  [ "$storage" = redis ] && redis_clear
  return 0
}

# PostgreSQL's own CPU time (the server and every backend, ended ones included), in clock
# ticks, when the server runs on this machine: its backends do as much work per update as the
# bot, and on a machine of two cores the two compete. Empty when it cannot be read.
pg_ticks() {
  local postmaster
  postmaster=$(pgrep -o -x postgres 2>/dev/null) || return 0
  {
    awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat"
    for child in $(pgrep -P "$postmaster"); do awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null; done
  } | awk '{ticks += $1} END {print ticks + 0}'
}

# run_config CONFIG LABEL: one run of one configuration, its files named after LABEL.
run_config() {
  local config=$1 label=$2 pg_before pg_after
  case $config in
    switchboard-postgres-*) pg_before=$(pg_ticks) ;;
  esac
  case $config in
    switchboard-sqlite-polling) switchboard "$label" sqlite polling 0 ;;
    switchboard-sqlite-webhook) switchboard "$label" sqlite webhook 0 ;;
    switchboard-postgres-polling) switchboard "$label" postgres polling 0 ;;
    switchboard-postgres-webhook) switchboard "$label" postgres webhook 0 ;;
    switchboard-sqlite-polling-100k) switchboard "$label" sqlite polling "$SEED" ;;
    teloxide-inmem)
      run_one "$label" 0 "$BENCH" -- "${CLEAN_ENV[@]}" "BENCH_TOKEN=$TOKEN" "BENCH_API_URL=$API_URL" "$TELOXIDE" ;;
    aiogram-memory) aiogram "$label" memory ;;
    aiogram-redis) aiogram "$label" redis ;;
  esac
  if [ -n "${pg_before:-}" ]; then
    pg_after=$(pg_ticks)
    printf '{"db_cpu_s":%s}\n' "$(awk -v a="$pg_before" -v b="$pg_after" 'BEGIN {print (b - a) / 100}')" \
      >"$OUT/$label.db.json"
  fi
}

# The labels in table order, and one round's runs in order.
LABELS=()
for config in "${CONFIGS[@]}"; do
  case $config in
    switchboard-*) if [ -n "${SWITCHBOARD_BIN_B:-}" ]; then LABELS+=("$config@a" "$config@b"); else LABELS+=("$config"); fi ;;
    *) LABELS+=("$config") ;;
  esac
done
for round in $(seq 1 "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && log "== round $round of $ROUNDS"
  for config in "${CONFIGS[@]}"; do
    case $config in
      switchboard-*)
        if [ -n "${SWITCHBOARD_BIN_B:-}" ]; then
          sides=(a b)
          [ $((round % 2)) -eq 0 ] && sides=(b a)
          for side in "${sides[@]}"; do
            if [ "$side" = a ]; then SWITCHBOARD=$SWITCHBOARD_A; else SWITCHBOARD=$SWITCHBOARD_BIN_B; fi
            run_config "$config" "$config@$side.r$round"
          done
          SWITCHBOARD=$SWITCHBOARD_A
        else
          run_config "$config" "$config.r$round"
        fi
        ;;
      *) run_config "$config" "$config.r$round" ;;
    esac
  done
done

# ---------------------------------------------------------------------------------------------
# The table

python3 "$BENCH/table.py" "$OUT" "$ROUNDS" "${LABELS[@]}" | tee "$OUT/table.md"
log "results: $OUT (CUSTOMERS=$CUSTOMERS WARMUP=$WARMUP DURATION=$DURATION SEED=$SEED ROUNDS=$ROUNDS)"
