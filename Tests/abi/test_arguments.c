/*
 * test_arguments.c -- every function with NULL and hostile arguments, the
 * id rules, and every way a configuration can be wrong.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Distinctive, so a leak into any message is unmistakable. */
#define SECRET "SECRET-k3y-7f3a9c-do-not-leak"

static void test_version_and_names(void) {
  static const char *const names[] = {"ok", "invalid_argument", "bad_request", "unauthorized",
                                      "forbidden", "not_found", "server_error", "timeout",
                                      "network", "protocol", "not_initialized", "unavailable", "cancelled"};
  int i;
  CHECK_STR(HANDOFF_VERSION, handoff_version());
  CHECK(HANDOFF_AT_LEAST_VERSION(1, 0, 0));
  CHECK(HANDOFF_AT_LEAST_VERSION(1, 1, 0));
  CHECK(HANDOFF_AT_LEAST_VERSION(1, 2, 0));
  CHECK(!HANDOFF_AT_LEAST_VERSION(1, 2, 1));
  CHECK(!HANDOFF_AT_LEAST_VERSION(2, 0, 0));
  CHECK_INT(0x010200, HANDOFF_VERSION_NUM);
  for (i = 0; i <= HANDOFF_CANCELLED; i++) CHECK_STR(names[i], handoff_status_name((handoff_status)i));
  /* The numbering is ABI. */
  CHECK_INT(0, HANDOFF_OK);
  CHECK_INT(5, HANDOFF_NOT_FOUND);
  CHECK_INT(10, HANDOFF_NOT_INITIALIZED);
  CHECK_INT(11, HANDOFF_UNAVAILABLE);
  CHECK_INT(12, HANDOFF_CANCELLED);
  CHECK_STR("unknown", handoff_status_name((handoff_status)13));
  CHECK_STR("unknown", handoff_status_name((handoff_status)-1));
  CHECK_STR("unknown", handoff_status_name((handoff_status)0x7fffffff));
}

static void check_null_result_accessors(void) {
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_result_status(NULL));
  CHECK_INT(0, handoff_result_http_status(NULL));
  CHECK(handoff_result_error(NULL) != NULL && strlen(handoff_result_error(NULL)) > 0);
  CHECK_NULL(handoff_result_conversation_id(NULL));
  CHECK_NULL(handoff_result_shared_id(NULL));
  CHECK_INT(0, handoff_result_count(NULL));
  CHECK_NULL(handoff_result_key(NULL, 0));
  CHECK_NULL(handoff_result_value(NULL, 0));
  CHECK_NULL(handoff_result_get(NULL, "customer_id"));
  CHECK_NULL(handoff_result_get(NULL, NULL));
  CHECK_NULL(handoff_result_data_json(NULL));
  CHECK_INT(0, handoff_result_truncated(NULL));
  CHECK_NULL(handoff_result_header_name(NULL, 0));
  CHECK_NULL(handoff_result_variable_name(NULL, 0));
  CHECK_NULL(handoff_result_header_block(NULL));
  CHECK_NULL(handoff_result_variables_block(NULL));
  CHECK_INT(0, handoff_result_elapsed_us(NULL));
}

/* An invalid_argument result: no data, a reason, and the meta lines. */
static void check_invalid_result(handoff_result *r) {
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
  CHECK_INT(0, handoff_result_http_status(r));
  CHECK(strlen(handoff_result_error(r)) > 0);
  CHECK_NULL(handoff_result_conversation_id(r));
  CHECK_NULL(handoff_result_shared_id(r));
  CHECK_INT(0, handoff_result_count(r));
  CHECK_NULL(handoff_result_key(r, 0));
  CHECK_STR("{}", handoff_result_data_json(r));
  CHECK_CONTAINS(handoff_result_header_block(r), "X-PolyAI-Handoff-Status: invalid_argument\r\n");
  CHECK_CONTAINS(handoff_result_variables_block(r), "POLYAI_HANDOFF_STATUS=invalid_argument\n");
}

