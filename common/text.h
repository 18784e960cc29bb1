/*
 * Text that crosses a trust boundary: validation of human-supplied names,
 * UTF-8 repair and cutting on character boundaries for every string the
 * daemons send, and escaping for logs and terminals.
 */
#ifndef EVG_TEXT_H
#define EVG_TEXT_H

#include <stddef.h>

#define NAME_MAX_CHARS	128

/*
 * True if s is 1..max characters of printable UTF-8: well-formed, no
 * control characters, no bidirectional or zero-width format characters
 * (U+061C, U+200B-U+200F, U+202A-U+202E, U+2066-U+2069), not only spaces.  On
 * failure, why (if not NULL) is set to a static reason.
 */
int	text_valid_name(const char *, size_t, const char **);

/* True if the len bytes at s are well-formed UTF-8 (NUL bytes allowed). */
int	text_utf8_valid(const char *, size_t);
/*
 * A new NUL-terminated copy of the len bytes at s with every byte that is
 * not part of a well-formed UTF-8 sequence replaced by U+FFFD.  The caller
 * frees it.
 */
char	*text_utf8_fix(const char *, size_t);
/*
 * Length of the longest prefix of the len bytes at s that is at most max
 * bytes and does not end inside a UTF-8 sequence.
 */
size_t	 text_utf8_prefix(const char *, size_t, size_t);
/*
 * Offset at which the longest suffix of at most max bytes of the len bytes
 * at s begins without starting inside a UTF-8 sequence.
 */
size_t	 text_utf8_suffix(const char *, size_t, size_t);
/*
 * Cut the string s in place to at most max bytes on a character boundary;
 * when something was cut, the end is marked with "..." (within max).
 * Returns s.
 */
char	*text_cut(char *, size_t);
/*
 * Escape s for one log or terminal line into buf (always NUL-terminated,
 * cut with "..." when it does not fit): printable UTF-8 is kept; control
 * characters, DEL, C1 controls and bytes of malformed sequences become
 * \xNN; bidirectional and zero-width format controls become \u{NNNN}; a
 * backslash stays itself.  Returns buf.
 */
char	*text_escape(char *, size_t, const char *);

#endif
