/*
 * Snapshot requests from a guest (eve-guest-agent's snapshot commands).
 * The VM is always the session's own, fixed by the transport: a guest names
 * disks and snapshot UUIDs, and only its own VM's are ever found.
 */
#ifndef EVG_GUESTOPS_H
#define EVG_GUESTOPS_H

#include "evg.pb-c.h"

struct session;

/* Handle one guest snapshot request (the session is READY). */
void	guestops_dispatch(struct session *, Evg__Envelope *);

#endif