static void test_nulls(void) {
  handoff_config *config = handoff_config_new();
  handoff_client *client = sandbox_client();
  handoff_status status = HANDOFF_OK;
  handoff_result *r;

  handoff_config_free(NULL);
  handoff_client_free(NULL);
  handoff_result_free(NULL);
  check_null_result_accessors();

  CHECK(handoff_config_error(NULL) != NULL && strlen(handoff_config_error(NULL)) > 0);
  CHECK_STR("", handoff_config_error(config));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(NULL, "region", "us-1"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, NULL, "us-1"));
  CHECK(strlen(handoff_config_error(config)) > 0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "region", NULL));
  CHECK(strlen(handoff_config_error(config)) > 0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, NULL, NULL));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(NULL, "/dev/null"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, NULL));
  CHECK(strlen(handoff_config_error(config)) > 0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_env(NULL));

  CHECK(handoff_client_new(NULL, &status) == NULL);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, status);
  CHECK(handoff_client_new(NULL, NULL) == NULL);
  status = HANDOFF_OK;
  CHECK(handoff_client_new(config, &status) == NULL); /* empty: required keys missing */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, status);
  CHECK(handoff_client_new(config, NULL) == NULL);

  r = handoff_client_lookup(NULL, "acme-call-123", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup_id(NULL, ACME_123_ID, 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, NULL, 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup_id(client, NULL, 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(NULL, NULL, -1);
  check_invalid_result(r);
  CHECK(handoff_result_elapsed_us(r) >= 0);
  handoff_result_free(r);

  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_client_breaker_reset(NULL));

  /* Statistics and logging with NULL. */
  CHECK(handoff_client_stats(NULL) == NULL);
  CHECK(handoff_process_stats() == NULL); /* not initialized */
  CHECK_INT(0, handoff_stats_get(NULL, "lookups"));
  CHECK_NULL(handoff_stats_prometheus(NULL));
  handoff_stats_free(NULL);
  {
    handoff_stats *stats = handoff_client_stats(client);
    if (CHECK(stats != NULL)) {
      CHECK_INT(0, handoff_stats_get(stats, NULL));
      CHECK_INT(0, handoff_stats_get(stats, ""));
      CHECK_INT(0, handoff_stats_get(stats, "no_such_counter"));
      CHECK_INT(0, handoff_stats_get(stats, "lookups")); /* nothing looked up yet */
      CHECK(handoff_stats_prometheus(stats) != NULL);
    }
    handoff_stats_free(stats);
  }
  handoff_set_log_callback(NULL, NULL);
  handoff_set_log_level((handoff_log_level)-1);
  handoff_set_log_level((handoff_log_level)99);
  handoff_set_log_level(HANDOFF_LOG_WARNING);

  /* NULL and out-of-range arguments on a real result. */
  r = handoff_client_lookup(client, "acme-call-123", 0);
  if (CHECK_STATUS(HANDOFF_OK, r)) {
    size_t count = handoff_result_count(r);
    CHECK_NULL(handoff_result_get(r, NULL));
    CHECK_NULL(handoff_result_key(r, count));
    CHECK_NULL(handoff_result_value(r, count));
    CHECK_NULL(handoff_result_header_name(r, count));
    CHECK_NULL(handoff_result_variable_name(r, count));
    CHECK_NULL(handoff_result_key(r, SIZE_MAX));
    CHECK_NULL(handoff_result_value(r, SIZE_MAX));
    CHECK_NULL(handoff_result_header_name(r, SIZE_MAX));
    CHECK_NULL(handoff_result_variable_name(r, SIZE_MAX));
    /* Regression: indexes from 2^62 up made 2 * index overflow (a trap in
     * Swift) before the range check in the name accessors. */
    {
      static const size_t huge[] = {(size_t)1 << 62, ((size_t)1 << 62) + 1, SIZE_MAX / 2, SIZE_MAX / 2 + 1,
                                    ((size_t)1 << 63) - 1, (size_t)1 << 63};
      size_t h;
      for (h = 0; h < sizeof huge / sizeof huge[0]; h++) {
        CHECK_NULL(handoff_result_key(r, huge[h]));
        CHECK_NULL(handoff_result_value(r, huge[h]));
        CHECK_NULL(handoff_result_header_name(r, huge[h]));
        CHECK_NULL(handoff_result_variable_name(r, huge[h]));
      }
    }
    CHECK_NULL(handoff_result_key(r, (size_t)-2));
    CHECK(handoff_result_key(r, count - 1) != NULL);
  }
  handoff_result_free(r);

  /* A negative per-call timeout means the client's. */
  r = handoff_client_lookup(client, "acme-call-123", -5);
  check_acme_123(r);
  handoff_result_free(r);

  handoff_client_free(client);
  handoff_config_free(config);
}

static void test_ids(void) {
  handoff_client *client = sandbox_client();
  char id[1027];
  sandbox_stats before, after;
  handoff_result *r;

  memset(id, 'a', sizeof id);
  id[1024] = '\0';
  r = handoff_client_lookup(client, id, 0);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r); /* 1024 bytes: allowed, so sent */
  handoff_result_free(r);
  r = handoff_client_lookup_id(client, id, 0);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  handoff_result_free(r);
  /* 1024 bytes counted in bytes, not characters: 512 two-byte characters. */
  {
    int i;
    for (i = 0; i < 512; i++) memcpy(id + 2 * i, "\xc3\xa9", 2);
    id[1024] = '\0';
    r = handoff_client_lookup(client, id, 0);
    CHECK_STATUS(HANDOFF_NOT_FOUND, r);
    handoff_result_free(r);
  }

  before = sandbox_stats_now();
  memset(id, 'a', sizeof id);
  id[1025] = '\0';
  r = handoff_client_lookup(client, id, 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup_id(client, id, 0);
  check_invalid_result(r);
  handoff_result_free(r);
  /* 1025 bytes of which the last is half a character. */
  {
    int i;
    for (i = 0; i < 512; i++) memcpy(id + 2 * i, "\xc3\xa9", 2);
    id[1024] = 'x';
    id[1025] = '\0';
    r = handoff_client_lookup(client, id, 0);
    check_invalid_result(r);
    handoff_result_free(r);
  }

  r = handoff_client_lookup(client, "", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "abc\xff", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "\xc3\x28", 0); /* bad continuation byte */
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "\xf8\x88\x80\x80\x80", 0); /* 5-byte form */
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "call\n123", 0);
  check_invalid_result(r);
  /* The error shows no raw control character. */
  CHECK(strpbrk(handoff_result_error(r), "\r\n") == NULL);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "call\x01", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "call\t123", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  r = handoff_client_lookup_id(client, "call\r\nX-Evil: 1", 0);
  check_invalid_result(r);
  handoff_result_free(r);
  after = sandbox_stats_now();
  CHECK_INT(before.requests, after.requests);

  /* Valid non-ASCII goes out. */
  r = handoff_client_lookup(client, "Zo\xc3\xab \xf0\x9f\x93\x9e", 0);
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  handoff_result_free(r);
  handoff_client_free(client);
}

