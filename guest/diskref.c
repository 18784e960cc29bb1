/* Disk references on the wire and the guest's disks behind them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskref.h"
#include "log.h"
#include "status.h"
#include "xmalloc.h"

/* Build one reference per disk; see diskref.h. */
Evg__DiskRef **
diskref_build(const struct disk *disks, size_t n)
{
	Evg__DiskRef	**refs, *ref;
	Evg__DiskId	 *id;
	size_t		  i, j;

	refs = xcalloc(n, sizeof *refs);
	for (i = 0; i < n; i++) {
		ref = xmalloc(sizeof *ref);
		evg__disk_ref__init(ref);
		ref->device = (char *)disks[i].devpath;
		ref->n_ids = disks[i].nids;
		ref->ids = xcalloc(disks[i].nids, sizeof *ref->ids);
		for (j = 0; j < disks[i].nids; j++) {
			id = xmalloc(sizeof *id);
			evg__disk_id__init(id);
			id->kind = (char *)disks[i].ids[j].kind;
			id->value = (char *)disks[i].ids[j].value;
			ref->ids[j] = id;
		}
		refs[i] = ref;
	}
	return (refs);
}

/* Free what diskref_build() allocated (not the strings: borrowed). */
void
diskref_free(Evg__DiskRef **refs, size_t n)
{
	size_t	i, j;

	if (refs == NULL)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < refs[i]->n_ids; j++)
			free(refs[i]->ids[j]);
		free(refs[i]->ids);
		free(refs[i]);
	}
	free(refs);
}

/* Copy the wire identifiers that fit a struct disk_id. */
size_t
diskref_ids(Evg__DiskId *const *wire, size_t n, struct disk_id *ids)
{
	size_t	i, k = 0;

	for (i = 0; i < n && k < DISK_MAX_IDS; i++) {
		if (wire[i]->kind == NULL || wire[i]->value == NULL ||
		    wire[i]->kind[0] == '\0' || wire[i]->value[0] == '\0' ||
		    strlen(wire[i]->kind) >= sizeof ids[k].kind ||
		    strlen(wire[i]->value) >= sizeof ids[k].value)
			continue;
		memcpy(ids[k].kind, wire[i]->kind, strlen(wire[i]->kind) + 1);
		memcpy(ids[k].value, wire[i]->value,
		    strlen(wire[i]->value) + 1);
		k++;
	}
	return (k);
}

/* The guest device with these identifiers, or NULL. */
const char *
diskref_find(Evg__DiskId *const *wire, size_t n, char *buf, size_t len)
{
	struct disk_id	ids[DISK_MAX_IDS];
	size_t		nids;

	if ((nids = diskref_ids(wire, n, ids)) == 0)
		return (NULL);
	if (disk_find_by_ids(ids, nids, buf, len) == -1)
		return (NULL);
	return (buf);
}

/* A reference's first identifier (or device) for messages. */
const char *
diskref_name(const Evg__DiskRef *ref, char *buf, size_t len)
{
	char	kind[32], value[256];

	if (ref->n_ids == 0) {
		log_escape(buf, len, ref->device, strlen(ref->device));
		return (buf);
	}
	log_escape(kind, sizeof kind, ref->ids[0]->kind,
	    strlen(ref->ids[0]->kind));
	log_escape(value, sizeof value, ref->ids[0]->value,
	    strlen(ref->ids[0]->value));
	snprintf(buf, len, "%s:%s", kind, value);
	return (buf);
}

/*
 * Keep the disks of a resolved device that match ids, compacting the
 * array.  Returns how many are left.
 */
static size_t
diskref_keep_matching(struct disk *disks, size_t n, const struct disk_id *ids,
    size_t nids)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++) {
		if (disk_match(&disks[i], ids, nids) > 0)
			disks[k++] = disks[i];
	}
	return (k);
}

/* Local disks behind a reference; see diskref.h. */
int
diskref_resolve(const Evg__DiskRef *ref, struct disk **disksp, size_t *np,
    char **cause)
{
	struct disk_id	 ids[DISK_MAX_IDS];
	struct disk	*disks = NULL;
	size_t		 nids, n = 0;
	char		 name[320], path[128], *why = NULL;

	*disksp = NULL;
	*np = 0;
	diskref_name(ref, name, sizeof name);
	if ((nids = diskref_ids(ref->ids, ref->n_ids, ids)) == 0) {
		xasprintf(cause, "disk %s: the reference carries no usable "
		    "identifier", name);
		return (EVG_INVALID_ARGUMENT);
	}
	/* The device named is a hint: the identifiers decide. */
	if (ref->device[0] != '\0' &&
	    disk_resolve(ref->device, &disks, &n, &why) == 0) {
		n = diskref_keep_matching(disks, n, ids, nids);
		if (n != 0) {
			*disksp = disks;
			*np = n;
			return (EVG_OK);
		}
		disk_free(disks, n);
		disks = NULL;
	}
	free(why);
	why = NULL;
	if (disk_find_by_ids(ids, nids, path, sizeof path) == 0 &&
	    disk_resolve(path, &disks, &n, &why) == 0) {
		*disksp = disks;
		*np = n;
		return (EVG_OK);
	}
	if (why != NULL)
		log_debug("%s: %s", __func__, why);
	free(why);
	xasprintf(cause, "disk with %s is not attached to this VM", name);
	return (EVG_NOT_FOUND);
}

/* Local disks behind a reference, known ones first; see diskref.h. */
int
diskref_resolve_known(const Evg__DiskRef *ref, const struct disk *known,
    size_t nknown, struct disk **disksp, size_t *np, char **cause)
{
	struct disk_id	 ids[DISK_MAX_IDS];
	size_t		 nids, i;

	nids = diskref_ids(ref->ids, ref->n_ids, ids);
	for (i = 0; nids != 0 && ref->device[0] != '\0' && i < nknown; i++) {
		if (strcmp(known[i].devpath, ref->device) != 0 ||
		    disk_match(&known[i], ids, nids) == 0)
			continue;
		*disksp = xreallocarray(NULL, 1, sizeof **disksp);
		(*disksp)[0] = known[i];
		*np = 1;
		return (EVG_OK);
	}
	return (diskref_resolve(ref, disksp, np, cause));
}
