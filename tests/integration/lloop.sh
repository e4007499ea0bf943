#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop against real tools in the VM: the control node, attach and detach with `lloop` and
# util-linux `losetup`, mkfs.ext4 / mount / e2fsck, fio with crc32c verification (checked
# again after detach and re-attach), flush and discard reaching the backing file, read-only
# devices, a backing filesystem running out of space, busy detach and rmmod, sysfs, and bad
# input: wrong files, garbage ioctl arguments, offsets and block sizes, and attach/detach
# races. Backing files live on tmpfs, ext4 and XFS (both over the kernel's loop driver).
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
rel=$top/tools/target/release
. "$top/tests/lib/check.sh"
for t in lloop lctl; do
	[ -x "$rel/$t" ] || { echo "skip: $rel/$t not built (make tools)"; exit 77; }
done
for t in fio mkfs.ext4 e2fsck mkfs.xfs blkdiscard losetup python3; do
	command -v $t >/dev/null || { echo "skip: $t not installed (make deps)"; exit 77; }
done
export PATH=$rel:$PATH

work=$(mktemp -d)
mkdir -p "$work/t" "$work/ext4" "$work/xfs" "$work/mnt" "$work/small"
mount -t tmpfs -o size=600M tmpfs "$work/t"
truncate -s 200M "$work/t/ext4.img"
mkfs.ext4 -q -F "$work/t/ext4.img"
mount -o loop "$work/t/ext4.img" "$work/ext4"
# mkfs.xfs wants at least 300 MiB; the image is sparse and holds one 64 MiB backing file.
truncate -s 320M "$work/t/xfs.img"
mkfs.xfs -q -f "$work/t/xfs.img"
mount -o loop "$work/t/xfs.img" "$work/xfs"
ext4_loop=$(findmnt -no SOURCE "$work/ext4")
mount -t tmpfs -o size=8M tmpfs "$work/small"
cleanup() {
	exec 3<&- 2>/dev/null
	umount "$work/mnt" 2>/dev/null
	for d in /dev/lloop[0-9]*; do [ -b "$d" ] && lloop detach "$d" 2>/dev/null; done
	rmmod lloop 2>/dev/null
	umount "$work/ext4" "$work/xfs" "$work/small" 2>/dev/null
	umount "$work/t" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
insmod "$(find "$mods" -name lloop.ko | head -n1)" max_loop=8 || exit 1

# ioctl DEVICE CMD [ARG] on a device, from Python: prints OK or the errno name. ARG is an
# integer, or "fd:PATH" for a descriptor of PATH, or "buf:HEX" for a pointer to those bytes.
ioctl() {
	python3 - "$@" <<'PY'
import errno, fcntl, os, sys
dev, cmd = sys.argv[1], int(sys.argv[2], 0)
arg = sys.argv[3] if len(sys.argv) > 3 else "0"
keep = []
if arg.startswith("fd:"):
    fd = os.open(arg[3:], os.O_RDONLY)
    keep.append(fd)
    arg = fd
elif arg.startswith("buf:"):
    arg = bytearray(bytes.fromhex(arg[4:]))
else:
    arg = int(arg, 0)
try:
    f = os.open(dev, os.O_RDONLY)
    r = fcntl.ioctl(f, cmd, arg)
    print("OK", r if isinstance(r, int) else "")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}
LOOP_SET_FD=0x4C00 LOOP_CLR_FD=0x4C01 LOOP_SET_STATUS64=0x4C04 LOOP_GET_STATUS64=0x4C05
LOOP_SET_CAPACITY=0x4C07 LOOP_SET_DIRECT_IO=0x4C08 LOOP_SET_BLOCK_SIZE=0x4C09 LOOP_CONFIGURE=0x4C0A
LOOP_CTL_ADD=0x4C80 LOOP_CTL_REMOVE=0x4C81 LOOP_CTL_GET_FREE=0x4C82
# hex of a struct loop_info64: offset, size limit, flags, encryption type.
info_hex() {
	python3 -c 'import struct,sys; off,lim,fl,enc=(int(x,0) for x in sys.argv[1:5]); print(struct.pack("<QQQQQIIII64s64s32sQQ",0,0,0,off,lim,0,enc,0,fl,b"",b"",b"",0,0).hex())' "$@"
}
sectors() { cat /sys/block/"$(basename "$1")"/size; }
fio_verify() { # DEV BS EXTRA...
	local dev=$1 bs=$2
	shift 2
	fio --name=verify --filename="$dev" --rw=randwrite --bs="$bs" --size=48M --iodepth=16 \
		--ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
		--randseed=42 --output-format=terse --terse-version=3 "$@" 2>&1
}

# --- Control node and attach -------------------------------------------------------------
expect "control node is root-only" "crw-------" "$(stat -c %A /dev/lloop-control)"
truncate -s 64M "$work/t/a.img"
dev=$(lloop attach "$work/t/a.img")
expect "lloop attach prints the device" "/dev/lloop0" "$dev"
expect "capacity is the file size" "131072" "$(sectors "$dev")"
expect "sysfs backing_file" "$work/t/a.img" "$(cat /sys/block/lloop0/lloop/backing_file)"
expect "sysfs offset" "0" "$(cat /sys/block/lloop0/lloop/offset)"
expect "sysfs autoclear" "0" "$(cat /sys/block/lloop0/lloop/autoclear)"
expect "direct I/O on tmpfs" "1" "$(cat /sys/block/lloop0/lloop/dio)"
lloop list | grep -q "^/dev/lloop0 .*67108864 .* on .*$work/t/a.img" && ok "lloop list" || bad "lloop list: $(lloop list)"
expect "write cache advertised (flushes reach the file)" "write back" "$(cat /sys/block/lloop0/queue/write_cache)"
[ "$(cat /sys/block/lloop0/queue/discard_max_bytes)" -gt 0 ] && ok "discard advertised" || bad "no discard"
expect "attach of an attached device" "EBUSY" "$(ioctl /dev/lloop0 $LOOP_SET_FD fd:"$work/t/a.img")"

# --- A filesystem on it --------------------------------------------------------------------
mkfs.ext4 -q -F "$dev" && ok "mkfs.ext4 on $dev" || bad "mkfs.ext4"
mount "$dev" "$work/mnt" && ok "mount" || bad "mount"
head -c 20M /dev/urandom >"$work/t/payload"
cp "$work/t/payload" "$work/mnt/f1" && mkdir "$work/mnt/d" && cp "$work/t/payload" "$work/mnt/d/f2"
expect_fail "detach while mounted" "device busy" lloop detach "$dev"
umount "$work/mnt"
expect "e2fsck -fn clean" "0" "$(e2fsck -fn "$dev" >/dev/null 2>&1; echo $?)"
mount "$dev" "$work/mnt"
cmp -s "$work/mnt/f1" "$work/t/payload" && cmp -s "$work/mnt/d/f2" "$work/t/payload" && ok "files read back" || bad "files differ"
umount "$work/mnt"
lloop detach "$dev" && ok "detach" || bad "detach"
expect "detached device is empty" "0" "$(sectors "$dev")"
expect "status of a detached device" "ENXIO" "$(ioctl "$dev" $LOOP_GET_STATUS64 buf:"$(printf '%0464d' 0)")"

# --- fio verification, on tmpfs, ext4 and XFS, then after re-attach -------------------------
truncate -s 64M "$work/ext4/b.img" "$work/xfs/c.img"
for backing in "$work/t/a.img" "$work/ext4/b.img" "$work/xfs/c.img"; do
	for bs in 4k 64k; do
		dev=$(lloop attach "$backing")
		out=$(fio_verify "$dev" $bs)
		err=$(echo "$out" | awk -F';' '/^3;/ {print $5}')
		expect "fio randwrite bs=$bs verify crc32c on $(basename "$backing") (dio=$(cat /sys/block/${dev#/dev/}/lloop/dio))" "0" "${err:-$out}"
		lloop detach "$dev"
		dev=$(lloop attach "$backing")
		out=$(fio_verify "$dev" $bs --verify_only)
		err=$(echo "$out" | awk -F';' '/^3;/ {print $5}')
		expect "fio verify_only bs=$bs after detach and re-attach" "0" "${err:-$out}"
		lloop detach "$dev"
	done
done
# The same through the page cache (direct I/O off).
dev=$(lloop attach --buffered "$work/ext4/b.img")
expect "--buffered turns direct I/O off" "0" "$(cat /sys/block/lloop0/lloop/dio)"
expect "dio_reason of --buffered" "turned off (LOOP_SET_DIRECT_IO)" "$(cat /sys/block/lloop0/lloop/dio_reason)"
expect "no network transport to reserve on ext4" "0" "$(cat /sys/block/lloop0/lloop/net_reserve)"
out=$(fio_verify "$dev" 64k --verify_only)
expect "buffered verify_only of the direct-I/O data" "0" "$(echo "$out" | awk -F';' '/^3;/ {print $5}')"
lloop detach "$dev"
# Direct writes leave the backing file's times to a flush of the device, its last close and
# the detach. While another opener holds the device, a write alone leaves them; a flush
# updates them:
dev=$(lloop attach "$work/ext4/b.img")
exec 3<"$dev"
m0=$(stat -c %y "$work/ext4/b.img")
sleep 1
dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct status=none
udevadm settle 2>/dev/null
m1=$(stat -c %y "$work/ext4/b.img")
expect "a direct write through $dev alone leaves the backing file's mtime" "$m0" "$m1"
python3 -c 'import os,sys; os.fsync(os.open(sys.argv[1], os.O_WRONLY))' "$dev"
m1=$(stat -c %y "$work/ext4/b.img")
[ "$m0" != "$m1" ] && ok "a flush of $dev after a direct write updates the backing file's mtime" ||
	bad "mtime of the backing file unchanged by a direct write and a flush ($m1)"
exec 3<&-
# ...the last close (udev may hold the device a moment after dd closes it):
sleep 1
dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct status=none
udevadm settle 2>/dev/null
m2=$(stat -c %y "$work/ext4/b.img")
[ "$m1" != "$m2" ] && ok "closing $dev after a direct write updates the backing file's mtime" ||
	bad "mtime of the backing file unchanged by a direct write and the last close ($m2)"
# ...and the detach, by the one opener that wrote (LOOP_CLR_FD on its own descriptor):
sleep 1
python3 - "$dev" <<'PY'
import fcntl, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf.write(os.urandom(4096))
os.pwrite(fd, buf, 8192)
fcntl.ioctl(fd, 0x4C01)  # LOOP_CLR_FD
os.close(fd)
PY
m3=$(stat -c %y "$work/ext4/b.img")
[ "$m2" != "$m3" ] && ok "detaching $dev after a direct write updates the backing file's mtime" ||
	bad "mtime of the backing file unchanged by a direct write and the detach ($m3)"
lloop detach "$dev" 2>/dev/null || : # only if the detach above failed
# A direct read of a range the backing file holds dirty in its page cache: ext4 refuses the
# non-blocking read from queue_rq (EAGAIN: the range needs writeback first), and the worker
# reads it blocking, after that writeback. The device must return the new data.
head -c 4096 /dev/urandom >"$work/dirty.bin"
dev=$(lloop attach "$work/ext4/b.img")
dd if="$work/dirty.bin" of="$work/ext4/b.img" bs=4k seek=300 count=1 conv=notrunc status=none
dd if="$dev" bs=4k skip=300 count=1 iflag=direct status=none | cmp -s - "$work/dirty.bin" &&
	ok "a direct read through $dev of a range dirty in the backing file's cache returns that data" ||
	bad "direct read of a dirty range of the backing file returned other data"
lloop detach "$dev"

# --- Flush and discard reach the file -----------------------------------------------------
dev=$(lloop attach --buffered "$work/ext4/b.img")
w0=$(awk '{print $7}' /sys/block/"${ext4_loop#/dev/}"/stat)
dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct status=none
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY); os.fsync(fd)' "$dev"
w1=$(awk '{print $7}' /sys/block/"${ext4_loop#/dev/}"/stat)
[ $((w1 - w0)) -ge 16384 ] && ok "a flush of $dev writes the backing file's cache to ext4 ($((w1 - w0)) sectors)" ||
	bad "flush: ext4's device wrote $((w1 - w0)) sectors"
