#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Changelog device against the KUC pipe baseline, in the VM (run by
# scripts/bench-changelog.sh): N MARK records in a tmpfs target, read whole through each
# transport, alternately. A benchmark, not a test: nothing is asserted.
set -u
mods=$1 top=$2 n=${3:-500000} rounds=${4:-3}
rel=$top/tools/target/release
mnt=$(mktemp -d) cat=$(mktemp -d)
mount -t tmpfs tmpfs "$mnt"
mount -t tmpfs tmpfs "$cat"
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
insmod "$(find "$mods" -name changelog_chardev.ko | head -n1)" || exit 1
"$rel/lctl" mdt_attach bench-MDT0000 "$mnt" "$cat/bench.llog" || exit 1
"$rel/lctl" --device bench-MDT0000 changelog_register -n >/dev/null
# Records as the capture makes them (jobid, uid/gid, NID): one real CREAT, copied n times is
# not possible, so MARK records with a 40-byte name stand in (about the same size).
"$rel/lctl" --device bench-MDT0000 changelog_mark "$n" 0123456789012345678901234567890123456789 >/dev/null
"$rel/lctl" --device bench-MDT0000 changelog_sync
echo "records: $n, $(( $("$rel/lctl" get_param -n mdd.bench-MDT0000.changelog_size) / n )) bytes each on average in the catalog"
"$rel/changelog_bench" bench-MDT0000 "$rounds"
"$rel/lctl" mdt_detach bench-MDT0000
rmmod changelog_chardev rustre_mdt
umount "$mnt" "$cat"
