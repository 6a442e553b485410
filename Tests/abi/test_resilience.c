/*
 * test_resilience.c -- retries, the circuit breaker, max_in_flight, the
 * result cache and single flight, each proven with the sandbox's request
 * counters and the client's own statistics.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* A time window a test relies on (a cooldown, a TTL, lookups holding their
 * place), stretched under valgrind or a sanitizer, in milliseconds. */
static long scaled_ms(long ms) { return (long)((double)ms * test_time_scale()); }

static const char *ms_text(char *buffer, size_t size, long ms) {
  snprintf(buffer, size, "%ld", ms);
  return buffer;
}

static void test_retries(void) {
  handoff_client *none = sandbox_client_with("retries", "0", NULL);
  handoff_client *one = sandbox_client(); /* the default: 1 */
  handoff_client *three = sandbox_client_with("retries", "3", NULL);

  /* 502, 503 and 504 are retried; other 5xx and 4xx are not. */
  CHECK_INT(1, requests_for(none, "fault-503", HANDOFF_SERVER_ERROR));
  CHECK_INT(2, requests_for(one, "fault-503", HANDOFF_SERVER_ERROR));
  CHECK_INT(4, requests_for(three, "fault-503", HANDOFF_SERVER_ERROR));
  CHECK_INT(4, requests_for(three, "fault-502-html", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, requests_for(three, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, requests_for(three, "no-such-call", HANDOFF_NOT_FOUND));
  CHECK_INT(1, requests_for(three, "fault-400", HANDOFF_BAD_REQUEST));
  CHECK_INT(1, requests_for(three, "fault-garbage", HANDOFF_PROTOCOL));
  CHECK_INT(1, requests_for(three, "acme-call-123", HANDOFF_OK));
  CHECK_INT(6, client_stat(three, "retries"));
  CHECK_INT(7, client_stat(three, "lookups"));
  /* requests counts retries: 4 + 4 + 5 x 1. */
  CHECK_INT(13, client_stat(three, "requests"));
  CHECK_INT(3, client_stat(three, "status.server_error"));
  CHECK_INT(1, client_stat(three, "status.ok"));

  /* A connection reset and a body cut short are retried: the lookup is a
   * GET, safe to repeat. Each on a new client: a kept-alive connection that
   * dies is reconnected by libcurl itself, one request more than ours. */
  {
    static const char *const cut_off[] = {"fault-reset", "fault-truncated"};
    size_t i;
    for (i = 0; i < sizeof cut_off / sizeof cut_off[0]; i++) {
      handoff_client *fresh = sandbox_client_with("retries", "3", NULL);
      if (!CHECK_INT(4, requests_for(fresh, cut_off[i], HANDOFF_NETWORK))) fprintf(stderr, "    (%s)\n", cut_off[i]);
      CHECK_INT(3, client_stat(fresh, "retries"));
      handoff_client_free(fresh);
    }
  }

  /* A timeout is not retried: the deadline is spent. */
  {
    handoff_client *quick = sandbox_client_with("retries", "5", "timeout_ms", "300", NULL);
    double start = now_ms();
    CHECK_INT(1, requests_for(quick, "fault-slow", HANDOFF_TIMEOUT));
    CHECK(now_ms() - start < 1500 * test_time_scale());
    handoff_client_free(quick);
  }
  /* A refused connection is retried, inside the deadline. */
  {
    char url[64];
    handoff_client *refused;
    handoff_result *r;
    double start;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    refused = sandbox_client_with("base_url", url, "retries", "2", NULL);
    start = now_ms();
    r = handoff_client_lookup(refused, "acme-call-123", 0);
    CHECK_STATUS(HANDOFF_NETWORK, r);
    CHECK(now_ms() - start < 1500 * test_time_scale());
    CHECK_INT(2, client_stat(refused, "retries"));
    handoff_result_free(r);
    handoff_client_free(refused);
  }
  handoff_client_free(none);
  handoff_client_free(one);
  handoff_client_free(three);
}

static void test_breaker(void) {
  /* The fail-fast checks run inside the cooldown (at least 0.75 of it). */
  char cooldown[24];
  handoff_client *client = sandbox_client_with("breaker_failures", "3", "breaker_cooldown_ms",
                                               ms_text(cooldown, sizeof cooldown, scaled_ms(400)),
                                               "retries", "0", NULL);
  handoff_result *r;
  double start;
  int i;

  /* Failures that are not in a row do not open it; 4xx are not failures. */
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  for (i = 0; i < 5; i++) CHECK_INT(1, requests_for(client, "no-such-call", HANDOFF_NOT_FOUND));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(0, client_stat(client, "breaker_opened"));

  /* Three in a row (a 5xx, a reset, a 5xx) open it: lookups fail fast,
   * with no request. */
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  requests_for(client, "fault-reset", HANDOFF_NETWORK);
  CHECK_INT(1, requests_for(client, "fault-503", HANDOFF_SERVER_ERROR));
  CHECK_INT(1, client_stat(client, "breaker_open"));
  CHECK_INT(1, client_stat(client, "breaker_opened"));
  start = now_ms();
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_UNAVAILABLE));
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_UNAVAILABLE, r);
  CHECK(now_ms() - start < 200 * test_time_scale());
  CHECK_INT(0, handoff_result_http_status(r));
  CHECK(strlen(handoff_result_error(r)) > 0);
  CHECK_NULL(handoff_result_conversation_id(r));
  CHECK_STR("{}", handoff_result_data_json(r));
  CHECK(strncmp(handoff_result_header_block(r), "X-PolyAI-Handoff-Status: unavailable\r\n", 38) == 0);
  CHECK(strncmp(handoff_result_variables_block(r), "POLYAI_HANDOFF_STATUS=unavailable\n", 34) == 0);
  handoff_result_free(r);
  /* Invalid ids are still invalid. */
  r = handoff_client_lookup(client, "", 0);
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
  handoff_result_free(r);
  /* Another client is not affected. */
  {
    handoff_client *other = sandbox_client();
    CHECK_INT(1, requests_for(other, "acme-call-123", HANDOFF_OK));
    handoff_client_free(other);
  }

  /* After the cooldown one probe goes out; it fails, so the breaker stays
   * open. */
  test_sleep_ms(scaled_ms(600)); /* the cooldown, jittered up to 1.25x */
  CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_UNAVAILABLE));
  CHECK_INT(1, client_stat(client, "breaker_open"));

  /* After the next cooldown a probe succeeds and closes it. */
  test_sleep_ms(scaled_ms(600));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(0, client_stat(client, "breaker_open"));
  CHECK(client_stat(client, "status.unavailable") >= 3);
  handoff_client_free(client);

  /* Timeouts count as failures too. */
  client = sandbox_client_with("breaker_failures", "2", "timeout_ms", "200", "retries", "0", NULL);
  CHECK_INT(1, requests_for(client, "fault-slow", HANDOFF_TIMEOUT));
  CHECK_INT(1, requests_for(client, "fault-stall", HANDOFF_TIMEOUT));
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_UNAVAILABLE));
  handoff_client_free(client);

  /* breaker_failures 0: never opens. */
  client = sandbox_client_with("breaker_failures", "0", "retries", "0", NULL);
  for (i = 0; i < 8; i++) CHECK_INT(1, requests_for(client, "fault-500", HANDOFF_SERVER_ERROR));
  CHECK_INT(0, client_stat(client, "breaker_opened"));
  handoff_client_free(client);
}