lloop detach "$dev"
head -c 32M /dev/urandom >"$work/t/c.img"
dev=$(lloop attach "$work/t/c.img")
b0=$(stat -c %b "$work/t/c.img")
blkdiscard -o 4M -l 16M "$dev"
b1=$(stat -c %b "$work/t/c.img")
expect "discard punches a 16 MiB hole in the file" "32768" "$((b0 - b1))"
cmp -s -n 16M <(tail -c +$((4 * 1048576 + 1)) "$work/t/c.img") /dev/zero && ok "discarded range reads zero" || bad "discarded range not zero"
blkdiscard -z -o 0 -l 1M "$dev"
cmp -s -n 1M "$dev" /dev/zero && ok "write-zeroes zeroes" || bad "write-zeroes"
lloop detach "$dev"

# --- Read-only -----------------------------------------------------------------------------
dev=$(lloop attach -r "$work/t/c.img")
expect "read-only device" "1" "$(cat /sys/block/${dev#/dev/}/ro)"
expect_fail "writes to a read-only device fail" "Operation not permitted" dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none
expect "read-only flag in status" "1" "$(python3 -c 'import fcntl,os,struct,sys; b=bytearray(232); fcntl.ioctl(os.open(sys.argv[1],os.O_RDONLY),0x4C05,b); print(struct.unpack_from("<I",b,52)[0] & 1)' "$dev")"
lloop detach "$dev"
chmod 0444 "$work/t/c.img"
dev=$(setpriv --inh-caps=-dac_override --bounding-set=-dac_override lloop attach "$work/t/c.img" 2>&1)
expect "a file that cannot be opened for writing attaches read-only" "1" "$(cat /sys/block/lloop0/ro 2>/dev/null)"
lloop detach /dev/lloop0 2>/dev/null
chmod 0644 "$work/t/c.img"

