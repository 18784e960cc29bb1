/*
 * Which of a VM's volumes a guest's disk reference names, and the disk
 * references the host sends back to the guest.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "events.h"
#include "jsonout.h"
#include "log.h"
#include "status.h"
#include "text.h"
#include "workflow_impl.h"
#include "xmalloc.h"

static int	wf_id_equal(const char *, const char *, const char *,
	    const char *);
static const struct reg_volume	*wf_match_disk(const struct reg_vm *,
	    const Evg__DiskRef *);

/* True if two identifiers name the same disk (WWNs ignore case). */
static int
wf_id_equal(const char *k1, const char *v1, const char *k2, const char *v2)
{
	if (strcmp(k1, k2) != 0)
		return (0);
	return (strcmp(k1, "wwn") == 0 ? strcasecmp(v1, v2) == 0 :
	    strcmp(v1, v2) == 0);
}

/* True for an identifier of where a disk sits (pci, pcipath), not what. */
static int
wf_id_place(const char *kind)
{
	return (strcmp(kind, "pci") == 0 || strcmp(kind, "pcipath") == 0);
}

/*
 * The volume a disk reference names: one sharing a serial, WWN or backing
 * file; failing that, one registered by PCI place only (pci, pcipath)
 * that shares it (disks on one SCSI controller share its PCI function and
 * path, so a match by place alone is trusted only for volumes that have
 * nothing better).
 */
static const struct reg_volume *
wf_match_disk(const struct reg_vm *vm, const Evg__DiskRef *d)
{
	const struct reg_volume	*vol, *weak = NULL;
	size_t			 i, j, k;
	int			 pci_only;

	for (i = 0; i < vm->nvolumes; i++) {
		vol = &vm->volumes[i];
		pci_only = 1;
		for (j = 0; j < vol->ndisks; j++)
			if (!wf_id_place(vol->disks[j].kind))
				pci_only = 0;
		for (j = 0; j < vol->ndisks; j++) {
			for (k = 0; k < d->n_ids; k++) {
				if (!wf_id_equal(vol->disks[j].kind,
				    vol->disks[j].value, d->ids[k]->kind,
				    d->ids[k]->value))
					continue;
				if (!wf_id_place(d->ids[k]->kind))
					return (vol);
				if (pci_only && weak == NULL)
					weak = vol;
			}
		}
	}
	return (weak);
}

/* Map disk references to volume UUIDs; see workflow.h. */
int
workflow_match_disks(const char *vm_uuid, Evg__DiskRef *const *disks,
    size_t n, char ***vols, size_t *nvols, char **cause)
{
	const struct reg_vm	*vm;
	const struct reg_volume	*vol;
	size_t			 i, j;
	char			 dev_i[96], dev_j[96];
	int			 rc;

	*vols = NULL;
	*nvols = 0;
	if ((vm = registry_find(wf_g.reg, vm_uuid)) == NULL) {
		xasprintf(cause, "no VM %s is registered", vm_uuid);
		return (EVG_NOT_FOUND);
	}
	if (n == 0) {
		xasprintf(cause, "disk: no disk given");
		return (EVG_INVALID_ARGUMENT);
	}
	if (n > CATALOG_GROUP_MAX) {
		xasprintf(cause, "disk: %zu disks given; one snapshot group "
		    "holds at most %d", n, CATALOG_GROUP_MAX);
		return (EVG_INVALID_ARGUMENT);
	}
	for (i = 0; i < n; i++) {
		if ((vol = wf_match_disk(vm, disks[i])) == NULL) {
			log_escape(dev_i, sizeof dev_i, disks[i]->device,
			    strlen(disks[i]->device));
			dev_j[0] = '\0';
			if (disks[i]->n_ids > 0)
				log_escape(dev_j, sizeof dev_j,
				    disks[i]->ids[0]->kind,
				    strlen(disks[i]->ids[0]->kind));
			xasprintf(cause, "disk %s%s%s%s is not one of VM %s's "
			    "EVE volumes", dev_i,
			    disks[i]->n_ids > 0 ? " (" : "", dev_j,
			    disks[i]->n_ids > 0 ? ")" : " (no identifiers)",
			    vm->name);
			rc = EVG_NOT_FOUND;
			goto fail;
		}
		/* One volume per disk so far: vols[j] is disks[j]'s. */
		for (j = 0; j < *nvols; j++)
			if (strcasecmp((*vols)[j], vol->uuid) == 0)
				break;
		if (j < *nvols) {
			/* Device names are the guest's: escaped. */
			log_escape(dev_i, sizeof dev_i, disks[i]->device,
			    strlen(disks[i]->device));
			log_escape(dev_j, sizeof dev_j, disks[j]->device,
			    strlen(disks[j]->device));
			xasprintf(cause, "disk %s: given twice (%s and %s are "
			    "both volume '%s')", dev_i, dev_j, dev_i,
			    vol->name);
			rc = EVG_INVALID_ARGUMENT;
			goto fail;
		}
		*vols = xreallocarray(*vols, *nvols + 1, sizeof **vols);
		(*vols)[(*nvols)++] = xstrdup(vol->uuid);
	}
	return (EVG_OK);
fail:
	for (j = 0; j < *nvols; j++)
		free((*vols)[j]);
	free(*vols);
	*vols = NULL;
	*nvols = 0;
	return (rc);
}

/*
 * An owned copy of a disk reference, rebuilt from its known fields (never
 * through the wire format: nothing a guest sends may fail a copy).  Freed
 * with evg__disk_ref__free_unpacked(), like an unpacked one.
 */
Evg__DiskRef *
wf_copy_disk(const Evg__DiskRef *d)
{
	Evg__DiskRef	*c;
	size_t		 i;

	c = xmalloc(sizeof *c);
	evg__disk_ref__init(c);
	c->device = xstrdup(d->device != NULL ? d->device : "");
	c->ids = xcalloc(d->n_ids != 0 ? d->n_ids : 1, sizeof *c->ids);
	for (i = 0; i < d->n_ids; i++) {
		c->ids[i] = xmalloc(sizeof *c->ids[i]);
		evg__disk_id__init(c->ids[i]);
		c->ids[i]->kind = xstrdup(d->ids[i]->kind != NULL ?
		    d->ids[i]->kind : "");
		c->ids[i]->value = xstrdup(d->ids[i]->value != NULL ?
		    d->ids[i]->value : "");
	}
	c->n_ids = d->n_ids;
	return (c);
}

/* Disk references for a volume from its registered identifiers. */
Evg__DiskRef *
wf_volume_disk(const struct reg_volume *vol)
{
	Evg__DiskRef	 d = EVG__DISK_REF__INIT, *c;
	Evg__DiskId	*ids, **idp;
	size_t		 i;

	ids = xcalloc(vol->ndisks, sizeof *ids);
	idp = xcalloc(vol->ndisks, sizeof *idp);
	for (i = 0; i < vol->ndisks; i++) {
		evg__disk_id__init(&ids[i]);
		ids[i].kind = vol->disks[i].kind;
		ids[i].value = vol->disks[i].value;
		idp[i] = &ids[i];
	}
	d.device = (char *)"";
	d.ids = idp;
	d.n_ids = vol->ndisks;
	c = wf_copy_disk(&d);
	free(ids);
	free(idp);
	return (c);
}
