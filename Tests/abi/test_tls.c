/*
 * test_tls.c -- lookups over real TLS, run by tls_front.sh: nginx on loopback
 * terminates TLS with certificates made by openssl for this run and proxies
 * to the sandbox.
 *
 * What it proves: a certificate from the configured ca_file for the right
 * name works, with one kept-alive connection and resumed TLS sessions; a
 * certificate the client does not trust, for another name, or expired,
 * fails as HANDOFF_NETWORK before any request (the API key never leaves)
 * and is never retried; a CA file without certificates fails at start; a
 * stalled response ends on time; redirects are not followed; 16 threads
 * share one client's connections.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>

#include "harness.h"

#define DEADLINE_MS 300
#define SLACK_MS 10.0
#define ATTEMPTS 5
#define THREADS 16
#define LOOKUPS_PER_THREAD 20
/* The deadline of a lookup that must succeed (or fail for a reason other
 * than time): generous, and stretched under valgrind, where a cold TLS
 * handshake alone takes seconds. Nothing is timed against it. */
#define LOOKUP_MS ((int)(5000 * test_time_scale()))

static int tls_port(const char *name) { return atoi(test_env(name)); }

/* A sandbox configuration whose base_url is https://host:port, trusting
 * ca_file (NULL: the system's CAs), with no retries. */
static handoff_config *tls_config(const char *host, int port, const char *ca_file) {
  char url[96];
  handoff_config *config;
  snprintf(url, sizeof url, "https://%s:%d", host, port);
  config = sandbox_config_with("base_url", url, "retries", "0", NULL);
  if (ca_file != NULL) CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ca_file", ca_file));
  return config;
}

static handoff_client *tls_client(const char *host, int port, const char *ca_file) {
  return sandbox_client_from(tls_config(host, port, ca_file));
}

/* nginx's access log lines for this port whose request names `tag`:
 * connection serial, requests on it so far, "r" if the TLS session was
 * resumed, and the TLS version. Returns how many were found. */
typedef struct {
  long connection;
  long request;
  char reused[4];
  char protocol[16];
} log_line;

static int access_log_lines(int port, const char *tag, log_line *out, int max) {
  FILE *log = fopen(test_env("HANDOFF_TEST_TLS_ACCESS_LOG"), "r");
  char text[2048];
  int found = 0;
  if (log == NULL) return -1;
  while (fgets(text, sizeof text, log) != NULL && found < max) {
    int line_port;
    log_line line;
    char uri[1024];
    if (sscanf(text, "%d %ld %ld %3s %15s %1023s", &line_port, &line.connection, &line.request, line.reused,
               line.protocol, uri) != 6)
      continue;
    if (line_port == port && strstr(uri, tag) != NULL) out[found++] = line;
  }
  fclose(log);
  return found;
}

static void trusted_certificate_works(void) {
  const char *ca = test_env("HANDOFF_TEST_TLS_CA");
  int port = tls_port("HANDOFF_TEST_TLS_PORT");
  handoff_client *client = tls_client("127.0.0.1", port, ca);
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  check_acme_123(r);
  handoff_result_free(r);

  /* The API's own errors come through TLS unchanged. */
  r = handoff_client_lookup(client, "no-such-call", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  CHECK_INT(404, handoff_result_http_status(r));
  CHECK_STR("Handoff state not found", handoff_result_error(r));
  handoff_result_free(r);
  handoff_client_free(client);

  /* By host name: the certificate names localhost too. */
  client = tls_client("localhost", port, ca);
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);
}

/* nginx writes a request's line once it is done with it, after the response
 * has gone out: waits (bounded) for `expected` lines, then returns how many
 * there are, for the caller to check. */
#define ACCESS_LOG_WAIT_MS 5000

static int access_log_wait(int port, const char *tag, log_line *out, int max, int expected) {
  int found;
  WAIT_UNTIL((found = access_log_lines(port, tag, out, max)) >= expected, ACCESS_LOG_WAIT_MS);
  return found;
}

/* `count` lookups in a row on one new client for the given port, each of a
 * distinct id containing `tag`; then nginx's log lines for them. */
