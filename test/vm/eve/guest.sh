# shellcheck shell=dash
# What runs inside the EVE-shaped guest that test/vm/eve-node.sh boots (as
# /evg/test.sh, started by test/vm/init).  The host side is NOT in here:
# eve-guest-hostd runs on the machine that runs QEMU and snapshots the
# qcow2 volumes through this very QEMU's QMP socket.  This side is what a
# VM user has: the guest agent (CLI and daemon), ext4 filesystems on the
# disks EVE attached, an application writing to them, and the snapshot
# hooks in /etc/eve/snapshots.
#
# The guest reaches the host daemon through a bridge that is test plumbing
# only (on EVE it is AF_VSOCK): socat listens on /run/evg.sock and connects
# to 10.0.2.100:2210, which QEMU's user network forwards to the VM's hybrid
# socket on the host.
#
# Two boots, chosen by evg.phase= on the kernel command line:
#   1  mkfs and mount ext4 on vda (slot 4), vdb (slot 5) and sda (the SCSI
#      disk standing in for a ZFS zvol); start the writers, the daemon and
#      the hooks; guest-triggered creates by disk; then hand over to the
#      host (console marker "EVE-GUEST: host-turn") and wait for its
#      "host-done" snapshot; list and delete; stop the writers, unmount,
#      power off.
#   2  (after the host renamed the images, changed CID, QMP path and WWN,
#      and applied a rollback of vda) mount again: vda holds the rolled
#      back data, every snapshot is still listed, a new create works; hand
#      over for the host's create ("c-after"); roll vdb back online twice,
#      the second time with the host daemon killed midway ("online-kill",
#      waiting for the host's "kill-armed"); power off.
#
# Console lines "EVE-GUEST: WORD" are the markers eve-node.sh waits for.
# shellcheck source=../tests/lib.sh
. /evg/lib.sh

AGENT="eve-guest-agent --connect unix:/run/evg.sock"
HOOKS=/etc/eve/snapshots
PHASE=$(sed -n 's/.*[[:space:]]evg\.phase=\([0-9]*\).*/\1/p' /proc/cmdline)
FOREIGN_TAG=$(sed -n 's/.*[[:space:]]evg\.foreign=\([^[:space:]]*\).*/\1/p' /proc/cmdline)
WWN=$(sed -n 's/.*[[:space:]]evg\.wwn=\([^[:space:]]*\).*/\1/p' /proc/cmdline)

marker() { echo "EVE-GUEST: $*"; }

# guest_finish: stop what this side started, print the tally, exit.
guest_finish() {
	local p
	touch /run/writer.stop
	for m in /mnt/vda /mnt/vdb /mnt/sda; do
		fsfreeze -u "$m" 2>/dev/null
	done
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	if [ $FAILED -gt 0 ] && [ -f /run/daemon.log ]; then
		echo "# guest daemon log (tail):"
		tail -8 /run/daemon.log | sed 's/^/#   /'
	fi
	echo "checks: $PASSED passed, $FAILED failed"
	[ $FAILED -eq 0 ] && exit 0
	[ $FAILED -lt 100 ] && exit "$FAILED"
	exit 100
}

# bridge_up: eth0 on QEMU's user network, and the socat bridge to the
# host's hybrid socket at /run/evg.sock.
bridge_up() {
	ip link set lo up && ip link set eth0 up &&
	    ip addr add 10.0.2.15/24 dev eth0 || return 1
	bg socat UNIX-LISTEN:/run/evg.sock,fork,mode=600 TCP:10.0.2.100:2210
	wait_for "[ -S /run/evg.sock ]" 5
}

# names_listed: the snapshot names in OUT (a --json list), one a line.
names_listed() {
	printf '%s' "$OUT" | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | sort
}

# uuid_of NAME: the UUID of the snapshot NAME in OUT (a --json list).
uuid_of() {
	json_items | grep -F "\"name\":\"$1\"" | head -1 |
	    grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4
}

