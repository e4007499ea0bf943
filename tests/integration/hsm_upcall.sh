#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# HSM on a real target in the VM: parameters through lctl, files archived through the
# upcall (lhsm_mdt_upcall queue, lhsm_worker, lfs hsm_upcall, lhsm_worker_posix) and checked
# byte for byte, hsm_state, CL_HSM records through the changelog device, remove, release and
# restore through the coordinator and lhsm_copytool (on ext4 and XFS; release refused on
# tmpfs, which has no pre-content events, and while the file is open or mapped), and the faults: an
# upcall that fails, is missing, relative, group-writable, not executable or hangs, a worker
# killed mid-archive, a queue on a full filesystem, and a non-root user. Every archive runs
# the worker chain (several processes): 50 took 71-175 s and the batch of 100 246 s under TCG
# (RUSTRE_CHECK_TIMES=1 runs, 2026-12-03); the archives take most of the time.
# time limit: 1500 s
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
rel=$top/tools/target/release
. "$top/tests/lib/check.sh"
for t in lctl lfs lhsm_mdt_upcall lhsm_worker lhsm_copytool; do
	[ -x "$rel/$t" ] || { echo "skip: $rel/$t not built (make tools)"; exit 77; }
done
for t in mkfs.ext4 mkfs.xfs python3; do
	command -v $t >/dev/null || { echo "skip: $t is not installed (scripts/deps.sh installs it)"; exit 77; }
done
export PATH=$rel:$top/tools/lhsm/scripts:$PATH

# The main target is ext4 and the second XFS, both with pre-content events (RELEASE needs
# them); the third, tmpfs, has none. Sparse images on the guest's /tmp.
T=lustre-MDT0000 T2=lustre-MDT0001 T3=lustre-MDT0002 T4=aaa-MDT0000
work=$(mktemp -d)
fs=$work/fs arc=$work/arc db=$work/db
mkdir -p "$fs" "$work/cat" "$arc" "$db" "$work/xfs" "$work/tmpfs" "$work/full"
truncate -s 512M "$work/fs.img"
mkfs.ext4 -q -F "$work/fs.img"
mount -o loop "$work/fs.img" "$fs"
mount -t tmpfs tmpfs "$work/cat"
mount -t tmpfs tmpfs "$arc"
mount -t tmpfs tmpfs "$db"
# mkfs.xfs wants at least 300 MiB.
truncate -s 320M "$work/xfs.img"
mkfs.xfs -q -f "$work/xfs.img"
mount -o loop "$work/xfs.img" "$work/xfs"
mount -t tmpfs tmpfs "$work/tmpfs"
cleanup() {
	pkill -9 -f lhsm_copytool 2>/dev/null
	pkill -9 -f lhsm_worker 2>/dev/null
	pkill -9 -f "$work/hang" 2>/dev/null
	sleep 0.5
	lctl mdt_detach $T 2>/dev/null
	lctl mdt_detach $T2 2>/dev/null
	lctl mdt_detach $T3 2>/dev/null
	lctl mdt_detach $T4 2>/dev/null
	rmmod hsm_upcall changelog_chardev rustre_mdt 2>/dev/null
	umount "$fs" "$work/cat" "$arc" "$db" "$work/xfs" "$work/tmpfs" "$work/full" 2>/dev/null
	rm -rf "$work" /etc/rustre
}
trap cleanup EXIT
for m in rustre_mdt changelog_chardev hsm_upcall; do
	insmod "$(find "$mods" -name $m.ko | head -n1)" || exit 1
done
lctl mdt_attach $T "$fs" "$work/cat/c.llog" || exit 1
lctl --device $T changelog_register -n >/dev/null || bad "changelog_register"
dev=/dev/hsm-$T

# Parameters.
[ -c "$dev" ] && ok "$dev created on attach" || bad "no $dev"
expect "device is root-only" "crw-------" "$(stat -c %A "$dev")"
expect "hsm_control starts stopped" "mdt.$T.hsm_control=stopped" "$(lctl get_param mdt.$T.hsm_control)"
expect "upcall_mask starts empty" "mdt.$T.hsm.upcall_mask=" "$(lctl get_param mdt.$T.hsm.upcall_mask)"
expect "default_archive_id" "1" "$(lctl get_param -n mdt.$T.hsm.default_archive_id)"
expect "max_requests" "3" "$(lctl get_param -n mdt.$T.hsm.max_requests)"
echo x >"$fs/early"
expect_fail "requests while stopped" "Resource temporarily unavailable" lfs hsm_archive "$fs/early"
lctl set_param mdt.$T.hsm_control=enabled >/dev/null
expect "hsm_control enabled" "enabled" "$(lctl get_param -n mdt.$T.hsm_control)"
lctl set_param "mdt.*.hsm.upcall_mask=archive  Remove" >/dev/null
expect "upcall_mask reads back names" "ARCHIVE REMOVE" "$(lctl get_param -n mdt.$T.hsm.upcall_mask)"
expect_fail "upcall_mask refuses RESTORE" "Invalid argument" lctl set_param mdt.$T.hsm.upcall_mask=RESTORE
expect_fail "upcall_mask refuses unknown names" "Invalid argument" lctl set_param mdt.$T.hsm.upcall_mask="ARCHIVE FOO"
expect_fail "upcall_path must be absolute" "Invalid argument" lctl set_param mdt.$T.hsm.upcall_path=bin/up
expect_fail "max_requests 0 refused" "Invalid argument" lctl set_param mdt.$T.hsm.max_requests=0
expect_fail "bad hsm_control refused" "Invalid argument" lctl set_param mdt.$T.hsm_control=maybe
if command -v setpriv >/dev/null; then
	expect_fail "non-root cannot set parameters" "" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$rel/lctl" set_param mdt.$T.hsm.upcall_mask=ARCHIVE
	expect_fail "non-root cannot send requests" "Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$rel/lfs" hsm_archive "$fs/early"
else
	echo "skip: non-root checks (no setpriv)"
fi