static int lookups_in_a_row(int port, const char *tag, int count, log_line *lines, int max) {
  handoff_client *client = tls_client("127.0.0.1", port, test_env("HANDOFF_TEST_TLS_CA"));
  char id[64];
  int i;
  for (i = 0; i < count; i++) {
    handoff_result *r;
    snprintf(id, sizeof id, "acme-call-123~%s-%d", tag, i);
    r = handoff_client_lookup(client, id, LOOKUP_MS);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
  }
  handoff_client_free(client);
  return access_log_wait(port, tag, lines, max, count);
}

static void one_connection_for_many_lookups(void) {
  enum { LOOKUPS = 10 };
  int port = tls_port("HANDOFF_TEST_TLS_PORT"), i, found;
  log_line lines[LOOKUPS + 4];
  found = lookups_in_a_row(port, "tls-keepalive", LOOKUPS, lines, LOOKUPS + 4);
  CHECK_INT(LOOKUPS, found);
  for (i = 0; i < found; i++) {
    CHECK_INT(lines[0].connection, lines[i].connection);
    CHECK_INT(i + 1, lines[i].request);
  }
  if (found > 0) printf("tls: %d lookups on one connection (%s)\n", found, lines[0].protocol);
}

static void new_connections_resume_the_session(void) {
  enum { LOOKUPS = 9 };  /* nginx closes each connection after 3 requests */
  int port = tls_port("HANDOFF_TEST_TLS_SHORT_PORT"), i, found, connections = 0, resumed = 0;
  log_line lines[LOOKUPS + 4];
  found = lookups_in_a_row(port, "tls-resume", LOOKUPS, lines, LOOKUPS + 4);
  CHECK_INT(LOOKUPS, found);
  for (i = 0; i < found; i++) {
    if (lines[i].request != 1) continue;
    connections++;
    if (i > 0 && strcmp(lines[i].reused, "r") == 0) resumed++;
  }
  printf("tls: %d lookups, %d connections, %d of the later ones resumed their TLS session\n", found,
         connections, resumed);
  CHECK_INT(LOOKUPS / 3, connections);
  CHECK_INT(connections - 1, resumed);
}

/* A TLS failure: HANDOFF_NETWORK, no HTTP status, a reason, no request,
 * and no retry though the client may retry: the certificate will not change. */
static void expect_refused(const char *what, const char *host, int port, const char *ca_file, const char *reason) {
  sandbox_stats before = sandbox_stats_now(), after;
  handoff_config *config = tls_config(host, port, ca_file);
  handoff_client *client;
  handoff_result *r;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "retries", "3"));
  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  if (!CHECK_STATUS(HANDOFF_NETWORK, r)) fprintf(stderr, "    case: %s\n", what);
  CHECK_INT(0, handoff_result_http_status(r));
  CHECK_INT(0, handoff_result_count(r));
  if (!CHECK(strstr(handoff_result_error(r), reason) != NULL)) {
    fprintf(stderr, "    case: %s; error should mention \"%s\": ", what, reason);
    check_print_string(stderr, handoff_result_error(r));
    fputs("\n", stderr);
  }
  CHECK(strstr(handoff_result_error(r), SANDBOX_API_KEY) == NULL);
  CHECK(strstr(handoff_result_header_block(r), "Handoff-Status: network\r\n") != NULL);
  if (!CHECK_INT(0, client_stat(client, "retries"))) fprintf(stderr, "    case: %s was retried\n", what);
  handoff_result_free(r);
  handoff_client_free(client);
  after = sandbox_stats_now();
  if (!CHECK_INT(before.requests, after.requests)) fprintf(stderr, "    case: %s reached the API\n", what);
}

