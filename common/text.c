/* Printable UTF-8 name validation. */
#include <stdint.h>
#include <string.h>

#include "text.h"

/* Length of the UTF-8 sequence at p and its code point; 0 if malformed. */
static size_t
text_utf8_decode(const unsigned char *p, uint32_t *cp)
{
	size_t	n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		*cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		*cp = p[0] & 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && *cp < 0x80) || (n == 3 && *cp < 0x800) ||
	    (n == 4 && *cp < 0x10000) || *cp > 0x10ffff ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return (0);
	return (n);
}

/* Validate a name; see text.h. */
int
text_valid_name(const char *s, size_t max, const char **why)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 chars = 0, n;
	uint32_t		 cp;

	if (s == NULL || *s == '\0') {
		if (why != NULL)
			*why = "must not be empty";
		return (0);
	}
	while (*p != '\0') {
		if ((n = text_utf8_decode(p, &cp)) == 0) {
			if (why != NULL)
				*why = "is not valid UTF-8";
			return (0);
		}
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			if (why != NULL)
				*why = "contains a control character";
			return (0);
		}
		p += n;
		if (++chars > max) {
			if (why != NULL)
				*why = "is too long";
			return (0);
		}
	}
	return (1);
}
