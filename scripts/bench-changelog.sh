#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of the changelog device against the pre-LU-7659 KUC pipe transport
# (tests/bench/changelog_bench.sh), in one VM boot.
#
#   scripts/bench-changelog.sh [RECORDS [ROUNDS]]     default 500000 records, 3 rounds
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/bench-changelog
make -C "$top" -s modules tools || exit 1
VM_TIMEOUT=${VM_TIMEOUT:-3000} bash "$top/scripts/vm.sh" "$out" \
	"bash tests/bench/changelog_bench.sh '$top/build/modules' '$top' ${1:-500000} ${2:-3}" |
	grep -E '^(records|round|changelog_bench)'
