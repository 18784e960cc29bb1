/* Per-VM snapshot catalog: persistence and reconciliation. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "atomicfile.h"
#include "catalog.h"
#include "jsonout.h"
#include "log.h"
#include "strhash.h"
#include "text.h"
#include "uuidx.h"
#include "xmalloc.h"

#define CATALOG_FILE_MAX	(32 * 1024 * 1024)
/* 2: snapshot groups ("group", "group_size"); 1 is read as groups of one. */
#define CATALOG_FORMAT		2

static void	catalog_pending_load(struct catalog *, json_object *);

static const char *snap_state_names[] = {
	[SNAP_CREATING] = "creating",
	[SNAP_READY] = "ready",
	[SNAP_DELETING] = "deleting",
	[SNAP_MISSING] = "missing",
};

/* Name of a state. */
const char *
snap_state_name(enum snap_state s)
{
	return (snap_state_names[s]);
}

/* Parse a state name; -1 if unknown. */
int
snap_state_parse(const char *s, enum snap_state *out)
{
	size_t	i;

	for (i = 0; i < sizeof snap_state_names / sizeof snap_state_names[0];
	    i++) {
		if (s != NULL && strcmp(s, snap_state_names[i]) == 0) {
			*out = (enum snap_state)i;
			return (0);
		}
	}
	return (-1);
}

/* Free one entry. */
void
catalog_entry_free(struct cat_snap *cs)
{
	size_t	i;

	if (cs == NULL)
		return;
	free(cs->idem_key);
	for (i = 0; i < cs->nmounts; i++) {
		free(cs->mounts[i].mountpoint);
		free(cs->mounts[i].fstype);
		free(cs->mounts[i].device);
		free(cs->mounts[i].action);
		free(cs->mounts[i].reason);
	}
	free(cs->mounts);
	free(cs->name);
	free(cs->tag);
	free(cs->consistency);
	free(cs->origin);
	free(cs);
}

/* Free the catalog and its entries. */
void
catalog_free(struct catalog *cat)
{
	struct cat_snap	*cs;

	if (cat == NULL)
		return;
	while ((cs = TAILQ_FIRST(&cat->snaps)) != NULL) {
		TAILQ_REMOVE(&cat->snaps, cs, entry);
		catalog_entry_free(cs);
	}
	regjournal_close(&cat->journal);
	free(cat->removed);
	free(cat->online);
	free(cat->path);
	free(cat);
}

/* Append a new READY entry with the given fields (copied). */
struct cat_snap *
catalog_add(struct catalog *cat, const char *uuid, const char *name,
    const char *volume, const char *tag, const char *origin)
{
	struct cat_snap	*cs;

	cs = xcalloc(1, sizeof *cs);
	snprintf(cs->uuid, sizeof cs->uuid, "%s", uuid);
	snprintf(cs->volume, sizeof cs->volume, "%s", volume);
	cs->name = xstrdup(name);
	cs->tag = xstrdup(tag);
	cs->origin = xstrdup(origin);
	cs->consistency = xstrdup("crash");
	cs->state = SNAP_READY;
	/* A group of one until the caller says otherwise. */
	snprintf(cs->group, sizeof cs->group, "%s", uuid);
	cs->group_size = 1;
	TAILQ_INSERT_TAIL(&cat->snaps, cs, entry);
	cat->count++;
	return (cs);
}

/* Append a mount to the consistency record. */
void
catalog_add_mount(struct cat_snap *cs, const char *mountpoint,
    const char *fstype, const char *device, const char *action,
    const char *reason)
{
	struct cat_mount	*m;

	cs->mounts = xreallocarray(cs->mounts, cs->nmounts + 1,
	    sizeof *cs->mounts);
	m = &cs->mounts[cs->nmounts++];
	m->mountpoint = xstrdup(mountpoint != NULL ? mountpoint : "");
	m->fstype = xstrdup(fstype != NULL ? fstype : "");
	m->device = xstrdup(device != NULL ? device : "");
	m->action = xstrdup(action != NULL ? action : "");
	m->reason = reason != NULL && *reason != '\0' ? xstrdup(reason) :
	    NULL;
}

/* Unlink and free an entry; its removal is for the next commit. */
void
catalog_remove(struct catalog *cat, struct cat_snap *cs)
{
	if (cs->written != 0) {
		cat->removed = xreallocarray(cat->removed, cat->nremoved + 1,
		    sizeof *cat->removed);
		memcpy(cat->removed[cat->nremoved++], cs->uuid,
		    sizeof cs->uuid);
	}
	TAILQ_REMOVE(&cat->snaps, cs, entry);
	cat->count--;
	catalog_entry_free(cs);
}

/* Entry by UUID (case-insensitive), or NULL. */
struct cat_snap *
catalog_find(struct catalog *cat, const char *uuid)
{
	struct cat_snap	*cs;

	TAILQ_FOREACH(cs, &cat->snaps, entry)
		if (strcasecmp(cs->uuid, uuid) == 0)
			return (cs);
	return (NULL);
}

