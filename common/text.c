/* Name validation, UTF-8 repair and cutting, escaping for logs. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "xmalloc.h"

/*
 * Length of the well-formed UTF-8 sequence at p (at most len bytes
 * available) and its code point; 0 if malformed or cut short.
 */
static size_t
text_utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t	n, i;

	if (len == 0)
		return (0);
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
	if (n > len)
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

/* C0, DEL and C1 control characters. */
static int
text_is_control(uint32_t cp)
{
	return (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0));
}

/* Bidirectional and zero-width format controls that can disguise text. */
static int
text_is_format(uint32_t cp)
{
	return (cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069));
}

/* Unicode space separators (Zs). */
static int
text_is_space(uint32_t cp)
{
	return (cp == 0x20 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000);
}

/* Validate a name; see text.h. */
int
text_valid_name(const char *s, size_t max, const char **why)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 chars = 0, n, left;
	uint32_t		 cp;
	int			 visible = 0;

	if (s == NULL || *s == '\0') {
		if (why != NULL)
			*why = "must not be empty";
		return (0);
	}
	left = strlen(s);
	while (left > 0) {
		if ((n = text_utf8_decode(p, left, &cp)) == 0) {
			if (why != NULL)
				*why = "is not valid UTF-8";
			return (0);
		}
		if (text_is_control(cp)) {
			if (why != NULL)
				*why = "contains a control character";
			return (0);
		}
		if (text_is_format(cp)) {
			if (why != NULL)
				*why = "contains a bidirectional or zero-width "
				    "format character";
			return (0);
		}
		if (!text_is_space(cp))
			visible = 1;
		p += n;
		left -= n;
		if (++chars > max) {
			if (why != NULL)
				*why = "is too long";
			return (0);
		}
	}
	if (!visible) {
		if (why != NULL)
			*why = "must not be only spaces";
		return (0);
	}
	return (1);
}

/* Well-formedness; see text.h. */
int
text_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;
	uint32_t		 cp;

	while (len > 0) {
		if ((n = text_utf8_decode(p, len, &cp)) == 0)
			return (0);
		p += n;
		len -= n;
	}
	return (1);
}

/* Repaired copy; see text.h. */
char *
text_utf8_fix(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*out;
	size_t			 n, o = 0;
	uint32_t		 cp;

	/* Each byte becomes at most the 3 bytes of U+FFFD. */
	out = xmalloc(len * 3 + 1);
	while (len > 0) {
		if ((n = text_utf8_decode(p, len, &cp)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		len -= n;
	}
	out[o] = '\0';
	return (out);
}

/* True if the byte is a UTF-8 continuation byte. */
static int
text_is_cont(unsigned char c)
{
	return ((c & 0xc0) == 0x80);
}

/* Prefix on a character boundary; see text.h. */
size_t
text_utf8_prefix(const char *s, size_t len, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 end, i;

	if (len <= max)
		return (len);
	/* Back off continuation bytes; at most 3 belong to one character. */
	end = max;
	for (i = 0; i < 3 && end > 0 && text_is_cont(p[end]); i++)
		end--;
	return (i == 3 && text_is_cont(p[end]) ? max : end);
}

/* Suffix on a character boundary; see text.h. */
size_t
text_utf8_suffix(const char *s, size_t len, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 start, i;

	if (len <= max)
		return (0);
	start = len - max;
	for (i = 0; i < 3 && start < len && text_is_cont(p[start]); i++)
		start++;
	return (i == 3 && start < len && text_is_cont(p[start]) ?
	    len - max : start);
}

/* Cut in place with a mark; see text.h. */
char *
text_cut(char *s, size_t max)
{
	size_t	len = strlen(s), keep;

	if (len <= max)
		return (s);
	if (max < 3) {
		s[text_utf8_prefix(s, len, max)] = '\0';
		return (s);
	}
	keep = text_utf8_prefix(s, len, max - 3);
	memcpy(s + keep, "...", 4);
	return (s);
}

/* Escape for a log or terminal line; see text.h. */
char *
text_escape(char *buf, size_t size, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0, keep = 0, left, n, plen;
	uint32_t		 cp;
	char			 piece[16];

	if (size < 4) {
		if (size > 0)
			buf[0] = '\0';
		return (buf);
	}
	left = strlen(s);
	while (left > 0) {
		n = text_utf8_decode(p, left, &cp);
		if (n == 0 || (n == 1 && text_is_control(cp)) ||
		    (n == 2 && text_is_control(cp))) {
			/* A malformed byte, or a control: each byte as \xNN. */
			if (n == 0)
				n = 1;
			plen = 0;
			while (plen / 4 < n) {
				snprintf(piece + plen, sizeof piece - plen,
				    "\\x%02x", p[plen / 4]);
				plen += 4;
			}
		} else if (text_is_format(cp))
			plen = (size_t)snprintf(piece, sizeof piece,
			    "\\u{%04x}", cp);
		else {
			memcpy(piece, p, n);
			plen = n;
		}
		/* Cut where "..." still fits once a piece would not. */
		if (o + plen + 1 > size) {
			memcpy(buf + keep, "...", 4);
			return (buf);
		}
		memcpy(buf + o, piece, plen);
		o += plen;
		if (o + 4 <= size)
			keep = o;
		p += n;
		left -= n;
	}
	buf[o] = '\0';
	return (buf);
}
