#!/bin/sh
# The layering the build does not see: no include circle among the files
# of a directory.  A module is a .c/.h pair (session.c + session.h; an
# X_impl.h, the internals of X shared by its files, belongs to X); it
# depends on every module whose header it includes.  tsort finds a loop.
# Usage: sh scripts/check-layers.sh [DIR...]   (default: common guest host)
set -eu
status=0
for dir in "${@:-common guest host}"; do
	for d in $dir; do
		pairs=$(for f in "$d"/*.c "$d"/*.h; do
			m=$(basename "$f"); m=${m%.*}; m=${m%_impl}
			sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f" |
			while read -r h; do
				[ -e "$d/$h.h" ] || continue
				h=${h%_impl}
				if [ "$h" != "$m" ]; then
					echo "$m $h"
				fi
			done
		done)
		out=$(printf '%s\n' "$pairs" | tsort 2>&1 >/dev/null) || true
		if [ -n "$out" ]; then
			echo "check-layers: $d: include circle:" >&2
			printf '%s\n' "$out" | sed 's/^/  /' >&2
			status=1
		else
			echo "check-layers: $d: no include circle" \
			    "($(printf '%s\n' "$pairs" | wc -l) includes)"
		fi
	done
done
exit $status
