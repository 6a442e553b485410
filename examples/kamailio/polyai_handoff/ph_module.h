/*
 * What polyai_handoff.c (modparams, lifecycle, sync lookups, results to
 * requests), ph_async.c (async lookups), ph_reserve.c (DNI reservations),
 * ph_stats.c (every process's counters in shared memory) and ph_rpc.c
 * (RPC commands, reloads and breaker closes reaching every process) share.
 */

#ifndef PH_MODULE_H
#define PH_MODULE_H

#include "../../core/parser/msg_parser.h"
#include "../../core/str.h"
#include "../../core/rpc.h"

#include <stdint.h>

#include <polyai_handoff.h>

/* Returned when the module itself failed (no memory, unparsable request,
 * misuse); any other failure returns -status, so $rc tells which (-5
 * not_found, -11 unavailable, ...). */
#define PH_RC_INTERNAL (-100)

/* What a process with a client is, for the RPC. */
typedef enum {
	PH_ROLE_NONE = 0,
	PH_ROLE_SIP_WORKER,
	PH_ROLE_ASYNC,
	PH_ROLE_OTHER
} ph_role_t;

/* Longest reason a configuration is refused for, with its file and key. */
#define PH_WHY_MAX 1024

/* polyai_handoff.c */
extern handoff_config *ph_config;
extern handoff_client *ph_client;
extern char *ph_config_file;
handoff_config *ph_config_build(
		handoff_client **client_out, char *why, size_t size);
int ph_client_create(ph_role_t role);
int ph_client_reload(void);
int ph_apply_result(sip_msg_t *msg, handoff_result *r);
int ph_apply_status(sip_msg_t *msg, handoff_status status);
int ph_set_reservation(handoff_reservation *r, str *shared_id);

/* ph_async.c */
extern int ph_async_workers;
/* modparam warm: each process that looks up warms its connections after
 * the fork (SIP workers in child_init, async processes once their queue
 * exists, so the I/O thread's connection is warmed too). */
extern int ph_warm;
extern int ph_async_max_pending;
int ph_async_mod_init(void);
int ph_async_child_init(int rank);
int ph_async_enabled(void);
int ph_async_in_process(void);
int ph_async_can_replace_client(void);
int ph_async_replace_client(handoff_client *client);
handoff_client *ph_async_retiring_client(void);
void ph_async_wake(void);
int ph_lookup_async(
		sip_msg_t *msg, str *id, str *route, int by_conversation_id);

/* ph_stats.c: every process's counters in shared memory. */
#define PH_SCALARS 15 /* lookups ... connections_http2 */
#define PH_STATUSES (HANDOFF_CANCELLED + 1)
#define PH_LATENCY_BUCKETS 13
/* Slot order: scalars, status.*, latency_le_*, reservation_status.*. */
#define PH_STATUS_FIRST PH_SCALARS
#define PH_LATENCY_FIRST (PH_STATUS_FIRST + PH_STATUSES)
#define PH_RESERVATION_STATUS_FIRST (PH_LATENCY_FIRST + PH_LATENCY_BUCKETS)
#define PH_STAT_COUNT (PH_RESERVATION_STATUS_FIRST + PH_STATUSES)

/* One process's slot as the RPC reads it. */
typedef struct ph_process_view {
	int process; /* process_no */
	int pid;
	ph_role_t role;
	const char *description; /* Kamailio's, as in core.psx */
	unsigned int config_generation;
	int reload_failed;
	unsigned int breaker_generation;
} ph_process_view_t;

int ph_stats_mod_init(void);
int ph_stats_init(void);
void ph_stats_claim(ph_role_t role);
void ph_stats_publish(void);
void ph_stats_retire(handoff_client *client);
void ph_stats_note_reload(unsigned int generation, int failed);
void ph_stats_note_breaker_close(unsigned int generation);
int ph_stats_processes(void);
int ph_stats_read(int process, ph_process_view_t *view);
int ph_stats_read_values(int process, uint64_t *values);
uint64_t ph_stat_value(int process, int index);
int ph_stat_index(const char *name);
const char *ph_stat_name(int index);
const char *ph_role_name(ph_role_t role);

/* ph_rpc.c: polyai_handoff.stats, .reload, .breaker. */
extern rpc_export_t ph_rpc_methods[];
int ph_rpc_mod_init(void);
void ph_control_apply(void);

/* ph_reserve.c */
typedef struct ph_attrs ph_attrs_t;
ph_attrs_t *ph_attrs_parse(str *text);
void ph_attrs_free(ph_attrs_t *attrs);
int ph_reserve_dni(sip_msg_t *msg, str *shared_id, ph_attrs_t *attrs);
int ph_reserve_dni_text(sip_msg_t *msg, str *shared_id, str *text);
int ph_fixup_reserve_dni(void **param, int param_no);
int ph_fixup_free_reserve_dni(void **param, int param_no);

#endif
