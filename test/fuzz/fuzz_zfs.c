/*
 * fuzz_zfs: the parsers of zfs(8) output (host/zfs.c): zfs_parse_list()
 * on `zfs list -Hp` output and zfs_parse_u64() on `zfs get -Hp -o value`.
 *
 * Proves: whatever a zfs binary prints (or a pool's user properties hold),
 * the host parses it or refuses it with a reason naming the line; it
 * never crashes, leaks or takes a line of another dataset as its own.
 *
 * Oracle: a parsed list, written back as zfs would print it, parses to
 * the same list; zfs_snap_find() finds each snapshot's name at or before
 * its place and zfs_newer_than() counts what follows the first; a parsed
 * number printed back parses to itself.
 *
 * Input: byte 0 even: list output for dataset tank/vms/web-01 follows;
 * odd: a zfs get value follows.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "xmalloc.h"
#include "zfs.h"

#define DATASET	"tank/vms/web-01"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Append a printf-formatted piece to *out. */
static void __attribute__((format(printf, 2, 3)))
out_add(char **out, const char *fmt, ...)
{
	va_list	 ap;
	char	*piece, *old = *out;

	va_start(ap, fmt);
	if (vasprintf(&piece, fmt, ap) == -1)
		abort();
	va_end(ap);
	xasprintf(out, "%s%s", old != NULL ? old : "", piece);
	free(piece);
	free(old);
}

/* Check one parsed list and its round trip. */
static void
check_list(const struct zfs_snap *snaps, size_t n)
{
	const struct zfs_snap	*s, *found;
	struct zfs_snap		*again;
	size_t			 i, n2, count;
	char			*out = NULL, *cause = NULL;
	const char		*newest;

	for (i = 0; i < n; i++) {
		s = &snaps[i];
		FUZZ_CHECK(s->snapname != NULL && *s->snapname != '\0');
		FUZZ_CHECK(s->uuid == NULL || strcmp(s->uuid, "-") != 0);
		FUZZ_CHECK(s->name == NULL || strcmp(s->name, "-") != 0);
		found = zfs_snap_find(snaps, n, s->snapname);
		FUZZ_CHECK(found != NULL && found <= s);
		newest = zfs_newer_than(snaps, n, s->snapname, &count);
		FUZZ_CHECK(count == n - 1 - (size_t)(found - snaps));
		FUZZ_CHECK((count == 0) == (newest == NULL));
		out_add(&out, "%s@%s\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\n",
		    DATASET, s->snapname, s->used, s->creation,
		    s->uuid != NULL ? s->uuid : "-",
		    s->name != NULL ? s->name : "-");
	}
	if (out == NULL)
		out = xstrdup("");
	if (zfs_parse_list(out, DATASET, &again, &n2, &cause) != 0)
		fuzz_fail("printed back, the list does not parse: %s", cause);
	FUZZ_CHECK(n2 == n);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(strcmp(again[i].snapname, snaps[i].snapname) == 0);
		FUZZ_CHECK(again[i].used == snaps[i].used);
		FUZZ_CHECK(again[i].creation == snaps[i].creation);
		FUZZ_CHECK((again[i].uuid == NULL) == (snaps[i].uuid == NULL));
		FUZZ_CHECK(again[i].uuid == NULL ||
		    strcmp(again[i].uuid, snaps[i].uuid) == 0);
		FUZZ_CHECK((again[i].name == NULL) == (snaps[i].name == NULL));
		FUZZ_CHECK(again[i].name == NULL ||
		    strcmp(again[i].name, snaps[i].name) == 0);
	}
	zfs_snaps_free(again, n2);
	free(out);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zfs_snap	*snaps;
	size_t		 n;
	uint64_t	 v, v2;
	char		*text, *cause = NULL, buf[32];

	if (size == 0)
		return (0);
	text = fuzz_cstr(data + 1, size - 1);
	if (data[0] % 2 == 0) {
		if (zfs_parse_list(text, DATASET, &snaps, &n, &cause) == 0) {
			FUZZ_CHECK((snaps == NULL) == (n == 0));
			check_list(snaps, n);
			zfs_snaps_free(snaps, n);
		} else {
			FUZZ_CHECK(cause != NULL &&
			    strncmp(cause, "line ", 5) == 0);
			free(cause);
		}
	} else if (zfs_parse_u64(text, &v, &cause) == 0) {
		snprintf(buf, sizeof buf, "%" PRIu64 "\n", v);
		FUZZ_CHECK(zfs_parse_u64(buf, &v2, &cause) == 0 && v2 == v);
	} else {
		FUZZ_CHECK(cause != NULL);
		free(cause);
	}
	free(text);
	return (0);
}
