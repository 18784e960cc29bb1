# A VM's life as EVE lives it: `vm update` when QEMU restarts with a new
# CID, QMP path and volume generation (every snapshot stays listed and
# usable); `vm state starting`, the barrier before QEMU opens the images
# (a scheduled rollback is applied first, an offline operation finishes
# first); `running` refused while qemu-img still holds an image; the
# per-VM snapshot budget; the agent's own QMP monitor.  Real qemu-img and
# qemu-io on qcow2 files; a slow or failing qemu-img is a wrapper script.

VOLUUID3=aaaaaaaa-3333-4333-8333-333333333333

# EVE's paths: /persist/vault/volumes/<volume-uuid>#<generation>.qcow2.
vol_path() {
	echo "$T/persist/vault/volumes/$1#$2.qcow2"
}

# spec VOLUUID NAME GEN SERIAL: a --volume value at generation GEN.
spec() {
	echo "uuid=$1,name=$2,backend=qcow2,locator=$(vol_path "$1" "$3"),disk=pcipath:0$4.0/00.0"
}

# eve_vm STATE [EXTRA...]: VM one with two qcow2 volumes at generation 1.
eve_vm() {
	local state=$1
	shift
	mkdir -p "$T/persist/vault/volumes"
	mkimg "$(vol_path $VOLUUID1 1)"
	mkimg "$(vol_path $VOLUUID2 1)"
	qio "$(vol_path $VOLUUID1 1)" "write -P 0xaa 0 1M"
	$HOSTCTL vm add --uuid $UUID1 --name app-one --cid 4 \
	    --qmp "$T/run/hypervisor/kvm/$UUID1.1.1/qmp" --state "$state" \
	    --volume "$(spec $VOLUUID1 data 1 4)" \
	    --volume "$(spec $VOLUUID2 logs 1 5)" "$@" >/dev/null ||
	    fail "vm add app-one"
}

# slow_qemu_img SECONDS [FAIL-VERB]: hostd's qemu-img waits SECONDS before
# each snapshot command; with FAIL-VERB (-a, -c...) that one fails.
slow_qemu_img() {
	cat > "$T/qemu-img" <<EOF
#!/bin/sh
[ "\$1" = snapshot ] && sleep $1
[ "\$1" = snapshot ] && [ "\$2" = "${2:-none}" ] && { echo "qemu-img: injected failure" >&2; exit 1; }
exec qemu-img "\$@"
EOF
	chmod +x "$T/qemu-img"
	printf 'qemu_img = %s\nspace_reserve_mib = 0\n' "$T/qemu-img" > "$T/hostd.conf"
}

# Restart with a new identity: `vm update` moves CID, QMP path and both
# volumes to generation 2 (new files); every snapshot stays listed, a
# rollback to one works on the new file, and the record survives a daemon
# restart.
test_update_new_generation() {
	printf 'space_reserve_mib = 0\n' > "$T/hostd.conf"
	start_hostd
	eve_vm stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name gen1
	expect_rc 0
	# EVE copies the volume to a new generation and starts QEMU anew.
	cp "$(vol_path $VOLUUID1 1)" "$(vol_path $VOLUUID1 2)"
	cp "$(vol_path $VOLUUID2 1)" "$(vol_path $VOLUUID2 2)"
	qio "$(vol_path $VOLUUID1 2)" "write -P 0xbb 0 1M"
	run_cmd $HOSTCTL --json vm update $UUID1 --cid 9001 \
	    --qmp "$T/run/hypervisor/kvm/$UUID1.2.1/qmp" \
	    --volume "$(spec $VOLUUID1 data 2 4)" \
	    --volume "$(spec $VOLUUID2 logs 2 5)"
	expect_rc 0
	expect_in "$OUT" '"cid":9001'
	expect_in "$OUT" "$UUID1.2.1/qmp"
	expect_in "$OUT" "$VOLUUID1#2.qcow2"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	[ "$(json_members | grep -c '"name":"gen1"')" -eq 2 ] ||
	    fail "both volumes' snapshots should stay listed: $OUT"
	expect_not_in "$OUT" '"missing"'
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 gen1 --volume $VOLUUID1
	expect_rc 0
	holds "$(vol_path $VOLUUID1 2)" 0xaa || fail "rollback did not reach generation 2"
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"cid":9001'
	expect_in "$OUT" "$VOLUUID2#2.qcow2"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ "$(json_members | grep -c '"state":"ready"')" -eq 2 ] ||
	    fail "snapshots not ready after restart: $OUT"
	hostd_alive
}

