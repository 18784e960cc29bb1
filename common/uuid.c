/* UUID validation and generation. */
#include <sys/random.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "uuid.h"

/* True if s is 8-4-4-4-12 hex digits. */
int
uuid_valid(const char *s)
{
	size_t	i;

	if (s == NULL || strlen(s) != UUID_STR_LEN)
		return (0);
	for (i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/* Random version-4 UUID from getrandom(). */
void
uuid_generate_v4(char *out)
{
	uint8_t	b[16];

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		fatal("%s: getrandom", __func__);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, UUID_STR_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
	    b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	    b[15]);
}
