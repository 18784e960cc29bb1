/*
 * libFuzzer target: what a guest sends on its session to eve-guest-hostd
 * (Hello, snapshot create/list/delete/rollback/check, status, pings, and
 * the replies to the host's freeze, thaw, hook and guest info requests),
 * run through the daemon's real session, workflow and control code by
 * fuzzhost.c, which documents the input format and the oracle.
 *
 * The host's own requests to a session are numbered from 1, so a seed
 * answers them by id: a create over a CLI session is asked freeze (1),
 * freeze status (2), thaw (3) and freeze status (4).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzhost.h"
#include "status.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A disk reference with one identifier, in caller storage. */
struct seed_disk {
	Evg__DiskRef	 ref;
	Evg__DiskId	 id;
	Evg__DiskId	*idp;
};

/* Fill d as the disk dev known by kind:value; returns its reference. */
static Evg__DiskRef *
seed_disk(struct seed_disk *d, const char *dev, const char *kind,
    const char *value)
{
	evg__disk_ref__init(&d->ref);
	evg__disk_id__init(&d->id);
	d->id.kind = (char *)kind;
	d->id.value = (char *)value;
	d->idp = &d->id;
	d->ref.device = (char *)dev;
	d->ref.ids = &d->idp;
	d->ref.n_ids = 1;
	return (&d->ref);
}

/* A guest snapshot create of data (by serial), named name. */
static void
seed_create(struct fuzzhost_seed *s, uint64_t id, const char *name)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__GuestSnapshotCreateRequest	 req =
	    EVG__GUEST_SNAPSHOT_CREATE_REQUEST__INIT;
	struct seed_disk		 d;
	Evg__DiskRef			*dp;

	dp = seed_disk(&d, "/dev/vdb", "serial", FH_SERIAL_DATA);
	req.disks = &dp;
	req.n_disks = 1;
	req.name = (char *)name;
	env.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE;
	env.guest_snapshot_create = &req;
	fuzzhost_seed_add(s, id, &env);
}

/* A reply carrying a freeze report. */
static void
seed_freeze_reply(struct fuzzhost_seed *s, uint64_t id, int frozen,
    uint32_t duration_ms)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__Reply		 rep = EVG__REPLY__INIT;
	Evg__Status		 st = EVG__STATUS__INIT;
	Evg__FreezeReport	 fr = EVG__FREEZE_REPORT__INIT;
	Evg__MountReport	 m = EVG__MOUNT_REPORT__INIT, *mp = &m;

	m.mountpoint = (char *)"/data";
	m.fstype = (char *)"ext4";
	m.device = (char *)"/dev/vdb";
	m.action = (char *)"frozen";
	fr.frozen = frozen;
	fr.mounts = &mp;
	fr.n_mounts = 1;
	fr.frozen_count = 1;
	fr.duration_ms = duration_ms;
	fr.lease_left_ms = frozen ? 9000 : 0;
	st.message = (char *)"";
	rep.status = &st;
	rep.result_case = EVG__REPLY__RESULT_FREEZE_REPORT;
	rep.freeze_report = &fr;
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &rep;
	fuzzhost_seed_add(s, id, &env);
}

/* A reply with a status only. */
static void
seed_status_reply(struct fuzzhost_seed *s, uint64_t id, uint32_t code,
    const char *msg)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Reply	rep = EVG__REPLY__INIT;
	Evg__Status	st = EVG__STATUS__INIT;

	st.code = code;
	st.message = (char *)msg;
	rep.status = &st;
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &rep;
	fuzzhost_seed_add(s, id, &env);
}

/* A hook report with one hook: ok, or failed with exit 3 and output. */
static void
seed_hook_reply(struct fuzzhost_seed *s, uint64_t id, int ok)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__Reply		 rep = EVG__REPLY__INIT;
	Evg__Status		 st = EVG__STATUS__INIT;
	Evg__HookReport		 hr = EVG__HOOK_REPORT__INIT;
	Evg__HookResult		 r = EVG__HOOK_RESULT__INIT, *rp = &r;

	r.path = (char *)"/etc/eve/snapshots/pre.sh";
	r.status = (char *)(ok ? "ok" : "failed");
	r.exit_code = ok ? 0 : 3;
	r.output = (char *)(ok ? "quiesced\n" :
	    "pg_ctl: could not stop the server \xe2\x80\x94 retry\n");
	r.reason = (char *)"";
	r.elapsed_ms = 120;
	hr.ok = ok;
	hr.results = &rp;
	hr.n_results = 1;
	st.message = (char *)"";
	rep.status = &st;
	rep.result_case = EVG__REPLY__RESULT_HOOK_REPORT;
	rep.hook_report = &hr;
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &rep;
	fuzzhost_seed_add(s, id, &env);
}