static void untrusted_certificates_are_refused(void) {
  const char *ca = test_env("HANDOFF_TEST_TLS_CA");
  char *not_pem = temp_file("this is not a PEM certificate\n");
  handoff_client *client;
  handoff_result *r;

  expect_refused("test CA not trusted (system CAs)", "127.0.0.1", tls_port("HANDOFF_TEST_TLS_PORT"), NULL,
                 "certificate");
  expect_refused("issued by another CA", "127.0.0.1", tls_port("HANDOFF_TEST_TLS_UNKNOWN_CA_PORT"), ca,
                 "certificate");
  expect_refused("issued for another host", "127.0.0.1", tls_port("HANDOFF_TEST_TLS_WRONG_HOST_PORT"), ca,
                 "127.0.0.1");
  expect_refused("expired", "127.0.0.1", tls_port("HANDOFF_TEST_TLS_EXPIRED_PORT"), ca, "expired");

  /* A CA file without a certificate is a configuration error at start, not
   * a client that trusts nothing (or everything). */
  {
    handoff_config *config = sandbox_config_with("base_url", "https://127.0.0.1:1", "ca_file", not_pem, NULL);
    handoff_status status = HANDOFF_OK;
    CHECK_NULL((const char *)handoff_client_new(config, &status));
    CHECK_INT(HANDOFF_INVALID_ARGUMENT, status);
    CHECK_CONTAINS(handoff_config_error(config), "ca_file");
    handoff_config_free(config);
  }
  temp_file_remove(not_pem);

  /* Control: the "other CA" server is fine once its CA is the one trusted,
   * so the refusal above was the CA and nothing else. */
  client = tls_client("127.0.0.1", tls_port("HANDOFF_TEST_TLS_UNKNOWN_CA_PORT"), test_env("HANDOFF_TEST_TLS_OTHER_CA"));
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);
}

/* The bound, stretched under valgrind (HANDOFF_TEST_TIME_SCALE). */
static double bound_ms(void) { return (DEADLINE_MS + SLACK_MS) * test_time_scale(); }

/* The time of one lookup, best of up to ATTEMPTS rounds: noise only adds
 * time, so the best round is the measure. */
static double on_time(handoff_client *client, const char *id, handoff_status expected) {
  double best = 1e9;
  int attempt;
  for (attempt = 0; attempt < ATTEMPTS && best > bound_ms(); attempt++) {
    double started = now_ms(), took;
    handoff_result *r = handoff_client_lookup(client, id, DEADLINE_MS);
    took = now_ms() - started;
    if (!CHECK_STATUS(expected, r)) took = 1e9;
    handoff_result_free(r);
    if (took < best) best = took;
  }
  return best;
}

static void stalls_end_on_time(void) {
  /* A handshake that never completes is a row of test_fault_matrix, at 1, 16
   * and 64 lookups at once; here the stalls after it. */
  handoff_client *client = tls_client("127.0.0.1", tls_port("HANDOFF_TEST_TLS_PORT"), test_env("HANDOFF_TEST_TLS_CA"));
  double took = on_time(client, "fault-stall", HANDOFF_TIMEOUT);
  printf("tls: stall after headers: timeout after %.1f ms\n", took);
  CHECK(took <= bound_ms());
  took = on_time(client, "fault-trickle", HANDOFF_TIMEOUT);
  printf("tls: trickle: timeout after %.1f ms\n", took);
  CHECK(took <= bound_ms());
  handoff_client_free(client);
}

static void redirects_are_not_followed(void) {
  handoff_client *client = tls_client("127.0.0.1", tls_port("HANDOFF_TEST_TLS_PORT"), test_env("HANDOFF_TEST_TLS_CA"));
  handoff_result *r = handoff_client_lookup(client, "fault-redirect", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_PROTOCOL, r);
  CHECK_INT(302, handoff_result_http_status(r));
  handoff_result_free(r);
  handoff_client_free(client);
}

typedef struct {
  handoff_client *client;
  int thread;
} worker;

static void *many_lookups(void *arg) {
  worker *w = arg;
  char id[64];
  int i;
  for (i = 0; i < test_iterations(LOOKUPS_PER_THREAD); i++) {
    handoff_result *r;
    snprintf(id, sizeof id, "acme-call-123~tls-threads-%d-%d", w->thread, i);
    r = handoff_client_lookup(w->client, id, 2 * LOOKUP_MS);
    CHECK_STATUS(HANDOFF_OK, r);
    CHECK_STR("12345", handoff_result_get(r, "customer_id"));
    handoff_result_free(r);
  }
  return NULL;
}

/* 16 threads on one client: every lookup succeeds, and they share at most
 * one kept-alive connection per thread (the client's slots are reused, not
 * made per lookup). */
