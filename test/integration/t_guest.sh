# Guest-triggered snapshots end to end: the guest agent CLI on this machine
# stands in for a VM's guest; its "disks" are loop devices with filesystems
# this test makes, mounts and always unmounts.  The host side works on real
# qcow2 images (offline with qemu-img, online through a real QEMU's QMP).
# Nothing here freezes a filesystem the test did not create.

# Create, list and delete through the guest CLI, offline (qemu-img); the
# consistency record names the frozen mount.
test_guest_create_list_delete() {
	guest_setup
	run_cmd $G1 --json snapshot create "$LOOP_a" --name "Weekly backup"
	expect_rc 0
	expect_in "$OUT" '"name":"Weekly backup"'
	expect_in "$OUT" '"consistency":"fs"'
	expect_in "$OUT" '"origin":"guest"'
	expect_in "$OUT" "\"disk\":\"$LOOP_a\""
	expect_in "$OUT" "\"mountpoint\":\"$T/mnt/a\""
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	qemu-img snapshot -l "$T/vol-a.qcow2" | grep -q "$s" || fail "not in the image"
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
	run_cmd $G1 snapshot create "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" "created"
	expect_in "$OUT" "Consistency: fs"
	run_cmd $G1 snapshot list
	expect_rc 0
	expect_in "$OUT" "Weekly backup"
	expect_in "$OUT" "$LOOP_a"
	run_cmd $G1 --json snapshot list "$LOOP_a"
	expect_in "$OUT" '"created":"20'
	expect_in "$OUT" '"size_bytes":'
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" "\"mountpoint\":\"$T/mnt/a\""
	run_cmd $G1 snapshot delete "$s"
	expect_rc 0
	if qemu-img snapshot -l "$T/vol-a.qcow2" | grep -q "$s"; then fail "still in the image"; fi
	run_cmd $G1 snapshot list
	expect_not_in "$OUT" "Weekly backup"
	hostd_alive
}

# The freeze is real: a writer on the target stalls during the snapshot and
# resumes; a writer on another filesystem never stalls; a bind mount of the
# target is frozen once.
test_guest_freeze_is_real() {
	guest_setup backend_timeout=60
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=1500 start_hostd
	mkdir -p "$T/mnt/a/sub" "$T/bind"
	mount --bind "$T/mnt/a/sub" "$T/bind" || fail "bind mount"
	CLEANUP_MOUNTS="$T/bind $CLEANUP_MOUNTS"
	local w
	for w in a b; do
		bg sh -c "while :; do date +%s%N >> '$T/mnt/$w/log'; sleep 0.02; done"
	done
	sleep 0.3
	run_cmd $G1 --json snapshot create "$LOOP_a" --name frozen-window
	expect_rc 0
	sleep 0.3
	cleanup_writers
	# The longest pause between two writes, in ms, per filesystem.
	local gap_a gap_b
	gap_a=$(awk 'NR>1 { d = ($1 - p) / 1000000; if (d > m) m = d } { p = $1 } END { printf "%d", m }' "$T/mnt/a/log")
	gap_b=$(awk 'NR>1 { d = ($1 - p) / 1000000; if (d > m) m = d } { p = $1 } END { printf "%d", m }' "$T/mnt/b/log")
	echo "longest write pause: target ${gap_a} ms, other ${gap_b} ms"
	[ "$gap_a" -ge 1200 ] || fail "the target's writer did not stall (${gap_a} ms)"
	[ "$gap_b" -lt 700 ] || fail "the other filesystem stalled (${gap_b} ms)"
	[ "$(printf '%s' "$OUT" | grep -c '"action":"frozen"')" -eq 1 ] ||
	    fail "expected exactly one frozen mount: $OUT"
	expect_in "$OUT" "bind mount of"
	expect_not_in "$OUT" "$T/mnt/b"
	expect_in "$OUT" '"freeze_ms":'
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
	hostd_alive
}