# --- Out of space on the backing filesystem ------------------------------------------------
truncate -s 64M "$work/small/sparse.img"
dev=$(lloop attach "$work/small/sparse.img")
out=$(timeout "$(scaled 120)" dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct 2>&1)
rc=$?
[ $rc -ne 124 ] && ok "no hang when the backing filesystem is full" || bad "dd hung"
[[ $out == *"No space left on device"* ]] && ok "writer sees ENOSPC" || bad "writer saw: $out"
lloop detach "$dev"
rm -f "$work/small/sparse.img"

# --- Bad files -----------------------------------------------------------------------------
expect_fail "attach a directory" "a directory" lloop attach "$work/t"
expect_fail "attach a missing file" "No such file" lloop attach "$work/t/missing"
expect_fail "attach a device file" "not a regular file" lloop attach /dev/null
expect "the kernel refuses a directory too" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_FD fd:"$work/t")"
expect "the kernel refuses a device file" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_FD fd:/dev/null)"
expect "the kernel refuses a bad descriptor" "EBADF" "$(ioctl /dev/lloop0 $LOOP_SET_FD 999)"
dmesg | grep -q "lloop0: backing file must be a regular file" && ok "the kernel log says why" || bad "no log line"

# --- Garbage ioctl arguments -----------------------------------------------------------------
truncate -s 16M "$work/t/g.img"
expect "LOOP_CONFIGURE from a bad pointer" "EFAULT" "$(ioctl /dev/lloop0 $LOOP_CONFIGURE 16)"
expect "LOOP_GET_STATUS64 to NULL" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_GET_STATUS64 0)"
# The Python helper opens its own descriptors: pass the file through /proc/self/fd.
cfgf() { python3 - "$@" <<'PY'
import errno, fcntl, os, struct, sys
path, bs, off, lim, fl = sys.argv[1], *(int(x, 0) for x in sys.argv[2:6])
fd = os.open(path, os.O_RDWR)
info = struct.pack("<QQQQQIIII64s64s32sQQ", 0, 0, 0, off, lim, 0, 0, 0, fl, b"", b"", b"", 0, 0)
try:
    fcntl.ioctl(os.open("/dev/lloop0", os.O_RDONLY), 0x4C0A, struct.pack("<II", fd, bs) + info + bytes(64))
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
expect "unknown flags" "EINVAL" "$(cfgf "$work/t/g.img" 0 0 0 0x40)"
expect "partition scan (not supported)" "EINVAL" "$(cfgf "$work/t/g.img" 0 0 0 8)"
expect "block size 1000" "EINVAL" "$(cfgf "$work/t/g.img" 1000 0 0 0)"
expect "block size 8192 (above the page size)" "EINVAL" "$(cfgf "$work/t/g.img" 8192 0 0 0)"
expect "block size 256" "EINVAL" "$(cfgf "$work/t/g.img" 256 0 0 0)"
expect "offset past the end of the file" "EINVAL" "$(cfgf "$work/t/g.img" 0 $((1 << 40)) 0 0)"
expect "offset 2^64-512 (a negative offset)" "EINVAL" "$(cfgf "$work/t/g.img" 0 0xfffffffffffffe00 0 0)"
expect "offset not a multiple of 512" "EINVAL" "$(cfgf "$work/t/g.img" 0 100 0 0)"
expect "nothing attached after the refusals" "0" "$(sectors /dev/lloop0)"
expect "offset 1 MiB, size limit 4 MiB, 4 KiB blocks" "OK" "$(cfgf "$work/t/g.img" 4096 1048576 4194304 0)"
expect "capacity follows offset and size limit" "8192" "$(sectors /dev/lloop0)"
expect "block size 4096" "4096" "$(cat /sys/block/lloop0/queue/logical_block_size)"
expect "LOOP_SET_BLOCK_SIZE 3000" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_BLOCK_SIZE 3000)"
expect "LOOP_SET_BLOCK_SIZE -512" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_BLOCK_SIZE -512)"
expect "LOOP_SET_BLOCK_SIZE 512" "OK 0" "$(ioctl /dev/lloop0 $LOOP_SET_BLOCK_SIZE 512)"
expect "LOOP_SET_DIRECT_IO 0" "OK 0" "$(ioctl /dev/lloop0 $LOOP_SET_DIRECT_IO 0)"
expect "sysfs dio follows" "0" "$(cat /sys/block/lloop0/lloop/dio)"
expect "LOOP_SET_DIRECT_IO 1" "OK 0" "$(ioctl /dev/lloop0 $LOOP_SET_DIRECT_IO 1)"
truncate -s 32M "$work/t/g.img"
expect "LOOP_SET_CAPACITY" "OK 0" "$(ioctl /dev/lloop0 $LOOP_SET_CAPACITY)"
expect "capacity still limited by sizelimit" "8192" "$(sectors /dev/lloop0)"
expect "LOOP_SET_STATUS64 with encryption" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_STATUS64 buf:"$(info_hex 1048576 4194304 0 1)")"
expect "LOOP_SET_STATUS64 with a huge offset" "EINVAL" "$(ioctl /dev/lloop0 $LOOP_SET_STATUS64 buf:"$(info_hex 0x7ffffffffffffe00 0 0 0)")"
expect "LOOP_SET_STATUS64 to offset 0, no limit" "OK 0" "$(ioctl /dev/lloop0 $LOOP_SET_STATUS64 buf:"$(info_hex 0 0 0 0)")"
expect "capacity follows the new offset and limit" "65536" "$(sectors /dev/lloop0)"
expect "LOOP_CLR_FD" "OK 0" "$(ioctl /dev/lloop0 $LOOP_CLR_FD)"
expect "LOOP_CLR_FD when detached" "ENXIO" "$(ioctl /dev/lloop0 $LOOP_CLR_FD)"
expect "unknown ioctl" "ENOTTY" "$(ioctl /dev/lloop0 0x4CFF)"
expect "LOOP_CTL_ADD beyond max_loop" "EINVAL" "$(ioctl /dev/lloop-control $LOOP_CTL_ADD 8)"
expect "LOOP_CTL_ADD -5 (first free)" "OK 1" "$(ioctl /dev/lloop-control $LOOP_CTL_ADD -5)"
expect "LOOP_CTL_ADD of an existing device" "EEXIST" "$(ioctl /dev/lloop-control $LOOP_CTL_ADD 1)"
expect "LOOP_CTL_REMOVE" "OK 1" "$(ioctl /dev/lloop-control $LOOP_CTL_REMOVE 1)"
expect "LOOP_CTL_REMOVE of a missing device" "ENODEV" "$(ioctl /dev/lloop-control $LOOP_CTL_REMOVE 1)"
expect "LOOP_CTL_REMOVE -1" "EINVAL" "$(ioctl /dev/lloop-control $LOOP_CTL_REMOVE -1)"
if command -v setpriv >/dev/null; then
	chmod 0666 /dev/lloop0
	expect "non-root cannot attach" "EPERM" "$(setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$(declare -f ioctl); ioctl /dev/lloop0 $LOOP_SET_FD fd:/etc/hostname")"
	chmod 0660 /dev/lloop0
