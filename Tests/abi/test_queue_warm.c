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
 * closes it, and without keep-warm the same lookup has to connect; the
 * replaced connection is closed, not left for a lookup to take; a warm-up
 * asked for while one runs shares it (one connection, not two); queued
 * lookups keep only their own connection warm, not the unused slots; a
 * warm-up while a queued lookup runs finds their connection ready.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "log_capture.h"
#include "queue_wait.h"
#include "servers.h"
#include "tcp_table.h"
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

/* Kamailio's async process makes its queue (warm_connections starts the I/O
 * thread's warm-up) and calls handoff_client_warm() at once: the second
 * warm-up of that connection joins the first, which is still in its TLS
 * handshake, rather than make a second connection. The front completes TCP
 * (the kernel's accept queue) and never answers: every warm-up stays in its
 * handshake, and the queue counts each connection made. That also proves
 * handoff_queue_new() does not wait for its warm-up. A caller that joined
 * with more time than the warm-up it joined tries again once that one ran
 * out. */
static void a_warm_up_asked_for_while_one_runs_joins_it(void) {
  test_server front;
  char url[64], timeout[16], warm_timeout[16];
  int timeout_ms = (int)(1000 * test_time_scale()); /* 700 ms (scaled) more than the first call */
  handoff_config *config;
  handoff_client *client;
  handoff_queue *queue;
  if (!CHECK_INT(0, test_server_listen(&front, 16, NULL, NULL))) return;
  snprintf(url, sizeof url, "https://127.0.0.1:%d", front.port);
  snprintf(timeout, sizeof timeout, "%d", timeout_ms);
  snprintf(warm_timeout, sizeof warm_timeout, "%d", (int)(300 * test_time_scale()));
  config = sandbox_config_with("base_url", url, "retries", "0", "timeout_ms", timeout, "warm_connections", "1", NULL);
  client = sandbox_client_from(config); /* its slot's warm-up runs out of time */
  CHECK_INT(1, client_stat(client, "warmups"));
  CHECK_INT(1, tcp_accept_queue(front.port));
  queue = new_queue(client);
  /* The queue's warm-up cannot end before timeout_ms: it has not. */
  CHECK_INT(1, client_stat(client, "warmups"));
  WAIT_UNTIL(tcp_accept_queue(front.port) == 2, 5000);
  CHECK_INT(2, tcp_accept_queue(front.port));
  CHECK_INT(HANDOFF_TIMEOUT, handoff_client_warm(client, atoi(warm_timeout)));
  /* The slot's again, and no second one for the I/O thread. */
  CHECK_INT(3, tcp_accept_queue(front.port));
  /* Again at once, with a warm-up that outlasts the queue's (timeout_ms
   * from handoff_queue_new, 300 ms ago): it joins it too, and tries once
   * more when that one runs out. */
  CHECK_INT(HANDOFF_TIMEOUT, handoff_client_warm(client, 2 * timeout_ms));
  /* Its slot's, and the I/O thread's second try. */
  WAIT_UNTIL(tcp_accept_queue(front.port) == 5, 5000);
  CHECK_INT(5, tcp_accept_queue(front.port));
  /* client_new's, the two calls', and the queue's (counted last). */
  WAIT_UNTIL(client_stat(client, "warmups") == 4, 5000);
  CHECK_INT(4, client_stat(client, "warmups"));
  handoff_queue_free(queue);
  handoff_client_free(client);
  test_server_stop(&front); /* it never accepted: the listener closes */
}

/* After keep-warm replaced the I/O thread's connection the old one is
 * closed: libcurl takes the oldest idle connection first, and the next
 * lookup would have gone over the one the server may be about to drop. On
 * the port that keeps connections for 120 s only the client closes them:
 * once both replacements were made (the slot's and the I/O thread's), two
 * connections are open, as after the warm-up. With connection_max_idle_ms
 * 5000 libcurl's own age limit (4 s) is past the replacement (3.75 s). */
/* (tcp_established_to counts every connection to the port: the tests run
 * one at a time, and nothing else talks to nginx meanwhile.) */
