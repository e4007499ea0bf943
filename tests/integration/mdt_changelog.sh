#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Metadata targets and their changelogs, in the VM, with real tools on a tmpfs and an ext4
# target: records of real operations (checked through llog_reader), users and clear
# semantics, persistence across module reload, recovery of a torn tail, bad input.
set -u
mods=${RUSTRE_MODDIR:?} top=${RUSTRE_TOP:?}
lctl=$top/tools/target/release/lctl
llog=$top/tools/target/release/llog_reader
lfs=$top/tools/target/release/lfs
ko=$(find "$mods" -name rustre_mdt.ko | head -n1)
. "$top/tests/lib/check.sh"
for t in "$lctl" "$llog" "$lfs"; do
	[ -x "$t" ] || { echo "skip: $t not built (make tools)"; exit 77; }
done

work=$(mktemp -d)
mkdir -p "$work/tmpfs" "$work/ext4" "$work/cat"
mount -t tmpfs tmpfs "$work/tmpfs"
truncate -s 64M "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
mount -o loop "$work/ext4.img" "$work/ext4"
mount -t tmpfs tmpfs "$work/cat"
cleanup() {
	rmmod rustre_mdt 2>/dev/null
	umount "$work/ext4" "$work/tmpfs" "$work/cat" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

insmod "$ko" || { echo "FAIL: insmod"; exit 1; }

# --- attach, parameters -----------------------------------------------------------------
"$lctl" mdt_attach lustre-MDT0000 "$work/tmpfs" "$work/cat/mdt0.llog" || bad "attach tmpfs"
"$lctl" mdt_attach lustre-MDT0001 "$work/ext4" "$work/ext4/changelog.llog" || bad "attach ext4"
expect "two targets listed" "lustre-MDT0000 lustre-MDT0001" "$("$lctl" mdt_list | awk '{print $1}' | xargs)"
expect "default mask" \
	"MARK CREAT MKDIR HLINK SLINK MKNOD UNLNK RMDIR RENME RNMTO CLOSE LYOUT TRUNC SATTR XATTR HSM MTIME CTIME MIGRT FLRW RESYNC" \
	"$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_mask)"

# No user: no records are kept (Lustre).
touch "$work/tmpfs/before-any-user"
"$lctl" --device lustre-MDT0000 changelog_sync
expect "no records without users" 0 "$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_current_index)"

expect "register" "lustre-MDT0000: Registered changelog userid 'cl1'" \
	"$("$lctl" --device lustre-MDT0000 changelog_register)"
expect "register named -n" "cl2-reader" "$("$lctl" --device lustre-MDT0000 changelog_register -n -u reader)"
"$lctl" set_param mdd.lustre-MDT0000.changelog_mask=+OPEN >/dev/null || bad "set mask +OPEN"
"$lctl" --device lustre-MDT0001 changelog_register -n >/dev/null || bad "register ext4"

# --- every operation, on both filesystems ---------------------------------------------
ops() { # ops DIR
	local d=$1
	touch "$d/f"                  # CREAT (+ OPEN/CLOSE; touch's MTIME is suppressed after CREAT)
	mkdir "$d/dir"                # MKDIR
	ln "$d/f" "$d/dir/hard"       # HLINK
	ln -s f "$d/sym"              # SLINK
	mknod "$d/fifo" p             # MKNOD
	echo data >>"$d/f"            # OPEN, CLOSE (no MTIME: f has a record, see below)
	truncate -s 1 "$d/f"          # TRUNC
	chmod 600 "$d/f"              # SATTR
	# XATTR, where the filesystem has user xattrs (the test kernel's tmpfs has none)
	xattr_ok=0
	python3 -c "import os; os.setxattr('$d/f', 'user.k', b'v')" 2>/dev/null && xattr_ok=1
	[ "$xattr_ok" = 1 ] && python3 -c "import os; os.removexattr('$d/f', 'user.k')"
	mv "$d/f" "$d/g"              # RENME
	touch "$d/t"
	mv "$d/g" "$d/t"              # RENME over an existing file (last link of t)
	rm "$d/dir/hard"              # UNLNK (t still has a link)
	rm "$d/t"                     # UNLNK last
	rmdir "$d/dir"                # RMDIR
}
for tgt in tmpfs:lustre-MDT0000 ext4:lustre-MDT0001; do
	dir=${tgt%%:*} name=${tgt#*:}
	ops "$work/$dir"
	"$lctl" --device "$name" changelog_sync
	cat=$("$lctl" get_param -n "mdd.$name.catalog")
	"$llog" "$cat" >"$work/$dir.txt" || bad "$name: llog_reader"
	# The exact sequence of types and names (a rename shows its new name).
	seq=$(python3 -c '
import re, sys
for line in open(sys.argv[1]):
    f = line.split()
    m = re.search(r" p=\[[^]]*\] (\S+)", line)
    print(f[1] + "/" + (m.group(1) if m else ""))' "$work/$dir.txt" | xargs)
	# As Lustre's MDD (mdd_changelog_data_store, mod_cltime): no MTIME or CTIME record for an
	# object that already has one (here the
	# CREAT), so neither touch nor the append makes one.
	want="01CREAT/f 11CLOSE/ 02MKDIR/dir 03HLINK/hard 04SLINK/sym 05MKNOD/fifo 11CLOSE/ 13TRUNC/ 11CLOSE/ 14SATTR/ 15XATTR/ 15XATTR/ 08RENME/g 01CREAT/t 11CLOSE/ 08RENME/t 06UNLNK/hard 06UNLNK/t 07RMDIR/dir"
	[ "$xattr_ok" = 1 ] || want=${want/ 15XATTR\/ 15XATTR\/}
	if [ "$name" = lustre-MDT0000 ]; then # +OPEN on this one
		want=${want/01CREAT\/f /01CREAT/f 10OPEN/ }
		want=${want/05MKNOD\/fifo /05MKNOD/fifo 10OPEN/ }
		want=${want/11CLOSE\/ 13TRUNC/11CLOSE/ 10OPEN/ 13TRUNC}
		want=${want/01CREAT\/t /01CREAT/t 10OPEN/ }
	fi
	expect "$name: record sequence of the scripted operations" "$want" "$seq"
	wanted="01CREAT 02MKDIR 03HLINK 04SLINK 05MKNOD 13TRUNC 14SATTR 08RENME 06UNLNK 07RMDIR 11CLOSE"
	[ "$xattr_ok" = 1 ] && wanted="$wanted 15XATTR"
	[ "$name" = lustre-MDT0000 ] && wanted="$wanted 10OPEN"
	for want in $wanted; do
		grep -q " $want " "$work/$dir.txt" || bad "$name: no $want record"
	done
	grep -q "01CREAT .* j=touch.0 .*u=0:0 nid=0@lo p=\[.*\] f$" "$work/$dir.txt" && ok "$name: CREAT with jobid, uid, nid, parent, name" || bad "$name: CREAT line: $(grep 01CREAT "$work/$dir.txt" | head -1)"
	grep -q "08RENME .* t=\[0:0x0:0x0\] .* g s=\[.*\] sp=\[.*\] f$" "$work/$dir.txt" && ok "$name: rename f -> g with source fields" || bad "$name: rename line"
	grep -q "08RENME .*0x1 t=\[0x.*\] .* t s=\[.*\] sp=\[.*\] g$" "$work/$dir.txt" && ok "$name: rename over last link has CLF_RENAME_LAST" || bad "$name: rename-over line"
	grep -q "06UNLNK .*0x1 t=.* t$" "$work/$dir.txt" && ok "$name: last unlink flagged" || bad "$name: UNLNK last"
	grep -q "06UNLNK .*0x0 t=.* hard$" "$work/$dir.txt" && ok "$name: non-last unlink not flagged" || bad "$name: UNLNK not last"
	# Per-type flag bits as Lustre's MDD sets them (Documentation/mdt.rst, "Records"); the
	# Lustre function each value comes from is named with its check. RENME (mdd_rename:
	# CLF_RENAME_LAST) and UNLNK (mdd_unlink: CLF_UNLINK_LAST when no link is left) are above;
	# CREAT, MKDIR, HLINK, SLINK and MKNOD have no type flags (mdd_changelog_ns_store).
	# mdd_unlink: a removed directory is always a dead object, so RMDIR has CLF_UNLINK_LAST.
	grep -q "07RMDIR .*0x1 t=.* dir$" "$work/$dir.txt" && ok "$name: RMDIR has CLF_UNLINK_LAST" || bad "$name: RMDIR line: $(grep 07RMDIR "$work/$dir.txt")"
	# touch f: O_WRONLY|O_CREAT that created f. mdd_close -> mdd_changelog_data_store: CLOSE
	# has the low open flags, MDS_FMODE_WRITE|MDS_OPEN_CREAT, and no open extension.
	close1=$(grep -m1 " 11CLOSE " "$work/$dir.txt")
	case $close1 in
	*" 0x42 t="*" ef=0x13 "*) ok "$name: CLOSE of a creating writer: flags 0x42, no open extension" ;;
	*) bad "$name: first CLOSE: $close1" ;;
	esac
	if [ "$name" = lustre-MDT0000 ]; then
		# mdd_open (flags from mdt_mfd_open, plus MDS_OPEN_CREATED for a creating open) and
		# mdd_changelog_data_store_by_fid (CLFE_OPEN only for OPEN): the same plus 0x8, and m=.
		open1=$(grep -m1 " 10OPEN " "$work/$dir.txt")
		case $open1 in
		*" 0x4a t="*" ef=0x17 "*" m=-w- "*) ok "$name: OPEN of a creating writer: flags 0x4a, m=-w-" ;;
		*) bad "$name: first OPEN: $open1" ;;
		esac
		# echo >>f: O_WRONLY|O_APPEND on an existing file (the kernel keeps no O_CREAT after open).
		grep -q " 10OPEN .* 0x402 t=.* m=-w- " "$work/$dir.txt" && ok "$name: OPEN for append: 0x402" || bad "$name: no OPEN 0x402"
	fi
	# la_valid in the low bits, as Lustre's mdd_attr_set (type by mdd_attr_set_changelog's
	# precedence, TRUNC before SATTR): truncate SIZE|MTIME|CTIME, chmod
	# MODE|CTIME.
	grep -q " 13TRUNC .* 0xe t=" "$work/$dir.txt" && ok "$name: TRUNC has la_valid 0xe" || bad "$name: TRUNC line: $(grep 13TRUNC "$work/$dir.txt")"
	grep -q " 14SATTR .* 0x14 t=" "$work/$dir.txt" && ok "$name: chmod SATTR has la_valid 0x14" || bad "$name: SATTR line: $(grep 14SATTR "$work/$dir.txt")"
	if [ "$xattr_ok" = 1 ]; then
		# mdd_xattr_set and mdd_xattr_del: XATTR with flags 0; mdd_changelog_data_store_by_fid
		# adds the name extension (CLFE_XATTR) for XATTR.
		expect "$name: XATTR records carry the name (ef=0x1b, x=user.k)" 2 \
			"$(grep -c " 15XATTR .* 0x0 t=.* ef=0x1b u=0:0 nid=0@lo x=user.k p=" "$work/$dir.txt")"
	fi
	# Every FID is valid by Lustre's rules (fid_is_sane: IGIF, or a normal sequence with a
	# non-zero object id; version 0), root and first inodes included.
	python3 - "$work/$dir.txt" <<'PY' && ok "$name: every FID valid by Lustre's rules" || bad "$name: invalid FIDs"
