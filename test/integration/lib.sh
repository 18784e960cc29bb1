# Helpers for the integration tests: a private temp dir per test, a host
# daemon on hybrid Unix sockets only (never AF_VSOCK), assertions, and
# cleanup of every process a test started (by pid) even when it fails.
# Sourced by run.sh; each test runs in its own subshell.

UUID1=11111111-1111-4111-8111-111111111111
UUID2=22222222-2222-4222-8222-222222222222
VOLUUID1=aaaaaaaa-1111-4111-8111-111111111111
VOLUUID2=aaaaaaaa-2222-4222-8222-222222222222

PIDS=""
CLEANUP_MOUNTS=""
CLEANUP_LOOPS=""
SANITIZER_RE='ERROR: (Address|Leak)Sanitizer|runtime error:'

# fail MESSAGE: record a failed assertion and stop the test.
fail() {
	echo "    FAIL: $*" >&2
	exit 1
}

# Kill what this test started, newest first; used by the EXIT trap.
cleanup() {
	# Thaw first: a process blocked on a frozen filesystem cannot exit.
	for m in $CLEANUP_MOUNTS; do
		fsfreeze -u "$m" 2>/dev/null
	done
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	PIDS=""
	for m in $CLEANUP_MOUNTS; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	CLEANUP_MOUNTS=""
	for l in $CLEANUP_LOOPS; do
		losetup -d "$l" 2>/dev/null
	done
	CLEANUP_LOOPS=""
	# Under the sanitizer build, any report in a daemon log fails the test.
	if grep -qsE "$SANITIZER_RE" "$T"/*.log; then
		grep -hE -A20 "$SANITIZER_RE" "$T"/*.log | head -40 >&2
		echo "    FAIL: sanitizer report" >&2
		exit 1
	fi
}

# setup: make the temp dir T and the command shortcuts.
setup() {
	T=$(mktemp -d /tmp/evg-it-XXXXXX)
	CTL="$T/control.sock"
	HOSTCTL="$BUILD/eve-guest-hostctl --socket $CTL"
	AGENT="$BUILD/eve-guest-agent"
	WIRE="$BUILD/evg-wire"
	trap 'cleanup; rm -rf "$T"' EXIT
}

# cleanup_pids_matching TEXT: stop this test's background jobs whose
# command line contains TEXT.
cleanup_pids_matching() {
	local p keep=""
	for p in $PIDS; do
		if tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF "$1"; then
			kill "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		else
			keep="$keep $p"
		fi
	done
	PIDS=$keep
}

# bg CMD...: start a background process and remember its pid in LASTPID.
bg() {
	"$@" &
	LASTPID=$!
	PIDS="$LASTPID $PIDS"
}

# wait_for TEST-EXPR [SECONDS]: poll a shell condition up to SECONDS (5).
wait_for() {
	local i=0 max=$(( ${2:-5} * 20 ))
	while [ $i -lt $max ]; do
		eval "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# start_hostd [EXTRA-ARGS...]: start eve-guest-hostd in the foreground
# with its log in $T/hostd.log; HOSTD_PID is its pid.
start_hostd() {
	[ -f "$T/hostd.conf" ] || : > "$T/hostd.conf"
	local checked
	checked=$(grep -c "catalog check done" "$T/hostd.log" 2>/dev/null)
	bg "$BUILD/eve-guest-hostd" -f -c "$T/hostd.conf" --no-vsock \
	    --state-dir "$T/state" --control-socket "$CTL" "$@" \
	    >>"$T/hostd.log" 2>&1
	HOSTD_PID=$LASTPID
	wait_for "[ -S '$CTL' ]" || fail "hostd did not start: $(cat "$T/hostd.log")"
	# Snapshot requests are BUSY until the start-up catalog check is done.
	wait_for "[ \$(grep -c 'catalog check done' '$T/hostd.log') -gt ${checked:-0} ]" 10 ||
	    fail "catalog check did not finish: $(tail -5 "$T/hostd.log")"
}

# stop_hostd: SIGTERM the daemon and wait for it.
stop_hostd() {
	kill "$HOSTD_PID" 2>/dev/null
	wait "$HOSTD_PID" 2>/dev/null
}

# catalog_of UUID: what the VM's catalog holds on disk, its file and then
# its journal (a running or killed daemon's last changes are there; a
# clean stop rewrites the file whole and empties the journal).
catalog_of() {
	cat "$T/state/catalogs/$1.json" "$T/state/catalogs/$1.json.journal" 2>/dev/null
}

# add_vm UUID NAME SOCK VOLUUID SERIAL [EXTRA...]: register a VM.
add_vm() {
	local uuid=$1 name=$2 sock=$3 vol=$4 serial=$5
	shift 5
	$HOSTCTL vm add --uuid "$uuid" --name "$name" --hybrid-socket "$sock" \
	    --volume "uuid=$vol,name=data,backend=qcow2,locator=$T/$name.qcow2,disk=serial:$serial" \
	    "$@" >/dev/null || fail "vm add $name failed"
}

# run_cmd CMD...: run, capturing stdout in OUT, stderr in ERR, code in RC.
run_cmd() {
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	if printf '%s' "$ERR" | grep -qE "$SANITIZER_RE"; then
		fail "sanitizer report from $1: $ERR"
	fi
}

# expect_rc N: the last run_cmd exited N.
expect_rc() {
	[ "$RC" -eq "$1" ] || fail "exit code $RC, expected $1 (stdout: $OUT; stderr: $ERR)"
}

# expect_in HAYSTACK NEEDLE: NEEDLE occurs in HAYSTACK.
expect_in() {
	case "$1" in
	*"$2"*) ;;
	*) fail "expected '$2' in: $1" ;;
	esac
}

# expect_not_in HAYSTACK NEEDLE
expect_not_in() {
	case "$1" in
	*"$2"*) fail "did not expect '$2' in: $1" ;;
	esac
}

# lines STRING: the number of lines in STRING.
lines() {
	printf '%s\n' "$1" | wc -l
}

# json_members: each member snapshot of a --json snapshot answer in OUT
# ({"groups": [{..., "members": [{...}]}]}), one a line: what counts
# snapshots, since a group repeats its members' name, UUID and state.
json_members() {
	printf '%s' "$OUT" | tr -d '\n' |
	    awk -v depth=4 -f "$(dirname "${BASH_SOURCE[0]}")/../tools/json-objects.awk"
}

# hostd_alive: the daemon process still runs.
hostd_alive() {
	kill -0 "$HOSTD_PID" 2>/dev/null || fail "hostd died: $(tail -5 "$T/hostd.log")"
}

# mkfs_loop NAME TYPE: an image $T/NAME.img with a TYPE filesystem, attached
# to a loop device (LOOP_NAME) and mounted at $T/mnt/NAME.
mkfs_loop() {
	local name=$1 type=$2 dev
	truncate -s 64M "$T/$name.img"
	case $type in
	ext4) mkfs.ext4 -q -F "$T/$name.img" >/dev/null 2>&1 || fail "mkfs.ext4" ;;
	vfat) mkfs.vfat "$T/$name.img" >/dev/null 2>&1 || return 1 ;;
	esac
	dev=$(losetup --find --show "$T/$name.img") || fail "losetup"
	CLEANUP_LOOPS="$dev $CLEANUP_LOOPS"
	mkdir -p "$T/mnt/$name"
	if ! mount -t "$type" "$dev" "$T/mnt/$name" 2>/dev/null; then
		return 1
	fi
	CLEANUP_MOUNTS="$T/mnt/$name $CLEANUP_MOUNTS"
	eval "LOOP_$name=$dev"
}

# frozen MNT: a write on MNT does not finish within 0.3 s.  A write blocked
# by a freeze cannot be killed, so it is left to finish after the thaw.
frozen() {
	sh -c "echo x > '$1/.probe'" 2>/dev/null &
	local p=$!
	sleep 0.3
	if kill -0 "$p" 2>/dev/null; then
		PIDS="$p $PIDS"
		return 0
	fi
	wait "$p"
	return 1
}


# app_setup [ZFS-COMMAND]: VM one (running) with a ZFS volume whose guest
# disk is loop A; a hooks dir; the guest daemon connected.
app_setup() {
	local zfs=${1:-$ZFS_MOCK}
	mkfs_loop a ext4 || fail "mount a"
	export EVG_MOCK_ZFS_DIR="$T/zfs"
	mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
	echo 1073741824 > "$EVG_MOCK_ZFS_DIR/datasets/persist%vol1"
	printf 'zfs = %s\nspace_reserve_mib = 0\n' "$zfs" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state running \
	    --volume "uuid=$VOLUUID1,name=db,backend=zfs,locator=persist/vol1,disk=backing:$T/a.img" \
	    >/dev/null || fail "vm add"
	mkdir -p "$T/hooks/pre.d" "$T/hooks/post.d"
	chmod 755 "$T/hooks" "$T/hooks/pre.d" "$T/hooks/post.d"
	bg $AGENT --connect "unix:$T/one.sock_2210" daemon -f --hooks-dir "$T/hooks"
	DAEMON=$LASTPID
	wait_for "$HOSTCTL vm show $UUID1 | grep -q 'Guest agent:    connected'" ||
	    fail "daemon did not connect"
}

# hook NAME BODY: an executable, root-owned hook script.
hook() {
	printf '#!/bin/sh\n%s\n' "$2" > "$T/hooks/$1"
	chmod 755 "$T/hooks/$1"
}

# event_kinds: the kinds of the events so far, one line, in order.
event_kinds() {
	$HOSTCTL --json events | sed -n 's/.*"kind":"\([a-z-]*\)".*/\1/p' | tr '\n' ' '
}

