# Snapshot backends and the catalog: real qemu-img and qemu-io on qcow2
# files, a real qemu-system-x86_64 holding an image (online, via QMP), the
# mock zfs command for ZFS, crash recovery and bad input.

# count_snaps: how many snapshots the last run's JSON output holds.
count_snaps() {
	json_members | grep -c '"uuid":'
}

# snap_uuid: the UUID of the first snapshot in the last run's JSON output.
snap_uuid() {
	json_members | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4
}

# A stopped VM: create, list, rollback (data written after the snapshot is
# gone, checked with qemu-io) and delete, all with qemu-img.
test_qcow2_offline() {
	mkimg "$T/disk.qcow2"
	qio "$T/disk.qcow2" "write -P 0xaa 0 1M"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name "before upgrade"
	expect_rc 0
	expect_in "$OUT" '"name":"before upgrade"'
	expect_in "$OUT" '"consistency":"crash"'
	expect_in "$OUT" '"origin":"controller"'
	local s
	s=$(snap_uuid)
	[ -n "$s" ] || fail "no uuid in $OUT"
	qemu-img snapshot -l "$T/disk.qcow2" | grep -q "$s" ||
	    fail "qemu-img does not list $s"
	qio "$T/disk.qcow2" "write -P 0xbb 0 1M"
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_rc 0
	expect_in "$OUT" "before upgrade"
	expect_in "$OUT" "$s"
	expect_in "$OUT" "ready"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 "before upgrade"
	expect_rc 0
	expect_in "$OUT" "rolled back to snapshot 'before upgrade'"
	holds "$T/disk.qcow2" 0xaa ||
	    fail "data written after the snapshot survived the rollback"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
	expect_in "$OUT" "deleted snapshot 'before upgrade'"
	if qemu-img snapshot -l "$T/disk.qcow2" | grep -q "$s"; then fail "snapshot left in image"; fi
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(count_snaps)" -eq 0 ] || fail "snapshots listed: $OUT"
	hostd_alive
}

# Sizes: the recorded size is the image's allocated bytes at snapshot time.
test_qcow2_size_recorded() {
	mkimg "$T/disk.qcow2"
	qio "$T/disk.qcow2" "write -P 0x11 0 8M"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	local alloc
	alloc=$(( $(stat -c %b "$T/disk.qcow2") * 512 ))
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name s1
	expect_rc 0
	local size
	size=$(json_members | grep -o '"size_bytes":[0-9]*' | cut -d: -f2)
	[ "$size" -ge 8388608 ] || fail "size $size below the 8 MiB written"
	[ "$size" -le $((alloc + 1048576)) ] || fail "size $size above allocated $alloc"
}

# A running VM: QEMU holds the image; create/list/delete go through QMP and
# qemu-img is never run on it; rollback is refused.
test_qcow2_online_qmp() {
	mkimg "$T/disk.qcow2"
	# A qemu-img that records every use: it must stay unused here.
	printf '#!/bin/sh\necho "$@" >> %s/qemu-img-calls\nexec qemu-img "$@"\n' "$T" > "$T/qemu-img-spy"
	chmod +x "$T/qemu-img-spy"
	printf 'qemu_img = %s\n' "$T/qemu-img-spy" > "$T/hostd.conf"
	bg qemu-system-x86_64 -machine none -nodefaults -display none -accel tcg \
	    -blockdev "driver=file,filename=$T/disk.qcow2,node-name=file0" \
	    -blockdev driver=qcow2,file=file0,node-name=disk0 \
	    -qmp "unix:$T/qmp.sock,server=on,wait=off"
	local qemu=$LASTPID
	wait_for "[ -S '$T/qmp.sock' ]" 10 || fail "QEMU did not start"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/vm-one.sock" \
	    --qmp "$T/qmp.sock" --state running \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/disk.qcow2,disk=serial:S1,node=disk0" \
	    >/dev/null || fail "vm add"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name online-1
	expect_rc 0
	local s
	s=$(snap_uuid)
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name online-2
	expect_rc 0
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
	[ ! -e "$T/qemu-img-calls" ] || fail "qemu-img ran on a held image: $(cat "$T/qemu-img-calls")"
	# A restart reconciles through QMP too, and finds both as they are.
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_in "$OUT" "online-2"
	expect_not_in "$OUT" "online-1"
	expect_not_in "$OUT" "missing"
	[ ! -e "$T/qemu-img-calls" ] || fail "qemu-img ran on a held image"
	kill $qemu
	wait $qemu 2>/dev/null
	qemu-img snapshot -l "$T/disk.qcow2" > "$T/snaps"
	if grep -q "$s" "$T/snaps"; then fail "deleted snapshot still in the image"; fi
	[ "$(grep -c '^[0-9]' "$T/snaps")" -eq 1 ] || fail "expected one snapshot: $(cat "$T/snaps")"
}

