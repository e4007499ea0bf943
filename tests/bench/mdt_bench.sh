#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Changelog capture cost, in the VM (run by scripts/bench-mdt.sh): a metadata-heavy load
# (create and delete N files) on a tmpfs, timed without a target and with a target attached
# and a changelog user registered, alternately, in the same boot. Prints the times, the
# slowdown and the records captured per second. A benchmark, not a test: nothing is asserted.
set -u
mods=$1 top=$2 n=${3:-100000} rounds=${4:-3}
lctl=$top/tools/target/release/lctl
mnt=$(mktemp -d) cat=$(mktemp -d)
mount -t tmpfs tmpfs "$mnt"
mount -t tmpfs tmpfs "$cat"
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1

load() { # prints elapsed seconds for creating and deleting $n files
	python3 - "$mnt" "$n" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t = time.monotonic()
for i in range(n):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n):
    os.unlink(f"{d}/f{i}")
print(f"{time.monotonic() - t:.2f}")
PY
}

echo "load: create and delete $n files on tmpfs, python3, $rounds rounds each"
for r in $(seq 1 "$rounds"); do
	off=$(load)
	"$lctl" mdt_attach bench-MDT0000 "$mnt" "$cat/bench.llog" || exit 1
	"$lctl" --device bench-MDT0000 changelog_register -n >/dev/null
	before=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index)
	t0=$(date +%s.%N)
	on=$(load)
	"$lctl" --device bench-MDT0000 changelog_sync
	t1=$(date +%s.%N)
	after=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index)
	size=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_size)
	"$lctl" mdt_detach bench-MDT0000
	rm -f "$cat/bench.llog"
	recs=$((after - before))
	awk -v r="$r" -v off="$off" -v on="$on" -v recs="$recs" -v t0="$t0" -v t1="$t1" -v size="$size" 'BEGIN {
		printf "round %d: capture off %.2f s, on %.2f s (x%.2f); %d records, %.0f records/s captured, %.0f records/s durable (incl. final sync), %.1f MiB catalog\n",
			r, off, on, on / off, recs, recs / on, recs / (t1 - t0), size / 1048576
	}'
done
rmmod rustre_mdt
umount "$mnt" "$cat"
