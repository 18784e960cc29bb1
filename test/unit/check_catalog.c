/* Unit tests for host/catalog.c: persistence and reconciliation. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "readfile.h"
#include "text.h"
#include "suites.h"
#include "xmalloc.h"

#define VM	"11111111-2222-4333-8444-555555555555"
#define VOL	"aaaaaaaa-2222-4333-8444-555555555555"
#define VOL2	"bbbbbbbb-2222-4333-8444-555555555555"
#define S1	"c0000001-2222-4333-8444-555555555555"
#define S2	"c0000002-2222-4333-8444-555555555555"
#define S3	"c0000003-2222-4333-8444-555555555555"

static char	dir[64];

/* A fresh temp dir per test. */
static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/evg-cat-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Remove the catalog and the dir. */
static void
teardown(void)
{
	char	path[128];

	snprintf(path, sizeof path, "%s/%s.json", dir, VM);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s.json.journal", dir, VM);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s.json.saved", dir, VM);
	unlink(path);
	rmdir(dir);
}

/* Open an empty catalog, asserting success. */
static struct catalog *
open_cat(void)
{
	struct catalog	*cat;
	char		*cause = NULL;

	cat = catalog_open(dir, VM, &cause);
	ck_assert_msg(cat != NULL, "open: %s", cause);
	return (cat);
}

/* The journal's text (NULL: none); its line count in *lines. */
static char *
journal_text(size_t *lines)
{
	char	 path[128], *text;
	size_t	 len, i;
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s.json.journal", dir, VM);
	*lines = 0;
	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	text = xcalloc(1, 1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	for (i = 0; i < len; i++)
		*lines += text[i] == '\n';
	return (text);
}

/* Does the catalog file exist? */
static int
file_exists(void)
{
	char	path[128];

	snprintf(path, sizeof path, "%s/%s.json", dir, VM);
	return (access(path, F_OK) == 0);
}

/*
 * A commit appends one journal line with only what changed (nothing at
 * all when nothing did); reopening replays it; a clean close rewrites
 * the file whole and empties the journal; a line cut short by a crash is
 * ignored; a crash between a rewrite and the journal's truncation loses
 * nothing and brings nothing older back.
 */
START_TEST(test_catalog_journal)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;
	char		*cause = NULL, *j, path[128], saved[128], cmd[320];
	size_t		 lines;
	FILE		*f;

	catalog_add(cat, S1, "one", VOL, "evg-" S1, "guest")->state =
	    SNAP_CREATING;
	catalog_add(cat, S2, "two", VOL, "evg-" S2, "guest");
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	ck_assert(!file_exists());
	free(journal_text(&lines));
	ck_assert_uint_eq(lines, 1);
	/* Nothing changed: nothing written. */
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	free(journal_text(&lines));
	ck_assert_uint_eq(lines, 1);
	/* One entry changed: one line with it alone. */
	catalog_find(cat, S1)->state = SNAP_READY;
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	j = journal_text(&lines);
	ck_assert_uint_eq(lines, 2);
	ck_assert_ptr_nonnull(strstr(strchr(j, '\n') + 1, S1));
	ck_assert_ptr_null(strstr(strchr(j, '\n') + 1, S2));
	free(j);
	/* A removal and the scheduled rollback. */
	catalog_remove(cat, catalog_find(cat, S2));
	snprintf(cat->pending_rollback, sizeof cat->pending_rollback, "%s",
	    S1);
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	j = journal_text(&lines);
	ck_assert_uint_eq(lines, 3);
	ck_assert_ptr_nonnull(strstr(j, "\"del\":[\"" S2 "\"]"));
	free(j);
	catalog_free(cat);

	/* A line cut short by a crash is ignored, and cut off the file. */
	snprintf(path, sizeof path, "%s/%s.json.journal", dir, VM);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs("{\"del\":[\"" S1 "\"", f);
	fclose(f);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_ptr_nonnull(cs = catalog_find(cat, S1));
	ck_assert_int_eq(cs->state, SNAP_READY);
	ck_assert_str_eq(cat->pending_rollback, S1);
	/* Reopened: its state is what is written, nothing to commit. */
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	free(journal_text(&lines));
	ck_assert_uint_eq(lines, 3);	/* the cut line is cut off */
	/* A clean close: the whole file, an empty journal. */
	snprintf(saved, sizeof saved, "%s/%s.json.saved", dir, VM);
	snprintf(cmd, sizeof cmd, "cp %s %s", path, saved);
	ck_assert_int_eq(system(cmd), 0);
	catalog_close(cat);
	ck_assert(file_exists());
	free(journal_text(&lines));
	ck_assert_uint_eq(lines, 0);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_str_eq(cat->pending_rollback, S1);
	catalog_free(cat);
	/* Killed after the rewrite, before the truncation: the same. */
	ck_assert_int_eq(rename(saved, path), 0);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_READY);
	ck_assert_str_eq(cat->pending_rollback, S1);
	/* The rollback done: the header says so. */
	cat->pending_rollback[0] = '\0';
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_str_eq(cat->pending_rollback, "");
	catalog_free(cat);
}
END_TEST

/*
 * The journal is bounded: after CATALOG_JOURNAL_MIN lines of a small
 * catalog the file is rewritten and the journal emptied, and a catalog
 * whose journal holds garbage is refused with the journal's name.
 */
