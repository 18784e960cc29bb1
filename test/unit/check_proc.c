/*
 * Unit tests for common/proc.c: real /bin/sh children driven by a real
 * event loop (exit codes, output tails, timeout, exec failure, cancel,
 * parallel children, a loop that never blocks), and the options the
 * guest's hooks use (environment, cwd, umask, merged output, done at
 * exit, UTF-8 tails, an early expiry).
 *
 * The runner reaps only its own children.  Tests whose children leave
 * orphans make the test process a subreaper and reap those orphans
 * themselves, after the callback, so they never take a status the runner
 * waits for.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "proc.h"
#include "suites.h"
#include "xmalloc.h"

/* No test here should need the loop for longer than this. */
#define GUARD_MS	8000

/* What one child's callback saw, copied out of the borrowed result. */
struct outcome {
	int			 calls;
	struct proc_result	 r;
	char			*desc;
	int			 order;
};

struct loop {
	struct event_base	*base;
	struct event		*guard;
	int			 pending;
	int			 finished;
	int			 guard_fired;
};

static struct loop	 lp;

/* The guard timer: the loop ran too long, so stop it and fail. */
static void
guard_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	lp.guard_fired = 1;
	event_base_loopbreak(lp.base);
}

/* A fresh event base with proc_init() and an armed guard. */
static void
loop_setup(void)
{
	struct timeval	tv = { GUARD_MS / 1000, 0 };

	memset(&lp, 0, sizeof lp);
	lp.base = event_base_new();
	ck_assert_ptr_nonnull(lp.base);
	proc_init(lp.base);
	lp.guard = evtimer_new(lp.base, guard_cb, NULL);
	evtimer_add(lp.guard, &tv);
}

/* Shut proc down and free the base. */
static void
loop_teardown(void)
{
	proc_shutdown();
	event_free(lp.guard);
	event_base_free(lp.base);
}

/* Run the loop until every pending child has called back. */
static void
loop_run(void)
{
	while (lp.pending > 0 && !lp.guard_fired)
		event_base_loop(lp.base, EVLOOP_ONCE);
	ck_assert_msg(!lp.guard_fired, "loop guard fired: %d children "
	    "still pending", lp.pending);
}

/* Run the loop for ms milliseconds. */
static void
loop_for(unsigned int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(lp.base, &tv);
	event_base_dispatch(lp.base);
}

/* Callback: copy the result into the outcome and count it. */
static void
done_cb(const struct proc_result *r, void *arg)
{
	struct outcome	*o = arg;

	o->calls++;
	o->r = *r;
	o->r.out = xmalloc(r->out_len + 1);
	memcpy(o->r.out, r->out, r->out_len + 1);
	o->r.err = xmalloc(r->err_len + 1);
	memcpy(o->r.err, r->err, r->err_len + 1);
	o->desc = proc_describe(r);
	o->order = ++lp.finished;
	if (--lp.pending == 0)
		event_base_loopbreak(lp.base);
}

/* Free what done_cb() copied. */
static void
outcome_free(struct outcome *o)
{
	free(o->r.out);
	free(o->r.err);
	free(o->desc);
}

/* Start "/bin/sh -c script" with callback into o. */
static struct proc *
start_sh(const char *script, unsigned int timeout_ms, size_t max,
    struct outcome *o)
{
	char		*argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char		*cause = NULL;
	struct proc	*p;

	memset(o, 0, sizeof *o);
	p = proc_spawn(argv, timeout_ms, max, done_cb, o, &cause);
	ck_assert_msg(p != NULL, "proc_spawn: %s", cause);
	lp.pending++;
	return (p);
}

/* Run one script to completion. */
static void
run_sh(const char *script, unsigned int timeout_ms, size_t max,
    struct outcome *o)
{
	start_sh(script, timeout_ms, max, o);
	loop_run();
	ck_assert_int_eq(o->calls, 1);
}

/*
 * Poll until the process group pgid is gone (reaped), up to ms; with
 * orphans, also reap the children that came back to us (call only once
 * the runner reaped its own).
 */
