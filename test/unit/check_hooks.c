/*
 * Unit tests for guest/hooks.c.  Each test builds a hooks dir in its own
 * temp tree (root-owned, as the checks demand, so the tests need root and
 * say so when skipped) with small /bin/sh hooks that record what they saw
 * in files under a separate out/ dir, runs one phase on a private event
 * base and checks the results handed to the callback.
 *
 * The fixture makes the test process a child subreaper: a hook killed on
 * timeout leaves orphans (its background "sleep 30"), and on machines
 * whose PID 1 does not reap they would stay zombies in the hook's process
 * group forever.  The test reaps them itself, but only after the run's
 * callback (or its cancel), so it never takes a status hooks.c waits for.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "hooks.h"
#include "suites.h"
#include "testutil.h"
#include "xmalloc.h"

#define UUID		"6f1c2a4e-0d3b-4c8e-9a57-2b1d0e4f5a6c"
#define NAME		"Weekly backup"
/* A descriptor the test leaves open without close-on-exec. */
#define LEAK_FD		57
/* Longest a test waits for a run; a guard, never reached when all works. */
#define GUARD_MS	20000

static char	tmp[64];
static char	hooks_dir[128];
static char	out_dir[128];
static int	skip;

/* One hook_result, copied out of the callback. */
struct seen_hook {
	char			*path;		/* relative to hooks_dir */
	enum hook_status	 status;
	int			 exit_code;
	int			 signo;
	char			*output;
	size_t			 output_len;
	char			*reason;
	unsigned int		 elapsed_ms;
};

/* What the callback saw. */
struct outcome {
	int			 calls;
	int			 ok;
	char			*failure;
	struct seen_hook	 h[16];
	size_t			 n;
	struct event_base	*base;
};

/* Checked fixture: temp tree, subreaper, a variable hooks must not see. */
static void
hooks_setup(void)
{
	skip = (geteuid() != 0);
	if (skip)
		return;
	snprintf(tmp, sizeof tmp, "/tmp/evg-hooks-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	snprintf(hooks_dir, sizeof hooks_dir, "%s/hooks", tmp);
	snprintf(out_dir, sizeof out_dir, "%s/out", tmp);
	ck_assert_int_eq(mkdir(hooks_dir, 0755), 0);
	ck_assert_int_eq(mkdir(out_dir, 0755), 0);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	setenv("EVG_HOOKS_LEAK", "must not reach a hook", 1);
	setenv("HOME", "/root", 1);
}

/* Reap every child left (orphans of killed hooks); wait at most ms. */
static void
reap_orphans(unsigned int ms)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	unsigned int	waited = 0;
	pid_t		pid;

	for (;;) {
		pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0)
			continue;
		if (pid == -1 || waited >= ms)
			return;
		nanosleep(&ts, NULL);
		waited += 10;
	}
}

/* Checked fixture: reap, then remove the tree. */
static void
hooks_teardown(void)
{
	if (skip)
		return;
	reap_orphans(0);
	testutil_rmtree(tmp);
}

/* Say a test (its __func__, "test_x_fn") is skipped when not root. */
static int
skipped(const char *test)
{
	size_t	len = strlen(test);

	if (len > 3 && strcmp(test + len - 3, "_fn") == 0)
		len -= 3;
	if (skip)
		printf("hooks: not root; skipping %.*s\n", (int)len, test);
	return (skip);
}

/* Make directory hooks_dir/rel with mode. */
static void
hook_dir(const char *rel, mode_t mode)
{
	char	*path;

	xasprintf(&path, "%s/%s", hooks_dir, rel);
	ck_assert_msg(mkdir(path, mode) == 0 || errno == EEXIST, "mkdir %s: %s",
	    path, strerror(errno));
	ck_assert_int_eq(chmod(path, mode), 0);
	free(path);
}

/*
 * Write hook hooks_dir/rel: "#!/bin/sh", then the body (a format; %1$s is
 * out_dir for every use), with mode.
 */
static void
hook_write(const char *rel, mode_t mode, const char *body)
{
	char	*path, *text;
	FILE	*f;

	xasprintf(&path, "%s/%s", hooks_dir, rel);
	xasprintf(&text, body, out_dir);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\n%s\n", text);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	free(text);
	free(path);
}

