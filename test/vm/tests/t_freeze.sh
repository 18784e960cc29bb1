# vm-disks: --disk virtio-blk,serial=EVG-DATA-1 --disk virtio-blk,addr=0x5 --disk scsi-hd,wwn=0x5000c500a1b2c3d4,serial=EVG-SCSI-1
#
# The freeze is real, in a real kernel on real virtio/SCSI disks: while the
# host takes the snapshot (held open 1.5 s by EVG_TEST_BACKEND_DELAY_MS), a
# writer on the target's ext4 blocks and completes after the thaw with its
# data; a writer on another disk's filesystem never stalls.  The
# consistency record (in the answer and in the host's catalog) names the
# mounts that were really frozen: the target's only; for the SCSI disk, both
# of its partitions' filesystems, whether the disk or one partition is
# named.
# shellcheck source=lib.sh
. /evg/lib.sh

check "mkfs.ext4 and mount vda (target) and vdb (other)" all \
    'mkfs_mount /dev/vda /mnt/vda' 'mkfs_mount /dev/vdb /mnt/vdb'
check "sda: two partitions, ext4 on each, mounted" all \
    'partition /dev/sda +24M ""' 'mkfs_mount /dev/sda1 /mnt/sda1' \
    'mkfs_mount /dev/sda2 /mnt/sda2'

volume a
volume b
volume c
EVG_TEST_BACKEND_DELAY_MS=1500 host_start backend_timeout=60
run $HOSTCTL vm add --uuid $VM_UUID --name vm-freeze \
    --hybrid-socket "$H/vm.sock" --state stopped \
    --volume "uuid=$VOL_A,name=data,backend=qcow2,locator=$H/a.qcow2,disk=serial:EVG-DATA-1" \
    --volume "uuid=$VOL_B,name=other,backend=qcow2,locator=$H/b.qcow2,disk=pci:0000:00:05.0" \
    --volume "uuid=$VOL_C,name=scsi,backend=qcow2,locator=$H/c.qcow2,disk=wwn:naa.5000c500a1b2c3d4"
check "register the VM" rc_is 0
AGENT="eve-guest-agent --connect unix:$H/vm.sock_2210"

now() { cut -d' ' -f1 /proc/uptime; }
# ticker MNT: append the time to MNT/log every 20 ms.
ticker() {
	while :; do
		now >> "$1/log"
		sleep 0.02
	done
}
# longest_gap MNT: the longest pause between two ticks, in ms.
longest_gap() {
	awk 'NR > 1 { d = $1 - p; if (d > m) m = d } { p = $1 }
	    END { printf "%d", m * 1000 }' "$1/log"
}

bg ticker /mnt/vda
T_A=$LASTPID
bg ticker /mnt/vdb
T_B=$LASTPID
sleep 0.5

# The create runs in the background; its answer lands in $H/create.*.
create_bg() {
	$AGENT --json snapshot create /dev/vda --name frozen-window \
	    > "$H/create.out" 2> "$H/create.err"
	echo $? > "$H/create.rc"
}
bg create_bg

# Catch the window: a writer that does not finish within 0.3 s.
frozen=0
i=0
while [ $i -lt 40 ] && [ ! -e "$H/create.rc" ]; do
	sh -c "echo payload > /mnt/vda/during; cut -d' ' -f1 /proc/uptime > $H/during.done" &
	W=$!
	sleep 0.3
	if kill -0 $W 2>/dev/null; then
		frozen=1
		T_SEEN=$(now)
		break
	fi
	wait $W
	rm -f "$H/during.done"
	i=$((i + 1))
done
check "a writer on /mnt/vda blocks while the snapshot is taken" [ $frozen -eq 1 ]
sleep 0.3
check "it is still blocked 0.3 s later and has written nothing" all \
    'kill -0 $W 2>/dev/null' '[ ! -e "$H/during.done" ]'
check "meanwhile /mnt/vdb takes writes" writable /mnt/vdb
wait_for "[ -e '$H/create.rc' ]" 60
T_DONE=$(now)
OUT=$(cat "$H/create.out")
ERR=$(cat "$H/create.err")
RC=$(cat "$H/create.rc" 2>/dev/null || echo 124)
check "snapshot create /dev/vda succeeds" rc_is 0
check "the blocked writer completes after the thaw, with its data" all \
    "wait_for '[ -e $H/during.done ]' 5" \
    '[ "$(cat /mnt/vda/during)" = payload ]'
echo "#   window seen at ${T_SEEN:-?} s, create done at $T_DONE s, writer done at $(cat "$H/during.done" 2>/dev/null) s (guest uptime)"
sleep 0.3
kill $T_A $T_B 2>/dev/null
wait $T_A $T_B 2>/dev/null
GAP_A=$(longest_gap /mnt/vda)
GAP_B=$(longest_gap /mnt/vdb)
echo "#   longest pause between two writes: /mnt/vda ${GAP_A} ms, /mnt/vdb ${GAP_B} ms"
check "the target's ticker stalled for the window (>= 1200 ms)" [ "$GAP_A" -ge 1200 ]
check "the other filesystem's ticker never stalled (< 1000 ms)" [ "$GAP_B" -lt 1000 ]
check "the consistency record names /mnt/vda, frozen, and nothing else" all \
    "json_leaf_with '\"mountpoint\":\"/mnt/vda\"' '\"action\":\"frozen\"'" \
    '[ "$(count "\"action\":\"frozen\"")" -eq 1 ]' \
    'lacks /mnt/vdb' 'lacks /mnt/sda' 'has "\"freeze_ms\":"'
run $HOSTCTL --json snapshot list --vm $VM_UUID
check "the host's catalog keeps that record" all 'rc_is 0' \
    "json_item_with '\"name\":\"frozen-window\"' '\"mountpoint\":\"/mnt/vda\"'" \
    'lacks /mnt/vdb'
check "/mnt/vda is writable again" writable /mnt/vda

# A disk with two mounted partitions: both filesystems are frozen, once.
run $AGENT --json snapshot create /dev/sda --name whole-scsi
check "create /dev/sda froze /mnt/sda1 and /mnt/sda2, nothing else" all \
    'rc_is 0' 'has "\"disk\":\"/dev/sda\""' \
    "json_leaf_with '\"mountpoint\":\"/mnt/sda1\"' '\"action\":\"frozen\"'" \
    "json_leaf_with '\"mountpoint\":\"/mnt/sda2\"' '\"action\":\"frozen\"'" \
    '[ "$(count "\"action\":\"frozen\"")" -eq 2 ]' 'lacks /mnt/vda'
run $AGENT --json snapshot create /dev/sda2 --name via-partition
check "create /dev/sda2 (a partition) snapshots /dev/sda, freezing both" all \
    'rc_is 0' 'has "\"disk\":\"/dev/sda\""' \
    "json_leaf_with '\"mountpoint\":\"/mnt/sda1\"' '\"action\":\"frozen\"'" \
    "json_leaf_with '\"mountpoint\":\"/mnt/sda2\"' '\"action\":\"frozen\"'" \
    'lacks /mnt/vda'
check "every filesystem is writable after" all 'writable /mnt/sda1' \
    'writable /mnt/sda2' 'writable /mnt/vda' 'writable /mnt/vdb'
check "the SCSI volume's image holds both snapshots" \
    [ "$(qemu-img snapshot -l "$H/c.qcow2" | grep -c '^[0-9]')" -eq 2 ]

finish