fi
for i in $(seq 2 7); do ioctl /dev/lloop-control $LOOP_CTL_ADD $i >/dev/null; done
expect "max_loop devices at most" "ENOSPC" "$(for i in $(seq 0 7); do lloop attach "$work/t/g.img" >/dev/null; done; ioctl /dev/lloop-control $LOOP_CTL_GET_FREE)"
for i in $(seq 0 7); do lloop detach /dev/lloop$i >/dev/null; done

# --- Busy detach and rmmod -------------------------------------------------------------------
dev=$(lloop attach "$work/t/a.img")
exec 3<"$dev"
expect_fail "detach while another opener holds it" "device busy" lloop detach "$dev"
expect_fail "rmmod while a device is open" "in use" rmmod lloop
exec 3<&-
lloop detach "$dev" && ok "detach once closed" || bad "detach after close"
dev=$(lloop attach "$work/t/a.img")
exec 3<"$dev"
expect "LOOP_SET_STATUS64 sets autoclear" "OK 0" "$(ioctl "$dev" $LOOP_SET_STATUS64 buf:"$(info_hex 0 0 4 0)")"
expect "autoclear in sysfs" "1" "$(cat /sys/block/${dev#/dev/}/lloop/autoclear)"
dd if="$dev" of=/dev/null bs=4k count=1 status=none
expect "still attached while an opener remains" "131072" "$(sectors "$dev")"
exec 3<&-
expect "autoclear detaches on the last close" "0" "$(sectors "$dev")"

