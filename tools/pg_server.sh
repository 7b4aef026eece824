#!/usr/bin/env bash
# A private PostgreSQL server for tests: never the machine's own cluster.
#
#   pg_server.sh start STATE_DIR   initdb into STATE_DIR/data, start on a Unix
#                                  socket in STATE_DIR only (no TCP), write
#                                  STATE_DIR/url and STATE_DIR/pid
#   pg_server.sh stop STATE_DIR    stop it by its pid (fast shutdown), remove STATE_DIR
#   pg_server.sh restart-immediate STATE_DIR   crash-stop (-m immediate) and start again
#
# initdb refuses to run as root, so as root the server runs as the
# unprivileged `postgres` user (from Debian's postgresql package).
set -euo pipefail

cmd="${1:?usage: pg_server.sh start|stop|restart-immediate STATE_DIR}"
state="${2:?usage: pg_server.sh start|stop|restart-immediate STATE_DIR}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg_server: PostgreSQL server binaries not found (install Debian's postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_server() {
  as_owner "$bindir/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 \
    -o "-k $state -c listen_addresses= -c port=5432 -c fsync=on" start >/dev/null
  head -1 "$state/data/postmaster.pid" > "$state/pid"
}

case "$cmd" in
  start)
    rm -rf "$state"
    mkdir -p "$state"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$state"; fi
    as_owner "$bindir/initdb" -D "$state/data" -U postgres --auth=trust -E UTF8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; exit 1; }
    start_server
    echo "postgresql://postgres@/postgres?host=$state&port=5432" > "$state/url"
    echo "pg_server: started pid $(cat "$state/pid"), url $(cat "$state/url")"
    ;;
  stop)
    if [ -f "$state/pid" ]; then
      pid="$(cat "$state/pid")"
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$state"
    echo "pg_server: stopped"
    ;;
  restart-immediate)
    as_owner "$bindir/pg_ctl" -D "$state/data" -m immediate -w stop >/dev/null
    start_server
    ;;
  *)
    echo "usage: pg_server.sh start|stop|restart-immediate STATE_DIR" >&2
    exit 2
    ;;
esac
