/*
 * test_observability.c -- the log callback and its level, client and
 * process statistics, the Prometheus text, and a result's elapsed time.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SECRET "SECRET-log-9d1e-do-not-leak"

/* Every line the callback received. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_text;
static size_t log_length;
static int log_lines, log_lines_above, log_bad_userdata, log_bad_lines;
static handoff_log_level log_max = HANDOFF_LOG_DEBUG;
static int marker;

static void collect(handoff_log_level level, const char *message, void *userdata) {
  size_t length = message != NULL ? strlen(message) : 0;
  char *bigger;
  pthread_mutex_lock(&log_lock);
  log_lines++;
  if (userdata != &marker) log_bad_userdata++;
  if (level > log_max) log_lines_above++;
  if (message == NULL || strpbrk(message, "\r\n") != NULL) log_bad_lines++;
  bigger = realloc(log_text, log_length + length + 2);
  if (bigger != NULL) {
    log_text = bigger;
    memcpy(log_text + log_length, message != NULL ? message : "", length);
    log_length += length;
    log_text[log_length++] = '\n';
    log_text[log_length] = '\0';
  }
  pthread_mutex_unlock(&log_lock);
}

static void reset_log(handoff_log_level max) {
  pthread_mutex_lock(&log_lock);
  free(log_text);
  log_text = NULL;
  log_length = 0;
  log_lines = log_lines_above = log_bad_userdata = log_bad_lines = 0;
  log_max = max;
  pthread_mutex_unlock(&log_lock);
}

static void lookup_and_free(handoff_client *client, const char *id, handoff_status expected) {
  handoff_result *r = handoff_client_lookup(client, id, 0);
  CHECK_STATUS(expected, r);
  handoff_result_free(r);
}

static void test_logging(void) {
  handoff_client *client = sandbox_client_with("api_key", SECRET, NULL);
  handoff_client *good = sandbox_client_with("timeout_ms", "300", NULL);

  /* Debug: everything that happens is told, and the key never. */
  reset_log(HANDOFF_LOG_DEBUG);
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  handoff_set_log_callback(collect, &marker);
  lookup_and_free(client, "acme-call-123", HANDOFF_FORBIDDEN);
  lookup_and_free(good, "fault-slow", HANDOFF_TIMEOUT);
  lookup_and_free(good, "fault-500", HANDOFF_SERVER_ERROR);
  lookup_and_free(good, "fault-garbage", HANDOFF_PROTOCOL);
  lookup_and_free(good, "acme-call-123", HANDOFF_OK);
  {
    /* A config error with the key in the file does not log it either. */
    handoff_config *config = handoff_config_new();
    char *file = temp_file("api_key = " SECRET "\nbogus = 1\n");
    CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
    temp_file_remove(file);
    handoff_config_free(config);
  }
  pthread_mutex_lock(&log_lock);
  CHECK(log_lines > 0);
  CHECK_INT(0, log_bad_userdata);
  CHECK_INT(0, log_bad_lines);
  if (log_text != NULL) {
    CHECK_NOT_CONTAINS(log_text, SECRET);
    CHECK_NOT_CONTAINS(log_text, SANDBOX_API_KEY);
  }
  pthread_mutex_unlock(&log_lock);

  /* Errors only: a not_found lookup and a success log nothing above it. */
  reset_log(HANDOFF_LOG_ERROR);
  handoff_set_log_level(HANDOFF_LOG_ERROR);
  lookup_and_free(good, "no-such-call", HANDOFF_NOT_FOUND);
  lookup_and_free(good, "acme-call-123", HANDOFF_OK);
  lookup_and_free(good, "fault-500", HANDOFF_SERVER_ERROR);
  pthread_mutex_lock(&log_lock);
  CHECK_INT(0, log_lines_above);
  pthread_mutex_unlock(&log_lock);

  /* Removed: no more calls. */
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  handoff_set_log_callback(NULL, NULL);
  reset_log(HANDOFF_LOG_DEBUG);
  lookup_and_free(good, "fault-500", HANDOFF_SERVER_ERROR);
  lookup_and_free(client, "acme-call-123", HANDOFF_FORBIDDEN);
  pthread_mutex_lock(&log_lock);
  CHECK_INT(0, log_lines);
  pthread_mutex_unlock(&log_lock);
  handoff_set_log_level(HANDOFF_LOG_WARNING);
  reset_log(HANDOFF_LOG_DEBUG);

  handoff_client_free(client);
  handoff_client_free(good);
}

static const char *const buckets[] = {"latency_le_1",    "latency_le_2",    "latency_le_5",
                                      "latency_le_10",   "latency_le_25",   "latency_le_50",
                                      "latency_le_100",  "latency_le_250",  "latency_le_500",
                                      "latency_le_1000", "latency_le_2500", "latency_le_5000",
                                      "latency_le_10000"};

