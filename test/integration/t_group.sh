# Snapshot groups from the controller on a stopped VM with two qcow2
# volumes (real qemu-img): one create is one group in both images; delete
# and rollback act on the whole group; a member failure keeps nothing; a
# SIGKILL of the host between the two backend snapshots leaves no partial
# group after the restart.  The guest-triggered group over two frozen
# filesystems is in t_guest.sh and test/vm.

# group_vm [HOSTCTL-ARGS...]: VM one, stopped, volumes data ($T/a.qcow2)
# and logs ($T/b.qcow2).
group_vm() {
	mkimg "$T/a.qcow2"
	mkimg "$T/b.qcow2"
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state stopped \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/a.qcow2,disk=serial:GA" \
	    --volume "uuid=$VOLUUID2,name=logs,backend=qcow2,locator=$T/b.qcow2,disk=serial:GB" \
	    "$@" >/dev/null || fail "vm add"
}

# evg_tags IMG: the host's own snapshot tags in IMG, one per line.
evg_tags() {
	qemu-img snapshot -l -U "$1" | awk 'NR > 2 && $2 ~ /^evg-/ { print $2 }'
}

# group_of: the group UUID in the last --json output (its first).
group_of() {
	printf '%s' "$OUT" | grep -o '"group_uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4
}

# One create over both volumes: one group, a tag in each image, one
# group UUID for both; the group is deleted as a whole by its UUID.
test_group_create_delete() {
	start_hostd
	group_vm
	run_cmd $HOSTCTL --json snapshot create --vm $UUID1 --name pair
	expect_rc 0
	local group
	group=$(group_of)
	[ -n "$group" ] || fail "no group_uuid in: $OUT"
	[ "$(printf '%s' "$OUT" | grep -o "\"group_uuid\":\"$group\"" | wc -l)" -eq 2 ] ||
	    fail "both members must carry group $group: $OUT"
	expect_in "$OUT" '"group_size":2'
	[ "$(evg_tags "$T/a.qcow2" | wc -l)" -eq 1 ] || fail "no snapshot in a.qcow2"
	[ "$(evg_tags "$T/b.qcow2" | wc -l)" -eq 1 ] || fail "no snapshot in b.qcow2"
	# A member's own UUID alone is refused.
	local member
	member=$(json_members | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$member"
	expect_rc 16
	expect_in "$ERR" "one of the 2 members of group $group"
	run_cmd $HOSTCTL snapshot delete --vm $UUID1 "$group"
	expect_rc 0
	[ -z "$(evg_tags "$T/a.qcow2")$(evg_tags "$T/b.qcow2")" ] ||
	    fail "the group's snapshots are still in the images"
	hostd_alive
}

# Rollback of the group restores both images; with --volume, only that
# member (a subset, named).
test_group_rollback_both() {
	start_hostd
	group_vm
	qio "$T/a.qcow2" "write -P 0x11 0 1M"
	qio "$T/b.qcow2" "write -P 0x22 0 1M"
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name before
	expect_rc 0
	qio "$T/a.qcow2" "write -P 0x33 0 1M"
	qio "$T/b.qcow2" "write -P 0x44 0 1M"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 before
	expect_rc 0
	holds "$T/a.qcow2" 0x11 ||
	    fail "data was not rolled back"
	holds "$T/b.qcow2" 0x22 ||
	    fail "logs was not rolled back"
	qio "$T/a.qcow2" "write -P 0x55 0 1M"
	qio "$T/b.qcow2" "write -P 0x66 0 1M"
	run_cmd $HOSTCTL snapshot rollback --vm $UUID1 before --volume $VOLUUID2
	expect_rc 0
	holds "$T/a.qcow2" 0x55 ||
	    fail "data was rolled back although only logs was named"
	holds "$T/b.qcow2" 0x22 ||
	    fail "logs was not rolled back"
	hostd_alive
}

# The second member's backend snapshot fails: nothing of the group is
# kept (the first member's snapshot is deleted again), the error names the
# volume and its cause.
test_group_member_failure_keeps_nothing() {
	cat > "$T/qemu-img" <<EOF
#!/bin/sh
case "\$*" in
*"snapshot -c"*b.qcow2*) echo "qemu-img: injected failure" >&2; exit 1 ;;
esac
exec qemu-img "\$@"
EOF
	chmod +x "$T/qemu-img"
	printf 'qemu_img = %s\n' "$T/qemu-img" > "$T/hostd.conf"
	start_hostd
	group_vm
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name pair
	[ "$RC" -ne 0 ] || fail "the create succeeded although a member failed"
	expect_in "$ERR" "logs"
	expect_in "$ERR" "injected failure"
	[ -z "$(evg_tags "$T/a.qcow2")$(evg_tags "$T/b.qcow2")" ] ||
	    fail "a member was kept: a=$(evg_tags "$T/a.qcow2") b=$(evg_tags "$T/b.qcow2")"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_not_in "$OUT" '"pair"'
	hostd_alive
}

