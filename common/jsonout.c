/* JSON output helpers for the command-line tools. */
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
