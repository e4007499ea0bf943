#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The changelog device's read rate and follow-mode latency, in the VM (run by
# scripts/bench-changelog.sh). A benchmark, not a test: nothing is asserted.
#
# Read rate: N MARK records in a tmpfs target, read whole in each round, in an order that
# turns every round, by: the device with 4 KiB reads (liblustreapi's buffer) and with 64 KiB
# reads, the KUC pipe (the transport before LU-7659), `dd` of the raw catalog file at 64 KiB
# (the reader's ceiling: the same bytes, already in memory, with no parsing) and `dd` of
# /dev/zero at 64 KiB for as many bytes (a bare memory copy). Prints records/s of each and the
# ratios device/KUC and device/raw catalog.
#
# Follow-mode latency: a second, empty target; tools' changelog_bench latency (a reader
# blocked in read(), one in poll(), an inotify watch on the same directory as the anchor).
#
# PROFILE=1: also samples the whole guest with perf (cpu-clock, call graphs) while the device
# is read at 64 KiB, and prints the hottest symbols.
set -u
mods=$1 top=$2 n=${3:-500000} rounds=${4:-3} events=${5:-1000}
rel=$top/tools/target/release
mnt=$(mktemp -d) cat=$(mktemp -d) lat=$(mktemp -d)
mount -t tmpfs tmpfs "$mnt"
mount -t tmpfs tmpfs "$cat"
mount -t tmpfs tmpfs "$lat"
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
insmod "$(find "$mods" -name changelog_chardev.ko | head -n1)" || exit 1
"$rel/lctl" mdt_attach bench-MDT0000 "$mnt" "$cat/bench.llog" || exit 1
"$rel/lctl" --device bench-MDT0000 changelog_register -n >/dev/null
# Records as the capture makes them (jobid, uid/gid, NID): one real CREAT, copied n times is
# not possible, so MARK records with a 40-byte name stand in (about the same size).
"$rel/lctl" --device bench-MDT0000 changelog_mark "$n" 0123456789012345678901234567890123456789 >/dev/null
"$rel/lctl" --device bench-MDT0000 changelog_sync
bytes=$("$rel/lctl" get_param -n mdd.bench-MDT0000.changelog_size)
# shellcheck source=tests/bench/kernel_kind.sh
. "$top/tests/bench/kernel_kind.sh"
echo "records: kernel $(kernel_kind)"
echo "records: $n, $((bytes / n)) bytes each on average in the catalog ($bytes bytes)"

# secs KIND: runs one reader, prints its time in seconds (empty on failure).
secs() {
	local o
	case $1 in
	dev4k) o=$("$rel/changelog_bench" device bench-MDT0000 4096) ;;
	dev64k) o=$("$rel/changelog_bench" device bench-MDT0000 65536) ;;
	kuc) o=$("$rel/changelog_bench" kuc bench-MDT0000) ;;
	raw) o=$(LC_ALL=C dd if="$cat/bench.llog" of=/dev/null bs=64k 2>&1) ;;
	zero) o=$(LC_ALL=C dd if=/dev/zero of=/dev/null bs=64k count=$(((bytes + 65535) / 65536)) 2>&1) ;;
	esac
	case $1 in
	dev* | kuc)
		# Every record must have been read.
		[ "$(echo "$o" | awk '{ print $(NF - 4) }')" = "$n" ] || { echo "changelog_bench: $1: $o" >&2; return; }
		echo "$o" | awk '{ print $(NF - 1) }'
		;;
	*) echo "$o" | awk '/copied/ { for (i = 1; i < NF; i++) if ($(i + 1) == "s,") print $i }' ;;
	esac
}

kinds=(dev4k dev64k kuc raw zero)
for round in $(seq 1 "$rounds"); do
	declare -A t=()
	for j in 0 1 2 3 4; do
		k=${kinds[$(((j + round - 1) % 5))]}
		t[$k]=$(secs "$k")
	done
	awk -v r="$round" -v n="$n" -v d4="${t[dev4k]}" -v d64="${t[dev64k]}" -v kuc="${t[kuc]}" \
		-v raw="${t[raw]}" -v zero="${t[zero]}" 'BEGIN {
		if (d4 == "" || d64 == "" || kuc == "" || raw == "" || zero == "") { print "round " r ": a reader failed"; exit }
		printf "round %d: records/s: device 4k %.0f, device 64k %.0f, KUC %.0f, raw catalog %.0f, memory copy %.0f; ", r, n / d4, n / d64, n / kuc, n / raw, n / zero
		printf "device/KUC 4k x%.2f, 64k x%.2f; device/raw catalog 4k %.2f, 64k %.2f\n", kuc / d4, kuc / d64, raw / d4, raw / d64
	}'
done

if [ "${PROFILE:-0}" = 1 ]; then
	# Debian's perf wrapper looks for a perf of the running kernel's version: call the binary.
	perf=$(ls /usr/bin/perf_* /usr/lib/linux-tools-*/perf 2>/dev/null | tail -n1)
	perf=${perf:-perf}
	p=$(mktemp -d)
	if "$perf" record -q -a -g -e cpu-clock -F 2000 -o "$p/perf.data" -- \
		"$rel/changelog_bench" device bench-MDT0000 65536 >/dev/null 2>"$p/err"; then
		"$perf" report -i "$p/perf.data" --stdio --no-children --sort symbol --percent-limit 1 \
			2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 40 | sed 's/^/profile: /'
	else
		echo "profile: perf record failed: $(head -n 3 "$p/err")"
	fi
	rm -rf "$p"
fi
"$rel/lctl" mdt_detach bench-MDT0000

"$rel/lctl" mdt_attach lat-MDT0000 "$lat" "$cat/lat.llog" || exit 1
"$rel/lctl" --device lat-MDT0000 changelog_register -n >/dev/null
# Creates only: the writer's close() must not make a CLOSE record (and a flush) of its own.
"$rel/lctl" set_param mdd.lat-MDT0000.changelog_mask=CREAT >/dev/null
mkdir "$lat/d"
"$rel/changelog_bench" latency lat-MDT0000 "$lat/d" "$events"
"$rel/lctl" mdt_detach lat-MDT0000
rmmod changelog_chardev rustre_mdt
umount "$mnt" "$cat" "$lat"
