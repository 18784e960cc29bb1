/*
 * libFuzzer target: what a control client (pillar, eve-guest-hostctl)
 * sends to eve-guest-hostd: vm add/update/remove/list/show/state, snapshot
 * create/list/delete/rollback, events and guest info, run through the
 * daemon's real control, registry and workflow code by fuzzhost.c, which
 * documents the input format and the oracle.  With FH_FAKE_DAEMON a
 * scripted guest daemon serves web-01, so app- and fs-consistent creates
 * and guest info go all the way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzhost.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SEED_VM_NEW	"8b3e6c74-5d9a-4f43-9cab-2e7a4d9f1a33"
#define SEED_VOL_NEW	"3e9f5c1b-8d74-4a0b-9c6f-cd4b5a6f7e84"

/* A VM with one volume (kind:value names its disk). */
struct seed_vm {
	Evg__VmInfo	 vm;
	Evg__Volume	 vol;
	Evg__Volume	*volp;
	Evg__DiskId	 id;
	Evg__DiskId	*idp;
};

/* Fill v as VM uuid with one volume; returns the message. */
static Evg__VmInfo *
seed_vm(struct seed_vm *v, const char *uuid, const char *name,
    unsigned int cid, const char *state, const char *vol_uuid,
    const char *backend, const char *locator, const char *kind,
    const char *value)
{
	evg__vm_info__init(&v->vm);
	evg__volume__init(&v->vol);
	evg__disk_id__init(&v->id);
	v->id.kind = (char *)kind;
	v->id.value = (char *)value;
	v->idp = &v->id;
	v->vol.uuid = (char *)vol_uuid;
	v->vol.name = (char *)"data";
	v->vol.backend = (char *)backend;
	v->vol.locator = (char *)locator;
	v->vol.disks = &v->idp;
	v->vol.n_disks = 1;
	v->volp = &v->vol;
	v->vm.uuid = (char *)uuid;
	v->vm.name = (char *)name;
	v->vm.cid = cid;
	v->vm.state = (char *)state;
	v->vm.volumes = &v->volp;
	v->vm.n_volumes = 1;
	return (&v->vm);
}

/* vm add. */
static void
seed_vm_add(struct fuzzhost_seed *s, uint64_t id, Evg__VmInfo *vm)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__VmAddRequest	add = EVG__VM_ADD_REQUEST__INIT;

	add.vm = vm;
	env.body_case = EVG__ENVELOPE__BODY_VM_ADD;
	env.vm_add = &add;
	fuzzhost_seed_add(s, id, &env);
}

/* vm show, vm remove or vm list, by body case. */
static void
seed_vm_req(struct fuzzhost_seed *s, uint64_t id, Evg__Envelope__BodyCase bc,
    const char *uuid)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__VmShowRequest	show = EVG__VM_SHOW_REQUEST__INIT;
	Evg__VmRemoveRequest	rm = EVG__VM_REMOVE_REQUEST__INIT;
	Evg__VmListRequest	list = EVG__VM_LIST_REQUEST__INIT;

	env.body_case = bc;
	show.uuid = rm.uuid = (char *)uuid;
	if (bc == EVG__ENVELOPE__BODY_VM_SHOW)
		env.vm_show = &show;
	else if (bc == EVG__ENVELOPE__BODY_VM_REMOVE)
		env.vm_remove = &rm;
	else
		env.vm_list = &list;
	fuzzhost_seed_add(s, id, &env);
}

/* vm state. */
static void
seed_vm_state(struct fuzzhost_seed *s, uint64_t id, const char *uuid,
    const char *state)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__VmStateRequest	st = EVG__VM_STATE_REQUEST__INIT;

	st.uuid = (char *)uuid;
	st.state = (char *)state;
	env.body_case = EVG__ENVELOPE__BODY_VM_STATE;
	env.vm_state = &st;
	fuzzhost_seed_add(s, id, &env);
}

/* snapshot create of vm (one volume, or all when vol is NULL). */
static void
seed_create(struct fuzzhost_seed *s, uint64_t id, const char *vm,
    const char *vol, const char *name, const char *consistency,
    const char *key)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__SnapshotCreateRequest	 cr =
	    EVG__SNAPSHOT_CREATE_REQUEST__INIT;
	char				*vols[1];

	vols[0] = (char *)vol;
	cr.vm_uuid = (char *)vm;
	cr.volume_uuids = vols;
	cr.n_volume_uuids = vol != NULL ? 1 : 0;
	cr.name = (char *)name;
	cr.consistency = (char *)consistency;
	cr.idempotency_key = (char *)key;
	cr.hook_timeout_ms = 5000;
	env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_CREATE;
	env.snapshot_create = &cr;
	fuzzhost_seed_add(s, id, &env);
}

