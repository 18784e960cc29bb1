/*
 * Naming a snapshot group: what a delete or rollback request means by its
 * snapshot (a group UUID, a group name, or a member's own UUID) and its
 * volumes, resolved to the group's member entries in the catalog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "workflow_impl.h"
#include "xmalloc.h"

/* True if vol is among the n volume UUIDs. */
static int
wf_vols_have(const char *const *vols, size_t n, const char *vol)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(vols[i], vol) == 0)
			return (1);
	return (0);
}

/*
 * The group named name: the only one with members so named (and, with
 * volumes, a member on each).  NULL with code and *cause otherwise.
 */
static const char *
wf_group_by_name(struct wf_vm *wv, const struct reg_vm *vm, const char *name,
    const char *const *vols, size_t nvols, int *code, char **cause)
{
	struct cat_snap	*cs, *m[CATALOG_GROUP_MAX];
	const char	*found = NULL;
	unsigned int	 count = 0;
	size_t		 n, i;

	TAILQ_FOREACH(cs, &wv->cat->snaps, entry) {
		/*
		 * Members share the name: count each group at its first.  A
		 * group whose volume the VM no longer has is not listed, so
		 * it is not named either.
		 */
		if (strcmp(cs->name, name) != 0 ||
		    catalog_group(wv->cat, cs->group, m, 1) == 0 ||
		    m[0] != cs || wf_volume(vm, cs->volume) == NULL)
			continue;
		n = catalog_group(wv->cat, cs->group, m, CATALOG_GROUP_MAX);
		for (i = 0; i < nvols; i++)
			if (!wf_group_has_member(m, n < CATALOG_GROUP_MAX ? n :
			    CATALOG_GROUP_MAX, vols[i]))
				break;
		if (i < nvols)
			continue;
		if (count++ == 0)
			found = cs->group;
	}
	if (count > 1) {
		xasprintf(cause, "snapshot: %u snapshot groups of VM %s are "
		    "named '%s'; name the group by its UUID%s", count,
		    vm->name, name, nvols == 0 ? " or name a volume" : "");
		*code = EVG_INVALID_ARGUMENT;
		return (NULL);
	}
	if (found == NULL) {
		xasprintf(cause, "no snapshot %s for VM %s", name, vm->name);
		*code = EVG_NOT_FOUND;
		return (NULL);
	}
	return (found);
}

/* Resolve a delete's or rollback's snapshot; see workflow_impl.h. */
int
wf_resolve_group(struct wf_vm *wv, const struct reg_vm *vm, const char *snap,
    const char *const *vols, size_t nvols, int member,
    struct wf_members *out, char **cause)
{
	struct cat_snap	*cs = NULL, *all[CATALOG_GROUP_MAX];
	const char	*group = NULL;
	size_t		 n, i;
	int		 code;

	memset(out, 0, sizeof *out);
	if (snap == NULL || *snap == '\0') {
		xasprintf(cause, "snapshot: missing");
		return (EVG_INVALID_ARGUMENT);
	}
	if (uuid_valid(snap) && catalog_group(wv->cat, snap, all,
	    CATALOG_GROUP_MAX) > 0) {
		group = all[0]->group;
		/* A group of one from before groups: its UUID is both. */
		cs = catalog_find(wv->cat, snap);
	} else if (uuid_valid(snap) && (cs = catalog_find(wv->cat, snap)) !=
	    NULL)
		group = cs->group;
	else if (member && !uuid_valid(snap)) {
		xasprintf(cause, "snapshot: '%s' is not a UUID; one member "
		    "alone is named by its own UUID", snap);
		return (EVG_INVALID_ARGUMENT);
	} else if (member) {
		/* Another VM's snapshot reads exactly as a missing one. */
		xasprintf(cause, "no snapshot %s for VM %s", snap, vm->name);
		return (EVG_NOT_FOUND);
	} else if ((group = wf_group_by_name(wv, vm, snap, vols, nvols,
	    &code, cause)) == NULL)
		return (code);
	n = catalog_group(wv->cat, group, all, CATALOG_GROUP_MAX);
	if (n > CATALOG_GROUP_MAX)
		n = CATALOG_GROUP_MAX;
	if (member) {
		/* Only that member, by its own UUID. */
		if (cs == NULL) {
			xasprintf(cause, "snapshot: %s is a group's UUID; "
			    "deleting one member needs that member's own UUID",
			    snap);
			return (EVG_INVALID_ARGUMENT);
		}
		all[0] = cs;
		n = 1;
	} else if (cs != NULL && n > 1 && nvols == 0) {
		xasprintf(cause, "snapshot %s is one of the %zu members of "
		    "group %s ('%s'); name the group by its UUID to act on "
		    "all of them, or name this member alone explicitly (delete "
		    "--member; rollback --volume, or the guest's DISK)", snap,
		    n, group, cs->name);
		return (EVG_FAILED_PRECONDITION);
	}
	for (i = 0; i < nvols; i++) {
		if (i > 0 && wf_vols_have(vols, i, vols[i])) {
			xasprintf(cause, "volume: %s is given twice", vols[i]);
			return (EVG_INVALID_ARGUMENT);
		}
		if (wf_volume(vm, vols[i]) == NULL) {
			xasprintf(cause, "volume: %s is not a volume of VM %s",
			    vols[i], vm->name);
			return (EVG_NOT_FOUND);
		}
		if (!member && !wf_group_has_member(all, n, vols[i])) {
			xasprintf(cause, "snapshot group '%s' (%s) has no "
			    "member on volume '%s'", all[0]->name, group,
			    wf_volume(vm, vols[i])->name);
			return (EVG_NOT_FOUND);
		}
	}
	if (cs != NULL && !member && nvols > 0 && !wf_vols_have(vols, nvols,
	    cs->volume) && strcasecmp(cs->uuid, group) != 0) {
		/* A member's UUID names that member's volume too. */
		xasprintf(cause, "snapshot %s is of volume '%s', which is not "
		    "among the volumes named", snap, wf_volume(vm, cs->volume)
		    != NULL ? wf_volume(vm, cs->volume)->name : cs->volume);
		return (EVG_NOT_FOUND);
	}
	for (i = 0; i < n; i++) {
		if (nvols > 0 && !wf_vols_have(vols, nvols, all[i]->volume))
			continue;
		if (wf_volume(vm, all[i]->volume) == NULL) {
			xasprintf(cause, "snapshot %s of group '%s' is of volume "
			    "%s, which VM %s no longer has", all[i]->uuid,
			    all[i]->name, all[i]->volume, vm->name);
			return (EVG_FAILED_PRECONDITION);
		}
		out->m[out->n++] = all[i];
	}
	out->listed = n;
	snprintf(out->group, sizeof out->group, "%s", group);
	return (EVG_OK);
}

/* True if one of the n members is on volume vol. */
int
wf_group_has_member(struct cat_snap *const *m, size_t n, const char *vol)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(m[i]->volume, vol) == 0)
			return (1);
	return (0);
}
