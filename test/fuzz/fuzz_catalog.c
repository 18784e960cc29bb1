/*
 * fuzz_catalog: the snapshot catalog loader (host/catalog.c,
 * catalog_parse()) on the text of a catalogs/<vm>.json, then a reconcile
 * of what it loaded.
 *
 * Proves: a damaged or hostile catalog is refused with a reason, never a
 * crash or leak (wrong JSON types, huge or negative numbers, nulls,
 * arrays for objects); whatever loads, the host writes back in a form it
 * loads again, also after reconciling it with a backend listing.
 *
 * Oracle: a catalog that loads commits (catalog_text()) to text that
 * loads again, and committing that gives the same text (a fixpoint); after
 * catalog_reconcile() against a listing of every other entry's tag, the
 * committed text still loads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "fuzzutil.h"
#include "xmalloc.h"

#define VM	"11111111-2222-3333-4444-555555555555"
#define PATH	"/fuzz/" VM ".json"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parse text that the catalog itself wrote; it must load. */
static struct catalog *
reload(const char *text)
{
	struct catalog	*cat;
	char		*cause = NULL;

	if ((cat = catalog_parse(PATH, VM, text, &cause)) ==
	    NULL)
		fuzz_fail("a committed catalog does not load: %s\n%s", cause,
		    text);
	return (cat);
}

/*
 * Reconcile the first entry's volume against a backend that lists every
 * other tag of it (so some are missing, some found, none new), then
 * reload.
 */
static void
reconcile(struct catalog *cat)
{
	struct cat_snap		*cs;
	struct cat_seen		*seen = NULL;
	struct cat_reconcile	 r;
	struct catalog		*again;
	char			 volume[UUID_STR_LEN + 1], *text;
	size_t			 n = 0, i = 0, j;

	if ((cs = TAILQ_FIRST(&cat->snaps)) == NULL)
		return;
	memcpy(volume, cs->volume, sizeof volume);
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		if (strcasecmp(cs->volume, volume) != 0 || i++ % 2 != 0)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(seen[j].tag, cs->tag) == 0)
				break;
		if (j < n)
			continue;
		seen = xreallocarray(seen, n + 1, sizeof *seen);
		seen[n].tag = cs->tag;
		seen[n].uuid = NULL;
		seen[n].name = cs->name;
		seen[n].created = cs->created;
		seen[n].size = cs->size;
		n++;
	}
	/* The listing borrows entry strings reconcile may free: copy them. */
	for (i = 0; i < n; i++) {
		seen[i].tag = xstrdup(seen[i].tag);
		seen[i].name = xstrdup(seen[i].name);
	}
	catalog_reconcile(cat, volume, seen, n, &r);
	FUZZ_CHECK(r.adopted == 0);
	text = catalog_text(cat);
	again = reload(text);
	free(text);
	catalog_free(again);
	for (i = 0; i < n; i++) {
		free((char *)seen[i].tag);
		free((char *)seen[i].name);
	}
	free(seen);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog	*cat, *again;
	char		*input, *cause = NULL, *text, *text2;

	input = fuzz_cstr(data, size);
	cat = catalog_parse(PATH, VM, input, &cause);
	free(input);
	if (cat == NULL) {
		FUZZ_CHECK(cause != NULL &&
		    strncmp(cause, PATH ": ", strlen(PATH ": ")) == 0);
		free(cause);
		return (0);
	}
	text = catalog_text(cat);
	again = reload(text);
	FUZZ_CHECK(again->count == cat->count);
	text2 = catalog_text(again);
	if (strcmp(text, text2) != 0)
		fuzz_fail("committing a reloaded catalog changed it:\n%s\n"
		    "---\n%s", text, text2);
	free(text2);
	free(text);
	catalog_free(again);

	reconcile(cat);
	catalog_free(cat);
	return (0);
}
