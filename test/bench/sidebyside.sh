#!/usr/bin/env bash
# Side-by-side benchmark (issue 15): a filesystem-consistent snapshot of a
# running QEMU's qcow2 taken by this project (guest CLI -> eve-guest-hostd
# -> guest daemon freeze -> QMP snapshot -> thaw) against what libvirt's
# `snapshot-create --quiesce` does (qemu-guest-agent freeze-list, QMP
# blockdev-snapshot-internal-sync, qemu-ga thaw; test/tools/qga-snap.c).
#
# Everything runs on this host, as root, on temporary paths: the "guest
# filesystem" is an ext4 image on a loop device mounted under the temp
# dir, one real qemu-system-x86_64 (-machine none, TCG) holds the qcow2
# with one QMP monitor per side.  qemu-ga runs in a private mount
# namespace without the other mounts under /tmp, because its thaw runs
# FITHAW on every mount it sees (another test's freeze would end early).
#
# The two sides run interleaved, run by run, N times each, after one
# unmeasured warm-up each that is checked (snapshot catalogued, tag in the
# image).  Each measured snapshot is deleted after its run, untimed, so
# every run finds the image holding the same two snapshots: QEMU's
# internal snapshot gets slower with each one the image holds (about 3 ms
# at 10, 10 ms at 100, 20 ms and more at 140 on a test machine), which
# would otherwise swamp what is compared.
# Figures, median and p90 and the ratio ours/theirs:
#   1. freeze window, FIFREEZE entry to FITHAW exit, from a kernel trace
#      (a private tracefs instance; skipped if tracefs cannot be used);
#   1b. the backend call while frozen: the QMP snapshot command's round
#      trip, as our host's backend-done event and qga-snap report it;
#   1c. the window minus that call, run by run (goal: at most 1 ms);
#   1d. of that, the time inside FIFREEZE and FITHAW themselves: the
#      kernel's (each writes the ext4 superblock with FUA, which a loop
#      device turns into an fsync of its backing file);
#   1e. the rest of 1c: getting the frozen state to the backend and the
#      backend's answer back to the thaw (hops, scheduling, bookkeeping);
#   2. one snapshot end to end: wall time of a fresh client process;
#   3. request round trip on an open connection (test/tools/evg-rtt.c,
#      at least 500 a side, alternating);
#   4. idle RSS of the guest daemons and their wake-ups in 10 s idle.
# Not a test: it asserts nothing, it prints figures.  A set-up step that
# fails stops it (exit 1); the EXIT trap thaws, unmounts, detaches the
# loop device, stops what it started (by pid) and removes the temp dir.
# Usage: sidebyside.sh [BUILD-DIR] [N]   (default build, 50)
# FS_TMPFS=1: the filesystem's image on /dev/shm (flushes cost nothing).
# DIRTY=K: K small files rewritten in the mount before each run, untimed,
# as a live guest would have them (default 8; 0 for an idle filesystem).
# QGA_SNAP_OPTS=-L: qga-snap connects to the monitor only once frozen, as
# eve-guest-hostd does, instead of before the freeze, as libvirt does.
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 1
N=${2:-50}
QGA=/usr/sbin/qemu-ga
FIFREEZE=0xc0045877
FITHAW=0xc0045878
VM=5e1de51d-0000-4000-8000-00000000b001
VOL=5e1de51d-1111-4111-8111-00000000b001
NODE=drive-data
QGA_SNAP_OPTS=${QGA_SNAP_OPTS:-}
DIRTY=${DIRTY:-8}
TRACEFS=/sys/kernel/tracing

T="" SHMDIR="" PIDS="" LOOP="" MOUNTED="" INST="" INST_OFF="" TRACEFS_OURS=""

say() { echo "sidebyside: $*"; }
die() { say "$*"; exit 1; }

