/*
 * test_queue_warm.c -- the I/O thread's connection (queued lookups): warm-up,
 * keep-warm, a connection the server shut, connection_max_idle_ms; run by
 * tls_front.sh (nginx with TLS and HTTP/2 in front of the sandbox).
 *
 * What it proves: once a queue exists, handoff_client_warm() also warms the
 * connection queued lookups use, sending nothing (nginx's log: the first
 * queued lookup is the first request on its connection), and the lookup
 * makes no connection of its own; handoff_queue_new() on a client with
 * warm_connections warms it without the caller waiting; a queued lookup
 * after the server shut its idle HTTP/2 connection succeeds at once; a connection idle past connection_max_idle_ms
 * is never reused; keep-warm replaces the idle connection before the server
 * closes it, and without keep-warm the same lookup has to connect.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "queue_wait.h"
#include "tls_log.h"

/* A lookup or warm-up that must succeed: generous, stretched under valgrind
 * and the sanitizers. Nothing is timed against it. */
#define LOOKUP_MS ((int)(5000 * test_time_scale()))
/* Longer than nginx's keepalive_timeout (2 s) on the idle port, twice. */
#define SILENCE_MS 5000
/* See test_warm.c: libcurl 7.88 now and then takes an idle HTTP/2
 * connection for dead right after a warm-up. One try of these must reuse. */
#define REUSE_TRIES 3

static handoff_client *client_on(const char *port_env, const char *first_key, ...) {
  char url[64];
  handoff_config *config;
  va_list more;
  const char *key;
  snprintf(url, sizeof url, "https://127.0.0.1:%s", test_env(port_env));
  config = sandbox_config_with("base_url", url, "retries", "0", NULL);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ca_file", test_env("HANDOFF_TEST_TLS_CA")));
  va_start(more, first_key);
  for (key = first_key; key != NULL; key = va_arg(more, const char *)) CHECK_INT(HANDOFF_OK, handoff_config_set(config, key, va_arg(more, const char *)));
  va_end(more);
  return sandbox_client_from(config);
}

/* A queued lookup of tagged_id(tag), taken; its status. */
static handoff_status queued_lookup(handoff_queue *queue, const char *tag) {
  char id[96];
  uint64_t tag_out = 0;
  handoff_result *r;
  handoff_status status;
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, tagged_id(id, tag), LOOKUP_MS, 7));
  r = take(queue, &tag_out, 10000);
  if (!CHECK(r != NULL)) return HANDOFF_TIMEOUT;
  CHECK_INT(7, tag_out);
  status = handoff_result_status(r);
  if (status != HANDOFF_OK) fprintf(stderr, "    queued lookup %s: %s\n", id, handoff_result_error(r));
  handoff_result_free(r);
  return status;
}

/* Connections no warm-up made (warmed read first: see test_keep_warm.c). */
static long long unwarmed(handoff_client *client) {
  long long warmed = (long long)client_stat(client, "connections_warmed");
  long long all = (long long)client_stat(client, "connections");
  return all - warmed;
}

/* A client with a queue, warmed by handoff_client_warm: the slot's
 * connection and the I/O thread's. 1 when the first queued lookup went over
 * the warmed connection as its first request. */
static int warmed_queue_connection_used(const char *tag) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", NULL);
  handoff_queue *queue = new_queue(client);
  log_line line;
  int used = 0;
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS))) {
    CHECK_INT(2, client_stat(client, "connections_warmed")); /* one for each */
    CHECK_INT(0, client_stat(client, "requests"));
    CHECK_INT(HANDOFF_OK, queued_lookup(queue, tag));
    used = unwarmed(client) == 0 && wait_line(tag, &line) && line.request == 1;
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
  return used;
}

static void warm_covers_queued_lookups(void) {
  int used = 0, try;
  for (try = 0; try < REUSE_TRIES && !used; try++) {
    char tag[32];
    snprintf(tag, sizeof tag, "qwarm-reuse-%d", try);
    used = warmed_queue_connection_used(tag);
  }
  CHECK(used);

  /* Without a queue, a warm-up leaves the I/O thread alone. */
  {
    handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", NULL);
    CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
    CHECK_INT(1, client_stat(client, "connections_warmed"));
    handoff_client_free(client);
  }
}

/* warm_connections = 1: handoff_client_new warms the slot, handoff_queue_new
 * starts the I/O thread's warm-up and returns; it completes on its own. */