# A volume left out of an update keeps its catalog entries (not listed
# meanwhile) and gets them back when it returns; only the named fields
# change.
test_update_volume_leaves_and_returns() {
	printf 'space_reserve_mib = 0\n' > "$T/hostd.conf"
	start_hostd
	eve_vm stopped --snapshot-budget 1G
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name both
	expect_rc 0
	run_cmd $HOSTCTL vm update $UUID1 --volume "$(spec $VOLUUID1 data 1 4)"
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" "$VOLUUID1"
	expect_not_in "$OUT" "$VOLUUID2"
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"cid":4'
	expect_in "$OUT" '"snapshot_budget":1073741824'
	expect_in "$OUT" "$UUID1.1.1/qmp"
	run_cmd $HOSTCTL vm update $UUID1 --volume "$(spec $VOLUUID1 data 1 4)" \
	    --volume "$(spec $VOLUUID2 logs 1 5)" --name app-renamed
	expect_rc 0
	expect_in "$OUT" "app-renamed"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_in "$OUT" "$VOLUUID2"
	[ "$(json_members | grep -c '"state":"ready"')" -eq 2 ] ||
	    fail "the returning volume's snapshot is not ready: $OUT"
	# Clearing a path: an empty value.
	run_cmd $HOSTCTL --json vm update $UUID1 --qmp ''
	expect_rc 0
	expect_not_in "$OUT" '"qmp"'
	run_cmd $HOSTCTL vm show $UUID1
	expect_not_in "$OUT" "$UUID1.1.1/qmp"
	hostd_alive
}

# Bad updates: unknown VM, a CID, socket or volume another VM has, a bad
# field, nothing to change, an update while an operation runs.
test_update_bad_input() {
	slow_qemu_img 2
	start_hostd
	eve_vm stopped
	$HOSTCTL vm add --uuid $UUID2 --name app-two --cid 5 \
	    --hybrid-socket "$T/two.sock" --state stopped \
	    --volume "uuid=$VOLUUID3,name=d,backend=qcow2,locator=$T/two.qcow2,disk=serial:T" \
	    >/dev/null || fail "vm add two"
	run_cmd $HOSTCTL vm update 33333333-3333-4333-8333-333333333333 --cid 7
	expect_rc 11
	expect_in "$ERR" "no VM 33333333-3333-4333-8333-333333333333"
	$HOSTCTL vm state $UUID2 running >/dev/null || fail "vm state two"
	run_cmd $HOSTCTL vm update $UUID1 --cid 5
	expect_rc 12
	expect_in "$ERR" "CID 5 already belongs to VM $UUID2 (app-two), which is running"
	run_cmd $HOSTCTL vm update $UUID1 --hybrid-socket "$T/two.sock"
	expect_rc 12
	expect_in "$ERR" "already belongs to VM $UUID2"
	run_cmd $HOSTCTL vm update $UUID1 --volume \
	    "uuid=$VOLUUID3,name=d,backend=qcow2,locator=$T/x.qcow2,disk=serial:X"
	expect_rc 12
	expect_in "$ERR" "volume $VOLUUID3 already belongs to VM $UUID2"
	run_cmd $HOSTCTL vm update $UUID1 --volume "$(spec $VOLUUID1 data 1 4),disk=pcipath:zz.0"
	expect_rc 10
	expect_in "$ERR" "pcipath"
	run_cmd $HOSTCTL vm update $UUID1 --qmp relative/qmp
	expect_rc 10
	expect_in "$ERR" "qmp: 'relative/qmp' is not an absolute socket path"
	run_cmd $HOSTCTL vm update $UUID1
	expect_rc 2
	run_cmd $HOSTCTL vm update $UUID1 --state running
	expect_rc 2
	expect_in "$ERR" "use vm state"
	# A field the daemon does not know (a newer client's), by the wire.
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow
	local creator=$LASTPID
	wait_for "grep -q 'snapshot -c' '$T/hostd.log' || pgrep -f '$T/qemu-img snapshot' >/dev/null" 5
	run_cmd $HOSTCTL vm update $UUID1 --cid 8
	expect_rc 14
	expect_in "$ERR" "snapshot create"
	wait "$creator" || fail "the slow create failed"
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"cid":4'
	hostd_alive
}

