/*
 * Asynchronous lookups: polyai_handoff_lookup_async(id, "ROUTE") suspends
 * the transaction (tm's t_suspend) and hands the lookup to one of the
 * module's async processes; the SIP worker goes on with the next request.
 * When the lookup completes, that process resumes the transaction
 * (t_continue) in route[ROUTE] (or a KEMI function), after applying the
 * result to the request exactly as the synchronous lookup does.
 *
 * Kamailio's memory, logging and tm are not thread safe, so nothing of
 * Kamailio runs on a library thread: each async process owns a client and
 * a handoff_queue (made after the fork: queues and their I/O thread do not
 * survive one), polls the queue's descriptor and takes completions with
 * handoff_queue_next() on its own thread, where the library's log lines of
 * queued lookups arrive too. This is how Kamailio's async and
 * http_async_client modules are built: processes registered in mod_init,
 * forked in child_init(PROC_MAIN), jobs in shared memory.
 *
 * Jobs travel over one pipe per async process, made before the fork. A pipe
 * rather than a datagram socketpair: a write of one pointer is atomic
 * (<= PIPE_BUF) and a pipe holds 8192 of them by default, where a unix
 * socket charges each datagram's whole buffer to its send buffer and holds
 * 278 (Debian 12's defaults), so a burst does not fail calls while the
 * async process waits for a CPU.
 *
 * A reload (polyai_handoff.reload) gives the async process a new client and
 * queue before its next job; the old pair stays until every lookup queued
 * on it has completed and resumed its call, then is freed.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/sr_module.h"
#include "../../core/dprint.h"
#include "../../core/pt.h"
#include "../../core/route.h"
#include "../../core/receive.h"
#include "../../core/script_cb.h"
#include "../../core/daemonize.h"
#include "../../core/kemi.h"
#include "../../core/cfg/cfg_struct.h"
#include "../../core/mem/mem.h"
#include "../../core/mem/shm_mem.h"
#include "../../modules/tm/tm_load.h"

#include "ph_module.h"

int ph_async_workers = 1;
int ph_async_max_pending = 4096;

/* A SIP worker writes a job to a pipe before it suspends the transaction,
 * so that a full pipe fails the call with nothing to undo; then it marks
 * the job SUSPENDED or ABANDONED and never touches it again. A job that
 * completes while still HANDED is held by the async process until the
 * worker has marked it: a transaction is never resumed before it is
 * suspended. The async process frees every job it received, once. */
enum { PH_JOB_HANDED = 0, PH_JOB_SUSPENDED, PH_JOB_ABANDONED };

typedef struct ph_job {
	int state; /* PH_JOB_*, atomic */
	unsigned int tindex;
	unsigned int tlabel;
	int by_conversation_id;
	int route;				/* index in main_rt; -1: the KEMI function fn */
	str fn;					/* in this block */
	handoff_result *result; /* the async process's: the completion */
	handoff_status status;	/* with result NULL: refused by the library */
	struct ph_job *next;	/* the async process's held list */
	char id[];				/* NUL-terminated, then fn */
} ph_job_t;

static int ph_async_on = 0;
static struct tm_binds ph_tmb;
/* Jobs handed over and not yet freed, all async processes together. */
static int *ph_pending = NULL;
/* [i][0] read by async process i, [i][1] written by SIP workers. */
static int (*ph_pipes)[2] = NULL;

/* The async process's own: its queue, with the lookups admitted to it and
 * not yet taken; and, after a reload, the queue of the client it replaced,
 * kept with that client until its lookups have completed. */
static int ph_in_async_process = 0;
static handoff_queue *ph_queue = NULL;
static int ph_queue_outstanding = 0;
static struct
{
	handoff_client *client;
	handoff_queue *queue;
	int outstanding;
} ph_retiring = {NULL, NULL, 0};
static ph_job_t *ph_held = NULL;
static struct
{
	ph_job_t *job;
	int applied;
} ph_resuming = {NULL, 0};

static int ph_async_resume_cb(sip_msg_t *msg, unsigned int flags, void *param);
static void ph_async_run(int index);

int ph_async_enabled(void)
{
	return ph_async_on;
}

int ph_async_in_process(void)
{
	return ph_in_async_process;
}

/* One replaced client drains at a time: a second reload waits for it
 * (timeout_ms at most), and is applied as soon as it is freed. */
int ph_async_can_replace_client(void)
{
	return ph_retiring.queue == NULL;
}

handoff_client *ph_async_retiring_client(void)
{
	return ph_retiring.client;
}

/* A new queue for the reloaded client; the old pair drains (its
 * completions still resume their calls), then is freed. */
