#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A/B benchmark: builds of lloop.ko against each other and the kernel's loop driver, in one
# VM boot (tests/bench/lloop_ab.sh), to see what a change does under the same conditions.
#
#   scripts/bench-lloop-ab.sh SECONDS ROUNDS JOBS NAME=MODULE.ko[:PARAMS]...
#
# e.g. scripts/bench-lloop-ab.sh 8 5 "read:1M:8 write:1M:8" old=/tmp/old.ko new=build/modules/lloop.ko
# (unlike the other benchmarks, on the test kernel unless RUSTRE_PERF=1: see below)
# PARAMS are module parameters for that build ("submit_queues=1", several separated by commas),
# so that one module can be measured with several settings: one=M.ko:submit_queues=1 all=M.ko
# Prints the median IOPS of each build and of loop per job, and each build's ratio to loop.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 4 ] || { sed -n 7,9p "$0" >&2; exit 2; }
secs=$1 rounds=$2 jobs=$3
shift 3
out=$top/build/vm/bench-lloop-ab
rm -rf "$out/builds"
mkdir -p "$out/builds"
for b in "$@"; do
	name=${b%%=*} ko=${b#*=} params=
	case $ko in *:*) params=${ko#*:} ko=${ko%%:*} ;; esac
	[ -f "$ko" ] && [ "$name" != "$b" ] || { echo "bench: want NAME=MODULE.ko[:PARAMS], got '$b'" >&2; exit 2; }
	cp "$ko" "$out/builds/$name.ko"
	echo "${params//,/ }" >"$out/builds/$name.params"
done
# On the test kernel, for which `make modules` builds the modules compared; RUSTRE_PERF=1
# measures on the performance variant (Documentation/build.rst), whose modules must then be
# built with `make modules PERF=1` (a module loads only on the kernel it was built for).
make -C "$top" -s modules tools || exit 1
img=$("$top/scripts/bench-img.sh" "$out" 4) || exit 1
trap 'rm -f "$img"' EXIT
echo "bench: disk image $img"
VM_TIMEOUT=${VM_TIMEOUT:-3000} VM_QEMU_OPTS="-drive file=$img,if=virtio,format=raw,cache=unsafe" \
	VM_BENCH=1 bash "$top/scripts/vm.sh" "$out" \
	"bash tests/bench/lloop_ab.sh '$top' '$out/builds' $secs $rounds '$jobs'" | grep -E '^(setup|run|stats)'
rc=${PIPESTATUS[0]}
python3 - "$out/console.log" <<'PY'
import re, statistics, sys
runs, rounds = {}, {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"run: (\d+) (\S+) (\S+) (\S+) (\d+)", line)
    if m:
        runs.setdefault((m[2], m[3]), {}).setdefault(m[4], []).append(int(m[5]))
        rounds.setdefault((m[2], m[3]), {}).setdefault(m[1], {})[m[4]] = int(m[5])
for (rw, bs), ts in runs.items():
    med = {t: statistics.median(v) for t, v in ts.items()}
    loop = med.get("loop")
    cells = ["%s %.0f%s" % (t, m, " (%.2f)" % (m / loop) if loop and t != "loop" else "") for t, m in med.items()]
    print("result: %-10s %-4s IOPS median: %s" % (rw, bs, ", ".join(cells)))
    # Each build over loop in the same round: the two ran next to each other.
    for t in ts:
        if t == "loop":
            continue
        ratios = [r[t] / r["loop"] for r in rounds[(rw, bs)].values() if r.get("loop") and t in r]
        if ratios:
            print("paired: %-10s %-4s %s/loop per round: %s (median %.2f, ahead in %d of %d)" % (
                rw, bs, t, " ".join("%.2f" % x for x in ratios), statistics.median(ratios),
                sum(x >= 1 for x in ratios), len(ratios)))
PY
exit $rc