import re, sys
bad = set()
n = 0
for line in open(sys.argv[1]):
    for s, o, v in re.findall(r"\[(0x[0-9a-f]+|0):(0x[0-9a-f]+):(0x[0-9a-f]+)\]", line):
        s, o, v = int(s, 16), int(o, 16), int(v, 16)
        if (s, o, v) == (0, 0, 0):
            continue
        n += 1
        igif = 12 <= s <= 0xffffffff and v == 0
        normal = s >= 0x200000400 and o != 0 and v == 0
        if not (igif or normal):
            bad.add((hex(s), hex(o), hex(v)))
print(f"{n} FIDs checked, invalid: {sorted(bad)}")
sys.exit(1 if bad or n == 0 else 0)
PY
	# Every FID handed out resolves while its file exists, without a path2fid first (tmpfs
	# finds an inode by handle only once one was encoded).
	for f in sym fifo; do
		t=$(grep -m1 " 0[45][A-Z]* .* $f$" "$work/$dir.txt" | sed 's/.* t=\(\[[^]]*\]\).*/\1/')
		expect "$name: fid2path of the changelog FID of $f" "$work/$dir/$f" "$("$lfs" fid2path "$name" "$t" 2>&1)"
	done
	# lfs fid2path of every FID the records name: a file that still exists is found at a path
	# whose FID is that FID, one that is gone is ENOENT (Lustre's fid2path: -ENOENT).
	found=0 gone=0
	for f in $(grep -o '\[0x[0-9a-f]*:0x[0-9a-f]*:0x[0-9a-f]*\]' "$work/$dir.txt" | sort -u); do
		if p=$("$lfs" fid2path "$name" "$f" 2>"$work/f2p.err"); then
			found=$((found + 1))
			# path2fid follows a symlink (here a dangling one): only other files compare.
			[ -L "$p" ] || [ "$("$lfs" path2fid "$p")" = "$f" ] || bad "$name: fid2path $f gave $p, whose FID is $("$lfs" path2fid "$p")"
		else
			gone=$((gone + 1))
			grep -q "No such file or directory" "$work/f2p.err" || bad "$name: fid2path $f: $(cat "$work/f2p.err")"
		fi
	done
	[ "$found" -ge 3 ] && ok "$name: fid2path of every FID in the records ($found found, $gone gone)" ||
		bad "$name: fid2path found only $found of the FIDs in the records"
	root=$(grep -m1 " 04SLINK .* sym$" "$work/$dir.txt" | sed 's/.* p=\(\[[^]]*\]\).*/\1/')
	expect "$name: fid2path of the root's FID" "$work/$dir" "$("$lfs" fid2path "$name" "$root" 2>&1)"
	# FID of the renamed file is its CREAT tfid (stable across rename).
	cfid=$(grep " 01CREAT .* f$" "$work/$dir.txt" | head -1 | sed 's/.* t=\(\[[^]]*\]\).*/\1/')
	grep -q "08RENME .* s=$(printf '%s' "$cfid" | sed 's/[][]/\\&/g') .* f$" "$work/$dir.txt" && ok "$name: FID stable across rename" || bad "$name: sfid of rename != CREAT tfid $cfid"
	# Byte-identical: the kernel's read interface returns what the catalog file holds.
	"$lctl" --device "$name" changelog_records 1 >"$work/$dir.bin" || bad "$name: records"
	"$llog" --raw "$cat" >"$work/$dir.raw" || bad "$name: llog_reader --raw"
	cmp -s "$work/$dir.bin" "$work/$dir.raw" && ok "$name: device records byte-identical to catalog" || bad "$name: records differ from catalog"
