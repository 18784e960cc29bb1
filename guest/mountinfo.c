/* The one mountinfo parser (see mountinfo.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountinfo.h"
#include "xmalloc.h"

/* Undo octal escapes in place; see mountinfo.h. */
void
mountinfo_unescape(char *s)
{
	char	*out = s;
	int	 v;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			v = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
			if (v != 0) {
				*out++ = (char)v;
				s += 4;
				continue;
			}
		}
		*out++ = *s++;
	}
	*out = '\0';
}

/* Parse one line; see mountinfo.h. */
int
mountinfo_parse_line(char *line, struct mountinfo_line *m)
{
	char		*f[6], *opt, *end;
	unsigned long	 id;
	size_t		 i;
	int		 len;

	memset(m, 0, sizeof *m);
	for (i = 0; i < 6; i++) {
		if ((f[i] = strsep(&line, " ")) == NULL || *f[i] == '\0')
			return (-1);
	}
	do {
		if ((opt = strsep(&line, " ")) == NULL)
			return (-1);
	} while (strcmp(opt, "-") != 0);
	m->fstype = strsep(&line, " ");
	m->source = strsep(&line, " ");
	m->superoptions = strsep(&line, " ");
	if (m->fstype == NULL || m->source == NULL || *m->fstype == '\0')
		return (-1);
	if (sscanf(f[2], "%u:%u%n", &m->maj, &m->min, &len) != 2 ||
	    f[2][len] != '\0')
		return (-1);
	errno = 0;
	id = strtoul(f[0], &end, 10);
	if (errno == 0 && *end == '\0' && id <= 0xffffffffUL) {
		m->id = (unsigned int)id;
		m->id_ok = 1;
	}
	mountinfo_unescape(f[3]);
	mountinfo_unescape(f[4]);
	mountinfo_unescape(m->source);
	if (f[4][0] != '/')
		return (-1);
	m->root = f[3];
	m->mountpoint = f[4];
	m->options = f[5];
	return (0);
}

/* The next non-empty line; see mountinfo.h. */
char *
mountinfo_next(const char **pos, const char *end, size_t *lineno)
{
	const char	*p = *pos, *nl;
	char		*line = NULL;

	while (line == NULL && p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		(*lineno)++;
		/* As getline() then string functions saw it: up to a NUL. */
		if (nl != p)
			line = xstrndup(p, (size_t)(nl - p));
		p = nl == end ? end : nl + 1;
	}
	*pos = p;
	return (line);
}
