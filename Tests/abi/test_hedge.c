/*
 * test_hedge.c -- hedged requests (hedge_after_ms, hedge_max_percent)
 * against the sandboxes on loopback.
 *
 * What it proves: when the first request is slow (fault-slow-then-fast: 3 s
 * for a key's first request, at once after), the hedge sent after
 * hedge_after_ms answers and wins, and the lookup does not wait for the
 * first; the budget is exact (every lookup earns hedge_max_percent / 100 of
 * a hedge: 40 slow lookups at 10% send exactly 4 hedges); no hedge while the
 * breaker counts failures; a DNI reservation is never hedged; the
 * Prometheus exposition's hedges_total and hedge_wins_total lines carry the
 * counters' values. Queued lookups hedge the same way, on the I/O thread,
 * with the same budget; hedge_after_ms = auto hedges after the recent p95.
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "harness.h"
#include "queue_wait.h"

#define LOOKUP_MS ((int)(10000 * test_time_scale()))

static const char *value_of(handoff_result *r, const char *key) {
  const char *value = handoff_result_get(r, key);
  return value != NULL ? value : "(none)";
}

/* Looks up <fixture>~<variant>-<pid> and checks who answered: "first" (the
 * request that took 3 s) or "second". The sandbox counts the
 * requests of each key for as long as it runs, and run.sh runs this test
 * twice against one sandbox (natively, then under valgrind): the pid makes
 * each run's keys new. */
