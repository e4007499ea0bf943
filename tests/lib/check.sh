# SPDX-License-Identifier: GPL-2.0
#
# Checks shared by the integration scripts (sourced): each prints "ok: ..." or "FAIL: ..."
# and a failure sets $fail to 1.
fail=0
# scaled SECONDS: a time limit that only exists to catch a hang, stretched by
# RUSTRE_TIMEOUT_SCALE (scripts/vm.sh sets it: 3 on a KASAN kernel, else 1).
scaled() { echo $(($1 * ${RUSTRE_TIMEOUT_SCALE:-1})); }
# RUSTRE_CHECK_TIMES=1 puts the seconds since the script started before each result, to find
# where a slow script spends its time.
at() { [ "${RUSTRE_CHECK_TIMES:-0}" != 1 ] || printf '[%4d s] ' "$SECONDS"; }
ok() { echo "$(at)ok: $*"; }
bad() { echo "$(at)FAIL: $*"; fail=1; }
# expect DESC WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: want '$2', got '$3'"; fi; }
# expect_fail DESC TEXT CMD...: CMD must fail with TEXT in its output.
expect_fail() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		bad "$desc: succeeded: $out"
	elif [[ $out == *"$want"* ]]; then
		ok "$desc ($want)"
	else
		bad "$desc: want '$want', got '$out'"
	fi
}
