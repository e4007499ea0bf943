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
#                                            SWAP_DUMP_AFTER=N dumps tasks after N s of load,
#                                            SWAP_VERIFY=0|1 the verifying pass after the
#                                            load (on by default for the NFS drivers
#                                            and after a load with no verified pass),
#                                            SWAP_VERIFY_PCT=P its size (150),
#                                            SWAP_NFS_SERVER=guest|local where the NFS
#                                            server runs (guest), SWAP_NFS_LEAN=1 a lean
#                                            local server (tests/vm/swap.sh)
#
# The -nfs drivers put the swap file on NFSv4.2, attached to lloop or to loop with direct I/O;
# nfsfile enables the NFS file itself as swap (the kernel's swap over NFS). The server is a
# second guest by default (tests/vm/nfs_server.sh: 1 GiB, one processor, the disk), linked to
# the test guest by a QEMU socket network between two virtio NICs, as a diskless client
# would reach its server; SWAP_NFS_SERVER=local runs it in the test guest itself, where it
# competes for the memory the load exhausts (Documentation/lloop.rst, "Swap on an NFS file").
# Exits non-zero if an lloop run fails; the others are reported, not judged.
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
server=${SWAP_NFS_SERVER:-guest}
case $server in guest | local) ;; *) echo "swap-test: SWAP_NFS_SERVER must be guest or local" >&2; exit 2 ;; esac
# The load's time and margin, the verifying pass's margin (tests/vm/swap.sh), and setup.
vm_timeout=$(( ${SWAP_SECONDS:-90} + 1200 ))
nfs_runs=0
# The server guest of the current run: asked to stop through its output directory, killed
# (its whole session: vm.sh, vng, QEMU) if it has not stopped GRACE seconds later. Also on
# the way out of this script, however it ends.
spid= srv= sr=0
stop_server() { # stop_server GRACE
	[ -n "$spid" ] || return 0
	touch "$srv/stop"
	for _ in $(seq "$1"); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 1
	done
	if kill -0 "$spid" 2>/dev/null; then
		echo "swap-test: the NFS server guest did not stop within $1 s: killed"
		kill -- -"$spid" 2>/dev/null || kill "$spid" 2>/dev/null
	fi
	wait "$spid"
	sr=$?
	spid=
}
trap 'stop_server 5' EXIT
trap 'exit 130' INT TERM
for driver in $drivers; do
	img=$out/disk-$driver.img
	rm -f "$img" "$out/$driver/swap-$driver.txt"
	truncate -s 2G "$img"
	qemu_opts="-drive file=$img,if=virtio,format=raw,cache=unsafe"
	srv_note=
	if [[ $driver == *-nfs || $driver == nfsfile ]] && [ "$server" = guest ]; then
		nfs_runs=$((nfs_runs + 1))
		# The server guest first, with the disk, in a session of its own (so that it can be
		# killed whole); the test guest connects to its socket once it exports (a QEMU socket
		# netdev listens from QEMU's start). The MAC addresses are how the guests find their
		# NICs (tests/vm/nfs.sh, nfs_net).
		srv=$out/$driver-server
		rm -rf "$srv"
		mkdir -p "$srv"
		for _ in $(seq 20); do
			port=$((20000 + RANDOM % 20000))
			ss -Htln "sport = :$port" 2>/dev/null | grep -q . || break
		done
		sr=0
		VM_MEMORY=1G VM_CPUS=1 VM_TIMEOUT=$((vm_timeout + 900)) \
			VM_QEMU_OPTS="$qemu_opts -netdev socket,id=n0,listen=127.0.0.1:$port -device virtio-net-pci,netdev=n0,mac=52:54:00:00:02:01" \
			setsid bash "$top/scripts/vm.sh" "$srv" "NFS_SERVE_SECONDS=$(((vm_timeout + 300) * scale)) bash tests/vm/nfs_server.sh '$srv'" \
			>"$out/$driver-server.console" 2>&1 &
		spid=$!
		for _ in $(seq $((300 * scale))); do
			[ -e "$srv/ready" ] || ! kill -0 $spid 2>/dev/null && break
			sleep 2
		done
		if [ ! -e "$srv/ready" ]; then
			echo "$driver: the NFS server guest did not come up (see $out/$driver-server.console)"
			stop_server 5
			summary+=("$(printf '%-10s %s' "$driver" "FAIL: the NFS server guest did not come up (exit $sr)")")
			rm -f "$img"
			[[ $driver == lloop* ]] && rc=1
			continue
		fi
		qemu_opts="-netdev socket,id=n0,connect=127.0.0.1:$port -device virtio-net-pci,netdev=n0,mac=52:54:00:00:02:02"
	fi
	VM_MEMORY=$mem VM_TIMEOUT=$vm_timeout VM_QEMU_OPTS="$qemu_opts" \
		bash "$top/scripts/vm.sh" "$out/$driver" \
		"${SWAP_DUMP_AFTER:+SWAP_DUMP_AFTER=$SWAP_DUMP_AFTER }${SWAP_VERIFY:+SWAP_VERIFY=$SWAP_VERIFY }${SWAP_VERIFY_PCT:+SWAP_VERIFY_PCT=$SWAP_VERIFY_PCT }SWAP_NFS_SERVER=$server SWAP_NFS_LEAN=${SWAP_NFS_LEAN:-0} SWAP_SECONDS=${SWAP_SECONDS:-90} SWAP_LOAD_PCT=${SWAP_LOAD_PCT:-200} bash tests/vm/swap.sh '$out/$driver' '$top/build/modules' $driver" \
		>"$out/$driver.console" 2>&1
	r=$?
	if [ -n "$spid" ]; then
		stop_server $((120 * scale))
		cat "$srv/server.txt" 2>/dev/null
		tail -n 3 "$out/$driver-server.console" | grep '^vm: ' || true
		# A kernel report or failure in the server guest fails an lloop run as well.
		if [ $sr != 0 ]; then
			srv_note=" | server FAIL: exit $sr (see $out/$driver-server.console)"
			[[ $driver == lloop* ]] && r=1
		fi
	fi
	rm -f "$img"
	cat "$out/$driver/swap-$driver.txt" 2>/dev/null || echo "$driver: no result (see $out/$driver.console)"
	tail -n 3 "$out/$driver.console" | grep '^vm: ' || true
	if [[ $driver == lloop* ]] && [ $r != 0 ]; then rc=1; fi
	summary+=("$(printf '%-10s %s' "$driver" "$(grep -E '^(PASS|FAIL)' "$out/$driver/swap-$driver.txt" 2>/dev/null | head -n1 || true)")")
	[ $r = 0 ] || [[ ${summary[-1]} == *FAIL* ]] || [ -n "$srv_note" ] ||
		summary[-1]+="FAIL: guest exit $r ($(grep -E '^vm: FAIL' "$out/$driver.console" | head -n1))"
	summary[-1]+=" | $(grep -E '^stress-ng exit' "$out/$driver/swap-$driver.txt" 2>/dev/null | head -n1)$srv_note"
done
where=
[ $nfs_runs = 0 ] || where=", NFS server: a second guest"
[[ $server == local && $drivers == *nfs* ]] && where=", NFS server: in the test guest"
echo "swap, load ${SWAP_LOAD_PCT:-200} % of free memory$where:"
printf '  %s\n' "${summary[@]}"
exit $rc