# wait_snapshot NAME SECONDS: poll the agent's list until NAME shows up.
wait_snapshot() {
	local i=0 max=$(($2 * 2))
	while [ $i -lt $max ]; do
		run $AGENT --json snapshot list
		[ "$RC" -eq 0 ] && has "\"name\":\"$1\"" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# writer MNT: the application.  Appends records to MNT/w/log and replaces
# MNT/w/file.N by a rename of a new temp file, fsyncing every fifth;
# holds while /run/writer.hold exists (acknowledged by
# /run/writer.held.NAME), stops at /run/writer.stop.
writer() {
	local mnt=$1 name n=0 sync
	name=$(basename "$1")
	mkdir -p "$mnt/w"
	while [ ! -f /run/writer.stop ]; do
		if [ -f /run/writer.hold ]; then
			touch "/run/writer.held.$name"
			sleep 0.05
			continue
		fi
		rm -f "/run/writer.held.$name"
		n=$((n + 1))
		echo "record $n $(cut -d' ' -f1 /proc/uptime)" >> "$mnt/w/log"
		sync=""
		[ $((n % 5)) -eq 0 ] && sync=conv=fsync
		dd if=/dev/urandom of="$mnt/w/tmp.$n" bs=4k count=8 $sync \
		    2>/dev/null
		mv "$mnt/w/tmp.$n" "$mnt/w/file.$((n % 16))"
	done
	echo "$n" > "/run/writer.count.$name"
}

# install_hooks: pre.sh holds the writers and records the quiesced state
# on each data disk; post.sh records the resume and releases them.
install_hooks() {
	mkdir -p "$HOOKS"
	chmod 755 /etc "$HOOKS"
	cat > "$HOOKS/pre.sh" <<'EOF'
#!/bin/sh
# The application's pre hook: hold the writers, record the state.
echo "pre: op=$EVE_SNAPSHOT_OPERATION name=$EVE_SNAPSHOT_NAME disks=$EVE_SNAPSHOT_DISKS" >> /run/hooks.log
touch /run/writer.hold
i=0
while [ $i -lt 50 ]; do
	[ -f /run/writer.held.vda ] && [ -f /run/writer.held.vdb ] && break
	sleep 0.1
	i=$((i + 1))
done
if [ "$EVE_SNAPSHOT_OPERATION" = create ]; then
	for m in /mnt/vda /mnt/vdb; do
		echo "quiesced for $EVE_SNAPSHOT_NAME" > "$m/app-state"
	done
fi
echo "writers held"
EOF
	cat > "$HOOKS/post.sh" <<'EOF'
#!/bin/sh
# The application's post hook: record the resume, release the writers.
echo "post: phase=$EVE_SNAPSHOT_PHASE name=$EVE_SNAPSHOT_NAME" >> /run/hooks.log
for m in /mnt/vda /mnt/vdb; do
	echo "resumed after $EVE_SNAPSHOT_NAME" > "$m/app-state"
done
rm -f /run/writer.hold
echo "writers released"
EOF
	chmod 755 "$HOOKS/pre.sh" "$HOOKS/post.sh"
}

# daemon_up: the guest agent daemon (hooks in /etc/eve/snapshots),
# connected as the host sees it.
daemon_up() {
	eve-guest-agent --connect unix:/run/evg.sock daemon -f \
	    > /run/daemon.log 2>&1 &
	PIDS="$! $PIDS"
	wait_for "$AGENT status 2>/dev/null | grep -q 'Agent: *connected'" 15
}

# The disks as EVE attaches them: no serials; vda and vdb each behind a
# root port (slots 4 and 5); sda with the zvol-style naa.5001405 WWN.
disk_checks() {
	check "vda: virtio-blk, no serial, PCI 0000:00:04.0 -> 0000:01:00.0" all \
	    '[ -z "$(cat /sys/block/vda/serial 2>/dev/null)" ]' \
	    'readlink -f /sys/block/vda/device | grep -q "/0000:00:04.0/0000:01:00.0/virtio"'
	check "vdb: virtio-blk, no serial, PCI 0000:00:05.0 -> 0000:02:00.0" all \
	    '[ -z "$(cat /sys/block/vdb/serial 2>/dev/null)" ]' \
	    'readlink -f /sys/block/vdb/device | grep -q "/0000:00:05.0/0000:02:00.0/virtio"'
	check "sda: SCSI wwid $WWN" [ "$(cat /sys/block/sda/device/wwid)" = "$WWN" ]
	run eve-guest-agent info
	check "agent info: vda pcipath=04.0/00.0, vdb pcipath=05.0/00.0" all \
	    'rc_is 0' \
	    'printf "%s\n" "$OUT" | grep -w vda | grep -q "pcipath=04.0/00.0"' \
	    'printf "%s\n" "$OUT" | grep -w vdb | grep -q "pcipath=05.0/00.0"'
	printf '%s\n' "$OUT" | grep -E '^ *(vd[ab]|sda)\b|wwn|pcipath' | sed 's/^/#   /'
}

# create_on DISK NAME MNT: a guest-triggered create on DISK; fs, froze MNT.
create_on() {
	run $AGENT --json snapshot create "$1" --name "$2"
	check "guest: snapshot create $1 --name $2 (fs, guest, froze $3)" all \
	    'rc_is 0' 'has "\"consistency\":\"fs\""' 'has "\"origin\":\"guest\""' \
	    "has '\"disk\":\"$1\"'" \
	    "json_leaf_with '\"mountpoint\":\"$3\"' '\"action\":\"frozen\"'"
	echo "#   $(printf '%s\n' "$OUT" |
	    grep -E '"(name|uuid|volume|backend|freeze_ms)"' | tr -d ' \n')"
}

