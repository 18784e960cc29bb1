# Faults: what fault injection broke (issue 11), each as a named case.  A
# freeze must never outlive its owner, the host must never leave work
# behind, a failed write must leave things as they were, with the
# documented error code.

# slow_qemu_img SECONDS: a qemu-img wrapper that sleeps before snapshot
# commands (and fails while $T/fail exists), for qemu_img in hostd.conf.
slow_qemu_img() {
	cat > "$T/qemu-img" <<EOF
#!/bin/sh
[ -e "$T/fail" ] && { echo "qemu-img: image is locked" >&2; exit 1; }
[ "\$1" = snapshot ] && sleep $1
exec qemu-img "\$@"
EOF
	chmod 755 "$T/qemu-img"
}

# Proves a second daemon refuses to start on a live control socket (it
# used to unlink it and silently take the first one's clients), and the
# first daemon goes on serving.
test_fault_second_daemon_refused() {
	start_hostd
	run_cmd timeout 10 "$BUILD/eve-guest-hostd" -f --no-vsock \
	    --state-dir "$T/state2" --control-socket "$CTL"
	[ "$RC" -ne 0 ] || fail "a second daemon started on a live socket"
	expect_in "$ERR" "another process is listening there"
	hostd_alive
	run_cmd $HOSTCTL vm list
	expect_rc 0
	# A stale socket (its daemon killed) is replaced as before.
	kill -9 "$HOSTD_PID"
	wait "$HOSTD_PID" 2>/dev/null
	[ -S "$CTL" ] || fail "the test needs the stale socket left behind"
	start_hostd
	run_cmd $HOSTCTL vm list
	expect_rc 0
}

# Proves a backend child dies with a SIGKILLed daemon (parent-death
# signal): it used to go on and make a snapshot the restarted daemon never
# catalogued.
test_fault_backend_child_dies_with_daemon() {
	mkimg "$T/disk.qcow2"
	slow_qemu_img 2
	printf 'qemu_img = %s\n' "$T/qemu-img" > "$T/hostd.conf"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	bg $HOSTCTL snapshot create --vm $UUID1 --name orphan
	wait_for "pgrep -f '$T/qemu-img snapshot' >/dev/null" ||
	    fail "the backend did not start"
	kill -9 "$HOSTD_PID"
	wait "$HOSTD_PID" 2>/dev/null
	wait_for "! pgrep -f '$T/qemu-img snapshot' >/dev/null" 2 ||
	    fail "the backend child outlived the daemon"
	sleep 2.5
	[ "$(qemu-img snapshot -l "$T/disk.qcow2" | grep -c '^[0-9]')" -eq 0 ] ||
	    fail "an orphan made a snapshot: $(qemu-img snapshot -l "$T/disk.qcow2")"
	# The restarted daemon drops the intent; the catalog equals the image.
	start_hostd
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" "orphan"
}

# Proves an entry left "creating" because the start-up check could not
# reach the backend is retried until it resolves (every reconcile_retry
# seconds), not left stuck until the next restart.
test_fault_unfinished_entry_retried() {
	mkimg "$T/disk.qcow2"
	slow_qemu_img 0
	printf 'qemu_img = %s\nreconcile_retry = 1\n' "$T/qemu-img" > "$T/hostd.conf"
	EVG_TEST_KILL_POINT=after-backend-create start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name crashy
	wait "$HOSTD_PID" 2>/dev/null
	catalog_of $UUID1 | grep -q '"state":"creating"' ||
	    fail "no intent recorded"
	# The image is "locked" during the start-up check.
	touch "$T/fail"
	start_hostd
	grep -q "cannot check volume" "$T/hostd.log" || fail "the check did not fail"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" '"state":"creating"'
	rm -f "$T/fail"
	wait_for "grep -q 'unfinished entries; checking it' '$T/hostd.log'" 5 ||
	    fail "no retry"
	wait_for "$HOSTCTL --json snapshot list --vm $UUID1 | grep -q '\"state\":\"ready\"'" 5 ||
	    fail "the entry did not resolve: $($HOSTCTL --json snapshot list --vm $UUID1)"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -c '"name":"crashy"')" -eq 1 ] ||
	    fail "expected exactly one 'crashy': $OUT"
}

