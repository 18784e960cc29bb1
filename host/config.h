/*
 * Host daemon configuration: defaults, the config file (`key = value`
 * lines, '#' comments) and its bounds.  docs/config.md lists every key.
 * A struct config is plain data; config_free() releases its strings.
 */
#ifndef EVG_CONFIG_H
#define EVG_CONFIG_H

#include "backend_kind.h"

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_DEFAULT	"/etc/eve-guest-agent/hostd.conf"
#define STATE_DIR_DEFAULT	"/persist/eve-guest-agent"
#define STATE_DIR_FALLBACK	"/var/lib/eve-guest-agent"
#define CONTROL_SOCKET_DEFAULT	"/run/eve-guest-agent/control.sock"
#define CONFIG_MAX_UIDS		16

struct config {
	char		*state_dir;
	char		*control_socket;
	uid_t		 control_uids[CONFIG_MAX_UIDS];
	size_t		 ncontrol_uids;
	int		 vsock;			/* listen on AF_VSOCK */
	unsigned int	 vsock_port;
	uint32_t	 max_frame_guest;	/* bytes */
	uint32_t	 max_frame_control;	/* bytes */
	size_t		 max_output;		/* bytes queued per peer */
	unsigned int	 handshake_timeout;	/* seconds */
	unsigned int	 idle_timeout;		/* seconds, CLI sessions */
	unsigned int	 ping_interval;		/* seconds, daemon sessions */
	unsigned int	 max_conns_per_vm;
	unsigned int	 max_conns;		/* all guest + control */
	unsigned int	 max_control_conns;
	/* The backends' commands (name or path), per backend_kinds[]. */
	struct backend_commands	 cmd;
	unsigned int	 backend_timeout;	/* seconds per backend step */
	unsigned int	 qmp_timeout;		/* seconds per QMP command */
	uint64_t	 space_reserve;		/* bytes kept free */
	unsigned int	 max_parallel_ops;	/* snapshot ops, all VMs */
	unsigned int	 max_queued_per_vm;	/* waiting their turn; 0: BUSY */
	unsigned int	 queue_wait;		/* s a request may wait */
	unsigned int	 freeze_lease_ms;	/* guest auto-thaw deadline */
	unsigned int	 guest_timeout;		/* seconds per guest request */
	unsigned int	 reconcile_retry;	/* seconds between retries of
						   unfinished catalog entries */
	unsigned int	 unplug_ms;		/* online rollback: the guest's
						   time to release a disk */
	int		 allow_loopback_cid;	/* tests: accept CID 1 */
};

/* Fill with defaults (state_dir NULL: chosen by config_state_dir()). */
void	config_defaults(struct config *);
/*
 * Read a config file over the current values.  A missing file is fine only
 * when must_exist is 0.  Returns 0, or -1 with *cause "FILE:LINE: ...".
 */
int	config_load(struct config *, const char *, int, char **);
/*
 * Apply the len bytes of config file text over the current values, as
 * config_load() does once the file is read; name is the file's name for
 * *cause.  Returns 0, or -1 with *cause "NAME:LINE: ..." (the lines
 * before the bad one are applied).
 */
int	config_parse(struct config *, const char *, size_t, const char *,
	    char **);
/* Pick the state directory (DESIGN.md fallback rule) if none is set. */
void	config_state_dir(struct config *);
void	config_free(struct config *);
/*
 * Move every backend's command (backend_kinds[]) from one config to the
 * other: to's old strings are freed, from's become NULL (a reload takes
 * the new commands this way).
 */
void	config_move_commands(struct config *, struct config *);
/* True if control_uids is just root (the socket can then be 0600). */
int	config_uid_allowed_only_root(const struct config *);
/* True if uid may use the control socket. */
int	config_uid_allowed(const struct config *, uid_t);

#endif
