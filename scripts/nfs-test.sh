#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop on NFS files (tests/vm/lloop_nfs.sh): one 1 GiB guest with a 2 GiB virtio disk that
# the guest's own NFS server exports over 127.0.0.1.
#
#   scripts/nfs-test.sh [OUTDIR]
#
# Exits non-zero on a failed check, a hang (the guest is killed at its time limit) or any
# kernel report.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/vm/nfs}
mkdir -p "$out"
rm -f "$out/lloop-nfs.txt"
img=$("$top/scripts/bench-img.sh" "$out" 2) || exit 1
trap 'rm -f "$img"' EXIT
VM_MEMORY=1G VM_TIMEOUT=${VM_TIMEOUT:-1200} \
	VM_QEMU_OPTS="-drive file=$img,if=virtio,format=raw,cache=unsafe" \
	bash "$top/scripts/vm.sh" "$out" "bash tests/vm/lloop_nfs.sh '$out' '$top/build/modules'" \
	>"$out/console.txt" 2>&1
rc=$?
cat "$out/lloop-nfs.txt" 2>/dev/null || echo "lloop-nfs: no result (see $out/console.txt)"
grep -E '^(vm|scan): ' "$out/console.txt" || true
exit $rc
