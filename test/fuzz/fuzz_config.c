/*
 * fuzz_config: the host daemon's config file parser (host/config.c,
 * config_parse()) on the text of a hostd.conf.
 *
 * Proves: no file makes the parser crash, leak or store a value outside
 * the bounds docs/config.md gives; a bad line is refused with its number.
 *
 * Oracle: after a file is accepted, every numeric setting is within its
 * key's bounds and every path or command is one the parser accepts; a
 * refused file gets a cause "NAME:LINE: ...".
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "frame.h"
#include "fuzzutil.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* True if s is a command name or an absolute path (CONFIG_COMMAND). */
static int
command_ok(const char *s)
{
	return (s != NULL && *s != '\0' && strlen(s) < PATH_MAX &&
	    (s[0] == '/' || strchr(s, '/') == NULL) &&
	    strpbrk(s, " \t") == NULL);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cf;
	char		*cause = NULL;

	config_defaults(&cf);
	if (config_parse(&cf, (const char *)data, size, "hostd.conf",
	    &cause) != 0) {
		FUZZ_CHECK(cause != NULL &&
		    strncmp(cause, "hostd.conf:", 11) == 0);
		free(cause);
		config_free(&cf);
		return (0);
	}
	FUZZ_CHECK(cf.state_dir == NULL || cf.state_dir[0] == '/');
	FUZZ_CHECK(cf.control_socket != NULL && cf.control_socket[0] == '/');
	FUZZ_CHECK(cf.ncontrol_uids >= 1 &&
	    cf.ncontrol_uids <= CONFIG_MAX_UIDS);
	FUZZ_CHECK(cf.vsock == 0 || cf.vsock == 1);
	FUZZ_CHECK(cf.vsock_port >= 1 && cf.vsock_port <= 65535);
	FUZZ_CHECK(cf.max_frame_guest >= 1024 &&
	    cf.max_frame_guest <= FRAME_MAX_LIMIT);
	FUZZ_CHECK(cf.max_frame_control >= 1024 &&
	    cf.max_frame_control <= FRAME_MAX_LIMIT);
	FUZZ_CHECK(cf.max_output >= 65536 &&
	    cf.max_output <= 256UL * 1024 * 1024);
	FUZZ_CHECK(cf.handshake_timeout >= 1 && cf.handshake_timeout <= 300);
	FUZZ_CHECK(cf.idle_timeout >= 1 && cf.idle_timeout <= 86400);
	FUZZ_CHECK(cf.ping_interval >= 1 && cf.ping_interval <= 3600);
	FUZZ_CHECK(cf.max_conns_per_vm >= 1 && cf.max_conns_per_vm <= 1024);
	FUZZ_CHECK(cf.max_conns >= 16 && cf.max_conns <= 65536);
	FUZZ_CHECK(cf.max_control_conns >= 1 && cf.max_control_conns <= 1024);
	FUZZ_CHECK(command_ok(cf.cmd.qemu_img) && command_ok(cf.cmd.zfs));
	FUZZ_CHECK(cf.backend_timeout >= 1 && cf.backend_timeout <= 86400);
	FUZZ_CHECK(cf.qmp_timeout >= 1 && cf.qmp_timeout <= 3600);
	FUZZ_CHECK(cf.space_reserve <= (uint64_t)1024 * 1024 << 20 &&
	    cf.space_reserve % (1 << 20) == 0);
	FUZZ_CHECK(cf.max_parallel_ops >= 1 && cf.max_parallel_ops <= 256);
	FUZZ_CHECK(cf.freeze_lease_ms >= 300 && cf.freeze_lease_ms <= 600000);
	FUZZ_CHECK(cf.guest_timeout >= 1 && cf.guest_timeout <= 3600);
	FUZZ_CHECK(cf.allow_loopback_cid == 0 || cf.allow_loopback_cid == 1);
	config_free(&cf);
	return (0);
}
