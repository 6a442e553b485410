/*
 * test_fork_state.c -- Kamailio and OpenSIPS fork their workers after
 * loading modules, while the parent may be in the middle of lookups. A
 * forked child must start clean: no in-flight count, breaker probe,
 * single-flight leader or lock of the parent's may follow it, whatever the
 * parent's other threads were doing at the moment of fork().
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "harness.h"

#define LOCK_ROUNDS 200
#define BUSY_THREADS 6

static handoff_client *client;

typedef struct {
  const char *id;
  int timeout_ms;
} slow_lookup;

static void *lookup_thread(void *arg) {
  slow_lookup *job = arg;
  handoff_result_free(handoff_client_lookup(client, job->id, job->timeout_ms));
  return NULL;
}

/* Polls the client's in_flight gauge until it reads want (bounded). */
static int wait_in_flight(handoff_client *c, unsigned long long want) {
  double until = now_ms() + 5000 * test_time_scale();
  while (now_ms() < until) {
    if (client_stat(c, "in_flight") == want) return 1;
    usleep(2000);
  }
  return 0;
}

/* Runs child(), which returns an exit code, in a forked child that a
 * deadlock cannot keep alive, and checks it exited 0. */
static int in_child(int (*child)(void), const char *what) {
  int status = 0;
  pid_t pid = fork();
  if (pid == 0) _exit(child());
  if (!CHECK(pid > 0)) return 0;
  /* A child still running after 20 s has hung. */
  (void)wait_or_show_stacks(pid, 20000, &status);
  if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    fprintf(stderr, "    %s: child %s %d\n", what, WIFEXITED(status) ? "exited" : "killed by signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
  }
  return 1;
}

/* In the child: the parent's lookup is not running here. */
static int child_looks_up(void) {
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 2000);
  int code = handoff_result_status(r) == HANDOFF_OK ? 0 : 10 + (int)handoff_result_status(r);
  if (code != 0) fprintf(stderr, "    child: %s: %s\n", handoff_status_name(handoff_result_status(r)), handoff_result_error(r));
  handoff_result_free(r);
  if (code == 0 && client_stat(client, "in_flight") != 0) code = 3;
  return code;
}

/* In the child: the breaker was half-open in the parent (its probe still
 * out); after the cooldown the child must be free to probe for itself. */
static int child_probes(void) {
  double until = now_ms() + 3000 * test_time_scale();
  while (now_ms() < until) {
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", 2000);
    handoff_status status = handoff_result_status(r);
    handoff_result_free(r);
    if (status == HANDOFF_OK) return client_stat(client, "breaker_open") == 0 ? 0 : 4;
    usleep(20000);
  }
  return 5;
}

static volatile int busy;

static void *busy_thread(void *unused) {
  static const char *const ids[] = {"acme-call-123", "acme-call-456", "no-such-call", "\001bad"};
  unsigned long n = 0;
  (void)unused;
  while (busy) {
    handoff_result *r = handoff_client_lookup(client, ids[n++ % 4], 2000);
    handoff_result_free(r);
    if (n % 16 == 0) handoff_stats_free(handoff_client_stats(client));
  }
  return NULL;
}

static void quiet_log(handoff_log_level level, const char *message, void *userdata) {
  (void)level, (void)message, (void)userdata;
}

/* In the child: everything a worker does first, on the inherited client,
 * the process client and the log. Any lock the parent's threads held at
 * fork() would hang it (and alarm() would kill it). */
static int child_works(void) {
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 2000);
  int code = handoff_result_status(r) == HANDOFF_OK ? 0 : 20;
  handoff_result_free(r);
  r = handoff_lookup("acme-call-456");
  if (code == 0 && handoff_result_status(r) != HANDOFF_OK) code = 21;
  handoff_result_free(r);
  handoff_stats_free(handoff_client_stats(client));
  handoff_stats_free(handoff_process_stats());
  handoff_set_log_callback(quiet_log, NULL);
  return code;
}

int main(void) {
  pthread_t thread, threads[BUSY_THREADS];
  slow_lookup slow = {"fault-slow", 4000};
  char text[512], *conf;
  int i, ok = 1;

  /* 1. max_in_flight = 1 with the parent's one lookup in flight at fork().
   * The client has looked up once before: the Swift runtime builds some
   * type metadata on first use under process-wide locks of its own, which a
   * fork() at that very moment would leave held (see README, Fork-safe). */
  client = sandbox_client_with("max_in_flight", "1", NULL);
  handoff_result_free(handoff_client_lookup(client, "acme-call-123", 2000));
  pthread_create(&thread, NULL, lookup_thread, &slow);
  CHECK(wait_in_flight(client, 1));
  in_child(child_looks_up, "max_in_flight after fork");
  pthread_join(thread, NULL);
  handoff_client_free(client);

  /* 2. The breaker half-open at fork(): its one probe is the parent's. */
  client = sandbox_client_with("breaker_failures", "1", "breaker_cooldown_ms", "50", NULL);
  handoff_result_free(handoff_client_lookup(client, "fault-500", 2000));
  CHECK_INT(1, client_stat(client, "breaker_open"));
  usleep(100000); /* past the longest jittered cooldown: the next lookup probes */
  {
    /* The probe is out once its request reached the sandbox (in_flight
     * rises before the breaker is asked). */
    long before = sandbox_stats_now().requests;
    double until = now_ms() + 5000 * test_time_scale();
    pthread_create(&thread, NULL, lookup_thread, &slow);
    while (sandbox_stats_now().requests <= before && now_ms() < until) usleep(2000);
    CHECK(sandbox_stats_now().requests > before);
  }
  {
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", 500);
    CHECK_STATUS(HANDOFF_UNAVAILABLE, r); /* the parent's probe is out */
    handoff_result_free(r);
  }
  in_child(child_probes, "half-open breaker after fork");
  pthread_join(thread, NULL);
  handoff_client_free(client);

  /* 3. Forks while other threads run lookups, stats and logging. */
  snprintf(text, sizeof text, "base_url = %s\naccount_id = %s\nproject_id = %s\napi_key = %s\n",
           sandbox_url(), SANDBOX_ACCOUNT, SANDBOX_PROJECT, SANDBOX_API_KEY);
  conf = temp_file(text);
  CHECK_INT(HANDOFF_OK, handoff_init(conf));
  client = sandbox_client_with("cache_ttl_ms", "50", NULL);
  handoff_set_log_callback(quiet_log, NULL);
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  busy = 1;
  for (i = 0; i < BUSY_THREADS; i++) pthread_create(&threads[i], NULL, busy_thread, NULL);
  for (i = 0; i < test_iterations(LOCK_ROUNDS) / (long)test_time_scale() && ok; i++) /* fewer under sanitizers */ ok = in_child(child_works, "fork under load");
  busy = 0;
  for (i = 0; i < BUSY_THREADS; i++) pthread_join(threads[i], NULL);
  handoff_set_log_callback(NULL, NULL);
  handoff_set_log_level(HANDOFF_LOG_WARNING);
  handoff_client_free(client);
  handoff_shutdown();
  temp_file_remove(conf);
  return check_summary("test_fork_state");
}