/* max_in_flight: threads started together against the blackhole, each with
 * its own id (no single flight); those beyond the limit fail fast. */
#define IN_FLIGHT_THREADS 5

static handoff_client *flight_client;
static pthread_barrier_t flight_barrier;
static handoff_status flight_status[IN_FLIGHT_THREADS];
static double flight_ms[IN_FLIGHT_THREADS];

static void *flight(void *arg) {
  size_t index = (size_t)arg;
  char id[32];
  handoff_result *r;
  double start;
  snprintf(id, sizeof id, "in-flight-%u", (unsigned)index);
  pthread_barrier_wait(&flight_barrier);
  start = now_ms();
  r = handoff_client_lookup(flight_client, id, 0);
  flight_ms[index] = now_ms() - start;
  flight_status[index] = handoff_result_status(r);
  handoff_result_free(r);
  return NULL;
}

static void test_max_in_flight(void) {
  pthread_t threads[IN_FLIGHT_THREADS];
  char url[64], timeout[24];
  int timeouts = 0, unavailable = 0;
  size_t i;
  snprintf(url, sizeof url, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_BLACKHOLE_PORT"));
  /* The two that get in hold their places while the others try. */
  flight_client = sandbox_client_with("base_url", url, "max_in_flight", "2", "timeout_ms",
                                      ms_text(timeout, sizeof timeout, scaled_ms(600)),
                                      "retries", "0", NULL);
  pthread_barrier_init(&flight_barrier, NULL, IN_FLIGHT_THREADS);
  for (i = 0; i < IN_FLIGHT_THREADS; i++) pthread_create(&threads[i], NULL, flight, (void *)i);
  for (i = 0; i < IN_FLIGHT_THREADS; i++) pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&flight_barrier);
  for (i = 0; i < IN_FLIGHT_THREADS; i++) {
    if (flight_status[i] == HANDOFF_TIMEOUT) {
      timeouts++;
    } else if (flight_status[i] == HANDOFF_UNAVAILABLE) {
      unavailable++;
      if (!CHECK(flight_ms[i] < 300 * test_time_scale()))
        fprintf(stderr, "    refused after %.0f ms\n", flight_ms[i]);
    } else {
      CHECK_INT(HANDOFF_TIMEOUT, flight_status[i]);
    }
  }
  CHECK_INT(2, timeouts);
  CHECK_INT(IN_FLIGHT_THREADS - 2, unavailable);
  CHECK_INT(IN_FLIGHT_THREADS - 2, client_stat(flight_client, "rejected_in_flight"));
  CHECK_INT(0, client_stat(flight_client, "in_flight"));
  handoff_client_free(flight_client);
}

