/*
 * The control channel's requests: registry (vm add/remove/list/show/state),
 * snapshot operations (started as workflows), events and guest info.  One
 * table row per request body (control_dispatch.c); a new control command
 * is one handler and one row there, plus its client in hostctl.c.
 */
#ifndef EVG_CONTROL_DISPATCH_H
#define EVG_CONTROL_DISPATCH_H

#include "control.h"

/*
 * The table handed to the control connections.  Its handlers find the
 * server (struct server) as the owner of the connections' set.
 */
extern const struct control_dispatch control_dispatch;

#endif
