# Walking skeleton: identity over hybrid sockets, bad input, limits,
# persistence, control-socket access and the guest daemon.

# Two VMs on two sockets: each guest's status names its own VM.
test_two_vms_identity() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	add_vm $UUID2 vm-two "$T/vm2.sock" $VOLUUID2 SER2
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 0
	expect_in "$OUT" "vm-one"
	expect_in "$OUT" "$UUID1"
	expect_not_in "$OUT" "vm-two"
	run_cmd $AGENT --connect "unix:$T/vm2.sock_2210" --json status
	expect_rc 0
	expect_in "$OUT" "\"name\":\"vm-two\""
	expect_in "$OUT" "$UUID2"
	# The guest never sees host paths.
	expect_not_in "$OUT" "locator"
	expect_not_in "$OUT" "$T"
	# The environment variable selects the address too.
	run_cmd env EVE_GUEST_AGENT_CONNECT="unix:$T/vm1.sock_2210" $AGENT status
	expect_rc 0
	expect_in "$OUT" "vm-one"
}

# Garbage from one guest closes that connection; the other VM is served.
test_garbage_isolated() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	add_vm $UUID2 vm-two "$T/vm2.sock" $VOLUUID2 SER2
	run_cmd $WIRE "$T/vm1.sock_2210" garbage
	expect_in "$OUT" "INVALID_ARGUMENT"
	expect_in "$OUT" "closed"
	wait_for "grep -q 'protocol error' '$T/hostd.log'" ||
	    fail "no protocol error logged"
	run_cmd $AGENT --connect "unix:$T/vm2.sock_2210" status
	expect_rc 0
	expect_in "$OUT" "vm-two"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 0
	hostd_alive
}

# An oversized frame is refused before allocation and closes only that peer.
test_oversize_frame() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	run_cmd $WIRE "$T/vm1.sock_2210" oversize 65537
	expect_in "$OUT" "exceeds the 65536-byte cap"
	expect_in "$OUT" "closed"
	run_cmd $WIRE "$T/vm1.sock_2210" oversize 4000000000
	expect_in "$OUT" "closed"
	grep -q "frame of 65537 bytes exceeds" "$T/hostd.log" ||
	    fail "oversize not logged"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 0
	hostd_alive
}

# A truncated frame (peer leaves mid-frame) is logged; the daemon goes on.
test_truncated_frame() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	run_cmd $WIRE "$T/vm1.sock_2210" truncated
	wait_for "grep -q 'truncated frame' '$T/hostd.log'" ||
	    fail "truncated frame not logged"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 0
	hostd_alive
}

# Wrong protocol versions: in the Hello (UNSUPPORTED) and after it (closed).
test_wrong_version() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	run_cmd $WIRE "$T/vm1.sock_2210" badversion
	expect_in "$OUT" "INVALID_ARGUMENT"
	expect_in "$OUT" "protocol version 99"
	expect_in "$OUT" "closed"
	run_cmd env EVG_HELLO_VERSION=99 $WIRE "$T/vm1.sock_2210" hello
	expect_in "$OUT" "UNSUPPORTED"
	expect_in "$OUT" "not supported"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 0
	hostd_alive
}

# A removed VM's socket is gone (guest: exit 3, one line) and its open
# connections are closed.
test_unregistered_socket() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	EVG_ROLE=daemon bg $WIRE "$T/vm1.sock_2210" hold 30
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Connections:    1'" ||
	    fail "held connection not counted"
	run_cmd $HOSTCTL vm remove $UUID1
	expect_rc 0
	[ ! -e "$T/vm1.sock_2210" ] || fail "socket left behind"
	wait_for "grep -q 'VM was removed' '$T/hostd.log'" ||
	    fail "session of removed VM not closed"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 3
	[ "$(lines "$ERR")" -eq 1 ] || fail "expected one line: $ERR"
	expect_in "$ERR" "cannot reach the host"
	run_cmd $AGENT --json --connect "unix:$T/vm1.sock_2210" status
	expect_rc 3
	expect_in "$OUT" '"code":"UNAVAILABLE"'
	run_cmd $HOSTCTL vm show $UUID1
	expect_rc 11
	expect_in "$ERR" "no VM $UUID1 is registered"
}

