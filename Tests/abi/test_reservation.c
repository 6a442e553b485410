/*
 * test_reservation.c -- DNI reservations and the attributes builder: every
 * rule of the header's "DNI reservations" section, against the sandbox's
 * POST /v1/conversations/dni-reservation (docs/sandbox.md).
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The key the sandbox's fixtures give reservations. */
#define SANDBOX_DNI_KEY SANDBOX_API_KEY

static long sandbox_reservation_requests(void) {
  char *body = sandbox_get("/_sandbox/dni-reservations");
  long requests = body != NULL ? json_field(body, "requests") : -1;
  free(body);
  return requests;
}

/* The sandbox's record of the reservations it got; "" if it gave none. */
static char *sandbox_reservations(void) {
  char *body = sandbox_get("/_sandbox/dni-reservations");
  return body != NULL ? body : strdup("");
}

static handoff_client *dni_client_with(const char *retries) {
  return sandbox_client_with("dni_api_key", SANDBOX_DNI_KEY, "retries", retries, NULL);
}

/* Whether text is an optional + and 1 to 32 digits. */
static int is_phone_number(const char *text) {
  size_t i = text[0] == '+' ? 1 : 0, digits = 0;
  for (; text[i] != '\0'; i++, digits++)
    if (text[i] < '0' || text[i] > '9') return 0;
  return digits >= 1 && digits <= 32;
}

static void test_builder(void) {
  handoff_attributes *a = handoff_attributes_new();
  char key[300], value[5000];
  int i;
  CHECK_STR("{}", handoff_attributes_json(a));
  CHECK_STR("", handoff_attributes_error(a));
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "caller", "+44 20 7946 0000"));
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "customer.tier", "gold"));
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "customer.name", "Zo\xc3\xab \"the\" \\ boss}\r\nX-Evil: 1"));
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "caller", "+442079460001")); /* replaced, in place */
  CHECK_STR("{\"caller\":\"+442079460001\",\"customer\":{\"tier\":\"gold\",\"name\":\"Zo\xc3\xab \\\"the\\\" \\\\ boss}"
            "\\r\\nX-Evil: 1\"}}",
            handoff_attributes_json(a));
  /* Conflicts and bad keys change nothing. */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "caller.number", "1"));
  CHECK_CONTAINS(handoff_attributes_error(a), "is already a value");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "customer", "x"));
  CHECK_CONTAINS(handoff_attributes_error(a), "already holds keys");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "a..b", "x"));
  CHECK_CONTAINS(handoff_attributes_error(a), "empty part");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, ".a", "x"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "", "x"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "bad\nkey", "x"));
  CHECK_CONTAINS(handoff_attributes_error(a), "control characters");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "utf8", "\xff\xfe"));
  CHECK_CONTAINS(handoff_attributes_error(a), "not valid UTF-8");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, NULL, "x"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "k", NULL));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(NULL, "k", "v"));
  CHECK_STR("{\"caller\":\"+442079460001\",\"customer\":{\"tier\":\"gold\",\"name\":\"Zo\xc3\xab \\\"the\\\" \\\\ boss}"
            "\\r\\nX-Evil: 1\"}}",
            handoff_attributes_json(a));
  /* A success clears the error. */
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "n", ""));
  CHECK_STR("", handoff_attributes_error(a));
  handoff_attributes_free(a);

  /* Bounds: 256-byte keys, 8 parts, 4096-byte values, 256 values. */
  a = handoff_attributes_new();
  memset(key, 'k', 256);
  key[256] = '\0';
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, key, "v"));
  key[256] = 'k';
  key[257] = '\0';
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, key, "v"));
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "a.b.c.d.e.f.g.h", "deep"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "a.b.c.d.e.f.g.h.i", "deeper"));
  CHECK_CONTAINS(handoff_attributes_error(a), "deeper than 8");
  memset(value, 'v', 4096);
  value[4096] = '\0';
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "long", value));
  value[4096] = 'v';
  value[4097] = '\0';
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "longer", value));
  handoff_attributes_free(a);
  a = handoff_attributes_new();
  for (i = 0; i < 256; i++) {
    snprintf(key, sizeof key, "k%d", i);
    if (!CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, key, "v"))) break;
  }
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_attributes_set(a, "one-more", "v"));
  CHECK_CONTAINS(handoff_attributes_error(a), "more than 256");
  CHECK_INT(HANDOFF_OK, handoff_attributes_set(a, "k7", "replacing is not adding"));
  handoff_attributes_free(a);
  CHECK(handoff_attributes_json(NULL) == NULL);
  CHECK_CONTAINS(handoff_attributes_error(NULL), "NULL");
  handoff_attributes_free(NULL);
}