/* A guest info reply with a filesystem and a disk. */
static void
seed_info_reply(struct fuzzhost_seed *s, uint64_t id)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT;
	Evg__Reply	 rep = EVG__REPLY__INIT;
	Evg__Status	 st = EVG__STATUS__INIT;
	Evg__GuestInfo	 gi = EVG__GUEST_INFO__INIT;
	Evg__FsInfo	 fs = EVG__FS_INFO__INIT, *fsp = &fs;
	Evg__GuestDisk	 gd = EVG__GUEST_DISK__INIT, *gdp = &gd;
	struct seed_disk d;

	seed_disk(&d, "/dev/vdb", "serial", FH_SERIAL_DATA);
	gd.device = (char *)"/dev/vdb";
	gd.ids = &d.idp;
	gd.n_ids = 1;
	fs.mountpoint = (char *)"/data";
	fs.fstype = (char *)"ext4";
	fs.source = (char *)"/dev/vdb";
	fs.size_bytes = 10ULL << 30;
	fs.used_bytes = 1ULL << 30;
	fs.available_bytes = 9ULL << 30;
	gi.agent_version = (char *)"eve-guest-agent 0.1.0";
	gi.os = (char *)"Debian GNU/Linux 12 (bookworm)";
	gi.kernel = (char *)"Linux";
	gi.kernel_version = (char *)"6.1.0-13-amd64";
	gi.hostname = (char *)"web-01";
	gi.uptime_seconds = 86400;
	gi.filesystems = &fsp;
	gi.n_filesystems = 1;
	gi.disks = &gdp;
	gi.n_disks = 1;
	st.message = (char *)"";
	rep.status = &st;
	rep.result_case = EVG__REPLY__RESULT_GUEST_INFO;
	rep.guest_info = &gi;
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &rep;
	fuzzhost_seed_add(s, id, &env);
}

/* Answers to a create's freeze, verify, thaw and verify (ids from first). */
static void
seed_freeze_cycle(struct fuzzhost_seed *s, uint64_t first)
{
	seed_freeze_reply(s, first, 1, 0);
	seed_freeze_reply(s, first + 1, 1, 0);
	seed_freeze_reply(s, first + 2, 0, 4);
	seed_freeze_reply(s, first + 3, 0, 4);
}

/* A request with an empty body message of the given case. */
static void
seed_simple(struct fuzzhost_seed *s, uint64_t id, Evg__Envelope__BodyCase bc)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__GuestStatusRequest		 gs = EVG__GUEST_STATUS_REQUEST__INIT;
	Evg__GuestSnapshotListRequest	 gl =
	    EVG__GUEST_SNAPSHOT_LIST_REQUEST__INIT;
	Evg__Ping			 ping = EVG__PING__INIT;

	env.body_case = bc;
	if (bc == EVG__ENVELOPE__BODY_GUEST_STATUS)
		env.guest_status = &gs;
	else if (bc == EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST)
		env.guest_snapshot_list = &gl;
	else
		env.ping = &ping;
	fuzzhost_seed_add(s, id, &env);
}

/* A guest's own Hello frame. */
static void
seed_hello(struct fuzzhost_seed *s, uint32_t min, uint32_t max, Evg__Role role)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Hello	h = EVG__HELLO__INIT;

	h.min_version = min;
	h.max_version = max;
	h.role = role;
	h.software = (char *)"eve-guest-agent 0.1.0";
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	fuzzhost_seed_add(s, 0, &env);
}

/* Delete a snapshot by UUID. */
static void
seed_delete(struct fuzzhost_seed *s, uint64_t id, const char *snap)
{
	Evg__Envelope			env = EVG__ENVELOPE__INIT;
	Evg__SnapshotDeleteRequest	del =
	    EVG__SNAPSHOT_DELETE_REQUEST__INIT;

	del.vm_uuid = (char *)"";
	del.snapshot = (char *)snap;
	env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_DELETE;
	env.snapshot_delete = &del;
	fuzzhost_seed_add(s, id, &env);
}