# Invalid registrations are refused with the field named and the right code.
test_bad_registrations() {
	start_hostd
	local vol="uuid=$VOLUUID1,name=d,backend=qcow2,locator=/p/d.qcow2,disk=serial:X"
	for cid in 0 1 2 4294967295; do
		run_cmd $HOSTCTL vm add --uuid $UUID1 --name a --cid $cid --volume "$vol"
		expect_rc 10
		expect_in "$ERR" "cid: $cid is"
	done
	run_cmd $HOSTCTL vm add --uuid $UUID1 --name a --cid 3 --volume "$vol"
	expect_rc 0
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name b --cid 3 \
	    --volume "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/p/e.qcow2,disk=serial:Y"
	expect_rc 12
	expect_in "$ERR" "CID 3 already belongs to VM $UUID1"
	run_cmd $HOSTCTL vm add --uuid $UUID1 --name b --cid 4 \
	    --volume "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/p/e.qcow2,disk=serial:Y"
	expect_rc 12
	expect_in "$ERR" "uuid: VM $UUID1 is already registered"
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name b --cid 4 \
	    --volume "uuid=$VOLUUID2,name=d,backend=lvm,locator=/p/e,disk=serial:Y"
	expect_rc 10
	expect_in "$ERR" "volume[0].backend: unknown backend 'lvm'"
	run_cmd $HOSTCTL --json vm add --uuid $UUID2 --name b --cid 4 \
	    --volume "uuid=$VOLUUID2,name=d,backend=zfs,locator=/abs,disk=serial:Y"
	expect_rc 10
	expect_in "$OUT" '"code":"INVALID_ARGUMENT"'
	expect_in "$OUT" "volume[0].locator"
	for spec in "name=d" "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/x" \
	    "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/x,disk=serial" "junk"; do
		run_cmd $HOSTCTL vm add --uuid $UUID2 --name b --cid 4 --volume "$spec"
		expect_rc 2
		expect_in "$ERR" "--volume"
	done
	run_cmd $HOSTCTL vm add --uuid not-a-uuid --name b --cid 4 \
	    --volume "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/p/e.qcow2,disk=serial:Y"
	expect_rc 10
	expect_in "$ERR" "uuid: 'not-a-uuid' is not a UUID"
	run_cmd $HOSTCTL vm list
	expect_rc 0
	[ "$(echo "$OUT" | tail -n +2 | wc -l)" -eq 1 ] ||
	    fail "expected exactly one VM registered: $OUT"
	hostd_alive
}

# 200 idle connections on one VM's socket do not stop the other VM.
# A disk without a serial, registered by its place: pcipath (EVE's
# virtio-blk behind a root port).  The value is kept canonical (no 0000
# domain, lower case), as the guest derives it; a bad one is named.
test_pcipath_registration() {
	start_hostd
	run_cmd $HOSTCTL vm add --uuid $UUID1 --name a --cid 3 --volume \
	    "uuid=$VOLUUID1,name=d,backend=qcow2,locator=/p/d.qcow2,disk=pcipath:0000:04.0/1F.0"
	expect_rc 0
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_rc 0
	expect_in "$OUT" '"04.0/1f.0"'
	expect_not_in "$OUT" "0000:04.0"
	run_cmd $HOSTCTL vm add --uuid $UUID2 --name b --cid 4 --volume \
	    "uuid=$VOLUUID2,name=d,backend=qcow2,locator=/p/e.qcow2,disk=pcipath:04.0//00.0"
	expect_rc 10
	expect_in "$ERR" "volume[0].disk[0].value: bad pcipath '04.0//00.0'"
	expect_in "$ERR" "e.g. 04.0/00.0"
	hostd_alive
}