static void test_cache(void) {
  char ttl[24];
  handoff_client *client = sandbox_client_with("cache_ttl_ms", ms_text(ttl, sizeof ttl, scaled_ms(600)), NULL);
  handoff_result *first, *second;
  sandbox_stats before = sandbox_stats_now(), after;

  first = handoff_client_lookup(client, "acme-call-123", 0);
  second = handoff_client_lookup(client, "acme-call-123", 0);
  after = sandbox_stats_now();
  CHECK_INT(1, after.requests - before.requests);
  CHECK_INT(1, client_stat(client, "cache_hits"));
  CHECK(first != second);
  /* Each result lives on its own. */
  handoff_result_free(first);
  check_acme_123(second);
  CHECK_CONTAINS(handoff_result_header_block(second), "X-PolyAI-Customer-Tier: gold\r\n");
  handoff_result_free(second);

  /* The id namespaces are separate; failures are not cached. */
  CHECK_INT(1, requests_for(client, "acme-call-456", HANDOFF_OK));
  CHECK_INT(0, requests_for(client, "acme-call-456", HANDOFF_OK));
  {
    sandbox_stats b = sandbox_stats_now(), a;
    handoff_result *r = handoff_client_lookup_id(client, ACME_123_ID, 0);
    check_acme_123(r);
    handoff_result_free(r);
    a = sandbox_stats_now();
    CHECK_INT(1, a.requests - b.requests);
  }
  CHECK_INT(1, requests_for(client, "no-such-call", HANDOFF_NOT_FOUND));
  CHECK_INT(1, requests_for(client, "no-such-call", HANDOFF_NOT_FOUND));

  /* Expired after the TTL. */
  test_sleep_ms(scaled_ms(700));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(0, requests_for(client, "acme-call-123", HANDOFF_OK));
  handoff_client_free(client);

  /* The default: no cache. */
  client = sandbox_client();
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(0, client_stat(client, "cache_hits"));
  handoff_client_free(client);

  /* cache_max_entries bounds it: with 1 entry, a second id evicts the first. */
  client = sandbox_client_with("cache_ttl_ms", "60000", "cache_max_entries", "1", NULL);
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(1, requests_for(client, "acme-call-456", HANDOFF_OK));
  CHECK_INT(0, requests_for(client, "acme-call-456", HANDOFF_OK));
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  handoff_client_free(client);
}

/* Single flight: threads asking for the same id at once share one request. */
#define SHARED_THREADS 6

static handoff_client *shared_client;
static pthread_barrier_t shared_barrier;
static int shared_ok[SHARED_THREADS];

static void *same_id(void *arg) {
  size_t index = (size_t)arg;
  handoff_result *r;
  pthread_barrier_wait(&shared_barrier);
  r = handoff_client_lookup(shared_client, "fault-slow", 0);
  shared_ok[index] = CHECK_STATUS(HANDOFF_OK, r) && CHECK_STR("late", handoff_result_get(r, "handoff_to"));
  handoff_result_free(r);
  return NULL;
}

static void test_single_flight(void) {
  pthread_t threads[SHARED_THREADS];
  sandbox_stats before, after;
  double start = now_ms();
  size_t i;
  /* fault-slow answers after 5 s. */
  shared_client = sandbox_client_with("timeout_ms", "8000", NULL);
  before = sandbox_stats_now();
  pthread_barrier_init(&shared_barrier, NULL, SHARED_THREADS);
  for (i = 0; i < SHARED_THREADS; i++) pthread_create(&threads[i], NULL, same_id, (void *)i);
  for (i = 0; i < SHARED_THREADS; i++) pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&shared_barrier);
  after = sandbox_stats_now();
  CHECK_INT(1, after.requests - before.requests);
  CHECK_INT(SHARED_THREADS - 1, client_stat(shared_client, "shared"));
  CHECK_INT(SHARED_THREADS, client_stat(shared_client, "lookups"));
  CHECK_INT(SHARED_THREADS, client_stat(shared_client, "status.ok"));
  CHECK(now_ms() - start < 7000 * test_time_scale());
  handoff_client_free(shared_client);
}

int main(void) {
  test_retries();
  test_breaker();
  test_max_in_flight();
  test_cache();
  test_single_flight();
  return check_summary("test_resilience");
}
