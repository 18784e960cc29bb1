/*
 * The replies that carry snapshots (or a failure), shared by the control
 * channel and the guest channel: the outcome of a workflow, the notice
 * that a request waits for its turn, and the answer to a snapshot list
 * request, paged (see page.h) when the client asks for pages.  Nothing is taken over: the caller still owns snaps.
 */
#ifndef EVG_SNAPREPLY_H
#define EVG_SNAPREPLY_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"

struct peer;

/* How a snapshot list request asks to be paged (both channels). */
struct snapreply_paging {
	const char	*after;		/* UUID of the last one had, or "" */
	uint32_t	 limit;		/* at most this many; 0: no limit */
	int		 paged;		/* the client follows next */
};

/*
 * Tell the requester of id that its request waits for its turn (the
 * per-VM queue, wf_queue.c): an Event of kind "queued" carrying the
 * request's id, before the final reply.  Clients that do not know it
 * skip it, as any event.
 */
void	snapreply_waiting(struct peer *, uint64_t, const char *,
	    const char *);
/* Reply to request id: the snapshots on EVG_OK, else code and message. */
void	snapreply_send(struct peer *, uint64_t, int, const char *,
	    Evg__Snapshot **, size_t);
/*
 * Answer a snapshot list request id for the VM with this UUID: one page,
 * or the whole list for a client that does not page.  Returns the status
 * sent, with *cause (the caller's to free) when it is not OK.
 */
int	snapreply_list(struct peer *, uint64_t, const char *,
	    const struct snapreply_paging *, char **);

#endif