/* snapshot list, delete or rollback of vm, by body case. */
static void
seed_snap_req(struct fuzzhost_seed *s, uint64_t id, Evg__Envelope__BodyCase bc,
    const char *vm, const char *snap, const char *vol)
{
	Evg__Envelope			env = EVG__ENVELOPE__INIT;
	Evg__SnapshotListRequest	list = EVG__SNAPSHOT_LIST_REQUEST__INIT;
	Evg__SnapshotDeleteRequest	del =
	    EVG__SNAPSHOT_DELETE_REQUEST__INIT;
	Evg__SnapshotRollbackRequest	rb =
	    EVG__SNAPSHOT_ROLLBACK_REQUEST__INIT;

	env.body_case = bc;
	list.vm_uuid = del.vm_uuid = rb.vm_uuid = (char *)vm;
	del.snapshot = rb.snapshot = (char *)snap;
	rb.volume_uuid = (char *)vol;
	if (bc == EVG__ENVELOPE__BODY_SNAPSHOT_LIST)
		env.snapshot_list = &list;
	else if (bc == EVG__ENVELOPE__BODY_SNAPSHOT_DELETE)
		env.snapshot_delete = &del;
	else
		env.snapshot_rollback = &rb;
	fuzzhost_seed_add(s, id, &env);
}

/* events, following or not. */
static void
seed_events(struct fuzzhost_seed *s, uint64_t id, int follow)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__EventsRequest	ev = EVG__EVENTS_REQUEST__INIT;

	ev.follow = follow;
	env.body_case = EVG__ENVELOPE__BODY_EVENTS;
	env.events = &ev;
	fuzzhost_seed_add(s, id, &env);
}

/* guest info of vm. */
static void
seed_guest_info(struct fuzzhost_seed *s, uint64_t id, const char *vm)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__GuestInfoRequest	gi = EVG__GUEST_INFO_REQUEST__INIT;

	gi.vm_uuid = (char *)vm;
	env.body_case = EVG__ENVELOPE__BODY_VM_GUEST_INFO;
	env.vm_guest_info = &gi;
	fuzzhost_seed_add(s, id, &env);
}

