/*
 * fuzz_mountinfo: the guest's two users of /proc/self/mountinfo, both
 * through the one parser (guest/mountinfo.c): the freeze planner
 * (guest/freeze.c, freeze_plan_text()) and the facts for `info`
 * (guest/info.c, info_parse_mountinfo()), then info's JSON, text and
 * protobuf forms of what it read.
 *
 * Proves: whatever mountinfo holds (mount points are chosen by anyone who
 * can mount, escapes and all), the planner builds a plan or refuses the
 * file, and info lists filesystems or notes the bad lines; neither
 * crashes, leaks or freezes anything (no plan is applied here).
 *
 * Oracle: a plan holds only mounts the predicate accepted, children
 * before parents, each entry FREEZE or SKIP with a reason exactly when
 * SKIP, nothing frozen.  When the planner accepts the file (it checks
 * more than info does), info reports no malformed line and every
 * filesystem it lists is one of the plan's entries with the same mount
 * point, type and source.
 *
 * Input: byte 0 picks the predicate (byte 0 % 4 == 0: every device), the
 * rest is the mountinfo text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "freeze.h"
#include "fuzzutil.h"
#include "info.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The predicate: every mod-th device (by number) belongs to the disks. */
static int
holds(unsigned int maj, unsigned int min, void *arg)
{
	unsigned int	mod = *(unsigned int *)arg;

	return ((maj * 31u + min) % mod == 0);
}

/* Path components of an absolute path, as the planner counts them. */
static size_t
depth(const char *path)
{
	size_t	n = 0;

	for (; *path != '\0'; path++)
		if (path[0] != '/' && (path[1] == '/' || path[1] == '\0'))
			n++;
	return (n);
}

/* Check a plan; returns nothing, fails on a broken promise. */
static void
check_plan(const struct freeze_plan *plan, unsigned int mod)
{
	const struct freeze_entry	*e;
	const char			*mp;
	unsigned int			 maj, min;
	size_t				 i, last = SIZE_MAX, d;

	FUZZ_CHECK(freeze_plan_frozen_count(plan) == 0);
	FUZZ_CHECK(freeze_plan_duration_ms(plan) == 0);
	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		mp = freeze_entry_mountpoint(e);
		FUZZ_CHECK(mp[0] == '/');
		FUZZ_CHECK(*freeze_entry_fstype(e) != '\0');
		FUZZ_CHECK(freeze_entry_device(e) != NULL);
		freeze_entry_devnum(e, &maj, &min);
		FUZZ_CHECK(holds(maj, min, &mod));
		FUZZ_CHECK(!freeze_entry_frozen(e));
		switch (freeze_entry_action(e)) {
		case FREEZE_ACTION_FREEZE:
			FUZZ_CHECK(freeze_entry_reason(e) == NULL);
			break;
		case FREEZE_ACTION_SKIP:
			FUZZ_CHECK(freeze_entry_reason(e) != NULL);
			break;
		default:
			fuzz_fail("entry %zu: action %d", i,
			    (int)freeze_entry_action(e));
		}
		d = depth(mp);
		FUZZ_CHECK(d <= last);
		last = d;
	}
}

/* info's filesystem is one of the plan's mounts, fields equal. */
static int
in_plan(const struct freeze_plan *plan, const struct info_fs *fs)
{
	const struct freeze_entry	*e;
	size_t				 i;

	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (strcmp(freeze_entry_mountpoint(e), fs->mountpoint) == 0 &&
		    strcmp(freeze_entry_fstype(e), fs->fstype) == 0 &&
		    strcmp(freeze_entry_device(e), fs->source) == 0)
			return (1);
	}
	return (0);
}

/* What `info` would show and send for what it read. */
static void
render(struct guest_info *gi)
{
	json_object	*o;
	Evg__GuestInfo	*m;
	FILE		*f;
	char		*out = NULL;
	uint8_t		*buf;
	size_t		 len = 0;

	o = info_json(gi);
	FUZZ_CHECK(json_object_to_json_string(o) != NULL);
	json_object_put(o);
	if ((f = open_memstream(&out, &len)) == NULL)
		abort();
	info_print(f, gi);
	fclose(f);
	free(out);
	m = info_to_proto(gi);
	len = evg__guest_info__get_packed_size(m);
	buf = xmalloc(len + 1);
	evg__guest_info__pack(m, buf);
	free(buf);
	info_proto_free(m);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct freeze_plan	*plan;
	struct guest_info	*gi;
	char			*text, *cause = NULL;
	unsigned int		 mod;
	size_t			 i;
	int			 rc;

	if (size == 0)
		return (0);
	mod = data[0] % 4 + 1;
	rc = freeze_plan_text((const char *)data + 1, size - 1, "mountinfo",
	    holds, &mod, &plan, &cause);
	if (rc == 0) {
		FUZZ_CHECK(plan != NULL);
		check_plan(plan, mod);
	} else {
		FUZZ_CHECK(plan == NULL && cause != NULL &&
		    strncmp(cause, "mountinfo: line ", 16) == 0);
		free(cause);
	}

	text = fuzz_cstr(data + 1, size - 1);
	gi = xcalloc(1, sizeof *gi);
	gi->agent_version = xstrdup("0.1.0");
	gi->kernel = xstrdup("6.1.0");
	gi->kernel_version = xstrdup("#1 SMP");
	gi->hostname = xstrdup("fuzz");
	info_parse_mountinfo(gi, text, "mountinfo");
	free(text);
	FUZZ_CHECK(gi->nfs <= INFO_MAX_FS);
	for (i = 0; i < gi->nfs; i++)
		FUZZ_CHECK(gi->fs[i].mountpoint[0] == '/' &&
		    !gi->fs[i].has_usage);
	/* info reads up to a NUL, the planner past it: compare without. */
	if (rc == 0 && mod == 1 && memchr(data + 1, '\0', size - 1) == NULL) {
		FUZZ_CHECK(gi->nerrors == 0);
		for (i = 0; i < gi->nfs; i++)
			if (!in_plan(plan, &gi->fs[i]))
				fuzz_fail("info lists %s, the plan does not",
				    gi->fs[i].mountpoint);
	}
	render(gi);
	info_free(gi);
	freeze_plan_free(plan);
	return (0);
}