# `starting` applies the rollback scheduled while the VM ran before it
# answers; the VM is then "starting" and nothing runs offline any more.
test_starting_applies_rollback() {
	printf 'space_reserve_mib = 0\n' > "$T/hostd.conf"
	start_hostd
	eve_vm stopped
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name good
	expect_rc 0
	qio "$(vol_path $VOLUUID1 1)" "write -P 0xcc 0 1M"
	run_cmd $HOSTCTL vm state $UUID1 running
	expect_rc 0
	run_cmd $HOSTCTL --json snapshot rollback --vm $UUID1 good --volume $VOLUUID1
	expect_rc 0
	expect_in "$OUT" "rollback-scheduled"
	# QEMU stopped; pillar goes straight to `starting` for the restart.
	run_cmd $HOSTCTL --json vm state $UUID1 starting
	expect_rc 0
	expect_in "$OUT" '"state":"starting"'
	holds "$(vol_path $VOLUUID1 1)" 0xaa || fail "starting did not apply the rollback"
	expect_in "$(event_kinds)" "rollback-done"
	# From now on nothing opens the images offline: no QMP, so a create
	# is refused instead of running qemu-img under a starting QEMU.
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name during-start
	[ "$RC" -ne 0 ] || fail "a create ran offline on a starting VM"
	expect_not_in "$(qemu-img snapshot -l -U "$(vol_path $VOLUUID1 1)")" "during-start"
	# A rollback asked while starting waits for the next stop.
	qio "$(vol_path $VOLUUID1 1)" "write -P 0xdd 0 1M"
	run_cmd $HOSTCTL --json snapshot rollback --vm $UUID1 good --volume $VOLUUID1
	expect_rc 0
	expect_in "$OUT" "rollback-scheduled"
	holds "$(vol_path $VOLUUID1 1)" 0xdd || fail "a rollback ran under a starting QEMU"
	run_cmd $HOSTCTL vm state $UUID1 running
	expect_rc 0
	run_cmd $HOSTCTL vm state $UUID1 stopped
	expect_rc 0
	wait_for "holds '$(vol_path $VOLUUID1 1)' 0xaa" 10 ||
	    fail "the rollback scheduled while starting was not applied at stop"
	hostd_alive
}

# `starting` while the scheduled rollback fails: the error, and the VM
# stays stopped.
test_starting_rollback_fails() {
	slow_qemu_img 0 -a
	start_hostd
	eve_vm running
	run_cmd $HOSTCTL vm state $UUID1 stopped
	expect_rc 0
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name good
	expect_rc 0
	run_cmd $HOSTCTL vm state $UUID1 running
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 good --volume $VOLUUID1
	expect_rc 0
	run_cmd $HOSTCTL vm state $UUID1 starting
	expect_rc 21
	expect_in "$ERR" "the scheduled rollback failed, so the VM must not start"
	expect_in "$ERR" "injected failure"
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"state":"stopped"'
	hostd_alive
}

# An offline operation holds the image: `running` is refused with BUSY
# naming it; `starting` waits for it and then answers.
test_running_refused_while_offline_op() {
	slow_qemu_img 2
	start_hostd
	eve_vm stopped
	bg $HOSTCTL snapshot create --vm $UUID1 --name slow
	local creator=$LASTPID
	wait_for "pgrep -f '$T/qemu-img snapshot' >/dev/null" 5 ||
	    fail "the create did not start"
	run_cmd $HOSTCTL vm state $UUID1 running
	expect_rc 14
	expect_in "$ERR" "snapshot create (volume 'data') holds its images offline"
	run_cmd $HOSTCTL --json vm state $UUID1 starting
	expect_rc 0
	expect_in "$OUT" '"state":"starting"'
	wait "$creator" || fail "the create failed"
	pgrep -f "$T/qemu-img snapshot" >/dev/null && fail "qemu-img still runs after starting answered"
	run_cmd $HOSTCTL vm state $UUID1 running
	expect_rc 0
	run_cmd $HOSTCTL vm state $UUID1 bogus
	expect_rc 10
	expect_in "$ERR" "is not stopped, starting or running"
	hostd_alive
}

