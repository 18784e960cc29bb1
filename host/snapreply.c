/* Replies carrying snapshot lists; see snapreply.h. */
#include <stdlib.h>
#include <time.h>

#include "codec.h"
#include "page.h"
#include "peer.h"
#include "snapreply.h"
#include "status.h"
#include "uuid.h"
#include "workflow.h"
#include "xmalloc.h"

/* Snapshots converted at a time while a page fills. */
#define SNAPREPLY_CHUNK		64

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

/* The waiting notice of request id for the VM; see snapreply.h. */
void
snapreply_waiting(struct peer *p, uint64_t id, const char *vm,
    const char *msg)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Event	ev = EVG__EVENT__INIT;

	ev.time = (uint64_t)time(NULL);
	ev.kind = (char *)"queued";
	ev.vm_uuid = (char *)(vm != NULL ? vm : "");
	ev.message = (char *)msg;
	env.id = id;
	env.version = peer_version(p);
	env.body_case = EVG__ENVELOPE__BODY_EVENT;
	env.event = &ev;
	(void)peer_send(p, &env);
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

/*
 * One page of the VM's snapshots after after, as many as fit (at most
 * limit): converted SNAPREPLY_CHUNK at a time, so that a page of a few
 * hundred does not convert thousands.
 */
static int
snapreply_page(struct peer *p, uint64_t id, const char *vm,
    const struct snapreply_paging *pg, char **cause)
{
	struct codec_reply	r;
	Evg__SnapshotList	list = EVG__SNAPSHOT_LIST__INIT;
	Evg__Snapshot		**all = NULL, **chunk;
	struct page		page;
	const char		*after = pg->after;
	size_t			n = 0, total = 0, nchunk, i, max;
	int			rc, more = 1, full = 0;

	codec_reply_init(&r, id, peer_version(p), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	page_init(&page, evg__envelope__get_packed_size(&r.env) + UUID_STR_LEN +
	    8, peer_frame_max(p));
	while (more && !full && (pg->limit == 0 || n < pg->limit)) {
		max = SNAPREPLY_CHUNK;
		if (pg->limit != 0 && pg->limit - n < max)
			max = pg->limit - n;
		rc = workflow_list(vm, after, max, &chunk, &nchunk, &more,
		    cause);
		if (rc != EVG_OK) {
			snapinfo_free_list(all, total);
			peer_reply(p, id, (unsigned)rc, *cause);
			return (rc);
		}
		/* Converted ones beyond the page are kept until freed. */
		all = xreallocarray(all, total + nchunk + 1, sizeof *all);
		for (i = 0; i < nchunk; i++) {
			all[total++] = chunk[i];
			if (!full && page_take(&page,
			    evg__snapshot__get_packed_size(chunk[i])))
				n++;
			else
				full = 1;
		}
		free(chunk);
		if (n > 0)
			after = all[n - 1]->uuid;
	}
	list.snapshots = all;
	list.n_snapshots = n;
	if (n > 0 && (full || more))
		list.next = all[n - 1]->uuid;
	rc = EVG_OK;
	if (peer_send(p, &r.env) != 0) {
		xasprintf(cause, "one snapshot's record does not fit in a "
		    "reply of at most %zu bytes", peer_frame_max(p));
		peer_reply(p, id, EVG_INTERNAL, *cause);
		rc = EVG_INTERNAL;
	}
	snapinfo_free_list(all, total);
	return (rc);
}

/* A snapshot list request; see snapreply.h. */
int
snapreply_list(struct peer *p, uint64_t id, const char *vm,
    const struct snapreply_paging *pg, char **cause)
{
	Evg__Snapshot	**snaps = NULL;
	size_t		  n = 0;
	int		  rc, more = 0;

	*cause = NULL;
	if (pg->paged)
		return (snapreply_page(p, id, vm, pg, cause));
	if ((rc = workflow_list(vm, NULL, 0, &snaps, &n, &more, cause)) !=
	    EVG_OK)
		peer_reply(p, id, (unsigned)rc, *cause);
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
