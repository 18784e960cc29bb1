# A guest (or the QEMU a guest escape would own) must never take down or
# deceive the host.  Each test is a finding of the guest-input safety
# review (issue 10) and failed on the code before the fix: the daemon
# exited, crashed, sent an undecodable frame, left a request unanswered,
# wrote raw guest bytes to the operator, or made a catalog that no longer
# loads.

# hostile_setup: VM one (running, ZFS volume with serial HOSTILE) and VM two
# (stopped), a short guest timeout.
hostile_setup() {
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol1"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol2"
	printf 'zfs = %s\nspace_reserve_mib = 0\nguest_timeout = 2\n%s' \
	    "$ZFS_MOCK" "${1:-}" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state running \
	    --volume "uuid=$VOLUUID1,name=db,backend=zfs,locator=persist/vol1,disk=serial:HOSTILE" \
	    >/dev/null || fail "vm add one"
	$HOSTCTL vm add --uuid $UUID2 --name vm-two --hybrid-socket "$T/two.sock" \
	    --state stopped \
	    --volume "uuid=$VOLUUID2,name=db,backend=zfs,locator=persist/vol2,disk=serial:TWO" \
	    >/dev/null || fail "vm add two"
}

# hostile_daemon: evg-wire as VM one's guest daemon answering everything
# with escape sequences, forged lines, broken UTF-8 and unknown fields.
hostile_daemon() {
	EVG_ROLE=daemon bg $WIRE "$T/one.sock_2210" hostile 60 >"$T/wire.out" 2>&1
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "the hostile daemon did not connect"
}

# no_raw_guest_bytes FILE: no ESC byte, no forged line, valid UTF-8.
no_raw_guest_bytes() {
	if grep -q "$(printf '\033')" "$1"; then
		fail "a raw ESC reached $1: $(grep -a "$(printf '\033')" "$1" | head -2 | od -c | head -5)"
	fi
	if grep -q '^evg: forged line' "$1"; then
		fail "a guest forged a line in $1"
	fi
	iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 ||
	    fail "$1 is not valid UTF-8"
}

# Proves a guest's DiskRef holding an unknown field with a multi-byte
# field-0 tag (82 00 00) no longer stops the daemon (wf_copy_disk called
# fatalx): the request is answered, every other VM is still served.
test_hostile_unknown_field_in_diskref() {
	hostile_setup
	EVG_DISK=serial:HOSTILE run_cmd timeout 5 $WIRE "$T/one.sock_2210" baddisk
	expect_in "$OUT" "OK"
	sleep 0.5
	hostd_alive
	run_cmd $WIRE "$T/two.sock_2210" hello
	expect_rc 0
	expect_in "$OUT" "OK"
	run_cmd $HOSTCTL vm list
	expect_rc 0
	expect_in "$OUT" "vm-two"
}

# Proves a guest's GuestInfo carrying that unknown field is relayed to the
# control client as a frame that decodes, and that its ESC sequences,
# newline and broken UTF-8 reach the terminal escaped.
test_hostile_guest_info_relayed_decodable() {
	hostile_setup
	hostile_daemon
	run_cmd $HOSTCTL guest info --vm $UUID1
	expect_rc 0
	expect_in "$OUT" 'OS:        \x1b[31mred\x1b[0m\x0aevg: forged line'
	no_raw_guest_bytes "$T/out"
	run_cmd $HOSTCTL --json guest info --vm $UUID1
	expect_rc 0
	expect_in "$OUT" '"hostname":"\u001b[31mred'
	no_raw_guest_bytes "$T/out"
	hostd_alive
}

# Proves long guest text in events (60 KB freeze refusals) no longer makes
# the event backlog overflow the control frame and leave `events`
# unanswered: messages are capped, the backlog is answered.
test_hostile_events_stay_answerable() {
	hostile_setup
	hostile_daemon
	local i
	for i in $(seq 1 20); do
		run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency fs
		expect_rc 19
	done
	run_cmd timeout 20 $HOSTCTL events
	expect_rc 0
	[ "$(grep -c 'failed' "$T/out")" -ge 20 ] ||
	    fail "expected 20 failures in the events: $(head -c 600 "$T/out")"
	no_raw_guest_bytes "$T/out"
	run_cmd timeout 20 $HOSTCTL --json events
	expect_rc 0
	no_raw_guest_bytes "$T/out"
	# No line (one event) is longer than the capped message plus the rest.
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/out")" -lt 8000 ] ||
	    fail "an event is not capped"
	hostd_alive
}

