/* Atomic replace-by-rename and whole-file reads. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"
#include "readfile.h"
#include "xmalloc.h"

/* fsync the directory holding path so a rename survives a crash. */
static int
atomicfile_sync_dir(const char *path)
{
	char	*copy, *dir;
	int	 fd, rc;

	copy = xstrdup(path);
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd == -1)
		return (-1);
	rc = fsync(fd);
	close(fd);
	return (rc);
}

/* Replace path with data atomically; see atomicfile.h. */
int
atomicfile_write(const char *path, const void *data, size_t len, mode_t mode,
    char **cause)
{
	char		*tmp;
	const char	*p = data;
	ssize_t		 n;
	int		 fd, saved;

	xasprintf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	/* A leftover temp file (an earlier crash) is replaced, never reused. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1) {
		saved = errno;
		xasprintf(cause, "create %s: %s", tmp, strerror(errno));
		free(tmp);
		errno = saved;
		return (-1);
	}
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			xasprintf(cause, "write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1) {
		xasprintf(cause, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		xasprintf(cause, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		xasprintf(cause, "rename %s: %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	/* The new content is in place; only its durability is in doubt. */
	if (atomicfile_sync_dir(path) == -1)
		log_warn("%s: fsync of the directory of %s", __func__, path);
	return (0);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = saved;
	return (-1);
}

/* Read a whole file; see atomicfile.h. */
char *
atomicfile_read(const char *path, size_t max, size_t *lenp, char **cause)
{
	char	*buf;
	int	 saved;

	*cause = NULL;
	if ((buf = readfile_alloc(path, max, lenp, NULL)) != NULL)
		return (buf);
	saved = errno;
	if (saved == EINVAL || saved == EFBIG) {
		xasprintf(cause, "%s: not a regular file of at most %zu bytes",
		    path, max);
		saved = EINVAL;
	} else if (saved != ENOENT)
		xasprintf(cause, "open %s: %s", path, strerror(saved));
	errno = saved;
	return (NULL);
}

/* Create a directory and its parents. */
int
atomicfile_mkdirs(const char *path, mode_t mode, char **cause)
{
	char	*copy, *p;

	if (*path == '\0') {
		xasprintf(cause, "mkdir: empty path");
		return (-1);
	}
	copy = xstrdup(path);
	for (p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(copy, mode) == -1 && errno != EEXIST) {
				xasprintf(cause, "mkdir %s: %s", copy,
				    strerror(errno));
				free(copy);
				return (-1);
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(copy);
	return (0);
}
