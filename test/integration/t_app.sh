# Controller-triggered, application-consistent snapshots: the guest
# daemon runs the hooks of a temporary hooks dir; the host drives pre,
# freeze, backend (the mock zfs), thaw and post, and reports every step as
# an event.  Loop filesystems stand in for the guest's disks.

# The whole app flow, with the events in order and the hooks' environment.
test_app_success_and_event_order() {
	app_setup
	hook pre.sh 'env | grep ^EVE_SNAPSHOT_ > "'"$T"'/pre.env"; echo pre >> "'"$T"'/order"'
	hook pre.d/10-flush 'echo pre.d >> "'"$T"'/order"'
	hook post.d/10-resume 'echo post.d >> "'"$T"'/order"'
	hook post.sh 'echo "post $EVE_SNAPSHOT_PHASE" >> "'"$T"'/order"'
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency app --name nightly
	expect_rc 0
	expect_in "$OUT" '"consistency":"app"'
	expect_in "$OUT" "\"mountpoint\":\"$T/mnt/a\""
	[ "$(tr '\n' ' ' < "$T/order")" = "pre pre.d post.d post post " ] ||
	    fail "hook order: $(tr '\n' ' ' < "$T/order")"
	grep -q "EVE_SNAPSHOT_PHASE=pre" "$T/pre.env" || fail "phase: $(cat "$T/pre.env")"
	grep -q "EVE_SNAPSHOT_OPERATION=create" "$T/pre.env" || fail "operation"
	grep -q "EVE_SNAPSHOT_NAME=nightly" "$T/pre.env" || fail "name"
	grep -q "EVE_SNAPSHOT_DISKS=$LOOP_a" "$T/pre.env" || fail "disks: $(cat "$T/pre.env")"
	grep -q "EVE_SNAPSHOT_DEADLINE=" "$T/pre.env" || fail "deadline"
	local kinds
	kinds=$(event_kinds)
	echo "events: $kinds"
	expect_in "$kinds" "guest-connected started pre-started pre-finished frozen backend-done thawed post-started post-finished committed"
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
}

# pre exits 7: its output reaches hostctl; nothing frozen; no snapshot.
test_app_pre_fails() {
	app_setup
	hook pre.sh 'echo "database is busy" >&2; exit 7'
	hook post.sh 'echo post >> "'"$T"'/order"'
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	expect_rc 18
	expect_in "$ERR" "exited 7"
	expect_in "$ERR" "database is busy"
	local kinds
	kinds=$(event_kinds)
	expect_not_in "$kinds" "frozen"
	expect_in "$kinds" "pre-finished failed"
	[ ! -e "$T/order" ] || fail "post ran after a failed pre"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"uuid"'
}

# A hanging pre is killed at the timeout, its whole process group too.
test_app_pre_hangs() {
	app_setup
	hook pre.sh 'sleep 300 & sleep 301'
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x --hook-timeout 1
	expect_rc 18
	expect_in "$ERR" "timeout"
	# SIGKILLed with their process group; a loaded machine may take a
	# moment to run them to their end.
	wait_for "! pgrep -f 'sleep 30[01]' >/dev/null" 2 ||
	    fail "hook processes survived"
	expect_not_in "$(event_kinds)" "frozen"
}

# A hook anyone could have written is refused, with the reason.
test_app_unsafe_hook_refused() {
	app_setup
	hook pre.sh 'exit 0'
	chmod 777 "$T/hooks/pre.sh"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	expect_rc 18
	expect_in "$ERR" "writable by group or others"
}

