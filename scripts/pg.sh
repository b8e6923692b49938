#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   scripts/pg.sh start DIR   # init + start a cluster in DIR (created if missing)
#   scripts/pg.sh stop DIR    # stop it (no-op if not running)
#
# `start` prints one line on stdout, suitable for eval:
#   export TASKCHAT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres
# and writes the same line to DIR/env. Progress and errors go to stderr.
#
# The cluster is tuned for speed, not durability (fsync off etc.): never put
# data you care about in it. It listens on 127.0.0.1 only, with trust auth,
# and its unix socket lives inside DIR.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

# Prefer the Debian packaging's binaries: /usr/local/bin may hold a stray
# initdb of another major version, and initdb/pg_ctl/postgres must match.
find_bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
    echo "$d"
    return
  fi
  d=$(command -v initdb 2>/dev/null || true)
  [[ -n $d ]] || die "PostgreSQL server binaries not found (install the Debian package 'postgresql')"
  dirname "$(readlink -f "$d")"
}

# PostgreSQL refuses to run as root: run its tools as an unprivileged user
# that owns the cluster directory.
pg_user=""
if [[ $(id -u) -eq 0 ]]; then
  if id -u postgres >/dev/null 2>&1; then
    pg_user=postgres
  else
    pg_user=nobody
  fi
fi

as_pg() {
  if [[ -n $pg_user ]]; then
    runuser -u "$pg_user" -- "$@"
  else
    "$@"
  fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local bindir port url attempt
  bindir=$(find_bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Postgres wants a private (0700) data dir and needs to traverse DIR.
  chmod 0755 "$dir"
  if [[ -n $pg_user ]]; then chown "$pg_user" "$dir"; fi
  # The tools run as $pg_user, which may not be able to read the caller's cwd.
  cd "$dir"

  if [[ -f $dir/data/postmaster.pid ]] && as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    die "a cluster is already running in $dir (run: $0 stop $dir)"
  fi

  if [[ ! -f $dir/data/PG_VERSION ]]; then
    rm -rf "$dir/data"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Only the private socket and loopback TCP; nothing else may connect.
    cat >"$dir/data/pg_hba.conf" <<'EOF'
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  fi
  mkdir -p "$dir/sock"
  if [[ -n $pg_user ]]; then chown "$pg_user" "$dir/sock"; fi

  # A random port can be taken between the check and the bind: retry a few times.
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" && continue
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c max_connections=300 -c shared_buffers=64MB" start >&2; then
      break
    fi
    port=""
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    echo "pg.sh: start attempt $attempt failed, retrying" >&2
  done
  if [[ -z ${port:-} ]]; then
    tail -n 30 "$dir/postgres.log" >&2 || true
    die "could not start PostgreSQL"
  fi

  for _ in $(seq 1 100); do
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
    sleep 0.1
  done
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || {
    tail -n 30 "$dir/postgres.log" >&2 || true
    die "PostgreSQL started but is not accepting connections"
  }

  url="postgres://postgres@127.0.0.1:$port/postgres"
  echo "$port" >"$dir/port"
  echo "export TASKCHAT_TEST_DATABASE_URL=$url" >"$dir/env"
  echo "pg.sh: PostgreSQL ($("$bindir/postgres" --version | awk '{print $3}')) ready at $url" >&2
  echo "export TASKCHAT_TEST_DATABASE_URL=$url"
}

stop() {
  local bindir
  [[ -d $dir/data ]] || return 0
  bindir=$(find_bindir)
  cd "$dir"
  if as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    # Throwaway data: no need for a clean shutdown checkpoint.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 -s stop >&2
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