START_TEST(test_catalog_journal_compacts)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;
	char		*cause = NULL, path[128];
	size_t		 lines, i;
	FILE		*f;

	cs = catalog_add(cat, S1, "one", VOL, "evg-" S1, "guest");
	for (i = 0; i < CATALOG_JOURNAL_MIN + 5; i++) {
		cs->size = i;
		ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	}
	ck_assert(file_exists());
	free(journal_text(&lines));
	ck_assert_uint_eq(lines, 5);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_uint_eq(catalog_find(cat, S1)->size, CATALOG_JOURNAL_MIN + 4);
	catalog_free(cat);
	snprintf(path, sizeof path, "%s/%s.json.journal", dir, VM);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs("{\"put\":[{\"uuid\":\"nope\"}]}\n", f);
	fclose(f);
	ck_assert_ptr_null(catalog_open(dir, VM, &cause));
	ck_assert_ptr_nonnull(strstr(cause, ".json.journal: line 6"));
	free(cause);
}
END_TEST

/*
 * An async commit (a snapshot's intent) writes its line at once, is
 * durable at catalog_sync, and any other write of the catalog waits for
 * its sync first: commits, compactions and a close in the middle lose
 * nothing and do not hang.
 */
START_TEST(test_catalog_commit_async)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;
	char		*cause = NULL, *j;
	size_t		 lines, i;

	cs = catalog_add(cat, S1, "one", VOL, "evg-" S1, "guest");
	cs->state = SNAP_CREATING;
	ck_assert_int_eq(catalog_commit_async(cat, &cause), 0);
	j = journal_text(&lines);
	ck_assert_uint_eq(lines, 1);
	ck_assert_ptr_nonnull(strstr(j, S1));
	free(j);
	ck_assert_int_eq(catalog_sync(cat, &cause), 0);
	ck_assert_int_eq(catalog_sync(cat, &cause), 0);
	/* A plain commit with nothing new still waits, and succeeds. */
	catalog_add(cat, S2, "two", VOL, "evg-" S2, "guest");
	ck_assert_int_eq(catalog_commit_async(cat, &cause), 0);
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	/* Async lines across a compaction. */
	for (i = 0; i < CATALOG_JOURNAL_MIN + 3; i++) {
		cs->size = i;
		ck_assert_int_eq(catalog_commit_async(cat, &cause), 0);
	}
	ck_assert(file_exists());
	/* Freed with a sync pending: joined, and everything replays. */
	catalog_free(cat);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, 2);
	ck_assert_uint_eq(catalog_find(cat, S1)->size,
	    CATALOG_JOURNAL_MIN + 2);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_CREATING);
	catalog_free(cat);
}
END_TEST

/* Threads of this process ("Threads:" of /proc/self/status). */
static size_t
thread_count(void)
{
	char	*status, *line;
	size_t	 n;

	status = readfile_alloc("/proc/self/status", 1 << 20, NULL, NULL);
	ck_assert_ptr_nonnull(status);
	ck_assert_ptr_nonnull(line = strstr(status, "\nThreads:"));
	n = strtoul(line + 9, NULL, 10);
	free(status);
	return (n);
}

/*
 * Many catalogs with a sync in flight at once (more than there are sync
 * workers): each sync ends, every line is durable on reopening, and the
 * workers are a few that stay, not a thread per sync.
 */
START_TEST(test_catalog_commit_async_many)
{
	enum { NCAT = 12, ROUNDS = 4 };
	struct catalog	*cat[NCAT];
	char		 vm[NCAT][UUID_STR_LEN + 1], path[640];
	char		*cause = NULL;
	size_t		 before = thread_count(), after;
	int		 i, r;

	for (i = 0; i < NCAT; i++) {
		snprintf(vm[i], sizeof vm[i],
		    "%08x-2222-4333-8444-555555555555", 0x7a000000 + i);
		cat[i] = catalog_open(dir, vm[i], &cause);
		ck_assert_msg(cat[i] != NULL, "open: %s", cause);
	}
	/* Three entries each, then a removal or a change: four lines. */
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < NCAT; i++) {
			if (r < 3)
				catalog_add(cat[i], r == 0 ? S1 : r == 1 ? S2 :
				    S3, r == 0 ? "one" : r == 1 ? "two" : "three",
				    VOL, r == 0 ? "evg-" S1 : r == 1 ? "evg-" S2 :
				    "evg-" S3, "guest");
			else if (i == 0)
				catalog_remove(cat[i], catalog_find(cat[i],
				    S3));
			else
				catalog_find(cat[i], S2)->size = 9;
			ck_assert_int_eq(catalog_commit_async(cat[i], &cause),
			    0);
		}
		for (i = NCAT - 1; i >= 0; i--)
			ck_assert_msg(catalog_sync(cat[i], &cause) == 0,
			    "sync: %s", cause);
	}
	after = thread_count();
	/* At most 4 workers (some may be an earlier test's, CK_FORK=no). */
	ck_assert_msg(after <= before + 4, "%zu threads before, %zu after "
	    "%d syncs", before, after, NCAT * ROUNDS);
	ck_assert_uint_gt(after, 1);
	for (i = 0; i < NCAT; i++)
		catalog_free(cat[i]);
	/* The workers stay for the next syncs. */
	ck_assert_uint_eq(thread_count(), after);
	for (i = 0; i < NCAT; i++) {
		cat[i] = catalog_open(dir, vm[i], &cause);
		ck_assert_msg(cat[i] != NULL, "reopen: %s", cause);
		ck_assert_uint_eq(cat[i]->count, i == 0 ? 2 : 3);
		if (i > 0)
			ck_assert_uint_eq(catalog_find(cat[i], S2)->size, 9);
		catalog_free(cat[i]);
		snprintf(path, sizeof path, "%s/%s.json", dir, vm[i]);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s.json.journal", dir, vm[i]);
		unlink(path);
	}
}
END_TEST

