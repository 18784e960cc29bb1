/*
 * Unit tests for common/codec.c: every body of proto/evg.proto survives
 * codec_frame -> frame decoder -> codec_unpack, and bad payloads are refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "codec.h"
#include "frame.h"
#include "suites.h"

#define T_VM_UUID	"6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
#define T_VOL1_UUID	"0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
#define T_VOL2_UUID	"11111111-2222-4333-9444-555555555555"
#define T_VM_NAME	"Caf\xc3\xa9 \xf0\x9f\x93\xb8 web"

/*
 * Frame env at the control cap, decode the frame with a decoder at the same
 * cap, unpack it, and check the unpacked envelope packs back to the very
 * same bytes.  Returns the unpacked envelope (caller codec_free()s).
 */
static Evg__Envelope *
codec_roundtrip(const Evg__Envelope *env)
{
	struct frame_decoder	 dec;
	Evg__Envelope		*out;
	uint8_t			*frame, *payload, *again;
	uint32_t		 plen;
	size_t			 flen, used;
	char			*cause = NULL, err[160] = "";

	frame = codec_frame(env, FRAME_MAX_CONTROL, &flen, &cause);
	ck_assert_msg(frame != NULL, "codec_frame: %s", cause);
	ck_assert_uint_eq(flen, FRAME_HEADER_SIZE +
	    evg__envelope__get_packed_size(env));

	frame_decoder_init(&dec, FRAME_MAX_CONTROL);
	ck_assert_int_eq(frame_decoder_feed(&dec, frame, flen, &used, &payload,
	    &plen), FRAME_OK);
	ck_assert_uint_eq(used, flen);
	ck_assert_uint_eq(plen, flen - FRAME_HEADER_SIZE);

	out = codec_unpack(payload, plen, err, sizeof err);
	ck_assert_msg(out != NULL, "codec_unpack: %s", err);
	ck_assert_int_eq(out->body_case, env->body_case);
	ck_assert_uint_eq(out->id, env->id);
	ck_assert_uint_eq(out->version, env->version);

	ck_assert_uint_eq(evg__envelope__get_packed_size(out), plen);
	again = malloc(plen);
	ck_assert_ptr_nonnull(again);
	evg__envelope__pack(out, again);
	ck_assert_mem_eq(again, payload, plen);

	free(again);
	free(payload);
	free(frame);
	return (out);
}

/*
 * A full VmInfo: two volumes (qcow2 with a node, zfs without), each with
 * two disk identifiers, and every scalar set to a non-default value.
 */
struct codec_vm {
	Evg__VmInfo	 vm;
	Evg__Volume	 vol[2];
	Evg__Volume	*volp[2];
	Evg__DiskId	 disk[4];
	Evg__DiskId	*diskp[4];
};

/* Fill a codec_vm; pointers refer into the structure itself. */
static void
codec_vm_fill(struct codec_vm *v)
{
	int	i;

	evg__vm_info__init(&v->vm);
	for (i = 0; i < 4; i++) {
		evg__disk_id__init(&v->disk[i]);
		v->diskp[i] = &v->disk[i];
	}
	v->disk[0].kind = (char *)"serial";
	v->disk[0].value = (char *)"EVE-0001";
	v->disk[1].kind = (char *)"backing";
	v->disk[1].value = (char *)"/persist/vault/volumes/root.qcow2";
	v->disk[2].kind = (char *)"wwn";
	v->disk[2].value = (char *)"0x5000c500a1b2c3d4";
	v->disk[3].kind = (char *)"pci";
	v->disk[3].value = (char *)"0000:00:05.0";
	for (i = 0; i < 2; i++) {
		evg__volume__init(&v->vol[i]);
		v->volp[i] = &v->vol[i];
		v->vol[i].n_disks = 2;
		v->vol[i].disks = &v->diskp[2 * i];
	}
	v->vol[0].uuid = (char *)T_VOL1_UUID;
	v->vol[0].name = (char *)"root";
	v->vol[0].backend = (char *)"qcow2";
	v->vol[0].locator = (char *)"/persist/vault/volumes/root.qcow2";
	v->vol[0].node = (char *)"drive-virtio-disk0";
	v->vol[1].uuid = (char *)T_VOL2_UUID;
	v->vol[1].name = (char *)"data";
	v->vol[1].backend = (char *)"zfs";
	v->vol[1].locator = (char *)"persist/vault/data";
	v->vm.uuid = (char *)T_VM_UUID;
	v->vm.name = (char *)T_VM_NAME;
	v->vm.cid = 4242;
	v->vm.hybrid_socket = (char *)"/run/hv/vm1.vsock";
	v->vm.qmp = (char *)"/run/hv/vm1.qmp";
	v->vm.state = (char *)"running";
	v->vm.n_volumes = 2;
	v->vm.volumes = v->volp;
	v->vm.connections = 3;
	v->vm.agent_connected = 1;
}

