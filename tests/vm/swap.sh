#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Swap on a file-backed block device under memory pressure, in a small guest:
#
#   tests/vm/swap.sh OUTDIR MODDIR lloop|loop|lloop-nfs|loop-nfs|nfsfile
#
# The guest's first virtio disk gets an ext4 filesystem holding a swap file, which is attached
# to /dev/lloop0 (or to a kernel loop device with direct I/O on), made swap and enabled. The
# -nfs drivers and nfsfile reach the file over NFSv4.2: attached to lloop, to loop with
# direct I/O, or enabled as a swap file on NFS itself (the kernel's own swap over NFS). With
# SWAP_NFS_SERVER=guest (what scripts/swap-test.sh sets by default) the server is a second
# guest (tests/vm/nfs_server.sh, 10.0.2.1 behind this guest's virtio NIC) which holds the
# disk and the file, and this guest is diskless; with SWAP_NFS_SERVER=local the server runs
# here (tests/vm/nfs.sh, 127.0.0.1) and exports the file of the disk's ext4. Then
# stress-ng runs a memory load well beyond the guest's RAM that verifies its own data for
# SWAP_SECONDS (default 90); the load is SWAP_LOAD_PCT (default 200) percent of the memory
# the guest has available. On NFS, and wherever stress-ng completed no verified pass, a whole
# verifying pass over 150 % of it follows (swap_verify.py; SWAP_VERIFY=0/1 turns it off or on
# for any driver). The run fails on a
# verification error, an OOM kill, a load or pass that does not finish in time, or (checked
# by scripts/vm.sh) any kernel report. The outcome and the swap traffic go to
# OUTDIR/swap-<driver>.txt.
set -u
out=$1 mods=$2 driver=$3
secs=${SWAP_SECONDS:-90}
# The margins over the load's own time (scripts/vm.sh sets the scale: 3 on a KASAN kernel).
slack=$((300 * ${RUSTRE_TIMEOUT_SCALE:-1}))
res=$out/swap-$driver.txt
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/tools/target/release:$PATH
. "$top/tests/vm/nfs.sh"

fail() { echo "FAIL: $*" | tee -a "$res"; exit 1; }
: >"$res"
command -v stress-ng >/dev/null || fail "stress-ng not installed (make deps)"
command -v python3 >/dev/null || fail "python3 not installed (make deps): the watchdog needs it"
case ${SWAP_DUMP_AFTER:-0} in *[!0-9]*) fail "SWAP_DUMP_AFTER must be a number of seconds" ;; esac
remote=0
case $driver in *-nfs | nfsfile) [ "${SWAP_NFS_SERVER:-local}" = guest ] && remote=1 ;; esac
mkdir -p /tmp/swapfs
if [ $remote = 0 ]; then
	[ -b /dev/vda ] || fail "no /dev/vda (the swap test needs a virtio disk)"
	mkfs.ext4 -q -F /dev/vda || fail "mkfs.ext4 /dev/vda"
	mount /dev/vda /tmp/swapfs || fail "mount /dev/vda"
	# Written out, not fallocated: the swap file's blocks exist before the first swap-out.
	dd if=/dev/zero of=/tmp/swapfs/swapfile bs=1M count=768 oflag=direct status=none || fail "swap file"
	sync
fi
file=/tmp/swapfs/swapfile
case $driver in
*-nfs | nfsfile)
	if [ $remote = 1 ]; then
		# The server guest has written the file and exports it (tests/vm/nfs_server.sh).
		nfs_net 52:54:00:00:02:02 10.0.2.2 || fail "no network (SWAP_NFS_SERVER=guest needs the NIC scripts/swap-test.sh gives)"
		NFS_HOST=10.0.2.1
		nfs_mount 4.2 /tmp/m/nfs || fail "NFS mount of $NFS_HOST"
		file=/tmp/m/nfs/swapfile
		echo "nfs server: the guest at $NFS_HOST" | tee -a "$res"
	fi
	# A local server shares the guest's memory, and to complete the writes that free memory it
	# must not need much of it: SWAP_NFS_LEAN=1 has it write around its page cache
	# (nfsd's io_cache_write/io_cache_read 2: direct I/O) and reply before committing
	# (an async export), so that a WRITE needs neither new page cache nor a journal commit.
	if [ "${SWAP_NFS_LEAN:-0}" = 1 ] && [ $remote = 0 ]; then
		mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
		echo 2 >/sys/kernel/debug/nfsd/io_cache_write || fail "nfsd io_cache_write"
		echo 2 >/sys/kernel/debug/nfsd/io_cache_read || fail "nfsd io_cache_read"
		NFS_SYNC=async
		echo "nfs server: direct I/O, async export" | tee -a "$res"
	fi
	[ "${SWAP_NFS_LEAN:-0}" = 1 ] && [ $remote = 1 ] &&
		echo "nfs: SWAP_NFS_LEAN=1 applies to a local server only: ignored" | tee -a "$res"
	if [ $remote = 0 ]; then
		nfs_up /tmp/swapfs || fail "NFS server did not start"
		nfs_mount 4.2 /tmp/m/nfs || fail "NFS mount"
		file=/tmp/m/nfs/swapfile
	fi
	;;
