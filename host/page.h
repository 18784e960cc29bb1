/*
 * One page of a list reply: as many items as fit in one frame.  A list
 * longer than a frame (thousands of VMs, thousands of snapshots) is sent a
 * page at a time; the client asks for the next page by the last item it
 * got (VmList.next, SnapshotList.next).  The first item of a page is
 * always taken, so a page is never empty; one item too large for a frame
 * fails when the reply is sent.
 */
#ifndef EVG_PAGE_H
#define EVG_PAGE_H

#include <stddef.h>

struct page {
	size_t	used;	/* bytes the reply takes so far */
	size_t	room;	/* the frame cap */
	size_t	n;	/* items taken */
};

/*
 * A page of a reply that packs to base bytes without items (plus the
 * space its next cursor needs) in a frame of room bytes.
 */
void	page_init(struct page *, size_t, size_t);
/* Take an item that packs to size bytes: 1 if it fits, 0 if full. */
int	page_take(struct page *, size_t);

#endif
