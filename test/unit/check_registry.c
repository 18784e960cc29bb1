/* Unit tests for host/registry.c: add/remove/find, validation, persistence. */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_kind.h"
#include "registry.h"
#include "regjournal.h"
#include "suites.h"
#include "status.h"
#include "vminfo.h"
#include "xmalloc.h"

#define VM_UUID		"11111111-2222-3333-4444-555555555555"
#define VOL_UUID	"aaaaaaaa-2222-3333-4444-555555555555"

/* A valid record: CID cid, hybrid socket, one qcow2 volume. */
static struct reg_vm *
make_vm(const char *uuid, const char *vol_uuid, unsigned int cid)
{
	struct reg_vm	*vm;

	vm = xcalloc(1, sizeof *vm);
	snprintf(vm->uuid, sizeof vm->uuid, "%s", uuid);
	vm->name = xstrdup("web-01");
	vm->cid = cid;
	vm->state = VM_RUNNING;
	vm->nvolumes = 1;
	vm->volumes = xcalloc(1, sizeof *vm->volumes);
	snprintf(vm->volumes[0].uuid, sizeof vm->volumes[0].uuid, "%s",
	    vol_uuid);
	vm->volumes[0].name = xstrdup("data");
	vm->volumes[0].backend = xstrdup("qcow2");
	vm->volumes[0].locator = xstrdup("/persist/vault/volumes/data.qcow2");
	vm->volumes[0].ndisks = 1;
	vm->volumes[0].disks = xcalloc(1, sizeof *vm->volumes[0].disks);
	vm->volumes[0].disks[0].kind = xstrdup("serial");
	vm->volumes[0].disks[0].value = xstrdup("ABC123");
	return (vm);
}

/* Replace a string field. */
static void
set(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? xstrdup(value) : NULL;
}

/* Check vm and expect INVALID_ARGUMENT with a cause starting with field. */
static void
expect_invalid(struct reg_vm *vm, const char *field)
{
	char	*cause = NULL;
	int	 rc;

	rc = registry_check(vm, &cause);
	ck_assert_int_eq(rc, EVG_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strncmp(cause, field, strlen(field)) == 0,
	    "cause '%s' does not name '%s'", cause, field);
	free(cause);
	reg_vm_free(vm);
}

/* A complete, valid record passes the check. */
START_TEST(test_valid_record)
{
	struct reg_vm	*vm = make_vm(VM_UUID, VOL_UUID, 5);
	char		*cause = NULL;

	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	ck_assert_ptr_null(cause);
	reg_vm_free(vm);
}
END_TEST

/* Every invalid field is refused and named. */
START_TEST(test_invalid_records)
{
	struct reg_vm	*vm;
	char		 longname[200];

	vm = make_vm("not-a-uuid", VOL_UUID, 5);
	expect_invalid(vm, "uuid:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->name, "");
	expect_invalid(vm, "name:");

	memset(longname, 'x', 129);
	longname[129] = '\0';
	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->name, longname);
	expect_invalid(vm, "name:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->name, "bad\nname");
	expect_invalid(vm, "name:");

	vm = make_vm(VM_UUID, VOL_UUID, 1);
	expect_invalid(vm, "cid: 1 is reserved");
	vm = make_vm(VM_UUID, VOL_UUID, 2);
	expect_invalid(vm, "cid: 2 is reserved");
	/* VMADDR_CID_ANY is no guest's. */
	vm = make_vm(VM_UUID, VOL_UUID, 4294967295U);
	expect_invalid(vm, "cid: 4294967295 is out of range (guest CIDs are "
	    "3..4294967294)");
	vm = make_vm(VM_UUID, VOL_UUID, 0);
	expect_invalid(vm, "cid: a VM that is not "
	    "stopped needs");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->hybrid, "relative/path");
	expect_invalid(vm, "hybrid_socket:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->qmp, "qmp.sock");
	expect_invalid(vm, "qmp:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	vm->state = (enum vm_state)7;
	expect_invalid(vm, "state:");

	vm = make_vm(VM_UUID, "bogus", 5);
	expect_invalid(vm, "volume[0].uuid:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, "lvm");
	expect_invalid(vm, "volume[0].backend: unknown backend 'lvm'");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].locator, "data.qcow2");
	expect_invalid(vm, "volume[0].locator:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, "zfs");
	set(&vm->volumes[0].locator, "/persist/vol");
	expect_invalid(vm, "volume[0].locator:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].node, "1bad");
	expect_invalid(vm, "volume[0].node:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].disks[0].kind, "label");
	expect_invalid(vm, "volume[0].disk[0].kind:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].disks[0].kind, "pci");
	set(&vm->volumes[0].disks[0].value, "00:04.0");
	expect_invalid(vm, "volume[0].disk[0].value:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].disks[0].value, "has space");
	expect_invalid(vm, "volume[0].disk[0].value:");

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	vm->volumes[0].ndisks = 0;
	free(vm->volumes[0].disks[0].kind);
	free(vm->volumes[0].disks[0].value);
	expect_invalid(vm, "volume[0].disk:");
}
END_TEST

/* Check vm and expect INVALID_ARGUMENT with exactly the cause want. */
static void
expect_cause(struct reg_vm *vm, const char *want)
{
	char	*cause = NULL;

	ck_assert_int_eq(registry_check(vm, &cause), EVG_INVALID_ARGUMENT);
	ck_assert_str_eq(cause, want);
	free(cause);
	reg_vm_free(vm);
}

/*
 * The backend checks read backend_kinds[] and say what they said when
 * the names were spelt out in registry.c: the list of backends, each
 * one's locator rule, node= for qcow2 only.
 */
START_TEST(test_backend_table)
{
	struct reg_vm	*vm;
	char		 buf[64];

	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, "lvm");
	expect_cause(vm, "volume[0].backend: unknown backend 'lvm' "
	    "(expected qcow2 or zfs)");
	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, NULL);
	expect_cause(vm, "volume[0].backend: unknown backend '' "
	    "(expected qcow2 or zfs)");
	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].locator, "data.qcow2");
	expect_cause(vm, "volume[0].locator: 'data.qcow2' is not an absolute "
	    "qcow2 image path");
	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, "zfs");
	set(&vm->volumes[0].locator, NULL);
	expect_cause(vm, "volume[0].locator: '' is not a ZFS dataset name");
	vm = make_vm(VM_UUID, VOL_UUID, 5);
	set(&vm->volumes[0].backend, "zfs");
	set(&vm->volumes[0].locator, "persist/vol");
	set(&vm->volumes[0].node, "drive0");
	expect_cause(vm, "volume[0].node: 'drive0' is not a QEMU node name (a "
	    "letter then up to 30 of [A-Za-z0-9_.-]; qcow2 only)");

	ck_assert_ptr_nonnull(backend_kind_find("qcow2"));
	ck_assert_ptr_null(backend_kind_find("QCOW2"));
	ck_assert_ptr_null(backend_kind_find(NULL));
	ck_assert_str_eq(backend_kind_names(buf, sizeof buf, "|", "|", 0),
	    "qcow2|zfs");
	ck_assert_str_eq(backend_kind_names(buf, sizeof buf, ", ", " or ", 1),
	    "qcow2");
	ck_assert_str_eq(backend_kind_names(buf, 8, ", ", " or ", 0),
	    "qcow2 o");
}
END_TEST

/* Well-formed ZFS, PCI, WWN and backing identifiers are accepted. */
START_TEST(test_valid_variants)
{
	struct reg_vm	*vm = make_vm(VM_UUID, VOL_UUID, 9000);
	char		*cause = NULL;

	/* EVE's CID counter passes 9000 on a long-running node. */
	vm->cid = 9001;
	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	vm->cid = 4294967294U;
	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	vm->cid = 9000;

	set(&vm->volumes[0].backend, "zfs");
	set(&vm->volumes[0].locator, "persist/vault/volumes/" VOL_UUID ".1");
	set(&vm->volumes[0].disks[0].kind, "wwn");
	set(&vm->volumes[0].disks[0].value, "naa.6001405abcdef012");
	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	set(&vm->volumes[0].disks[0].kind, "pci");
	set(&vm->volumes[0].disks[0].value, "0000:02:00.0");
	set(&vm->hybrid, "/run/vm/vsock.sock");
	vm->cid = 3;
	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	reg_vm_free(vm);
}
END_TEST

/*
 * pcipath disk identifiers: EVE's slot chains, an optional domain; bad
 * shapes refused naming the field and the form; values made canonical.
 */
START_TEST(test_pcipath)
{
	static const char	*good[] = { "04.0/00.0", "0000:04.0/00.0",
				    "0001:1F.7", "05.0", "10000:0e.0/1d.0/00.0",
				    "01.0/02.0/03.0/04.0/05.0/06.0/07.0/08.0" };
	static const char	*bad[] = { "04.0/", "/04.0", "4.0/00.0",
				    "04.8/00.0", "04:0", "00:04.0/00.0",
				    "000:04.0", "0000:", "04.0//00.0",
				    "01.0/02.0/03.0/04.0/05.0/06.0/07.0/08.0/09.0",
				    "04.0/00.0x" };
	struct reg_vm		*vm;
	char			*cause = NULL, canon[32];
	size_t			 i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		vm = make_vm(VM_UUID, VOL_UUID, 5);
		set(&vm->volumes[0].disks[0].kind, "pcipath");
		set(&vm->volumes[0].disks[0].value, good[i]);
		ck_assert_msg(registry_check(vm, &cause) == EVG_OK, "%s: %s",
		    good[i], cause);
		reg_vm_free(vm);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		vm = make_vm(VM_UUID, VOL_UUID, 5);
		set(&vm->volumes[0].disks[0].kind, "pcipath");
		set(&vm->volumes[0].disks[0].value, bad[i]);
		ck_assert_msg(registry_check(vm, &cause) ==
		    EVG_INVALID_ARGUMENT, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(cause,
		    "volume[0].disk[0].value: bad pcipath"));
		ck_assert_ptr_nonnull(strstr(cause, "e.g. 04.0/00.0"));
		free(cause);
		cause = NULL;
		reg_vm_free(vm);
	}
	snprintf(canon, sizeof canon, "0000:04.0/1F.0");
	registry_pcipath_canon(canon);
	ck_assert_str_eq(canon, "04.0/1f.0");
	snprintf(canon, sizeof canon, "0001:04.0");
	registry_pcipath_canon(canon);
	ck_assert_str_eq(canon, "0001:04.0");
}
END_TEST

