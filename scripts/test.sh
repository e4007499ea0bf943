#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make test`: host cargo tests, then the VM (KUnit suites of every module and of the kernel-crate
# abstractions, integration tests), then one line `N passed, N failed`.
#
# Counts: each host test, each KUnit case, each integration script, the VM run itself
# (kernel reports, timeouts), the crash test, the swap test and the lloop stress test count as
# one test each.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
out=$top/build/vm/test
passed=0 failed=0 skipped=0
failures=()

pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); failures+=("$2"); }

# On the KASAN variant (make test KASAN=1) only what runs on the kernel: the host tests, the
# fuzz run and the lint do not depend on it, and make test runs them.
kasan=${RUSTRE_KASAN:-0}
host() { [ "$kasan" != 1 ] || { echo "== $1: not run on the KASAN variant (independent of the kernel; make test runs it)"; false; }; }

# 1. Host: the userspace tools and the pure logic shared with the modules.
if host "host: cargo test"; then
	echo "== host: cargo test"
	host_log=$(mktemp)
	(cd tools && cargo test 2>&1) | tee "$host_log"
	host_rc=${PIPESTATUS[0]}
	read -r hp hf < <(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$host_log")
	pass "$hp"
	[ "$hf" -gt 0 ] && fail "$hf" "host cargo test: $hf failed"
	[ "$host_rc" != 0 ] && [ "$hf" = 0 ] && fail 1 "host cargo test: exit $host_rc (build error?)"
	rm -f "$host_log"
fi

# 1b. Fuzz every parser of outside bytes on the host (tools/fuzz, scripts/fuzz.sh): a short
# bounded run, FUZZ_SECONDS (default 10) per target; each target counts as one test.
if host "host: fuzz"; then
	echo "== host: fuzz, ${FUZZ_SECONDS:-10} s per target"
	fuzz_log=$(mktemp)
	bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}" 2>&1 | tee "$fuzz_log"
	fuzz_rc=${PIPESTATUS[0]}
	fp=$(grep -cE '^fuzz [a-z0-9_]+: ok' "$fuzz_log")
	ff=$(grep -cE '^fuzz [a-z0-9_]+: FAILED' "$fuzz_log")
	pass "$fp"
	[ "$ff" -gt 0 ] && fail "$ff" "fuzz: $ff target(s) crashed (see build/fuzz/)"
	[ "$fuzz_rc" != 0 ] && [ "$ff" = 0 ] && fail 1 "fuzz: exit $fuzz_rc (build error?)"
	rm -f "$fuzz_log"
fi

# 2. Build the kernel (or reuse it), the modules and the tools the VM tests run.
echo "== build: kernel, modules and tools"
if ! make -s modules tools KASAN="$kasan" PERF=0; then
	fail 1 "module or tool build"
	echo "${passed} passed, ${failed} failed"
	exit 1
fi

# 2b. Lint (scripts/lint.sh): rustfmt, and clippy over the modules and the kernel crate;
# each of the three checks counts as one test.
if host "lint: rustfmt and clippy"; then
	echo "== lint: rustfmt and clippy"
	lint_log=$(mktemp)
	bash scripts/lint.sh 2>&1 | tee "$lint_log"
	lp=$(grep -cE '^lint: [a-z ]+: ok( |$)' "$lint_log")
	lf=$(grep -cE '^lint: .*: FAILED' "$lint_log")
	pass "$lp"
	[ "$lf" -gt 0 ] && fail "$lf" "lint: $lf check(s) failed"
	[ "$((lp + lf))" -lt 3 ] && fail 1 "lint: only $((lp + lf)) of 3 checks ran"
	rm -f "$lint_log"
fi

# 2c. The patch series: every prefix applies to the kernel source without fuzz (each prefix
# building is `bash scripts/series.sh check`, run by hand: one kernel-crate build per patch).
if host "series: every prefix applies"; then
	echo "== series: every prefix applies"
	if bash scripts/series.sh applies; then pass 1; else fail 1 "patch series: a prefix does not apply"; fi
fi

# 2d. The drivers in-tree: the series plus one patch per driver (scripts/intree.sh), applied to
# the kernel source and built with their Kconfig options in a copy of the kernel build.
if host "in-tree: the series and the drivers build in the kernel tree"; then
	echo "== in-tree: the series and the drivers build in the kernel tree"
	if bash scripts/intree.sh check; then pass 1; else fail 1 "in-tree build of the drivers"; fi
fi

# 3. The VM.
echo "== vm: KUnit and integration tests"
rm -rf "$out"
mkdir -p "$out"
if VM_TIMEOUT=${VM_TIMEOUT:-2400} bash scripts/vm.sh "$out" "bash tests/vm/guest.sh test '$out' '$top/build/modules'"; then
	pass 1
else
	fail 1 "vm run (see $out/console.log)"
fi

