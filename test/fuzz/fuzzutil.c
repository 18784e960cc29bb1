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

/* Write the input as the file at path (created or emptied). */
void
fuzz_put_file(const char *path, const uint8_t *data, size_t size)
{
	FILE	*f;

	f = fopen(path, "w");
	FUZZ_CHECK(f != NULL);
	if (size > 0)
		FUZZ_CHECK(fwrite(data, 1, size, f) == size);
	fclose(f);
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

/* Strict UTF-8; see fuzzutil.h. */
int
fuzz_utf8_valid(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned int		 cp, n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			n = 1;
			cp = *s & 0x1f;
		} else if (*s >= 0xe0 && *s <= 0xef) {
			n = 2;
			cp = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 3;
			cp = *s & 0x07;
		} else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 &&
		    cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return (0);
		s += n + 1;
	}
	return (1);
}

/* The first bad string and the unknown fields; see fuzzutil.h. */
const char *
fuzz_bad_string(const ProtobufCMessage *m, size_t *unknown)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m, *bad;
	void *const				*vals;
	size_t					 i, j, n;

	*unknown += m->n_unknown_fields;
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->type != PROTOBUF_C_TYPE_STRING)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			vals = *(void *const *const *)(base + f->offset);
		} else {
			n = 1;
			vals = (void *const *)(base + f->offset);
		}
		for (j = 0; j < n && vals != NULL; j++) {
			if (vals[j] == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (!fuzz_utf8_valid(vals[j]))
					return (f->name);
			} else if ((bad = fuzz_bad_string(vals[j], unknown)) !=
			    NULL)
				return (bad);
		}
	}
	return (NULL);
}
