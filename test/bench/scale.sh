#!/usr/bin/env bash
# Scale benchmark (issue 15, goal 5): N VMs (CIDs 3..N+2), each with a
# hybrid socket and one qcow2 volume, registered one by one with
# eve-guest-hostctl against a real eve-guest-hostd on temporary paths.
# Prints the time per thousand registrations (first and last thousand and
# their ratio), hostd's RSS idle and per VM, `vm list` time and the time
# a restart takes to serve again.  Not a test: it asserts nothing.
# Usage: scale.sh [BUILD-DIR] [N]   (default build, 9000)
set -u
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-9000}
T=$(mktemp -d /tmp/evg-bench-XXXXXX)
CTL=$T/control.sock
HOSTD_PID=""
cleanup() {
	[ -n "$HOSTD_PID" ] && kill "$HOSTD_PID" 2>/dev/null && wait "$HOSTD_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
	case "${S:-}" in /dev/shm/evg-bench-s-*) [ -n "${KEEP:-}" ] || rm -rf "$S" ;; esac
}
trap cleanup EXIT

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

start() {
	local t0
	t0=$(ms_now)
	"$BUILD/eve-guest-hostd" -f -c /dev/null --no-vsock --state-dir "$T/state" \
	    --control-socket "$CTL" >>"$T/hostd.log" 2>&1 &
	HOSTD_PID=$!
	until "$BUILD/eve-guest-hostctl" --socket "$CTL" --timeout 2 vm list \
	    >/dev/null 2>&1; do
		kill -0 "$HOSTD_PID" 2>/dev/null || { echo "hostd died:"; tail -5 "$T/hostd.log"; exit 1; }
		sleep 0.01
	done
	START_MS=$(( $(ms_now) - t0 ))
}

start
RSS0=$(rss_kib "$HOSTD_PID")
echo "scale: $N VMs, hostd pid $HOSTD_PID, RSS at start ${RSS0} KiB"
# The hybrid sockets on a tmpfs, as /run is on EVE (on a disk filesystem,
# creating 9000 socket inodes in one directory costs the kernel seconds).
S=$T/s
if [ -d /dev/shm ] && S=$(mktemp -d /dev/shm/evg-bench-s-XXXXXX 2>/dev/null); then
	:
else
	S=$T/s
	mkdir -p "$S"
fi
echo "scale: hybrid sockets in $S ($(stat -f -c %T "$S"))"
first="" last="" t0=$(ms_now) failed=0
for i in $(seq 1 "$N"); do
	u=$(printf '%08x-0000-4000-8000-%012x' "$i" "$i")
	v=$(printf '%08x-1111-4111-8111-%012x' "$i" "$i")
	if ! "$BUILD/eve-guest-hostctl" --socket "$CTL" vm add --uuid "$u" \
	    --name "vm-$i" --cid $((i + 2)) --hybrid-socket "$S/$i" \
	    --state stopped \
	    --volume "uuid=$v,name=data,backend=qcow2,locator=/persist/vault/volumes/$v#1.qcow2,disk=serial:S$i" \
	    >/dev/null 2>"$T/err"; then
		failed=$((failed + 1))
		[ $failed -le 3 ] && echo "scale: vm add $i failed: $(cat "$T/err")"
		[ $failed -eq 3 ] && break
	fi
	if [ $((i % 1000)) -eq 0 ]; then
		t1=$(ms_now)
		echo "scale: VMs $((i - 999))..$i registered in $((t1 - t0)) ms"
		[ -z "$first" ] && first=$((t1 - t0))
		last=$((t1 - t0))
		t0=$t1
	fi
done
n=$(( $("$BUILD/eve-guest-hostctl" --socket "$CTL" vm list | wc -l) - 1 ))
RSS1=$(rss_kib "$HOSTD_PID")
FDS=$(ls "/proc/$HOSTD_PID/fd" | wc -l)
t0=$(ms_now)
"$BUILD/eve-guest-hostctl" --socket "$CTL" vm list >/dev/null
LIST_MS=$(( $(ms_now) - t0 ))
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null; HOSTD_PID=""
start
RESTART_MS=$START_MS
echo "scale: registered: $n of $N (failures: $failed); open fds: $FDS"
if [ -n "$first" ] && [ -n "$last" ]; then
	echo "scale: first thousand ${first} ms, last thousand ${last} ms, ratio $(awk -v a="$last" -v b="$first" 'BEGIN { printf "%.2f", a / b }') (goal: at most 2)"
fi
echo "scale: hostd RSS ${RSS1} KiB with $n VMs; $(awk -v a="$RSS1" -v b="$RSS0" -v n="$n" 'BEGIN { if (n) printf "%.2f", (a - b) / n; else print "-" }') KiB per VM (goal: at most 8)"
echo "scale: vm list with $n VMs: ${LIST_MS} ms; restart to serving: ${RESTART_MS} ms (goal: within 1000 each)"
echo "scale: registry file $(stat -c %s "$T/state/registry.json" 2>/dev/null || echo 0) bytes"
