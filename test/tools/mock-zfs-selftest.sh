#!/bin/sh
# Self-check of test/tools/mock-zfs: every verb, its output byte for byte,
# its errors and exit codes, fail-next, delay and calls.log.  Prints
# "mock-zfs: N passed, M failed" and exits non-zero if anything failed.
# Usage: mock-zfs-selftest.sh [path/to/mock-zfs]

LC_ALL=C
export LC_ALL

MOCK=${1:-$(dirname "$0")/mock-zfs}
T=$(mktemp -d "${TMPDIR:-/tmp}/mock-zfs-selftest.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
EVG_MOCK_ZFS_DIR=$T/state
export EVG_MOCK_ZFS_DIR
mkdir -p "$EVG_MOCK_ZFS_DIR/datasets"
S=$EVG_MOCK_ZFS_DIR
passed=0
failed=0
calls=0

# Record a result; $1 is the check's name, $2 non-empty if it failed.
result() {
	if [ -z "$2" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAIL %s: %s\n' "$1" "$2" >&2
	fi
}

# check NAME RC STDOUT STDERR ARGS...: run the mock with ARGS and compare
# its exit code, stdout and stderr exactly (STDOUT and STDERR are printf %b
# strings, so \t and \n spell tabs and newlines).
check() {
	name=$1 want_rc=$2
	printf '%b' "$3" >"$T/want.out"
	printf '%b' "$4" >"$T/want.err"
	shift 4
	calls=$((calls + 1))
	"$MOCK" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	why=
	if [ "$rc" -ne "$want_rc" ]; then
		why="exit $rc, expected $want_rc"
	elif ! cmp -s "$T/out" "$T/want.out"; then
		why="stdout differs: $(od -c "$T/out" | head -5)"
	elif ! cmp -s "$T/err" "$T/want.err"; then
		why="stderr differs: $(od -c "$T/err" | head -5)"
	fi
	result "$name" "$why"
}

# A name with a quote, UTF-8 (é, an em dash) and double quotes.
NAME1='first snap: it'"'"'s caf\0303\0251 \0342\0200\0224 "v1"'
NAME1_RAW=$(printf '%b' "$NAME1")
NAME1_QUOTED=$(printf '%s' "$NAME1_RAW" | sed "s/'/'\\\\''/g")

printf '10737418240\n' >"$S/datasets/pool%vm1"

check "get available (default)" 0 '107374182400\n' '' \
    get -Hp -o value available pool/vm1
printf '1288490188\n' >"$S/available"
check "get available (set)" 0 '1288490188\n' '' \
    get -Hp -o value available pool/vm1
check "get volsize" 0 '10737418240\n' '' \
    get -Hp -o value volsize pool/vm1
check "get, no dataset" 1 '' \
    "cannot open 'pool/nope': dataset does not exist\n" \
    get -Hp -o value volsize pool/nope

check "list, no snapshots" 0 '' '' \
    list -Hp -t snapshot -d 1 -o name,used,creation pool/vm1
check "list, no dataset" 1 '' \
    "cannot open 'pool/nope': dataset does not exist\n" \
    list -Hp -t snapshot -d 1 -o name pool/nope

printf '1717430400\n' >"$S/now"
check "snapshot with properties" 0 '' '' \
    snapshot -o eve:snapshot-uuid=a -o "eve:snapshot-name=$NAME1_RAW" \
    pool/vm1@a
check "snapshot exists" 1 '' \
    "cannot create snapshot 'pool/vm1@a': dataset already exists\n" \
    snapshot -o eve:snapshot-uuid=a pool/vm1@a
# zfs_do_snapshot() prints usage and exits 2 when zfs_open() fails.
usage='usage:\n\tsnapshot [-r] [-o property=value] ... '
usage="$usage<filesystem|volume>@<snap> ...\n\n"
usage="${usage}For the property list, run: zfs set|get\n\n"
usage="${usage}For the delegated permission list, run: zfs allow|unallow\n"
check "snapshot, no dataset" 2 '' \
    "cannot open 'pool/nope': dataset does not exist\n$usage" \
    snapshot pool/nope@a
printf '4096\n' >"$S/used-default"
printf '1717430401\n' >"$S/now"
check "snapshot without properties" 0 '' '' snapshot pool/vm1@b
printf '1717430401\n' >"$S/now"
check "snapshot in the same second" 0 '' '' \
    snapshot -o eve:snapshot-uuid=c pool/vm1@c

out="pool/vm1@a\t1048576\t1717430400\ta\t$NAME1\n"
out="${out}pool/vm1@b\t4096\t1717430401\t-\t-\n"
out="${out}pool/vm1@c\t4096\t1717430401\tc\t-\n"
check "list, creation order, unset properties" 0 "$out" '' \
    list -Hp -t snapshot -d 1 \
    -o name,used,creation,eve:snapshot-uuid,eve:snapshot-name pool/vm1

err="cannot rollback to 'pool/vm1@a': more recent snapshots or bookmarks"
err="$err exist\nuse '-r' to force deletion of the following snapshots"
err="$err and bookmarks:\npool/vm1@b\npool/vm1@c\n"
check "rollback past newer snapshots" 1 '' "$err" rollback pool/vm1@a
check "rollback to the newest" 0 '' '' rollback pool/vm1@c
check "rollback, no snapshot" 1 '' \
    "cannot open 'pool/vm1@zz': dataset does not exist\n" \
    rollback pool/vm1@zz
check "rollback, no dataset" 1 '' \
    "cannot open 'pool/nope@a': dataset does not exist\n" \
    rollback pool/nope@a

check "destroy, no snapshot" 1 '' \
    "could not find any snapshots to destroy; check snapshot names.\n" \
    destroy pool/vm1@zz
check "destroy, no dataset" 1 '' \
    "cannot open 'pool/nope': dataset does not exist\n" \
    destroy pool/nope@a
check "destroy" 0 '' '' destroy pool/vm1@b
check "list after destroy" 0 'pool/vm1@a\npool/vm1@c\n' '' \
    list -Hp -t snapshot -d 1 -o name pool/vm1

check "rollback -r" 0 '' '' rollback -r pool/vm1@a
check "list after rollback -r" 0 'pool/vm1@a\t1048576\n' '' \
    list -Hp -t snapshot -d 1 -o name,used pool/vm1

printf 'cannot destroy snapshot pool/vm1@a: dataset is busy\n' \
    >"$S/fail-next"
check "fail-next fails once" 1 '' \
    'cannot destroy snapshot pool/vm1@a: dataset is busy\n' \
    destroy pool/vm1@a
why=
[ ! -e "$S/fail-next" ] || why="fail-next was not removed"
result "fail-next removed" "$why"
check "after fail-next" 0 '' '' destroy pool/vm1@a

printf '0.3\n' >"$S/delay"
start=$(date +%s%N)
check "delay" 0 '' '' list -Hp -t snapshot -o name pool/vm1
end=$(date +%s%N)
rm -f "$S/delay"
why=
[ $(((end - start) / 1000000)) -ge 300 ] ||
    why="took $(((end - start) / 1000000)) ms, expected >= 300"
result "delay slept" "$why"

check "unsupported verb" 2 '' "mock-zfs: command 'create'\n" \
    create pool/x

why=
n=$(wc -l <"$S/calls.log")
[ "$n" -eq "$calls" ] || why="$n lines for $calls calls"
result "calls.log has every call" "$why"
why=
want="zfs snapshot -o eve:snapshot-uuid=a"
want="$want -o 'eve:snapshot-name=$NAME1_QUOTED' pool/vm1@a"
grep -qxF -- "$want" "$S/calls.log" || why="no line '$want'"
result "calls.log quotes arguments" "$why"
why=
grep -qxF -- "zfs rollback -r pool/vm1@a" "$S/calls.log" ||
    why="no rollback -r line"
result "calls.log plain arguments" "$why"

# The quote in NAME1 is escaped the shell's way: '\''
why=
grep -qF -- "it'\\''s" "$S/calls.log" || why="quote not escaped"
result "calls.log escapes quotes" "$why"

printf 'mock-zfs: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