cleanup() {
	local p
	set +e
	# Thaw first: a process blocked on a frozen filesystem cannot exit.
	[ -n "$MOUNTED" ] && fsfreeze -u "$T/mnt" 2>/dev/null
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$INST" ] && [ -d "$INST" ]; then
		echo 0 > "$INST/tracing_on"
		echo 0 > "$INST/events/syscalls/sys_enter_ioctl/enable"
		echo 0 > "$INST/events/syscalls/sys_exit_ioctl/enable"
		echo 0 > "$INST/events/syscalls/sys_enter_ioctl/filter"
		echo > "$INST/set_event_pid"
		rmdir "$INST" || say "could not remove the trace instance $INST"
	fi
	[ -n "$TRACEFS_OURS" ] && umount "$TRACEFS"
	if [ -n "$MOUNTED" ]; then
		fsfreeze -u "$T/mnt" 2>/dev/null
		umount "$T/mnt" 2>/dev/null || umount -l "$T/mnt"
	fi
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	[ -n "$T" ] && rm -rf "$T"
	case ${SHMDIR:-} in /dev/shm/evg-side-*) rm -rf "$SHMDIR" ;; esac
	if grep -q evg-side /proc/mounts; then
		say "left mounted: $(grep evg-side /proc/mounts)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg CMD...: start in the background; LASTPID is its pid, stopped at exit.
bg() {
	"$@" &
	LASTPID=$!
	PIDS="$LASTPID $PIDS"
}

# wait_for TEST-EXPR [SECONDS]: poll a shell condition up to SECONDS (10).
wait_for() {
	local i=0 max=$(( ${2:-10} * 20 ))
	while [ $i -lt $max ]; do
		eval "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# stats FILE: "COUNT MEDIAN P90" of the numbers in FILE, one a line
# (median of an even count: the mean of the middle two; p90: nearest rank).
stats() {
	sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print 0, "-", "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		k = int(0.9 * NR); if (k < 0.9 * NR) k++
		print NR, m, v[k]
	}'
}

# ratio A B: A / B with two decimals, "-" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"
		else printf "%.2f", a / b }'
}

# fmt V DECIMALS: a number with that many decimals ("-" stays).
fmt() {
	awk -v v="$1" -v d="$2" 'BEGIN { if (v == "-") print "-"; else printf "%.*f", d, v }'
}

# row LABEL OURS-FILE THEIRS-FILE DECIMALS [COUNT]: one table row, median
# (p90); "n=" when a side has other than COUNT (default N) figures.
row() {
	local na ma pa nb mb pb a b
	read -r na ma pa <<<"$(stats "$2")"
	read -r nb mb pb <<<"$(stats "$3")"
	a="$(fmt "$ma" "$4") (p90 $(fmt "$pa" "$4"))"
	b="$(fmt "$mb" "$4") (p90 $(fmt "$pb" "$4"))"
	[ "$na" -ne "${5:-$N}" ] && a="$a n=$na"
	[ "$nb" -ne "${5:-$N}" ] && b="$b n=$nb"
	printf '| %-42s | %-24s | %-24s | %5s |\n' "$1" "$a" "$b" "$(ratio "$ma" "$mb")"
}

# row1 LABEL OURS THEIRS: a row of single values.
row1() {
	printf '| %-42s | %-24s | %-24s | %5s |\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Voluntary context switches of all of a process's threads.
vol_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
	    awk '/^voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# --- Set-up --------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "needs root (loop device, mount, FIFREEZE, tracefs)"
case $N in
''|*[!0-9]*|0) die "N must be a positive number, not '$N'" ;;
esac
case $DIRTY in
''|*[!0-9]*) die "DIRTY must be a number, not '$DIRTY'" ;;
esac
for b in eve-guest-hostd eve-guest-hostctl eve-guest-agent qga-snap evg-rtt; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b missing: run make all"
done

# Install the Debian packages it needs, only those that are missing.
missing=""
for p in qemu-guest-agent qemu-system-x86 qemu-utils socat e2fsprogs util-linux; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	    die "apt-get install$missing failed"
fi
[ -x "$QGA" ] || die "$QGA missing after installing qemu-guest-agent"

