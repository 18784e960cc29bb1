/*
 * An in-process eve-guest-hostd for the fuzz targets that drive its
 * handling of guest connections (fuzz_guest.c) and control connections
 * (fuzz_control.c), with no listening socket, no child process, no QMP and
 * no sleeping.
 *
 * Once per process fuzzhost_init() makes a state directory on /dev/shm,
 * the default configuration (no AF_VSOCK) and a fixture: VM "web-01"
 * (running, hybrid socket registered but never listened on) with a qcow2
 * and a zfs volume, VM "db-02" (stopped, CID 5) with one qcow2 volume, and
 * catalogs holding the snapshots named below.  Backends are replaced by a
 * fake (backend_fake_start) whose outcome the input chooses.
 *
 * Every input starts from that fixture again (files rewritten, registry,
 * workflows, events and server rebuilt), so inputs are independent.  An
 * input is three header bytes and a stream:
 *
 *	byte 0	FH_* mode bits below
 *	byte 1	FB_* backend bits below
 *	byte 2	FC_* configuration bits below (frame caps small enough for
 *		a short input to meet them, connection and operation caps)
 *	rest	the bytes the fuzzed peer sends: delivered one frame at a
 *		time (as its length header says), the daemon run until it
 *		is idle after each; what does not parse as a frame goes in
 *		one piece at the end.  Then the write side is shut.
 *
 * Time is virtual: when the input lets time pass (FH_TICK, FH_DRAIN_TIME,
 * and at the end until no workflow runs) the next pending libevent timer
 * is fired at once instead of waited for, the daemon settles, and so on.
 * Each timer keeps a virtual due time (the virtual now when it was armed
 * plus its delay), so a timer re-armed meanwhile comes in its turn.  A
 * tick after each frame lets FH_TICK_SECONDS pass (the freeze lease
 * renewal, a slow backend, the handshake limit); the drain at the end lets
 * any time pass (request timeouts, pings, the idle limit).
 *
 * The oracle, for every connection the harness holds (the fuzzed one, the
 * scripted guest daemon, the control observers): every frame the daemon
 * writes is within the channel's cap, unpacks with codec_unpack(), carries
 * protocol version 1, a body, a status in every reply, only valid UTF-8
 * strings and no unknown field; no request id is answered more often than
 * it was sent.  The control clients of the harness (FH_CONTROLLER, and an
 * observer at the end asking for events, snapshot lists and the vm list)
 * must get exactly one reply to each request.  After every connection is
 * gone the daemon must be idle with no workflow left (none stuck holding a
 * VM's lock) and no event left registered after teardown.  ASan, UBSan
 * and LeakSanitizer do the rest; fatal() and exit() are caught by
 * libFuzzer as a crash.
 *
 * Not virtual: time(NULL) (event and snapshot times, default names) and
 * the random UUIDs of new snapshots; the oracle depends on neither.
 *
 * Seeds: with EVG_FUZZ_SEEDS=DIR in the environment a target writes its
 * seed inputs to DIR and exits (docs/fuzzing.md); files named regress-* in
 * test/fuzz/corpus/{guest,control} are reproducers of fixed findings, kept
 * by hand.  EVG_FUZZ_LOG=1 shows the daemon's log (debug level) instead of
 * holding it in memory.
 */
#ifndef EVG_FUZZHOST_H
#define EVG_FUZZHOST_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"

enum fuzzhost_channel {
	FUZZHOST_GUEST,		/* the fuzzed peer is a guest session */
	FUZZHOST_CONTROL,	/* the fuzzed peer is a control client */
};

/* Mode bits (input byte 0). */
#define FH_HELLO	0x01	/* the harness sends a valid Hello first */
#define FH_DAEMON	0x02	/* ... with the guest daemon role (guest) */
#define FH_STOPPED	0x04	/* the session is db-02's, not web-01's */
#define FH_FAKE_DAEMON	0x08	/* a scripted guest daemon serves web-01 */
#define FH_TICK		0x10	/* after each frame, fire the earliest timer
				   if it is due within FH_TICK_SECONDS */
#define FH_DRAIN_TIME	0x20	/* at the end, fire timers until it closes */
#define FH_CONTROLLER	0x40	/* a control client asks web-01's guest info,
				   then an app-consistent snapshot of it */
#define FH_DAEMON_FAILS	0x80	/* the scripted daemon answers with errors */

