/*
 * One CLI request over an event loop: connect, Hello as ROLE_GUEST_CLI,
 * send the request, and wait for its final reply while serving whatever
 * the host asks over the same connection (serve.c).  `snapshot create`
 * needs this: with no guest daemon connected, the host freezes and thaws
 * through the CLI's own connection while the create is pending.
 *
 *	HANDSHAKE --hello_ack--> WAITING --final reply--> DONE
 *	HANDSHAKE or WAITING --lost, refused or timed out--> DONE (failed)
 *
 * Whatever ends the call, nothing stays frozen: a lost connection or a
 * silent host thaws at once, a final reply that arrives while something is
 * still frozen thaws before it is returned, and SIGINT, SIGTERM or SIGHUP
 * thaw and then end the process by that signal.  While frozen, the call
 * writes nothing but to its socket (the log is held by the freeze engine),
 * so that output redirected to a frozen filesystem cannot block the thaw.
 */
#ifndef EVG_CALL_H
#define EVG_CALL_H

#include <stddef.h>

#include "evg.pb-c.h"
#include "transport.h"

struct disk;

struct call_config {
	const struct evg_addr	*addr;		/* where the host listens */
	const char		*software;	/* sent in Hello */
	int			 connect_ms;	/* connect, then handshake */
	int			 idle_ms;	/* longest silence while waiting */
	const char		*mountinfo;	/* NULL: /proc/self/mountinfo */
	/* Whole disks resolved already, for a freeze (serve_set_disks()). */
	const struct disk	*disks;
	size_t			 ndisks;
};

/*
 * Run the request (its id and version are set here).  Returns the final
 * reply (caller frees with codec_free()) with *code its status, and *cause
 * set when that is not OK; or NULL with *code CLIENT_UNREACHABLE (no
 * connection or no handshake), a refusal's status, EVG_UNAVAILABLE (lost
 * after the request went out) or EVG_TIMEOUT (idle_ms of silence), and
 * *cause.  *cause is the caller's to free.
 */
Evg__Envelope	*call_run(const struct call_config *, Evg__Envelope *, int *,
		    char **);

#endif