esac
case $driver in
lloop | lloop-nfs)
	insmod "$(find "$mods" -name lloop.ko | head -n1)" || fail "insmod lloop"
	dev=$(lloop attach $file) || fail "lloop attach"
	dio=$(cat /sys/block/${dev#/dev/}/lloop/dio)
	dio+=" net_reserve=$(cat /sys/block/${dev#/dev/}/lloop/net_reserve)"
	;;
loop | loop-nfs)
	dev=$(losetup --direct-io=on -f --show $file) || fail "losetup"
	dio=$(cat /sys/block/${dev#/dev/}/loop/dio)
	;;
nfsfile)
	dev=$file dio=-
	chmod 600 $file
	;;
*) fail "driver must be lloop, loop, lloop-nfs, loop-nfs or nfsfile" ;;
esac
mkswap -q "$dev" || fail "mkswap $dev"
swapon "$dev" || fail "swapon $dev"
mem=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
# By default twice the memory the guest has free: at least half of the load lives in swap.
load=$((avail * ${SWAP_LOAD_PCT:-200} / 100))
echo "driver=$driver device=$dev dio=$dio mem=${mem}MiB available=${avail}MiB load=${load}MiB seconds=$secs" | tee -a "$res"
# Swap in use, sampled every 2 s (tinyconfig has no /proc/vmstat swap counters).
swap_used() { awk '/SwapTotal/ {t = $2} /SwapFree/ {f = $2} END {print int((t - f) / 1024)}' /proc/meminfo; }
sample_swap() { while :; do echo "$(date +%s) $(swap_used)"; sleep 2; done >"$1"; } # LOG, in the background
peak_of() { awk '$2 > m {m = $2} END {print m + 0}' "$1"; } # LOG: the most swap in use
sample_swap "$out/swap-$driver-usage.log" &
sampler=$!
# If the load is not over well after its deadline (or after SWAP_DUMP_AFTER seconds), dump the
# blocked tasks, the CPUs' backtraces and the memory state to the console once, so that a run
# that then times out (scripts/vm.sh kills the guest) shows where it stood. The watchdog locks
# its memory: a shell here would be swapped out and wait for the very device that stalls.
python3 - "${SWAP_DUMP_AFTER:-$((secs + slack + 60))}" <<'EOF' &
import ctypes, os, sys, time
# Everything it needs after the sleep is allocated before: under the stall, an allocation
# would wait in reclaim like the rest.
msg = f"swap: load still running after {sys.argv[1]} s; blocked tasks, CPUs and memory follow\n".encode()
fd = os.open("/proc/sysrq-trigger", os.O_WRONLY)
libc = ctypes.CDLL(None, use_errno=True)
if libc.mlockall(3) != 0:  # MCL_CURRENT | MCL_FUTURE
    os.write(2, f"swap: watchdog: mlockall: {os.strerror(ctypes.get_errno())}\n".encode())
time.sleep(int(sys.argv[1]))
os.write(1, msg)
for c in (b"w", b"l", b"m"):
    os.write(fd, c)
EOF
watchdog=$!
start=$(date +%s)
timeout $((secs + slack)) stress-ng --vm 2 --vm-bytes ${load}M --vm-keep --vm-method all --verify \
	--timeout ${secs}s --metrics-brief --temp-path /tmp/swapfs >"$out/swap-$driver-stress.log" 2>&1
rc=$?
end=$(date +%s)
kill $sampler $watchdog 2>/dev/null
peak=$(peak_of "$out/swap-$driver-usage.log")
ops=$(awk '/metrc:.* vm / {print $5}' "$out/swap-$driver-stress.log")
echo "stress-ng exit $rc after $((end - start)) s; peak swap use ${peak} MiB; ${ops:-0} verified passes" | tee -a "$res"
case $driver in *-nfs | nfsfile)
	# Packets the server dropped because they came from the memory reserves (a socket that
	# is not marked for them), and the client's RPC retransmissions.
	drops=$(nfs_tcp_counters PFMemallocDrop | awk '{print $2}')
	echo "nfs: TCP PFMemallocDrop ${drops:-?}; client RPC $(awk '/^rpc / {print "calls " $2 ", retransmissions " $3}' /proc/net/rpc/nfs)" | tee -a "$res"
	;;