phase1() {
	check "mkfs.ext4 and mount vda, vdb, sda" all \
	    'mkfs_mount /dev/vda /mnt/vda' 'mkfs_mount /dev/vdb /mnt/vdb' \
	    'mkfs_mount /dev/sda /mnt/sda'
	echo "first boot" > /mnt/vda/boot-1
	run $AGENT status
	check "agent status through the bridge: the host knows this VM" all \
	    'rc_is 0' 'has "eve-app"'
	printf '%s\n' "$OUT" | sed 's/^/#   /'
	install_hooks
	check "agent daemon connected (hooks in $HOOKS)" daemon_up
	bg writer /mnt/vda
	bg writer /mnt/vdb
	sleep 1

	create_on /dev/vda g-vda /mnt/vda
	create_on /dev/vdb g-vdb /mnt/vdb
	create_on /dev/sda g-sda /mnt/sda
	# A group over both data disks, both writers running: one freeze.
	run $AGENT --json snapshot create /dev/vda /dev/vdb --name g-pair
	check "guest: snapshot create /dev/vda /dev/vdb --name g-pair (one group, both frozen)" all \
	    'rc_is 0' 'has "\"group_size\":2"' 'has "\"disk\":\"/dev/vda\""' \
	    'has "\"disk\":\"/dev/vdb\""' \
	    "json_leaf_with '\"mountpoint\":\"/mnt/vda\"' '\"action\":\"frozen\"'" \
	    "json_leaf_with '\"mountpoint\":\"/mnt/vdb\"' '\"action\":\"frozen\"'"
	run $AGENT snapshot list
	check "guest: snapshot list shows g-pair as one row with both disks" all \
	    'rc_is 0' 'printf "%s\n" "$OUT" | grep " g-pair " | grep -q "/dev/vda,/dev/vdb"'
	run $AGENT snapshot create /dev/vda --name g-tmp
	check "guest: snapshot create /dev/vda --name g-tmp (the host deletes it)" rc_is 0
	run $AGENT snapshot list
	check "guest: snapshot list shows g-vda on /dev/vda, g-sda on /dev/sda" all \
	    'rc_is 0' \
	    'printf "%s\n" "$OUT" | grep " g-vda " | grep -q "/dev/vda\$"' \
	    'printf "%s\n" "$OUT" | grep " g-vdb " | grep -q "/dev/vdb\$"' \
	    'printf "%s\n" "$OUT" | grep " g-sda " | grep -q "/dev/sda\$"'
	printf '%s\n' "$OUT" | sed 's/^/#   /'

	marker "host-turn"
	check "the host's turn ends: snapshot host-done appears (120 s at most)" \
	    wait_snapshot host-done 120
	run $AGENT --json snapshot list
	check "guest: the host's c-fs, c-app, c-crash and c-tmp are listed, g-tmp is gone" all \
	    'rc_is 0' 'has "\"name\":\"c-fs\""' 'has "\"name\":\"c-app\""' \
	    'has "\"name\":\"c-crash\""' 'has "\"name\":\"c-tmp\""' \
	    'lacks "\"name\":\"g-tmp\""'
	check "guest: the foreign snapshot $FOREIGN_TAG is not listed" \
	    lacks "$FOREIGN_TAG"
	check "guest: every host snapshot is listed with origin controller" all \
	    "json_item_with '\"name\":\"c-fs\"' '\"origin\":\"controller\"'" \
	    "json_item_with '\"name\":\"c-app\"' '\"consistency\":\"app\"'" \
	    "json_item_with '\"name\":\"c-crash\"' '\"consistency\":\"crash\"'"
	u=$(uuid_of c-tmp)
	run $AGENT snapshot delete "$u"
	check "guest: snapshot delete c-tmp ($u), made by the host" rc_is 0
	run $AGENT snapshot list
	check "guest: c-tmp is gone from the list" all 'rc_is 0' 'lacks " c-tmp "'
	printf '%s\n' "$OUT" | sed 's/^/#   /'
	echo "# hooks run:"
	sed 's/^/#   /' /run/hooks.log 2>/dev/null

	touch /run/writer.stop
	rm -f /run/writer.hold
	wait_for "[ -f /run/writer.count.vda ] && [ -f /run/writer.count.vdb ]" 10
	echo "# writer records: vda $(cat /run/writer.count.vda 2>/dev/null), vdb $(cat /run/writer.count.vdb 2>/dev/null)"
	check "unmount vda, vdb, sda cleanly" all 'umount /mnt/vda' \
	    'umount /mnt/vdb' 'umount /mnt/sda'
	marker "phase1-done"
}