# A rollback of a running VM's qcow2 is scheduled (restart-required event)
# and carried out when pillar reports the VM stopped, before anything else.
test_qcow2_rollback_scheduled() {
	mkimg "$T/disk.qcow2"
	qio "$T/disk.qcow2" "write -P 0xaa 0 1M"
	printf '#!/bin/sh\necho "$@" >> %s/qemu-img-calls\nexec qemu-img "$@"\n' "$T" > "$T/qemu-img-spy"
	chmod +x "$T/qemu-img-spy"
	printf 'qemu_img = %s\n' "$T/qemu-img-spy" > "$T/hostd.conf"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name base
	expect_rc 0
	qio "$T/disk.qcow2" "write -P 0xbb 0 1M"
	$HOSTCTL vm state $UUID1 running >/dev/null || fail "vm state"
	: > "$T/qemu-img-calls"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base
	expect_rc 0
	expect_in "$OUT" "is scheduled"
	run_cmd $HOSTCTL --json events
	expect_in "$OUT" '"kind":"restart-required"'
	[ ! -s "$T/qemu-img-calls" ] || fail "the image was touched while running"
	$HOSTCTL vm state $UUID1 stopped >/dev/null || fail "vm state stopped"
	wait_for "grep -q 'event rollback-done' '$T/hostd.log'" 10 ||
	    fail "scheduled rollback did not run: $(tail -3 "$T/hostd.log")"
	grep -q "snapshot -a" "$T/qemu-img-calls" || fail "no qemu-img -a"
	holds "$T/disk.qcow2" 0xaa ||
	    fail "data written after the snapshot survived the rollback"
	run_cmd $HOSTCTL --json events
	expect_in "$OUT" '"kind":"rollback-done"'
}

# NO_SPACE: the qcow2 lives on a nearly full tmpfs; the error gives both
# figures and the image is unchanged.
test_qcow2_no_space() {
	mkdir "$T/small"
	mount -t tmpfs -o size=48m tmpfs "$T/small" || fail "mount tmpfs"
	CLEANUP_MOUNTS="$T/small"
	mkimg "$T/small/disk.qcow2"
	qio "$T/small/disk.qcow2" "write -P 0x22 0 24M"
	dd if=/dev/zero of="$T/small/filler" bs=1M count=18 status=none
	printf 'space_reserve_mib = 0\n' > "$T/hostd.conf"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/small/disk.qcow2" stopped
	local before
	before=$(md5sum < "$T/small/disk.qcow2")
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name big
	expect_rc 13
	expect_in "$ERR" "not enough free space on EVE storage"
	expect_in "$ERR" "MiB free"
	expect_in "$ERR" "may need up to"
	[ "$(md5sum < "$T/small/disk.qcow2")" = "$before" ] || fail "image changed"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(count_snaps)" -eq 0 ] || fail "snapshots listed: $OUT"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name big
	expect_rc 13
	expect_in "$OUT" '"code":"NO_SPACE"'
}

# The daemon killed between the backend's create and the catalog commit:
# after a restart the snapshot is listed exactly once, ready.
test_crash_between_backend_and_catalog() {
	mkimg "$T/disk.qcow2"
	EVG_TEST_KILL_POINT=after-backend-create start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name crashy
	[ "$RC" -ne 0 ] || fail "create answered although the daemon died"
	wait "$HOSTD_PID" 2>/dev/null
	if kill -0 "$HOSTD_PID" 2>/dev/null; then fail "daemon still alive"; fi
	[ "$(qemu-img snapshot -l "$T/disk.qcow2" | grep -c '^[0-9]')" -eq 1 ] ||
	    fail "the backend did not create the snapshot"
	catalog_of $UUID1 | grep -q '"state":"creating"' ||
	    fail "no intent recorded: $(catalog_of $UUID1)"
	start_hostd
	wait_for "grep -q 'was being created when the host stopped' '$T/hostd.log'" ||
	    fail "reconcile did not run"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	[ "$(json_members | grep -c '"name":"crashy"')" -eq 1 ] ||
	    fail "expected exactly one 'crashy': $OUT"
	expect_in "$OUT" '"state":"ready"'
	expect_not_in "$OUT" "adopted"
}

