#!/bin/sh
# Packaging tests: `make test-packaging` (everything) and `make
# lint-packaging` (--lint: the static checks only).  One line per check,
# "ok", "FAIL" (with the evidence indented below it) or "skip" (with the
# reason), then "packaging: N passed, N failed, N skipped"; the exit status
# is 1 when a check failed.
#
# usage: test-packaging.sh [--lint] [--version V] [--arch A] [--deb-dir DIR]
#                          [--make "MAKE COMMAND"]
#
# Nothing here touches the running system: the packages are installed only
# into throwaway roots under a temporary directory (dpkg -x, and dpkg --root
# with stub service commands inside a chroot), no service is started,
# enabled or reloaded, and the one daemon started (to test the System V
# script) runs from a test copy of the script with a private pid file and a
# Unix socket address that nothing listens on, so it never opens AF_VSOCK.
set -u

lint=0
version=""
arch=""
deb_dir=build/deb
make_cmd="make --no-print-directory -f Makefile -f packaging/packaging.mk"
while [ $# -gt 0 ]; do
	case $1 in
	--lint) lint=1 ;;
	--version) version=$2; shift ;;
	--arch) arch=$2; shift ;;
	--deb-dir) deb_dir=$2; shift ;;
	--make) make_cmd=$2; shift ;;
	*) echo "usage: $0 [--lint] [--version V] [--arch A] [--deb-dir DIR] [--make CMD]" >&2
	   exit 2 ;;
	esac
	shift
done

cd "$(dirname "$0")/.." || exit 2
[ -n "$version" ] || version=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*//p' Makefile)
[ -n "$arch" ] || arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
guest_deb=$deb_dir/eve-guest-agent_${version}_${arch}.deb
host_deb=$deb_dir/eve-guest-hostd_${version}_${arch}.deb

