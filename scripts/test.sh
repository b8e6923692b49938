#!/usr/bin/env bash
# The one test command for taskchat:  ./scripts/test.sh
#
# Installs what is missing (PostgreSQL server, curl, python3-venv), starts a
# throwaway PostgreSQL cluster, then runs: cargo fmt --check, clippy -D
# warnings, cargo build, the Rust tests (on SQLite and PostgreSQL), the MCP tests
# (tests/python: the official MCP Python SDK against the server and
# `taskchat mcp`, on both databases, from a venv in .venv), and the JS tests
# that drive the real server with the real Better Auth client, once on
# SQLite and once on PostgreSQL. Prints a summary; exits non-zero if
# anything failed. Safe to run repeatedly; target/ and .venv are kept.
#
# Env knobs: KEEP_TMP=1 keeps the temp dir (server logs, PG cluster data);
# TASKCHAT_BIN=path runs the MCP and JS tests against another server binary
# (default: target/debug/taskchat, built by this script).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
T0=$SECONDS
CUSTOM_BIN=${TASKCHAT_BIN:+1}
TASKCHAT_BIN=${TASKCHAT_BIN:-$ROOT/target/debug/taskchat}

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 1. Prerequisites
# ---------------------------------------------------------------------------

pg_bindir() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

missing=()
[[ -x "$(pg_bindir)/initdb" ]] || missing+=(postgresql)
command -v curl >/dev/null || missing+=(curl ca-certificates)
# The MCP tests run in a venv: python3 with its venv module (ensurepip).
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3 python3-venv)
if ((${#missing[@]})); then
  log "Installing missing packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [[ -x "$(pg_bindir)/initdb" ]] || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
fi

command -v node >/dev/null || die "Node.js (>= 20) is required but 'node' is not on PATH"
command -v npm >/dev/null || die "npm is required but not on PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js >= 20 is required (found $(node --version))"
command -v python3 >/dev/null || die "Python 3 (>= 3.10) is required but 'python3' is not on PATH"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  die "Python >= 3.10 is required for the MCP tests (found $(python3 --version 2>&1))"
command -v cargo >/dev/null || die "cargo is required but not on PATH (install Rust via rustup)"
for comp in rustfmt clippy; do
  sub=${comp/rustfmt/fmt}
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo $sub is missing and rustup is not available"
    log "Installing rustup component $comp"
    rustup component add "$comp"
  fi
done

PSQL="$(pg_bindir)/psql"

# ---------------------------------------------------------------------------
# 2. Scratch space, throwaway PostgreSQL, cleanup on every exit path
# ---------------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/taskchat-test.XXXXXX")
# The PG cluster runs as an unprivileged user when we are root; it must be
# able to reach its directory.
chmod 0755 "$WORK"
: >"$WORK/server.pids"

cleanup() {
  local rc=$? pid alive
  trap - EXIT INT TERM
  # Servers are normally stopped by their step; this catches interrupts.
  # (Background servers ignore SIGINT, so Ctrl-C alone would leave them.)
  while read -r pid; do
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
  done <"$WORK/server.pids"
  for _ in $(seq 1 50); do
    alive=0
    while read -r pid; do
      [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=1
    done <"$WORK/server.pids"
    ((alive)) || break
    sleep 0.1
  done
  while read -r pid; do
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  done <"$WORK/server.pids"
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  if [[ ${KEEP_TMP:-} == 1 ]]; then
    echo "test.sh: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
# Note: bash runs these only once the current foreground step returns; a
# signal sent to the whole process group (Ctrl-C, most CI runners) stops the
# step itself at once.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "Starting throwaway PostgreSQL"
pg_env=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
eval "$pg_env"
export TASKCHAT_TEST_DATABASE_URL

# ---------------------------------------------------------------------------
# 3. Steps. Each runs in a subshell with errexit; a failing step is recorded
#    and later independent steps still run, so one run shows every problem.
# ---------------------------------------------------------------------------

SUMMARY=()
FAILED=0
LAST_RC=0

# Never call run_step in an if/&&/|| context: bash would then silently
# disable errexit inside the step. Read $LAST_RC afterwards instead.
run_step() {
  local name=$1 start=$SECONDS
  shift
  log "$name"
  set +e
  (set -e; "$@")
  LAST_RC=$?
  set -e
  if ((LAST_RC == 0)); then
    SUMMARY+=("PASS  $name ($((SECONDS - start))s)")
  else
    SUMMARY+=("FAIL  $name ($((SECONDS - start))s, exit $LAST_RC)")
    FAILED=1
  fi
}

skip_step() { SUMMARY+=("SKIP  $1 ($2)"); }

# Random port nobody listens on right now (small race accepted: the server
# start is checked via /readyz anyway).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast --no-tests=warn
  else
    cargo test --no-fail-fast
  fi
}

# The venv for tests/python; pip runs only when requirements.txt changed.
py_deps() {
  local venv="$ROOT/.venv" req="$ROOT/tests/python/requirements.txt" want have=""
  if [[ -d $venv ]] && ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "recreating a broken .venv"
    rm -rf "$venv"
  fi
  [[ -d $venv ]] || python3 -m venv "$venv"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  [[ -f $venv/.taskchat-stamp ]] && have=$(cat "$venv/.taskchat-stamp")
  if [[ $want == "$have" ]]; then
    echo ".venv up to date"
    return 0
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$want" >"$venv/.taskchat-stamp"
}

# tests/python starts its own servers ($TASKCHAT_BIN) on SQLite and on fresh
# databases of the throwaway cluster. Exit code 5 (no tests ran) is a failure.
py_tests() {
  local rc=0
  cd "$ROOT"
  TASKCHAT_BIN=$TASKCHAT_BIN PYTHONDONTWRITEBYTECODE=1 timeout 900 \
    .venv/bin/python -m pytest -q -p no:cacheprovider tests/python || rc=$?
  ((rc != 5)) || echo "pytest collected no tests" >&2
  return "$rc"
}

js_deps() {
  cd "$ROOT/tests/js"
  # npm ci wipes node_modules; skip it when nothing changed since last time.
  local want have=""
  want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  [[ -f node_modules/.taskchat-stamp ]] && have=$(cat node_modules/.taskchat-stamp)
  if [[ -f package-lock.json && $want == "$have" ]]; then
    echo "node_modules up to date"
    return 0
  fi
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --prefer-offline
  else
    npm install --no-audit --no-fund
  fi
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 >node_modules/.taskchat-stamp
}

# Stop a server: SIGTERM, wait up to 10 s, then SIGKILL.
stop_server() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "warning: server did not exit within 10 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  ((rc == 0)) || echo "warning: server exited with status $rc after SIGTERM" >&2
}

show_log() {
  echo "----- server log ($1) -----" >&2
  tail -n 200 "$1" >&2 || true
  echo "----- end of server log -----" >&2
}

# Start the server ($TASKCHAT_BIN) on a fresh database, run tests/js against it.
js_tests() {
  local db=$1 port data srvlog secret url pid rc=0
  port=$(free_port)
  url="http://127.0.0.1:$port"
  data=$(mktemp -d "$WORK/data-$db.XXXXXX")
  srvlog="$WORK/server-$db.log"
  secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n') # 48 hex chars

  local -a env_args=(
    -u DATABASE_URL
    TASKCHAT_SECRET="$secret"
    TASKCHAT_TRUSTED_ORIGINS=http://localhost:3000
    # Several sign-ups/sign-ins within seconds from one IP; the Rust tests
    # cover the rate limiter itself.
    TASKCHAT_RATE_LIMIT_MAX=1000
  )
  if [[ $db == postgres ]]; then
    local dbname
    dbname="taskchat_js_$(date +%s)_$$"
    "$PSQL" "$TASKCHAT_TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $dbname"
    env_args+=(DATABASE_URL="${TASKCHAT_TEST_DATABASE_URL%/*}/$dbname")
  fi

  # A free port can be taken by someone else before the server binds it: then try another, a few times.
  local ready=0 attempt
  for attempt in 1 2 3; do
    # cwd = data dir, so a developer's ./.env in the repo cannot leak in.
    (cd "$data" && exec env "${env_args[@]}" "$TASKCHAT_BIN" serve \
      --listen "127.0.0.1:$port" --data-dir "$data" --base-url "$url") >"$srvlog" 2>&1 &
    pid=$!
    echo "$pid" >>"$WORK/server.pids"
    local deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)); do
      kill -0 "$pid" 2>/dev/null || break
      if curl -fsS -o /dev/null --max-time 2 "$url/readyz" 2>/dev/null; then
        ready=1
        break
      fi
      sleep 0.2
    done
    if ((ready)) || ! grep -q "Address already in use" "$srvlog"; then
      break
    fi
    echo "port $port was taken (attempt $attempt); trying another" >&2
    port=$(free_port)
    url="http://127.0.0.1:$port"
  done
  if ((!ready)); then
    if kill -0 "$pid" 2>/dev/null; then
      echo "server on $url did not answer GET /readyz with 200 within 20 s" >&2
    else
      echo "server exited before answering GET /readyz with 200" >&2
    fi
    stop_server "$pid"
    show_log "$srvlog"
    return 1
  fi

  cd "$ROOT"
  TASKCHAT_URL=$url timeout 600 node --test --test-reporter=spec tests/js/*.test.mjs || rc=$?
  stop_server "$pid"
  ((rc == 0)) || show_log "$srvlog"
  return "$rc"
}

run_step "cargo fmt --check" cargo fmt --check
run_step "cargo clippy" cargo clippy --all-targets -- -D warnings
run_step "cargo build" cargo build
build_rc=$LAST_RC
if ((build_rc == 0)); then
  run_step "rust tests (sqlite + postgres)" rust_tests
else
  skip_step "rust tests (sqlite + postgres)" "build failed"
fi
# The assistant's own dialogue corpus: validated, then scored by category with the builtin assistant. The floor
# is the score it has reached (raise it as the assistant learns); falling below it fails.
EVAL_FLOOR=97
corpus() {
  python3 tests/dialogues/check.py >/dev/null
  "$TASKCHAT_BIN" eval --corpus tests/dialogues --models builtin --min-score "$EVAL_FLOOR" --show-failures 0
}
if ((build_rc == 0 || CUSTOM_BIN)); then
  run_step "dialogue corpus (builtin assistant, floor ${EVAL_FLOOR}%)" corpus
else
  skip_step "dialogue corpus (builtin assistant, floor ${EVAL_FLOOR}%)" "build failed"
fi
run_step "python deps (.venv)" py_deps
py_rc=$LAST_RC
if (((build_rc == 0 || CUSTOM_BIN) && py_rc == 0)); then
  run_step "python tests: MCP SDK, ChatKit types, two copies, metrics (sqlite + postgres)" py_tests
else
  skip_step "python tests: MCP SDK, ChatKit types, two copies, metrics (sqlite + postgres)" "build or pip failed"
fi
run_step "js deps (npm)" js_deps
npm_rc=$LAST_RC
for db in sqlite postgres; do
  if (((build_rc == 0 || CUSTOM_BIN) && npm_rc == 0)); then
    run_step "js tests on $db (better-auth client)" js_tests "$db"
  else
    skip_step "js tests on $db (better-auth client)" "build or npm failed"
  fi
done

# The web app in headless Chromium (tsc --checkJs too); run.sh installs what it needs and starts its server.
if ((build_rc == 0 || CUSTOM_BIN)); then
  run_step "web app: tsc --checkJs and browser tests (chromium)" env TASKCHAT_BIN="$TASKCHAT_BIN" bash tests/browser/run.sh
else
  skip_step "web app: tsc --checkJs and browser tests (chromium)" "build failed"
fi

# ---------------------------------------------------------------------------
# 4. Summary
# ---------------------------------------------------------------------------

printf '\n==> Summary (%ss total)\n' "$((SECONDS - T0))"
printf '  %s\n' "${SUMMARY[@]}"
if ((FAILED)); then
  printf '\nFAILED\n'
  exit 1
fi
printf '\nALL PASSED\n'