# Snapshots made or deleted behind the host's back: ours (evg-UUID)
# adopted and shown, or reported missing (never dropped silently); one
# without the mark is not ours and never listed (t_owner.sh).
test_reconcile_adopt_and_missing() {
	local mine=evg-cccccccc-1111-4111-8111-111111111111
	mkimg "$T/disk.qcow2"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name kept
	local s
	s=$(snap_uuid)
	stop_hostd
	qemu-img snapshot -c $mine "$T/disk.qcow2" || fail "manual snapshot"
	qemu-img snapshot -c by-hand "$T/disk.qcow2" || fail "manual snapshot"
	qemu-img snapshot -d "evg-$s" "$T/disk.qcow2" || fail "manual delete"
	start_hostd
	wait_for "grep -q 'adopted snapshot' '$T/hostd.log'" || fail "not adopted"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" "\"name\":\"$mine\""
	expect_in "$OUT" '"uuid":"cccccccc-1111-4111-8111-111111111111"'
	expect_in "$OUT" '"origin":"adopted"'
	expect_not_in "$OUT" "by-hand"
	expect_in "$OUT" '"name":"kept"'
	expect_in "$OUT" '"state":"missing"'
	grep -q "no longer in the backend" "$T/hostd.log" || fail "missing not reported"
	# Deleting a missing snapshot only removes the record.
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
}

# Bad names, unknown UUIDs, unknown VMs, unmeetable consistency, BUSY.
test_snapshot_bad_input() {
	mkimg "$T/disk.qcow2"
	printf 'max_queued_per_vm = 1\n' > "$T/hostd.conf"
	EVG_TEST_BACKEND_DELAY_MS=1500 start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	local long
	long=$(printf 'x%.0s' $(seq 1 129))
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$long"
	expect_rc 10
	expect_in "$ERR" "name: is too long"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$(printf 'a\tb')"
	expect_rc 10
	expect_in "$ERR" "control character"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$(printf 'bad\377')"
	expect_rc 10
	expect_in "$ERR" "UTF-8"
	run_cmd $HOSTCTL snapshot create --vm $UUID2 --name x
	expect_rc 11
	expect_in "$ERR" "no VM $UUID2"
	run_cmd $HOSTCTL snapshot create --vm not-a-uuid
	expect_rc 10
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --volume $VOLUUID2
	expect_rc 11
	expect_in "$ERR" "is not a volume of VM vm-one"
	$HOSTCTL vm state $UUID1 running >/dev/null
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app
	expect_rc 16
	expect_in "$ERR" "needs the guest agent daemon"
	$HOSTCTL vm state $UUID1 stopped >/dev/null
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency best
	expect_rc 10
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 cccccccc-1111-4111-8111-111111111111
	expect_rc 11
	expect_in "$ERR" "no snapshot cccccccc-1111-4111-8111-111111111111"
	# Not a UUID: a group name, and there is none so named.
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 junk
	expect_rc 11
	expect_in "$ERR" "no snapshot junk for VM"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 nosuchname
	expect_rc 11
	# A 128-character UTF-8 name is fine; the same name twice is not.
	local ok
	ok=$(printf 'é%.0s' $(seq 1 128))
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$ok"
	expect_rc 0
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$ok"
	expect_rc 12
	expect_in "$ERR" "already has a snapshot named"
	# One operation per VM: a second create waits for its turn, and
	# with the queue full (max_queued_per_vm = 1 here) a third is BUSY.
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow
	local slow=$LASTPID
	sleep 0.5
	bg $HOSTCTL snapshot create --vm $UUID1 --name second
	local second=$LASTPID
	sleep 0.3
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name third
	expect_rc 14
	expect_in "$ERR" "1 requests already wait for their turn (max_queued_per_vm)"
	wait $slow || fail "the slow create failed"
	wait $second || fail "the queued create failed"
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_in "$OUT" "slow"
	expect_in "$OUT" "second"
	expect_not_in "$OUT" "third"
	hostd_alive
}