# SIGKILL right after the first member's backend snapshot: after the
# restart the half-made group is undone (the first member's snapshot
# deleted again), nothing is listed, and neither image keeps a tag.
test_group_killed_between_members() {
	EVG_TEST_KILL_POINT=after-backend-create start_hostd
	group_vm
	run_cmd $HOSTCTL snapshot create --vm $UUID1 --name crashy
	[ "$RC" -ne 0 ] || fail "create answered although the daemon died"
	wait "$HOSTD_PID" 2>/dev/null
	[ "$(evg_tags "$T/a.qcow2" | wc -l)" -eq 1 ] ||
	    fail "the first member was not made before the kill"
	[ -z "$(evg_tags "$T/b.qcow2")" ] || fail "the second member was made"
	start_hostd
	wait_for "grep -q 'nothing of it is kept' '$T/hostd.log'" ||
	    fail "the half-made group was not undone: $(tail -5 "$T/hostd.log")"
	wait_for "[ -z \"\$(qemu-img snapshot -l -U '$T/a.qcow2' | awk 'NR > 2 && \$2 ~ /^evg-/')\" ]" 10 ||
	    fail "the first member's snapshot is still in a.qcow2"
	run_cmd $HOSTCTL --json snapshot list --vm $UUID1
	expect_rc 0
	expect_not_in "$OUT" "crashy"
	hostd_alive
}

# longest_pause LOG: "MS AT" of a writer's log (one time in ns a line):
# the longest pause between two writes, and when it began, in ms.
longest_pause() {
	awk 'NR>1 { d = ($1 - p) / 1000000; if (d > m) { m = d; at = p } } { p = $1 }
	    END { printf "%d %d", m, at / 1000000 }' "$1"
}