# The upcall: a root-owned copy of lhsm_mdt_upcall, its queue set by the config file (the
# kernel runs it with an empty environment).
install -m 0755 "$rel/lhsm_mdt_upcall" "$work/lhsm_mdt_upcall"
mkdir -p /etc/rustre
echo "queue=$db/q.db" >/etc/rustre/lhsm.conf
lctl set_param mdt.$T.hsm.upcall_path="$work/lhsm_mdt_upcall" >/dev/null
expect "upcall_path reads back" "$work/lhsm_mdt_upcall" "$(lctl get_param -n mdt.$T.hsm.upcall_path)"
lctl set_param mdt.$T.hsm.upcall_batch=100 >/dev/null

# HSM_FILES (default 50; the issue's 1,000 with HSM_FILES=1000) files of random sizes. Each
# takes about 1.5 s through the worker chain under TCG.
n=${HSM_FILES:-50}
mkdir "$fs/d"
python3 - "$fs/d" "$n" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open(f"{d}/f{i}", "wb") as f:
        f.write(os.urandom(i * 37 % 9000 + 1))
PY
t0=$(date +%s.%N)
lfs hsm_archive "$fs"/d/f* || bad "hsm_archive of $n files"
t1=$(date +%s.%N)
stats=$(lctl get_param -n mdt.$T.hsm.upcall_stats)
expect "$n FIDs went to the upcall" "fids: $n" "$(echo "$stats" | grep '^fids')"
expect "in calls of 100 at most (upcall_batch)" "calls: $(((n + 99) / 100))" "$(echo "$stats" | grep '^calls')"
expect "nothing went to the coordinator" "" "$(lctl get_param -n mdt.$T.hsm.actions)"
echo "hsm_archive of $n FIDs through the upcall: $(echo "$t1 - $t0" | bc) s"
mkdir -p "$arc/1"
export LHSM_ARCHIVE_BASE=$arc/
t0=$(date +%s.%N)
LHSM_QUEUE=$db/q.db timeout "$(scaled $((n * 3 + 300)))" lhsm_worker --once --name w1 >"$work/worker.log" 2>&1 || bad "lhsm_worker: $(tail -3 "$work/worker.log")"
t1=$(date +%s.%N)
echo "lhsm_worker drained $n archives in $(echo "$t1 - $t0" | bc) s"
# Every archived copy, at its v1 path, against its file.
lfs path2fid "$fs"/d/f* >"$work/fids" || bad "path2fid"
same=$(python3 - "$work/fids" "$arc/1" <<'PY'
import sys
same = 0
for line in open(sys.argv[1]):
    path, fid = line.rsplit(": ", 1) if ": " in line else (None, line)
    fid = fid.strip()
    seq, oid, _ = (int(x, 16) for x in fid.strip("[]").split(":"))
    p = "%04x/%04x/%04x/%04x/%04x/%04x/%s" % (oid & 0xffff, (oid >> 16) & 0xffff, seq & 0xffff,
        (seq >> 16) & 0xffff, (seq >> 32) & 0xffff, (seq >> 48) & 0xffff, fid.strip("[]"))
    try:
        same += open(path, "rb").read() == open(f"{sys.argv[2]}/{p}", "rb").read()
    except OSError:
        pass
print(same)
PY
)
expect "every archived copy is byte-identical" "$n" "$same"
expect "hsm_state: exists archived, archive_id:1" "$n" \
	"$(lfs hsm_state "$fs"/d/f* | grep -c ': (0x00000009) exists archived, archive_id:1$')"
hsm_recs=$(lfs changelog $T | awk '$2 == "16HSM"' | wc -l)
expect "a CL_HSM record per archive, read through the device" "$n" "$hsm_recs"
expect "HSM records have the ARCHIVE event and no error" "" \
	"$(lfs changelog $T | awk '$2 == "16HSM" && $5 != "0x0"' | head -n1)"

# Remove through the upcall.
lfs hsm_remove "$fs"/d/f{1..10} || bad "hsm_remove"
LHSM_QUEUE=$db/q.db timeout "$(scaled 120)" lhsm_worker --once --name w2 >>"$work/worker.log" 2>&1 || bad "lhsm_worker (remove)"
expect "remove clears the state" "$fs/d/f1: (0x00000000), archive_id:1" "$(lfs hsm_state "$fs/d/f1")"
expect "remove deletes the archived copies" $((n - 10)) "$(find "$arc/1" -type f -name '0x*' | wc -l)"
expect "REMOVE events in the changelog" 10 \
	"$(lfs changelog $T | awk '$2 == "16HSM" && $5 == "0x200"' | wc -l)"

# Release, then restore through the coordinator and the copytool.
f=$fs/d/f50
cp "$f" "$work/f50.orig"
expect_fail "release refuses a file never archived" "Operation not permitted" lfs hsm_release "$fs/early"
lfs hsm_release "$f" || bad "hsm_release"
expect "released" "$f: (0x0000000d) released exists archived, archive_id:1" "$(lfs hsm_state "$f")"
expect "a released file keeps its size" "$(stat -c %s "$work/f50.orig")" "$(stat -c %s "$f")"
expect "a released file keeps no more than its first 4 KiB" "4" "$(du -k "$f" | cut -f1)"
expect "hsm_action of a file with no action" "$f: NOOP" "$(lfs hsm_action "$f")"
lfs hsm_restore "$f" || bad "hsm_restore"
expect "restore waits in the coordinator" "RESTORE" "$(lctl get_param -n mdt.$T.hsm.actions | grep -o 'action=RESTORE' | cut -d= -f2)"
expect "hsm_action: the restore waits" "$f: RESTORE waiting (from 0 to EOF)" "$(lfs hsm_action "$f")"
timeout "$(scaled 60)" lhsm_copytool --once $T 2>"$work/ct.log" || bad "lhsm_copytool restore: $(cat "$work/ct.log")"
cmp -s "$f" "$work/f50.orig" && ok "restore brings the data back" || bad "restored data differs"
expect "restored" "$f: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$f")"
echo more >>"$f"
expect "a write makes it dirty" "$f: (0x0000000b) exists dirty archived, archive_id:1" "$(lfs hsm_state "$f")"
expect_fail "a dirty file cannot be released" "Operation not permitted" lfs hsm_release "$f"

