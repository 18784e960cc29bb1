# Ownership (issue 13): EVE makes its own snapshots of the same images
# (qcow2 "<volume>-snapshot-<YYYYMMDDhhmmss>" on a stopped app, ZFS
# "<dataset>@YYYYMMDD-HHMMSSmmm").  The host adopts, lists, counts,
# deletes and rolls back only its own (evg-UUID, a bare UUID made before
# the prefix, a ZFS UUID property); EVE's are never touched.

# EVE's names for its own snapshots of volume VOLUUID1.
EVE_TAG=$VOLUUID1-snapshot-20261205101010
EVE_ZFS=20261205-101010123
LEGACY=cccccccc-1111-4111-8111-111111111111

# owner_uuids: the snapshot UUIDs of the last run's JSON output, one a line.
owner_uuids() {
	json_members | grep -o '"uuid":"[0-9a-f-]*"' | cut -d'"' -f4
}

# owner_restart: restart the daemon; its start-up check lists the backend.
owner_restart() {
	stop_hostd
	start_hostd
}

# owner_clean_log: no log line offers to adopt, or touch, a foreign name.
owner_clean_log() {
	if grep "adopted snapshot" "$T/hostd.log" | grep -qF "$1"; then
		fail "foreign $1 adopted: $(grep -F "$1" "$T/hostd.log")"
	fi
}

# A stopped VM on qcow2 (offline qemu-img): EVE's snapshot, older and
# newer than ours, is never listed (text or JSON), never counted, survives
# the delete of every listed snapshot and a rollback of ours, and cannot
# be named by a delete or rollback; a bare-UUID snapshot is adopted.
test_owner_qcow2_offline() {
	local img="$T/disk.qcow2" s uuids n
	mkimg "$img"
	qio "$img" "write -P 0xaa 0 1M"
	qemu-img snapshot -c "$EVE_TAG" "$img" || fail "EVE's snapshot"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$img" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name one
	expect_rc 0
	qemu-img snapshot -l "$img" | grep -qF "evg-" ||
	    fail "no evg- tag in the image: $(qemu-img snapshot -l "$img")"
	qio "$img" "write -P 0xbb 0 1M"
	qemu-img snapshot -c "$VOLUUID1-snapshot-20261205111111" "$img" ||
	    fail "EVE's second snapshot"
	qemu-img snapshot -c "$LEGACY" "$img" || fail "legacy snapshot"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name two
	expect_rc 0
	owner_restart
	wait_for "grep -q 'adopted snapshot' '$T/hostd.log'" ||
	    fail "the bare-UUID snapshot was not adopted"
	owner_clean_log "$EVE_TAG"
	owner_clean_log "snapshot-20261205111111"

	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" "snapshot-2026"
	expect_in "$OUT" "one"
	expect_in "$OUT" "two"
	expect_in "$OUT" "$LEGACY"
	[ "$(lines "$OUT")" -eq 4 ] || fail "expected a header and 3 rows: $OUT"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" "snapshot-2026"
	expect_in "$OUT" "\"uuid\":\"$LEGACY\""
	uuids=$(owner_uuids)
	[ "$(lines "$uuids")" -eq 3 ] || fail "expected 3 snapshots: $uuids"

	# Foreign names cannot be named: not a UUID, not a catalogued name.
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$EVE_TAG"
	[ "$RC" -ne 0 ] || fail "delete of EVE's snapshot answered 0"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 "$EVE_TAG"
	expect_rc 11

	# Rolling ours back leaves EVE's in place (newer and older).
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 one
	expect_rc 0
	holds "$img" 0xaa ||
	    fail "the rollback did not happen"
	qemu-img snapshot -l "$img" | grep -qF "$EVE_TAG" ||
	    fail "EVE's snapshot gone after a rollback"
	qemu-img snapshot -l "$img" | grep -qF "snapshot-20261205111111" ||
	    fail "EVE's newer snapshot gone after a rollback"

	for s in $uuids; do
		run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
		expect_rc 0
	done
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	[ -z "$(owner_uuids)" ] || fail "snapshots still listed: $OUT"
	qemu-img snapshot -l "$img" > "$T/snaps"
	grep -qF "$EVE_TAG" "$T/snaps" || fail "EVE's snapshot deleted: $(cat "$T/snaps")"
	n=$(grep -c '^[0-9]' "$T/snaps")
	[ "$n" -eq 2 ] || fail "expected EVE's 2 snapshots only: $(cat "$T/snaps")"

	# Another start-up check still leaves them alone.
	owner_restart
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ -z "$(owner_uuids)" ] || fail "listed after a restart: $OUT"
	[ "$(qemu-img snapshot -l "$img" | grep -c '^[0-9]')" -eq 2 ] ||
	    fail "EVE's snapshots changed: $(qemu-img snapshot -l "$img")"
	hostd_alive
}