/* Read out_dir/name into a new string; NULL if it does not exist. */
static char *
out_read(const char *name)
{
	char	*path, *buf;
	FILE	*f;
	size_t	 n;

	xasprintf(&path, "%s/%s", out_dir, name);
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return (NULL);
	buf = xcalloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

/* Callback: copy the result (freed when we return), stop the loop. */
static void
outcome_cb(const struct hooks_result *res, void *arg)
{
	struct outcome		*o = arg;
	const struct hook_result *r;
	struct seen_hook	*s;
	size_t			 i, skiplen = strlen(hooks_dir) + 1;

	o->calls++;
	o->ok = res->ok;
	o->failure = res->failure != NULL ? xstrdup(res->failure) : NULL;
	ck_assert_uint_le(res->nhooks, sizeof o->h / sizeof o->h[0]);
	for (i = 0; i < res->nhooks; i++) {
		r = &res->hooks[i];
		s = &o->h[i];
		ck_assert_ptr_nonnull(r->output);
		ck_assert_int_eq(r->output[r->output_len], '\0');
		s->path = xstrdup(strncmp(r->path, hooks_dir, skiplen - 1) ==
		    0 && r->path[skiplen - 1] == '/' ? r->path + skiplen :
		    r->path);
		s->status = r->status;
		s->exit_code = r->exit_code;
		s->signo = r->signo;
		s->output = xmalloc(r->output_len + 1);
		memcpy(s->output, r->output, r->output_len + 1);
		s->output_len = r->output_len;
		s->reason = r->reason != NULL ? xstrdup(r->reason) : NULL;
		s->elapsed_ms = r->elapsed_ms;
	}
	o->n = res->nhooks;
	event_base_loopbreak(o->base);
}

/* Free what outcome_cb copied. */
static void
outcome_free(struct outcome *o)
{
	size_t	i;

	for (i = 0; i < o->n; i++) {
		free(o->h[i].path);
		free(o->h[i].output);
		free(o->h[i].reason);
	}
	free(o->failure);
	memset(o, 0, sizeof *o);
}

/* The params every test uses, for phase and op. */
static struct hooks_params
params(enum hooks_phase phase, enum hooks_operation op, unsigned int ms)
{
	static const char *const	disks[] = { "/dev/sdc", "/dev/sdd" };
	struct hooks_params		p;

	memset(&p, 0, sizeof p);
	p.dir = hooks_dir;
	p.phase = phase;
	p.operation = op;
	p.name = NAME;
	p.uuid = UUID;
	p.disks = disks;
	p.ndisks = 2;
	p.timeout_ms = ms;
	return (p);
}

/* Run one phase to its end on a fresh base; the callback must run once. */
static void
run_phase(enum hooks_phase phase, enum hooks_operation op, unsigned int ms,
    struct outcome *o)
{
	struct hooks_params	 p = params(phase, op, ms);
	struct hooks_run	*run;
	struct timeval		 guard = { GUARD_MS / 1000, 0 };
	char			*cause = NULL;

	memset(o, 0, sizeof *o);
	o->base = event_base_new();
	run = hooks_run_start(o->base, &p, outcome_cb, o, &cause);
	ck_assert_msg(run != NULL, "hooks_run_start: %s", cause);
	ck_assert_int_eq(o->calls, 0);
	event_base_loopexit(o->base, &guard);
	event_base_dispatch(o->base);
	ck_assert_int_eq(o->calls, 1);
	event_base_free(o->base);
	o->base = NULL;
}

/* Assert hook i is path with status. */
static void
assert_hook(const struct outcome *o, size_t i, const char *path,
    enum hook_status status)
{
	ck_assert_uint_lt(i, o->n);
	ck_assert_str_eq(o->h[i].path, path);
	ck_assert_msg(o->h[i].status == status, "%s: %s, not %s (%s)", path,
	    hooks_status_name(o->h[i].status), hooks_status_name(status),
	    o->h[i].reason != NULL ? o->h[i].reason : "no reason");
}

/* Wait until process group pgid is empty; true if it emptied in time. */
static int
group_gone(pid_t pgid, unsigned int ms)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	unsigned int	waited;

	for (waited = 0; waited < ms; waited += 10) {
		reap_orphans(0);
		if (kill(-pgid, 0) == -1 && errno == ESRCH)
			return (1);
		nanosleep(&ts, NULL);
	}
	return (0);
}

