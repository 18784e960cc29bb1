/*
 * Daemon mode of eve-guest-agent: keep one session with the host up
 * (connect, Hello handshake, reconnect with backoff) and serve the requests
 * the host sends over it.  Runs in the foreground until SIGTERM or SIGINT;
 * the caller sets up logging first.
 */
#ifndef EVG_DAEMON_H
#define EVG_DAEMON_H

#include "transport.h"

struct daemon_config {
	struct evg_addr	 addr;		/* where the host listens */
	const char	*hooks_dir;	/* absolute; borrowed, must outlive the run */
	const char	*software;	/* sent in Hello; borrowed */
};

/* Serve until told to stop; returns the process exit code. */
int	daemon_run(const struct daemon_config *);

#endif
