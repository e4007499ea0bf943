#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Catalogs with valid checksums and hostile contents (tools/llog-reader/src/bin/llog_craft.rs)
# attached and read, in the VM: records of unknown types (32 and more once panicked the
# device's producer when a reader had set a filter), a name length past any record, an index
# going backwards, a frame swallowing the next one, indices past what the reservation can
# follow. Each must be attached with its damaged part dropped, or refused with an errno;
# what was read must be readable through the device and with llog_reader; the kernel log is
# checked for reports by the harness.
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
rel=$top/tools/target/release
lctl=$rel/lctl llog=$rel/llog_reader lfs=$rel/lfs craft=$rel/llog_craft
py=$(cd "$(dirname "$0")" && pwd)/changelog_chardev.py
. "$top/tests/lib/check.sh"
for t in "$lctl" "$llog" "$lfs" "$craft"; do
	[ -x "$t" ] || { echo "skip: $t not built (make tools)"; exit 77; }
done

work=$(mktemp -d)
mkdir -p "$work/fs" "$work/cat"
mount -t tmpfs tmpfs "$work/fs"
mount -t tmpfs tmpfs "$work/cat"
cleanup() {
	rmmod changelog_chardev 2>/dev/null
	rmmod rustre_mdt 2>/dev/null
	umount "$work/fs" "$work/cat" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
insmod "$(find "$mods" -name changelog_chardev.ko | head -n1)" || exit 1
T=craft-MDT0000
dev=/dev/changelog-$T

# indices CATALOG-READER...: the record indices it prints, on one line.
indices_lfs() { timeout "$(scaled 60)" "$lfs" changelog $T | awk '{print $1}' | xargs; }
indices_dev() { timeout "$(scaled 60)" python3 "$py" filtered "$dev" 1 | xargs; }

# attach_kind KIND: crafts the catalog and attaches it; 0 if attached.
attach_kind() {
	rm -f "$work/cat/$1.llog"
	"$craft" "$1" $T "$work/cat/$1.llog" || { bad "$1: llog_craft"; return 1; }
	"$lctl" mdt_attach $T "$work/fs" "$work/cat/$1.llog"
}

# Unknown types are kept and read, through a user's filter too.
if attach_kind unknown-type; then
	ok "unknown-type: attached"
	expect "unknown-type: lfs changelog reads every record" "1 2 3 4 5 6" "$(indices_lfs)"
	# cl1 takes the target's mask, which names neither type: the filter skips both.
	expect "unknown-type: a reader filtered by cl1's mask skips them" "1 2 3 6" "$(indices_dev)"
	"$llog" "$work/cat/unknown-type.llog" >/dev/null && ok "unknown-type: llog_reader reads it" ||
		bad "unknown-type: llog_reader"
	"$lctl" mdt_detach $T || bad "unknown-type: detach"
else
	bad "unknown-type: attach refused"
fi

# Damage after record 3: attach drops it as a torn tail, keeps 1 to 3, appends after them.
for kind in huge-namelen index-backwards overlap; do
	if ! attach_kind $kind; then
		bad "$kind: attach refused"
		continue
	fi
	expect "$kind: records before the damage kept" "1 2 3" "$(indices_lfs)"
	touch "$work/fs/after-$kind"
	"$lctl" --device $T changelog_sync || bad "$kind: sync"
	new=$("$llog" "$work/cat/$kind.llog" | grep " 01CREAT .* after-$kind\$" | cut -d' ' -f1)
	[ -n "$new" ] && [ "$new" -gt 3 ] &&
		ok "$kind: appends continue after the dropped part (record $new)" ||
		bad "$kind: no CREAT of after-$kind after the kept records: '$new'"
	"$lctl" mdt_detach $T || bad "$kind: detach"
	rm -f "$work/fs/after-$kind"
done

# Indices the reservation cannot follow: refused with EOVERFLOW, nothing changed.
for kind in index-max next-max; do
	"$craft" $kind $T "$work/cat/$kind.llog" || { bad "$kind: llog_craft"; continue; }
	sum=$(md5sum <"$work/cat/$kind.llog")
	expect_fail "$kind: attach refused" "Value too large" \
		"$lctl" mdt_attach $T "$work/fs" "$work/cat/$kind.llog"
	expect "$kind: catalog left as it was" "$sum" "$(md5sum <"$work/cat/$kind.llog")"
done
exit $fail