static void a_replaced_connection_is_closed(void) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", "connection_max_idle_ms", "5000", "keep_warm_ms", "60000", NULL);
  handoff_queue *queue = new_queue(client);
  int port = atoi(test_env("HANDOFF_TEST_TLS_H2_PORT"));
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS))) {
    CHECK_INT(2, tcp_established_to(port));
    WAIT_UNTIL(client_stat(client, "connections_warmed") >= 4, 15000);
    CHECK(client_stat(client, "connections_warmed") >= 4);
    WAIT_UNTIL(tcp_established_to(port) == 2, 3000);
    CHECK_INT(2, tcp_established_to(port));
    CHECK_INT(HANDOFF_OK, queued_lookup(queue, "qreplaced"));
    CHECK_INT(0, unwarmed(client));
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Queued lookups keep the I/O thread's connection warm, and only that: the
 * slots, which only the warm-up used, stop being replaced keep_warm_ms
 * after it (a Kamailio async process never uses them). The queued lookups,
 * 200 ms apart, reuse their connection (well within libcurl's age limit,
 * connection_max_idle_ms rounded down to whole seconds, less one), so no
 * connection is made once the slots' keep-warm has ended (two keep_warm_ms
 * on); a slot's replacement, every 3/4 of connection_max_idle_ms, would be.
 * The times are stretched with the time scale: a lookup late by a second
 * must not make a connection of its own. */
#define STEADY_MAX_LOOKUPS 1000
static void queued_lookups_keep_only_their_connection_warm(void) {
  double scale = test_time_scale(), start, settled, end;
  char max_idle[16], keep[16];
  handoff_client *client;
  handoff_queue *queue;
  snprintf(max_idle, sizeof max_idle, "%d", (int)(2000 * scale));
  snprintf(keep, sizeof keep, "%d", (int)(1000 * scale));
  client = client_on("HANDOFF_TEST_TLS_H2_PORT", "connection_max_idle_ms", max_idle, "keep_warm_ms", keep, NULL);
  queue = new_queue(client);
  start = now_ms();
  settled = start + 2000 * scale;
  end = settled + 3000 * scale; /* two replacements' time */
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS))) {
    unsigned long long before = 0;
    int i, counted = 0;
    for (i = 0; i < STEADY_MAX_LOOKUPS && now_ms() < end; i++) {
      char tag[32];
      if (!counted && now_ms() >= settled) {
        before = client_stat(client, "connections");
        counted = 1;
      }
      snprintf(tag, sizeof tag, "qsteady-%d", i);
      CHECK_INT(HANDOFF_OK, queued_lookup(queue, tag));
      test_sleep_ms(200);
    }
    CHECK(counted);
    CHECK_INT(before, client_stat(client, "connections"));
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* handoff_client_warm() while a queued lookup waits for its answer on the
 * I/O thread's HTTP/2 connection: the warm-up goes over that connection and
 * finds it kept. libcurl names no socket for a transfer that ended on a
 * connection another transfer still uses; the warm-up once took that for
 * HTTP/1.1 and logged so. */
static void a_warm_up_beside_a_running_lookup_finds_its_connection(void) {
  handoff_client *client = client_on("HANDOFF_TEST_TLS_H2_PORT", NULL);
  handoff_queue *queue = new_queue(client);
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS))) {
    /* fault-slow answers after 5 s; the queue's end cancels it. */
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-slow", LOOKUP_MS * 2, 9));
    WAIT_UNTIL(client_stat(client, "requests") == 1, 5000);
    test_sleep_ms((long)(200 * test_time_scale())); /* on the wire (if not, it proves less) */
    reset_log();
    handoff_set_log_level(HANDOFF_LOG_INFO);
    handoff_set_log_callback(collect, NULL);
    CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
    handoff_set_log_callback(NULL, NULL);
    handoff_set_log_level(HANDOFF_LOG_WARNING);
    pthread_mutex_lock(&log_lock);
    if (!CHECK(strstr(log_text, "warm-up: 2 of 2 connections ready") != NULL)) fprintf(stderr, "    log: %s\n", log_text);
    pthread_mutex_unlock(&log_lock);
    CHECK_INT(0, unwarmed(client));
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
}

int main(void) {
  warm_covers_queued_lookups();
  queue_new_warms_without_waiting();
  a_connection_the_server_shut_never_fails_a_queued_lookup();
  idle_past_connection_max_idle_ms_is_never_reused();
  keep_warm_replaces_the_queues_connection();
  a_warm_up_asked_for_while_one_runs_joins_it();
  a_replaced_connection_is_closed();
  queued_lookups_keep_only_their_connection_warm();
  a_warm_up_beside_a_running_lookup_finds_its_connection();
  return check_summary("test_queue_warm");
}
