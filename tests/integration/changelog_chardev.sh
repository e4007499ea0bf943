#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# /dev/changelog-<target> in the VM: records of real operations read through the device are
# byte-identical to the catalog; lfs changelog text, start/end records, seeks, clear,
# concurrent readers, follow mode in read and poll, O_NONBLOCK, killed readers, detach and
# rmmod with an open reader, bad input, and 1,000,000 records read by a reader killed and
# restarted at random points.
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
rel=$top/tools/target/release
lctl=$rel/lctl llog=$rel/llog_reader lfs=$rel/lfs
here=$(cd "$(dirname "$0")" && pwd)
py=$here/changelog_chardev.py
. "$top/tests/lib/check.sh"
for t in "$lctl" "$llog" "$lfs"; do
	[ -x "$t" ] || { echo "skip: $t not built (make tools)"; exit 77; }
done

work=$(mktemp -d)
mkdir -p "$work/fs" "$work/cat"
mount -t tmpfs tmpfs "$work/fs"
mount -t tmpfs tmpfs "$work/cat"
cleanup() {
	exec 3<&- 2>/dev/null
	pkill -9 -f "lfs changelog" 2>/dev/null
	sleep 0.5
	rmmod changelog_chardev 2>/dev/null
	rmmod rustre_mdt 2>/dev/null
	umount "$work/fs" "$work/cat" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
insmod "$(find "$mods" -name changelog_chardev.ko | head -n1)" || exit 1
T=lustre-MDT0000
dev=/dev/changelog-$T
"$lctl" mdt_attach $T "$work/fs" "$work/cat/cat.llog" || exit 1
[ -c "$dev" ] && ok "$dev created on attach" || bad "no $dev"
expect "device is root-only" "crw-------" "$(stat -c %A "$dev")"
"$lctl" --device $T changelog_register -n >/dev/null
"$lctl" --device $T changelog_register -n -u other >/dev/null

cd "$work/fs" || exit 1
touch a; mkdir d; ln a d/b; ln -s a s; mv a c; echo x >>c; truncate -s 0 c; chmod 700 c; rm d/b; rmdir d
cd / || exit 1
"$lctl" --device $T changelog_sync

# Byte-identical to the catalog (NID_BE readers get the stored format).
python3 "$py" dump "$dev" 0x10 >"$work/dev.bin" || bad "dump"
"$llog" --raw "$work/cat/cat.llog" >"$work/cat.bin"
cmp -s "$work/dev.bin" "$work/cat.bin" && ok "device records byte-identical to the catalog ($(stat -c %s "$work/dev.bin") bytes)" || bad "device and catalog differ"
# Readers without NID_BE get a 64-bit lnet_nid_t instead: same size, same text.
cat "$dev" >"$work/cat-plain.bin"
expect "plain read: same size" "$(stat -c %s "$work/cat.bin")" "$(stat -c %s "$work/cat-plain.bin")"
"$lfs" changelog $T >"$work/lfs.txt" || bad "lfs changelog"
"$llog" "$work/cat/cat.llog" >"$work/llog.txt"
cmp -s "$work/lfs.txt" "$work/llog.txt" && ok "lfs changelog prints what llog_reader prints" || bad "lfs changelog text differs: $(diff "$work/lfs.txt" "$work/llog.txt" | head -4)"
expect "records of the scripted operations" \
	"01CREAT 11CLOSE 02MKDIR 03HLINK 04SLINK 08RENME 11CLOSE 13TRUNC 11CLOSE 14SATTR 06UNLNK 07RMDIR" \
	"$(awk '{print $2}' "$work/lfs.txt" | xargs)"
n=$(wc -l <"$work/lfs.txt")

# Start record and end record.
expect "startrec 3 endrec 5" "3 4 5" "$("$lfs" changelog $T 3 5 | awk '{print $1}' | xargs)"
expect "startrec beyond the end: nothing" "" "$("$lfs" changelog $T $((n + 10)))"
# Seeks: forward only, by record index.
python3 "$py" seeks "$dev" && ok "seek semantics (forward, SEEK_CUR, EINVAL backwards and SEEK_END)" || bad "seeks"

# Two concurrent readers.
"$lfs" changelog $T >"$work/r1.txt" &
"$lfs" changelog $T >"$work/r2.txt" &
wait
cmp -s "$work/r1.txt" "$work/lfs.txt" && cmp -s "$work/r2.txt" "$work/lfs.txt" && ok "two concurrent readers see the same records" || bad "concurrent readers differ"

# Readers on two targets at once, each with its own position.
mkdir -p "$work/fs2"
mount -t tmpfs tmpfs "$work/fs2"
"$lctl" mdt_attach lustre-MDT0001 "$work/fs2" "$work/cat/cat2.llog" || bad "attach a second target"
"$lctl" --device lustre-MDT0001 changelog_register -n >/dev/null
touch "$work/fs2/only-here"
"$lctl" --device lustre-MDT0001 changelog_sync
"$lfs" changelog lustre-MDT0001 >"$work/t2.txt" &
"$lfs" changelog $T 4 >"$work/t1.txt" &
wait
grep -q "01CREAT .* only-here$" "$work/t2.txt" && ! grep -q " only-here$" "$work/t1.txt" &&
	[ "$(head -n1 "$work/t1.txt" | cut -d' ' -f1)" = 4 ] && ok "readers of two targets, each its own records and position" || bad "two targets"
"$lctl" mdt_detach lustre-MDT0001 || bad "detach the second target"
[ -e /dev/changelog-lustre-MDT0001 ] && bad "second device left behind" || ok "second device removed"
umount "$work/fs2"

# Clear, then reread: records up to 5 are gone once both users cleared them.
"$lfs" changelog_clear $T cl1 5 || bad "clear cl1 5"
"$lfs" changelog_clear $T cl2-other 5 || bad "clear cl2-other 5"
expect "after clear the first record is 6" 6 "$("$lfs" changelog $T | head -n1 | awk '{print $1}')"
expect_fail "clear beyond the current index" "record out of range" "$lfs" changelog_clear $T cl1 $((n + 100))
expect_fail "clear an unknown user" "no changelog user" "$lfs" changelog_clear $T cl7 1
python3 "$py" badwrites "$dev" && ok "bad clear strings: EINVAL" || bad "bad clear strings"

# Follow mode: a new record wakes a reader blocked in read() and one blocked in poll().
"$lfs" changelog --follow $T >"$work/follow.txt" &
fpid=$!
python3 "$py" pollwait "$dev" "$work/fs/polled" &
ppid=$!
sleep 2
touch "$work/fs/followed"
for _ in $(seq 1 50); do grep -q " followed$" "$work/follow.txt" && break; sleep 0.2; done
grep -q "01CREAT .* followed$" "$work/follow.txt" && ok "follow: blocked read woken by a new record" || bad "follow: no record"
wait $ppid && ok "follow: poll() woken by a new record" || bad "follow: poll"
kill -9 $fpid
wait $fpid 2>/dev/null
sleep 1
# A reader killed in the middle leaves no thread behind.
expect "no producer thread after the readers are gone" 0 "$(ps -e -o comm= | grep -c '^chlg_load')"
python3 "$py" nonblock "$dev" && ok "O_NONBLOCK: EAGAIN when empty, records, EOF" || bad "O_NONBLOCK"

# The KUC baseline sender, blocked on a full pipe, ends when the device is closed.
timeout "$(scaled 30)" python3 "$py" kucclose "$dev" && ok "KUC sender on a full pipe ends with the file" || bad "KUC sender close"
sleep 0.5
expect "no KUC sender thread left" 0 "$(ps -e -o comm= | grep -c '^kuc_send')"

# Detach and rmmod with an open reader.
exec 3<"$dev"
expect_fail "detach with an open reader" "Device or resource busy" "$lctl" mdt_detach $T
expect_fail "rmmod with an open reader" "in use" rmmod changelog_chardev
exec 3<&-
# Bad input.
expect_fail "non-root open" "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups cat "$dev"
python3 "$py" badinput "$dev" && ok "short buffer EINVAL, unknown ioctl ENOTTY, unknown filter user ENOENT, KUC into a non-writable or non-pipe fd EBADF" || bad "bad input"

# 1,000,000 records, a reader killed and restarted at random points, resuming after its last
# clear: every index exactly once after each resume point, none missing.
"$lctl" --device $T changelog_deregister cl2 >/dev/null
"$lfs" changelog_clear $T cl1 0
"$lctl" --device $T changelog_mark 1000000 bulk >/dev/null || bad "mark 1000000"
"$lctl" --device $T changelog_sync
python3 "$py" killer "$dev" "$rel/lfs" $T 1000000 && ok "1,000,000 records through random kills: no loss, no duplicate after resume" || bad "kill/resume"

"$lctl" mdt_detach $T || bad "detach"
[ -e "$dev" ] && bad "$dev still there after detach" || ok "$dev removed on detach"
rmmod changelog_chardev || bad "rmmod changelog_chardev"
exit $fail
