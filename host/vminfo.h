/*
 * Conversion between registry records and protobuf VmInfo messages.
 * vminfo_to_reg() returns a new record the caller owns (reg_vm_free());
 * vminfo_from_reg() returns a message the caller frees with vminfo_free().
 */
#ifndef EVG_VMINFO_H
#define EVG_VMINFO_H

#include "evg.pb-c.h"
#include "registry.h"

/* Who the message is for: guests never see host paths. */
enum vminfo_audience {
	VMINFO_CONTROL,
	VMINFO_GUEST,
};

struct reg_vm	*vminfo_to_reg(const Evg__VmInfo *);
/*
 * Replace in vm (a record the caller owns) the fields of the message
 * named in fields (VmUpdateRequest's names).  EVG_OK, or
 * EVG_INVALID_ARGUMENT with *cause naming an unknown field or an empty
 * list; the record is not checked here.
 */
int		 vminfo_apply(struct reg_vm *, const Evg__VmInfo *,
		    char *const *, size_t, char **);
Evg__VmInfo	*vminfo_from_reg(const struct reg_vm *, enum vminfo_audience);
void		 vminfo_free(Evg__VmInfo *);

#endif
