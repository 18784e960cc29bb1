#!/usr/bin/env bash
# Build what run-guest.sh boots: a Debian 12 kernel and an initramfs in two
# layers.
#
#   CACHE/KVER/vmlinuz, CACHE/KVER/base.cpio   (from Debian packages)
#       the kernel, busybox-static and the kernel modules the tests need,
#       with their dependencies, in load order.  Downloaded with apt-get
#       once and reused: CACHE is $EVG_VM_CACHE or /var/cache/evg-vm, outside
#       the repository.  EVG_VM_REFRESH=1 picks the current kernel again.
#   BUILD/vm/bundle.cpio                      (rebuilt on every run)
#       /init, the guest test library, the project's binaries and the
#       host-side tools the tests run inside the guest (qemu-img, mkfs.ext4),
#       each with the shared libraries ldd names and the dynamic loader.
#
# Writes BUILD/vm/guest.env (KERNEL, BASE, BUNDLE, KVER) for run-guest.sh.
# Usage: build-guest.sh [BUILD-DIR]   (default: build)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-build}" && pwd)
CACHE=${EVG_VM_CACHE:-/var/cache/evg-vm}
if [ -z "${EVG_VM_CACHE:-}" ] && ! mkdir -p "$CACHE" 2>/dev/null; then
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/evg-vm
fi
OUT="$BUILD/vm"

# Modules the tests load, by name; their dependencies come from each
# module's own depends= list.  The crypto modules are not dependencies of
# anything but are what ext4 (crc32c) and t10-pi (under sd_mod) ask the
# kernel for at run time; with no modprobe in the guest they must be there.
# virtio_net is for eve-node.sh's transport bridge (test plumbing, see
# README.md).  A cached base layer made for another list is made again.
MODULES="crc32c_generic crct10dif_generic crc64_rocksoft_generic
virtio_pci virtio_blk virtio_scsi sd_mod ext4 vsock vsock_loopback
virtio_net"

# Host tools run inside the guest, with their libraries (socat: the
# EVE-shaped node's transport bridge).
TOOLS="qemu-img mkfs.ext4 socat"

log() { echo "build-guest: $*" >&2; }

# The kernel package linux-image-amd64 currently depends on.
pick_kernel() {
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	    sed -n 's/^ *Depends: \(linux-image-6\.1\.[0-9.-]*-amd64\)$/\1/p' |
	    head -1)
	if [ -z "$pkg" ]; then
		log "apt-cache knows no linux-image-amd64; running apt-get update"
		apt-get update -qq >&2
		pkg=$(apt-cache depends linux-image-amd64 |
		    sed -n 's/^ *Depends: \(linux-image-6\.1\.[0-9.-]*-amd64\)$/\1/p' |
		    head -1)
	fi
	[ -n "$pkg" ] || { log "no linux-image-6.1.*-amd64 package found"; exit 1; }
	echo "$pkg"
}

# modfile NAME: the .ko for a module name ('-' and '_' are the same).
modfile() {
	local n=$1
	find "$MODROOT" -name "$n.ko" -o -name "${n//_/-}.ko" -o \
	    -name "${n//-/_}.ko" | head -1
}

# add_module NAME: append NAME's dependencies, then NAME, to ORDER once.
add_module() {
	local n=${1//-/_} f deps d
	case " $ORDER " in *" $n "*) return 0 ;; esac
	f=$(modfile "$1")
	[ -n "$f" ] || { log "module $1 is not in the kernel package"; exit 1; }
	deps=$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -1)
	for d in ${deps//,/ }; do
		add_module "$d"
	done
	case " $ORDER " in *" $n "*) return 0 ;; esac
	ORDER="$ORDER $n"
	cp "$f" "$STAGE/evg/modules/$n.ko"
}

# module_list: MODULES one a line, what a cached base layer was made for.
module_list() {
	# shellcheck disable=SC2086
	printf '%s\n' $MODULES
}