/* Assert an unpacked VmInfo equals what codec_vm_fill() builds. */
static void
codec_vm_check(const Evg__VmInfo *vm)
{
	const Evg__Volume	*a, *b;

	ck_assert_ptr_nonnull(vm);
	ck_assert_str_eq(vm->uuid, T_VM_UUID);
	ck_assert_str_eq(vm->name, T_VM_NAME);
	ck_assert_uint_eq(vm->cid, 4242);
	ck_assert_str_eq(vm->hybrid_socket, "/run/hv/vm1.vsock");
	ck_assert_str_eq(vm->qmp, "/run/hv/vm1.qmp");
	ck_assert_str_eq(vm->state, "running");
	ck_assert_uint_eq(vm->connections, 3);
	ck_assert_int_eq(vm->agent_connected, 1);
	ck_assert_uint_eq(vm->n_volumes, 2);
	a = vm->volumes[0];
	b = vm->volumes[1];
	ck_assert_str_eq(a->uuid, T_VOL1_UUID);
	ck_assert_str_eq(a->name, "root");
	ck_assert_str_eq(a->backend, "qcow2");
	ck_assert_str_eq(a->locator, "/persist/vault/volumes/root.qcow2");
	ck_assert_str_eq(a->node, "drive-virtio-disk0");
	ck_assert_uint_eq(a->n_disks, 2);
	ck_assert_str_eq(a->disks[0]->kind, "serial");
	ck_assert_str_eq(a->disks[0]->value, "EVE-0001");
	ck_assert_str_eq(a->disks[1]->kind, "backing");
	ck_assert_str_eq(a->disks[1]->value,
	    "/persist/vault/volumes/root.qcow2");
	ck_assert_str_eq(b->uuid, T_VOL2_UUID);
	ck_assert_str_eq(b->name, "data");
	ck_assert_str_eq(b->backend, "zfs");
	ck_assert_str_eq(b->locator, "persist/vault/data");
	ck_assert_str_eq(b->node, "");
	ck_assert_uint_eq(b->n_disks, 2);
	ck_assert_str_eq(b->disks[0]->kind, "wwn");
	ck_assert_str_eq(b->disks[0]->value, "0x5000c500a1b2c3d4");
	ck_assert_str_eq(b->disks[1]->kind, "pci");
	ck_assert_str_eq(b->disks[1]->value, "0000:00:05.0");
}

/* Proves a status-only reply keeps id, version, code and message. */
START_TEST(test_codec_reply_status)
{
	struct codec_reply	 r;
	Evg__Envelope		*out;

	codec_reply_init(&r, 77, 1, 2, "no VM " T_VM_UUID);
	out = codec_roundtrip(&r.env);
	ck_assert_uint_eq(out->id, 77);
	ck_assert_uint_eq(out->version, 1);
	ck_assert_ptr_nonnull(out->reply->status);
	ck_assert_uint_eq(out->reply->status->code, 2);
	ck_assert_str_eq(out->reply->status->message, "no VM " T_VM_UUID);
	ck_assert_int_eq(out->reply->result_case, EVG__REPLY__RESULT__NOT_SET);
	ck_assert_str_eq(codec_body_name(out), "reply");
	codec_free(out);
}
END_TEST