work=$(mktemp -d "${TMPDIR:-/tmp}/evg-packaging.XXXXXX") || exit 2
log=$work/log
sysv_pidfile=$work/sysv/agent.pid
cleanup() {
	# Only the daemon this script started, by the pid it recorded.
	if [ -s "$sysv_pidfile" ]; then
		kill "$(cat "$sysv_pidfile")" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL $*"
	[ -s "$log" ] && awk 'NR <= 30 { print "     | " $0 }' "$log"
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds; its output is the
# evidence shown on failure.
check() {
	desc=$1
	shift
	if "$@" >"$log" 2>&1; then pass "$desc"; else fail "$desc"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }
# say TEXT: evidence line for a failing check.
say() { printf '%s\n' "$*"; }

# ---------------------------------------------------------------------------
# Expected package contents (regular files and directories that matter).

guest_files="etc/eve/snapshots/post.sh.example
etc/eve/snapshots/pre.sh.example
etc/init.d/eve-guest-agent
lib/systemd/system/eve-guest-agent.service
usr/sbin/eve-guest-agent
usr/share/bash-completion/completions/eve-guest-agent
usr/share/doc/eve-guest-agent/changelog.gz
usr/share/doc/eve-guest-agent/copyright
usr/share/lintian/overrides/eve-guest-agent
usr/share/man/man8/eve-guest-agent.8.gz"
host_files="etc/eve-guest-agent/hostd.conf
lib/systemd/system/eve-guest-hostd.service
usr/sbin/eve-guest-hostctl
usr/sbin/eve-guest-hostd
usr/share/bash-completion/completions/eve-guest-hostctl
usr/share/bash-completion/completions/eve-guest-hostd
usr/share/doc/eve-guest-hostd/changelog.gz
usr/share/doc/eve-guest-hostd/copyright
usr/share/lintian/overrides/eve-guest-hostd
usr/share/man/man8/eve-guest-hostctl.8.gz
usr/share/man/man8/eve-guest-hostd.8.gz"

# ---------------------------------------------------------------------------
# Checks.

# The files a package holds are exactly the expected ones, all root:root,
# with the modes that matter.
t_contents() {
	deb=$1 expected=$2
	dpkg-deb --contents "$deb" >"$work/contents" || return 1
	awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' "$work/contents" |
	    sort >"$work/have"
	printf '%s\n' "$expected" | sort >"$work/want"
	if ! cmp -s "$work/have" "$work/want"; then
		say "files differ from the expected list (< package, > expected):"
		diff "$work/have" "$work/want"
		return 1
	fi
	if awk '$2 != "root/root"' "$work/contents" | grep .; then
		say "entries above are not owned by root:root"
		return 1
	fi
	rc=0
	while read -r mode path; do
		grep -q "^$mode root/root .* \./$path\$" "$work/contents" ||
		    { say "$path: not $mode"; rc=1; }
	done <<EOF
$3
EOF
	return $rc
}

guest_modes="-rwxr-xr-x usr/sbin/eve-guest-agent
-rwxr-xr-x etc/init.d/eve-guest-agent
-rw-r--r-- lib/systemd/system/eve-guest-agent.service
drwxr-xr-x etc/eve/snapshots/
drwxr-xr-x etc/eve/snapshots/pre.d/
drwxr-xr-x etc/eve/snapshots/post.d/
-rwxr-xr-x etc/eve/snapshots/pre.sh.example"
host_modes="-rwxr-xr-x usr/sbin/eve-guest-hostd
-rwxr-xr-x usr/sbin/eve-guest-hostctl
-rw-r--r-- etc/eve-guest-agent/hostd.conf
-rw-r--r-- lib/systemd/system/eve-guest-hostd.service"

# Control fields, conffiles and maintainer scripts of one package.
t_info() {
	deb=$1 pkg=$2 conffiles=$3
	dpkg-deb --info "$deb" >/dev/null || return 1
	rc=0
	for f in "Package:$pkg" "Version:$version" "Architecture:$arch"; do
		got=$(dpkg-deb --field "$deb" "${f%%:*}")
		[ "$got" = "${f#*:}" ] || { say "${f%%:*}: '$got', want '${f#*:}'"; rc=1; }
	done
	rm -rf "$work/ctl" && dpkg-deb --control "$deb" "$work/ctl" || return 1
	for s in postinst prerm postrm; do
		[ -x "$work/ctl/$s" ] || { say "no executable $s"; rc=1; }
	done
	got=$(cat "$work/ctl/conffiles" 2>/dev/null)
	[ "$got" = "$conffiles" ] || { say "conffiles: '$got', want '$conffiles'"; rc=1; }
	[ -s "$work/ctl/md5sums" ] || { say "no md5sums"; rc=1; }
	return $rc
}

# The guest package needs no shared library; the host package depends on
# the Debian packages that hold its libraries, under their real names.
t_depends() {
	g=$(dpkg-deb --field "$guest_deb" Depends)
	[ -z "$g" ] || { say "guest Depends: '$g' (a static binary needs none)"; return 1; }
	h=$(dpkg-deb --field "$host_deb" Depends)
	say "host Depends: $h"
	rc=0
	for lib in libevent_core-2.1.so.7:libevent-core-2.1-7 \
	    libjson-c.so.5:libjson-c5 libprotobuf-c.so.1:libprotobuf-c1; do
		p=${lib#*:}
		case ", $h" in
		*", $p "*|*", $p,"*|*", $p") ;;
		*) say "host Depends lacks $p"; rc=1 ;;
		esac
		# The package that holds the library here has that name.
		owner=$(dpkg -S "*/${lib%%:*}" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -z "$owner" ] || [ "$owner" = "$p" ] ||
		    { say "${lib%%:*} belongs to $owner, not $p"; rc=1; }
	done
	return $rc
}

# Each binary from the unpacked packages prints its version.
t_versions() {
	rc=0
	for b in eve-guest-agent eve-guest-hostd eve-guest-hostctl; do
		got=$("$x/usr/sbin/$b" --version 2>&1)
		say "$b --version: $got"
		[ "$got" = "$b $version" ] || rc=1
	done
	return $rc
}

# The agent is static: no interpreter, no shared library; it runs in a
# root that holds nothing but itself.
t_static() {
	a=$x/usr/sbin/eve-guest-agent
	if readelf -l "$a" | grep -q INTERP; then say "has a program interpreter"; return 1; fi
	if readelf -d "$a" | grep NEEDED; then say "needs shared libraries"; return 1; fi
	if [ "$(id -u)" -eq 0 ] && have chroot; then
		mkdir -p "$work/empty"
		cp "$a" "$work/empty/eve-guest-agent"
		got=$(chroot "$work/empty" /eve-guest-agent --version) || return 1
		say "in an empty chroot: $got"
		[ "$got" = "eve-guest-agent $version" ] || return 1
	else
		say "(not root: the empty-chroot run was left out)"
	fi
}

# `-n` on a config: expect exit status $2 and stdout/stderr $3/$4.  (Shell
# functions share variables: this one's names are its own.)
t_check_conf() {
	conf=$1 want_rc=$2 want_out=$3 want_err=$4
	"$hostd" -n -c "$conf" >"$work/out" 2>"$work/err"
	crc=$?
	say "exit $crc; stdout: $(cat "$work/out"); stderr: $(cat "$work/err")"
	[ "$crc" -eq "$want_rc" ] && [ "$(cat "$work/out")" = "$want_out" ] &&
	    [ "$(cat "$work/err")" = "$want_err" ]
}