/*
 * The record of an online rollback (catalog.h, "online") survives a
 * restart from the journal and from the rewritten file, and clearing it
 * is durable too.
 */
START_TEST(test_catalog_online_record)
{
	static const char	 rec[] = "{\"snapshot\":\"" S1 "\",\"phase\":"
				    "\"detached\",\"device_add\":{\"bus\":"
				    "\"pci.3\",\"addr\":\"0.0\"}}";
	struct catalog		*cat = open_cat();
	char			*cause = NULL;

	catalog_add(cat, S1, "one", VOL, "evg-" S1, "guest");
	cat->online = xstrdup(rec);
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_ptr_nonnull(cat->online);
	ck_assert_str_eq(cat->online, rec);
	catalog_close(cat);
	ck_assert(file_exists());
	cat = open_cat();
	ck_assert_str_eq(cat->online, rec);
	free(cat->online);
	cat->online = NULL;
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_ptr_null(cat->online);
	catalog_free(cat);
}
END_TEST

/* Entries written are read back with every field; a missing file is empty. */
START_TEST(test_catalog_roundtrip)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;
	char		*cause = NULL;

	ck_assert_uint_eq(cat->count, 0);
	cs = catalog_add(cat, S1, "Weekly backup ✓", VOL, S1, "controller");
	cs->created = 1700000000;
	cs->size = 123456789;
	cs->state = SNAP_CREATING;
	free(cs->consistency);
	cs->consistency = xstrdup("app");
	catalog_add(cat, S2, "second", VOL2, "tag-two", "guest");
	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	catalog_free(cat);

	cat = open_cat();
	ck_assert_uint_eq(cat->count, 2);
	cs = catalog_find(cat, S1);
	ck_assert_ptr_nonnull(cs);
	ck_assert_str_eq(cs->name, "Weekly backup ✓");
	ck_assert_str_eq(cs->volume, VOL);
	ck_assert_uint_eq(cs->created, 1700000000);
	ck_assert_uint_eq(cs->size, 123456789);
	ck_assert_int_eq(cs->state, SNAP_CREATING);
	ck_assert_str_eq(cs->consistency, "app");
	ck_assert_str_eq(cs->origin, "controller");
	cs = catalog_find(cat, S2);
	ck_assert_str_eq(cs->tag, "tag-two");
	catalog_free(cat);
}
END_TEST

/*
 * A catalog at its limit (CATALOG_MAX_ENTRIES snapshots) is written and
 * read back whole, in order; so is one more adopted past it: never.
 */
START_TEST(test_catalog_at_limit)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;
	struct cat_seen	 extra = { .tag = CATALOG_TAG_PREFIX S3, .uuid = S3 };
	struct cat_reconcile r;
	char		 uuid[UUID_STR_LEN + 1], name[32];
	char		*cause = NULL;
	size_t		 i;

	for (i = 0; i < CATALOG_MAX_ENTRIES; i++) {
		snprintf(uuid, sizeof uuid, "%08zx-2222-4333-8444-555555555555",
		    i + 16);
		snprintf(name, sizeof name, "snap %zu", i);
		cs = catalog_add(cat, uuid, name, VOL, uuid, "controller");
		cs->state = SNAP_READY;
	}
	ck_assert_msg(catalog_commit(cat, &cause) == 0, "%s", cause);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, CATALOG_MAX_ENTRIES);
	ck_assert_str_eq(TAILQ_LAST(&cat->snaps, cat_snap_list)->name,
	    "snap 16383");
	memset(&r, 0, sizeof r);
	catalog_reconcile(cat, VOL2, &extra, 1, &r);
	ck_assert_uint_eq(r.adopted, 0);
	ck_assert_uint_eq(cat->count, CATALOG_MAX_ENTRIES);
	catalog_free(cat);
}
END_TEST

/* Names are found per volume and counted across volumes. */
START_TEST(test_catalog_find_name)
{
	struct catalog	*cat = open_cat();
	unsigned int	 count;

	catalog_add(cat, S1, "daily", VOL, S1, "guest");
	catalog_add(cat, S2, "daily", VOL2, S2, "guest");
	ck_assert_ptr_eq(catalog_find_name(cat, VOL2, "daily", &count),
	    catalog_find(cat, S2));
	ck_assert_uint_eq(count, 1);
	ck_assert_ptr_nonnull(catalog_find_name(cat, NULL, "daily", &count));
	ck_assert_uint_eq(count, 2);
	ck_assert_ptr_null(catalog_find_name(cat, VOL, "weekly", &count));
	ck_assert_uint_eq(count, 0);
	catalog_free(cat);
}
END_TEST

/* A corrupt catalog is refused with the file named, not half-loaded. */
START_TEST(test_catalog_corrupt)
{
	char		 path[128], *cause = NULL;
	FILE		*f;

	snprintf(path, sizeof path, "%s/%s.json", dir, VM);
	f = fopen(path, "w");
	fputs("{\"snapshots\": [{\"uuid\": \"" S1 "\"}]}", f);
	fclose(f);
	ck_assert_ptr_null(catalog_open(dir, VM, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "snapshots[0]: malformed"));
	free(cause);
}
END_TEST

/*
 * catalog_parse() reads catalog text with no file involved (NULL: a new
 * catalog), and catalog_text() writes what it read back the same way.
 */