# RELEASE takes an exclusive lease: refused while anyone has the file open or mapped.
h=$fs/d/f49
cp "$h" "$work/h.orig"
exec 4<"$h"
expect_fail "release of a file open for reading" "Device or resource busy" lfs hsm_release "$h"
exec 4<&-
exec 4<>"$h"
expect_fail "release of a file open for writing" "Device or resource busy" lfs hsm_release "$h"
exec 4<&-
# mmap(2) through libc, not Python's mmap module, which keeps a duplicate of the descriptor.
python3 - "$h" "$work/mapped" <<'PY' &
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
fd = os.open(sys.argv[1], os.O_RDWR)
addr = libc.mmap(None, 4096, 3, 1, fd, 0)  # PROT_READ | PROT_WRITE, MAP_SHARED
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit("mmap: " + os.strerror(ctypes.get_errno()))
os.close(fd)
open(sys.argv[2], "w").close()
signal.pause()
PY
mapper=$!
t=0
while [ ! -e "$work/mapped" ] && [ $t -lt "$(scaled 100)" ]; do sleep 0.1; t=$((t + 1)); done
if [ -e "$work/mapped" ]; then
	ls -l /proc/$mapper/fd 2>/dev/null | grep -qF "$h" && bad "the mapper still has the file open" ||
		ok "the mapper has the file mapped and no descriptor of it"
	grep -qF "$h" /proc/$mapper/maps && ok "the mapping is there" || bad "no mapping of the file"
	expect_fail "release of a file mapped shared-writable, its descriptor closed" "Device or resource busy" \
		lfs hsm_release "$h"
else
	bad "the mapper did not map the file"
fi
kill $mapper
wait $mapper 2>/dev/null
expect "the refused releases left it archived" "$h: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$h")"
lfs hsm_release "$h" || bad "release once the file is closed and unmapped"
expect "and then it is released" "$h: (0x0000000d) released exists archived, archive_id:1" "$(lfs hsm_state "$h")"

# Implicit restore: an access to a released file waits for a RESTORE through the coordinator
# and a copytool, then goes on with the data; or fails with ENODATA, never reads zeros.
released="$h: (0x0000000d) released exists archived, archive_id:1"
restored="$h: (0x00000009) exists archived, archive_id:1"
# wait_state FILE STATE: waits (up to 60 s, scaled) for hsm_state to say STATE.
wait_state() {
	local t=0
	while [ "$(lfs hsm_state "$1")" != "$2" ] && [ $t -lt "$(scaled 300)" ]; do sleep 0.2; t=$((t + 1)); done
	[ "$(lfs hsm_state "$1")" = "$2" ]
}
# kmsg_mark: writes a unique line to the kernel log and prints it; since_mark LINE: the kernel
# log after it.
kmsg_mark() {
	local m="rustre-test-mark-$$-$SECONDS-$RANDOM"
	echo "$m" >/dev/kmsg
	echo "$m"
}
since_mark() { dmesg | sed -n "/$1/,\$p"; }
# restore_recs: how many CL_HSM RESTORE records without an error the changelog holds (a
# failed restore's record carries its error in the low bits, and is not counted).
restore_recs() { lfs changelog $T | awk '$2 == "16HSM" && $5 == "0x80"' | wc -l; }
# wait_recs N: waits (up to 10 s, scaled) for restore_recs to reach N: the record is appended
# just after the file's state is written, which is what ends the reader's wait.
wait_recs() {
	local t=0
	while [ "$(restore_recs)" -lt "$1" ] && [ $t -lt "$(scaled 100)" ]; do sleep 0.1; t=$((t + 1)); done
}
# copytool [WORKER]: starts lhsm_copytool on $T in the background ($ct) and waits (up to 60 s,
# scaled) until it is registered.
copytool() {
	local t=0
	lhsm_copytool $T "$@" 2>>"$work/ct.log" &
	ct=$!
	while ! lctl get_param -n mdt.$T.hsm.agents | grep -q uuid && [ $t -lt "$(scaled 300)" ]; do
		sleep 0.2
		t=$((t + 1))
	done
}
# rearchive: archives the (dirty) file again with the running copytool, then releases it.
rearchive() {
	lfs hsm_archive "$h" && wait_state "$h" "$restored" && lfs hsm_release "$h"
}
echo >/sys/fs/lustre/mdt/$T/hsm/upcall_mask
expect_fail "no copytool: a read fails" "No data available" cat "$h"
expect "and leaves the file released" "$released" "$(lfs hsm_state "$h")"
expect "and no restore queued" 0 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')"
printf '#!/bin/sh\n[ "$1" = RESTORE ] && sleep 8\nexec lhsm_worker_posix "$@"\n' >"$work/slow_restore"
chmod 755 "$work/slow_restore"
copytool "$work/slow_restore"
readers=()
r0=$(restore_recs)
for i in 1 2 3 4 5 6 7 8; do
	(cmp -s "$h" "$work/h.orig" && echo same >"$work/reader$i") &
	readers+=($!)
done
# All eight are waiting once eight cmp processes run while the restore does (8 s).
t=0
while [ "$(pgrep -c -f "cmp -s $h")" != 8 ] && [ $t -lt "$(scaled 100)" ]; do sleep 0.1; t=$((t + 1)); done
expect "eight readers waiting" 8 "$(pgrep -c -f "cmp -s $h")"
expect "eight readers, one RESTORE" 1 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')"
wait "${readers[@]}"
expect "the eight readers got the data" "same same same same same same same same" \
	"$(cat "$work"/reader[1-8] 2>/dev/null | xargs)"
