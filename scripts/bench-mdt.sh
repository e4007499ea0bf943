#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Changelog capture cost against capture off, fatrace and inotifywait
# (tests/bench/mdt_bench.sh) in one VM boot.
#
#   scripts/bench-mdt.sh [FILES [ROUNDS]]     default 100000 files, 3 rounds;
#       PROFILE=1 adds a perf profile of the guest during one more captured load;
#       the VM's limit (VM_TIMEOUT) is 600 s plus 16 s per thousand files and round, the
#       profile counting as a round (one round of 100,000 files took 19-22 minutes here,
#       2026-12-03)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/bench-mdt
# On the performance variant of the kernel (no debug checks, built once and cached:
# Documentation/build.rst); RUSTRE_PERF=0 measures on the test kernel instead.
export RUSTRE_PERF=${RUSTRE_PERF:-1}
make -C "$top" -s modules tools || exit 1
VM_TIMEOUT=${VM_TIMEOUT:-$((600 + ${1:-100000} * (${2:-3} + ${PROFILE:-0}) * 16 / 1000))} VM_BENCH=1 bash "$top/scripts/vm.sh" "$out" \
	"PROFILE=${PROFILE:-0} bash tests/bench/mdt_bench.sh '$top/build/modules' '$top' ${1:-100000} ${2:-3}" |
	grep -E '^(load|round|profile|mdt_bench)'
