/*
 * The guest channel's requests (eve-guest-agent's commands): guest status
 * and the snapshot requests, started as workflows.  The VM is always the
 * session's own, fixed by the transport: a guest names disks and snapshot
 * UUIDs, and only its own VM's are ever found.  One table row per request
 * body (guest_dispatch.c); a new guest command is one handler and one row
 * there, plus its side in guest/.
 */
#ifndef EVG_GUEST_DISPATCH_H
#define EVG_GUEST_DISPATCH_H

#include "session.h"

/* The table handed to the guest sessions. */
extern const struct session_dispatch guest_dispatch;

#endif
