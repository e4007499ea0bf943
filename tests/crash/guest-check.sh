#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash test, second boot: the catalog written until the VM was killed must recover to a
# consistent prefix that holds every record reported durable, and indices must go on after
# every index handed out before the kill (none reused), the burst's included.
set -u
out=$1 mods=$2 top=$3
lctl=$top/tools/target/release/lctl
llog=$top/tools/target/release/llog_reader
. "$top/tests/lib/check.sh"
durable=$(tail -n 1 "$out/durable.log")
burst=$(cat "$out/burst.log" 2>/dev/null)
handed=$(tail -n 1 "$out/current.log" 2>/dev/null)
echo "last index handed out after the burst: ${burst:-none}; last seen before the kill: ${handed:-none}"
echo "last index reported durable before the kill: $durable"
mnt=$(mktemp -d)
dev=$(losetup -f --show "$out/crash.img") || { echo "FAIL: losetup"; exit 1; }
mount "$dev" "$mnt" || { echo "FAIL: mount (journal replay)"; exit 1; }
cat=$mnt/catalog.llog
"$llog" "$cat" >/dev/null 2>"$out/llog-before.err"
echo "llog_reader before attach: exit $? $(cat "$out/llog-before.err")"
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
pre_last=$("$llog" "$cat" 2>/dev/null | tail -n 1 | cut -d' ' -f1)
"$lctl" mdt_attach crash-MDT0000 "$mnt" "$cat" || { echo "FAIL: attach after crash"; exit 1; }
# Before anything touches the target (reading the catalog makes CLOSE records):
expect "durable index is the last record, not the reservation" "$pre_last" \
	"$("$lctl" get_param -n mdd.crash-MDT0000.changelog_durable_index)"
dmesg | grep "crash-MDT0000" | tail -n 3
if "$llog" "$cat" >"$out/records.txt" 2>"$out/llog-after.err"; then
	ok "catalog is consistent after attach (llog_reader exit 0)"
else
	bad "llog_reader after attach: $(cat "$out/llog-after.err")"
fi
n=$(wc -l <"$out/records.txt")
first=$(head -n 1 "$out/records.txt" | cut -d' ' -f1)
last=$(tail -n 1 "$out/records.txt" | cut -d' ' -f1)
echo "recovered records $first..$last ($n)"
[ "$first" = 1 ] && [ "$last" = "$n" ] && ok "indices 1..$last without gap" || bad "indices: first $first last $last count $n"
awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1 } END { exit bad }' "$out/records.txt" && ok "indices strictly increasing" || bad "indices out of order"
[ "$last" -ge "$durable" ] && ok "every record reported durable survived ($last >= $durable)" || bad "lost durable records: last $last < $durable"
# The file load after the burst, not the burst, must have made records durable: the kill is
# meant to land while it runs.
[ $((durable - ${burst:-0})) -gt 100 ] && ok "the load after the burst made $((durable - ${burst:-0})) records durable" ||
	bad "the load after the burst made too few records durable ($durable, burst up to ${burst:-?}) to mean anything"
[ "${burst:-0}" -ge 400000 ] && ok "the burst of 400,000 records got indices up to $burst" || bad "burst: last index '${burst:-}'"
cur=$("$lctl" get_param -n mdd.crash-MDT0000.changelog_current_index)
touch "$mnt/after-crash"
"$lctl" --device crash-MDT0000 changelog_sync
next=$("$llog" "$cat" | grep " after-crash$" | cut -d' ' -f1)
"$llog" "$cat" >/dev/null && ok "catalog with the index jump reads cleanly" || bad "llog_reader after the jump"
[ -n "$next" ] && [ "$next" -gt "$last" ] && [ "$next" -gt "$cur" ] && ok "next record gets $next, after every index handed out before ($cur)" || bad "next index '$next' (last $last, current $cur)"
[ -n "$next" ] && [ "$next" -gt "${handed:-0}" ] && ok "no index reused: $next is past the last index seen handed out before the kill (${handed:-0})" || bad "index reused: next '$next', handed out before the kill ${handed:-0}"
"$lctl" mdt_detach crash-MDT0000
rmmod rustre_mdt
umount "$mnt"
losetup -d "$dev"
exit $fail
