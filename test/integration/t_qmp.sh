# Online qcow2 snapshots as on EVE: a real qemu-system-x86_64 (-machine
# none, TCG) opens each image with `-drive id=drive-virtio-disk0,file=IMG,
# format=qcow2,if=none`, so its nodes have only the names QEMU makes up
# (#blockNNN).  The volume's node= is a drive id, a node name or absent
# (the node is found by the image's file name); and the monitor, which
# QEMU serves to one client at a time, may be held by another (pillar).

# qemu_start DRIVE...: QEMU holding one drive per DRIVE (id=DRIVE's
# options, e.g. "drive-virtio-disk0,file=IMG"), no node names, its monitor
# on $T/qmp.sock; QEMU is its pid.
qemu_start() {
	local -a args=()
	local d
	for d in "$@"; do
		args+=(-drive "id=$d,format=qcow2,if=none")
	done
	bg qemu-system-x86_64 -machine none -nodefaults -display none -accel tcg \
	    "${args[@]}" -qmp "unix:$T/qmp.sock,server=on,wait=off"
	QEMU=$LASTPID
	wait_for "[ -S '$T/qmp.sock' ] || ! kill -0 $QEMU 2>/dev/null" 10 &&
	    kill -0 "$QEMU" 2>/dev/null || fail "QEMU did not start"
}

# add_running_vm LOCATOR [,node=NODE [UUID]]: VM UUID (default $UUID1),
# running, monitor $T/qmp.sock, one qcow2 volume at LOCATOR.
add_running_vm() {
	local uuid=${3:-$UUID1}
	$HOSTCTL vm add --uuid "$uuid" --name "vm-${uuid:0:4}" \
	    --hybrid-socket "$T/${uuid:0:4}.sock" --state running --qmp "$T/qmp.sock" \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$1,disk=serial:ONE${2:-}" \
	    >/dev/null || fail "vm add"
}

# qemu_img_spy: qemu_img in hostd.conf records each use in
# $T/qemu-img-calls; none may happen while QEMU holds the images.
qemu_img_spy() {
	printf '#!/bin/sh\necho "$@" >> %s/qemu-img-calls\nexec qemu-img "$@"\n' "$T" > "$T/qemu-img-spy"
	chmod +x "$T/qemu-img-spy"
	printf 'qemu_img = %s\n' "$T/qemu-img-spy" >> "$T/hostd.conf"
}

# tags IMG: the snapshot tags in IMG, read while QEMU holds it.
tags() {
	qemu-img snapshot -l -U "$1" | awk 'NR > 2 { print $2 }'
}

# created_uuid: the UUID of the snapshot the last run's JSON output
# describes; its backend tag is evg-UUID.
created_uuid() {
	printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4
}

# create_list_delete IMG OTHER: a create, a list (also after a restart,
# through the start-up check) and a delete through the monitor land in IMG,
# never in OTHER (the VM's other disk), and qemu-img is never run.
create_list_delete() {
	local img=$1 other=$2 uuid tag
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency crash --name online
	expect_rc 0
	uuid=$(created_uuid)
	tag=evg-$uuid
	tags "$img" | grep -qx "$tag" || fail "$tag not in $img: $(tags "$img")"
	[ -z "$(tags "$other")" ] || fail "snapshot in the other disk: $(tags "$other")"
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_in "$OUT" '"name":"online"'
	expect_in "$OUT" '"state":"ready"'
	grep -q "cannot check volume" "$T/hostd.log" && fail "start-up check failed: $(grep 'cannot check' "$T/hostd.log")"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$uuid"
	expect_rc 0
	if tags "$img" | grep -qx "$tag"; then fail "$tag still in $img"; fi
	[ ! -e "$T/qemu-img-calls" ] || fail "qemu-img ran on a held image: $(cat "$T/qemu-img-calls")"
	hostd_alive
}

# Proves a volume without node= is found by its image's file name among
# the drives of a QEMU started as EVE does (no node names): create, list
# and delete work and touch that image only.
test_qmp_no_node() {
	mkimg "$T/disk0.qcow2"
	mkimg "$T/disk1.qcow2"
	qemu_img_spy
	qemu_start "drive-virtio-disk0,file=$T/disk0.qcow2" \
	    "drive-virtio-disk1,file=$T/disk1.qcow2"
	start_hostd
	add_running_vm "$T/disk1.qcow2"
	create_list_delete "$T/disk1.qcow2" "$T/disk0.qcow2"
}

# Proves node= may name the drive id QEMU was given.
test_qmp_node_drive_id() {
	mkimg "$T/disk0.qcow2"
	mkimg "$T/disk1.qcow2"
	qemu_img_spy
	qemu_start "drive-virtio-disk0,file=$T/disk0.qcow2" \
	    "drive-virtio-disk1,file=$T/disk1.qcow2"
	start_hostd
	add_running_vm "$T/disk0.qcow2" ",node=drive-virtio-disk0"
	create_list_delete "$T/disk0.qcow2" "$T/disk1.qcow2"
}

# Proves a locator that is a symlink to the image QEMU opened is found
# through its real path.
test_qmp_no_node_symlink() {
	mkimg "$T/disk0.qcow2"
	mkimg "$T/disk1.qcow2"
	ln -s disk1.qcow2 "$T/volume.qcow2"
	qemu_img_spy
	qemu_start "drive-virtio-disk0,file=$T/disk0.qcow2" \
	    "drive-virtio-disk1,file=$T/disk1.qcow2"
	start_hostd
	add_running_vm "$T/volume.qcow2"
	create_list_delete "$T/disk1.qcow2" "$T/disk0.qcow2"
}

