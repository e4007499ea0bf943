#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel under QEMU with virtme-ng and run a script in the guest.
#
#   scripts/vm.sh OUTDIR COMMAND...
#
# The guest shares the host's root filesystem read-only (copy-on-write), so it has the host's
# tools and this checkout; OUTDIR is shared read-write. The console is streamed to the terminal
# and to OUTDIR/console.log. The run fails if the guest does not finish within VM_TIMEOUT
# seconds (default 1200; VM_MEMORY sets the memory, default 2G, VM_CPUS the processors,
# default 2, and VM_QEMU_OPTS adds QEMU arguments), if COMMAND fails, or if the console shows an oops, BUG, WARN,
# lockdep, KASAN or kmemleak report. It refuses a kernel without the debug checks (the
# performance variant) unless VM_BENCH=1 says that COMMAND is a benchmark.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
kimg=$top/build/kernel/arch/x86/boot/bzImage
timeout_s=${VM_TIMEOUT:-1200}
mem=${VM_MEMORY:-2G}
# A KASAN kernel runs everything about three times slower under TCG: every timeout, here and
# in the guest scripts (RUSTRE_TIMEOUT_SCALE), is stretched by that much.
. "$top/scripts/test-kernel.sh"
timeout_s=$((timeout_s * scale))

[ -f "$kimg" ] || { echo "vm: no kernel at $kimg: run 'make modules' first" >&2; exit 2; }
command -v vng >/dev/null || { echo "vm: vng not found: run 'make deps'" >&2; exit 2; }
# The tests rely on the debug checks: only a benchmark (VM_BENCH=1) boots the performance
# variant, which build/kernel points at after one ran.
if [ "$perf" = 1 ] && [ "${VM_BENCH:-0}" != 1 ]; then
	echo "vm: build/kernel is the performance variant (PERF=1), without the debug checks the tests" \
		"rely on: 'make modules' points it back at the test kernel" >&2
	exit 2
fi
mkdir -p "$out"
rm -f "$out"/console.log "$out"/guest.rc
# virtme-ng's init mounts empty tmpfs over these in the guest: a checkout or an output
# directory under them is not there for the guest command.
for d in "$top" "$(cd "$out" && pwd)"; do
	case $d/ in
	/var/tmp/* | /var/cache/* | /var/log/* | /var/spool/* | /var/lib/apt/* | /var/lib/private/* | /var/lib/machines/* | /var/lib/portables/*)
		echo "vm: $d is hidden in the guest (virtme-ng mounts a tmpfs over ${d%"${d#/var/*/}"}): use a checkout and output directory elsewhere, e.g. under /tmp or /root" >&2
		exit 2
		;;
	esac
done

# KVM only if it was proven to work: a firmware hang under KVM was seen on these machines.
accel=(--disable-kvm)
[ "${VM_KVM:-0}" = 1 ] && accel=()

# Kernel command line: a large log buffer so the guest's dmesg keeps every KUnit line, and
# kmemleak on (where the kernel has it).
append="log_buf_len=8M panic_on_warn=0 oops=panic panic=-1"
[ "$perf" = 1 ] || append+=" kmemleak=on"
# The root (the host's, over 9p) with the guest's page and dentry caches: virtme-ng mounts it
# uncached, and every exec then reads the program and its libraries over 9p again, which under
# TCG costs about half a second per process. The host does not change the checkout while a
# guest runs, and OUTDIR is a mount of its own, uncached. The kernel takes the last rootflags=.
append+=" rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose"
# KASAN guests run with 4-level paging. With 5-level paging (QEMU's TCG CPU has LA57), most
# likely an interrupt that arrives while identify_boot_cpu() rebuilds the CPU feature bits
# sees LA57 cleared, so KASAN takes the direct map (0xff11...) for a wild address and reports
# the interrupt's spin lock: "wild-memory-access in do_raw_spin_lock" from handle_edge_irq at
# about 0.02 s, before any module (2 of 7 KASAN boots, Documentation/testing.rst).
[ "$kasan" = 1 ] && append+=" no5lvl"

# The guest writes its command's exit status to OUTDIR/guest.rc; vng's own exit status is not
# the command's when the guest panics.
cmd="cd '$top' && export RUSTRE_TIMEOUT_SCALE=$scale && ( $* ); echo \$? > '$out/guest.rc'"

echo "vm: booting $(basename "$(readlink -f "$top/build/kernel")") (TCG, $mem), timeout ${timeout_s}s"
vng_args=(-r "$kimg" "${accel[@]}" --force-9p --memory "$mem" --cpus "${VM_CPUS:-2}"
	--rwdir "$out" --append "$append" --exec "$cmd")
# Extra QEMU arguments, e.g. a virtio disk for the swap test.
[ -n "${VM_QEMU_OPTS:-}" ] && vng_args+=("--qemu-opts=$VM_QEMU_OPTS")
timeout --kill-after=15 "$timeout_s" vng "${vng_args[@]}" --verbose </dev/null 2>&1 |
	tee "$out/console.log"
vng_rc=${PIPESTATUS[0]}

rc=0
if [ "$vng_rc" = 124 ] || [ "$vng_rc" = 137 ]; then
	echo "vm: FAIL: guest did not finish within ${timeout_s}s (killed)"
	rc=1
fi
if [ ! -f "$out/guest.rc" ]; then
	echo "vm: FAIL: the guest command did not complete (vng exit $vng_rc)"
	rc=1
elif [ "$(cat "$out/guest.rc")" != 0 ]; then
	echo "vm: FAIL: guest command exited $(cat "$out/guest.rc")"
	rc=1
fi
if ! "$top/scripts/scan-log.sh" "$out/console.log" "$out"/dmesg.log "$out"/kmemleak.txt; then
	rc=1
fi
exit $rc
