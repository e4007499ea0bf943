#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Makes an empty (sparse) disk image for a benchmark guest and prints its path:
#
#   scripts/bench-img.sh FALLBACK_DIR SIZE_GIB
#
# The image goes to /dev/shm when that tmpfs has room for all of it, so that the host never
# writes it back to its own disk while the guest is measured: that writeback shows up in the
# guest as slow runs at random moments. Otherwise it goes to FALLBACK_DIR.
set -euo pipefail
dir=$1 gib=$2
shm=/dev/shm
if [ -d "$shm" ] && [ -w "$shm" ] &&
	[ "$(df -Pk "$shm" | awk 'NR == 2 { print $4 }')" -gt $(((gib + 1) * 1024 * 1024)) ]; then
	dir=$shm
fi
img=$(mktemp "$dir/rustre-bench.XXXXXX.img")
truncate -s "${gib}G" "$img"
echo "$img"