static void expect_answer_of(handoff_client *client, const char *fixture, const char *variant, const char *expected) {
  char id[96];
  handoff_result *r;
  snprintf(id, sizeof id, "%s~%s-%ld", fixture, variant, (long)getpid());
  r = handoff_client_lookup(client, id, LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  if (!CHECK_STR(expected, value_of(r, "answered_by"))) fprintf(stderr, "    (shared_id %s)\n", id);
  handoff_result_free(r);
}

static void expect_answer(handoff_client *client, const char *variant, const char *expected) {
  expect_answer_of(client, "fault-slow-then-fast", variant, expected);
}

/* The value on the line of the metric `name` (no labels) of a Prometheus
 * text, or -1 when there is no such line. */
static long long prometheus_value(const char *text, const char *name) {
  size_t length = strlen(name);
  const char *line = text;
  while (line != NULL && *line != '\0') {
    if (strncmp(line, name, length) == 0 && line[length] == ' ') return strtoll(line + length + 1, NULL, 10);
    line = strchr(line, '\n');
    if (line != NULL) line++;
  }
  return -1;
}

/* The exposition says what the counters say: polyai_handoff_hedges_total
 * and polyai_handoff_hedge_wins_total, counters, with these values. */
static void check_hedge_metrics(handoff_client *client, long long hedges, long long wins) {
  handoff_stats *stats = handoff_client_stats(client);
  const char *text = handoff_stats_prometheus(stats);
  if (!CHECK(text != NULL)) {
    handoff_stats_free(stats);
    return;
  }
  CHECK_CONTAINS(text, "# TYPE polyai_handoff_hedges_total counter\n");
  CHECK_CONTAINS(text, "# TYPE polyai_handoff_hedge_wins_total counter\n");
  CHECK_INT(handoff_stats_get(stats, "hedges"), prometheus_value(text, "polyai_handoff_hedges_total"));
  CHECK_INT(handoff_stats_get(stats, "hedge_wins"), prometheus_value(text, "polyai_handoff_hedge_wins_total"));
  CHECK_INT(hedges, prometheus_value(text, "polyai_handoff_hedges_total"));
  CHECK_INT(wins, prometheus_value(text, "polyai_handoff_hedge_wins_total"));
  handoff_stats_free(stats);
}

static void the_hedge_wins_the_tail(void) {
  handoff_client *client = sandbox_client_with("hedge_after_ms", "50", "hedge_max_percent", "100", "retries", "0", NULL);
  expect_answer(client, "win", "second");
  CHECK_INT(1, client_stat(client, "hedges"));
  CHECK_INT(1, client_stat(client, "hedge_wins"));
  CHECK_INT(2, client_stat(client, "requests"));
  CHECK_INT(0, client_stat(client, "retries"));
  check_hedge_metrics(client, 1, 1);

  /* Regression: the first request failed (reset at 300 ms) while the hedge
   * (sent at 50 ms, answered at 650 ms) ran; its answer was dropped and the
   * lookup failed with the first one's error. A failure now waits for it. */
  expect_answer_of(client, "fault-reset-then-late", "late", "second");
  CHECK_INT(2, client_stat(client, "hedges"));
  CHECK_INT(2, client_stat(client, "hedge_wins"));
  check_hedge_metrics(client, 2, 2);
  handoff_client_free(client);

  /* Off by default: the same tail is waited for. */
  client = sandbox_client_with("retries", "0", NULL);
  expect_answer(client, "off", "first");
  CHECK_INT(0, client_stat(client, "hedges"));
  CHECK_INT(1, client_stat(client, "requests"));
  check_hedge_metrics(client, 0, 0);
  handoff_client_free(client);
}

/* Every answer of the slow sandbox is 100 ms late: each of these lookups
 * would hedge after 20 ms if the budget let it. */
static void the_budget_is_exact(void) {
  handoff_config *config = sandbox_config_with("hedge_after_ms", "20", "hedge_max_percent", "10", "retries", "0", NULL);
  handoff_client *client;
  int i;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", test_env("HANDOFF_TEST_SLOW_BASE_URL")));
  client = sandbox_client_from(config);
  for (i = 0; i < 40; i++) {
    char id[48];
    handoff_result *r;
    snprintf(id, sizeof id, "acme-call-123~budget-%d", i);
    r = handoff_client_lookup(client, id, LOOKUP_MS);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
  }
  CHECK_INT(4, client_stat(client, "hedges"));
  CHECK_INT(44, client_stat(client, "requests"));
  CHECK_INT(40, client_stat(client, "status.ok"));
  handoff_client_free(client);
}

static void no_hedge_while_the_breaker_counts_failures(void) {
  handoff_client *client = sandbox_client_with("hedge_after_ms", "50", "hedge_max_percent", "100", "retries", "0",
                                               "breaker_failures", "3", NULL);
  handoff_result *r = handoff_client_lookup(client, "fault-500", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_SERVER_ERROR, r);
  handoff_result_free(r);
  expect_answer(client, "breaker-1", "first"); /* its success clears the count */
  CHECK_INT(0, client_stat(client, "hedges"));
  expect_answer(client, "breaker-2", "second");
  CHECK_INT(1, client_stat(client, "hedges"));
  handoff_client_free(client);
}

static void a_reservation_is_never_hedged(void) {
  handoff_config *config = sandbox_config_with("hedge_after_ms", "20", "hedge_max_percent", "100", "dni_api_key",
                                               SANDBOX_API_KEY, NULL);
  handoff_client *client;
  handoff_reservation *reservation;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", test_env("HANDOFF_TEST_SLOW_BASE_URL")));
  client = sandbox_client_from(config);
  reservation = handoff_client_reserve_dni(client, "hedge-shared-1", NULL, LOOKUP_MS);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(reservation));
  handoff_reservation_free(reservation);
  CHECK_INT(1, client_stat(client, "reservation_requests"));
  CHECK_INT(0, client_stat(client, "hedges"));
  handoff_client_free(client);
}

/* hedge_after_ms = auto: no hedge until 50 answers came (the delay is
 * unknown), then after their p95 (the sandbox answers within milliseconds:
 * the shortest hedge, 20 ms). 1 + 49 answers: every one of those lookups
 * started with fewer than 50, so none could hedge, loaded or not. */
static void an_adaptive_delay_follows_the_recent_answers(void) {
  handoff_client *client = sandbox_client_with("hedge_after_ms", "auto", "hedge_max_percent", "100", "retries", "0", NULL);
  int i;
  expect_answer(client, "auto-early", "first");
  CHECK_INT(0, client_stat(client, "hedges"));
  for (i = 0; i < 49; i++) {
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
  }
  CHECK_INT(0, client_stat(client, "hedges"));
  expect_answer(client, "auto-late", "second");
  CHECK_INT(1, client_stat(client, "hedges"));
  CHECK_INT(1, client_stat(client, "hedge_wins"));
  handoff_client_free(client);
}