/* Proves codec_reply_init fills every field and maps a NULL message to "". */
START_TEST(test_codec_reply_init)
{
	struct codec_reply	r;

	codec_reply_init(&r, 9, 3, 14, NULL);
	ck_assert_uint_eq(r.env.id, 9);
	ck_assert_uint_eq(r.env.version, 3);
	ck_assert_int_eq(r.env.body_case, EVG__ENVELOPE__BODY_REPLY);
	ck_assert_ptr_eq(r.env.reply, &r.reply);
	ck_assert_ptr_eq(r.reply.status, &r.status);
	ck_assert_int_eq(r.reply.result_case, EVG__REPLY__RESULT__NOT_SET);
	ck_assert_uint_eq(r.status.code, 14);
	ck_assert_str_eq(r.status.message, "");
}
END_TEST

/* Proves a reply without a Status unpacks with status NULL (not invented). */
START_TEST(test_codec_reply_no_status)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *out;
	Evg__Reply	 reply = EVG__REPLY__INIT;

	env.id = 1;
	env.version = 1;
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &reply;
	out = codec_roundtrip(&env);
	ck_assert_ptr_nonnull(out->reply);
	ck_assert_ptr_null(out->reply->status);
	codec_free(out);
}
END_TEST

/* Proves a reply carrying a HelloAck round-trips. */
START_TEST(test_codec_reply_hello_ack)
{
	struct codec_reply	 r;
	Evg__HelloAck		 ack = EVG__HELLO_ACK__INIT;
	Evg__Envelope		*out;

	codec_reply_init(&r, 1, 0, 0, "");
	ack.version = 1;
	ack.software = (char *)"eve-guest-hostd 0.1.0";
	r.reply.result_case = EVG__REPLY__RESULT_HELLO_ACK;
	r.reply.hello_ack = &ack;
	out = codec_roundtrip(&r.env);
	ck_assert_int_eq(out->reply->result_case, EVG__REPLY__RESULT_HELLO_ACK);
	ck_assert_uint_eq(out->reply->hello_ack->version, 1);
	ck_assert_str_eq(out->reply->hello_ack->software,
	    "eve-guest-hostd 0.1.0");
	ck_assert_uint_eq(out->reply->status->code, 0);
	codec_free(out);
}
END_TEST

/* Proves a reply carrying a full VmInfo round-trips field by field. */
START_TEST(test_codec_reply_vm)
{
	struct codec_reply	 r;
	struct codec_vm		 v;
	Evg__Envelope		*out;

	codec_vm_fill(&v);
	codec_reply_init(&r, 5, 1, 0, NULL);
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = &v.vm;
	out = codec_roundtrip(&r.env);
	ck_assert_int_eq(out->reply->result_case, EVG__REPLY__RESULT_VM);
	codec_vm_check(out->reply->vm);
	codec_free(out);
}
END_TEST

/*
 * Proves a VmList reply keeps its entries in order, and that an empty list
 * is still distinguishable from no result.
 */
