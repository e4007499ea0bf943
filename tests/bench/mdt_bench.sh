#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Changelog capture cost, in the VM (run by scripts/bench-mdt.sh): a metadata-heavy load
# (create, stat, rename and unlink N files, python3) on a tmpfs, timed in each round
# - with nothing watching (capture off),
# - with a target attached and a changelog user registered (rustre),
# - with fatrace on that mount writing to a file (fanotify: what an administrator would run
#   to log a local filesystem's changes), and
# - with `inotifywait -m -r` on it writing to a file (inotify),
# in an order that turns every round, all in one boot. Prints the times, each slowdown over
# capture off and the events each kept: rustre's records (durable, after a sync), the lines
# fatrace and inotifywait wrote. The two tools keep nothing across a crash and drop events
# when their queue overflows; rustre's records are in the catalog.
# PROFILE=1 adds a perf profile of the guest during one more rustre load.
# A benchmark, not a test: nothing is asserted.
set -u
mods=$1 top=$2 n=${3:-100000} rounds=${4:-3}
lctl=$top/tools/target/release/lctl
mnt=$(mktemp -d) cat=$(mktemp -d)
mount -t tmpfs tmpfs "$mnt"
mount -t tmpfs tmpfs "$cat"
insmod "$(find "$mods" -name rustre_mdt.ko | head -n1)" || exit 1
for t in fatrace inotifywait; do
	command -v $t >/dev/null || { echo "mdt_bench: $t is not installed (make deps)"; exit 1; }
done

# The automatic kmemleak scan of the test kernel (every 10 minutes, a long walk of all memory
# under emulation) would land in some loads and not others.
[ -w /sys/kernel/debug/kmemleak ] && echo scan=off >/sys/kernel/debug/kmemleak

load() { # prints elapsed seconds for the load over $n files, in $mnt/w
	python3 - "$mnt/w" "$n" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t = time.monotonic()
for i in range(n):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n):
    os.stat(f"{d}/f{i}")
for i in range(n):
    os.rename(f"{d}/f{i}", f"{d}/g{i}")
for i in range(n):
    os.unlink(f"{d}/g{i}")
print(f"{time.monotonic() - t:.2f}")
PY
}

# settle FILE: waits (up to 120 s) until FILE stops growing: the tool has written what it got.
settle() {
	local a b i
	for i in $(seq 1 120); do
		a=$(stat -c %s "$1")
		sleep 1
		b=$(stat -c %s "$1")
		[ "$a" = "$b" ] && return
	done
}

# stop PID FILE: ends a tool that logs to FILE. fatrace restarts its read() after SIGINT, so
# one more event on the mount (counted, one or two lines) lets it see the signal; SIGKILL if
# it still has not ended after 10 s.
stop() {
	local i
	kill -INT "$1" 2>/dev/null
	: >"$mnt/.stop"
	rm -f "$mnt/.stop"
	for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# run MODE: prints "SECONDS EVENTS" for one load under MODE. Each load works in a new
# directory, made before and removed after the watching: a directory that served earlier
# loads keeps state of them (tmpfs numbers its entries for readdir cyclically), the likely
# reason why every load of a second round in one directory ran slower than in the first.
run() {
	mkdir "$mnt/w" || { echo "mdt_bench: cannot make $mnt/w" >&2; return 1; }
	run_mode "$1"
	rm -rf "$mnt/w"
}

run_mode() {
	local s ev pid i
	case $1 in
	off)
		echo "$(load) 0"
		;;
	rustre)
		"$lctl" mdt_attach bench-MDT0000 "$mnt" "$cat/bench.llog" >/dev/null || return
		"$lctl" --device bench-MDT0000 changelog_register -n >/dev/null
		local before after
		before=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index)
		s=$(load)
		"$lctl" --device bench-MDT0000 changelog_sync
		after=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index)
		"$lctl" mdt_detach bench-MDT0000
		rm -f "$cat/bench.llog"
		echo "$s $((after - before))"
		;;
	fatrace)
		rm -f "$cat/fatrace.log"
		# -c: the mount of the current directory only.
		(cd "$mnt" && exec fatrace -c -o "$cat/fatrace.log") &
		pid=$!
		# fatrace has its marks once it has opened its output file.
		for i in $(seq 1 100); do [ -e "$cat/fatrace.log" ] && break; sleep 0.1; done
		sleep 0.5
		s=$(load)
		settle "$cat/fatrace.log"
		stop $pid
		echo "$s $(wc -l <"$cat/fatrace.log")"
		;;
	inotify)
		rm -f "$cat/inotify.log" "$cat/inotify.err"
		inotifywait -m -r -o "$cat/inotify.log" "$mnt" 2>"$cat/inotify.err" &
		pid=$!
		for i in $(seq 1 100); do grep -q 'Watches established' "$cat/inotify.err" 2>/dev/null && break; sleep 0.1; done
		s=$(load)
		settle "$cat/inotify.log"
		stop $pid
		echo "$s $(wc -l <"$cat/inotify.log")"
		;;
	esac
}

