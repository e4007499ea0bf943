# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the benchmarks in the VM: kernel_kind prints which kernel the guest runs, the
# test kernel with its debug checks (lockdep, kmemleak: costs that tilt comparisons) or the
# performance variant (make ... PERF=1, Documentation/build.rst).
kernel_kind() {
	if dmesg | grep -q "KernelAddressSanitizer initialized"; then
		echo "$(uname -r), KASAN kernel (a test kernel with KASAN: about three times slower again)"
	elif [ -e /proc/lockdep ]; then
		echo "$(uname -r), test kernel (lockdep, kmemleak and the other debug checks on)"
	else
		echo "$(uname -r), performance variant (no debug checks)"
	fi
}
