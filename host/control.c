/* Control-socket connections: handshake and registry requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "control.h"
#include "log.h"
#include "peer.h"
#include "status.h"
#include "vminfo.h"
#include "snapreply.h"
#include "workflow.h"
#include "events.h"
#include "session.h"
#include "xmalloc.h"

static void	control_dispatch(struct peer *, Evg__Envelope *, void *);
static void	control_timer_cb(evutil_socket_t, short, void *);

/* (Re)arm the timer: handshake limit, then idle limit (not following). */
static void
control_arm(struct control *c)
{
	struct timeval	tv = { 0, 0 };

	if (c->state == CONTROL_CLOSING || c->following) {
		evtimer_del(c->timer);
		return;
	}
	tv.tv_sec = c->state == CONTROL_HANDSHAKE ?
	    c->srv->cf->handshake_timeout : c->srv->cf->idle_timeout;
	evtimer_add(c->timer, &tv);
}

/* Start a control connection; see control.h. */
void
control_create(struct server *srv, int fd, uid_t uid)
{
	struct control	*c;
	char		 name[64];

	c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->uid = uid;
	c->state = CONTROL_HANDSHAKE;
	TAILQ_INIT(&c->pending);
	snprintf(name, sizeof name, "control (uid %ld)", (long)uid);
	c->peer = peer_create(srv->base, fd, name, srv->cf->max_frame_control,
	    srv->cf->max_output, control_dispatch, c);
	if ((c->timer = evtimer_new(srv->base, control_timer_cb, c)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	TAILQ_INSERT_TAIL(&srv->controls, c, entry);
	control_arm(c);
}

/* Transition to CLOSING. */
static void
control_close(struct control *c, const char *why)
{
	if (c->state == CONTROL_CLOSING)
		return;
	c->state = CONTROL_CLOSING;
	peer_set_close_reason(c->peer, "%s", why);
	control_arm(c);
	peer_close(c->peer);
}

/* Reply with a status and a formatted message; frees nothing. */
static void
control_fail(struct control *c, uint64_t id, int code, const char *msg)
{
	log_info("%s: request %llu: %s: %s", peer_name(c->peer),
	    (unsigned long long)id, status_name((unsigned)code), msg);
	peer_reply(c->peer, id, (unsigned)code, msg);
}

/* Reply with one VM. */
static void
control_reply_vm(struct control *c, uint64_t id, const struct reg_vm *vm)
{
	struct codec_reply	 r;
	Evg__VmInfo		*m;

	m = vminfo_from_reg(vm, VMINFO_CONTROL);
	if (vm->rt != NULL) {
		m->connections = vm->rt->nsessions;
		m->agent_connected = vm->rt->ndaemons > 0;
	}
	codec_reply_init(&r, id, peer_version(c->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = m;
	if (peer_send(c->peer, &r.env) != 0)
		control_fail(c, id, EVG_INTERNAL, "the VM's record does not "
		    "fit in one control frame");
	vminfo_free(m);
}

/* Find a VM named by a request, replying NOT_FOUND when absent. */
static struct reg_vm *
control_find(struct control *c, uint64_t id, const char *uuid)
{
	struct reg_vm	*vm;
	char		*msg;

	if (uuid == NULL || !uuid_valid(uuid)) {
		xasprintf(&msg, "uuid: '%s' is not a UUID",
		    uuid != NULL ? uuid : "");
		control_fail(c, id, EVG_INVALID_ARGUMENT, msg);
		free(msg);
		return (NULL);
	}
	if ((vm = registry_find(c->srv->reg, uuid)) == NULL) {
		xasprintf(&msg, "no VM %s is registered", uuid);
		control_fail(c, id, EVG_NOT_FOUND, msg);
		free(msg);
	}
	return (vm);
}

/* vm_add: check, register, persist, open its hybrid socket. */
static void
control_vm_add(struct control *c, Evg__Envelope *env)
{
	struct reg_vm	*vm;
	char		*cause = NULL;
	int		 rc;

	if (env->vm_add->vm == NULL) {
		control_fail(c, env->id, EVG_INVALID_ARGUMENT,
		    "vm: missing");
		return;
	}
	vm = vminfo_to_reg(env->vm_add->vm);
	if ((rc = registry_add(c->srv->reg, vm, &cause)) != EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		reg_vm_free(vm);
		return;
	}
	if (server_vm_attach(c->srv, vm, &cause) != 0) {
		control_fail(c, env->id, EVG_INTERNAL, cause);
		free(cause);
		if (registry_remove(c->srv->reg, vm, &cause) != EVG_OK) {
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
control_vm_remove(struct control *c, Evg__Envelope *env)
{
	struct reg_vm	*vm;
	char		*cause;

	if ((vm = control_find(c, env->id, env->vm_remove->uuid)) == NULL)
		return;
	if (registry_remove(c->srv->reg, vm, &cause) != EVG_OK) {
		control_fail(c, env->id, EVG_INTERNAL, cause);
		free(cause);
		return;
	}
	server_vm_detach(c->srv, vm);
	workflow_vm_removed(vm->uuid);
	log_info("vm %s (%s) removed", vm->uuid, vm->name);
	reg_vm_free(vm);
	peer_reply(c->peer, env->id, EVG_OK, "");
}

/* vm_list: every VM. */
static void
control_vm_list(struct control *c, Evg__Envelope *env)
{
	struct codec_reply	 r;
	Evg__VmList		 list = EVG__VM_LIST__INIT;
	struct reg_vm		*vm;
	size_t			 i = 0;

	list.vms = xcalloc(c->srv->reg->count, sizeof *list.vms);
	TAILQ_FOREACH(vm, &c->srv->reg->vms, entry) {
		list.vms[i] = vminfo_from_reg(vm, VMINFO_CONTROL);
		if (vm->rt != NULL) {
			list.vms[i]->connections = vm->rt->nsessions;
			list.vms[i]->agent_connected = vm->rt->ndaemons > 0;
		}
		i++;
	}
	list.n_vms = i;
	codec_reply_init(&r, env->id, peer_version(c->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM_LIST;
	r.reply.vm_list = &list;
	if (peer_send(c->peer, &r.env) != 0)
		control_fail(c, env->id, EVG_INTERNAL,
		    "the VM list does not fit in one frame");
	for (i = 0; i < list.n_vms; i++)
		vminfo_free(list.vms[i]);
	free(list.vms);
}

/* vm_state: record running/stopped. */
static void
control_vm_state(struct control *c, Evg__Envelope *env)
{
	struct reg_vm	*vm;
	enum vm_state	 state;
	char		*cause, msg[96];
	int		 rc;

	if ((vm = control_find(c, env->id, env->vm_state->uuid)) == NULL)
		return;
	if (vm_state_parse(env->vm_state->state, &state) != 0) {
		snprintf(msg, sizeof msg, "state: '%.40s' is not running or "
		    "stopped", env->vm_state->state);
		control_fail(c, env->id, EVG_INVALID_ARGUMENT, msg);
		return;
	}
	if ((rc = registry_set_state(c->srv->reg, vm, state, &cause)) !=
	    EVG_OK) {
		control_fail(c, env->id, rc, cause);
		free(cause);
		return;
	}
	log_info("vm %s (%s) is now %s", vm->uuid, vm->name,
	    vm_state_name(state));
	control_reply_vm(c, env->id, vm);
	workflow_vm_state(vm);
}

/* The requester is gone: its operations go on, their replies do not. */
static void
control_drop_pending(struct control *c)
{
	struct control_pending	*p;

	struct session		*s;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		TAILQ_REMOVE(&c->pending, p, entry);
		workflow_forget_owner(p);
		TAILQ_FOREACH(s, &c->srv->sessions, entry)
			session_forget(s, p);
		free(p);
	}
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

	TAILQ_REMOVE(&c->pending, p, entry);
	if (!peer_closing(c->peer))
		control_reply_snaps(c, p->id, code, msg, snaps, n);
	free(p);
}

/* snapshot_create/delete/rollback: start a workflow. */
static void
control_snapshot_op(struct control *c, Evg__Envelope *env)
{
	struct workflow_params	 wp;
	struct control_pending	*p;
	char			*cause = NULL;
	int			 rc;

	memset(&wp, 0, sizeof wp);
	p = xcalloc(1, sizeof *p);
	p->c = c;
	p->id = env->id;
	p->kind = env->body_case;
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
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
		rc = workflow_delete(&wp, control_snap_done, p, &cause);
		break;
	default:
		wp.vm = env->snapshot_rollback->vm_uuid;
		wp.snapshot = env->snapshot_rollback->snapshot;
		wp.volume = env->snapshot_rollback->volume_uuid;
		rc = workflow_rollback(&wp, control_snap_done, p, &cause);
		break;
	}
	if (rc != EVG_OK) {
		TAILQ_REMOVE(&c->pending, p, entry);
		free(p);
		control_fail(c, env->id, rc, cause);
		free(cause);
	}
}

/* An event for a following client. */
static void
control_event_sink(const Evg__Event *e, void *arg)
{
	struct control	*c = arg;
	Evg__Envelope	 env = EVG__ENVELOPE__INIT;

	if (peer_closing(c->peer))
		return;
	env.body_case = EVG__ENVELOPE__BODY_EVENT;
	env.event = (Evg__Event *)e;
	peer_send(c->peer, &env);
}

/* events: the backlog, then (follow) every new event. */
static void
control_events(struct control *c, Evg__Envelope *env)
{
	struct codec_reply	 r;
	Evg__EventList		 list = EVG__EVENT_LIST__INIT;
	const Evg__Event	**backlog;
	size_t			 n;
	char			 msg[160];

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
	if (env->events->follow && !c->following) {
		c->following = 1;
		control_arm(c);
		events_subscribe(control_event_sink, c);
	}
}

/* guest info: ask the VM's guest daemon, relay its answer. */
static void
control_guest_info_done(struct session *s, const Evg__Envelope *rep,
    const char *why, void *arg)
{
	struct control_pending	*p = arg;
	struct control		*c = p->c;
	struct codec_reply	 r;

	(void)s;
	TAILQ_REMOVE(&c->pending, p, entry);
	if (rep == NULL || rep->reply == NULL || rep->reply->status == NULL)
		control_fail(c, p->id, EVG_UNAVAILABLE, why != NULL ? why :
		    "no answer from the guest agent");
	else if (rep->reply->status->code != EVG_OK ||
	    rep->reply->result_case != EVG__REPLY__RESULT_GUEST_INFO)
		control_fail(c, p->id, rep->reply->status->code != EVG_OK ?
		    (int)rep->reply->status->code : EVG_INTERNAL,
		    rep->reply->status->message);
	else {
		codec_reply_init(&r, p->id, peer_version(c->peer), EVG_OK, "");
		r.reply.result_case = EVG__REPLY__RESULT_GUEST_INFO;
		r.reply.guest_info = rep->reply->guest_info;
		if (peer_send(c->peer, &r.env) != 0)
			control_fail(c, p->id, EVG_INTERNAL, "the guest's facts "
			    "do not fit in one control frame");
	}
	free(p);
}

/* vm_guest_info: forward to the guest daemon of the VM. */
static void
control_guest_info(struct control *c, Evg__Envelope *env)
{
	struct reg_vm		*vm;
	struct session		*s;
	struct control_pending	*p;
	Evg__Envelope		 req = EVG__ENVELOPE__INIT;
	Evg__GuestInfoRequest	 gi = EVG__GUEST_INFO_REQUEST__INIT;

	if ((vm = control_find(c, env->id, env->vm_guest_info->vm_uuid)) ==
	    NULL)
		return;
	s = vm->rt != NULL ? session_freeze_channel(c->srv, vm->rt, NULL) :
	    NULL;
	if (s == NULL) {
		control_fail(c, env->id, EVG_UNAVAILABLE, "the guest agent "
		    "daemon of this VM is not connected");
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->c = c;
	p->id = env->id;
	p->kind = env->body_case;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_INFO;
	req.guest_info = &gi;
	if (session_request(s, &req, c->srv->cf->guest_timeout * 1000,
	    control_guest_info_done, p) != 0) {
		free(p);
		control_fail(c, env->id, EVG_UNAVAILABLE, "the guest agent "
		    "daemon of this VM is not connected");
		return;
	}
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
}

/* snapshot_list: answered from the catalog at once. */
static void
control_snapshot_list(struct control *c, Evg__Envelope *env)
{
	Evg__Snapshot	**snaps = NULL;
	size_t		  n = 0;
	char		 *cause = NULL;
	int		  rc;

	rc = workflow_list(env->snapshot_list->vm_uuid, &snaps, &n, &cause);
	control_reply_snaps(c, env->id, rc, cause, snaps, n);
	free(cause);
	snapinfo_free_list(snaps, n);
}

/* Handle one request in READY. */
static void
control_on_request(struct control *c, Evg__Envelope *env)
{
	struct reg_vm	*vm;
	char		 msg[128];

	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_VM_ADD:
		control_vm_add(c, env);
		break;
	case EVG__ENVELOPE__BODY_VM_REMOVE:
		control_vm_remove(c, env);
		break;
	case EVG__ENVELOPE__BODY_VM_LIST:
		control_vm_list(c, env);
		break;
	case EVG__ENVELOPE__BODY_VM_SHOW:
		if ((vm = control_find(c, env->id, env->vm_show->uuid)) != NULL)
			control_reply_vm(c, env->id, vm);
		break;
	case EVG__ENVELOPE__BODY_VM_STATE:
		control_vm_state(c, env);
		break;
	case EVG__ENVELOPE__BODY_SNAPSHOT_CREATE:
	case EVG__ENVELOPE__BODY_SNAPSHOT_DELETE:
	case EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK:
		control_snapshot_op(c, env);
		break;
	case EVG__ENVELOPE__BODY_SNAPSHOT_LIST:
		control_snapshot_list(c, env);
		break;
	case EVG__ENVELOPE__BODY_EVENTS:
		control_events(c, env);
		break;
	case EVG__ENVELOPE__BODY_VM_GUEST_INFO:
		control_guest_info(c, env);
		break;
	case EVG__ENVELOPE__BODY_PING:
		peer_reply(c->peer, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_REPLY:
		break;
	case EVG__ENVELOPE__BODY_HELLO:
		peer_reply(c->peer, env->id, EVG_FAILED_PRECONDITION,
		    "hello was already done on this connection");
		break;
	case EVG__ENVELOPE__BODY__NOT_SET:
		peer_reply(c->peer, env->id, EVG_UNSUPPORTED, "unknown request "
		    "(sent by a newer client?)");
		break;
	default:
		snprintf(msg, sizeof msg, "request '%s' is not available on "
		    "the control channel", codec_body_name(env));
		peer_reply(c->peer, env->id, EVG_UNSUPPORTED, msg);
		break;
	}
}

/* Timer: handshake or idle limit reached. */
static void
control_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct control	*c = arg;
	char		 why[64];

	(void)fd;
	(void)events;
	/* Waiting for its own operation is not idleness. */
	if (c->state == CONTROL_READY && !TAILQ_EMPTY(&c->pending)) {
		control_arm(c);
		return;
	}
	snprintf(why, sizeof why, c->state == CONTROL_HANDSHAKE ?
	    "no hello within %u s" : "idle for %u s",
	    c->state == CONTROL_HANDSHAKE ? c->srv->cf->handshake_timeout :
	    c->srv->cf->idle_timeout);
	log_info("%s: %s; closing", peer_name(c->peer), why);
	control_close(c, why);
}

/* Peer callback: a message, or NULL when the connection is gone. */
static void
control_dispatch(struct peer *peer, Evg__Envelope *env, void *arg)
{
	struct control	*c = arg;
	Evg__Role	 role;

	if (env == NULL) {
		log_debug("%s: disconnected: %s", peer_name(peer),
		    peer_close_reason(peer));
		control_drop_pending(c);
		events_unsubscribe(c);
		server_conn_closed(c->srv);
		if (c->srv->ncontrol > 0)
			c->srv->ncontrol--;
		TAILQ_REMOVE(&c->srv->controls, c, entry);
		event_free(c->timer);
		peer_free(peer);
		free(c);
		return;
	}
	if (c->state == CONTROL_CLOSING)
		return;
	if (c->state == CONTROL_HANDSHAKE) {
		if (server_handshake(peer, env, &role) != 0) {
			control_close(c, peer_close_reason(peer));
			return;
		}
		c->state = CONTROL_READY;
		control_arm(c);
		return;
	}
	control_arm(c);
	control_on_request(c, env);
}