T=$(mktemp -d /tmp/evg-side-XXXXXX) || die "mktemp failed"
case $T in /tmp/evg-side-*) ;; *) die "unexpected temp dir $T" ;; esac
CTL=$T/control.sock
HOSTCTL="$BUILD/eve-guest-hostctl --socket $CTL"
AGENT="$BUILD/eve-guest-agent"
CONNECT="unix:$T/vm.sock_2210"

# The guest filesystem: ext4 on a loop device, mounted at $T/mnt.
# FS_TMPFS=1: the image in a directory of its own on /dev/shm, so that
# the loop device's flushes (an fsync of its backing file) cost nothing.
FSIMG=$T/fs.img
if [ "${FS_TMPFS:-0}" = 1 ]; then
	SHMDIR=$(mktemp -d /dev/shm/evg-side-XXXXXX) || die "mktemp on /dev/shm failed"
	FSIMG=$SHMDIR/fs.img
fi
truncate -s 64M "$FSIMG" || die "truncate failed"
mkfs.ext4 -q -F "$FSIMG" >/dev/null 2>&1 || die "mkfs.ext4 failed"
LOOP=$(losetup --find --show "$FSIMG") || { LOOP=""; die "losetup failed"; }
mkdir -p "$T/mnt"
mount -t ext4 "$LOOP" "$T/mnt" || die "mount $LOOP on $T/mnt failed"
MOUNTED=1

# One QEMU holding the qcow2, one monitor per side.
qemu-img create -q -f qcow2 "$T/disk.qcow2" 64M || die "qemu-img create failed"
bg qemu-system-x86_64 -machine none -nodefaults -display none -accel tcg \
    -blockdev "driver=file,filename=$T/disk.qcow2,node-name=file0" \
    -blockdev "driver=qcow2,file=file0,node-name=$NODE" \
    -qmp "unix:$T/qmp-evg.sock,server=on,wait=off" \
    -qmp "unix:$T/qmp-qga.sock,server=on,wait=off" >"$T/qemu.log" 2>&1
QEMU_PID=$LASTPID
wait_for "[ -S '$T/qmp-evg.sock' ] && [ -S '$T/qmp-qga.sock' ] || ! kill -0 $QEMU_PID 2>/dev/null"
kill -0 "$QEMU_PID" 2>/dev/null || die "QEMU did not start: $(cat "$T/qemu.log")"

# Our side: the host daemon, the VM, the guest daemon.
: > "$T/hostd.conf"
bg "$BUILD/eve-guest-hostd" -f -c "$T/hostd.conf" --no-vsock \
    --state-dir "$T/state" --control-socket "$CTL" >>"$T/hostd.log" 2>&1
wait_for "[ -S '$CTL' ]" || die "hostd did not start: $(tail -5 "$T/hostd.log")"
wait_for "grep -q 'catalog check done' '$T/hostd.log'" ||
    die "hostd's catalog check did not finish: $(tail -5 "$T/hostd.log")"
$HOSTCTL vm add --uuid $VM --name bench --hybrid-socket "$T/vm.sock" \
    --state running --qmp "$T/qmp-evg.sock" \
    --volume "uuid=$VOL,name=data,backend=qcow2,locator=$T/disk.qcow2,disk=backing:$FSIMG,node=$NODE" \
    >/dev/null || die "vm add failed"
mkdir -p "$T/hooks"
chown root:root "$T/hooks"
chmod 755 "$T/hooks"
bg "$AGENT" --connect "$CONNECT" daemon -f --hooks-dir "$T/hooks" >"$T/agent.log" 2>&1
AGENTD_PID=$LASTPID
wait_for "$HOSTCTL vm show $VM | grep -q 'Guest agent: *connected'" ||
    die "the guest daemon did not connect: $(tail -5 "$T/agent.log")"