/* add, find by UUID and CID, remove, in memory. */
START_TEST(test_add_find_remove)
{
	struct registry	*reg = registry_create(NULL);
	struct reg_vm	*a, *b;
	char		*cause = NULL;

	a = make_vm(VM_UUID, VOL_UUID, 5);
	b = make_vm("11111111-2222-3333-4444-666666666666",
	    "aaaaaaaa-2222-3333-4444-666666666666", 6);
	ck_assert_int_eq(registry_add(reg, a, &cause), EVG_OK);
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_OK);
	ck_assert_uint_eq(reg->count, 2);
	ck_assert_ptr_eq(registry_find(reg, VM_UUID), a);
	ck_assert_ptr_eq(registry_find(reg,
	    "11111111-2222-3333-4444-555555555555"), a);
	ck_assert_ptr_eq(registry_find_cid(reg, 6), b);
	ck_assert_ptr_null(registry_find_cid(reg, 7));
	ck_assert_ptr_null(registry_find_cid(reg, 0));
	ck_assert_int_eq(registry_remove(reg, a, &cause), EVG_OK);
	reg_vm_free(a);
	ck_assert_ptr_null(registry_find(reg, VM_UUID));
	ck_assert_ptr_null(registry_find_cid(reg, 5));
	ck_assert_uint_eq(reg->count, 1);
	registry_free(reg);
}
END_TEST

/*
 * CID 1 (vsock loopback) is refused by default and accepted, by check and
 * by add, only while registry_allow_loopback() is on; 0 and 2 never are.
 */
START_TEST(test_loopback_cid)
{
	struct registry	*reg = registry_create(NULL);
	struct reg_vm	*vm;
	char		*cause = NULL;

	expect_invalid(make_vm(VM_UUID, VOL_UUID, CID_LOOPBACK), "cid: 1 is "
	    "reserved");
	registry_allow_loopback(1);
	expect_invalid(make_vm(VM_UUID, VOL_UUID, 2), "cid: 2 is reserved");
	expect_invalid(make_vm(VM_UUID, VOL_UUID, 0), "cid: a VM that is not "
	    "stopped needs");
	vm = make_vm(VM_UUID, VOL_UUID, CID_LOOPBACK);
	ck_assert_int_eq(registry_add(reg, vm, &cause), EVG_OK);
	ck_assert_ptr_eq(registry_find_cid(reg, CID_LOOPBACK), vm);
	registry_allow_loopback(0);
	vm = make_vm("11111111-2222-3333-4444-666666666666",
	    "aaaaaaaa-2222-3333-4444-666666666666", CID_LOOPBACK);
	ck_assert_int_eq(registry_add(reg, vm, &cause), EVG_INVALID_ARGUMENT);
	free(cause);
	reg_vm_free(vm);
	registry_free(reg);
}
END_TEST

