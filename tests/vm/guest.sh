#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (started by scripts/vm.sh):
#
#   tests/vm/guest.sh test OUTDIR MODDIR   KUnit suites of every module, then integration tests
#   tests/vm/guest.sh demo OUTDIR MODDIR   load the modules and show them working
#
# RUSTRE_ONLY=NAME[,NAME...] (test mode) runs only the integration tests and the modules' KUnit
# suites it names (e.g. rustre_kunit,hsm_upcall),
# for a developer reproducing one failure.
#
# KUnit output of each module goes to OUTDIR/kunit-<module>.log (KTAP, parsed on the host);
# each integration test's output to OUTDIR/integration-<name>.log and its exit status to
# OUTDIR/integration-<name>.rc. OUTDIR/dmesg.log and OUTDIR/kmemleak.txt are scanned for kernel
# reports afterwards.
set -u
mode=$1 out=$2 mods=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# The abstraction tests first, then the modules of scripts/modules.txt.
MODNAMES=$(awk '!/^#/ && NF {print $1}' "$top/scripts/modules.txt" | xargs)
MODULES="rustre_kunit $MODNAMES"
MODRE=$(echo "$MODNAMES" | tr ' ' '|')

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

ko() { find "$mods" -name "$1.ko" | head -n1; }

# dmesg lines since line $1, without timestamps (KTAP parsers want a constant prefix).
dmesg_since() { dmesg -t | tail -n +"$(($1 + 1))"; }

kmemleak_check() {
	[ -w /sys/kernel/debug/kmemleak ] || { echo "kmemleak: not available" >"$out/kmemleak.txt"; return; }
	# Objects younger than 5 s are never reported; scan twice so transient ones settle.
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$out/kmemleak.txt"
}

# The rustre_fsnotify suite of rustre_kunit watches a real filesystem that allows pre-content
# events: a fresh ext4 at the path it names.
kunit_fs=/tmp/rustre-kunit-hsm
kunit_fs_up() {
	mkdir -p $kunit_fs
	truncate -s 64M /tmp/rustre-kunit-hsm.img
	mkfs.ext4 -q -F /tmp/rustre-kunit-hsm.img && mount -o loop /tmp/rustre-kunit-hsm.img $kunit_fs &&
		echo rustre >$kunit_fs/before ||
		echo "guest: no ext4 for the rustre_fsnotify KUnit suite (it fails)" | tee "$out/kunit-fs.err"
}
kunit_fs_down() {
	# A watch that a failed test left behind would keep the filesystem busy.
	! mountpoint -q $kunit_fs || umount $kunit_fs ||
		echo "guest: cannot unmount $kunit_fs after rustre_kunit" | tee -a "$out/kunit-rustre_kunit.err"
	rm -f /tmp/rustre-kunit-hsm.img
}

