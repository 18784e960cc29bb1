/*
 * JSON renderings shared by the CLIs (json-c).  Each function returns a new
 * json_object the caller releases with json_object_put().
 */
#ifndef EVG_JSONOUT_H
#define EVG_JSONOUT_H

#include <stdio.h>

#include <json-c/json.h>

#include "evg.pb-c.h"

/* A VmInfo; host-only fields appear only when set. */
json_object	*jsonout_vm(const Evg__VmInfo *);
/* {"error": {"code": NAME, "message": MSG}} */
json_object	*jsonout_error(const char *, const char *);
/* Print a document on f, newline-terminated, and release it. */
void		 jsonout_print(FILE *, json_object *);

#endif
