/*
 * Unit tests for host/zfs.c: the exact argv of each zfs command, parsing of
 * `zfs list -Hp` and `zfs get -Hp -o value` output, rollback safety,
 * ownership of snapshots and dataset name validation.
 *
 * The sample outputs follow the shape OpenZFS prints in scripted mode:
 * cmd/zfs/zfs_main.c print_dataset() writes the columns asked for with -o
 * separated by one tab (-H), each value as is, "-" for a user property the
 * dataset does not have, and a newline after each dataset; zfs-list(8):
 * "-H  Used for scripting mode.  Do not print headers and separate fields
 * by a single tab instead of arbitrary white space", "-p  Display numbers
 * in parsable (exact) values" (bytes; creation in seconds since the epoch,
 * as in `zfs get -Hp creation` samples such as "creation 1386931502").
 * A snapshot's used is 0 until the dataset diverges from it, as the
 * newest snapshot in `zfs list -t snapshot` listings shows.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "suites.h"
#include "xmalloc.h"
#include "zfs.h"

#define ZFS		"/sbin/zfs"
#define VOL		"5a4a8c1e-0b3e-4a46-9f7c-3f6a1d9e2b10"
#define DS		"persist/vault/volumes/" VOL ".1"
#define SNAP1		"0d6c7f3a-2b1e-4c59-8a7d-1e2f3a4b5c6d"
#define SNAP2		"7b1e9c2d-3f4a-4b5c-9d6e-7f8a9b0c1d2e"
#define SNAP3		"c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"

/* Compare argv with the NULL-terminated want, then free argv. */
static void
expect_argv(char **argv, const char *const *want)
{
	size_t	i;

	ck_assert_ptr_nonnull(argv);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(argv[i] != NULL, "argv[%zu] missing, want '%s'",
		    i, want[i]);
		ck_assert_str_eq(argv[i], want[i]);
	}
	ck_assert_msg(argv[i] == NULL, "argv[%zu] '%s' is extra", i, argv[i]);
	zfs_argv_free(argv);
}

/* Parse out for DS and expect failure with a cause containing what. */
static void
expect_bad_list(const char *out, const char *what)
{
	struct zfs_snap	*snaps = (struct zfs_snap *)1;
	size_t		 n = 99;
	char		*cause = NULL;

	ck_assert_msg(zfs_parse_list(out, DS, &snaps, &n, &cause) == -1,
	    "accepted: '%s'", out);
	ck_assert_ptr_null(snaps);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, what) != NULL, "cause '%s' lacks '%s'",
	    cause, what);
	free(cause);
}

/*
 * The snapshot argv carries UUID and name as user properties, name whole;
 * the ZFS name is the tag given (evg-UUID now, a bare UUID before).
 */
START_TEST(test_argv_snapshot)
{
	static const char *const want[] = { ZFS, "snapshot",
	    "-o", "eve:snapshot-uuid=" SNAP1,
	    "-o", "eve:snapshot-name=before upgrade",
	    DS "@" CATALOG_TAG_PREFIX SNAP1, NULL };
	static const char *const odd[] = { "zfs", "snapshot",
	    "-o", "eve:snapshot-uuid=" SNAP2,
	    "-o", "eve:snapshot-name=it's \"v2\" = caf\xc3\xa9 $(x) ; -r",
	    "tank@" SNAP2, NULL };

	expect_argv(zfs_argv_snapshot(ZFS, DS, CATALOG_TAG_PREFIX SNAP1, SNAP1,
	    "before upgrade"), want);
	expect_argv(zfs_argv_snapshot("zfs", "tank", SNAP2, SNAP2,
	    "it's \"v2\" = caf\xc3\xa9 $(x) ; -r"), odd);
}
END_TEST

