# SPDX-License-Identifier: GPL-2.0
#
# An NFS server and client in the test guest, over 127.0.0.1 (sourced by the scripts under
# tests/vm/). Debian's nfs-kernel-server tools drive the kernel's server; nothing runs
# outside the guest. The guest's root is the host's, read-only: state goes to tmpfs.
# NFS_HOST (the server's address) and NFS_CLIENT (the address the export is for) put server
# and client in two guests instead (tests/vm/nfs_server.sh); both default to 127.0.0.1.
#
#   nfs_up DIR                  export DIR (a local filesystem) and start the server
#   nfs_mount VERS MNT [OPTS]   mount the export: VERS 4.2 or 3, hard unless OPTS say soft
#   nfsd_stop / nfsd_start      stop or start the kernel's server threads (an outage)
#   nfs_unexport / nfs_reexport remove the export and put it back
#   nfs_down                    unmount what nfs_mount mounted and stop everything
#
# The export is the NFSv4 root (fsid=0): v4 mounts it as "/", v3 by its path. (Without a root
# of its own, the server would make the guest's root, 9p, the v4 pseudo-root, which cannot be
# exported.) The daemons' messages (IPv6 is not in the kernel) go to /tmp/nfs-daemons.log.
#
# Grace and lease are 15 s (the least nfsd takes is 10 s) so that an NFSv4 client that
# reclaims its state after a restart is not held for the default 90 s.
NFS_EXPORT=
# The export's write mode: sync (the default, as a server should) or async.
NFS_SYNC=${NFS_SYNC:-sync}
NFS_MOUNTS=()
NFS_PIDS=()
NFS_HOST=${NFS_HOST:-127.0.0.1}
NFS_CLIENT=${NFS_CLIENT:-127.0.0.1}
NFSD_ARGS=(-H "$NFS_HOST" -V 3 -V 4.2 -G 15 -L 15 4)

nfs_log() { echo "nfs: $*"; }

# nfs_net MAC ADDR: gives the network interface with that MAC address (scripts/swap-test.sh
# gives each guest's virtio NIC a fixed one) the address ADDR/24 and brings it up; fails, with
# a message, if there is no such interface.
nfs_net() {
	local n nic=
	for n in /sys/class/net/*; do
		[ "$(cat "$n/address" 2>/dev/null)" = "$1" ] && { nic=${n##*/}; break; }
	done
	[ -n "$nic" ] || { nfs_log "no network interface with MAC $1"; return 1; }
	ip addr add "$2/24" dev "$nic" && ip link set "$nic" up || return 1
	nfs_log "$nic: $2"
}

# nfs_tcp_counters NAME...: "NAME VALUE" for each of those TCP counters (TcpExt in
# /proc/net/netstat), on one line.
nfs_tcp_counters() {
	awk -v names=" $* " '/^TcpExt:/ {
		if (!h) { split($0, n); h = 1; next }
		for (i = 2; i <= NF; i++) if (index(names, " " n[i] " ")) printf "%s%s %s", (k++ ? " " : ""), n[i], $i
	} END { print "" }' /proc/net/netstat
}

