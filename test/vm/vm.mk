# Guest-side tests in a real Linux guest (test/vm/README.md): a Debian 12
# kernel booted under QEMU/TCG with real virtio-blk and virtio-scsi disks,
# the guest agent and the host side both running inside, AF_VSOCK through
# vsock_loopback; then the EVE-shaped node (eve-node.sh), where the host
# daemon runs on this machine and snapshots the guest through its own
# QEMU's QMP socket.  Include from the top Makefile (BUILD is set there).
# The first run downloads the kernel and busybox-static from Debian into
# /var/cache/evg-vm (or $EVG_VM_CACHE); later runs reuse them.  Skips, with
# a message and success, only where QEMU cannot run at all.

.PHONY: test-vm

test-vm:
	$(MAKE) --no-print-directory $(BUILD)/eve-guest-agent \
	    $(BUILD)/eve-guest-hostd $(BUILD)/eve-guest-hostctl
	@rc=0; bash test/vm/run-tests.sh $(BUILD) || rc=$$?; \
	if [ $$rc -eq 77 ]; then \
		echo "test-vm: SKIPPED (QEMU cannot run on this machine)"; \
		exit 0; \
	fi; \
	exit $$rc