int ph_async_replace_client(handoff_client *client)
{
	handoff_status status = HANDOFF_OK;
	handoff_queue *queue = handoff_queue_new(client, &status);

	if(queue == NULL) {
		LM_ERR("reload: no queue for the new client: %s; the configuration"
			   " in use stays\n",
				handoff_status_name(status));
		return -1;
	}
	ph_retiring.client = ph_client;
	ph_retiring.queue = ph_queue;
	ph_retiring.outstanding = ph_queue_outstanding;
	ph_queue = queue;
	ph_queue_outstanding = 0;
	return 0;
}

/* The replaced pair, once nothing of it is outstanding. */
static void ph_async_free_retired(void)
{
	if(ph_retiring.queue == NULL || ph_retiring.outstanding > 0)
		return;
	ph_stats_retire(ph_retiring.client);
	handoff_queue_free(ph_retiring.queue);
	handoff_client_free(ph_retiring.client);
	ph_retiring.client = NULL;
	ph_retiring.queue = NULL;
}

/* ------------------------------------------------------------- mod_init */

int ph_async_mod_init(void)
{
	int i, size;

	if(ph_async_max_pending < 1) {
		LM_ERR("async_max_pending must be at least 1\n");
		return -1;
	}
	if(ph_async_workers < 0) {
		LM_ERR("async_workers must not be negative\n");
		return -1;
	}
	if(ph_async_workers == 0)
		return 0;
	if(!module_loaded("tm")) {
		LM_INFO("no tm module: asynchronous lookups disabled\n");
		return 0;
	}
	if(load_tm_api(&ph_tmb) < 0) {
		LM_ERR("cannot bind the tm module\n");
		return -1;
	}
	ph_pending = (int *)shm_malloc(sizeof(int));
	ph_pipes = pkg_malloc(ph_async_workers * sizeof(ph_pipes[0]));
	if(ph_pending == NULL || ph_pipes == NULL) {
		LM_ERR("out of memory\n");
		return -1;
	}
	*ph_pending = 0;
	/* Room for every pending job in each pipe, if the kernel allows. */
	size = ph_async_max_pending > (1 << 24) / (int)sizeof(ph_job_t *)
				   ? (1 << 24)
				   : ph_async_max_pending * (int)sizeof(ph_job_t *);
	for(i = 0; i < ph_async_workers; i++) {
		if(pipe2(ph_pipes[i], O_NONBLOCK | O_CLOEXEC) < 0) {
			LM_ERR("pipe: %s\n", strerror(errno));
			return -1;
		}
		if(size > 65536 && fcntl(ph_pipes[i][1], F_SETPIPE_SZ, size) < 0)
			LM_WARN("a pipe of %d bytes for %d async jobs: %s; above 8192"
					" jobs waiting to be read calls fail with unavailable\n",
					size, ph_async_max_pending, strerror(errno));
	}
	if(register_script_cb(ph_async_resume_cb, PRE_SCRIPT_CB | FAILURE_CB, 0)
			< 0) {
		LM_ERR("cannot register the resume callback\n");
		return -1;
	}
	register_procs(ph_async_workers);
	cfg_register_child(ph_async_workers);
	ph_async_on = 1;
	return 0;
}

/* Main forks the async processes once the SIP workers run. */
int ph_async_child_init(int rank)
{
	int i, pid;

	if(!ph_async_on || rank != PROC_MAIN)
		return 0;
	for(i = 0; i < ph_async_workers; i++) {
		pid = fork_process(PROC_RPC, "PolyAI Handoff Async Worker", 1);
		if(pid < 0)
			return -1;
		if(pid == 0) {
			if(cfg_child_init())
				ksr_exit(-1);
			ph_async_run(i);
			ksr_exit(-1);
		}
	}
	return 0;
}

/* ------------------------------------------------------ the SIP worker */

/* route[name]'s index in main_rt, or -1. */
static int ph_route_index(str *name)
{
	char buf[128];
	int ri;

	if(name->len <= 0 || name->len >= (int)sizeof(buf))
		return -1;
	memcpy(buf, name->s, name->len);
	buf[name->len] = '\0';
	ri = route_lookup(&main_rt, buf);
	if(ri < 0 || main_rt.rlist[ri] == NULL)
		return -1;
	return ri;
}

/* Writes the job's address to an async process's pipe, the next one in
 * turn, trying each once. Never blocks. */