done
# --- time records: only for an object without one (Lustre's mod_cltime) ---------------------
# before-any-user was made when no user existed, so it has no record yet.
tf=$work/tmpfs/before-any-user
touch -m -d @1000000000 "$tf"     # MTIME, la_valid MTIME|CTIME
touch "$tf"                      # suppressed: the object has a record now
chown 1:2 "$tf"                  # SATTR UID|GID|CTIME, never suppressed
chgrp 3 "$tf"                    # SATTR GID|CTIME
: >"$tf"                         # O_TRUNC: TRUNC
"$lctl" --device lustre-MDT0000 changelog_sync
"$llog" "$("$lctl" get_param -n mdd.lustre-MDT0000.catalog)" | grep " t=$("$lfs" path2fid "$tf" | sed 's/[][]/\\&/g') " >"$work/times.txt"
expect "time and attribute records of a file with none before" "17MTIME/0x6 14SATTR/0x64 14SATTR/0x44 13TRUNC/0xe" \
	"$(awk '$2 != "10OPEN" && $2 != "11CLOSE" { print $2 "/" $5 }' "$work/times.txt" | xargs)"

# --- xattr names by who set them (mdt/attrs.rs xattr_record), on ext4 (user xattrs) -------------
# A user's user.* name is recorded with the name; root's trusted.hsm makes no record (Lustre's
# MDT keeps it) and root's trusted.foo is an XATTR with its name. The user sets it through a
# descriptor opened here (fsetxattr), as $work is root's alone.
xf=$work/ext4/xattr-owner
touch "$xf" && chown 65534:65534 "$xf"
setpriv --reuid=65534 --regid=65534 --clear-groups \
	python3 -c "import os; os.setxattr(3, 'user.k', b'v')" 3<"$xf" ||
	bad "fsetxattr user.k as uid 65534"
