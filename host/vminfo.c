/* Registry record <-> protobuf VmInfo conversion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "vminfo.h"
#include "xmalloc.h"

/* Copy a protobuf string; empty means absent (NULL). */
static char *
vminfo_opt(const char *s)
{
	return (s != NULL && *s != '\0' ? xstrdup(s) : NULL);
}

/* Copy a protobuf string that must be present (empty stays empty). */
static char *
vminfo_str(const char *s)
{
	return (xstrdup(s != NULL ? s : ""));
}

/* Copy at most a UUID's length, so validation sees a bad value. */
static void
vminfo_uuid(char *out, const char *s)
{
	snprintf(out, UUID_STR_LEN + 1, "%s", s != NULL ? s : "");
}

/* Replace vm's volumes by the message's. */
static void
vminfo_volumes(struct reg_vm *vm, const Evg__VmInfo *m)
{
	struct reg_volume	*vol;
	const Evg__Volume	*mv;
	size_t			 i, j;

	reg_vm_clear_volumes(vm);
	vm->nvolumes = m->n_volumes;
	vm->volumes = xcalloc(m->n_volumes, sizeof *vm->volumes);
	for (i = 0; i < m->n_volumes; i++) {
		mv = m->volumes[i];
		vol = &vm->volumes[i];
		vminfo_uuid(vol->uuid, mv->uuid);
		if (mv->uuid != NULL && strlen(mv->uuid) > UUID_STR_LEN)
			vol->uuid[0] = '?';
		vol->name = vminfo_str(mv->name);
		vol->backend = vminfo_str(mv->backend);
		vol->locator = vminfo_str(mv->locator);
		vol->node = vminfo_opt(mv->node);
		vol->ndisks = mv->n_disks;
		vol->disks = xcalloc(mv->n_disks, sizeof *vol->disks);
		for (j = 0; j < mv->n_disks; j++) {
			vol->disks[j].kind = vminfo_str(mv->disks[j]->kind);
			vol->disks[j].value = vminfo_str(mv->disks[j]->value);
			if (strcmp(vol->disks[j].kind, "pcipath") == 0)
				registry_pcipath_canon(vol->disks[j].value);
		}
	}
}

/* Build a record from a message; the record is not yet checked. */
struct reg_vm *
vminfo_to_reg(const Evg__VmInfo *m)
{
	struct reg_vm	*vm;

	vm = xcalloc(1, sizeof *vm);
	vminfo_uuid(vm->uuid, m->uuid);
	if (m->uuid != NULL && strlen(m->uuid) > UUID_STR_LEN)
		vm->uuid[0] = '?';
	vm->name = vminfo_str(m->name);
	vm->cid = m->cid;
	vm->hybrid = vminfo_opt(m->hybrid_socket);
	vm->qmp = vminfo_opt(m->qmp);
	vm->qmp_agent = vminfo_opt(m->qmp_agent);
	vm->snapshot_budget = m->snapshot_budget;
	vm->state = VM_RUNNING;
	if (m->state != NULL && *m->state != '\0' &&
	    vm_state_parse(m->state, &vm->state) != 0)
		vm->state = (enum vm_state)-1;
	vminfo_volumes(vm, m);
	return (vm);
}

/* Replace a field of vm by the message's; 0, or -1 if unknown. */
static int
vminfo_field(struct reg_vm *vm, const Evg__VmInfo *m, const char *field)
{
	char	**sp;
	char	 *v;

	if (strcmp(field, "name") == 0) {
		sp = &vm->name;
		v = vminfo_str(m->name);
	} else if (strcmp(field, "hybrid_socket") == 0) {
		sp = &vm->hybrid;
		v = vminfo_opt(m->hybrid_socket);
	} else if (strcmp(field, "qmp") == 0) {
		sp = &vm->qmp;
		v = vminfo_opt(m->qmp);
	} else if (strcmp(field, "qmp_agent") == 0) {
		sp = &vm->qmp_agent;
		v = vminfo_opt(m->qmp_agent);
	} else {
		if (strcmp(field, "cid") == 0)
			vm->cid = m->cid;
		else if (strcmp(field, "snapshot_budget") == 0)
			vm->snapshot_budget = m->snapshot_budget;
		else if (strcmp(field, "volumes") == 0)
			vminfo_volumes(vm, m);
		else
			return (-1);
		return (0);
	}
	free(*sp);
	*sp = v;
	return (0);
}

