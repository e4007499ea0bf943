#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: boot the VM with the modules loaded. With a terminal, a shell in the guest; without
# one (or with CI set), a short scripted demo.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/vm/run
rm -rf "$out"
mkdir -p "$out"
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
	export VM_INTERACTIVE=1
fi
exec bash "$top/scripts/vm.sh" "$out" "bash tests/vm/guest.sh demo '$out' '$top/build/modules'"
