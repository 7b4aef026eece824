# Sourced by the bench scripts: a private temp folder ($tmp) and a private
# PostgreSQL server ($pg_url, tools/pg_server.sh), both removed on exit.
#   . bench/bench_env.sh NAME        (NAME: a word for the temp folders' names)
tmp="$(mktemp -d "/tmp/lab-$1-XXXXXX")"
chmod 755 "$tmp"  # The server runs as an unprivileged user and must reach it.
pg_state="$(mktemp -d "/tmp/lab-$1-pg-XXXXXX")"
cleanup() { "$root/tools/pg_server.sh" stop "$pg_state" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$root/tools/pg_server.sh" start "$pg_state" >/dev/null
pg_url="$(cat "$pg_state/url")"