/* Apply the named fields of a message; see vminfo.h. */
int
vminfo_apply(struct reg_vm *vm, const Evg__VmInfo *m, char *const *fields,
    size_t n, char **cause)
{
	size_t	i;

	if (n == 0) {
		xasprintf(cause, "fields: nothing to change (name, cid, "
		    "hybrid_socket, qmp, qmp_agent, snapshot_budget or "
		    "volumes)");
		return (EVG_INVALID_ARGUMENT);
	}
	for (i = 0; i < n; i++) {
		if (vminfo_field(vm, m, fields[i]) != 0) {
			xasprintf(cause, "fields[%zu]: '%.40s' is not a field "
			    "of a VM that can change (name, cid, hybrid_socket, "
			    "qmp, qmp_agent, snapshot_budget or volumes)", i,
			    fields[i]);
			return (EVG_INVALID_ARGUMENT);
		}
	}
	return (EVG_OK);
}

/* Build a message from a record. */
Evg__VmInfo *
vminfo_from_reg(const struct reg_vm *vm, enum vminfo_audience who)
{
	Evg__VmInfo		*m;
	Evg__Volume		*mv;
	const struct reg_volume	*vol;
	size_t			 i, j;

	m = xmalloc(sizeof *m);
	evg__vm_info__init(m);
	m->uuid = xstrdup(vm->uuid);
	m->name = xstrdup(vm->name);
	m->cid = vm->cid;
	m->state = xstrdup(vm_state_name(vm->state));
	if (who == VMINFO_CONTROL) {
		m->hybrid_socket = xstrdup(vm->hybrid != NULL ? vm->hybrid :
		    "");
		m->qmp = xstrdup(vm->qmp != NULL ? vm->qmp : "");
		m->qmp_agent = xstrdup(vm->qmp_agent != NULL ?
		    vm->qmp_agent : "");
		m->snapshot_budget = vm->snapshot_budget;
	}
	m->n_volumes = vm->nvolumes;
	m->volumes = xcalloc(vm->nvolumes, sizeof *m->volumes);
	for (i = 0; i < vm->nvolumes; i++) {
		vol = &vm->volumes[i];
		mv = m->volumes[i] = xmalloc(sizeof *mv);
		evg__volume__init(mv);
		mv->uuid = xstrdup(vol->uuid);
		mv->name = xstrdup(vol->name);
		mv->backend = xstrdup(vol->backend);
		if (who == VMINFO_CONTROL) {
			mv->locator = xstrdup(vol->locator);
			mv->node = xstrdup(vol->node != NULL ? vol->node : "");
		}
		mv->n_disks = vol->ndisks;
		mv->disks = xcalloc(vol->ndisks, sizeof *mv->disks);
		for (j = 0; j < vol->ndisks; j++) {
			mv->disks[j] = xmalloc(sizeof *mv->disks[j]);
			evg__disk_id__init(mv->disks[j]);
			mv->disks[j]->kind = xstrdup(vol->disks[j].kind);
			mv->disks[j]->value = xstrdup(vol->disks[j].value);
		}
	}
	return (m);
}

/* Free a message from vminfo_from_reg(). */
void
vminfo_free(Evg__VmInfo *m)
{
	Evg__Volume	*mv;
	size_t		 i, j;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_volumes; i++) {
		mv = m->volumes[i];
		for (j = 0; j < mv->n_disks; j++) {
			free(mv->disks[j]->kind);
			free(mv->disks[j]->value);
			free(mv->disks[j]);
		}
		free(mv->disks);
		free(mv->uuid);
		free(mv->name);
		free(mv->backend);
		if (mv->locator != protobuf_c_empty_string)
			free(mv->locator);
		if (mv->node != protobuf_c_empty_string)
			free(mv->node);
		free(mv);
	}
	free(m->volumes);
	free(m->uuid);
	free(m->name);
	free(m->state);
	if (m->hybrid_socket != protobuf_c_empty_string)
		free(m->hybrid_socket);
	if (m->qmp != protobuf_c_empty_string)
		free(m->qmp);
	if (m->qmp_agent != protobuf_c_empty_string)
		free(m->qmp_agent);
	free(m);
}
