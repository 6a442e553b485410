/*
 * test_lookup.c -- every status and every field of a lookup, against the
 * sandbox's fixtures and faults.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* One lookup by shared id on a fresh client; returns the result. */
static handoff_result *lookup(handoff_client *client, const char *shared_id) {
  handoff_result *r = handoff_client_lookup(client, shared_id, 0);
  if (!CHECK(r != NULL)) exit(2);
  return r;
}

/* A failed result carries no data. */
static void check_failed_result(const handoff_result *r) {
  CHECK_NULL(handoff_result_conversation_id(r));
  CHECK_NULL(handoff_result_shared_id(r));
  CHECK_INT(0, handoff_result_count(r));
  CHECK_NULL(handoff_result_key(r, 0));
  CHECK_NULL(handoff_result_value(r, 0));
  CHECK_STR("{}", handoff_result_data_json(r));
  CHECK(strlen(handoff_result_error(r)) > 0);
}

/* Looks up id, expecting a failure with this status and HTTP status (-1: any)
 * and, when given, this error message. */
static void expect_failure(handoff_client *client, const char *shared_id, handoff_status status,
                           int http_status, const char *error) {
  handoff_result *r = lookup(client, shared_id);
  if (!CHECK_STATUS(status, r)) fprintf(stderr, "    (shared_id %s)\n", shared_id);
  if (http_status >= 0 && !CHECK_INT(http_status, handoff_result_http_status(r)))
    fprintf(stderr, "    (shared_id %s)\n", shared_id);
  if (error != NULL) CHECK_STR(error, handoff_result_error(r));
  check_failed_result(r);
  handoff_result_free(r);
}

static void test_acme_123(handoff_client *client) {
  handoff_result *r = lookup(client, "acme-call-123");
  check_acme_123(r);
  CHECK_STR("{\"customer_id\":\"12345\",\"handoff_reason\":\"successfully_identified\","
            "\"handoff_to\":\"billing\",\"customer\":{\"tier\":\"gold\","
            "\"name\":\"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m\","
            "\"account_number\":9223372036854775807,\"balance\":1234.50},"
            "\"previous_calls\":[\"2026-11-01\",\"2026-11-15\"],\"vip\":true,\"notes\":null}",
            handoff_result_data_json(r));
  CHECK_NULL(handoff_result_get(r, "customer"));
  CHECK_NULL(handoff_result_get(r, "no_such_key"));
  CHECK_NULL(handoff_result_get(r, ""));
  CHECK_NULL(handoff_result_key(r, 11));
  CHECK_NULL(handoff_result_value(r, 11));
  /* Strings are stable: the same pointer each time. */
  CHECK(handoff_result_key(r, 3) == handoff_result_key(r, 3));
  CHECK(handoff_result_data_json(r) == handoff_result_data_json(r));
  handoff_result_free(r);
}

static void test_by_conversation_id(handoff_client *client) {
  handoff_result *r = handoff_client_lookup_id(client, ACME_123_ID, 0);
  check_acme_123(r);
  handoff_result_free(r);

  r = handoff_client_lookup_id(client, SUPPORT_CONVERSATION_ID, 0);
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_STR(SUPPORT_CONVERSATION_ID, handoff_result_conversation_id(r));
    CHECK_NULL(handoff_result_shared_id(r));
    CHECK_INT(2, handoff_result_count(r));
    CHECK_STR("handoff_to", handoff_result_key(r, 0));
    CHECK_STR("support", handoff_result_value(r, 0));
    CHECK_STR("queue", handoff_result_key(r, 1));
    CHECK_STR("tier2", handoff_result_value(r, 1));
    CHECK_STR("{\"handoff_to\":\"support\",\"queue\":\"tier2\"}", handoff_result_data_json(r));
  }
  handoff_result_free(r);

  /* A shared id is not a conversation id, and the other way round. */
  r = handoff_client_lookup_id(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, SUPPORT_CONVERSATION_ID, 0);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  handoff_result_free(r);
}

