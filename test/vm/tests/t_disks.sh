# vm-disks: --disk virtio-blk,serial=EVG-DATA-1 --disk virtio-blk,addr=0x5 --disk scsi-hd,wwn=0x5000c500a1b2c3d4,serial=EVG-SCSI-1 --disk virtio-blk,serial=EVG-OTHER
#
# The guest agent recognises disks the way EVE attaches them, in a real
# kernel: a virtio-blk disk by its serial (vda), a virtio-blk disk with no
# serial by the PCI address of its own function (vdb, slot 5), a SCSI disk
# behind virtio-scsi by its naa. WWN (sda), through a partition of it
# (sda1).  For each: snapshot check, create, list (by the guest's own device
# name), delete, with the snapshot really in (and then out of) the volume's
# qcow2.  A disk the host does not know (vdc) is refused.  Over the VM's
# hybrid socket; t_vsock.sh does the same over AF_VSOCK.
# shellcheck source=lib.sh
. /evg/lib.sh

# What the kernel shows is what EVE-style hosts expose.
check "vda: virtio-blk serial EVG-DATA-1" \
    [ "$(cat /sys/block/vda/serial)" = EVG-DATA-1 ]
check "vdb: virtio-blk with no serial, PCI function 0000:00:05.0" all \
    '[ -z "$(cat /sys/block/vdb/serial 2>/dev/null)" ]' \
    'readlink -f /sys/block/vdb/device | grep -q "/0000:00:05.0/virtio"'
check "sda: SCSI wwid naa.5000c500a1b2c3d4 (scsi-hd wwn=0x5000c500a1b2c3d4)" \
    [ "$(cat /sys/block/sda/device/wwid)" = naa.5000c500a1b2c3d4 ]
# Where each disk sits, without bus numbers: vdb in slot 5 of the root
# bus, sda behind the virtio-scsi HBA in slot 0x10.
run eve-guest-agent info
check "info: vdb pci=0000:00:05.0 pcipath=05.0, sda pcipath=10.0" all \
    'rc_is 0' \
    'printf "%s\n" "$OUT" | grep -w vdb | grep -q "pci=0000:00:05.0 pcipath=05.0"' \
    'printf "%s\n" "$OUT" | grep -w sda | grep -q "pcipath=10.0"'

check "partition sda (busybox fdisk, msdos label): sda1" partition /dev/sda ""
check "mkfs.ext4 and mount vda, vdb, sda1" all \
    'mkfs_mount /dev/vda /mnt/vda' 'mkfs_mount /dev/vdb /mnt/vdb' \
    'mkfs_mount /dev/sda1 /mnt/sda1'

volume a
volume b
volume c
host_start
run $HOSTCTL vm add --uuid $VM_UUID --name vm-disks \
    --hybrid-socket "$H/vm.sock" --state stopped \
    --volume "uuid=$VOL_A,name=data-serial,backend=qcow2,locator=$H/a.qcow2,disk=serial:EVG-DATA-1" \
    --volume "uuid=$VOL_B,name=data-pci,backend=qcow2,locator=$H/b.qcow2,disk=pci:0000:00:05.0" \
    --volume "uuid=$VOL_C,name=data-wwn,backend=qcow2,locator=$H/c.qcow2,disk=wwn:naa.5000c500a1b2c3d4"
check "register the VM: volumes by serial, pci and wwn" rc_is 0
AGENT="eve-guest-agent --connect unix:$H/vm.sock_2210"

snapshot_flow /dev/vda /dev/vda /mnt/vda data-serial a.qcow2 a
snapshot_flow /dev/vdb /dev/vdb /mnt/vdb data-pci b.qcow2 b
snapshot_flow /dev/sda1 /dev/sda /mnt/sda1 data-wwn c.qcow2 c

run $AGENT snapshot list
check "snapshot list shows each snapshot by the guest's device name" all \
    'rc_is 0' \
    'printf "%s\n" "$OUT" | grep "snap-a" | grep -q "/dev/vda\$"' \
    'printf "%s\n" "$OUT" | grep "snap-b" | grep -q "/dev/vdb\$"' \
    'printf "%s\n" "$OUT" | grep "snap-c" | grep -q "/dev/sda\$"'
printf '%s\n' "$OUT" | sed 's/^/#   /'
run $AGENT --json snapshot list
check "snapshot list --json: disk is /dev/vda, /dev/vdb, /dev/sda" all \
    'rc_is 0' \
    "json_item_with '\"name\":\"snap-a\"' '\"disk\":\"/dev/vda\"'" \
    "json_item_with '\"name\":\"snap-b\"' '\"disk\":\"/dev/vdb\"'" \
    "json_item_with '\"name\":\"snap-c\"' '\"disk\":\"/dev/sda\"'"
run $AGENT snapshot list /dev/sda1
check "snapshot list /dev/sda1: only the SCSI disk's snapshot" all \
    'rc_is 0' 'has snap-c' 'lacks snap-a' 'lacks snap-b'

snapshot_delete a a.qcow2
snapshot_delete b b.qcow2
snapshot_delete c c.qcow2
run $AGENT snapshot list
check "snapshot list after the deletes: none left" all 'rc_is 0' \
    'lacks snap-a' 'lacks snap-b' 'lacks snap-c'

# A disk this VM's registration does not name: NOT_FOUND, nothing frozen.
run $AGENT snapshot check /dev/vdc
check "vdc (serial EVG-OTHER, not registered): check answers NOT_FOUND (11)" rc_is 11
run $AGENT snapshot create /dev/vdc
check "vdc: create answers NOT_FOUND (11), one line" all 'rc_is 11' \
    '[ "$(printf "%s\n" "$ERR" | wc -l)" -eq 1 ]'

finish
