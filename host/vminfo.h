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
Evg__VmInfo	*vminfo_from_reg(const struct reg_vm *, enum vminfo_audience);
void		 vminfo_free(Evg__VmInfo *);

#endif