# qemu-ga side.  In its own mount namespace, every other mount under /tmp
# is detached; the RPCs that could touch the rest of this machine are
# blocked (guest-fsfreeze-freeze would freeze /), as a second guard.
mkdir -p "$T/qga-state"
BLOCKED=guest-fsfreeze-freeze,guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-exec,guest-file-open,guest-fstrim,guest-set-user-password,guest-set-vcpus,guest-set-memory-blocks,guest-set-time,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys
# shellcheck disable=SC2016
bg unshare --mount --propagation private sh -c '
	awk -v keep="$1" '\''$2 ~ "^/tmp/" && $2 != keep { print $2 }'\'' /proc/self/mounts |
	    sort -r | while read -r m; do umount -l "$m"; done
	shift
	exec "$@"' qga "$T/mnt" "$QGA" --method=unix-listen --path="$T/qga.sock" \
    --pidfile="$T/qga.pid" --statedir="$T/qga-state" --logfile="$T/qga.log" \
    --block-rpcs="$BLOCKED"
QGA_PID=$LASTPID
wait_for "[ -S '$T/qga.sock' ] || ! kill -0 $QGA_PID 2>/dev/null"
{ kill -0 "$QGA_PID" 2>/dev/null && [ -S "$T/qga.sock" ]; } || die "qemu-ga did not start: $(cat "$T/qga.log" 2>/dev/null)"
[ "$(readlink "/proc/$QGA_PID/exe")" = "$QGA" ] ||
    die "pid $QGA_PID is $(readlink "/proc/$QGA_PID/exe"), not $QGA"
info=$(printf '{"execute":"guest-info"}\n' | timeout 10 socat -t 2 - UNIX-CONNECT:"$T/qga.sock")
printf '%s' "$info" | grep -o '{[^{}]*"guest-fsfreeze-freeze"[^{}]*}' |
    grep -q '"enabled": *false' ||
    die "qemu-ga does not show guest-fsfreeze-freeze blocked; stopping (guest-info: ${info:0:200})"
QGA_MOUNTS=$(awk 'END { print NR }' "/proc/$QGA_PID/mounts")

# The kernel trace: a private tracefs instance, ioctls of our guest daemon
# and qemu-ga (and their children), FIFREEZE/FITHAW entries and all exits.
trace_setup() {
	if [ ! -d "$TRACEFS/instances" ]; then
		mount -t tracefs nodev "$TRACEFS" 2>/dev/null && TRACEFS_OURS=1
	fi
	[ -d "$TRACEFS/instances/" ] || return 1
	[ -d "$TRACEFS/events/syscalls/sys_enter_ioctl" ] || return 1
	INST=$TRACEFS/instances/$(basename "$T")
	mkdir "$INST" 2>/dev/null || { INST=""; return 1; }
	echo mono > "$INST/trace_clock" &&
	echo 1 > "$INST/options/event-fork" &&
	echo "$AGENTD_PID $QGA_PID" > "$INST/set_event_pid" &&
	echo "cmd == $FIFREEZE || cmd == $FITHAW" > "$INST/events/syscalls/sys_enter_ioctl/filter" &&
	echo 1 > "$INST/events/syscalls/sys_enter_ioctl/enable" &&
	echo 1 > "$INST/events/syscalls/sys_exit_ioctl/enable" &&
	echo 1 > "$INST/tracing_on"
}
if ! trace_setup; then
	say "tracefs is not usable here (no $TRACEFS/instances or no syscall events): figure 1 skipped"
	[ -n "$INST" ] && rmdir "$INST" 2>/dev/null
	INST=""
fi