START_TEST(test_catalog_parse)
{
	static const char	 text[] = "{\"snapshots\": [{\"uuid\": \"" S1
	    "\", \"name\": \"weekly\", \"volume\": \"" VOL "\", \"tag\": "
	    "\"t1\", \"created\": 7, \"size_bytes\": 9, \"consistency\": "
	    "\"fs\", \"origin\": \"guest\", \"state\": \"ready\"}]}";
	struct catalog		*cat, *again;
	char			*cause = NULL, *saved, *saved2;

	cat = catalog_parse("/x/" VM ".json", VM, NULL, &cause);
	ck_assert_ptr_nonnull(cat);
	ck_assert_uint_eq(cat->count, 0);
	ck_assert_str_eq(cat->path, "/x/" VM ".json");
	catalog_free(cat);

	cat = catalog_parse("/x/" VM ".json", VM, text, &cause);
	ck_assert_msg(cat != NULL, "parse: %s", cause);
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_uint_eq(catalog_find(cat, S1)->size, 9);
	saved = catalog_text(cat);
	again = catalog_parse("/x/" VM ".json", VM, saved, &cause);
	ck_assert_ptr_nonnull(again);
	saved2 = catalog_text(again);
	ck_assert_str_eq(saved, saved2);
	free(saved2);
	free(saved);
	catalog_free(again);
	catalog_free(cat);

	ck_assert_ptr_null(catalog_parse("/x/" VM ".json", VM, "[]", &cause));
	ck_assert_ptr_nonnull(strstr(cause, "/x/" VM ".json: not a snapshot "
	    "catalog"));
	free(cause);
}
END_TEST

/* One catalog entry as JSON text (uuid, tag). */
#define ENTRY(uuid, tag)	"{\"uuid\": \"" uuid "\", \"name\": \"n\", " \
	"\"volume\": \"" VOL "\", \"tag\": \"" tag "\", \"created\": 7, " \
	"\"size_bytes\": 9, \"consistency\": \"fs\", \"origin\": \"guest\", " \
	"\"state\": \"ready\"}"

/*
 * Proves duplicated catalog entries (issue 11) are merged, the first one
 * kept: the same UUID twice, or two UUIDs for one backend snapshot (same
 * volume and tag).  They used to load as twins: listed twice, and
 * deleting one left a "ready" twin with nothing behind it.
 */
START_TEST(test_catalog_duplicates_merged)
{
	static const char	 text[] = "{\"snapshots\": [" ENTRY(S1, "t1")
	    ", " ENTRY(S1, "t1") ", " ENTRY(S2, "t1") ", " ENTRY(S1, "t9")
	    "]}";
	struct catalog		*cat;
	char			*cause = NULL;

	cat = catalog_parse("/x/" VM ".json", VM, text, &cause);
	ck_assert_msg(cat != NULL, "parse: %s", cause);
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_str_eq(catalog_find(cat, S1)->tag, "t1");
	ck_assert_ptr_null(catalog_find(cat, S2));
	catalog_free(cat);
}
END_TEST

/*
 * A snapshot the backend made just before a crash (intent "creating"
 * written, outcome not) is listed exactly once after reconcile, ready.
 */
START_TEST(test_reconcile_finishes_creation)
{
	struct catalog		*cat = open_cat();
	struct cat_snap		*cs;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = { { S1, NULL, NULL, 1700000000,
				    4096 } };

	cs = catalog_add(cat, S1, "n", VOL, S1, "controller");
	cs->state = SNAP_CREATING;
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 1, &r), 1);
	ck_assert_uint_eq(r.finished, 1);
	ck_assert_uint_eq(r.adopted, 0);
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_int_eq(cs->state, SNAP_READY);
	ck_assert_uint_eq(cs->size, 4096);
	catalog_free(cat);
}
END_TEST

/* A creation the backend never did is cleaned away. */
START_TEST(test_reconcile_cleans_creation)
{
	struct catalog		*cat = open_cat();
	struct cat_reconcile	 r;

	catalog_add(cat, S1, "n", VOL, S1, "controller")->state =
	    SNAP_CREATING;
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, NULL, 0, &r), 1);
	ck_assert_uint_eq(r.cleaned, 1);
	ck_assert_uint_eq(cat->count, 0);
	catalog_free(cat);
}
END_TEST

/* A ready entry whose backend snapshot vanished is kept as missing. */
START_TEST(test_reconcile_missing_and_found)
{
	struct catalog		*cat = open_cat();
	struct cat_snap		*cs;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = { { S1, NULL, NULL, 1, 0 } };

	cs = catalog_add(cat, S1, "n", VOL, S1, "guest");
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, NULL, 0, &r), 1);
	ck_assert_uint_eq(r.missing, 1);
	ck_assert_uint_eq(cat->count, 1);
	ck_assert_int_eq(cs->state, SNAP_MISSING);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 1, &r), 1);
	ck_assert_uint_eq(r.found, 1);
	ck_assert_int_eq(cs->state, SNAP_READY);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 1, &r), 0);
	catalog_free(cat);
}
END_TEST

/*
 * Proves a backend snapshot whose name and tag are not valid names (an
 * ESC sequence, a bidi override, only spaces) is adopted under a name the
 * host makes, so the catalog never holds one that would reach a terminal
 * or a peer raw.
 */