/* Backend bits (input byte 1): what the fake backend answers. */
#define FB_SPACE_FAIL	0x01	/* space check fails */
#define FB_NO_SPACE	0x02	/* space check reports 1 MiB free */
#define FB_CREATE_FAIL	0x04
#define FB_DELETE_FAIL	0x08
#define FB_ROLLBACK_FAIL 0x10
#define FB_LIST_FAIL	0x20
#define FB_LIST_ODD	0x40	/* list misses the first catalogued snapshot
				   of the volume and shows one not catalogued */
#define FB_SLOW		0x80	/* creates answer after FH_SLOW_MS (a tick) */

/* Configuration bits (input byte 2). */
/* Bits 0-1 pick max_frame_guest, bits 2-3 max_frame_control: 0 the
 * default, 1 1024 bytes (the least allowed), 2 4096, 3 16384. */
#define FC_CAPS(guest, control)	((guest) | (control) << 2)
#define FC_ONE_OP	0x10	/* max_parallel_ops 1 */
#define FC_ONE_CONN	0x20	/* max_conns_per_vm 1 */
#define FC_WRITES_FAIL	0x40	/* the registry and the fixture's catalogs
				   cannot be written */
#define FC_LONG_HOOKS	0x80	/* FH_CONTROLLER allows 10-minute hooks */

/* A tick is this long; a slow backend create this slow. */
#define FH_TICK_SECONDS	10
#define FH_SLOW_MS	5000

/* The fixture. */
#define FH_VM_RUNNING	"6f1c4a52-3b7e-4d21-9a8f-0c5e2b7d9e11"	/* web-01 */
#define FH_VM_STOPPED	"7a2d5b63-4c8f-4e32-8b9a-1d6f3c8e0f22"	/* db-02 */
#define FH_VOL_DATA	"0b6c2f8e-5a41-4d7e-8f3c-9a1e2d3c4b51"	/* qcow2 */
#define FH_VOL_LOGS	"1c7d3a9f-6b52-4e8f-9a4d-ab2f3e4d5c62"	/* zfs */
#define FH_VOL_DB	"2d8e4b0a-7c63-4f9a-8b5e-bc3a4f5e6d73"	/* db-02's */
#define FH_SERIAL_DATA	"EVEDATA0001"				/* data */
#define FH_PCI_DATA	"0000:04:00.0"				/* data */
#define FH_WWN_LOGS	"naa.5001405abcdef012"			/* logs */
#define FH_BACKING_DB	"/var/lib/eve-fuzz/db.img"		/* db */
/* web-01: "Weekly backup" of data and of logs, "nightly" (missing) and
 * "in-flight" (creating) of data; db-02: "before-upgrade" (ready). */
#define FH_SNAP_DATA	"5a0e1c2d-3b4f-4a6e-8d7c-9b0a1f2e3d01"
#define FH_SNAP_LOGS	"5a0e1c2d-3b4f-4a6e-8d7c-9b0a1f2e3d02"
#define FH_SNAP_MISSING	"5a0e1c2d-3b4f-4a6e-8d7c-9b0a1f2e3d03"
#define FH_SNAP_CREATING "5a0e1c2d-3b4f-4a6e-8d7c-9b0a1f2e3d04"
#define FH_SNAP_DB	"5a0e1c2d-3b4f-4a6e-8d7c-9b0a1f2e3d05"

/*
 * Set up once per process for the fuzzed channel.  With EVG_FUZZ_SEEDS=DIR
 * in the environment, call seeds(DIR) instead and exit.
 */
void	fuzzhost_init(enum fuzzhost_channel, void (*)(const char *));
/* Run one input (any bytes); aborts when the oracle fails. */
void	fuzzhost_input(const uint8_t *, size_t);

/* A seed input being built: header bytes, then frames. */
struct fuzzhost_seed {
	uint8_t	*buf;
	size_t	 len;
};

/* Start a seed with mode, backend and configuration bits. */
void	fuzzhost_seed_begin(struct fuzzhost_seed *, uint8_t, uint8_t, uint8_t);
/* Append env as a frame with id and protocol version 1. */
void	fuzzhost_seed_add(struct fuzzhost_seed *, uint64_t, Evg__Envelope *);
/* Write the seed to DIR/name and free it; exits on failure. */
void	fuzzhost_seed_write(struct fuzzhost_seed *, const char *, const char *);

#endif
