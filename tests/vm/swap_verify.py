#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# One whole verifying pass over more memory than the guest has (run by tests/vm/swap.sh):
#
#   swap_verify.py MIB ROUNDS
#
# Fills MIB MiB, page by page, with a pattern that names the page and the round, then reads
# every page back and compares; ROUNDS times, each with new contents, so that pages go out to
# swap and come back at least once per round whatever the swap device's speed. stress-ng's
# verifying load on a slow swap device (a file on NFS) can end its run before it completes a
# pass, and then has compared nothing; this pass does not end before it has compared every
# page (the caller's timeout bounds it). Prints a progress line every 32 MiB and one line per
# round, and exits 1 on the first mismatch.
import struct
import sys
import time

PAGE = 4096


def pattern(rnd, page):
    # Eight bytes naming the round and the page, repeated over the page: a page swapped in
    # from the wrong slot, stale from an earlier round, or zero-filled does not match.
    return struct.pack("<Q", (rnd << 48) ^ (page * 0x9E3779B97F4A7C15 & ((1 << 48) - 1)) | 1) * (
        PAGE // 8
    )


def main():
    mib, rounds = int(sys.argv[1]), int(sys.argv[2])
    pages = mib * 1024 * 1024 // PAGE
    buf = bytearray(pages * PAGE)
    view = memoryview(buf)
    for rnd in range(1, rounds + 1):
        start = time.monotonic()
        step = 32 * 256  # a progress line every 32 MiB: a slow pass is told from a stall
        for p in range(pages):
            view[p * PAGE:(p + 1) * PAGE] = pattern(rnd, p)
            if p % step == step - 1:
                print(f"verify: round {rnd}: {(p + 1) // 256} MiB written "
                      f"after {time.monotonic() - start:.0f} s", flush=True)
        filled = time.monotonic()
        for p in range(pages):
            if view[p * PAGE:(p + 1) * PAGE] != pattern(rnd, p):
                got = bytes(view[p * PAGE:p * PAGE + 8]).hex()
                print(f"verify: round {rnd}: page {p} of {pages} differs "
                      f"(first 8 bytes {got}, expected {pattern(rnd, p)[:8].hex()})", flush=True)
                return 1
            if p % step == step - 1:
                print(f"verify: round {rnd}: {(p + 1) // 256} MiB read back "
                      f"after {time.monotonic() - filled:.0f} s", flush=True)
        done = time.monotonic()
        print(f"verify: round {rnd}: {mib} MiB written in {filled - start:.0f} s and read back "
              f"in {done - filled:.0f} s, every page as written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