# Proves a node= that names nothing in QEMU, and an image QEMU does not
# hold, are refused with messages that say so; nothing is catalogued and
# the images are untouched.
test_qmp_node_not_found() {
	mkimg "$T/disk0.qcow2"
	mkimg "$T/other.qcow2"
	qemu_start "drive-virtio-disk0,file=$T/disk0.qcow2"
	start_hostd
	add_running_vm "$T/disk0.qcow2" ",node=drive-nosuch"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name lost
	expect_rc 21
	expect_in "$ERR" "snapshot create of 'data' in the running VM failed"
	expect_in "$ERR" "Cannot find device='drive-nosuch' nor node-name='drive-nosuch'"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"lost"'
	# Another VM (the first one's catalog check would make it BUSY).
	$HOSTCTL vm remove $UUID1 >/dev/null || fail "vm remove"
	add_running_vm "$T/other.qcow2" "" $UUID2
	run_cmd $HOSTCTL snapshot create --vm $UUID2 --consistency crash --name lost
	expect_rc 16
	expect_in "$ERR" "the running VM has no qcow2 block node for $T/other.qcow2 (volume 'data'); set node= to its drive id or node name"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID2
	expect_not_in "$OUT" '"name":"lost"'
	[ -z "$(tags "$T/disk0.qcow2")$(tags "$T/other.qcow2")" ] || fail "an image was changed"
	hostd_alive
}

# Proves the catalog check (a list) of a volume whose node= names nothing
# in QEMU says so, keeps the catalog as it was, and the daemon serves on.
test_qmp_list_node_not_found() {
	mkimg "$T/disk0.qcow2"
	qemu_start "drive-virtio-disk0,file=$T/disk0.qcow2"
	start_hostd
	add_running_vm "$T/disk0.qcow2" ",node=drive-virtio-disk0"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name kept
	expect_rc 0
	$HOSTCTL vm remove $UUID1 >/dev/null || fail "vm remove"
	add_running_vm "$T/disk0.qcow2" ",node=drive-gone"
	wait_for "grep -q \"the running VM has no drive or block node 'drive-gone' (node= of volume 'data')\" '$T/hostd.log'" 10 ||
	    fail "the check did not report the node: $(tail -3 "$T/hostd.log")"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" '"name":"kept"'
	expect_in "$OUT" '"state":"ready"'
	hostd_alive
}

# Proves an image QEMU opened twice (two read-only drives) is not guessed
# at: the error names both nodes and their drives.
test_qmp_several_nodes() {
	mkimg "$T/disk.qcow2"
	qemu_start "a,file=$T/disk.qcow2,readonly=on" "b,file=$T/disk.qcow2,readonly=on"
	start_hostd
	add_running_vm "$T/disk.qcow2"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name which
	expect_rc 16
	expect_in "$ERR" "cannot tell which block node of the running VM holds volume 'data' ($T/disk.qcow2): 2 nodes match: '#block"
	expect_in "$ERR" "(drive 'a'), '#block"
	expect_in "$ERR" "(drive 'b'); set node= to its drive id or node name"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"which"'
	hostd_alive
}

# hold_monitor SECONDS: another client (as pillar would) connects to the
# monitor, is greeted and holds it until SECONDS pass without traffic.
hold_monitor() {
	bg socat -u -T "$1" UNIX-CONNECT:"$T/qmp.sock" STDOUT >"$T/holder.out"
	HOLDER=$LASTPID
	wait_for "grep -q QMP '$T/holder.out'" || fail "the holder was not greeted"
}

# Proves a create that finds the monitor held waits for it and succeeds
# once the other client leaves, within qmp_timeout.
test_qmp_busy_monitor_waits() {
	mkimg "$T/disk.qcow2"
	qemu_start "drive-virtio-disk0,file=$T/disk.qcow2"
	start_hostd
	add_running_vm "$T/disk.qcow2"
	hold_monitor 1
	local t0 ms
	t0=$(date +%s%N)
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency crash --name waited
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	expect_rc 0
	kill -0 "$HOLDER" 2>/dev/null && fail "the create ended while the monitor was held"
	[ "$ms" -ge 500 ] || fail "the create took $ms ms: it did not wait for the holder"
	tags "$T/disk.qcow2" | grep -qx "evg-$(created_uuid)" || fail "not in the image: $(tags "$T/disk.qcow2")"
}

# Proves a monitor held longer than qmp_timeout fails the create with a
# message that says so; nothing is catalogued or left in the image, and
# a create once the monitor is free succeeds.
test_qmp_busy_monitor_times_out() {
	mkimg "$T/disk.qcow2"
	printf 'qmp_timeout = 1\n' > "$T/hostd.conf"
	qemu_start "drive-virtio-disk0,file=$T/disk.qcow2"
	start_hostd
	add_running_vm "$T/disk.qcow2"
	hold_monitor 4
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name blocked
	expect_rc 20
	expect_in "$ERR" "QMP monitor $T/qmp.sock sent no greeting within 1 s (to run query-block): another client (pillar?) holds it"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"blocked"'
	wait "$HOLDER"
	[ -z "$(tags "$T/disk.qcow2")" ] || fail "a snapshot was taken: $(tags "$T/disk.qcow2")"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name later
	expect_rc 0
	hostd_alive
}