/* Write every seed to dir. */
static void
control_seeds(const char *dir)
{
	struct fuzzhost_seed	 s;
	struct seed_vm		 v;
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__Hello		 h = EVG__HELLO__INIT;
	Evg__GuestStatusRequest	 gs = EVG__GUEST_STATUS_REQUEST__INIT;

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_vm_req(&s, 1, EVG__ENVELOPE__BODY_VM_LIST, NULL);
	seed_vm_req(&s, 2, EVG__ENVELOPE__BODY_VM_SHOW, FH_VM_RUNNING);
	seed_vm_req(&s, 3, EVG__ENVELOPE__BODY_VM_SHOW, "web-01");
	seed_vm_req(&s, 4, EVG__ENVELOPE__BODY_VM_SHOW, SEED_VM_NEW);
	fuzzhost_seed_write(&s, dir, "vm-list-show");

	fuzzhost_seed_begin(&s, 0, 0, 0);
	h.min_version = h.max_version = 1;
	h.role = EVG__ROLE__ROLE_CONTROL;
	h.software = (char *)"eve-guest-hostctl 0.1.0";
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	fuzzhost_seed_add(&s, 0, &env);
	env.body_case = EVG__ENVELOPE__BODY_GUEST_STATUS;
	env.guest_status = &gs;
	fuzzhost_seed_add(&s, 1, &env);
	seed_vm_req(&s, 2, EVG__ENVELOPE__BODY_VM_LIST, NULL);
	fuzzhost_seed_write(&s, dir, "own-hello");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_vm_add(&s, 1, seed_vm(&v, SEED_VM_NEW, "cache-03", 7, "running",
	    SEED_VOL_NEW, "zfs", "persist/vault/volumes/" SEED_VOL_NEW ".1",
	    "wwn", "naa.5001405ffeeddcc0"));
	seed_vm_state(&s, 2, SEED_VM_NEW, "stopped");
	seed_vm_req(&s, 3, EVG__ENVELOPE__BODY_VM_SHOW, SEED_VM_NEW);
	seed_create(&s, 4, SEED_VM_NEW, NULL, "first", "app", "");
	seed_vm_req(&s, 5, EVG__ENVELOPE__BODY_VM_REMOVE, SEED_VM_NEW);
	seed_vm_add(&s, 6, seed_vm(&v, FH_VM_STOPPED, "db-02", 5, "stopped",
	    FH_VOL_DB, "qcow2", "/persist/vault/volumes/db.qcow2", "backing",
	    FH_BACKING_DB));
	fuzzhost_seed_write(&s, dir, "vm-add-state-remove");

	fuzzhost_seed_begin(&s, FH_HELLO, FB_LIST_ODD, 0);
	seed_vm_req(&s, 1, EVG__ENVELOPE__BODY_VM_REMOVE, FH_VM_STOPPED);
	seed_vm_add(&s, 2, seed_vm(&v, FH_VM_STOPPED, "db-02", 5, "stopped",
	    FH_VOL_DB, "qcow2", "/persist/vault/volumes/db.qcow2", "backing",
	    FH_BACKING_DB));
	seed_snap_req(&s, 3, EVG__ENVELOPE__BODY_SNAPSHOT_LIST, FH_VM_STOPPED,
	    NULL, NULL);
	fuzzhost_seed_write(&s, dir, "vm-readd-reconcile");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_create(&s, 1, FH_VM_RUNNING, FH_VOL_DATA, "ctl crash", "crash",
	    "");
	seed_snap_req(&s, 2, EVG__ENVELOPE__BODY_SNAPSHOT_LIST, FH_VM_RUNNING,
	    NULL, NULL);
	seed_create(&s, 3, FH_VM_STOPPED, NULL, "", "fs", "");
	seed_create(&s, 4, FH_VM_RUNNING, NULL, "Weekly backup", "crash", "");
	fuzzhost_seed_write(&s, dir, "create-crash");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, 0);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "app one", "app", "");
	seed_create(&s, 2, FH_VM_RUNNING, FH_VOL_LOGS, "fs one", "fs", "");
	seed_events(&s, 3, 0);
	fuzzhost_seed_write(&s, dir, "create-app-fs");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON | FH_DAEMON_FAILS,
	    0, 0);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "hooks fail", "app", "");
	seed_create(&s, 2, FH_VM_RUNNING, NULL, "freeze fails", "fs", "");
	seed_guest_info(&s, 3, FH_VM_RUNNING);
	fuzzhost_seed_write(&s, dir, "create-guest-fails");

	fuzzhost_seed_begin(&s, FH_HELLO, FB_CREATE_FAIL, 0);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "k", "crash", "retry-key");
	seed_create(&s, 2, FH_VM_RUNNING, NULL, "k", "crash", "retry-key");
	fuzzhost_seed_write(&s, dir, "create-idempotent-fails");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "k", "crash", "retry-key");
	seed_create(&s, 2, FH_VM_RUNNING, NULL, "k", "crash", "retry-key");
	fuzzhost_seed_write(&s, dir, "create-idempotent");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_snap_req(&s, 1, EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, FH_VM_RUNNING,
	    FH_SNAP_DATA, NULL);
	seed_snap_req(&s, 2, EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK,
	    FH_VM_STOPPED, "before-upgrade", NULL);
	seed_snap_req(&s, 3, EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK,
	    FH_VM_RUNNING, "Weekly backup", FH_VOL_LOGS);
	seed_vm_state(&s, 4, FH_VM_RUNNING, "stopped");
	seed_snap_req(&s, 5, EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, FH_VM_RUNNING,
	    FH_SNAP_MISSING, NULL);
	fuzzhost_seed_write(&s, dir, "delete-rollback");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, 0);
	seed_snap_req(&s, 1, EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK,
	    FH_VM_RUNNING, FH_SNAP_DATA, NULL);
	seed_snap_req(&s, 2, EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, FH_VM_RUNNING,
	    FH_SNAP_DATA, NULL);
	seed_vm_state(&s, 3, FH_VM_RUNNING, "stopped");
	fuzzhost_seed_write(&s, dir, "rollback-scheduled");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, 0);
	seed_events(&s, 1, 1);
	seed_create(&s, 2, FH_VM_RUNNING, NULL, "", "fs", "");
	seed_guest_info(&s, 3, FH_VM_RUNNING);
	seed_guest_info(&s, 4, FH_VM_STOPPED);
	fuzzhost_seed_write(&s, dir, "events-follow-guest-info");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON | FH_DRAIN_TIME,
	    0, 0);
	seed_events(&s, 1, 0);
	fuzzhost_seed_write(&s, dir, "idle-timeout");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, FC_CAPS(1, 1));
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "", "app", "");
	seed_events(&s, 2, 0);
	seed_vm_req(&s, 3, EVG__ENVELOPE__BODY_VM_LIST, NULL);
	seed_snap_req(&s, 4, EVG__ENVELOPE__BODY_SNAPSHOT_LIST, FH_VM_RUNNING,
	    NULL, NULL);
	seed_guest_info(&s, 5, FH_VM_RUNNING);
	fuzzhost_seed_write(&s, dir, "small-caps");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_TICK, FB_SLOW, FC_ONE_OP);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "slow", "crash", "");
	seed_create(&s, 2, FH_VM_STOPPED, NULL, "busy", "crash", "");
	seed_snap_req(&s, 3, EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, FH_VM_RUNNING,
	    FH_SNAP_DATA, NULL);
	fuzzhost_seed_write(&s, dir, "one-operation");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, FC_WRITES_FAIL);
	seed_create(&s, 1, FH_VM_RUNNING, NULL, "", "crash", "");
	seed_snap_req(&s, 2, EVG__ENVELOPE__BODY_SNAPSHOT_DELETE, FH_VM_RUNNING,
	    FH_SNAP_DATA, NULL);
	seed_vm_state(&s, 3, FH_VM_STOPPED, "running");
	seed_vm_req(&s, 4, EVG__ENVELOPE__BODY_VM_REMOVE, FH_VM_STOPPED);
	fuzzhost_seed_write(&s, dir, "writes-fail");
}

/* Set up the daemon once; EVG_FUZZ_SEEDS=DIR writes the seeds and exits. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzzhost_init(FUZZHOST_CONTROL, control_seeds);
	return (0);
}

/* One control connection. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzzhost_input(data, size);
	return (0);
}
