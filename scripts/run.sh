#!/bin/sh
# The README's two commands: `sh scripts/run.sh demo` and
# `sh scripts/run.sh test`.  Installs the missing Debian packages (make
# included), builds, then runs the demo or every test.
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
demo|test) ;;
*)
	echo "usage: sh scripts/run.sh demo|test" >&2
	exit 2
	;;
esac
sh scripts/deps.sh
exec make "$1"