/* Duplicate UUID, CID, hybrid socket or volume UUID is ALREADY_EXISTS. */
START_TEST(test_duplicates)
{
	struct registry	*reg = registry_create(NULL);
	struct reg_vm	*a, *b;
	char		*cause = NULL;

	a = make_vm(VM_UUID, VOL_UUID, 5);
	set(&a->hybrid, "/run/a.sock");
	ck_assert_int_eq(registry_add(reg, a, &cause), EVG_OK);

	b = make_vm(VM_UUID, "aaaaaaaa-2222-3333-4444-777777777777", 6);
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_ALREADY_EXISTS);
	ck_assert_ptr_nonnull(strstr(cause, "uuid:"));
	free(cause);
	reg_vm_free(b);

	b = make_vm("11111111-2222-3333-4444-777777777777",
	    "aaaaaaaa-2222-3333-4444-777777777777", 5);
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_ALREADY_EXISTS);
	ck_assert_ptr_nonnull(strstr(cause, "CID 5 already belongs"));
	free(cause);
	reg_vm_free(b);

	b = make_vm("11111111-2222-3333-4444-777777777777",
	    "aaaaaaaa-2222-3333-4444-777777777777", 6);
	set(&b->hybrid, "/run/a.sock");
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_ALREADY_EXISTS);
	ck_assert_ptr_nonnull(strstr(cause, "hybrid_socket:"));
	free(cause);
	reg_vm_free(b);

	b = make_vm("11111111-2222-3333-4444-777777777777", VOL_UUID, 6);
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_ALREADY_EXISTS);
	ck_assert_ptr_nonnull(strstr(cause, "volume[0].uuid:"));
	free(cause);
	reg_vm_free(b);

	ck_assert_uint_eq(reg->count, 1);
	registry_free(reg);
}
END_TEST

/* Records written by one registry are read back whole by the next. */
START_TEST(test_persistence)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256];
	struct registry	*reg;
	struct reg_vm	*a, *b, *got;
	struct stat	 sb;
	char		*cause = NULL, jpath[300];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/registry.json", dir);
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), 0);
	ck_assert_uint_eq(reg->count, 0);
	a = make_vm(VM_UUID, VOL_UUID, 5);
	set(&a->qmp, "/run/hypervisor/kvm/web/qmp");
	set(&a->volumes[0].node, "drive-data");
	b = make_vm("11111111-2222-3333-4444-666666666666",
	    "aaaaaaaa-2222-3333-4444-666666666666", 0);
	set(&b->hybrid, "/run/b.sock");
	b->state = VM_STOPPED;
	ck_assert_int_eq(registry_add(reg, a, &cause), EVG_OK);
	ck_assert_int_eq(registry_add(reg, b, &cause), EVG_OK);
	/* Two changes: two journal lines, the file not rewritten yet. */
	ck_assert_int_eq(stat(path, &sb), -1);
	ck_assert_uint_eq(reg->journal.lines, 2);
	snprintf(jpath, sizeof jpath, "%s.journal", path);
	ck_assert_int_eq(stat(jpath, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	registry_free(reg);

	/* The journal is replayed, then the file written whole. */
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), 0);
	ck_assert_uint_eq(reg->count, 2);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(jpath, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	got = registry_find(reg, VM_UUID);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->name, "web-01");
	ck_assert_uint_eq(got->cid, 5);
	ck_assert_str_eq(got->qmp, "/run/hypervisor/kvm/web/qmp");
	ck_assert_str_eq(got->volumes[0].node, "drive-data");
	ck_assert_str_eq(got->volumes[0].disks[0].value, "ABC123");
	got = registry_find(reg, "11111111-2222-3333-4444-666666666666");
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->state, VM_STOPPED);
	ck_assert_str_eq(got->hybrid, "/run/b.sock");
	ck_assert_int_eq(registry_set_state(reg, got, VM_RUNNING, &cause),
	    EVG_OK);
	a = registry_find(reg, VM_UUID);
	ck_assert_int_eq(registry_remove(reg, a, &cause), EVG_OK);
	reg_vm_free(a);
	registry_free(reg);

	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), 0);
	ck_assert_uint_eq(reg->count, 1);
	ck_assert_int_eq(TAILQ_FIRST(&reg->vms)->state, VM_RUNNING);
	registry_free(reg);
	unlink(path);
	unlink(jpath);
	rmdir(dir);
}
END_TEST

/* A corrupt or tampered file is refused with a reason, not half-loaded. */
START_TEST(test_bad_file)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256];
	struct registry	*reg;
	FILE		*f;
	char		*cause = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/registry.json", dir);
	f = fopen(path, "w");
	fputs("{\"vms\": [ {\"uuid\": \"x\"", f);
	fclose(f);
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "bad JSON"));
	free(cause);
	ck_assert_uint_eq(reg->count, 0);
	registry_free(reg);

	f = fopen(path, "w");
	fputs("{\"vms\": [ {\"uuid\": \"" VM_UUID "\", \"name\": \"a\", "
	    "\"cid\": 2, \"state\": \"running\", \"volumes\": []} ]}", f);
	fclose(f);
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "vms[0]: cid: 2 is reserved"));
	free(cause);
	registry_free(reg);
	unlink(path);
	rmdir(dir);
}
END_TEST

/*
 * registry_load_buf() reads registry file text with no file involved, and
 * registry_text() writes what it loaded back in the same form; a bad text
 * is refused naming the name given, the registry left empty.
 */
START_TEST(test_load_buf)
{
	static const char	 text[] = "{\"format\": 1, \"vms\": "
	    "[{\"uuid\": \"" VM_UUID "\", \"name\": \"web-01\", \"cid\": 5, "
	    "\"state\": \"stopped\", \"volumes\": []}]}";
	struct registry		*reg, *again;
	char			*cause = NULL, *saved, *saved2;

	reg = registry_create(NULL);
	ck_assert_int_eq(registry_load_buf(reg, text, strlen(text), "r.json",
	    &cause), 0);
	ck_assert_uint_eq(reg->count, 1);
	ck_assert_uint_eq(registry_find(reg, VM_UUID)->cid, 5);
	saved = registry_text(reg);
	again = registry_create(NULL);
	ck_assert_int_eq(registry_load_buf(again, saved, strlen(saved),
	    "saved", &cause), 0);
	saved2 = registry_text(again);
	ck_assert_str_eq(saved, saved2);
	free(saved2);
	free(saved);
	registry_free(again);
	registry_free(reg);

	reg = registry_create(NULL);
	ck_assert_int_eq(registry_load_buf(reg, text, 20, "r.json", &cause),
	    -1);
	ck_assert_str_eq(cause, "r.json: not a registry file (bad JSON)");
	free(cause);
	ck_assert_uint_eq(reg->count, 0);
	registry_free(reg);
}
END_TEST

/* A save that cannot be written leaves the registry unchanged. */
START_TEST(test_save_failure_rolls_back)
{
	struct registry	*reg = registry_create("/nonexistent-dir/x/r.json");
	struct reg_vm	*a = make_vm(VM_UUID, VOL_UUID, 5);
	char		*cause = NULL;

	ck_assert_int_eq(registry_add(reg, a, &cause), EVG_INTERNAL);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	ck_assert_uint_eq(reg->count, 0);
	ck_assert_ptr_null(registry_find(reg, VM_UUID));
	reg_vm_free(a);
	registry_free(reg);
}
END_TEST