run_tests() {
	local m f start name rc deps d limit only
	dmesg -t >"$out/boot.log"
	only=,${RUSTRE_ONLY:-},
	# RUSTRE_ONLY names integration scripts and KUnit modules to run, the others are skipped.
	[ "$only" = ,, ] || MODULES=$(for m in $MODULES; do [[ $only == *,$m,* ]] && echo "$m"; done)
	for m in $MODULES; do
		f=$(ko "$m")
		if [ -z "$f" ]; then
			echo "guest: $m.ko not found in $mods" | tee "$out/kunit-$m.err"
			continue
		fi
		deps=$(awk -v m="$m" '$1 == m { for (i = 3; i <= NF; i++) print $i }' "$top/scripts/modules.txt")
		[ "$m" = rustre_kunit ] && kunit_fs_up
		for d in $deps; do insmod "$(ko "$d")"; done
		start=$(dmesg -t | wc -l)
		if ! insmod "$f"; then
			echo "guest: insmod $m failed" | tee "$out/kunit-$m.err"
			for d in $deps; do rmmod "$d"; done
			continue
		fi
		dmesg_since "$start" >"$out/kunit-$m.log"
		rmmod "$m" || echo "guest: rmmod $m failed" | tee "$out/kunit-$m.err"
		[ "$m" = rustre_kunit ] && kunit_fs_down
		for d in $(echo $deps | tr ' ' '\n' | tac); do rmmod "$d"; done
	done
	for f in "$top"/tests/integration/*.sh; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .sh)
		[ "$only" = ,, ] || [[ $only == *,$name,* ]] || continue
		echo "guest: integration $name"
		# A limit that only catches a hang: 600 s, or the script's "# time limit: N s" line.
		limit=$(sed -n 's/^# time limit: \([0-9]\+\) s$/\1/p' "$f" | head -n1)
		RUSTRE_MODDIR=$mods RUSTRE_TOP=$top timeout $((${limit:-600} * ${RUSTRE_TIMEOUT_SCALE:-1})) bash "$f" >"$out/integration-$name.log" 2>&1
		rc=$?
		echo $rc >"$out/integration-$name.rc"
		tail -n 20 "$out/integration-$name.log"
	done
	kmemleak_check
	dmesg >"$out/dmesg.log"
}

# A metadata target over a tmpfs, its changelog through the device and offline.
demo_changelog() {
	local bin=$top/tools/target/release data cat
	data=$(mktemp -d) cat=$(mktemp -d)
	mount -t tmpfs tmpfs "$data" && mount -t tmpfs tmpfs "$cat" || return 1
	(
		set -ex
		export PATH=$bin:$PATH
		lctl mdt_attach lustre-MDT0000 "$data" "$cat/mdt0.llog"
		lctl --device lustre-MDT0000 changelog_register
		ls -l /dev/changelog-lustre-MDT0000
		cd "$data"
		touch x; mkdir d; mv x d/y; ln -s d/y s; echo hi >>d/y; rm s
		lctl --device lustre-MDT0000 changelog_sync
		lfs changelog lustre-MDT0000
		lctl get_param mdd.lustre-MDT0000.changelog_users mdd.lustre-MDT0000.changelog_mask
		fid=$(lfs path2fid d/y)
		lfs fid2path lustre-MDT0000 "$fid"
		lfs changelog_clear lustre-MDT0000 cl1 0
		llog_reader --header "$cat/mdt0.llog"
		cd /
		lctl mdt_detach lustre-MDT0000
	) || return 1
	umount "$data" "$cat"
}

demo_hsm() {
	local bin=$top/tools/target/release data cat arc
	data=$(mktemp -d) cat=$(mktemp -d) arc=$(mktemp -d)
	# RELEASE needs a filesystem with pre-content events: ext4 on a sparse image.
	mount -t tmpfs tmpfs "$cat" || return 1
	truncate -s 64M "$cat/data.img" && mkfs.ext4 -q -F "$cat/data.img" &&
		mount -o loop "$cat/data.img" "$data" || return 1
	(
		set -ex
		export PATH=$bin:$top/tools/lhsm/scripts:$PATH LHSM_ARCHIVE_BASE=$arc/ LHSM_QUEUE=$cat/queue.db
		mkdir -p "$arc/1" /etc/rustre
		echo "queue=$cat/queue.db" >/etc/rustre/lhsm.conf
		install -m 0755 "$bin/lhsm_mdt_upcall" "$cat/lhsm_mdt_upcall"
		lctl mdt_attach lustre-MDT0000 "$data" "$cat/mdt0.llog"
		lctl --device lustre-MDT0000 changelog_register
		ls -l /dev/hsm-lustre-MDT0000
		lctl set_param mdt.lustre-MDT0000.hsm_control=enabled mdt.lustre-MDT0000.hsm.upcall_mask=ARCHIVE
		lctl set_param mdt.lustre-MDT0000.hsm.upcall_path="$cat/lhsm_mdt_upcall"
		seq 1 1000 >"$data/f"
		lfs hsm_archive "$data/f"
		lctl get_param mdt.lustre-MDT0000.hsm.upcall_stats
		lhsm_worker --once
		lfs hsm_state "$data/f"
		lfs hsm_release "$data/f"
		lfs hsm_state "$data/f"
		lfs hsm_restore "$data/f"
		lctl get_param mdt.lustre-MDT0000.hsm.actions
		lhsm_copytool --once lustre-MDT0000
		lfs hsm_state "$data/f"
		seq 1 1000 | cmp - "$data/f"
		lfs changelog lustre-MDT0000 | grep HSM
		lctl mdt_detach lustre-MDT0000
		rm -rf /etc/rustre
	) || return 1
	umount "$data" "$cat"
	rm -rf "$arc"
}

demo_lloop() {
	local bin=$top/tools/target/release w
	w=$(mktemp -d)
	mount -t tmpfs tmpfs "$w" || return 1
	mkdir "$w/mnt"
	(
		set -ex
		export PATH=$bin:$PATH
		truncate -s 128M "$w/disk.img"
		lloop attach "$w/disk.img"
		lloop list
		mkfs.ext4 -q /dev/lloop0
		mount /dev/lloop0 "$w/mnt"
		seq 1 100000 >"$w/mnt/numbers"
		umount "$w/mnt"
		e2fsck -fn /dev/lloop0
		lctl blockdev_info /dev/lloop0
		lloop detach /dev/lloop0
		lctl blockdev_attach "$w/disk.img" "$w/lldev"
		mount "$w/lldev" "$w/mnt"
		seq 1 100000 | cmp - "$w/mnt/numbers"
		umount "$w/mnt"
		lctl blockdev_detach "$w/lldev"
		lctl blockdev_info /dev/lloop0
	) || return 1
	umount "$w"
}

run_demo() {
	local m
	for m in $MODNAMES; do
		insmod "$(ko $m)" || return 1
	done
	echo "== loaded modules"
	grep -E "^($MODRE) " /proc/modules
	demo_changelog || return 1
	demo_hsm || return 1
	demo_lloop || return 1
	echo "== kernel log"
	dmesg -t | grep -E "^($MODRE):"
	for m in $(echo "$MODNAMES" | tr ' ' '\n' | tac); do
		rmmod "$m" || return 1
	done
	echo "== unloaded cleanly"
	kmemleak_check
	dmesg >"$out/dmesg.log"
}

case "$mode" in
test) run_tests ;;
demo) run_demo ;;
*) echo "usage: $0 test|demo OUTDIR MODDIR" >&2; exit 2 ;;
esac