static void queue_new_warms_without_waiting(void) {
  int used = 0, try;
  for (try = 0; try < REUSE_TRIES && !used; try++) {
    char tag[32];
    handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", "warm_connections", "1", NULL);
    handoff_queue *queue;
    log_line line;
    CHECK_INT(1, client_stat(client, "connections_warmed"));
    queue = new_queue(client);
    /* warmups is counted last, when the warm-up's completion runs. */
    WAIT_UNTIL(client_stat(client, "warmups") == 2, 5000);
    CHECK_INT(2, client_stat(client, "warmups"));
    CHECK_INT(2, client_stat(client, "connections_warmed"));
    snprintf(tag, sizeof tag, "qwarm-new-%d", try);
    CHECK_INT(HANDOFF_OK, queued_lookup(queue, tag));
    used = unwarmed(client) == 0 && wait_line(tag, &line) && line.request == 1;
    handoff_queue_free(queue);
    handoff_client_free(client);
  }
  CHECK(used);
}

/* A synchronous lookup once failed on an HTTP/2 connection nginx had shut
 * after its idle timeout (see test_keep_warm.c); a queued one must not
 * either, and must not need a retry. A connection_max_idle_ms above the
 * silence keeps libcurl's age limit out of it. */
static void a_connection_the_server_shut_never_fails_a_queued_lookup(void) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_IDLE_PORT", "connection_max_idle_ms", "60000", NULL);
  handoff_queue *queue = new_queue(client);
  int i;
  for (i = 0; i < 3; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "qshut-%d", i);
    CHECK_INT(HANDOFF_OK, queued_lookup(queue, tag));
    if (i < 2) test_sleep_ms(3000); /* past nginx's 2 s */
  }
  CHECK_INT(3, client_stat(client, "connections"));
  CHECK_INT(3, client_stat(client, "requests"));
  CHECK_INT(0, client_stat(client, "retries"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* On the port that keeps connections for 120 s: after 2.5 s of silence the
 * connection is reused by default, and not with connection_max_idle_ms at
 * 1000 (libcurl counts whole seconds: reused only while idle under 1 s). */
static long long connections_after_a_pause(const char *max_idle_ms, const char *tag) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", "connection_max_idle_ms", max_idle_ms, NULL);
  handoff_queue *queue = new_queue(client);
  long long connections;
  char first[40], second[40];
  snprintf(first, sizeof first, "%s-a", tag);
  snprintf(second, sizeof second, "%s-b", tag);
  CHECK_INT(HANDOFF_OK, queued_lookup(queue, first));
  test_sleep_ms(2500);
  CHECK_INT(HANDOFF_OK, queued_lookup(queue, second));
  connections = (long long)client_stat(client, "connections");
  handoff_queue_free(queue);
  handoff_client_free(client);
  return connections;
}

static void idle_past_connection_max_idle_ms_is_never_reused(void) {
  CHECK_INT(1, connections_after_a_pause("45000", "qage-default"));
  CHECK_INT(2, connections_after_a_pause("1000", "qage-short"));
}

/* A queued lookup after the silence on the idle port (nginx closes idle
 * connections after 2 s); how many connections it made itself. */
static long long queued_connections_after_silence(const char *keep_warm_ms, const char *tag) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_IDLE_PORT", "connection_max_idle_ms", "1000", "keep_warm_ms",
                                     keep_warm_ms, NULL);
  handoff_queue *queue = new_queue(client);
  long long own = -1;
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS))) {
    test_sleep_ms(SILENCE_MS);
    CHECK_INT(HANDOFF_OK, queued_lookup(queue, tag));
    /* A replacement finishing meanwhile makes it look larger for a moment. */
    WAIT_UNTIL((own = unwarmed(client)) == 0, 2000);
    CHECK_INT(1, client_stat(client, "requests")); /* replacing sends nothing */
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
  return own;
}

static void keep_warm_replaces_the_queues_connection(void) {
  int reused = 0, try;
  for (try = 0; try < 3 && !reused; try++) {
    char tag[32];
    snprintf(tag, sizeof tag, "qkeep-%d", try);
    reused = queued_connections_after_silence("60000", tag) == 0;
  }
  CHECK(reused);
  CHECK_INT(1, queued_connections_after_silence("0", "qkeep-off"));
}

int main(void) {
  warm_covers_queued_lookups();
  queue_new_warms_without_waiting();
  a_connection_the_server_shut_never_fails_a_queued_lookup();
  idle_past_connection_max_idle_ms_is_never_reused();
  keep_warm_replaces_the_queues_connection();
  return check_summary("test_queue_warm");
}