# EVE's CID counter starts again at 4 when the node restarts and is not
# stored: a CID a stopped VM still holds passes to the VM given it, and
# the stopped VM needs a new one (vm update --cid) before it starts.  A
# CID of a VM that is not stopped stays a clash.
test_cid_passes_from_stopped_vm() {
	start_hostd
	eve_vm stopped
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name app-two --cid 4 --state stopped \
	    --volume "uuid=$VOLUUID3,name=d,backend=qcow2,locator=$T/two.qcow2,disk=serial:T"
	expect_rc 0
	expect_in "$(cat "$T/hostd.log")" "CID 4 passes from stopped VM $UUID1"
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"cid":0,'
	run_cmd $HOSTCTL vm state $UUID1 starting
	expect_rc 16
	expect_in "$ERR" "has no vsock CID"
	expect_in "$ERR" "vm update --cid"
	run_cmd $HOSTCTL vm state $UUID2 running
	expect_rc 0
	run_cmd $HOSTCTL vm update $UUID1 --cid 4
	expect_rc 12
	expect_in "$ERR" "CID 4 already belongs to VM $UUID2 (app-two), which is running"
	run_cmd $HOSTCTL vm update $UUID1 --cid 5
	expect_rc 0
	run_cmd $HOSTCTL vm state $UUID1 starting
	expect_rc 0
	# Both records survive a restart as they are.
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"cid":5'
	run_cmd $HOSTCTL --json vm show $UUID2
	expect_in "$OUT" '"cid":4'
	hostd_alive
}

# The snapshot budget: a create needs used + need <= budget as well as the
# free-space rule; NO_SPACE names the rule and the figures.
test_snapshot_budget() {
	printf 'space_reserve_mib = 0\n' > "$T/hostd.conf"
	start_hostd
	eve_vm stopped --snapshot-budget 2M
	qio "$(vol_path $VOLUUID1 1)" "write -P 0x11 0 8M"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name over
	expect_rc 13
	expect_in "$ERR" "budget rule"
	expect_in "$ERR" "over its budget of 2.0 MiB"
	expect_not_in "$(qemu-img snapshot -l "$(vol_path $VOLUUID1 1)")" over
	run_cmd $HOSTCTL vm update $UUID1 --snapshot-budget 1G
	expect_rc 0
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name fits
	expect_rc 0
	run_cmd $HOSTCTL vm update $UUID1 --snapshot-budget none
	expect_rc 0
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_in "$OUT" '"snapshot_budget":0'
	for bad in 0 -5 12Q lots 99999999999T ""; do
		run_cmd $HOSTCTL vm update $UUID1 --snapshot-budget "$bad"
		expect_rc 2
		expect_in "$ERR" "--snapshot-budget"
	done
	hostd_alive
}

# --qmp-agent: the daemon's own monitor is used instead of pillar's, which
# it never opens; the two must differ.
test_qmp_agent_monitor() {
	fake_qmp_start
	echo '[{"node-name": "drive-data", "image": {"snapshots": []}}]' > "$T/qmp.reply"
	start_hostd
	run_cmd $HOSTCTL vm add --uuid $UUID1 --name vm-one --cid 4 --state running \
	    --qmp "$T/pillar-qmp.sock" --qmp-agent "$T/qmp.sock" \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/d.qcow2,disk=serial:ONE,node=drive-data"
	expect_rc 0
	echo '{}' > "$T/qmp.reply"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name via-agent
	expect_rc 0
	grep -q blockdev-snapshot-internal-sync "$T/qmp.log" ||
	    fail "the agent's monitor was not used: $(cat "$T/qmp.log")"
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name vm-two --cid 5 \
	    --qmp "$T/same.sock" --qmp-agent "$T/same.sock" \
	    --volume "uuid=$VOLUUID2,name=data,backend=qcow2,locator=$T/d2.qcow2,disk=serial:TWO"
	expect_rc 10
	expect_in "$ERR" "qmp_agent: '$T/same.sock' is the qmp socket itself"
	hostd_alive
}
