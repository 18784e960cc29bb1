/*
 * Unit tests for snapgroup.c (folding a flat snapshot list into snapshot
 * groups), the JSON of a group (jsonout_group) and the guest's one-line
 * consistency of a group (output_group_consistency_text).
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "jsonout.h"
#include "output.h"
#include "snapgroup.h"
#include "suites.h"

#define SG_MAX	8

/* A list of snapshots built by the tests; strings are literals. */
static Evg__Snapshot	 sg_snap[SG_MAX];
static Evg__Snapshot	*sg_list[SG_MAX];
static size_t		 sg_n;

/* Start an empty list. */
static void
sg_reset(void)
{
	sg_n = 0;
}

/*
 * Add a ready fs snapshot: group NULL leaves the group fields empty, as a
 * host from before groups sends them.
 */
static Evg__Snapshot *
sg_add(const char *uuid, const char *name, uint64_t created, uint64_t size,
    const char *group, uint32_t group_size)
{
	Evg__Snapshot	*s;

	ck_assert_uint_lt(sg_n, SG_MAX);
	s = &sg_snap[sg_n];
	evg__snapshot__init(s);
	s->uuid = (char *)uuid;
	s->name = (char *)name;
	s->created = created;
	s->size_bytes = size;
	s->volume_name = (char *)"vol";
	s->consistency = (char *)"fs";
	s->origin = (char *)"guest";
	s->state = (char *)"ready";
	s->group_uuid = (char *)(group != NULL ? group : "");
	s->group_size = group_size;
	sg_list[sg_n++] = s;
	return (s);
}

/* Fold the list built so far. */
static struct snapgroups *
sg_fold(void)
{
	return (snapgroup_fold(sg_list, sg_n));
}

/*
 * Proves snapshots of a host without groups each make a group of one: its
 * own UUID, size 1, never partial, ordered by creation time and then name
 * whatever the list's order.
 */
START_TEST(test_old_daemon)
{
	struct snapgroups	*set;

	sg_reset();
	sg_add("cccccccc-0000-4000-8000-000000000003", "b", 200, 30, NULL, 0);
	sg_add("aaaaaaaa-0000-4000-8000-000000000001", "z", 100, 10, NULL, 0);
	sg_add("bbbbbbbb-0000-4000-8000-000000000002", "a", 200, 20, NULL, 0);
	set = sg_fold();
	ck_assert_uint_eq(set->n, 3);
	ck_assert_str_eq(set->groups[0].uuid,
	    "aaaaaaaa-0000-4000-8000-000000000001");
	ck_assert_str_eq(set->groups[1].name, "a");
	ck_assert_str_eq(set->groups[2].name, "b");
	ck_assert_uint_eq(set->groups[2].nmembers, 1);
	ck_assert_ptr_eq(set->groups[2].members[0], &sg_snap[0]);
	ck_assert_uint_eq(set->groups[2].size, 1);
	ck_assert_uint_eq(set->groups[2].size_bytes, 30);
	ck_assert_int_eq(set->groups[2].partial, 0);
	ck_assert_str_eq(set->groups[2].state, "ready");
	snapgroup_free(set);
}
END_TEST

/*
 * Proves two groups whose members are interleaved in the list fold into
 * two groups, each with its members in list order, the sizes summed and
 * the group UUID (not a member's) as its UUID.
 */