/* A pid written by a hook into out_dir/name. */
static pid_t
out_pid(const char *name)
{
	char	*s;
	long	 pid;

	s = out_read(name);
	ck_assert_msg(s != NULL, "the hook wrote no %s", name);
	pid = strtol(s, NULL, 10);
	free(s);
	ck_assert_int_gt(pid, 1);
	return ((pid_t)pid);
}

/*
 * Proves a phase's output is collected and a missing pre.d is a SKIPPED
 * result, not a failure, and that pre.sh comes first.
 */
START_TEST(test_pre_ok)
{
	struct outcome	o;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755, "echo hello from pre\nexit 0");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_ptr_null(o.failure);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "pre.sh", HOOK_OK);
	ck_assert_int_eq(o.h[0].exit_code, 0);
	ck_assert_int_eq(o.h[0].signo, 0);
	ck_assert_str_eq(o.h[0].output, "hello from pre\n");
	ck_assert_uint_eq(o.h[0].output_len, 15);
	ck_assert_ptr_null(o.h[0].reason);
	assert_hook(&o, 1, "pre.d", HOOK_SKIPPED);
	ck_assert_str_eq(o.h[1].reason, "not present");
	outcome_free(&o);
}
END_TEST

/*
 * Proves pre runs pre.sh, then pre.d in name order (not creation order),
 * and ignores dot files, "~" backups and dpkg leftovers.
 */
START_TEST(test_pre_order)
{
	struct outcome	 o;
	char		*order;

	if (skipped(__func__))
		return;
	hook_dir("pre.d", 0755);
	hook_write("pre.d/20-b", 0755, "echo 20-b >> %1$s/order");
	hook_write("pre.d/10-a", 0755, "echo 10-a >> %1$s/order");
	hook_write("pre.sh", 0755, "echo pre.sh >> %1$s/order");
	hook_write("pre.d/.hidden", 0755, "echo hidden >> %1$s/order");
	hook_write("pre.d/30-c~", 0755, "echo backup >> %1$s/order");
	hook_write("pre.d/40-d.dpkg-old", 0755, "echo dpkg >> %1$s/order");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_uint_eq(o.n, 3);
	assert_hook(&o, 0, "pre.sh", HOOK_OK);
	assert_hook(&o, 1, "pre.d/10-a", HOOK_OK);
	assert_hook(&o, 2, "pre.d/20-b", HOOK_OK);
	order = out_read("order");
	ck_assert_str_eq(order, "pre.sh\n10-a\n20-b\n");
	free(order);
	outcome_free(&o);
}
END_TEST

/*
 * Proves post and abort run post.d in reverse name order and post.sh
 * last (the mirror of pre), each seeing its own phase name.
 */
