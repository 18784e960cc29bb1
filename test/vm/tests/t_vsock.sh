# vm-disks: --disk virtio-blk,serial=EVG-DATA-1 --disk scsi-hd,wwn=0x5000c500a1b2c3d4,serial=EVG-SCSI-1
#
# The real AF_VSOCK path, through the guest kernel's vsock_loopback: the
# host daemon listens on VMADDR_CID_ANY:2210, the guest agent connects to
# vsock:1:2210, and accept() reports the peer as CID 1.  By default the host
# refuses CID 1 (in vm add, for a connection, and in a saved registry);
# with allow_loopback_cid = yes the VM registered with CID 1 is identified
# by that CID alone (it has no hybrid socket) and the guest's snapshot
# check / create / list / delete, and the daemon's session, all work over
# vsock.
# shellcheck source=lib.sh
. /evg/lib.sh

check "vsock and vsock_loopback are loaded" all \
    'grep -q "^vsock " /proc/modules' 'grep -q "^vsock_loopback " /proc/modules'
check "mkfs.ext4 and mount vda; sda1 on a partition of sda" all \
    'mkfs_mount /dev/vda /mnt/vda' 'partition /dev/sda ""' \
    'mkfs_mount /dev/sda1 /mnt/sda1'
volume a
volume c
VOLS="--volume uuid=$VOL_A,name=data,backend=qcow2,locator=$H/a.qcow2,disk=serial:EVG-DATA-1
--volume uuid=$VOL_C,name=scsi,backend=qcow2,locator=$H/c.qcow2,disk=wwn:naa.5000c500a1b2c3d4"
AGENT="eve-guest-agent --connect vsock:1:2210"

# The default is strict.
host_start -- --vsock-port 2210
# shellcheck disable=SC2086
run $HOSTCTL vm add --uuid $VM_UUID --name vm-vsock --cid 1 --state stopped $VOLS
check "default: vm add --cid 1 answers INVALID_ARGUMENT (10), CID 1 reserved" \
    all 'rc_is 10' 'has "cid: 1 is reserved" "$ERR"'
# shellcheck disable=SC2086
run $HOSTCTL vm add --uuid $VM_UUID --name vm-vsock --cid 3 --state stopped $VOLS
check "default: the same VM with CID 3 is accepted" rc_is 0
run $AGENT status
check "default: the agent over vsock (peer CID 1) gets NOT_FOUND (11)" all \
    'rc_is 11' 'has "vsock CID 1" "$ERR"'
check "the host logged the refused vsock peer" \
    grep -q "no VM is registered for vsock CID 1" "$H/hostd.log"
host_stop

# Opted in: CID 1 is a VM's CID.
host_start "allow_loopback_cid = yes" -- --vsock-port 2210
check "hostd warns that allow_loopback_cid is on" \
    grep -q "allow_loopback_cid is for tests only" "$H/hostd.log"
run $HOSTCTL vm remove $VM_UUID
check "vm remove" rc_is 0
# shellcheck disable=SC2086
run $HOSTCTL vm add --uuid $VM_UUID --name vm-vsock --cid 1 --state stopped $VOLS
check "allow_loopback_cid = yes: vm add --cid 1 (no hybrid socket) is accepted" rc_is 0
run $AGENT status
check "status over vsock: the host knows this guest as vm-vsock, CID 1" all \
    'rc_is 0' 'has vm-vsock' 'printf "%s\n" "$OUT" | grep -q "^CID: *1\$"'
check "the host identified the connection by its vsock peer CID 1" \
    grep -q "vm vm-vsock (cid 1): hello from eve-guest-agent" "$H/hostd.log"

snapshot_flow /dev/vda /dev/vda /mnt/vda data a.qcow2 a
snapshot_flow /dev/sda1 /dev/sda /mnt/sda1 scsi c.qcow2 c
run $AGENT --json snapshot list
check "snapshot list over vsock: by the guest's device names" all 'rc_is 0' \
    "json_item_with '\"name\":\"snap-a\"' '\"disk\":\"/dev/vda\"'" \
    "json_item_with '\"name\":\"snap-c\"' '\"disk\":\"/dev/sda\"'"
snapshot_delete a a.qcow2
snapshot_delete c c.qcow2

# The guest daemon's session over vsock carries the freeze of a CLI create.
bg sh -c "exec eve-guest-agent --connect vsock:1:2210 daemon -f 2> $H/daemon.log"
DAEMON=$LASTPID
check "the guest daemon connects over vsock" \
    wait_for "$HOSTCTL vm show $VM_UUID | grep -q 'Guest agent: *connected'" 15
run $AGENT --json snapshot create /dev/vda --name via-daemon
check "create with the daemon connected: fs, /mnt/vda frozen" all 'rc_is 0' \
    'has "\"consistency\":\"fs\""' \
    "json_leaf_with '\"mountpoint\":\"/mnt/vda\"' '\"action\":\"frozen\"'"
check "/mnt/vda is writable again" writable /mnt/vda
kill $DAEMON 2>/dev/null
wait $DAEMON 2>/dev/null
host_stop

# The saved registry holds CID 1; without the key it does not load.
printf 'space_reserve_mib = 0\n' > "$H/strict.conf"
run timeout 10 eve-guest-hostd -f -c "$H/strict.conf" --state-dir "$H/state" \
    --control-socket "$CTL" --vsock-port 2210
check "without the key, a registry holding CID 1 does not load (exit 1)" all \
    'rc_is 1' 'has "cid: 1 is reserved" "$ERR"'

finish
