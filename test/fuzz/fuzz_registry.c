/*
 * fuzz_registry: the registry loader (host/registry.c,
 * registry_load_buf()) on the text of a registry.json.
 *
 * Proves: a damaged or hostile state file makes the host refuse it with a
 * reason, never crash, leak or load a record registry_add() would refuse
 * (wrong JSON types, huge or negative numbers, nulls, arrays for objects).
 *
 * Oracle: a file that loads saves (registry_text()) to text that loads
 * again, and saving that gives the same text (a fixpoint); a file that
 * does not load leaves the registry empty with a cause naming the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "registry.h"
#include "status.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry	*reg, *again;
	struct reg_vm	*vm;
	char		*cause = NULL, *text, *text2;

	reg = registry_create(NULL);
	if (registry_load_buf(reg, (const char *)data, size, "registry.json",
	    &cause) != 0) {
		FUZZ_CHECK(cause != NULL &&
		    strncmp(cause, "registry.json: ", 15) == 0);
		FUZZ_CHECK(reg->count == 0 && TAILQ_EMPTY(&reg->vms));
		free(cause);
		registry_free(reg);
		return (0);
	}
	TAILQ_FOREACH(vm, &reg->vms, entry) {
		FUZZ_CHECK(registry_check(vm, &cause) == EVG_OK);
		FUZZ_CHECK(registry_find(reg, vm->uuid) == vm);
		FUZZ_CHECK(vm->cid == 0 || registry_find_cid(reg, vm->cid) ==
		    vm);
	}

	text = registry_text(reg);
	again = registry_create(NULL);
	if (registry_load_buf(again, text, strlen(text), "saved", &cause) != 0)
		fuzz_fail("a saved registry does not load: %s", cause);
	FUZZ_CHECK(again->count == reg->count);
	text2 = registry_text(again);
	if (strcmp(text, text2) != 0)
		fuzz_fail("saving a reloaded registry changed it:\n%s\n---\n%s",
		    text, text2);
	free(text2);
	free(text);
	registry_free(again);
	registry_free(reg);
	return (0);
}
