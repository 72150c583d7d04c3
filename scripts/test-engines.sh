#!/bin/sh
# Run the suite against the real PostgreSQL and MariaDB servers, and on SQLite too when SQLITE is set
# (`make test` sets it), all side by side.
# An engine with an empty URL is not configured and is skipped. A configured engine that does not
# answer fails the run under CI=true (a wrong URL there must not pass as green); elsewhere it is
# skipped, and said so, so the project still passes on a machine without the servers.
# The runs share no state (each has its own database, a private redis-server and temporary folders),
# and each spends much of its time waiting on its server, its subprocesses and loopback HTTP (each used
# under half a core when run alone), so side by side they finish sooner than one after the other.
set -u
status=0
logs=$(mktemp -d)
started=""

# Print a URL with its password masked, so a failure can name it in a shared log.
shown() {
    printf '%s' "$1" | sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#'
}

engine() {
    key=$1 name=$2 url=$3
    if [ -z "$url" ]; then
        echo "== $name: no URL configured, skipped"
        return
    fi
    if "$PY" scripts/db_answers.py "$url"; then
        echo "== suite on $name ($(shown "$url")): started; its output follows when every run ends"
        ( DATABASE_URL="$url" env -u SQLITE "$PY" -m pytest -q --durations=15 > "$logs/$key.log" 2>&1; echo $? > "$logs/$key.rc" ) &
        started="$started $key:$name"
    elif [ "${CI:-}" = "true" ]; then
        echo "== FAILED: $name does not answer at $(shown "$url") (CI=true: a configured engine must answer)"
        status=1
    else
        echo "== SKIPPED: $name does not answer at $(shown "$url"); under CI=true this fails the run"
    fi
}

# The suites' own test of this script runs it again: SQLITE must not reach them, or each run would
# start another whole SQLite suite (every run is started with it unset).
if [ -n "${SQLITE:-}" ]; then
    echo "== suite on SQLite: started; its output follows when every run ends"
    ( env -u DATABASE_URL -u SQLITE "$PY" -m pytest -q --durations=15 > "$logs/sqlite.log" 2>&1; echo $? > "$logs/sqlite.rc" ) &
    started="sqlite:SQLite"
fi
engine pg PostgreSQL "${PG_URL:-}"
engine mysql MariaDB/MySQL "${MYSQL_URL:-}"
wait
for entry in $started; do
    key=${entry%%:*} name=${entry#*:}
    echo "== suite on $name: output"
    cat "$logs/$key.log"
    if [ "$(cat "$logs/$key.rc" 2>/dev/null)" != 0 ]; then
        echo "== FAILED: the suite on $name"
        status=1
    fi
done
rm -rf "$logs"
exit $status
