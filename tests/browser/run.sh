#!/usr/bin/env bash
# Tests of the web app, self-sufficient:  bash tests/browser/run.sh
#
# 1. Installs what is missing: Debian's chromium, the sqlite3 CLI (the tests end a session in the database),
#    the Inter font (so screenshots look the same on every machine), and the npm packages of this folder
#    (playwright-core, typescript).
# 2. Type-checks web/**/*.js with tsc --checkJs --strict (tsconfig.json here).
# 3. Starts `taskchat serve` (target/debug/taskchat, or $TASKCHAT_BIN) on a free port with a temp data dir and
#    the builtin assistant, runs the browser tests (node --test, *.test.mjs here) against it, stops it.
# Screenshots go to docs/screenshots/. Exits non-zero if anything failed. KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'tests/browser/run.sh: %s\n' "$*" >&2; exit 1; }

# ---- 1. prerequisites -----------------------------------------------------------------------------------

command -v node >/dev/null || die "Node.js (>= 20) is required"
command -v npm >/dev/null || die "npm is required"
need=()
[[ -x $CHROMIUM ]] || need+=(chromium)
command -v sqlite3 >/dev/null || need+=(sqlite3)
[[ -d /usr/share/fonts/opentype/inter ]] || need+=(fonts-inter)
if ((${#need[@]})); then
  log "Installing missing packages: ${need[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${need[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  [[ -x $CHROMIUM ]] || die "chromium was installed but $CHROMIUM is missing"
fi

log "npm packages (tests/browser)"
cd "$HERE"
# npm ci wipes node_modules; skip it when nothing changed since last time.
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
have=$(cat node_modules/.taskchat-stamp 2>/dev/null || true)
if [[ ! -f package-lock.json || $want != "$have" ]]; then
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --prefer-offline
  else
    npm install --no-audit --no-fund
  fi
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 >node_modules/.taskchat-stamp
else
  echo "node_modules up to date"
fi

FAILED=0

# ---- 2. type check --------------------------------------------------------------------------------------

log "tsc --noEmit --checkJs --strict over web/**/*.js"
if npx --no-install tsc -p tsconfig.json; then
  echo "tsc: no errors"
else
  echo "tsc: type errors in web/ (above)" >&2
  FAILED=1
fi

# ---- 3. the server and the browser tests ----------------------------------------------------------------

BIN=${TASKCHAT_BIN:-}
if [[ -z $BIN ]]; then
  log "cargo build"
  (cd "$ROOT" && cargo build --quiet)
  BIN=$ROOT/target/debug/taskchat
fi
[[ -x $BIN ]] || die "no server binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/taskchat-browser.XXXXXX")
PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  if [[ ${KEEP_TMP:-} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://127.0.0.1:$port"
data="$WORK/data"
mkdir -p "$data"
secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')

log "Starting taskchat on $url"
# cwd = the data dir, so a developer's ./.env cannot leak in; no model keys: the builtin assistant answers.
(cd "$data" && exec env -u DATABASE_URL -u OPENAI_API_KEY -u GEMINI_API_KEY -u TASKCHAT_MODELS \
  TASKCHAT_SECRET="$secret" TASKCHAT_RATE_LIMIT_MAX=1000 TASKCHAT_LOG=info,rmcp=warn \
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --base-url "$url") >"$WORK/server.log" 2>&1 &
PID=$!

ready=0
for _ in $(seq 1 100); do
  kill -0 "$PID" 2>/dev/null || break
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$url/readyz"; then
    ready=1
    break
  fi
  sleep 0.2
done
if ((!ready)); then
  echo "the server did not become ready; its log:" >&2
  tail -n 100 "$WORK/server.log" >&2
  exit 1
fi

log "Browser tests (headless Chromium)"
rc=0
TASKCHAT_URL=$url TASKCHAT_DB="$data/taskchat.db" CHROMIUM=$CHROMIUM SCREENSHOT_DIR="$ROOT/docs/screenshots" \
  timeout 600 node --test --test-reporter=spec --test-concurrency=1 "$HERE"/*.test.mjs 2>&1 | tee "$WORK/tests.log" ||
  rc=$?
if ((rc != 0)); then
  FAILED=1
  echo "----- server log (last 100 lines) -----" >&2
  tail -n 100 "$WORK/server.log" >&2
  # Last, so that a CI summary showing the end of the output shows which step failed and why.
  echo "----- failing tests -----" >&2
  sed -n '/failing tests:/,$p' "$WORK/tests.log" | head -n 80 >&2
fi

kill -TERM "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PID=

if ((FAILED)); then
  echo "tests/browser: FAILED" >&2
  exit 1
fi
echo "tests/browser: all passed"
