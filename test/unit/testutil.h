/*
 * Helpers shared by the unit tests: fake file trees under a temp root,
 * removing them, and running a system tool quietly.
 */
#ifndef EVG_TESTUTIL_H
#define EVG_TESTUTIL_H

#include <stddef.h>

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

#endif
