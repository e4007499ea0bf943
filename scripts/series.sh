#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Edit, export and check the kernel patch series in patches/ (see Documentation/build.rst,
# "The kernel patch series").
#
#   series.sh import [PATH...]  build/series: a git repository holding the pristine kernel files
#                               the series touches (plus PATH..., files a new patch is to
#                               change), committed as the tag `base`, with one commit per patch
#                               on top (git am). Edit there: commit, `git rebase -i base`, ...
#   series.sh export            write build/series's commits back to patches/ and patches/series
#                               (git format-patch), replacing what was there
#   series.sh check [FIRST]     apply every prefix of the series and build the kernel's Rust
#                               crate and the C files the prefix touches, patch FIRST (default 1)
#                               to the last: each patch must build on its own
#   series.sh applies           every prefix of the series applies to the kernel source
#                               (seconds; what CI runs)
#
# The kernel source is $RUSTRE_CACHE/linux-src (make deps); scripts/kernel.sh keeps the pristine
# copy of each file it patched as FILE.rustre-orig, or FILE.rustre-absent for a file the series
# creates.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${RUSTRE_CACHE:-/var/cache/rustre}
src=$cache/linux-src
repo=${RUSTRE_SERIES_REPO:-$top/build/series}
ident=(-c "user.name=rustre maintainers" -c "user.email=maintainers@users.noreply.h-seed-faa3ebf1.example")

die() { echo "series: $*" >&2; exit 1; }

# git as the series needs it, whatever the user's configuration (format.useAutoBase,
# format.headers, diff.algorithm and the like would change what export writes).
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# lock_src: take the kernel source's lock (see scripts/kernel.sh) for the rest of the run.
lock_src() {
	exec 9>"$cache/.rustre-src.lock"
	flock 9
	export RUSTRE_SRC_LOCKED=1
}

[ -f "$src/.rustre-source" ] || die "no kernel source in $src: run 'make deps' first"

patches() { # the series, in order
	grep -v -e '^#' -e '^[[:space:]]*$' "$top/patches/series"
}

touched() { # the files the series changes, creates or deletes
	patches | while read -r p; do
		sed -n -e 's|^+++ b/\([^[:space:]]*\).*|\1|p' -e 's|^--- a/\([^[:space:]]*\).*|\1|p' \
			"$top/patches/$p"
	done | LC_ALL=C sort -u
}

pristine() { # pristine FILE DEST: the kernel's own version of FILE, or nothing if it has none
	local f=$1
	if [ -f "$src/$f.rustre-orig" ]; then
		cp "$src/$f.rustre-orig" "$2"
	elif [ ! -f "$src/$f.rustre-absent" ] && [ -f "$src/$f" ]; then
		grep -qxF "$f" "$src/.rustre-patched-files" 2>/dev/null &&
			die "$f is patched but has no pristine copy: run 'make kernel' first"
		cp "$src/$f" "$2"
	fi
	return 0
}

[ ! -f "$src/.rustre-overlay-files" ] ||
	die "the kernel source still carries the old rust/ overlay: run 'make kernel' first"

case "${1:-}" in
import)
	shift
	rm -rf "$repo"
	mkdir -p "$repo"
	git -C "$repo" init -q -b series
	{ touched; printf '%s\n' "$@"; } | LC_ALL=C sort -u | while read -r f; do
		[ -n "$f" ] || continue
		mkdir -p "$(dirname "$repo/$f")"
		pristine "$f" "$repo/$f"
	done
	git -C "$repo" add -A
	GIT_AUTHOR_DATE="1000000000 +0000" GIT_COMMITTER_DATE="1000000000 +0000" \
		git -C "$repo" "${ident[@]}" commit -q --allow-empty -m "pristine kernel files the series touches"
	git -C "$repo" tag base
	patches | while read -r p; do
		git -C "$repo" "${ident[@]}" am -q --committer-date-is-author-date "$top/patches/$p" ||
			die "patches/$p does not apply (git am); see $repo"
	done
	echo "series: $(patches | wc -l) patches in $repo (tag base = pristine); edit, then 'series.sh export'"
	;;