/* The entries of a group; see catalog.h. */
size_t
catalog_group(struct catalog *cat, const char *group, struct cat_snap **out,
    size_t max)
{
	struct cat_snap	*cs;
	size_t		 n = 0;

	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		if (strcasecmp(cs->group, group) != 0)
			continue;
		if (n < max)
			out[n] = cs;
		n++;
	}
	return (n);
}

/* First entry named name on volume (any when NULL); counts matches. */
struct cat_snap *
catalog_find_name(struct catalog *cat, const char *volume, const char *name,
    unsigned int *count)
{
	struct cat_snap	*cs, *first = NULL;

	*count = 0;
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		if (volume != NULL && strcasecmp(cs->volume, volume) != 0)
			continue;
		if (strcmp(cs->name, name) != 0)
			continue;
		if (first == NULL)
			first = cs;
		(*count)++;
	}
	return (first);
}

/* The consistency record of an entry as JSON. */
static json_object *
catalog_freeze_json(const struct cat_snap *cs)
{
	json_object	*o, *arr, *m;
	size_t		 i;

	o = json_object_new_object();
	json_object_object_add(o, "duration_ms",
	    json_object_new_int64(cs->freeze_ms));
	arr = json_object_new_array();
	for (i = 0; i < cs->nmounts; i++) {
		m = json_object_new_object();
		json_object_object_add(m, "mountpoint",
		    json_object_new_string(cs->mounts[i].mountpoint));
		json_object_object_add(m, "fstype",
		    json_object_new_string(cs->mounts[i].fstype));
		json_object_object_add(m, "device",
		    json_object_new_string(cs->mounts[i].device));
		json_object_object_add(m, "action",
		    json_object_new_string(cs->mounts[i].action));
		if (cs->mounts[i].reason != NULL)
			json_object_object_add(m, "reason",
			    json_object_new_string(cs->mounts[i].reason));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "mounts", arr);
	return (o);
}

/* One entry as JSON, as the file and the journal hold it. */
static json_object *
catalog_snap_json(const struct cat_snap *cs)
{
	json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "uuid", json_object_new_string(cs->uuid));
	json_object_object_add(o, "name", json_object_new_string(cs->name));
	json_object_object_add(o, "volume",
	    json_object_new_string(cs->volume));
	json_object_object_add(o, "tag", json_object_new_string(cs->tag));
	/* Never write what catalog_open() would refuse. */
	json_object_object_add(o, "created", json_object_new_int64(
	    cs->created <= JSONOUT_TIME_MAX ? (int64_t)cs->created : 0));
	json_object_object_add(o, "size_bytes", json_object_new_int64(
	    cs->size <= INT64_MAX ? (int64_t)cs->size : 0));
	json_object_object_add(o, "consistency",
	    json_object_new_string(cs->consistency));
	json_object_object_add(o, "origin", json_object_new_string(cs->origin));
	json_object_object_add(o, "state",
	    json_object_new_string(snap_state_name(cs->state)));
	if (cs->idem_key != NULL)
		json_object_object_add(o, "idempotency_key",
		    json_object_new_string(cs->idem_key));
	json_object_object_add(o, "group", json_object_new_string(cs->group));
	json_object_object_add(o, "group_size",
	    json_object_new_int64(cs->group_size));
	if (cs->nmounts > 0 || cs->freeze_ms > 0)
		json_object_object_add(o, "freeze", catalog_freeze_json(cs));
	return (o);
}

/*
 * The scheduled rollback into o ("pending_rollback", "pending_volumes");
 * with all set, also when there is none (the journal's header record).
 */
static void
catalog_pending_json(const struct catalog *cat, json_object *o, int all)
{
	json_object	*arr, *ol;
	size_t		 i;

	if (cat->online != NULL && (ol = json_tokener_parse(cat->online)) !=
	    NULL)
		json_object_object_add(o, "online", ol);
	if (cat->pending_rollback[0] == '\0' && !all)
		return;
	json_object_object_add(o, "pending_rollback",
	    json_object_new_string(cat->pending_rollback));
	arr = json_object_new_array();
	for (i = 0; i < cat->npending_volumes; i++)
		json_object_array_add(arr, json_object_new_string(
		    cat->pending_volumes[i]));
	json_object_object_add(o, "pending_volumes", arr);
}

/* The catalog as the JSON text of its file; see catalog.h. */
char *
catalog_text(struct catalog *cat)
{
	json_object	*root, *arr;
	struct cat_snap	*cs;
	char		*text;

	root = json_object_new_object();
	json_object_object_add(root, "format",
	    json_object_new_int(CATALOG_FORMAT));
	json_object_object_add(root, "vm", json_object_new_string(cat->vm));
	catalog_pending_json(cat, root, 0);
	arr = json_object_new_array();
	TAILQ_FOREACH(cs, &cat->snaps, entry)
		json_object_array_add(arr, catalog_snap_json(cs));
	json_object_object_add(root, "snapshots", arr);
	text = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return (text);
}