START_TEST(test_reconcile_adopt_hostile_names)
{
	struct catalog		*cat = open_cat();
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ "\x1b[31mred", S1, "x\xe2\x80\xae" "y", 1, 0 },
		{ "   ", S2, NULL, 2, 0 },
	};
	struct cat_snap		*cs;
	const char		*why;

	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 2, &r), 2);
	ck_assert_uint_eq(r.adopted, 2);
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		ck_assert_msg(text_valid_name(cs->name, NAME_MAX_CHARS, &why),
		    "adopted as '%s': %s", cs->name, why);
		ck_assert_msg(strncmp(cs->name, "adopted (", 9) == 0,
		    "adopted as '%s'", cs->name);
	}
	catalog_free(cat);
}
END_TEST

/*
 * An unknown backend snapshot of ours is adopted once, keeping its
 * recorded UUID and name (or the UUID its tag carries); a second reconcile
 * adds nothing; other volumes are untouched.
 */
START_TEST(test_reconcile_adopts)
{
	struct catalog		*cat = open_cat();
	struct cat_snap		*cs;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ S2, S2, "from zfs", 1700000100, 65536 },
		{ CATALOG_TAG_PREFIX S1, NULL, NULL, 1700000200, 0 },
	};

	catalog_add(cat, S3, "other", VOL2, S3, "guest");
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 2, &r), 2);
	ck_assert_uint_eq(r.adopted, 2);
	cs = catalog_find(cat, S2);
	ck_assert_ptr_nonnull(cs);
	ck_assert_str_eq(cs->name, "from zfs");
	ck_assert_str_eq(cs->origin, "adopted");
	ck_assert_str_eq(cs->consistency, "crash");
	ck_assert_uint_eq(cs->size, 65536);
	cs = catalog_find(cat, S1);
	ck_assert_ptr_nonnull(cs);
	ck_assert_str_eq(cs->tag, CATALOG_TAG_PREFIX S1);
	ck_assert_str_eq(cs->name, CATALOG_TAG_PREFIX S1);
	ck_assert_uint_eq(cat->count, 3);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 2, &r), 0);
	ck_assert_uint_eq(cat->count, 3);
	ck_assert_int_eq(catalog_find(cat, S3)->state, SNAP_READY);
	catalog_free(cat);
}
END_TEST

/* Interrupted deletes: gone from the backend -> dropped; still there -> redo. */
START_TEST(test_reconcile_deleting)
{
	struct catalog		*cat = open_cat();
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = { { S2, NULL, NULL, 1, 0 } };

	catalog_add(cat, S1, "a", VOL, S1, "guest")->state = SNAP_DELETING;
	catalog_add(cat, S2, "b", VOL, S2, "guest")->state = SNAP_DELETING;
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 1, &r), 1);
	ck_assert_uint_eq(r.cleaned, 1);
	ck_assert_uint_eq(r.redelete, 1);
	ck_assert_ptr_null(catalog_find(cat, S1));
	ck_assert_int_eq(catalog_find(cat, S2)->state, SNAP_DELETING);
	catalog_free(cat);
}
END_TEST

/* An adopted name that clashes with a catalogued one is made unique. */
START_TEST(test_reconcile_adopt_name_clash)
{
	struct catalog		*cat = open_cat();
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ S1, NULL, NULL, 1, 0 },
		{ S2, S2, "daily", 2, 0 },
	};
	unsigned int		 count;

	catalog_add(cat, S1, "daily", VOL, S1, "guest");
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 2, &r), 1);
	catalog_find_name(cat, VOL, "daily", &count);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(catalog_find(cat, S2)->name, "daily (c0000002)");
	catalog_free(cat);
}
END_TEST

/* EVE's own snapshot names (issue 13): a stopped app's qcow2 tag, ZFS. */
#define EVE_QCOW2	"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" \
			"-snapshot-20261205101010"
#define EVE_ZFS		"20261205-101010123"
#define S4	"c0000004-2222-4333-8444-555555555555"
#define S5	"c0000005-2222-4333-8444-555555555555"

/*
 * Proves the mark: a new tag is the prefix and the UUID; ours are that, a
 * bare UUID (made before the prefix) and any name with a UUID recorded
 * (ZFS's eve:snapshot-uuid); EVE's names, names made by hand, a prefix
 * without a UUID and a recorded UUID that is not one are foreign.
 */
START_TEST(test_owner_tags)
{
	static const char *const foreign[] = { EVE_QCOW2, EVE_ZFS, "by-hand",
	    "", CATALOG_TAG_PREFIX, CATALOG_TAG_PREFIX "nightly",
	    CATALOG_TAG_PREFIX S1 "x", S1 "-snapshot-20261205101010",
	    "EVG-" S1, " " S1, NULL };
	char	 tag[CATALOG_TAG_LEN + 1];
	size_t	 i;

	catalog_tag_make(tag, sizeof tag, S1);
	ck_assert_str_eq(tag, "evg-" S1);
	ck_assert_uint_eq(strlen(tag), CATALOG_TAG_LEN);
	ck_assert(catalog_tag_ours(tag, NULL));
	ck_assert(catalog_tag_ours(S1, NULL));
	ck_assert(catalog_tag_ours("C0000001-2222-4333-8444-555555555555",
	    NULL));
	ck_assert(catalog_tag_ours("weekly", S2));
	ck_assert(catalog_tag_ours(EVE_ZFS, S2));
	for (i = 0; foreign[i] != NULL; i++) {
		ck_assert_msg(!catalog_tag_ours(foreign[i], NULL),
		    "'%s' taken as ours", foreign[i]);
		ck_assert_msg(!catalog_tag_ours(foreign[i], "nightly"),
		    "'%s' (uuid property 'nightly') taken as ours", foreign[i]);
	}
}
END_TEST