expect "and the file is restored" "$restored" "$(lfs hsm_state "$h")"
wait_recs $((r0 + 1))
expect "one CL_HSM RESTORE record for the eight" $((r0 + 1)) "$(restore_recs)"
# Readers of many files: a RESTORE each, no more than max_requests (3) handed out at once.
mkdir -p "$fs/m"
for i in 1 2 3 4 5 6; do head -c $((i * 5000)) /dev/urandom >"$fs/m/$i"; cp "$fs/m/$i" "$work/m$i.orig"; done
lfs hsm_archive "$fs"/m/* || bad "archive of six files"
for i in 1 2 3 4 5 6; do
	wait_state "$fs/m/$i" "$fs/m/$i: (0x00000009) exists archived, archive_id:1" || bad "archive of $fs/m/$i"
	lfs hsm_release "$fs/m/$i" || bad "release of $fs/m/$i"
done
# Four copytools (each does one action at a time), so that only max_requests bounds them.
extra=()
for i in 1 2 3; do
	lhsm_copytool $T "$work/slow_restore" 2>>"$work/ct.log" &
	extra+=($!)
done
t=0
while [ "$(lctl get_param -n mdt.$T.hsm.agents | grep -c uuid)" != 4 ] && [ $t -lt "$(scaled 300)" ]; do
	sleep 0.2
	t=$((t + 1))
done
expect "four copytools registered" 4 "$(lctl get_param -n mdt.$T.hsm.agents | grep -c uuid)"
readers=()
for i in 1 2 3 4 5 6; do
	(cmp -s "$fs/m/$i" "$work/m$i.orig" && echo same >"$work/mreader$i") &
	readers+=($!)
done
t=0
while [ "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')" != 6 ] && [ $t -lt "$(scaled 100)" ]; do
	sleep 0.1
	t=$((t + 1))
done
expect "six readers of six files: six RESTOREs" 6 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')"
# The most handed out at once over the next 3 s (each restore takes 8 s; while three or more
# are left, three are handed out).
most=0
for t in $(seq "$(scaled 30)"); do
	n=$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'status=STARTED')
	[ "$n" -gt $most ] && most=$n
	sleep 0.1
done
expect "four copytools, at most max_requests (3) RESTOREs handed out at once" 3 "$most"
wait "${readers[@]}"
expect "the six readers got their data" "same same same same same same" \
	"$(cat "$work"/mreader[1-6] 2>/dev/null | xargs)"
kill "${extra[@]}"
wait "${extra[@]}" 2>/dev/null
lfs hsm_release "$h" || bad "release after the readers"
cmp -s <(python3 -c 'import mmap, sys
f = open(sys.argv[1], "rb")
sys.stdout.buffer.write(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)[:])' "$h") "$work/h.orig" &&
	ok "mmap of a released file: restored, then read" || bad "mmap of a released file read wrong data"
lfs hsm_release "$h" || bad "release before the append"
echo tail >>"$h" || bad "append to a released file"
cmp -s <(cat "$work/h.orig"; echo tail) "$h" && ok "an append to a released file lands after the restored data" ||
	bad "append to a released file: wrong data"
rearchive || bad "archive and release after the append"
size=$(stat -c %s "$h")
truncate -s $((size + 100)) "$h" || bad "truncate of a released file"
cmp -s -n "$size" "$h" <(cat "$work/h.orig"; echo tail) && ok "truncate of a released file: restored first" ||
	bad "truncate of a released file lost data"
rearchive || bad "archive and release after the truncate"
: >"$h" || bad "open with O_TRUNC of a released file"
expect "O_TRUNC of a released file: restored, then emptied" \
	"0 $h: (0x0000000b) exists dirty archived, archive_id:1" "$(stat -c %s "$h") $(lfs hsm_state "$h")"
kill $ct
wait $ct 2>/dev/null
# Refill the file, archive it with a plain copytool, release it.
cp "$work/h.orig" "$h"
copytool
rearchive || bad "archive and release with a plain copytool"
cat "$h" >/dev/null || bad "read with a plain copytool"
expect "a read with a copytool restores" "$restored" "$(lfs hsm_state "$h")"
# Every kind of access to a released file of several MiB restores it first and then goes on
# with the original bytes: one RESTORE, one CL_HSM RESTORE record each.
big=$fs/d/implicit
head -c 6M /dev/urandom >"$big"
cp "$big" "$work/big.orig"
lfs hsm_archive "$big" && wait_state "$big" "$big: (0x00000009) exists archived, archive_id:1" ||
	bad "archive of a 6 MiB file"
# access NAME CMD...: releases $big, then CMD must succeed (and check the bytes it got).
access() {
	local name=$1 r0
	shift
	lfs hsm_release "$big" || bad "release before $name"
	[ "$(du -k "$big" | cut -f1)" = 4 ] || bad "$name: the released file holds more than its first 4 KiB"
	r0=$(restore_recs)
	if "$@"; then ok "$name of a released file: the original bytes"; else bad "$name of a released file"; fi
	wait_recs $((r0 + 1))
	expect "$name: one CL_HSM RESTORE record" $((r0 + 1)) "$(restore_recs)"
}
same_md5() { [ "$(md5sum <"$1" | cut -d' ' -f1)" = "$(md5sum <"$work/big.orig" | cut -d' ' -f1)" ]; }
access md5sum same_md5 "$big"
access "cp (to another filesystem)" eval 'cp "$big" "$work/big.copy" && cmp -s "$work/big.copy" "$work/big.orig"'
access "cp --reflink=never (copy_file_range on one filesystem)" \
	eval 'cp --reflink=never "$big" "$fs/d/big.copy" && cmp -s "$fs/d/big.copy" "$work/big.orig"'
access "dd with an offset" eval '[ "$(dd if="$big" bs=4096 skip=700 count=50 2>/dev/null | md5sum)" = \
	"$(dd if="$work/big.orig" bs=4096 skip=700 count=50 2>/dev/null | md5sum)" ]'
access "tail -c" eval 'cmp -s <(tail -c 10000 "$big") <(tail -c 10000 "$work/big.orig")'
access "sendfile" python3 -c 'import os, sys
i = os.open(sys.argv[1], os.O_RDONLY); o = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
n = os.fstat(i).st_size; off = 0
while off < n: off += os.sendfile(o, i, off, n - off)
os.close(o); sys.exit(open(sys.argv[2], "rb").read() != open(sys.argv[3], "rb").read())' \
	"$big" "$work/big.sent" "$work/big.orig"
access "splice" python3 -c 'import os, sys
i = os.open(sys.argv[1], os.O_RDONLY); r, w = os.pipe(); got = bytearray()
while True:
    n = os.splice(i, w, 65536)
    if n == 0: break
    while n: b = os.read(r, n); got += b; n -= len(b)
sys.exit(bytes(got) != open(sys.argv[2], "rb").read())' "$big" "$work/big.orig"
access "fallocate" eval 'fallocate -o 0 -l $((6 << 20 | 65536)) "$big" && cmp -s -n $((6 << 20)) "$big" "$work/big.orig"'
# NonBlockingRestore: the access fails at once, the restore is queued.
lfs hsm_release "$h" || bad "release before NBR"
kill $ct
wait $ct 2>/dev/null
printf '#!/bin/sh\n[ "$1" = RESTORE ] && exec sleep 1002\nexec lhsm_worker_posix "$@"\n' >"$work/stuck_restore"
chmod 755 "$work/stuck_restore"
copytool "$work/stuck_restore"
lctl set_param mdt.$T.hsm.policy=+NBR >/dev/null
expect "hsm.policy shows NBR set" "[NonBlockingRestore]" "$(lctl get_param -n mdt.$T.hsm.policy)"
expect_fail "NBR: a read fails at once" "No data available" cat "$h"
expect "NBR: the restore is queued" 1 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')"
lctl set_param mdt.$T.hsm.policy=-NBR >/dev/null
expect "hsm.policy shows NBR clear" "NonBlockingRestore" "$(lctl get_param -n mdt.$T.hsm.policy)"
expect_fail "hsm.policy refuses a policy not kept here" "Invalid argument" lctl set_param mdt.$T.hsm.policy=+NRA
# A restore that hangs: a reader can be killed; another gives up after the timeout.
cat "$h" >/dev/null 2>&1 &
reader=$!
sleep 2
kill -0 $reader 2>/dev/null && ok "a reader waits for the hanging restore" || bad "the reader did not wait"
kill -9 $reader
t=0
while kill -0 $reader 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
kill -0 $reader 2>/dev/null && bad "a reader waiting for a restore cannot be killed" ||
	ok "a reader waiting for a restore is killed at once"
lctl set_param mdt.$T.hsm.implicit_restore_timeout=3 >/dev/null
t0=$(date +%s)
expect_fail "a restore longer than implicit_restore_timeout fails the read" "No data available" cat "$h"
t1=$(date +%s)
[ $((t1 - t0)) -ge 3 ] && ok "after the timeout ($((t1 - t0)) s)" || bad "the read failed before the timeout ($((t1 - t0)) s)"
lctl set_param mdt.$T.hsm.implicit_restore_timeout=300 >/dev/null
expect "the hanging restore is still the only one" 1 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=RESTORE')"
# A reader with a signal handler (installed without SA_RESTART): an ordinary signal does not
# end its wait (read(2) would fail with EINTR); it reads through libc to see that.
rm -f "$work/sigreader.ready"
python3 - "$h" "$work/h.orig" "$work/sigreader" <<'PY' &
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[3] + ".ready", "w").close()
buf = ctypes.create_string_buffer(1 << 20)
data, res = bytearray(), "same"
while True:
    n = libc.read(fd, buf, len(buf))
    if n < 0:
        res = os.strerror(ctypes.get_errno())
        break
    if n == 0:
        break
    data += buf.raw[:n]
if res == "same" and bytes(data) != open(sys.argv[2], "rb").read():
    res = "differs"
open(sys.argv[3], "w").write("%s %d\n" % (res, len(got)))
PY
sigreader=$!
# Its handler is installed and its read waits (state D: the wait is killable) before the signal.
t=0
until [ -e "$work/sigreader.ready" ] && [ "$(awk '{print $3}' /proc/$sigreader/stat 2>/dev/null)" = D ] ||
	[ $t -ge "$(scaled 300)" ]; do
	sleep 0.1
	t=$((t + 1))
done
expect "a reader with a signal handler waits for the restore" D "$(awk '{print $3}' /proc/$sigreader/stat 2>/dev/null)"
kill -USR1 $sigreader
sleep 1
expect "and goes on waiting after a signal" D "$(awk '{print $3}' /proc/$sigreader/stat 2>/dev/null)"
# The copytool dies in the middle of the restore: the action waits again, the reader with it,
# and the next copytool's restore gives it the data (never part of it).
kill -9 $ct
pkill -9 -f "sleep 1002"
wait $ct 2>/dev/null
copytool
t=0
while kill -0 $sigreader 2>/dev/null && [ $t -lt "$(scaled 600)" ]; do sleep 0.1; t=$((t + 1)); done
kill -0 $sigreader 2>/dev/null && { bad "the reader still waits after the restore"; kill -9 $sigreader; }
wait $sigreader 2>/dev/null
expect "and after the copytool died, gets the data from the next one" "same 1" "$(cat "$work/sigreader" 2>/dev/null)"
cmp -s "$h" "$work/h.orig" && ok "once a copytool works, the read gets the data" || bad "read after the hanging restore"
expect "and the file is restored" "$restored" "$(lfs hsm_state "$h")"
# A copytool whose restore fails: the access fails with ENODATA, the file stays released.
lfs hsm_release "$h" || bad "release before the failing restore"
kill $ct
wait $ct 2>/dev/null
printf '#!/bin/sh\n[ "$1" = RESTORE ] && exit 5\nexec lhsm_worker_posix "$@"\n' >"$work/failing_restore"
chmod 755 "$work/failing_restore"
copytool "$work/failing_restore"
expect_fail "a failing restore fails the read" "No data available" cat "$h"
expect "and leaves the file released" "$released" "$(lfs hsm_state "$h")"
kill $ct
wait $ct 2>/dev/null
copytool
cmp -s "$h" "$work/h.orig" && ok "the next read, with a working copytool, gets the data" || bad "read after a failed restore"
# After the module is reloaded, the released state (trusted.hsm) still holds.
lfs hsm_release "$h" || bad "release before the reload"
kill $ct
wait $ct 2>/dev/null
rmmod hsm_upcall || bad "rmmod hsm_upcall"
# Unloading removes the module's parameters from the target's directories, which stay.
if [ -d /sys/fs/lustre/mdt/$T ] && [ ! -e /sys/fs/lustre/mdt/$T/hsm_control ] &&
	[ ! -e /sys/fs/lustre/mdt/$T/hsm ] && [ ! -e /sys/kernel/debug/lustre/mdt/$T/hsm ]; then
	ok "rmmod hsm_upcall removes its parameters, the target's directories stay"
else
	bad "after rmmod hsm_upcall: $(ls /sys/fs/lustre/mdt/$T /sys/kernel/debug/lustre/mdt/$T 2>&1 | tr '\n' ' ')"
fi
# A released file opened while no watch exists reports no pre-content events: the target's
# HSM is not set up while it is open, and the file is named in the log.
exec 7<"$h"
mark=$(kmsg_mark)
insmod "$(find "$mods" -name hsm_upcall.ko | head -n1)" || bad "insmod hsm_upcall with a released file open"
[ -e /dev/hsm-$T ] && bad "HSM set up although a released file was open from before" ||
	ok "HSM not set up while a released file is open from before"
since_mark "$mark" | grep -q "$T: released file .* has been open since before implicit restore was set up" &&
	ok "the kernel log names the open file" || bad "no log line for the open released file: $(dmesg | tail -n 3)"
exec 7<&-
rmmod hsm_upcall || bad "rmmod hsm_upcall after the refusal"
insmod "$(find "$mods" -name hsm_upcall.ko | head -n1)" || bad "insmod hsm_upcall"
[ -e /dev/hsm-$T ] && ok "HSM set up once the file is closed" || bad "no HSM device after the file was closed"
lctl set_param mdt.$T.hsm_control=enabled >/dev/null
copytool
cmp -s "$h" "$work/h.orig" && ok "after a module reload a read restores" || bad "read after the module reload"
# And after a remount (the target detached, the filesystem unmounted and mounted again).
lfs hsm_release "$h" || bad "release before the remount"
kill $ct
wait $ct 2>/dev/null
lctl mdt_detach $T || bad "detach before the remount"
{ umount "$fs" && mount -o loop "$work/fs.img" "$fs"; } || { bad "remount"; exit 1; }
lctl mdt_attach $T "$fs" "$work/cat/c.llog" || bad "attach after the remount"
lctl set_param mdt.$T.hsm_control=enabled >/dev/null
expect "after a remount the file is still released" "$released" "$(lfs hsm_state "$h")"
copytool
cmp -s "$h" "$work/h.orig" && ok "after a remount a read restores" || bad "read after the remount"
kill $ct
wait $ct 2>/dev/null
lctl set_param mdt.$T.hsm.upcall_path="$work/lhsm_mdt_upcall" mdt.$T.hsm.upcall_mask="ARCHIVE REMOVE" >/dev/null
lctl set_param mdt.$T.hsm.upcall_batch=100 >/dev/null

# Faults. A failing upcall: the request goes to the coordinator and completes there.
printf '#!/bin/sh\nexit 3\n' >"$work/fail"
chmod 755 "$work/fail"
lctl set_param mdt.$T.hsm.upcall_path="$work/fail" >/dev/null
echo fallback >"$fs/fb"
lfs hsm_archive "$fs/fb" || bad "hsm_archive with a failing upcall"
expect "a failing upcall hands the request to the coordinator" "ARCHIVE" \
	"$(lctl get_param -n mdt.$T.hsm.actions | grep -o 'action=ARCHIVE' | cut -d= -f2)"
timeout "$(scaled 60)" lhsm_copytool --once $T 2>>"$work/ct.log" || bad "lhsm_copytool archive"
expect "archived by the copytool" "$fs/fb: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$fs/fb")"
echo more >"$fs/bad"
lctl set_param mdt.$T.hsm.upcall_path="$work/missing" >/dev/null
expect_fail "missing upcall" "No such file or directory" lfs hsm_archive "$fs/bad"
dmesg | grep -q "upcall_path $work/missing: cannot find it" && ok "kernel log names the missing upcall" ||
	bad "no kernel log line for the missing upcall"
chmod 775 "$work/fail"
lctl set_param mdt.$T.hsm.upcall_path="$work/fail" >/dev/null
expect_fail "group-writable upcall" "Permission denied" lfs hsm_archive "$fs/bad"
dmesg | grep -q "fail is writable by group or others" && ok "kernel log says group-writable" ||
	bad "no kernel log line for the group-writable upcall"
chmod 644 "$work/fail"
expect_fail "upcall not executable" "Permission denied" lfs hsm_archive "$fs/bad"
chown 65534 "$work/fail" && chmod 755 "$work/fail"
expect_fail "upcall not owned by root" "Permission denied" lfs hsm_archive "$fs/bad"
mkdir -m 0777 "$work/open_dir"
install -m 0755 "$work/lhsm_mdt_upcall" "$work/open_dir/up"
lctl set_param mdt.$T.hsm.upcall_path="$work/open_dir/up" >/dev/null
expect_fail "upcall in a directory others can write" "Permission denied" lfs hsm_archive "$fs/bad"
dmesg | grep -q "open_dir/up is in a directory writable by group or others" && ok "kernel log says why" ||
	bad "no kernel log line for the open directory"
expect "refused requests queue nothing" "" "$(lctl get_param -n mdt.$T.hsm.actions)"
echo >/sys/fs/lustre/mdt/$T/hsm/upcall_path
lfs hsm_archive "$fs/bad" || bad "hsm_archive with the mask set and no upcall_path"
expect "no upcall_path: the coordinator takes the request" "1" \
	"$(lctl get_param -n mdt.$T.hsm.actions | grep -cF "fid=$(lfs path2fid "$fs/bad")")"
lctl set_param mdt.$T.hsm_control=purge >/dev/null

# A hanging upcall: the requester can be killed, and no kernel thread stays stuck.
printf '#!/bin/sh\nexec sleep 1000\n' >"$work/hang"
chmod 755 "$work/hang"
lctl set_param mdt.$T.hsm.upcall_path="$work/hang" >/dev/null
lfs hsm_archive "$fs/bad" &
req=$!
sleep 3
kill -9 $req
t=0
while kill -0 $req 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
kill -0 $req 2>/dev/null && bad "requester killed during a hanging upcall is still there" ||
	ok "requester killed during a hanging upcall is gone"
pkill -9 -f "sleep 1000"
sleep 1
expect "no task left in D state" "" "$(ps -eo stat,comm | awk '$1 ~ /^D/' | head -n3)"

# The queue on a full filesystem: the upcall fails, the request goes to the coordinator.
mount -t tmpfs -o size=64k tmpfs "$work/full"
head -c 1M /dev/zero >"$work/full/fill" 2>/dev/null
echo "queue=$work/full/q.db" >/etc/rustre/lhsm.conf
lctl set_param mdt.$T.hsm.upcall_path="$work/lhsm_mdt_upcall" >/dev/null
echo full >"$fs/full"
lfs hsm_archive "$fs/full" || bad "hsm_archive with the queue on a full filesystem"
expect "full queue: the request is in the coordinator" "1" \
	"$(lctl get_param -n mdt.$T.hsm.actions | grep -cF "fid=$(lfs path2fid "$fs/full")")"
timeout "$(scaled 60)" lhsm_copytool --once $T 2>>"$work/ct.log" || bad "lhsm_copytool after a full queue"
expect "and completes there" "$fs/full: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$fs/full")"
echo "queue=$db/q.db" >/etc/rustre/lhsm.conf

# A worker killed in the middle of an archive: the item is retried and ends complete.
head -c 48M /dev/urandom >"$fs/big"
lfs hsm_archive "$fs/big" || bad "hsm_archive big"
printf '#!/bin/sh\n[ "$1" = ARCHIVE ] && sleep 2\nexec lhsm_worker_posix "$@"\n' >"$work/slow_worker"
chmod 755 "$work/slow_worker"
LHSM_QUEUE=$db/q.db lhsm_worker --name w3 --lease 3 --worker "$work/slow_worker" >>"$work/worker.log" 2>&1 &
w=$!
sleep 3
kill -9 $w
pkill -9 -f slow_worker
pkill -9 -f lhsm_worker_posix
sleep 4
LHSM_QUEUE=$db/q.db timeout "$(scaled 300)" lhsm_worker --once --name w4 >>"$work/worker.log" 2>&1 || bad "lhsm_worker after a kill"
bigfid=$(lfs path2fid "$fs/big")
bigp=$(find "$arc/1" -name "$(echo "$bigfid" | tr -d '[]')")
cmp -s "$fs/big" "$bigp" && ok "the retried archive is complete" || bad "archive after a killed worker differs"
expect "hsm_state after the retry" "$fs/big: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$fs/big")"

# A copytool killed while it holds an action: the action waits again.
echo >/sys/fs/lustre/mdt/$T/hsm/upcall_mask
expect "an empty write clears upcall_mask" "" "$(lctl get_param -n mdt.$T.hsm.upcall_mask)"
echo again >"$fs/ct"
lfs hsm_archive "$fs/ct"
printf '#!/bin/sh\nexec sleep 1000\n' >"$work/stuck_worker"
chmod 755 "$work/stuck_worker"
lhsm_copytool $T "$work/stuck_worker" 2>>"$work/ct.log" &
ct=$!
sleep 2
expect "the copytool holds the action" "1" "$(lctl get_param -n mdt.$T.hsm.archive_count)"
kill -9 $ct
pkill -9 -f stuck_worker
sleep 1
expect "a dead copytool's action waits again" "0" "$(lctl get_param -n mdt.$T.hsm.archive_count)"
timeout "$(scaled 60)" lhsm_copytool --once $T 2>>"$work/ct.log" || bad "copytool after a killed one"
expect "and completes" "$fs/ct: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$fs/ct")"

# hsm_action while a copy runs: the bytes its copytool reported moved (IOC_PROGRESS, every
# second), from a worker that reads 64 KiB of the file and then hangs.
head -c 256K /dev/urandom >"$fs/prog"
lfs hsm_archive "$fs/prog" || bad "hsm_archive for the progress check"
expect "hsm_action: the archive waits" "$fs/prog: ARCHIVE waiting (from 0 to EOF)" "$(lfs hsm_action "$fs/prog")"
printf '#!/bin/sh\ndd bs=64k count=1 of=/dev/null 2>/dev/null\nexec sleep 1001\n' >"$work/part_worker"
chmod 755 "$work/part_worker"
lhsm_copytool $T "$work/part_worker" 2>>"$work/ct.log" &
ct=$!
t=0 a=
while [ $t -lt "$(scaled 100)" ]; do
	a=$(lfs hsm_action "$fs/prog")
	[ "$a" = "$fs/prog: ARCHIVE running (65536 bytes moved)" ] && break
	sleep 0.2
	t=$((t + 1))
done
expect "hsm_action: a running archive and the bytes its copytool moved" \
	"$fs/prog: ARCHIVE running (65536 bytes moved)" "$a"
kill -9 $ct
pkill -9 -f "sleep 1001"
wait $ct 2>/dev/null
sleep 1
expect "a dead copytool's archive waits again, from the start" "$fs/prog: ARCHIVE waiting (from 0 to EOF)" \
	"$(lfs hsm_action "$fs/prog")"
timeout "$(scaled 60)" lhsm_copytool --once $T 2>>"$work/ct.log" || bad "copytool after the progress check"
expect "and once archived, no action" "$fs/prog: NOOP" "$(lfs hsm_action "$fs/prog")"
expect_fail "hsm_action of a file on no target" "get hsm action for '/etc/hostname' failed" lfs hsm_action /etc/hostname

# Batches: with room for 100 actions in flight, a copytool reading with Lustre's 1 MiB buffer
# gets the 100 archives of one archive id in a single list, as Lustre's coordinator gathers
# them; a buffer with room for fewer gets fewer.
lctl set_param mdt.$T.hsm.max_requests=100 >/dev/null
mkdir "$fs/batch"
for i in $(seq 100); do echo "b$i" >"$fs/batch/$i"; done
(cd "$fs/batch" && ls | xargs -n 25 lfs hsm_archive) || bad "hsm_archive of 100 files"
expect "100 archives wait" 100 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=ARCHIVE')"
# A copytool built on Lustre's headers: LL_IOC_HSM_CT_START (0x401866d5, a struct
# lustre_kernelcomm for all archives), then reads as large as one action (40 bytes of header
# and fsname, 72 per action), then three. Closing gives the actions back.
small=$(python3 - "$dev" <<'PY'
import fcntl, os, struct, sys
out = []
for size in (120, 256):
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.ioctl(fd, 0x401866D5, struct.pack("<6I", 0, 0, 0, 0, 0, 0))
    hal = os.read(fd, size)
    version, count = struct.unpack_from("<II", hal)
    archive_id = struct.unpack_from("<I", hal, 24)[0]
    out.append(f"{len(hal)}:{version}:{count}:{archive_id}")
    os.close(fd)
print(" ".join(out))
PY
)
expect "reads of 120 and 256 bytes get lists of 1 and 3 actions (length:version:count:archive)" \
	"112:1:1:1 256:1:3:1" "$small"
expect "closing without copying gives it back" 100 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=ARCHIVE')"
timeout "$(scaled 300)" lhsm_copytool --once $T 2>"$work/batch.log" || bad "copytool on 100 actions: $(tail -n3 "$work/batch.log")"
expect "one read hands out the 100 actions" 100 "$(grep -c 'ARCHIVE .* done in' "$work/batch.log")"
expect "and they are all archived" 100 \
	"$(lfs hsm_state "$fs"/batch/* | grep -c 'exists archived, archive_id:1')"

# Service order: a RESTORE goes ahead of the ARCHIVEs queued before it, each class in arrival
# order; hsm.actions lists the queue in that order.
g=$fs/batch/1
lfs hsm_release "$g" || bad "hsm_release before the order check"
echo again >>"$fs/batch/2"
echo again >>"$fs/batch/3"
lfs hsm_archive "$fs/batch/2" "$fs/batch/3" || bad "hsm_archive of two dirty files"
lfs hsm_restore "$g" || bad "hsm_restore after queued archives"
expect "hsm.actions lists the restore first" "RESTORE ARCHIVE ARCHIVE" \
	"$(lctl get_param -n mdt.$T.hsm.actions | grep -o 'action=[A-Z]*' | cut -d= -f2 | xargs)"
expect "then the archives in the order they came" \
	"$(lfs path2fid "$fs/batch/2" | tr -d '[]') $(lfs path2fid "$fs/batch/3" | tr -d '[]')" \
	"$(lctl get_param -n mdt.$T.hsm.actions | grep 'action=ARCHIVE' | sed 's/^fid=\[\([^]]*\)\].*/\1/' | xargs)"
