/*
 * test_log_callback.c -- the log callback is host code: a module that
 * unloads, or frees its userdata, right after handoff_set_log_callback()
 * returns must never be called again; and a callback may call back into
 * the library (log, look up, make a client, reload, install a callback)
 * without deadlocking, because no library lock is held while it runs.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#include "harness.h"

#define SWAP_ROUNDS 2000
#define WRITER_THREADS 4

typedef struct {
  atomic_int retired; /* set once handoff_set_log_callback() replaced it */
  atomic_long calls;
} sink;

static atomic_long calls_after_retire;
static atomic_long calls;
static volatile int writing;

static void counting_log(handoff_log_level level, const char *message, void *userdata) {
  sink *s = userdata;
  (void)level, (void)message;
  atomic_fetch_add(&calls, 1);
  atomic_fetch_add(&s->calls, 1);
  if (atomic_load(&s->retired)) atomic_fetch_add(&calls_after_retire, 1);
}

static void *writer(void *arg) {
  handoff_client *client = arg;
  while (writing) {
    /* Refused locally (control character), and logged as a warning. */
    handoff_result_free(handoff_client_lookup(client, "bad\001id", 100));
  }
  return NULL;
}

static handoff_client *reentrant_client;
static char *reentrant_conf;
static atomic_int reentered;

/* Calls back into the library from inside the callback, once per line. */
static void reentrant_log(handoff_log_level level, const char *message, void *userdata) {
  handoff_config *config;
  handoff_client *client;
  (void)level, (void)message, (void)userdata;
  if (atomic_fetch_add(&reentered, 1) > 0) return; /* the lines this logs */
  handoff_result_free(handoff_client_lookup(reentrant_client, "acme-call-123", 2000));
  config = sandbox_config_with("base_url", "https://localhost:1", NULL);
  client = handoff_client_new(config, NULL);
  CHECK(client != NULL);
  handoff_client_free(client);
  handoff_config_free(config);
  CHECK_INT(HANDOFF_OK, handoff_init(reentrant_conf));
  handoff_set_log_callback(NULL, NULL);
}

int main(void) {
  handoff_client *client = sandbox_client();
  pthread_t threads[WRITER_THREADS];
  sink *sinks[2];
  char text[512];
  long round, rounds = test_iterations(SWAP_ROUNDS) / (long)test_time_scale(); /* fewer under sanitizers */
  int i;

  /* 1. Swap and remove callbacks while other threads log without pause. */
  sinks[0] = calloc(1, sizeof(sink));
  sinks[1] = calloc(1, sizeof(sink));
  handoff_set_log_callback(counting_log, sinks[0]);
  writing = 1;
  for (i = 0; i < WRITER_THREADS; i++) pthread_create(&threads[i], NULL, writer, client);
  for (round = 0; round < rounds; round++) {
    sink *old = sinks[round % 2], *next = sinks[(round + 1) % 2];
    double until = now_ms() + 1000 * test_time_scale();
    /* Swap only while the writers are inside the callback now and then. */
    while (atomic_load(&old->calls) == 0 && now_ms() < until) sched_yield();
    atomic_store(&old->calls, 0);
    atomic_store(&next->retired, 0);
    if (round % 3 == 2) {
      handoff_set_log_callback(NULL, NULL);
      atomic_store(&old->retired, 1);
      handoff_set_log_callback(counting_log, next);
    } else {
      handoff_set_log_callback(counting_log, next);
      atomic_store(&old->retired, 1);
    }
  }
  handoff_set_log_callback(NULL, NULL);
  atomic_store(&sinks[rounds % 2]->retired, 1);
  writing = 0;
  for (i = 0; i < WRITER_THREADS; i++) pthread_join(threads[i], NULL);
  if (!CHECK(atomic_load(&calls) >= rounds)) /* the writers did log throughout */
    fprintf(stderr, "    %ld lines in %ld rounds\n", atomic_load(&calls), rounds);
  CHECK_INT(0, atomic_load(&calls_after_retire));
  free(sinks[0]);
  free(sinks[1]);

  /* After removal, nothing at all. */
  atomic_store(&calls, 0);
  handoff_result_free(handoff_client_lookup(client, "bad\001id", 100));
  CHECK_INT(0, atomic_load(&calls));

  /* 2. A callback that looks up, makes a client, reloads and removes itself. */
  snprintf(text, sizeof text, "base_url = %s\naccount_id = %s\nproject_id = %s\napi_key = %s\n",
           sandbox_url(), SANDBOX_ACCOUNT, SANDBOX_PROJECT, SANDBOX_API_KEY);
  reentrant_conf = temp_file(text);
  reentrant_client = client;
  alarm((unsigned)(30 * test_time_scale())); /* a deadlock fails the test */
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  handoff_set_log_callback(reentrant_log, NULL);
  handoff_result_free(handoff_client_lookup(client, "no-such-call", 2000));
  CHECK(atomic_load(&reentered) >= 1);
  /* It removed itself from inside: later lines reach nobody. */
  atomic_store(&reentered, 0);
  handoff_result_free(handoff_client_lookup(client, "no-such-call", 2000));
  CHECK_INT(0, atomic_load(&reentered));
  alarm(0);
  handoff_set_log_level(HANDOFF_LOG_WARNING);

  handoff_shutdown();
  temp_file_remove(reentrant_conf);
  handoff_client_free(client);
  return check_summary("test_log_callback");
}