# Proves a delete whose catalog write fails (state directory full) answers
# NO_SPACE naming the file and leaves the snapshot as it was: it used to
# stay "deleting" in memory and refuse every retry until a restart.
test_fault_state_dir_full_delete() {
	mkimg "$T/disk.qcow2"
	mkdir -p "$T/state"
	mount -t tmpfs -o size=1m tmpfs "$T/state" || fail "mount tmpfs"
	CLEANUP_MOUNTS="$T/state"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name keep
	expect_rc 0
	local s
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	# A clean stop leaves the catalog in its file and the journal empty:
	# its next line needs a new page, which a full tmpfs refuses.
	stop_hostd
	[ ! -s "$T/state/catalogs/$UUID1.json.journal" ] ||
	    fail "a clean stop left the catalog's journal: $(catalog_of $UUID1)"
	grep -q '"name":"keep"' "$T/state/catalogs/$UUID1.json" ||
	    fail "a clean stop did not rewrite the catalog file: $(catalog_of $UUID1)"
	start_hostd
	dd if=/dev/zero of="$T/state/filler" bs=4k status=none 2>/dev/null
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 13
	expect_in "$ERR" "cannot write the snapshot catalog"
	expect_in "$ERR" "$T/state/catalogs/$UUID1.json"
	expect_in "$ERR" "No space left on device"
	rm -f "$T/state/filler"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
	[ "$(qemu-img snapshot -l "$T/disk.qcow2" | grep -c '^[0-9]')" -eq 0 ] ||
	    fail "the image still holds the snapshot"
	# A create on a full state directory is NO_SPACE too, and keeps nothing
	# (the catalog's journal emptied again by a clean stop first).
	stop_hostd
	start_hostd
	dd if=/dev/zero of="$T/state/filler" bs=4k status=none 2>/dev/null
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name full
	expect_rc 13
	expect_in "$ERR" "cannot write the snapshot catalog"
	# Registering a VM on a full state directory: NO_SPACE, not added.
	# (Its journal line is made longer than a block, so that it cannot
	# fit in what is left of the journal's last one.)
	local long
	long=$(printf 'l%.0s' $(seq 1500))
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name vm-two --hybrid-socket "$T/two.sock" \
	    --volume "uuid=$VOLUUID2,name=d,backend=qcow2,locator=$T/$long-1.qcow2,disk=serial:S2" \
	    --volume "uuid=aaaaaaaa-3333-4333-8333-333333333333,name=e,backend=qcow2,locator=$T/$long-2.qcow2,disk=serial:S3" \
	    --volume "uuid=aaaaaaaa-4444-4444-8444-444444444444,name=f,backend=qcow2,locator=$T/$long-3.qcow2,disk=serial:S4"
	expect_rc 13
	expect_in "$ERR" "$T/state/registry.json"
	expect_in "$ERR" "No space left on device"
	rm -f "$T/state/filler"
	run_cmd $HOSTCTL vm list
	expect_not_in "$OUT" "vm-two"
	[ "$(qemu-img snapshot -l "$T/disk.qcow2" | grep -c '^[0-9]')" -eq 0 ] ||
	    fail "the failed create left a snapshot"
	hostd_alive
}

# Proves names that hide what they are are refused, from the controller
# and from the guest: only spaces, bidi overrides, zero-width characters.
test_fault_deceptive_names() {
	mkimg "$T/disk.qcow2"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "   "
	expect_rc 10
	expect_in "$ERR" "must not be only spaces"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$(printf 'txt\342\200\256exe')"
	expect_rc 10
	expect_in "$ERR" "bidirectional or zero-width"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name "$(printf 'a\342\200\213b')"
	expect_rc 10
	run_cmd $AGENT --connect "unix:$T/vm-one.sock_2210" snapshot create /dev/null --name " "
	expect_rc 10
	expect_in "$ERR" "must not be only spaces"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" '"name"'
}

