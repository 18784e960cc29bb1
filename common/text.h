/* Validation of human-supplied text (names) before it is stored. */
#ifndef EVG_TEXT_H
#define EVG_TEXT_H

#include <stddef.h>

#define NAME_MAX_CHARS	128

/*
 * True if s is 1..max characters of printable UTF-8 (no control
 * characters, well-formed sequences).  On failure, why (if not NULL) is
 * set to a static reason.
 */
int	text_valid_name(const char *, size_t, const char **);

#endif