test_idle_flood_isolated() {
	printf 'handshake_timeout = 2\nmax_conns_per_vm = 8\n' > "$T/hostd.conf"
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	add_vm $UUID2 vm-two "$T/vm2.sock" $VOLUUID2 SER2
	local i
	for i in $(seq 1 200); do
		bg $WIRE "$T/vm1.sock_2210" idle >/dev/null 2>&1
	done
	wait_for "[ \$(grep -c 'refusing one more' '$T/hostd.log') -ge 150 ]" 10 ||
	    fail "per-VM cap not applied"
	run_cmd $AGENT --connect "unix:$T/vm2.sock_2210" status
	expect_rc 0
	expect_in "$OUT" "vm-two"
	# The silent ones are dropped at the handshake timeout; vm-one recovers.
	wait_for "grep -q 'no hello within 2 s' '$T/hostd.log'" 10 ||
	    fail "idle connections not dropped"
	wait_for "$AGENT --connect unix:$T/vm1.sock_2210 status >/dev/null 2>&1" 10 ||
	    fail "vm-one did not recover"
	hostd_alive
}

# At the per-VM cap a guest gets BUSY with the limit in one line.
test_per_vm_cap_busy() {
	printf 'max_conns_per_vm = 2\n' > "$T/hostd.conf"
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	bg $WIRE "$T/vm1.sock_2210" hold 30 >/dev/null
	bg $WIRE "$T/vm1.sock_2210" hold 30 >/dev/null
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Connections:    2'" ||
	    fail "held connections not counted"
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_rc 14
	expect_in "$ERR" "already has 2 connections (limit 2)"
}

# At max_control_conns a hostctl waits for a connection (saying so once)
# until its --timeout, then fails with the daemon's refusal; it gets
# through as soon as a connection is free.
test_control_cap_waits() {
	printf 'max_control_conns = 1\n' > "$T/hostd.conf"
	start_hostd
	bg $HOSTCTL events --follow >/dev/null 2>&1
	local follower=$LASTPID
	# Connected once a short call is refused.
	wait_for "! $HOSTCTL --timeout 1 vm list >/dev/null 2>&1" ||
	    fail "the follower holds no connection"
	run_cmd $HOSTCTL --timeout 1 vm list
	expect_rc 17
	expect_in "$ERR" "waiting for a connection: too many control connections (limit 1)"
	expect_in "$ERR" "eve-guest-hostctl: too many control connections (limit 1)"
	[ "$(printf '%s\n' "$ERR" | grep -c waiting)" -eq 1 ] ||
	    fail "said more than once that it waits: $ERR"
	# Waiting when the follower goes: through, with the VM list.
	( $HOSTCTL --timeout 10 vm list >"$T/out2" 2>"$T/err2"; echo $? >"$T/rc2" ) &
	wait_for "grep -q 'waiting for a connection' '$T/err2'" ||
	    fail "no wait: $(cat "$T/err2")"
	kill "$follower"
	wait_for "[ -s '$T/rc2' ]" 10 || fail "still waiting"
	[ "$(cat "$T/rc2")" -eq 0 ] || fail "rc $(cat "$T/rc2"): $(cat "$T/err2")"
	[ "$(grep -c waiting "$T/err2")" -eq 1 ] || fail "$(cat "$T/err2")"
	hostd_alive
}

# The registry survives a daemon restart, hybrid sockets included.
test_registry_persists() {
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1 --cid 42 --state stopped
	add_vm $UUID2 vm-two "$T/vm2.sock" $VOLUUID2 SER2
	stop_hostd
	[ ! -e "$CTL" ] || fail "control socket left behind"
	start_hostd
	run_cmd $HOSTCTL --json vm show $UUID1
	expect_rc 0
	expect_in "$OUT" '"cid":42'
	expect_in "$OUT" '"state":"stopped"'
	expect_in "$OUT" '"value":"SER1"'
	run_cmd $AGENT --connect "unix:$T/vm2.sock_2210" status
	expect_rc 0
	expect_in "$OUT" "vm-two"
	# A state change is persisted too.
	$HOSTCTL vm state $UUID1 running >/dev/null || fail "vm state"
	stop_hostd
	start_hostd
	run_cmd $HOSTCTL vm show $UUID1
	expect_in "$OUT" "State:          running"
}