# pci_disk PATH: the vd* disk at PCI path PATH now (any name), or nothing.
pci_disk() {
	local d
	for d in /sys/block/vd*; do
		readlink -f "$d/device" | grep -q "$1/virtio" && basename "$d" &&
		    return 0
	done
	return 1
}

# gap_ok FROM TO: the writer on vda wrote during [FROM, TO] (uptime
# seconds), never pausing for 3 s or more; prints its figures.
gap_ok() {
	awk -v a="$1" -v b="$2" '$3 >= a && $3 <= b {
		if (n++) { g = $3 - t; if (g > max) max = g }
		t = $3
	} END {
		printf "#   writer on vda during the rollback: %d records, longest pause %.2f s\n", n, max
		exit !(n >= 2 && max < 3)
	}' /mnt/vda/w/log
}

VDB_PCI=/0000:00:05.0/0000:02:00.0

# The online rollback of vdb (a data disk, unmounted for it) while the
# writer on vda runs: refused while mounted; then the disk is unplugged,
# reverted and plugged back by the host over QMP, and comes back at the
# same PCI path with the snapshot's data, without a reboot.  Then once
# more with the host daemon killed after the unplug: its restart puts the
# disk back, rolled back.
online_rollback() {
	local known up0 up1 new
	dd if=/dev/urandom of=/mnt/vdb/known bs=64k count=16 2>/dev/null
	sync
	known=$(sha256sum < /mnt/vdb/known | cut -c1-16)
	create_on /dev/vdb o-base /mnt/vdb
	dd if=/dev/urandom of=/mnt/vdb/known bs=64k count=16 conv=fsync 2>/dev/null
	echo changed > /mnt/vdb/changed
	sync
	run $AGENT snapshot rollback o-base /dev/vdb
	check "guest: rollback of /dev/vdb refused while /mnt/vdb is mounted" all \
	    'rc_is 16' 'has "/mnt/vdb" "$ERR"' 'has "unmount it first" "$ERR"'
	check "umount /mnt/vdb" umount /mnt/vdb
	up0=$(cut -d' ' -f1 /proc/uptime)
	run $AGENT snapshot rollback o-base /dev/vdb
	up1=$(cut -d' ' -f1 /proc/uptime)
	printf '%s\n' "$OUT" "$ERR" | sed 's/^/#   /'
	check "guest: snapshot rollback o-base /dev/vdb, online ($up0 s -> $up1 s of uptime)" all \
	    'rc_is 0' 'has "Rolled back /dev/vdb"' 'lacks "scheduled"'
	new=$(pci_disk $VDB_PCI)
	check "the disk is back at PCI path $VDB_PCI, as /dev/$new" [ -n "$new" ]
	check "mount /dev/$new: it holds o-base's data (sha256 $known), not the later change" all \
	    "mount -t ext4 /dev/$new /mnt/vdb" \
	    '[ "$(sha256sum < /mnt/vdb/known | cut -c1-16)" = "$known" ]' \
	    '[ ! -e /mnt/vdb/changed ]'
	check "no reboot: uptime went on from $up0 s to $up1 s" \
	    awk "BEGIN { exit !($up1 > $up0) }"
	check "the writer on the other disk (vda) never stopped" gap_ok "$up0" "$up1"

	echo changed-again > /mnt/vdb/changed
	sync
	check "umount /mnt/vdb for the second online rollback" umount /mnt/vdb
	marker "online-kill"
	check "the host armed its kill (snapshot kill-armed, 60 s)" \
	    wait_snapshot kill-armed 60
	run $AGENT snapshot rollback o-base /dev/vdb
	printf '%s\n' "$OUT" "$ERR" | sed 's/^/#   /'
	echo "#   (the host daemon was killed during it: exit $RC)"
	check "the disk is back at $VDB_PCI after the host daemon's restart (90 s)" \
	    wait_for '[ -n "$(pci_disk $VDB_PCI)" ] && [ -b "/dev/$(pci_disk $VDB_PCI)" ]' 90
	new=$(pci_disk $VDB_PCI)
	check "mount /dev/$new: o-base's data again" all \
	    "wait_for 'mount -t ext4 /dev/$new /mnt/vdb 2>/dev/null' 10" \
	    '[ "$(sha256sum < /mnt/vdb/known | cut -c1-16)" = "$known" ]' \
	    '[ ! -e /mnt/vdb/changed ]'

	# The controller's: the guest daemon is asked whether vdb is free.
	echo changed-by-the-guest > /mnt/vdb/changed
	sync
	check "umount /mnt/vdb for the controller's online rollback" umount /mnt/vdb
	check "the agent daemon is connected again after the host's restart (30 s)" \
	    wait_for "$AGENT status 2>/dev/null | grep -q 'Agent: *connected'" 30
	marker "host-online"
	check "the host's online rollback ends: snapshot host-online-done appears (90 s)" \
	    wait_snapshot host-online-done 90
	new=$(pci_disk $VDB_PCI)
	check "the disk is back at $VDB_PCI as /dev/$new, with o-base's data" all \
	    '[ -n "$new" ]' "wait_for 'mount -t ext4 /dev/$new /mnt/vdb 2>/dev/null' 10" \
	    '[ "$(sha256sum < /mnt/vdb/known | cut -c1-16)" = "$known" ]' \
	    '[ ! -e /mnt/vdb/changed ]'
	grep disk_release /run/daemon.log | tail -1 | sed 's/^/#   daemon: /'
	marker "online-done"
}

