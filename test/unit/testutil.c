/* Shared unit-test helpers: fake trees, cleanup, quiet tool runs. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "xmalloc.h"

/* Make every missing directory of root/rel. */
void
testutil_mkdirs(const char *root, const char *rel)
{
	char	*path, *p;

	xasprintf(&path, "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST,
		    "mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST,
	    "mkdir %s: %s", path, strerror(errno));
	free(path);
}

/* nftw callback: remove one entry. */
static int
testutil_rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return (0);
}

/* Remove a tree. */
void
testutil_rmtree(const char *path)
{
	if (path != NULL && *path != '\0')
		nftw(path, testutil_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Is name an executable in PATH (or the sbin directories)? */
int
testutil_have(const char *name)
{
	char	 path[4096], *copy, *dir, *p;
	int	 found = 0;

	xasprintf(&copy, "%s:/usr/sbin:/sbin", getenv("PATH") != NULL ?
	    getenv("PATH") : "/usr/bin:/bin");
	for (p = copy; !found && (dir = strsep(&p, ":")) != NULL;) {
		snprintf(path, sizeof path, "%s/%s", dir, name);
		found = (access(path, X_OK) == 0);
	}
	free(copy);
	return (found);
}

/* Run argv quietly; see testutil.h. */
int
testutil_run(char *const argv[], char *out, size_t outsz)
{
	int	 pfd[2], status, null;
	pid_t	 pid;
	ssize_t	 n;
	size_t	 len = 0;

	if (pipe(pfd) == -1)
		return (-1);
	if ((pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		return (-1);
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while (out != NULL && len + 1 < outsz &&
	    (n = read(pfd[0], out + len, outsz - len - 1)) > 0)
		len += (size_t)n;
	close(pfd[0]);
	if (out != NULL) {
		out[len] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}