/* Roll back the disk named by kind:value to snap. */
static void
seed_rollback(struct fuzzhost_seed *s, uint64_t id, const char *snap,
    const char *kind, const char *value)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__GuestSnapshotRollbackRequest rb =
	    EVG__GUEST_SNAPSHOT_ROLLBACK_REQUEST__INIT;
	struct seed_disk		 d;
	Evg__DiskRef			*dp;

	dp = seed_disk(&d, "/dev/vdb", kind, value);
	rb.snapshot = (char *)snap;
	rb.disks = &dp;
	rb.n_disks = 1;
	env.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK;
	env.guest_snapshot_rollback = &rb;
	fuzzhost_seed_add(s, id, &env);
}

/* Pre-flight of the disks given as kind:value pairs. */
static void
seed_check(struct fuzzhost_seed *s, uint64_t id, const char *k1,
    const char *v1, const char *k2, const char *v2)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__GuestSnapshotCheckRequest	 ck =
	    EVG__GUEST_SNAPSHOT_CHECK_REQUEST__INIT;
	struct seed_disk		 d1, d2;
	Evg__DiskRef			*dp[2];

	dp[0] = seed_disk(&d1, "/dev/vdb", k1, v1);
	dp[1] = seed_disk(&d2, "/dev/sdc", k2, v2);
	ck.disks = dp;
	ck.n_disks = k2 != NULL ? 2 : 1;
	env.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK;
	env.guest_snapshot_check = &ck;
	fuzzhost_seed_add(s, id, &env);
}