# The cached kernel and base layer, made if missing (or made for another
# module list).  Holds the cache lock.
build_base() {
	local pkg tmp kver
	if [ -z "${EVG_VM_REFRESH:-}" ] && [ -f "$CACHE/current/base.cpio" ] &&
	    [ -f "$CACHE/current/vmlinuz" ] && [ -x "$CACHE/current/busybox" ] &&
	    [ "$(cat "$CACHE/current/modules" 2>/dev/null)" = "$(module_list)" ]; then
		return 0
	fi
	pkg=$(pick_kernel)
	tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	log "downloading $pkg and busybox-static"
	# Package lists older than the archive name files it no longer has.
	if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root \
	    "$pkg" busybox-static >&2); then
		log "download failed; running apt-get update and retrying"
		apt-get update -qq >&2
		pkg=$(pick_kernel)
		(cd "$tmp" && apt-get download -qq \
		    -o APT::Sandbox::User=root "$pkg" busybox-static >&2)
	fi
	dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/k"
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"
	kver=${pkg#linux-image-}
	MODROOT="$tmp/k/lib/modules/$kver"
	[ -d "$MODROOT" ] || { log "$pkg has no modules for $kver"; exit 1; }
	STAGE="$tmp/stage"
	mkdir -p "$STAGE/usr/bin" "$STAGE/usr/sbin" "$STAGE/usr/lib" \
	    "$STAGE/usr/lib64" "$STAGE/evg/modules"
	ln -s usr/bin "$STAGE/bin"
	ln -s usr/sbin "$STAGE/sbin"
	ln -s usr/lib "$STAGE/lib"
	ln -s usr/lib64 "$STAGE/lib64"
	cp "$tmp/bb/bin/busybox" "$STAGE/usr/bin/busybox"
	ORDER=""
	for m in $MODULES; do
		add_module "$m"
	done
	# shellcheck disable=SC2086
	printf '%s\n' $ORDER > "$STAGE/evg/modules/load.list"
	echo "$kver" > "$STAGE/evg/kernel-version"
	(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
	    "$tmp/bb/bin/busybox" cpio -o -H newc 2>/dev/null) > "$tmp/base.cpio"
	mkdir -p "$tmp/out"
	mv "$tmp/base.cpio" "$tmp/out/base.cpio"
	cp "$tmp/k/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	cp "$tmp/bb/bin/busybox" "$tmp/out/busybox"
	module_list > "$tmp/out/modules"
	echo "$pkg $(dpkg-deb -f "$tmp"/linux-image-*.deb Version)" \
	    > "$tmp/out/package"
	rm -rf "${CACHE:?}/$kver"
	mv "$tmp/out" "$CACHE/$kver"
	ln -sfn "$kver" "$CACHE/current"
	rm -rf "$tmp"
	trap - EXIT
	log "cached $kver in $CACHE (modules:$ORDER)"
}

# bundle FILE...: copy each executable to STAGE/usr/bin with the shared
# libraries ldd names, at their own paths (the loader included).
bundle() {
	local f lib
	for f in "$@"; do
		if ldd "$f" 2>/dev/null | grep -q "not found"; then
			log "$f: a shared library is missing: $(ldd "$f" | grep "not found")"
			exit 1
		fi
		cp -L "$f" "$STAGE/usr/bin/"
		for lib in $(ldd "$f" 2>/dev/null |
		    sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
			mkdir -p "$STAGE$(dirname "$lib")"
			[ -e "$STAGE$lib" ] || cp -L "$lib" "$STAGE$lib"
		done
	done
}

# The per-build layer: init, test library, project binaries, tools.
build_bundle() {
	local t p
	STAGE="$OUT/stage"
	rm -rf "$STAGE"
	mkdir -p "$STAGE/usr/bin" "$STAGE/usr/lib" "$STAGE/usr/lib64" \
	    "$STAGE/etc" "$STAGE/evg"
	ln -s usr/lib "$STAGE/lib"
	ln -s usr/lib64 "$STAGE/lib64"
	ln -s usr/bin "$STAGE/bin"
	for p in eve-guest-agent eve-guest-hostd eve-guest-hostctl; do
		[ -x "$BUILD/$p" ] || { log "$BUILD/$p is not built (run make)"; exit 1; }
	done
	# The agent must be what is installed in a VM: one static binary.
	if ldd "$BUILD/eve-guest-agent" >/dev/null 2>&1; then
		log "$BUILD/eve-guest-agent is not static"
		exit 1
	fi
	cp "$BUILD/eve-guest-agent" "$STAGE/usr/bin/"
	bundle "$BUILD/eve-guest-hostd" "$BUILD/eve-guest-hostctl"
	for t in $TOOLS; do
		p=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$t") ||
		    { log "$t is not installed"; exit 1; }
		bundle "$p"
	done
	[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$STAGE/etc/"
	cp "$HERE/init" "$STAGE/init"
	chmod 0755 "$STAGE/init"
	cp "$HERE/tests/lib.sh" "$STAGE/evg/lib.sh"
	(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
	    cpio_out) > "$OUT/bundle.cpio"
	rm -rf "$STAGE"
}

# cpio_out: a newc archive of the names on stdin (busybox from the base
# layer's package, so the host needs no cpio).
cpio_out() {
	"$BUSYBOX" cpio -o -H newc 2>/dev/null
}

mkdir -p "$CACHE" "$OUT"
exec 9>"$CACHE/.lock"
flock 9
build_base
flock -u 9
KVER=$(readlink "$CACHE/current")
BUSYBOX="$CACHE/$KVER/busybox"
build_bundle
cat > "$OUT/guest.env" <<EOF
KVER=$KVER
KERNEL=$CACHE/$KVER/vmlinuz
BASE=$CACHE/$KVER/base.cpio
BUNDLE=$OUT/bundle.cpio
EOF
log "kernel $KVER ($(cat "$CACHE/$KVER/package")); bundle $(du -h "$OUT/bundle.cpio" | cut -f1)"