static void test_other_fixtures(handoff_client *client) {
  static const char *const number_keys[] = {"big", "max_int", "min_int", "tiny",
                                            "huge", "neg_zero", "exact", "exp"};
  static const char *const number_values[] = {
    "123456789012345678901234567890", "9223372036854775807", "-9223372036854775808", "1e-400",
    "1e400", "-0.0", "1.10", "6.02E23"};
  size_t i;
  handoff_result *r = lookup(client, "acme-call-456");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_STR("acme-call-456", handoff_result_shared_id(r));
    CHECK_STR("5f1e7c2a-9d3b-4e8f-a6c1-2b7d9e0f4a13", handoff_result_conversation_id(r));
    CHECK_INT(6, handoff_result_count(r));
    CHECK_STR("intent.primary", handoff_result_key(r, 4));
    CHECK_STR("upgrade", handoff_result_value(r, 4));
    CHECK_STR("intent.confidence", handoff_result_key(r, 5));
    CHECK_STR("0.93", handoff_result_value(r, 5));
    CHECK_STR("es-ES", handoff_result_get(r, "language"));
  }
  handoff_result_free(r);

  /* Sent percent-encoded (space, plus, slash, non-ASCII) and found. */
  r = lookup(client, "pbx 42+7/\xce\xb1");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_STR("p-1", handoff_result_conversation_id(r));
    CHECK_STR("pbx 42+7/\xce\xb1", handoff_result_shared_id(r));
    CHECK_STR("pbx-east", handoff_result_get(r, "trunk"));
  }
  handoff_result_free(r);

  r = lookup(client, "number-edge");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_INT(8, handoff_result_count(r));
    for (i = 0; i < 8; i++) {
      CHECK_STR(number_keys[i], handoff_result_key(r, i));
      CHECK_STR(number_values[i], handoff_result_value(r, i));
      CHECK_STR(number_values[i], handoff_result_get(r, number_keys[i]));
    }
    CHECK_STR("{\"big\":123456789012345678901234567890,\"max_int\":9223372036854775807,"
              "\"min_int\":-9223372036854775808,\"tiny\":1e-400,\"huge\":1e400,"
              "\"neg_zero\":-0.0,\"exact\":1.10,\"exp\":6.02E23}",
              handoff_result_data_json(r));
  }
  handoff_result_free(r);

  r = lookup(client, "empty-data");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK(handoff_result_conversation_id(r) != NULL);
    CHECK_INT(0, handoff_result_count(r));
    CHECK_INT(0, handoff_result_truncated(r));
    CHECK_NULL(handoff_result_key(r, 0));
    CHECK_STR("{}", handoff_result_data_json(r));
    CHECK_STR("", handoff_result_error(r));
  }
  handoff_result_free(r);

  r = lookup(client, "unicode-call");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_INT(4, handoff_result_count(r));
    CHECK_STR("\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf", handoff_result_get(r, "greeting"));
    CHECK_STR("\xf0\x9f\x93\x9e\xe2\x9c\x85", handoff_result_get(r, "emoji"));
    CHECK_STR("\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", handoff_result_get(r, "rtl"));
    /* The tab is a control character: a space. */
    CHECK_STR("tab quote\"backslash\\", handoff_result_get(r, "escaped"));
    CHECK_STR("{\"greeting\":\"\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\","
              "\"emoji\":\"\xf0\x9f\x93\x9e\xe2\x9c\x85\",\"rtl\":\"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7\","
              "\"escaped\":\"tab\\tquote\\\"backslash\\\\\"}",
              handoff_result_data_json(r));
  }
  handoff_result_free(r);

  /* Deeper than max_depth (8): the one leaf, at depth 12, is dropped and
   * counted; data_json keeps it. */
  r = lookup(client, "deep");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_INT(0, handoff_result_count(r));
    CHECK_INT(1, handoff_result_truncated(r));
    CHECK_CONTAINS(handoff_result_data_json(r), "{\"l12\":\"bottom\"}");
  }
  handoff_result_free(r);

  /* Control characters in values become spaces. */
  r = lookup(client, "header-injection");
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    CHECK_INT(4, handoff_result_count(r));
    CHECK_STR("billing  X-Evil: 1", handoff_result_get(r, "handoff_to"));
    CHECK_STR("a b", handoff_result_get(r, "nul"));
    CHECK_STR("bell ", handoff_result_get(r, "ctrl"));
    CHECK_STR("v", handoff_result_get(r, "Key With Spaces: and:colons"));
  }
  for (i = 0; i < handoff_result_count(r); i++) {
    const char *value = handoff_result_value(r, i);
    CHECK(strpbrk(value, "\r\n") == NULL);
  }
  handoff_result_free(r);

  /* Faults are reachable by conversation id too. */
  r = handoff_client_lookup_id(client, "f-500", 0);
  CHECK_STATUS(HANDOFF_SERVER_ERROR, r);
  CHECK_STR("Internal error in handoff store", handoff_result_error(r));
  handoff_result_free(r);
}

