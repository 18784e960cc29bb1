#!/usr/bin/env bash
# The EVE-shaped node: a real guest laid out the way EVE's pillar
# (pkg/pillar/hypervisor/kvm.go) starts it, with eve-guest-hostd running on
# THIS machine, outside the guest, and snapshotting the guest's qcow2
# volumes through the QMP socket of the very QEMU that runs the guest.
#
#   QEMU:  -machine q35 -accel tcg; per qcow2 volume a virtio-blk-pci at
#          addr 0 on its own pcie-root-port (pcie.0 slots 0x4 and 0x5),
#          drives drive-virtio-disk<N> with no serial= and no node-name;
#          a virtio-scsi disk with a naa.5001405... WWN for the ZFS zvol
#          (the host registers it with backend=zfs and test/tools/mock-zfs:
#          no ZFS module here); QMP at EVE's path.
#   Files: $R/persist/vault/volumes/<volume-uuid>#<generation>.qcow2,
#          $R/run/hypervisor/kvm/<app-uuid>.<version>.1/qmp.
#   Host:  eve-guest-hostd --no-vsock on temp paths; the VM registered with
#          eve-guest-hostctl by CID, hybrid socket, QMP path and volumes
#          matched by pcipath: and wwn: (no node=, no serial).
#   Guest: test/vm/eve/guest.sh (boots twice).
#
# Transport, test plumbing only (on EVE it is AF_VSOCK): QEMU's user
# network forwards the guest's connections to 10.0.2.100:2210 to
# `socat STDIO UNIX-CONNECT:<hybrid-socket>_2210`, one socat per
# connection; in the guest, socat bridges /run/evg.sock to that address.
#
# What it shows (README.md, "The EVE-shaped node"):
#   1. guest-triggered creates by disk (pcipath, WWN), controller creates
#      fs, app (guest hooks) and crash, list and delete from both sides;
#   2. every fs and app snapshot of a qcow2 volume, taken while a writer
#      runs, is a clean ext4 needing no journal recovery (e2fsck -fn on
#      the extracted snapshot), the crash one shown beside them;
#   3. a restart with a new identity (images renamed to generation #2, new
#      CID, QMP path and WWN, via vm update) keeps every snapshot, applies
#      the rollback scheduled while it ran before QEMU starts, and new
#      creates work;
#   4. a snapshot made with EVE's own naming before the first boot is never
#      listed and is left in the image.
#
# Usage: eve-node.sh [BUILD-DIR] [--no-build]
#   --no-build: build-guest.sh already ran (run-tests.sh does that).
# Environment: EVG_EVE_KEEP=1 keeps the temp root.
# Exits 0 if every check passed, 77 if QEMU cannot run here.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=build
NOBUILD=""
for a in "$@"; do
	case "$a" in
	--no-build) NOBUILD=1 ;;
	-*) echo "eve-node: unknown option $a" >&2; exit 2 ;;
	*) BUILD=$a ;;
	esac
done
BIN=$(cd "$BUILD" && pwd) || exit 2
MOCK_ZFS=$(cd "$HERE/../tools" && pwd)/mock-zfs
T0=$(date +%s%N)

# The identities: the app, its three volumes, the WWNs of the two boots.
APP=7c0d4a52-93e1-4f0b-8a6d-2e5f1b3c9d70
VA=3f1e2d4c-5b6a-4789-8a0b-1c2d3e4f5a61
VB=3f1e2d4c-5b6a-4789-8a0b-1c2d3e4f5a62
VZ=3f1e2d4c-5b6a-4789-8a0b-1c2d3e4f5a63
WWN1=0x5001405a1b2c3d4e
WWN2=0x5001405f0e1d2c3b
FOREIGN="$VA-snapshot-20261205101010"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }
say() { echo "host: $*"; }
step() { echo "host: --- $* ($(secs "$(ms_since "$T0")") s)"; }

# QEMU that cannot start at all is the one reason to skip.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "eve-node: SKIPPED: qemu-system-x86_64 is not installed"
	exit 77
fi
if ! err=$(echo quit | timeout 20 qemu-system-x86_64 -accel tcg -machine none \
    -nodefaults -display none -monitor stdio 2>&1 >/dev/null); then
	echo "eve-node: SKIPPED: qemu-system-x86_64 cannot run here: ${err:-timed out}"
	exit 77
fi
for t in qemu-img socat e2fsck debugfs dumpe2fs sha256sum; do
	if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null; then
		echo "eve-node: FAIL: $t is not installed (scripts/deps.sh installs it)"
		exit 1
	fi