python3 -c "import os, sys; os.setxattr(sys.argv[1], 'trusted.hsm', bytes(24)); os.setxattr(sys.argv[1], 'trusted.foo', b'v')" "$xf" ||
	bad "setxattr trusted.hsm and trusted.foo as root"
"$lctl" --device lustre-MDT0001 changelog_sync
"$llog" "$("$lctl" get_param -n mdd.lustre-MDT0001.catalog)" |
	grep " 15XATTR .* t=$("$lfs" path2fid "$xf" | sed 's/[][]/\\&/g') " >"$work/xattr.txt"
expect "XATTR records of the file: two (none for trusted.hsm)" 2 "$(wc -l <"$work/xattr.txt")"
expect "XATTR records by who set which name" "u=65534:65534/x=user.k u=0:0/x=trusted.foo" \
	"$(sed -n 's/.* \(u=[0-9]*:[0-9]*\) .* \(x=[^ ]*\) .*/\1\/\2/p' "$work/xattr.txt" | xargs)"

# --- FIDs: stable across rename and remount, found again by fid2path --------------------------
for tgt in tmpfs:lustre-MDT0000 ext4:lustre-MDT0001; do
	dir=$work/${tgt%%:*} name=${tgt#*:}
	touch "$dir/fidfile"
	fid=$("$lfs" path2fid "$dir/fidfile")
	mv "$dir/fidfile" "$dir/fidfile2"
	expect "$name: path2fid stable across rename" "$fid" "$("$lfs" path2fid "$dir/fidfile2")"
	expect "$name: fid2path by target name" "$dir/fidfile2" "$("$lfs" fid2path "$name" "$fid")"
	"$lctl" --device "$name" changelog_sync
	"$llog" "$("$lctl" get_param -n "mdd.$name.catalog")" | grep -q "01CREAT .* t=$(printf '%s' "$fid" | sed 's/[][]/\\&/g') .* fidfile$" &&
		ok "$name: CREAT record carries the file's FID" || bad "$name: no CREAT with t=$fid"
done
fid=$("$lfs" path2fid "$work/tmpfs/fidfile2")
rm "$work/tmpfs/fidfile2"
expect_fail "fid2path of a removed file" "No such file or directory" "$lfs" fid2path lustre-MDT0000 "$fid"
fid=$("$lfs" path2fid "$work/ext4/fidfile2")
"$lctl" mdt_detach lustre-MDT0001
umount "$work/ext4" && mount -o loop "$work/ext4.img" "$work/ext4" || bad "remount ext4"
"$lctl" mdt_attach lustre-MDT0001 "$work/ext4" "$work/ext4/changelog.llog" || bad "reattach after remount"
expect "FID stable across remount" "$fid" "$("$lfs" path2fid "$work/ext4/fidfile2")"
expect "fid2path after remount" "$work/ext4/fidfile2" "$("$lfs" fid2path "$work/ext4" "$fid")"

# Two targets on one filesystem, both with their catalog on it: neither records the other's
# catalog writes (they would feed each other forever).
"$lctl" mdt_attach lustre-MDT0002 "$work/ext4" "$work/ext4/changelog2.llog" || bad "attach a second target on ext4"
"$lctl" --device lustre-MDT0002 changelog_register -n >/dev/null
touch "$work/ext4/both"
"$lctl" --device lustre-MDT0001 changelog_sync; "$lctl" --device lustre-MDT0002 changelog_sync
a1=$("$lctl" get_param -n mdd.lustre-MDT0001.changelog_current_index)
a2=$("$lctl" get_param -n mdd.lustre-MDT0002.changelog_current_index)
sleep 1.5
"$lctl" --device lustre-MDT0001 changelog_sync; "$lctl" --device lustre-MDT0002 changelog_sync
expect "idle targets on one filesystem stay idle" "$a1 $a2" \
	"$("$lctl" get_param -n mdd.lustre-MDT0001.changelog_current_index) $("$lctl" get_param -n mdd.lustre-MDT0002.changelog_current_index)"
"$lctl" mdt_detach lustre-MDT0002 || bad "detach the second ext4 target"

# The ext4 catalog lives on the target itself and records nothing about itself.
grep -q "changelog.llog" "$work/ext4.txt" && bad "catalog recorded its own activity" || ok "catalog on the target is not recorded"

# --- users and clear semantics (Lustre) -------------------------------------------------
cur=$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_current_index)
expect_fail "clear beyond current" "Invalid argument" "$lctl" --device lustre-MDT0000 changelog_clear cl1 $((cur + 1))
expect_fail "clear unknown user" "No such file or directory" "$lctl" --device lustre-MDT0000 changelog_clear cl9 1
expect_fail "deregister unknown user" "No such file or directory" "$lctl" --device lustre-MDT0000 changelog_deregister cl9
expect_fail "register bad name" "Invalid argument" "$lctl" --device lustre-MDT0000 changelog_register -u "bad/name"
expect_fail "register duplicate name" "File exists" "$lctl" --device lustre-MDT0000 changelog_register -u reader
size0=$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_size)
"$lctl" --device lustre-MDT0000 changelog_clear cl1 0 || bad "clear cl1 0"
"$lctl" --device lustre-MDT0000 changelog_sync
expect "cl2 still holds records" "$size0" "$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_size)"
"$lctl" --device lustre-MDT0000 changelog_clear cl2-reader 0 || bad "clear cl2-reader 0"
"$lctl" --device lustre-MDT0000 changelog_sync
expect "all cleared: nothing live" 0 "$("$lctl" get_param -n mdd.lustre-MDT0000.changelog_size)"
"$lctl" get_param -n mdd.lustre-MDT0000.changelog_users | grep -q "^cl1 .* $cur (" && ok "cl1 endrec = current" || bad "users: $("$lctl" get_param -n mdd.lustre-MDT0000.changelog_users)"
expect "deregister" "lustre-MDT0000: Deregistered changelog user #2" "$("$lctl" --device lustre-MDT0000 changelog_deregister cl2)"

