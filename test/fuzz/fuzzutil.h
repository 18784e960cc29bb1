/*
 * Helpers shared by the libFuzzer targets (test/fuzz/fuzz_*.c): taking an
 * input apart and failing an oracle loudly.  Linked into every target, so
 * nothing here defines a libFuzzer entry point.
 */
#ifndef EVG_FUZZUTIL_H
#define EVG_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Most cut points fuzz_cuts() takes. */
#define FUZZ_CUTS_MAX	16

/* An oracle failed: print why on stdout and abort (libFuzzer reports). */
__attribute__((noreturn, format(printf, 1, 2)))
void	fuzz_fail(const char *, ...);

/* Fail with the expression and its place unless it holds. */
#define FUZZ_CHECK(e)	((e) ? (void)0 : \
	fuzz_fail("%s:%d: oracle failed: %s", __FILE__, __LINE__, #e))

/* A NUL-terminated copy of size bytes (the caller frees). */
char	*fuzz_cstr(const uint8_t *, size_t);
/* Write the input as the file at path (created or emptied). */
void	fuzz_put_file(const char *, const uint8_t *, size_t);

/*
 * Take cut points off the front of the input: one byte for how many (up
 * to FUZZ_CUTS_MAX), two for each.  *data and *size are left on the rest,
 * the stream the cuts fall in; cuts[] gets offsets into it, ascending,
 * each at most *size (repeats are empty pieces).  Returns how many.
 */
size_t	fuzz_cuts(const uint8_t **, size_t *, size_t *);

/*
 * Strict UTF-8 (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF), written apart from common/text.c so that an oracle does not
 * trust the code it checks.
 */
int	fuzz_utf8_valid(const char *);
/*
 * The name of the first string field in m (or a message inside it; oneof
 * members only when set) that is not valid UTF-8, or NULL when all are;
 * *unknown is increased by the unknown fields met on the way.
 */
const char *fuzz_bad_string(const ProtobufCMessage *, size_t *);

#endif