# writable_within SECONDS MNT: a write on MNT finishes within SECONDS.  A
# write blocked by a freeze cannot be killed; it is left to the cleanup.
writable_within() {
	sh -c "echo x > '$2/.probe'" 2>/dev/null &
	local w=$!
	if wait_for "! kill -0 $w 2>/dev/null" "$1"; then
		wait "$w"
		return 0
	fi
	PIDS="$w $PIDS"
	return 1
}

# Proves a guest CLI killed with SIGKILL while it holds the freeze (no
# daemon running) no longer leaves the filesystem frozen: its guardian
# thaws at once, and the next create is not BUSY.
test_fault_cli_killed_while_frozen() {
	guest_setup "freeze_lease_ms = 2000"
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=4000 start_hostd
	bg $G1 snapshot create "$LOOP_a" --name victim
	local cli=$LASTPID
	wait_for "frozen '$T/mnt/a'" 6 || fail "never froze"
	kill -9 "$cli"
	wait "$cli" 2>/dev/null
	# Within the lease plus 1 s (it is at once: the guardian sees EOF).
	writable_within 3 "$T/mnt/a" || fail "the killed CLI's freeze outlived it"
	wait_for "$HOSTCTL --json snapshot list --vm $UUID1 | grep -q '\"name\":\"victim\"' ||
	    ! $HOSTCTL --json snapshot list --vm $UUID1 | grep -q '\"state\":\"creating\"'" 10 ||
	    fail "the create was not cleaned up"
	run_cmd $G1 snapshot create "$LOOP_a" --name next
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"victim"'
	# The catalog equals the image: one snapshot, "next".
	[ "$(qemu-img snapshot -l "$T/vol-a.qcow2" | grep -c '^[0-9]')" -eq 1 ] ||
	    fail "image and catalog differ: $(qemu-img snapshot -l "$T/vol-a.qcow2")"
}

# Proves a CLI that is stopped (SIGSTOP) while frozen cannot hold the
# freeze past its lease: the guardian thaws when the lease runs out, with
# the host unable to reach the stalled agent.
test_fault_cli_stopped_past_lease() {
	guest_setup "freeze_lease_ms = 1000"
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=4000 start_hostd
	bg $G1 snapshot create "$LOOP_a" --name stalled
	local cli=$LASTPID
	wait_for "frozen '$T/mnt/a'" 6 || fail "never froze"
	kill -STOP "$cli"
	writable_within 2 "$T/mnt/a" ||
	    { kill -CONT "$cli"; fail "the stopped CLI's freeze outlived its lease"; }
	kill -CONT "$cli"
	wait "$cli"
	[ $? -ne 0 ] || fail "the create succeeded although its freeze ran out"
}

# Proves the guest daemon's frozen-mount record still works as the last
# resort: with the daemon and its guardian both SIGKILLed, a restarted
# daemon thaws what they left frozen.
test_fault_daemon_and_guardian_killed() {
	guest_setup "freeze_lease_ms = 2000"
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=4000 start_hostd
	bg $G1 daemon -f
	local daemon=$LASTPID
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	bg $G1 snapshot create "$LOOP_a" --name victim
	wait_for "frozen '$T/mnt/a'" 6 || fail "never froze"
	local guardian
	guardian=$(pgrep -f "one.sock_2210 daemon" | grep -vx "$daemon" | head -1)
	[ -n "$guardian" ] || fail "no guardian process found"
	kill -9 "$guardian" "$daemon"
	sleep 0.5
	frozen "$T/mnt/a" || fail "expected the freeze to remain with both gone"
	bg $G1 daemon -f
	wait_for "! frozen '$T/mnt/a'" 5 ||
	    fail "a restarted daemon did not thaw what the dead one froze"
}