static int ph_async_hand_over(ph_job_t *job)
{
	static unsigned int next = 0;
	unsigned int i, w;
	ssize_t n;

	for(i = 0; i < (unsigned int)ph_async_workers; i++) {
		w = (next + i) % (unsigned int)ph_async_workers;
		do {
			n = write(ph_pipes[w][1], &job, sizeof(job));
		} while(n < 0 && errno == EINTR);
		if(n == (ssize_t)sizeof(job)) {
			next = w + 1;
			return 0;
		}
	}
	return -1;
}

/* Makes every async process take what an RPC asked (ph_control_apply) now
 * rather than at its next job: a NULL job in its pipe. A full pipe needs
 * none, its process is busy. Any process may call it (the pipes' write
 * ends are inherited). */
void ph_async_wake(void)
{
	ph_job_t *none = NULL;
	ssize_t n;
	int i;

	if(!ph_async_on)
		return;
	for(i = 0; i < ph_async_workers; i++) {
		do {
			n = write(ph_pipes[i][1], &none, sizeof(none));
		} while(n < 0 && errno == EINTR);
	}
}

/* Not handed over: the call is routed now, as after a failed lookup. */
static int ph_async_fail_fast(sip_msg_t *msg, str *id, const char *why)
{
	static time_t last = 0;
	time_t now = time(NULL);

	/* At most one line a second per process: this happens under overload. */
	if(now != last) {
		last = now;
		LM_WARN("lookup of [%.*s] failed fast with unavailable: %s\n",
				id->len, id->s, why);
	}
	if(ph_apply_status(msg, HANDOFF_UNAVAILABLE) < 0)
		return PH_RC_INTERNAL;
	return -(int)HANDOFF_UNAVAILABLE;
}

static void ph_job_settle(ph_job_t *job, int state)
{
	__atomic_store_n(&job->state, state, __ATOMIC_RELEASE);
}

/* 0: suspended, the script stops; route[route] runs when the lookup
 * completes. Else nothing was suspended and the script goes on: -11 when
 * the lookup could not be handed over (async_max_pending, every pipe full;
 * the status header and handoff_status say unavailable), PH_RC_INTERNAL
 * when the module failed or is misused. */
int ph_lookup_async(sip_msg_t *msg, str *id, str *route, int by_conversation_id)
{
	tm_cell_t *t;
	ph_job_t *job;
	unsigned int tindex, tlabel;
	int ri = -1, rc;
	size_t size;

	if(msg == NULL || id == NULL || id->len < 0 || route == NULL
			|| route->s == NULL || route->len <= 0) {
		LM_ERR("an id and a route are needed\n");
		return PH_RC_INTERNAL;
	}
	if(!ph_async_on) {
		LM_ERR("asynchronous lookups need the tm module and async_workers"
			   " >= 1\n");
		return PH_RC_INTERNAL;
	}
	if(get_route_type() != REQUEST_ROUTE
			|| msg->first_line.type != SIP_REQUEST) {
		LM_ERR("asynchronous lookups run in request_route only\n");
		return PH_RC_INTERNAL;
	}
	if(sr_kemi_eng_get() == NULL && (ri = ph_route_index(route)) < 0) {
		LM_ERR("no route[%.*s]\n", route->len, route->s);
		return PH_RC_INTERNAL;
	}
	/* A reload's header_prefix, for a fast failure's status header. */
	ph_control_apply();

	t = ph_tmb.t_gett();
	if(t == NULL || t == T_UNDEFINED) {
		rc = ph_tmb.t_newtran(msg);
		if(rc == 0)
			return 0; /* a retransmission: tm has absorbed it */
		t = ph_tmb.t_gett();
		if(rc < 0 || t == NULL || t == T_UNDEFINED) {
			LM_ERR("cannot create the transaction\n");
			return PH_RC_INTERNAL;
		}
	}

	if(__atomic_add_fetch(ph_pending, 1, __ATOMIC_SEQ_CST)
			> ph_async_max_pending) {
		__atomic_sub_fetch(ph_pending, 1, __ATOMIC_SEQ_CST);
		return ph_async_fail_fast(msg, id, "async_max_pending reached");
	}
	size = sizeof(ph_job_t) + (size_t)id->len + 1 + (size_t)route->len + 1;
	job = (ph_job_t *)shm_malloc(size);
	if(job == NULL) {
		__atomic_sub_fetch(ph_pending, 1, __ATOMIC_SEQ_CST);
		SHM_MEM_ERROR;
		return PH_RC_INTERNAL;
	}
	memset(job, 0, sizeof(ph_job_t));
	job->state = PH_JOB_HANDED;
	job->tindex = t->hash_index;
	job->tlabel = t->label;
	job->by_conversation_id = by_conversation_id;
	job->route = ri;
	if(id->len > 0)
		memcpy(job->id, id->s, id->len);
	job->id[id->len] = '\0';
	job->fn.s = job->id + id->len + 1;
	job->fn.len = route->len;
	memcpy(job->fn.s, route->s, route->len);
	job->fn.s[route->len] = '\0';

	if(ph_async_hand_over(job) < 0) {
		shm_free(job);
		__atomic_sub_fetch(ph_pending, 1, __ATOMIC_SEQ_CST);
		return ph_async_fail_fast(
				msg, id, "every async process's pipe is full");
	}
	/* From here the async process owns the job; this worker only marks it. */
	rc = ph_tmb.t_suspend(msg, &tindex, &tlabel);
	if(rc == 0) {
		ph_job_settle(job, PH_JOB_SUSPENDED);
		return 0;
	}
	ph_job_settle(job, PH_JOB_ABANDONED);
	if(rc == 1)
		return 0; /* already cancelled: tm has answered 487 */
	LM_ERR("cannot suspend the transaction (%d)\n", rc);
	return PH_RC_INTERNAL;
}