static void test_api_errors(handoff_client *client) {
  expect_failure(client, "no-such-call", HANDOFF_NOT_FOUND, 404, "Handoff state not found");
  expect_failure(client, "fault-400", HANDOFF_BAD_REQUEST, 400, "Malformed request");
  expect_failure(client, "fault-500", HANDOFF_SERVER_ERROR, 500, "Internal error in handoff store");
  expect_failure(client, "fault-503", HANDOFF_SERVER_ERROR, 503, "Service unavailable");
  expect_failure(client, "fault-502-html", HANDOFF_SERVER_ERROR, 502, NULL);
  expect_failure(client, "fault-garbage", HANDOFF_PROTOCOL, 200, NULL);
  expect_failure(client, "fault-missing-data", HANDOFF_PROTOCOL, 200, NULL);
  expect_failure(client, "fault-data-not-object", HANDOFF_PROTOCOL, 200, NULL);
  expect_failure(client, "fault-id-not-string", HANDOFF_PROTOCOL, 200, NULL);
  expect_failure(client, "fault-oversized", HANDOFF_PROTOCOL, -1, NULL);
  expect_failure(client, "fault-redirect", HANDOFF_PROTOCOL, 302, NULL);
  /* The header: "the API's error_message when it sent one". */
  expect_failure(client, "fault-418", HANDOFF_PROTOCOL, 418, "unexpected HTTP status 418: teapot");
  expect_failure(client, "fault-reset", HANDOFF_NETWORK, 0, NULL);
  /* Content-Length promised, 10 bytes sent, then closed. */
  expect_failure(client, "fault-truncated", HANDOFF_NETWORK, -1, NULL);

  /* The 502 page must not become the error message. */
  {
    handoff_result *r = lookup(client, "fault-502-html");
    CHECK_NOT_CONTAINS(handoff_result_error(r), "<");
    handoff_result_free(r);
  }
  /* The sandbox answers 502 to the first request for each "~" variant of
   * fault-502-then-ok, 200 after. The default (retries 1) retries the 502
   * within the deadline and succeeds; with retries 0 the 502 is the answer. */
  {
    char id[64];
    sandbox_stats before, after;
    handoff_client *no_retry = sandbox_client_with("retries", "0", NULL);
    handoff_result *r;
    snprintf(id, sizeof id, "fault-502-then-ok~%ld-a", (long)getpid());
    before = sandbox_stats_now();
    r = lookup(client, id);
    after = sandbox_stats_now();
    CHECK_STATUS(HANDOFF_OK, r);
    CHECK_INT(200, handoff_result_http_status(r));
    CHECK_STR("recovered", handoff_result_get(r, "handoff_to"));
    CHECK_INT(2, after.requests - before.requests);
    handoff_result_free(r);

    snprintf(id, sizeof id, "fault-502-then-ok~%ld-b", (long)getpid());
    before = sandbox_stats_now();
    r = lookup(no_retry, id);
    after = sandbox_stats_now();
    CHECK_STATUS(HANDOFF_SERVER_ERROR, r);
    CHECK_INT(502, handoff_result_http_status(r));
    CHECK_STR("bad gateway", handoff_result_error(r));
    CHECK_INT(1, after.requests - before.requests);
    handoff_result_free(r);
    r = lookup(no_retry, id);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
    handoff_client_free(no_retry);
  }
  /* The client still works after every fault. */
  {
    handoff_result *r = lookup(client, "acme-call-123");
    check_acme_123(r);
    handoff_result_free(r);
  }
}

