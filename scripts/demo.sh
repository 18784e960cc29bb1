#!/usr/bin/env bash
# The embedded demo: start eve-guest-hostd on temporary paths (no AF_VSOCK,
# hybrid Unix sockets only), register two VMs, and show what the guest agent
# and eve-guest-hostctl do.  Everything is removed at the end.
set -u
BUILD=$(cd "${1:-build}" && pwd)
T=$(mktemp -d /tmp/evg-demo-XXXXXX)
HOSTD_PID=""
AGENT_PID=""
cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "$HOSTD_PID" ] && kill "$HOSTD_PID" 2>/dev/null && wait "$HOSTD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; echo "(exit $?)"; }

HOSTCTL="$BUILD/eve-guest-hostctl --socket $T/control.sock"
AGENT="$BUILD/eve-guest-agent"

echo "Demo directory: $T"
say "eve-guest-hostd -f --no-vsock --state-dir $T/state --control-socket $T/control.sock &"
"$BUILD/eve-guest-hostd" -f --no-vsock --state-dir "$T/state" \
    --control-socket "$T/control.sock" 2>"$T/hostd.log" &
HOSTD_PID=$!
for _ in $(seq 50); do [ -S "$T/control.sock" ] && break; sleep 0.1; done

run $HOSTCTL vm add --uuid 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 --name web-01 \
    --hybrid-socket "$T/web-01.vsock" --cid 3 \
    --volume "uuid=0b6c2f8e-5a41-4d7e-8f3c-9a1e2d3c4b51,name=data,backend=qcow2,locator=$T/web-01-data.qcow2,disk=serial:WEB01DATA"
run $HOSTCTL vm add --uuid 7a2d4c0f-2e3b-4d66-8f1c-3c8b2a1d0e22 --name db-01 \
    --hybrid-socket "$T/db-01.vsock" --cid 4 \
    --volume "uuid=1c7d3a9f-6b52-4e8f-9a4d-0b2f3e4d5c62,name=pgdata,backend=zfs,locator=persist/vault/volumes/pgdata,disk=wwn:naa.6001405a1b2c3d4e"
run $HOSTCTL vm list

echo
echo "# Inside VM web-01 the guest agent reaches the host over vsock; here the"
echo "# hybrid vsock Unix socket stands in for it: $T/web-01.vsock_2210"
run "$AGENT" --connect "unix:$T/web-01.vsock_2210" status
run "$AGENT" --connect "unix:$T/db-01.vsock_2210" --json status

say "eve-guest-agent --connect unix:$T/web-01.vsock_2210 daemon -f &"
"$AGENT" --connect "unix:$T/web-01.vsock_2210" daemon -f 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 50); do
	$HOSTCTL vm show 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 | grep -q 'agent:    connected' && break
	sleep 0.1
done
run $HOSTCTL vm show 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11

echo
echo "# Snapshots of web-01's qcow2 volume (here the VM is reported stopped, so"
echo "# qemu-img does the work; a running VM goes through QEMU's QMP socket):"
qemu-img create -q -f qcow2 "$T/web-01-data.qcow2" 64M
$HOSTCTL vm state 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 stopped >/dev/null
run $HOSTCTL snapshot create --vm 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 --name "before upgrade"
run $HOSTCTL snapshot create --vm 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 --name "after upgrade"
run $HOSTCTL snapshot list --vm 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11
run $HOSTCTL snapshot rollback --vm 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 "before upgrade"
run $HOSTCTL snapshot create --vm 6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11 --name "before upgrade"
say "qemu-img snapshot -l $T/web-01-data.qcow2"
qemu-img snapshot -l "$T/web-01-data.qcow2"
run $HOSTCTL events

echo
echo "# Bad input gets one clear line and a documented exit code:"
run $HOSTCTL vm add --uuid 8b3e5d1a-3f4c-4e77-9a2d-4d9c3b2e1f33 --name bad --cid 2 \
    --volume "uuid=2d8e4b0a-7c63-4f9a-8b5e-1c3a4f5e6d73,name=d,backend=qcow2,locator=/x.qcow2,disk=serial:X"
run "$AGENT" --connect "unix:$T/nowhere.vsock_2210" status

echo
echo "# The host daemon's log:"
sed 's/^/  /' "$T/hostd.log"