# cleanup_writers: stop the background writers of this test.
cleanup_writers() {
	cleanup_pids_matching "date +%s%N"
}

# A VM's guest with its daemon connected: the freeze goes over the daemon's
# session; the CLI still gets the answer.
test_guest_via_daemon() {
	guest_setup
	bg $G1 daemon -f
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	run_cmd $G1 --json snapshot create "$LOOP_a" --name via-daemon
	expect_rc 0
	expect_in "$OUT" '"consistency":"fs"'
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
	# A stopped VM has no guest steps: recorded as crash, said so.
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency fs --name ctl-stopped
	expect_rc 0
	expect_in "$OUT" '"consistency":"crash"'
	$HOSTCTL vm state $UUID1 running >/dev/null
	# Running, but no QMP: qcow2 refuses rather than run qemu-img on it.
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency fs --name ctl-fs
	expect_rc 16
	expect_in "$ERR" "QMP"
	if frozen "$T/mnt/a"; then fail "left frozen after a refused create"; fi
}

# Online: a real QEMU holds the qcow2; the guest's snapshot goes through QMP.
test_guest_online_qmp() {
	mkfs_loop a ext4 || fail "mount a"
	qemu-img create -q -f qcow2 "$T/vol-a.qcow2" 64M
	printf '#!/bin/sh\necho "$@" >> %s/qemu-img-calls\nexec qemu-img "$@"\n' "$T" > "$T/qemu-img-spy"
	chmod +x "$T/qemu-img-spy"
	printf 'qemu_img = %s\n' "$T/qemu-img-spy" > "$T/hostd.conf"
	bg qemu-system-x86_64 -machine none -nodefaults -display none -accel tcg \
	    -blockdev "driver=file,filename=$T/vol-a.qcow2,node-name=file0" \
	    -blockdev driver=qcow2,file=file0,node-name=disk0 \
	    -qmp "unix:$T/qmp.sock,server=on,wait=off"
	wait_for "[ -S '$T/qmp.sock' ]" 10 || fail "QEMU did not start"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --qmp "$T/qmp.sock" --state running \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/vol-a.qcow2,disk=backing:$T/a.img,node=disk0" \
	    >/dev/null || fail "vm add"
	G1="$AGENT --connect unix:$T/one.sock_2210"
	run_cmd $G1 snapshot create "$LOOP_a" --name online
	expect_rc 0
	run_cmd $G1 --json snapshot list
	expect_in "$OUT" '"name":"online"'
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	run_cmd $G1 snapshot delete "$s"
	expect_rc 0
	# The freeze fails (the filesystem is frozen already); the host asks
	# for it only once it has staged the snapshot command in QEMU, all of
	# it but its closing brace: QEMU runs nothing, and serves the next
	# client.
	fsfreeze -f "$T/mnt/a" || fail "fsfreeze -f"
	run_cmd $G1 snapshot create "$LOOP_a" --name never
	fsfreeze -u "$T/mnt/a"
	expect_rc 19
	expect_in "$ERR" "already frozen"
	[ -z "$(qemu-img snapshot -l -U "$T/vol-a.qcow2" | awk 'NR > 2')" ] ||
	    fail "a snapshot was made: $(qemu-img snapshot -l -U "$T/vol-a.qcow2")"
	run_cmd $G1 snapshot create "$LOOP_a" --name after
	expect_rc 0
	[ "$(qemu-img snapshot -l -U "$T/vol-a.qcow2" | awk 'NR > 2' | wc -l)" -eq 1 ] ||
	    fail "not one snapshot: $(qemu-img snapshot -l -U "$T/vol-a.qcow2")"
	[ ! -e "$T/qemu-img-calls" ] || fail "qemu-img ran on a held image"
	# The intent's fdatasync fails (reported once, as a journal does):
	# the guest froze by then, yet nothing is snapshotted, the create
	# fails naming it, and the guest is thawed.
	stop_hostd
	EVG_TEST_SYNC_FAIL=catalogs start_hostd
	run_cmd $G1 snapshot create "$LOOP_a" --name unsynced
	expect_rc 23
	expect_in "$ERR" "cannot write the snapshot catalog"
	expect_in "$ERR" "Input/output error"
	if frozen "$T/mnt/a"; then fail "left frozen after a failed intent sync"; fi
	[ "$(qemu-img snapshot -l -U "$T/vol-a.qcow2" | awk 'NR > 2' | wc -l)" -eq 1 ] ||
	    fail "a snapshot without a durable intent: $(qemu-img snapshot -l -U "$T/vol-a.qcow2")"
	grep -q "guest froze" "$T/hostd.log" || fail "the guest never froze"
}

