/* Replies carrying snapshot lists. */
#include "codec.h"
#include "peer.h"
#include "snapreply.h"
#include "status.h"

/* Send a snapshot list, or the failure; see snapreply.h. */
void
snapreply_send(struct peer *p, uint64_t id, int code, const char *msg,
    Evg__Snapshot **snaps, size_t n)
{
	struct codec_reply	r;
	Evg__SnapshotList	list = EVG__SNAPSHOT_LIST__INIT;

	if (code != EVG_OK) {
		peer_reply(p, id, (unsigned)code, msg != NULL ? msg :
		    status_description((unsigned)code));
		return;
	}
	list.snapshots = snaps;
	list.n_snapshots = n;
	codec_reply_init(&r, id, peer_version(p), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	if (peer_send(p, &r.env) != 0)
		peer_reply(p, id, EVG_INTERNAL, "the snapshot list does not fit "
		    "in one frame");
}