nfs_up() {
	local dir=$1 i
	NFS_EXPORT=$dir
	ip link set lo up || return 1
	mountpoint -q /var/lib/nfs || mount -t tmpfs -o size=16M tmpfs /var/lib/nfs || return 1
	mkdir -p /var/lib/nfs/nfsdcld /var/lib/nfs/rpc_pipefs /run/rpcbind
	touch /var/lib/nfs/etab /var/lib/nfs/rmtab
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1
	rpcbind -f 2>>/tmp/nfs-daemons.log &
	NFS_PIDS+=($!)
	for i in $(seq 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.2; done
	rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || { nfs_log "rpcbind does not answer"; return 1; }
	# The client tracking daemon lets a restarted server end its grace period as soon as its
	# known clients have reclaimed; without it every restart waits out the whole grace period.
	if mountpoint -q /var/lib/nfs/rpc_pipefs || mount -t rpc_pipefs rpc_pipefs /var/lib/nfs/rpc_pipefs; then
		nfsdcld -F -p /var/lib/nfs/rpc_pipefs -s /var/lib/nfs/nfsdcld 2>>/tmp/nfs-daemons.log &
		NFS_PIDS+=($!)
	fi
	nfs_reexport || return 1
	# 1 MiB reads and writes, as a server with enough memory offers (the default scales with
	# the guest's RAM: 64 KiB in 256 MiB).
	echo 1048576 >/proc/fs/nfsd/max_block_size
	nfsd_start || return 1
	rpc.mountd -F 2>>/tmp/nfs-daemons.log &
	NFS_PIDS+=($!)
	for i in $(seq 50); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break; sleep 0.2; done
	rpcinfo -p 127.0.0.1 | grep -q mountd || { nfs_log "mountd did not register"; return 1; }
	nfs_log "exporting $dir: $(rpcinfo -p 127.0.0.1 | awk 'NR > 1 {print $5 "v" $2}' | sort -u | xargs)"
}

nfsd_start() { rpc.nfsd "${NFSD_ARGS[@]}" 2>>/tmp/nfs-daemons.log; [ "$(cat /proc/fs/nfsd/threads)" -gt 0 ]; }
nfsd_stop() { rpc.nfsd 0; }
nfs_unexport() { exportfs -u "$NFS_CLIENT:$NFS_EXPORT"; }
nfs_reexport() { exportfs -i -o "rw,$NFS_SYNC,no_subtree_check,no_root_squash,fsid=0" "$NFS_CLIENT:$NFS_EXPORT"; }

nfs_mount() {
	local vers=$1 mnt=$2 opts=${3:-hard} o path
	mkdir -p "$mnt"
	o=vers=$vers,proto=tcp,$opts
	# v3 without the lock manager: lloop takes no locks; and the mount protocol over TCP.
	[ "$vers" = 3 ] && o+=,nolock,mountproto=tcp
	path=$NFS_EXPORT
	[ "$vers" = 3 ] || path=/
	mount -t nfs -o "$o" "$NFS_HOST:$path" "$mnt" || return 1
	NFS_MOUNTS+=("$mnt")
	nfs_log "mounted $(findmnt -no FSTYPE,OPTIONS "$mnt" | tr ',' ' ' | grep -oE '^nfs4?|vers=[^ ]+|rsize=[^ ]+|wsize=[^ ]+|hard|soft|timeo=[^ ]+|retrans=[^ ]+' | xargs) on $mnt"
}

nfs_down() {
	local m p
	for m in "${NFS_MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -f "$m" 2>/dev/null || umount -l "$m"; done
	NFS_MOUNTS=()
	exportfs -ua 2>/dev/null
	rpc.nfsd 0 2>/dev/null
	for p in "${NFS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${NFS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	NFS_PIDS=()
	umount /var/lib/nfs/rpc_pipefs 2>/dev/null
	umount /proc/fs/nfsd 2>/dev/null
	umount /var/lib/nfs 2>/dev/null
}

# Client RPC counters of one NFS version from /proc/net/rpc/nfs (the operation order of
# Linux 7.3): nfs_ops 3|4 NAME... prints
# the counts of those operations.
nfs_ops() {
	local v=$1
	shift
	awk -v v="$v" -v names="$*" '
		BEGIN {
			n3 = "null getattr setattr lookup access readlink read write create mkdir symlink mknod remove rmdir rename link readdir readdirplus fsstat fsinfo pathconf commit"
			n4 = "null read write commit open open_confirm open_noattr open_downgrade close setattr fsinfo renew setclientid setclientid_confirm lock lockt locku access getattr lookup lookup_root remove rename link symlink create pathconf statfs readlink readdir server_caps delegreturn getacl setacl fs_locations release_lockowner secinfo fsid_present exchange_id create_session destroy_session sequence get_lease_time reclaim_complete layoutget getdeviceinfo layoutcommit layoutreturn secinfo_no_name test_stateid free_stateid getdevicelist bind_conn_to_session destroy_clientid seek allocate deallocate zero_range layoutstats clone copy offload_cancel lookupp layouterror copy_notify getxattr setxattr listxattrs removexattr read_plus offload_status"
			split(v == 3 ? n3 : n4, nm, " ")
		}
		$1 == "proc" v {
			for (i = 1; i in nm; i++) c[nm[i]] = $(i + 2)
		}
		END { k = split(names, w, " "); for (i = 1; i <= k; i++) printf "%s%d", (i > 1 ? " " : ""), c[w[i]] + 0; print "" }
	' /proc/net/rpc/nfs
}