/* destroy and rollback name one snapshot; rollback never has -r. */
START_TEST(test_argv_destroy_rollback)
{
	static const char *const destroy[] = { ZFS, "destroy", DS "@" SNAP1,
	    NULL };
	static const char *const rollback[] = { ZFS, "rollback", DS "@" SNAP1,
	    NULL };

	expect_argv(zfs_argv_destroy(ZFS, DS, SNAP1), destroy);
	expect_argv(zfs_argv_rollback(ZFS, DS, SNAP1), rollback);
}
END_TEST

/* list and get ask for scripted, exact output of one dataset. */
START_TEST(test_argv_list_get)
{
	static const char *const list[] = { ZFS, "list", "-Hp", "-t",
	    "snapshot", "-d", "1", "-o",
	    "name,used,creation,eve:snapshot-uuid,eve:snapshot-name", DS,
	    NULL };
	static const char *const avail[] = { ZFS, "get", "-Hp", "-o", "value",
	    "available", DS, NULL };
	static const char *const volsize[] = { ZFS, "get", "-Hp", "-o",
	    "value", "volsize", DS, NULL };

	expect_argv(zfs_argv_list(ZFS, DS), list);
	expect_argv(zfs_argv_available(ZFS, DS), avail);
	expect_argv(zfs_argv_volsize(ZFS, DS), volsize);
	zfs_argv_free(NULL);
}
END_TEST

/*
 * Several snapshots in order, one made by hand outside EVE (user properties
 * "-"), names with spaces and UTF-8 kept byte for byte, other datasets'
 * lines (including one whose name extends this dataset's) skipped.
 */