static void expect_refused(handoff_client *client, const char *shared_id, const char *attributes, int timeout_ms,
                           const char *message) {
  handoff_reservation *r = handoff_client_reserve_dni(client, shared_id, attributes, timeout_ms);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_reservation_status(r));
  if (!CHECK(strstr(handoff_reservation_error(r), message) != NULL))
    fprintf(stderr, "    expected \"%s\" in \"%s\"\n", message, handoff_reservation_error(r));
  CHECK(handoff_reservation_dni(r) == NULL);
  CHECK_INT(0, handoff_reservation_http_status(r));
  handoff_reservation_free(r);
}

static void test_refusals(void) {
  handoff_client *client = dni_client_with("1");
  long before = sandbox_reservation_requests();
  char *big = malloc(17000), deep[256] = "", *exact = malloc(16400);
  int i;
  handoff_reservation *r;

  r = handoff_client_reserve_dni(NULL, "call-1", NULL, 0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_reservation_status(r));
  CHECK_STR("no client (NULL handoff_client)", handoff_reservation_error(r));
  handoff_reservation_free(r);
  expect_refused(client, NULL, NULL, 0, "shared_id is NULL");
  expect_refused(client, "", NULL, 0, "shared_id is empty");
  expect_refused(client, "call\r\n1", NULL, 0, "control characters");
  expect_refused(client, "call-1", "[1,2]", 0, "must be a JSON object");
  expect_refused(client, "call-1", "\"x\"", 0, "must be a JSON object");
  expect_refused(client, "call-1", "{\"a\":", 0, "attributes: invalid JSON");
  expect_refused(client, "call-1", "{\"shared_id\":\"other\"}", 0, "shared_id other than");
  expect_refused(client, "call-1", "{\"shared_id\":1}", 0, "shared_id other than");
  expect_refused(client, "call-1", NULL, 600001, "timeout_ms must be at most 600000");
  /* 16384 bytes pass the size check (and fail as JSON here); one more does not. */
  memset(big, ' ', 16385);
  big[0] = '{';
  big[16385] = '\0';
  expect_refused(client, "call-1", big, 0, "larger than 16384 bytes");
  memset(exact, ' ', 16384);
  memcpy(exact, "{\"pad\":\"x\"", 10);
  exact[16383] = '}';
  exact[16384] = '\0';
  r = handoff_client_reserve_dni(client, "reserve-size-edge", exact, 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  /* 16 levels of nesting inside the object pass, 17 do not. */
  for (i = 0; i < 16; i++) strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for (i = 0; i < 16; i++) strcat(deep, "}");
  r = handoff_client_reserve_dni(client, "reserve-depth-edge", deep, 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  strcpy(deep, "{\"b\":");
  for (i = 0; i < 16; i++) strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for (i = 0; i < 17; i++) strcat(deep, "}");
  expect_refused(client, "call-1", deep, 0, "nested deeper than 16");
  /* The refusals sent nothing; the two edge cases one request each. */
  WAIT_UNTIL(sandbox_reservation_requests() >= before + 2, 2000);
  CHECK_INT(before + 2, sandbox_reservation_requests());
  CHECK_INT(13, client_stat(client, "reservations"));
  CHECK_INT(11, client_stat(client, "reservation_status.invalid_argument"));
  CHECK_INT(2, client_stat(client, "reservation_requests"));
  CHECK_INT(0, client_stat(client, "lookups"));
  free(big);
  free(exact);
  handoff_client_free(client);
}

static void test_reserved(void) {
  handoff_client *client = dni_client_with("1");
  handoff_attributes *a = handoff_attributes_new();
  handoff_reservation *r;
  char *seen;
  sandbox_stats before = sandbox_stats_now(), after;

  handoff_attributes_set(a, "caller", "+442079460000");
  handoff_attributes_set(a, "customer.tier", "gold\"},\"shared_id\":\"stolen");
  r = handoff_client_reserve_dni(client, "reserve-ok-1", handoff_attributes_json(a), 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  CHECK_INT(200, handoff_reservation_http_status(r));
  CHECK_STR("", handoff_reservation_error(r));
  CHECK(handoff_reservation_dni(r) != NULL && is_phone_number(handoff_reservation_dni(r)));
  CHECK(handoff_reservation_elapsed_us(r) > 0);
  handoff_reservation_free(r);
  /* The sandbox got the attributes as built, with the shared id added (the
   * injection attempt is a plain string value). */
  seen = sandbox_reservations();
  CHECK_CONTAINS(seen, "\"shared_id\":\"reserve-ok-1\"");
  CHECK_CONTAINS(seen, "\"caller\":\"+442079460000\"");
  CHECK_CONTAINS(seen, "gold\\\"},\\\"shared_id\\\":\\\"stolen");
  free(seen);
  /* Same shared_id inside the attributes: accepted. */
  r = handoff_client_reserve_dni(client, "reserve-ok-2", "{\"shared_id\":\"reserve-ok-2\",\"lang\":\"en\"}", 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  /* Each reservation on a new connection, never a reused one. */
  r = handoff_client_reserve_dni(client, "reserve-ok-3", NULL, 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  WAIT_UNTIL(sandbox_stats_now().connections >= before.connections + 3, 2000);
  after = sandbox_stats_now();
  CHECK_INT(3, after.connections - before.connections);
  CHECK_INT(3, client_stat(client, "reservation_status.ok"));
  CHECK_INT(0, client_stat(client, "lookups"));
  handoff_attributes_free(a);
  handoff_client_free(client);
}

/* Hostile or malformed answers are never returned as a number. */
static void test_hostile_answers(void) {
  static const struct {
    const char *shared_id;
    handoff_status status;
    int http;
    const char *message;
  } cases[] = {
      {"dni-hostile-uri", HANDOFF_PROTOCOL, 200, "not a phone number"},
      {"dni-hostile-params", HANDOFF_PROTOCOL, 200, "not a phone number"},
      {"dni-huge", HANDOFF_PROTOCOL, 200, "not a phone number"},
      {"dni-number", HANDOFF_PROTOCOL, 200, "without a string \"dni\""},
      {"dni-missing", HANDOFF_PROTOCOL, 200, "without a string \"dni\""},
      {"dni-garbage", HANDOFF_PROTOCOL, 200, "invalid JSON"},
      {"dni-fault-500", HANDOFF_SERVER_ERROR, 500, ""},
      {"dni-fault-409", HANDOFF_PROTOCOL, 409, "unexpected HTTP status 409"},
      {"dni-fault-429", HANDOFF_PROTOCOL, 429, "unexpected HTTP status 429"},
  };
  handoff_client *client = dni_client_with("1");
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    handoff_reservation *r = handoff_client_reserve_dni(client, cases[i].shared_id, NULL, 2000);
    if (!CHECK_INT(cases[i].status, handoff_reservation_status(r))) fprintf(stderr, "    %s\n", cases[i].shared_id);
    CHECK_INT(cases[i].http, handoff_reservation_http_status(r));
    CHECK(handoff_reservation_dni(r) == NULL);
    CHECK_CONTAINS(handoff_reservation_error(r), cases[i].message);
    CHECK(strstr(handoff_reservation_error(r), "evil") == NULL);
    CHECK(strstr(handoff_reservation_error(r), "transport") == NULL);
    handoff_reservation_free(r);
  }
  handoff_client_free(client);
}

/* Not idempotent: a reset after the request went out is not retried; a
 * refused connection (nothing sent) is. Deadlines hold. */
static void test_retries_and_deadlines(void) {
  handoff_client *client = dni_client_with("1");
  handoff_reservation *r;
  double start, took, scale = test_time_scale();
  long before = sandbox_reservation_requests();
  char refused[64];

  r = handoff_client_reserve_dni(client, "dni-fault-reset", NULL, 2000);
  CHECK_INT(HANDOFF_NETWORK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  WAIT_UNTIL(sandbox_reservation_requests() >= before + 1, 2000);
  test_sleep_ms(50);
  CHECK_INT(before + 1, sandbox_reservation_requests());
  CHECK_INT(1, client_stat(client, "reservation_requests"));
  /* A 500 is an answer: not retried either (a lookup would be, for 502-504). */
  r = handoff_client_reserve_dni(client, "dni-fault-500", NULL, 2000);
  CHECK_INT(HANDOFF_SERVER_ERROR, handoff_reservation_status(r));
  handoff_reservation_free(r);
  CHECK_INT(2, client_stat(client, "reservation_requests"));

  start = now_ms();
  r = handoff_client_reserve_dni(client, "dni-fault-slow", NULL, 300);
  took = now_ms() - start;
  CHECK_INT(HANDOFF_TIMEOUT, handoff_reservation_status(r));
  CHECK_STR("no complete answer within 300 ms", handoff_reservation_error(r));
  if (!CHECK(took >= 295 && took < 300 + 250 * scale)) fprintf(stderr, "    took %.1f ms\n", took);
  handoff_reservation_free(r);
  start = now_ms();
  r = handoff_client_reserve_dni(client, "dni-fault-stall", NULL, 300);
  took = now_ms() - start;
  CHECK_INT(HANDOFF_TIMEOUT, handoff_reservation_status(r));
  if (!CHECK(took >= 295 && took < 300 + 250 * scale)) fprintf(stderr, "    took %.1f ms\n", took);
  handoff_reservation_free(r);
  CHECK_INT(4, client_stat(client, "reservation_requests"));
  handoff_client_free(client);

  snprintf(refused, sizeof refused, "http://127.0.0.1:%d", closed_port());
  client = sandbox_client_with("base_url", refused, "dni_api_key", SANDBOX_DNI_KEY, "retries", "1", NULL);
  r = handoff_client_reserve_dni(client, "call-1", NULL, 2000);
  CHECK_INT(HANDOFF_NETWORK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  CHECK_INT(2, client_stat(client, "reservation_requests"));
  handoff_client_free(client);
  client = sandbox_client_with("base_url", refused, "dni_api_key", SANDBOX_DNI_KEY, "retries", "0", NULL);
  r = handoff_client_reserve_dni(client, "call-1", NULL, 2000);
  CHECK_INT(HANDOFF_NETWORK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  CHECK_INT(1, client_stat(client, "reservation_requests"));
  handoff_client_free(client);
}

/* Keys: a client for reservations only, one for lookups only (api_key
 * used), a wrong key (403, never quoted). */
static void test_keys_and_clients(void) {
  handoff_config *config = handoff_config_new();
  handoff_client *client;
  handoff_reservation *r;
  handoff_result *lookup;
  handoff_status status = HANDOFF_OK;

  handoff_config_set(config, "base_url", sandbox_url());
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "dni_api_key", SANDBOX_DNI_KEY));
  client = handoff_client_new(config, &status);
  CHECK_INT(HANDOFF_OK, status);
  r = handoff_client_reserve_dni(client, "reserve-only-1", NULL, 0);
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  lookup = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, lookup);
  CHECK_CONTAINS(handoff_result_error(lookup), "for DNI reservations only");
  handoff_result_free(lookup);
  handoff_client_free(client);
  /* Without dni_api_key and account_id, it is still the lookups' error. */
  handoff_config_free(config);
  config = handoff_config_new();
  handoff_config_set(config, "base_url", sandbox_url());
  handoff_config_set(config, "api_key", SANDBOX_API_KEY);
  CHECK(handoff_client_new(config, &status) == NULL);
  CHECK_STR("account_id is not set", handoff_config_error(config));
  handoff_config_free(config);

  /* Lookups-only configuration: the reservation uses api_key. */
  client = sandbox_client();
  r = handoff_client_reserve_dni(client, "reserve-lookup-key", NULL, 0);
  CHECK_INT(strcmp(SANDBOX_DNI_KEY, SANDBOX_API_KEY) == 0 ? HANDOFF_OK : HANDOFF_FORBIDDEN, handoff_reservation_status(r));
  handoff_reservation_free(r);
  handoff_client_free(client);

  client = sandbox_client_with("dni_api_key", "not-the-dni-key-7f3a", NULL);
  r = handoff_client_reserve_dni(client, "reserve-wrong-key", NULL, 0);
  CHECK_INT(HANDOFF_FORBIDDEN, handoff_reservation_status(r));
  CHECK_INT(403, handoff_reservation_http_status(r));
  CHECK(strstr(handoff_reservation_error(r), "not-the-dni-key-7f3a") == NULL);
  handoff_reservation_free(r);
  handoff_client_free(client);

  /* The key's setting errors name the key and never quote it. */
  config = handoff_config_new();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "dni_api_key", "bad\nkey-secret-9"));
  CHECK_CONTAINS(handoff_config_error(config), "dni_api_key");
  CHECK(strstr(handoff_config_error(config), "secret-9") == NULL);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "dni_api_key_file", "/nonexistent/key"));
  CHECK_CONTAINS(handoff_config_error(config), "dni_api_key_file");
  handoff_config_free(config);
}

