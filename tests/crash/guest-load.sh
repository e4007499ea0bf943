#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash test, first boot (run in the VM by scripts/crash-test.sh): attach a target on an ext4
# image with its catalog on that same filesystem, append a burst of 400,000 MARK records between
# two timer flushes, then create files as fast as possible, and publish the current and durable
# indices to OUT/current.log and OUT/durable.log (fsynced to the host) until the host kills
# the VM.
set -u
out=$1 mods=$2 top=$3
lctl=$top/tools/target/release/lctl
mnt=$(mktemp -d)
dev=$(losetup -f --show "$out/crash.img") || { echo "losetup failed"; exit 1; }
mount "$dev" "$mnt" || exit 1
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
"$lctl" mdt_attach crash-MDT0000 "$mnt" "$mnt/catalog.llog" || exit 1
"$lctl" --device crash-MDT0000 changelog_register -n >/dev/null || exit 1
# A burst of small records, far more than the index reservation covers (RESERVE_AHEAD in
# mdt/changelog.rs, 262,144), with the timer flush a minute away: the reservation on disk must
# be renewed before indices pass it, never overtaken.
"$lctl" set_param -n mdd.crash-MDT0000.changelog_sync_interval=60000 || exit 1
"$lctl" --device crash-MDT0000 changelog_mark 400000 burst || exit 1
"$lctl" get_param -n mdd.crash-MDT0000.changelog_current_index >"$out/burst.log"
sync "$out/burst.log"
"$lctl" set_param -n mdd.crash-MDT0000.changelog_sync_interval=50 || exit 1
mkdir "$mnt/d"
(
	i=0
	while :; do
		: >"$mnt/d/f$i"
		i=$((i + 1))
	done
) &
while :; do
	c=$("$lctl" get_param -n mdd.crash-MDT0000.changelog_current_index)
	d=$("$lctl" get_param -n mdd.crash-MDT0000.changelog_durable_index)
	echo "$c" >>"$out/current.log"
	echo "$d" >>"$out/durable.log"
	sync "$out/current.log" "$out/durable.log"
	sleep 0.2
done