START_TEST(test_codec_reply_vm_list)
{
	struct codec_reply	 r;
	struct codec_vm		 v;
	Evg__VmInfo		 small = EVG__VM_INFO__INIT;
	Evg__VmInfo		*vms[2] = { &v.vm, &small };
	Evg__VmList		 list = EVG__VM_LIST__INIT;
	Evg__Envelope		*out;

	codec_vm_fill(&v);
	small.uuid = (char *)T_VOL2_UUID;
	small.name = (char *)"b";
	small.state = (char *)"stopped";
	list.n_vms = 2;
	list.vms = vms;
	codec_reply_init(&r, 6, 1, 0, NULL);
	r.reply.result_case = EVG__REPLY__RESULT_VM_LIST;
	r.reply.vm_list = &list;
	out = codec_roundtrip(&r.env);
	ck_assert_int_eq(out->reply->result_case, EVG__REPLY__RESULT_VM_LIST);
	ck_assert_uint_eq(out->reply->vm_list->n_vms, 2);
	codec_vm_check(out->reply->vm_list->vms[0]);
	ck_assert_str_eq(out->reply->vm_list->vms[1]->uuid, T_VOL2_UUID);
	ck_assert_str_eq(out->reply->vm_list->vms[1]->state, "stopped");
	ck_assert_uint_eq(out->reply->vm_list->vms[1]->n_volumes, 0);
	ck_assert_uint_eq(out->reply->vm_list->vms[1]->cid, 0);
	codec_free(out);

	list.n_vms = 0;
	list.vms = NULL;
	out = codec_roundtrip(&r.env);
	ck_assert_int_eq(out->reply->result_case, EVG__REPLY__RESULT_VM_LIST);
	ck_assert_ptr_nonnull(out->reply->vm_list);
	ck_assert_uint_eq(out->reply->vm_list->n_vms, 0);
	codec_free(out);
}
END_TEST

/* Proves an Event keeps a 64-bit time and its strings. */
START_TEST(test_codec_event)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *out;
	Evg__Event	 ev = EVG__EVENT__INIT;

	ev.time = 0x1234567890abULL;
	ev.kind = (char *)"snapshot.created";
	ev.vm_uuid = (char *)T_VM_UUID;
	ev.message = (char *)"snapshot \"Weekly backup\" created";
	env.version = 1;
	env.body_case = EVG__ENVELOPE__BODY_EVENT;
	env.event = &ev;
	out = codec_roundtrip(&env);
	ck_assert_uint_eq(out->event->time, 0x1234567890abULL);
	ck_assert_str_eq(out->event->kind, "snapshot.created");
	ck_assert_str_eq(out->event->vm_uuid, T_VM_UUID);
	ck_assert_str_eq(out->event->message,
	    "snapshot \"Weekly backup\" created");
	ck_assert_str_eq(codec_body_name(out), "event");
	codec_free(out);
}
END_TEST

/* Proves a Hello keeps its version range, role and software, and a 64-bit id. */
START_TEST(test_codec_hello)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *out;
	Evg__Hello	 hello = EVG__HELLO__INIT;

	hello.min_version = 1;
	hello.max_version = 7;
	hello.role = EVG__ROLE__ROLE_GUEST_DAEMON;
	hello.software = (char *)"eve-guest-agent 0.1.0";
	env.id = UINT64_MAX;
	env.version = 7;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	out = codec_roundtrip(&env);
	ck_assert_uint_eq(out->id, UINT64_MAX);
	ck_assert_uint_eq(out->hello->min_version, 1);
	ck_assert_uint_eq(out->hello->max_version, 7);
	ck_assert_int_eq(out->hello->role, EVG__ROLE__ROLE_GUEST_DAEMON);
	ck_assert_str_eq(out->hello->software, "eve-guest-agent 0.1.0");
	ck_assert_str_eq(codec_body_name(out), "hello");
	codec_free(out);
}
END_TEST

/* Proves the empty-message bodies (Ping, GuestStatus, VmList) keep their case. */
START_TEST(test_codec_empty_bodies)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT, *out;
	Evg__Ping			 ping = EVG__PING__INIT;
	Evg__GuestStatusRequest		 gs = EVG__GUEST_STATUS_REQUEST__INIT;
	Evg__VmListRequest		 vl = EVG__VM_LIST_REQUEST__INIT;

	env.id = 3;
	env.version = 1;
	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	out = codec_roundtrip(&env);
	ck_assert_ptr_nonnull(out->ping);
	ck_assert_str_eq(codec_body_name(out), "ping");
	codec_free(out);

	env.body_case = EVG__ENVELOPE__BODY_GUEST_STATUS;
	env.guest_status = &gs;
	out = codec_roundtrip(&env);
	ck_assert_ptr_nonnull(out->guest_status);
	ck_assert_str_eq(codec_body_name(out), "guest_status");
	codec_free(out);

	env.body_case = EVG__ENVELOPE__BODY_VM_LIST;
	env.vm_list = &vl;
	out = codec_roundtrip(&env);
	ck_assert_ptr_nonnull(out->vm_list);
	ck_assert_str_eq(codec_body_name(out), "vm_list");
	codec_free(out);
}
END_TEST