#define VM_B		"11111111-2222-3333-4444-666666666666"
#define VOL_B		"aaaaaaaa-2222-3333-4444-666666666666"
#define VOL_C		"aaaaaaaa-2222-3333-4444-777777777777"

/* A registry in a fresh temp dir (dir filled in) with A (CID 5) and B. */
static struct registry *
update_world(char *dir, char *path, size_t len)
{
	struct registry	*reg;
	struct reg_vm	*a, *b;
	char		*cause = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, len, "%s/registry.json", dir);
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), 0);
	a = make_vm(VM_UUID, VOL_UUID, 5);
	set(&a->hybrid, "/run/a.sock");
	set(&a->qmp, "/run/hypervisor/kvm/" VM_UUID ".1.1/qmp");
	b = make_vm(VM_B, VOL_B, 6);
	set(&b->name, "db-01");
	set(&b->hybrid, "/run/b.sock");
	ck_assert_msg(registry_add(reg, a, &cause) == EVG_OK, "%s", cause);
	ck_assert_msg(registry_add(reg, b, &cause) == EVG_OK, "%s", cause);
	return (reg);
}

/* Remove what update_world() made. */
static void
update_world_free(struct registry *reg, const char *dir, const char *path)
{
	char	*j;

	registry_free(reg);
	unlink(path);
	xasprintf(&j, "%s.journal", path);
	unlink(j);
	free(j);
	rmdir(dir);
}

/*
 * Make the next change fail to persist (the journal moved aside and a
 * directory in its place; even root cannot append to that); returns the
 * journal's path for mend_journal().
 */
static char *
break_journal(struct registry *reg, const char *path)
{
	char	*j, *aside;

	xasprintf(&j, "%s.journal", path);
	xasprintf(&aside, "%s.aside", j);
	regjournal_close(&reg->journal);
	ck_assert_int_eq(rename(j, aside), 0);
	ck_assert_int_eq(mkdir(j, 0700), 0);
	free(aside);
	return (j);
}

/* Undo break_journal(): the journal as it was; frees j. */
static void
mend_journal(char *j)
{
	char	*aside;

	xasprintf(&aside, "%s.aside", j);
	ck_assert_int_eq(rmdir(j), 0);
	ck_assert_int_eq(rename(aside, j), 0);
	free(aside);
	free(j);
}

/* A fresh registry loaded from path. */
static struct registry *
reload(const char *path)
{
	struct registry	*reg = registry_create(path);
	char		*cause = NULL;

	ck_assert_msg(registry_load(reg, &cause) == 0, "%s", cause);
	return (reg);
}

/*
 * registry_update() changes the record in place (same pointer, UUID and
 * state kept) and persists it: a reload from disk shows the new name, CID,
 * QMP paths, budget and generation-bumped locator; the old CID is free.
 */
START_TEST(test_update_applies_and_persists)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256];
	struct registry	*reg, *again;
	struct reg_vm	*a, *next, *got;
	char		*cause = NULL;

	reg = update_world(dir, path, sizeof path);
	a = registry_find(reg, VM_UUID);
	next = reg_vm_dup(a);
	set(&next->name, "web-02");
	next->cid = 9001;
	set(&next->qmp, "/run/hypervisor/kvm/" VM_UUID ".2.1/qmp");
	set(&next->qmp_agent, "/run/evg/" VM_UUID ".qmp");
	next->snapshot_budget = 10ULL * 1024 * 1024 * 1024;
	set(&next->volumes[0].locator, "/persist/vault/volumes/" VOL_UUID
	    "#2.qcow2");
	/* Neither may change through an update. */
	next->state = VM_STOPPED;
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);
	ck_assert_ptr_eq(registry_find(reg, VM_UUID), a);
	ck_assert_ptr_eq(registry_find_cid(reg, 9001), a);
	ck_assert_ptr_null(registry_find_cid(reg, 5));
	ck_assert_uint_eq(reg->count, 2);
	ck_assert_str_eq(a->name, "web-02");
	ck_assert_int_eq(a->state, VM_RUNNING);
	ck_assert_str_eq(reg_vm_monitor(a), "/run/evg/" VM_UUID ".qmp");

	again = reload(path);
	got = registry_find(again, VM_UUID);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->name, "web-02");
	ck_assert_uint_eq(got->cid, 9001);
	ck_assert_int_eq(got->state, VM_RUNNING);
	ck_assert_str_eq(got->hybrid, "/run/a.sock");
	ck_assert_str_eq(got->qmp, "/run/hypervisor/kvm/" VM_UUID ".2.1/qmp");
	ck_assert_str_eq(got->qmp_agent, "/run/evg/" VM_UUID ".qmp");
	ck_assert_uint_eq(got->snapshot_budget, 10ULL * 1024 * 1024 * 1024);
	ck_assert_uint_eq(got->nvolumes, 1);
	ck_assert_str_eq(got->volumes[0].uuid, VOL_UUID);
	ck_assert_str_eq(got->volumes[0].locator, "/persist/vault/volumes/"
	    VOL_UUID "#2.qcow2");
	ck_assert_ptr_eq(registry_find_cid(again, 9001), got);
	ck_assert_ptr_null(registry_find_cid(again, 5));
	/* The other VM is untouched. */
	ck_assert_str_eq(registry_find(again, VM_B)->name, "db-01");
	registry_free(again);

	/* Clearing the budget and agent monitor persists too. */
	next = reg_vm_dup(a);
	set(&next->qmp_agent, NULL);
	next->snapshot_budget = 0;
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);
	again = reload(path);
	got = registry_find(again, VM_UUID);
	ck_assert_ptr_null(got->qmp_agent);
	ck_assert_uint_eq(got->snapshot_budget, 0);
	ck_assert_str_eq(reg_vm_monitor(got), "/run/hypervisor/kvm/" VM_UUID
	    ".2.1/qmp");
	registry_free(again);
	update_world_free(reg, dir, path);
}
END_TEST

/* Expect an update of VM_UUID to be refused with code and a cause. */
static void
expect_update_refused(struct registry *reg, struct reg_vm *next, int code,
    const char *want)
{
	struct reg_vm	*a = registry_find(reg, VM_UUID);
	char		*cause = NULL;

	ck_assert_int_eq(registry_update(reg, a, next, &cause), code);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strcmp(cause, want) == 0, "cause '%s', expected '%s'",
	    cause, want);
	free(cause);
	reg_vm_free(next);
	/* Nothing changed. */
	ck_assert_uint_eq(a->cid, 5);
	ck_assert_str_eq(a->name, "web-01");
	ck_assert_str_eq(a->hybrid, "/run/a.sock");
	ck_assert_ptr_null(a->qmp_agent);
	ck_assert_uint_eq(a->nvolumes, 1);
	ck_assert_str_eq(a->volumes[0].uuid, VOL_UUID);
	ck_assert_ptr_eq(registry_find_cid(reg, 5), a);
	ck_assert_ptr_eq(registry_find_cid(reg, 6), registry_find(reg, VM_B));
}

