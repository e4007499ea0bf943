#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Swap on lloop under memory pressure, and the same on the kernel's loop driver for
# comparison: one 256 MiB guest boot each (512 MiB on KASAN, below), with a 2 GiB virtio disk for the swap file (see
# tests/vm/swap.sh).
#
#   scripts/swap-test.sh [OUTDIR [DRIVERS]]   DRIVERS: "lloop loop" (default) or some of
#                                            lloop, loop, lloop-nfs, loop-nfs, nfsfile;
#                                            SWAP_SECONDS=N sets the load's duration (90),
#                                            SWAP_LOAD_PCT=P its size in % of free memory (200),
#                                            SWAP_NFS_LEAN=1 a lean NFS server (tests/vm/swap.sh)
#
# The -nfs drivers put the swap file on NFSv4.2 from the guest's own server, attached to lloop
# or to loop with direct I/O; nfsfile enables the NFS file itself as swap (the kernel's swap
# over NFS). Exits non-zero if an lloop run fails; the others are reported, not judged.
# `make test` runs lloop only: under this load the loop driver stalls until the guest's time
# limit. The last lines set the runs side by side.
#
# On the KASAN variant the guest has 512 MiB: KASAN's shadow (an eighth of memory), its
# quarantine and the larger kernel leave about 3 MiB of a 256 MiB guest, too little to boot
# udev. The load is a share of what is free, so it grows with the guest.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/test-kernel.sh"
mem=256M
[ "$kasan" = 1 ] && mem=512M
out=${1:-$top/build/vm/swap}
drivers=${2:-lloop loop}
mkdir -p "$out"
rc=0
summary=()
for driver in $drivers; do
	img=$out/disk-$driver.img
	rm -f "$img"
	truncate -s 2G "$img"
	VM_MEMORY=$mem VM_TIMEOUT=$(( ${SWAP_SECONDS:-90} + 600 )) \
		VM_QEMU_OPTS="-drive file=$img,if=virtio,format=raw,cache=unsafe" \
		bash "$top/scripts/vm.sh" "$out/$driver" \
		"SWAP_NFS_LEAN=${SWAP_NFS_LEAN:-0} SWAP_SECONDS=${SWAP_SECONDS:-90} SWAP_LOAD_PCT=${SWAP_LOAD_PCT:-200} bash tests/vm/swap.sh '$out/$driver' '$top/build/modules' $driver" \
		>"$out/$driver.console" 2>&1
	r=$?
	rm -f "$img"
	cat "$out/$driver/swap-$driver.txt" 2>/dev/null || echo "$driver: no result (see $out/$driver.console)"
	tail -n 3 "$out/$driver.console" | grep '^vm: ' || true
	if [[ $driver == lloop* ]] && [ $r != 0 ]; then rc=1; fi
	summary+=("$(printf '%-10s %s' "$driver" "$(grep -E '^(PASS|FAIL)' "$out/$driver/swap-$driver.txt" 2>/dev/null | head -n1 || true)")")
	[ $r = 0 ] || [[ ${summary[-1]} == *FAIL* ]] || summary[-1]+="FAIL: guest exit $r ($(grep -E '^vm: FAIL' "$out/$driver.console" | head -n1))"
	summary[-1]+=" | $(grep -E '^stress-ng exit' "$out/$driver/swap-$driver.txt" 2>/dev/null | head -n1)"
done
echo "swap, load ${SWAP_LOAD_PCT:-200} % of free memory:"
printf '  %s\n' "${summary[@]}"
exit $rc
