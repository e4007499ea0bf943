#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lloop against the kernel's loop driver, in the VM (run by scripts/bench-lloop.sh):
#
#   tests/bench/lloop_bench.sh MODDIR TOP [SECONDS [ROUNDS [JOBS]]]
#
# One backing file (1 GiB, written out) on ext4 on the guest's virtio disk, attached at the
# same time to /dev/lloop0 (direct I/O, its default) and to a loop device with direct I/O on.
# fio with libaio and direct=1 runs four jobs: 4 KiB random read and random write at iodepth
# 32, 1 MiB sequential read and write at iodepth 8, each for SECONDS (default 10) on lloop,
# on loop and on the file itself with O_DIRECT (the ceiling), alternating, ROUNDS times
# (default 3); each round starts with the next target, so that none always runs first. JOBS
# picks some of the jobs (e.g. "write:1M:8"). Prints the median of each and the ratios. A
# benchmark: nothing is asserted.
#
# BENCH_NFS=4.2 (or 3) puts NFS between them and the file: the guest's own server exports the
# ext4 (tests/vm/nfs.sh, 127.0.0.1) and lloop, loop and the ceiling use the file through that
# mount.
#
# PROFILE=1 adds, after the rounds, one more run of every job on each target with the whole
# guest sampled by perf (cpu-clock, call graphs): per target, the rate and the statistics of a
# run (below; perf's own work counts in them), the share of each object in all samples (idle
# included) and the hottest symbols.
set -u
mods=$1 top=$2 secs=${3:-10} rounds=${4:-3}
jobs=${5:-randread:4k:32 randwrite:4k:32 read:1M:8 write:1M:8}
export PATH=$top/tools/target/release:$PATH
w=/tmp/bench
# shellcheck source=tests/bench/lloop_backing.sh
. "$top/tests/bench/lloop_backing.sh"
# shellcheck disable=SC2086 # LLOOP_PARAMS are words for insmod
insmod "$(find "$mods" -name lloop.ko | head -n1)" ${LLOOP_PARAMS:-} || exit 1
src=$w/file
if [ -n "${BENCH_NFS:-}" ]; then
	# shellcheck source=tests/vm/nfs.sh
	. "$top/tests/vm/nfs.sh"
	nfs_up $w && nfs_mount "$BENCH_NFS" /tmp/m/nfs || exit 1
	src=/tmp/m/nfs/file
	# The server reads the file through its page cache, which the setup emptied: whoever read
	# first would pay for the disk (lloop, in the first round). Read it once here, so that every
	# run finds it cached (1 GiB in a guest of 2).
	dd if=$w/file of=/dev/null bs=1M status=none
fi
lloop=$(lloop attach $src) || exit 1
loop=$(losetup --direct-io=on -f --show $src) || exit 1
# shellcheck source=tests/bench/kernel_kind.sh
. "$top/tests/bench/kernel_kind.sh"
echo "setup: kernel $(kernel_kind)"
echo "setup: $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB;" \
	"lloop $lloop dio=$(cat /sys/block/${lloop#/dev/}/lloop/dio) bs=$(cat /sys/block/${lloop#/dev/}/queue/logical_block_size);" \
	"loop $loop dio=$(cat /sys/block/${loop#/dev/}/loop/dio) bs=$(cat /sys/block/${loop#/dev/}/queue/logical_block_size);" \
	"fio $(fio --version), libaio, direct=1, ${secs} s per run, $rounds rounds"
for d in $lloop $loop; do
	q=/sys/block/${d#/dev/}/queue
	echo "setup: $d max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb) max_segments=$(cat $q/max_segments) nr_requests=$(cat $q/nr_requests) scheduler=$(cat $q/scheduler)"
done

# What each run asked of the server, on NFS, and how busy the guest was: READ and WRITE RPCs
# and their mean size (bytes on the wire, headers included), COMMITs, and the RPCs' summed
# execution time from /proc/self/mountstats over the run's wall time (the mean number of
# RPCs in flight, by Little's law), and the share of the CPUs' time idle or waiting for I/O
# (/proc/stat), and the CPU time spent (busy, all CPUs) per MiB fio moved (BYTES, fio's rate
# times SECONDS). The window is fio's whole run, its start and 2 s ramp included, which the
# IOPS figure leaves out: it understates the RPCs in flight a little and overstates the CPU
# time per MiB by about as much for every target.
nfs_ops() { # READ+WRITE ops, their bytes, their execute ms, COMMIT ops
	# NFS 4.2 reads are READ_PLUS calls.
	awk '$1 == "READ:" || $1 == "READ_PLUS:" { o += $2; b += $6; e += $9 } $1 == "WRITE:" { o += $2; b += $5; e += $9 }
		$1 == "COMMIT:" { c += $2 } END { print o + 0, b + 0, e + 0, c + 0 }' /proc/self/mountstats
}
cpu_times() { # idle+iowait, total, steal (clock ticks)
	awk '$1 == "cpu" { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9; exit }' /proc/stat
}
run_stats() { # BEFORE-OPS BEFORE-CPU START-NS BYTES
	local o1 c1 t1
	o1=$(nfs_ops) c1=$(cpu_times) t1=$(date +%s%N)
	awk -v a="$1" -v b="$o1" -v c="$2" -v d="$c1" -v t0="$3" -v t1="$t1" -v nfs="${BENCH_NFS:-}" \
		-v bytes="${4:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x); split(b, y); split(c, p); split(d, q)
		ms = (t1 - t0) / 1e6; n = y[1] - x[1]; tot = q[2] - p[2]; busy = tot - (q[1] - p[1]) - (q[3] - p[3])
		s = sprintf("idle or iowait %.0f%%, CPU %.1f ms/MiB", tot > 0 ? 100 * (q[1] - p[1]) / tot : 0,
			bytes > 0 ? 1000 * busy / hz / (bytes / 1048576) : 0)
		if (nfs != "")
			s = s sprintf("; RPCs %d of %.0f KiB, %.1f in flight, %d COMMIT", n,
				n > 0 ? (y[2] - x[2]) / n / 1024 : 0, ms > 0 ? (y[3] - x[3]) / ms : 0, y[4] - x[4])
		print s
	}'
}