done
export PATH="$PATH:/usr/sbin:/sbin"
if [ -z "$NOBUILD" ]; then
	bash "$HERE/build-guest.sh" "$BUILD" || { echo "eve-node: FAIL: could not build the guest"; exit 1; }
fi
# shellcheck disable=SC1091
. "$BIN/vm/guest.env"

R=$(mktemp -d /tmp/evg-eve-XXXXXX)
VOLS=$R/persist/vault/volumes
ZVOL=$R/dev/zvol/persist/vault/volumes/$VZ.1
ZDS=persist/vault/volumes/$VZ.1
KVM=$R/run/hypervisor/kvm
HYB=$R/run/eve-guest-agent/$APP.vsock
CTL=$R/run/eve-guest-agent/control.sock
HOSTCTL="$BIN/eve-guest-hostctl --socket $CTL --timeout 120"
QPID=""
HOSTD_PID=""
STREAM_PID=""
PASSED=0
FAILED=0

# stop_qemu: QEMU by its pid, then the guestfwd socat children it forked.
stop_qemu() {
	local kids p
	[ -n "$QPID" ] || return 0
	kids=$(ps -o pid= --ppid "$QPID" 2>/dev/null)
	if kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null
		sleep 0.5
		kill -9 "$QPID" 2>/dev/null
	fi
	wait "$QPID" 2>/dev/null
	for p in $kids; do
		kill "$p" 2>/dev/null
	done
	QPID=""
	if [ -n "$STREAM_PID" ]; then
		wait "$STREAM_PID" 2>/dev/null
		STREAM_PID=""
	fi
}

cleanup() {
	stop_qemu
	if [ -n "$HOSTD_PID" ]; then
		kill "$HOSTD_PID" 2>/dev/null
		wait "$HOSTD_PID" 2>/dev/null
	fi
	if [ -n "${EVG_EVE_KEEP:-}" ]; then
		echo "eve-node: kept $R"
	else
		rm -rf "$R"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check WHAT CMD...: one check, "ok - WHAT" or "not ok - WHAT" with the
# last run's output.
check() {
	local what=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "host: ok - $what"
	else
		FAILED=$((FAILED + 1))
		echo "host: not ok - $what"
		echo "host: #   last command: rc=$RC"
		printf '%s\n' "$OUT" | tail -8 | sed 's/^/host: #   out: /'
		printf '%s\n' "$ERR" | tail -4 | sed 's/^/host: #   err: /'
	fi
}
OUT=""
ERR=""
RC=0
# run CMD...: stdout in OUT, stderr in ERR, exit code in RC.
run() {
	OUT=$("$@" 2>"$R/.err")
	RC=$?
	ERR=$(cat "$R/.err")
}
rc_is() { [ "$RC" -eq "$1" ]; }
has() { case "${2-$OUT}" in *"$1"*) return 0 ;; esac; return 1; }
lacks() { ! has "$@"; }
all() {
	local c
	for c in "$@"; do
		eval "$c" || return 1
	done
}
show() { printf '%s\n' "$OUT" | sed 's/^/host: #   /'; }

# json_items: each snapshot (group member) of a --json list in OUT
# ({"groups":[{..., "members":[...]}]}), one a line.
json_items() {
	printf '%s' "$OUT" | tr -d '\n' |
	    awk -v depth=4 -f "$HERE/../tools/json-objects.awk"
}
# field ITEM KEY: the first string KEY of one json_items line.
field() {
	printf '%s' "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4
}
# names: the sorted snapshot names of a --json list in OUT, one a line.
names() {
	json_items | while read -r it; do field "$it" name; done | sort
}