START_TEST(test_post_order)
{
	struct outcome	 o;
	char		*order;

	if (skipped(__func__))
		return;
	hook_dir("post.d", 0755);
	hook_write("post.d/10-a", 0755,
	    "echo 10-a $EVE_SNAPSHOT_PHASE >> %1$s/order");
	hook_write("post.d/20-b", 0755,
	    "echo 20-b $EVE_SNAPSHOT_PHASE >> %1$s/order");
	hook_write("post.sh", 0755,
	    "echo post.sh $EVE_SNAPSHOT_PHASE >> %1$s/order");
	hook_write("pre.sh", 0755, "echo pre.sh >> %1$s/order");
	run_phase(HOOKS_PHASE_POST, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_uint_eq(o.n, 3);
	assert_hook(&o, 0, "post.d/20-b", HOOK_OK);
	assert_hook(&o, 1, "post.d/10-a", HOOK_OK);
	assert_hook(&o, 2, "post.sh", HOOK_OK);
	outcome_free(&o);
	run_phase(HOOKS_PHASE_ABORT, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	outcome_free(&o);
	order = out_read("order");
	ck_assert_str_eq(order, "20-b post\n10-a post\npost.sh post\n"
	    "20-b abort\n10-a abort\npost.sh abort\n");
	free(order);
}
END_TEST

/*
 * Proves that with no hooks at all (not even the hooks dir) every phase
 * succeeds with SKIPPED results, and that the callback still comes from
 * the loop, not from hooks_run_start().
 */
START_TEST(test_missing)
{
	struct outcome	o;

	if (skipped(__func__))
		return;
	ck_assert_int_eq(rmdir(hooks_dir), 0);
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "pre.sh", HOOK_SKIPPED);
	assert_hook(&o, 1, "pre.d", HOOK_SKIPPED);
	outcome_free(&o);
	run_phase(HOOKS_PHASE_POST, HOOKS_OP_ROLLBACK, 10000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "post.d", HOOK_SKIPPED);
	assert_hook(&o, 1, "post.sh", HOOK_SKIPPED);
	outcome_free(&o);
}
END_TEST

/*
 * Proves a pre hook exiting 7 fails the phase and stops it (pre.d does
 * not run), with its stderr and stdout in its output, merged in order,
 * and exit code, reason and last line in the failure.
 */
START_TEST(test_pre_fails)
{
	struct outcome	 o;
	char		*marker;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755,
	    "echo flushing tables\necho 'cannot lock tables' >&2\nexit 7");
	hook_dir("pre.d", 0755);
	hook_write("pre.d/10-a", 0755, "echo ran > %1$s/marker");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "pre.sh", HOOK_FAILED);
	ck_assert_int_eq(o.h[0].exit_code, 7);
	ck_assert_int_eq(o.h[0].signo, 0);
	ck_assert_str_eq(o.h[0].output,
	    "flushing tables\ncannot lock tables\n");
	ck_assert_str_eq(o.h[0].reason, "exit 7");
	assert_hook(&o, 1, "pre.d/10-a", HOOK_NOT_RUN);
	ck_assert_ptr_nonnull(strstr(o.h[1].reason, "pre.sh"));
	ck_assert_ptr_nonnull(o.failure);
	ck_assert_ptr_nonnull(strstr(o.failure, "pre.sh: exit 7: "
	    "cannot lock tables"));
	marker = out_read("marker");
	ck_assert_ptr_null(marker);
	outcome_free(&o);
}
END_TEST

/*
 * Proves a hung hook is killed at the phase timeout (500 ms) with its
 * whole process group, including a child it left sleeping, that it is
 * reported TIMEOUT (SIGKILL) with what it printed, and that the hooks
 * after it are NOT_RUN.
 */
START_TEST(test_timeout)
{
	struct outcome	 o;
	pid_t		 pgid, bg;
	char		*marker;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755,
	    "echo $$ > %1$s/pid\nsleep 30 &\necho $! > %1$s/bg\n"
	    "echo waiting\nsleep 30");
	hook_dir("pre.d", 0755);
	hook_write("pre.d/10-a", 0755, "echo ran > %1$s/marker");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 500, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "pre.sh", HOOK_TIMEOUT);
	ck_assert_int_eq(o.h[0].signo, SIGKILL);
	ck_assert_int_eq(o.h[0].exit_code, -1);
	ck_assert_str_eq(o.h[0].reason, "timed out after 500 ms");
	ck_assert_str_eq(o.h[0].output, "waiting\n");
	ck_assert_msg(o.h[0].elapsed_ms >= 450 && o.h[0].elapsed_ms < 3000,
	    "killed after %u ms", o.h[0].elapsed_ms);
	assert_hook(&o, 1, "pre.d/10-a", HOOK_NOT_RUN);
	ck_assert_str_eq(o.h[1].reason, "not run: the phase timed out");
	ck_assert_ptr_nonnull(strstr(o.failure, "timed out"));

	pgid = out_pid("pid");
	bg = out_pid("bg");
	ck_assert_msg(group_gone(pgid, 3000), "process group %ld survived",
	    (long)pgid);
	ck_assert_int_eq(kill(bg, 0), -1);
	marker = out_read("marker");
	ck_assert_ptr_null(marker);
	outcome_free(&o);
}
END_TEST

/*
 * Proves a world-writable hook is refused with the reason, and that in
 * pre the refusal is found before anything runs (pre.sh does not run);
 * in post the other hooks still run but the phase fails.
 */