/*
 * An update taking ANOTHER VM's CID, hybrid socket or volume is refused
 * naming that VM, and changes nothing in memory or on disk; the VM's own
 * CID and socket are no conflict; the agent monitor may not be the qmp
 * socket itself.
 */
START_TEST(test_update_conflicts)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256];
	struct registry	*reg, *again;
	struct reg_vm	*a, *next;
	char		*cause = NULL;

	reg = update_world(dir, path, sizeof path);
	a = registry_find(reg, VM_UUID);

	next = reg_vm_dup(a);
	next->cid = 6;
	set(&next->name, "renamed");
	expect_update_refused(reg, next, EVG_ALREADY_EXISTS, "cid: CID 6 "
	    "already belongs to VM " VM_B " (db-01), which is running");

	/* A VM that is starting holds its CID as much as a running one. */
	registry_find(reg, VM_B)->state = VM_STARTING;
	next = reg_vm_dup(a);
	next->cid = 6;
	expect_update_refused(reg, next, EVG_ALREADY_EXISTS, "cid: CID 6 "
	    "already belongs to VM " VM_B " (db-01), which is starting");
	registry_find(reg, VM_B)->state = VM_RUNNING;

	next = reg_vm_dup(a);
	set(&next->hybrid, "/run/b.sock");
	expect_update_refused(reg, next, EVG_ALREADY_EXISTS, "hybrid_socket: "
	    "/run/b.sock already belongs to VM " VM_B " (db-01)");

	next = reg_vm_dup(a);
	memcpy(next->volumes[0].uuid, VOL_B, sizeof next->volumes[0].uuid);
	expect_update_refused(reg, next, EVG_ALREADY_EXISTS, "volume[0].uuid: "
	    "volume " VOL_B " already belongs to VM " VM_B);

	next = reg_vm_dup(a);
	set(&next->qmp_agent, a->qmp);
	expect_update_refused(reg, next, EVG_INVALID_ARGUMENT, "qmp_agent: "
	    "'/run/hypervisor/kvm/" VM_UUID ".1.1/qmp' is the qmp socket "
	    "itself; the agent's monitor must be a second one");

	next = reg_vm_dup(a);
	set(&next->qmp_agent, "agent.qmp");
	expect_update_refused(reg, next, EVG_INVALID_ARGUMENT, "qmp_agent: "
	    "'agent.qmp' is not an absolute socket path");

	next = reg_vm_dup(a);
	next->cid = 2;
	expect_update_refused(reg, next, EVG_INVALID_ARGUMENT, "cid: 2 is "
	    "reserved (guest CIDs are 3..4294967294)");

	/* The file still holds the old record. */
	again = reload(path);
	ck_assert_uint_eq(registry_find(again, VM_UUID)->cid, 5);
	ck_assert_str_eq(registry_find(again, VM_UUID)->name, "web-01");
	registry_free(again);

	/* Its own CID and socket are no conflict: a rename goes through. */
	next = reg_vm_dup(a);
	set(&next->name, "web-renamed");
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);
	ck_assert_str_eq(a->name, "web-renamed");
	ck_assert_uint_eq(a->cid, 5);
	again = reload(path);
	ck_assert_str_eq(registry_find(again, VM_UUID)->name, "web-renamed");
	registry_free(again);
	update_world_free(reg, dir, path);
}
END_TEST

/*
 * A save that fails (the temp file's name is taken by a directory, which
 * root cannot write over either) reverts the record, keeps the file, and
 * leaves next to the caller.
 */
START_TEST(test_update_save_failure_reverts)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256], *tmp;
	struct registry	*reg, *again;
	struct reg_vm	*a, *next;
	char		*cause = NULL;

	reg = update_world(dir, path, sizeof path);
	a = registry_find(reg, VM_UUID);
	tmp = break_journal(reg, path);

	next = reg_vm_dup(a);
	next->cid = 77;
	set(&next->name, "web-77");
	set(&next->qmp_agent, "/run/evg/agent.qmp");
	next->snapshot_budget = 4096;
	ck_assert_int_eq(registry_update(reg, a, next, &cause), EVG_INTERNAL);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, tmp));
	free(cause);
	ck_assert_uint_eq(a->cid, 5);
	ck_assert_str_eq(a->name, "web-01");
	ck_assert_ptr_null(a->qmp_agent);
	ck_assert_uint_eq(a->snapshot_budget, 0);
	ck_assert_ptr_eq(registry_find_cid(reg, 5), a);
	ck_assert_ptr_null(registry_find_cid(reg, 77));
	/* next is still the caller's, with what it asked for. */
	ck_assert_uint_eq(next->cid, 77);
	ck_assert_str_eq(next->name, "web-77");
	ck_assert_str_eq(next->qmp_agent, "/run/evg/agent.qmp");
	reg_vm_free(next);
	mend_journal(tmp);

	again = reload(path);
	ck_assert_uint_eq(registry_find(again, VM_UUID)->cid, 5);
	registry_free(again);
	update_world_free(reg, dir, path);
}
END_TEST

/*
 * EVE's CIDs are not stored: a stopped VM's CID is stale.  An update
 * giving a VM the CID a stopped VM holds takes it (persisted: the stopped
 * VM has none and may not leave `stopped` until it gets a new one); if
 * the save fails, the stopped VM keeps it.
 */
START_TEST(test_update_takes_stale_cid)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256], *tmp;
	struct registry	*reg, *again;
	struct reg_vm	*a, *b, *next;
	char		*cause = NULL;

	reg = update_world(dir, path, sizeof path);
	a = registry_find(reg, VM_UUID);
	b = registry_find(reg, VM_B);
	set(&b->hybrid, NULL);
	ck_assert_int_eq(registry_set_state(reg, b, VM_STOPPED, &cause),
	    EVG_OK);

	/* The save fails: B keeps its CID. */
	tmp = break_journal(reg, path);
	next = reg_vm_dup(a);
	next->cid = 6;
	ck_assert_int_eq(registry_update(reg, a, next, &cause), EVG_INTERNAL);
	free(cause);
	reg_vm_free(next);
	ck_assert_uint_eq(a->cid, 5);
	ck_assert_uint_eq(b->cid, 6);
	ck_assert_ptr_eq(registry_find_cid(reg, 6), b);
	mend_journal(tmp);

	next = reg_vm_dup(a);
	next->cid = 6;
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);
	ck_assert_uint_eq(a->cid, 6);
	ck_assert_uint_eq(b->cid, 0);
	ck_assert_ptr_eq(registry_find_cid(reg, 6), a);
	ck_assert_ptr_null(registry_find_cid(reg, 5));

	again = reload(path);
	ck_assert_uint_eq(registry_find(again, VM_UUID)->cid, 6);
	ck_assert_uint_eq(registry_find(again, VM_B)->cid, 0);
	ck_assert_int_eq(registry_find(again, VM_B)->state, VM_STOPPED);
	registry_free(again);

	/* B cannot start without a CID; given a new one, it can. */
	ck_assert_int_eq(registry_set_state(reg, b, VM_STARTING, &cause),
	    EVG_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(cause, "has no vsock CID"));
	free(cause);
	ck_assert_int_eq(b->state, VM_STOPPED);
	next = reg_vm_dup(b);
	next->cid = 9002;
	ck_assert_msg(registry_update(reg, b, next, &cause) == EVG_OK, "%s",
	    cause);
	ck_assert_int_eq(registry_set_state(reg, b, VM_STARTING, &cause),
	    EVG_OK);
	update_world_free(reg, dir, path);
}
END_TEST

