#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of HSM dispatch (tests/bench/hsm_bench.sh) in one VM boot: restore dispatch
# latency with archives pending, coordinator against upcall, upcall throughput by FIDs
# per invocation, what implicit restore's pre-content watch costs reads and opens of files
# that are not released, and the time to the first byte of a released file (implicit restore
# against an explicit one, and a resident read).
#
#   scripts/bench-hsm.sh [ARCHIVES [RESTORES [ROUNDS]]]     default 10000, 100, 2
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/bench-hsm
# On the performance variant of the kernel (no debug checks, built once and cached:
# Documentation/build.rst); RUSTRE_PERF=0 measures on the test kernel instead.
export RUSTRE_PERF=${RUSTRE_PERF:-1}
make -C "$top" -s modules tools || exit 1
VM_TIMEOUT=${VM_TIMEOUT:-3000} VM_BENCH=1 bash "$top/scripts/vm.sh" "$out" \
	"bash tests/bench/hsm_bench.sh '$top/build/modules' '$top' ${1:-10000} ${2:-100} ${3:-2}" |
	grep -E '^(setup|latency|throughput|precontent|first byte)'
