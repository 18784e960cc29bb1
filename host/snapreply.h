/*
 * The reply that carries snapshots (or a failure), shared by the control
 * channel and the guest channel.  Nothing is taken over: the caller still
 * owns snaps.
 */
#ifndef EVG_SNAPREPLY_H
#define EVG_SNAPREPLY_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"

struct peer;

/* Reply to request id: the snapshots on EVG_OK, else code and message. */
void	snapreply_send(struct peer *, uint64_t, int, const char *,
	    Evg__Snapshot **, size_t);

#endif