# Space is reclaimed: 3000 records, cleared, leave the catalog's blocks freed.
for i in $(seq 1 1500); do : >"$work/tmpfs/s$i"; done
rm -f "$work/tmpfs"/s*
"$lctl" --device lustre-MDT0000 changelog_sync
blocks_before=$(stat -c %b "$work/cat/mdt0.llog")
"$lctl" --device lustre-MDT0000 changelog_clear cl1 0
"$lctl" --device lustre-MDT0000 changelog_sync
blocks_after=$(stat -c %b "$work/cat/mdt0.llog")
[ "$blocks_after" -lt $((blocks_before / 4)) ] && ok "purge reclaims space ($blocks_before -> $blocks_after blocks)" || bad "purge kept space: $blocks_before -> $blocks_after"

# --- persistence: indices continue after reload ------------------------------------------
touch "$work/ext4/persist"
"$lctl" --device lustre-MDT0001 changelog_sync
last=$("$lctl" get_param -n mdd.lustre-MDT0001.changelog_current_index)
"$lctl" mdt_detach lustre-MDT0001 || bad "detach ext4"
rmmod rustre_mdt || bad "rmmod with lustre-MDT0000 still attached"
insmod "$ko" "targets=lustre-MDT0001:$work/ext4:$work/ext4/changelog.llog" || bad "insmod with targets="
expect "index survives reload" "$last" "$("$lctl" get_param -n mdd.lustre-MDT0001.changelog_current_index)"
"$lctl" get_param -n mdd.lustre-MDT0001.changelog_users | grep -q "^cl1 " && ok "users survive reload" || bad "users lost"
touch "$work/ext4/after-reload"
"$lctl" --device lustre-MDT0001 changelog_sync
"$llog" "$work/ext4/changelog.llog" | tail -n 5 | grep -q "^$((last + 1)) 01CREAT .* after-reload$" && ok "next index is $((last + 1))" || bad "after reload: $("$llog" "$work/ext4/changelog.llog" | tail -n 3)"