# A qcow2 image of SIZE (default 64M) at PATH.
mkimg() {
	qemu-img create -q -f qcow2 "$1" "${2:-64M}" || fail "qemu-img create"
}

# holds IMG BYTE: the first MiB of IMG is all BYTE (qemu-io exits 1 on a
# mismatch; it prints "read 1048576/1048576 bytes" either way).
holds() {
	qemu-io -f qcow2 -c "read -P $2 0 1M" "$1" >/dev/null 2>&1
}

# qemu-io PATH CMD: run one qemu-io command on an image no one holds.
qio() {
	qemu-io -f qcow2 -c "$2" "$1" >/dev/null || fail "qemu-io $2 on $1"
}

# add_qcow2_vm UUID NAME IMG STATE [EXTRA...]: a VM with one qcow2 volume.
add_qcow2_vm() {
	local uuid=$1 name=$2 img=$3 state=$4
	shift 4
	$HOSTCTL vm add --uuid "$uuid" --name "$name" --hybrid-socket "$T/$name.sock" \
	    --state "$state" \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$img,disk=serial:S1$*" \
	    >/dev/null || fail "vm add $name"
}

# guest_setup: VM one owns disk A (qcow2 volume), VM two owns disk B; the
# host runs with extra config lines given as arguments.
guest_setup() {
	mkfs_loop a ext4 || fail "mount a"
	mkfs_loop b ext4 || fail "mount b"
	qemu-img create -q -f qcow2 "$T/vol-a.qcow2" 64M
	qemu-img create -q -f qcow2 "$T/vol-b.qcow2" 64M
	printf '%s\n' "$@" > "$T/hostd.conf"
	start_hostd
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state stopped \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/vol-a.qcow2,disk=backing:$T/a.img" \
	    >/dev/null || fail "vm add one"
	$HOSTCTL vm add --uuid $UUID2 --name vm-two --hybrid-socket "$T/two.sock" \
	    --state stopped \
	    --volume "uuid=$VOLUUID2,name=data,backend=qcow2,locator=$T/vol-b.qcow2,disk=backing:$T/b.img" \
	    >/dev/null || fail "vm add two"
	G1="$AGENT --connect unix:$T/one.sock_2210"
	G2="$AGENT --connect unix:$T/two.sock_2210"
}

# fake_qmp_start: a 16M qcow2 $T/d.qcow2 and a scripted QEMU monitor on
# $T/qmp.sock answering commands with $T/qmp.reply (test/tools/fake-qmp.c;
# its log, one command a line, in $T/qmp.log).
fake_qmp_start() {
	qemu-img create -q -f qcow2 "$T/d.qcow2" 16M || fail "qemu-img create"
	[ -f "$T/qmp.reply" ] || echo '{}' > "$T/qmp.reply"
	bg $BUILD/fake-qmp "$T/qmp.sock" "$T/qmp.reply" >"$T/qmp.log"
	wait_for "[ -S '$T/qmp.sock' ]" || fail "fake QMP did not start"
}

# add_qmp_vm: VM one, running, its qcow2 volume $T/d.qcow2 held by the fake
# QEMU (node drive-data).
add_qmp_vm() {
	$HOSTCTL vm add --uuid $UUID1 --name vm-one --hybrid-socket "$T/one.sock" \
	    --state running --qmp "$T/qmp.sock" \
	    --volume "uuid=$VOLUUID1,name=data,backend=qcow2,locator=$T/d.qcow2,disk=serial:ONE,node=drive-data" \
	    >/dev/null || fail "vm add"
}