START_TEST(test_refused_writable)
{
	struct outcome	 o;
	char		*marker;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755, "echo ran > %1$s/pre-marker");
	hook_dir("pre.d", 0755);
	hook_write("pre.d/20-b", 0777, "exit 0");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "pre.sh", HOOK_NOT_RUN);
	assert_hook(&o, 1, "pre.d/20-b", HOOK_REFUSED);
	ck_assert_str_eq(o.h[1].reason,
	    "writable by group or others (mode 0777)");
	ck_assert_ptr_nonnull(strstr(o.failure, "pre.d/20-b refused: "
	    "writable by group or others (mode 0777)"));
	marker = out_read("pre-marker");
	ck_assert_ptr_null(marker);
	outcome_free(&o);

	hook_dir("post.d", 0755);
	hook_write("post.d/20-b", 0666, "exit 0");
	hook_write("post.sh", 0755, "echo ran > %1$s/post-marker");
	run_phase(HOOKS_PHASE_POST, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "post.d/20-b", HOOK_REFUSED);
	ck_assert_str_eq(o.h[0].reason,
	    "writable by group or others (mode 0666)");
	assert_hook(&o, 1, "post.sh", HOOK_OK);
	marker = out_read("post-marker");
	ck_assert_ptr_nonnull(marker);
	free(marker);
	outcome_free(&o);
}
END_TEST

/*
 * Proves ownership and mode are enforced: a hook owned by uid 65534, one
 * not executable, a group-writable pre.d, and a hooks dir not owned by
 * root (which refuses the whole phase as one result).
 */
START_TEST(test_refused_owner)
{
	struct outcome	 o;
	char		*path;

	if (skipped(__func__))
		return;
	hook_write("post.sh", 0755, "exit 0");
	xasprintf(&path, "%s/post.sh", hooks_dir);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	free(path);
	hook_dir("post.d", 0775);
	run_phase(HOOKS_PHASE_POST, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 2);
	assert_hook(&o, 0, "post.d", HOOK_REFUSED);
	ck_assert_str_eq(o.h[0].reason,
	    "writable by group or others (mode 0775)");
	assert_hook(&o, 1, "post.sh", HOOK_REFUSED);
	ck_assert_str_eq(o.h[1].reason, "owned by uid 65534, must be root");
	outcome_free(&o);

	hook_write("pre.sh", 0644, "exit 0");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	assert_hook(&o, 0, "pre.sh", HOOK_REFUSED);
	ck_assert_str_eq(o.h[0].reason,
	    "not executable by its owner (mode 0644)");
	outcome_free(&o);

	ck_assert_int_eq(chown(hooks_dir, 1000, 1000), 0);
	run_phase(HOOKS_PHASE_ABORT, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_str_eq(o.h[0].path, hooks_dir);
	ck_assert_int_eq(o.h[0].status, HOOK_REFUSED);
	ck_assert_str_eq(o.h[0].reason, "owned by uid 1000, must be root");
	outcome_free(&o);
}
END_TEST

/*
 * Proves symlinks are judged by their target: a link to a good root-owned
 * hook runs (as itself, argv[0] the link), links to a world-writable file
 * and to a directory are refused, and a dangling link is refused, not
 * skipped (someone meant a hook there).
 */
START_TEST(test_symlinks)
{
	struct outcome	 o;
	char		*target, *link, *seen;

	if (skipped(__func__))
		return;
	hook_dir("post.d", 0755);
	hook_dir("lib", 0755);
	hook_write("lib/good", 0755, "echo \"$0\" > %1$s/argv0");
	hook_write("lib/writable", 0777, "exit 0");
	xasprintf(&link, "%s/post.d/40-good", hooks_dir);
	ck_assert_int_eq(symlink("../lib/good", link), 0);
	free(link);
	xasprintf(&link, "%s/post.d/30-writable", hooks_dir);
	ck_assert_int_eq(symlink("../lib/writable", link), 0);
	free(link);
	xasprintf(&link, "%s/post.d/20-dir", hooks_dir);
	ck_assert_int_eq(symlink("../lib", link), 0);
	free(link);
	xasprintf(&link, "%s/post.d/10-dangling", hooks_dir);
	ck_assert_int_eq(symlink("../lib/nothing", link), 0);
	free(link);

	run_phase(HOOKS_PHASE_POST, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 5);
	assert_hook(&o, 0, "post.d/40-good", HOOK_OK);
	assert_hook(&o, 1, "post.d/30-writable", HOOK_REFUSED);
	ck_assert_str_eq(o.h[1].reason,
	    "writable by group or others (mode 0777)");
	assert_hook(&o, 2, "post.d/20-dir", HOOK_REFUSED);
	ck_assert_str_eq(o.h[2].reason, "not a regular file");
	assert_hook(&o, 3, "post.d/10-dangling", HOOK_REFUSED);
	ck_assert_str_eq(o.h[3].reason, "dangling symbolic link");
	assert_hook(&o, 4, "post.sh", HOOK_SKIPPED);
	seen = out_read("argv0");
	xasprintf(&target, "%s/post.d/40-good\n", hooks_dir);
	ck_assert_str_eq(seen, target);
	free(target);
	free(seen);
	outcome_free(&o);
}
END_TEST

/* Find NAME=value in env text (one a line); the value or NULL. */
static char *
env_get(const char *env, const char *name)
{
	const char	*p = env, *end;
	size_t		 len = strlen(name);

	while (*p != '\0') {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > len && strncmp(p, name, len) == 0 &&
		    p[len] == '=')
			return (xstrndup(p + len + 1, (size_t)(end - p) - len -
			    1));
		p = *end == '\0' ? end : end + 1;
	}
	return (NULL);
}

