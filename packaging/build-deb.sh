#!/bin/sh
# Turn the trees that `make install-guest` and `make install-host` staged in
# DEB_DIR/stage/{guest,host} (PREFIX=/usr) into two Debian packages in
# DEB_DIR, with dpkg-deb.  Called by `make deb` (packaging/packaging.mk).
#
# usage: build-deb.sh DEB_DIR VERSION ARCH
#
# Adds what Debian policy wants beside the installed files: stripped
# binaries, gzipped man pages and changelog, copyright, lintian overrides,
# and the control area (control, conffiles, md5sums, maintainer scripts).
# Files are owned by root in the packages (dpkg-deb --root-owner-group), so
# no fakeroot is needed.
set -eu

[ $# -eq 3 ] || { echo "usage: $0 DEB_DIR VERSION ARCH" >&2; exit 2; }
deb_dir=$1
version=$2
arch=$3
pkgdir=$(cd "$(dirname "$0")" && pwd)
maintainer=${DEB_MAINTAINER:-eve-guest-agent developers <eve-guest-agent@example.org>}

# Reproducible timestamps: the last commit's time when there is one.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$pkgdir" log -1 --format=%ct 2>/dev/null ||
	    date +%s)
fi
export SOURCE_DATE_EPOCH
date_rfc=$(date -u -R -d "@$SOURCE_DATE_EPOCH")

# shlibs:Depends of the host binaries, as dpkg-shlibdeps works them out; the
# Debian 12 names when it cannot.
host_depends() {
	tmp=$(mktemp -d)
	mkdir "$tmp/debian"
	printf 'Source: eve-guest-agent\n\nPackage: eve-guest-hostd\nArchitecture: any\n' \
	    >"$tmp/debian/control"
	stage=$(cd "$1" && pwd)
	deps=$(cd "$tmp" && dpkg-shlibdeps -O \
	    -e"$stage/usr/sbin/eve-guest-hostd" \
	    -e"$stage/usr/sbin/eve-guest-hostctl" 2>/dev/null |
	    sed -n 's/^shlibs:Depends=//p') || deps=""
	rm -rf "$tmp"
	[ -n "$deps" ] || deps="libc6 (>= 2.34), libevent-core-2.1-7 (>= 2.1.8-stable), libjson-c5 (>= 0.15), libprotobuf-c1 (>= 1.0.1)"
	echo "$deps"
}

# build_one PACKAGE STAGE-SUBDIR DEBIAN-SUBDIR BINARY...
build_one() {
	pkg=$1
	root=$deb_dir/stage/$2
	meta=$pkgdir/debian/$3
	shift 3

	for bin in "$@"; do
		strip --remove-section=.comment --remove-section=.note \
		    --strip-unneeded "$root/usr/sbin/$bin"
	done
	gzip -9n "$root"/usr/share/man/man8/*.8

	doc=$root/usr/share/doc/$pkg
	install -d -m 0755 "$doc"
	install -m 0644 "$pkgdir/debian/copyright" "$doc/copyright"
	sed -e "s|@SOURCE@|eve-guest-agent|" -e "s|@VERSION@|$version|" \
	    -e "s|@MAINTAINER@|$maintainer|" -e "s|@DATE@|$date_rfc|" \
	    "$pkgdir/debian/changelog.in" | gzip -9n >"$doc/changelog.gz"
	chmod 0644 "$doc/changelog.gz"
	if [ -f "$meta/lintian-overrides" ]; then
		install -d -m 0755 "$root/usr/share/lintian/overrides"
		install -m 0644 "$meta/lintian-overrides" \
		    "$root/usr/share/lintian/overrides/$pkg"
	fi

	# Directories 0755, whatever the umask of the staging run was.
	find "$root" -type d -exec chmod 0755 {} +
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

	ctl=$root/DEBIAN
	install -d -m 0755 "$ctl"
	for s in postinst prerm postrm; do
		[ -f "$meta/$s" ] && install -m 0755 "$meta/$s" "$ctl/$s"
	done
	# Every file under /etc is a conffile.
	(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$ctl/conffiles"
	[ -s "$ctl/conffiles" ] || rm -f "$ctl/conffiles"
	(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o \
	    -type f -print | sed 's|^\./||' | sort | xargs md5sum) \
	    >"$ctl/md5sums"

	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	depends=""
	[ "$pkg" = eve-guest-hostd ] && depends=$(host_depends "$root")
	sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" \
	    -e "s|@MAINTAINER@|$maintainer|" -e "s|@SIZE@|$size|" \
	    -e "s|@DEPENDS@|$depends|" "$meta/control.in" >"$ctl/control"
	chmod 0644 "$ctl/control" "$ctl/md5sums"
	[ -f "$ctl/conffiles" ] && chmod 0644 "$ctl/conffiles"

	out=$deb_dir/${pkg}_${version}_${arch}.deb
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
	echo "built $out"
}

build_one eve-guest-agent guest guest eve-guest-agent
build_one eve-guest-hostd host host eve-guest-hostd eve-guest-hostctl
