# SPDX-License-Identifier: GPL-2.0
"""Helpers of changelog_chardev.sh that need system calls the shell cannot make
(ioctl, lseek, poll, non-blocking reads, raw writes). Each subcommand exits 0 on success
and prints what went wrong otherwise."""

import errno
import os
import random
import select
import struct
import subprocess
import sys
import time

SET_FLAGS = 0x800866E9
FILTER = 0x403066B3
FOLLOW = 0x01
NID_BE = 0x10


def ioctl(fd, cmd, arg):
    import fcntl
    return fcntl.ioctl(fd, cmd, arg)


def rec_size(b, off):
    """Size of the record at b[off:], from its own flags (changelog_rec_offset + namelen)."""
    namelen, flags = struct.unpack_from("<HH", b, off)
    size = 64
    if flags & 0x2000:
        size += 32
    if flags & 0x4000:
        size += 32
    if flags & 0x8000:
        xf = struct.unpack_from("<Q", b, off + size)[0]
        size += 8
        size += 16 if xf & 1 else 0
        size += 24 if xf & 2 else 0
        size += 4 if xf & 4 else 0
        size += 256 if xf & 8 else 0
    return size + namelen


def records(b):
    """(index, bytes) of each record of a read."""
    off, out = 0, []
    while off < len(b):
        n = rec_size(b, off)
        out.append((struct.unpack_from("<Q", b, off + 8)[0], b[off:off + n]))
        off += n
    if off != len(b):
        raise ValueError("partial record in a read")
    return out


def expect_errno(what, want, fn):
    try:
        fn()
    except OSError as e:
        if e.errno == want:
            return True
        print(f"{what}: errno {e.errno}, want {want}")
        return False
    print(f"{what}: succeeded, want errno {want}")
    return False


def dump(dev, flags):
    fd = os.open(dev, os.O_RDONLY)
    ioctl(fd, SET_FLAGS, int(flags, 0))
    while True:
        b = os.read(fd, 4096)
        if not b:
            return 0
        sys.stdout.buffer.write(b)


def filtered(dev, user):
    """Reads every record through the filter of changelog user USER (its mask); prints
    their indices, one per line."""
    fd = os.open(dev, os.O_RDONLY)
    ioctl(fd, FILTER, struct.pack("<QII30s2x", 0, int(user), 0, b""))
    data = b""
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        data += b
    for index, _ in records(data):
        print(index)
    return 0


def seeks(dev):
    fd = os.open(dev, os.O_RDONLY)
    ok = os.lseek(fd, 3, os.SEEK_SET) == 3
    recs = records(os.read(fd, 4096))
    ok &= recs[0][0] == 3
    pos = os.lseek(fd, 0, os.SEEK_CUR)
    ok &= pos == recs[-1][0] + 1
    os.close(fd)
    fd = os.open(dev, os.O_RDONLY)
    ok &= os.lseek(fd, 4, os.SEEK_SET) == 4
    ok &= os.lseek(fd, 2, os.SEEK_CUR) == 6
    ok &= records(os.read(fd, 4096))[0][0] >= 6
    ok &= expect_errno("backward seek", errno.EINVAL, lambda: os.lseek(fd, 1, os.SEEK_SET))
    ok &= expect_errno("SEEK_END", errno.EINVAL, lambda: os.lseek(fd, 0, os.SEEK_END))
    if not ok:
        print("seek results wrong")
    return 0 if ok else 1


def badwrites(dev):
    fd = os.open(dev, os.O_WRONLY)
    ok = True
    for s in [b"clear:cl1", b"foo", b"clear:cl1:x", b"x" * 65, b"clear:cl:5", b"clear:cl1:5 "]:
        ok &= expect_errno(f"write {s[:20]!r}", errno.EINVAL, lambda s=s: os.write(fd, s))
    return 0 if ok else 1


def pollwait(dev, _path):
    fd = os.open(dev, os.O_RDONLY | os.O_NONBLOCK)
    ioctl(fd, SET_FLAGS, FOLLOW)
    p = select.poll()
    p.register(fd, select.POLLIN)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ev = p.poll(1000)
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            continue
        for _, r in records(b):
            if r.endswith(b"followed") and ev:
                return 0
    print("poll: no record for 'followed' within 20 s")
    return 1


def nonblock(dev):
    fd = os.open(dev, os.O_RDONLY | os.O_NONBLOCK)
    got, eagain = 0, 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            b = os.read(fd, 4096)
        except BlockingIOError:
            eagain += 1
            time.sleep(0.05)
            continue
        if not b:
            break
        got += len(records(b))
    else:
        print("no end of file within 20 s")
        return 1
    if got == 0:
        print("no record read")
        return 1
    ioctl(fd, SET_FLAGS, FOLLOW)
    ok = expect_errno("follow at the end", errno.EAGAIN, lambda: os.read(fd, 4096))
    return 0 if ok else 1


