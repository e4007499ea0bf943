#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# HSM dispatch, in the VM (run by scripts/bench-hsm.sh), on an ext4 target (RELEASE needs a
# filesystem with pre-content events; a sparse image on the guest's /tmp):
#
# 1. Restore dispatch latency (request to copytool) of NRES restores sent while NARC archive
#    requests are pending, with the coordinator handling everything, then with ARCHIVE
#    diverted to the upcall (lhsm_mdt_upcall and its SQLite queue), alternating, ROUNDS each.
# 2. Upcall throughput: FIDs per second through `lfs hsm_archive` by FIDs per invocation
#    (hsm.upcall_batch), with lhsm_mdt_upcall and with a shell script that only exits 0.
# 3. What implicit restore costs files that are not released: reads of a cached 128 MiB file
#    4 KiB at a time (dd) and opens and closes of 2,000 files (python3), with hsm_upcall
#    loaded (its pre-content watch on the target) and unloaded, alternating, ROUNDS each.
# 4. Time to the first byte of a released file of 1 MiB and 64 MiB, with one lhsm_copytool
#    (lhsm_worker_posix, archive on tmpfs): opened and read (implicit restore), against an
#    explicit `lfs hsm_restore` waited for and then the same read, and against the read of the
#    file resident (page cache dropped), ROUNDS each, in turn.
#
# A benchmark, not a test: nothing is asserted.
set -u
mods=$1 top=$2 narc=${3:-10000} nres=${4:-100} rounds=${5:-2}
rel=$top/tools/target/release
export PATH=$rel:$top/tools/lhsm/scripts:$PATH
T=bench-MDT0000
w=$(mktemp -d)
fs=$w/fs arc=$w/arc db=$w/db
mkdir -p "$fs" "$w/cat" "$arc" "$db"
truncate -s 1G "$w/fs.img"
mkfs.ext4 -q -F "$w/fs.img" || exit 1
mount -o loop "$w/fs.img" "$fs" || exit 1
for d in "$w/cat" "$arc" "$db"; do mount -t tmpfs tmpfs "$d"; done
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
insmod "$(find "$mods" -name hsm_upcall.ko | head -n1)" || exit 1
lctl mdt_attach $T "$fs" "$w/cat/c.llog" || exit 1
lctl set_param mdt.$T.hsm_control=enabled >/dev/null
install -m 0755 "$rel/lhsm_mdt_upcall" "$w/lhsm_mdt_upcall"
printf '#!/bin/sh\nexit 0\n' >"$w/true_upcall"
chmod 755 "$w/true_upcall"
mkdir -p /etc/rustre
echo "queue=$db/q.db" >/etc/rustre/lhsm.conf

python3 - "$fs" "$narc" "$nres" <<'PY'
import os, sys
d, narc, nres = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(f"{d}/a"); os.mkdir(f"{d}/r")
for i in range(narc):
    with open(f"{d}/a/{i}", "wb") as f: f.write(os.urandom(1024))
for i in range(nres):
    with open(f"{d}/r/{i}", "wb") as f: f.write(os.urandom(4096))
PY
find "$fs/a" -type f >"$w/alist"
find "$fs/r" -type f >"$w/rlist"
# Forget what the last round archived, so that every archive request is needed again.
reset_archives() {
	python3 - "$w/alist" <<'PY'
import os, sys
for p in open(sys.argv[1]).read().split():
    try: os.removexattr(p.strip(), "trusted.hsm")
    except OSError: pass
PY
	lctl set_param mdt.$T.hsm_control=purge >/dev/null
	rm -f "$db"/q.db*
}

# shellcheck source=tests/bench/kernel_kind.sh
. "$top/tests/bench/kernel_kind.sh"
echo "setup: kernel $(kernel_kind)"
echo "setup: $narc files to archive (1 KiB), $nres to restore (4 KiB); one in-process copytool, max_requests $(lctl get_param -n mdt.$T.hsm.max_requests)"
echo "setup: $(hsm_bench archive $T "$fs" "$arc" "$w/rlist")"
for r in $(seq 1 "$rounds"); do
	for mode in coordinator upcall; do
		reset_archives
		lfs hsm_release $(cat "$w/rlist") || exit 1
		if [ $mode = upcall ]; then
			lctl set_param mdt.$T.hsm.upcall_mask=ARCHIVE mdt.$T.hsm.upcall_path="$w/lhsm_mdt_upcall" >/dev/null
		else
			echo >/sys/fs/lustre/mdt/$T/hsm/upcall_mask
		fi
		echo "latency round $r, $mode: $(hsm_bench latency $T "$fs" "$arc" "$w/alist" "$w/rlist" 2>&1)"
	done
done

