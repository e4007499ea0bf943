#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The drivers as in-tree patches, on top of the kernel patch series (see Documentation/build.rst,
# "In-tree build").
#
#   intree.sh patches   build/patches/: the series of patches/ followed by one patch per
#                       driver, which puts it where it goes in the kernel tree with its Kconfig
#                       entry (lloop in drivers/block/lloop/, the rustre modules in
#                       drivers/staging/rustre/); `git am` of build/patches/*.patch on the
#                       kernel tree, then the options below, builds everything in-tree
#   intree.sh check     the above, then apply build/patches to the kernel source and build the
#                       modules in-tree in a copy of the kernel build
#                       ($RUSTRE_CACHE/kernel-obj-intree), with the options below set to m,
#                       and the kernel's own misc device sample and rnull with them
#
# A driver patch copies the driver's files as they are in this repository (its Kbuild and
# Kconfig included); the only change is the relative #[path] of the metadata target's shared
# files, one directory less deep in the kernel tree.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${RUSTRE_CACHE:-/var/cache/rustre}
src=$cache/linux-src
repo=$top/build/intree/git
out=$top/build/patches
options=(BLK_DEV_LLOOP RUSTRE_MDT RUSTRE_CHANGELOG_CHARDEV RUSTRE_HSM RUSTRE_KUNIT_TEST)
users=(SAMPLE_RUST_MISC_DEVICE BLK_DEV_RUST_NULL)
ident=(-c "user.name=rustre maintainers" -c "user.email=maintainers@users.noreply.h-seed-faa3ebf1.example")

die() { echo "intree: $*" >&2; exit 1; }

