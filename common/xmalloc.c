/* Allocation helpers that abort instead of returning NULL. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Print the failed request and abort; nothing sane can follow. */
static void
xmalloc_die(const char *what, size_t size)
{
	fprintf(stderr, "fatal: %s: out of memory allocating %zu bytes\n",
	    what, size);
	abort();
}

/* Allocate size bytes (at least one); never returns NULL. */
void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		xmalloc_die(__func__, size);
	return (p);
}

/* Allocate a zeroed array; never returns NULL. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		xmalloc_die(__func__, n * size);
	return (p);
}

/* Resize an array with an overflow check; never returns NULL. */
void *
xreallocarray(void *ptr, size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > SIZE_MAX / size)
		xmalloc_die(__func__, SIZE_MAX);
	if ((p = realloc(ptr, n * size == 0 ? 1 : n * size)) == NULL)
		xmalloc_die(__func__, n * size);
	return (p);
}

/* Duplicate a string; never returns NULL. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		xmalloc_die(__func__, strlen(s) + 1);
	return (p);
}

/* Duplicate at most n bytes of a string; never returns NULL. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		xmalloc_die(__func__, n + 1);
	return (p);
}

/*
 * Format into a new string stored in *ret; returns its length.  errno is
 * left as it was, so a cause can be written before errno is looked at.
 */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return (n);
}

/* xasprintf() with a va_list. */
int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	 n, saved = errno;

	n = vasprintf(ret, fmt, ap);
	if (n < 0)
		xmalloc_die(__func__, 0);
	errno = saved;
	return (n);
}
