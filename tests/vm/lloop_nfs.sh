#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop on files of an NFS mount, LU-6585's case (a client whose files live on a network
# filesystem), in one guest started by scripts/nfs-test.sh:
#
#   tests/vm/lloop_nfs.sh OUTDIR MODDIR
#
# The guest's first virtio disk carries ext4, exported by the kernel's NFS server and mounted
# over 127.0.0.1 with NFSv4.2 and v3 (tests/vm/nfs.sh). On each version: a file of the mount
# attached (direct I/O with 512-byte blocks; discard and write-zeroes only where NFS has
# fallocate), mkfs.ext4, fio verify (crc32c, random writes of 4 KiB to 1 MiB, 16 in flight)
# with the NFS server stopped and started in the middle, e2fsck -fn, detach, re-attach and
# verify_only; XFS (its kmalloc metadata buffers go through the page cache), xfs_repair -n;
# lctl blockdev_attach and losetup of an NFS file. On 4.2: discard and write-zeroes reaching
# the server's file, a flush of buffered writes reaching it as a COMMIT. Outages: on a soft mount the writer gets EIO
# within timeo/retrans and detach completes; on a hard mount the writer waits for the server
# as any NFS writer does, detach is refused with EBUSY at once instead of hanging, and both
# complete once the server is back; an export removed under a device fails its I/O.
# Results, with the times the outages took, go to OUTDIR/lloop-nfs.txt.
set -u
out=$1 mods=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/check.sh"
. "$top/tests/vm/nfs.sh"
export PATH=$top/tools/target/release:$PATH
res=$out/lloop-nfs.txt
exec > >(tee "$res") 2>&1

die() { bad "$*"; exit 1; }
[ -b /dev/vda ] || die "no /dev/vda (scripts/nfs-test.sh gives the guest a virtio disk)"
for t in lloop lctl losetup fio mkfs.ext4 e2fsck mkfs.xfs xfs_repair blkdiscard rpc.nfsd rpcbind exportfs mount.nfs; do
	command -v $t >/dev/null || die "$t not installed (make deps, make tools)"
done
mkfs.ext4 -q -F /dev/vda || die "mkfs.ext4 /dev/vda"
exp=/tmp/export
mkdir -p $exp /tmp/m/fs && mount /dev/vda $exp || die "mount /dev/vda"
cleanup() {
	# The server first: a device on a hard mount cannot finish its I/O without it.
	[ "$(cat /proc/fs/nfsd/threads 2>/dev/null)" = 0 ] && nfsd_start >/dev/null 2>&1
	umount /tmp/m/fs 2>/dev/null
	for d in /dev/lloop[0-9]*; do [ -b "$d" ] && lloop detach "$d" 2>/dev/null; done
	nfs_down
	rmmod lloop 2>/dev/null
	umount $exp 2>/dev/null
}
trap cleanup EXIT
nfs_up $exp || die "NFS server did not start"
insmod "$(find "$mods" -name lloop.ko | head -n1)" || die "insmod lloop"
nfs_mount 4.2 /tmp/m/n42 || die "mount NFSv4.2"
nfs_mount 3 /tmp/m/n3 || die "mount NFSv3"