# Proves a guest daemon killed in the middle of a create ends it at once
# with UNAVAILABLE (it used to wait for the backend, then say TIMEOUT "the
# freeze lease ran out"), and that what the backend made is deleted.
test_fault_daemon_killed_mid_create() {
	guest_setup "freeze_lease_ms = 3000"
	stop_hostd
	EVG_TEST_BACKEND_DELAY_MS=6000 start_hostd
	bg $G1 daemon -f
	local daemon=$LASTPID
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	$G1 snapshot create "$LOOP_a" --name victim >"$T/cli.out" 2>"$T/cli.err" &
	local cli=$!
	PIDS="$cli $PIDS"
	wait_for "frozen '$T/mnt/a'" 6 || fail "never froze"
	local start
	start=$(date +%s%N)
	kill -9 "$daemon"
	wait "$cli"
	local rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$rc" -eq 17 ] || fail "exit $rc, expected 17 (UNAVAILABLE): $(cat "$T/cli.err")"
	grep -q "went away while its filesystems were frozen" "$T/cli.err" ||
	    fail "unexpected error: $(cat "$T/cli.err")"
	[ "$ms" -lt 2000 ] || fail "the create took $ms ms to fail after the guest died"
	writable_within 2 "$T/mnt/a" || fail "still frozen"
	# The catalog equals the image: nothing kept.
	wait_for "[ \$(qemu-img snapshot -l '$T/vol-a.qcow2' | grep -c '^[0-9]') -eq 0 ]" 10 ||
	    fail "a snapshot was left in the image: $(qemu-img snapshot -l "$T/vol-a.qcow2")"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"name":"victim"'
	hostd_alive
}

# Proves a QEMU that stops answering during the start-up check leaves the
# daemon serving and the interrupted entry "creating", and that the entry
# resolves against the backend at a retry once QEMU answers again.
test_fault_stalled_qemu() {
	fake_qmp_start
	printf 'qmp_timeout = 1\nreconcile_retry = 1\n' > "$T/hostd.conf"
	EVG_TEST_KILL_POINT=after-backend-create start_hostd
	add_qmp_vm
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name interrupted
	wait "$HOSTD_PID" 2>/dev/null
	local tag
	tag=$(catalog_of $UUID1 | grep -o '"tag":"[0-9a-z-]*"' | head -1 | cut -d'"' -f4)
	[ -n "$tag" ] || fail "no intent recorded"
	echo stall > "$T/qmp.reply"
	start_hostd
	grep -q "cannot check volume" "$T/hostd.log" || fail "the check did not give up"
	run_cmd $HOSTCTL vm list
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" '"state":"creating"'
	echo "[{\"node-name\": \"drive-data\", \"image\": {\"snapshots\": [{\"name\": \"$tag\", \"date-sec\": 1700000000}]}}]" > "$T/qmp.reply"
	wait_for "$HOSTCTL --json snapshot list --vm $UUID1 | grep -q '\"state\":\"ready\"'" 8 ||
	    fail "the entry did not resolve: $($HOSTCTL --json snapshot list --vm $UUID1)"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -c '"name":"interrupted"')" -eq 1 ] ||
	    fail "expected exactly one 'interrupted': $OUT"
	hostd_alive
}

# Proves a catalog with a duplicated entry loads with the twin merged
# (logged with the file's name): listed once, and a delete leaves nothing
# behind, neither in the catalog nor in the image.
test_fault_duplicate_catalog_entry() {
	mkimg "$T/disk.qcow2"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$T/disk.qcow2" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name twin
	expect_rc 0
	local s cat="$T/state/catalogs/$UUID1.json"
	s=$(printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	stop_hostd
	tr -d '\n' < "$cat" | sed 's/"snapshots": *\[\(.*\)\]/"snapshots":[\1,\1]/' > "$T/dup.json"
	[ "$(grep -o "\"uuid\": *\"$s\"" "$T/dup.json" | wc -l)" -eq 2 ] ||
	    fail "the test could not duplicate the entry: $(cat "$T/dup.json")"
	cp "$T/dup.json" "$cat"
	start_hostd
	grep -q "catalog $cat: snapshots\[1\] repeats snapshot $s" "$T/hostd.log" ||
	    fail "the merge was not logged: $(grep catalog "$T/hostd.log" | tail -3)"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -c '"name":"twin"')" -eq 1 ] ||
	    fail "listed twice: $OUT"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" "twin"
	[ "$(qemu-img snapshot -l "$T/disk.qcow2" | grep -c '^[0-9]')" -eq 0 ] ||
	    fail "the image still holds it"
}
