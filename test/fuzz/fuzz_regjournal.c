/*
 * fuzz_regjournal: the registry journal's replay (host/regjournal.c,
 * through registry_load()) on the text of a registry.json.journal, with
 * no registry.json beside it.
 *
 * Proves: a damaged or hostile journal makes the host refuse it with a
 * reason naming the file and line, or load records that pass
 * registry_check() and clash with no other; never a crash or a leak.
 *
 * Oracle: a journal that loads leaves a registry whose every record is
 * valid, found by its UUID and CID, and was written whole (the journal
 * is empty and a second load gives the same text); one that does not
 * load leaves the registry empty with a cause naming the journal.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "registry.h"
#include "status.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[64], path[128], jpath[160];

/* Write size bytes of data as the journal, and no registry file. */
static void
fuzz_setup(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/evg-fuzz-regj-%ld",
		    (long)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof path, "%s/registry.json", dir);
		snprintf(jpath, sizeof jpath, "%s.journal", path);
	}
	unlink(path);
	fuzz_put_file(jpath, data, size);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry	*reg, *again;
	struct reg_vm	*vm;
	struct stat	 sb;
	char		*cause = NULL, *text, *text2;

	fuzz_setup(data, size);
	reg = registry_create(path);
	if (registry_load(reg, &cause) != 0) {
		FUZZ_CHECK(cause != NULL && strstr(cause, ".journal") != NULL);
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
	if (reg->journal.lines == 0 && reg->count > 0) {
		/* Replayed: written whole, the journal emptied. */
		FUZZ_CHECK(stat(jpath, &sb) == 0 && sb.st_size == 0);
	}
	text = registry_text(reg);
	registry_free(reg);
	again = registry_create(path);
	FUZZ_CHECK(registry_load(again, &cause) == 0);
	text2 = registry_text(again);
	FUZZ_CHECK(strcmp(text, text2) == 0);
	free(text);
	free(text2);
	registry_free(again);
	return (0);
}