reset_archives
head -n 1000 "$w/alist" >"$w/tlist"
nt=$(wc -l <"$w/tlist")
lctl set_param mdt.$T.hsm.upcall_mask=ARCHIVE >/dev/null
for up in lhsm_mdt_upcall true_upcall; do
	lctl set_param mdt.$T.hsm.upcall_path="$w/$up" >/dev/null
	for batch in 1 10 100 1000; do
		lctl set_param mdt.$T.hsm.upcall_batch=$batch >/dev/null
		rm -f "$db"/q.db*
		t0=$(date +%s.%N)
		lfs hsm_archive $(cat "$w/tlist") || echo "hsm_archive failed"
		t1=$(date +%s.%N)
		awk -v up=$up -v b=$batch -v n="$nt" -v t0="$t0" -v t1="$t1" 'BEGIN {
			printf "throughput %s: %4d FIDs per call: %d FIDs in %.2f s, %.0f FIDs/s\n", up, b, n, t1 - t0, n / (t1 - t0) }'
	done
done
lctl set_param mdt.$T.hsm_control=purge >/dev/null

head -c 128M /dev/zero >"$fs/big"
mkdir "$fs/o"
python3 - "$fs/o" <<'PY'
import os, sys
for i in range(2000):
    open(f"{sys.argv[1]}/{i}", "w").close()
PY
cat "$fs/big" >/dev/null
reads() { # MB/s of a 4 KiB read of the cached file, as dd reports it
	dd if="$fs/big" of=/dev/null bs=4k 2>&1 |
		awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1); printf "%.0f\n", $1 / t / 1e6 }'
}
opens() { # opens and closes per second
	python3 - "$fs/o" <<'PY'
import os, sys, time
d = sys.argv[1]
t = time.monotonic()
for _ in range(5):
    for i in range(2000):
        os.close(os.open(f"{d}/{i}", os.O_RDONLY))
print(f"{10000 / (time.monotonic() - t):.0f}")
PY
}
for r in $(seq 1 "$rounds"); do
	declare -A rd op
	for mode in on off; do
		if [ $mode = on ]; then
			lsmod | grep -q '^hsm_upcall' || insmod "$(find "$mods" -name hsm_upcall.ko | head -n1)" || exit 1
		else
			rmmod hsm_upcall || exit 1
		fi
		rd[$mode]=$(reads)
		op[$mode]=$(opens)
	done
	awk -v r="$r" -v a="${rd[on]}" -v b="${rd[off]}" -v c="${op[on]}" -v d="${op[off]}" 'BEGIN {
		printf "precontent round %d: 4 KiB reads %s MB/s with the watch, %s without (%.2f); opens %s/s with, %s without (%.2f)\n", r, a, b, a / b, c, d, c / d }'
done
insmod "$(find "$mods" -name hsm_upcall.ko | head -n1)" || exit 1

lctl set_param mdt.$T.hsm_control=enabled >/dev/null
export LHSM_ARCHIVE_BASE=$arc/
lhsm_copytool $T 2>"$w/ct.log" &
ct=$!
t=0
while ! lctl get_param -n mdt.$T.hsm.agents | grep -q uuid && [ $t -lt 300 ]; do sleep 0.2; t=$((t + 1)); done
# first_byte FILE [restore]: milliseconds from the start (of `lfs hsm_restore`, waited for
# until trusted.hsm no longer says released, with "restore") to the first byte read.
first_byte() {
	python3 - "$@" <<'PY'
import os, struct, subprocess, sys, time
f = sys.argv[1]
t = time.monotonic()
if len(sys.argv) > 2:
    subprocess.run(["lfs", "hsm_restore", f], check=True)
    # struct hsm_attrs: compat, flags (HS_RELEASED 0x4), archive id, version.
    while struct.unpack_from("<II", os.getxattr(f, "trusted.hsm"))[1] & 0x4:
        time.sleep(0.001)
fd = os.open(f, os.O_RDONLY)
assert len(os.read(fd, 1)) == 1
os.close(fd)
print(f"{(time.monotonic() - t) * 1000:.1f}")
PY
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
for size in 1 64; do
	head -c ${size}M /dev/urandom >"$fs/ttfb$size"
	lfs hsm_archive "$fs/ttfb$size"
	t=0
	until lfs hsm_state "$fs/ttfb$size" | grep -q "exists archived" || [ $t -ge 600 ]; do sleep 0.1; t=$((t + 1)); done
done
for r in $(seq 1 "$rounds"); do
	for size in 1 64; do
		f=$fs/ttfb$size
		lfs hsm_release "$f" || echo "release of $f failed"
		drop_caches
		imp=$(first_byte "$f")
		lfs hsm_release "$f" || echo "release of $f failed"
		drop_caches
		exp=$(first_byte "$f" restore)
		drop_caches
		res=$(first_byte "$f")
		echo "first byte round $r, $size MiB: implicit restore $imp ms, explicit restore then read $exp ms, resident $res ms"
	done
done
kill $ct
wait $ct 2>/dev/null
lctl mdt_detach $T
rmmod hsm_upcall rustre_mdt
rm -rf /etc/rustre
for d in "$fs" "$w/cat" "$arc" "$db"; do umount "$d"; done
