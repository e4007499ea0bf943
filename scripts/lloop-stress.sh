#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop over backing filesystems that read their own metadata in the I/O path, cold and under
# memory pressure (tests/vm/lloop_stress.sh), in one 512 MiB guest with a 4 GiB virtio disk.
#
#   scripts/lloop-stress.sh [OUTDIR]   STRESS_SECONDS=N sets the pressure phase (120),
#                                      LLOOP_PARAMS="..." the module parameters
#
# Exits non-zero on a verification error, a hang (the guest dumps its blocked tasks and
# powers off), an OOM kill or any kernel report.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/vm/lloop-stress}
secs=${STRESS_SECONDS:-120}
mkdir -p "$out"
rm -f "$out/lloop-stress.txt"
img=$("$top/scripts/bench-img.sh" "$out" 4) || exit 1
trap 'rm -f "$img"' EXIT
VM_MEMORY=512M VM_TIMEOUT=$((secs + 1500)) \
	VM_QEMU_OPTS="-drive file=$img,if=virtio,format=raw,cache=unsafe" \
	bash "$top/scripts/vm.sh" "$out" \
	"LLOOP_PARAMS='${LLOOP_PARAMS:-}' STRESS_SECONDS=$secs bash tests/vm/lloop_stress.sh '$out' '$top/build/modules'" \
	>"$out/console.txt" 2>&1
rc=$?
cat "$out/lloop-stress.txt" 2>/dev/null || echo "lloop-stress: no result (see $out/console.txt)"
grep -E '^(vm|scan): ' "$out/console.txt" || true
exit $rc