/* ---------------------------------------------------- the async process */

/* Runs before the resumed route (t_continue runs it as a failure route, with
 * the transaction's request and xavps in place): the result goes on the
 * request as the synchronous lookup puts it. Only for the job being
 * resumed, once. */
static int ph_async_resume_cb(sip_msg_t *msg, unsigned int flags, void *param)
{
	ph_job_t *job = ph_resuming.job;
	tm_cell_t *t;

	(void)flags;
	(void)param;
	if(job == NULL || ph_resuming.applied)
		return 1;
	t = ph_tmb.t_gett();
	if(t == NULL || t == T_UNDEFINED || t->hash_index != job->tindex
			|| t->label != job->tlabel)
		return 1;
	ph_resuming.applied = 1;
	if(job->result != NULL)
		ph_apply_result(msg, job->result);
	else
		ph_apply_status(msg, job->status);
	return 1;
}

/* 1 when the route ran. t_continue does nothing (and says why at debug
 * level) for a transaction that is gone, was cancelled, or whose fr_timer
 * fired: then the route does not run. */
static int ph_async_resume(ph_job_t *job)
{
	static str evname = str_init("polyai_handoff:resume");
	int applied;

	ph_resuming.job = job;
	ph_resuming.applied = 0;
	if(job->route >= 0)
		ph_tmb.t_continue(
				job->tindex, job->tlabel, main_rt.rlist[job->route]);
	else
		ph_tmb.t_continue_cb(job->tindex, job->tlabel, &job->fn, &evname);
	ksr_msg_env_reset();
	applied = ph_resuming.applied;
	ph_resuming.job = NULL;
	return applied;
}

static void ph_async_finish(ph_job_t *job)
{
	int state = __atomic_load_n(&job->state, __ATOMIC_ACQUIRE);
	int resumed = state == PH_JOB_SUSPENDED && ph_async_resume(job);
	handoff_status status = job->result != NULL
									? handoff_result_status(job->result)
									: job->status;

	handoff_result_free(job->result);
	__atomic_sub_fetch(ph_pending, 1, __ATOMIC_SEQ_CST);
	/* Once the count is down: who reads the line may count on the slot. */
	if(state == PH_JOB_SUSPENDED && !resumed)
		LM_INFO("lookup of [%s] completed (%s) after its call ended (a CANCEL,"
				" or tm's fr_timer: keep timeout_ms below it): not resumed\n",
				job->id, handoff_status_name(status));
	shm_free(job);
}

static void ph_async_complete(
		ph_job_t *job, handoff_result *r, handoff_status status)
{
	job->result = r;
	job->status = status;
	if(__atomic_load_n(&job->state, __ATOMIC_ACQUIRE) == PH_JOB_HANDED) {
		job->next = ph_held;
		ph_held = job;
		return;
	}
	ph_async_finish(job);
}

static void ph_async_retry_held(void)
{
	ph_job_t *job = ph_held, *next;

	ph_held = NULL;
	for(; job != NULL; job = next) {
		next = job->next;
		if(__atomic_load_n(&job->state, __ATOMIC_ACQUIRE) == PH_JOB_HANDED) {
			job->next = ph_held;
			ph_held = job;
		} else {
			ph_async_finish(job);
		}
	}
}

static void ph_async_submit(ph_job_t *job)
{
	uint64_t tag = (uint64_t)(uintptr_t)job;
	handoff_status status;

	/* timeout 0: the client's timeout_ms, which must stay below fr_timer. */
	status = job->by_conversation_id
					 ? handoff_queue_lookup_id(ph_queue, job->id, 0, tag)
					 : handoff_queue_lookup(ph_queue, job->id, 0, tag);
	if(status == HANDOFF_OK)
		ph_queue_outstanding++;
	else
		ph_async_complete(job, NULL, status);
}

