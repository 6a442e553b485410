/*
 * Statistics of every process in one place. Each process has its own
 * client and so its own library counters; the RPC runs in another process
 * (ctl's, jsonrpcs'), which cannot ask a worker's client. So each process
 * copies its counters into its own slot of a shared memory table, indexed
 * by process_no, after every lookup, reservation or batch of completions
 * (handoff_client_stats: a few microseconds), and readers sum the slots.
 * One writer per slot, so no lock: atomics so that no value is torn, and a
 * sequence count so that a reader takes one process's values all from the
 * same copy (lookups and status.* agree).
 *
 * A client replaced by a reload starts its counters at 0: its last values
 * are kept in the slot's process as a base, so that counts never go back.
 * Gauges (breaker_open, in_flight) are the current client's only.
 *
 * The sums are also Kamailio counters, group polyai_handoff (counters read
 * through a callback: kamcmd stats.get_statistics all, cnt.grp_get_all).
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/pt.h"
#include "../../core/counters.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"

#include "ph_module.h"

/* The header's latency buckets: latency_le_<ms>. */
static const int ph_latency_ms[PH_LATENCY_BUCKETS] = {
		1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

/* The library's names (handoff_stats_get), in slot order: these scalars,
 * then status.<name>, latency_le_<ms>, reservation_status.<name>. */
static const char *const ph_scalar_names[PH_SCALARS] = {"lookups",
		"requests", "retries", "cache_hits", "shared", "breaker_opened",
		"breaker_open", "in_flight", "rejected_in_flight", "latency_us_sum",
		"reservations", "reservation_requests", "connections",
		"connections_http1", "connections_http2"};

/* Longest name built below: "reservation_status." + a status name. */
#define PH_STAT_NAME_MAX 64

static char ph_names[PH_STAT_COUNT][PH_STAT_NAME_MAX];
/* The same with '_' for '.', as Kamailio counters are named. */
static char ph_counter_names[PH_STAT_COUNT][PH_STAT_NAME_MAX];

typedef struct ph_slot {
	int pid; /* 0 until the process has a client */
	int role; /* ph_role_t */
	unsigned int config_generation; /* the last reload it applied */
	int reload_failed;				/* its re-read of that reload failed */
	unsigned int breaker_generation; /* the last breaker close it applied */
	unsigned int sequence; /* odd while the values are being written */
	uint64_t values[PH_STAT_COUNT];
} ph_slot_t;

/* A reader that keeps finding the values being written (their writer died
 * halfway, or is very slow) takes them as they are after this many tries. */
#define PH_READ_TRIES 1000

static ph_slot_t *ph_slots = NULL;
static int ph_slot_count = 0;

/* This process's counters of clients it has freed (see above). */
static uint64_t ph_retired[PH_STAT_COUNT];

/* breaker_open and in_flight: a state now, not a count. */
static int ph_gauge[PH_STAT_COUNT];

const char *ph_stat_name(int index)
{
	return index >= 0 && index < PH_STAT_COUNT ? ph_names[index] : NULL;
}

static counter_val_t ph_counter_value(counter_handle_t handle, void *param)
{
	int index = (int)(long)param;
	uint64_t sum = 0;
	int p;

	(void)handle;
	for(p = 0; p < ph_slot_count; p++)
		sum += ph_stat_value(p, index);
	return (counter_val_t)sum;
}

/* Names, and the Kamailio counters: before the fork (mod_init). */
int ph_stats_mod_init(void)
{
	int i, n = 0;
	char *c;

	for(i = 0; i < PH_SCALARS; i++)
		snprintf(ph_names[n++], PH_STAT_NAME_MAX, "%s", ph_scalar_names[i]);
	for(i = 0; i < PH_STATUSES; i++)
		snprintf(ph_names[n++], PH_STAT_NAME_MAX, "status.%s",
				handoff_status_name((handoff_status)i));
	for(i = 0; i < PH_LATENCY_BUCKETS; i++)
		snprintf(ph_names[n++], PH_STAT_NAME_MAX, "latency_le_%d",
				ph_latency_ms[i]);
	for(i = 0; i < PH_STATUSES; i++)
		snprintf(ph_names[n++], PH_STAT_NAME_MAX, "reservation_status.%s",
				handoff_status_name((handoff_status)i));
	for(i = 0; i < PH_STAT_COUNT; i++) {
		ph_gauge[i] = strcmp(ph_names[i], "breaker_open") == 0
					  || strcmp(ph_names[i], "in_flight") == 0;
		memcpy(ph_counter_names[i], ph_names[i], PH_STAT_NAME_MAX);
		for(c = ph_counter_names[i]; *c != '\0'; c++)
			if(*c == '.')
				*c = '_';
		if(counter_register(NULL, "polyai_handoff", ph_counter_names[i],
				   CNT_F_NO_RESET, ph_counter_value, (void *)(long)i,
				   "libpolyai_handoff's counter of that name, every process"
				   " summed (polyai_handoff.h, statistics)",
				   0)
				< 0) {
			LM_ERR("cannot register the counter %s\n", ph_counter_names[i]);
			return -1;
		}
	}
	return 0;
}

/* The table, once every module has registered its processes
 * (child_init(PROC_INIT), before any fork). */
int ph_stats_init(void)
{
	size_t size;

	if(ph_slots != NULL)
		return 0;
	ph_slot_count = get_max_procs();
	size = (size_t)ph_slot_count * sizeof(ph_slot_t);
	ph_slots = (ph_slot_t *)shm_malloc(size);
	if(ph_slots == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(ph_slots, 0, size);
	return 0;
}

static ph_slot_t *ph_own_slot(void)
{
	if(ph_slots == NULL || process_no < 0 || process_no >= ph_slot_count)
		return NULL;
	return &ph_slots[process_no];
}

void ph_stats_claim(ph_role_t role)
{
	ph_slot_t *slot = ph_own_slot();

	if(slot == NULL)
		return;
	__atomic_store_n(&slot->role, (int)role, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pid, my_pid(), __ATOMIC_RELEASE);
}

/* Copies one client's counters into values (added), gauges too unless
 * counters_only. */
static void ph_stats_add(handoff_client *client, uint64_t *values, int counters_only)
{
	handoff_stats *stats;
	int i;

	if(client == NULL || (stats = handoff_client_stats(client)) == NULL)
		return;
	for(i = 0; i < PH_STAT_COUNT; i++)
		if(!counters_only || !ph_gauge[i])
			values[i] += handoff_stats_get(stats, ph_names[i]);
	handoff_stats_free(stats);
}

void ph_stats_publish(void)
{
	handoff_client *retiring = ph_async_retiring_client();
	ph_slot_t *slot = ph_own_slot();
	uint64_t values[PH_STAT_COUNT];
	int i;

	if(slot == NULL || ph_client == NULL)
		return;
	memcpy(values, ph_retired, sizeof(values));
	ph_stats_add(ph_client, values, 0);
	/* A retiring client's lookups still complete: its counts, not its
	 * gauges (in_flight is process-wide, breaker_open no longer matters). */
	ph_stats_add(retiring, values, 1);
	__atomic_store_n(&slot->sequence, slot->sequence + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for(i = 0; i < PH_STAT_COUNT; i++)
		__atomic_store_n(&slot->values[i], values[i], __ATOMIC_RELAXED);
	__atomic_store_n(&slot->sequence, slot->sequence + 1, __ATOMIC_RELEASE);
}

void ph_stats_retire(handoff_client *client)
{
	ph_stats_add(client, ph_retired, 1);
}

void ph_stats_note_reload(unsigned int generation, int failed)
{
	ph_slot_t *slot = ph_own_slot();

	if(slot == NULL)
		return;
	__atomic_store_n(&slot->reload_failed, failed, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->config_generation, generation, __ATOMIC_RELEASE);
}

void ph_stats_note_breaker_close(unsigned int generation)
{
	ph_slot_t *slot = ph_own_slot();

	if(slot != NULL)
		__atomic_store_n(&slot->breaker_generation, generation, __ATOMIC_RELEASE);
}

/* ----------------------------------------------------------- readers */

int ph_stats_processes(void)
{
	return ph_slot_count;
}

int ph_stats_read(int process, ph_process_view_t *view)
{
	ph_slot_t *slot;

	if(ph_slots == NULL || process < 0 || process >= ph_slot_count)
		return -1;
	slot = &ph_slots[process];
	view->pid = __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE);
	if(view->pid == 0)
		return -1;
	view->process = process;
	view->role = (ph_role_t)__atomic_load_n(&slot->role, __ATOMIC_RELAXED);
	view->config_generation =
			__atomic_load_n(&slot->config_generation, __ATOMIC_ACQUIRE);
	view->reload_failed =
			__atomic_load_n(&slot->reload_failed, __ATOMIC_RELAXED);
	view->breaker_generation =
			__atomic_load_n(&slot->breaker_generation, __ATOMIC_ACQUIRE);
	view->description = pt != NULL ? pt[process].desc : "";
	return 0;
}

int ph_stats_read_values(int process, uint64_t *values)
{
	ph_slot_t *slot;
	unsigned int before, after;
	int i, tries;

	if(ph_slots == NULL || process < 0 || process >= ph_slot_count)
		return -1;
	slot = &ph_slots[process];
	for(tries = 0; tries < PH_READ_TRIES; tries++) {
		before = __atomic_load_n(&slot->sequence, __ATOMIC_ACQUIRE);
		for(i = 0; i < PH_STAT_COUNT; i++)
			values[i] = __atomic_load_n(&slot->values[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = __atomic_load_n(&slot->sequence, __ATOMIC_RELAXED);
		if(before == after && (before & 1) == 0)
			break;
	}
	return 0;
}

uint64_t ph_stat_value(int process, int index)
{
	if(ph_slots == NULL || process < 0 || process >= ph_slot_count
			|| index < 0 || index >= PH_STAT_COUNT
			|| __atomic_load_n(&ph_slots[process].pid, __ATOMIC_ACQUIRE) == 0)
		return 0;
	return __atomic_load_n(&ph_slots[process].values[index], __ATOMIC_RELAXED);
}

int ph_stat_index(const char *name)
{
	int i;

	for(i = 0; i < PH_STAT_COUNT; i++)
		if(strcmp(ph_names[i], name) == 0)
			return i;
	return -1;
}

const char *ph_role_name(ph_role_t role)
{
	switch(role) {
		case PH_ROLE_SIP_WORKER:
			return "sip worker";
		case PH_ROLE_ASYNC:
			return "async";
		default:
			return "other";
	}
}