/* Sets key = value, expecting it refused with a message naming the key. */
static void expect_refused(handoff_config *config, const char *key, const char *value) {
  if (!CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, key, value)))
    fprintf(stderr, "    (%s = %s was accepted)\n", key, value);
  if (!CHECK_CONTAINS(handoff_config_error(config), key)) fprintf(stderr, "    (%s = %s)\n", key, value);
}

static void expect_accepted(handoff_config *config, const char *key, const char *value) {
  if (!CHECK_INT(HANDOFF_OK, handoff_config_set(config, key, value)))
    fprintf(stderr, "    (%s = %s): %s\n", key, value, handoff_config_error(config));
  CHECK_STR("", handoff_config_error(config));
}

static void test_config_values(void) {
  handoff_config *config = handoff_config_new();
  char *ca = temp_file("not really a PEM\n");

  expect_refused(config, "bogus_key", "1");
  expect_refused(config, "Region", "us-1");
  expect_refused(config, "", "x");
  expect_refused(config, "region", "mars");
  expect_refused(config, "region", "");
  expect_refused(config, "timeout_ms", "abc");
  expect_refused(config, "timeout_ms", "0");
  expect_refused(config, "timeout_ms", "-5");
  expect_refused(config, "timeout_ms", "600001");
  expect_refused(config, "timeout_ms", "12abc");
  expect_refused(config, "timeout_ms", "99999999999999999999999");
  expect_refused(config, "timeout_ms", "");
  expect_refused(config, "connect_timeout_ms", "0");
  expect_refused(config, "base_url", "http://example.com");
  expect_refused(config, "base_url", "http://127.0.0.1.example.com");
  expect_refused(config, "base_url", "ftp://127.0.0.1");
  expect_refused(config, "base_url", "example.com");
  expect_refused(config, "base_url", "");
  expect_refused(config, "base_url", "https://host/\r\nX-Evil: 1");
  expect_refused(config, "account_id", "");
  expect_refused(config, "project_id", "");
  expect_refused(config, "api_key", "");
  expect_refused(config, "api_key", "abc\r\nX-Evil: 1");
  expect_refused(config, "api_key_file", "/nonexistent/key");
  expect_refused(config, "ca_file", "/nonexistent/ca.pem");
  expect_refused(config, "max_response_bytes", "1023");
  expect_refused(config, "max_response_bytes", "16777217");
  expect_refused(config, "max_value_bytes", "0");
  expect_refused(config, "max_value_bytes", "4097");
  expect_refused(config, "max_entries", "-1");
  expect_refused(config, "max_entries", "1025");
  expect_refused(config, "max_depth", "0");
  expect_refused(config, "max_depth", "33");
  expect_refused(config, "max_header_block_bytes", "127");
  expect_refused(config, "max_header_block_bytes", "65537");
  expect_refused(config, "header_prefix", "X PolyAI:");
  expect_refused(config, "header_prefix", "");             /* a key "via" would be a Via header */
  expect_refused(config, "header_prefix", "P-");           /* "asserted identity" -> P-Asserted-Identity */
  expect_refused(config, "variable_prefix", "POLYAI-");
  expect_refused(config, "variable_prefix", "");           /* a key "exten" would be EXTEN */
  expect_refused(config, "variable_prefix", "polyai_");    /* names are [A-Z0-9_] only */
  expect_refused(config, "user_agent", "agent\r\nX-Evil: 1");
  expect_refused(config, "retries", "6");
  expect_refused(config, "retries", "-1");
  expect_refused(config, "breaker_failures", "1001");
  expect_refused(config, "breaker_cooldown_ms", "0");
  expect_refused(config, "breaker_cooldown_ms", "600001");
  expect_refused(config, "max_in_flight", "0");
  expect_refused(config, "max_in_flight", "100001");
  expect_refused(config, "cache_ttl_ms", "-1");
  expect_refused(config, "cache_ttl_ms", "86400001");
  expect_refused(config, "cache_max_entries", "0");
  expect_refused(config, "cache_max_entries", "1000001");

  expect_accepted(config, "region", "us-1");
  expect_accepted(config, "region", "uk-1");
  expect_accepted(config, "region", "euw-1");
  expect_accepted(config, "base_url", "http://127.0.0.1:1");
  expect_accepted(config, "base_url", "http://localhost:8080/prefix/");
  expect_accepted(config, "base_url", "http://[::1]:8080");
  expect_accepted(config, "base_url", "https://x");
  expect_accepted(config, "timeout_ms", "1");
  expect_accepted(config, "timeout_ms", "600000");
  expect_accepted(config, "connect_timeout_ms", "250");
  expect_accepted(config, "ca_file", ca);
  expect_accepted(config, "user_agent", "pbx/2.0");
  expect_accepted(config, "max_response_bytes", "1024");
  expect_accepted(config, "max_value_bytes", "4096");
  expect_accepted(config, "max_entries", "0");
  expect_accepted(config, "max_depth", "32");
  expect_accepted(config, "max_header_block_bytes", "128");
  expect_accepted(config, "header_prefix", "X-Acme-");
  expect_accepted(config, "variable_prefix", "ACME_");
  expect_accepted(config, "include", "customer.*, handoff_to");
  expect_accepted(config, "exclude", "notes");
  expect_accepted(config, "rename.handoff_to", "X-Queue");
  expect_accepted(config, "retries", "0");
  expect_accepted(config, "retries", "5");
  expect_accepted(config, "breaker_failures", "0");
  expect_accepted(config, "breaker_failures", "1000");
  expect_accepted(config, "breaker_cooldown_ms", "1");
  expect_accepted(config, "breaker_cooldown_ms", "600000");
  expect_accepted(config, "max_in_flight", "1");
  expect_accepted(config, "max_in_flight", "100000");
  expect_accepted(config, "cache_ttl_ms", "0");
  expect_accepted(config, "cache_ttl_ms", "86400000");
  expect_accepted(config, "cache_max_entries", "1");
  expect_accepted(config, "cache_max_entries", "1000000");
  expect_accepted(config, "api_key", SECRET);

  /* The last error is replaced by "" after a success, and a refused value
   * changes nothing: the prefix stays ACME_. */
  expect_refused(config, "variable_prefix", "bad prefix!");
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", sandbox_url()));
  CHECK_STR("", handoff_config_error(config));
  handoff_config_free(config);

  config = sandbox_config_with("variable_prefix", "ACME_", NULL);
  expect_refused(config, "variable_prefix", "bad prefix!");
  {
    handoff_client *client = sandbox_client_from(config);
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", 0);
    CHECK_STATUS(HANDOFF_OK, r);
    CHECK_STR("ACME_CUSTOMER_ID", handoff_result_variable_name(r, 0));
    CHECK_INT(11, handoff_result_count(r));
    handoff_result_free(r);
    handoff_client_free(client);
  }
  temp_file_remove(ca);
}