/*
 * Proves reconcile adopts only the host's snapshots out of a mixed
 * listing: ours by prefix, by bare UUID and by ZFS UUID property are
 * adopted (UUIDs kept); EVE's qcow2 and ZFS snapshots and one made by hand
 * are never adopted nor counted in the catalog, again and again; a legacy
 * bare-UUID entry stays ready with its tag, also after a write and reload.
 */
START_TEST(test_owner_reconcile_mix)
{
	struct catalog		*cat = open_cat();
	struct cat_snap		*cs;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ EVE_QCOW2, NULL, NULL, 1764929410, 0 },
		{ S1, NULL, NULL, 1764929411, 0 },
		{ CATALOG_TAG_PREFIX S2, NULL, NULL, 1764929412, 0 },
		{ EVE_ZFS, NULL, NULL, 1764929413, 4096 },
		{ "nightly", S3, "from zfs", 1764929414, 8192 },
		{ "by-hand", NULL, "by hand", 1764929415, 0 },
		{ S4, NULL, NULL, 1764929416, 0 },
	};
	char			*cause = NULL;

	catalog_add(cat, S1, "legacy", VOL, S1, "controller");
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 7, &r), 3);
	ck_assert_uint_eq(r.adopted, 3);
	ck_assert_uint_eq(r.foreign, 3);
	ck_assert_uint_eq(r.released, 0);
	ck_assert_uint_eq(r.missing, 0);
	ck_assert_uint_eq(cat->count, 4);
	cs = catalog_find(cat, S1);
	ck_assert_str_eq(cs->tag, S1);
	ck_assert_str_eq(cs->name, "legacy");
	ck_assert_int_eq(cs->state, SNAP_READY);
	ck_assert_str_eq(catalog_find(cat, S2)->tag, CATALOG_TAG_PREFIX S2);
	ck_assert_str_eq(catalog_find(cat, S3)->tag, "nightly");
	ck_assert_str_eq(catalog_find(cat, S3)->name, "from zfs");
	ck_assert_str_eq(catalog_find(cat, S4)->tag, S4);
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		ck_assert(catalog_tag_ours(cs->tag, cs->uuid));
		ck_assert_str_ne(cs->tag, EVE_QCOW2);
		ck_assert_str_ne(cs->tag, EVE_ZFS);
		ck_assert_str_ne(cs->tag, "by-hand");
	}
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 7, &r), 0);
	ck_assert_uint_eq(r.foreign, 3);
	ck_assert_uint_eq(cat->count, 4);

	ck_assert_int_eq(catalog_commit(cat, &cause), 0);
	catalog_free(cat);
	cat = open_cat();
	ck_assert_uint_eq(cat->count, 4);
	ck_assert_str_eq(catalog_find(cat, S1)->tag, S1);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 7, &r), 0);
	catalog_free(cat);
}
END_TEST

/*
 * Proves a listing of foreign snapshots only changes nothing, and an
 * entry an older host adopted from a foreign snapshot (listed, so it could
 * be deleted or rolled back over) is dropped from the catalog, whatever
 * its state: not deleted again when it was being deleted, its scheduled
 * rollback forgotten.  Entries of ours are untouched.
 */
START_TEST(test_owner_release_old_adoptions)
{
	struct catalog		*cat = open_cat();
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ EVE_QCOW2, NULL, NULL, 1, 0 },
		{ EVE_ZFS, NULL, NULL, 2, 0 },
		{ CATALOG_TAG_PREFIX S3, NULL, NULL, 3, 0 },
		{ "manual", NULL, NULL, 4, 0 },
	};

	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 2, &r), 0);
	ck_assert_uint_eq(r.foreign, 2);
	ck_assert_uint_eq(cat->count, 0);

	catalog_add(cat, S1, EVE_QCOW2, VOL, EVE_QCOW2, "adopted");
	catalog_add(cat, S2, EVE_ZFS, VOL, EVE_ZFS, "adopted")->state =
	    SNAP_DELETING;
	catalog_add(cat, S3, "ours", VOL, CATALOG_TAG_PREFIX S3, "guest");
	catalog_add(cat, S4, "manual", VOL2, "manual", "adopted");
	snprintf(cat->pending_rollback, sizeof cat->pending_rollback, "%s",
	    S1);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 4, &r), 2);
	ck_assert_uint_eq(r.released, 2);
	ck_assert_uint_eq(r.redelete, 0);
	ck_assert_uint_eq(r.adopted, 0);
	ck_assert_uint_eq(r.foreign, 3);
	ck_assert_ptr_null(catalog_find(cat, S1));
	ck_assert_ptr_null(catalog_find(cat, S2));
	ck_assert_int_eq(catalog_find(cat, S3)->state, SNAP_READY);
	/* Another volume's entries wait for that volume's listing. */
	ck_assert_ptr_nonnull(catalog_find(cat, S4));
	ck_assert_str_eq(cat->pending_rollback, "");
	ck_assert_uint_eq(cat->count, 2);
	catalog_free(cat);
}
END_TEST

/*
 * Proves a catalog written before the prefix (tags are bare UUIDs) loads
 * and reconciles unchanged: its entries match their backend snapshots by
 * tag, are not adopted twice, and keep their tags when written again.
 */