static void test_credentials(void) {
  handoff_client *client = sandbox_client_with("api_key", "wrong-key", NULL);
  handoff_result *r = lookup(client, "acme-call-123");
  CHECK_STATUS(HANDOFF_FORBIDDEN, r);
  CHECK_INT(403, handoff_result_http_status(r));
  check_failed_result(r);
  handoff_result_free(r);
  handoff_client_free(client);

  /* The sandbox answers 404 for another account or project; the API's
   * error_message is the result's error. */
  client = sandbox_client_with("project_id", "PROJECT-other", NULL);
  r = lookup(client, "acme-call-123");
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  CHECK_STR("Project not found", handoff_result_error(r));
  check_failed_result(r);
  handoff_result_free(r);
  handoff_client_free(client);

  /* The library never sends a request without a key: a blank one is refused
   * at configuration. A 401 (a revoked key) comes from the fault-401 fixture. */
  {
    handoff_config *config = sandbox_config_with(NULL);
    CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "api_key", " "));
    CHECK_CONTAINS(handoff_config_error(config), "api_key");
    handoff_config_free(config);
    client = sandbox_client();
    r = lookup(client, "fault-401");
    CHECK_STATUS(HANDOFF_UNAUTHORIZED, r);
    CHECK_INT(401, handoff_result_http_status(r));
    CHECK_STR("API key revoked", handoff_result_error(r));
    check_failed_result(r);
    handoff_result_free(r);
    handoff_client_free(client);
  }
}

/* The sandbox itself answers like the API, checked on the wire. */
static void expect_answer(const char *path, const char *api_key, const char *status, const char *body) {
  char *response = sandbox_request(path, api_key);
  if (!CHECK(response != NULL)) return;
  /* "HTTP/1.x NNN ..." */
  if (!CHECK(strncmp(response, "HTTP/1.", 7) == 0 && strncmp(response + 9, status, 3) == 0)) {
    fprintf(stderr, "    GET %s answered: ", path);
    check_print_string(stderr, response);
    fputs("\n", stderr);
  }
  CHECK_CONTAINS(response, body);
  free(response);
}

static void test_sandbox_answers_like_the_api(void) {
  static const char prefix[] = "/v1/" SANDBOX_ACCOUNT "/" SANDBOX_PROJECT "/handoff_state";
  char path[256];
  snprintf(path, sizeof path, "%s?shared_id=acme-call-123", prefix);
  expect_answer(path, NULL, "401", "{\"error_message\":\"Missing API key\"}");
  expect_answer(path, "wrong-key", "403", "{\"error_message\":\"Invalid API key\"}");
  expect_answer(path, SANDBOX_API_KEY, "200", "\"id\":\"" ACME_123_ID "\"");
  snprintf(path, sizeof path, "%s", prefix);
  expect_answer(path, SANDBOX_API_KEY, "400", "{\"error_message\":\"Either id or shared_id must be provided\"}");
  snprintf(path, sizeof path, "%s?id=&shared_id=", prefix);
  expect_answer(path, SANDBOX_API_KEY, "400", "Either id or shared_id must be provided");
  /* Both given: shared_id wins, as the API documents. */
  snprintf(path, sizeof path, "%s?id=" SUPPORT_CONVERSATION_ID "&shared_id=acme-call-123", prefix);
  expect_answer(path, SANDBOX_API_KEY, "200", "\"id\":\"" ACME_123_ID "\"");
  snprintf(path, sizeof path, "%s?id=" SUPPORT_CONVERSATION_ID, prefix);
  expect_answer(path, SANDBOX_API_KEY, "200", "\"id\":\"" SUPPORT_CONVERSATION_ID "\"");
  snprintf(path, sizeof path, "%s?shared_id=no-such-call", prefix);
  expect_answer(path, SANDBOX_API_KEY, "404", "{\"error_message\":\"Handoff state not found\"}");
}

