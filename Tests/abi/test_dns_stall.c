/*
 * test_dns_stall.c -- run by dns_stall.sh inside a network namespace whose
 * only resolver is a loopback UDP port that never answers. libcurl's resolver
 * thread then blocks for many seconds; each lookup must still return
 * HANDOFF_TIMEOUT by its deadline + 10 ms, at 1, 16 and 64 at once, and
 * freeing the client must not wait for the stuck resolver threads (100 ms).
 * Noise only adds time: a level passes when one of up to ATTEMPTS rounds is
 * within the bound. The slack and the free's bound stretch with
 * HANDOFF_TEST_TIME_SCALE (valgrind, a sanitizer).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "harness.h"

#define DEADLINE_MS 300
#define SLACK_MS 10.0
#define ATTEMPTS 5
#define FREE_MS 100.0

static double slack_ms(void) { return SLACK_MS * test_time_scale(); }

static handoff_client *client;
static pthread_barrier_t start;

static void *one(void *arg) {
  double *elapsed = arg, started;
  handoff_result *r;
  pthread_barrier_wait(&start);
  started = now_ms();
  r = handoff_client_lookup(client, "acme-call-123", DEADLINE_MS);
  *elapsed = now_ms() - started;
  if (!CHECK_STATUS(HANDOFF_TIMEOUT, r)) *elapsed = 1e9;
  handoff_result_free(r);
  return NULL;
}

int main(void) {
  static const int concurrency[] = {1, 16, 64};
  handoff_config *config = handoff_config_new();
  double elapsed[64], started, freed;
  int c, i, attempt;

  /* A real region URL: the name has to go through the (stalled) resolver. */
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "region", "euw-1"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "breaker_failures", "0"));
  client = handoff_client_new(config, NULL);
  CHECK(client != NULL);

  for (c = 0; c < 3; c++) {
    int threads = concurrency[c], within = 0;
    double worst = 0;
    for (attempt = 1; attempt <= ATTEMPTS && !within; attempt++) {
      pthread_t ids[64];
      pthread_barrier_init(&start, NULL, (unsigned)threads);
      for (i = 0; i < threads; i++) pthread_create(&ids[i], NULL, one, &elapsed[i]);
      worst = 0;
      for (i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        if (elapsed[i] > worst) worst = elapsed[i];
      }
      pthread_barrier_destroy(&start);
      within = worst <= DEADLINE_MS + slack_ms();
    }
    printf("dns stall: %2d threads, worst %.1f ms (deadline %d ms, bound %.0f ms)\n", threads, worst, DEADLINE_MS,
           DEADLINE_MS + slack_ms());
    CHECK(within);
  }

  started = now_ms();
  handoff_client_free(client);
  freed = now_ms() - started;
  printf("dns stall: client freed in %.1f ms (bound %.0f ms)\n", freed, FREE_MS * test_time_scale());
  CHECK(freed < FREE_MS * test_time_scale());
  handoff_config_free(config);
  return check_summary("test_dns_stall");
}
