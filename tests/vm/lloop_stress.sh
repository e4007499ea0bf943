#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop over a backing filesystem that has to read its own metadata in the I/O path, in a
# small guest (started by scripts/lloop-stress.sh):
#
#   tests/vm/lloop_stress.sh OUTDIR MODDIR
#
# 1. Cold extent maps, on ext4 and on XFS on the guest's virtio disk: write a sparse 1 GiB
#    file through /dev/lloop0 (random writes of mixed sizes, so that its extent map spills
#    out of the inode), detach, remount the filesystem and drop the caches, attach again
#    and read it all back with
#    direct I/O, verifying every block. The filesystem must read extent-map blocks from its
#    disk while serving the reads; a driver that starts that I/O from inside the reader's
#    submit_bio hangs here.
# 2. The same under pressure for STRESS_SECONDS (default 120): rounds of fio verify
#    (direct, libaio, iodepth 32, 4 KiB-1 MiB) on lloop over ext4, each round first verifying
#    the previous one's data cold after a detach, a remount and a re-attach, while one task
#    drops the
#    caches every 0.2 s and another keeps most of the free memory busy.
#
# Every fio run has a deadline; one that misses it is a hang: the blocked tasks are dumped to
# the console and the guest is powered off, so that the run fails at once. Results go to
# OUTDIR/lloop-stress.txt. Kernel reports are checked by scripts/vm.sh.
set -u
out=$1 mods=$2
secs=${STRESS_SECONDS:-120}
res=$out/lloop-stress.txt
export PATH=$(cd "$(dirname "$0")/../.." && pwd)/tools/target/release:$PATH

fail() { echo "FAIL: $*" | tee -a "$res"; exit 1; }
say() { echo "$*" | tee -a "$res"; }
: >"$res"
[ -b /dev/vda ] || fail "no /dev/vda (the test needs a virtio disk)"
for t in fio stress-ng mkfs.ext4 mkfs.xfs lloop; do
	command -v $t >/dev/null || fail "$t not installed (make deps; make tools)"
done
# shellcheck disable=SC2086 # LLOOP_PARAMS are words
insmod "$(find "$mods" -name lloop.ko | head -n1)" ${LLOOP_PARAMS:-} || fail "insmod lloop ${LLOOP_PARAMS:-}"

# bounded SECONDS WHAT CMD...: runs CMD; if it has not finished after SECONDS (stretched by
# RUSTRE_TIMEOUT_SCALE, 3 on a KASAN kernel), it is hung: dump the blocked tasks, save the
# log and power the guest off.
bounded() {
	local limit=$(($1 * ${RUSTRE_TIMEOUT_SCALE:-1})) what=$2 pid n=0
	shift 2
	"$@" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		if [ $n -ge "$limit" ]; then
			say "FAIL: $what did not finish within $limit s (hung); blocked tasks follow"
			echo w >/proc/sysrq-trigger
			sleep 2
			dmesg >"$out/dmesg-hang.log"
			sync
			echo o >/proc/sysrq-trigger
			sleep 60
			exit 1
		fi
		sleep 1
		n=$((n + 1))
	done
	wait $pid
}

# fio_job DEV SEED SIZE EXTRA...: random writes of mixed sizes with crc32c verification data;
# with --verify_only, reads the region back and checks it.
fio_job() {
	local dev=$1 seed=$2 size=$3
	shift 3
	fio --name=stress --filename="$dev" --rw=randwrite --size="$size" \
		--bssplit=4k/40:16k/20:64k/20:256k/10:1m/10 --iodepth=32 --ioengine=libaio --direct=1 \
		--verify=crc32c --verify_fatal=1 --verify_state_save=0 --randseed="$seed" \
		--output-format=terse --terse-version=3 "$@" >"$out/fio-last.log" 2>&1 ||
		{ cat "$out/fio-last.log"; return 1; }
}

detach() { lloop detach "$1" || fail "lloop detach $1"; }
extents() { filefrag "$1" 2>/dev/null | awk '{print $2}'; }
remount() { umount /tmp/back && mount /dev/vda /tmp/back || fail "$1: remount"; }