static void test_process_wide(void) {
  handoff_reservation *r;
  handoff_shutdown();
  r = handoff_reserve_dni("call-1", NULL);
  CHECK_INT(HANDOFF_NOT_INITIALIZED, handoff_reservation_status(r));
  handoff_reservation_free(r);
  setenv("POLYAI_HANDOFF_BASE_URL", sandbox_url(), 1);
  setenv("POLYAI_HANDOFF_ACCOUNT_ID", SANDBOX_ACCOUNT, 1);
  setenv("POLYAI_HANDOFF_PROJECT_ID", SANDBOX_PROJECT, 1);
  setenv("POLYAI_HANDOFF_API_KEY", SANDBOX_API_KEY, 1);
  setenv("POLYAI_HANDOFF_DNI_API_KEY", SANDBOX_DNI_KEY, 1);
  CHECK_INT(HANDOFF_OK, handoff_init(NULL));
  r = handoff_reserve_dni("reserve-process-1", "{\"lang\":\"en-GB\"}");
  CHECK_INT(HANDOFF_OK, handoff_reservation_status(r));
  CHECK(handoff_reservation_dni(r) != NULL && is_phone_number(handoff_reservation_dni(r)));
  handoff_reservation_free(r);
  handoff_shutdown();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_reservation_status(NULL));
  CHECK(handoff_reservation_dni(NULL) == NULL);
  CHECK_CONTAINS(handoff_reservation_error(NULL), "NULL");
  CHECK_INT(0, handoff_reservation_http_status(NULL));
  handoff_reservation_free(NULL);
}