START_TEST(test_parse_list_good)
{
	static const char out[] =
	    DS "@" SNAP1 "\t1372160\t1717430400\t" SNAP1 "\tnightly\n"
	    DS "@manual-2024-06-04\t81920\t1717500000\t-\t-\n"
	    DS "2@" SNAP3 "\t4096\t1717500001\t" SNAP3 "\tother vm\n"
	    "persist/vault/volumes/other.1@x\t0\t1717500002\t-\t-\n"
	    DS "@" SNAP2 "\t0\t1717513200\t" SNAP2
	    "\tbefore upgrade to v2 \xe2\x80\x94 caf\xc3\xa9 \xe6\x97\xa5\n";
	struct zfs_snap	*s;
	size_t		 n;
	char		*cause = NULL;

	ck_assert_int_eq(zfs_parse_list(out, DS, &s, &n, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(n, 3);

	ck_assert_str_eq(s[0].snapname, SNAP1);
	ck_assert_uint_eq(s[0].used, 1372160);
	ck_assert_uint_eq(s[0].creation, 1717430400);
	ck_assert_str_eq(s[0].uuid, SNAP1);
	ck_assert_str_eq(s[0].name, "nightly");

	ck_assert_str_eq(s[1].snapname, "manual-2024-06-04");
	ck_assert_uint_eq(s[1].used, 81920);
	ck_assert_uint_eq(s[1].creation, 1717500000);
	ck_assert_ptr_null(s[1].uuid);
	ck_assert_ptr_null(s[1].name);

	ck_assert_str_eq(s[2].snapname, SNAP2);
	ck_assert_uint_eq(s[2].used, 0);
	ck_assert_uint_eq(s[2].creation, 1717513200);
	ck_assert_str_eq(s[2].uuid, SNAP2);
	ck_assert_str_eq(s[2].name,
	    "before upgrade to v2 \xe2\x80\x94 caf\xc3\xa9 \xe6\x97\xa5");
	zfs_snaps_free(s, n);
}
END_TEST

/* No output is no snapshots; so is output naming only other datasets. */
START_TEST(test_parse_list_empty)
{
	struct zfs_snap	*s = (struct zfs_snap *)1;
	size_t		 n = 99;
	char		*cause = NULL;

	ck_assert_int_eq(zfs_parse_list("", DS, &s, &n, &cause), 0);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(zfs_parse_list("tank@a\t0\t1717430400\t-\t-\n", DS,
	    &s, &n, &cause), 0);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(cause);
	zfs_snaps_free(NULL, 0);
}
END_TEST

/* Numbers up to 2^64-1 are exact; one more is refused, not wrapped. */
START_TEST(test_parse_list_limits)
{
	struct zfs_snap	*s;
	size_t		 n;
	char		*cause = NULL;

	ck_assert_int_eq(zfs_parse_list(DS "@a\t18446744073709551615\t0\t-\t"
	    "-\n", DS, &s, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(s[0].used == UINT64_MAX);
	ck_assert_uint_eq(s[0].creation, 0);
	zfs_snaps_free(s, n);
	expect_bad_list(DS "@a\t18446744073709551616\t0\t-\t-\n",
	    "line 1: used '18446744073709551616' is not a number");
}
END_TEST

/*
 * Malformed output is refused with the line number and the fault: wrong
 * column counts (also an empty line), human-readable numbers (output
 * without -p), non-numeric fields, a name without '@', a last line cut
 * short.  Nothing is returned and nothing leaks.
 */
START_TEST(test_parse_list_malformed)
{
	expect_bad_list(DS "@a\t0\t1717430400\t-\n",
	    "line 1: 4 columns, expected 5");
	expect_bad_list(DS "@a\t0\t1717430400\t-\t-\t-\n",
	    "line 1: 6 columns, expected 5");
	expect_bad_list(DS "@a\t0\t1717430400\t-\t-\n\n",
	    "line 2: 1 column, expected 5");
	expect_bad_list(DS "@a\t0\t1717430400\t-\t-\n"
	    DS "@b\t0\t1717430401\t-\t-\n"
	    DS "@c\t1.31M\t1717430402\t-\t-\n",
	    "line 3: used '1.31M' is not a number of bytes");
	expect_bad_list(DS "@a\t-\t1717430400\t-\t-\n",
	    "line 1: used '-' is not a number");
	expect_bad_list(DS "@a\t\t1717430400\t-\t-\n",
	    "line 1: used '' is not a number");
	expect_bad_list(DS "@a\t-5\t1717430400\t-\t-\n",
	    "line 1: used '-5'");
	expect_bad_list(DS "@a\t0\tTue Jun  4 12:00 2024\t-\t-\n",
	    "line 1: creation 'Tue Jun  4 12:00 2024' is not a number of "
	    "seconds");
	expect_bad_list(DS "@a\t0\t 1717430400\t-\t-\n",
	    "line 1: creation ' 1717430400'");
	expect_bad_list(DS "\t0\t1717430400\t-\t-\n",
	    "is not a snapshot name");
	expect_bad_list(DS "@\t0\t1717430400\t-\t-\n",
	    "is not a snapshot name");
	expect_bad_list(DS "@a\t0\t1717430400\t-\t-\n"
	    DS "@b\t0\t17174", "line 2: no newline at the end");
	expect_bad_list("cannot open 'x': dataset does not exist\n",
	    "line 1: 1 column,");
	/* Control bytes in the sample are escaped, not copied. */
	expect_bad_list("\x1b[2J\n", "'\\x1b[2J'");
}
END_TEST

/* `zfs get -Hp -o value` output: a number and one newline, nothing else. */
START_TEST(test_parse_u64)
{
	static const char *const bad[] = { "", "\n", "-\n", "107374182400",
	    "107374182400\n\n", "107374182400 \n", " 107374182400\n",
	    "100G\n", "1\n2\n", "18446744073709551616\n", NULL };
	uint64_t	 v = 0;
	char		*cause = NULL;
	size_t		 i;

	ck_assert_int_eq(zfs_parse_u64("107374182400\n", &v, &cause), 0);
	ck_assert(v == 107374182400ULL);
	ck_assert_int_eq(zfs_parse_u64("0\n", &v, &cause), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(zfs_parse_u64("18446744073709551615\n", &v, &cause),
	    0);
	ck_assert(v == UINT64_MAX);
	ck_assert_ptr_null(cause);

	for (i = 0; bad[i] != NULL; i++) {
		v = 7;
		ck_assert_msg(zfs_parse_u64(bad[i], &v, &cause) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert(v == 7);
		ck_assert_ptr_nonnull(cause);
		ck_assert_msg(strstr(cause, "expected one number") != NULL,
		    "cause '%s'", cause);
		free(cause);
		cause = NULL;
	}
	ck_assert_int_eq(zfs_parse_u64("-\n", &v, &cause), -1);
	ck_assert_str_eq(cause, "expected one number and a newline, got "
	    "'-\\x0a'");
	free(cause);
}
END_TEST

/*
 * zfs_newer_than() counts what a rollback would have to destroy and names
 * the newest; zfs_snap_find() finds by snapshot name.
 */
START_TEST(test_newer_than)
{
	static const char out[] =
	    DS "@a\t4096\t1717430400\t-\t-\n"
	    DS "@b\t4096\t1717430400\t-\t-\n"
	    DS "@c\t4096\t1717430401\t-\t-\n"
	    DS "@d\t0\t1717430500\t-\t-\n";
	struct zfs_snap	*s;
	size_t		 n, count;
	char		*cause = NULL;

	ck_assert_int_eq(zfs_parse_list(out, DS, &s, &n, &cause), 0);
	ck_assert_uint_eq(n, 4);

	ck_assert_str_eq(zfs_newer_than(s, n, "a", &count), "d");
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(zfs_newer_than(s, n, "c", &count), "d");
	ck_assert_uint_eq(count, 1);
	ck_assert_ptr_null(zfs_newer_than(s, n, "d", &count));
	ck_assert_uint_eq(count, 0);
	count = 5;
	ck_assert_ptr_null(zfs_newer_than(s, n, "missing", &count));
	ck_assert_uint_eq(count, 0);
	ck_assert_ptr_null(zfs_newer_than(NULL, 0, "a", &count));
	ck_assert_uint_eq(count, 0);

	ck_assert_ptr_eq(zfs_snap_find(s, n, "b"), &s[1]);
	ck_assert_ptr_null(zfs_snap_find(s, n, "e"));
	ck_assert_ptr_null(zfs_snap_find(NULL, 0, "a"));
	zfs_snaps_free(s, n);
}
END_TEST

/*
 * Proves the ownership of parsed snapshots (issue 13): ours are evg-UUID,
 * a bare UUID (made before the prefix) and any name with the UUID
 * property; EVE's own (YYYYMMDD-HHMMSSmmm) and one made by hand are not.
 * zfs_newer_foreign() names the oldest foreign snapshot a rollback would
 * have to destroy, counting only foreign ones; none when all newer are
 * ours, so the plain "delete them first" rule applies.
 */
START_TEST(test_newer_foreign)
{
	static const char out[] =
	    DS "@" SNAP1 "\t4096\t1764929400\t" SNAP1 "\tlegacy\n"
	    DS "@evg-" SNAP2 "\t4096\t1764929401\t" SNAP2 "\tours\n"
	    DS "@20261205-101010123\t4096\t1764929402\t-\t-\n"
	    DS "@weekly\t4096\t1764929403\t" SNAP3 "\trenamed\n"
	    DS "@manual\t4096\t1764929404\t-\t-\n"
	    DS "@evg-" VOL "\t0\t1764929405\t-\t-\n";
	struct zfs_snap	*s;
	size_t		 n, count, i;
	char		*cause = NULL;
	const int	 ours[] = { 1, 1, 0, 1, 0, 1 };

	ck_assert_int_eq(zfs_parse_list(out, DS, &s, &n, &cause), 0);
	ck_assert_uint_eq(n, 6);
	for (i = 0; i < n; i++)
		ck_assert_msg(catalog_tag_ours(s[i].snapname, s[i].uuid) ==
		    ours[i], "%s: ours %d", s[i].snapname, !ours[i]);

	ck_assert_str_eq(zfs_newer_foreign(s, n, SNAP1, &count),
	    "20261205-101010123");
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(zfs_newer_foreign(s, n, "evg-" SNAP2, &count),
	    "20261205-101010123");
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(zfs_newer_foreign(s, n, "20261205-101010123",
	    &count), "manual");
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(zfs_newer_foreign(s, n, "weekly", &count), "manual");
	ck_assert_uint_eq(count, 1);
	ck_assert_ptr_null(zfs_newer_foreign(s, n, "manual", &count));
	ck_assert_uint_eq(count, 0);
	ck_assert_ptr_null(zfs_newer_foreign(s, n, "evg-" VOL, &count));
	ck_assert_uint_eq(count, 0);
	count = 5;
	ck_assert_ptr_null(zfs_newer_foreign(s, n, "missing", &count));
	ck_assert_uint_eq(count, 0);
	ck_assert_ptr_null(zfs_newer_foreign(NULL, 0, "a", &count));
	ck_assert_uint_eq(count, 0);
	/* Only ours newer: not foreign, but still counted by newer_than. */
	zfs_snaps_free(s, n);
	ck_assert_int_eq(zfs_parse_list(DS "@evg-" SNAP1 "\t0\t1\t" SNAP1
	    "\ta\n" DS "@evg-" SNAP2 "\t0\t2\t" SNAP2 "\tb\n", DS, &s, &n,
	    &cause), 0);
	ck_assert_ptr_null(zfs_newer_foreign(s, n, "evg-" SNAP1, &count));
	ck_assert_uint_eq(count, 0);
	ck_assert_str_eq(zfs_newer_than(s, n, "evg-" SNAP1, &count),
	    "evg-" SNAP2);
	ck_assert_uint_eq(count, 1);
	zfs_snaps_free(s, n);
}
END_TEST

/* Dataset names: registry.c's rules, enforced here. */
START_TEST(test_dataset_valid)
{
	static const char *const good[] = { "tank", DS, "persist/vault",
	    "pool/a-b_c.d:e", "p/0", NULL };
	static const char *const bad[] = { "", "/persist/vault", "-pool",
	    "pool/", "pool//x", "pool@snap", "pool x", "pool\tx", "pool\n",
	    "pool/caf\xc3\xa9", "pool#bm", "pool/x%y", NULL };
	char	 name[ZFS_NAME_MAX + 2];
	size_t	 i;

	for (i = 0; good[i] != NULL; i++)
		ck_assert_msg(zfs_dataset_valid(good[i]), "refused '%s'",
		    good[i]);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!zfs_dataset_valid(bad[i]), "accepted '%s'",
		    bad[i]);
	ck_assert(!zfs_dataset_valid(NULL));

	memset(name, 'a', ZFS_NAME_MAX);
	name[ZFS_NAME_MAX] = '\0';
	ck_assert(zfs_dataset_valid(name));
	name[ZFS_NAME_MAX] = 'a';
	name[ZFS_NAME_MAX + 1] = '\0';
	ck_assert(!zfs_dataset_valid(name));
}
END_TEST

Suite *
suite_zfs(void)
{
	Suite	*s = suite_create("zfs");
	TCase	*tc;

	tc = tcase_create("argv");
	tcase_add_test(tc, test_argv_snapshot);
	tcase_add_test(tc, test_argv_destroy_rollback);
	tcase_add_test(tc, test_argv_list_get);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_list_good);
	tcase_add_test(tc, test_parse_list_empty);
	tcase_add_test(tc, test_parse_list_limits);
	tcase_add_test(tc, test_parse_list_malformed);
	tcase_add_test(tc, test_parse_u64);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_newer_than);
	tcase_add_test(tc, test_dataset_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("owner");
	tcase_add_test(tc, test_newer_foreign);
	suite_add_tcase(s, tc);
	return (s);
}