# wait_for EXPR SECONDS: poll a shell condition.
wait_for() {
	local i=0 max=$(($2 * 10))
	while [ $i -lt $max ]; do
		eval "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- The node's files --------------------------------------------------
mkdir -p "$VOLS" "$(dirname "$ZVOL")" "$KVM" "$R/run/eve-guest-agent" \
    "$R/etc" "$R/mock-zfs/datasets" "$R/guest/evg"
qemu-img create -q -f qcow2 "$VOLS/$VA#1.qcow2" 64M
qemu-img create -q -f qcow2 "$VOLS/$VB#1.qcow2" 64M
truncate -s 64M "$ZVOL"
echo 67108864 > "$R/mock-zfs/datasets/$(echo "$ZDS" | tr / %)"
# qemu-img, but a revert waits 4 s while $R/slow-revert exists: the
# host daemon is killed during it (after the unplug, before the re-add).
cat > "$R/qemu-img" <<EOF
#!/bin/sh
[ "\$2" = "-a" ] && [ -f "$R/slow-revert" ] && sleep 4
exec $(command -v qemu-img) "\$@"
EOF
chmod +x "$R/qemu-img"
cat > "$R/etc/hostd.conf" <<EOF
qemu_img = $R/qemu-img
zfs = $MOCK_ZFS
space_reserve_mib = 0
EOF
cp "$HERE/eve/guest.sh" "$R/guest/evg/test.sh"
(cd "$R/guest" && find . -mindepth 1 |
    "$(dirname "$KERNEL")/busybox" cpio -o -H newc 2>/dev/null) > "$R/test.cpio"
cat "$BASE" "$BUNDLE" "$R/test.cpio" > "$R/initrd"

# volspec UUID NAME GEN DISK: a --volume spec for a qcow2 volume, without
# node= as pillar knows none: the host finds the image's node in QEMU.
volspec() {
	echo "uuid=$1,name=$2,backend=qcow2,locator=$VOLS/$1#$3.qcow2,disk=$4"
}
zvolspec() {
	echo "uuid=$VZ,name=zvol,backend=zfs,locator=$ZDS,disk=wwn:naa.${1#0x}"
}

# boot PHASE VERSION WWN: start QEMU as pillar would, console streamed.
boot() {
	local phase=$1 qmp="$KVM/$APP.$2.1/qmp" wwn=$3
	CONSOLE="$R/console$phase.log"
	mkdir -p "$(dirname "$qmp")"
	QMP=$qmp
	BOOT_T0=$(date +%s%N)
	qemu-system-x86_64 -name "$APP.$2.1" -machine q35 -accel tcg -m 512 \
	    -nographic -no-reboot \
	    -kernel "$KERNEL" -initrd "$R/initrd" \
	    -append "console=ttyS0 quiet panic=-1 evg.disks=3 evg.timeout=290 evg.phase=$phase evg.wwn=naa.${wwn#0x} evg.foreign=$FOREIGN" \
	    -qmp "unix:$qmp,server=on,wait=off" \
	    -device pcie-root-port,id=pci.2,bus=pcie.0,addr=0x4,chassis=2,port=0x10 \
	    -device pcie-root-port,id=pci.3,bus=pcie.0,addr=0x5,chassis=3,port=0x11 \
	    -device pcie-root-port,id=pci.4,bus=pcie.0,addr=0x6,chassis=4,port=0x12 \
	    -drive "id=drive-virtio-disk0,file=$VOLS/$VA#$2.qcow2,format=qcow2,if=none,aio=threads,cache=writeback" \
	    -device virtio-blk-pci,id=virtio-disk0,drive=drive-virtio-disk0,bus=pci.2,addr=0x0 \
	    -drive "id=drive-virtio-disk1,file=$VOLS/$VB#$2.qcow2,format=qcow2,if=none,aio=threads,cache=writeback" \
	    -device virtio-blk-pci,id=virtio-disk1,drive=drive-virtio-disk1,bus=pci.3,addr=0x0 \
	    -device virtio-scsi-pci,id=scsi0,bus=pci.4,addr=0x0 \
	    -drive "id=drive-scsi0-0-0,file=$ZVOL,format=raw,if=none,cache=writeback" \
	    -device "scsi-hd,id=scsi0-0-0,drive=drive-scsi0-0-0,bus=scsi0.0,wwn=$wwn" \
	    -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:2210-cmd:socat STDIO UNIX-CONNECT:${HYB}_2210" \
	    -device virtio-net-pci,netdev=n0,bus=pcie.0,addr=0x8,romfile= \
	    < /dev/null > "$CONSOLE" 2>&1 &
	QPID=$!
	# The guest's console, as it comes, without firmware noise.
	tail -n +1 -F --pid="$QPID" "$CONSOLE" 2>/dev/null |
	    sed -u 's/\r//g; s/\x1bc//g; s/\x1b\[[0-9;?]*[a-zA-Z]//g' |
	    grep --line-buffered -v '^\[ *[0-9.]*\] reboot: \|^SeaBIOS \|^Booting from \|^iPXE\|^Press Ctrl-B\|^ *$' |
	    sed -u 's/^/guest| /' &
	STREAM_PID=$!
	say "QEMU pid $QPID: q35, qcow2 volumes generation #$2, QMP $qmp, scsi wwn $wwn"
	wait_for "[ -S '$qmp' ] || ! kill -0 $QPID 2>/dev/null" 10
	[ -S "$qmp" ]
}

# console_has WORD: the guest printed "EVE-GUEST: WORD" in this boot.
console_has() { tr -d '\r' < "$CONSOLE" | grep -q "^EVE-GUEST: $1"; }

# wait_guest WORD SECONDS: wait for a marker while QEMU runs.
wait_guest() {
	local deadline=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		console_has "$1" && return 0
		kill -0 "$QPID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# guest_end SECONDS: wait for QEMU to exit (the guest powers off); quit
# over QMP, then kill, if it does not.  GUEST_RC is the guest's exit code.
guest_end() {
	local rc
	if ! wait_for "! kill -0 $QPID 2>/dev/null" "$1"; then
		say "the guest did not power off; quit over QMP"
		printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
		    timeout 5 socat - "UNIX-CONNECT:$QMP" >/dev/null 2>&1
		wait_for "! kill -0 $QPID 2>/dev/null" 5
	fi
	stop_qemu
	rc=$(tr -d '\r' < "$CONSOLE" | sed -n 's/^EVG-EXIT=\([0-9]*\)$/\1/p' | tail -1)
	GUEST_RC=${rc:-125}
	say "QEMU exited; guest exit $GUEST_RC; boot took $(secs "$(ms_since "$BOOT_T0")") s"
}

# hostd_start: eve-guest-hostd on the temp root, hybrid sockets only.
hostd_start() {
	EVG_MOCK_ZFS_DIR=$R/mock-zfs "$BIN/eve-guest-hostd" -f -c "$R/etc/hostd.conf" \
	    --no-vsock --state-dir "$R/persist/eve-guest-agent" \
	    --control-socket "$CTL" >> "$R/hostd.log" 2>&1 &
	HOSTD_PID=$!
	wait_for "[ -S '$CTL' ]" 10 &&
	    wait_for "grep -q 'catalog check done' '$R/hostd.log'" 10
}

# image_tags IMG: the tags qemu-img lists in IMG (QEMU may hold it).
image_tags() {
	qemu-img snapshot -l -U "$1" | awk 'NR > 2 { print $2 }'
}

# fsck_row VOLNAME IMG TAG NAME CONSISTENCY ORIGIN: extract one snapshot,
# e2fsck -fn it, print a table row; sets ROW_CLEAN=1 when clean with no
# journal recovery needed, and ROW_RAW to the extracted file.
fsck_row() {
	local vol=$1 img=$2 tag=$3 name=$4 cons=$5 origin=$6 raw rc jr recs app replay
	raw="$R/x-$tag.raw"
	# shellcheck disable=SC2034  # read by fsck_table
	ROW_RAW=$raw
	if ! qemu-img convert -U -f qcow2 -O raw -l "snapshot.name=$tag" "$img" "$raw" 2>"$R/.err"; then
		printf 'host: | %-5s | %-11s | %-6s | %-10s | %6s | %-14s | %-8s | %7s | %-22s |\n' \
		    "$vol" "$name" "$cons" "$origin" "-" "convert failed" "-" "-" "-"
		sed 's/^/host: #   /' "$R/.err"
		ROW_CLEAN=0
		return
	fi
	e2fsck -fn "$raw" > "$R/fsck-$tag.log" 2>&1
	rc=$?
	jr=no
	if dumpe2fs -h "$raw" 2>/dev/null | grep -i '^Filesystem features:' | grep -qw needs_recovery ||
	    grep -qiE 'needs_recovery|recovering journal|skipping journal recovery' "$R/fsck-$tag.log"; then
		jr=YES
	fi
	recs=$(debugfs -R "cat /w/log" "$raw" 2>/dev/null | grep -c '^record ')
	app=$(debugfs -R "cat /app-state" "$raw" 2>/dev/null | head -1)
	[ -n "$app" ] || app="-"
	# What a crash-consistent image needs: the journal replayed (on the
	# extracted copy; exit 1 means e2fsck fixed, i.e. replayed, something).
	replay="-"
	if [ "$jr" = YES ]; then
		e2fsck -fy "$raw" > "$R/replay-$tag.log" 2>&1
		replay="exit $?"
	fi
	printf 'host: | %-5s | %-11s | %-6s | %-10s | %6s | %-14s | %-8s | %7s | %-22s |\n' \
	    "$vol" "$name" "$cons" "$origin" "$rc" "$jr" "$replay" "$recs" "$app"
	ROW_CLEAN=0
	[ "$rc" -eq 0 ] && [ "$jr" = no ] && ROW_CLEAN=1
	if [ "$ROW_CLEAN" -eq 0 ] && [ "$cons" != crash ]; then
		grep -v '^Pass [0-9]' "$R/fsck-$tag.log" | head -6 | sed 's/^/host: #   e2fsck: /'
	fi
}

# fsck_table IMG-A IMG-B [NAME-RE]: one row per snapshot of ours in the
# two qcow2 images (those whose name matches NAME-RE), by the host's list
# in HOSTLIST; ROWS gets VOL:NAME:LEVEL:CLEAN for each.
fsck_table() {
	local vol img tag it name cons origin u re=${3:-.}
	echo "host: | VOL   | SNAPSHOT    | LEVEL  | ORIGIN     | E2FSCK | NEEDS RECOVERY | REPLAY   | RECORDS | /app-state             |"
	echo "host: |-------|-------------|--------|------------|--------|----------------|----------|---------|------------------------|"
	for vol in A B; do
		if [ $vol = A ]; then img=$1; else img=$2; fi
		for tag in $(image_tags "$img"); do
			it=""
			OUT=$HOSTLIST
			while read -r line; do
				u=$(field "$line" uuid)
				case "$tag" in *"$u"*) it=$line; break ;; esac
			done <<< "$(json_items)"
			if [ -z "$it" ]; then
				[ "$re" = . ] || continue
				printf 'host: | %-5s | %-11s | %-6s | %-10s | %6s | %-14s | %-8s | %7s | %-22s |\n' \
				    "$vol" "(foreign)" "-" "-" "-" "not checked" "-" "-" "${tag:0:22}"
				continue
			fi
			name=$(field "$it" name)
			printf '%s\n' "$name" | grep -qE "$re" || continue
			cons=$(field "$it" consistency)
			origin=$(field "$it" origin)
			fsck_row "$vol" "$img" "$tag" "$name" "$cons" "$origin"
			eval "RAW_${vol}_${name//-/_}=\$ROW_RAW"
			ROWS="$ROWS $vol:$name:$cons:$ROW_CLEAN"
		done
	done
	echo "host:   E2FSCK: exit of e2fsck -fn on the extracted snapshot.  NEEDS RECOVERY: needs_recovery"
	echo "host:   set, or e2fsck skipped journal recovery.  REPLAY: e2fsck -fy of that copy, where needed."
	echo "host:   RECORDS: the writer's lines in /w/log, read without a journal replay.  /app-state:"
	echo "host:   what the hooks wrote (pre: quiesced, post: resumed)."
}

# === Phase 1: registration, first boot ===================================
step "phase 1: node set up under $R"
# EVE's own snapshot naming, made while QEMU is not running.
qemu-img snapshot -c "$FOREIGN" "$VOLS/$VA#1.qcow2"
say "foreign snapshot made with qemu-img before the first boot: $FOREIGN"
if ! hostd_start; then
	echo "host: not ok - eve-guest-hostd did not start"; cat "$R/hostd.log"; exit 1
fi
say "eve-guest-hostd pid $HOSTD_PID (--no-vsock; state $R/persist/eve-guest-agent)"
run $HOSTCTL vm add --uuid "$APP" --name eve-app --cid 5 --hybrid-socket "$HYB" \
    --qmp "$KVM/$APP.1.1/qmp" --state stopped \
    --volume "$(volspec "$VA" data-a 1 pcipath:04.0/00.0)" \
    --volume "$(volspec "$VB" data-b 1 pcipath:05.0/00.0)" \
    --volume "$(zvolspec "$WWN1")"
check "vm add: CID 5, QMP at EVE's path, volumes by pcipath 04.0/00.0, 05.0/00.0 and wwn (no node=)" rc_is 0
run $HOSTCTL vm state "$APP" starting
check "vm state starting (before QEMU starts)" rc_is 0
if ! boot 1 1 "$WWN1"; then
	echo "host: not ok - QEMU did not start"; cat "$CONSOLE"; exit 1
fi
run $HOSTCTL vm state "$APP" running
check "vm state running" rc_is 0

if ! wait_guest host-turn 120; then
	check "the guest reached its host-turn marker (120 s)" false
	guest_end 5
	tail -20 "$R/hostd.log" | sed 's/^/host: # hostd: /'
	exit 1
fi
step "phase 1: the host's turn (controller-triggered)"
run $HOSTCTL vm show "$APP"
check "vm show: guest agent daemon connected" has "Guest agent:    connected"
show
run $HOSTCTL --json snapshot list --vm "$APP"
check "host: the guest's g-vda, g-vdb, g-sda, g-tmp are listed, origin guest" all \
    'rc_is 0' 'has "\"name\":\"g-vda\""' 'has "\"name\":\"g-vdb\""' \
    'has "\"name\":\"g-sda\""' 'has "\"name\":\"g-tmp\""' \
    'json_items | grep -F "\"name\":\"g-vda\"" | grep -qF "\"origin\":\"guest\""'
GPAIR=$(json_items | grep -F '"name":"g-pair"' | grep -o '"group_uuid":"[0-9a-f-]*"' | sort -u)
check "host: the guest's g-pair is one group of two members, data-a and data-b" all \
    '[ "$(json_items | grep -cF "\"name\":\"g-pair\"")" -eq 2 ]' \
    '[ "$(printf "%s\n" "$GPAIR" | grep -c .)" -eq 1 ]' \
    'json_items | grep -F "\"name\":\"g-pair\"" | grep -qF "\"volume\":\"data-a\""' \
    'json_items | grep -F "\"name\":\"g-pair\"" | grep -qF "\"volume\":\"data-b\""'
GTMP=$(json_items | grep -F '"name":"g-tmp"' | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4)
for c in fs app crash; do
	run $HOSTCTL snapshot create --vm "$APP" --consistency "$c" --name "c-$c"
	check "host: snapshot create --consistency $c --name c-$c (all three volumes, writers running)" rc_is 0
	show
done
run $HOSTCTL snapshot create --vm "$APP" --volume "$VA" --consistency fs --name c-tmp
check "host: snapshot create --volume data-a --consistency fs --name c-tmp (the guest deletes it)" rc_is 0
run $HOSTCTL snapshot delete --vm "$APP" "$GTMP"
check "host: snapshot delete g-tmp ($GTMP), made by the guest" rc_is 0
run $HOSTCTL snapshot rollback --vm "$APP" c-fs --volume "$VA"
check "host: snapshot rollback c-fs --volume data-a while running: scheduled" all \
    'rc_is 0' 'has "scheduled"'
show
run $HOSTCTL snapshot list --vm "$APP"
check "host: snapshot list: the foreign $FOREIGN is not listed" all 'rc_is 0' "lacks '$FOREIGN'"
show
run $HOSTCTL snapshot create --vm "$APP" --volume "$VZ" --consistency crash --name host-done
check "host: snapshot create host-done (zvol, crash): the guest's turn again" rc_is 0

wait_guest phase1-done 90
check "the guest finished phase 1" console_has phase1-done
guest_end 30
check "first boot: the guest's checks passed (exit $GUEST_RC)" [ "$GUEST_RC" -eq 0 ]

# === Consistency of what was taken while the writers ran ================
step "consistency: every snapshot extracted with qemu-img convert -U, then e2fsck -fn"
run $HOSTCTL --json snapshot list --vm "$APP"
HOSTLIST=$OUT
BEFORE_NAMES=$(names | grep -vxF "$FOREIGN" | tr '\n' ' ')
say "snapshots before the restart: $BEFORE_NAMES"
check "host: g-tmp and c-tmp are gone, the rest is there" all 'rc_is 0' \
    'lacks "\"name\":\"g-tmp\""' 'lacks "\"name\":\"c-tmp\""' \
    '[ "$(json_items | grep -c "\"name\":\"c-fs\"")" -eq 3 ]' \
    '[ "$(json_items | grep -c "\"name\":\"c-app\"")" -eq 3 ]'
for v in A B; do
	if [ $v = A ]; then u=$VA; else u=$VB; fi
	say "qemu-img snapshot -l -U $VOLS/$u#1.qcow2:"
	qemu-img snapshot -l -U "$VOLS/$u#1.qcow2" | sed 's/^/host: #   /'
done
ROWS=""
fsck_table "$VOLS/$VA#1.qcow2" "$VOLS/$VB#1.qcow2"
for r in $ROWS; do
	IFS=: read -r v n c ok <<< "$r"
	if [ "$c" = crash ]; then
		say "baseline, not asserted: $v $n (crash) $([ "$ok" = 1 ] && echo 'is clean as it is' || echo 'needs journal recovery or has errors (see the table)')"
		continue
	fi
	check "$v $n ($c): clean ext4, no journal recovery needed" [ "$ok" = 1 ]
done
check "A and B: both members of the guest's group g-pair were extracted and checked" all \
    'printf "%s\n" $ROWS | grep -q "^A:g-pair:fs:"' \
    'printf "%s\n" $ROWS | grep -q "^B:g-pair:fs:"'
check "A and B: the app snapshot holds the pre hook's state" all \
    '[ "$(debugfs -R "cat /app-state" "${RAW_A_c_app:-/x}" 2>/dev/null)" = "quiesced for c-app" ]' \
    '[ "$(debugfs -R "cat /app-state" "${RAW_B_c_app:-/x}" 2>/dev/null)" = "quiesced for c-app" ]'
CFS_SUM=$(sha256sum < "${RAW_A_c_fs:-/dev/null}" | cut -c1-16)

# === Phase 3: stop, new identity, rollback applied before QEMU starts ====
step "restart with a new identity"
run $HOSTCTL vm state "$APP" stopped
check "vm state stopped" rc_is 0
run $HOSTCTL --json events
RB_AT=starting
if has '"kind":"rollback-started"'; then
	RB_AT=stopped
	wait_for "$HOSTCTL --json events | grep -q '\"kind\":\"rollback-\(done\|failed\)\"'" 30
fi
for u in "$VA" "$VB"; do
	mv "$VOLS/$u#1.qcow2" "$VOLS/$u#2.qcow2"
done
say "renamed the images to generation #2: $(cd "$VOLS" && ls | tr '\n' ' ')"
run $HOSTCTL vm update "$APP" --cid 6 --qmp "$KVM/$APP.2.1/qmp" \
    --volume "$(volspec "$VA" data-a 2 pcipath:04.0/00.0)" \
    --volume "$(volspec "$VB" data-b 2 pcipath:05.0/00.0)" \
    --volume "$(zvolspec "$WWN2")"
check "vm update: CID 6, QMP $APP.2.1/qmp, images #2, zvol WWN ${WWN2}" rc_is 0
run $HOSTCTL --json snapshot list --vm "$APP"
check "host: every snapshot still listed after vm update" \
    [ "$(names | grep -vxF "$FOREIGN" | tr '\n' ' ')" = "$BEFORE_NAMES" ]
check "host: the foreign snapshot is not listed after vm update" \
    lacks "$FOREIGN"
run $HOSTCTL vm state "$APP" starting
check "vm state starting: answered once the images are free" rc_is 0
run $HOSTCTL --json events
check "the scheduled rollback of data-a to c-fs was carried out (rollback-done; started at 'vm state $RB_AT')" \
    has '"kind":"rollback-done"'
qemu-img convert -U -f qcow2 -O raw "$VOLS/$VA#2.qcow2" "$R/a-now.raw"
NOW_SUM=$(sha256sum < "$R/a-now.raw" | cut -c1-16)
say "sha256 of data-a #2 now: $NOW_SUM; of its snapshot c-fs: $CFS_SUM"
check "data-a #2 holds exactly c-fs's data before QEMU starts" all \
    '[ -n "$CFS_SUM" ]' '[ "$NOW_SUM" = "$CFS_SUM" ]'
run $HOSTCTL vm show "$APP"
show

step "phase 2: second boot"
if ! boot 2 2 "$WWN2"; then
	check "QEMU started again" false
	exit 1
fi
run $HOSTCTL vm state "$APP" running
check "vm state running" rc_is 0
if wait_guest host-turn 90; then
	run $HOSTCTL snapshot create --vm "$APP" --consistency fs --name c-after
	check "host: snapshot create --consistency fs --name c-after after the restart" rc_is 0
	show
else
	check "the guest reached its host-turn marker in the second boot" false
fi
# The guest's second online rollback: SIGKILL the host daemon once the
# disk is unplugged (the revert is held 4 s), then start it again.
if wait_guest online-kill 150; then
	step "online rollback with the host daemon killed after the unplug"
	touch "$R/slow-revert"
	# --follow prints the recent events first: the first rollback's too.
	N0=$($HOSTCTL events | grep -c disk-detached)
	$HOSTCTL events --follow > "$R/events.log" 2>&1 &
	EVPID=$!
	sleep 0.5
	run $HOSTCTL snapshot create --vm "$APP" --volume "$VA" --consistency crash --name kill-armed
	check "host: snapshot create kill-armed (the guest's go)" rc_is 0
	if wait_for "[ \$(grep -c disk-detached '$R/events.log') -gt $N0 ]" 90; then
		kill -KILL "$HOSTD_PID"
		wait "$HOSTD_PID" 2>/dev/null
		say "SIGKILL of eve-guest-hostd (pid $HOSTD_PID) after: $(grep disk-detached "$R/events.log" | tail -1 | cut -c1-160)"
		rm -f "$R/slow-revert"
		check "eve-guest-hostd starts again" hostd_start
		check "the restarted daemon finished the rollback and re-attached the disk (disk-reattached, 60 s)" \
		    wait_for "$HOSTCTL --json events | grep -q '\"kind\":\"disk-reattached\"'" 60
		check "the restarted daemon found the rollback left after the unplug in its catalog" \
		    grep -q "online rollback of device virtio-disk1 was left at detached" "$R/hostd.log"
		run $HOSTCTL --json events
		printf '%s\n' "$OUT" | grep -E 'online|disk-|rollback-done' | cut -c1-300 | sed 's/^/host: #   /'
	else
		check "the guest's rollback unplugged the disk (disk-detached, 90 s)" false
	fi
	kill "$EVPID" 2>/dev/null
	wait "$EVPID" 2>/dev/null
	rm -f "$R/slow-revert"
else
	check "the guest reached its online-kill marker" false
fi
# The controller's online rollback of data-b (the guest unmounted it).
if wait_guest host-online 90; then
	run $HOSTCTL snapshot rollback --vm "$APP" o-base --volume "$VB" --online
	check "host: snapshot rollback o-base --volume data-b --online" all \
	    'rc_is 0' 'lacks "scheduled"'
	show
	run $HOSTCTL --json events
	KINDS=$(printf '%s\n' "$OUT" | sed -n 's/.*"kind":"\([a-z-]*\)".*/\1/p' | tr '\n' ' ')
	check "host: events disk-released, rollback-online-started, disk-detached, disk-reattached, rollback-done, in order" \
	    has "disk-released rollback-online-started disk-detached disk-reattached rollback-done" "$KINDS"
	run $HOSTCTL snapshot create --vm "$APP" --volume "$VA" --consistency crash --name host-online-done
	check "host: snapshot create host-online-done (the guest's go)" rc_is 0
else
	check "the guest reached its host-online marker" false
fi
wait_guest phase2-done 120
guest_end 30
check "second boot: the guest's checks passed (exit $GUEST_RC)" [ "$GUEST_RC" -eq 0 ]

step "end state"
run $HOSTCTL vm state "$APP" stopped
check "vm state stopped" rc_is 0
run $HOSTCTL --json snapshot list --vm "$APP"
HOSTLIST=$OUT
check "host: everything of before the restart is listed, plus g-after, g-sda-after, c-after, o-base, kill-armed, host-online-done" all \
    'rc_is 0' 'has "\"name\":\"g-after\""' 'has "\"name\":\"c-after\""' \
    'has "\"name\":\"g-sda-after\""' \
    '[ "$(names | grep -v "after\$" | grep -vxF "$FOREIGN" | grep -vx "o-base\|kill-armed\|host-online-done" | tr "\n" " ")" = "$BEFORE_NAMES" ]'
check "host: the foreign snapshot is not listed at the end" lacks "$FOREIGN"
run $HOSTCTL snapshot list --vm "$APP"
show
run qemu-img snapshot -l "$VOLS/$VA#2.qcow2"
check "the foreign snapshot $FOREIGN is still in data-a's image" has "$FOREIGN"
show
ROWS=""
fsck_table "$VOLS/$VA#2.qcow2" "$VOLS/$VB#2.qcow2" 'after$'
for r in $ROWS; do
	IFS=: read -r v n c ok <<< "$r"
	check "$v $n ($c): clean ext4, no journal recovery needed" [ "$ok" = 1 ]
done

kill "$HOSTD_PID" 2>/dev/null
wait "$HOSTD_PID" 2>/dev/null
HOSTD_PID=""
if [ $FAILED -gt 0 ]; then
	echo "host: # hostd log (tail):"
	tail -25 "$R/hostd.log" | sed 's/^/host: #   /'
fi
echo "eve-node: host checks: $PASSED passed, $FAILED failed; total $(secs "$(ms_since "$T0")") s"
[ $FAILED -eq 0 ]