/* Load a one-VM registry text with members extra added: 0 or -1. */
static int
load_with(const char *extra, char **cause)
{
	struct registry	*reg = registry_create(NULL);
	char		*text;
	int		 rc;

	xasprintf(&text, "{\"format\": 1, \"vms\": [{\"uuid\": \"" VM_UUID
	    "\", \"name\": \"web-01\", \"cid\": 5, \"state\": \"stopped\", "
	    "\"qmp\": \"/run/q\"%s, \"volumes\": []}]}", extra);
	rc = registry_load_buf(reg, text, strlen(text), "r.json", cause);
	ck_assert_uint_eq(reg->count, rc == 0 ? 1 : 0);
	free(text);
	registry_free(reg);
	return (rc);
}

/*
 * qmp_agent and snapshot_budget load and save back; bad values in the
 * file are refused with a reason: wrong types, a negative or fractional
 * budget, a relative agent path, the agent equal to qmp.
 */
START_TEST(test_new_fields_file)
{
	static const struct {
		const char	*extra;
		const char	*cause;
	} bad[] = {
		{ ", \"snapshot_budget\": -1",
		    "r.json: vms[0]: malformed record" },
		{ ", \"snapshot_budget\": \"10G\"",
		    "r.json: vms[0]: malformed record" },
		{ ", \"snapshot_budget\": 1.5",
		    "r.json: vms[0]: malformed record" },
		{ ", \"snapshot_budget\": true",
		    "r.json: vms[0]: malformed record" },
		{ ", \"qmp_agent\": 5", "r.json: vms[0]: malformed record" },
		{ ", \"qmp_agent\": \"agent.qmp\"", "r.json: vms[0]: "
		    "qmp_agent: 'agent.qmp' is not an absolute socket path" },
		{ ", \"qmp_agent\": \"/run/q\"", "r.json: vms[0]: qmp_agent: "
		    "'/run/q' is the qmp socket itself; the agent's monitor "
		    "must be a second one" },
	};
	static const char	 good[] = "{\"format\": 1, \"vms\": "
	    "[{\"uuid\": \"" VM_UUID "\", \"name\": \"web-01\", \"cid\": 5, "
	    "\"qmp\": \"/run/q\", \"qmp_agent\": \"/run/qa\", "
	    "\"snapshot_budget\": 1073741824, \"state\": \"starting\", "
	    "\"volumes\": []}]}";
	struct registry		*reg, *again;
	struct reg_vm		*vm;
	char			*cause = NULL, *saved;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		ck_assert_msg(load_with(bad[i].extra, &cause) == -1,
		    "'%s' loaded", bad[i].extra);
		ck_assert_msg(cause != NULL && strcmp(cause, bad[i].cause) ==
		    0, "'%s': cause '%s'", bad[i].extra, cause);
		free(cause);
	}
	/* 0 is no budget, and not written back. */
	ck_assert_int_eq(load_with(", \"snapshot_budget\": 0", &cause), 0);

	reg = registry_create(NULL);
	ck_assert_msg(registry_load_buf(reg, good, strlen(good), "r.json",
	    &cause) == 0, "%s", cause);
	vm = registry_find(reg, VM_UUID);
	ck_assert_str_eq(vm->qmp_agent, "/run/qa");
	ck_assert_uint_eq(vm->snapshot_budget, 1073741824);
	ck_assert_int_eq(vm->state, VM_STARTING);
	ck_assert_str_eq(reg_vm_monitor(vm), "/run/qa");
	saved = registry_text(reg);
	/* json-c's pretty form: "key":"value" (no space). */
	ck_assert_ptr_nonnull(strstr(saved, "\"qmp_agent\":\"/run/qa\""));
	ck_assert_ptr_nonnull(strstr(saved, "\"snapshot_budget\":"
	    "1073741824"));
	ck_assert_ptr_nonnull(strstr(saved, "\"state\":\"starting\""));
	again = registry_create(NULL);
	ck_assert_int_eq(registry_load_buf(again, saved, strlen(saved),
	    "saved", &cause), 0);
	vm = registry_find(again, VM_UUID);
	ck_assert_str_eq(vm->qmp_agent, "/run/qa");
	ck_assert_uint_eq(vm->snapshot_budget, 1073741824);
	free(saved);
	registry_free(again);
	vm = registry_find(reg, VM_UUID);
	vm->snapshot_budget = 0;
	saved = registry_text(reg);
	ck_assert_ptr_null(strstr(saved, "snapshot_budget"));
	free(saved);
	registry_free(reg);
}
END_TEST

/* A protobuf volume with one disk identifier. */
static void
pb_volume(Evg__Volume *v, Evg__DiskId *d, Evg__DiskId **dp, const char *uuid,
    const char *name, const char *locator, const char *kind,
    const char *value)
{
	evg__volume__init(v);
	evg__disk_id__init(d);
	v->uuid = (char *)uuid;
	v->name = (char *)name;
	v->backend = (char *)"qcow2";
	v->locator = (char *)locator;
	d->kind = (char *)kind;
	d->value = (char *)value;
	*dp = d;
	v->disks = dp;
	v->n_disks = 1;
}

/* A record with every optional field set. */
static struct reg_vm *
full_vm(void)
{
	struct reg_vm	*vm = make_vm(VM_UUID, VOL_UUID, 5);

	set(&vm->hybrid, "/run/a.sock");
	set(&vm->qmp, "/run/q1");
	set(&vm->qmp_agent, "/run/qa1");
	vm->snapshot_budget = 1000;
	return (vm);
}

/*
 * vminfo_apply() changes exactly the fields named and nothing else; an
 * empty string or 0 clears qmp, qmp_agent and snapshot_budget.
 */
