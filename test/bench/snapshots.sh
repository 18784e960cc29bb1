#!/usr/bin/env bash
# Snapshot-count benchmark (issue 15, goal 7): one VM whose volume holds N
# snapshots of ours (default 10,000), listed from the controller
# (eve-guest-hostctl) and from the guest (eve-guest-agent over the VM's
# hybrid socket), both paged.  The snapshots are made in the mock zfs's
# state directly (test/tools/mock-zfs: ZFS has no kernel module here, and
# 10,000 qcow2 internal snapshots take QEMU about an hour), each with the
# eve:snapshot-uuid and eve:snapshot-name properties a create sets; the
# host adopts them at its start-up catalog check (the VM is registered
# first, then the host restarted).  Prints the start-up
# time (adoption), the list times and counts, one more create and delete
# at N, and the restart time with N in the catalog.  Asserts nothing.
# Usage: snapshots.sh [BUILD-DIR] [N]   (default build, 10000)
set -u
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/evg-bench-snaps-XXXXXX)
CTL=$T/control.sock
HOSTD_PID=""
VM=5ab0a5e5-0000-4000-8000-000000000001
VOL=5ab0a5e5-1111-4111-8111-000000000001
cleanup() {
	[ -n "$HOSTD_PID" ] && kill "$HOSTD_PID" 2>/dev/null && wait "$HOSTD_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
HOSTCTL="$BUILD/eve-guest-hostctl --socket $CTL --timeout 120"
AGENT="$BUILD/eve-guest-agent --connect unix:$T/vm.sock_2210"

export EVG_MOCK_ZFS_DIR=$T/zfs
mkdir -p "$T/zfs/datasets" "$T/zfs/snapshots/persist%vol1"
echo 1073741824 > "$T/zfs/datasets/persist%vol1"
printf 'zfs = %s\nspace_reserve_mib = 0\n' "$HERE/../tools/mock-zfs" > "$T/hostd.conf"

# N snapshots of ours, as `zfs snapshot -o eve:snapshot-uuid=... -o
# eve:snapshot-name=...` leaves them in the mock's state.
t0=$(ms_now)
d=$T/zfs/snapshots/persist%vol1
now=$(date +%s)
for i in $(seq 1 "$N"); do
	u=$(printf '5ab0%04x-2222-4333-8444-%012x' $((i % 65536)) "$i")
	s=evg-$u
	mkdir -p "$d/$s/props"
	printf '1048576' > "$d/$s/used"
	printf '%s' $((now - N + i)) > "$d/$s/creation"
	printf '%s' "$u" > "$d/$s/props/eve:snapshot-uuid"
	printf 'bench %05d' "$i" > "$d/$s/props/eve:snapshot-name"
	printf '%s\n' "$s"
done > "$d/order"
echo "snapshots: $N snapshots laid out in the mock zfs in $(( $(ms_now) - t0 )) ms"

# start: hostd up and its start-up catalog check done; START_MS.
start() {
	local t0 checked
	checked=$(grep -c "catalog check done" "$T/hostd.log" 2>/dev/null)
	t0=$(ms_now)
	"$BUILD/eve-guest-hostd" -f -c "$T/hostd.conf" --no-vsock \
	    --state-dir "$T/state" --control-socket "$CTL" >>"$T/hostd.log" 2>&1 &
	HOSTD_PID=$!
	until [ "$(grep -c "catalog check done" "$T/hostd.log")" -gt "${checked:-0}" ]; do
		kill -0 "$HOSTD_PID" 2>/dev/null || { echo "hostd died:"; tail -5 "$T/hostd.log"; exit 1; }
		sleep 0.01
	done
	START_MS=$(( $(ms_now) - t0 ))
}

start
$HOSTCTL vm add --uuid $VM --name bench --hybrid-socket "$T/vm.sock" \
    --state stopped \
    --volume "uuid=$VOL,name=db,backend=zfs,locator=persist/vol1,disk=serial:BENCH" \
    >/dev/null || { echo "vm add failed"; exit 1; }
# The start-up catalog check adopts them: restart, and wait for it.
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
start
echo "snapshots: start-up with $N snapshots to adopt: checked in $START_MS ms"
got=$($HOSTCTL --json snapshot list --vm $VM | grep -o '"uuid":"5ab0' | wc -l)
[ "$got" -ge "$N" ] || { echo "the host adopted $got of $N:"; tail -5 "$T/hostd.log"; exit 1; }

# timed LABEL CMD...: run CMD (stdout to $T/out), print its time.
timed() {
	local label=$1 t0 rc
	shift
	t0=$(ms_now)
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	echo "snapshots: $label: $(( $(ms_now) - t0 )) ms (exit $rc)$( [ $rc -ne 0 ] && echo ": $(head -c 300 "$T/err")")"
}
count() { grep -o '"uuid":"5ab0[0-9a-f-]*"' "$T/out" | sort -u | wc -l; }

timed "controller list, text" $HOSTCTL snapshot list --vm $VM
echo "snapshots:   $(grep -c 'bench ' "$T/out") rows"
timed "controller list, --json" $HOSTCTL --json snapshot list --vm $VM
echo "snapshots:   $(count) snapshots"
timed "guest list, --json (64 KiB frames)" $AGENT --json snapshot list
echo "snapshots:   $(count) snapshots"
timed "guest list, text" $AGENT snapshot list
echo "snapshots:   $(grep -c 'bench ' "$T/out") rows"
timed "one more create at $N" $HOSTCTL --json snapshot create --vm $VM --name "one more"
new=$(grep -o '"uuid":"[0-9a-f-]*"' "$T/out" | head -1 | cut -d'"' -f4)
[ -n "$new" ] && timed "its delete" $HOSTCTL snapshot delete --vm $VM "$new"
RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$HOSTD_PID/status")
echo "snapshots: hostd RSS with $N snapshots: $RSS KiB"
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
echo "snapshots: catalog file: $(stat -c %s "$T/state/catalogs/$VM.json") bytes"
start
echo "snapshots: restart with $N snapshots: serving and checked in $START_MS ms"