/* Assert env has name=want. */
static void
assert_env(const char *env, const char *name, const char *want)
{
	char	*v = env_get(env, name);

	ck_assert_msg(v != NULL, "%s missing from the hook's environment",
	    name);
	ck_assert_str_eq(v, want);
	free(v);
}

/*
 * Proves a hook gets exactly the documented environment (and nothing of
 * the daemon's: not HOME, not a test variable), with the right values,
 * a deadline timeout seconds from now, and cwd "/".
 */
START_TEST(test_environment)
{
	struct outcome	 o;
	char		*env, *v;
	long long	 deadline, now;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755, "env > %1$s/env\npwd > %1$s/cwd");
	now = (long long)time(NULL);
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_ROLLBACK, 30000, &o);
	ck_assert_int_eq(o.ok, 1);
	env = out_read("env");
	ck_assert_ptr_nonnull(env);
	assert_env(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin");
	assert_env(env, "EVE_SNAPSHOT_PHASE", "pre");
	assert_env(env, "EVE_SNAPSHOT_OPERATION", "rollback");
	assert_env(env, "EVE_SNAPSHOT_NAME", NAME);
	assert_env(env, "EVE_SNAPSHOT_UUID", UUID);
	assert_env(env, "EVE_SNAPSHOT_DISKS", "/dev/sdc /dev/sdd");
	v = env_get(env, "EVE_SNAPSHOT_DEADLINE");
	ck_assert_ptr_nonnull(v);
	deadline = strtoll(v, NULL, 10);
	free(v);
	ck_assert_msg(deadline >= now + 30 && deadline <= now + 32,
	    "deadline %lld, now %lld", deadline, now);
	ck_assert_ptr_null(env_get(env, "EVG_HOOKS_LEAK"));
	ck_assert_ptr_null(env_get(env, "HOME"));
	free(env);
	v = out_read("cwd");
	ck_assert_str_eq(v, "/\n");
	free(v);
	outcome_free(&o);
}
END_TEST

/*
 * Proves stdin is /dev/null (cat ends at once instead of waiting on the
 * test's stdin) and that no descriptor of the daemon reaches a hook.
 */
START_TEST(test_stdin_fds)
{
	struct outcome	 o;
	char		*s;
	int		 fd;

	if (skipped(__func__))
		return;
	fd = open("/dev/zero", O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(dup2(fd, LEAK_FD), LEAK_FD);
	close(fd);
	hook_write("pre.sh", 0755,
	    "readlink /proc/self/fd/0 > %1$s/stdin\n"
	    "cat > %1$s/cat\n"
	    "if [ -e /proc/self/fd/57 ]; then echo leaked; fi > %1$s/fds");
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 10000, &o);
	close(LEAK_FD);
	ck_assert_int_eq(o.ok, 1);
	s = out_read("stdin");
	ck_assert_str_eq(s, "/dev/null\n");
	free(s);
	s = out_read("cat");
	ck_assert_str_eq(s, "");
	free(s);
	s = out_read("fds");
	ck_assert_str_eq(s, "");
	free(s);
	outcome_free(&o);
}
END_TEST

/*
 * Proves only the last HOOKS_OUTPUT_TAIL bytes of a long output are
 * kept: a hook printing 100 000 bytes keeps exactly the last 4096.
 */