static void test_config_file(void) {
  char text[1024];
  char *good, *bad, *no_equals, *key_file, *wrong_key_file;
  handoff_config *config;
  handoff_client *client;
  handoff_result *r;

  snprintf(text, sizeof text,
           "# a comment\n"
           "; another comment\n"
           "\n"
           "base_url = %s\n"
           "account_id=" SANDBOX_ACCOUNT "\n"
           "  project_id   =   \"" SANDBOX_PROJECT "\"  \n"
           "api_key = " SANDBOX_API_KEY "\n"
           "variable_prefix = FILE_\n",
           sandbox_url());
  good = temp_file(text);
  bad = temp_file("variable_prefix = FILE_\nbogus_setting = 1\nheader_prefix = X-File-\n");
  no_equals = temp_file("variable_prefix = FILE_\njust some words\n");
  key_file = temp_file(SANDBOX_API_KEY "\nsecond line is ignored\n");
  wrong_key_file = temp_file(SECRET "\n");

  config = handoff_config_new();
  if (!CHECK_INT(HANDOFF_OK, handoff_config_load_file(config, good)))
    fprintf(stderr, "    %s\n", handoff_config_error(config));
  CHECK_STR("", handoff_config_error(config));
  check_config_lookup(config, "FILE_CUSTOMER_ID");

  /* All or nothing: the good first line of a bad file is not applied. */
  config = sandbox_config_with(NULL);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, bad));
  CHECK_CONTAINS(handoff_config_error(config), "bogus_setting");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, no_equals));
  CHECK(strlen(handoff_config_error(config)) > 0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, "/nonexistent/handoff.ini"));
  CHECK_CONTAINS(handoff_config_error(config), "/nonexistent/handoff.ini");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, "/"));
  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("POLYAI_CUSTOMER_ID", handoff_result_variable_name(r, 0));
  CHECK_STR("X-PolyAI-Customer-Id", handoff_result_header_name(r, 0));
  handoff_result_free(r);
  handoff_client_free(client);

  /* api_key_file: the first line is the key. */
  config = sandbox_config_with("api_key_file", key_file, NULL);
  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);

  config = sandbox_config_with("api_key_file", wrong_key_file, NULL);
  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_FORBIDDEN, r);
  CHECK_NOT_CONTAINS(handoff_result_error(r), SECRET);
  handoff_result_free(r);
  handoff_client_free(client);

  temp_file_remove(good);
  temp_file_remove(bad);
  temp_file_remove(no_equals);
  temp_file_remove(key_file);
  temp_file_remove(wrong_key_file);
}

