# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the lloop benchmarks in the VM: makes ext4 on the guest's virtio disk, mounts it
# on $w and writes the 1 GiB backing file $w/file, and defines bench_fio. The file is written around the page cache
# and the cache dropped, so that no run pays for invalidating what the setup left there.
[ -b /dev/vda ] || { echo "setup: no /dev/vda: run through scripts/bench-lloop*.sh"; exit 1; }
mkfs.ext4 -q -F /dev/vda && mkdir -p "$w" && mount /dev/vda "$w" || exit 1
dd if=/dev/zero of="$w/file" bs=1M count=1024 oflag=direct status=none && sync
echo 3 >/proc/sys/vm/drop_caches

# bench_fio FILE RW BS IODEPTH SECONDS [BATCH [JOBS]]: one fio run on FILE with libaio and
# direct=1, after a 2 s ramp; prints "IOPS BYTES_PER_SECOND" (all JOBS together), nothing if
# fio failed (its error on stderr). BATCH (default 1, fio's own default) is how many I/Os each
# io_submit carries, and how many completions fio waits for before it submits again (without
# that, a full queue lets one request go per completion): from 3 on the kernel plugs the
# submission, which is when lloop may start the I/O in the submitter. JOBS (default 1) is how
# many fio processes run the job at once.
bench_fio() {
	fio --name=b --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --ioengine=libaio \
		--iodepth_batch_submit="${6:-1}" --iodepth_batch_complete_min="${6:-1}" \
		--numjobs="${7:-1}" --group_reporting \
		--direct=1 --size=1G --time_based --runtime="$5" --ramp_time=2 --randrepeat=0 \
		--output-format=terse --terse-version=3 |
		awk -F';' -v rw="$2" '/^3;/ { if (rw ~ /read/) printf "%s %.0f\n", $8, $7 * 1024
			else printf "%s %.0f\n", $49, $48 * 1024 }'
}
