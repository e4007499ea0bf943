#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every module loads and unloads cleanly, repeatedly, and leaves nothing behind.
set -u
mods=$RUSTRE_MODDIR

fail() { echo "FAIL: $*"; exit 1; }
ko() { find "$mods" -name "$1.ko" | head -n1; }

modnames=$(awk '!/^#/ && NF {print $1}' "$RUSTRE_TOP/scripts/modules.txt")
for round in 1 2 3; do
	for m in $modnames; do
		deps=$(awk -v m="$m" '$1 == m { for (i = 3; i <= NF; i++) print $i }' "$RUSTRE_TOP/scripts/modules.txt")
		for d in $deps; do insmod "$(ko $d)" || fail "round $round: insmod $d for $m"; done
		insmod "$(ko $m)" || fail "round $round: insmod $m"
		grep -q "^$m " /proc/modules || fail "round $round: $m not in /proc/modules"
		rmmod "$m" || fail "round $round: rmmod $m"
		! grep -q "^$m " /proc/modules || fail "round $round: $m still loaded after rmmod"
		for d in $deps; do rmmod "$d" || fail "round $round: rmmod $d"; done
	done
done
echo "ok: $(echo $modnames | wc -w) modules loaded and unloaded three times"

# An out-of-range max_loop falls back to Lustre's default with a warning, as Lustre's lloop did.
insmod "$(ko lloop)" max_loop=1000 || fail "insmod lloop max_loop=1000"
dmesg | grep -q "max_loop=1000 out of range 1..256, using 16" || fail "no warning for max_loop=1000"
rmmod lloop || fail "rmmod lloop"
echo "ok: max_loop=1000 falls back to 16"

# A parameter of the wrong type is refused, not a crash.
if insmod "$(ko lloop)" max_loop=lots; then
	rmmod lloop
	fail "max_loop=lots accepted"
fi
echo "ok: max_loop=lots refused"