export)
	[ -d "$repo/.git" ] || die "no $repo: run 'series.sh import' first"
	git -C "$repo" diff --quiet HEAD || die "$repo has uncommitted changes"
	[ -n "$(git -C "$repo" rev-list base..HEAD)" ] || die "$repo has no commit after base"
	tmp=$(mktemp -d)
	git -C "$repo" format-patch -q -N --zero-commit --no-signature --no-renames --no-base \
		--diff-algorithm=myers -o "$tmp" base..HEAD
	rm -f "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch
	{
		echo "# The kernel patch series, applied in this order by scripts/kernel.sh;"
		echo "# edited with scripts/series.sh (import, commit, export)."
		for p in "$tmp"/*.patch; do
			# format-patch names the sender and date from the commit: the sender is the
			# project, and a date is not part of what a patch says.
			sed -e '1d' -e '/^Date: /d' "$p" >"$top/patches/$(basename "$p")"
			basename "$p"
		done
	} >"$top/patches/series"
	rm -rf "$tmp"
	echo "series: $(patches | wc -l) patches written to patches/"
	;;
applies)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	touched | while read -r f; do
		mkdir -p "$(dirname "$tmp/$f")"
		pristine "$f" "$tmp/$f"
	done
	n=0
	while read -r p; do
		n=$((n + 1))
		patch -s -p1 -d "$tmp" --no-backup-if-mismatch -F0 <"$top/patches/$p" ||
			die "patch $n ($p) does not apply on top of the ones before it"
	done < <(patches)
	echo "series: all $n patches apply in order"
	;;
check)
	first=${2:-1}
	n=$(patches | wc -l)
	obj=$cache/kernel-obj-series
	[ -f "$cache/kernel-obj/.config" ] || die "no configured kernel build: run 'make kernel' first"
	lock_src
	if [ ! -f "$obj/.config" ]; then
		echo "series: seeding $obj from $cache/kernel-obj"
		rm -rf "$obj.tmp"
		cp -a --reflink=auto "$cache/kernel-obj" "$obj.tmp"
		mv "$obj.tmp" "$obj"
	fi
	# The test kernel's configuration, which the fragments may have changed since the seed.
	cmp -s "$cache/kernel-obj/.config" "$obj/.config" || cp "$cache/kernel-obj/.config" "$obj/.config"
	trap 'echo "series: restoring the whole series in the source"
		RUSTRE_APPLY_ONLY=1 bash "$top/scripts/kernel.sh" || echo "series: the source was NOT restored: run make kernel" >&2' EXIT
	for k in $(seq "$first" "$n"); do
		p=$(patches | sed -n "${k}p")
		# The C files this patch changes, as objects (only those the configuration builds).
		objs=$(sed -n 's|^+++ b/\(.*\)\.c$|\1.o|p' "$top/patches/$p" | grep -v '^rust/' || true)
		echo "series: [$k/$n] $p"
		RUSTRE_SERIES_UPTO=$k RUSTRE_APPLY_ONLY=1 bash "$top/scripts/kernel.sh" >/dev/null
		for o in $objs; do
			grep -q "obj-.*$(basename "$o")" "$src/$(dirname "$o")/Makefile" 2>/dev/null || continue
			make -s -C "$src" O="$obj" LLVM=-19 RUST_LIB_SRC="$(readlink -f "$top/build/rust-lib-src")" \
				"$o" || die "patch $k ($p): $o does not build"
		done
		# A warning fails too: a patch must not leave code unused until a later one.
		log=$(mktemp)
		make -s -C "$src" O="$obj" LLVM=-19 RUST_LIB_SRC="$(readlink -f "$top/build/rust-lib-src")" \
			-j"$(($(nproc) + 1))" rust/ >"$log" 2>&1 || { cat "$log"; die "patch $k ($p): the Rust crate does not build"; }
		if grep -qE '^(warning|error)' "$log"; then
			cat "$log"
			die "patch $k ($p): the Rust crate builds with warnings"
		fi
		rm -f "$log"
	done
	echo "series: patches $first to $n each build with the ones before them"
	;;
*)
	sed -n '4,19s/^# \{0,1\}//p' "$0"
	exit 2
	;;
esac
