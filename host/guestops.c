/* Guest-channel snapshot requests: create, list, delete, rollback, check. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "guestops.h"
#include "log.h"
#include "peer.h"
#include "session.h"
#include "snapreply.h"
#include "status.h"
#include "workflow.h"
#include "xmalloc.h"

/* A workflow finished: answer the guest if it is still connected. */
static void
guestops_done(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	struct session_op	*op = arg;

	if (op->s != NULL)
		snapreply_send(op->s->peer, op->id, code, msg, snaps, n);
	session_op_done(op);
}

/* A check finished: answer with its result. */
static void
guestops_checked(int code, const char *msg, const Evg__CheckResult *cr,
    void *arg)
{
	struct session_op	*op = arg;
	struct codec_reply	 r;

	if (op->s != NULL) {
		if (code != EVG_OK)
			peer_reply(op->s->peer, op->id, (unsigned)code, msg);
		else {
			codec_reply_init(&r, op->id, peer_version(op->s->peer),
			    EVG_OK, "");
			r.reply.result_case = EVG__REPLY__RESULT_CHECK;
			r.reply.check = (Evg__CheckResult *)cr;
			peer_send(op->s->peer, &r.env);
		}
	}
	session_op_done(op);
}

/* snapshot list: this VM's snapshots, at once. */
static void
guestops_list(struct session *s, Evg__Envelope *env)
{
	Evg__Snapshot	**snaps = NULL;
	size_t		  n = 0;
	char		 *cause = NULL;
	int		  rc;

	rc = workflow_list(s->rt->vm->uuid, &snaps, &n, &cause);
	snapreply_send(s->peer, env->id, rc, cause, snaps, n);
	free(cause);
	snapinfo_free_list(snaps, n);
}

/* Start the workflow a request asks for. */
void
guestops_dispatch(struct session *s, Evg__Envelope *env)
{
	struct workflow_params	 p;
	struct session_op	*op;
	char			*cause = NULL, **vols = NULL;
	size_t			 nvols = 0, i;
	int			 rc;

	if (s->rt == NULL) {
		peer_reply(s->peer, env->id, EVG_UNAVAILABLE,
		    "the VM was removed from the host");
		return;
	}
	if (env->body_case == EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST) {
		guestops_list(s, env);
		return;
	}
	memset(&p, 0, sizeof p);
	p.vm = s->rt->vm->uuid;
	p.requester = s;
	op = session_op_start(s, env->id);
	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE:
		p.disks = env->guest_snapshot_create->disks;
		p.ndisks = env->guest_snapshot_create->n_disks;
		p.name = env->guest_snapshot_create->name;
		p.origin = "guest";
		if (p.ndisks == 0) {
			rc = EVG_INVALID_ARGUMENT;
			cause = xstrdup("disk: no disk given");
			break;
		}
		rc = workflow_create(&p, guestops_done, op, &cause);
		break;
	case EVG__ENVELOPE__BODY_SNAPSHOT_DELETE:
		p.snapshot = env->snapshot_delete->snapshot;
		rc = workflow_delete(&p, guestops_done, op, &cause);
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK:
		p.snapshot = env->guest_snapshot_rollback->snapshot;
		rc = workflow_match_disks(p.vm,
		    env->guest_snapshot_rollback->disks,
		    env->guest_snapshot_rollback->n_disks, &vols, &nvols,
		    &cause);
		if (rc == EVG_OK && nvols != 1) {
			rc = EVG_INVALID_ARGUMENT;
			xasprintf(&cause, "disk: a rollback works on one "
			    "volume; the disk spans %zu", nvols);
		}
		if (rc == EVG_OK) {
			p.volume = vols[0];
			rc = workflow_rollback(&p, guestops_done, op, &cause);
		}
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK:
		p.disks = env->guest_snapshot_check->disks;
		p.ndisks = env->guest_snapshot_check->n_disks;
		rc = workflow_check(&p, guestops_checked, op, &cause);
		break;
	default:
		rc = EVG_UNSUPPORTED;
		cause = xstrdup("not a guest snapshot request");
		break;
	}
	for (i = 0; i < nvols; i++)
		free(vols[i]);
	free(vols);
	if (rc != EVG_OK) {
		log_info("%s: %s: %s: %s", peer_name(s->peer),
		    codec_body_name(env), status_name((unsigned)rc), cause);
		peer_reply(s->peer, env->id, (unsigned)rc, cause);
		session_op_done(op);
	}
	free(cause);
}
