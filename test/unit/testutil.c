/* Shared unit-test helpers: fake trees, cleanup, quiet tool runs. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Milliseconds since start. */
long
testutil_ms_since(const struct timespec *start)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* Fork a child that appends to path and fsyncs; exits 0 if both worked. */
pid_t
testutil_writer_start(const char *path)
{
	char	buf[4096];
	pid_t	pid;
	int	fd;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid != 0)
		return (pid);
	memset(buf, 'w', sizeof buf);
	if ((fd = open(path, O_WRONLY | O_APPEND)) == -1)
		_exit(2);
	if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
		_exit(3);
	if (fsync(fd) == -1)
		_exit(4);
	_exit(0);
}

/* Wait up to ms for the child: its exit code, or -1 if still running. */
int
testutil_writer_wait(pid_t pid, unsigned int ms)
{
	struct timespec	start;
	int		status;
	pid_t		r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ne(r, -1);
		if (r == pid)
			return (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
		if (testutil_ms_since(&start) >= (long)ms)
			return (-1);
		usleep(10000);
	}
}

/* Kill and reap a writer that never finished. */
void
testutil_writer_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