static void test_client_stats(void) {
  handoff_client *client = sandbox_client_with("timeout_ms", "300", "retries", "0", NULL);
  handoff_stats *stats, *later;
  handoff_result *r;
  uint64_t previous = 0;
  size_t i;
  const char *text;

  lookup_and_free(client, "acme-call-123", HANDOFF_OK);
  lookup_and_free(client, "acme-call-123", HANDOFF_OK);
  lookup_and_free(client, "no-such-call", HANDOFF_NOT_FOUND);
  lookup_and_free(client, "fault-500", HANDOFF_SERVER_ERROR);
  lookup_and_free(client, "fault-slow", HANDOFF_TIMEOUT);

  stats = handoff_client_stats(client);
  if (!CHECK(stats != NULL)) return;
  CHECK_INT(5, handoff_stats_get(stats, "lookups"));
  CHECK_INT(2, handoff_stats_get(stats, "status.ok"));
  CHECK_INT(1, handoff_stats_get(stats, "status.not_found"));
  CHECK_INT(1, handoff_stats_get(stats, "status.server_error"));
  CHECK_INT(1, handoff_stats_get(stats, "status.timeout"));
  CHECK_INT(0, handoff_stats_get(stats, "status.invalid_argument"));
  CHECK_INT(0, handoff_stats_get(stats, "status.network"));
  CHECK_INT(5, handoff_stats_get(stats, "requests"));
  CHECK_INT(0, handoff_stats_get(stats, "retries"));
  CHECK_INT(0, handoff_stats_get(stats, "cache_hits"));
  CHECK_INT(0, handoff_stats_get(stats, "shared"));
  CHECK_INT(0, handoff_stats_get(stats, "breaker_open"));
  CHECK_INT(0, handoff_stats_get(stats, "in_flight"));
  CHECK_INT(0, handoff_stats_get(stats, "rejected_in_flight"));
  /* The timeout alone took 300 ms. */
  CHECK(handoff_stats_get(stats, "latency_us_sum") >= 250000);
  /* Cumulative buckets: never decreasing, the last holds every lookup. */
  for (i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
    uint64_t value = handoff_stats_get(stats, buckets[i]);
    if (!CHECK(value >= previous)) fprintf(stderr, "    %s = %llu\n", buckets[i], (unsigned long long)value);
    previous = value;
  }
  CHECK_INT(5, handoff_stats_get(stats, "latency_le_10000"));
  CHECK(handoff_stats_get(stats, "latency_le_100") <= 4); /* not the timeout */

  text = handoff_stats_prometheus(stats);
  if (CHECK(text != NULL)) {
    CHECK_CONTAINS(text, "polyai_handoff_");
    CHECK_CONTAINS(text, "# TYPE ");
    CHECK_CONTAINS(text, "le=\"+Inf\"");
    CHECK_CONTAINS(text, "timeout");
    CHECK(text == handoff_stats_prometheus(stats));
    CHECK(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    CHECK_NOT_CONTAINS(text, SANDBOX_API_KEY);
  }

  /* A snapshot does not move. */
  lookup_and_free(client, "acme-call-123", HANDOFF_OK);
  CHECK_INT(5, handoff_stats_get(stats, "lookups"));
  later = handoff_client_stats(client);
  CHECK_INT(6, handoff_stats_get(later, "lookups"));
  handoff_stats_free(later);

  /* "every lookup, whatever its outcome": a refused id is a lookup too. */
  lookup_and_free(client, "", HANDOFF_INVALID_ARGUMENT);
  later = handoff_client_stats(client);
  CHECK_INT(7, handoff_stats_get(later, "lookups"));
  CHECK_INT(1, handoff_stats_get(later, "status.invalid_argument"));
  CHECK_INT(6, handoff_stats_get(later, "requests"));
  handoff_stats_free(later);

  /* It outlives its client. */
  handoff_client_free(client);
  CHECK_INT(5, handoff_stats_get(stats, "lookups"));
  CHECK(handoff_stats_prometheus(stats) != NULL);
  handoff_stats_free(stats);

  /* elapsed_us: about the time the lookup took. */
  client = sandbox_client_with("timeout_ms", "300", NULL);
  r = handoff_client_lookup(client, "fault-slow", 0);
  CHECK(handoff_result_elapsed_us(r) >= 250000);
  CHECK(handoff_result_elapsed_us(r) < (int64_t)(1500000 * test_time_scale()));
  handoff_result_free(r);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK(handoff_result_elapsed_us(r) > 0);
  CHECK(handoff_result_elapsed_us(r) < (int64_t)(250000 * test_time_scale()));
  handoff_result_free(r);
  handoff_client_free(client);
}

static void test_process_stats(void) {
  handoff_stats *stats;
  handoff_result *r;
  CHECK(handoff_process_stats() == NULL);
  setenv("POLYAI_HANDOFF_BASE_URL", sandbox_url(), 1);
  setenv("POLYAI_HANDOFF_ACCOUNT_ID", SANDBOX_ACCOUNT, 1);
  setenv("POLYAI_HANDOFF_PROJECT_ID", SANDBOX_PROJECT, 1);
  setenv("POLYAI_HANDOFF_API_KEY", SANDBOX_API_KEY, 1);
  CHECK_INT(HANDOFF_OK, handoff_init(NULL));
  r = handoff_lookup("acme-call-123");
  check_acme_123(r);
  handoff_result_free(r);
  r = handoff_lookup("no-such-call");
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  handoff_result_free(r);
  stats = handoff_process_stats();
  if (CHECK(stats != NULL)) {
    CHECK_INT(2, handoff_stats_get(stats, "lookups"));
    CHECK_INT(1, handoff_stats_get(stats, "status.ok"));
    CHECK_INT(1, handoff_stats_get(stats, "status.not_found"));
    CHECK(handoff_stats_prometheus(stats) != NULL);
  }
  handoff_shutdown();
  CHECK(handoff_process_stats() == NULL);
  /* The snapshot outlives the shutdown. */
  CHECK_INT(2, handoff_stats_get(stats, "lookups"));
  handoff_stats_free(stats);
}

int main(void) {
  test_logging();
  test_client_stats();
  test_process_stats();
  return check_summary("test_observability");
}