# --- Attach/detach races on one device, with I/O --------------------------------------------
python3 - "$work/t/a.img" <<'PY'
import errno, fcntl, os, sys, threading, time
img = sys.argv[1]
counts = {}
lock = threading.Lock()
def note(k):
    with lock:
        counts[k] = counts.get(k, 0) + 1
def cycle():
    # Attach, then detach, each through its own short-lived descriptor of the device (a
    # detach is refused while another thread has it open: retry).
    for _ in range(40):
        fd = os.open(img, os.O_RDWR)
        d = os.open("/dev/lloop0", os.O_RDONLY)
        try:
            fcntl.ioctl(d, 0x4C00, fd)
            note("attached")
        except OSError as e:
            note("attach-" + errno.errorcode[e.errno])
        os.close(d)
        os.close(fd)
        for _ in range(200):
            d = os.open("/dev/lloop0", os.O_RDONLY)
            try:
                fcntl.ioctl(d, 0x4C01)
                note("detached")
                break
            except OSError as e:
                note("detach-" + errno.errorcode[e.errno])
                if e.errno == errno.ENXIO:
                    break
            finally:
                os.close(d)
            time.sleep(0.002)
def reader():
    for i in range(300):
        try:
            with open("/dev/lloop0", "rb", buffering=0) as d:
                d.seek((i * 65536) % (32 << 20))
                note("read" if d.read(4096) is not None else "read-none")
        except OSError as e:
            note("read-" + errno.errorcode[e.errno])