static int
group_gone_reaping(pid_t pgid, unsigned int ms, int orphans)
{
	unsigned int	waited;

	for (waited = 0; waited < ms; waited += 10) {
		while (orphans && waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) == -1 && errno == ESRCH)
			return (1);
		loop_for(10);
	}
	return (0);
}

/* Poll until the process group pgid is gone, reaped by the runner. */
static int
group_gone(pid_t pgid, unsigned int ms)
{
	return (group_gone_reaping(pgid, ms, 0));
}

/* Proves exit codes and killing signals are reported and described. */
START_TEST(test_exit_codes)
{
	struct outcome	o;

	loop_setup();
	run_sh("exit 0", 5000, 4096, &o);
	ck_assert_int_eq(o.r.exited, 1);
	ck_assert_int_eq(o.r.status, 0);
	ck_assert_int_eq(o.r.signo, 0);
	ck_assert_int_eq(o.r.timed_out, 0);
	ck_assert_str_eq(o.desc, "exit 0");
	outcome_free(&o);

	run_sh("exit 3", 5000, 4096, &o);
	ck_assert_int_eq(o.r.exited, 1);
	ck_assert_int_eq(o.r.status, 3);
	ck_assert_str_eq(o.desc, "exit 3");
	outcome_free(&o);

	run_sh("kill -TERM $$", 5000, 4096, &o);
	ck_assert_int_eq(o.r.exited, 0);
	ck_assert_int_eq(o.r.signo, SIGTERM);
	ck_assert_int_eq(o.r.timed_out, 0);
	ck_assert_str_eq(o.desc, "killed by signal 15");
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/* Proves stdout and stderr are captured separately, NUL-terminated. */
START_TEST(test_capture)
{
	struct outcome	o;

	loop_setup();
	run_sh("echo out; echo err >&2; printf more", 5000, 4096, &o);
	ck_assert_str_eq(o.r.out, "out\nmore");
	ck_assert_uint_eq(o.r.out_len, 8);
	ck_assert_str_eq(o.r.err, "err\n");
	ck_assert_uint_eq(o.r.err_len, 4);
	outcome_free(&o);

	run_sh("echo progress; echo \"qemu-img: Could not open 'x': No such "
	    "file\" >&2; exit 1", 5000, 4096, &o);
	ck_assert_str_eq(o.desc, "exit 1: qemu-img: Could not open 'x': "
	    "No such file");
	outcome_free(&o);

	/* Nothing on stderr: the end of stdout explains instead. */
	run_sh("echo 'cannot open pool'; exit 2", 5000, 4096, &o);
	ck_assert_str_eq(o.desc, "exit 2: cannot open pool");
	outcome_free(&o);

	/* A max of 0 keeps nothing. */
	run_sh("echo out; echo err >&2", 5000, 0, &o);
	ck_assert_uint_eq(o.r.out_len, 0);
	ck_assert_str_eq(o.r.out, "");
	ck_assert_uint_eq(o.r.err_len, 0);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/* Proves only the last max bytes are kept, exactly, on both streams. */
START_TEST(test_output_tail)
{
	struct outcome	 o;
	char		*full, *p;
	size_t		 i, len, cap = 2000000;

	loop_setup();
	run_sh("head -c 1000000 /dev/zero | tr '\\0' x; printf END; "
	    "head -c 300000 /dev/zero | tr '\\0' y >&2", 10000, 4096, &o);
	ck_assert_int_eq(o.r.status, 0);
	ck_assert_uint_eq(o.r.out_len, 4096);
	ck_assert_uint_eq(strlen(o.r.out), 4096);
	for (i = 0; i < 4093; i++)
		ck_assert_int_eq(o.r.out[i], 'x');
	ck_assert_str_eq(o.r.out + 4093, "END");
	ck_assert_uint_eq(o.r.err_len, 4096);
	ck_assert_int_eq(o.r.err[0], 'y');
	ck_assert_int_eq(o.r.err[4095], 'y');
	outcome_free(&o);

	/* Distinct lines prove the kept bytes are the last ones, in order. */
	run_sh("seq 1 200000", 10000, 5000, &o);
	full = xmalloc(cap);
	for (i = 1, p = full; i <= 200000; i++)
		p += sprintf(p, "%zu\n", i);
	len = (size_t)(p - full);
	ck_assert_uint_eq(o.r.out_len, 5000);
	ck_assert_int_eq(memcmp(o.r.out, full + len - 5000, 5000), 0);
	free(full);
	outcome_free(&o);

	/* Output shorter than max is kept whole. */
	run_sh("seq 1 1000", 10000, 1000000, &o);
	ck_assert_uint_eq(o.r.out_len, 3893);
	ck_assert_int_eq(strncmp(o.r.out, "1\n2\n3\n", 6), 0);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves the timeout kills the whole process group: after the callback no
 * process of the group (here a background sleep too) survives.
 */
START_TEST(test_timeout_kills_group)
{
	struct outcome	o;
	pid_t		pgid;

	/* Orphans come back to us, so the check below cannot see zombies. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	loop_setup();
	run_sh("echo $$; sleep 30 & sleep 30", 300, 4096, &o);
	ck_assert_int_eq(o.r.timed_out, 1);
	ck_assert_int_eq(o.r.exited, 0);
	ck_assert_int_eq(o.r.signo, SIGKILL);
	/* libevent may time with CLOCK_MONOTONIC_COARSE: a tick early. */
	ck_assert_uint_ge(o.r.elapsed_ms, 290);
	ck_assert_uint_lt(o.r.elapsed_ms, 5000);
	ck_assert_msg(strncmp(o.desc, "timed out after ", 16) == 0,
	    "desc '%s'", o.desc);
	pgid = (pid_t)atol(o.r.out);
	ck_assert_int_gt(pgid, 1);
	ck_assert_msg(group_gone_reaping(pgid, 2000, 1), "process group %ld "
	    "survived", (long)pgid);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/* Proves an exec failure is a result: status 127 and a message. */
START_TEST(test_exec_failure)
{
	struct outcome	 o;
	char		*argv[] = { "evg-no-such-program", "-x", NULL };
	char		*cause = NULL;

	loop_setup();
	memset(&o, 0, sizeof o);
	ck_assert_ptr_nonnull(proc_spawn(argv, 5000, 4096, done_cb, &o,
	    &cause));
	lp.pending++;
	loop_run();
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.r.exited, 1);
	ck_assert_int_eq(o.r.status, 127);
	ck_assert_str_eq(o.r.err, "cannot run 'evg-no-such-program': No such "
	    "file or directory\n");
	ck_assert_str_eq(o.desc, "exit 127: cannot run 'evg-no-such-program': "
	    "No such file or directory");
	outcome_free(&o);

	argv[0] = NULL;
	ck_assert_ptr_null(proc_spawn(argv, 5000, 4096, done_cb, &o, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	loop_teardown();
}
END_TEST

/*
 * Proves cancel kills the child, never calls back, and still reaps it:
 * no zombie is left, whether cancelled at once or while running.
 */
START_TEST(test_cancel)
{
	struct outcome	 o1, o2;
	struct proc	*p;
	char		 dir[] = "/tmp/evg-proc-XXXXXX", path[64], script[256];
	char		 buf[32];
	FILE		*f;
	pid_t		 pid = 0;
	int		 i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/pid", dir);
	snprintf(script, sizeof script, "echo $$ >%s.tmp; mv %s.tmp %s; "
	    "exec sleep 30", path, path, path);
	loop_setup();

	p = start_sh("sleep 30", 0, 4096, &o1);
	proc_cancel(p);
	lp.pending--;

	p = start_sh(script, 0, 4096, &o2);
	for (i = 0; i < 300 && pid == 0; i++) {
		loop_for(10);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(buf, sizeof buf, f) != NULL)
				pid = (pid_t)atol(buf);
			fclose(f);
		}
	}
	ck_assert_int_gt(pid, 1);
	proc_cancel(p);
	lp.pending--;
	/* Reaped from the loop, without proc_shutdown(). */
	ck_assert_msg(group_gone(pid, 2000), "cancelled child %ld not reaped",
	    (long)pid);
	loop_for(50);
	ck_assert_int_eq(o1.calls, 0);
	ck_assert_int_eq(o2.calls, 0);
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	loop_teardown();
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Proves several children run in parallel and finish independently. */
START_TEST(test_parallel)
{
	struct outcome	o[4];
	struct timespec	t0, t1;
	long		ms;
	int		i;

	loop_setup();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start_sh("sleep 0.6; echo slow", 5000, 4096, &o[0]);
	start_sh("sleep 0.3; echo middle >&2; exit 4", 5000, 4096, &o[1]);
	start_sh("echo fast", 5000, 4096, &o[2]);
	start_sh("sleep 0.6; echo slow2", 5000, 4096, &o[3]);
	loop_run();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms < 1500, "children ran one after another (%ld ms)",
	    ms);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(o[i].calls, 1);
	ck_assert_str_eq(o[0].r.out, "slow\n");
	ck_assert_str_eq(o[1].r.err, "middle\n");
	ck_assert_int_eq(o[1].r.status, 4);
	ck_assert_str_eq(o[2].r.out, "fast\n");
	ck_assert_str_eq(o[3].r.out, "slow2\n");
	ck_assert_int_eq(o[2].order, 1);
	ck_assert_int_eq(o[1].order, 2);
	ck_assert_int_gt(o[0].order, 2);
	ck_assert_int_gt(o[3].order, 2);
	for (i = 0; i < 4; i++)
		outcome_free(&o[i]);
	loop_teardown();
}
END_TEST

static int	ticks;

/* A repeating timer's tick. */
static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ticks++;
}

/* Proves a running child never blocks the loop: a 10 ms timer keeps firing. */
START_TEST(test_loop_not_blocked)
{
	struct outcome	 o;
	struct event	*tick;
	struct timeval	 tv = { 0, 10000 };

	loop_setup();
	ticks = 0;
	tick = event_new(lp.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	run_sh("sleep 0.3", 5000, 4096, &o);
	ck_assert_int_eq(o.r.status, 0);
	ck_assert_msg(ticks >= 15, "only %d ticks in 300 ms", ticks);
	event_free(tick);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves the child's environment: own process group, stdin /dev/null, no
 * inherited descriptors, no ignored or blocked signals even though the
 * parent ignores SIGPIPE (as the daemon does).
 */
/* Bits of signals 32 and 33 in /proc/PID/status masks. */
#define GLIBC_RESERVED_SIGS	0x180000000ULL

START_TEST(test_child_environment)
{
	struct outcome	 o;
	int		 leak[2];
	char		 expect[64];
	char		*grep[] = { "grep", "-E", "^Sig(Blk|Ign)",
			    "/proc/self/status", NULL }, *cause = NULL;
	long		 pid, pgid;
	unsigned long long blk, ign;
	void		(*old)(int);

	ck_assert_int_eq(pipe(leak), 0);
	old = signal(SIGPIPE, SIG_IGN);
	loop_setup();
	run_sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat); "
	    "readlink /proc/$$/fd/0; ls /proc/$$/fd", 5000, 4096, &o);
	ck_assert_int_eq(sscanf(o.r.out, "%ld %ld", &pid, &pgid), 2);
	ck_assert_int_eq(pid, pgid);
	snprintf(expect, sizeof expect, "%ld %ld\n", pid, pgid);
	ck_assert_int_eq(strncmp(o.r.out, expect, strlen(expect)), 0);
	ck_assert_str_eq(o.r.out + strlen(expect), "/dev/null\n0\n1\n2\n");
	outcome_free(&o);

	/* Not through sh: dash blocks signals itself while it waits. */
	memset(&o, 0, sizeof o);
	ck_assert_ptr_nonnull(proc_spawn(grep, 5000, 4096, done_cb, &o,
	    &cause));
	lp.pending++;
	loop_run();
	/*
	 * Signals 32 and 33 are glibc's own (cancellation, setxid): no
	 * program can change their disposition, and an ignoring parent (as
	 * CI's can be) passes them on.  Every other signal must be clean.
	 */
	ck_assert_int_eq(sscanf(o.r.out, "SigBlk:\t%llx\nSigIgn:\t%llx",
	    &blk, &ign), 2);
	ck_assert_uint_eq(blk & ~GLIBC_RESERVED_SIGS, 0);
	ck_assert_uint_eq(ign & ~GLIBC_RESERVED_SIGS, 0);
	outcome_free(&o);
	loop_teardown();
	signal(SIGPIPE, old);
	close(leak[0]);
	close(leak[1]);
}
END_TEST

/* Start spec (argv and all) with callback into o. */
static struct proc *
start_spec(struct proc_spec *spec, struct outcome *o)
{
	char		*cause = NULL;
	struct proc	*p;

	memset(o, 0, sizeof o[0]);
	spec->base = lp.base;
	p = proc_start(spec, done_cb, o, &cause);
	ck_assert_msg(p != NULL, "proc_start: %s", cause);
	lp.pending++;
	return (p);
}

/*
 * Proves a spec's environment replaces this process's, its cwd and umask
 * are the child's, and with PROC_MERGE_OUTPUT stderr lands in out, in
 * order, with err empty.
 */
START_TEST(test_spec_environment)
{
	struct outcome	 o;
	char		*argv[] = { "sh", "-c", "echo \"$FOO|$HOME|$PATH\"; "
			    "pwd; umask; echo oops >&2; env | wc -l", NULL };
	char		*envp[] = { "FOO=bar baz", "PATH=/usr/bin:/bin", NULL };
	struct proc_spec spec = {
		.argv = argv,
		.envp = envp,
		.cwd = "/tmp",
		.umask = 027,
		.timeout_ms = 5000,
		.max_output = 4096,
		.flags = PROC_MERGE_OUTPUT | PROC_SET_UMASK,
	};

	setenv("HOME", "/must-not-leak", 1);
	loop_setup();
	start_spec(&spec, &o);
	loop_run();
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.r.status, 0);
	/* sh itself adds PWD (and may add others): at most a few lines. */
	ck_assert_msg(strncmp(o.r.out, "bar baz||/usr/bin:/bin\n/tmp\n0027\n"
	    "oops\n", 33) == 0, "out '%s'", o.r.out);
	ck_assert_uint_eq(o.r.err_len, 0);
	ck_assert_str_eq(o.r.err, "");
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves PROC_EXEC_PATH runs argv[0] as the path it is: a script without
 * "#!" is not handed to /bin/sh, and the failure names the path unquoted;
 * a cwd that cannot be entered is a result too.
 */
START_TEST(test_exec_path)
{
	struct outcome	 o;
	char		 dir[] = "/tmp/evg-proc-XXXXXX", path[64];
	char		*argv[] = { path, NULL }, *expect;
	struct proc_spec spec = {
		.argv = argv,
		.timeout_ms = 5000,
		.max_output = 4096,
		.flags = PROC_EXEC_PATH | PROC_MERGE_OUTPUT,
	};
	FILE		*f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/noshebang", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "echo ran\n");
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	loop_setup();
	start_spec(&spec, &o);
	loop_run();
	ck_assert_int_eq(o.r.status, 127);
	xasprintf(&expect, "cannot run %s: Exec format error\n", path);
	ck_assert_str_eq(o.r.out, expect);
	free(expect);
	outcome_free(&o);

	spec.cwd = "/nonexistent-evg-dir";
	start_spec(&spec, &o);
	loop_run();
	ck_assert_int_eq(o.r.status, 127);
	ck_assert_str_eq(o.r.out, "cannot change directory to "
	    "/nonexistent-evg-dir\n");
	outcome_free(&o);
	loop_teardown();
	unlink(path);
	rmdir(dir);
}
END_TEST

/*
 * Proves the timeout kills the whole group, grandchildren included (a
 * shell started by the child's shell, which starts its own sleep), and
 * the callback still comes exactly once.
 */
START_TEST(test_timeout_grandchild)
{
	struct outcome	o;
	pid_t		pgid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	loop_setup();
	run_sh("echo $$; sh -c 'sleep 30; echo never' & sh -c 'sleep 31'; "
	    "echo never", 300, 4096, &o);
	ck_assert_int_eq(o.r.timed_out, 1);
	ck_assert_int_eq(o.r.signo, SIGKILL);
	pgid = (pid_t)atol(o.r.out);
	ck_assert_int_gt(pgid, 1);
	ck_assert_ptr_null(strstr(o.r.out, "never"));
	ck_assert_msg(group_gone_reaping(pgid, 2000, 1), "process group %ld "
	    "survived", (long)pgid);
	ck_assert_int_eq(o.calls, 1);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves proc_expire() is the timeout, now: the group is killed and the
 * result says timed out; on a child already done it changes nothing.
 */
START_TEST(test_expire)
{
	struct outcome	 o;
	struct proc	*p;

	loop_setup();
	p = start_sh("echo started; exec sleep 30", 0, 4096, &o);
	loop_for(100);
	ck_assert_int_eq(o.calls, 0);
	proc_expire(p);
	loop_run();
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.r.timed_out, 1);
	ck_assert_int_eq(o.r.signo, SIGKILL);
	ck_assert_str_eq(o.r.out, "started\n");
	ck_assert_uint_lt(o.r.elapsed_ms, 5000);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves exactly one callback: without PROC_EXIT_ONLY only once the
 * background process holding the pipes let go, with it as soon as the
 * child exits (what comes later is not collected); and no second call
 * however long the loop goes on.
 */
START_TEST(test_one_callback)
{
	struct outcome	 o[2];
	char		*argv[] = { "/bin/sh", "-c", "echo first; "
			    "(sleep 0.4; echo late) & exit 5", NULL };
	struct proc_spec spec = {
		.argv = argv,
		.timeout_ms = 5000,
		.max_output = 4096,
		.flags = PROC_EXIT_ONLY,
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	loop_setup();
	run_sh("echo first; (sleep 0.4; echo late) & exit 5", 5000, 4096,
	    &o[0]);
	ck_assert_int_eq(o[0].r.status, 5);
	ck_assert_str_eq(o[0].r.out, "first\nlate\n");
	ck_assert_uint_ge(o[0].r.elapsed_ms, 350);

	start_spec(&spec, &o[1]);
	loop_run();
	ck_assert_int_eq(o[1].r.status, 5);
	ck_assert_str_eq(o[1].r.out, "first\n");
	ck_assert_uint_lt(o[1].r.elapsed_ms, 350);
	loop_for(700);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	ck_assert_int_eq(o[0].calls, 1);
	ck_assert_int_eq(o[1].calls, 1);
	outcome_free(&o[0]);
	outcome_free(&o[1]);
	loop_teardown();
}
END_TEST

/*
 * Proves PROC_TAIL_UTF8 never begins a tail inside a character: the cut
 * lands on a two-byte "é", which is dropped whole.
 */
START_TEST(test_tail_utf8)
{
	struct outcome	 o;
	char		*argv[] = { "/bin/sh", "-c", "printf 'xx\\303\\251abc'",
			    NULL };
	struct proc_spec spec = {
		.argv = argv,
		.timeout_ms = 5000,
		.max_output = 4,
		.flags = PROC_TAIL_UTF8 | PROC_MERGE_OUTPUT,
	};

	loop_setup();
	start_spec(&spec, &o);
	loop_run();
	ck_assert_str_eq(o.r.out, "abc");
	ck_assert_uint_eq(o.r.out_len, 3);
	outcome_free(&o);

	spec.max_output = 5;
	start_spec(&spec, &o);
	loop_run();
	ck_assert_str_eq(o.r.out, "\303\251abc");
	outcome_free(&o);

	/* Without the flag the last bytes are kept as they are. */
	spec.max_output = 4;
	spec.flags = PROC_MERGE_OUTPUT;
	start_spec(&spec, &o);
	loop_run();
	ck_assert_str_eq(o.r.out, "\251abc");
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/*
 * Proves a child reaped behind the runner's back (waitpid(pid) by someone
 * else) ends with its status lost, and the callback still comes once.
 */
START_TEST(test_status_lost)
{
	struct outcome	 o;
	struct proc	*p;

	loop_setup();
	p = start_sh("exit 3", 5000, 4096, &o);
	ck_assert_int_eq(waitpid(proc_pid(p), NULL, 0), proc_pid(p));
	loop_run();
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.r.lost, 1);
	ck_assert_int_eq(o.r.exited, 0);
	outcome_free(&o);
	loop_teardown();
}
END_TEST

/* Describe one synthetic result with the given exit status and stderr. */
static char *
describe(int exited, int status, int signo, const char *err)
{
	struct proc_result	r;

	memset(&r, 0, sizeof r);
	r.exited = exited;
	r.status = status;
	r.signo = signo;
	r.err = (char *)err;
	r.err_len = err != NULL ? strlen(err) : 0;
	return (proc_describe(&r));
}

/* Proves proc_describe() makes one clean line of the end of stderr. */
START_TEST(test_describe)
{
	struct proc_result	 r;
	char			*s, big[1024];

	s = describe(1, 1, 0, "qemu-img: Could not open 'img.qcow2': "
	    "Failed to get shared \"write\" lock\nIs another process using "
	    "the image [img.qcow2]?\n");
	ck_assert_str_eq(s, "exit 1: qemu-img: Could not open 'img.qcow2': "
	    "Failed to get shared \"write\" lock; Is another process using "
	    "the image [img.qcow2]?");
	free(s);

	/* Only the last three lines; blank lines and spaces trimmed. */
	s = describe(1, 2, 0, "one\ntwo\nthree\n\n  four\t\r\nfive  \n\n");
	ck_assert_str_eq(s, "exit 2: three; four; five");
	free(s);
	s = describe(1, 2, 0, "three\nfour\nfive\n");
	ck_assert_str_eq(s, "exit 2: three; four; five");
	free(s);

	s = describe(1, 1, 0, "bad\033[1mbyte\n");
	ck_assert_str_eq(s, "exit 1: bad?[1mbyte");
	free(s);

	s = describe(0, 0, 9, "");
	ck_assert_str_eq(s, "killed by signal 9");
	free(s);
	s = describe(1, 5, 0, " \n\n");
	ck_assert_str_eq(s, "exit 5");
	free(s);
	s = describe(0, 0, 0, NULL);
	ck_assert_str_eq(s, "failed");
	free(s);

	/* A long last line is cut at its start, never mid-UTF-8. */
	memset(big, 'a', sizeof big);
	memcpy(big + sizeof big - 1 - 257, "\xc3\xa9\xc3\xa9", 4);
	big[sizeof big - 1] = '\0';
	s = describe(1, 1, 0, big);
	ck_assert_int_eq(strncmp(s, "exit 1: ...", 11), 0);
	ck_assert_uint_le(strlen(s), 11 + 256);
	ck_assert_int_eq((unsigned char)s[11], 0xc3);
	ck_assert_uint_eq(strlen(s), 11 + 255);
	free(s);

	memset(&r, 0, sizeof r);
	r.timed_out = 1;
	r.signo = 9;
	r.elapsed_ms = 1500;
	r.err = (char *)"noise\n";
	r.err_len = 6;
	s = proc_describe(&r);
	ck_assert_str_eq(s, "timed out after 1500 ms");
	free(s);
}
END_TEST

Suite *
suite_proc(void)
{
	Suite	*s = suite_create("proc");
	TCase	*tc = tcase_create("proc");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_capture);
	tcase_add_test(tc, test_output_tail);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_exec_failure);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_parallel);
	tcase_add_test(tc, test_loop_not_blocked);
	tcase_add_test(tc, test_child_environment);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_spec_environment);
	tcase_add_test(tc, test_exec_path);
	tcase_add_test(tc, test_timeout_grandchild);
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_one_callback);
	tcase_add_test(tc, test_tail_utf8);
	tcase_add_test(tc, test_status_lost);
	suite_add_tcase(s, tc);
	return (s);
}
