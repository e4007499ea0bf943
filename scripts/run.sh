#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: boot the VM with the modules loaded. From a terminal, a root shell in the guest
# with the three modules loaded (exit the shell to power off); without one (or with CI set), a
# short scripted demo that loads them, shows them and unloads them.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/run
rm -rf "$out"
mkdir -p "$out"

if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
	# The guest's /root is replaced by a directory holding a .bashrc that loads the modules
	# before the first prompt; everything else is the host's root, copy-on-write.
	mkdir -p "$out/home"
	cat >"$out/home/.bashrc" <<RC
for m in $(awk '!/^#/ && NF {print $2}' "$top/scripts/modules.txt" | xargs); do
	insmod "$top/build/modules/\$m.ko" || echo "rustre: insmod \$m failed"
done
echo "rustre: modules loaded:"; grep -E '^($(awk '!/^#/ && NF {print $1}' "$top/scripts/modules.txt" | paste -sd'|')) ' /proc/modules
export PATH=$top/tools/target/release:$top/tools/lhsm/scripts:\$PATH LHSM_ARCHIVE_BASE=/tmp/arc
mkdir -p /tmp/mdt0 /tmp/catalog
mount -t tmpfs tmpfs /tmp/mdt0 && mount -t tmpfs tmpfs /tmp/catalog &&
	lctl mdt_attach lustre-MDT0000 /tmp/mdt0 /tmp/catalog/mdt0.llog &&
	lctl --device lustre-MDT0000 changelog_register
echo "rustre: target lustre-MDT0000 is the tmpfs at /tmp/mdt0; try:"
echo "  touch /tmp/mdt0/x; lctl --device lustre-MDT0000 changelog_sync; lfs changelog lustre-MDT0000"
echo "  lctl get_param mdd.*.changelog_users; llog_reader /tmp/catalog/mdt0.llog"
echo "  HSM: mkdir -p /tmp/arc1; lctl set_param mdt.lustre-MDT0000.hsm_control=enabled"
echo "       lfs hsm_archive /tmp/mdt0/x; lhsm_copytool --once lustre-MDT0000; lfs hsm_state /tmp/mdt0/x"
echo "rustre: exit the shell (CTRL+d) to power off"
cd "$top"
RC
	script -q -e -c "$(printf '%q ' vng -r "$top/build/kernel/arch/x86/boot/bzImage" \
		--disable-kvm --force-9p --memory 2G --cpus 2 --rodir=/root="$out/home")" \
		"$out/console.log"
	rc=$?
	"$top/scripts/scan-log.sh" "$out/console.log" || rc=1
	exit $rc
fi
exec bash "$top/scripts/vm.sh" "$out" "bash tests/vm/guest.sh demo '$out' '$top/build/modules'"