# shellcheck source=tests/bench/kernel_kind.sh
. "$top/tests/bench/kernel_kind.sh"
echo "load: kernel $(kernel_kind)"
echo "load: create, stat, rename and unlink $n files on tmpfs, python3, $rounds rounds, modes in turn"
modes=(off rustre fatrace inotify)
for r in $(seq 1 "$rounds"); do
	declare -A sec=() ev=()
	for j in 0 1 2 3; do
		m=${modes[$(((j + r - 1) % 4))]}
		read -r sec[$m] ev[$m] < <(run "$m")
	done
	awk -v r="$r" -v off="${sec[off]}" -v on="${sec[rustre]}" -v fa="${sec[fatrace]}" \
		-v ino="${sec[inotify]}" -v eon="${ev[rustre]}" -v efa="${ev[fatrace]}" -v ein="${ev[inotify]}" 'BEGIN {
		if (off == "" || on == "" || fa == "" || ino == "") { print "round " r ": a mode failed"; exit }
		printf "round %d: capture off %.2f s; rustre %.2f s (x%.2f, %d records kept); fatrace %.2f s (x%.2f, %d events kept); inotifywait %.2f s (x%.2f, %d events kept)\n",
			r, off, on, on / off, eon, fa, fa / off, efa, ino, ino / off, ein
	}'
done

# PROFILE=1: where the time of a captured load goes, the whole guest sampled with perf
# (cpu-clock, call graphs) during one rustre load, hottest symbols printed, each with its
# share of all samples and with its callees (children).
if [ "${PROFILE:-0}" = 1 ]; then
	# Debian's perf wrapper looks for a perf of the running kernel's version: call the binary.
	perf=$(ls /usr/bin/perf_* /usr/lib/linux-tools-*/perf 2>/dev/null | tail -n1)
	perf=${perf:-perf}
	p=$(mktemp -d)
	mkdir "$mnt/w"
	"$lctl" mdt_attach bench-MDT0000 "$mnt" "$cat/bench.llog" >/dev/null || echo "profile: attach failed"
	"$lctl" --device bench-MDT0000 changelog_register -n >/dev/null
	if ! "$lctl" mdt_list | grep -q bench-MDT0000; then
		:
	elif before=$("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index) &&
		"$perf" record -q -a -g -e cpu-clock -F 2000 -o "$p/perf.data" -- \
		bash -c "$(declare -f load); mnt=$mnt n=$n load" >/dev/null 2>"$p/err"; then
		"$lctl" --device bench-MDT0000 changelog_sync
		echo "profile: the profiled load made $(($("$lctl" get_param -n mdd.bench-MDT0000.changelog_current_index) - before)) records"
		"$perf" report -i "$p/perf.data" --stdio --no-children --sort dso 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 12 | sed 's/^/profile by object: /'
		"$perf" report -i "$p/perf.data" --stdio --no-children --sort symbol --percent-limit 0.7 \
			2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 45 | sed 's/^/profile self: /'
		"$perf" report -i "$p/perf.data" --stdio --children --sort symbol --percent-limit 2 \
			2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 45 | sed 's/^/profile children: /'
	else
		echo "profile: perf record failed: $(head -n 3 "$p/err")"
	fi
	"$lctl" mdt_detach bench-MDT0000
	rm -rf "$mnt/w" "$p" "$cat/bench.llog"
fi
rmmod rustre_mdt
umount "$mnt" "$cat"