# 4. KUnit results: every module must have produced a KTAP report and pass it.
kunit=$top/build/linux-src/tools/testing/kunit/kunit.py
# boot.log holds the suites built into the kernel (the kernel crate's own), run at boot.
cp "$out/boot.log" "$out/kunit-builtin.log" 2>/dev/null
for m in builtin rustre_kunit $(awk '!/^#/ && NF {print $1}' scripts/modules.txt); do
	log=$out/kunit-$m.log
	if [ -f "$out/kunit-$m.err" ] || [ ! -s "$log" ] || ! grep -q '^KTAP version' "$log"; then
		fail 1 "kunit $m: no KTAP report ($(cat "$out/kunit-$m.err" 2>/dev/null || echo 'module did not run'))"
		continue
	fi
	res=$(python3 "$kunit" parse "$log" 2>&1)
	krc=$?
	echo "$res" | grep -E '^\[..:..:..\] (=+|\[(PASSED|FAILED|SKIPPED|CRASHED)\])' | sed 's/^/  /'
	# "Testing complete. Ran N tests: passed: P, failed: F, ..."
	read -r kp kf < <(echo "$res" | awk '/Ran [0-9]+ tests/ {
		p = f = 0
		for (i = 1; i < NF; i++) {
			if ($i == "passed:") p = $(i + 1) + 0
			if ($i == "failed:" || $i == "crashed:") f += $(i + 1) + 0
		}
	} END { print p + 0, f + 0 }')
	pass "${kp:-0}"
	[ "${kf:-0}" -gt 0 ] && fail "$kf" "kunit $m: $kf failed"
	[ "$krc" != 0 ] && [ "${kf:-0}" = 0 ] && fail 1 "kunit $m: parser reports failure"
	echo "kunit $m: ${kp:-0} passed, ${kf:-0} failed"
done

# 5. Integration tests.
for rcf in "$out"/integration-*.rc; do
	[ -e "$rcf" ] || { fail 1 "integration: no results"; break; }
	name=$(basename "$rcf" .rc)
	if [ "$(cat "$rcf")" = 0 ]; then
		pass 1
		echo "$name: ok"
	elif [ "$(cat "$rcf")" = 77 ]; then
		skipped=$((skipped + 1))
		echo "$name: SKIPPED: $(tail -n1 "$out/$name.log")"
	else
		rc=$(cat "$rcf")
		why="exit $rc"
		[ "$rc" = 124 ] && why="killed by its time limit in tests/vm/guest.sh"
		fail 1 "$name: $why (see $out/$name.log)"
		echo "$name: FAILED ($why)"
		# The failed checks and the end of the log, so that a CI log alone says what broke.
		grep -E '^(\[ *[0-9]+ s\] )?FAIL' "$out/$name.log" | head -n 20 | sed 's/^/  /'
		tail -n 5 "$out/$name.log" | sed 's/^/  | /'
	fi
done

# 6. Unclean stop: kill QEMU during a changelog load, boot again, check the catalog.
echo "== vm: crash recovery (two boots)"
if bash scripts/crash-test.sh "$top/build/vm/crash" | grep -vE '^\[ *[0-9]+\.[0-9]+\]'; then
	pass 1
else
	fail 1 "crash recovery (see build/vm/crash/check.log)"
fi

# 7. Swap on lloop in a 256 MiB guest under a verifying memory load (tests/vm/swap.sh) of
# three times the free memory: the size at which swap-out without the reserves deadlocked.
echo "== vm: swap on lloop under memory pressure (256 MiB guest)"
if SWAP_LOAD_PCT=${SWAP_LOAD_PCT:-300} bash scripts/swap-test.sh "$top/build/vm/swap" lloop; then
	pass 1
else
	fail 1 "swap on lloop (see build/vm/swap/)"
fi

# 8. lloop over ext4 and XFS that must read their extent maps while serving I/O: cold after a
# detach and dropped caches, then under memory pressure (tests/vm/lloop_stress.sh).
echo "== vm: lloop on NFS files (the guest's own NFS server, v4.2 and v3)"
if bash scripts/nfs-test.sh "$top/build/vm/nfs" | grep -E '^(ok|FAIL|PASS|NFS|nfs|hard|soft|export|vm|scan)'; then
	pass 1
else
	fail 1 "lloop on NFS (see build/vm/nfs/)"
fi

echo "== vm: lloop with cold extent maps and under pressure (512 MiB guest)"
if STRESS_SECONDS=${STRESS_SECONDS:-120} bash scripts/lloop-stress.sh "$top/build/vm/lloop-stress"; then
	pass 1
else
	fail 1 "lloop stress (see build/vm/lloop-stress/)"
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
summary="${passed} passed, ${failed} failed"
[ "$skipped" = 0 ] || summary+=", ${skipped} skipped"
echo "$summary"
[ "$failed" = 0 ]