START_TEST(test_vminfo_apply_mask)
{
	static char	*qmp_budget[] = { "qmp", "snapshot_budget" };
	static char	*ids[] = { "cid", "hybrid_socket", "name" };
	static char	*clear[] = { "qmp", "qmp_agent", "snapshot_budget" };
	Evg__VmInfo	 m = EVG__VM_INFO__INIT;
	Evg__Volume	 v, *vp = &v;
	Evg__DiskId	 d, *dp;
	struct reg_vm	*vm;
	char		*cause = NULL;

	m.uuid = (char *)VM_B;
	m.name = (char *)"other";
	m.cid = 77;
	m.hybrid_socket = (char *)"/run/new.sock";
	m.qmp = (char *)"/run/q2";
	m.qmp_agent = (char *)"/run/qa2";
	m.snapshot_budget = 5000;
	m.state = (char *)"stopped";
	pb_volume(&v, &d, &dp, VOL_C, "new", "/persist/new.qcow2", "serial",
	    "NEW");
	m.volumes = &vp;
	m.n_volumes = 1;

	vm = full_vm();
	ck_assert_int_eq(vminfo_apply(vm, &m, qmp_budget, 2, &cause), EVG_OK);
	ck_assert_str_eq(vm->qmp, "/run/q2");
	ck_assert_uint_eq(vm->snapshot_budget, 5000);
	ck_assert_str_eq(vm->uuid, VM_UUID);
	ck_assert_str_eq(vm->name, "web-01");
	ck_assert_uint_eq(vm->cid, 5);
	ck_assert_str_eq(vm->hybrid, "/run/a.sock");
	ck_assert_str_eq(vm->qmp_agent, "/run/qa1");
	ck_assert_int_eq(vm->state, VM_RUNNING);
	ck_assert_uint_eq(vm->nvolumes, 1);
	ck_assert_str_eq(vm->volumes[0].uuid, VOL_UUID);
	ck_assert_str_eq(vm->volumes[0].locator,
	    "/persist/vault/volumes/data.qcow2");

	ck_assert_int_eq(vminfo_apply(vm, &m, ids, 3, &cause), EVG_OK);
	ck_assert_uint_eq(vm->cid, 77);
	ck_assert_str_eq(vm->hybrid, "/run/new.sock");
	ck_assert_str_eq(vm->name, "other");
	ck_assert_str_eq(vm->qmp_agent, "/run/qa1");
	ck_assert_str_eq(vm->uuid, VM_UUID);
	ck_assert_str_eq(vm->volumes[0].uuid, VOL_UUID);
	reg_vm_free(vm);

	/* Empty strings and 0 clear; an unnamed field keeps its value. */
	m.qmp = (char *)"";
	m.qmp_agent = (char *)"";
	m.snapshot_budget = 0;
	m.hybrid_socket = (char *)"";
	vm = full_vm();
	ck_assert_int_eq(vminfo_apply(vm, &m, clear, 3, &cause), EVG_OK);
	ck_assert_ptr_null(vm->qmp);
	ck_assert_ptr_null(vm->qmp_agent);
	ck_assert_uint_eq(vm->snapshot_budget, 0);
	ck_assert_str_eq(vm->hybrid, "/run/a.sock");
	ck_assert_int_eq(registry_check(vm, &cause), EVG_OK);
	reg_vm_free(vm);
}
END_TEST

/*
 * An unknown field, one that cannot change (uuid, state), or no field at
 * all is refused with a cause naming it and the fields that can change.
 */
START_TEST(test_vminfo_apply_refused)
{
	static char	*colour[] = { "name", "colour" };
	static char	*uuid[] = { "uuid" };
	static char	*state[] = { "state" };
	Evg__VmInfo	 m = EVG__VM_INFO__INIT;
	struct reg_vm	*vm;
	char		*cause = NULL;

	m.uuid = (char *)VM_B;
	m.name = (char *)"other";
	m.state = (char *)"stopped";
	vm = full_vm();
	ck_assert_int_eq(vminfo_apply(vm, &m, colour, 2, &cause),
	    EVG_INVALID_ARGUMENT);
	ck_assert_str_eq(cause, "fields[1]: 'colour' is not a field of a VM "
	    "that can change (name, cid, hybrid_socket, qmp, qmp_agent, "
	    "snapshot_budget or volumes)");
	free(cause);
	ck_assert_int_eq(vminfo_apply(vm, &m, uuid, 1, &cause),
	    EVG_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(cause, "fields[0]: 'uuid' is not a "
	    "field"));
	free(cause);
	ck_assert_str_eq(vm->uuid, VM_UUID);
	ck_assert_int_eq(vminfo_apply(vm, &m, state, 1, &cause),
	    EVG_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(cause, "fields[0]: 'state' is not a "
	    "field"));
	free(cause);
	ck_assert_int_eq(vm->state, VM_RUNNING);
	ck_assert_int_eq(vminfo_apply(vm, &m, NULL, 0, &cause),
	    EVG_INVALID_ARGUMENT);
	ck_assert_str_eq(cause, "fields: nothing to change (name, cid, "
	    "hybrid_socket, qmp, qmp_agent, snapshot_budget or volumes)");
	free(cause);
	reg_vm_free(vm);
}
END_TEST

/*
 * "volumes" replaces the volume list by the message's, whole: a volume
 * sent again (same UUID) takes its new locator and disks (a pcipath made
 * canonical), a new one is added, one left out is gone from the record;
 * through registry_update() this reaches the file.
 */
START_TEST(test_vminfo_apply_volumes)
{
	static char	*vols[] = { "volumes" };
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256];
	Evg__VmInfo	 m = EVG__VM_INFO__INIT;
	Evg__Volume	 v[2], *vp[2] = { &v[0], &v[1] };
	Evg__DiskId	 d[2], *dp[2];
	struct registry	*reg, *again;
	struct reg_vm	*a, *next, *got;
	char		*cause = NULL;

	reg = update_world(dir, path, sizeof path);
	a = registry_find(reg, VM_UUID);
	/* Two volumes now: data (VOL_UUID) and logs (VOL_C). */
	next = reg_vm_dup(a);
	pb_volume(&v[0], &d[0], &dp[0], VOL_UUID, "data",
	    "/persist/vault/volumes/" VOL_UUID "#1.qcow2", "pcipath",
	    "0000:04.0/00.0");
	pb_volume(&v[1], &d[1], &dp[1], VOL_C, "logs",
	    "/persist/vault/volumes/" VOL_C "#1.qcow2", "pcipath", "05.0/00.0");
	m.volumes = vp;
	m.n_volumes = 2;
	m.name = (char *)"ignored";
	ck_assert_int_eq(vminfo_apply(next, &m, vols, 1, &cause), EVG_OK);
	ck_assert_str_eq(next->name, "web-01");
	ck_assert_uint_eq(next->nvolumes, 2);
	ck_assert_str_eq(next->volumes[0].disks[0].value, "04.0/00.0");
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);

	/* data returns with generation 2, logs is left out. */
	next = reg_vm_dup(a);
	pb_volume(&v[0], &d[0], &dp[0], VOL_UUID, "data",
	    "/persist/vault/volumes/" VOL_UUID "#2.qcow2", "pcipath",
	    "04.0/00.0");
	m.n_volumes = 1;
	ck_assert_int_eq(vminfo_apply(next, &m, vols, 1, &cause), EVG_OK);
	ck_assert_uint_eq(next->nvolumes, 1);
	ck_assert_str_eq(next->volumes[0].uuid, VOL_UUID);
	ck_assert_str_eq(next->volumes[0].locator, "/persist/vault/volumes/"
	    VOL_UUID "#2.qcow2");
	ck_assert_str_eq(next->volumes[0].disks[0].kind, "pcipath");
	ck_assert_msg(registry_update(reg, a, next, &cause) == EVG_OK, "%s",
	    cause);

	again = reload(path);
	got = registry_find(again, VM_UUID);
	ck_assert_uint_eq(got->nvolumes, 1);
	ck_assert_str_eq(got->volumes[0].uuid, VOL_UUID);
	ck_assert_str_eq(got->volumes[0].locator, "/persist/vault/volumes/"
	    VOL_UUID "#2.qcow2");
	ck_assert_str_eq(got->volumes[0].disks[0].value, "04.0/00.0");
	registry_free(again);

	/* Another VM's volume cannot be taken through a volume update. */
	next = reg_vm_dup(a);
	pb_volume(&v[0], &d[0], &dp[0], VOL_B, "stolen", "/persist/b.qcow2",
	    "serial", "B");
	ck_assert_int_eq(vminfo_apply(next, &m, vols, 1, &cause), EVG_OK);
	ck_assert_int_eq(registry_update(reg, a, next, &cause),
	    EVG_ALREADY_EXISTS);
	ck_assert_str_eq(cause, "volume[0].uuid: volume " VOL_B " already "
	    "belongs to VM " VM_B);
	free(cause);
	reg_vm_free(next);
	ck_assert_str_eq(a->volumes[0].uuid, VOL_UUID);
	update_world_free(reg, dir, path);
}
END_TEST

