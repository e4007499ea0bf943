# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the lloop benchmarks in the VM: makes ext4 on the guest's virtio disk, mounts it
# on $w and writes the 1 GiB backing file $w/file. The file is written around the page cache
# and the cache dropped, so that no run pays for invalidating what the setup left there.
[ -b /dev/vda ] || { echo "setup: no /dev/vda: run through scripts/bench-lloop*.sh"; exit 1; }
mkfs.ext4 -q -F /dev/vda && mkdir -p "$w" && mount /dev/vda "$w" || exit 1
dd if=/dev/zero of="$w/file" bs=1M count=1024 oflag=direct status=none && sync
echo 3 >/proc/sys/vm/drop_caches