# The backend fails after the freeze: thawed, post runs with phase abort,
# nothing kept.
test_app_backend_fails() {
	printf '#!/bin/sh\nif [ "$1" = snapshot ]; then echo "out of space in pool" >&2; exit 1; fi\nexec %s "$@"\n' \
	    "$ZFS_MOCK" > "$T/zfs-broken"
	chmod +x "$T/zfs-broken"
	app_setup "$T/zfs-broken"
	hook pre.sh 'exit 0'
	hook post.sh 'echo "$EVE_SNAPSHOT_PHASE" >> "'"$T"'/phase"'
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	expect_rc 21
	expect_in "$ERR" "out of space in pool"
	[ "$(cat "$T/phase")" = abort ] || fail "post phase: $(cat "$T/phase" 2>/dev/null)"
	expect_in "$(event_kinds)" "frozen thawed post-started post-finished failed"
	if frozen "$T/mnt/a"; then fail "left frozen"; fi
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"uuid"'
}

# post fails after a good snapshot: the snapshot is kept, the failure told.
test_app_post_fails() {
	app_setup
	hook pre.sh 'exit 0'
	hook post.sh 'echo "cannot resume replication" >&2; exit 3'
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name kept
	expect_rc 18
	expect_in "$ERR" "kept"
	expect_in "$ERR" "cannot resume replication"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" '"name":"kept"'
	expect_in "$OUT" '"consistency":"app"'
}

# app with the guest daemon stopped fails; never lowered to crash.
test_app_without_daemon() {
	app_setup
	kill "$DAEMON"
	wait "$DAEMON" 2>/dev/null
	wait_for "! $HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon still connected"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency app --name x
	expect_rc 16
	expect_in "$ERR" "needs the guest agent daemon"
	expect_in "$(event_kinds)" "guest-disconnected"
}

# A retried request (same idempotency key) never makes a second snapshot.
test_app_idempotent_retry() {
	app_setup
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency fs --idempotency-key req-42
	expect_rc 0
	local first=$OUT
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency fs --idempotency-key req-42
	expect_rc 0
	[ "$(printf '%s' "$first" | grep '"uuid"')" = "$(printf '%s' "$OUT" | grep '"uuid"')" ] ||
	    fail "a retry answered differently"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -c '"uuid"')" -eq 1 ] || fail "two snapshots: $OUT"
}

# A stopped VM: no guest steps, offline backend, recorded as crash.
test_app_vm_off() {
	app_setup
	hook pre.sh 'echo pre >> "'"$T"'/order"'
	$HOSTCTL vm state $UUID1 stopped >/dev/null
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --consistency app --name offline
	expect_rc 0
	expect_in "$OUT" '"consistency":"crash"'
	[ ! -e "$T/order" ] || fail "hooks ran for a stopped VM"
	expect_in "$(event_kinds)" "started"
}

# eve-guest-hostctl guest info: facts from the guest daemon.
test_app_guest_info() {
	app_setup
	run_cmd $HOSTCTL --json guest info --vm $UUID1
	expect_rc 0
	expect_in "$OUT" "\"kernel\":\"$(uname -r)\""
	expect_in "$OUT" '"filesystems"'
	run_cmd $AGENT --json info
	expect_rc 0
	expect_in "$OUT" "\"hostname\":\"$(hostname)\""
}

# Controller rollback of a running VM: pre runs with operation rollback,
# then the rollback is scheduled for the stop; a failing pre schedules
# nothing.  The controller's snapshots are in the guest's own list.
test_app_rollback_runs_pre() {
	app_setup
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --consistency fs --name base
	expect_rc 0
	run_cmd $AGENT --connect "unix:$T/one.sock_2210" snapshot list
	expect_in "$OUT" "base"
	hook pre.sh 'echo "$EVE_SNAPSHOT_OPERATION" >> "'"$T"'/ops"; [ ! -e "'"$T"'/refuse" ]'
	touch "$T/refuse"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base
	expect_rc 18
	expect_in "$ERR" "not scheduled"
	expect_not_in "$(event_kinds)" "restart-required"
	rm "$T/refuse"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 base
	expect_rc 0
	expect_in "$OUT" "scheduled"
	[ "$(tr '\n' ' ' < "$T/ops")" = "rollback rollback " ] || fail "ops: $(cat "$T/ops")"
	expect_in "$(event_kinds)" "pre-started pre-finished restart-required"
}
