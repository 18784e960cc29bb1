/* Unit tests for host/registry.c: add/remove/find, validation, persistence. */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_kind.h"
#include "registry.h"
#include "suites.h"
#include "status.h"
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
	expect_invalid(vm, "cid: a VM needs");

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
	expect_invalid(make_vm(VM_UUID, VOL_UUID, 0), "cid: a VM needs");
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
	char		*cause = NULL;

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
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	registry_free(reg);

	reg = registry_create(path);
	ck_assert_int_eq(registry_load(reg, &cause), 0);
	ck_assert_uint_eq(reg->count, 2);
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

Suite *
suite_registry(void)
{
	Suite	*s = suite_create("registry");
	TCase	*tc = tcase_create("registry");

	tcase_add_test(tc, test_valid_record);
	tcase_add_test(tc, test_invalid_records);
	tcase_add_test(tc, test_backend_table);
	tcase_add_test(tc, test_valid_variants);
	tcase_add_test(tc, test_pcipath);
	tcase_add_test(tc, test_add_find_remove);
	tcase_add_test(tc, test_loopback_cid);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_persistence);
	tcase_add_test(tc, test_bad_file);
	tcase_add_test(tc, test_save_failure_rolls_back);
	tcase_add_test(tc, test_load_buf);
	suite_add_tcase(s, tc);
	return (s);
}
