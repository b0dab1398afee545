#!/usr/bin/env bash
# Run a command with the machine's clock as it will read at another moment, for the command and
# every process it starts (the app's subprocesses, the scheduler, Chromium): libfaketime (Debian's
# faketime package) shifts the wall clock by a fixed offset; the monotonic clock stays real, so
# timed waits (locks, Event.wait, selectors) keep their length.
#   tests/at_time.sh "2026-12-02 00:20" make test PYTEST_ARGS=--slow       # the moment is UTC
# The PostgreSQL server's own clock does not move (the app never reads it: times come from Python).
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 'YYYY-MM-DD HH:MM[:SS]' (UTC) command..." >&2; exit 2; fi
command -v faketime >/dev/null || { echo "$0: needs Debian's faketime (apt-get install -y faketime)" >&2; exit 2; }
at=$1; shift
offset=$(( $(date -u -d "$at UTC" +%s) - $(date -u +%s) ))
[ "$offset" -ge 0 ] && offset="+$offset"
echo "at_time: clock shifted by ${offset}s, now $(date -u -d "$at UTC" '+%Y-%m-%d %H:%M:%S UTC')" >&2
FAKETIME_DONT_FAKE_MONOTONIC=1 exec faketime -f "$offset" "$@"