# ZFS through the mock zfs command: create with UUID and name as user
# properties, list, rollback rules, delete, NO_SPACE and a backend failure.
test_zfs_mock() {
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 17179869184 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vault%vol1"
	printf 'zfs = %s\nspace_reserve_mib = 0\n' "$ZFS_MOCK" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-z --hybrid-socket "$T/z.sock" --state stopped \
	    --volume "uuid=$VOLUUID1,name=pgdata,backend=zfs,locator=persist/vault/vol1,disk=wwn:naa.6001405a1b2c3d4e" \
	    >/dev/null || fail "vm add"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name "first one"
	expect_rc 0
	local a b
	a=$(snap_uuid)
	grep -qF "snapshot -o eve:snapshot-uuid=$a -o 'eve:snapshot-name=first one' persist/vault/vol1@evg-$a" \
	    "$EVG_MOCK_ZFS_DIR/calls.log" || fail "zfs snapshot argv: $(cat "$EVG_MOCK_ZFS_DIR/calls.log")"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name second
	b=$(snap_uuid)
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 "first one"
	expect_rc 16
	expect_in "$ERR" "would destroy 1 newer snapshot"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 second
	expect_rc 0
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$b"
	expect_rc 0
	echo "cannot destroy snapshot: dataset is busy" > "$EVG_MOCK_ZFS_DIR/fail-next"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$a"
	expect_rc 21
	expect_in "$ERR" "dataset is busy"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" '"state":"ready"'
	expect_in "$OUT" '"name":"first one"'
	echo 1048576 > "$EVG_MOCK_ZFS_DIR/available"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/referenced"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name big
	expect_rc 13
	expect_in "$ERR" "1.0 MiB free"
	# A catalog lost with the state dir is rebuilt from the pool.
	stop_hostd
	rm -f "$T/state/catalogs/$UUID1.json" "$T/state/catalogs/$UUID1.json.journal"
	start_hostd
	wait_for "$HOSTCTL snapshot list --vm $UUID1 | grep -q 'first one'" ||
	    fail "not adopted from zfs properties"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" "\"uuid\":\"$a\""
}

# At most max_parallel_ops snapshot operations across VMs: the next VM's
# request is BUSY naming the limit; it goes through once the first ends.
test_parallel_limit_across_vms() {
	mkimg "$T/one.qcow2"
	mkimg "$T/two.qcow2"
	printf 'max_parallel_ops = 1\n' > "$T/hostd.conf"
	EVG_TEST_BACKEND_DELAY_MS=1500 start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/one.qcow2" stopped
	$HOSTCTL vm add --uuid $UUID2 --name vm-two --hybrid-socket "$T/two.sock" --state stopped \
	    --volume "uuid=$VOLUUID2,name=data,backend=qcow2,locator=$T/two.qcow2,disk=serial:S2" \
	    >/dev/null || fail "vm add two"
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow
	local first=$LASTPID
	sleep 0.5
	# The host's slot is taken: the other VM's create waits, says so,
	# and is made once the first is done.
	run_cmd $HOSTCTL snapshot create --vm $UUID2 --name other
	expect_rc 0
	expect_in "$ERR" "waiting for its turn: 1 snapshot operations run on this host (max_parallel_ops)"
	wait $first || fail "the first create failed"
	# Without a queue (max_queued_per_vm = 0, applied on SIGHUP) the old
	# answer: BUSY naming the limit.
	printf 'max_parallel_ops = 1\nmax_queued_per_vm = 0\n' > "$T/hostd.conf"
	kill -HUP "$HOSTD_PID"
	sleep 0.3
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow2
	first=$LASTPID
	sleep 0.5
	run_cmd $HOSTCTL snapshot create --vm $UUID2 --name other2
	expect_rc 14
	expect_in "$ERR" "(limit 1)"
	wait $first || fail "the second slow create failed"
}