lctl set_param mdt.$T.hsm.max_requests=1 >/dev/null
timeout "$(scaled 60)" lhsm_copytool --once $T 2>>"$work/ct.log" || bad "copytool on the restore"
expect "the copytool got the restore first" "$g: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$g")"
expect "the archives still wait" 2 "$(lctl get_param -n mdt.$T.hsm.actions | grep -c 'action=ARCHIVE')"
lctl set_param mdt.$T.hsm.max_requests=3 >/dev/null

# Bad input on the device.
expect_fail "hsm_state of a file on another filesystem" "" lfs hsm_state /etc/hostname
lctl set_param mdt.$T.hsm_control=purge >/dev/null
expect "purge empties the coordinator" "" "$(lctl get_param -n mdt.$T.hsm.actions)"

# XFS: file handles of another layout (64-bit inode numbers).
lctl mdt_attach $T2 "$work/xfs" "$work/cat/c2.llog" || bad "attach xfs"
lctl set_param mdt.$T2.hsm_control=enabled >/dev/null
head -c 100000 /dev/urandom >"$work/xfs/e"
cp "$work/xfs/e" "$work/e.orig"
lfs hsm_archive "$work/xfs/e" || bad "xfs hsm_archive"
timeout "$(scaled 60)" lhsm_copytool --once $T2 2>>"$work/ct.log" || bad "xfs archive copytool"
lfs hsm_release "$work/xfs/e" || bad "xfs release"
expect "xfs release" "$work/xfs/e: (0x0000000d) released exists archived, archive_id:1" "$(lfs hsm_state "$work/xfs/e")"
expect "an XFS released file keeps only its first 4 KiB" "4" "$(du -k "$work/xfs/e" | cut -f1)"
lfs hsm_restore "$work/xfs/e" || bad "xfs restore"
timeout "$(scaled 60)" lhsm_copytool --once $T2 2>>"$work/ct.log" || bad "xfs restore copytool"
cmp -s "$work/xfs/e" "$work/e.orig" && ok "xfs restore brings the data back" || bad "xfs restored data differs"