esac
# On NFS the load may end its run before stress-ng completes a pass, having compared
# nothing: one whole verifying pass of its own (swap_verify.py) follows there, which writes
# every page of SWAP_VERIFY_PCT (default 150) percent of the available memory and reads it
# all back, so that at least a third of it goes out to swap and comes back. It is bounded by
# twice the load's margin (600 s, scaled on KASAN): under TCG a swap device on NFS moves about
# 2 MiB/s out and 0.5 MiB/s back in, and the pass thrashes (every page read back from swap
# evicts another). SWAP_VERIFY=1 or 0 turns it on or off for any driver.
vrc=0
case ${SWAP_VERIFY_PCT:-150} in '' | *[!0-9]*) fail "SWAP_VERIFY_PCT must be a number" ;; esac
vmib=$((avail * ${SWAP_VERIFY_PCT:-150} / 100))
verify=${SWAP_VERIFY:-}
case $driver in *-nfs | nfsfile) verify=${verify:-1} ;; esac
# Elsewhere too when the load completed no verified pass (stress-ng compares a pass's data only
# at its end; a slow host can leave it with none), so that every run compares data, unless
# SWAP_VERIFY=0 says otherwise.
if [ "$rc" = 0 ] && [ -z "$verify" ] && awk -v o="${ops:-0}" 'BEGIN { exit !(o + 0 == 0) }'; then
	verify=1
	echo "stress-ng completed no verified pass: the verifying pass runs" | tee -a "$res"
fi
vpeak=0
if [ "$rc" = 0 ] && [ "${verify:-0}" = 1 ]; then
	sample_swap "$out/swap-$driver-verify-usage.log" &
	sampler=$!
	timeout $((2 * slack)) python3 "$top/tests/vm/swap_verify.py" "$vmib" 1 >"$out/swap-$driver-verify.log" 2>&1
	vrc=$?
	kill $sampler 2>/dev/null
	vpeak=$(peak_of "$out/swap-$driver-verify-usage.log")
	echo "verifying pass over $vmib MiB: exit $vrc; $(tail -n 1 "$out/swap-$driver-verify.log"); peak swap use ${vpeak} MiB" | tee -a "$res"
fi
swapoff "$dev" || fail "swapoff $dev"
[ "$rc" = 124 ] && fail "the load did not finish within $((secs + slack)) s"
[ "$vrc" = 124 ] && fail "the verifying pass did not finish within $((2 * slack)) s"
[ "$vrc" = 0 ] || fail "the verifying pass failed: $(tail -n 1 "$out/swap-$driver-verify.log")"
# A page that never left memory compares trivially: at least half of what did not fit must
# have been out in swap during the pass.
[ "$rc" != 0 ] || [ "${verify:-0}" != 1 ] || [ "$vpeak" -ge $(((vmib - avail) / 2)) ] ||
	fail "the verifying pass used ${vpeak} MiB of swap, less than half of the $((vmib - avail)) MiB that did not fit"
grep -qi "verif.*fail\|bit errors\|miscompare" "$out/swap-$driver-stress.log" && fail "stress-ng reports verification errors"
dmesg | grep -q "Out of memory: Killed process" && fail "OOM kill: $(dmesg | grep 'Out of memory' | head -n1)"
[ "$rc" = 0 ] || fail "stress-ng exited $rc ($(tail -n 3 "$out/swap-$driver-stress.log" | tr '\n' ' '))"
[ "$peak" -ge 50 ] || fail "less than 50 MiB went to swap: the load did not press memory"
echo "PASS: $driver: no verification error, no OOM kill" | tee -a "$res"
case $driver in
lloop*) lloop detach "$dev" ;;
loop*) losetup -d "$dev" ;;
esac
case $driver in *-nfs | nfsfile) nfs_down ;; esac
[ $remote = 1 ] || umount /tmp/swapfs