static void many_threads_share_the_tls_state(void) {
  static log_line lines[THREADS * LOOKUPS_PER_THREAD + 4];
  int port = tls_port("HANDOFF_TEST_TLS_PORT"), i, started = 0, found, connections = 0;
  handoff_client *client = tls_client("127.0.0.1", port, test_env("HANDOFF_TEST_TLS_CA"));
  pthread_t ids[THREADS];
  worker workers[THREADS];
  for (i = 0; i < THREADS; i++) {
    workers[i].client = client;
    workers[i].thread = i;
    if (!CHECK_INT(0, pthread_create(&ids[i], NULL, many_lookups, &workers[i]))) break;
    started++;
  }
  for (i = 0; i < started; i++) pthread_join(ids[i], NULL);
  handoff_client_free(client);

  found = access_log_wait(port, "tls-threads", lines, THREADS * LOOKUPS_PER_THREAD + 4,
                          started * (int)test_iterations(LOOKUPS_PER_THREAD));
  CHECK_INT(started * test_iterations(LOOKUPS_PER_THREAD), found);
  for (i = 0; i < found; i++) connections += lines[i].request == 1;
  printf("tls: %d threads, %d lookups on %d connections\n", started, found, connections);
  CHECK(connections >= 1 && connections <= started);
}

/* count lookups of acme-call-123 in a row, each checked. */
static void acme_lookups(handoff_client *client, int count, int timeout_ms) {
  int i;
  for (i = 0; i < count; i++) {
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", timeout_ms);
    check_acme_123(r);
    handoff_result_free(r);
  }
}

/* HTTP/2 where the server offers it (ALPN), HTTP/1.1 where not: the stats
 * say which each new connection spoke; queued lookups too. */
static void http2_where_offered(void) {
  handoff_client *client = tls_client("127.0.0.1", tls_port("HANDOFF_TEST_TLS_H2_PORT"), test_env("HANDOFF_TEST_TLS_CA"));
  handoff_queue *queue;
  handoff_stats *stats;
  char id[32];
  int i, done = 0, lookup_ms = (int)(5000 * test_time_scale());
  acme_lookups(client, 5, lookup_ms);
  CHECK_INT(1, client_stat(client, "connections"));
  CHECK_INT(1, client_stat(client, "connections_http2"));
  CHECK_INT(0, client_stat(client, "connections_http1"));
  stats = handoff_client_stats(client);
  CHECK_CONTAINS(handoff_stats_prometheus(stats), "polyai_handoff_connections_total{protocol=\"http2\"} 1\n");
  handoff_stats_free(stats);

  /* Eight queued lookups of different ids at once, over HTTP/2 too. */
  queue = handoff_queue_new(client, NULL);
  if (!CHECK(queue != NULL)) return;
  for (i = 0; i < 8; i++) {
    snprintf(id, sizeof id, "h2-missing-%d", i);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, id, lookup_ms, (uint64_t)i));
  }
  {
    double end = now_ms() + 2.0 * lookup_ms;
    while (done < 8 && now_ms() < end) {
      struct pollfd watch = {handoff_queue_fd(queue), POLLIN, 0};
      uint64_t tag;
      handoff_result *r = handoff_queue_next(queue, &tag);
      if (r == NULL) {
        (void)poll(&watch, 1, 50);
        continue;
      }
      CHECK_STATUS(HANDOFF_NOT_FOUND, r);
      handoff_result_free(r);
      done++;
    }
  }
  CHECK_INT(8, done);
  CHECK(client_stat(client, "connections_http2") >= 2); /* the synchronous one and the I/O thread's */
  CHECK_INT(0, client_stat(client, "connections_http1"));
  CHECK_INT(client_stat(client, "connections"), client_stat(client, "connections_http2"));
  handoff_queue_free(queue);
  handoff_client_free(client);

  /* The HTTP/1.1 front. */
  client = tls_client("127.0.0.1", tls_port("HANDOFF_TEST_TLS_PORT"), test_env("HANDOFF_TEST_TLS_CA"));
  acme_lookups(client, 2, lookup_ms);
  CHECK_INT(1, client_stat(client, "connections"));
  CHECK_INT(1, client_stat(client, "connections_http1"));
  CHECK_INT(0, client_stat(client, "connections_http2"));
  handoff_client_free(client);
}

int main(void) {
  trusted_certificate_works();
  one_connection_for_many_lookups();
  new_connections_resume_the_session();
  untrusted_certificates_are_refused();
  stalls_end_on_time();
  redirects_are_not_followed();
  many_threads_share_the_tls_state();
  http2_where_offered();
  return check_summary("test_tls");
}
