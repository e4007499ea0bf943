#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Apply the patch series (patches/series) to the kernel source and build the test kernel.
# RUSTRE_APPLY_ONLY=1 applies and stops; with RUSTRE_SERIES_UPTO=N it applies only the first N
# patches (scripts/series.sh check builds each prefix that way).
#
# The build directory lives in the cache next to the source
# ($RUSTRE_CACHE/kernel-obj) and carries a key: the hash of everything that
# goes into the kernel (source package, config fragments, patches, this
# script, toolchain versions). A matching key skips make entirely; a changed
# key rebuilds incrementally in the same directory.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${RUSTRE_CACHE:-/var/cache/rustre}
src=$cache/linux-src
# The test kernel is scripts/rustre.config plus rustre-debug.config (the debug checks).
# RUSTRE_KASAN=1 (make ... KASAN=1) builds the KASAN variant: those plus
# scripts/rustre-kasan.config, in its own directory, so that both stay cached; build/kernel
# points at whichever was asked for last (the modules follow it, see the Makefile).
# RUSTRE_PERF=1 (make ... PERF=1) builds the performance variant for the benchmarks the same
# way: scripts/rustre-perf.config in place of the debug checks, in kernel-obj-perf.
frags=("$top/scripts/rustre.config")
variant=
if [ "${RUSTRE_KASAN:-0}" = 1 ] && [ "${RUSTRE_PERF:-0}" = 1 ]; then
	echo "kernel: KASAN=1 and PERF=1 are two different kernels: pick one" >&2
	exit 1
elif [ "${RUSTRE_PERF:-0}" = 1 ]; then
	frags+=("$top/scripts/rustre-perf.config")
	variant=-perf
else
	frags+=("$top/scripts/rustre-debug.config")
	if [ "${RUSTRE_KASAN:-0}" = 1 ]; then
		frags+=("$top/scripts/rustre-kasan.config")
		variant=-kasan
	fi
fi
# RUSTRE_KERNEL_OBJ builds elsewhere (to time a fresh build without losing the cached one);
# build/kernel then keeps pointing at the cached build.
obj=${RUSTRE_KERNEL_OBJ:-$cache/kernel-obj$variant}
jobs=${JOBS:-$(($(nproc) + 1))}

die() { echo "kernel: $*" >&2; exit 1; }
log() { echo "kernel: $*"; }

export PATH=$HOME/.cargo/bin:$PATH
[ -f "$src/.rustre-source" ] || die "no kernel source in $src: run 'make deps' first"
rust_lib=$(readlink -f "$top/build/rust-lib-src" 2>/dev/null || true)
[ -d "$rust_lib/core" ] || die "no Rust library source: run 'make deps' first"

kmake() {
	make -s -C "$src" O="$obj" LLVM=-19 RUST_LIB_SRC="$rust_lib" "$@"
}

# The kernel source is shared by every checkout that uses this cache, and scripts/series.sh
# check and scripts/intree.sh check put it in other states for a while (a prefix of the series,
# the series plus the drivers): whoever changes the source or builds from it holds this lock.
# Those two take it for their whole run and say so with RUSTRE_SRC_LOCKED=1.
if [ -z "${RUSTRE_SRC_LOCKED:-}" ]; then
	exec 9>"$cache/.rustre-src.lock"
	flock 9
fi

# Settings only scripts/series.sh and scripts/intree.sh use, checked before anything changes.
if [ "${RUSTRE_APPLY_ONLY:-0}" = 0 ] && [ -n "${RUSTRE_SERIES_UPTO:-}${RUSTRE_PATCHES:-}" ]; then
	die "RUSTRE_SERIES_UPTO and RUSTRE_PATCHES are for RUSTRE_APPLY_ONLY=1 (scripts/series.sh, scripts/intree.sh)"
fi
case "${RUSTRE_SERIES_UPTO:-1}" in
'' | *[!0-9]*) die "RUSTRE_SERIES_UPTO must be a number of patches, not '$RUSTRE_SERIES_UPTO'" ;;
esac

# --- the old overlay ----------------------------------------------------------
# Until the series replaced it, rust/ was a file overlay: new files copied into the tree and
# four kernel files regenerated from a pristine copy (.rustre-orig) plus additions. A source
# tree an older checkout prepared still carries it: remove the files it added and put the
# regenerated ones back to their pristine copies (apply_patches makes its own copies).
put() { # put CONTENT-FILE DEST
	cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"
}
remove_overlay() {
	local list=$src/.rustre-overlay-files f
	[ -f "$list" ] || return 0
	log "removing the rust/ overlay of an older checkout"
	while read -r f; do rm -f "$src/rust/$f"; done <"$list"
	rmdir "$src/rust/kernel/fileblk" 2>/dev/null || true
	for f in rust/kernel/lib.rs rust/helpers/helpers.c rust/bindings/bindings_helper.h rust/kernel/alloc.rs; do
		[ ! -f "$src/$f.rustre-orig" ] || grep -qxF "$f" "$src/.rustre-patched-files" 2>/dev/null ||
			{ put "$src/$f.rustre-orig" "$src/$f" && rm -f "$src/$f.rustre-orig"; }
	done
	rm -f "$list"
}

# --- patches ---------------------------------------------------------------
# patches/series lists the series: kernel-style patches to the kernel's C and Rust files, among
# them the Rust abstractions the modules use. Every file a patch touches is regenerated from its
# pristine copy (.rustre-orig, or nothing for a file the series creates) plus the whole series,
# and a file no longer touched is restored (or removed), so applying is idempotent and a
# removed patch is undone.