phase2() {
	check "mount vda, vdb, sda (made in the first boot)" all \
	    'mkdir -p /mnt/vda /mnt/vdb /mnt/sda' \
	    'mount -t ext4 /dev/vda /mnt/vda' 'mount -t ext4 /dev/vdb /mnt/vdb' \
	    'mount -t ext4 /dev/sda /mnt/sda'
	# c-fs came after g-vda and before c-app, whose pre hook wrote
	# app-state; vdb was not rolled back.
	check "vda is rolled back to c-fs: first-boot data there, no app-state yet" all \
	    '[ -f /mnt/vda/boot-1 ]' '[ -s /mnt/vda/w/log ]' \
	    '[ ! -e /mnt/vda/app-state ]'
	check "vdb is not rolled back: app-state says $(cat /mnt/vdb/app-state 2>/dev/null)" \
	    grep -q "resumed after" /mnt/vdb/app-state
	run $AGENT status
	check "agent status: the host knows this VM after its restart" all \
	    'rc_is 0' 'has "eve-app"'
	printf '%s\n' "$OUT" | sed 's/^/#   /'
	install_hooks
	check "agent daemon connected" daemon_up
	run $AGENT --json snapshot list
	check "guest: every snapshot of the first boot is still listed" all \
	    'rc_is 0' 'has "\"name\":\"g-vda\""' 'has "\"name\":\"g-vdb\""' \
	    'has "\"name\":\"g-sda\""' 'has "\"name\":\"c-fs\""' \
	    'has "\"name\":\"c-app\""' 'has "\"name\":\"c-crash\""' \
	    'has "\"name\":\"host-done\""'
	check "guest: g-sda shows on /dev/sda (its new WWN $WWN)" \
	    json_item_with '"name":"g-sda"' '"disk":"/dev/sda"'
	check "guest: the foreign snapshot $FOREIGN_TAG is not listed" \
	    lacks "$FOREIGN_TAG"
	bg writer /mnt/vda
	sleep 0.5
	create_on /dev/vda g-after /mnt/vda
	create_on /dev/sda g-sda-after /mnt/sda
	marker "host-turn"
	check "the host's turn ends: snapshot c-after appears (60 s at most)" \
	    wait_snapshot c-after 60
	run $AGENT snapshot list
	check "guest: g-after and c-after are listed" all 'rc_is 0' \
	    'has " g-after "' 'has " c-after "'
	printf '%s\n' "$OUT" | sed 's/^/#   /'
	online_rollback
	touch /run/writer.stop
	wait_for "[ -f /run/writer.count.vda ]" 10
	check "unmount vda, vdb, sda cleanly" all 'umount /mnt/vda' \
	    'umount /mnt/vdb' 'umount /mnt/sda'
	marker "phase2-done"
}

echo "guest phase $PHASE: disks $(cd /sys/block && echo vd* sd*)"
disk_checks
if ! check "transport bridge: eth0 10.0.2.15, socat on /run/evg.sock" bridge_up; then
	guest_finish
fi
case "$PHASE" in
1) phase1 ;;
2) phase2 ;;
*) check "evg.phase=1 or 2 on the kernel command line" false ;;
esac
guest_finish