START_TEST(test_output_tail)
{
	struct outcome	 o;
	char		*all;
	size_t		 i, len = 0;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755,
	    "i=0\nwhile [ $i -lt 10000 ]; do printf '%%09d\\n' $i; "
	    "i=$((i + 1)); done");
	all = xmalloc(100001);
	for (i = 0; i < 10000; i++)
		len += (size_t)snprintf(all + len, 100001 - len, "%09zu\n", i);
	ck_assert_uint_eq(len, 100000);
	run_phase(HOOKS_PHASE_PRE, HOOKS_OP_CREATE, 15000, &o);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_uint_eq(HOOKS_OUTPUT_TAIL, 4096);
	ck_assert_uint_eq(o.h[0].output_len, 4096);
	ck_assert_int_eq(memcmp(o.h[0].output, all + len - 4096, 4096), 0);
	free(all);
	outcome_free(&o);
}
END_TEST

/*
 * Proves abort is teardown: every post hook runs even when some fail (a
 * non-zero exit, a signal, a file that cannot be executed: no shell
 * fallback), and the phase fails naming the first failure.
 */
START_TEST(test_abort_runs_all)
{
	struct outcome	 o;
	char		*order, *path;
	FILE		*f;

	if (skipped(__func__))
		return;
	hook_dir("post.d", 0755);
	hook_write("post.d/10-a", 0755, "echo 10-a >> %1$s/order");
	hook_write("post.d/20-b", 0755,
	    "echo 20-b >> %1$s/order\necho 'cannot unlock' >&2\nexit 3");
	hook_write("post.d/30-c", 0755,
	    "echo 30-c >> %1$s/order\nkill -TERM $$");
	xasprintf(&path, "%s/post.d/40-d", hooks_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "echo no interpreter line\n");
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	free(path);
	hook_write("post.sh", 0755, "echo post.sh >> %1$s/order");

	run_phase(HOOKS_PHASE_ABORT, HOOKS_OP_CREATE, 10000, &o);
	ck_assert_int_eq(o.ok, 0);
	ck_assert_uint_eq(o.n, 5);
	assert_hook(&o, 0, "post.d/40-d", HOOK_FAILED);
	ck_assert_int_eq(o.h[0].exit_code, 127);
	ck_assert_ptr_nonnull(strstr(o.h[0].output, "Exec format error"));
	assert_hook(&o, 1, "post.d/30-c", HOOK_FAILED);
	ck_assert_int_eq(o.h[1].signo, SIGTERM);
	ck_assert_int_eq(o.h[1].exit_code, -1);
	ck_assert_ptr_nonnull(strstr(o.h[1].reason, "killed by signal 15"));
	assert_hook(&o, 2, "post.d/20-b", HOOK_FAILED);
	ck_assert_int_eq(o.h[2].exit_code, 3);
	assert_hook(&o, 3, "post.d/10-a", HOOK_OK);
	assert_hook(&o, 4, "post.sh", HOOK_OK);
	ck_assert_ptr_nonnull(strstr(o.failure, "post.d/40-d: exit 127"));
	order = out_read("order");
	ck_assert_str_eq(order, "30-c\n20-b\n10-a\npost.sh\n");
	free(order);
	outcome_free(&o);
}
END_TEST

/* What the cancel test's timer needs. */
struct canceller {
	struct hooks_run	*run;
	int			 fired;
};

/* Timer: cancel the run once the hook has started. */
static void
cancel_cb(evutil_socket_t fd, short events, void *arg)
{
	struct canceller	*c = arg;
	char			*path;

	(void)fd;
	(void)events;
	xasprintf(&path, "%s/bg", out_dir);
	c->fired = 1;
	ck_assert_msg(access(path, F_OK) == 0, "the hook did not start");
	free(path);
	hooks_run_cancel(c->run);
}

/*
 * Proves hooks_run_cancel() kills the running hook's whole group, that
 * the callback never runs afterwards, and that the killed hook is still
 * reaped from the loop (dispatch returns once it is, leaving nothing).
 */