ts = [threading.Thread(target=f) for f in (cycle, cycle, cycle, reader)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
sys.exit(0 if counts.get("attached", 0) >= 2 and counts.get("detached", 0) >= 2 else 1)
PY
[ $? = 0 ] && ok "attach/detach race: three attach-detach loops and a reader, no crash" || bad "attach/detach race: too few attaches or detaches"
lloop detach /dev/lloop0 2>/dev/null
expect "device usable after the race" "/dev/lloop0" "$(lloop attach "$work/t/a.img")"
lloop detach /dev/lloop0

# --- lctl blockdev_* --------------------------------------------------------------------------
lctl blockdev_attach "$work/t/a.img" "$work/t/lldev" && ok "lctl blockdev_attach" || bad "blockdev_attach"
[ -b "$work/t/lldev" ] && ok "blockdev_attach made the node" || bad "no node $work/t/lldev"
expect "the node is the device's" "$(stat -c %t:%T /dev/lloop0)" "$(stat -c %t:%T "$work/t/lldev" 2>/dev/null)"
info=$(lctl blockdev_info "$work/t/lldev")
[[ $info =~ ^"lloop device info: attached to inode [0x"[0-9a-f]+:0x[0-9a-f]+:0x[0-9a-f]+\]$ ]] && ok "blockdev_info: $info" || bad "blockdev_info: $info"
lctl blockdev_detach "$work/t/lldev" && ok "lctl blockdev_detach" || bad "blockdev_detach"
[ ! -e "$work/t/lldev" ] && ok "blockdev_detach removed the node" || bad "node left"
expect "blockdev_info of a free device" "lloop device info: Not attached" "$(lctl blockdev_info /dev/lloop0)"

# --- util-linux losetup ----------------------------------------------------------------------
# `losetup DEVICE FILE` attaches through the loop ioctls. Everything else losetup does first
# checks that the device is a loop device (major 7, /sys/block/NAME/loop/): showing the
# status, -d, -c, --direct-io, -f and -a do not see lloop devices (see Documentation).
out=$(losetup /dev/lloop0 "$work/t/a.img" 2>&1)
expect "losetup DEVICE FILE attaches ($out)" "131072" "$(sectors /dev/lloop0)"
expect "...with the file" "$work/t/a.img" "$(cat /sys/block/lloop0/lloop/backing_file)"
expect_fail "losetup DEVICE (status) does not know lloop" "No such device" losetup /dev/lloop0
expect_fail "losetup -d does not know lloop" "No such device" losetup -d /dev/lloop0
lloop detach /dev/lloop0 && ok "lloop detach after losetup" || bad "lloop detach after losetup"

exit $fail