attr() { cat "/sys/block/${1#/dev/}/$2"; }
# fio verify of a file on the filesystem at /tmp/m/fs; prints its error count and exit status.
fio_fs() {
	fio --name=verify --filename=/tmp/m/fs/fio.dat --size=128M --rw=randwrite --bsrange=4k-1m \
		--iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 \
		--verify_state_save=0 --randseed=17 --output-format=terse --terse-version=3 "$@" \
		>/tmp/fio.out 2>&1
	local rc=$?
	echo "$(awk -F';' '/^3;/ {print $5}' /tmp/fio.out) $rc"
}
# wait_gone PID SECONDS: waits for PID to end; fails if it is still there after SECONDS.
wait_gone() {
	local i
	for i in $(seq $(($2 * 5))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
	return 1
}

for v in 4.2 3; do
	mnt=/tmp/m/n${v/./}
	img=$mnt/disk.img
	truncate -s 384M "$img"
	dev=$(lloop attach "$img") || die "NFS $v: lloop attach"
	expect "NFS $v: direct I/O on" 1 "$(attr "$dev" lloop/dio)"
	expect "NFS $v: the RPC transport may use the memory reserves (net_reserve)" 1 "$(attr "$dev" lloop/net_reserve)"
	# NFS has no direct-I/O alignment, and 7.3 reports none (nfs_getattr masks STATX_DIOALIGN out
	# before its own answer of 4 KiB): 512-byte blocks with direct I/O, as loop picks.
	expect "NFS $v: 512-byte blocks" 512 "$(attr "$dev" queue/logical_block_size)"
	if [ "$v" = 4.2 ]; then
		d=$(attr "$dev" queue/discard_max_bytes)
		[ "$d" -gt 0 ] && ok "NFS 4.2: discard offered ($d bytes)" || bad "NFS 4.2: no discard"
	else
		expect "NFS 3: no discard (NFSv3 has no fallocate)" 0 "$(attr "$dev" queue/discard_max_bytes)"
	fi
	lloop list | grep -q "$img" && ok "NFS $v: lloop list shows the file" || bad "NFS $v: lloop list: $(lloop list)"
	mkfs.ext4 -q -F "$dev" && mount "$dev" /tmp/m/fs || die "NFS $v: mkfs.ext4/mount on $dev"
	# The load, with the server stopped for 5 s after 5 s and started again. Its writes are held
	# to 4 MiB/s, so that it outlasts the outage (at least 32 s for 128 MiB) however fast the
	# device is; unbounded, 48 MiB ended during the stop once 1 MiB transfers went in one RPC.
	fio_fs --rate=,4m >/tmp/fio.rc &
	load=$!
	sleep 5
	kill -0 $load 2>/dev/null || bad "NFS $v: the load ended before the server was stopped (no outage tested)"
	t0=$(date +%s.%N)
	nfsd_stop
	expect "NFS $v: server stopped (nfsd threads)" 0 "$(cat /proc/fs/nfsd/threads)"
	sleep 5
	kill -0 $load 2>/dev/null || bad "NFS $v: the load ended while the server was stopped"
	nfsd_start || bad "NFS $v: nfsd did not restart"
	wait $load
	t1=$(date +%s.%N)
	expect "NFS $v: fio verify across a server restart (errors, exit status)" "0 0" "$(cat /tmp/fio.rc)"
	echo "NFS $v: the load ended $(echo "$t1 - $t0" | bc) s after the server was stopped for 5 s"
	umount /tmp/m/fs || bad "NFS $v: umount"
	e2fsck -fn "$dev" >/tmp/fsck.out 2>&1
	expect "NFS $v: e2fsck -fn clean" 0 "$?"
	lloop detach "$dev" || bad "NFS $v: detach"
	dev=$(lloop attach "$img") || die "NFS $v: re-attach"
	mount "$dev" /tmp/m/fs || die "NFS $v: mount after re-attach"
	expect "NFS $v: fio verify_only after detach and re-attach" "0 0" "$(fio_fs --verify_only)"
	umount /tmp/m/fs
	lloop detach "$dev" || bad "NFS $v: detach"
	# XFS keeps its sub-page metadata buffers (superblock, AG headers) in kmalloc memory, whose
	# pages NFS direct I/O cannot reference (get_page warns): lloop sends those requests
	# through the page cache. Any WARN fails the console scan; the data must survive too.
	dev=$(lloop attach "$img") || die "NFS $v: attach for XFS"
	mkfs.xfs -q -f "$dev" && mount "$dev" /tmp/m/fs || die "NFS $v: mkfs.xfs/mount on $dev"
	for i in $(seq 200); do echo "$i" >/tmp/m/fs/f$i; done
	dd if=/dev/urandom of=/tmp/m/fs/data bs=64k count=64 status=none
	sum=$(md5sum </tmp/m/fs/data)
	umount /tmp/m/fs && mount "$dev" /tmp/m/fs || die "NFS $v: XFS remount"
	n=$(cat /tmp/m/fs/f* | wc -l)
	expect "NFS $v: XFS on lloop: 200 files and a checksummed file after a remount" "200 $sum" "$n $(md5sum </tmp/m/fs/data)"
	umount /tmp/m/fs
	xfs_repair -n "$dev" >/tmp/repair.out 2>&1
	expect "NFS $v: xfs_repair -n clean" 0 "$?"
	expect "NFS $v: direct I/O still on after XFS metadata" 1 "$(attr "$dev" lloop/dio)"
	kb=$(attr "$dev" lloop/dio_kmalloc_buffered)
	[ "$kb" -gt 0 ] && ok "NFS $v: $kb XFS requests with kmalloc memory went through the page cache" ||
		bad "NFS $v: no XFS request with kmalloc memory counted (dio_kmalloc_buffered $kb)"
	lloop detach "$dev" || bad "NFS $v: detach after XFS"
	rm -f "$img"
done

# lctl and util-linux losetup attach an NFS file as they attach any other.
truncate -s 64M /tmp/m/n42/l.img
lctl blockdev_attach /tmp/m/n42/l.img /tmp/lldev && ok "lctl blockdev_attach of an NFS file" || bad "lctl blockdev_attach"
info=$(lctl blockdev_info /tmp/lldev)
[[ $info == "lloop device info: attached to inode "* ]] && ok "blockdev_info: $info" || bad "blockdev_info: $info"
expect "lctl blockdev_attach: direct I/O on" 1 "$(attr /dev/lloop0 lloop/dio)"
lctl blockdev_detach /tmp/lldev && ok "lctl blockdev_detach" || bad "lctl blockdev_detach"
out=$(losetup /dev/lloop0 /tmp/m/n42/l.img 2>&1)
expect "losetup DEVICE FILE attaches an NFS file ($out)" 131072 "$(attr /dev/lloop0 size)"
expect "losetup: direct I/O on" 1 "$(attr /dev/lloop0 lloop/dio)"
lloop detach /dev/lloop0 || bad "detach after losetup"
rm -f /tmp/m/n42/l.img

# Discard and write-zeroes as NFSv4.2 fallocate on the server's file.
img=/tmp/m/n42/z.img
truncate -s 64M $img
dev=$(lloop attach $img) || die "lloop attach $img"
dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct status=none
before=$(du -k $exp/z.img | cut -f1)
ops0=$(nfs_ops 4 deallocate zero_range allocate)
blkdiscard -o 0 -l 16M "$dev" || bad "blkdiscard"
after=$(du -k $exp/z.img | cut -f1)
[ "$before" -ge 16384 ] && [ "$after" -lt 1024 ] && ok "discard frees the server's blocks (${before} KiB -> ${after} KiB)" ||
	bad "discard: server file ${before} KiB -> ${after} KiB"
expect "discarded range reads as zeroes" "" "$(cmp -n 16M "$dev" /dev/zero 2>&1)"
dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct status=none
w0=$(nfs_ops 4 write)
blkdiscard -z -o 0 -l 16M "$dev" || bad "blkdiscard -z"
w1=$(nfs_ops 4 write)
# The block layer falls back to writing zero pages when write-zeroes fails: no WRITE may go out.
expect "write-zeroes sent no WRITE (no fallback to writing zero pages)" "$w0" "$w1"
[ "$(attr "$dev" queue/write_zeroes_max_bytes)" -gt 0 ] && ok "write-zeroes still offered" || bad "write-zeroes turned off"
expect "write-zeroes range reads as zeroes" "" "$(cmp -n 16M "$dev" /dev/zero 2>&1)"
ops1=$(nfs_ops 4 deallocate zero_range allocate)
echo "NFSv4.2 client DEALLOCATE ZERO_RANGE ALLOCATE calls: $ops0 -> $ops1"
read -r d0 z0 a0 <<<"$ops0"
read -r d1 z1 a1 <<<"$ops1"
[ $((d1 - d0)) -gt 0 ] && ok "discard sent DEALLOCATE" || bad "discard sent no DEALLOCATE"
[ $((z1 + a1 - z0 - a0)) -gt 0 ] && ok "write-zeroes sent ZERO_RANGE or ALLOCATE (kept allocated, no fallback to writing zeroes)" ||
	bad "write-zeroes sent neither ZERO_RANGE nor ALLOCATE"
kept=$(du -k $exp/z.img | cut -f1)
[ "$kept" -ge 16384 ] && ok "write-zeroes keeps the blocks allocated (${kept} KiB)" || bad "write-zeroes left ${kept} KiB allocated"
# A flush of buffered writes reaches the server as a COMMIT.
lloop dio "$dev" off || bad "lloop dio off"
expect "dio_reason after lloop dio off" "turned off (LOOP_SET_DIRECT_IO)" "$(attr "$dev" lloop/dio_reason)"
lloop list | grep -q "direct I/O off: turned off" && ok "lloop list says why direct I/O is off" || bad "lloop list: $(lloop list)"
c0=$(nfs_ops 4 commit)
dd if=/dev/urandom of="$dev" bs=1M count=4 conv=fsync status=none || bad "buffered write with fsync"
c1=$(nfs_ops 4 commit)
[ "$c1" -gt "$c0" ] && ok "flush sent COMMIT ($c0 -> $c1)" || bad "flush sent no COMMIT ($c0 -> $c1)"
lloop detach "$dev"

# Outage on a soft mount: the writer gets an I/O error in a bounded time, detach completes.
nfs_mount 4.2 /tmp/m/soft soft,timeo=10,retrans=2,nosharecache || die "soft mount"
truncate -s 64M /tmp/m/soft/s.img
dev=$(lloop attach /tmp/m/soft/s.img) || die "attach on the soft mount"
nfsd_stop
t0=$SECONDS
dd if=/dev/urandom of="$dev" bs=64k count=16 oflag=direct status=none 2>/tmp/dd.err
rc=$?
t1=$SECONDS
[ $rc != 0 ] && grep -q "Input/output error" /tmp/dd.err && ok "soft mount, server stopped: the writer gets EIO after $((t1 - t0)) s" ||
	bad "soft mount, server stopped: dd exit $rc: $(cat /tmp/dd.err)"
t0=$SECONDS
lloop detach "$dev" && ok "soft mount, server stopped: detach completes in $((SECONDS - t0)) s" || bad "soft mount: detach failed"
nfsd_start || bad "nfsd restart"
rm -f /tmp/m/soft/s.img

# Outage on a hard mount: the writer waits; detach is refused at once, not hung.
truncate -s 64M /tmp/m/n42/h.img
dev=$(lloop attach /tmp/m/n42/h.img) || die "attach on the hard mount"
nfsd_stop
dd if=/dev/urandom of="$dev" bs=64k count=16 oflag=direct status=none 2>/tmp/dd.err &
writer=$!
sleep 5
kill -0 $writer 2>/dev/null && ok "hard mount, server stopped: the writer waits for the server" || bad "hard mount: the writer did not wait"
t0=$SECONDS
expect_fail "hard mount, server stopped: detach while the writer has the device open" "busy" timeout 30 lloop detach "$dev"
echo "hard mount, server stopped: detach answered in $((SECONDS - t0)) s"
t0=$SECONDS
nfsd_start || bad "nfsd restart"
if wait_gone $writer "$(scaled 120)"; then
	wait $writer
	expect "hard mount: the writer completes once the server is back (exit status)" 0 "$?"
	echo "hard mount: the writer completed $((SECONDS - t0)) s after the server restarted"
else
	bad "hard mount: the writer still waits $(scaled 120) s after the server restarted"
fi
lloop detach "$dev" && ok "hard mount: detach after the server is back" || bad "hard mount: detach after the outage"

# An export removed under an attached device: its I/O fails, detach completes.
dev=$(lloop attach /tmp/m/n42/h.img) || die "re-attach on the hard mount"
nfs_unexport
t0=$SECONDS
timeout "$(scaled 120)" dd if=/dev/urandom of="$dev" bs=64k count=16 oflag=direct status=none 2>/tmp/dd.err
rc=$?
if [ $rc = 124 ]; then
	bad "export removed: the writer still waits after $(scaled 120) s"
elif [ $rc != 0 ]; then
	ok "export removed: the writer gets an error after $((SECONDS - t0)) s: $(head -n1 /tmp/dd.err)"
else
	bad "export removed: the write succeeded"
fi
t0=$SECONDS
timeout "$(scaled 120)" lloop detach "$dev" && ok "export removed: detach completes in $((SECONDS - t0)) s" || bad "export removed: detach"
nfs_reexport
rm -f /tmp/m/n42/h.img

[ "$fail" = 0 ] && echo "PASS: lloop on NFS" || echo "FAIL: lloop on NFS"
exit $fail
