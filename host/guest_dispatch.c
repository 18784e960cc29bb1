/* Guest-channel requests: one handler per body case, one table. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "guest_dispatch.h"
#include "log.h"
#include "peer.h"
#include "snapreply.h"
#include "status.h"
#include "vminfo.h"
#include "workflow.h"
#include "xmalloc.h"

/* guest_status: the VM as the host knows it. */
static void
guest_status(struct session *s, Evg__Envelope *env)
{
	struct codec_reply	 r;
	Evg__VmInfo		*vm;

	vm = vminfo_from_reg(s->vm, VMINFO_GUEST);
	vm->agent_connected = s->sv->ndaemons > 0;
	vm->connections = s->sv->nsessions;
	codec_reply_init(&r, env->id, peer_version(s->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = vm;
	if (peer_send(s->peer, &r.env) != 0)
		peer_reply(s->peer, env->id, EVG_INTERNAL, "the VM's "
		    "description does not fit in one guest-channel frame");
	vminfo_free(vm);
}

/* A workflow finished: answer the guest if it is still connected. */
static void
guest_done(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	struct session_op	*op = arg;

	if (op->s != NULL)
		snapreply_send(op->s->peer, op->id, code, msg, snaps, n);
	session_op_done(op);
}

/* A check finished: answer with its result. */
static void
guest_checked(int code, const char *msg, const Evg__CheckResult *cr,
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

/* snapshot list: this VM's snapshots (a page of them), at once. */
static void
guest_list(struct session *s, Evg__Envelope *env)
{
	const Evg__GuestSnapshotListRequest	*req = env->guest_snapshot_list;
	struct snapreply_paging			 pg = {
		.after = req->after,
		.limit = req->limit,
		.paged = req->paged,
	};
	char					*cause;

	snapreply_list(s->peer, env->id, s->vm->uuid, &pg, &cause);
	free(cause);
}

/* Start the workflow a snapshot request asks for. */
static void
guest_snapshot_op(struct session *s, Evg__Envelope *env)
{
	struct workflow_params	 p;
	struct session_op	*op;
	char			*cause = NULL, **vols = NULL;
	size_t			 nvols = 0, i;
	int			 rc;

	memset(&p, 0, sizeof p);
	p.vm = s->vm->uuid;
	p.requester = s->serial;
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
		rc = workflow_create(&p, guest_done, op, &cause);
		break;
	case EVG__ENVELOPE__BODY_SNAPSHOT_DELETE:
		p.snapshot = env->snapshot_delete->snapshot;
		p.member = env->snapshot_delete->member;
		rc = workflow_delete(&p, guest_done, op, &cause);
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK:
		p.snapshot = env->guest_snapshot_rollback->snapshot;
		p.online = env->guest_snapshot_rollback->online ? 1 : 0;
		/* No disks: the whole group; disks: only those members. */
		rc = env->guest_snapshot_rollback->n_disks == 0 ? EVG_OK :
		    workflow_match_disks(p.vm,
		    env->guest_snapshot_rollback->disks,
		    env->guest_snapshot_rollback->n_disks, &vols, &nvols,
		    &cause);
		if (rc == EVG_OK) {
			p.volumes = (const char *const *)vols;
			p.nvolumes = nvols;
			rc = workflow_rollback(&p, guest_done, op, &cause);
		}
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK:
		p.disks = env->guest_snapshot_check->disks;
		p.ndisks = env->guest_snapshot_check->n_disks;
		rc = workflow_check(&p, guest_checked, op, &cause);
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
	} else if (cause != NULL)
		snapreply_waiting(s->peer, env->id, p.vm, cause);
	free(cause);
}

/* A session went away with op waiting: its workflow goes on unanswered. */
static void
guest_op_gone(struct session_op *op)
{
	workflow_forget_owner(op);
}

/* The guest channel's requests (all need the VM still registered). */
static const struct session_route guest_routes[] = {
	{ EVG__ENVELOPE__BODY_GUEST_STATUS, guest_status, 1 },
	{ EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE, guest_snapshot_op, 1 },
	{ EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST, guest_list, 1 },
	{ EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK, guest_snapshot_op, 1 },
	{ EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK, guest_snapshot_op, 1 },
	{ EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, guest_snapshot_op, 1 },
};

const struct session_dispatch guest_dispatch = {
	guest_routes,
	sizeof guest_routes / sizeof guest_routes[0],
	guest_op_gone,
	workflow_guest_gone,
};