static void test_environment(void) {
  handoff_config *config = sandbox_config_with(NULL);
  handoff_client *client;
  handoff_result *r;

  CHECK_INT(HANDOFF_OK, handoff_config_load_env(config)); /* nothing set: nothing changes */
  setenv("POLYAI_HANDOFF_VARIABLE_PREFIX", "ENV_", 1);
  setenv("POLYAI_HANDOFF_TIMEOUT_MS", "1500", 1);
  if (!CHECK_INT(HANDOFF_OK, handoff_config_load_env(config)))
    fprintf(stderr, "    %s\n", handoff_config_error(config));
  CHECK_STR("", handoff_config_error(config));

  /* One bad variable: none of them is applied, and it is named. */
  setenv("POLYAI_HANDOFF_VARIABLE_PREFIX", "LATER_", 1);
  setenv("POLYAI_HANDOFF_BOGUS_SETTING", "1", 1);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_env(config));
  CHECK_CONTAINS(handoff_config_error(config), "BOGUS_SETTING");
  unsetenv("POLYAI_HANDOFF_BOGUS_SETTING");
  setenv("POLYAI_HANDOFF_TIMEOUT_MS", "abc", 1);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_env(config));
  CHECK_CONTAINS(handoff_config_error(config), "timeout_ms");
  unsetenv("POLYAI_HANDOFF_TIMEOUT_MS");
  unsetenv("POLYAI_HANDOFF_VARIABLE_PREFIX");

  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("ENV_CUSTOMER_ID", handoff_result_variable_name(r, 0));
  handoff_result_free(r);
  handoff_client_free(client);
}