/* A reservation refused by max_in_flight just as the breaker's cooldown
 * ended must not keep the breaker's probe for good (it did: every later
 * lookup and reservation of the client was "unavailable" until restart). */
static handoff_client *busy_client;

static void *busy_lookup(void *arg) {
  (void)arg;
  handoff_result_free(handoff_client_lookup(busy_client, "acme-call-123", 1500));
  return NULL;
}

static void test_breaker_probe_not_lost(void) {
  char dead[64], hole[64];
  handoff_client *client;
  handoff_reservation *r;
  pthread_t thread;
  double scale = test_time_scale();
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
  snprintf(hole, sizeof hole, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_BLACKHOLE_PORT"));
  client = sandbox_client_with("base_url", dead, "dni_api_key", SANDBOX_DNI_KEY, "breaker_failures", "1",
                               "breaker_cooldown_ms", "200", "max_in_flight", "1", "retries", "0", NULL);
  busy_client = sandbox_client_with("base_url", hole, NULL);
  r = handoff_client_reserve_dni(client, "probe-1", NULL, 300);
  CHECK_INT(HANDOFF_NETWORK, handoff_reservation_status(r)); /* opens the breaker */
  handoff_reservation_free(r);
  test_sleep_ms((long)(300 * scale)); /* the cooldown (at most 250 ms) is over */
  CHECK_INT(0, pthread_create(&thread, NULL, busy_lookup, NULL));
  WAIT_UNTIL(client_stat(busy_client, "in_flight") == 1, 2000);
  r = handoff_client_reserve_dni(client, "probe-2", NULL, 300);
  CHECK_INT(HANDOFF_UNAVAILABLE, handoff_reservation_status(r));
  CHECK_CONTAINS(handoff_reservation_error(r), "max_in_flight");
  handoff_reservation_free(r);
  pthread_join(thread, NULL);
  /* The probe is still to be made: it is, and fails (the port is closed). */
  r = handoff_client_reserve_dni(client, "probe-3", NULL, 300);
  CHECK_INT(HANDOFF_NETWORK, handoff_reservation_status(r));
  handoff_reservation_free(r);
  handoff_client_free(busy_client);
  handoff_client_free(client);
}

int main(void) {
  test_builder();
  test_refusals();
  test_reserved();
  test_hostile_answers();
  test_retries_and_deadlines();
  test_keys_and_clients();
  test_process_wide();
  test_breaker_probe_not_lost();
  return check_summary("test_reservation");
}
