/*
 * Helpers shared by the unit tests: fake file trees under a temp root,
 * removing them, and running a system tool quietly.
 */
#ifndef EVG_TESTUTIL_H
#define EVG_TESTUTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

/* Make every missing directory of root/rel (ck_assert on failure). */
void	testutil_mkdirs(const char *, const char *);
/* Remove a tree (depth first, links not followed); NULL is fine. */
void	testutil_rmtree(const char *);
/* True if name is an executable in PATH or the sbin directories. */
int	testutil_have(const char *);
/*
 * Run argv with stdin and stderr on /dev/null; with out, its first line of
 * stdout (newline cut).  Returns the exit status, or -1.
 */
int	testutil_run(char *const [], char *, size_t);

/* Milliseconds since start (CLOCK_MONOTONIC). */
long	testutil_ms_since(const struct timespec *);
/* Fork a child that appends 4 KiB to path and fsyncs; exits 0 if done. */
pid_t	testutil_writer_start(const char *);
/* Wait up to ms for a writer: its exit code, or -1 if still running. */
int	testutil_writer_wait(pid_t, unsigned int);
/* Kill and reap a writer that never finished. */
void	testutil_writer_kill(pid_t);

#endif