START_TEST(test_owner_legacy_catalog)
{
	static const char	 text[] = "{\"format\": 1, \"vm\": \"" VM
	    "\", \"snapshots\": [" ENTRY(S1, S1) ", " ENTRY(S5, S5) "]}";
	struct catalog		*cat;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[] = {
		{ S1, NULL, NULL, 7, 9 },
		{ EVE_QCOW2, NULL, NULL, 8, 0 },
		{ S5, S5, "n", 7, 9 },
	};
	char			*cause = NULL, *saved;

	cat = catalog_parse("/x/" VM ".json", VM, text, &cause);
	ck_assert_msg(cat != NULL, "parse: %s", cause);
	ck_assert_uint_eq(catalog_reconcile(cat, VOL, seen, 3, &r), 0);
	ck_assert_uint_eq(r.foreign, 1);
	ck_assert_uint_eq(cat->count, 2);
	ck_assert_str_eq(catalog_find(cat, S1)->tag, S1);
	ck_assert_str_eq(catalog_find(cat, S5)->tag, S5);
	saved = catalog_text(cat);
	ck_assert_ptr_nonnull(strstr(saved, "\"tag\":\"" S1 "\""));
	ck_assert_ptr_null(strstr(saved, CATALOG_TAG_PREFIX));
	free(saved);
	catalog_free(cat);
}
END_TEST

#define G1	"9a000001-2222-4333-8444-555555555555"

/* Two creating members of group G1 on VOL and VOL2, as a crash left them. */
static struct catalog *
half_made_group(void)
{
	struct catalog	*cat = open_cat();
	struct cat_snap	*cs;

	cs = catalog_add(cat, S1, "pair", VOL, S1, "controller");
	snprintf(cs->group, sizeof cs->group, "%s", G1);
	cs->group_size = 2;
	cs->state = SNAP_CREATING;
	cs = catalog_add(cat, S2, "pair", VOL2, S2, "controller");
	snprintf(cs->group, sizeof cs->group, "%s", G1);
	cs->group_size = 2;
	cs->state = SNAP_CREATING;
	return (cat);
}

/*
 * A group whose members are all in their backends is finished as a whole
 * once both volumes were listed, not member by member.
 */
START_TEST(test_group_settles_whole)
{
	struct catalog		*cat = half_made_group();
	struct cat_reconcile	 r;
	struct cat_seen		 one[] = { { S1, NULL, NULL, 7, 4096 } };
	struct cat_seen		 two[] = { { S2, NULL, NULL, 7, 8192 } };

	catalog_reconcile(cat, VOL, one, 1, &r);
	ck_assert_uint_eq(r.finished, 0);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_CREATING);
	/* VOL2 not listed yet: nothing is decided. */
	ck_assert_uint_eq(catalog_settle_groups(cat), 0);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_CREATING);
	catalog_reconcile(cat, VOL2, two, 1, &r);
	ck_assert_uint_eq(catalog_settle_groups(cat), 2);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_READY);
	ck_assert_int_eq(catalog_find(cat, S2)->state, SNAP_READY);
	ck_assert_uint_eq(catalog_find(cat, S1)->size, 4096);
	catalog_free(cat);
}
END_TEST

/*
 * A crash between the two backend snapshots: the first member is in its
 * backend, the second is not.  Nothing of the group is kept: the first is
 * to be deleted again, the second dropped; never a partial group ready.
 */
START_TEST(test_group_half_made_undone)
{
	struct catalog		*cat = half_made_group();
	struct cat_reconcile	 r;
	struct cat_seen		 one[] = { { S1, NULL, NULL, 7, 4096 } };

	catalog_reconcile(cat, VOL, one, 1, &r);
	catalog_reconcile(cat, VOL2, NULL, 0, &r);
	ck_assert_uint_eq(catalog_settle_groups(cat), 2);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_DELETING);
	ck_assert_ptr_null(catalog_find(cat, S2));
	ck_assert_uint_eq(cat->count, 1);
	catalog_free(cat);
}
END_TEST

/* Only one member's intent was written (group_size 2): undone too. */
START_TEST(test_group_member_never_recorded)
{
	struct catalog		*cat = half_made_group();
	struct cat_reconcile	 r;
	struct cat_seen		 one[] = { { S1, NULL, NULL, 7, 4096 } };

	catalog_remove(cat, catalog_find(cat, S2));
	catalog_reconcile(cat, VOL, one, 1, &r);
	ck_assert_uint_eq(catalog_settle_groups(cat), 1);
	ck_assert_int_eq(catalog_find(cat, S1)->state, SNAP_DELETING);
	catalog_free(cat);
}
END_TEST

/*
 * A (hand-edited) group of more than CATALOG_GROUP_MAX creating members:
 * the check still ends, and settles every member.
 */
START_TEST(test_group_settle_oversized)
{
	struct catalog		*cat = open_cat();
	struct cat_snap		*cs;
	struct cat_reconcile	 r;
	struct cat_seen		 seen[CATALOG_GROUP_MAX + 1];
	char			 uuid[CATALOG_GROUP_MAX + 1][UUID_STR_LEN + 1];
	int			 i;

	for (i = 0; i <= CATALOG_GROUP_MAX; i++) {
		snprintf(uuid[i], sizeof uuid[i],
		    "c%07x-2222-4333-8444-555555555555", i);
		cs = catalog_add(cat, uuid[i], "big", VOL, uuid[i],
		    "controller");
		snprintf(cs->group, sizeof cs->group, "%s", G1);
		cs->group_size = 2;
		cs->state = SNAP_CREATING;
		seen[i] = (struct cat_seen){ uuid[i], NULL, NULL, 7, 1 };
	}
	catalog_reconcile(cat, VOL, seen, CATALOG_GROUP_MAX + 1, &r);
	ck_assert_uint_eq(catalog_settle_groups(cat), CATALOG_GROUP_MAX + 1);
	TAILQ_FOREACH(cs, &cat->snaps, entry)
		ck_assert_int_eq(cs->state, SNAP_DELETING);
	ck_assert_uint_eq(catalog_settle_groups(cat), 0);
	catalog_free(cat);
}
END_TEST

