#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# An NFS server in a guest of its own, for a client in a second guest (scripts/swap-test.sh):
#
#   tests/vm/nfs_server.sh OUTDIR
#
# The guest's virtio NIC (MAC 52:54:00:00:02:01, a QEMU socket link to the client guest's)
# gets 10.0.2.1/24. Its
# first virtio disk gets an ext4 filesystem with a 768 MiB file, swapfile, written out; the
# filesystem is exported to 10.0.2.2 as the NFSv4 root (tests/vm/nfs.sh). Then the script
# writes OUTDIR/ready and serves until OUTDIR/stop appears (the host writes it when the
# client's guest is done) or NFS_SERVE_SECONDS (default 3600) pass, and records the server's
# RPC and TCP counters in OUTDIR/server.txt.
set -u
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
res=$out/server.txt
NFS_HOST=10.0.2.1
NFS_CLIENT=10.0.2.2
. "$top/tests/vm/nfs.sh"

fail() { echo "FAIL: $*" | tee -a "$res"; exit 1; }
: >"$res"
nfs_net 52:54:00:00:02:01 "$NFS_HOST" || fail "no network (scripts/swap-test.sh gives the server guest a NIC)"
[ -b /dev/vda ] || fail "no /dev/vda (the server needs a virtio disk)"
mkfs.ext4 -q -F /dev/vda || fail "mkfs.ext4 /dev/vda"
mkdir -p /tmp/export && mount /dev/vda /tmp/export || fail "mount /dev/vda"
dd if=/dev/zero of=/tmp/export/swapfile bs=1M count=768 oflag=direct status=none || fail "swap file"
chmod 600 /tmp/export/swapfile
sync
nfs_up /tmp/export || fail "NFS server did not start"
echo "server: $NFS_HOST, $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) MiB, exporting to $NFS_CLIENT" | tee -a "$res"
touch "$out/ready"
end=$((SECONDS + ${NFS_SERVE_SECONDS:-3600}))
while [ ! -e "$out/stop" ] && [ $SECONDS -lt $end ]; do sleep 2; done
[ -e "$out/stop" ] || echo "server: no stop from the host after ${NFS_SERVE_SECONDS:-3600} s" | tee -a "$res"
# Operations served, and what the server's TCP dropped or pruned for want of memory.
echo "server: nfsd $(awk '/^rpc / {print "calls " $2 ", bad " $3}' /proc/net/rpc/nfsd); TCP $(nfs_tcp_counters PFMemallocDrop PruneCalled TCPRcvQDrop)" | tee -a "$res"
nfs_down
umount /tmp/export
echo "server: done" | tee -a "$res"
