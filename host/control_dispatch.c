/* Control-channel requests: one handler per body case, one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "control_dispatch.h"
#include "events.h"
#include "log.h"
#include "page.h"
#include "peer.h"
#include "server.h"
#include "snapreply.h"
#include "status.h"
#include "vminfo.h"
#include "workflow.h"
#include "xmalloc.h"

/* The server that owns c's set. */
static struct server *
control_server(struct control *c)
{
	return (c->set->owner);
}

/* The VM's guest counters into a VmInfo, when it is attached. */
static void
control_vm_counts(Evg__VmInfo *m, const struct reg_vm *vm)
{
	const struct session_vm	*sv;

	if ((sv = server_vm_guests(vm)) != NULL) {
		m->connections = sv->nsessions;
		m->agent_connected = sv->ndaemons > 0;
	}
}

/* Reply with one VM. */
static void
control_reply_vm(struct control *c, uint64_t id, const struct reg_vm *vm)
{
	struct codec_reply	 r;
	Evg__VmInfo		*m;

	m = vminfo_from_reg(vm, VMINFO_CONTROL);
	control_vm_counts(m, vm);
	codec_reply_init(&r, id, peer_version(c->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = m;
	if (peer_send(c->peer, &r.env) != 0)
		control_fail(c, id, EVG_INTERNAL, "the VM's record does not "
		    "fit in one control frame");
	vminfo_free(m);
}

/* vm_add: check, register, persist, open its hybrid socket. */
static void
control_vm_add(struct control *c, Evg__Envelope *env, struct reg_vm *none)
{
	struct server	*srv = control_server(c);
	struct reg_vm	*vm;
	char		*cause = NULL;
	int		 rc;

	(void)none;
	if (env->vm_add->vm == NULL) {
		control_fail(c, env->id, EVG_INVALID_ARGUMENT,
		    "vm: missing");
		return;
	}
	vm = vminfo_to_reg(env->vm_add->vm);
	if ((rc = registry_add(srv->reg, vm, &cause)) != EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		reg_vm_free(vm);
		return;
	}
	if (server_vm_attach(srv, vm, &cause) != 0) {
		control_fail(c, env->id, EVG_INTERNAL, cause);
		free(cause);
		if (registry_remove(srv->reg, vm, &cause) != EVG_OK) {
			log_warnx("%s: %s", __func__, cause);
			free(cause);
			return;
		}
		reg_vm_free(vm);
		return;
	}
	log_info("vm %s (%s) registered, cid %u", vm->uuid, vm->name,
	    vm->cid);
	workflow_vm_added(vm);
	control_reply_vm(c, env->id, vm);
}

/* vm_remove: close its connections and listener, forget it. */
static void
control_vm_remove(struct control *c, Evg__Envelope *env, struct reg_vm *vm)
{
	struct server	*srv = control_server(c);
	char		*cause;

	if (registry_remove(srv->reg, vm, &cause) != EVG_OK) {
		control_fail(c, env->id, EVG_INTERNAL, cause);
		free(cause);
		return;
	}
	server_vm_detach(srv, vm, "the VM was removed from the host");
	workflow_vm_removed(vm->uuid);
	log_info("vm %s (%s) removed", vm->uuid, vm->name);
	reg_vm_free(vm);
	peer_reply(c->peer, env->id, EVG_OK, "");
}

/*
 * vm_list: one page of VMs, those after the one the request names, as
 * many as fit in one frame (and at most its limit); next names the last
 * one when more follow.
 */
static void
control_vm_list(struct control *c, Evg__Envelope *env, struct reg_vm *none)
{
	struct server		*srv = control_server(c);
	const char		*after = env->vm_list->after;
	uint32_t		 limit = env->vm_list->limit;
	struct codec_reply	 r;
	Evg__VmList		 list = EVG__VM_LIST__INIT;
	struct reg_vm		*vm;
	char			*cause;
	struct page		 pg;
	size_t			 i = 0;

	(void)none;
	vm = TAILQ_FIRST(&srv->reg->vms);
	if (after != NULL && *after != '\0') {
		if ((vm = registry_find(srv->reg, after)) == NULL) {
			xasprintf(&cause, "after: VM %s is not registered (any "
			    "more); list again from the start", after);
			control_fail(c, env->id, EVG_NOT_FOUND, cause);
			free(cause);
			return;
		}
		vm = TAILQ_NEXT(vm, entry);
	}
	codec_reply_init(&r, env->id, peer_version(c->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM_LIST;
	r.reply.vm_list = &list;
	/* What the reply holds besides the VMs, and a UUID for next. */
	page_init(&pg, evg__envelope__get_packed_size(&r.env) + UUID_STR_LEN +
	    8, peer_frame_max(c->peer));
	list.vms = xcalloc(srv->reg->count + 1, sizeof *list.vms);
	for (; vm != NULL && (limit == 0 || i < limit); vm = TAILQ_NEXT(vm,
	    entry)) {
		list.vms[i] = vminfo_from_reg(vm, VMINFO_CONTROL);
		control_vm_counts(list.vms[i], vm);
		if (!page_take(&pg, evg__vm_info__get_packed_size(
		    list.vms[i]))) {
			vminfo_free(list.vms[i]);
			break;
		}
		i++;
	}
	list.n_vms = i;
	if (vm != NULL && i > 0)
		list.next = list.vms[i - 1]->uuid;
	if (peer_send(c->peer, &r.env) != 0) {
		xasprintf(&cause, "one VM's record does not fit in a reply of "
		    "at most %zu bytes (max_frame_control)",
		    peer_frame_max(c->peer));
		control_fail(c, env->id, EVG_INTERNAL, cause);
		free(cause);
	}
	for (i = 0; i < list.n_vms; i++)
		vminfo_free(list.vms[i]);
	free(list.vms);
}

/* Record a run state, then reply with the VM (or the failure). */
static void
control_set_state(struct control *c, uint64_t id, struct reg_vm *vm,
    enum vm_state state)
{
	struct server	*srv = control_server(c);
	char		*cause;
	int		 rc;

	if ((rc = registry_set_state(srv->reg, vm, state, &cause)) !=
	    EVG_OK) {
		control_fail(c, id, rc, cause);
		free(cause);
		return;
	}
	log_info("vm %s (%s) is now %s", vm->uuid, vm->name,
	    vm_state_name(state));
	control_reply_vm(c, id, vm);
	workflow_vm_state(vm);
}

/* The images are free for QEMU (or the scheduled rollback failed). */
static void
control_started(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	struct control_pending	*p = arg;
	struct control		*c = p->c;
	struct reg_vm		*vm;
	uint64_t		 id = p->id;
	char			 uuid[UUID_STR_LEN + 1];

	(void)snaps;
	(void)n;
	memcpy(uuid, p->vm, sizeof uuid);
	control_pending_done(p);
	if (peer_closing(c->peer))
		return;
	if (code != EVG_OK)
		control_fail(c, id, code, msg);
	else if ((vm = registry_find(control_server(c)->reg, uuid)) == NULL)
		control_fail(c, id, EVG_NOT_FOUND, "the VM was removed");
	else
		control_set_state(c, id, vm, VM_STARTING);
}

/*
 * vm_state: record stopped/starting/running.  `starting` is the barrier
 * before QEMU opens the images: it answers once the scheduled rollback is
 * applied and no offline operation holds them.  `running` is refused while
 * one still does.
 */
static void
control_vm_state(struct control *c, Evg__Envelope *env, struct reg_vm *vm)
{
	struct server		*srv = control_server(c);
	struct control_pending	*p;
	enum vm_state		 state;
	char			*cause, msg[96];
	int			 rc, waiting;

	if (vm_state_parse(env->vm_state->state, &state) != 0) {
		snprintf(msg, sizeof msg, "state: '%.40s' is not stopped, "
		    "starting or running", env->vm_state->state);
		control_fail(c, env->id, EVG_INVALID_ARGUMENT, msg);
		return;
	}
	if (state == VM_RUNNING && (rc = workflow_vm_idle(vm, 1, &cause)) !=
	    EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	if (state != VM_STARTING || vm->state == VM_STARTING) {
		control_set_state(c, env->id, vm, state);
		return;
	}
	/* QEMU is not running now, whatever was said before. */
	if (vm->state != VM_STOPPED && (rc = registry_set_state(srv->reg, vm,
	    VM_STOPPED, &cause)) != EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	p = control_pending_start(c, env->id, env->body_case);
	snprintf(p->vm, sizeof p->vm, "%s", vm->uuid);
	rc = workflow_vm_starting(vm, control_started, p, &waiting, &cause);
	if (rc != EVG_OK) {
		control_pending_done(p);
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	if (!waiting) {
		control_pending_done(p);
		control_set_state(c, env->id, vm, VM_STARTING);
	}
}

/* True if a and b are both NULL or equal strings. */
static int
control_same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

/*
 * vm_update: change the record in place, keeping its catalog (volumes
 * are matched by UUID; one left out keeps its entries for its return).
 * A new CID or hybrid socket closes the old guest connections and opens
 * the new listener; if that fails, the old record comes back.
 */
static void
control_vm_update(struct control *c, Evg__Envelope *env, struct reg_vm *vm)
{
	struct server	*srv = control_server(c);
	struct reg_vm	*next, *old;
	char		*cause = NULL, *why;
	int		 rc, moved;

	if (env->vm_update->vm == NULL) {
		control_fail(c, env->id, EVG_INVALID_ARGUMENT, "vm: missing");
		return;
	}
	if ((rc = workflow_vm_idle(vm, 0, &cause)) != EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	next = reg_vm_dup(vm);
	if ((rc = vminfo_apply(next, env->vm_update->vm,
	    env->vm_update->fields, env->vm_update->n_fields, &cause)) !=
	    EVG_OK) {
		reg_vm_free(next);
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	moved = next->cid != vm->cid || !control_same(next->hybrid,
	    vm->hybrid);
	old = reg_vm_dup(vm);
	if ((rc = registry_update(srv->reg, vm, next, &cause)) != EVG_OK) {
		reg_vm_free(next);
		reg_vm_free(old);
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	if (moved) {
		server_vm_detach(srv, vm, "the VM's CID or hybrid socket "
		    "changed");
		if (server_vm_attach(srv, vm, &cause) != 0) {
			if (registry_update(srv->reg, vm, old, &why) != EVG_OK) {
				log_warnx("vm %s: %s", vm->uuid, why);
				free(why);
				reg_vm_free(old);
			}
			if (server_vm_attach(srv, vm, &why) != 0) {
				log_warnx("vm %s: %s", vm->uuid, why);
				free(why);
			}
			control_fail(c, env->id, EVG_INTERNAL, cause);
			free(cause);
			return;
		}
	}
	reg_vm_free(old);
	log_info("vm %s (%s) updated, cid %u", vm->uuid, vm->name, vm->cid);
	workflow_vm_added(vm);
	control_reply_vm(c, env->id, vm);
}

/* A connection went away: forget its pending replies' callbacks. */
static void
control_pending_gone(struct control_pending *p)
{
	struct server	*srv = control_server(p->c);

	workflow_forget_owner(p);
	if (p->guest != 0)
		srv->guests.link.forget(srv->guests.link.ctx, p->guest, p);
}

/* Reply with a list of snapshots (or a failure, logged). */
static void
control_reply_snaps(struct control *c, uint64_t id, int code,
    const char *msg, Evg__Snapshot **snaps, size_t n)
{
	if (code != EVG_OK)
		log_info("%s: request %llu: %s: %s", peer_name(c->peer),
		    (unsigned long long)id, status_name((unsigned)code),
		    msg != NULL ? msg : "");
	snapreply_send(c->peer, id, code, msg, snaps, n);
}

/* A workflow finished: answer its request. */
static void
control_snap_done(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	struct control_pending	*p = arg;
	struct control		*c = p->c;

	if (!peer_closing(c->peer))
		control_reply_snaps(c, p->id, code, msg, snaps, n);
	control_pending_done(p);
}

/* snapshot_create/delete/rollback: start a workflow. */
static void
control_snapshot_op(struct control *c, Evg__Envelope *env, struct reg_vm *none)
{
	struct workflow_params	 wp;
	struct control_pending	*p;
	char			*cause = NULL;
	int			 rc;

	(void)none;
	memset(&wp, 0, sizeof wp);
	p = control_pending_start(c, env->id, env->body_case);
	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_SNAPSHOT_CREATE:
		wp.vm = env->snapshot_create->vm_uuid;
		wp.volumes = (const char *const *)
		    env->snapshot_create->volume_uuids;
		wp.nvolumes = env->snapshot_create->n_volume_uuids;
		wp.name = env->snapshot_create->name;
		wp.consistency = env->snapshot_create->consistency;
		wp.origin = "controller";
		wp.idempotency_key = env->snapshot_create->idempotency_key;
		wp.hook_timeout_ms = env->snapshot_create->hook_timeout_ms;
		rc = workflow_create(&wp, control_snap_done, p, &cause);
		break;
	case EVG__ENVELOPE__BODY_SNAPSHOT_DELETE:
		wp.vm = env->snapshot_delete->vm_uuid;
		wp.snapshot = env->snapshot_delete->snapshot;
		wp.member = env->snapshot_delete->member;
		rc = workflow_delete(&wp, control_snap_done, p, &cause);
		break;
	default:
		wp.vm = env->snapshot_rollback->vm_uuid;
		wp.snapshot = env->snapshot_rollback->snapshot;
		wp.online = env->snapshot_rollback->online ? 2 : 0;
		wp.volume = env->snapshot_rollback->volume_uuid;
		wp.volumes = (const char *const *)
		    env->snapshot_rollback->volume_uuids;
		wp.nvolumes = env->snapshot_rollback->n_volume_uuids;
		rc = workflow_rollback(&wp, control_snap_done, p, &cause);
		break;
	}
	if (rc != EVG_OK) {
		control_pending_done(p);
		control_fail(c, env->id, rc, cause);
	} else if (cause != NULL)
		snapreply_waiting(c->peer, env->id, wp.vm, cause);
	free(cause);
}

/* events: the backlog, then (follow) every new event. */
static void
control_events(struct control *c, Evg__Envelope *env, struct reg_vm *none)
{
	struct codec_reply	 r;
	Evg__EventList		 list = EVG__EVENT_LIST__INIT;
	const Evg__Event	**backlog;
	size_t			 n;
	char			 msg[160];

	(void)none;
	events_backlog(&backlog, &n);
	list.events = (Evg__Event **)backlog;
	list.n_events = n;
	codec_reply_init(&r, env->id, peer_version(c->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_EVENT_LIST;
	r.reply.event_list = &list;
	/* Paged, never dropped: the newest events that fit in one frame. */
	while (list.n_events > 0 && evg__envelope__get_packed_size(&r.env) >
	    peer_frame_max(c->peer)) {
		list.events++;
		list.n_events--;
		snprintf(msg, sizeof msg, "only the newest %zu of %zu events "
		    "fit in one reply of at most %zu bytes (max_frame_control)",
		    list.n_events, n, peer_frame_max(c->peer));
		r.status.message = msg;
	}
	if (peer_send(c->peer, &r.env) != 0)
		control_fail(c, env->id, EVG_INTERNAL, "the event backlog "
		    "could not be sent");
	if (env->events->follow)
		control_follow(c);
}

/* guest info: ask the VM's guest daemon, relay its answer. */
static void
control_guest_info_done(const Evg__Envelope *rep, const char *why, void *arg)
{
	struct control_pending	*p = arg;
	struct control		*c = p->c;
	struct codec_reply	 r;
	const char		*msg;
	unsigned int		 code;

	code = codec_reply_code(rep, &msg);
	if (rep == NULL || rep->reply == NULL || rep->reply->status == NULL)
		control_fail(c, p->id, EVG_UNAVAILABLE, why != NULL ? why :
		    "no answer from the guest agent");
	else if (code != EVG_OK ||
	    rep->reply->result_case != EVG__REPLY__RESULT_GUEST_INFO)
		control_fail(c, p->id, code != EVG_OK ? (int)code :
		    EVG_INTERNAL, msg);
	else {
		codec_reply_init(&r, p->id, peer_version(c->peer), EVG_OK, "");
		r.reply.result_case = EVG__REPLY__RESULT_GUEST_INFO;
		r.reply.guest_info = rep->reply->guest_info;
		if (peer_send(c->peer, &r.env) != 0)
			control_fail(c, p->id, EVG_INTERNAL, "the guest's facts "
			    "do not fit in one control frame");
	}
	control_pending_done(p);
}

/* vm_guest_info: forward to the guest daemon of the VM. */
static void
control_guest_info(struct control *c, Evg__Envelope *env, struct reg_vm *vm)
{
	const struct guest_link	*link = &control_server(c)->guests.link;
	struct control_pending	*p;
	Evg__Envelope		 req = EVG__ENVELOPE__INIT;
	Evg__GuestInfoRequest	 gi = EVG__GUEST_INFO_REQUEST__INIT;
	uint64_t		 guest;
	int			 daemon;

	guest = link->freeze_channel(link->ctx, vm, 0, &daemon);
	req.body_case = EVG__ENVELOPE__BODY_GUEST_INFO;
	req.guest_info = &gi;
	p = control_pending_start(c, env->id, env->body_case);
	p->guest = guest;
	if (guest == 0 || link->request(link->ctx, guest, &req,
	    c->set->cf->guest_timeout * 1000, control_guest_info_done,
	    p) != 0) {
		control_pending_done(p);
		control_fail(c, env->id, EVG_UNAVAILABLE, "the guest agent "
		    "daemon of this VM is not connected");
	}
}

/* snapshot_list: answered from the catalog at once (a page of it). */
static void
control_snapshot_list(struct control *c, Evg__Envelope *env,
    struct reg_vm *none)
{
	const Evg__SnapshotListRequest	*req = env->snapshot_list;
	struct snapreply_paging		 pg = {
		.after = req->after,
		.limit = req->limit,
		.paged = req->paged,
	};
	char				*cause;

	(void)none;
	if (snapreply_list(c->peer, env->id, req->vm_uuid, &pg, &cause) !=
	    EVG_OK)
		log_info("%s: request %llu: %s", peer_name(c->peer),
		    (unsigned long long)env->id, cause);
	free(cause);
}

/* vm_show: one VM. */
static void
control_vm_show(struct control *c, Evg__Envelope *env, struct reg_vm *vm)
{
	control_reply_vm(c, env->id, vm);
}

/* The VM UUID each VM request names. */
static const char *
control_vm_of_remove(const Evg__Envelope *env)
{
	return (env->vm_remove->uuid);
}

static const char *
control_vm_of_show(const Evg__Envelope *env)
{
	return (env->vm_show->uuid);
}

static const char *
control_vm_of_state(const Evg__Envelope *env)
{
	return (env->vm_state->uuid);
}

static const char *
control_vm_of_update(const Evg__Envelope *env)
{
	return (env->vm_update->vm != NULL ? env->vm_update->vm->uuid : NULL);
}

static const char *
control_vm_of_guest_info(const Evg__Envelope *env)
{
	return (env->vm_guest_info->vm_uuid);
}

/*
 * The control channel's requests.  Snapshot requests name their VM too,
 * but the workflow checks it (its messages say "vm:", not "uuid:").
 */
static const struct control_route control_routes[] = {
	{ EVG__ENVELOPE__BODY_VM_ADD, NULL, control_vm_add },
	{ EVG__ENVELOPE__BODY_VM_REMOVE, control_vm_of_remove,
	    control_vm_remove },
	{ EVG__ENVELOPE__BODY_VM_LIST, NULL, control_vm_list },
	{ EVG__ENVELOPE__BODY_VM_SHOW, control_vm_of_show, control_vm_show },
	{ EVG__ENVELOPE__BODY_VM_STATE, control_vm_of_state,
	    control_vm_state },
	{ EVG__ENVELOPE__BODY_VM_UPDATE, control_vm_of_update,
	    control_vm_update },
	{ EVG__ENVELOPE__BODY_SNAPSHOT_CREATE, NULL, control_snapshot_op },
	{ EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, NULL, control_snapshot_op },
	{ EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK, NULL, control_snapshot_op },
	{ EVG__ENVELOPE__BODY_SNAPSHOT_LIST, NULL, control_snapshot_list },
	{ EVG__ENVELOPE__BODY_EVENTS, NULL, control_events },
	{ EVG__ENVELOPE__BODY_VM_GUEST_INFO, control_vm_of_guest_info,
	    control_guest_info },
};

const struct control_dispatch control_dispatch = {
	control_routes,
	sizeof control_routes / sizeof control_routes[0],
	control_pending_gone,
};
