/*
 * What polyai_handoff.c (modparams, lifecycle, sync lookups, results to
 * requests), ph_async.c (async lookups) and ph_reserve.c (DNI
 * reservations) share.
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
int ph_set_reservation(handoff_reservation *r, str *shared_id);

/* ph_async.c */
extern int ph_async_workers;
extern int ph_async_max_pending;
int ph_async_mod_init(void);
int ph_async_child_init(int rank);
int ph_async_enabled(void);
int ph_lookup_async(
		sip_msg_t *msg, str *id, str *route, int by_conversation_id);

/* ph_reserve.c */
typedef struct ph_attrs ph_attrs_t;
ph_attrs_t *ph_attrs_parse(str *text);
void ph_attrs_free(ph_attrs_t *attrs);
int ph_reserve_dni(sip_msg_t *msg, str *shared_id, ph_attrs_t *attrs);
int ph_reserve_dni_text(sip_msg_t *msg, str *shared_id, str *text);
int ph_fixup_reserve_dni(void **param, int param_no);
int ph_fixup_free_reserve_dni(void **param, int param_no);

#endif
