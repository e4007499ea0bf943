# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that boot the test kernel (scripts/vm.sh and the scripts around it),
# after they set $top. Sets:
#   kasan  1 if build/kernel is the KASAN variant (make KASAN=1), else 0;
#   perf   1 if it is the performance variant (make PERF=1), which has no debug checks, else 0;
#   scale  the factor for every time limit that only exists to catch a hang: RUSTRE_TIMEOUT_SCALE
#          if set, else 3 on the KASAN variant (it runs about three times slower under TCG),
#          else 1. scripts/vm.sh passes it on to the guest's scripts as RUSTRE_TIMEOUT_SCALE.
kasan=0
if grep -qx CONFIG_KASAN=y "$top/build/kernel/.config" 2>/dev/null; then
	kasan=1
fi
perf=0
if [ -f "$top/build/kernel/.config" ] && ! grep -qx CONFIG_PROVE_LOCKING=y "$top/build/kernel/.config"; then
	perf=1
fi
scale=${RUSTRE_TIMEOUT_SCALE:-$((kasan == 1 ? 3 : 1))}
case $scale in
'' | *[!0-9]* | 0*)
	echo "RUSTRE_TIMEOUT_SCALE must be a positive whole number, not '$scale'" >&2
	exit 2
	;;
esac
