# shellcheck shell=dash
# Guest-side helpers for test/vm/tests/t_*.sh: sourced by each test inside
# the test guest (busybox ash), never on the machine that runs QEMU.  The
# "host" side runs in the guest too: eve-guest-hostd on a tmpfs with small
# qcow2 volumes it snapshots offline with qemu-img, while the guest agent
# works on the real virtio-blk and SCSI disks QEMU attached.
#
# A check prints "ok - WHAT" or "not ok - WHAT" (with the last command's
# exit code, stdout and stderr); finish prints the count and exits non-zero
# if any check failed.

# Refuse to run anywhere but in the test guest: the tests freeze
# filesystems and repartition disks.
if [ ! -f /evg/modules/load.list ] || ! grep -q '/init' /proc/1/cmdline; then
	echo "lib.sh: not in the test guest; refusing to run" >&2
	exit 125
fi

export PATH=/usr/bin:/usr/sbin:/bin:/sbin
H=/tmp/host
CTL=$H/control.sock
HOSTCTL="eve-guest-hostctl --socket $CTL"
VM_UUID=6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11
VOL_A=0b6c2f8e-5a41-4d7e-8f3c-9a1e2d3c4b51
VOL_B=0b6c2f8e-5a41-4d7e-8f3c-9a1e2d3c4b52
VOL_C=0b6c2f8e-5a41-4d7e-8f3c-9a1e2d3c4b53
PASSED=0
FAILED=0
HOSTD_PID=""
PIDS=""
OUT=""
ERR=""
RC=0
mkdir -p "$H"

echo "guest kernel: $(uname -r)"

# check WHAT CMD...: run CMD (a shell function or command) as one check.
check() {
	local what=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "ok - $what"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $what"
		echo "#   last command: rc=$RC"
		printf '%s\n' "$OUT" | tail -8 | sed 's/^/#   out: /'
		printf '%s\n' "$ERR" | tail -4 | sed 's/^/#   err: /'
	fi
}

# run CMD...: run CMD, keeping its stdout in OUT, stderr in ERR, exit in RC.
run() {
	OUT=$("$@" 2>"$H/.err")
	RC=$?
	ERR=$(cat "$H/.err")
}

# rc_is N: the last run exited with N.
rc_is() { [ "$RC" -eq "$1" ]; }
# has TEXT [STRING]: STRING (default OUT) contains TEXT.
has() { case "${2-$OUT}" in *"$1"*) return 0 ;; esac; return 1; }
# lacks TEXT [STRING]: STRING (default OUT) does not contain TEXT.
lacks() { ! has "$@"; }
# count TEXT: how many times TEXT occurs in OUT.
count() { printf '%s' "$OUT" | grep -o "$1" | wc -l; }
# all CMD...: every command given as one string argument succeeds.
all() {
	local c
	for c in "$@"; do
		eval "$c" || return 1
	done
}

# json_uuid: the first "uuid" in OUT.
json_uuid() {
	printf '%s' "$OUT" | grep -o '"uuid":"[0-9a-f-]*"' | head -1 | cut -d'"' -f4
}

# json_items: each element of the top-level object's arrays in OUT (each
# snapshot of a list or create answer), nested members included, one a line.
json_items() {
	printf '%s' "$OUT" | tr -d '\n' | awk '{
		d = 0; q = 0; s = ""
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (q) {
				if (c == "\\") { s = s c; i++; c = substr($0, i, 1) }
				else if (c == "\"") q = 0
			} else if (c == "\"") q = 1
			else if (c == "{" || c == "[") d++
			else if (c == "}" || c == "]") d--
			if (d >= 3 || (d == 2 && c == "}")) s = s c
			if (d == 2 && c == "}") { print s; s = "" }
		}
	}'
}
# json_leaves: each innermost object in OUT (a mount of a consistency
# record, a disk identifier), one a line.
json_leaves() {
	printf '%s' "$OUT" | tr -d '\n' | tr '{' '\n' | sed -n 's/}.*//p'
}
# json_item_with TEXT1 TEXT2: one snapshot in OUT holds both.
json_item_with() { json_items | grep -F "$1" | grep -qF "$2"; }
# json_leaf_with TEXT1 TEXT2: one innermost object in OUT holds both.
json_leaf_with() { json_leaves | grep -F "$1" | grep -qF "$2"; }