/* The hash of a JSON value's text: what the journal compares. */
static size_t
catalog_hash(json_object *o)
{
	size_t	h;

	h = strhash(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), 0);
	return (h != 0 ? h : 1);
}

/* The header record's hash: the scheduled rollback. */
static size_t
catalog_header_hash(const struct catalog *cat, json_object **out)
{
	json_object	*o;
	size_t		 h;

	o = json_object_new_object();
	catalog_pending_json(cat, o, 1);
	h = catalog_hash(o);
	if (out != NULL)
		*out = o;
	else
		json_object_put(o);
	return (h);
}

/* Everything as it is now is what the file and journal hold. */
static void
catalog_mark_written(struct catalog *cat)
{
	struct cat_snap	*cs;
	json_object	*o;

	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		o = catalog_snap_json(cs);
		cs->written = catalog_hash(o);
		json_object_put(o);
	}
	cat->header_written = catalog_header_hash(cat, NULL);
	free(cat->removed);
	cat->removed = NULL;
	cat->nremoved = 0;
}

/*
 * The whole file, then an empty journal; a failure loses nothing (the
 * journal has every change) and is only logged.
 */
static void
catalog_rewrite(struct catalog *cat)
{
	char	*text, *why;

	text = catalog_text(cat);
	if (atomicfile_write(cat->path, text, strlen(text), 0600, &why) == 0)
		regjournal_reset(&cat->journal, cat->path);
	else {
		log_warnx("catalog: %s (its journal keeps every change)", why);
		free(why);
	}
	free(text);
}

/* Close; see catalog.h. */
void
catalog_close(struct catalog *cat)
{
	if (cat != NULL && cat->journal.lines > 0)
		catalog_rewrite(cat);
	catalog_free(cat);
}