# A snapshot and catalog from before the prefix (tag a bare UUID) load and
# work unchanged: listed once, ready, not adopted twice, deleted by UUID.
test_owner_legacy_catalog() {
	local img="$T/disk.qcow2" s cat="$T/state/catalogs/$UUID1.json"
	mkimg "$img"
	start_hostd
	add_qcow2_vm $UUID1 vm-one "$img" stopped
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name old
	expect_rc 0
	s=$(owner_uuids | head -1)
	stop_hostd
	# What the version before the prefix left: tag = UUID, in both.
	qemu-img snapshot -c "$s" "$img" || fail "bare tag"
	qemu-img snapshot -d "evg-$s" "$img" || fail "delete evg tag"
	sed -i "s/\"tag\":\"evg-$s\"/\"tag\":\"$s\"/" "$cat"
	grep -qF "\"tag\":\"$s\"" "$cat" || fail "catalog not rewritten: $(cat "$cat")"
	qemu-img snapshot -c "$EVE_TAG" "$img" || fail "EVE's snapshot"
	start_hostd
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	[ "$(owner_uuids)" = "$s" ] || fail "expected only $s: $OUT"
	expect_in "$OUT" '"state":"ready"'
	expect_in "$OUT" '"name":"old"'
	expect_not_in "$OUT" "adopted"
	grep -qF "\"tag\":\"$s\"" "$cat" || fail "the tag changed: $(cat "$cat")"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
	expect_rc 0
	qemu-img snapshot -l "$img" > "$T/snaps"
	if grep -qF "$s" "$T/snaps"; then fail "legacy snapshot left: $(cat "$T/snaps")"; fi
	grep -qF "$EVE_TAG" "$T/snaps" || fail "EVE's snapshot deleted"
}

# ZFS through the mock zfs: EVE's dataset@YYYYMMDD-HHMMSSmmm is never
# listed or destroyed; a rollback that would destroy it is refused, naming
# it; a snapshot with our UUID property is ours whatever its name, and a
# bare-UUID one is adopted.
test_owner_zfs_mock() {
	local ds=persist/vault/vol1 a b s u=dddddddd-1111-4111-8111-111111111111
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 17179869184 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vault%vol1"
	printf 'zfs = %s\nspace_reserve_mib = 0\n' "$ZFS_MOCK" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-z --hybrid-socket "$T/z.sock" --state stopped \
	    --volume "uuid=$VOLUUID1,name=pgdata,backend=zfs,locator=$ds,disk=wwn:naa.6001405a1b2c3d4e" \
	    >/dev/null || fail "vm add"
	$ZFS_MOCK snapshot "$ds@20261204-090000001" || fail "EVE's older snapshot"
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name a
	expect_rc 0
	a=$(owner_uuids | head -1)
	grep -qF "$ds@evg-$a" "$EVG_MOCK_ZFS_DIR/calls.log" ||
	    fail "not named evg-UUID: $(cat "$EVG_MOCK_ZFS_DIR/calls.log")"
	$ZFS_MOCK snapshot "$ds@$EVE_ZFS" || fail "EVE's snapshot"
	$ZFS_MOCK snapshot -o eve:snapshot-uuid=$u -o eve:snapshot-name=renamed \
	    "$ds@weekly" || fail "property snapshot"
	$ZFS_MOCK snapshot "$ds@$LEGACY" || fail "legacy snapshot"
	owner_restart
	owner_clean_log "$EVE_ZFS"
	owner_clean_log "20261204-090000001"

	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" "2026120"
	expect_in "$OUT" "\"uuid\":\"$u\""
	expect_in "$OUT" '"name":"renamed"'
	expect_in "$OUT" "\"uuid\":\"$LEGACY\""
	[ "$(lines "$(owner_uuids)")" -eq 3 ] || fail "expected 3 snapshots: $OUT"
	run_cmd $HOSTCTL snapshot list --vm $UUID1
	expect_not_in "$OUT" "2026120"

	# EVE's snapshot is newer than a: the rollback is refused, naming it.
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 a
	expect_rc 16
	expect_in "$ERR" "$ds@$EVE_ZFS"
	expect_in "$ERR" "did not make"
	grep -q "rollback" "$EVG_MOCK_ZFS_DIR/calls.log" &&
	    fail "zfs rollback ran: $(grep rollback "$EVG_MOCK_ZFS_DIR/calls.log")"

	# A snapshot newer than every foreign one rolls back (EVE's stay).
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name b
	expect_rc 0
	b=$(owner_uuids | head -1)
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 b
	expect_rc 0
	grep -qF "rollback $ds@evg-$b" "$EVG_MOCK_ZFS_DIR/calls.log" ||
	    fail "no rollback to b: $(cat "$EVG_MOCK_ZFS_DIR/calls.log")"

	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	for s in $(owner_uuids); do
		run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$s"
		expect_rc 0
	done
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	[ -z "$(owner_uuids)" ] || fail "snapshots still listed: $OUT"
	$ZFS_MOCK list -Hp -t snapshot -o name "$ds" > "$T/zsnaps"
	[ "$(cat "$T/zsnaps")" = "$(printf '%s\n' "$ds@20261204-090000001" "$ds@$EVE_ZFS")" ] ||
	    fail "expected EVE's 2 snapshots only: $(cat "$T/zsnaps")"
	grep -E "destroy .*@2026|rollback -r" "$EVG_MOCK_ZFS_DIR/calls.log" &&
	    fail "EVE's snapshot was touched"
	hostd_alive
}

# A running VM (QMP listing): EVE's snapshots in QEMU's list of the node
# are not adopted; ours (evg-UUID) are.
test_owner_qmp_list() {
	echo '[{"node-name": "drive-data", "image": {"snapshots": [
	       {"name": "'"$EVE_TAG"'", "date-sec": 1764929410},
	       {"name": "evg-'"$LEGACY"'", "date-sec": 1764929411}]}}]' > "$T/qmp.reply"
	fake_qmp_start
	start_hostd
	add_qmp_vm
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name first
	expect_rc 0
	owner_restart
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_in "$OUT" "\"uuid\":\"$LEGACY\""
	expect_not_in "$OUT" "snapshot-2026"
	owner_clean_log "$EVE_TAG"
	hostd_alive
}
