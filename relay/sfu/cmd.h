/* cmd.h — the control protocol's JSON (signalling/ARCHITECTURE.md, "Group media"): the only jansson user.
 *
 * Owns: parsing each command published on sfu:cmd:<id> and calling the SFU logic; building the replies and
 * events the SFU logic emits (sfu_events_t) and publishing them on sfu:to:<node>.
 * Must not: keep state of its own beyond the pointers it is given.
 *
 * Bad commands (not JSON, unknown op, missing or mistyped fields) are counted and logged (rate-limited),
 * and answered with an error when they carry enough to address one (node, tx).
 */
#ifndef STAFFROOM_SFU_CMD_H
#define STAFFROOM_SFU_CMD_H

#include <stddef.h>

#include "control.h"
#include "sfu.h"

typedef struct cmd cmd_t;

/* control may be set later with cmd_set_control (the two are created in either order). */
cmd_t *cmd_new(void);
void cmd_set_control(cmd_t *c, control_t *control);
void cmd_set_sfu(cmd_t *c, sfu_t *sfu);
/* The events table that publishes through this cmd_t. */
sfu_events_t cmd_events(cmd_t *c);
/* One command's payload (borrowed). */
void cmd_handle(cmd_t *c, const char *payload, size_t len);
void cmd_free(cmd_t *c);

#endif