# wait_for EXPR [SECONDS]: poll a shell condition (default 10 s).
wait_for() {
	local i=0 max=$(( ${2:-10} * 10 ))
	while [ $i -lt $max ]; do
		eval "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# bg CMD...: start CMD in the background; LASTPID, and PIDS for finish.
bg() {
	"$@" &
	LASTPID=$!
	PIDS="$LASTPID $PIDS"
}

# host_start [CONFIG-LINE...] [-- HOSTD-OPTION...]: start eve-guest-hostd
# (hybrid sockets only unless options say otherwise), log in $H/hostd.log.
host_start() {
	local checked
	{
		echo "space_reserve_mib = 0"
		echo "qemu_img = /usr/bin/qemu-img"
		while [ $# -gt 0 ] && [ "$1" != "--" ]; do
			echo "$1"
			shift
		done
	} > "$H/hostd.conf"
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || set -- --no-vsock
	checked=$(grep -c "catalog check done" "$H/hostd.log" 2>/dev/null)
	eve-guest-hostd -f -c "$H/hostd.conf" --state-dir "$H/state" \
	    --control-socket "$CTL" "$@" >> "$H/hostd.log" 2>&1 &
	HOSTD_PID=$!
	wait_for "[ -S '$CTL' ]" || { echo "hostd did not start:"; cat "$H/hostd.log"; return 1; }
	wait_for "[ \$(grep -c 'catalog check done' '$H/hostd.log') -gt ${checked:-0} ]" ||
	    { echo "hostd: no catalog check"; tail "$H/hostd.log"; return 1; }
}

# host_stop: SIGTERM the daemon and wait for it.
host_stop() {
	[ -n "$HOSTD_PID" ] || return 0
	kill "$HOSTD_PID" 2>/dev/null
	wait "$HOSTD_PID" 2>/dev/null
	HOSTD_PID=""
	rm -f "$CTL"
}

# volume NAME: a 16 MiB qcow2 image $H/NAME.qcow2, the host's EVE volume.
volume() {
	qemu-img create -q -f qcow2 "$H/$1.qcow2" 16M
}

# image_has QCOW2 UUID: qemu-img lists a snapshot named UUID.
image_has() {
	qemu-img snapshot -l "$1" | grep -q "$2"
}

# partition DEV SIZE...: a new msdos label on DEV with one primary
# partition per SIZE ("+24M", or "" for the rest), made with busybox fdisk
# as a guest user would; waits for the partition nodes.
partition() {
	local dev=$1 n=1 script=""
	shift
	for s in "$@"; do
		script="${script}n\np\n$n\n\n$s\n"
		n=$((n + 1))
	done
	printf "o\n${script}w\n" | fdisk "$dev" >/dev/null 2>&1
	n=$((n - 1))
	wait_for "[ -b ${dev}$n ]" 5
}

# mkfs_mount DEV MNT: a fresh ext4 on DEV (mkfs.ext4) mounted at MNT.
mkfs_mount() {
	mkfs.ext4 -q -F "$1" >/dev/null 2>&1 || return 1
	mkdir -p "$2"
	mount -t ext4 "$1" "$2"
}

# writable MNT: a write on MNT finishes within 2 s (not left frozen).
writable() {
	local p i=0
	sh -c "echo x > '$1/.probe'" &
	p=$!
	while kill -0 "$p" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 20 ]; then
			PIDS="$p $PIDS"
			return 1
		fi
		sleep 0.1
	done
	wait "$p"
}

# snapshot_flow TARGET DISK MNT VOLUME QCOW2 TAG: with $AGENT, snapshot
# check and create on TARGET, whose whole disk is DISK and whose filesystem
# is mounted at MNT; the snapshot (named snap-TAG) must be in the volume's
# image and MNT writable after.  Leaves the snapshot's UUID in UUID_<TAG>.
snapshot_flow() {
	local target=$1 disk=$2 mnt=$3 vol=$4 img=$5 tag=$6 u
	run $AGENT snapshot check "$target"
	check "$target: snapshot check goes ahead, plan names $mnt and volume $vol" \
	    all 'rc_is 0' "has '$mnt'" "has '$vol'" 'has "would go ahead"'
	run $AGENT --json snapshot create "$target" --name "snap-$tag"
	check "$target: snapshot create (fs, guest) on $disk froze $mnt" all \
	    'rc_is 0' 'has "\"consistency\":\"fs\""' 'has "\"origin\":\"guest\""' \
	    "has '\"disk\":\"$disk\"'" "json_leaf_with '\"mountpoint\":\"$mnt\"' '\"action\":\"frozen\"'"
	u=$(json_uuid)
	eval "UUID_$tag=$u"
	check "$target: the snapshot $u is in $img" image_has "$H/$img" "$u"
	check "$target: $mnt is writable again" writable "$mnt"
}

# snapshot_delete TAG QCOW2: delete snap-TAG with $AGENT; gone from the
# image.
snapshot_delete() {
	local u
	eval "u=\$UUID_$1"
	run $AGENT snapshot delete "$u"
	check "snapshot delete snap-$1 ($u)" rc_is 0
	check "snap-$1 is no longer in $2" eval "! image_has '$H/$2' '$u'"
}
# finish: thaw anything left frozen, stop what the test started, print the
# tally and exit with the number of failed checks (capped).
finish() {
	local m p
	for m in $(awk '$2 ~ "^/mnt/" { print $2 }' /proc/mounts); do
		fsfreeze -u "$m" 2>/dev/null
	done
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	host_stop
	if [ $FAILED -gt 0 ]; then
		echo "# hostd log (tail):"
		tail -15 "$H/hostd.log" | sed 's/^/#   /'
	fi
	echo "checks: $PASSED passed, $FAILED failed"
	[ $FAILED -eq 0 ] && exit 0
	[ $FAILED -lt 100 ] && exit "$FAILED"
	exit 100
}
