#!/usr/bin/env bash
# Smoke test of `cairn serve` with the stock Redis tools: starts the release
# build on a free loopback port over a temporary data directory, drives it
# with redis-cli and redis-benchmark, stops it with SIGTERM and checks that
# it exits 0 and left a sound store behind.
#
# Needs redis-cli and redis-benchmark (Debian package redis-tools); when they
# are missing and apt-get can be run as root, installs them. Run from anywhere
# inside the workspace; builds the release binary first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
requests="${SMOKE_REQUESTS:-20000}"

if ! command -v redis-benchmark >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "ci-smoke: installing redis-tools"
    apt-get update -qq >/dev/null && apt-get install -y -qq redis-tools >/dev/null
fi
for tool in redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "ci-smoke: $tool not found (apt-get install redis-tools)" >&2; exit 2; }
done

(cd "$root" && cargo build --release -p cairn-cli --bin cairn)
cairn="$target/release/cairn"

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$cairn" serve --bind 127.0.0.1 --port 0 --dir "$work/data" 2>"$work/log" &
pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/log" | head -n1)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "ci-smoke: server died" >&2; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/log" >&2; echo "ci-smoke: server did not start" >&2; exit 1; }
echo "ci-smoke: cairn serve on port $port (pid $pid)"

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
expect() {
    local want="$1"; shift
    local got
    got="$(cli "$@")"
    if [ "$got" != "$want" ]; then
        echo "ci-smoke: redis-cli $* gave '$got', expected '$want'" >&2
        exit 1
    fi
}

expect PONG PING
expect OK SET greeting "hello world"
expect "hello world" GET greeting
expect 1 EXISTS greeting
expect OK MSET user:1 ann user:2 bob user:3 cy
expect 1 INCR visits_x3
expect 1 DEL visits_x3
expect 2 DEL user:3 nothing greeting
expect "" GET greeting
expect 2 DBSIZE
scanned="$(cli --scan --pattern 'user:*' | tr '\n' ' ')"
[ "$scanned" = "user:1 user:2 " ] || { echo "ci-smoke: --scan gave '$scanned'" >&2; exit 1; }
cli INFO keyspace | grep -q '^db0:keys=2,' || { echo "ci-smoke: INFO keyspace wrong" >&2; cli INFO keyspace >&2; exit 1; }
cli INFO storage | grep -q '^puts:' || { echo "ci-smoke: INFO storage wrong" >&2; exit 1; }
cli FOO bar | grep -q "^ERR unknown command 'FOO'" || { echo "ci-smoke: unknown command reply wrong" >&2; exit 1; }
echo "ci-smoke: redis-cli session ok"

redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$requests" -P 16 -q
echo "ci-smoke: redis-benchmark ok"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
if [ "$status" -ne 0 ]; then
    cat "$work/log" >&2
    echo "ci-smoke: cairn serve exited with $status after SIGTERM" >&2
    exit 1
fi
grep -q "shut down cleanly" "$work/log" || { cat "$work/log" >&2; echo "ci-smoke: no clean shutdown" >&2; exit 1; }
[ "$("$cairn" get --dir "$work/data" user:1)" = "ann" ] || { echo "ci-smoke: data not durable" >&2; exit 1; }
"$cairn" check --dir "$work/data" >/dev/null || { echo "ci-smoke: check failed" >&2; exit 1; }
echo "ci-smoke: SIGTERM exit 0, data durable, check ok"