/* Reads every job waiting in the pipe. Each write is one whole pointer;
 * a read that ends inside one keeps the start for the next. */
static void ph_async_receive(int fd)
{
	static unsigned char carry[sizeof(ph_job_t *)];
	static size_t carried = 0;
	unsigned char buf[64 * sizeof(ph_job_t *)];
	ph_job_t *job;
	size_t total, i, count;
	ssize_t n;

	for(;;) {
		memcpy(buf, carry, carried);
		n = read(fd, buf + carried, sizeof(buf) - carried);
		if(n < 0 && errno == EINTR)
			continue;
		if(n <= 0) {
			if(n < 0 && errno != EAGAIN)
				LM_ERR("reading jobs: %s\n", strerror(errno));
			return;
		}
		total = carried + (size_t)n;
		count = total / sizeof(job);
		carried = total % sizeof(job);
		memcpy(carry, buf + count * sizeof(job), carried);
		for(i = 0; i < count; i++) {
			memcpy(&job, buf + i * sizeof(job), sizeof(job));
			/* NULL: ph_async_wake(), nothing to look up. */
			if(job != NULL)
				ph_async_submit(job);
		}
	}
}

/* Which count a result of queue comes off: asked per result, because a
 * resumed route may look something up, and that applies a pending reload
 * (ph_control_apply), which makes the queue being drained the retiring
 * one. A count captured before would then count down the new queue's, and
 * the replaced client would never be freed. */
static int *ph_outstanding_of(handoff_queue *queue)
{
	return queue == ph_retiring.queue ? &ph_retiring.outstanding
									  : &ph_queue_outstanding;
}

static void ph_async_take_completions(handoff_queue *queue)
{
	handoff_result *r;
	uint64_t tag = 0;
	int published = 0;

	if(queue == NULL)
		return;
	while((r = handoff_queue_next(queue, &tag)) != NULL) {
		/* Before the first call resumes: the library counted every result
		 * it has queued, and an operator reading the stats once a call has
		 * been answered finds it counted. */
		if(!published) {
			ph_stats_publish();
			published = 1;
		}
		(*ph_outstanding_of(queue))--;
		ph_async_complete(
				(ph_job_t *)(uintptr_t)tag, r, handoff_result_status(r));
	}
}

static void ph_async_run(int index)
{
	/* The jobs' pipe, the queue, a replaced client's queue. */
	struct pollfd fds[3];
	handoff_status status = HANDOFF_OK;
	int i, n;

	ph_in_async_process = 1;
	if(ph_client_create(PH_ROLE_ASYNC) < 0)
		return;
	ph_queue = handoff_queue_new(ph_client, &status);
	if(ph_queue == NULL) {
		LM_ERR("no queue: %s\n", handoff_status_name(status));
		return;
	}
	/* With the queue made, the warm-up covers the I/O thread's connection
	 * (over HTTP/2 every queued lookup of this process shares it). Jobs
	 * wait in the pipe meanwhile, at most timeout_ms. */
	if(ph_warm)
		(void)handoff_client_warm(ph_client, 0);
	fds[0].fd = ph_pipes[index][0];
	LM_INFO("async process %d of %d ready\n", index + 1, ph_async_workers);
	for(;;) {
		fds[1].fd = handoff_queue_fd(ph_queue);
		/* poll() skips a negative descriptor. */
		fds[2].fd = ph_retiring.queue != NULL
							? handoff_queue_fd(ph_retiring.queue)
							: -1;
		for(i = 0; i < 3; i++) {
			fds[i].events = POLLIN;
			fds[i].revents = 0;
		}
		/* Held jobs wait for a worker to mark them: microseconds. */
		n = poll(fds, 3, ph_held != NULL ? 1 : -1);
		if(n < 0 && errno != EINTR) {
			LM_ERR("poll: %s\n", strerror(errno));
			return;
		}
		cfg_update();
		/* A reload or a breaker close, before the jobs that follow it. */
		ph_control_apply();
		if(fds[0].revents != 0)
			ph_async_receive(fds[0].fd);
		ph_async_take_completions(ph_queue);
		ph_async_take_completions(ph_retiring.queue);
		if(ph_held != NULL)
			ph_async_retry_held();
		if(ph_retiring.queue != NULL) {
			ph_async_free_retired();
			/* A reload that waited for the replaced client: now, not at the
			 * next job or wake-up. */
			if(ph_retiring.queue == NULL)
				ph_control_apply();
		}
		if(n > 0)
			ph_stats_publish();
	}
}
