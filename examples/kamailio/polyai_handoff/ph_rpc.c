/*
 * RPC commands for operators (kamcmd, kamctl rpc), and how what they ask
 * reaches every process.
 *
 * An RPC runs in whichever process serves it (ctl's; jsonrpcs' FIFO; a SIP
 * worker for jsonrpcs over HTTP), while every SIP worker and async process
 * has a client of its own. So the commands only read shared memory or leave
 * word there:
 *   polyai_handoff.stats    reads every process's slot (ph_stats.c).
 *   polyai_handoff.reload   checks the configuration here first, built as
 *                           at start (config_file read, the environment,
 *                           modparams, a client made from it): an invalid
 *                           one is refused with the reason and changes
 *                           nothing. A valid one bumps the reload
 *                           generation.
 *   polyai_handoff.breaker  the breakers' state; "close" bumps the breaker
 *                           generation.
 * Each process compares the generations with those it applied: a SIP
 * worker before its next lookup (it sleeps in recvfrom() until a request
 * comes), an async process at once (a wake-up in its pipe). On a new reload
 * it reads the configuration again and makes a new client; if that fails
 * there (the file changed meanwhile) it keeps its client and logs why. On a
 * new breaker close it closes its client's breaker. Generations are
 * compared, not counted: a process that missed several applies the last.
 */

#include <stdint.h>
#include <string.h>

#include "../../core/dprint.h"
#include "../../core/rpc.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"

#include "ph_module.h"

typedef struct ph_control {
	unsigned int reload_generation;
	unsigned int breaker_generation;
} ph_control_t;

static ph_control_t *ph_control = NULL;
/* What this process has applied. */
static unsigned int ph_reload_applied = 0;
static unsigned int ph_breaker_applied = 0;