# tmpfs has no pre-content events: nothing could restore a released file on access there, so
# RELEASE is refused (archive and restore still work).
lctl mdt_attach $T3 "$work/tmpfs" "$work/cat/c3.llog" || bad "attach tmpfs"
lctl set_param mdt.$T3.hsm_control=enabled >/dev/null
echo tmpfs >"$work/tmpfs/t"
lfs hsm_archive "$work/tmpfs/t" || bad "tmpfs hsm_archive"
timeout "$(scaled 60)" lhsm_copytool --once $T3 2>>"$work/ct.log" || bad "tmpfs archive copytool"
expect_fail "tmpfs: release refused" "Operation not supported" lfs hsm_release "$work/tmpfs/t"
dmesg | grep -q "$T3: RELEASE of .* refused: tmpfs has no pre-content events" &&
	ok "kernel log says why the release was refused" || bad "no kernel log line for the tmpfs release"
expect "tmpfs: the file keeps its data and state" "tmpfs $work/tmpfs/t: (0x00000009) exists archived, archive_id:1" \
	"$(cat "$work/tmpfs/t") $(lfs hsm_state "$work/tmpfs/t")"
lctl mdt_detach $T3 || bad "detach tmpfs"
# A second target on the XFS filesystem (its name sorts before the first's): one HSM per
# filesystem, so it has none, and lfs still reaches the first target's.
mark=$(kmsg_mark)
lctl mdt_attach $T4 "$work/xfs" "$work/cat/c4.llog" || bad "attach a second target on xfs"
since_mark "$mark" | grep -q "$T4: another target on this filesystem does its HSM" &&
	ok "a second target on a filesystem: no HSM, said in the log" ||
	bad "no log line for the second target on xfs: $(since_mark "$mark" | tail -n 3)"
[ -e /dev/hsm-$T4 ] && bad "the second target has an HSM device" || ok "the second target has no HSM device"
expect "lfs reaches the filesystem's HSM through the first target" \
	"$work/xfs/e: (0x00000009) exists archived, archive_id:1" "$(lfs hsm_state "$work/xfs/e")"
lctl mdt_detach $T4 || bad "detach the second xfs target"
lctl mdt_detach $T2 || bad "detach xfs"

# Detach with an open device is refused; the device goes with the target.
exec 3<>"$dev"
expect_fail "detach with the HSM device open" "Device or resource busy" lctl mdt_detach $T
exec 3<&-
lctl mdt_detach $T || bad "detach"
[ -e "$dev" ] && bad "$dev still there after detach" || ok "$dev removed on detach"
exit $fail