static void test_required_keys(void) {
  static const char *const required[] = {"base_url", "account_id", "project_id", "api_key"};
  int leave_out;
  for (leave_out = 1; leave_out < 4; leave_out++) {
    handoff_config *config = handoff_config_new();
    handoff_status status = HANDOFF_OK;
    int i;
    for (i = 0; i < 4; i++) {
      if (i == leave_out) continue;
      CHECK_INT(HANDOFF_OK, handoff_config_set(config, required[i],
                                               i == 0 ? sandbox_url()
                                               : i == 1 ? SANDBOX_ACCOUNT
                                               : i == 2 ? SANDBOX_PROJECT
                                                        : SECRET));
    }
    CHECK(handoff_client_new(config, &status) == NULL);
    CHECK_INT(HANDOFF_INVALID_ARGUMENT, status);
    CHECK_CONTAINS(handoff_config_error(config), required[leave_out]);
    CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
    handoff_config_free(config);
  }

  /* base_url is optional (the region's URL); the config is copied. */
  {
    handoff_config *config = handoff_config_new();
    handoff_client *client;
    handoff_status status = HANDOFF_INVALID_ARGUMENT;
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SECRET));
    client = handoff_client_new(config, &status);
    CHECK(client != NULL);
    CHECK_INT(HANDOFF_OK, status);
    handoff_client_free(client);

    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", sandbox_url()));
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
    client = handoff_client_new(config, NULL);
    CHECK(client != NULL);
    /* Neither changing nor freeing the config touches the client. */
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", "wrong"));
    CHECK_INT(HANDOFF_OK, handoff_config_set(config, "variable_prefix", "LATER_"));
    handoff_config_free(config);
    {
      handoff_result *r = handoff_client_lookup(client, "acme-call-123", 0);
      check_acme_123(r);
      CHECK_STR("POLYAI_CUSTOMER_ID", handoff_result_variable_name(r, 0));
      handoff_result_free(r);
    }
    handoff_client_free(client);
  }
}

/* The API key appears in no message, whatever goes wrong. */
static void test_secret_never_shown(void) {
  handoff_config *config = handoff_config_new();
  handoff_client *client;
  handoff_result *r;
  char text[512], *file;
  static const char *const faults[] = {"no-such-call", "fault-400", "fault-500", "fault-garbage",
                                       "fault-redirect", "fault-reset"};
  size_t i;

  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SECRET));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "api_key", SECRET "\n"));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "timeout_ms", "x"));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK(handoff_client_new(config, NULL) == NULL);
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK_CONTAINS(handoff_config_error(config), "account_id");

  /* A file holding the key plus a bad line. */
  snprintf(text, sizeof text, "api_key = %s\nbogus = %s\n", SECRET "-2", "1");
  file = temp_file(text);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  temp_file_remove(file);
  /* A key with a control character inside a file, and in the environment. */
  file = temp_file("api_key = \"" SECRET "\x01\"\n");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  temp_file_remove(file);
  setenv("POLYAI_HANDOFF_API_KEY", SECRET "\x7f", 1);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_env(config));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  unsetenv("POLYAI_HANDOFF_API_KEY");
  /* The key file's first line, malformed. */
  file = temp_file(SECRET "\x02 tail\n");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "api_key_file", file));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  temp_file_remove(file);
  handoff_config_free(config);

  client = sandbox_client_with("api_key", SECRET, NULL);
  for (i = 0; i < sizeof faults / sizeof faults[0]; i++) {
    r = handoff_client_lookup(client, faults[i], 0);
    CHECK(handoff_result_status(r) != HANDOFF_OK);
    CHECK_NOT_CONTAINS(handoff_result_error(r), SECRET);
    CHECK_NOT_CONTAINS(handoff_result_header_block(r), SECRET);
    CHECK_NOT_CONTAINS(handoff_result_variables_block(r), SECRET);
    handoff_result_free(r);
  }
  handoff_client_free(client);
}

int main(void) {
  test_version_and_names();
  test_nulls();
  test_ids();
  test_config_values();
  test_config_file();
  test_environment();
  test_required_keys();
  test_secret_never_shown();
  return check_summary("test_arguments");
}
