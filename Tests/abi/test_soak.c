/*
 * test_soak.c -- HANDOFF_TEST_SOAK lookups (default 10,000) over every kind
 * of outcome, from 4 threads, through one client and the process-wide API.
 * run.sh also runs it under valgrind, where it must lose 0 bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "harness.h"

#define THREADS 4

typedef struct {
  const char *id;
  handoff_status expected;
} case_t;

static const case_t cases[] = {
    {"acme-call-123", HANDOFF_OK},      {"acme-call-456", HANDOFF_OK},
    {"unicode-call", HANDOFF_OK},       {"number-edge", HANDOFF_OK},
    {"header-injection", HANDOFF_OK},   {"no-such-call", HANDOFF_NOT_FOUND},
    {"fault-500", HANDOFF_SERVER_ERROR}, {"fault-garbage", HANDOFF_PROTOCOL},
    {"fault-oversized", HANDOFF_PROTOCOL}, {"", HANDOFF_INVALID_ARGUMENT},
};
#define CASES (sizeof cases / sizeof cases[0])

static handoff_client *client;
static long per_thread;

static void *soak(void *arg) {
  long i, wrong = 0, seed = (long)(size_t)arg;
  for (i = 0; i < per_thread; i++) {
    const case_t *c = &cases[(size_t)(i + seed) % CASES];
    handoff_result *r = (i % 8 == 0) ? handoff_lookup(c->id) : handoff_client_lookup(client, c->id, 2000);
    if (handoff_result_status(r) != c->expected && wrong++ < 3) CHECK_STATUS(c->expected, r);
    /* Touch what a host reads, so every string is really built. */
    if (strlen(handoff_result_header_block(r)) == 0 || handoff_result_data_json(r) == NULL) wrong++;
    handoff_result_free(r);
  }
  return wrong == 0 ? (void *)1 : NULL;
}

int main(void) {
  long total = test_env_long("HANDOFF_TEST_SOAK", 10000);
  pthread_t threads[THREADS];
  handoff_stats *stats;
  char text[512], *conf;
  void *ok;
  int i;

  per_thread = total / THREADS;
  client = sandbox_client();
  snprintf(text, sizeof text, "base_url = %s\naccount_id = %s\nproject_id = %s\napi_key = %s\nbreaker_failures = 0\n",
           sandbox_url(), SANDBOX_ACCOUNT, SANDBOX_PROJECT, SANDBOX_API_KEY);
  conf = temp_file(text);
  CHECK_INT(HANDOFF_OK, handoff_init(conf));
  for (i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, soak, (void *)(size_t)i);
  for (i = 0; i < THREADS; i++) {
    pthread_join(threads[i], &ok);
    CHECK(ok != NULL);
  }
  stats = handoff_client_stats(client);
  /* Every 8th lookup of each thread (i = 0, 8, ...) went through handoff_lookup instead. */
  CHECK_INT(THREADS * (per_thread - (per_thread + 7) / 8), (long)handoff_stats_get(stats, "lookups"));
  handoff_stats_free(stats);
  printf("test_soak: %ld lookups\n", per_thread * THREADS);
  handoff_shutdown();
  handoff_client_free(client);
  temp_file_remove(conf);
  return check_summary("test_soak");
}