# The keys of host/config.c's config_keys[].
code_keys() {
	{
		awk '/config_keys\[\] = \{/,/^\};/' host/config.c |
		    grep -o '{ "[a-z_]*"' | tr -d '{" '
		# The backends' command keys come from their table rows.
		sed -n 's/^[[:space:]]*\.command_key = "\([a-z_]*\)",$/\1/p' \
		    host/backend_kind.c
	} | sort
}
# The keys the shipped file lists ("#key = default" lines).
conf_keys() {
	sed -n 's/^#\([a-z_]*\) = .*/\1/p' "$1" | sort
}

t_conf_keys() {
	code_keys >"$work/k1"
	conf_keys "$shipped_conf" >"$work/k2"
	if ! cmp -s "$work/k1" "$work/k2"; then
		say "keys differ (< host/config.c, > hostd.conf):"
		diff "$work/k1" "$work/k2"
		return 1
	fi
	say "$(wc -l <"$work/k1") keys"
}

# One key's documented range: both ends accepted, one past each end
# refused with the parser's message naming the same range.
t_range() {
	key=$1 lo=$2 hi=$3
	rc=0
	for v in "$lo" "$hi"; do
		printf '%s = %s\n' "$key" "$v" >"$work/r.conf"
		t_check_conf "$work/r.conf" 0 "configuration OK" "" || rc=1
	done
	for v in $( [ "$lo" -gt 0 ] && echo $((lo - 1))) $((hi + 1)); do
		printf '%s = %s\n' "$key" "$v" >"$work/r.conf"
		t_check_conf "$work/r.conf" 1 "" "eve-guest-hostd: $work/r.conf:1: $key: '$v' is not a number in $lo..$hi" || rc=1
	done
	return $rc
}

# A broken copy of the shipped file: line N replaced; expect FILE:N.
t_broken() {
	n=$1 text=$2 msg=$3
	awk -v n="$n" -v t="$text" 'NR == n { print t; next } { print }' \
	    "$shipped_conf" >"$work/broken.conf"
	t_check_conf "$work/broken.conf" 1 "" "eve-guest-hostd: $work/broken.conf:$n: $msg"
}

