#!/bin/sh
# Install the Debian 12 packages needed to build and test eve-guest-agent,
# only those that are missing.  Needs root (or sudo) when something is.
set -eu

# clang, its sanitizer and libFuzzer runtimes (libclang-rt-14-dev) and
# llvm-symbolizer (llvm-14) are for the fuzz targets (docs/fuzzing.md).
# socat bridges the EVE-shaped test node's guest to the host daemon
# (test/vm/eve-node.sh), on the host and inside the guest.
# golang-go, golang-google-protobuf-dev, protoc-gen-go and protobuf-compiler
# build and test the Go client offline (go/README.md, make test-go).
PKGS="build-essential make pkg-config protobuf-c-compiler libprotobuf-c-dev
libevent-dev check libsubunit-dev libjson-c-dev qemu-utils
qemu-system-x86 socat e2fsprogs xfsprogs dosfstools util-linux procps shellcheck lintian
clang libclang-rt-14-dev llvm-14
golang-go golang-google-protobuf-dev protoc-gen-go protobuf-compiler"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
