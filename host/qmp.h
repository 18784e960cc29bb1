/*
 * Asynchronous one-shot QMP client: connect to a QEMU monitor socket, read
 * the greeting, negotiate capabilities, run one command, call back, close
 * (or, prepared, hold the negotiated connection until told to go).
 * Asynchronous events QEMU sends meanwhile are skipped (but the one
 * qmp_execute_event() waits for).  The callback runs
 * once from the event loop with a status code (EVG_OK, EVG_UNAVAILABLE when
 * the socket cannot be reached or closes, EVG_TIMEOUT, EVG_BACKEND_ERROR
 * when QEMU answered with an error, whose "desc" is in message) and, on
 * success, the command's "return" value (borrowed: valid only during the
 * callback).  qmp_cancel() closes the connection without a callback.
 */
#ifndef EVG_QMP_H
#define EVG_QMP_H

#include <event2/event.h>
#include <json-c/json.h>

/* QMP replies larger than this close the connection (BACKEND_ERROR). */
#define QMP_MAX_REPLY	(4 * 1024 * 1024)

struct qmp;

typedef void	(*qmp_done_cb)(int, const char *, json_object *, void *);
typedef void	(*qmp_ready_cb)(void *);

/*
 * Run command with args (a JSON object or NULL; ownership is taken) on the
 * monitor at path within timeout_ms (0: no limit) from connect to reply.
 * Returns NULL with *cause (caller frees) if it could not even start (bad
 * path); otherwise the callback reports the outcome.
 */
struct qmp	*qmp_execute(struct event_base *, const char *, const char *,
		    json_object *, unsigned int, qmp_done_cb, void *, char **);
/*
 * The same, then wait (within the same timeout_ms) for the event named
 * event whose data's "device" is device; it may come before the answer.
 * The callback's value is the event's data.  For device_del and
 * DEVICE_DELETED: QEMU answers at once and sends the event when the guest
 * has let the device go (EVG_TIMEOUT when it has not in time: the unplug
 * may still be pending in QEMU).
 */
struct qmp	*qmp_execute_event(struct event_base *, const char *,
		    const char *, json_object *, unsigned int, const char *,
		    const char *, qmp_done_cb, void *, char **);
/* What qmp_execute_event() adds, for a client not yet run (or detached). */
void		 qmp_await_event(struct qmp *, const char *, const char *);
/*
 * The same, prepared: connect and negotiate now, then hold the connection
 * open (no deadline while held) and call ready once, from the loop; the
 * command goes out at qmp_go(), with timeout_ms from then on.  For a step
 * that must be short (a snapshot while the guest is frozen): nothing but
 * the command itself is left for it.  cb may run before ready (the
 * monitor could not be reached, or closed); ready then never runs.
 * QEMU serves one monitor client at a time: hold only as long as needed.
 * Once called back it keeps its socket a few ms (the close wakes QEMU,
 * which would compete with the thaw): until the next client of the same
 * monitor starts, or qmp_shutdown().
 */
struct qmp	*qmp_prepare(struct event_base *, const char *, const char *,
		    json_object *, unsigned int, qmp_ready_cb, qmp_done_cb,
		    void *, char **);
/*
 * Let a prepared client's command run: the staged command's last byte
 * (its closing brace) goes out at once, or when negotiated.
 */
void		 qmp_go(struct qmp *);
/*
 * Close without a callback.  A no-op once the callback has run (the
 * client frees itself from the loop right after, a prepared one a few
 * ms later or when the next client of its monitor starts) and inside it.
 */
void		 qmp_cancel(struct qmp *);
/* Close the prepared clients still lingering after their callback. */
void		 qmp_shutdown(void);

/*
 * For tests and fuzzing: a client on no socket, waiting for the greeting,
 * that is to run command.  qmp_input() hands it what QEMU would send; what
 * it would send back is dropped (qmp_capabilities with id 1, then command
 * with id 2, as on every connection).  There is no timeout.  The callback runs
 * from the loop as for qmp_execute(); qmp_cancel() frees a client whose
 * outcome is not known (or not yet called back).
 */
struct qmp	*qmp_detached(struct event_base *, const char *, qmp_done_cb,
		    void *);
/* Bytes as if read from the monitor; 1 once the outcome is known, else 0. */
int		 qmp_input(struct qmp *, const char *, size_t);

#endif
