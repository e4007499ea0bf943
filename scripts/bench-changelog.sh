#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The changelog device's read rate against the KUC pipe, the raw catalog and a memory copy,
# and its follow-mode wake-up latency against inotify (tests/bench/changelog_bench.sh), in one
# VM boot.
#
#   scripts/bench-changelog.sh [RECORDS [ROUNDS [EVENTS]]]
#       default 500000 records, 3 rounds, 1000 follow-mode events per method;
#       PROFILE=1 adds a perf profile of the guest during a 64 KiB read
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/bench-changelog
# On the performance variant of the kernel (no debug checks, built once and cached:
# Documentation/build.rst); RUSTRE_PERF=0 measures on the test kernel instead.
export RUSTRE_PERF=${RUSTRE_PERF:-1}
make -C "$top" -s modules tools || exit 1
VM_TIMEOUT=${VM_TIMEOUT:-3600} VM_BENCH=1 bash "$top/scripts/vm.sh" "$out" \
	"PROFILE=${PROFILE:-0} bash tests/bench/changelog_bench.sh '$top/build/modules' '$top' ${1:-500000} ${2:-3} ${3:-1000}" |
	grep -E '^(records|round|latency|profile|changelog_bench)'
