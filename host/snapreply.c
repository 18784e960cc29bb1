/* Replies carrying snapshot lists; see snapreply.h. */
#include <stdlib.h>

#include "codec.h"
#include "page.h"
#include "peer.h"
#include "snapreply.h"
#include "status.h"
#include "uuid.h"
#include "workflow.h"
#include "xmalloc.h"

/*
 * Most snapshots converted for one page: a Snapshot packs to more than 16
 * bytes, so no page of a frame of F bytes holds F / 16 of them.
 */
#define SNAPREPLY_MIN_BYTES	16

/* Send all n snapshots in one reply: 0, or -1 when it does not fit. */
static int
snapreply_whole(struct peer *p, uint64_t id, Evg__Snapshot **snaps,
    size_t n)
{
	struct codec_reply	r;
	Evg__SnapshotList	list = EVG__SNAPSHOT_LIST__INIT;

	list.snapshots = snaps;
	list.n_snapshots = n;
	codec_reply_init(&r, id, peer_version(p), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	return (peer_send(p, &r.env));
}

/* Send a snapshot list, or the failure; see snapreply.h. */
void
snapreply_send(struct peer *p, uint64_t id, int code, const char *msg,
    Evg__Snapshot **snaps, size_t n)
{
	if (code != EVG_OK)
		peer_reply(p, id, (unsigned)code, msg != NULL ? msg :
		    status_description((unsigned)code));
	else if (snapreply_whole(p, id, snaps, n) != 0)
		peer_reply(p, id, EVG_INTERNAL, "the snapshot list does not fit "
		    "in one frame");
}

/* One page: as many of the n snapshots as fit, next when more follow. */
static int
snapreply_page(struct peer *p, uint64_t id, Evg__Snapshot **snaps,
    size_t n, int more, char **cause)
{
	struct codec_reply	r;
	Evg__SnapshotList	list = EVG__SNAPSHOT_LIST__INIT;
	struct page		pg;

	codec_reply_init(&r, id, peer_version(p), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	page_init(&pg, evg__envelope__get_packed_size(&r.env) + UUID_STR_LEN +
	    8, peer_frame_max(p));
	while (pg.n < n && page_take(&pg, evg__snapshot__get_packed_size(
	    snaps[pg.n])))
		;
	list.snapshots = snaps;
	list.n_snapshots = pg.n;
	if (pg.n > 0 && (pg.n < n || more))
		list.next = snaps[pg.n - 1]->uuid;
	if (peer_send(p, &r.env) != 0) {
		xasprintf(cause, "one snapshot's record does not fit in a "
		    "reply of at most %zu bytes", peer_frame_max(p));
		peer_reply(p, id, EVG_INTERNAL, *cause);
		return (EVG_INTERNAL);
	}
	return (EVG_OK);
}

/* A snapshot list request; see snapreply.h. */
int
snapreply_list(struct peer *p, uint64_t id, const char *vm,
    const struct snapreply_paging *pg, char **cause)
{
	Evg__Snapshot	**snaps = NULL;
	size_t		  n = 0, max = 0;
	int		  rc, more = 0;

	*cause = NULL;
	if (pg->paged) {
		max = peer_frame_max(p) / SNAPREPLY_MIN_BYTES;
		if (pg->limit != 0 && pg->limit < max)
			max = pg->limit;
	}
	rc = workflow_list(vm, pg->paged ? pg->after : NULL, max, &snaps, &n,
	    &more, cause);
	if (rc != EVG_OK)
		peer_reply(p, id, (unsigned)rc, *cause);
	else if (pg->paged)
		rc = snapreply_page(p, id, snaps, n, more, cause);
	else if (snapreply_whole(p, id, snaps, n) != 0) {
		xasprintf(cause, "the VM's %zu snapshots do not fit in one "
		    "reply of at most %zu bytes; a client that pages (such as "
		    "this host's release, %s) lists them all", n,
		    peer_frame_max(p), EVG_VERSION);
		peer_reply(p, id, EVG_INTERNAL, *cause);
		rc = EVG_INTERNAL;
	}
	snapinfo_free_list(snaps, n);
	return (rc);
}
