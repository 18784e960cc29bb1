/* FNV-1a string hashing; see strhash.h. */
#include <ctype.h>
#include <stdint.h>

#include "strhash.h"

size_t
strhash(const char *s, int fold)
{
	uint64_t	h = 14695981039346656037ULL;
	unsigned char	c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		h = (h ^ (fold ? (unsigned char)tolower(c) : c)) *
		    1099511628211ULL;
	}
	return ((size_t)h);
}

size_t
strhash_mask(size_t n)
{
	size_t	size;

	for (size = 16; size < 2 * n; size <<= 1)
		;
	return (size - 1);
}
