/*
 * What polyai_handoff.c (modparams, lifecycle, sync lookups, results to
 * requests) and ph_async.c (async lookups) share.
 */

#ifndef PH_MODULE_H
#define PH_MODULE_H

#include "../../core/parser/msg_parser.h"
#include "../../core/str.h"

#include <polyai_handoff.h>

/* Returned when the module itself failed (no memory, unparsable request,
 * misuse); any other failure returns -status, so $rc tells which (-5
 * not_found, -11 unavailable, ...). */
#define PH_RC_INTERNAL (-100)

/* polyai_handoff.c */
extern handoff_config *ph_config;
extern handoff_client *ph_client;
int ph_client_create(void);
int ph_apply_result(sip_msg_t *msg, handoff_result *r);
int ph_apply_status(sip_msg_t *msg, handoff_status status);

/* ph_async.c */
extern int ph_async_workers;
extern int ph_async_max_pending;
int ph_async_mod_init(void);
int ph_async_child_init(int rank);
int ph_async_enabled(void);
int ph_lookup_async(
		sip_msg_t *msg, str *id, str *route, int by_conversation_id);

#endif