def badinput(dev):
    fd = os.open(dev, os.O_RDONLY)
    ok = expect_errno("read into 10 bytes", errno.EINVAL, lambda: os.read(fd, 10))
    ok &= expect_errno("unknown ioctl", errno.ENOTTY, lambda: ioctl(fd, 0x1234, 0))
    filt = struct.pack("<QII30s2x", 0, 99, 0, b"")
    ok &= expect_errno("filter for an unknown user", errno.ENOENT, lambda: ioctl(fd, FILTER, filt))
    r, w = os.pipe()
    ok &= expect_errno("KUC into a read end", errno.EBADF,
                       lambda: ioctl(fd, 0x401066FA, struct.pack("<IIQ", r, 0, 0)))
    ok &= expect_errno("KUC into a non-pipe", errno.EBADF,
                       lambda: ioctl(fd, 0x401066FA, struct.pack("<IIQ", fd, 0, 0)))
    return 0 if ok else 1


def kucclose(dev):
    """Starts the KUC baseline sender into a pipe nobody reads (it blocks when the pipe is
    full), then closes the device: release must end the sender, not hang."""
    fd = os.open(dev, os.O_RDONLY)
    r, w = os.pipe()
    ioctl(fd, 0x401066FA, struct.pack("<IIQ", w, 0, 0))
    os.close(w)
    time.sleep(1)
    first = os.read(r, 8)
    if len(first) != 8 or struct.unpack_from("<H", first)[0] != 0x191C:
        print("no KUC message in the pipe")
        return 1
    t = time.monotonic()
    os.close(fd)
    if time.monotonic() - t > 5:
        print("close took more than 5 s")
        return 1
    return 0


def reader(dev):
    """A reader that prints every index, and before and after each clear 'c N' / 'C N'."""
    fd = os.open(dev, os.O_RDWR)
    n, next_clear, out = 0, 5000, sys.stdout
    while True:
        b = os.read(fd, 65536)
        if not b:
            out.write("EOF\n")
            out.flush()
            return 0
        idx = [i for i, _ in records(b)]
        out.write("".join(f"{i}\n" for i in idx))
        n += len(idx)
        if n >= next_clear:
            out.write(f"c {idx[-1]}\n")
            out.flush()
            os.write(fd, f"clear:cl1:{idx[-1]}\0".encode())
            out.write(f"C {idx[-1]}\n")
            next_clear += 5000
        out.flush()


def killer(dev, _lfs, _target, count):
    """Runs reader sessions, killing them at random points, and checks the indices."""
    count = int(count)
    rng = random.Random(7659)
    confirmed = intent = None
    seen_max = None
    first_index = None
    sessions = 0
    while True:
        sessions += 1
        last_session = sessions > 12
        p = subprocess.Popen([sys.executable, __file__, "reader", dev], stdout=subprocess.PIPE, text=True)
        if not last_session:
            time.sleep(rng.uniform(0.5, 4.0))
            p.kill()
        out, _ = p.communicate()
        # A killed reader may leave a partial last line: keep complete lines only.
        lines = out.split("\n")[:-1]
        idx = [int(x) for x in lines if x.isdigit()]
        if not idx:
            if last_session:
                break
            continue
        # The session resumes right after a clear: the confirmed one, or the one in flight.
        want = {x + 1 for x in (confirmed, intent) if x is not None}
        if first_index is None:
            first_index = idx[0]
            confirmed = first_index - 1
        elif idx[0] not in want:
            print(f"session {sessions}: starts at {idx[0]}, expected one of {sorted(want)}")
            return 1
        if seen_max is not None and idx[0] > seen_max + 1:
            print(f"session {sessions}: records {seen_max + 1}..{idx[0] - 1} lost")
            return 1
        for a, b in zip(idx, idx[1:]):
            if b != a + 1:
                print(f"session {sessions}: {a} followed by {b}")
                return 1
        seen_max = max(seen_max or 0, idx[-1])
        for line in lines:
            if line.startswith("c "):
                intent = int(line[2:])
            elif line.startswith("C "):
                confirmed = int(line[2:])
        if last_session or "EOF" in lines:
            if "EOF" not in lines:
                print("last session did not reach the end")
                return 1
            break
    total = seen_max - first_index + 1
    print(f"{sessions} sessions, indices {first_index}..{seen_max} ({total})")
    if total < count:
        print(f"only {total} of {count} records")
        return 1
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    return {"dump": dump, "seeks": seeks, "badwrites": badwrites, "pollwait": pollwait,
            "nonblock": nonblock, "badinput": badinput, "reader": reader, "kucclose": kucclose,
            "killer": killer, "filtered": filtered}[cmd](*args)


if __name__ == "__main__":
    sys.exit(main())