# The series, or its first RUSTRE_SERIES_UPTO patches (scripts/series.sh check). RUSTRE_PATCHES
# names another directory of patches with its own series file (scripts/intree.sh: the series
# plus the drivers), for RUSTRE_APPLY_ONLY=1.
patches=${RUSTRE_PATCHES:-$top/patches}
[ -f "$patches/series" ] || die "no series file in $patches"
series() {
	grep -v -e '^#' -e '^[[:space:]]*$' "$patches/series" | head -n "${RUSTRE_SERIES_UPTO:-100000}"
}

apply_patches() {
	local list=$src/.rustre-patched-files new_list tmp f p
	new_list=$(mktemp)
	tmp=$(mktemp -d)
	while read -r p; do
		[ -f "$patches/$p" ] || die "$patches/series names $p, which is not there"
		sed -n -e 's|^+++ b/\([^[:space:]]*\).*|\1|p' -e 's|^--- a/\([^[:space:]]*\).*|\1|p' \
			"$patches/$p"
	done < <(series) | LC_ALL=C sort -u >"$new_list"
	# Record every file about to change before changing any, so that an interrupted run
	# still restores the files of a patch later taken out of the series.
	if [ -f "$list" ]; then
		LC_ALL=C sort -u "$list" "$new_list" >"$list.new"
		mv "$list.new" "$list"
	else
		cp "$new_list" "$list"
	fi
	while read -r f; do
		# The pristine state: a copy, or a marker for a file the series creates.
		if [ ! -f "$src/$f.rustre-orig" ] && [ ! -f "$src/$f.rustre-absent" ]; then
			if [ -f "$src/$f" ]; then
				cp -p "$src/$f" "$src/$f.rustre-orig.tmp"
				mv "$src/$f.rustre-orig.tmp" "$src/$f.rustre-orig"
			else
				mkdir -p "$(dirname "$src/$f")"
				: >"$src/$f.rustre-absent"
			fi
		fi
		mkdir -p "$(dirname "$tmp/$f")"
		[ ! -f "$src/$f.rustre-orig" ] || cp "$src/$f.rustre-orig" "$tmp/$f"
	done <"$new_list"
	while read -r p; do
		patch -s -p1 -d "$tmp" --no-backup-if-mismatch -F0 <"$patches/$p" ||
			die "$patches/$p does not apply to this kernel source"
	done < <(series)
	while read -r f; do
		if [ -f "$tmp/$f" ]; then put "$tmp/$f" "$src/$f"; else rm -f "$src/$f"; fi
	done <"$new_list"
	if [ -f "$list" ]; then
		LC_ALL=C comm -23 "$list" "$new_list" | while read -r f; do
			if [ -f "$src/$f.rustre-absent" ]; then
				rm -f "$src/$f" "$src/$f.rustre-absent"
				# and the directories it leaves empty (up to the first that is not)
				rmdir -p --ignore-fail-on-non-empty "$(dirname "$src/$f")" 2>/dev/null || true
			elif [ -f "$src/$f.rustre-orig" ]; then
				put "$src/$f.rustre-orig" "$src/$f"
			fi
			# (neither: an interrupted run listed the file but never changed it)
		done
	fi
	mv "$new_list" "$list"
	rm -rf "$tmp"
}

key() {
	{
		cat "$src/.rustre-source"
		cat "${frags[@]}" "$0"
		(cd "$top/patches" && find . -type f | sort | xargs sha256sum)
		rustc --version
		bindgen --version
		clang-19 --version | head -n1
		basename "$rust_lib"
	} | sha256sum | awk '{print $1}'
}

remove_overlay
apply_patches
[ "${RUSTRE_APPLY_ONLY:-0}" = 0 ] || exit 0
want=$(key)
have=$(cat "$obj/.rustre-key" 2>/dev/null || true)
if [ "$want" = "$have" ] && [ -f "$obj/arch/x86/boot/bzImage" ]; then
	log "up to date (key ${want:0:12}), reusing $obj"
else
	mkdir -p "$obj"
	start=$(date +%s)
	log "configuring (tinyconfig + ${frags[*]#"$top/"})"
	kmake tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}" >/dev/null
	kmake olddefconfig >/dev/null
	# Every option of the fragments must have taken; a silent drop (a missing
	# dependency) would hide checks the tests rely on.
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		opt=${line%%=*} val=${line#*=}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$obj/.config" && { echo "kernel: $opt is set, fragment says n" >&2; bad=1; }
		else
			grep -qx "$line" "$obj/.config" || { echo "kernel: $line did not take (dependency missing?)" >&2; bad=1; }
		fi
	done < <(cat "${frags[@]}")
	if ! grep -qx CONFIG_RUST=y "$obj/.config"; then
		kmake rustavailable || true
		die "CONFIG_RUST is not enabled: the Rust toolchain is not usable for this kernel (see the message above)"
	fi
	[ $bad = 0 ] || die "config fragment did not apply cleanly"
	log "building bzImage and modules with -j$jobs (a fresh build takes about 25 minutes on 2 cores)"
	kmake -j"$jobs" bzImage modules
	echo "$want" >"$obj/.rustre-key"
	log "built in $(($(date +%s) - start)) s"
fi
[ -n "${RUSTRE_KERNEL_OBJ:-}" ] || ln -sfn "$obj" "$top/build/kernel"