# 1. Cold extent maps.
for fs in ext4 xfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F /dev/vda ;;
	xfs) mkfs.xfs -q -f /dev/vda ;;
	esac || fail "mkfs.$fs"
	mkdir -p /tmp/back && mount /dev/vda /tmp/back || fail "mount $fs"
	truncate -s 1G /tmp/back/file
	dev=$(lloop attach /tmp/back/file) || fail "$fs: lloop attach"
	[ "$(cat /sys/block/${dev#/dev/}/lloop/dio)" = 1 ] || fail "$fs: $dev does not use direct I/O"
	bounded 600 "$fs: write through $dev" fio_job "$dev" 7 256M || fail "$fs: fio write/verify on $dev"
	detach "$dev"
	n=$(extents /tmp/back/file)
	# Unmounting writes back and releases every metadata buffer (the journal keeps the
	# ones it wrote until a checkpoint, which dropping the caches does not release).
	remount $fs
	echo 3 >/proc/sys/vm/drop_caches
	[ "${n:-0}" -gt 4 ] || fail "$fs: the file has ${n:-?} extents: its map would fit in the inode"
	# Once with one request per io_submit (a direct issue from inside submit_bio: the
	# worker), once cold again with batches of 16 (queue_rq from the plug flush, in the
	# submitter). fio submits in batches only if it also reaps in batches: otherwise, once
	# the queue is full, each completion lets one request go.
	# submit_stats counts, since the device was created, the requests started in the
	# submitter, those sent to the worker, those tried and handed back, and those the worker
	# finished after a start in the submitter: the first must not grow with batches of 1 (a start from inside submit_bio is
	# the hang) and must grow with batches of 16 (the path that reads cold metadata inline).
	for batch in 1 16; do
		dev=$(lloop attach /tmp/back/file) || fail "$fs: lloop attach again"
		read -r in0 wk0 dc0 rq0 <"/sys/block/${dev#/dev/}/lloop/submit_stats" ||
			fail "$fs: no submit_stats for $dev"
		bounded 300 "$fs: cold read-back of $dev, io_submit batches of $batch" \
			fio_job "$dev" 7 256M --verify_only --iodepth_batch_submit=$batch \
			--iodepth_batch_complete_min=$batch ||
			fail "$fs: cold read-back of $dev (batches of $batch): verification failed"
		read -r in1 wk1 dc1 rq1 <"/sys/block/${dev#/dev/}/lloop/submit_stats"
		say "$fs: batches of $batch: requests started in the submitter $((in1 - in0)), sent to the worker $((wk1 - wk0)), tried and handed back $((dc1 - dc0)), finished by the worker after a short start $((rq1 - rq0))"
		case $batch in
		1) [ "$in1" -eq "$in0" ] || fail "$fs: $((in1 - in0)) requests started inside submit_bio (batches of 1)" ;;
		16) case " ${LLOOP_PARAMS:-} " in
			*" inline_submit=0 "* | *" inline_submit=n "* | *" inline_submit=N "*) ;;
			*) [ "$in1" -gt "$in0" ] ||
				fail "$fs: no request started in the submitter with batches of 16: the plug-flush path was not tested" ;;
			esac ;;
		esac
		detach "$dev"
		remount $fs
		echo 3 >/proc/sys/vm/drop_caches
	done
	umount /tmp/back || fail "umount $fs"
	say "PASS: $fs: 256 MiB written, detached, remounted, caches dropped, read back cold and verified twice (io_submit of 1 and of 16; file in ${n:-?} extents)"
done

# 2. Under pressure.
mkfs.ext4 -q -F /dev/vda && mount /dev/vda /tmp/back || fail "mkfs/mount ext4"
truncate -s 1G /tmp/back/file
avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
load=$((avail * 60 / 100))
say "pressure: ${secs} s, memory load ${load} MiB of ${avail} MiB available, caches dropped every 0.2 s"
(while :; do echo 3 >/proc/sys/vm/drop_caches; sleep 0.2; done) &
dropper=$!
# No timeout of its own (0: until killed): stop_load ends it, however long the last round.
stress-ng --vm 1 --vm-bytes ${load}M --vm-keep --verify --timeout 0 --temp-path /tmp \
	>"$out/stress-ng.log" 2>&1 &
filler=$!
stop_load() { kill $dropper $filler 2>/dev/null; wait $dropper $filler 2>/dev/null; }
trap stop_load EXIT
start=$(date +%s) round=0
while [ $(($(date +%s) - start)) -lt "$secs" ]; do
	round=$((round + 1))
	dev=$(lloop attach /tmp/back/file) || fail "round $round: lloop attach"
	if [ $round -gt 1 ]; then
		bounded 600 "round $round: cold verify on $dev" fio_job "$dev" $((round - 1)) 128M --verify_only ||
			fail "round $round: cold verify of round $((round - 1))'s data"
	fi
	bounded 600 "round $round: write and verify on $dev" fio_job "$dev" $round 128M ||
		fail "round $round: fio write/verify"
	detach "$dev"
	remount ext4
done
# The load must have been there all along: stress-ng that exited early (cannot allocate,
# killed) leaves a test without pressure.
kill -0 $filler 2>/dev/null ||
	fail "the memory load exited before the end: $(tail -n 3 "$out/stress-ng.log" | tr '\n' ' ')"
stop_load
trap - EXIT
grep -qi "verif.*fail\|bit errors\|miscompare" "$out/stress-ng.log" &&
	fail "the memory load reports verification errors (see $out/stress-ng.log)"
dmesg | grep -q "Out of memory: Killed process" && fail "OOM kill: $(dmesg | grep 'Out of memory' | head -n1)"
umount /tmp/back || fail "umount"
rmmod lloop || fail "rmmod lloop"
say "PASS: pressure: $round rounds of 128 MiB written and verified, each verified again cold, in $(($(date +%s) - start)) s"