res=$w/results
: >$res
for r in $(seq 1 "$rounds"); do
	for job in $jobs; do
		IFS=: read -r rw bs qd <<<"$job"
		targets="lloop loop file lloop loop"
		targets=$(echo $targets | cut -d' ' -f$(((r - 1) % 3 + 1))-$(((r - 1) % 3 + 3)))
		for target in $targets; do
			case $target in
			lloop) f=$lloop ;;
			loop) f=$loop ;;
			file) f=$src ;;
			esac
			o0=$(nfs_ops) c0=$(cpu_times) t0=$(date +%s%N)
			v=$(bench_fio "$f" "$rw" "$bs" "$qd" "$secs" 2>$w/err.txt)
			st=$(run_stats "$o0" "$c0" "$t0" "$(awk -v s="$secs" '{ printf "%.0f", $2 * s }' <<<"$v")")
			if [ -z "$v" ]; then
				echo "run: fio failed on $f: $(tail -n 2 $w/err.txt | tr '\n' ' ')"
				continue
			fi
			echo "$rw $bs $target $r $v" >>$res
			echo "run: round $r $rw $bs $target $(tail -n1 $res | awk '{printf "%.0f IOPS %.1f MiB/s", $5, $6 / 1048576}') ($st)"
		done
	done
done
python3 - $res <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for rw, bs, t, r, iops, bw in rows:
    med.setdefault((rw, bs), {}).setdefault(t, []).append((float(iops), int(bw)))
print("result: %-10s %-4s %12s %12s %12s %11s %11s" % ("job", "bs", "lloop", "loop", "file", "lloop/loop", "lloop/file"))
for (rw, bs), ts in med.items():
    m = {t: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for t, v in ts.items()}
    k = 0 if bs == "4k" else 1
    unit = (lambda v: "%.0f IOPS" % v) if k == 0 else (lambda v: "%.1f MiB/s" % (v / 1048576))
    print("result: %-10s %-4s %12s %12s %12s %11.2f %11.2f" % (rw, bs, unit(m["lloop"][k]), unit(m["loop"][k]), unit(m["file"][k]),
          m["lloop"][k] / m["loop"][k], m["lloop"][k] / m["file"][k]))
# lloop and loop of one round run next to each other: their ratio per round cancels the slow
# drifts of a shared host that the medians of each target keep.
per = {}
for rw, bs, t, r, iops, bw in rows:
    per.setdefault((rw, bs, r), {})[t] = float(iops)
for (rw, bs) in med:
    rs = [v["lloop"] / v["loop"] for (a, b, r), v in per.items() if (a, b) == (rw, bs) and "lloop" in v and v.get("loop")]
    if rs:
        print("paired: %-10s %-4s lloop/loop per round %s; median %.2f; lloop ahead in %d of %d" % (
            rw, bs, " ".join("%.2f" % x for x in rs), statistics.median(rs), sum(x >= 1 for x in rs), len(rs)))
PY
if [ "${PROFILE:-0}" = 1 ]; then
	# Debian's perf wrapper looks for a perf of the running kernel's version: call the binary.
	perf=$(ls /usr/bin/perf_* /usr/lib/linux-tools-*/perf 2>/dev/null | sort -V | tail -n1)
	perf=${perf:-perf}
	for job in $jobs; do
		IFS=: read -r rw bs qd <<<"$job"
		for target in lloop loop file; do
			case $target in
			lloop) f=$lloop ;;
			loop) f=$loop ;;
			file) f=$src ;;
			esac
			p=$w/perf.data
			o0=$(nfs_ops) c0=$(cpu_times) t0=$(date +%s%N)
			if ! "$perf" record -q -a -g -e cpu-clock -F 1000 -o "$p" -- \
				bash -c "$(declare -f bench_fio); bench_fio $f $rw $bs $qd $secs" >$w/v.txt 2>$w/err.txt ||
				[ ! -s $w/v.txt ]; then
				echo "profile: $rw $bs $target: perf record or fio failed: $(tail -n 2 $w/err.txt | tr '\n' ' ')"
				continue
			fi
			# (perf's own start and stop fall in the window too.)
			st=$(run_stats "$o0" "$c0" "$t0" "$(awk -v s="$secs" '{ printf "%.0f", $2 * s }' $w/v.txt)")
			echo "profile: $rw $bs $target: $(awk '{ printf "%.0f IOPS %.1f MiB/s", $1, $2 / 1048576 }' $w/v.txt) ($st)"
			"$perf" report -i "$p" --stdio --no-children --sort dso 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 8 | sed "s/^/profile: $rw $bs $target by object: /"
			"$perf" report -i "$p" --stdio --no-children --sort symbol --percent-limit 0.3 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 50 | sed -e 's/ *[-]* *[-]* *$//' -e "s/^/profile: $rw $bs $target self: /"
			rm -f "$p"
		done
	done
fi
losetup -d "$loop"
lloop detach "$lloop"
[ -z "${BENCH_NFS:-}" ] || nfs_down
umount $w
