/*
 * test_breaker_reset.c -- handoff_client_breaker_reset: an open breaker
 * closed by hand lets the next lookup (sync or queued) send its request;
 * counted failures are forgotten; a probe in flight no longer decides; a
 * forked child closes only its own breaker. Proven with the sandbox's
 * request counter and the client's statistics.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* A cooldown no test waits out: only a reset closes the breaker. */
#define NEVER_COOLS_MS "600000"

static long scaled_ms(long ms) { return (long)((double)ms * test_time_scale()); }

/* A client whose breaker opens after `failures` 5xx in a row and stays open. */
static handoff_client *breaker_client(const char *failures) {
  return sandbox_client_with("breaker_failures", failures, "breaker_cooldown_ms", NEVER_COOLS_MS,
                             "retries", "0", NULL);
}

static void open_breaker(handoff_client *client, int failures) {
  int i;
  for (i = 0; i < failures; i++) CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, client_stat(client, "breaker_open"));
}

static void test_open_then_reset(void) {
  handoff_client *client = breaker_client("2");

  open_breaker(client, 2);
  CHECK_INT(1, client_stat(client, "breaker_opened"));
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_UNAVAILABLE));

  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(client));
  CHECK_INT(0, client_stat(client, "breaker_open"));
  CHECK_INT(1, client_stat(client, "breaker_opened")); /* a count of openings, kept */
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));

  /* Closed already: nothing changes. */
  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(client));
  CHECK_INT(0, client_stat(client, "breaker_open"));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));

  /* It still opens again after breaker_failures in a row. */
  open_breaker(client, 2);
  CHECK_INT(2, client_stat(client, "breaker_opened"));
  handoff_client_free(client);
}

static void test_failures_forgotten(void) {
  handoff_client *client = breaker_client("2");

  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(client));
  /* Without the reset this second failure in a row would open it. */
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(0, client_stat(client, "breaker_open"));
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, client_stat(client, "breaker_open"));
  handoff_client_free(client);
}

static void test_breaker_off(void) {
  handoff_client *client = sandbox_client_with("breaker_failures", "0", "retries", "0", NULL);
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(client));
  CHECK_INT(0, client_stat(client, "breaker_open"));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  handoff_client_free(client);
}

/* The async Kamailio process uses queued lookups: the same breaker. */
static handoff_result *take(handoff_queue *queue, long bound_ms) {
  double end = now_ms() + (double)bound_ms * test_time_scale();
  uint64_t tag = 0;
  for (;;) {
    struct pollfd watch = {handoff_queue_fd(queue), POLLIN, 0};
    handoff_result *r = handoff_queue_next(queue, &tag);
    double left = end - now_ms();
    if (r != NULL) return r;
    if (left <= 0) return NULL;
    (void)poll(&watch, 1, (int)left + 1);
  }
}

static void test_queued(void) {
  handoff_client *client = breaker_client("1");
  handoff_status status = HANDOFF_NOT_INITIALIZED;
  handoff_queue *queue;
  handoff_result *r;
  sandbox_stats before;

  open_breaker(client, 1);
  queue = handoff_queue_new(client, &status);
  if (!CHECK(queue != NULL)) exit(2);
  before = sandbox_stats_now();
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
  r = take(queue, 5000);
  CHECK_STATUS(HANDOFF_UNAVAILABLE, r);
  handoff_result_free(r);
  CHECK_INT(before.requests, sandbox_stats_now().requests);

  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(client));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 2));
  r = take(queue, 5000);
  check_acme_123(r);
  handoff_result_free(r);
  CHECK_INT(before.requests + 1, sandbox_stats_now().requests);
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* A probe that began before the reset: its failure is one failure, not a
 * reopening. */
static handoff_client *probe_client;
static handoff_status probe_status;

static void *probe(void *unused) {
  /* fault-stall never finishes its answer: a timeout at any time scale
   * (fault-slow's 5 s answer came in time under a sanitizer's scale). */
  handoff_result *r = handoff_client_lookup(probe_client, "fault-stall", 0);
  (void)unused;
  probe_status = handoff_result_status(r);
  handoff_result_free(r);
  return NULL;
}

static void test_probe_in_flight(void) {
  char cooldown[24], timeout[24];
  pthread_t thread;
  sandbox_stats before;

  snprintf(cooldown, sizeof cooldown, "%ld", scaled_ms(200));
  snprintf(timeout, sizeof timeout, "%ld", scaled_ms(1000));
  probe_client = sandbox_client_with("breaker_failures", "2", "breaker_cooldown_ms", cooldown,
                                     "timeout_ms", timeout, "retries", "0", NULL);
  open_breaker(probe_client, 2);
  test_sleep_ms(scaled_ms(300)); /* past the cooldown, jittered up to 1.25x */

  before = sandbox_stats_now();
  if (!CHECK(pthread_create(&thread, NULL, probe, NULL) == 0)) exit(2);
  /* The probe's request has reached the sandbox. */
  WAIT_UNTIL(sandbox_stats_now().requests > before.requests, 2000);
  CHECK_INT(before.requests + 1, sandbox_stats_now().requests);

  CHECK_INT(HANDOFF_OK, handoff_client_breaker_reset(probe_client));
  /* Closed while the probe waits: another lookup goes out at once. */
  CHECK_INT(1, requests_for(probe_client, "acme-call-123", HANDOFF_OK));

  pthread_join(thread, NULL);
  CHECK_INT(HANDOFF_TIMEOUT, probe_status);
  /* One failure of the two that open it. */
  CHECK_INT(0, client_stat(probe_client, "breaker_open"));
  CHECK_INT(1, client_stat(probe_client, "breaker_opened"));
  CHECK_INT(1, requests_for(probe_client, "acme-call-123", HANDOFF_OK));
  handoff_client_free(probe_client);
}

/* The child's breaker is its own: opened and closed there, the parent's stays
 * open. */
static void test_fork(void) {
  handoff_client *client = breaker_client("1");
  pid_t pid;
  int status = 0;

  open_breaker(client, 1);
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    int ok = client_stat(client, "breaker_open") == 0; /* starts closed, its own */
    handoff_result *r = handoff_client_lookup(client, "fault-500", 0);
    handoff_result_free(r);
    ok = ok && client_stat(client, "breaker_open") == 1;
    ok = ok && handoff_client_breaker_reset(client) == HANDOFF_OK;
    ok = ok && client_stat(client, "breaker_open") == 0;
    r = handoff_client_lookup(client, "acme-call-123", 0);
    ok = ok && handoff_result_status(r) == HANDOFF_OK;
    handoff_result_free(r);
    _exit(ok ? 0 : 1);
  }
  if (!CHECK(pid > 0)) exit(2);
  CHECK(wait_or_show_stacks(pid, 10000, &status));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_INT(1, client_stat(client, "breaker_open"));
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_UNAVAILABLE));
  handoff_client_free(client);
}

int main(void) {
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_client_breaker_reset(NULL));
  test_open_then_reset();
  test_failures_forgotten();
  test_breaker_off();
  test_queued();
  test_probe_in_flight();
  test_fork();
  return check_summary("test_breaker_reset");
}
