/* Helpers shared by the fuzz targets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "xmalloc.h"

/*
 * Report a failed oracle and abort.  On stdout: the runs close stderr
 * (-close_fd_mask=2) to keep the daemons' log lines out of the way.
 */
void
fuzz_fail(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	abort();
}

/* NUL-terminated copy of the input. */
char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s;

	s = xmalloc(size + 1);
	if (size != 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

/* qsort order of offsets. */
static int
fuzz_cmp(const void *a, const void *b)
{
	size_t	x = *(const size_t *)a, y = *(const size_t *)b;

	return (x < y ? -1 : x > y);
}

/* Take cut points off the input; see fuzzutil.h. */
size_t
fuzz_cuts(const uint8_t **data, size_t *size, size_t *cuts)
{
	const uint8_t	*p = *data;
	size_t		 n, i, left = *size;

	if (left == 0)
		return (0);
	n = p[0] % (FUZZ_CUTS_MAX + 1);
	p++;
	left--;
	if (left < 2 * n)
		n = left / 2;
	for (i = 0; i < n; i++)
		cuts[i] = (size_t)p[2 * i] << 8 | p[2 * i + 1];
	p += 2 * n;
	left -= 2 * n;
	for (i = 0; i < n; i++)
		cuts[i] %= left + 1;
	qsort(cuts, n, sizeof *cuts, fuzz_cmp);
	*data = p;
	*size = left;
	return (n);
}