/* Proves vm_add carries a full VmInfo with volumes and disks intact. */
START_TEST(test_codec_vm_add)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT, *out;
	Evg__VmAddRequest	 add = EVG__VM_ADD_REQUEST__INIT;
	struct codec_vm		 v;

	codec_vm_fill(&v);
	add.vm = &v.vm;
	env.id = 11;
	env.version = 1;
	env.body_case = EVG__ENVELOPE__BODY_VM_ADD;
	env.vm_add = &add;
	out = codec_roundtrip(&env);
	codec_vm_check(out->vm_add->vm);
	ck_assert_str_eq(codec_body_name(out), "vm_add");
	codec_free(out);
}
END_TEST

/* Proves vm_remove, vm_show and vm_state keep their arguments. */
START_TEST(test_codec_vm_requests)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT, *out;
	Evg__VmRemoveRequest	 rm = EVG__VM_REMOVE_REQUEST__INIT;
	Evg__VmShowRequest	 show = EVG__VM_SHOW_REQUEST__INIT;
	Evg__VmStateRequest	 st = EVG__VM_STATE_REQUEST__INIT;

	env.id = 12;
	env.version = 1;
	rm.uuid = (char *)T_VM_UUID;
	env.body_case = EVG__ENVELOPE__BODY_VM_REMOVE;
	env.vm_remove = &rm;
	out = codec_roundtrip(&env);
	ck_assert_str_eq(out->vm_remove->uuid, T_VM_UUID);
	ck_assert_str_eq(codec_body_name(out), "vm_remove");
	codec_free(out);

	show.uuid = (char *)T_VOL1_UUID;
	env.body_case = EVG__ENVELOPE__BODY_VM_SHOW;
	env.vm_show = &show;
	out = codec_roundtrip(&env);
	ck_assert_str_eq(out->vm_show->uuid, T_VOL1_UUID);
	ck_assert_str_eq(codec_body_name(out), "vm_show");
	codec_free(out);

	st.uuid = (char *)T_VOL2_UUID;
	st.state = (char *)"stopped";
	env.body_case = EVG__ENVELOPE__BODY_VM_STATE;
	env.vm_state = &st;
	out = codec_roundtrip(&env);
	ck_assert_str_eq(out->vm_state->uuid, T_VOL2_UUID);
	ck_assert_str_eq(out->vm_state->state, "stopped");
	ck_assert_str_eq(codec_body_name(out), "vm_state");
	codec_free(out);
}
END_TEST

/* Proves bytes that are not protobuf (or are cut short) give NULL and a reason. */
START_TEST(test_codec_unpack_garbage)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmAddRequest	 add = EVG__VM_ADD_REQUEST__INIT;
	struct codec_vm		 v;
	uint8_t			 ff[32], *buf;
	size_t			 len;
	char			 err[160];

	memset(ff, 0xff, sizeof ff);
	err[0] = '\0';
	ck_assert_ptr_null(codec_unpack(ff, sizeof ff, err, sizeof err));
	ck_assert_str_eq(err, "payload is not a protobuf envelope");

	codec_vm_fill(&v);
	add.vm = &v.vm;
	env.body_case = EVG__ENVELOPE__BODY_VM_ADD;
	env.vm_add = &add;
	len = evg__envelope__get_packed_size(&env);
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	evg__envelope__pack(&env, buf);
	err[0] = '\0';
	ck_assert_ptr_null(codec_unpack(buf, len / 2, err, sizeof err));
	ck_assert_str_eq(err, "payload is not a protobuf envelope");
	free(buf);
}
END_TEST

/*
 * Proves an envelope without a body and an empty payload give NULL with a
 * reason, while one whose body is a field this build does not know comes
 * back with no body case (the receiver answers UNSUPPORTED).
 */
