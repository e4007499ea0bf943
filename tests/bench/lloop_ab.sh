#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Several builds of lloop against the kernel's loop driver, in the VM (run by
# scripts/bench-lloop-ab.sh):
#
#   tests/bench/lloop_ab.sh TOP DIR SECONDS ROUNDS JOBS
#
# JOBS are RW:BS:IODEPTH[:BATCH[:NUMJOBS]] (see bench_fio). DIR holds the builds as NAME.ko, with module parameters for each in NAME.params (may be
# empty). One backing file as in lloop_bench.sh; for each job and
# round, each build in turn is loaded, attached, measured with fio and unloaded, and loop
# (direct I/O) is measured on the same file. Each round starts one target later than the one
# before, as a run's position in the sequence affects its result (random writes slow down
# from one run to the next). Prints one "run:" line per measurement (IOPS); the host script
# takes the medians. A benchmark: nothing is asserted.
set -u
top=$1 dir=$2 secs=$3 rounds=$4 jobs=$5
export PATH=$top/tools/target/release:$PATH
w=/tmp/bench
# shellcheck source=tests/bench/lloop_backing.sh
. "$top/tests/bench/lloop_backing.sh"
loop=$(losetup --direct-io=on -f --show $w/file) || exit 1
builds=$(cd "$dir" && ls -- *.ko | sed 's/\.ko$//')
# shellcheck disable=SC2206 # names without spaces
targets=($builds loop)
n=${#targets[@]}
# shellcheck source=tests/bench/kernel_kind.sh
. "$top/tests/bench/kernel_kind.sh"
echo "setup: kernel $(kernel_kind)"
echo "setup: builds" $builds "and loop; fio $(fio --version), libaio, direct=1, ${secs} s per run, $rounds rounds"
for r in $(seq 1 "$rounds"); do
	for job in $jobs; do
		IFS=: read -r rw bs qd batch njobs <<<"$job"
		for i in $(seq 0 $((n - 1))); do
			t=${targets[$(((i + r - 1) % n))]}
			if [ "$t" = loop ]; then
				f=$loop
			else
				# shellcheck disable=SC2046 # parameters are words
				insmod "$dir/$t.ko" $(cat "$dir/$t.params" 2>/dev/null) || exit 1
				f=$(lloop attach $w/file) || exit 1
			fi
			v=$(bench_fio "$f" "$rw" "$bs" "$qd" "$secs" "${batch:-1}" "${njobs:-1}")
			echo "run: $r $rw $bs${batch:+b$batch}${njobs:+j$njobs} $t ${v%% *}"
			if [ "$t" != loop ]; then
				# Requests started in the submitter, sent to the worker, finished by it.
				echo "stats: $r $rw $bs${batch:+b$batch}${njobs:+j$njobs} $t" \
					"$(cat "/sys/block/${f#/dev/}/lloop/submit_stats")"
				lloop detach "$f" && rmmod lloop || exit 1
			fi
		done
	done
done
losetup -d "$loop"
umount $w
