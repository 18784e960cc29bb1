/* JSON output helpers for the command-line tools. */
#include <time.h>

#include "jsonout.h"

/* Add a string member when it is non-empty. */
static void
jsonout_str(json_object *o, const char *key, const char *value)
{
	if (value != NULL && *value != '\0')
		json_object_object_add(o, key, json_object_new_string(value));
}

/* One volume. */
static json_object *
jsonout_volume(const Evg__Volume *v)
{
	json_object	*o, *disks, *d;
	size_t		 i;

	o = json_object_new_object();
	jsonout_str(o, "uuid", v->uuid);
	jsonout_str(o, "name", v->name);
	jsonout_str(o, "backend", v->backend);
	jsonout_str(o, "locator", v->locator);
	jsonout_str(o, "node", v->node);
	disks = json_object_new_array();
	for (i = 0; i < v->n_disks; i++) {
		d = json_object_new_object();
		jsonout_str(d, "kind", v->disks[i]->kind);
		jsonout_str(d, "value", v->disks[i]->value);
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	return (o);
}

/* A VM. */
json_object *
jsonout_vm(const Evg__VmInfo *vm)
{
	json_object	*o, *vols;
	size_t		 i;

	o = json_object_new_object();
	jsonout_str(o, "uuid", vm->uuid);
	jsonout_str(o, "name", vm->name);
	json_object_object_add(o, "cid", json_object_new_int64(vm->cid));
	jsonout_str(o, "hybrid_socket", vm->hybrid_socket);
	jsonout_str(o, "qmp", vm->qmp);
	jsonout_str(o, "qmp_agent", vm->qmp_agent);
	json_object_object_add(o, "snapshot_budget",
	    json_object_new_uint64(vm->snapshot_budget));
	jsonout_str(o, "state", vm->state);
	json_object_object_add(o, "connections",
	    json_object_new_int64(vm->connections));
	json_object_object_add(o, "agent_connected",
	    json_object_new_boolean(vm->agent_connected));
	vols = json_object_new_array();
	for (i = 0; i < vm->n_volumes; i++)
		json_object_array_add(vols, jsonout_volume(vm->volumes[i]));
	json_object_object_add(o, "volumes", vols);
	return (o);
}

/* An error document. */
json_object *
jsonout_error(const char *code, const char *message)
{
	json_object	*o, *e;

	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	o = json_object_new_object();
	json_object_object_add(o, "error", e);
	return (o);
}

/* Print and release. */
void
jsonout_print(FILE *f, json_object *o)
{
	fprintf(f, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* UTC time in a strftime format; out of range is the epoch. */
char *
jsonout_time_fmt(char *buf, size_t len, uint64_t secs, const char *fmt)
{
	time_t		t;
	struct tm	tm;

	t = secs <= JSONOUT_TIME_MAX ? (time_t)secs : 0;
	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	if (len > 0 && strftime(buf, len, fmt, &tm) == 0)
		buf[0] = '\0';
	return (buf);
}

/* RFC 3339 UTC time. */
char *
jsonout_time(char *buf, size_t len, uint64_t secs)
{
	return (jsonout_time_fmt(buf, len, secs, "%Y-%m-%dT%H:%M:%SZ"));
}

/* Human-readable byte count. */
char *
jsonout_size(char *buf, size_t len, uint64_t b)
{
	static const char	*unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
				    "PiB" };
	double			 v = (double)b;
	size_t			 u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return (buf);
}

/* The consistency record: level, freeze time, each mount's fate. */
static json_object *
jsonout_consistency(const Evg__Snapshot *s)
{
	json_object		*o, *mounts, *m;
	const Evg__MountReport	*r;
	size_t			 i;

	o = json_object_new_object();
	jsonout_str(o, "level", s->consistency);
	json_object_object_add(o, "freeze_ms",
	    json_object_new_int64(s->freeze_ms));
	mounts = json_object_new_array();
	for (i = 0; i < s->n_mounts; i++) {
		r = s->mounts[i];
		m = json_object_new_object();
		jsonout_str(m, "mountpoint", r->mountpoint);
		jsonout_str(m, "fstype", r->fstype);
		jsonout_str(m, "device", r->device);
		jsonout_str(m, "action", r->action);
		jsonout_str(m, "reason", r->reason);
		json_object_array_add(mounts, m);
	}
	json_object_object_add(o, "mounts", mounts);
	return (o);
}

/* One snapshot; disk is the guest's device path or NULL. */
json_object *
jsonout_snapshot(const Evg__Snapshot *s, const char *disk)
{
	json_object	*o;
	char		 t[32];

	o = json_object_new_object();
	jsonout_str(o, "uuid", s->uuid);
	jsonout_str(o, "name", s->name);
	json_object_object_add(o, "created", json_object_new_string(
	    jsonout_time(t, sizeof t, s->created)));
	json_object_object_add(o, "size_bytes",
	    json_object_new_uint64(s->size_bytes));
	jsonout_str(o, "disk", disk);
	jsonout_str(o, "volume", s->volume_name);
	jsonout_str(o, "volume_uuid", s->volume_uuid);
	jsonout_str(o, "backend", s->backend);
	jsonout_str(o, "consistency", s->consistency);
	jsonout_str(o, "origin", s->origin);
	jsonout_str(o, "state", s->state);
	jsonout_str(o, "group_uuid", s->group_uuid);
	if (s->group_size != 0)
		json_object_object_add(o, "group_size",
		    json_object_new_uint64(s->group_size));
	json_object_object_add(o, "consistency_record",
	    jsonout_consistency(s));
	return (o);
}

/* A guest snapshot: "disk" null when unknown; see jsonout.h. */
json_object *
jsonout_guest_snapshot(const Evg__Snapshot *s, const char *disk)
{
	json_object	*o;

	o = jsonout_snapshot(s, disk);
	if (disk == NULL || *disk == '\0')
		json_object_object_add(o, "disk", NULL);
	return (o);
}

/* A snapshot group; see jsonout.h. */
json_object *
jsonout_group(const struct snapgroup *g, const char *const *disks)
{
	json_object	*o, *arr;
	char		 t[32];
	size_t		 i;

	o = json_object_new_object();
	jsonout_str(o, "uuid", g->uuid);
	jsonout_str(o, "name", g->name);
	json_object_object_add(o, "created", json_object_new_string(
	    jsonout_time(t, sizeof t, g->created)));
	json_object_object_add(o, "size_bytes",
	    json_object_new_uint64(g->size_bytes));
	json_object_object_add(o, "group_size",
	    json_object_new_uint64(g->size));
	json_object_object_add(o, "partial",
	    json_object_new_boolean(g->partial));
	jsonout_str(o, "consistency", g->consistency);
	jsonout_str(o, "origin", g->origin);
	jsonout_str(o, "state", g->state);
	arr = json_object_new_array();
	for (i = 0; i < g->nmembers; i++)
		json_object_array_add(arr, disks == NULL ?
		    jsonout_snapshot(g->members[i], NULL) :
		    jsonout_guest_snapshot(g->members[i], disks[i]));
	json_object_object_add(o, "members", arr);
	return (o);
}

/* Every group of a set as the host shows them; see jsonout.h. */
json_object *
jsonout_groups(const struct snapgroups *set)
{
	json_object	*o, *arr;
	size_t		 i;

	arr = json_object_new_array();
	for (i = 0; i < set->n; i++)
		json_object_array_add(arr, jsonout_group(&set->groups[i],
		    NULL));
	o = json_object_new_object();
	json_object_object_add(o, "groups", arr);
	return (o);
}

/* Guest facts. */
json_object *
jsonout_guest_info(const Evg__GuestInfo *g)
{
	json_object	*o, *arr, *f, *d, *ids, *id;
	size_t		 i, j;

	o = json_object_new_object();
	jsonout_str(o, "agent_version", g->agent_version);
	jsonout_str(o, "os", g->os);
	jsonout_str(o, "kernel", g->kernel);
	jsonout_str(o, "kernel_version", g->kernel_version);
	jsonout_str(o, "hostname", g->hostname);
	json_object_object_add(o, "uptime_seconds",
	    json_object_new_uint64(g->uptime_seconds));
	arr = json_object_new_array();
	for (i = 0; i < g->n_filesystems; i++) {
		f = json_object_new_object();
		jsonout_str(f, "mountpoint", g->filesystems[i]->mountpoint);
		jsonout_str(f, "fstype", g->filesystems[i]->fstype);
		jsonout_str(f, "source", g->filesystems[i]->source);
		json_object_object_add(f, "size_bytes", json_object_new_uint64(
		    g->filesystems[i]->size_bytes));
		json_object_object_add(f, "used_bytes", json_object_new_uint64(
		    g->filesystems[i]->used_bytes));
		json_object_object_add(f, "available_bytes",
		    json_object_new_uint64(g->filesystems[i]->available_bytes));
		json_object_array_add(arr, f);
	}
	json_object_object_add(o, "filesystems", arr);
	arr = json_object_new_array();
	for (i = 0; i < g->n_disks; i++) {
		d = json_object_new_object();
		jsonout_str(d, "device", g->disks[i]->device);
		ids = json_object_new_array();
		for (j = 0; j < g->disks[i]->n_ids; j++) {
			id = json_object_new_object();
			jsonout_str(id, "kind", g->disks[i]->ids[j]->kind);
			jsonout_str(id, "value", g->disks[i]->ids[j]->value);
			json_object_array_add(ids, id);
		}
		json_object_object_add(d, "ids", ids);
		json_object_array_add(arr, d);
	}
	json_object_object_add(o, "disks", arr);
	return (o);
}
