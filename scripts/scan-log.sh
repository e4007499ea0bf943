#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fail (exit 1) and print the reports if a kernel log shows an oops, BUG, WARN, lockdep splat,
# KASAN, UBSAN or kmemleak report, a hung task or an RCU stall. Missing files are skipped.
set -u

pat='(Oops|BUG:|kernel BUG at|WARNING:|general protection fault|Kernel panic|'
pat+='possible circular locking|possible recursive locking|inconsistent lock state|'
pat+='suspicious RCU usage|lock held when returning|bad unlock balance|'
pat+='KASAN:|UBSAN:|unreferenced object|kmemleak: [0-9]+ new suspected|'
pat+='blocked( in I/O wait)? for more than|rcu_sched self-detected stall|rcu: INFO:|'
pat+='sleeping function called from invalid context|list_add corruption|list_del corruption)'

rc=0
for f in "$@"; do
	[ -s "$f" ] || continue
	hits=$(grep -nE "$pat" "$f" | grep -v 'kmemleak: Kernel memory leak detector' | head -20)
	if [ -n "$hits" ]; then
		echo "scan: FAIL: kernel reports in $f:"
		echo "$hits"
		# Print the first report with its context.
		first=$(echo "$hits" | head -n1 | cut -d: -f1)
		sed -n "$((first > 5 ? first - 5 : 1)),$((first + 40))p" "$f"
		rc=1
	fi
done
exit $rc