# The host dies or hangs while the guest is frozen: the guest thaws at once
# when the connection drops, and by itself when the lease runs out.
test_guest_thaws_without_host() {
	guest_setup freeze_lease_ms=1000
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=8000 start_hostd
	bg $G1 snapshot create "$LOOP_a" --name doomed
	wait_for "frozen '$T/mnt/a'" 5 || fail "never froze"
	kill -9 "$HOSTD_PID"
	wait_for "! frozen '$T/mnt/a'" 3 || fail "still frozen after the host died"
	# A host that hangs (stopped, connection open): the lease runs out.
	EVG_TEST_BACKEND_DELAY_MS=8000 start_hostd
	bg $G1 snapshot create "$LOOP_a" --name hung
	wait_for "frozen '$T/mnt/a'" 5 || fail "never froze (2)"
	kill -STOP "$HOSTD_PID"
	local t0=$(date +%s%N)
	wait_for "! frozen '$T/mnt/a'" 4 || { kill -CONT "$HOSTD_PID"; fail "lease did not thaw"; }
	echo "thawed $(( ($(date +%s%N) - t0) / 1000000 )) ms after the host stopped"
	kill -CONT "$HOSTD_PID"
	# The host learns the lease ran out and keeps nothing.
	wait "$LASTPID"
	[ $? -ne 0 ] || fail "the create succeeded although the lease ran out"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"hung"'
}

# The guest daemon killed in the middle: the host reports the failure and
# commits nothing (the test thaws the filesystem the dead agent left frozen).
test_guest_killed_during_workflow() {
	guest_setup
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=3000 start_hostd
	bg $G1 daemon -f
	local daemon=$LASTPID
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	bg $G1 snapshot create "$LOOP_a" --name victim
	local cli=$LASTPID
	wait_for "frozen '$T/mnt/a'" 6 || fail "never froze"
	kill -9 "$daemon"
	wait "$cli"
	local rc=$?
	[ $rc -ne 0 ] || fail "the create succeeded without its guest"
	# The dead agent's freeze guardian thaws at once (issue 11); it used
	# to stay frozen until a daemon started again.
	wait_for "! frozen '$T/mnt/a'" 2 ||
	    fail "the dead agent's freeze outlived it"
	bg $G1 daemon -f
	wait_for "grep -q 'victim\\|went away' '$T/hostd.log'" 10 || true
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"victim"'
	wait_for "[ \$(qemu-img snapshot -l '$T/vol-a.qcow2' | grep -c '^[0-9]') -eq 0 ]" 10 ||
	    fail "a snapshot was left in the image: $(qemu-img snapshot -l "$T/vol-a.qcow2")"
	grep -q "the guest agent went away" "$T/hostd.log" || fail "failure not reported"
}