# --- torn tail: garbage appended to the catalog is detected and dropped ----------------------
"$lctl" mdt_detach lustre-MDT0001
cp "$work/ext4/changelog.llog" "$work/copy.llog"
printf 'CLGF\x40\x00\x00\x00garbage-torn-frame' >>"$work/ext4/changelog.llog"
good=$("$llog" "$work/copy.llog" | wc -l)
out=$("$llog" "$work/ext4/changelog.llog" 2>&1 >/dev/null)
[[ $out == *"offset"* ]] && ok "llog_reader reports the corrupt tail: $out" || bad "llog_reader said: $out"
"$lctl" mdt_attach lustre-MDT0001 "$work/ext4" "$work/ext4/changelog.llog" || bad "reattach"
expect "torn tail dropped at attach" "$good" "$("$llog" "$work/ext4/changelog.llog" | wc -l)"
touch "$work/ext4/after-torn"
"$lctl" --device lustre-MDT0001 changelog_sync
"$llog" "$work/ext4/changelog.llog" | tail -n 5 | grep -q "01CREAT .* after-torn$" && ok "appends continue after the dropped tail" || bad "after torn"

# --- bad input ------------------------------------------------------------------------------
expect_fail "unknown target" "No such device" "$lctl" --device lustre-MDT0009 changelog_register
expect_fail "bad target name" "Invalid argument" "$lctl" mdt_attach lustre-OST0000 "$work/tmpfs" "$work/cat/x"
expect_fail "mount point not a mount root" "Not a directory" "$lctl" mdt_attach lustre-MDT0002 "$work" "$work/cat/x2"
expect_fail "missing mount point" "No such file or directory" "$lctl" mdt_attach lustre-MDT0002 /nonexistent "$work/cat/x3"
head -c 20000 /dev/urandom >"$work/cat/garbage"
expect_fail "garbage catalog" "Invalid argument" "$lctl" mdt_attach lustre-MDT0002 "$work/tmpfs" "$work/cat/garbage"
expect_fail "catalog of another target" "Invalid argument" "$lctl" mdt_attach lustre-MDT0003 "$work/tmpfs" "$work/copy.llog"
expect_fail "attach twice" "File exists" "$lctl" mdt_attach lustre-MDT0001 "$work/tmpfs" "$work/cat/x4"
expect_fail "bad mask" "Invalid argument" "$lctl" set_param mdd.lustre-MDT0001.changelog_mask=BOGUS
expect_fail "no such parameter" "No such file or directory" "$lctl" get_param mdd.lustre-MDT0001.nonexistent
expect_fail "non-root writer" "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups "$lctl" --device lustre-MDT0001 changelog_register
# Parameters are in sysfs: every user reads them, only root writes; debugfs keeps read-only
# lists.
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect "non-root reads a parameter" "$("$lctl" get_param -n mdd.lustre-MDT0001.changelog_mask)" \
	"$("${nobody[@]}" "$lctl" get_param -n mdd.lustre-MDT0001.changelog_mask 2>&1)"
expect_fail "non-root cannot set a parameter" "Permission denied" \
	"${nobody[@]}" "$lctl" set_param mdd.lustre-MDT0001.changelog_mask=ALL
p=/sys/fs/lustre/mdd/lustre-MDT0001
expect "parameter modes (mask, size, sync)" "644 444 200" \
	"$(stat -c %a "$p/changelog_mask" "$p/changelog_size" "$p/changelog_sync" | paste -sd' ')"
expect "nothing writable in debugfs" "" "$(find /sys/kernel/debug/lustre -type f -perm /222)"
dmesg | tail -n 30 | grep -q "is the catalog of lustre-MDT0001" && ok "kernel log names the catalog's target" || bad "no clear kernel message for a foreign catalog"

"$lctl" mdt_detach lustre-MDT0001 || bad "detach ext4"
expect_fail "detach twice" "No such device" "$lctl" mdt_detach lustre-MDT0001
rmmod rustre_mdt || bad "final rmmod"
exit $fail
