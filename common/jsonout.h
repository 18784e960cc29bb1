/*
 * JSON renderings shared by the CLIs (json-c).  Each function returns a new
 * json_object the caller releases with json_object_put().
 */
#ifndef EVG_JSONOUT_H
#define EVG_JSONOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "evg.pb-c.h"
#include "snapgroup.h"

/* A VmInfo; host-only fields appear only when set. */
json_object	*jsonout_vm(const Evg__VmInfo *);
/*
 * A snapshot; "created" in RFC 3339 UTC, "disk" only when set, its group
 * ("group_uuid", "group_size") when the host sent one, and its
 * "consistency_record" (level, freeze_ms, mounts frozen or skipped).
 */
json_object	*jsonout_snapshot(const Evg__Snapshot *, const char *);
/* Guest facts (agent, OS, kernel, filesystems, disks). */
json_object	*jsonout_guest_info(const Evg__GuestInfo *);
/*
 * A snapshot as the guest shows it: jsonout_snapshot() with "disk" always
 * there, the guest's device path or null when no disk of the guest has
 * the snapshot's identifiers.
 */
json_object	*jsonout_guest_snapshot(const Evg__Snapshot *, const char *);
/*
 * A snapshot group: "uuid", "name", "created", "size_bytes" (the members'
 * total), "group_size" (the members it was made with), "partial",
 * "consistency", "origin", "state" and "members", each a SNAPSHOT as
 * jsonout_snapshot() makes it or, given disks (disks[i] for members[i]),
 * as jsonout_guest_snapshot() does.
 */
json_object	*jsonout_group(const struct snapgroup *, const char *const *);
/* {"groups": [GROUP, ...]}: every group of the set, as the host shows it. */
json_object	*jsonout_groups(const struct snapgroups *);
/*
 * The last second RFC 3339 can write (9999-12-31T23:59:59Z).  A time past
 * it, from a peer or a state file, is unknown and is treated as 0.
 */
#define JSONOUT_TIME_MAX	253402300799ULL
/*
 * Format seconds since the epoch as RFC 3339 UTC into buf; returns buf.
 * A time past JSONOUT_TIME_MAX is written as the epoch (unknown).
 */
char		*jsonout_time(char *, size_t, uint64_t);
/* The same with a strftime(3) format of the caller's (date and time). */
char		*jsonout_time_fmt(char *, size_t, uint64_t, const char *);
/* Format bytes as "12.3 MiB" into buf; returns buf. */
char		*jsonout_size(char *, size_t, uint64_t);
/* {"error": {"code": NAME, "message": MSG}} */
json_object	*jsonout_error(const char *, const char *);
/* Print a document on f, newline-terminated, and release it. */
void		 jsonout_print(FILE *, json_object *);

#endif
