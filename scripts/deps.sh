#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything rustre needs to build and test, idempotently.
#
# Debian packages come from the archive already configured on this machine:
# the archive URI is read from its apt sources, never written here. The kernel
# source and the Rust library source come from trixie-backports through a
# private apt configuration under build/apt, so the system's sources stay as
# they are.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
# Downloads, the kernel source and the kernel build live in a cache outside the
# work tree so that a fresh clone on the same machine reuses them; build/
# holds symlinks to them.
cache=${RUSTRE_CACHE:-/var/cache/rustre}
dl=$cache/dl
apt_dir=$cache/apt

# Pinned versions; the checksums of what was fetched are recorded in
# scripts/checksums.txt and verified on every run.
LINUX_PKG=linux-source-7.3
BINDGEN_VERSION=0.73.2
CARGO_FUZZ_VERSION=0.13.2
VNG_VERSION=1.42

die() { echo "deps: $*" >&2; exit 1; }
log() { echo "deps: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (installs Debian packages)"

apt_pkgs=(
	clang-19 lld-19 llvm-19 libclang-19-dev
	qemu-system-x86 busybox-static
	flex bison bc libelf-dev libssl-dev cpio kmod xz-utils make patch
	e2fsprogs xfsprogs util-linux fio stress-ng udev g++
	fatrace inotify-tools
	nfs-kernel-server iproute2
	python3 python3-pip
)

missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	# The NFS server and rpcbind are for the guest: their postinst must not start daemons on
	# this machine. A policy-rc.d that refuses every start is in place for the install only.
	policy=/usr/sbin/policy-rc.d
	own_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
		# An interrupted install must not leave it behind (it would stop every service start).
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -qq
	rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
	[ $own_policy = 1 ] && rm -f "$policy"
	[ $rc = 0 ] || die "apt-get install failed for: ${missing[*]} (check the machine's apt sources)"
fi

# The Debian archive this machine uses, from its own apt configuration.
archive_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		# deb822: take the URIs of a stanza whose suites are plain Debian ones.
		uri=$(awk '
			/^[[:space:]]*$/ { if (u != "" && s ~ /(^| )(bookworm|trixie|stable)( |$)/) { print u; exit } u = ""; s = "" }
			/^URIs:/ { u = $2 }
			/^Suites:/ { $1 = ""; s = $0 " " }
			END { if (u != "" && s ~ /(^| )(bookworm|trixie|stable)( |$)/) print u }
		' "$f" | head -n1)
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		uri=$(awk '$1 == "deb" && $3 ~ /^(bookworm|trixie|stable)$/ { print $2; exit }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
}

uri=$(archive_uri)
[ -n "$uri" ] || die "no Debian archive found in /etc/apt/sources.list{,.d}: configure one first"

mkdir -p "$dl" "$apt_dir/lists/partial" "$apt_dir/archives/partial"
cat >"$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie-backports main
SRC
bapt() {
	local tool=apt-get
	[ "$1" = madison ] && tool=apt-cache
	$tool -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::Archives="$apt_dir/archives" \
		-o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root "$@"
}

rustc_ver=$(rustc --version | awk '{print $2}')
[ -n "$rustc_ver" ] || die "rustc not found: install a Rust toolchain (rustup) first"
# make lint (part of make test) needs rustfmt and clippy of the same toolchain.
if ! rustfmt --version >/dev/null 2>&1 || ! clippy-driver --version >/dev/null 2>&1; then
	command -v rustup >/dev/null || die "rustfmt or clippy missing and no rustup to add them"
	log "adding rustfmt and clippy to the toolchain (rustup component add)"
	rustup component add rustfmt clippy || die "rustup component add rustfmt clippy failed"
fi

need_fetch=0
ls "$dl"/${LINUX_PKG}_*.deb >/dev/null 2>&1 || need_fetch=1
ls "$dl"/rust-src_"${rustc_ver}"+*.deb >/dev/null 2>&1 || need_fetch=1
if [ $need_fetch = 1 ]; then
	log "fetching package lists for trixie-backports (private apt configuration)"
	bapt update -qq || die "apt-get update of trixie-backports failed"
	(
		cd "$dl"
		ls ${LINUX_PKG}_*.deb >/dev/null 2>&1 || bapt download "$LINUX_PKG" ||
			die "$LINUX_PKG is not in trixie-backports any more: pick the newest linux-source-7.x there and update LINUX_PKG in scripts/deps.sh"
		# rust-src must be exactly the rustc version, or the kernel's core crate will not build.
		rs_ver=$(bapt madison rust-src 2>/dev/null | awk -F' *[|] *' '{print $2}' | grep "^${rustc_ver}+" | head -n1 || true)
		[ -n "$rs_ver" ] || die "no Debian rust-src matching rustc $rustc_ver in trixie-backports: install a rustc whose version Debian ships rust-src for (see README)"
		bapt download "rust-src=$rs_ver" || die "download of rust-src $rs_ver failed"
	)
fi

linux_deb=$(ls "$dl"/${LINUX_PKG}_*.deb | head -n1)
rs_deb=$(ls "$dl"/rust-src_"${rustc_ver}"+*.deb | head -n1)

# Record checksums on first fetch, verify afterwards.
sums=$top/scripts/checksums.txt
for f in "$linux_deb" "$rs_deb"; do
	b=$(basename "$f")
	s=$(sha256sum "$f" | awk '{print $1}')
	if grep -q " $b\$" "$sums" 2>/dev/null; then
		grep -q "^$s  $b\$" "$sums" || die "checksum mismatch for $b (delete $f to fetch it again, or update $sums if Debian rebuilt it)"
	else
		echo "$s  $b" >>"$sums"
		log "recorded checksum of $b in scripts/checksums.txt"
	fi
done

# Unpack the Rust library source.
rs_dir=$cache/rust-src
if [ ! -d "$rs_dir/usr/src/rustc-$rustc_ver/library/core" ]; then
	rm -rf "$rs_dir"
	dpkg-deb -x "$rs_deb" "$rs_dir"
fi
[ -d "$rs_dir/usr/src/rustc-$rustc_ver/library/core" ] ||
	die "rust-src package does not contain library/ for rustc $rustc_ver"

# Unpack the kernel source (pristine; scripts/kernel.sh applies the patch series).
src=$cache/linux-src
stamp=$src/.rustre-source
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(basename "$linux_deb")" ]; then
	log "unpacking $(basename "$linux_deb")"
	rm -rf "$cache/linux-deb" "$src"
	dpkg-deb -x "$linux_deb" "$cache/linux-deb"
	mkdir -p "$src"
	tar -xf "$cache"/linux-deb/usr/src/${LINUX_PKG}.tar.xz -C "$src" --strip-components=1
	rm -rf "$cache/linux-deb"
	basename "$linux_deb" >"$stamp"
fi
mkdir -p "$build"
ln -sfn "$src" "$build/linux-src"
ln -sfn "$rs_dir/usr/src/rustc-$rustc_ver/library" "$build/rust-lib-src"

# bindgen, pinned.
export PATH=$HOME/.cargo/bin:$PATH
if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	log "installing bindgen-cli $BINDGEN_VERSION with cargo install (about 2 minutes)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi

# cargo-fuzz, pinned: builds the libFuzzer targets of tools/fuzz (scripts/fuzz.sh) on the
# stable toolchain (`-s none` needs no nightly flag); libFuzzer itself is compiled by g++.
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION with cargo install (about 3 minutes)"
	cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" ||
		die "cargo install cargo-fuzz $CARGO_FUZZ_VERSION failed"
fi

# virtme-ng, the VM runner.
if ! vng --version 2>/dev/null | grep -q "$VNG_VERSION"; then
	log "installing virtme-ng $VNG_VERSION from PyPI"
	python3 -m pip install --quiet --disable-pip-version-check "virtme-ng==$VNG_VERSION" ||
		die "pip install virtme-ng==$VNG_VERSION failed"
fi
# pyenv installs console scripts behind shims, which must be regenerated.
command -v vng >/dev/null || { command -v pyenv >/dev/null && pyenv rehash; } || true
command -v vng >/dev/null || die "vng not on PATH after install (pip's script directory is not on PATH?)"

log "ok: rustc $rustc_ver, rust-src $(basename "$rs_deb"), $(basename "$linux_deb"), bindgen $(bindgen --version | awk '{print $2}'), cargo-fuzz $(cargo fuzz --version | awk '{print $2}'), vng $(vng --version 2>&1 | head -n1)"