int ph_rpc_mod_init(void)
{
	ph_control = (ph_control_t *)shm_malloc(sizeof(ph_control_t));
	if(ph_control == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(ph_control, 0, sizeof(ph_control_t));
	return 0;
}

static unsigned int ph_generation(unsigned int *generation)
{
	return __atomic_load_n(generation, __ATOMIC_ACQUIRE);
}

/* Before each lookup: what an RPC asked since the last one. */
void ph_control_apply(void)
{
	unsigned int reload, breaker;
	int applied = 0;

	if(ph_control == NULL)
		return;
	reload = ph_generation(&ph_control->reload_generation);
	if(reload != ph_reload_applied && ph_async_can_replace_client()) {
		ph_reload_applied = reload;
		ph_stats_note_reload(reload, ph_client_reload() < 0);
		applied = 1;
	}
	breaker = ph_generation(&ph_control->breaker_generation);
	if(breaker != ph_breaker_applied) {
		ph_breaker_applied = breaker;
		if(ph_client != NULL)
			handoff_client_breaker_reset(ph_client);
		ph_stats_note_breaker_close(breaker);
		applied = 1;
	}
	if(applied)
		ph_stats_publish();
}

/* --------------------------------------------------------------- stats */

/* A counter's field name in its group: "ok" of status.ok, "100" of
 * latency_le_100. */
static const char *ph_field_name(int index)
{
	const char *name = ph_stat_name(index);
	const char *dot = strrchr(name, '.');

	if(dot != NULL)
		return dot + 1;
	if(index >= PH_LATENCY_FIRST && index < PH_RESERVATION_STATUS_FIRST)
		return name + strlen("latency_le_");
	return name;
}

/* One group of counters, indexes first..first+count-1, as a struct named
 * group (NULL: fields of st itself). */
static int ph_rpc_add_group(rpc_t *rpc, void *st, const char *group,
		const uint64_t *values, int first, int count)
{
	void *into = st;
	int i;

	if(group != NULL && rpc->struct_add(st, "{", group, &into) < 0)
		return -1;
	for(i = first; i < first + count; i++)
		if(rpc->struct_add(into, "J", ph_field_name(i),
				   (unsigned long long)values[i])
				< 0)
			return -1;
	return 0;
}

static int ph_rpc_add_values(rpc_t *rpc, void *st, const uint64_t *values)
{
	if(ph_rpc_add_group(rpc, st, NULL, values, 0, PH_SCALARS) < 0
			|| ph_rpc_add_group(rpc, st, "status", values,
					   PH_STATUS_FIRST, PH_STATUSES)
					   < 0
			|| ph_rpc_add_group(rpc, st, "latency_le_ms", values,
					   PH_LATENCY_FIRST, PH_LATENCY_BUCKETS)
					   < 0
			|| ph_rpc_add_group(rpc, st, "reservation_status", values,
					   PH_RESERVATION_STATUS_FIRST, PH_STATUSES)
					   < 0)
		return -1;
	return 0;
}

static const char *ph_config_state(const ph_process_view_t *view)
{
	if(view->config_generation != ph_generation(&ph_control->reload_generation))
		return "reload pending";
	return view->reload_failed ? "reload failed" : "current";
}

static const char *ph_breaker_state(const ph_process_view_t *view)
{
	static int breaker_open = -1;

	if(breaker_open < 0)
		breaker_open = ph_stat_index("breaker_open");
	if(ph_stat_value(view->process, breaker_open) == 0)
		return "closed";
	if(view->breaker_generation != ph_generation(&ph_control->breaker_generation))
		return "closing";
	return "open";
}

/* process, pid, role, description, config and breaker states. */
static int ph_rpc_add_process(
		rpc_t *rpc, void *st, const ph_process_view_t *view)
{
	return rpc->struct_add(st, "ddssss", "process", view->process, "pid",
			view->pid, "role", ph_role_name(view->role), "description",
			view->description, "config", ph_config_state(view), "breaker",
			ph_breaker_state(view));
}

static const char *ph_rpc_stats_doc[] = {
		"Lookups, statuses, latency buckets, breaker, in flight and cache of"
		" every process with a client, and their sum.",
		0};

static void ph_rpc_stats(rpc_t *rpc, void *ctx)
{
	uint64_t total[PH_STAT_COUNT], *values;
	ph_process_view_t *views;
	void *top, *st, *list, *entry;
	int count = ph_stats_processes() > 0 ? ph_stats_processes() : 1;
	int p, i, n = 0;

	/* Each slot read once, so that the processes add up to the total. */
	views = (ph_process_view_t *)pkg_malloc(count * sizeof(ph_process_view_t));
	values = (uint64_t *)pkg_malloc(count * PH_STAT_COUNT * sizeof(uint64_t));
	if(views == NULL || values == NULL) {
		PKG_MEM_ERROR;
		rpc->fault(ctx, 500, "out of memory");
		goto done;
	}
	memset(total, 0, sizeof(total));
	for(p = 0; p < ph_stats_processes(); p++) {
		if(ph_stats_read(p, &views[n]) < 0
				|| ph_stats_read_values(p, &values[n * PH_STAT_COUNT]) < 0)
			continue;
		for(i = 0; i < PH_STAT_COUNT; i++)
			total[i] += values[n * PH_STAT_COUNT + i];
		n++;
	}
	if(rpc->add(ctx, "{", &top) < 0
			|| rpc->struct_add(top, "{", "total", &st) < 0
			|| rpc->struct_add(st, "d", "processes", n) < 0
			|| ph_rpc_add_values(rpc, st, total) < 0
			|| rpc->struct_add(top, "[", "per_process", &list) < 0)
		goto fault;
	for(p = 0; p < n; p++) {
		if(rpc->array_add(list, "{", &entry) < 0
				|| ph_rpc_add_process(rpc, entry, &views[p]) < 0
				|| ph_rpc_add_values(rpc, entry, &values[p * PH_STAT_COUNT])
						   < 0)
			goto fault;
	}
	goto done;

fault:
	rpc->fault(ctx, 500, "cannot build the reply");
done:
	if(views != NULL)
		pkg_free(views);
	if(values != NULL)
		pkg_free(values);
}

/* -------------------------------------------------------------- reload */

static const char *ph_rpc_reload_doc[] = {
		"Reads config_file again and makes a new client in every process,"
		" each before its next lookup; an invalid configuration is refused"
		" with the reason, and nothing changes.",
		0};

static void ph_rpc_reload(rpc_t *rpc, void *ctx)
{
	char why[PH_WHY_MAX];
	handoff_config *config;
	handoff_client *client;
	unsigned int generation;
	ph_process_view_t view;
	int p, processes = 0;
	void *st;

	if(ph_config_file == NULL || ph_config_file[0] == '\0') {
		rpc->fault(ctx, 500, "no config_file modparam: nothing to read again");
		return;
	}
	config = ph_config_build(&client, why, sizeof(why));
	if(config == NULL) {
		LM_ERR("reload refused: %s\n", why);
		rpc->fault(ctx, 500, "reload refused, nothing changed: %s", why);
		return;
	}
	handoff_client_free(client);
	handoff_config_free(config);
	generation = __atomic_add_fetch(
			&ph_control->reload_generation, 1, __ATOMIC_ACQ_REL);
	ph_async_wake();
	for(p = 0; p < ph_stats_processes(); p++)
		if(ph_stats_read(p, &view) == 0)
			processes++;
	LM_INFO("reload %u accepted: %s\n", generation, ph_config_file);
	if(rpc->add(ctx, "{", &st) < 0
			|| rpc->struct_add(st, "sdd", "config_file", ph_config_file,
					   "generation", (int)generation, "processes", processes)
					   < 0)
		rpc->fault(ctx, 500, "cannot build the reply");
}

/* ------------------------------------------------------------- breaker */

static const char *ph_rpc_breaker_doc[] = {
		"The circuit breaker of every process: closed, open, or closing (at"
		" its next lookup). With \"close\": closes every one by hand, each"
		" before its next lookup.",
		0};

static void ph_rpc_breaker(rpc_t *rpc, void *ctx)
{
	char *action = NULL;
	ph_process_view_t view;
	const char *state;
	int p, open = 0, closing = 0, processes = 0;
	void *st, *list, *entry;

	if(rpc->scan(ctx, "*s", &action) == 1) {
		if(strcmp(action, "close") != 0) {
			rpc->fault(ctx, 400, "unknown action [%s]: \"close\", or none to"
								 " show the state",
					action);
			return;
		}
		__atomic_add_fetch(&ph_control->breaker_generation, 1, __ATOMIC_ACQ_REL);
		ph_async_wake();
		LM_INFO("circuit breakers closed by RPC\n");
	}
	for(p = 0; p < ph_stats_processes(); p++) {
		if(ph_stats_read(p, &view) < 0)
			continue;
		processes++;
		state = ph_breaker_state(&view);
		open += strcmp(state, "open") == 0;
		closing += strcmp(state, "closing") == 0;
	}
	state = open > 0 ? "open" : closing > 0 ? "closing" : "closed";
	if(rpc->add(ctx, "{", &st) < 0
			|| rpc->struct_add(st, "sddd[", "state", state, "open", open,
					   "closing", closing, "processes", processes, "per_process",
					   &list)
					   < 0) {
		rpc->fault(ctx, 500, "cannot build the reply");
		return;
	}
	for(p = 0; p < ph_stats_processes(); p++) {
		if(ph_stats_read(p, &view) < 0)
			continue;
		if(rpc->array_add(list, "{", &entry) < 0
				|| ph_rpc_add_process(rpc, entry, &view) < 0) {
			rpc->fault(ctx, 500, "cannot build the reply");
			return;
		}
	}
}

/* clang-format off */
rpc_export_t ph_rpc_methods[] = {
	{"polyai_handoff.stats",   ph_rpc_stats,   ph_rpc_stats_doc,   0},
	{"polyai_handoff.reload",  ph_rpc_reload,  ph_rpc_reload_doc,  0},
	{"polyai_handoff.breaker", ph_rpc_breaker, ph_rpc_breaker_doc, 0},
	{0, 0, 0, 0}
};
/* clang-format on */
