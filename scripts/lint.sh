#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Lint: rustfmt over every Rust file, and clippy with the kernel's own lint set (CLIPPY=1)
# over the modules and over the kernel crate with the patch series applied.
#
#   scripts/lint.sh        (make lint; part of make test)
#
# The modules are linted into build/lint/modules, apart from the ones the tests load. The
# kernel crate is linted in a copy of the kernel build (build/lint/kernel-obj), so that the
# cached kernel is not rebuilt with other flags. Prints one "lint: ..." line per check and
# exits non-zero on any warning or formatting difference.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
lint=$top/build/lint
src=$top/build/linux-src
rc=0
mkdir -p "$lint"

# rustfmt: the kernel side with the kernel's configuration, the tools (two workspaces) with
# cargo's. The file list comes from git: outside a checkout there is nothing to check.
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "lint: rustfmt: FAILED: not a git checkout"; exit 1; }
bad=() n=0
while IFS= read -r f; do
	n=$((n + 1))
	rustfmt --edition 2021 --config-path "$src/.rustfmt.toml" --check "$f" >/dev/null 2>"$lint/rustfmt.err" ||
		bad+=("$f$([ -s "$lint/rustfmt.err" ] && echo " ($(head -c 200 "$lint/rustfmt.err"))")")
done < <(git ls-files '*.rs' ':!tools/')
# The kernel crate's files of the patch series, as the last `make kernel` applied it.
while IFS= read -r f; do
	n=$((n + 1))
	rustfmt --edition 2021 --config-path "$src/.rustfmt.toml" --check "$src/$f" >/dev/null 2>"$lint/rustfmt.err" ||
		bad+=("$f (patches/)")
done < <(sed -n 's|^+++ b/\(rust/kernel/.*\.rs\)$|\1|p' patches/[0-9]*.patch | sort -u)
for ws in tools tools/fuzz; do
	cargo fmt --manifest-path "$ws/Cargo.toml" --all --check >/dev/null 2>"$lint/rustfmt.err" ||
		bad+=("$ws (cargo fmt$([ -s "$lint/rustfmt.err" ] && echo ": $(head -c 200 "$lint/rustfmt.err")"))")
done
if [ "$n" = 0 ]; then
	echo "lint: rustfmt: FAILED: no Rust file found"
	rc=1
elif [ ${#bad[@]} -eq 0 ]; then
	echo "lint: rustfmt: ok ($n kernel-side files, tools and tools/fuzz)"
else
	echo "lint: rustfmt: FAILED: ${bad[*]}"
	rc=1
fi

# verdict WHAT EXIT LOG: one "lint: WHAT: ok|FAILED" line for a clippy build; FAILED (and
# the first warnings) if the build failed or logged any warning or error.
verdict() {
	local n
	n=$(grep -cE '^(warning|error)' "$3")
	if [ "$2" = 0 ] && [ "$n" = 0 ]; then
		echo "lint: $1: ok"
	else
		echo "lint: $1: FAILED (exit $2, $n warnings; ${3#"$top"/}):"
		grep -E -A5 '^(warning|error)' "$3" | head -n 60
		rc=1
	fi
}

# clippy over the modules.
kmake() { make -C "$top/build/kernel" LLVM=-19 RUST_LIB_SRC="$top/build/rust-lib-src" CLIPPY=1 "$@"; }
rm -rf "$lint/modules"
mkdir -p "$lint/modules"
kmake M="$top" MO="$lint/modules" modules >"$lint/clippy-modules.log" 2>&1
verdict "clippy modules" $? "$lint/clippy-modules.log"

# clippy over the kernel crate, in a copy of the kernel build (the series in build/linux-src
# is the one `make kernel` last applied: make lint and make test run it first).
obj=$(readlink -f "$top/build/kernel")
rm -rf "$lint/kernel-obj"
trap 'rm -rf "$lint/kernel-obj"' EXIT
cp -a "$obj" "$lint/kernel-obj"
# The source's lock (see scripts/kernel.sh): another checkout's check may be changing it.
exec 9>"$(readlink -f "$src")/../.rustre-src.lock"
flock 9
make -s -C "$src" O="$lint/kernel-obj" LLVM=-19 RUST_LIB_SRC="$top/build/rust-lib-src" CLIPPY=1 \
	-j"$(nproc)" rust/kernel.o >"$lint/clippy-kernel.log" 2>&1
krc=$?
rm -rf "$lint/kernel-obj"
verdict "clippy kernel crate" $krc "$lint/clippy-kernel.log"
exit $rc