# trace_run SIDE: "PRE WINDOW POST FREEZES THAWS" in microseconds from the
# trace of one run (marks SIDE-start and SIDE-end around the client): CLI
# start to the first FIFREEZE entry, that to the last FITHAW exit, that
# to the client's exit; nothing when no freeze or thaw was traced.
trace_run() {
	awk -v fr=$FIFREEZE -v th=$FITHAW -v s="$1-start" -v e="$1-end" '
	function ts(  i) {
		for (i = 1; i <= NF; i++)
			if ($i ~ /^[0-9]+\.[0-9]+:$/)
				return substr($i, 1, length($i) - 1) * 1e6
		return -1
	}
	function pid(  x) {
		if (!match($0, /-[0-9]+ +\[[0-9]+\]/))
			return ""
		x = substr($0, RSTART + 1, RLENGTH - 1)
		sub(/ .*/, "", x)
		return x
	}
	/^#/ { next }
	/tracing_mark_write: / {
		if (index($0, s)) t0 = ts()
		if (index($0, e)) t3 = ts()
		next
	}
	/sys_ioctl\(/ || /sys_enter_ioctl/ {
		c = tolower($0)
		if (index(c, substr(fr, 3))) {
			nf++
			if (t1 == "") t1 = ts()
			freezing[pid()] = ts()
		} else if (index(c, substr(th, 3))) {
			nt++
			thawing[pid()] = ts()
		}
		next
	}
	/sys_ioctl ->/ || /sys_exit_ioctl/ {
		p = pid()
		if (freezing[p] != "") { kf += ts() - freezing[p]; freezing[p] = "" }
		if (thawing[p] != "") { t2 = ts(); kt += t2 - thawing[p]; thawing[p] = "" }
	}
	END {
		if (t1 == "" || t2 == "" || t0 == "" || t3 == "") exit
		printf "%.1f %.1f %.1f %d %d %.1f\n", t1 - t0, t2 - t1, t3 - t2, nf, nt, kf + kt
	}' "$INST/trace"
}

mark() { [ -n "$INST" ] && echo "$1" > "$INST/trace_marker"; }
trace_clear() { [ -n "$INST" ] && echo > "$INST/trace"; }

# run_evg NAME [ARGS...]: one snapshot by our guest CLI; RUN_US, RUN_RC.
run_evg() {
	local t0 t1 name=$1
	shift
	trace_clear
	mark evg-start
	t0=$EPOCHREALTIME
	"$AGENT" --connect "$CONNECT" "$@" snapshot create "$LOOP" --name "$name" \
	    >"$T/out" 2>"$T/err"
	RUN_RC=$?
	t1=$EPOCHREALTIME
	mark evg-end
	RUN_US=$(( 10#${t1/./} - 10#${t0/./} ))
}

# run_qga NAME: one snapshot by the libvirt-equivalent client.
run_qga() {
	local t0 t1
	trace_clear
	mark qga-start
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	"$BUILD/qga-snap" $QGA_SNAP_OPTS "$T/qga.sock" "$T/qmp-qga.sock" "$T/mnt" "$NODE" "$1" \
	    >"$T/out" 2>"$T/err"
	RUN_RC=$?
	t1=$EPOCHREALTIME
	mark qga-end
	RUN_US=$(( 10#${t1/./} - 10#${t0/./} ))
}

# A warm-up each, checked: catalogued by the host, tag in the image.
tags() { qemu-img snapshot -l -U "$T/disk.qcow2" 2>/dev/null | awk 'NR > 2 { print $2 }'; }
run_evg warm --json
[ "$RUN_RC" -eq 0 ] || die "our first snapshot failed (exit $RUN_RC): $(cat "$T/err")"
uuid=$(grep -o '"uuid":"[0-9a-f-]*"' "$T/out" | head -1 | cut -d'"' -f4)
grep -q '"consistency":"fs"' "$T/out" || die "our first snapshot is not fs-consistent: $(cat "$T/out")"
$HOSTCTL snapshot list --vm $VM | grep -q "warm" ||
    die "hostctl snapshot list does not show the first snapshot"
if tags | grep -qx "evg-$uuid"; then
	say "our warm-up snapshot evg-$uuid is in the image"
else
	say "note: tag evg-$uuid not seen by qemu-img snapshot -l -U: $(tags | tr '\n' ' ')"
fi
[ -n "$INST" ] && EVG_WARM_TRACE=$(trace_run evg)
run_qga warm
[ "$RUN_RC" -eq 0 ] || die "the first qemu-ga snapshot failed (exit $RUN_RC): $(cat "$T/err")"
tags | grep -qx warm || say "note: tag warm not seen by qemu-img snapshot -l -U"
if [ -n "$INST" ]; then
	QGA_WARM_TRACE=$(trace_run qga)
	if [ -z "${EVG_WARM_TRACE:-}" ] || [ -z "$QGA_WARM_TRACE" ]; then
		say "the trace shows no freeze/thaw pair (ours: '${EVG_WARM_TRACE:-}', qemu-ga: '$QGA_WARM_TRACE'): figure 1 skipped"
		echo 0 > "$INST/tracing_on"
		INST_OFF=1
	fi
fi

# --- The interleaved runs ----------------------------------------------

say "$N runs each, interleaved (ours, qemu-ga, ours, ...)"
for s in evg qga; do
	: > "$T/wall.$s"; : > "$T/win.$s"; : > "$T/pre.$s"; : > "$T/post.$s"
	: > "$T/nf.$s"; : > "$T/nt.$s"; : > "$T/call.$s"; : > "$T/over.$s"
	: > "$T/kern.$s"; : > "$T/hops.$s"
done
CALLS_SEEN=$(grep -c 'made in [0-9.]* ms' "$T/hostd.log")
: > "$T/freeze_ms"
FAIL_evg=0 FAIL_qga=0
# record SIDE: file the figures of the run just made, then delete its
# snapshot (ours through the host, by the UUID the CLI printed; theirs
# over QEMU's monitor).  Our CLI's "froze MNT in N ms" is the freeze_ms
# the host recorded.
record() {
	local s=$1 n tr pre win post nf nt kern uuid call
	if [ "$RUN_RC" -ne 0 ]; then
		n=$(( $(eval echo "\$FAIL_$s") + 1 ))
		eval "FAIL_$s=$n"
		[ "$n" -le 3 ] && say "$s run $i failed (exit $RUN_RC): $(head -c 300 "$T/err")"
		return
	fi
	echo "$RUN_US" >> "$T/wall.$s"
	# The backend call while frozen: our host's backend-done event says
	# how long its snapshot command took; qga-snap prints its own.
	if [ "$s" = evg ]; then
		n=$(grep -c 'made in [0-9.]* ms' "$T/hostd.log")
		if [ "$n" -gt "$CALLS_SEEN" ]; then
			call=$(grep -o 'made in [0-9.]* ms' "$T/hostd.log" | tail -1 | awk '{ print $3 }')
		else
			call=""
		fi
		CALLS_SEEN=$n
	else
		call=$(sed -n 's/^snapshot command: \([0-9.]*\) ms$/\1/p' "$T/out")
	fi
	[ -n "$call" ] && echo "$call" >> "$T/call.$s"
	if [ -n "$INST" ] && [ -z "$INST_OFF" ]; then
		tr=$(trace_run "$s")
		if [ -n "$tr" ]; then
			read -r pre win post nf nt kern <<<"$tr"
			echo "$pre" >> "$T/pre.$s"; echo "$win" >> "$T/win.$s"
			echo "$post" >> "$T/post.$s"
			echo "$nf" >> "$T/nf.$s"; echo "$nt" >> "$T/nt.$s"
			[ -n "$call" ] && awk -v w="$win" -v c="$call" 'BEGIN { printf "%.1f\n", w - c * 1000 }' >> "$T/over.$s"
			[ -n "$call" ] && awk -v w="$win" -v c="$call" -v k="$kern" 'BEGIN { printf "%.1f\n", w - c * 1000 - k }' >> "$T/hops.$s"
			echo "$kern" >> "$T/kern.$s"
		else
			say "$s run $i: no freeze/thaw pair in the trace"
		fi
	fi
	if [ "$s" = evg ]; then
		sed -n 's/.*froze .* in \([0-9]*\) ms.*/\1/p' "$T/out" >> "$T/freeze_ms"
		uuid=$(awk '$1 == "UUID:" { print $2; exit }' "$T/out")
		$HOSTCTL snapshot delete --vm $VM "$uuid" >/dev/null 2>"$T/del.err" ||
		    say "evg run $i: deleting snapshot '$uuid' failed: $(cat "$T/del.err")"
	else
		"$BUILD/qga-snap" -d "$T/qmp-qga.sock" "$NODE" "qga-$i" 2>"$T/del.err" ||
		    say "qga run $i: deleting snapshot qga-$i failed: $(cat "$T/del.err")"
	fi
}
# dirty: what a live guest has before a snapshot, untimed: DIRTY small
# files rewritten in the mount, so that the journal holds recent changes.
dirty() {
	local k
	for k in $(seq 1 "$DIRTY"); do
		printf '%s %s\n' "$i" "$k" > "$T/mnt/dirty-$k" || return
	done
}
for i in $(seq 1 "$N"); do
	dirty
	run_evg "bench-$i"
	record evg
	sleep 0.1
	dirty
	run_qga "qga-$i"
	record qga
	sleep 0.1
	[ $((i % 10)) -eq 0 ] && say "  $i of $N"
done
# Nothing of the bench filesystem may be left frozen.
if ! timeout 5 touch "$T/mnt/.probe"; then
	say "WARNING: $T/mnt was left frozen; thawing"
	fsfreeze -u "$T/mnt"
fi

# Figure 3: ping round trips, both connections open, alternating.
# At least 500 a side: a few slow wake-ups do not move the median.
RTT_N=$(( N < 500 ? 500 : N ))
"$BUILD/evg-rtt" -e "$T/vm.sock_2210" -q "$T/qga.sock" -n "$RTT_N" -w 20 >"$T/rtt" 2>"$T/rtt.err" ||
    say "round trips failed: $(cat "$T/rtt.err")"
awk '$1 == "evg" { print $2 }' "$T/rtt" > "$T/rtt.evg"
awk '$1 == "qga" { print $2 }' "$T/rtt" > "$T/rtt.qga"

# Figure 4: both daemons idle.
sleep 2
RSS_EVG=$(rss_kib "$AGENTD_PID")
RSS_QGA=$(rss_kib "$QGA_PID")
c0e=$(vol_switches "$AGENTD_PID")
c0q=$(vol_switches "$QGA_PID")
sleep 10
WAKE_EVG=$(( $(vol_switches "$AGENTD_PID") - c0e ))
WAKE_QGA=$(( $(vol_switches "$QGA_PID") - c0q ))

# The freeze_ms our host recorded for the measured snapshots; the
# warm-up's, as hostctl --json snapshot list shows it, checks the parsing.
read -r nfm mfm pfm <<<"$(stats "$T/freeze_ms")"
warm_ms=$($HOSTCTL --json snapshot list --vm $VM 2>/dev/null | tr -d '\n' |
    grep -o '"freeze_ms":[0-9]*' | head -1 | cut -d: -f2)
left=$(tags | grep -c -v '^warm$\|^evg-'"$uuid"'$')

# --- Report ------------------------------------------------------------

ms() { awk '{ printf "%.3f\n", $1 / 1000 }' "$1" > "$1.ms"; echo "$1.ms"; }
echo
echo "Side-by-side: a filesystem-consistent internal qcow2 snapshot of a running QEMU"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
# FIFREEZE waits for RCU grace periods: about 0.2 ms expedited, up to
# about 35 ms not, for any freezer.  The figures mean little without it.
case $(cat /sys/kernel/rcu_expedited 2>/dev/null) in
1) rcu="expedited (/sys/kernel/rcu_expedited 1)" ;;
0) rcu="normal (/sys/kernel/rcu_expedited 0: FIFREEZE alone waits tens of ms)" ;;
*) rcu="unknown (no /sys/kernel/rcu_expedited)" ;;
esac
echo "RCU grace periods: $rcu; image's backing store: $(df --output=source,fstype "${SHMDIR:-$T}" | tail -1 | tr -s ' ')"
echo "versions: eve-guest-agent $("$AGENT" --version 2>/dev/null | head -1 | awk '{ print $NF }'), $("$QGA" --version | head -1), $(qemu-system-x86_64 --version | head -1)"
echo "runs: $N each, interleaved (+1 warm-up each), each snapshot deleted after its run; failures: ours $FAIL_evg, qemu-ga $FAIL_qga; qemu-ga sees $QGA_MOUNTS mounts; $DIRTY files rewritten before each run; image on ${SHMDIR:-/tmp}; qga-snap ${QGA_SNAP_OPTS:-(monitor open before the freeze)}"
echo
printf '| %-42s | %-24s | %-24s | %5s |\n' "figure (median)" "this project" "qemu-ga + QMP" "ratio"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 44))" "$(printf -- '-%.0s' $(seq 26))" "$(printf -- '-%.0s' $(seq 26))" "-------"
if [ -n "$INST" ] && [ -z "$INST_OFF" ]; then
	row "1. freeze window FIFREEZE..FITHAW (ms)" "$(ms "$T/win.evg")" "$(ms "$T/win.qga")" 3
