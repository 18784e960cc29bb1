#!/usr/bin/env bash
# Boot the test guest (built by build-guest.sh) under QEMU/TCG with the disks
# asked for, run SCRIPT inside as /evg/test.sh, and exit with its exit code.
#
# Usage: run-guest.sh [--build DIR] [--log FILE] [--timeout SECS]
#                     SCRIPT [--disk SPEC]...
#
# SPEC is the QEMU device and its identifiers, plus an optional size=:
#   virtio-blk,serial=X[,addr=0xN][,size=64M]
#   virtio-blk[,addr=0xN]                  (no serial: known by PCI path)
#   scsi-hd,wwn=0x...[,serial=X][,size=64M] (on one virtio-scsi-pci HBA)
# Each disk is a fresh sparse raw image in a temp dir, removed afterwards.
# A virtio-blk disk without addr= gets slot 4 + its position among the
# --disk options, so its guest PCI path is 0000:00:0N.0; the SCSI HBA sits
# at slot 0x10 (0000:00:10.0).
#
# The console goes to FILE (default: a temp file, printed on failure) and
# the exit code is the N of the guest's "EVG-EXIT=N" line; 124 if the guest
# did not finish within SECS (default 120, QEMU is then killed by pid), 125
# if it stopped without the marker.  Prints "boot: S s, run: S s" on stderr.
set -uo pipefail

BUILD=build
LOG=""
TIMEOUT=120
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--log) LOG=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	-*) echo "run-guest: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: run-guest.sh [options] SCRIPT [--disk SPEC]..." >&2; exit 2; }
SCRIPT=$1
shift
ENVFILE="$BUILD/vm/guest.env"
[ -f "$ENVFILE" ] || { echo "run-guest: $ENVFILE missing (run build-guest.sh)" >&2; exit 2; }
# shellcheck disable=SC1090
. "$ENVFILE"

TMP=$(mktemp -d /tmp/evg-vm-XXXXXX)
QPID=""
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null
		sleep 0.5
		kill -9 "$QPID" 2>/dev/null
		wait "$QPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -n "$LOG" ] || LOG="$TMP/console.log"

# The test layer: the script as /evg/test.sh.
mkdir -p "$TMP/layer/evg"
cp "$SCRIPT" "$TMP/layer/evg/test.sh"
(cd "$TMP/layer" && find . -mindepth 1 | "$(dirname "$KERNEL")/busybox" cpio -o -H newc 2>/dev/null) > "$TMP/test.cpio"
cat "$BASE" "$BUNDLE" "$TMP/test.cpio" > "$TMP/initrd"

DEVARGS=()
n=0
scsi=0
while [ $# -gt 0 ]; do
	if [ "$1" != "--disk" ] || [ $# -lt 2 ]; then
		echo "run-guest: expected --disk SPEC, got '$1'" >&2
		exit 2
	fi
	spec=$2
	shift 2
	size=64M
	dev=${spec%%,*}
	opts=""
	addr=""
	rest=${spec#"$dev"}
	IFS=, read -ra kv <<< "${rest#,}"
	for o in "${kv[@]}"; do
		case "$o" in
		size=*) size=${o#size=} ;;
		addr=*) addr=${o#addr=} ;;
		"") ;;
		*) opts="$opts,$o" ;;
		esac
	done
	img="$TMP/disk$n.img"
	truncate -s "$size" "$img"
	DEVARGS+=(-drive "if=none,id=d$n,file=$img,format=raw,cache=unsafe")
	case "$dev" in
	virtio-blk)
		[ -n "$addr" ] || addr=$(printf '0x%x' $((4 + n)))
		DEVARGS+=(-device "virtio-blk-pci,drive=d$n,addr=$addr$opts")
		;;
	scsi-hd)
		if [ $scsi -eq 0 ]; then
			DEVARGS+=(-device "virtio-scsi-pci,id=scsi0,addr=0x10")
			scsi=1
		fi
		DEVARGS+=(-device "scsi-hd,drive=d$n,bus=scsi0.0,scsi-id=$n,lun=0$opts")
		;;
	*) echo "run-guest: unknown disk type '$dev'" >&2; exit 2 ;;
	esac
	n=$((n + 1))
done

# The guest stops the script itself a little before the hard limit, so a
# hung test still reports (and powers off) where it can.
inner=$((TIMEOUT - 10))
[ $inner -ge 5 ] || inner=5
start=$(date +%s%N)
qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -nic none \
    -kernel "$KERNEL" -initrd "$TMP/initrd" \
    -append "console=ttyS0 quiet panic=-1 evg.disks=$n evg.timeout=$inner" \
    "${DEVARGS[@]}" < /dev/null > "$LOG" 2>&1 &
QPID=$!
deadline=$(( $(date +%s) + TIMEOUT ))
rc=""
boot_ms=""
while kill -0 "$QPID" 2>/dev/null; do
	if [ -z "$boot_ms" ] && grep -q "^EVG-INIT: ready" "$LOG" 2>/dev/null; then
		boot_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "run-guest: timeout after $TIMEOUT s; killing QEMU (pid $QPID)" >&2
		kill "$QPID" 2>/dev/null
		sleep 1
		kill -9 "$QPID" 2>/dev/null
		rc=124
		break
	fi
	sleep 0.1
done
wait "$QPID" 2>/dev/null
QPID=""
end=$(date +%s%N)
tr -d '\r' < "$LOG" > "$TMP/console.txt"
if [ -z "$rc" ]; then
	rc=$(sed -n 's/^EVG-EXIT=\([0-9]*\)$/\1/p' "$TMP/console.txt" | tail -1)
	[ -n "$rc" ] || rc=125
fi
# Boot time: QEMU start to the guest's "ready" line (modules loaded, disks
# there), as seen from this side, to within the 0.1 s poll.
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }
total_ms=$(( (end - start) / 1000000 ))
echo "boot: $( [ -n "$boot_ms" ] && secs "$boot_ms" || echo '?') s, total: $(secs "$total_ms") s (QEMU start to exit)" >&2
if [ "$LOG" = "$TMP/console.log" ]; then
	cat "$TMP/console.txt"
fi
exit "$rc"