# From the guest: one group over two loop-mounted ext4 filesystems (two
# registered disks), writers on both.  Both are frozen at once, for the
# whole of both backend steps (the backend is slowed to 800 ms a step),
# by one freeze; the rollback of the group is refused while a member's
# filesystem is mounted, and once unmounted restores both volumes.
test_group_guest_two_filesystems() {
	mkfs_loop a ext4 || fail "mount a"
	mkfs_loop c ext4 || fail "mount c"
	mkimg "$T/vol-a.qcow2"
	mkimg "$T/vol-c.qcow2"
	qio "$T/vol-a.qcow2" "write -P 0x11 0 1M"
	qio "$T/vol-c.qcow2" "write -P 0x22 0 1M"
	printf 'backend_timeout = 60\n' > "$T/hostd.conf"
	EVG_TEST_BACKEND_DELAY_MS=800 start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state stopped \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/vol-a.qcow2,disk=backing:$T/a.img" \
	    --volume "uuid=$VOLUUID2,name=wal,backend=qcow2,locator=$T/vol-c.qcow2,disk=backing:$T/c.img" \
	    >/dev/null || fail "vm add"
	local g="$AGENT --connect unix:$T/one.sock_2210" w
	# A disk that is none of the VM's volumes among them: refused, naming
	# it, and nothing is frozen or made.
	mkfs_loop x ext4 || fail "mount x"
	run_cmd $g snapshot create "$LOOP_a" "$LOOP_x" --name mixed
	expect_rc 11
	expect_in "$ERR" "$LOOP_x"
	expect_in "$ERR" "is not one of VM vm-one's EVE volumes"
	[ -z "$(qemu-img snapshot -l -U "$T/vol-a.qcow2" | awk 'NR > 2')" ] ||
	    fail "a member was made for a refused group"
	# The same disk twice, and more than 32 disks: refused up front.
	run_cmd $g snapshot create "$LOOP_a" "$LOOP_a" --name twice
	[ "$RC" -ne 0 ] || fail "the same disk twice was accepted"
	run_cmd $g snapshot create $(for w in $(seq 33); do printf '%s ' "$LOOP_a"; done) --name many
	expect_rc 2
	expect_in "$ERR" "32"
	for w in a c; do
		bg sh -c "while :; do date +%s%N >> '$T/mnt/$w/log'; sleep 0.02; done"
	done
	sleep 0.3
	run_cmd $g --json snapshot create "$LOOP_a" "$LOOP_c" --name pair
	expect_rc 0
	sleep 0.3
	cleanup_pids_matching "date +%s%N"
	# Each member's record holds the group's one freeze: both mounts.
	[ "$(json_members | tr -d ' \t' | grep "\"mountpoint\":\"$T/mnt/a\",[^}]*\"action\":\"frozen\"" |
	    grep -c "\"mountpoint\":\"$T/mnt/c\",[^}]*\"action\":\"frozen\"")" -eq 2 ] ||
	    fail "expected both filesystems frozen, in each member's record: $OUT"
	expect_in "$OUT" '"group_size":2'
	# Both writers stalled for both backend steps (2 x 800 ms) at once.
	local ga gc first_a first_c
	ga=$(longest_pause "$T/mnt/a/log")
	gc=$(longest_pause "$T/mnt/c/log")
	echo "longest write pause (ms, starting at ms): a: $ga, c: $gc"
	first_a=${ga#* }
	first_c=${gc#* }
	[ "${ga% *}" -ge 1400 ] || fail "a's writer did not stall for both steps (${ga% *} ms)"
	[ "${gc% *}" -ge 1400 ] || fail "c's writer did not stall for both steps (${gc% *} ms)"
	[ $((first_a - first_c)) -lt 500 ] && [ $((first_c - first_a)) -lt 500 ] ||
	    fail "the two filesystems were not frozen at the same time"
	[ "$($HOSTCTL --json events | grep -c '"kind":"frozen"')" -eq 1 ] ||
	    fail "expected one freeze: $($HOSTCTL events)"
	if frozen "$T/mnt/a" || frozen "$T/mnt/c"; then fail "left frozen"; fi
	run_cmd $g snapshot list
	expect_rc 0
	[ "$(printf '%s\n' "$OUT" | grep -c ' pair ')" -eq 1 ] ||
	    fail "the group is not one row: $OUT"
	qio "$T/vol-a.qcow2" "write -P 0x33 0 1M"
	qio "$T/vol-c.qcow2" "write -P 0x44 0 1M"
	run_cmd $g snapshot rollback pair
	[ "$RC" -ne 0 ] || fail "rollback went ahead while mounted"
	expect_in "$ERR" "$T/mnt/a"
	umount "$T/mnt/a" && umount "$T/mnt/c" || fail "umount"
	run_cmd $g snapshot rollback pair
	expect_rc 0
	holds "$T/vol-a.qcow2" 0x11 ||
	    fail "data was not rolled back"
	holds "$T/vol-c.qcow2" 0x22 ||
	    fail "wal was not rolled back"
	hostd_alive
}
