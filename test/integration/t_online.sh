# Online rollback (wf_online.c) against a real QEMU that runs no guest
# (q35, -S): every device_del is accepted and never completed, as with a
# guest that ignores the unplug, and a disk on pcie.0 cannot be unplugged
# at all.  The disk must stay attached in each case, with a clear error;
# the proof with a real guest that lets the disk go is test/vm/eve-node.sh.

# qemu_q35: QEMU with disk A (virtio-blk on a pcie-root-port, as EVE
# attaches volumes) and disk B (on pcie.0, no hot-plug), paused.
qemu_q35() {
	bg qemu-system-x86_64 -machine q35 -nodefaults -display none -accel tcg -S \
	    -device pcie-root-port,id=pci.2,bus=pcie.0,addr=0x4,chassis=2,port=0x10 \
	    -drive "id=drive-virtio-disk0,file=$T/a.qcow2,format=qcow2,if=none,aio=threads,cache=writeback" \
	    -device virtio-blk-pci,id=virtio-disk0,drive=drive-virtio-disk0,bus=pci.2,addr=0x0 \
	    -drive "id=drive-virtio-disk1,file=$T/b.qcow2,format=qcow2,if=none" \
	    -device virtio-blk-pci,id=virtio-disk1,drive=drive-virtio-disk1,bus=pcie.0,addr=0x6 \
	    -qmp "unix:$T/qmp.sock,server=on,wait=off"
	QEMU=$LASTPID
	wait_for "[ -S '$T/qmp.sock' ] || ! kill -0 $QEMU 2>/dev/null" 10 &&
	    kill -0 "$QEMU" 2>/dev/null || fail "QEMU did not start"
}

# attached DRIVE: QEMU still has the drive on its device.
attached() {
	printf '%s\n%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-block"}' |
	    timeout 5 socat -t 2 - "UNIX-CONNECT:$T/qmp.sock" | grep -q "\"device\": \"$1\".*\"qdev\": \"/machine/peripheral/virtio-disk"
}

# online_setup: VM one running in that QEMU, volume data (disk A) and
# other (disk B); in "the guest", loop devices for A and B with ext4
# mounted (the volumes name them by backing file) and the guest agent
# daemon connected; a snapshot of each disk.
online_setup() {
	mkimg "$T/a.qcow2"
	mkimg "$T/b.qcow2"
	mkfs_loop a ext4 || fail "mount a"
	mkfs_loop b ext4 || fail "mount b"
	printf 'unplug_ms = 1500\n' > "$T/hostd.conf"
	qemu_q35
	start_hostd
	$HOSTCTL vm add --uuid "$UUID1" --name vm1 --hybrid-socket "$T/one.sock" \
	    --state running --qmp "$T/qmp.sock" \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/a.qcow2,disk=backing:$T/a.img" \
	    --volume "uuid=$VOLUUID2,name=other,backend=qcow2,locator=$T/b.qcow2,disk=backing:$T/b.img" \
	    >/dev/null || fail "vm add"
	mkdir -p "$T/hooks"
	chmod 755 "$T/hooks"
	bg $AGENT --connect "unix:$T/one.sock_2210" daemon -f --hooks-dir "$T/hooks"
	DAEMON=$LASTPID
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --volume $VOLUUID1 --consistency crash --name base
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --volume $VOLUUID2 --consistency crash --name baseb
	expect_rc 0
}

# unmount NAME: unmount loop NAME's filesystem (the guest lets it go).
unmount() {
	umount "$T/mnt/$1" || fail "umount $1"
	CLEANUP_MOUNTS=$(echo "$CLEANUP_MOUNTS" | sed "s#$T/mnt/$1 ##")
}

