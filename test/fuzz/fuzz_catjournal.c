/*
 * fuzz_catjournal: a snapshot catalog's journal replay (host/catalog.c
 * over host/regjournal.c, through catalog_open()) on the text of a
 * <vm>.json.journal, with no <vm>.json beside it.
 *
 * Proves: a damaged or hostile journal makes the host refuse the catalog
 * with a reason naming the journal, or load entries that are all valid
 * (UUIDs, a state, no more than CATALOG_MAX_ENTRIES, no UUID twice);
 * never a crash or a leak.
 *
 * Oracle: a catalog that loads has nothing to commit (a commit writes no
 * line); closed, it is written whole with the journal emptied, and
 * loading it again gives the same text.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catalog.h"
#include "fuzzutil.h"

#define VM	"11111111-2222-4333-8444-555555555555"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[64], path[160], jpath[192];

/* Write size bytes of data as the journal, and no catalog file. */
static void
fuzz_setup(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/evg-fuzz-catj-%ld",
		    (long)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof path, "%s/%s.json", dir, VM);
		snprintf(jpath, sizeof jpath, "%s.journal", path);
	}
	unlink(path);
	fuzz_put_file(jpath, data, size);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog	*cat, *again;
	struct cat_snap	*cs, *other;
	struct stat	 sb, sb2;
	char		*cause = NULL, *text, *text2;
	size_t		 n = 0;

	fuzz_setup(data, size);
	if ((cat = catalog_open(dir, VM, &cause)) == NULL) {
		FUZZ_CHECK(cause != NULL && strstr(cause, ".journal") != NULL);
		free(cause);
		return (0);
	}
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		FUZZ_CHECK(uuid_valid(cs->uuid) && uuid_valid(cs->volume));
		FUZZ_CHECK(catalog_find(cat, cs->uuid) == cs);
		for (other = TAILQ_NEXT(cs, entry); other != NULL;
		    other = TAILQ_NEXT(other, entry))
			FUZZ_CHECK(strcasecmp(other->uuid, cs->uuid) != 0);
		n++;
	}
	FUZZ_CHECK(n == cat->count && n <= CATALOG_MAX_ENTRIES);
	FUZZ_CHECK(cat->pending_rollback[0] == '\0' ||
	    uuid_valid(cat->pending_rollback));
	/* Loaded: nothing to commit, so nothing written. */
	FUZZ_CHECK(stat(jpath, &sb) == 0);
	FUZZ_CHECK(catalog_commit(cat, &cause) == 0);
	FUZZ_CHECK(stat(jpath, &sb2) == 0 && sb2.st_size == sb.st_size);
	text = catalog_text(cat);
	catalog_close(cat);
	FUZZ_CHECK(stat(path, &sb) == 0 || sb2.st_size == 0);
	FUZZ_CHECK(stat(jpath, &sb) == 0 && sb.st_size == 0);
	again = catalog_open(dir, VM, &cause);
	FUZZ_CHECK(again != NULL);
	text2 = catalog_text(again);
	FUZZ_CHECK(strcmp(text, text2) == 0);
	free(text);
	free(text2);
	catalog_free(again);
	return (0);
}
