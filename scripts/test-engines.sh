#!/bin/sh
# Re-run the suite against the real PostgreSQL and MariaDB servers.
# An engine with an empty URL is not configured and is skipped. A configured engine that does not
# answer fails the run under CI=true (a wrong URL there must not pass as green); elsewhere it is
# skipped, and said so, so the project still passes on a machine without the servers.
set -u
status=0

# Print a URL with its password masked, so a failure can name it in a shared log.
shown() {
    printf '%s' "$1" | sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#'
}

engine() {
    name=$1 url=$2
    if [ -z "$url" ]; then
        echo "== $name: no URL configured, skipped"
        return
    fi
    if "$PY" scripts/db_answers.py "$url"; then
        echo "== suite on $name ($(shown "$url"))"
        DATABASE_URL="$url" "$PY" -m pytest -q || status=1
    elif [ "${CI:-}" = "true" ]; then
        echo "== FAILED: $name does not answer at $(shown "$url") (CI=true: a configured engine must answer)"
        status=1
    else
        echo "== SKIPPED: $name does not answer at $(shown "$url"); under CI=true this fails the run"
    fi
}

engine PostgreSQL "${PG_URL:-}"
engine MariaDB/MySQL "${MYSQL_URL:-}"
exit $status
