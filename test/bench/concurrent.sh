#!/usr/bin/env bash
# Concurrency benchmark (issue 15, goal 6): C concurrent creates (default
# 100) over V VMs (default 20), each VM stopped with one real qcow2 image
# (qemu-img snapshots), all asked at once through eve-guest-hostctl
# against a real eve-guest-hostd with its default limits (one operation
# per VM, max_parallel_ops 4, the rest wait their turn).  Prints how many
# succeeded, how many waited, the wall time and the slowest request.
# Asserts nothing.
# Usage: concurrent.sh [BUILD-DIR] [CREATES] [VMS]
set -u
BUILD=$(cd "${1:-build}" && pwd)
C=${2:-100}
V=${3:-20}
T=$(mktemp -d /tmp/evg-bench-conc-XXXXXX)
CTL=$T/control.sock
HOSTD_PID=""
cleanup() {
	[ -n "$HOSTD_PID" ] && kill "$HOSTD_PID" 2>/dev/null && wait "$HOSTD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
HOSTCTL="$BUILD/eve-guest-hostctl --socket $CTL"
"$BUILD/eve-guest-hostd" -f -c /dev/null --no-vsock --state-dir "$T/state" \
    --control-socket "$CTL" >"$T/hostd.log" 2>&1 &
HOSTD_PID=$!
until [ "$(grep -c "catalog check done" "$T/hostd.log")" -gt 0 ]; do
	kill -0 "$HOSTD_PID" 2>/dev/null || { echo "hostd died"; exit 1; }
	sleep 0.01
done
for v in $(seq 1 "$V"); do
	u=$(printf 'c0c0%04x-0000-4000-8000-%012x' "$v" "$v")
	qemu-img create -q -f qcow2 "$T/$v.qcow2" 16M
	$HOSTCTL vm add --uuid "$u" --name "vm-$v" --hybrid-socket "$T/$v.sock" \
	    --state stopped \
	    --volume "uuid=$(printf 'c1c1%04x-1111-4111-8111-%012x' "$v" "$v"),name=data,backend=qcow2,locator=$T/$v.qcow2,disk=serial:C$v" \
	    >/dev/null || { echo "vm add $v failed"; exit 1; }
done
echo "concurrent: $C creates over $V VMs (default limits), all asked at once"
t0=$(ms_now)
for i in $(seq 1 "$C"); do
	v=$(( (i - 1) % V + 1 ))
	u=$(printf 'c0c0%04x-0000-4000-8000-%012x' "$v" "$v")
	( s=$(ms_now); $HOSTCTL snapshot create --vm "$u" --name "c$i" \
	    >/dev/null 2>"$T/err.$i"; echo "$? $(( $(ms_now) - s ))" > "$T/rc.$i" ) &
done
wait_all() { while [ "$(ls "$T"/rc.* 2>/dev/null | wc -l)" -lt "$C" ]; do sleep 0.05; done; }
wait_all
wall=$(( $(ms_now) - t0 ))
ok=$(cat "$T"/rc.* | awk '$1 == 0' | wc -l)
busy=$(cat "$T"/rc.* | awk '$1 == 14' | wc -l)
waited=$(grep -l "waiting for its turn" "$T"/err.* 2>/dev/null | wc -l)
slowest=$(cat "$T"/rc.* | awk '{ print $2 }' | sort -n | tail -1)
echo "concurrent: $ok of $C succeeded, $busy BUSY, $waited were told they wait; wall ${wall} ms, slowest request ${slowest} ms"
[ "$ok" -lt "$C" ] && { echo "concurrent: first failures:"; cat "$T"/err.* | sort | uniq -c | head -5; }
total=0
for v in $(seq 1 "$V"); do
	total=$(( total + $(qemu-img snapshot -l "$T/$v.qcow2" | grep -c evg-) ))
done
echo "concurrent: $total snapshots in the images"