START_TEST(test_interleaved)
{
	struct snapgroups	*set;
	const struct snapgroup	*g;

	sg_reset();
	sg_add("11111111-0000-4000-8000-00000000000b", "late", 500, 1,
	    "bbbbbbbb-0000-4000-8000-0000000000bb", 2);
	sg_add("11111111-0000-4000-8000-00000000000a", "early", 400, 2,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	sg_add("22222222-0000-4000-8000-00000000000b", "late", 500, 4,
	    "bbbbbbbb-0000-4000-8000-0000000000bb", 2);
	sg_add("22222222-0000-4000-8000-00000000000a", "early", 400, 8,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	set = sg_fold();
	ck_assert_uint_eq(set->n, 2);
	g = &set->groups[0];
	ck_assert_str_eq(g->uuid, "aaaaaaaa-0000-4000-8000-0000000000aa");
	ck_assert_str_eq(g->name, "early");
	ck_assert_uint_eq(g->nmembers, 2);
	ck_assert_ptr_eq(g->members[0], &sg_snap[1]);
	ck_assert_ptr_eq(g->members[1], &sg_snap[3]);
	ck_assert_uint_eq(g->size_bytes, 10);
	ck_assert_int_eq(g->partial, 0);
	g = &set->groups[1];
	ck_assert_str_eq(g->uuid, "bbbbbbbb-0000-4000-8000-0000000000bb");
	ck_assert_uint_eq(g->size_bytes, 5);
	ck_assert_uint_eq(g->size, 2);
	snapgroup_free(set);
}
END_TEST

/*
 * Proves a group listed with fewer members than it was made with is
 * partial, and one listed whole is not.
 */
START_TEST(test_partial)
{
	struct snapgroups	*set;

	sg_reset();
	sg_add("11111111-0000-4000-8000-000000000001", "g", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	sg_add("22222222-0000-4000-8000-000000000002", "g", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	sg_add("33333333-0000-4000-8000-000000000003", "h", 200, 1,
	    "bbbbbbbb-0000-4000-8000-0000000000bb", 1);
	set = sg_fold();
	ck_assert_uint_eq(set->n, 2);
	ck_assert_uint_eq(set->groups[0].nmembers, 2);
	ck_assert_uint_eq(set->groups[0].size, 3);
	ck_assert_int_eq(set->groups[0].partial, 1);
	ck_assert_int_eq(set->groups[1].partial, 0);
	snapgroup_free(set);
}
END_TEST

/*
 * Proves a group made with one member is shown by that member's UUID,
 * the one its backend tag and older tools know, and is still found by
 * its group UUID; a partial group is shown by its group UUID even with
 * one member left.
 */
START_TEST(test_group_of_one)
{
	struct snapgroups	*set;
	size_t			 n;

	sg_reset();
	sg_add("11111111-0000-4000-8000-000000000001", "one", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 1);
	sg_add("22222222-0000-4000-8000-000000000002", "left", 200, 1,
	    "bbbbbbbb-0000-4000-8000-0000000000bb", 2);
	set = sg_fold();
	ck_assert_uint_eq(set->n, 2);
	ck_assert_str_eq(set->groups[0].uuid,
	    "11111111-0000-4000-8000-000000000001");
	ck_assert_str_eq(set->groups[0].group_uuid,
	    "aaaaaaaa-0000-4000-8000-0000000000aa");
	ck_assert_ptr_eq(snapgroup_find(set,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", &n), &set->groups[0]);
	ck_assert_str_eq(set->groups[1].uuid,
	    "bbbbbbbb-0000-4000-8000-0000000000bb");
	ck_assert_int_eq(set->groups[1].partial, 1);
	snapgroup_free(set);
}
END_TEST

/*
 * Proves a member in trouble shows on its group: a missing member makes
 * the group "missing" (worse than creating), and the weakest consistency
 * of the members is the group's.
 */
START_TEST(test_member_missing)
{
	struct snapgroups	*set;
	Evg__Snapshot		*a, *b, *c;

	sg_reset();
	a = sg_add("11111111-0000-4000-8000-000000000001", "g", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	b = sg_add("22222222-0000-4000-8000-000000000002", "g", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	c = sg_add("33333333-0000-4000-8000-000000000003", "g", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	a->state = (char *)"creating";
	b->state = (char *)"missing";
	c->consistency = (char *)"crash";
	set = sg_fold();
	ck_assert_uint_eq(set->n, 1);
	ck_assert_str_eq(set->groups[0].state, "missing");
	ck_assert_str_eq(set->groups[0].consistency, "crash");
	ck_assert_int_eq(set->groups[0].partial, 0);
	snapgroup_free(set);

	/* Another state than the known ones is still not "ready". */
	b->state = (char *)"ready";
	a->state = (char *)"rollback-scheduled";
	set = sg_fold();
	ck_assert_str_eq(set->groups[0].state, "rollback-scheduled");
	snapgroup_free(set);
}
END_TEST

/*
 * Proves a group is found by its UUID, by a member's UUID and by its name,
 * and that a name two groups use is counted, so that a caller can refuse
 * it as ambiguous.
 */
START_TEST(test_find)
{
	struct snapgroups	*set;
	const struct snapgroup	*g;
	size_t			 n;

	sg_reset();
	sg_add("11111111-0000-4000-8000-000000000001", "db", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	sg_add("22222222-0000-4000-8000-000000000002", "db", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	sg_add("33333333-0000-4000-8000-000000000003", "db", 300, 1, NULL, 0);
	set = sg_fold();
	g = snapgroup_find(set, "aaaaaaaa-0000-4000-8000-0000000000aa", &n);
	ck_assert_ptr_eq(g, &set->groups[0]);
	ck_assert_uint_eq(n, 1);
	g = snapgroup_find(set, "22222222-0000-4000-8000-000000000002", &n);
	ck_assert_ptr_eq(g, &set->groups[0]);
	ck_assert_ptr_eq(snapgroup_member(g,
	    "22222222-0000-4000-8000-000000000002"), &sg_snap[1]);
	ck_assert_ptr_null(snapgroup_member(g,
	    "33333333-0000-4000-8000-000000000003"));
	g = snapgroup_find(set, "33333333-0000-4000-8000-000000000003", &n);
	ck_assert_ptr_eq(g, &set->groups[1]);
	g = snapgroup_find(set, "db", &n);
	ck_assert_ptr_eq(g, &set->groups[0]);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_null(snapgroup_find(set, "nosuch", &n));
	ck_assert_uint_eq(n, 0);
	snapgroup_free(set);
}
END_TEST

/*
 * Proves groups as old and as named as each other keep the list's order,
 * and an empty list is an empty set.
 */
START_TEST(test_stable_and_empty)
{
	struct snapgroups	*set;

	sg_reset();
	sg_add("bbbbbbbb-0000-4000-8000-000000000002", "x", 100, 1, NULL, 0);
	sg_add("aaaaaaaa-0000-4000-8000-000000000001", "x", 100, 1, NULL, 0);
	set = sg_fold();
	ck_assert_str_eq(set->groups[0].uuid,
	    "bbbbbbbb-0000-4000-8000-000000000002");
	ck_assert_str_eq(set->groups[1].uuid,
	    "aaaaaaaa-0000-4000-8000-000000000001");
	snapgroup_free(set);

	set = snapgroup_fold(NULL, 0);
	ck_assert_uint_eq(set->n, 0);
	snapgroup_free(set);
	snapgroup_free(NULL);
}
END_TEST

/*
 * Proves the JSON of a group: its own keys, the members' total size, and
 * the members as the guest shows them ("disk" null where unknown), each
 * with its group.
 */
START_TEST(test_group_json)
{
	struct snapgroups	*set;
	struct json_object	*o, *v, *m;
	const char		*disks[] = { "/dev/sdc", NULL };

	sg_reset();
	sg_add("11111111-0000-4000-8000-000000000001", "db", 100, 3,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	sg_add("22222222-0000-4000-8000-000000000002", "db", 100, 4,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 3);
	set = sg_fold();
	o = jsonout_group(&set->groups[0], disks);
	ck_assert(json_object_object_get_ex(o, "uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "aaaaaaaa-0000-4000-8000-0000000000aa");
	ck_assert(json_object_object_get_ex(o, "size_bytes", &v));
	ck_assert_int_eq(json_object_get_int64(v), 7);
	ck_assert(json_object_object_get_ex(o, "group_size", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert(json_object_object_get_ex(o, "partial", &v));
	ck_assert(json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "created", &v));
	ck_assert_str_eq(json_object_get_string(v), "1970-01-01T00:01:40Z");
	ck_assert(json_object_object_get_ex(o, "members", &v));
	ck_assert_int_eq(json_object_array_length(v), 2);
	m = json_object_array_get_idx(v, 0);
	ck_assert(json_object_object_get_ex(m, "disk", &v));
	ck_assert_str_eq(json_object_get_string(v), "/dev/sdc");
	m = json_object_array_get_idx(json_object_object_get(o, "members"), 1);
	ck_assert(json_object_object_get_ex(m, "disk", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(m, "uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "22222222-0000-4000-8000-000000000002");
	ck_assert(json_object_object_get_ex(m, "group_uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "aaaaaaaa-0000-4000-8000-0000000000aa");
	ck_assert(json_object_object_get_ex(m, "group_size", &v));
	ck_assert_int_eq(json_object_get_int(v), 3);
	json_object_put(o);
	snapgroup_free(set);
}
END_TEST

/*
 * Proves a group's consistency line is its one freeze: the mounts of every
 * member once each, the longest freeze time; a group of one reads as its
 * member does.
 */
START_TEST(test_group_consistency_text)
{
	struct snapgroups	*set;
	Evg__Snapshot		*a, *b;
	Evg__MountReport	 ma = EVG__MOUNT_REPORT__INIT;
	Evg__MountReport	 mb = EVG__MOUNT_REPORT__INIT;
	Evg__MountReport	*both[2] = { &ma, &mb }, *one[1] = { &mb };
	char			*line, *single;

	ma.mountpoint = (char *)"/mnt/data";
	ma.action = (char *)"frozen";
	mb.mountpoint = (char *)"/mnt/wal";
	mb.action = (char *)"frozen";
	sg_reset();
	a = sg_add("11111111-0000-4000-8000-000000000001", "db", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	b = sg_add("22222222-0000-4000-8000-000000000002", "db", 100, 1,
	    "aaaaaaaa-0000-4000-8000-0000000000aa", 2);
	a->mounts = both;
	a->n_mounts = 2;
	a->freeze_ms = 9;
	b->mounts = one;
	b->n_mounts = 1;
	b->freeze_ms = 12;
	set = sg_fold();
	line = output_group_consistency_text(&set->groups[0]);
	ck_assert_str_eq(line, "fs (froze /mnt/data, /mnt/wal in 12 ms)");
	free(line);
	snapgroup_free(set);

	sg_reset();
	a = sg_add("11111111-0000-4000-8000-000000000001", "one", 100, 1,
	    NULL, 0);
	a->mounts = one;
	a->n_mounts = 1;
	a->freeze_ms = 3;
	set = sg_fold();
	line = output_group_consistency_text(&set->groups[0]);
	single = output_consistency_text(a);
	ck_assert_str_eq(line, single);
	free(line);
	free(single);
	snapgroup_free(set);
}
END_TEST

Suite *
suite_snapgroup(void)
{
	Suite	*s = suite_create("snapgroup");
	TCase	*tc;

	tc = tcase_create("fold");
	tcase_add_test(tc, test_old_daemon);
	tcase_add_test(tc, test_interleaved);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_group_of_one);
	tcase_add_test(tc, test_member_missing);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_stable_and_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("render");
	tcase_add_test(tc, test_group_json);
	tcase_add_test(tc, test_group_consistency_text);
	suite_add_tcase(s, tc);
	return (s);
}