/* A queued lookup of <fixture>~<variant>-<pid>: who answered. */
static void expect_queued_answer_of(handoff_queue *queue, const char *fixture, const char *variant, const char *expected) {
  char id[96];
  uint64_t tag = 0;
  handoff_result *r;
  snprintf(id, sizeof id, "%s~%s-%ld", fixture, variant, (long)getpid());
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, id, LOOKUP_MS, 9));
  r = take(queue, &tag, 20000);
  if (!CHECK(r != NULL)) return;
  CHECK_STATUS(HANDOFF_OK, r);
  if (!CHECK_STR(expected, value_of(r, "answered_by"))) fprintf(stderr, "    (queued shared_id %s)\n", id);
  handoff_result_free(r);
}

static void queued_lookups_hedge_too(void) {
  handoff_client *client = sandbox_client_with("hedge_after_ms", "50", "hedge_max_percent", "100", "retries", "0", NULL);
  handoff_queue *queue = new_queue(client);
  expect_queued_answer_of(queue, "fault-slow-then-fast", "qwin", "second");
  CHECK_INT(1, client_stat(client, "hedges"));
  CHECK_INT(1, client_stat(client, "hedge_wins"));
  CHECK_INT(2, client_stat(client, "requests"));
  /* The first request fails while the hedge runs: the hedge's answer wins. */
  expect_queued_answer_of(queue, "fault-reset-then-late", "qlate", "second");
  CHECK_INT(2, client_stat(client, "hedges"));
  CHECK_INT(2, client_stat(client, "hedge_wins"));
  handoff_queue_free(queue);
  handoff_client_free(client);

  client = sandbox_client_with("retries", "0", NULL);
  queue = new_queue(client);
  expect_queued_answer_of(queue, "fault-slow-then-fast", "qoff", "first");
  CHECK_INT(0, client_stat(client, "hedges"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* 40 queued lookups at once on the slow sandbox, 10%: exactly 4 hedges. */
static void the_queued_budget_is_exact(void) {
  handoff_config *config = sandbox_config_with("hedge_after_ms", "20", "hedge_max_percent", "10", "retries", "0", NULL);
  handoff_client *client;
  handoff_queue *queue;
  int i, ok = 0;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", test_env("HANDOFF_TEST_SLOW_BASE_URL")));
  client = sandbox_client_from(config);
  queue = new_queue(client);
  for (i = 0; i < 40; i++) {
    char id[64];
    snprintf(id, sizeof id, "acme-call-123~qbudget-%d-%ld", i, (long)getpid());
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, id, LOOKUP_MS, (uint64_t)i));
  }
  for (i = 0; i < 40; i++) {
    uint64_t tag;
    handoff_result *r = take(queue, &tag, 20000);
    if (!CHECK(r != NULL)) break;
    if (handoff_result_status(r) == HANDOFF_OK) ok++;
    handoff_result_free(r);
  }
  CHECK_INT(40, ok);
  CHECK_INT(4, client_stat(client, "hedges"));
  CHECK_INT(44, client_stat(client, "requests"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

int main(void) {
  handoff_config *config = handoff_config_new();
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "hedge_after_ms", "600000"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "hedge_after_ms", "600001"));
  CHECK_CONTAINS(handoff_config_error(config), "hedge_after_ms");
  CHECK_CONTAINS(handoff_config_error(config), "auto");
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "hedge_after_ms", "auto"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "hedge_max_percent", "100"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "hedge_max_percent", "101"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "hedge_max_percent", "-1"));
  CHECK_CONTAINS(handoff_config_error(config), "hedge_max_percent");
  handoff_config_free(config);

  the_hedge_wins_the_tail();
  the_budget_is_exact();
  no_hedge_while_the_breaker_counts_failures();
  a_reservation_is_never_hedged();
  queued_lookups_hedge_too();
  the_queued_budget_is_exact();
  an_adaptive_delay_follows_the_recent_answers();
  return check_summary("test_hedge");
}