START_TEST(test_codec_unpack_no_body)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *got;
	uint8_t		 buf[16];
	/* id = 5, then field 99 (length-delimited, empty). */
	const uint8_t	 future[] = { 0x08, 0x05, 0x9a, 0x06, 0x00 };
	size_t		 len;
	char		 err[160];

	env.id = 7;
	env.version = 1;
	len = evg__envelope__get_packed_size(&env);
	ck_assert_uint_le(len, sizeof buf);
	evg__envelope__pack(&env, buf);
	err[0] = '\0';
	ck_assert_ptr_null(codec_unpack(buf, len, err, sizeof err));
	ck_assert_str_eq(err, "envelope carries no known body");

	err[0] = '\0';
	ck_assert_ptr_null(codec_unpack(buf, 0, err, sizeof err));
	ck_assert_str_eq(err, "envelope carries no known body");

	got = codec_unpack(future, sizeof future, err, sizeof err);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->body_case, EVG__ENVELOPE__BODY__NOT_SET);
	ck_assert_uint_eq(got->id, 5);
	codec_free(got);
}
END_TEST

/* Proves unknown fields beside a known body are ignored, as evg.proto promises. */
START_TEST(test_codec_unknown_fields_ignored)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *out;
	Evg__Ping	 ping = EVG__PING__INIT;
	/* field 1000, varint 1 */
	const uint8_t	 extra[] = { 0xc0, 0x3e, 0x01 };
	uint8_t		 buf[64];
	size_t		 len;
	char		 err[160] = "";

	env.id = 21;
	env.version = 1;
	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	len = evg__envelope__get_packed_size(&env);
	evg__envelope__pack(&env, buf);
	memcpy(buf + len, extra, sizeof extra);
	out = codec_unpack(buf, len + sizeof extra, err, sizeof err);
	ck_assert_msg(out != NULL, "codec_unpack: %s", err);
	ck_assert_int_eq(out->body_case, EVG__ENVELOPE__BODY_PING);
	ck_assert_uint_eq(out->id, 21);
	codec_free(out);
}
END_TEST

/*
 * Proves the issue-10 finding 1: a DiskRef carrying an unknown field with a
 * multi-byte field-0 tag (82 00 00) decodes, and codec_unpack drops that
 * field everywhere, so the DiskRef (and the envelope) re-pack to bytes that
 * unpack again; before, the re-pack was canonical (02) and failed to unpack.
 */
START_TEST(test_codec_unknown_field_zero_tag_dropped)
{
	Evg__DiskRef				 d = EVG__DISK_REF__INIT, *dc;
	Evg__DiskId				 id = EVG__DISK_ID__INIT, *idp = &id;
	Evg__GuestSnapshotCreateRequest		 req =
	    EVG__GUEST_SNAPSHOT_CREATE_REQUEST__INIT;
	Evg__Envelope				 env = EVG__ENVELOPE__INIT, *out;
	const uint8_t				 bad[] = { 0x82, 0x00, 0x00 };
	uint8_t					 disk[128], body[256], buf[512];
	uint8_t					*again;
	size_t					 dlen, blen, len;
	char					 err[160] = "";

	id.kind = (char *)"serial";
	id.value = (char *)"HOSTILE";
	d.device = (char *)"/dev/vdb";
	d.ids = &idp;
	d.n_ids = 1;
	dlen = evg__disk_ref__pack(&d, disk);
	memcpy(disk + dlen, bad, sizeof bad);
	dlen += sizeof bad;
	/* GuestSnapshotCreateRequest { disks (1) = disk } */
	blen = evg__guest_snapshot_create_request__pack(&req, body);
	body[blen++] = (1 << 3) | 2;
	body[blen++] = (uint8_t)dlen;
	memcpy(body + blen, disk, dlen);
	blen += dlen;
	/* Envelope { id, version, guest_snapshot_create (21) = body } */
	env.id = 5;
	env.version = 1;
	len = evg__envelope__pack(&env, buf);
	buf[len++] = (uint8_t)(((21 << 3) | 2) | 0x80);	/* key, 2 bytes */
	buf[len++] = ((21 << 3) | 2) >> 7;
	buf[len++] = (uint8_t)blen;
	memcpy(buf + len, body, blen);
	len += blen;

	out = codec_unpack(buf, len, err, sizeof err);
	ck_assert_msg(out != NULL, "codec_unpack: %s", err);
	ck_assert_int_eq(out->body_case,
	    EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE);
	ck_assert_uint_eq(out->guest_snapshot_create->n_disks, 1);
	ck_assert_uint_eq(out->guest_snapshot_create->disks[0]->base.
	    n_unknown_fields, 0);
	ck_assert_str_eq(out->guest_snapshot_create->disks[0]->ids[0]->value,
	    "HOSTILE");
	/* The DiskRef alone re-packs and unpacks (what the host copies). */
	dlen = evg__disk_ref__get_packed_size(out->guest_snapshot_create->
	    disks[0]);
	again = malloc(dlen + 1);
	evg__disk_ref__pack(out->guest_snapshot_create->disks[0], again);
	dc = evg__disk_ref__unpack(NULL, dlen, again);
	ck_assert_ptr_nonnull(dc);
	ck_assert_str_eq(dc->device, "/dev/vdb");
	evg__disk_ref__free_unpacked(dc, NULL);
	free(again);
	codec_free(codec_roundtrip(out));
	codec_free(out);
}
END_TEST