START_TEST(test_cancel)
{
	struct hooks_params	 p = params(HOOKS_PHASE_PRE, HOOKS_OP_CREATE,
				    30000);
	struct outcome		 o;
	struct canceller	 c;
	struct event		*ev;
	struct timeval		 tv = { 0, 300 * 1000 };
	struct timespec		 start, end;
	char			*cause = NULL;
	long			 ms;
	pid_t			 pgid;

	if (skipped(__func__))
		return;
	hook_write("pre.sh", 0755,
	    "echo $$ > %1$s/pid\nsleep 30 &\necho $! > %1$s/bg\nwait");
	memset(&o, 0, sizeof o);
	memset(&c, 0, sizeof c);
	o.base = event_base_new();
	c.run = hooks_run_start(o.base, &p, outcome_cb, &o, &cause);
	ck_assert_ptr_nonnull(c.run);
	ev = evtimer_new(o.base, cancel_cb, &c);
	evtimer_add(ev, &tv);
	clock_gettime(CLOCK_MONOTONIC, &start);
	event_base_dispatch(o.base);
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (end.tv_sec - start.tv_sec) * 1000 +
	    (end.tv_nsec - start.tv_nsec) / 1000000;
	ck_assert_int_eq(c.fired, 1);
	ck_assert_int_eq(o.calls, 0);
	ck_assert_msg(ms < 5000, "dispatch took %ld ms", ms);
	pgid = out_pid("pid");
	ck_assert_msg(group_gone(pgid, 3000), "process group %ld survived",
	    (long)pgid);
	event_free(ev);
	event_base_free(o.base);

	/* Cancelled before its first step: nothing runs at all. */
	o.base = event_base_new();
	c.run = hooks_run_start(o.base, &p, outcome_cb, &o, &cause);
	ck_assert_ptr_nonnull(c.run);
	hooks_run_cancel(c.run);
	ck_assert_int_eq(event_base_dispatch(o.base), 1);
	ck_assert_int_eq(o.calls, 0);
	event_base_free(o.base);
}
END_TEST

/*
 * Proves bad params are refused up front with a cause (relative dir, a
 * disk with white space or not absolute, a name with a newline) and the
 * host's timeouts are bounded.
 */
START_TEST(test_params)
{
	static const char *const	 bad_disk[] = { "/dev/sdc /dev/sdd" };
	static const char *const	 rel_disk[] = { "sdc" };
	struct hooks_params		 p = params(HOOKS_PHASE_PRE,
					    HOOKS_OP_CREATE, 1000);
	struct event_base		*base = event_base_new();
	char				*cause = NULL;

	p.dir = "etc/eve/snapshots";
	ck_assert_ptr_null(hooks_run_start(base, &p, outcome_cb, NULL,
	    &cause));
	ck_assert_ptr_nonnull(strstr(cause, "not an absolute path"));
	free(cause);
	p.dir = "/etc/eve/snapshots";

	p.disks = bad_disk;
	p.ndisks = 1;
	ck_assert_ptr_null(hooks_run_start(base, &p, outcome_cb, NULL,
	    &cause));
	free(cause);
	p.disks = rel_disk;
	ck_assert_ptr_null(hooks_run_start(base, &p, outcome_cb, NULL,
	    &cause));
	free(cause);
	p.ndisks = 0;
	p.name = "two\nlines";
	ck_assert_ptr_null(hooks_run_start(base, &p, outcome_cb, NULL,
	    &cause));
	free(cause);
	event_base_free(base);

	ck_assert_uint_eq(hooks_timeout_clamp(0), HOOKS_TIMEOUT_DEFAULT_MS);
	ck_assert_uint_eq(hooks_timeout_clamp(1), HOOKS_TIMEOUT_MIN_MS);
	ck_assert_uint_eq(hooks_timeout_clamp(5000), 5000);
	ck_assert_uint_eq(hooks_timeout_clamp(0xffffffffU),
	    HOOKS_TIMEOUT_MAX_MS);
	ck_assert_uint_eq(HOOKS_TIMEOUT_DEFAULT_MS, 60000);
	ck_assert_uint_eq(HOOKS_TIMEOUT_MAX_MS, 30 * 60 * 1000);
}
END_TEST

Suite *
suite_hooks(void)
{
	Suite	*s = suite_create("hooks");
	TCase	*tc = tcase_create("run");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, hooks_setup, hooks_teardown);
	tcase_add_test(tc, test_pre_ok);
	tcase_add_test(tc, test_pre_order);
	tcase_add_test(tc, test_post_order);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_pre_fails);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused_writable);
	tcase_add_test(tc, test_refused_owner);
	tcase_add_test(tc, test_symlinks);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_stdin_fds);
	tcase_add_test(tc, test_output_tail);
	tcase_add_test(tc, test_abort_runs_all);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_params);
	suite_add_tcase(s, tc);
	return (s);
}