/* Write every seed to dir. */
static void
guest_seeds(const char *dir)
{
	struct fuzzhost_seed	s;

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_simple(&s, 1, EVG__ENVELOPE__BODY_GUEST_STATUS);
	seed_simple(&s, 2, EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST);
	seed_simple(&s, 3, EVG__ENVELOPE__BODY_PING);
	fuzzhost_seed_write(&s, dir, "status-list-ping");

	fuzzhost_seed_begin(&s, 0, 0, 0);
	seed_hello(&s, 1, 1, EVG__ROLE__ROLE_GUEST_CLI);
	seed_simple(&s, 1, EVG__ENVELOPE__BODY_GUEST_STATUS);
	fuzzhost_seed_write(&s, dir, "own-hello");

	fuzzhost_seed_begin(&s, 0, 0, 0);
	seed_hello(&s, 5, 9, EVG__ROLE__ROLE_GUEST_DAEMON);
	fuzzhost_seed_write(&s, dir, "hello-bad-versions");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_create(&s, 1, "Weekly 2");
	seed_freeze_cycle(&s, 1);
	seed_simple(&s, 2, EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST);
	fuzzhost_seed_write(&s, dir, "create-cli");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, 0, 0);
	seed_create(&s, 7, "");
	seed_freeze_cycle(&s, 1);
	fuzzhost_seed_write(&s, dir, "create-daemon");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, 0);
	seed_create(&s, 1, "by the daemon");
	seed_create(&s, 2, "Weekly backup");
	fuzzhost_seed_write(&s, dir, "create-scripted-daemon");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, FB_CREATE_FAIL, 0);
	seed_create(&s, 1, "doomed");
	seed_freeze_reply(&s, 1, 1, 0);
	seed_freeze_reply(&s, 2, 1, 0);
	seed_freeze_reply(&s, 3, 0, 9);
	fuzzhost_seed_write(&s, dir, "create-backend-fails");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, 0, 0);
	seed_create(&s, 1, "refused");
	seed_status_reply(&s, 1, EVG_FREEZE_FAILED,
	    "/data: FIFREEZE: Operation not supported");
	fuzzhost_seed_write(&s, dir, "create-freeze-refused");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, FB_NO_SPACE, 0);
	seed_create(&s, 1, "too big");
	fuzzhost_seed_write(&s, dir, "create-no-space");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON | FH_DRAIN_TIME, 0, 0);
	seed_create(&s, 1, "never answered");
	fuzzhost_seed_write(&s, dir, "create-timeout");

	/* Freeze (1), verify (2); a tick: a lease renewal (3) while the
	 * backend works, thaw (4); verify (5). */
	fuzzhost_seed_begin(&s, FH_HELLO | FH_TICK, FB_SLOW, 0);
	seed_create(&s, 1, "slow backend");
	seed_freeze_reply(&s, 1, 1, 0);
	seed_freeze_reply(&s, 2, 1, 0);
	seed_status_reply(&s, 3, EVG_OK, "");
	seed_freeze_reply(&s, 4, 0, 5200);
	seed_freeze_reply(&s, 5, 0, 5200);
	fuzzhost_seed_write(&s, dir, "create-slow-renew");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_TICK, FB_SLOW, 0);
	seed_create(&s, 1, "lease lost");
	seed_freeze_reply(&s, 1, 1, 0);
	seed_freeze_reply(&s, 2, 1, 0);
	seed_status_reply(&s, 3, EVG_FAILED_PRECONDITION,
	    "the lease ran out 12 ms ago");
	seed_freeze_reply(&s, 4, 0, 5200);
	fuzzhost_seed_write(&s, dir, "create-lease-lost");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_check(&s, 1, "serial", FH_SERIAL_DATA, NULL, NULL);
	seed_check(&s, 2, "pci", FH_PCI_DATA, "wwn", FH_WWN_LOGS);
	seed_check(&s, 3, "serial", "NOT-MINE", NULL, NULL);
	fuzzhost_seed_write(&s, dir, "check");

	fuzzhost_seed_begin(&s, FH_HELLO, 0, 0);
	seed_delete(&s, 1, FH_SNAP_DATA);
	seed_delete(&s, 2, FH_SNAP_MISSING);
	seed_delete(&s, 3, FH_SNAP_CREATING);
	seed_delete(&s, 4, FH_SNAP_DB);
	seed_delete(&s, 5, "Weekly backup");
	fuzzhost_seed_write(&s, dir, "delete");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, 0, 0);
	seed_rollback(&s, 1, "Weekly backup", "serial", FH_SERIAL_DATA);
	seed_hook_reply(&s, 1, 1);
	fuzzhost_seed_write(&s, dir, "rollback-running");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON, 0, 0);
	seed_rollback(&s, 1, FH_SNAP_LOGS, "wwn", FH_WWN_LOGS);
	seed_hook_reply(&s, 1, 0);
	fuzzhost_seed_write(&s, dir, "rollback-hook-fails");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_STOPPED, FB_ROLLBACK_FAIL, 0);
	seed_rollback(&s, 1, "before-upgrade", "backing", FH_BACKING_DB);
	seed_rollback(&s, 2, "before-upgrade", "pci", "0000:05:00.0");
	fuzzhost_seed_write(&s, dir, "rollback-stopped");

	/* The controller's guest info (1), pre hooks (2), freeze (3),
	 * verify (4), thaw (5), verify (6), post hooks (7). */
	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON | FH_CONTROLLER, 0, 0);
	seed_info_reply(&s, 1);
	seed_hook_reply(&s, 2, 1);
	seed_freeze_cycle(&s, 3);
	seed_hook_reply(&s, 7, 1);
	seed_simple(&s, 2, EVG__ENVELOPE__BODY_PING);
	fuzzhost_seed_write(&s, dir, "controller");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON | FH_CONTROLLER, 0, 0);
	seed_info_reply(&s, 1);
	seed_hook_reply(&s, 2, 0);
	seed_hook_reply(&s, 3, 1);
	fuzzhost_seed_write(&s, dir, "controller-pre-fails");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON | FH_CONTROLLER,
	    FB_CREATE_FAIL, FC_WRITES_FAIL);
	seed_info_reply(&s, 1);
	seed_hook_reply(&s, 2, 1);
	seed_freeze_cycle(&s, 3);
	seed_hook_reply(&s, 6, 1);
	fuzzhost_seed_write(&s, dir, "controller-writes-fail");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_DAEMON | FH_DRAIN_TIME, 0, 0);
	seed_status_reply(&s, 1, EVG_OK, "");
	fuzzhost_seed_write(&s, dir, "daemon-pings");

	/* The least frame caps: replies that do not fit. */
	fuzzhost_seed_begin(&s, FH_HELLO, 0, FC_CAPS(1, 1));
	seed_check(&s, 1, "serial", FH_SERIAL_DATA, "wwn", FH_WWN_LOGS);
	seed_simple(&s, 2, EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST);
	seed_simple(&s, 3, EVG__ENVELOPE__BODY_GUEST_STATUS);
	fuzzhost_seed_write(&s, dir, "small-caps");

	fuzzhost_seed_begin(&s, FH_HELLO | FH_FAKE_DAEMON, 0, FC_ONE_CONN);
	seed_simple(&s, 1, EVG__ENVELOPE__BODY_GUEST_STATUS);
	fuzzhost_seed_write(&s, dir, "one-connection-per-vm");
}

/* Set up the daemon once; EVG_FUZZ_SEEDS=DIR writes the seeds and exits. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzzhost_init(FUZZHOST_GUEST, guest_seeds);
	return (0);
}

/* One guest session. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzzhost_input(data, size);
	return (0);
}
