#!/bin/sh
# Run the libFuzzer targets (docs/fuzzing.md).
#
#   run.sh smoke BUILD SECONDS TARGET...	every checked-in input once,
#		then SECONDS of fuzzing each, from a fresh scratch corpus
#   run.sh fuzz BUILD SECONDS TARGET...		SECONDS of fuzzing each; new
#		inputs accumulate in BUILD/corpus/TARGET across runs
#
# FUZZ_JOBS targets run at a time (default: one per CPU); each writes its
# libFuzzer output to BUILD/logs/TARGET.log and the reports are printed in
# order at the end.  The checked-in corpus (test/fuzz/corpus/TARGET) is only
# read.  A crash, leak, timeout, oracle failure or sanitizer report fails
# the run; its input is kept in BUILD/artifacts and the command reproducing
# it is printed.
set -u

mode=$1
build=$2
seconds=$3
shift 3
case $mode in
smoke|fuzz) ;;
*)
	echo "usage: run.sh smoke|fuzz BUILD SECONDS TARGET..." >&2
	exit 2
	;;
esac
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# Symbolized stacks: Debian's llvm-14 has no unversioned llvm-symbolizer.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] &&
    ! command -v llvm-symbolizer >/dev/null 2>&1 &&
    [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
	ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
	export ASAN_SYMBOLIZER_PATH
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

for t in "$@"; do
	if [ ! -x "$build/fuzz_$t" ]; then
		echo "fuzz: $build/fuzz_$t is not built" >&2
		exit 2
	fi
done
mkdir -p "$build/artifacts" "$build/logs"
start=$(date +%s)

# The options every run of target $1 gets: limits, where a crashing input
# goes, stderr closed (the daemons' log lines; sanitizer reports and
# fuzz_fail() still show), its dictionary and extra flags (NAME.options).
fuzz_opts() {
	opts="-timeout=10 -rss_limit_mb=2048 -close_fd_mask=2"
	opts="$opts -artifact_prefix=$build/artifacts/$1-"
	[ -f "test/fuzz/$1.dict" ] && opts="$opts -dict=test/fuzz/$1.dict"
	[ -f "test/fuzz/$1.options" ] &&
		opts="$opts $(cat "test/fuzz/$1.options")"
	echo "$opts"
}

# Report a failed run of target $1 (log $2): the log's end, then how to
# reproduce each input it left in the artifacts directory.
fuzz_failed() {
	: >"$build/logs/$1.failed"
	echo "fuzz: $1 FAILED; end of $2:"
	tail -n 40 "$2" | sed 's/^/    /'
	find "$build/artifacts" -type f -name "$1-*" -newer "$2.start" |
	    while read -r a; do
		echo "fuzz: $1: input kept in $a; reproduce with:"
		echo "    $build/fuzz_$1 $a"
	done
}

# Run target $1; its report goes to BUILD/logs/TARGET.report.
fuzz_one() {
	t=$1
	bin="$build/fuzz_$t"
	seeds="test/fuzz/corpus/$t"
	log="$build/logs/$t.log"
	rm -f "$build/logs/$t.failed"
	: >"$log.start"
	: >"$log"
	opts=$(fuzz_opts "$t")
	n=0
	if [ -d "$seeds" ]; then
		n=$(find "$seeds" -type f | wc -l)
	else
		seeds=""
	fi
	if [ "$mode" = smoke ]; then
		scratch="$build/smoke/$t"
		rm -rf "$scratch"
		mkdir -p "$scratch"
		# shellcheck disable=SC2086
		if [ -n "$seeds" ] &&
		    ! "$bin" $opts -runs=0 "$seeds" >"$log" 2>&1; then
			fuzz_failed "$t" "$log"
			return
		fi
	else
		scratch="$build/corpus/$t"
		mkdir -p "$scratch"
	fi
	# shellcheck disable=SC2086
	if ! "$bin" $opts -max_total_time="$seconds" -print_final_stats=1 \
	    "$scratch" $seeds >>"$log" 2>&1; then
		fuzz_failed "$t" "$log"
		return
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	new=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	echo "fuzz: $t: $n seeds ok, then ${runs:-?} runs in ${seconds}s" \
	    "(${new:-?} new inputs in $scratch): ok"
}

# Worker $1 of $2: every $2-th target from the $1-th.
fuzz_worker() {
	k=$1
	w=$2
	shift 2
	i=0
	for t in "$@"; do
		[ $((i % w)) -eq "$k" ] && fuzz_one "$t" >"$build/logs/$t.report"
		i=$((i + 1))
	done
}

echo "fuzz: $mode: $# targets, ${seconds}s each, $jobs at a time (logs in" \
    "$build/logs)"
k=0
while [ "$k" -lt "$jobs" ]; do
	fuzz_worker "$k" "$jobs" "$@" &
	k=$((k + 1))
done
wait

failed=""
for t in "$@"; do
	cat "$build/logs/$t.report"
	[ -f "$build/logs/$t.failed" ] && failed="$failed $t"
done
echo "fuzz: $mode: $# targets in $(($(date +%s) - start))s"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed" >&2
	exit 1
fi
