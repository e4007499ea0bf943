#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile input against every device and parameter file, in the VM, while a target is
# attached with a changelog reader and lloop has a file attached with I/O running:
# stress-ng's device stressor (open, read, write, ioctls of its own choosing, mmap, lseek,
# poll) on /dev/lloop0, /dev/lloop-control, /dev/changelog-<target>, /dev/hsm-<target> and
# /dev/rustre-mdt for HOSTILE_SECONDS (default 10) each, then garbage written into every
# writable parameter file. Nothing may hang (every run is bounded), the I/O must still verify
# afterwards, and the harness fails the run on any kernel report.
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
rel=$top/tools/target/release
export PATH=$rel:$PATH
secs=${HOSTILE_SECONDS:-10}
. "$top/tests/lib/check.sh"
for t in lctl lfs lloop stress-ng fio; do
	command -v $t >/dev/null || { echo "skip: $t not installed (make deps; make tools)"; exit 77; }
done

work=$(mktemp -d)
mkdir -p "$work/fs" "$work/cat" "$work/back"
mount -t tmpfs tmpfs "$work/fs"
mount -t tmpfs tmpfs "$work/cat"
mount -t tmpfs -o size=200M tmpfs "$work/back"
T=hostile-MDT0000
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	lloop detach /dev/lloop0 2>/dev/null
	lctl mdt_detach $T 2>/dev/null
	for m in hsm_upcall lloop changelog_chardev rustre_mdt; do rmmod $m 2>/dev/null; done
	umount "$work/fs" "$work/cat" "$work/back" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
for m in rustre_mdt changelog_chardev lloop hsm_upcall; do
	insmod "$(find "$mods" -name $m.ko | head -n1)" || { bad "insmod $m"; exit 1; }
done
lctl mdt_attach $T "$work/fs" "$work/cat/c.llog" || { bad "attach"; exit 1; }
lctl --device $T changelog_register -n >/dev/null || bad "changelog_register"
truncate -s 128M "$work/back/file"
ldev=$(lloop attach "$work/back/file") || { bad "lloop attach"; exit 1; }

# Load while the stressors run: files created on the target, its changelog followed, and
# verified writes through lloop.
(i=0; while :; do : >"$work/fs/f$((i % 500))"; i=$((i + 1)); done) &
pids+=($!)
(lfs changelog --follow $T >/dev/null 2>&1) &
pids+=($!)
fio --name=load --filename="$ldev" --rw=randwrite --bs=4k --size=64M --iodepth=8 \
	--ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 --time_based \
	--runtime=$((secs * 6 + 30)) >"$work/fio.log" 2>&1 &
fio_pid=$!

for dev in "$ldev" /dev/lloop-control /dev/changelog-$T /dev/hsm-$T /dev/rustre-mdt; do
	if [ ! -e "$dev" ]; then
		bad "$dev does not exist"
		continue
	fi
	timeout $((secs + $(scaled 60))) stress-ng --dev 2 --dev-file "$dev" --timeout "${secs}s" \
		--temp-path /tmp >"$work/stress.log" 2>&1
	rc=$?
	if [ $rc = 124 ]; then
		bad "stress-ng --dev on $dev did not finish in $((secs + 60)) s (hung)"
	else
		ok "stress-ng --dev on $dev: finished, exit $rc"
	fi
done

# Garbage into every writable parameter file; each write must end (with or without an error).
long=$(head -c 8192 /dev/zero | tr '\0' A)
values=("" "-1" "18446744073709551616" "999999999999999999999999" "0x" "+" "$long"
	"$(printf '\xff\xfe\x01')" "ARCHIVE RESTORE bogus" "../../../../etc/passwd" "cl99"
	"clear:cl1:-5" "clear:cl99999999999:1" "0 0 0 0 0 0")
n=0 hung=0
while IFS= read -r f; do
	for v in "${values[@]}"; do
		n=$((n + 1))
		timeout "$(scaled 20)" sh -c 'printf "%s" "$1" >"$2"' _ "$v" "$f" 2>/dev/null
		[ $? = 124 ] && { hung=$((hung + 1)); bad "write to $f hung"; }
	done
done < <(find /sys/fs/lustre /sys/kernel/debug/lustre /sys/module/{rustre_mdt,lloop,hsm_upcall,changelog_chardev}/parameters \
	-type f -perm -200 2>/dev/null | grep -v '/hsm/upcall_path$')
[ $n -gt 0 ] && [ $hung = 0 ] && ok "$n hostile writes into parameter files ended" ||
	{ [ $n = 0 ] && bad "no writable parameter file found"; }
# upcall_path names a program the kernel runs: only paths to nothing.
up=$(find /sys/fs/lustre /sys/kernel/debug/lustre -path "*$T*/hsm/upcall_path" 2>/dev/null | head -n1)
if [ -n "$up" ]; then
	for v in "" "relative" "/nonexistent/upcall" "$long"; do
		timeout "$(scaled 20)" sh -c 'printf "%s" "$1" >"$2"' _ "$v" "$up" 2>/dev/null
		[ $? = 124 ] && bad "write to $up hung"
	done
	ok "hostile writes into $up ended"
else
	bad "no upcall_path parameter of $T"
fi

wait $fio_pid && ok "verified I/O through $ldev survived" ||
	bad "fio on $ldev: $(grep -E 'verify|err' "$work/fio.log" | head -n 3 | tr '\n' ' ')"
lctl --device $T changelog_sync && ok "target still answers" || bad "target does not answer"
exit $fail