else
	row1 "1. freeze window FIFREEZE..FITHAW (ms)" "skipped" "skipped"
fi
row "1b. backend call while frozen (ms)" "$T/call.evg" "$T/call.qga" 3
if [ -n "$INST" ] && [ -z "$INST_OFF" ]; then
	row "1c. window minus backend call (ms)" "$(ms "$T/over.evg")" "$(ms "$T/over.qga")" 3
	row "1d. of 1c, inside FIFREEZE+FITHAW (ms)" "$(ms "$T/kern.evg")" "$(ms "$T/kern.qga")" 3
	row "1e. of 1c, the rest (ms)" "$(ms "$T/hops.evg")" "$(ms "$T/hops.qga")" 3
fi
row "2. snapshot end to end, fresh client (ms)" "$(ms "$T/wall.evg")" "$(ms "$T/wall.qga")" 2
row "3. request round trip, open conn. (us)" "$T/rtt.evg" "$T/rtt.qga" 1 "$RTT_N"
row1 "4. idle RSS of the guest daemon (KiB)" "$RSS_EVG" "$RSS_QGA"
row1 "4. wake-ups in 10 s idle (vol. ctx sw.)" "$WAKE_EVG" "$WAKE_QGA"
echo
echo "freeze_ms recorded by eve-guest-hostd: median $mfm, p90 $pfm (n=$nfm; whole milliseconds; warm-up's in hostctl --json snapshot list: ${warm_ms:-?})"
echo "snapshots in the image after the runs besides the two warm-ups: $left"
if [ -n "$INST" ] && [ -z "$INST_OFF" ]; then
	for s in evg qga; do
		read -r _ pre _ <<<"$(stats "$(ms "$T/pre.$s")")"
		read -r _ win _ <<<"$(stats "$T/win.$s.ms")"
		read -r _ post _ <<<"$(stats "$(ms "$T/post.$s")")"
		read -r _ nf _ <<<"$(stats "$T/nf.$s")"
		read -r _ nt _ <<<"$(stats "$T/nt.$s")"
		[ $s = evg ] && who="ours   " || who="qemu-ga"
		echo "trace, $who (medians, ms): client start -> first FIFREEZE $(fmt "$pre" 3), window $(fmt "$win" 3), last FITHAW exit -> client exit $(fmt "$post" 3); $nf FIFREEZE, $nt FITHAW per snapshot"
	done
fi