/*
 * Proves every string the daemons send is valid UTF-8: codec_frame sends a
 * status message and a nested string with malformed bytes (a stray
 * continuation, a cut sequence) with each bad byte as U+FFFD, valid text
 * (a 4-byte emoji) untouched, and leaves the caller's envelope alone.
 */
START_TEST(test_codec_frame_repairs_utf8)
{
	struct codec_reply	 r;
	Evg__VmInfo		 vm = EVG__VM_INFO__INIT;
	Evg__Envelope		*out;
	char			 msg[] = "a\x80z \xe2\x82 \xf0\x9f\x93\xb8";
	char			 name[] = "bad\xff";
	uint8_t			*frame;
	size_t			 flen;
	char			*cause = NULL, err[160] = "";

	codec_reply_init(&r, 9, 1, 0, msg);
	vm.uuid = (char *)T_VM_UUID;
	vm.name = name;
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = &vm;
	ck_assert_uint_eq(codec_invalid_strings(&r.env.base), 2);
	frame = codec_frame(&r.env, FRAME_MAX_CONTROL, &flen, &cause);
	ck_assert_msg(frame != NULL, "codec_frame: %s", cause);
	out = codec_unpack(frame + FRAME_HEADER_SIZE, flen - FRAME_HEADER_SIZE,
	    err, sizeof err);
	ck_assert_msg(out != NULL, "codec_unpack: %s", err);
	ck_assert_str_eq(out->reply->status->message,
	    "a\xef\xbf\xbdz \xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x93\xb8");
	ck_assert_str_eq(out->reply->vm->name, "bad\xef\xbf\xbd");
	ck_assert_uint_eq(codec_invalid_strings(&out->base), 0);
	/* The caller's strings are not touched. */
	ck_assert_str_eq(r.status.message, msg);
	ck_assert_str_eq(vm.name, "bad\xff");
	codec_free(out);
	free(frame);
}
END_TEST

/*
 * Proves codec_frame refuses one byte over the cap with a reason naming
 * both sizes, accepts exactly the cap, and never emits a zero-length frame
 * (which the decoder would reject).
 */
