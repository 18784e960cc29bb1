# Regressions found in review: requesters and VMs that go away in the
# middle of an operation must never crash the daemon.  Each test ends with
# the daemon alive (and, under the sanitizer build, with no report).

# The controller gives up while a rollback's pre hooks run.
test_regress_rollback_requester_gone() {
	app_setup
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency fs --name base
	expect_rc 0
	hook pre.sh 'sleep 1'
	timeout 0.5 $HOSTCTL snapshot rollback --vm $UUID1 base
	wait_for "grep -q 'event restart-required' '$T/hostd.log'" 5 ||
	    fail "the rollback was not scheduled"
	hostd_alive
}

# The VM is removed while an app create waits for its pre hooks.
test_regress_vm_removed_during_pre() {
	app_setup
	hook pre.sh 'sleep 1'
	bg $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	sleep 0.5
	$HOSTCTL vm remove $UUID1 >/dev/null || fail "vm remove"
	sleep 1.5
	hostd_alive
	run_cmd $HOSTCTL vm list
	expect_rc 0
}

# A guest's pre-flight check whose requester leaves before the answer.
test_regress_check_requester_gone() {
	mkfs_loop a ext4 || fail "mount a"
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol1"
	printf '#!/bin/sh\nsleep 1\nexec %s "$@"\n' "$ZFS_MOCK" > "$T/slowzfs"
	chmod 755 "$T/slowzfs"
	printf 'zfs = %s\nspace_reserve_mib = 0\n' "$T/slowzfs" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state running \
	    --volume "uuid=$VOLUUID1,name=db,backend=zfs,locator=persist/vol1,disk=backing:$T/a.img" \
	    >/dev/null || fail "vm add"
	timeout 0.5 $AGENT --connect "unix:$T/one.sock_2210" snapshot check "$LOOP_a"
	sleep 2
	hostd_alive
}

# A snapshot of a volume the re-registered VM no longer has: a clear
# refusal, not a crash.
test_regress_volume_gone() {
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol1"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol2"
	printf 'zfs = %s\nspace_reserve_mib = 0\n' "$ZFS_MOCK" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" --state stopped \
	    --volume "uuid=$VOLUUID1,name=db,backend=zfs,locator=persist/vol1,disk=serial:a" \
	    >/dev/null || fail "vm add"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name base
	expect_rc 0
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	$HOSTCTL vm remove $UUID1 >/dev/null
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" --state stopped \
	    --volume "uuid=$VOLUUID2,name=db2,backend=zfs,locator=persist/vol2,disk=serial:b" \
	    >/dev/null || fail "vm add again"
	wait_for "[ \$(grep -c 'catalog check done' '$T/hostd.log') -ge 2 ]" 5 ||
	    fail "no catalog check after the re-registration"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 16
	expect_in "$ERR" "no longer has"
	hostd_alive
}

# A snapshot with a rollback scheduled cannot be deleted before the stop.
test_regress_delete_scheduled_target() {
	app_setup
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency fs --name base
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base
	expect_rc 0
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 16
	expect_in "$ERR" "is scheduled"
}