/* Commit, made durable now or on another thread; see catalog.h. */
static int
catalog_commit_line(struct catalog *cat, int async, char **cause)
{
	json_object	*line, *puts, *dels, *o, *hdr;
	struct cat_snap	*cs;
	struct stat	 sb;
	size_t		*hash, h, i, n = 0, max;
	char		*text;
	int		 rc;

	hash = xreallocarray(NULL, cat->count + 1, sizeof *hash);
	puts = json_object_new_array();
	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		o = catalog_snap_json(cs);
		hash[n] = catalog_hash(o);
		if (hash[n] != cs->written)
			json_object_array_add(puts, o);
		else
			json_object_put(o);
		n++;
	}
	if ((h = catalog_header_hash(cat, &hdr)) != cat->header_written)
		json_object_array_add(puts, hdr);
	else
		json_object_put(hdr);
	if (json_object_array_length(puts) == 0 && cat->nremoved == 0) {
		json_object_put(puts);
		free(hash);
		/* Nothing new; an async line before may still be syncing. */
		return (async ? 0 : regjournal_sync(&cat->journal, cat->path,
		    cause));
	}
	line = json_object_new_object();
	if (cat->nremoved > 0) {
		dels = json_object_new_array();
		for (i = 0; i < cat->nremoved; i++)
			json_object_array_add(dels,
			    json_object_new_string(cat->removed[i]));
		json_object_object_add(line, "del", dels);
	}
	json_object_object_add(line, "put", puts);
	xasprintf(&text, "%s\n", json_object_to_json_string_ext(line,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(line);
	rc = (async ? regjournal_append_async : regjournal_append)(
	    &cat->journal, cat->path, text, cause);
	free(text);
	if (rc == 0) {
		n = 0;
		TAILQ_FOREACH(cs, &cat->snaps, entry)
			cs->written = hash[n++];
		cat->header_written = h;
		free(cat->removed);
		cat->removed = NULL;
		cat->nremoved = 0;
		max = cat->count < CATALOG_JOURNAL_LINES ? cat->count :
		    CATALOG_JOURNAL_LINES;
		/* Long, or large (lines of many entries): the whole file. */
		if ((cat->journal.lines >= CATALOG_JOURNAL_MIN &&
		    cat->journal.lines >= max) || (fstat(cat->journal.fd,
		    &sb) == 0 && sb.st_size > CATALOG_FILE_MAX / 2))
			catalog_rewrite(cat);
	}
	free(hash);
	return (rc);
}

/* Commit; see catalog.h. */
int
catalog_commit(struct catalog *cat, char **cause)
{
	return (catalog_commit_line(cat, 0, cause));
}

/* Commit, durable at catalog_sync; see catalog.h. */
int
catalog_commit_async(struct catalog *cat, char **cause)
{
	return (catalog_commit_line(cat, 1, cause));
}

/* Wait for the last catalog_commit_async; see catalog.h. */
int
catalog_sync(struct catalog *cat, char **cause)
{
	return (regjournal_sync(&cat->journal, cat->path, cause));
}

/* String member of o, or NULL when absent or not a string. */
static const char *
catalog_json_str(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return (NULL);
	return (json_object_get_string(v));
}

/* Non-negative integer member of o; -1 when absent or not one. */
static int64_t
catalog_json_u64(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return (-1);
	return (json_object_get_int64(v));
}

/* Read an entry's optional consistency record. */
static void
catalog_freeze_from_json(struct cat_snap *cs, json_object *o)
{
	json_object	*f, *arr, *m;
	int64_t		 ms;
	size_t		 i, n;

	if (!json_object_object_get_ex(o, "freeze", &f))
		return;
	if ((ms = catalog_json_u64(f, "duration_ms")) > 0 && ms <= UINT32_MAX)
		cs->freeze_ms = (uint32_t)ms;
	if (!json_object_object_get_ex(f, "mounts", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		m = json_object_array_get_idx(arr, i);
		catalog_add_mount(cs, catalog_json_str(m, "mountpoint"),
		    catalog_json_str(m, "fstype"), catalog_json_str(m, "device"),
		    catalog_json_str(m, "action"), catalog_json_str(m, "reason"));
	}
}

/* One entry from JSON; NULL when a field is missing or malformed. */
static struct cat_snap *
catalog_snap_from_json(json_object *o)
{
	struct cat_snap	*cs;
	const char	*uuid, *name, *vol, *tag, *cons, *origin, *state;
	const char	*group;
	int64_t		 created, size, gsize;
	enum snap_state	 st;

	uuid = catalog_json_str(o, "uuid");
	name = catalog_json_str(o, "name");
	vol = catalog_json_str(o, "volume");
	tag = catalog_json_str(o, "tag");
	cons = catalog_json_str(o, "consistency");
	origin = catalog_json_str(o, "origin");
	state = catalog_json_str(o, "state");
	created = catalog_json_u64(o, "created");
	size = catalog_json_u64(o, "size_bytes");
	if (!uuid_valid(uuid) || !uuid_valid(vol) || name == NULL ||
	    tag == NULL || cons == NULL || origin == NULL || created < 0 ||
	    size < 0 || snap_state_parse(state, &st) != 0)
		return (NULL);
	cs = xcalloc(1, sizeof *cs);
	snprintf(cs->uuid, sizeof cs->uuid, "%s", uuid);
	snprintf(cs->volume, sizeof cs->volume, "%s", vol);
	cs->name = xstrdup(name);
	cs->tag = xstrdup(tag);
	cs->consistency = xstrdup(cons);
	cs->origin = xstrdup(origin);
	cs->created = (uint64_t)created;
	cs->size = (uint64_t)size;
	cs->state = st;
	if (catalog_json_str(o, "idempotency_key") != NULL)
		cs->idem_key = xstrdup(catalog_json_str(o,
		    "idempotency_key"));
	/* Format 1, or a bad group: a group of one. */
	group = catalog_json_str(o, "group");
	gsize = catalog_json_u64(o, "group_size");
	if (uuid_valid(group) && gsize >= 1 && gsize <= CATALOG_GROUP_MAX) {
		snprintf(cs->group, sizeof cs->group, "%s", group);
		cs->group_size = (uint32_t)gsize;
	} else {
		snprintf(cs->group, sizeof cs->group, "%s", cs->uuid);
		cs->group_size = 1;
	}
	catalog_freeze_from_json(cs, o);
	return (cs);
}

/* A replay in progress: the catalog and its entries by UUID. */
struct catalog_replay {
	struct catalog	*cat;
	struct uuidx	 idx;
};

/*
 * A journal line's records, in order: entries (by "uuid": replaced where
 * they are, else appended) and the header (the scheduled rollback).
 */
static void
catalog_replay_put(json_object *v, void *arg, char **cause)
{
	struct catalog_replay	*rp = arg;
	struct catalog		*cat = rp->cat;
	struct cat_snap		*cs, *old;
	json_object		*o, *u;
	size_t			 i, n;

	if (!json_object_is_type(v, json_type_array)) {
		*cause = xstrdup("put is not a list of records");
		return;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(v, i);
		if (json_object_is_type(o, json_type_object) &&
		    !json_object_object_get_ex(o, "uuid", &u) &&
		    json_object_object_get_ex(o, "pending_rollback", &u)) {
			catalog_pending_load(cat, o);
			continue;
		}
		if ((cs = catalog_snap_from_json(o)) == NULL) {
			xasprintf(cause, "put[%zu]: malformed entry", i);
			return;
		}
		if ((old = uuidx_get(&rp->idx, cs->uuid)) != NULL) {
			TAILQ_INSERT_BEFORE(old, cs, entry);
			TAILQ_REMOVE(&cat->snaps, old, entry);
			uuidx_put(&rp->idx, cs->uuid, cs);
			catalog_entry_free(old);
			continue;
		}
		if (cat->count >= CATALOG_MAX_ENTRIES) {
			catalog_entry_free(cs);
			xasprintf(cause, "more than %d entries",
			    CATALOG_MAX_ENTRIES);
			return;
		}
		TAILQ_INSERT_TAIL(&cat->snaps, cs, entry);
		uuidx_put(&rp->idx, cs->uuid, cs);
		cat->count++;
	}
}

/* A journal line's removal of one entry (gone already: nothing). */
static void
catalog_replay_del(const char *uuid, void *arg)
{
	struct catalog_replay	*rp = arg;
	struct cat_snap		*cs;

	if ((cs = uuidx_get(&rp->idx, uuid)) != NULL) {
		uuidx_del(&rp->idx, uuid);
		TAILQ_REMOVE(&rp->cat->snaps, cs, entry);
		rp->cat->count--;
		catalog_entry_free(cs);
	}
}

/* Replay the journal over what the file held; 0 or -1 with *cause. */
static int
catalog_replay(struct catalog *cat, char **cause)
{
	struct catalog_replay	 rp = { cat, { NULL, 0, 0 } };
	struct cat_snap		*cs;
	int			 rc;

	/* The file's entries are unique by UUID: catalog_parse() merged. */
	TAILQ_FOREACH(cs, &cat->snaps, entry)
		uuidx_put(&rp.idx, cs->uuid, cs);
	rc = regjournal_replay(&cat->journal, cat->path, catalog_replay_put,
	    catalog_replay_del, &rp, cause);
	uuidx_clear(&rp.idx);
	return (rc);
}

/*
 * A replayed catalog read again as the file it will be written as: the
 * entries the journal brought are checked against each other as the
 * file's (duplicates merged the same way).  NULL with *cause if unusable.
 */
static struct catalog *
catalog_recheck(struct catalog *cat, char **cause)
{
	struct catalog	*again;
	char		*text, *why = NULL;

	text = catalog_text(cat);
	again = catalog_parse(cat->path, cat->vm, text, &why);
	free(text);
	if (again == NULL) {
		xasprintf(cause, "%s.journal, replayed: %s", cat->path, why);
		free(why);
		catalog_free(cat);
		return (NULL);
	}
	again->journal = cat->journal;
	cat->journal.fd = -1;
	catalog_free(cat);
	return (again);
}

/* Load a catalog; see catalog.h. */
struct catalog *
catalog_open(const char *dir, const char *vm, char **cause)
{
	struct catalog	*cat;
	char		*path, *text, *why;
	size_t		 len;

	xasprintf(&path, "%s/%s.json", dir, vm);
	if ((text = atomicfile_read(path, CATALOG_FILE_MAX, &len,
	    &why)) == NULL && why != NULL) {
		*cause = why;
		free(path);
		return (NULL);
	}
	cat = catalog_parse(path, vm, text, cause);
	free(text);
	free(path);
	if (cat == NULL)
		return (NULL);
	if (catalog_replay(cat, cause) != 0) {
		catalog_free(cat);
		return (NULL);
	}
	if (cat->journal.lines > 0 && (cat = catalog_recheck(cat, cause)) ==
	    NULL)
		return (NULL);
	catalog_mark_written(cat);
	return (cat);
}

/*
 * The entries kept while a file loads, hashed twice: by UUID and by
 * backend snapshot (volume and tag), so that a catalog of thousands of
 * entries loads in linear time.  Open addressing; size a power of two at
 * least twice the file's entries.
 */
struct catalog_seen {
	const struct cat_snap	**by_uuid;
	const struct cat_snap	**by_tag;
	size_t			  mask;
};

static int
catalog_same_uuid(const struct cat_snap *a, const struct cat_snap *b)
{
	return (strcasecmp(a->uuid, b->uuid) == 0);
}

static int
catalog_same_tag(const struct cat_snap *a, const struct cat_snap *b)
{
	return (strcasecmp(a->volume, b->volume) == 0 &&
	    strcmp(a->tag, b->tag) == 0);
}

/*
 * The kept entry in table t that same() says cs repeats, or NULL with
 * *slot the free slot cs would take.
 */
static const struct cat_snap *
catalog_seen_find(const struct cat_snap **t, size_t mask, size_t h,
    const struct cat_snap *cs,
    int (*same)(const struct cat_snap *, const struct cat_snap *),
    size_t *slot)
{
	size_t	i;

	for (i = h & mask; t[i] != NULL; i = (i + 1) & mask)
		if (same(t[i], cs))
			return (t[i]);
	*slot = i;
	return (NULL);
}

/*
 * True (with a log line naming the file) if cs, entry i of the file,
 * repeats one already kept: the same UUID, or the same backend snapshot
 * (volume and tag).  The first one wins; a twin would be listed twice,
 * and deleting one would leave the other "ready" with nothing behind it.
 * Otherwise cs is kept: entered in both tables.
 */
static int
catalog_duplicate(struct catalog *cat, struct catalog_seen *seen,
    const struct cat_snap *cs, size_t i)
{
	const struct cat_snap	*o;
	size_t			 su = 0, st = 0;

	o = catalog_seen_find(seen->by_uuid, seen->mask, strhash(cs->uuid, 1),
	    cs, catalog_same_uuid, &su);
	if (o == NULL)
		o = catalog_seen_find(seen->by_tag, seen->mask,
		    strhash(cs->volume, 1) ^ strhash(cs->tag, 0) * 31, cs,
		    catalog_same_tag, &st);
	if (o != NULL) {
		log_warnx("catalog %s: snapshots[%zu] repeats snapshot %s (%s "
		    "of volume %s); the first entry is kept", cat->path, i,
		    o->uuid, o->tag, o->volume);
		return (1);
	}
	seen->by_uuid[su] = cs;
	seen->by_tag[st] = cs;
	return (0);
}

/* The pending rollback's volumes; a bad one makes it all members. */
static void
catalog_pending_volumes(struct catalog *cat, json_object *root)
{
	json_object	*arr;
	const char	*v;
	size_t		 i, n;

	if (!json_object_object_get_ex(root, "pending_volumes", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_get_string(json_object_array_get_idx(arr, i));
		if (n > CATALOG_GROUP_MAX || !json_object_is_type(
		    json_object_array_get_idx(arr, i), json_type_string) ||
		    !uuid_valid(v)) {
			log_warnx("catalog %s: pending_volumes[%zu] is not "
			    "usable (%zu entries, at most %d volume UUIDs): the "
			    "scheduled rollback is dropped rather than widened",
			    cat->path, i, n, CATALOG_GROUP_MAX);
			cat->npending_volumes = 0;
			cat->pending_rollback[0] = '\0';
			return;
		}
		snprintf(cat->pending_volumes[cat->npending_volumes++],
		    UUID_STR_LEN + 1, "%s", v);
	}
}

/* The scheduled rollback that o (the file, or a header record) holds. */
static void
catalog_pending_load(struct catalog *cat, json_object *o)
{
	json_object	*ol;

	free(cat->online);
	cat->online = NULL;
	if (json_object_object_get_ex(o, "online", &ol) &&
	    json_object_is_type(ol, json_type_object))
		cat->online = xstrdup(json_object_to_json_string_ext(ol,
		    JSON_C_TO_STRING_PLAIN));
	cat->pending_rollback[0] = '\0';
	cat->npending_volumes = 0;
	if (uuid_valid(catalog_json_str(o, "pending_rollback"))) {
		snprintf(cat->pending_rollback, sizeof cat->pending_rollback,
		    "%s", catalog_json_str(o, "pending_rollback"));
		catalog_pending_volumes(cat, o);
	}
}

/* A catalog from its file's text; see catalog.h. */
struct catalog *
catalog_parse(const char *path, const char *vm, const char *text,
    char **cause)
{
	struct catalog		*cat;
	struct cat_snap		*cs;
	struct catalog_seen	 seen = { NULL, NULL, 0 };
	json_object		*root, *arr;
	size_t			 i, n;

	cat = xcalloc(1, sizeof *cat);
	snprintf(cat->vm, sizeof cat->vm, "%s", vm);
	cat->path = xstrdup(path);
	cat->journal.fd = -1;
	TAILQ_INIT(&cat->snaps);
	if (text == NULL)
		return (cat);
	root = json_tokener_parse(text);
	if (root == NULL || !json_object_object_get_ex(root, "snapshots",
	    &arr) || !json_object_is_type(arr, json_type_array)) {
		xasprintf(cause, "%s: not a snapshot catalog (bad JSON)",
		    cat->path);
		goto fail;
	}
	catalog_pending_load(cat, root);
	n = json_object_array_length(arr);
	seen.mask = strhash_mask(n);
	seen.by_uuid = xcalloc(seen.mask + 1, sizeof *seen.by_uuid);
	seen.by_tag = xcalloc(seen.mask + 1, sizeof *seen.by_tag);
	for (i = 0; i < n; i++) {
		cs = catalog_snap_from_json(json_object_array_get_idx(arr, i));
		if (cs == NULL) {
			xasprintf(cause, "%s: snapshots[%zu]: malformed entry",
			    cat->path, i);
			goto fail;
		}
		if (catalog_duplicate(cat, &seen, cs, i)) {
			catalog_entry_free(cs);
			continue;
		}
		TAILQ_INSERT_TAIL(&cat->snaps, cs, entry);
		cat->count++;
	}
	free(seen.by_uuid);
	free(seen.by_tag);
	json_object_put(root);
	return (cat);
fail:
	free(seen.by_uuid);
	free(seen.by_tag);
	json_object_put(root);
	catalog_free(cat);
	return (NULL);
}

/* The tag of a new snapshot; see catalog.h. */
void
catalog_tag_make(char *buf, size_t len, const char *uuid)
{
	snprintf(buf, len, "%s%s", CATALOG_TAG_PREFIX, uuid);
}

/*
 * The UUID a tag of ours names: what follows CATALOG_TAG_PREFIX, or a bare
 * UUID (the tags made before the prefix).  NULL if the tag is not ours.
 */
static const char *
catalog_tag_uuid(const char *tag)
{
	size_t	len = sizeof CATALOG_TAG_PREFIX - 1;

	if (strncmp(tag, CATALOG_TAG_PREFIX, len) == 0 &&
	    uuid_valid(tag + len))
		return (tag + len);
	if (uuid_valid(tag))
		return (tag);
	return (NULL);
}

/* Whether a backend snapshot is ours; see catalog.h. */
int
catalog_tag_ours(const char *tag, const char *uuid)
{
	return (uuid_valid(uuid) || catalog_tag_uuid(tag) != NULL);
}

/* Index of the backend snapshot matching an entry, or -1. */
static ssize_t
catalog_match(const struct cat_snap *cs, const struct cat_seen *seen,
    size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(seen[i].tag, cs->tag) == 0)
			return ((ssize_t)i);
		if (seen[i].uuid != NULL &&
		    strcasecmp(seen[i].uuid, cs->uuid) == 0)
			return ((ssize_t)i);
	}
	return (-1);
}

/* Adopt a backend snapshot nobody catalogued. */
static void
catalog_adopt(struct catalog *cat, const char *volume,
    const struct cat_seen *s)
{
	struct cat_snap	*cs;
	char		 uuid[UUID_STR_LEN + 1], *name, tag[64];
	const char	*base, *tag_uuid;
	unsigned int	 count;

	if (uuid_valid(s->uuid) && catalog_find(cat, s->uuid) == NULL)
		snprintf(uuid, sizeof uuid, "%s", s->uuid);
	else if ((tag_uuid = catalog_tag_uuid(s->tag)) != NULL &&
	    catalog_find(cat, tag_uuid) == NULL)
		snprintf(uuid, sizeof uuid, "%s", tag_uuid);
	else
		uuid_generate_v4(uuid);
	/* The catalog holds valid names only, whatever the backend had. */
	if (s->name != NULL && text_valid_name(s->name, NAME_MAX_CHARS, NULL))
		base = s->name;
	else if (text_valid_name(s->tag, NAME_MAX_CHARS, NULL))
		base = s->tag;
	else
		base = NULL;
	if (base != NULL)
		name = xstrdup(base);
	else
		xasprintf(&name, "adopted (%.8s)", uuid);
	if (base != NULL && catalog_find_name(cat, volume, name, &count) !=
	    NULL) {
		free(name);
		xasprintf(&name, "%.*s (%.8s)", (int)text_utf8_prefix(base,
		    strlen(base), 100), base, uuid);
	}
	cs = catalog_add(cat, uuid, name, volume, s->tag, "adopted");
	cs->created = s->created;
	cs->size = s->size;
	free(name);
	log_warnx("catalog %s: adopted snapshot '%s' of volume %s found in "
	    "the backend as %s", cat->vm, cs->name, volume,
	    log_escape(tag, sizeof tag, s->tag, strlen(s->tag)));
}

/*
 * Drop the entry an older host adopted from a foreign backend snapshot s:
 * listed, it could be deleted or rolled back over.  The snapshot itself
 * stays in the backend, untouched.
 */
static void
catalog_release(struct catalog *cat, struct cat_snap *cs,
    const struct cat_seen *s)
{
	char	tag[64];

	log_warnx("catalog %s: snapshot '%s' (%s) of volume %s is the "
	    "backend's %s, which this host did not make (EVE's own, or made "
	    "by hand): no longer listed, and left alone in the backend",
	    cat->vm, cs->name, cs->uuid, cs->volume,
	    log_escape(tag, sizeof tag, s->tag, strlen(s->tag)));
	if (strcasecmp(cat->pending_rollback, cs->uuid) == 0)
		cat->pending_rollback[0] = '\0';
	catalog_remove(cat, cs);
}

/*
 * Settle one group with a creating member; see catalog.h.  Returns the
 * number of entries changed (0: the group waits for the next check).
 */
static unsigned int
catalog_settle_group(struct catalog *cat, const char *group)
{
	struct cat_snap	*cs, *next, *first = NULL;
	size_t		 n = 0, there = 0;
	unsigned int	 changes = 0;
	int		 whole;

	TAILQ_FOREACH(cs, &cat->snaps, entry) {
		if (strcasecmp(cs->group, group) != 0)
			continue;
		if (first == NULL)
			first = cs;
		n++;
		if (cs->state == SNAP_CREATING && !cs->checked)
			return (0);	/* not listed yet: next time */
		if (cs->state == SNAP_READY || (cs->state == SNAP_CREATING &&
		    cs->seen))
			there++;
	}
	if (first == NULL)
		return (0);
	whole = n == first->group_size && there == n;
	log_warnx("catalog %s: snapshot group '%s' (%s) was being created when "
	    "the host stopped; %zu of its %u members are in their backends: %s",
	    cat->vm, first->name, group, there, first->group_size, whole ?
	    "now ready" : "nothing of it is kept");
	for (cs = TAILQ_FIRST(&cat->snaps); cs != NULL; cs = next) {
		next = TAILQ_NEXT(cs, entry);
		if (strcasecmp(cs->group, group) != 0)
			continue;
		if (whole) {
			if (cs->state != SNAP_READY)
				changes++;
			cs->state = SNAP_READY;
		} else if (cs->state == SNAP_READY || (cs->state ==
		    SNAP_CREATING && cs->seen)) {
			cs->state = SNAP_DELETING;
			changes++;
		} else if (cs->state == SNAP_CREATING) {
			catalog_remove(cat, cs);
			changes++;
		}
	}
	return (changes);
}

/* Settle the groups a crash left half-made; see catalog.h. */
unsigned int
catalog_settle_groups(struct catalog *cat)
{
	struct cat_snap	*cs;
	unsigned int	 changes = 0, c;

	do {
		c = 0;
		TAILQ_FOREACH(cs, &cat->snaps, entry)
			if (cs->state == SNAP_CREATING && cs->group_size > 1 &&
			    cs->checked) {
				/* It may remove entries: start over. */
				c = catalog_settle_group(cat, cs->group);
				if (c > 0)
					break;
			}
		changes += c;
	} while (c > 0);
	return (changes);
}

/* Reconcile one volume; see catalog.h. */
unsigned int
catalog_reconcile(struct catalog *cat, const char *volume,
    const struct cat_seen *seen, size_t n, struct cat_reconcile *r)
{
	struct cat_snap	*cs, *next;
	unsigned char	*used;
	unsigned int	 changes = 0;
	ssize_t		 m;
	size_t		 i;

	memset(r, 0, sizeof *r);
	used = xcalloc(n == 0 ? 1 : n, 1);
	for (cs = TAILQ_FIRST(&cat->snaps); cs != NULL; cs = next) {
		next = TAILQ_NEXT(cs, entry);
		if (strcasecmp(cs->volume, volume) != 0)
			continue;
		m = catalog_match(cs, seen, n);
		if (m >= 0 && !catalog_tag_ours(seen[m].tag, seen[m].uuid)) {
			catalog_release(cat, cs, &seen[m]);
			r->released++;
			changes++;
			continue;
		}
		if (m >= 0)
			used[m] = 1;
		cs->checked = 1;
		cs->seen = m >= 0;
		switch (cs->state) {
		case SNAP_CREATING:
			if (cs->group_size > 1) {
				/* The whole group decides: settle_groups. */
				if (m >= 0 && cs->size == 0)
					cs->size = seen[m].size;
			} else if (m < 0) {
				log_warnx("catalog %s: snapshot '%s' was being "
				    "created when the host stopped and the "
				    "backend does not have it; dropped",
				    cat->vm, cs->name);
				catalog_remove(cat, cs);
				r->cleaned++;
			} else {
				cs->state = SNAP_READY;
				if (cs->size == 0)
					cs->size = seen[m].size;
				log_warnx("catalog %s: snapshot '%s' was being "
				    "created when the host stopped; the "
				    "backend has it, now ready", cat->vm,
				    cs->name);
				r->finished++;
			}
			changes++;
			break;
		case SNAP_DELETING:
			if (m < 0) {
				catalog_remove(cat, cs);
				r->cleaned++;
				changes++;
			} else
				r->redelete++;
			break;
		case SNAP_READY:
			if (m < 0) {
				cs->state = SNAP_MISSING;
				log_warnx("catalog %s: snapshot '%s' (%s) is no "
				    "longer in the backend; marked missing",
				    cat->vm, cs->name, cs->uuid);
				r->missing++;
				changes++;
			}
			break;
		case SNAP_MISSING:
			if (m >= 0) {
				cs->state = SNAP_READY;
				r->found++;
				changes++;
			}
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if (used[i])
			continue;
		if (!catalog_tag_ours(seen[i].tag, seen[i].uuid)) {
			r->foreign++;
			continue;
		}
		if (cat->count >= CATALOG_MAX_ENTRIES)
			continue;
		catalog_adopt(cat, volume, &seen[i]);
		r->adopted++;
		changes++;
	}
	if (r->foreign > 0)
		log_debug("catalog %s: volume %s has %u snapshot%s this host "
		    "did not make; left alone", cat->vm, volume, r->foreign,
		    r->foreign == 1 ? "" : "s");
	free(used);
	return (changes);
}