# A throwaway root in which dpkg --root can run maintainer scripts: a shell
# and its libraries, /dev/null, and stubs that log instead of acting for
# every service command the scripts may call.  With $2 = systemd, it looks
# like a system booted with systemd (/run/systemd/system).
make_root() {
	r=$1
	mkdir -p "$r/bin" "$r/usr/bin" "$r/dev" "$r/etc" "$r/tmp" \
	    "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates"
	: >"$r/var/lib/dpkg/status"
	: >"$r/var/lib/dpkg/available"
	cp /bin/sh "$r/bin/sh"
	for lib in $(ldd /bin/sh | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$lib")"
		cp "$lib" "$r$lib"
	done
	mknod -m 0666 "$r/dev/null" c 1 3 2>/dev/null || : >"$r/dev/null"
	for c in deb-systemd-helper deb-systemd-invoke systemctl update-rc.d \
	    invoke-rc.d; do
		printf '#!/bin/sh\necho "%s $*" >>/stub.log\nexit 0\n' "$c" \
		    >"$r/usr/bin/$c"
		chmod 0755 "$r/usr/bin/$c"
	done
	[ "$2" = systemd ] && mkdir -p "$r/run/systemd/system"
	return 0
}

# stub log of root $1 holds every line of $2, in order, and none of $3.
t_stub_log() {
	r=$1 want=$2 never=$3
	touch "$r/stub.log"
	say "service commands the maintainer scripts ran:"
	sed 's/^/  /' "$r/stub.log"
	printf '%s\n' "$want" | grep . >"$work/want"
	# Every wanted line, in order: they are a subsequence of the log.
	awk 'NR == FNR { want[++n] = $0; next } i < n && $0 == want[i + 1] { i++ }
	    END { exit i == n ? 0 : 1 }' "$work/want" "$r/stub.log" ||
	    { say "missing, or out of order: $want"; return 1; }
	if [ -n "$never" ] && grep -E "$never" "$r/stub.log"; then
		say "ran what it must not (above)"
		return 1
	fi
}

t_dpkg_root_systemd() {
	r=$work/root-systemd
	make_root "$r" systemd
	dpkg --root="$r" --force-not-root --force-depends -i "$guest_deb" "$host_deb" || return 1
	for p in eve-guest-agent eve-guest-hostd; do
		s=$(dpkg --root="$r" -s "$p" | sed -n 's/^Status: //p')
		say "$p: $s"
		[ "$s" = "install ok installed" ] || return 1
	done
	[ -f "$r/etc/eve-guest-agent/hostd.conf" ] && [ -d "$r/etc/eve/snapshots/pre.d" ] || return 1
	t_stub_log "$r" "deb-systemd-helper enable eve-guest-agent.service
systemctl --system daemon-reload
deb-systemd-invoke start eve-guest-agent.service
update-rc.d eve-guest-agent defaults
invoke-rc.d --skip-systemd-native eve-guest-agent start
deb-systemd-helper enable eve-guest-hostd.service
deb-systemd-invoke start eve-guest-hostd.service" ""
}

t_dpkg_root_upgrade() {
	r=$work/root-systemd
	rm -f "$r/stub.log"
	dpkg --root="$r" --force-not-root --force-depends -i "$guest_deb" "$host_deb" || return 1
	t_stub_log "$r" "deb-systemd-invoke restart eve-guest-agent.service
invoke-rc.d --skip-systemd-native eve-guest-agent restart
deb-systemd-invoke restart eve-guest-hostd.service" "stop"
}

t_dpkg_root_purge() {
	r=$work/root-systemd
	rm -f "$r/stub.log"
	dpkg --root="$r" --force-not-root --force-depends --purge eve-guest-agent eve-guest-hostd || return 1
	t_stub_log "$r" "deb-systemd-invoke stop eve-guest-agent.service
invoke-rc.d --skip-systemd-native eve-guest-agent stop
deb-systemd-helper mask eve-guest-agent.service
deb-systemd-helper purge eve-guest-agent.service
update-rc.d eve-guest-agent remove
deb-systemd-invoke stop eve-guest-hostd.service
deb-systemd-helper purge eve-guest-hostd.service" "" || return 1
	for f in usr/sbin/eve-guest-agent etc/eve-guest-agent/hostd.conf \
	    etc/init.d/eve-guest-agent; do
		[ ! -e "$r/$f" ] || { say "$f left after purge"; return 1; }
	done
}

t_dpkg_root_nosystemd() {
	r=$work/root-plain
	make_root "$r" plain
	dpkg --root="$r" --force-not-root --force-depends -i "$guest_deb" "$host_deb" || return 1
	t_stub_log "$r" "deb-systemd-helper enable eve-guest-agent.service
update-rc.d eve-guest-agent defaults
invoke-rc.d --skip-systemd-native eve-guest-agent start" \
	    "^(systemctl|deb-systemd-invoke) "
}

# systemd-analyze verify, with the unit's commands pointed into the
# unpacked package so that they exist.
t_verify() {
	unit=$1
	mkdir -p "$work/units"
	sed "s|/usr/sbin/|$x/usr/sbin/|g" "$x/lib/systemd/system/$unit" \
	    >"$work/units/$unit"
	# Documentation=man:... is checked with man(1): find the packaged pages.
	out=$(MANPATH=$x/usr/share/man: SYSTEMD_LOG_LEVEL=warning \
	    systemd-analyze verify "$work/units/$unit" 2>&1)
	rc=$?
	# Complaints about other units on this machine are not ours.
	printf '%s\n' "$out" | grep -F "$unit" && return 1
	return $rc
}

# grep -x for each line of $2 in unit $1.
t_unit_lines() {
	rc=0
	while IFS= read -r l; do
		grep -qxF "$l" "$1" || { say "missing: $l"; rc=1; }
	done <<EOF
$2
EOF
	return $rc
}

# TimeoutStopSec covers the daemon's graceful stop (its connection's close
# linger, PEER_CLOSE_SECONDS in common/peer.c, after which it has thawed
# and exited) twice over.
t_stop_timeout() {
	close=$(sed -n 's/^#define[[:space:]]*PEER_CLOSE_SECONDS[[:space:]]*\([0-9]*\).*/\1/p' common/peer.c)
	stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' packaging/systemd/eve-guest-agent.service)
	say "TimeoutStopSec=$stop, PEER_CLOSE_SECONDS=$close"
	[ -n "$close" ] && [ -n "$stop" ] && [ "$stop" -ge $((close * 2)) ]
}

# Is process $1 running (neither gone nor a zombie waiting for a reaper)?
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

# The System V script from the package, as a test copy: DAEMON is the
# unpacked agent, PIDFILE private.  start, status, stop, status.
t_sysv() {
	mkdir -p "$work/sysv"
	s=$work/sysv/eve-guest-agent
	sed -e "s|^DAEMON=.*|DAEMON=$x/usr/sbin/eve-guest-agent|" \
	    -e "s|^PIDFILE=.*|PIDFILE=$sysv_pidfile|" \
	    "$x/etc/init.d/eve-guest-agent" >"$s"
	# The copy is not under /etc/init.d, so lsb's systemctl redirection
	# would not apply anyway; the variable makes sure.
	_SYSTEMCTL_SKIP_REDIRECT=1 EVE_GUEST_AGENT_CONNECT=unix:$work/sysv/nohost.sock \
	    sh "$s" start || return 1
	sleep 1
	pid=$(cat "$sysv_pidfile" 2>/dev/null)
	if [ -z "$pid" ] || ! alive "$pid"; then
		say "no daemon after start"
		return 1
	fi
	exe=$(readlink "/proc/$pid/exe")
	say "started pid $pid: $exe"
	[ "$exe" = "$x/usr/sbin/eve-guest-agent" ] || return 1
	_SYSTEMCTL_SKIP_REDIRECT=1 sh "$s" status || { say "status: not running"; return 1; }
	_SYSTEMCTL_SKIP_REDIRECT=1 sh "$s" stop || return 1
	if alive "$pid"; then say "still running after stop"; return 1; fi
	[ ! -e "$sysv_pidfile" ] || { say "pid file left"; return 1; }
	_SYSTEMCTL_SKIP_REDIRECT=1 sh "$s" status
	[ $? -eq 3 ] || { say "status after stop is not 3 (not running)"; return 1; }
}

t_lintian() {
	lintian --pedantic -I "$1" >"$work/lintian" 2>&1
	grep -v 'running with root privileges' "$work/lintian"
	if grep -q '^E: ' "$work/lintian"; then return 1; fi
	say "$(grep -c '^W: ' "$work/lintian") warnings, $(grep -c '^[IP]: ' "$work/lintian") info/pedantic"
}

t_man() {
	out=$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
	rc=$?
	printf '%s' "$out"
	[ $rc -eq 0 ] && [ -z "$out" ]
}

# The man page's EXIT STATUS table has every status of common/status.c
# with its exit code.
t_man_exit_codes() {
	rc=0
	tr '\n\t' '  ' <common/status.c |
	    grep -o '{ "[A-Z_]*", *"[^"]*", *[0-9]* }' |
	    sed 's/{ "\([A-Z_]*\)", *"[^"]*", *\([0-9]*\) }/\2 \1/' >"$work/codes"
	[ -s "$work/codes" ] || { say "no status codes found in common/status.c"; return 1; }
	while read -r code name; do
		[ "$name" = OK ] && continue
		grep -q "^$code	$name" "$1" || { say "missing: $code $name"; rc=1; }
	done <"$work/codes"
	return $rc
}

# Every long option in the program's --help is in its man page (as \-\-x)
# and in its bash completion.
t_options() {
	prog=$1 man=$2 comp=$3
	"$prog" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u >"$work/opts"
	[ -s "$work/opts" ] || { say "no options in --help"; return 1; }
	rc=0
	while read -r o; do
		m=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$m" "$man" || { say "$man lacks $o"; rc=1; }
		grep -q -- "$o" "$comp" || { say "$comp lacks $o"; rc=1; }
	done <"$work/opts"
	return $rc
}

# Every key of host/config.c is in the hostd man page.
t_man_keys() {
	rc=0
	for k in $(code_keys); do
		m=$(printf '%s' "$k" | sed 's/_/\\_/g')
		grep -q -e "$k" -e "$m" packaging/man/eve-guest-hostd.8 ||
		    { say "eve-guest-hostd.8 lacks $k"; rc=1; }
	done
	return $rc
}

# Completions, as bash computes them for a command line.
t_completion() {
	cat >"$work/comp.bash" <<'EOF'
for f in packaging/completion/*; do . "$f"; done
t() {
	COMP_LINE=$2 COMP_POINT=${#2} COMPREPLY=()
	"$1"
	got="${COMPREPLY[*]}"
	if [[ $got == "$3" ]]; then
		echo "ok: [$2] -> $got"
	else
		echo "[$2] -> '$got', want '$3'"
		rc=1
	fi
}
rc=0
t _eve_guest_agent 'eve-guest-agent ' 'status daemon snapshot'
t _eve_guest_agent 'eve-guest-agent snapshot ' 'create list delete rollback check'
t _eve_guest_agent 'eve-guest-agent snapshot create --n' '--name'
t _eve_guest_agent 'eve-guest-agent snapshot delete x --m' '--member'
t _eve_guest_agent 'eve-guest-agent daemon --h' '--hooks-dir --help'
t _eve_guest_agent 'eve-guest-agent --connect v' 'vsock:2:2210'
t _eve_guest_hostd 'eve-guest-hostd --no' '--no-vsock'
t _eve_guest_hostctl 'eve-guest-hostctl ' 'vm snapshot events guest'
t _eve_guest_hostctl 'eve-guest-hostctl vm ' 'add update remove list show state'
t _eve_guest_hostctl 'eve-guest-hostctl vm add --state ' 'running starting stopped'
t _eve_guest_hostctl 'eve-guest-hostctl vm update x --s' '--snapshot-budget'
t _eve_guest_hostctl 'eve-guest-hostctl vm state x st' 'starting stopped'
t _eve_guest_hostctl 'eve-guest-hostctl vm add --volume uuid=x,ba' 'x,backend=qcow2 x,backend=zfs'
t _eve_guest_hostctl 'eve-guest-hostctl snapshot create --vm x --consistency ' 'app fs crash'
t _eve_guest_hostctl 'eve-guest-hostctl snapshot delete --vm x y --' '--vm --member'
t _eve_guest_hostctl 'eve-guest-hostctl snapshot rollback --vm x y --' '--vm --volume --online'
exit $rc
EOF
	bash "$work/comp.bash"
}

# make install-* into a DESTDIR, with PREFIX=/usr/local.
t_install_guest() {
	d=$work/ig
	$make_cmd install-guest DESTDIR="$d" PREFIX=/usr/local >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; return 1; }
	rc=0
	for f in usr/local/sbin/eve-guest-agent lib/systemd/system/eve-guest-agent.service \
	    etc/init.d/eve-guest-agent etc/eve/snapshots/pre.sh.example \
	    etc/eve/snapshots/post.sh.example usr/local/share/man/man8/eve-guest-agent.8 \
	    usr/local/share/bash-completion/completions/eve-guest-agent; do
		[ -f "$d/$f" ] || { say "missing $f"; rc=1; }
	done
	for dir in etc/eve/snapshots etc/eve/snapshots/pre.d etc/eve/snapshots/post.d; do
		m=$(stat -c %a "$d/$dir" 2>/dev/null)
		[ "$m" = 755 ] || { say "$dir: mode '$m', want 755"; rc=1; }
	done
	grep -qx 'ExecStart=/usr/local/sbin/eve-guest-agent daemon' \
	    "$d/lib/systemd/system/eve-guest-agent.service" ||
	    { say "unit does not run /usr/local/sbin/eve-guest-agent"; rc=1; }
	grep -qx 'DAEMON=/usr/local/sbin/eve-guest-agent' "$d/etc/init.d/eve-guest-agent" ||
	    { say "init script does not run /usr/local/sbin/eve-guest-agent"; rc=1; }
	return $rc
}

t_install_openrc() {
	d=$work/io
	$make_cmd install-openrc DESTDIR="$d" PREFIX=/usr >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; return 1; }
	head -n 1 "$d/etc/init.d/eve-guest-agent" | grep -qx '#!/sbin/openrc-run' ||
	    { say "/etc/init.d/eve-guest-agent is not the OpenRC script"; return 1; }
	[ ! -e "$d/lib/systemd/system/eve-guest-agent.service" ] ||
	    { say "a systemd unit was installed too"; return 1; }
	[ -x "$d/usr/sbin/eve-guest-agent" ] && [ -d "$d/etc/eve/snapshots/pre.d" ]
}

t_install_host() {
	d=$work/ih
	$make_cmd install-host DESTDIR="$d" PREFIX=/usr/local >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; return 1; }
	rc=0
	for f in usr/local/sbin/eve-guest-hostd usr/local/sbin/eve-guest-hostctl \
	    lib/systemd/system/eve-guest-hostd.service etc/eve-guest-agent/hostd.conf \
	    usr/local/share/man/man8/eve-guest-hostd.8 usr/local/share/man/man8/eve-guest-hostctl.8 \
	    usr/local/share/bash-completion/completions/eve-guest-hostd \
	    usr/local/share/bash-completion/completions/eve-guest-hostctl; do
		[ -f "$d/$f" ] || { say "missing $f"; rc=1; }
	done
	grep -qx 'ExecStart=/usr/local/sbin/eve-guest-hostd -f' \
	    "$d/lib/systemd/system/eve-guest-hostd.service" ||
	    { say "unit does not run /usr/local/sbin/eve-guest-hostd"; rc=1; }
	# A second install keeps the administrator's configuration.
	echo "idle_timeout = 42" >"$d/etc/eve-guest-agent/hostd.conf"
	$make_cmd install-host DESTDIR="$d" PREFIX=/usr/local >"$work/make.log" 2>&1 ||
	    { cat "$work/make.log"; return 1; }
	grep -qx "idle_timeout = 42" "$d/etc/eve-guest-agent/hostd.conf" ||
	    { say "install-host overwrote an existing hostd.conf"; rc=1; }
	return $rc
}

# ---------------------------------------------------------------------------
# Static checks (also `make lint-packaging`).

shell_scripts="packaging/sysvinit/eve-guest-agent packaging/openrc/eve-guest-agent
packaging/debian/guest/postinst packaging/debian/guest/prerm packaging/debian/guest/postrm
packaging/debian/host/postinst packaging/debian/host/prerm packaging/debian/host/postrm
packaging/hooks/pre.sh.example packaging/hooks/post.sh.example
packaging/build-deb.sh packaging/test-packaging.sh"
bash_scripts="packaging/completion/eve-guest-agent packaging/completion/eve-guest-hostd
packaging/completion/eve-guest-hostctl"

if have shellcheck; then
	for f in $shell_scripts; do
		check "shellcheck $f" shellcheck "$f"
	done
	for f in $bash_scripts; do
		check "shellcheck (bash) $f" shellcheck -s bash "$f"
	done
else
	skip "shellcheck: not installed (sh scripts/deps.sh installs it)"
fi
for f in $shell_scripts; do
	check "sh -n $f" sh -n "$f"
done

for m in packaging/man/*.8; do
	if have man; then
		check "man page $m renders without warnings" t_man "$m"
	else
		skip "man page $m: man is not installed"
	fi
done
check "eve-guest-agent(8) exit codes match common/status.c" \
    t_man_exit_codes packaging/man/eve-guest-agent.8
check "eve-guest-hostctl(8) exit codes match common/status.c" \
    t_man_exit_codes packaging/man/eve-guest-hostctl.8
check "eve-guest-hostd(8) names every key of host/config.c" t_man_keys
check "bash completion answers as expected" t_completion

guest_unit=packaging/systemd/eve-guest-agent.service
host_unit=packaging/systemd/eve-guest-hostd.service
check "guest unit: simple service, restart on failure, after local-fs" \
    t_unit_lines "$guest_unit" "Type=simple
ExecStart=/usr/sbin/eve-guest-agent daemon
Restart=on-failure
After=local-fs.target
KillMode=mixed
WantedBy=multi-user.target"
check "guest unit: stop timeout covers the daemon's thaw-and-close" t_stop_timeout
check "host unit: -n before start and reload, -f, reload sends SIGHUP" \
    t_unit_lines "$host_unit" "Type=simple
ExecStartPre=/usr/sbin/eve-guest-hostd -n
ExecStart=/usr/sbin/eve-guest-hostd -f
ExecReload=/usr/sbin/eve-guest-hostd -n
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure
WantedBy=multi-user.target"

if [ $lint -eq 1 ]; then
	for deb in "$guest_deb" "$host_deb"; do
		if ! have lintian; then
			skip "lintian $deb: lintian is not installed"
		elif [ ! -f "$deb" ]; then
			skip "lintian $deb: not built (make deb)"
		else
			check "lintian $(basename "$deb"): no errors" t_lintian "$deb"
		fi
	done
	echo "packaging: $passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
	exit
fi

# ---------------------------------------------------------------------------
# The packages.

rm -f "$guest_deb" "$host_deb"
check "make deb builds both packages" \
    sh -c "$make_cmd deb && test -f '$guest_deb' && test -f '$host_deb'"
if [ ! -f "$guest_deb" ] || [ ! -f "$host_deb" ]; then
	echo "packaging: $passed passed, $failed failed, $skipped skipped"
	exit 1
fi

check "dpkg-deb --info eve-guest-agent: fields, conffiles, scripts" \
    t_info "$guest_deb" eve-guest-agent "/etc/eve/snapshots/post.sh.example
/etc/eve/snapshots/pre.sh.example
/etc/init.d/eve-guest-agent"
check "dpkg-deb --info eve-guest-hostd: fields, conffiles, scripts" \
    t_info "$host_deb" eve-guest-hostd "/etc/eve-guest-agent/hostd.conf"
check "Depends: none for the static guest; the host's libraries by package" t_depends
check "dpkg-deb --contents eve-guest-agent: files, owners, modes" \
    t_contents "$guest_deb" "$guest_files" "$guest_modes"
check "dpkg-deb --contents eve-guest-hostd: files, owners, modes" \
    t_contents "$host_deb" "$host_files" "$host_modes"

x=$work/x
mkdir -p "$x"
check "dpkg -x both packages into a throwaway root" \
    sh -c "dpkg -x '$guest_deb' '$x' && dpkg -x '$host_deb' '$x'"
check "the unpacked binaries run and print version $version" t_versions
check "eve-guest-agent is static and runs alone in an empty root" t_static

if [ "$(id -u)" -eq 0 ] && have chroot; then
	check "dpkg --root install (systemd root): enabled and started via stubs" \
	    t_dpkg_root_systemd
	check "dpkg --root reinstall (upgrade): restarted, never stopped" \
	    t_dpkg_root_upgrade
	check "dpkg --root purge: stopped, disabled, files gone" t_dpkg_root_purge
	check "dpkg --root install (no systemd): no systemctl, no unit start" \
	    t_dpkg_root_nosystemd
else
	skip "dpkg --root installs: need root and chroot to run maintainer scripts"
fi

if have systemd-analyze; then
	check "systemd-analyze verify eve-guest-agent.service" t_verify eve-guest-agent.service
	check "systemd-analyze verify eve-guest-hostd.service" t_verify eve-guest-hostd.service
else
	skip "systemd-analyze verify: systemd-analyze is not installed"
fi

if have start-stop-daemon && [ -d /proc/self ]; then
	check "System V script (test copy): start, status, stop, status" t_sysv
else
	skip "System V script run: start-stop-daemon is not installed"
fi

hostd=$x/usr/sbin/eve-guest-hostd
shipped_conf=$x/etc/eve-guest-agent/hostd.conf
check "hostd -n on the shipped hostd.conf: configuration OK" \
    t_check_conf "$shipped_conf" 0 "configuration OK" ""
sed 's/^#\([a-z_]* = \)/\1/' "$shipped_conf" >"$work/all.conf"
check "hostd -n with every key set to its documented default: OK" \
    t_check_conf "$work/all.conf" 0 "configuration OK" ""
check "hostd.conf lists every key of host/config.c" t_conf_keys
awk '/^# Range: / { split($3, r, /\.\./); lo = r[1]; hi = r[2]; next }
     /^#[a-z_]+ = / && lo != "" { k = substr($1, 2); print k, lo, hi; lo = "" }' \
    "$shipped_conf" >"$work/ranges"
while read -r key lo hi; do
	check "hostd.conf range of $key ($lo..$hi) is what hostd -n enforces" \
	    t_range "$key" "$lo" "$hi"
done <"$work/ranges"
n=$(grep -n '^#idle_timeout = ' "$shipped_conf" | cut -d: -f1)
check "hostd -n on a broken copy (idle_timeout = 0, line $n): FILE:LINE, exit 1" \
    t_broken "$n" "idle_timeout = 0" "idle_timeout: '0' is not a number in 1..86400"
check "hostd -n on a broken copy (unknown key, line 3): FILE:LINE, exit 1" \
    t_broken 3 "no_such_key = 1" "unknown key 'no_such_key'"
check "hostd -n on a broken copy (no '=', line 5): FILE:LINE, exit 1" \
    t_broken 5 "vsock yes" "expected 'key = value'"

for m in "$x"/usr/share/man/man8/*.8.gz; do
	if have man; then
		check "packaged $(basename "$m") renders without warnings" t_man "$m"
	fi
done
check "eve-guest-agent --help options are in its man page and completion" \
    t_options "$x/usr/sbin/eve-guest-agent" packaging/man/eve-guest-agent.8 \
    packaging/completion/eve-guest-agent
check "eve-guest-hostd --help options are in its man page and completion" \
    t_options "$hostd" packaging/man/eve-guest-hostd.8 \
    packaging/completion/eve-guest-hostd
check "eve-guest-hostctl --help options are in its man page and completion" \
    t_options "$x/usr/sbin/eve-guest-hostctl" packaging/man/eve-guest-hostctl.8 \
    packaging/completion/eve-guest-hostctl

for deb in "$guest_deb" "$host_deb"; do
	if have lintian; then
		check "lintian $(basename "$deb"): no errors" t_lintian "$deb"
		# Warnings are allowed; show them.
		grep -E '^[WIP]: ' "$work/lintian" | awk '{ print "     | " $0 }'
	else
		skip "lintian $(basename "$deb"): lintian is not installed (sh scripts/deps.sh installs it)"
	fi
done

check "make install-guest DESTDIR PREFIX=/usr/local" t_install_guest
check "make install-openrc: the OpenRC script, no systemd unit" t_install_openrc
check "make install-host DESTDIR PREFIX=/usr/local; keeps hostd.conf" t_install_host

echo "packaging: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