/* Append text to the file at path. */
static void
append_text(const char *path, const char *text)
{
	FILE	*f = fopen(path, "a");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/*
 * The journal: a change costs one line, not a rewrite; after as many
 * lines as VMs (at least REGISTRY_JOURNAL_MIN) the file is written whole
 * and the journal emptied; a last line cut short by a crash is ignored;
 * any other bad line refuses the load, naming the file and line.
 */
START_TEST(test_journal)
{
	char		 dir[] = "/tmp/evg-reg-XXXXXX", path[256], jpath[300];
	struct registry	*reg;
	struct reg_vm	*a;
	struct stat	 sb;
	char		*cause = NULL;
	int		 i;

	reg = update_world(dir, path, sizeof path);
	snprintf(jpath, sizeof jpath, "%s.journal", path);
	a = registry_find(reg, VM_UUID);
	for (i = 0; i < REGISTRY_JOURNAL_MIN - 3; i++)
		ck_assert_int_eq(registry_set_state(reg, a, i % 2 ? VM_RUNNING :
		    VM_STOPPED, &cause), EVG_OK);
	ck_assert_int_eq(stat(path, &sb), -1);
	ck_assert_uint_eq(reg->journal.lines, REGISTRY_JOURNAL_MIN - 1);
	/*
	 * The next change goes into the journal, which then holds enough:
	 * the file is rewritten and the journal emptied.
	 */
	ck_assert_int_eq(registry_set_state(reg, a, VM_STOPPED, &cause),
	    EVG_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(stat(jpath, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	ck_assert_uint_eq(reg->journal.lines, 0);
	ck_assert_int_eq(registry_set_state(reg, a, VM_RUNNING, &cause),
	    EVG_OK);
	registry_free(reg);

	/* A torn last line: ignored and cut off; the line before counts. */
	append_text(jpath, "{\"del\":\"" VM_UUID "\"");
	reg = reload(path);
	ck_assert_uint_eq(reg->count, 2);
	ck_assert_int_eq(registry_find(reg, VM_UUID)->state, VM_RUNNING);
	registry_free(reg);

	/* A bad line with more after it: the load is refused. */
	append_text(jpath, "{\"put\":[{\"uuid\":\"x\"}]}\n{\"del\":\"" VM_B
	    "\"}\n");
	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, ".journal: line 1"));
	ck_assert_uint_eq(reg->count, 0);
	free(cause);
	registry_free(reg);
	update_world_free(NULL, dir, path);
}
END_TEST

/*
 * The registry holds REGISTRY_MAX_VMS VMs (CIDs 3 and up, as EVE's
 * counter hands them out) and refuses the next one with NO_SPACE naming
 * the limit.
 */
START_TEST(test_registry_full)
{
	struct registry	*reg = registry_create(NULL);
	struct reg_vm	*vm;
	char		 uuid[UUID_STR_LEN + 1], vol[UUID_STR_LEN + 1];
	char		*cause = NULL;
	unsigned int	 i;

	for (i = 0; i <= REGISTRY_MAX_VMS; i++) {
		snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-000000000000",
		    i);
		snprintf(vol, sizeof vol, "%08x-1111-4111-8111-000000000000",
		    i);
		vm = make_vm(uuid, vol, i + 3);
		if (i < REGISTRY_MAX_VMS) {
			ck_assert_msg(registry_add(reg, vm, &cause) == EVG_OK,
			    "VM %u: %s", i, cause);
			continue;
		}
		ck_assert_int_eq(registry_add(reg, vm, &cause), EVG_NO_SPACE);
		ck_assert_str_eq(cause, "registry is full (16384 VMs)");
		free(cause);
		reg_vm_free(vm);
	}
	ck_assert_uint_eq(reg->count, REGISTRY_MAX_VMS);
	ck_assert_ptr_nonnull(registry_find_cid(reg, REGISTRY_MAX_VMS + 2));
	registry_free(reg);
}
END_TEST

Suite *
suite_registry(void)
{
	Suite	*s = suite_create("registry");
	TCase	*tc = tcase_create("registry");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registry_full);

	tcase_add_test(tc, test_valid_record);
	tcase_add_test(tc, test_invalid_records);
	tcase_add_test(tc, test_backend_table);
	tcase_add_test(tc, test_valid_variants);
	tcase_add_test(tc, test_pcipath);
	tcase_add_test(tc, test_add_find_remove);
	tcase_add_test(tc, test_loopback_cid);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_persistence);
	tcase_add_test(tc, test_journal);
	tcase_add_test(tc, test_bad_file);
	tcase_add_test(tc, test_save_failure_rolls_back);
	tcase_add_test(tc, test_load_buf);
	suite_add_tcase(s, tc);

	tc = tcase_create("update");
	tcase_add_test(tc, test_update_applies_and_persists);
	tcase_add_test(tc, test_update_conflicts);
	tcase_add_test(tc, test_update_save_failure_reverts);
	tcase_add_test(tc, test_update_takes_stale_cid);
	tcase_add_test(tc, test_new_fields_file);
	tcase_add_test(tc, test_vminfo_apply_mask);
	tcase_add_test(tc, test_vminfo_apply_refused);
	tcase_add_test(tc, test_vminfo_apply_volumes);
	suite_add_tcase(s, tc);
	return (s);
}
