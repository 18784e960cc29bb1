#!/usr/bin/env bash
# Run every guest test (test/vm/tests/t_*.sh), each in its own freshly
# booted guest with the disks its "# vm-disks:" line asks for, then the
# EVE-shaped node (eve-node.sh: the host side on this machine).  Builds the
# guest first (build-guest.sh; the kernel is cached, the project's binaries
# are taken from BUILD).  Prints each test's console (the guest's kernel
# version and one line per check), its boot and run time, and the totals.
#
# Usage: run-tests.sh [BUILD-DIR] [NAME-FILTER]
# Exits 0 if every test passed; 77 (with a message) if QEMU cannot run here.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
FILTER=${2:-}
t0=$(date +%s%N)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs() { echo "$(($1 / 1000)).$(($1 % 1000 / 100))"; }

# QEMU that cannot start at all is the one reason to skip.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "test-vm: SKIPPED: qemu-system-x86_64 is not installed"
	exit 77
fi
if ! err=$(echo quit | timeout 20 qemu-system-x86_64 -accel tcg -machine none \
    -nodefaults -display none -monitor stdio 2>&1 >/dev/null); then
	echo "test-vm: SKIPPED: qemu-system-x86_64 cannot run here: ${err:-timed out}"
	exit 77
fi

b0=$(date +%s%N)
if ! bash "$HERE/build-guest.sh" "$BUILD"; then
	echo "test-vm: FAIL: could not build the guest (see above)"
	exit 1
fi
build_ms=$(ms_since "$b0")
echo "test-vm: guest built in $(secs "$build_ms") s"

passed=0
failed=0
failed_names=""
summary=""
for file in "$HERE"/tests/t_*.sh; do
	name=$(basename "$file" .sh)
	case "$name" in *"$FILTER"*) ;; *) continue ;; esac
	disks=$(sed -n 's/^# vm-disks: *//p' "$file" | head -1)
	echo "=== $name"
	log=$(mktemp /tmp/evg-vm-log-XXXXXX)
	# shellcheck disable=SC2086
	bash "$HERE/run-guest.sh" --build "$BUILD" \
	    --log "$log" "$file" $disks 2> "$log.times"
	rc=$?
	# The guest's own lines: kernel version, checks, tally.
	tr -d '\r' < "$log" | sed 's/\x1bc/\n/g; s/\x1b\[[0-9;?]*[a-zA-Z]//g' |
	    grep -v '^\[ *[0-9.]*\] reboot: \|^SeaBIOS \|^Booting from \|^$' |
	    sed 's/^/    /'
	times=$(grep '^boot:' "$log.times")
	grep -v '^boot:' "$log.times" | sed 's/^/    /'
	rm -f "$log" "$log.times"
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS $name ($times)"
		summary="$summary  PASS $name: $times\n"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		echo "FAIL $name (exit $rc; $times)"
		summary="$summary  FAIL $name: $times\n"
	fi
done
# The EVE-shaped node: the host side on this machine, outside the guest,
# driving the guest's own QEMU over QMP (eve-node.sh, two boots).
name=eve-node
case "$name" in
*"$FILTER"*)
	echo "=== $name"
	e0=$(date +%s%N)
	bash "$HERE/eve-node.sh" "$BUILD" --no-build 2>&1 | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	times="total: $(secs "$(ms_since "$e0")") s (two boots, host steps between)"
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS eve-node ($times)"
		summary="$summary  PASS eve-node: $times\n"
	else
		failed=$((failed + 1))
		failed_names="$failed_names eve-node"
		echo "FAIL eve-node (exit $rc; $times)"
		summary="$summary  FAIL eve-node: $times\n"
	fi
	;;
esac
total_ms=$(ms_since "$t0")
echo "test-vm: per test (boot = QEMU start to the guest ready to run the test):"
printf '%b' "$summary"
echo "test-vm: guest build $(secs "$build_ms") s; total $(secs "$total_ms") s"
[ -n "$failed_names" ] && echo "test-vm: failed:$failed_names"
echo "test-vm: $passed passed, $failed failed"
[ $failed -eq 0 ]