# Proves the controller's --online asks the guest daemon first: a mounted
# disk is refused with the guest's words and nothing unplugged; once
# unmounted, the unplug is asked, and a guest that never releases the disk
# makes it time out after unplug_ms with a message saying the disk stays
# attached and nothing was rolled back; the pending unplug is recorded,
# and refuses a second online rollback (said by snapshot check too) until
# it is resolved; a restarted daemon keeps it pending while the device is
# there.
test_online_unplug_ignored() {
	online_setup
	run_cmd $AGENT --connect "unix:$T/one.sock_2210" snapshot check "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" "Rollback:    not online now: cannot roll back $LOOP_a: $T/mnt/a is mounted on it; unmount it first"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base --online
	expect_rc 16
	expect_in "$ERR" "cannot roll back online: the guest agent says: cannot roll back $LOOP_a: $T/mnt/a is mounted on it; unmount it first"
	expect_not_in "$(event_kinds)" "rollback-online-started"
	unmount a
	run_cmd $AGENT --connect "unix:$T/one.sock_2210" snapshot check "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" "Rollback:    online: the disk would be unplugged"
	run_cmd $AGENT --connect "unix:$T/one.sock_2210" --json snapshot check "$LOOP_a"
	expect_in "$(printf '%s' "$OUT" | tr -d ' \n')" '"online_rollback":{"possible":true}'
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base --online
	expect_rc 20
	expect_in "$ERR" "the guest did not release disk virtio-disk0 within 1500 ms"
	expect_in "$ERR" "nothing was rolled back and the disk stays attached"
	attached drive-virtio-disk0 || fail "the disk is no longer attached"
	expect_in "$(event_kinds)" "disk-released rollback-online-started"
	expect_in "$(event_kinds)" "rollback-failed"
	expect_in "$(catalog_of $UUID1)" '"phase":"unplug-pending"'
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base --online
	expect_rc 16
	expect_in "$ERR" "cannot roll back online: an earlier online rollback of this VM is not finished (QEMU may still unplug its disk)"
	run_cmd $AGENT --connect "unix:$T/one.sock_2210" snapshot check "$LOOP_a"
	expect_in "$OUT" "Rollback:    not online now: an earlier online rollback of this VM is not finished"
	attached drive-virtio-disk0 || fail "the disk is no longer attached"
	# A restart looks at the record: the device is still there, so it
	# stays pending; nothing is unplugged or re-added.
	stop_hostd
	start_hostd
	wait_for "grep -q 'device virtio-disk0 was asked to unplug' '$T/hostd.log'" 10 ||
	    fail "the restarted daemon did not look at the pending unplug"
	expect_in "$(catalog_of $UUID1)" '"phase":"unplug-pending"'
	attached drive-virtio-disk0 || fail "the disk is no longer attached"
	hostd_alive
}

# Proves what is refused, saying why, with the disk left attached: a disk
# on a bus without hot-plug (QEMU's reason; without --online it is
# scheduled instead, the event saying why), a group of two disks, a VM
# whose guest daemon is not connected; and that a rollback without
# --online of a disk the guest still uses is scheduled as before, saying
# why it did not go online.
test_online_refused() {
	online_setup
	unmount b
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 baseb --online
	expect_rc 16
	expect_in "$ERR" "QEMU did not unplug disk virtio-disk1"
	expect_in "$ERR" "does not support hotplugging"
	attached drive-virtio-disk1 || fail "disk B is no longer attached"
	# Without --online, what QEMU cannot unplug is scheduled instead.
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 baseb
	expect_rc 0
	expect_in "$OUT" "scheduled"
	expect_in "$($HOSTCTL events)" "not rolled back online: QEMU did not unplug disk virtio-disk1"
	attached drive-virtio-disk1 || fail "disk B is no longer attached"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency crash --name both
	expect_rc 0
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 both --online
	expect_rc 16
	expect_in "$ERR" "cannot roll back online: an online rollback takes one disk at a time"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base
	expect_rc 0
	expect_in "$OUT" "scheduled"
	expect_in "$(event_kinds)" "rollback-online-refused"
	expect_in "$($HOSTCTL events)" "the guest agent says: cannot roll back $LOOP_a: $T/mnt/a is mounted on it"
	kill "$DAEMON"
	wait "$DAEMON" 2>/dev/null
	wait_for "! $HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon still connected"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base --online
	expect_rc 16
	expect_in "$ERR" "no guest agent daemon is connected"
	run_cmd $HOSTCTL snapshot list --online --vm $UUID1
	expect_rc 2
	hostd_alive
}