/*
 * Format 1 (before groups): each entry is a group of one with its own
 * UUID; a scheduled rollback's snapshot UUID is that group's.  Saved
 * again, the catalog is format 2 with the groups and pending volumes.
 */
START_TEST(test_group_format1_migrates)
{
	static const char	 text[] = "{\"format\": 1, \"vm\": \"" VM
	    "\", \"pending_rollback\": \"" S1 "\", \"snapshots\": ["
	    ENTRY(S1, S1) "]}";
	struct catalog		*cat;
	struct cat_snap		*m[2];
	char			*cause = NULL, *saved;

	cat = catalog_parse("/x/" VM ".json", VM, text, &cause);
	ck_assert_msg(cat != NULL, "parse: %s", cause);
	ck_assert_str_eq(catalog_find(cat, S1)->group, S1);
	ck_assert_uint_eq(catalog_find(cat, S1)->group_size, 1);
	ck_assert_uint_eq(catalog_group(cat, cat->pending_rollback, m, 2), 1);
	ck_assert_ptr_eq(m[0], catalog_find(cat, S1));
	snprintf(cat->pending_volumes[0], UUID_STR_LEN + 1, "%s", VOL);
	cat->npending_volumes = 1;
	saved = catalog_text(cat);
	ck_assert_ptr_nonnull(strstr(saved, "\"format\":2"));
	ck_assert_ptr_nonnull(strstr(saved, "\"group\":\"" S1 "\""));
	ck_assert_ptr_nonnull(strstr(saved, "\"group_size\":1"));
	catalog_free(cat);
	cat = catalog_parse("/x/" VM ".json", VM, saved, &cause);
	ck_assert_msg(cat != NULL, "reparse: %s", cause);
	ck_assert_uint_eq(cat->npending_volumes, 1);
	ck_assert_str_eq(cat->pending_volumes[0], VOL);
	free(saved);
	catalog_free(cat);
}
END_TEST

/* A bad group or size in the file makes the entry a group of one. */
START_TEST(test_group_bad_fields)
{
	static const char	 text[] = "{\"format\": 2, \"vm\": \"" VM
	    "\", \"snapshots\": [{\"uuid\": \"" S1 "\", \"name\": \"n\", "
	    "\"volume\": \"" VOL "\", \"tag\": \"t\", \"created\": 7, "
	    "\"size_bytes\": 9, \"consistency\": \"fs\", \"origin\": "
	    "\"guest\", \"state\": \"ready\", \"group\": \"" G1 "\", "
	    "\"group_size\": 33}]}";
	struct catalog		*cat;
	char			*cause = NULL;

	cat = catalog_parse("/x/" VM ".json", VM, text, &cause);
	ck_assert_msg(cat != NULL, "parse: %s", cause);
	ck_assert_str_eq(catalog_find(cat, S1)->group, S1);
	ck_assert_uint_eq(catalog_find(cat, S1)->group_size, 1);
	catalog_free(cat);
}
END_TEST

Suite *
suite_catalog(void)
{
	Suite	*s = suite_create("catalog");
	TCase	*tc = tcase_create("catalog");

	/* A catalog at its limit (16384 entries) takes seconds under ASan. */
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_catalog_roundtrip);
	tcase_add_test(tc, test_catalog_journal);
	tcase_add_test(tc, test_catalog_journal_compacts);
	tcase_add_test(tc, test_catalog_commit_async);
	tcase_add_test(tc, test_catalog_commit_async_many);
	tcase_add_test(tc, test_catalog_online_record);
	tcase_add_test(tc, test_catalog_find_name);
	tcase_add_test(tc, test_catalog_at_limit);
	tcase_add_test(tc, test_catalog_corrupt);
	tcase_add_test(tc, test_catalog_parse);
	tcase_add_test(tc, test_catalog_duplicates_merged);
	tcase_add_test(tc, test_reconcile_adopt_hostile_names);
	tcase_add_test(tc, test_reconcile_finishes_creation);
	tcase_add_test(tc, test_reconcile_cleans_creation);
	tcase_add_test(tc, test_reconcile_missing_and_found);
	tcase_add_test(tc, test_reconcile_adopts);
	tcase_add_test(tc, test_reconcile_deleting);
	tcase_add_test(tc, test_reconcile_adopt_name_clash);
	suite_add_tcase(s, tc);

	tc = tcase_create("owner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_owner_tags);
	tcase_add_test(tc, test_owner_reconcile_mix);
	tcase_add_test(tc, test_owner_release_old_adoptions);
	tcase_add_test(tc, test_owner_legacy_catalog);
	suite_add_tcase(s, tc);

	tc = tcase_create("group");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_group_settles_whole);
	tcase_add_test(tc, test_group_half_made_undone);
	tcase_add_test(tc, test_group_member_never_recorded);
	tcase_add_test(tc, test_group_settle_oversized);
	tcase_add_test(tc, test_group_format1_migrates);
	tcase_add_test(tc, test_group_bad_fields);
	suite_add_tcase(s, tc);
	return (s);
}