START_TEST(test_codec_frame_cap)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmRemoveRequest	 rm = EVG__VM_REMOVE_REQUEST__INIT;
	char			 uuid[201], want[128], *cause = NULL;
	uint8_t			*buf;
	size_t			 plen, len = 12345;

	memset(uuid, 'a', sizeof uuid - 1);
	uuid[sizeof uuid - 1] = '\0';
	rm.uuid = uuid;
	env.body_case = EVG__ENVELOPE__BODY_VM_REMOVE;
	env.vm_remove = &rm;
	plen = evg__envelope__get_packed_size(&env);
	ck_assert_uint_gt(plen, 200);

	buf = codec_frame(&env, (uint32_t)plen - 1, &len, &cause);
	ck_assert_ptr_null(buf);
	ck_assert_ptr_nonnull(cause);
	snprintf(want, sizeof want, "message of %zu bytes exceeds the %zu-byte "
	    "frame cap", plen, plen - 1);
	ck_assert_str_eq(cause, want);
	ck_assert_uint_eq(len, 12345);
	free(cause);

	cause = NULL;
	buf = codec_frame(&env, (uint32_t)plen, &len, &cause);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(len, FRAME_HEADER_SIZE + plen);
	ck_assert_uint_eq(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3],
	    plen);
	free(buf);

	evg__envelope__init(&env);
	buf = codec_frame(&env, FRAME_MAX_CONTROL, &len, &cause);
	ck_assert_ptr_null(buf);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

/* Proves negotiation picks the highest common version or 0 when disjoint. */
START_TEST(test_codec_negotiate)
{
	ck_assert_uint_eq(codec_negotiate(1, 1), 1);
	ck_assert_uint_eq(codec_negotiate(PROTO_VERSION_MIN, PROTO_VERSION_MAX),
	    PROTO_VERSION_MAX);
	ck_assert_uint_eq(codec_negotiate(0, 1), 1);
	ck_assert_uint_eq(codec_negotiate(1, 9), PROTO_VERSION_MAX);
	ck_assert_uint_eq(codec_negotiate(0, UINT32_MAX), PROTO_VERSION_MAX);
	ck_assert_uint_eq(codec_negotiate(PROTO_VERSION_MAX + 1, 99), 0);
	ck_assert_uint_eq(codec_negotiate(0, 0), 0);
	ck_assert_uint_eq(codec_negotiate(5, 1), 0);
	ck_assert_uint_eq(codec_negotiate(1, 0), 0);
}
END_TEST

/* Proves codec_body_name names the body field, "none" without one. */
START_TEST(test_codec_body_name)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;

	ck_assert_str_eq(codec_body_name(&env), "none");
	env.body_case = EVG__ENVELOPE__BODY_VM_STATE;
	ck_assert_str_eq(codec_body_name(&env), "vm_state");
	env.body_case = EVG__ENVELOPE__BODY_GUEST_STATUS;
	ck_assert_str_eq(codec_body_name(&env), "guest_status");
	env.body_case = (Evg__Envelope__BodyCase)99;
	ck_assert_str_eq(codec_body_name(&env), "unknown");
}
END_TEST

Suite *
suite_codec(void)
{
	Suite	*s = suite_create("codec");
	TCase	*tc;

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_codec_reply_status);
	tcase_add_test(tc, test_codec_reply_init);
	tcase_add_test(tc, test_codec_reply_no_status);
	tcase_add_test(tc, test_codec_reply_hello_ack);
	tcase_add_test(tc, test_codec_reply_vm);
	tcase_add_test(tc, test_codec_reply_vm_list);
	tcase_add_test(tc, test_codec_event);
	tcase_add_test(tc, test_codec_hello);
	tcase_add_test(tc, test_codec_empty_bodies);
	tcase_add_test(tc, test_codec_vm_add);
	tcase_add_test(tc, test_codec_vm_requests);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_test(tc, test_codec_unpack_garbage);
	tcase_add_test(tc, test_codec_unpack_no_body);
	tcase_add_test(tc, test_codec_unknown_fields_ignored);
	tcase_add_test(tc, test_codec_unknown_field_zero_tag_dropped);
	tcase_add_test(tc, test_codec_frame_repairs_utf8);
	tcase_add_test(tc, test_codec_frame_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, test_codec_negotiate);
	tcase_add_test(tc, test_codec_body_name);
	suite_add_tcase(s, tc);
	return (s);
}
