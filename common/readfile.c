/* The one reader of small files (see readfile.h). */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readfile.h"
#include "xmalloc.h"

/*
 * Open path for reading if it is a regular file.  Returns the descriptor,
 * or -1 with errno (EINVAL: not a regular file) and *opened set when open()
 * itself failed.
 */
static int
readfile_open(const char *path, int *opened)
{
	struct stat	st;
	int		fd;

	*opened = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return (-1);
	*opened = 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return (-1);
	}
	return (fd);
}

/*
 * Read from fd into buf (size bytes) until EOF or full.  Returns the
 * bytes read, or -1 with errno.
 */
static ssize_t
readfile_fill(int fd, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;

	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return ((ssize_t)len);
}

/* Read a file into a buffer; see readfile.h. */
ssize_t
readfile_buf(const char *path, char *buf, size_t size)
{
	ssize_t	n;
	int	fd, opened, saved;

	if (size == 0) {
		errno = EFBIG;
		return (-1);
	}
	if ((fd = readfile_open(path, &opened)) == -1)
		return (-1);
	/* One byte more than fits, to tell a full file from a longer one. */
	n = readfile_fill(fd, buf, size);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return (-1);
	}
	if ((size_t)n == size) {
		errno = EFBIG;
		return (-1);
	}
	buf[n] = '\0';
	return (n);
}

/* Read a whole file into a new buffer; see readfile.h. */
char *
readfile_alloc(const char *path, size_t max, size_t *lenp, char **cause)
{
	char	*data = NULL;
	size_t	 len = 0, size = 4096;
	ssize_t	 n;
	int	 fd, opened, saved;

	if ((fd = readfile_open(path, &opened)) == -1) {
		saved = errno;
		if (cause != NULL && opened)
			xasprintf(cause, "cannot open %s: %s", path,
			    strerror(saved));
		else if (cause != NULL)
			xasprintf(cause, "%s: not a regular file", path);
		errno = saved;
		return (NULL);
	}
	data = xmalloc(size);
	for (;;) {
		if (len + 1 == size) {
			if (size > max)
				goto large;
			size *= 2;
			data = xreallocarray(data, size, 1);
		}
		if ((n = readfile_fill(fd, data + len, size - len - 1)) == -1) {
			saved = errno;
			if (cause != NULL)
				xasprintf(cause, "cannot read %s: %s", path,
				    strerror(saved));
			goto fail;
		}
		len += (size_t)n;
		if (len + 1 != size)
			break;
	}
	if (len > max)
		goto large;
	close(fd);
	data[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (data);

large:
	if (cause != NULL)
		xasprintf(cause, "%s: larger than %zu bytes", path, max);
	saved = EFBIG;
fail:
	close(fd);
	free(data);
	errno = saved;
	return (NULL);
}

/* Strip white space at both ends; see readfile.h. */
char *
readfile_trim(char *buf)
{
	char	*s = buf;
	size_t	 len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return (NULL);
	memmove(buf, s, len);
	buf[len] = '\0';
	return (buf);
}

/* A trimmed text attribute; see readfile.h. */
char *
readfile_text(const char *path, char *buf, size_t size)
{
	if (readfile_buf(path, buf, size) == -1)
		return (NULL);
	return (readfile_trim(buf));
}