# The per-VM queue: requests wait their turn first come, first served
# (listed in that order), each told it waits and how many are ahead; a
# create whose idempotency key already waits is BUSY, as is one more than
# max_queued_per_vm (3 here); a guest's create waits the same way; the
# waiting is in the event stream.
test_queue_fifo() {
	guest_setup "max_queued_per_vm = 3"
	stop_hostd
	# Each create takes 2 s: all of the asking below falls within q1's.
	EVG_TEST_BACKEND_DELAY_MS=2000 start_hostd
	bg $HOSTCTL snapshot create --vm $UUID1 --name q1
	local p1=$LASTPID
	sleep 0.3
	$HOSTCTL snapshot create --vm $UUID1 --name q2 >/dev/null 2>"$T/q2.err" &
	local p2=$!
	sleep 0.2
	$HOSTCTL snapshot create --vm $UUID1 --name q3 --idempotency-key k3 \
	    >/dev/null 2>"$T/q3.err" &
	local p3=$!
	sleep 0.2
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name q3bis --idempotency-key k3
	expect_rc 14
	expect_in "$ERR" "idempotency key 'k3' is already waiting"
	$G1 snapshot create --name q4 "$LOOP_a" >"$T/q4.out" 2>"$T/q4.err" &
	local p4=$!
	sleep 0.3
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name q5
	expect_rc 14
	expect_in "$ERR" "3 requests already wait"
	wait $p1 || fail "q1 failed"
	wait $p2 || fail "q2 failed: $(cat "$T/q2.err")"
	wait $p3 || fail "q3 failed: $(cat "$T/q3.err")"
	wait $p4 || fail "q4 (guest) failed: $(cat "$T/q4.err")"
	expect_in "$(cat "$T/q2.err")" "waiting for its turn: VM $UUID1 has a snapshot create in progress (0 requests ahead"
	expect_in "$(cat "$T/q3.err")" "(1 request ahead"
	expect_in "$(cat "$T/q4.err")" "eve-guest-agent: waiting for its turn"
	expect_in "$(cat "$T/q4.err")" "(2 requests ahead"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -o '"name":"q[0-9a-z]*"' | tr -d '\n')" = \
	    '"name":"q1""name":"q2""name":"q3""name":"q4"' ] ||
	    fail "not first come, first served: $OUT"
	expect_in "$(event_kinds)" "queued"
	hostd_alive
}

# Snapshot lists longer than one frame (here 2048 bytes on both channels)
# come in pages: the controller and the guest each list all 30 snapshots,
# in creation order, and a guest rollback by the name of the last one
# (found on the last page, no disk named) finds its disk here.
test_list_paged() {
	guest_setup "max_frame_guest = 2048" "max_frame_control = 2048"
	local i
	for i in $(seq -w 1 30); do
		$HOSTCTL snapshot create --vm $UUID1 --name "page $i" >/dev/null ||
		    fail "create $i"
	done
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	[ "$(count_snaps)" -eq 30 ] || fail "controller lists $(count_snaps) of 30: $OUT"
	[ "$(json_members | grep -o '"name":"page [0-9]*"' | tr -d '\n')" = \
	    "$(for i in $(seq -w 1 30); do printf '"name":"page %s"' "$i"; done)" ] ||
	    fail "controller list out of order: $OUT"
	run_cmd $G1 --json snapshot list
	expect_rc 0
	[ "$(count_snaps)" -eq 30 ] || fail "guest lists $(count_snaps) of 30: $OUT"
	run_cmd $G1 snapshot list
	expect_rc 0
	expect_in "$OUT" "page 01"
	expect_in "$OUT" "page 30"
	# The rollback finds "page 30" on the last page; the disk is mounted,
	# so the guest refuses it, naming the mount (not "no snapshot").
	run_cmd $G1 snapshot rollback "page 30"
	expect_in "$ERR" "mounted"
	expect_not_in "$ERR" "no snapshot"
	hostd_alive
}

# A request that waits longer than queue_wait gets TIMEOUT and nothing is
# done; one still waiting when its VM is removed gets UNAVAILABLE.
test_queue_timeout_and_removal() {
	mkimg "$T/disk.qcow2"
	printf 'queue_wait = 1\n' > "$T/hostd.conf"
	EVG_TEST_BACKEND_DELAY_MS=2500 start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow
	local slow=$LASTPID
	sleep 0.3
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name late
	expect_rc 20
	expect_in "$ERR" "waited 1 s for its turn on VM $UUID1 (queue_wait)"
	wait $slow || fail "the slow create failed"
	expect_in "$(event_kinds)" "queue-timeout"
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow2
	slow=$LASTPID
	sleep 0.3
	$HOSTCTL snapshot create --vm $UUID1 --name orphan >/dev/null 2>"$T/orphan.err" &
	local orphan=$!
	sleep 0.3
	$HOSTCTL vm remove $UUID1 >/dev/null || fail "vm remove"
	wait $orphan && fail "the waiting create succeeded on a removed VM"
	expect_in "$(cat "$T/orphan.err")" "the VM was removed while the request waited for its turn"
	wait $slow
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_rc 11
	hostd_alive
}
