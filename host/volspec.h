/*
 * Parsing of eve-guest-hostctl's --volume argument:
 *   uuid=UUID,name=NAME,backend=qcow2|zfs,locator=PATH-OR-DATASET,
 *   disk=KIND:VALUE[,disk=KIND:VALUE...][,node=QMP-NODE]
 * Values may not contain commas.  The result is an Evg__Volume the caller
 * frees with volspec_free().  Field contents (UUID shape, backend names:
 * the rows of backend_kinds[], backend_kind.h) are checked by the host's
 * registry, which names the field; here only the syntax is checked.
 */
#ifndef EVG_VOLSPEC_H
#define EVG_VOLSPEC_H

#include "evg.pb-c.h"

/* Parse; NULL with *cause (caller frees) naming what is wrong. */
Evg__Volume	*volspec_parse(const char *, char **);
void		 volspec_free(Evg__Volume *);

#endif
