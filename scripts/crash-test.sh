#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Unclean-stop test of the changelog catalog: boot the VM, run a metadata load on a target,
# kill QEMU (SIGKILL) in the middle of it, boot again and check the recovered catalog
# (tests/crash/guest-*.sh). Exit 0 if every check passed.
#
#   scripts/crash-test.sh [OUTDIR]     default build/vm/crash
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/test-kernel.sh"
out=${1:-$top/build/vm/crash}
rm -rf "$out"
mkdir -p "$out"

truncate -s 256M "$out/crash.img"
mkfs.ext4 -q -F "$out/crash.img" || exit 1
: >"$out/durable.log"

# First boot: run the load, in the background, and kill QEMU once enough is durable.
# OUTDIR is the guest's read-write share: the image and durable.log must be in it.
VM_TIMEOUT=300 bash "$top/scripts/vm.sh" "$out" \
	"bash tests/crash/guest-load.sh '$out' '$top/build/modules' '$top'" >"$out/load.log" 2>&1 &
vm=$!
# The kill lands once the load after the burst (burst.log: the burst's last index) has made
# CRASH_AFTER_RECORDS records durable, whatever the burst took: a kill timed from the burst
# alone could land before the load made any (seen on a KASAN kernel on a busy host).
after=${CRASH_AFTER_RECORDS:-500}
# Up to 300 s for the boot and the load to get there, stretched on a KASAN kernel as
# scripts/vm.sh stretches its own timeouts ($scale, from scripts/test-kernel.sh above).
for _ in $(seq 1 $((600 * scale))); do
	b=$(cat "$out/burst.log" 2>/dev/null)
	d=$(tail -n 1 "$out/durable.log" 2>/dev/null)
	[ -n "$b" ] && [ -n "$d" ] && [ "$d" -ge $((b + after)) ] && break
	if ! kill -0 $vm 2>/dev/null; then
		echo "crash-test: FAIL: the first boot ended before the load was under way"
		grep -vE '^\[' "$out/load.log" | tail -n 20
		exit 1
	fi
	sleep 0.5
done
sleep 1.3 # in the middle of a flush period, with records in flight
pids=$(pgrep -f "qemu-system.*$out") || true
if [ -z "$pids" ]; then
	echo "crash-test: FAIL: no QEMU to kill (the load did not start?)"
	tail -n 30 "$out/load.log"
	exit 1
fi
echo "crash-test: durable index $(tail -n 1 "$out/durable.log"); killing QEMU ($pids)"
kill -9 $pids
wait $vm
mv "$out/console.log" "$out/load-console.log"
# The first boot must not have shown a kernel report before the kill.
if ! "$top/scripts/scan-log.sh" "$out/load-console.log"; then
	echo "crash-test: FAIL: kernel report during the load"
	exit 1
fi

# Second boot: recover and check. The limit only catches a hang: the boot reads the catalog
# of about 401,000 records five times with llog_reader (the pass whose output goes to the 9p
# share took 67 s under TCG), which took the boot past 300 s in a CI run of b6e7543.
if VM_TIMEOUT=600 bash "$top/scripts/vm.sh" "$out" \
	"bash tests/crash/guest-check.sh '$out' '$top/build/modules' '$top'" >"$out/check.log" 2>&1; then
	grep -E "^(ok|FAIL|last|recovered|llog)" "$out/check.log"
	echo "crash-test: ok"
	exit 0
fi
grep -E "^(ok|FAIL|last|recovered|llog)|vm:|scan:" "$out/check.log"
echo "crash-test: FAIL (see $out/check.log)"
exit 1
