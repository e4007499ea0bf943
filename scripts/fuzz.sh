#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the libFuzzer targets of tools/fuzz and runs each, one after the other, for SECONDS
# (default 30) over a copy of its seed corpus (tools/fuzz/corpus/<target>, never grown here).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (all targets without TARGET)
#
# The targets are built with cargo-fuzz on the stable toolchain: `-s none` (no sanitizer; the
# code under test has no `unsafe`) gives the coverage instrumentation of libFuzzer without any
# nightly flag. Release optimisation, with debug assertions and overflow checks, so that an
# arithmetic overflow is a crash as in the kernel (CONFIG_RUST_OVERFLOW_CHECKS).
#
# Each target prints one line, "fuzz TARGET: ok, ..." or "fuzz TARGET: FAILED: ..." with the
# path of the crashing input; the last line is "fuzz: N targets ok, N failed". Work files are in
# build/fuzz/<target>/ (corpus copy, log, crash artifacts). Exit status non-zero if a target
# crashed or did not build. Replay a crash with
#   tools/fuzz/target/x86_64-unknown-linux-gnu/release/TARGET build/fuzz/TARGET/crash-...
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$HOME/.cargo/bin:$PATH
secs=${1:-30}
shift $(($# > 0 ? 1 : 0))
case $secs in
'' | *[!0-9]*) echo "fuzz: SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac
fuzz=$top/tools/fuzz
work=$top/build/fuzz
bin_dir=$fuzz/target/x86_64-unknown-linux-gnu/release

command -v cargo-fuzz >/dev/null || {
	echo "fuzz: cargo-fuzz is not installed (make deps installs it)" >&2
	exit 1
}

targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	mapfile -t targets < <(cd "$fuzz/fuzz_targets" && ls -- *.rs | sed 's/\.rs$//')
fi

echo "fuzz: building ${#targets[@]} targets (cargo fuzz build -s none)"
if ! (cd "$fuzz" && nice -n 19 cargo fuzz build -s none); then
	echo "fuzz: build failed" >&2
	echo "fuzz: 0 targets ok, ${#targets[@]} failed"
	exit 1
fi

# Inputs larger than libFuzzer's default 4096 bytes: two catalog header slots, runs of frames,
# an upcall path with its request.
max_len() {
	case $1 in
	catalog_header) echo 8600 ;;
	catalog_frames | upcall_argv) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

passed=0 failed=0
for t in "${targets[@]}"; do
	dir=$work/$t
	rm -rf "$dir"
	mkdir -p "$dir/corpus"
	if [ ! -x "$bin_dir/$t" ] || [ ! -d "$fuzz/corpus/$t" ]; then
		echo "fuzz $t: FAILED: no such target or no corpus (tools/fuzz/corpus/$t)"
		failed=$((failed + 1))
		continue
	fi
	cp "$fuzz/corpus/$t"/* "$dir/corpus/"
	nice -n 19 "$bin_dir/$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" \
		>"$dir/log" 2>&1
	rc=$?
	runs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$dir/log")
	cov=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -n1 | awk '{ print $2 }')
	artifact=$(find "$dir" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | head -n1)
	if [ "$rc" = 0 ] && [ -z "$artifact" ]; then
		echo "fuzz $t: ok, ${runs:-?} runs in $secs s, coverage ${cov:-?}"
		passed=$((passed + 1))
	else
		why=$(grep -m1 -E 'panicked at|ERROR: libFuzzer' "$dir/log")
		echo "fuzz $t: FAILED (exit $rc): ${artifact:-no artifact} (log $dir/log)"
		[ -n "$why" ] && echo "fuzz $t:   $why"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed targets ok, $failed failed"
[ "$failed" = 0 ]
