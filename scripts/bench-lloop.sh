#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of lloop against the kernel's loop driver with direct I/O and against the backing
# file itself, in one VM boot with a 4 GiB virtio disk (tests/bench/lloop_bench.sh).
#
#   scripts/bench-lloop.sh [SECONDS [ROUNDS [JOBS]]]   default 10 s per run, 3 rounds, all jobs
#
# JOBS picks jobs, e.g. "write:1M:8"; LLOOP_PARAMS in the environment are passed to insmod
# (e.g. LLOOP_PARAMS=submit_queues=1). BENCH_NFS=4.2 or BENCH_NFS=3 measures the three over a
# file on NFS of that version, served by the guest itself over 127.0.0.1. PROFILE=1 adds a
# perf profile of one more run of each job on each target.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/bench-lloop${BENCH_NFS:+-nfs$BENCH_NFS}
# On the performance variant of the kernel (no debug checks, built once and cached:
# Documentation/build.rst); RUSTRE_PERF=0 measures on the test kernel instead.
export RUSTRE_PERF=${RUSTRE_PERF:-1}
make -C "$top" -s modules tools || exit 1
mkdir -p "$out"
img=$("$top/scripts/bench-img.sh" "$out" 4) || exit 1
trap 'rm -f "$img"' EXIT
echo "bench: disk image $img"
VM_TIMEOUT=${VM_TIMEOUT:-3000} VM_QEMU_OPTS="-drive file=$img,if=virtio,format=raw,cache=unsafe" \
	VM_BENCH=1 bash "$top/scripts/vm.sh" "$out" \
	"PROFILE=${PROFILE:-0} BENCH_NFS='${BENCH_NFS:-}' LLOOP_PARAMS='${LLOOP_PARAMS:-}' bash tests/bench/lloop_bench.sh '$top/build/modules' '$top' ${1:-10} ${2:-3} '${3:-}'" |
	grep -E '^(setup|nfs|run|result|paired|profile)'
rc=${PIPESTATUS[0]}
exit $rc