static void test_timeouts(void) {
  double scale = test_time_scale(), start, elapsed;
  char url[128];
  handoff_client *client = sandbox_client_with("timeout_ms", "300", NULL);
  handoff_client *patient = sandbox_client_with("timeout_ms", "10000", NULL);
  handoff_client *other;
  handoff_result *r;

  start = now_ms();
  r = lookup(client, "fault-slow");
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  CHECK_INT(0, handoff_result_http_status(r));
  check_failed_result(r);
  if (!CHECK(elapsed >= 250 && elapsed < 1500 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);

  /* The per-call deadline overrides the client's. */
  start = now_ms();
  r = handoff_client_lookup(patient, "fault-slow", 300);
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  if (!CHECK(elapsed < 1500 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);

  start = now_ms();
  r = lookup(client, "fault-stall");
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  check_failed_result(r);
  if (!CHECK(elapsed < 1500 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);

  /* A body trickling in (a byte a second) does not extend the total
   * deadline, though bytes keep arriving. */
  start = now_ms();
  r = lookup(client, "fault-trickle");
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  check_failed_result(r);
  if (!CHECK(elapsed < 1500 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);

  /* After timeouts the client's next lookup is clean. */
  r = lookup(client, "acme-call-123");
  check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);
  handoff_client_free(patient);

  /* A port that accepts and never answers. */
  snprintf(url, sizeof url, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_BLACKHOLE_PORT"));
  other = sandbox_client_with("base_url", url, "timeout_ms", "300", NULL);
  start = now_ms();
  r = lookup(other, "acme-call-123");
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  CHECK_INT(0, handoff_result_http_status(r));
  check_failed_result(r);
  if (!CHECK(elapsed < 1500 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);
  handoff_client_free(other);
}

static void test_network_errors(void) {
  double scale = test_time_scale(), start, elapsed;
  char url[128];
  handoff_client *client;
  handoff_result *r;

  snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
  client = sandbox_client_with("base_url", url, "timeout_ms", "2000", NULL);
  start = now_ms();
  r = lookup(client, "acme-call-123");
  elapsed = now_ms() - start;
  CHECK_STATUS(HANDOFF_NETWORK, r);
  CHECK_INT(0, handoff_result_http_status(r));
  check_failed_result(r);
  if (!CHECK(elapsed < 1000 * scale)) fprintf(stderr, "    took %.0f ms\n", elapsed);
  handoff_result_free(r);
  handoff_client_free(client);

  /* TLS to a plain-HTTP port fails the handshake. */
  snprintf(url, sizeof url, "https://127.0.0.1:%d", sandbox_port());
  client = sandbox_client_with("base_url", url, "timeout_ms", "2000", NULL);
  r = lookup(client, "acme-call-123");
  CHECK_STATUS(HANDOFF_NETWORK, r);
  CHECK_INT(0, handoff_result_http_status(r));
  check_failed_result(r);
  handoff_result_free(r);
  handoff_client_free(client);
}

static void test_percent_encoding(handoff_client *client) {
  static const char *const ids[] = {"a b/c?d&e=f#g%", "x+y", "%41", "caf\xc3\xa9 \xe2\x98\x8e",
                                    "acme-call-123&shared_id=acme-call-123", "../../etc"};
  size_t i;
  for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    handoff_result *r = lookup(client, ids[i]);
    if (!CHECK_STATUS(HANDOFF_NOT_FOUND, r)) fprintf(stderr, "    (shared_id %s)\n", ids[i]);
    CHECK_INT(404, handoff_result_http_status(r));
    handoff_result_free(r);
    r = handoff_client_lookup_id(client, ids[i], 0);
    if (!CHECK_STATUS(HANDOFF_NOT_FOUND, r)) fprintf(stderr, "    (id %s)\n", ids[i]);
    handoff_result_free(r);
  }
}

/* Invalid ids never reach the network; valid lookups share one connection. */
static void test_requests_and_connections(void) {
  static const char *const invalid[] = {"", "a\nb", "a\rb", "\x01", "a\x7f", "\xff\xfe",
                                        "\xc0\xaf", "\xed\xa0\x80", "abc\xe2\x82"};
  handoff_client *client = sandbox_client();
  sandbox_stats before, after;
  handoff_result *r;
  size_t i;
  int lookups = 5;

  before = sandbox_stats_now();
  for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    r = handoff_client_lookup(client, invalid[i], 0);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    CHECK_INT(0, handoff_result_http_status(r));
    handoff_result_free(r);
    r = handoff_client_lookup_id(client, invalid[i], 0);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    handoff_result_free(r);
  }
  after = sandbox_stats_now();
  CHECK_INT(before.requests, after.requests);

  /* The sandbox counts a connection on its first handoff request, so its
   * stats calls never show. */
  before = sandbox_stats_now();
  for (i = 0; i < (size_t)lookups; i++) {
    r = lookup(client, i % 2 ? "acme-call-123" : "no-such-call");
    CHECK(handoff_result_status(r) == HANDOFF_OK || handoff_result_status(r) == HANDOFF_NOT_FOUND);
    handoff_result_free(r);
  }
  after = sandbox_stats_now();
  CHECK_INT(lookups, after.requests - before.requests);
  CHECK_INT(1, after.connections - before.connections);
  handoff_client_free(client);
}

/* A client made before fork() works in the child on its own connection. */
static void test_fork(void) {
  handoff_client *client = sandbox_client();
  handoff_result *r = lookup(client, "acme-call-123");
  sandbox_stats before, after;
  unsigned long failed_before;
  pid_t child;
  int status = 0;
  check_acme_123(r);
  handoff_result_free(r);

  before = sandbox_stats_now();
  failed_before = check_failed;
  fflush(NULL);
  child = fork();
  if (child == 0) {
    r = handoff_client_lookup(client, "acme-call-123", 0);
    check_acme_123(r);
    handoff_result_free(r);
    handoff_client_free(client);
    _exit(check_failed == failed_before ? 0 : 1);
  }
  if (!CHECK(child > 0)) return;
  CHECK(waitpid(child, &status, 0) == child);
  if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    fprintf(stderr, "    child: exit %d, signal %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  after = sandbox_stats_now();
  CHECK_INT(1, after.requests - before.requests);
  CHECK_INT(1, after.connections - before.connections); /* the child's own */

  /* The parent still uses its own kept-alive connection. */
  r = lookup(client, "acme-call-123");
  check_acme_123(r);
  handoff_result_free(r);
  after = sandbox_stats_now();
  CHECK_INT(2, after.requests - before.requests);
  CHECK_INT(1, after.connections - before.connections);
  handoff_client_free(client);
}

int main(void) {
  handoff_client *client = sandbox_client();
  test_acme_123(client);
  test_by_conversation_id(client);
  test_other_fixtures(client);
  test_api_errors(client);
  test_percent_encoding(client);
  handoff_client_free(client);
  test_credentials();
  test_sandbox_answers_like_the_api();
  test_timeouts();
  test_network_errors();
  test_requests_and_connections();
  test_fork();
  return check_summary("test_lookup");
}
