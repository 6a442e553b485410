/*
 * test_dns_stall.c -- run by dns_stall.sh inside a network namespace whose
 * only resolver is a loopback UDP port that never answers. libcurl's resolver
 * thread then blocks for many seconds; each lookup must still return
 * HANDOFF_TIMEOUT by its deadline + 10 ms, at 1, 16 and 64 at once, and
 * freeing the client must not wait for the stuck resolver threads (100 ms).
 * Noise only adds time: a level passes when one of up to ATTEMPTS rounds is
 * within every bound, and the free when one of up to ATTEMPTS clients, each
 * with resolver threads stuck, is freed within its bound (a free that waited
 * for them would take seconds every time). The bounds stretch with
 * HANDOFF_TEST_TIME_SCALE (valgrind, a sanitizer).
 *
 * Then the same for queued lookups, at 1, 64 and 1,024 in flight on one
 * queue: each submission returns at once (no DNS on the caller's thread),
 * each completion is a timeout by its deadline plus a bound that grows with
 * the lookups in flight (as in test_queue_load), and freeing the queue and
 * client does not wait for the resolver threads either.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>

#include "harness.h"

#define DEADLINE_MS 300
#define SLACK_MS 10.0
#define ATTEMPTS 5
#define FREE_MS 100.0

static double slack_ms(void) { return SLACK_MS * test_time_scale(); }
static double free_bound_ms(void) { return FREE_MS * test_time_scale(); }

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

/* threads lookups at once through the stalled resolver; returns the slowest. */
static double threaded_round(int threads) {
  pthread_t ids[64];
  double elapsed[64], worst = 0;
  int i;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  for (i = 0; i < threads; i++) pthread_create(&ids[i], NULL, one, &elapsed[i]);
  for (i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    if (elapsed[i] > worst) worst = elapsed[i];
  }
  pthread_barrier_destroy(&start);
  return worst;
}

/* Frees a client and returns how long that took. */
static double timed_free(handoff_client *freed) {
  double started = now_ms();
  handoff_client_free(freed);
  return now_ms() - started;
}

#define QUEUED_SLACK_MS 20.0
#define QUEUED_SLACK_MS_PER_LOOKUP 0.25
#define SUBMIT_MS 20.0

/* Queued lookups through the stalled resolver; returns 1 if the round was
 * within the bounds: every completion late by at most the slack, every
 * submission quicker than SUBMIT_MS (both times the time scale). */
static int queued_round(handoff_client *queued_client, int n, int round, double *worst_late, double *worst_submit) {
  static double submitted[1024];
  handoff_queue *queue = handoff_queue_new(queued_client, NULL);
  double bound = (QUEUED_SLACK_MS + QUEUED_SLACK_MS_PER_LOOKUP * n) * test_time_scale(), end;
  int i, taken = 0, wrong = 0;
  char id[64];
  *worst_late = -1e9;
  *worst_submit = 0;
  if (!CHECK(queue != NULL)) return 0;
  for (i = 0; i < n; i++) {
    double before = now_ms();
    snprintf(id, sizeof id, "acme-call-123~dns%d-%d-%d", n, round, i);
    submitted[i] = before;
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, id, DEADLINE_MS, (uint64_t)i));
    if (now_ms() - before > *worst_submit) *worst_submit = now_ms() - before;
  }
  end = now_ms() + DEADLINE_MS + 2000 * test_time_scale();
  while (taken < n && now_ms() < end) {
    struct pollfd watch = {handoff_queue_fd(queue), POLLIN, 0};
    uint64_t tag = 0;
    handoff_result *r;
    while ((r = handoff_queue_next(queue, &tag)) != NULL) {
      double late = now_ms() - submitted[tag < 1024 ? tag : 0] - DEADLINE_MS;
      if (late > *worst_late) *worst_late = late;
      if (handoff_result_status(r) != HANDOFF_TIMEOUT) wrong++;
      handoff_result_free(r);
      taken++;
    }
    (void)poll(&watch, 1, 20);
  }
  handoff_queue_free(queue);
  CHECK_INT(n, taken);
  CHECK_INT(0, wrong);
  return taken == n && !wrong && *worst_late <= bound && *worst_submit < SUBMIT_MS * test_time_scale();
}

static void queued_lookups(handoff_config *config) {
  static const int in_flight[] = {1, 64, 1024};
  handoff_client *queued_client;
  double freed;
  int c, attempt;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "max_in_flight", "4096"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "max_connections", "2048"));
  queued_client = handoff_client_new(config, NULL);
  if (!CHECK(queued_client != NULL)) return;
  for (c = 0; c < 3; c++) {
    int n = in_flight[c], within = 0;
    double late = 0, submit = 0;
    for (attempt = 1; attempt <= ATTEMPTS && !within; attempt++) within = queued_round(queued_client, n, attempt, &late, &submit);
    printf("dns stall: %4d queued, latest %+.1f ms from the deadline, slowest submission %.2f ms (bound %.0f ms)\n", n,
           late, submit, SUBMIT_MS * test_time_scale());
    if (!CHECK(within)) fprintf(stderr, "    no round of %d was within the bounds in %d attempts\n", n, ATTEMPTS);
  }
  freed = timed_free(queued_client);
  /* A slow free may be noise: again with a new client, its resolver threads stuck too. */
  for (attempt = 2; attempt <= ATTEMPTS && freed >= free_bound_ms(); attempt++) {
    double late, submit;
    queued_client = handoff_client_new(config, NULL);
    if (!CHECK(queued_client != NULL)) break;
    (void)queued_round(queued_client, 64, ATTEMPTS + attempt, &late, &submit);
    freed = timed_free(queued_client);
  }
  printf("dns stall: queued client freed in %.1f ms (bound %.0f ms)\n", freed, free_bound_ms());
  CHECK(freed < free_bound_ms());
}

int main(void) {
  static const int concurrency[] = {1, 16, 64};
  handoff_config *config = handoff_config_new();
  double freed;
  int c, attempt;

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
      worst = threaded_round(threads);
      within = worst <= DEADLINE_MS + slack_ms();
    }
    printf("dns stall: %2d threads, worst %.1f ms (deadline %d ms, bound %.0f ms)\n", threads, worst, DEADLINE_MS,
           DEADLINE_MS + slack_ms());
    CHECK(within);
  }

  freed = timed_free(client);
  /* A slow free may be noise: again with a new client, its resolver threads stuck too. */
  for (attempt = 2; attempt <= ATTEMPTS && freed >= free_bound_ms(); attempt++) {
    client = handoff_client_new(config, NULL);
    if (!CHECK(client != NULL)) break;
    (void)threaded_round(16);
    freed = timed_free(client);
  }
  printf("dns stall: client freed in %.1f ms (bound %.0f ms)\n", freed, free_bound_ms());
  CHECK(freed < free_bound_ms());
  queued_lookups(config);
  handoff_config_free(config);
  return check_summary("test_dns_stall");
}