# Two VMs: neither sees nor deletes the other's snapshots.
test_guest_isolation() {
	guest_setup
	run_cmd $G1 --json snapshot create "$LOOP_a" --name mine
	expect_rc 0
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	run_cmd $G2 snapshot list
	expect_rc 0
	expect_not_in "$OUT" "mine"
	expect_not_in "$OUT" "$s"
	run_cmd $G2 snapshot delete "$s"
	expect_rc 11
	local other=$ERR
	run_cmd $G2 snapshot delete cccccccc-1111-4111-8111-111111111111
	expect_rc 11
	[ "${other/$s/X}" = "${ERR/cccccccc-1111-4111-8111-111111111111/X}" ] ||
	    fail "another VM's UUID answers differently: '$other' vs '$ERR'"
	# A disk of another VM is not this VM's.
	run_cmd $G2 snapshot create "$LOOP_a"
	expect_rc 11
	expect_in "$ERR" "not one of VM vm-two's EVE volumes"
	run_cmd $G1 snapshot list
	expect_in "$OUT" "mine"
}

# Bad input: each one clear line and its exit code.
test_guest_bad_input() {
	guest_setup
	run_cmd $G1 snapshot create /dev/nonexistent
	expect_rc 10
	[ "$(lines "$ERR")" -eq 1 ] || fail "one line: $ERR"
	run_cmd $G1 snapshot create /etc/hostname
	expect_rc 10
	expect_in "$ERR" "not a block device"
	run_cmd $G1 snapshot create /dev/null
	expect_rc 10
	run_cmd $G1 snapshot create "$LOOP_a" --name "$(printf 'x%.0s' $(seq 1 129))"
	expect_rc 10
	expect_in "$ERR" "name"
	run_cmd $G1 snapshot delete not-a-uuid
	expect_rc 10
	run_cmd $G1 snapshot rollback nosuch "$LOOP_a"
	expect_rc 16
	expect_in "$ERR" "$T/mnt/a"
	expect_in "$ERR" "mounted"
	run_cmd $G1 snapshot create
	expect_rc 2
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
	hostd_alive
}

# Rollback: refused while mounted; after unmounting it goes through the
# host's rules and the data is back.
test_guest_rollback() {
	guest_setup
	echo before > "$T/mnt/a/file"
	run_cmd $G1 snapshot create "$LOOP_a" --name base
	expect_rc 0
	umount "$T/mnt/a" || fail "umount"
	CLEANUP_MOUNTS=$(echo "$CLEANUP_MOUNTS" | sed "s#$T/mnt/a ##")
	# A process holding the disk open is named, with its user.
	bg sh -c "exec 3<'$LOOP_a'; exec sleep 30"
	wait_for "ls -l /proc/$LASTPID/fd 2>/dev/null | grep -q '$LOOP_a'" 5 ||
	    fail "the holder did not open $LOOP_a"
	run_cmd $G1 snapshot rollback base "$LOOP_a"
	expect_rc 16
	expect_in "$ERR" "cannot roll back $LOOP_a: process $LASTPID (sleep, user root) holds $LOOP_a open"
	kill "$LASTPID"
	wait "$LASTPID" 2>/dev/null
	run_cmd $G1 snapshot rollback base "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" "base"
	run_cmd $G1 --json snapshot rollback base "$LOOP_a"
	expect_rc 0
	expect_in "$(printf '%s' "$OUT" | tr -d ' \n')" "\"devices\":[\"$LOOP_a\"]"
}

# Pre-flight: the freeze plan, the volume and the verdict; non-zero when a
# snapshot would fail.
test_guest_check() {
	guest_setup space_reserve_mib=0
	run_cmd $G1 snapshot check "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" "$T/mnt/a"
	expect_in "$OUT" "data"
	run_cmd $G1 --json snapshot check "$LOOP_a"
	expect_rc 0
	expect_in "$OUT" '"verdict"'
	stop_hostd
	printf 'space_reserve_mib = 1000000\n' > "$T/hostd.conf"
	start_hostd
	run_cmd $G1 snapshot check "$LOOP_a"
	expect_rc 13
	expect_in "$OUT$ERR" "not enough free space"
	run_cmd $G2 snapshot check "$LOOP_a"
	expect_rc 11
}