# Proves a control reply that cannot hold the whole backlog is paged (the
# newest events that fit, and a note saying so), never dropped.
test_hostile_events_paged_to_frame() {
	hostile_setup "max_frame_control = 4096
"
	hostile_daemon
	local i
	for i in $(seq 1 8); do
		run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency fs
		expect_rc 19
	done
	run_cmd timeout 20 $HOSTCTL --json events
	expect_rc 0
	expect_in "$ERR" "only the newest"
	expect_in "$ERR" "max_frame_control"
	local n
	n=$(grep -c '"seq"' "$T/out")
	[ "$n" -ge 1 ] || fail "no event fitted: $OUT"
	# The newest event is among them.
	expect_in "$OUT" '"kind":"failed"'
}

# Proves hook output with ESC sequences, a newline that would forge a log
# line, and a multi-byte character across the 512-byte cut reaches the
# host log, the operator's terminal and the JSON stream escaped and valid.
test_hostile_hook_output_escaped() {
	hostile_setup
	hostile_daemon
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	expect_rc 18
	expect_in "$ERR" "pre hook failed"
	expect_in "$ERR" '\x1b[2J'
	no_raw_guest_bytes "$T/err"
	no_raw_guest_bytes "$T/hostd.log"
	run_cmd $HOSTCTL --json events
	expect_rc 0
	no_raw_guest_bytes "$T/out"
	hostd_alive
}

# Proves a QMP reply with "node-name": null no longer crashes the daemon
# (json_object_get_string(NULL) then strcmp) at start or on a list: the
# start-up check reports the volume's node missing, the daemon serves on.
test_hostile_qmp_null_node_name() {
	: > "$T/hostd.conf"
	echo '[{"node-name": null, "image": {"snapshots": [{"name": "a"}]}},
	       {"node-name": 7}, {"image": null}, null, "x",
	       {"node-name": "drive-data", "image": {"snapshots": null}}]' > "$T/qmp.reply"
	fake_qmp_start
	start_hostd
	add_qmp_vm
	# A catalog, so the start-up check looks at this VM.
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name first
	stop_hostd
	start_hostd
	grep -q query-named-block-nodes "$T/qmp.log" || fail "the check did not ask QEMU: $(cat "$T/qmp.log") $(tail -20 "$T/hostd.log")"
	hostd_alive
	# The node with a null name is skipped; the real one has no snapshots.
	echo '[{"node-name": null}]' > "$T/qmp.reply"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name after
	hostd_alive
	run_cmd $HOSTCTL vm list
	expect_rc 0
}

# Proves a backend snapshot with an out-of-range time (QMP date-sec -1 or
# 2^64-1) or size is adopted with the time unknown (the epoch), and that
# the VM's catalog still loads after a restart (it was written negative).
# The snapshots carry the host's mark (evg-UUID): only those are adopted.
test_hostile_time_out_of_range() {
	: > "$T/hostd.conf"
	echo '[{"node-name": "drive-data", "image": {"snapshots": [
	       {"name": "evg-dddddddd-0001-4111-8111-111111111111", "date-sec": -1, "vm-state-size": -5},
	       {"name": "evg-dddddddd-0002-4111-8111-111111111111", "date-sec": 18446744073709551615},
	       {"name": "evg-dddddddd-0003-4111-8111-111111111111", "date-sec": 9223372036854775807},
	       {"name": "evg-dddddddd-0004-4111-8111-111111111111", "date-sec": "yesterday"}]}}]' > "$T/qmp.reply"
	fake_qmp_start
	start_hostd
	add_qmp_vm
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name first
	# Restart: the start-up check adopts what the backend holds.
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_rc 0
	expect_in "$OUT" "dddddddd-0001"
	expect_in "$OUT" "dddddddd-0002"
	expect_in "$OUT" "dddddddd-0003"
	expect_in "$OUT" "1970-01-01T00:00:00Z"
	# Restart again: the catalog written above loads.
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_in "$OUT" '"created":"1970-01-01T00:00:00Z"'
	expect_not_in "$OUT" '"size_bytes":-'
	if grep -q "catalog.*cannot\|not load\|malformed" "$T/hostd.log"; then
		fail "the catalog did not load: $(grep -i catalog "$T/hostd.log" | tail -3)"
	fi
}
