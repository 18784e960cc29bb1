/*
 * /proc/self/mountinfo, read once for the freeze planner (freeze.c) and
 * once for the facts `info` shows (info.c), parsed here for both.  A
 * line is
 *
 *	id parent maj:min root mountpoint options [optional...] - type
 *	source superoptions
 *
 * with root, mountpoint and source octal-escaped (\040 for a space).
 */
#ifndef EVG_MOUNTINFO_H
#define EVG_MOUNTINFO_H

#include <stddef.h>

/*
 * One parsed line.  The strings point into the line, unescaped in place;
 * superoptions is NULL when the line ends before it, and id_ok is 0 when
 * id is not a number that fits 32 bits.
 */
struct mountinfo_line {
	unsigned int	 id;
	int		 id_ok;
	unsigned int	 maj;
	unsigned int	 min;
	char		*root;
	char		*mountpoint;	/* absolute */
	char		*options;
	char		*fstype;	/* not empty */
	char		*source;
	char		*superoptions;
};

/*
 * Parse one line, modified in place, into *m.  Returns 0, or -1 when the
 * line is malformed (a field missing or empty, no "-", no type or source,
 * a bad maj:min, a mount point not absolute).
 */
int	 mountinfo_parse_line(char *, struct mountinfo_line *);
/*
 * The next line of the text from *pos to end that is not empty (no byte
 * before its newline), as a new string up to its newline or its first
 * NUL (caller frees); *pos moves past it and *lineno counts every line
 * passed, empty ones included.  Returns NULL at the end.
 */
char	*mountinfo_next(const char **, const char *, size_t *);
/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
void	 mountinfo_unescape(char *);

#endif
