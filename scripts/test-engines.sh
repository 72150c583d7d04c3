#!/bin/sh
# Re-run the suite against the real PostgreSQL and MariaDB servers when they answer; skip (and say
# so) when they do not, so the project still passes on a machine without them.
set -u
status=0
if "$PY" scripts/db_answers.py "$PG_URL"; then
    echo "== suite on PostgreSQL ($PG_URL)"
    DATABASE_URL="$PG_URL" "$PY" -m pytest -q || status=1
else
    echo "== PostgreSQL does not answer at $PG_URL: skipped"
fi
if "$PY" scripts/db_answers.py "$MYSQL_URL"; then
    echo "== suite on MariaDB/MySQL ($MYSQL_URL)"
    DATABASE_URL="$MYSQL_URL" "$PY" -m pytest -q || status=1
else
    echo "== MariaDB/MySQL does not answer at $MYSQL_URL: skipped"
fi
exit $status
