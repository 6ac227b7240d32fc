#!/usr/bin/env bash
# The test suite under faked wall clocks (issue 24): no test may depend on the hour it runs at.
#
#   tests/faked_clock.sh                      # the whole suite at each clock below, with -n 2
#   tests/faked_clock.sh tests/test_web_cli.py -x     # some tests only (any pytest arguments)
#   CLOCKS="2026-12-07T09:05:00-05:00" tests/faked_clock.sh ...   # other clocks (ISO 8601 with an offset)
#
# Every Python process of the run (pytest, its xdist workers, each `scheduler ...` subprocess and `scheduler serve`)
# reads the wall clock as real time plus one offset (tests/faked_clock/sitecustomize.py, with time-machine): the
# clock starts at the chosen moment and ticks at the real rate, and the processes agree with each other. The
# monotonic clock stays real, so sleeps and timeouts keep their length.
# Not faked: PostgreSQL's clock (the server runs outside; only heartbeats on PostgreSQL use it, and they are judged
# against the same clock), Chromium's JavaScript clock, and file times. libfaketime was tried first and cannot run
# this suite: see docs/faked-clock.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
PYTHON=${PYTHON:-.venv/bin/python}
# 09:05 New York on a weekday (within the 15-minute grace of the weekday 09:00 slot); a minute before New York's
# midnight; a minute before New York's clocks skip from 02:00 to 03:00 (EST to EDT, 2027-03-14).
CLOCKS=${CLOCKS:-"2026-12-07T09:05:00-05:00 2026-12-07T23:59:00-05:00 2027-03-14T01:59:00-05:00"}
"$PYTHON" -c "import time_machine" 2>/dev/null || { echo "time-machine is missing: pip install -e '.[test]'" >&2; exit 2; }
[ $# -gt 0 ] || set -- -n 2 -p no:cacheprovider
status=0
for at in $CLOCKS; do
    offset=$("$PYTHON" -c "import sys, time; from datetime import datetime; print(datetime.fromisoformat(sys.argv[1]).timestamp() - time.time())" "$at")
    echo "=== wall clock $at (offset ${offset%.*} s), started $(date -u +%FT%TZ): pytest $*"
    PYTHONPATH="$PWD/tests/faked_clock${PYTHONPATH:+:$PYTHONPATH}" FAKED_CLOCK_OFFSET="$offset" \
        "$PYTEST" "$@"
    code=$?
    echo "=== wall clock $at: exit $code, ended $(date -u +%FT%TZ)"
    [ $code -eq 0 ] || status=$code
done
exit $status