# Control socket: mode 0600; a uid not in control_uids gets PERMISSION_DENIED.
test_control_access() {
	start_hostd
	[ "$(stat -c %a "$CTL")" = 600 ] || fail "control socket mode $(stat -c %a "$CTL")"
	stop_hostd
	printf 'control_uids = 4242\n' > "$T/hostd.conf"
	start_hostd
	run_cmd $HOSTCTL vm list
	expect_rc 15
	expect_in "$ERR" "uid 0 may not use the control socket"
	hostd_alive
}

# The guest daemon connects, answers pings, and reconnects after a restart.
test_guest_daemon() {
	printf 'ping_interval = 1\n' > "$T/hostd.conf"
	start_hostd
	add_vm $UUID1 vm-one "$T/vm1.sock" $VOLUUID1 SER1
	bg $AGENT --connect "unix:$T/vm1.sock_2210" daemon -f
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
	# Pings every second; a daemon that did not answer would be dropped.
	sleep 3.5
	$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected' ||
	    fail "daemon dropped: $(tail -5 "$T/hostd.log")"
	if grep -q "did not answer a ping" "$T/hostd.log"; then fail "ping missed"; fi
	run_cmd $AGENT --connect "unix:$T/vm1.sock_2210" status
	expect_in "$OUT" "connected"
	stop_hostd
	start_hostd
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" 10 ||
	    fail "daemon did not reconnect"
}

# A guest with no host: exit 3 and one clear line.
test_host_unreachable() {
	run_cmd $AGENT --connect "unix:$T/nothing.sock" status
	expect_rc 3
	[ "$(lines "$ERR")" -eq 1 ] || fail "expected one line: $ERR"
	expect_in "$ERR" "unix:$T/nothing.sock"
	run_cmd $AGENT --connect "tcp:1.2.3.4" status
	expect_rc 2
	run_cmd $HOSTCTL vm list
	expect_rc 3
}

# hostd -n checks the configuration: OK, or the bad key and line.
test_config_check() {
	printf '# ok\nvsock_port = 2300\n' > "$T/good.conf"
	run_cmd "$BUILD/eve-guest-hostd" -n -c "$T/good.conf"
	expect_rc 0
	expect_in "$OUT" "configuration OK"
	printf 'vsock_port = 2300\nmax_conns = lots\n' > "$T/bad.conf"
	run_cmd "$BUILD/eve-guest-hostd" -n -c "$T/bad.conf"
	expect_rc 1
	expect_in "$ERR" "bad.conf:2: max_conns: 'lots'"
	run_cmd "$BUILD/eve-guest-hostd" -n -c "$T/missing.conf"
	expect_rc 1
}

# The VM list is paged to the control frame cap: with max_frame_control
# at 2048 bytes, 40 VMs take several pages, and `vm list` shows them all,
# in registration order, in one table and one JSON document.
test_vm_list_paged() {
	printf 'max_frame_control = 2048\n' > "$T/hostd.conf"
	start_hostd
	local i
	for i in $(seq 10 49); do
		$HOSTCTL vm add --uuid "000000$i-0000-4000-8000-000000000000" \
		    --name "paged-$i" --cid "$i" --state stopped >/dev/null ||
		    fail "vm add $i"
	done
	run_cmd $HOSTCTL vm list
	expect_rc 0
	[ "$(printf '%s\n' "$OUT" | grep -c ' paged-')" -eq 40 ] ||
	    fail "vm list does not show 40 VMs: $OUT"
	[ "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $2 }' | tr '\n' ' ')" = \
	    "$(seq -f 'paged-%g' 10 49 | tr '\n' ' ')" ] || fail "out of order: $OUT"
	run_cmd $HOSTCTL --json vm list
	expect_rc 0
	[ "$(printf '%s' "$OUT" | grep -o '"name":"paged-[0-9]*"' | wc -l)" -eq 40 ] ||
	    fail "vm list --json does not hold 40 VMs"
	hostd_alive
}
