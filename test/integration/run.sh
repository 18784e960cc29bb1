#!/usr/bin/env bash
# Run every integration test (test/integration/t_*.sh, functions test_*)
# against the binaries in BUILD, each in its own subshell with its own temp
# dir and daemon.  Prints one line per test and "N passed, N failed".
# Usage: run.sh BUILD-DIR [NAME-FILTER]
set -u
BUILD=$(cd "${1:-build}" && pwd)
FILTER=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ZFS_MOCK="$(cd "$HERE/../tools" && pwd)/mock-zfs"
export BUILD ZFS_MOCK

passed=0
failed=0
failed_names=""
for file in "$HERE"/t_*.sh; do
	for t in $(grep -o '^test_[a-z0-9_]*' "$file"); do
		case "$t" in *"$FILTER"*) ;; *) continue ;; esac
		start=$(date +%s%N)
		(
			# shellcheck source=lib.sh
			. "$HERE/lib.sh"
			# shellcheck disable=SC1090
			. "$file"
			setup
			"$t"
		) > "/tmp/evg-it-$t.log" 2>&1
		rc=$?
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		secs="$((ms / 1000)).$((ms % 1000 / 100))"
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1))
			echo "PASS $t (${secs}s)"
		else
			failed=$((failed + 1))
			failed_names="$failed_names $t"
			echo "FAIL $t (${secs}s)"
			grep -h "FAIL:" "/tmp/evg-it-$t.log" | sed 's/^/    | /'
			sed 's/^/    | /' "/tmp/evg-it-$t.log" | tail -15
		fi
		rm -f "/tmp/evg-it-$t.log"
	done
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