# git as the patches need it, whatever the user's configuration (see scripts/series.sh).
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# copy_driver FROM TO: the tracked files of FROM, into the kernel tree at TO.
copy_driver() {
	local f
	mkdir -p "$repo/$2"
	(cd "$top" && git ls-files "$1") | while read -r f; do
		mkdir -p "$(dirname "$repo/$2/${f#"$1"/}")"
		sed 's|^#\[path = "\.\./\.\./mdt/|#[path = "../mdt/|' "$top/$f" >"$repo/$2/${f#"$1"/}"
	done
}

# after FILE LINE NEW: put NEW after the line LINE of FILE (which must have it).
after() {
	grep -qxF "$2" "$repo/$1" || die "$1 has no line '$2': the in-tree hooks need updating for this kernel"
	awk -v line="$2" -v add="$3" '{ print } $0 == line && !done { print add; done = 1 }' \
		"$repo/$1" >"$repo/$1.new"
	mv "$repo/$1.new" "$repo/$1"
}

# maintainers TITLE LIST STATUS FILES: a MAINTAINERS section for the project, in its
# alphabetical place: between two sections whose titles sort before and after TITLE (the file
# is not wholly sorted, so of such places the one whose first neighbour shares the longest
# prefix with TITLE).
maintainers() {
	local entry
	entry=$(printf '%s\nM:\t%s\nL:\t%s\nS:\t%s\nF:\t%s\n' "$1" \
		"rustre maintainers <maintainers@users.noreply.h-seed-faa3ebf1.example>" "$2" "$3" "$4")
	awk -v title="$1" -v entry="$entry" '
		function lcp(a, b,   n) {
			n = 0
			while (n < length(a) && n < length(b) && substr(a, n + 1, 1) == substr(b, n + 1, 1))
				n++
			return n
		}
		{ line[NR] = $0 }
		END {
			T = toupper(title)
			prev = ""; best = 0; bestlcp = -1
			for (i = 2; i < NR; i++) {
				# A section title: a line of its own after a blank one, followed by "X:<tab>".
				if (line[i - 1] != "" || line[i] == "" || line[i + 1] !~ /^[A-Z]:\t/)
					continue
				t = toupper(line[i])
				if (prev != "" && prev < T && T < t && lcp(prev, T) > bestlcp) {
					best = i; bestlcp = lcp(prev, T)
				}
				prev = t
			}
			for (i = 1; i <= NR; i++) {
				if (i == best) { print entry; print "" }
				print line[i]
			}
		}' "$repo/MAINTAINERS" >"$repo/MAINTAINERS.new"
	mv "$repo/MAINTAINERS.new" "$repo/MAINTAINERS"
	grep -qxF "$1" "$repo/MAINTAINERS" || die "MAINTAINERS: no place found for '$1'"
}

commit() { # commit MESSAGE-FILE
	git -C "$repo" add -A
	GIT_AUTHOR_DATE="1000000000 +0000" GIT_COMMITTER_DATE="1000000000 +0000" \
		git -C "$repo" "${ident[@]}" commit -q -s -F "$top/scripts/intree/$1"
}

# staging_add DIR OPTION: DIR's entries in drivers/staging/rustre/{Kconfig,Makefile}.
staging_dirs=()
staging_add() {
	local d
	staging_dirs+=("$1")
	{
		echo "# SPDX-License-Identifier: GPL-2.0"
		echo
		echo "menuconfig RUSTRE"
		echo "	bool \"Lustre server mechanisms in Rust (rustre)\""
		echo "	depends on RUST"
		echo "	help"
		echo "	  Mechanisms of the Lustre metadata server, usable without Lustre"
		echo "	  on any local filesystem: changelogs, the changelog device, and"
		echo "	  HSM requests with copytools and the upcall. The userspace tools"
		echo "	  (lctl, lfs, the lhsm programs) come with the project."
		echo
		echo "	  If unsure, say N."
		echo
		echo "if RUSTRE"
		echo
		for d in "${staging_dirs[@]}"; do echo "source \"drivers/staging/rustre/$d/Kconfig\""; done
		echo
		echo "endif # RUSTRE"
	} >"$repo/drivers/staging/rustre/Kconfig"
	[ -f "$repo/drivers/staging/rustre/Makefile" ] ||
		printf '# SPDX-License-Identifier: GPL-2.0\n\n' >"$repo/drivers/staging/rustre/Makefile"
	printf 'obj-$(CONFIG_%s)\t+= %s/\n' "$2" "$1" >>"$repo/drivers/staging/rustre/Makefile"
}

make_patches() {
	RUSTRE_SERIES_REPO=$repo bash "$top/scripts/series.sh" import \
		MAINTAINERS drivers/block/Kconfig drivers/block/Makefile drivers/staging/Kconfig \
		drivers/staging/Makefile >/dev/null

	copy_driver drivers/lloop drivers/block/lloop
	after drivers/block/Kconfig 'source "drivers/block/rnull/Kconfig"' 'source "drivers/block/lloop/Kconfig"'
	after drivers/block/Makefile 'obj-$(CONFIG_BLK_DEV_RUST_NULL) += rnull/' 'obj-$(CONFIG_BLK_DEV_LLOOP)	+= lloop/'
	maintainers "LLOOP FILE-BACKED BLOCK DEVICE (RUST)" linux-block@vger.kernel.org Maintained \
		drivers/block/lloop/
	commit lloop.msg

	copy_driver mdt drivers/staging/rustre/mdt
	mkdir -p "$repo/drivers/staging/rustre"
	cp "$top/scripts/intree/TODO" "$repo/drivers/staging/rustre/TODO"
	staging_add mdt RUSTRE_MDT
	after drivers/staging/Kconfig 'source "drivers/staging/vme_user/Kconfig"' '\nsource "drivers/staging/rustre/Kconfig"'
	printf 'obj-$(CONFIG_RUSTRE)\t\t+= rustre/\n' >>"$repo/drivers/staging/Makefile"
	maintainers "STAGING - RUSTRE (LUSTRE SERVER MECHANISMS IN RUST)" linux-staging@lists.linux.dev \
		Maintained drivers/staging/rustre/
	commit mdt.msg

	copy_driver drivers/changelog_chardev drivers/staging/rustre/changelog
	staging_add changelog RUSTRE_CHANGELOG_CHARDEV
	commit changelog.msg

	copy_driver hsm/upcall drivers/staging/rustre/hsm
	staging_add hsm RUSTRE_HSM
	commit hsm.msg

	copy_driver tests/kunit drivers/staging/rustre/kunit
	staging_add kunit RUSTRE_KUNIT_TEST
	commit kunit.msg

	rm -rf "$out"
	mkdir -p "$out"
	tmp=$(mktemp -d)
	git -C "$repo" format-patch -q -N --zero-commit --no-signature --no-renames --no-base \
		--diff-algorithm=myers -o "$tmp" base..HEAD
	for p in "$tmp"/*.patch; do
		sed -e '1d' -e '/^Date: /d' "$p" >"$out/$(basename "$p")"
		basename "$p" >>"$out/series"
	done
	rm -rf "$tmp"
	echo "intree: $(wc -l <"$out/series") patches in build/patches/ (the series, then the drivers)"
}

check() {
	local obj=$cache/kernel-obj-intree o bad=0
	[ -f "$cache/kernel-obj/.config" ] || die "no configured kernel build: run 'make kernel' first"
	# The source's lock (see scripts/kernel.sh), for the whole check: the drivers are in it.
	exec 9>"$cache/.rustre-src.lock"
	flock 9
	export RUSTRE_SRC_LOCKED=1
	if [ ! -d "$obj" ]; then
		echo "intree: seeding $obj from $cache/kernel-obj"
		rm -rf "$obj.tmp"
		cp -a --reflink=auto "$cache/kernel-obj" "$obj.tmp"
		mv "$obj.tmp" "$obj"
	fi
	trap 'RUSTRE_APPLY_ONLY=1 bash "$top/scripts/kernel.sh" >/dev/null ||
		echo "intree: the source was NOT restored to the series: run make kernel" >&2' EXIT
	RUSTRE_PATCHES=$out RUSTRE_APPLY_ONLY=1 bash "$top/scripts/kernel.sh" >/dev/null
	# The test kernel's configuration, plus staging and the drivers' options, and the kernel's
	# own users of the Rust APIs the series extends (the misc device sample, rnull), which must
	# keep building.
	cp "$cache/kernel-obj/.config" "$obj/.config"
	{
		echo "CONFIG_STAGING=y"
		echo "CONFIG_RUSTRE=y"
		for o in "${options[@]}" "${users[@]}"; do echo "CONFIG_$o=m"; done
		echo "CONFIG_SAMPLES=y"
		echo "CONFIG_SAMPLES_RUST=y"
	} >>"$obj/.config"
	make -s -C "$src" O="$obj" LLVM=-19 RUST_LIB_SRC="$(readlink -f "$top/build/rust-lib-src")" olddefconfig
	for o in "${options[@]}" "${users[@]}"; do
		grep -qx "CONFIG_$o=m" "$obj/.config" || { echo "intree: CONFIG_$o=m did not take" >&2; bad=1; }
	done
	[ $bad = 0 ] || die "the drivers' options do not take (a dependency missing?)"
	# vmlinux too: the modules link against the kernel crate's symbols, which Module.symvers
	# lists only once vmlinux is linked with the series' kernel crate.
	echo "intree: building the kernel and the modules in the kernel tree ($obj)"
	make -s -C "$src" O="$obj" LLVM=-19 RUST_LIB_SRC="$(readlink -f "$top/build/rust-lib-src")" \
		-j"$(($(nproc) + 1))" vmlinux modules
	for o in drivers/block/lloop/lloop drivers/staging/rustre/mdt/rustre_mdt \
		drivers/staging/rustre/changelog/changelog_chardev drivers/staging/rustre/hsm/hsm_upcall \
		drivers/staging/rustre/kunit/rustre_kunit samples/rust/rust_misc_device \
		drivers/block/rnull/rnull_mod; do
		[ -f "$obj/$o.ko" ] || { echo "intree: $o.ko was not built" >&2; bad=1; }
	done
	[ $bad = 0 ] || die "in-tree build incomplete"
	echo "intree: the series and the drivers build in-tree with $(printf 'CONFIG_%s=m ' "${options[@]}")"
}

case "${1:-}" in
patches) make_patches ;;
check) make_patches && check ;;
*)
	sed -n '4,17s/^# \{0,1\}//p' "$0"
	exit 2
	;;
esac
