/*
 * test_secrets.c -- the configured API key never comes back: not from a
 * server that echoes it into error_message (results, header and variable
 * blocks, every log line, the retry line included), not from a setting that
 * quotes it back (handoff_config_error, handoff_init_error). "<api key>"
 * stands in its place.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log_capture.h"

#define PLACEHOLDER "<api key>"
#define SECRET "SECRET-echo-4b2f-do-not-leak"

/* The sandbox really does echo the key: otherwise this test proves nothing. */
static void test_fixture_echoes_the_key(void) {
  char *response = sandbox_request("/v1/" SANDBOX_ACCOUNT "/" SANDBOX_PROJECT
                                   "/handoff_state?shared_id=fault-echo-key",
                                   SANDBOX_API_KEY);
  CHECK_CONTAINS(response, " 502 ");
  CHECK_CONTAINS(response, "\"error_message\":\"upstream refused the request with header x-api-key: " SANDBOX_API_KEY "\"");
  free(response);
}

static void test_echoed_key_is_redacted(void) {
  /* retries = 1: the 502 is retried, so the retry's info line is logged too. */
  handoff_client *client = sandbox_client_with("retries", "1", NULL);
  handoff_result *r;
  handoff_set_log_callback(collect, NULL);
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  reset_log();

  r = handoff_client_lookup(client, "fault-echo-key", 0);
  CHECK_STATUS(HANDOFF_SERVER_ERROR, r);
  CHECK_INT(502, handoff_result_http_status(r));
  CHECK_STR("upstream refused the request with header x-api-key: " PLACEHOLDER, handoff_result_error(r));
  CHECK_NOT_CONTAINS(handoff_result_header_block(r), SANDBOX_API_KEY);
  CHECK_NOT_CONTAINS(handoff_result_variables_block(r), SANDBOX_API_KEY);
  CHECK_INT(2, client_stat(client, "requests"));
  handoff_result_free(r);

  /* The log lines are written before the lookup returns, on its thread. */
  pthread_mutex_lock(&log_lock);
  CHECK_NOT_CONTAINS(log_text, SANDBOX_API_KEY);
  CHECK_CONTAINS(log_text, "retrying in");
  CHECK_CONTAINS(log_text, "(upstream refused the request with header x-api-key: " PLACEHOLDER ")");
  CHECK_CONTAINS(log_text, "shared_id=fault-echo-key: server_error upstream refused the request with header x-api-key: " PLACEHOLDER);
  pthread_mutex_unlock(&log_lock);

  handoff_set_log_callback(NULL, NULL);
  handoff_set_log_level(HANDOFF_LOG_WARNING);
  handoff_client_free(client);
}

/* A key pasted into the wrong setting is quoted back by its error. */
static void test_config_errors_are_redacted(void) {
  handoff_config *config = handoff_config_new();
  char text[512], *file;

  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SECRET));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "region", SECRET));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK_CONTAINS(handoff_config_error(config), "region");
  CHECK_CONTAINS(handoff_config_error(config), "\"" PLACEHOLDER "\"");

  /* The key set earlier in the same file counts too. */
  snprintf(text, sizeof text, "api_key = %s-2\ntimeout_ms = %s-2\n", SECRET, SECRET);
  file = temp_file(text);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK_CONTAINS(handoff_config_error(config), "timeout_ms");
  CHECK_CONTAINS(handoff_config_error(config), PLACEHOLDER);

  /* And from the environment, in handoff_init. */
  setenv("POLYAI_HANDOFF_API_KEY", SECRET "-3", 1);
  setenv("POLYAI_HANDOFF_MAX_ENTRIES", SECRET "-3", 1);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_env(config));
  CHECK_NOT_CONTAINS(handoff_config_error(config), SECRET);
  CHECK_CONTAINS(handoff_config_error(config), PLACEHOLDER);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(NULL));
  CHECK_NOT_CONTAINS(handoff_init_error(), SECRET);
  CHECK_CONTAINS(handoff_init_error(), "max_entries");
  CHECK_CONTAINS(handoff_init_error(), PLACEHOLDER);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(file));
  CHECK_NOT_CONTAINS(handoff_init_error(), SECRET);
  CHECK_CONTAINS(handoff_init_error(), PLACEHOLDER);
  unsetenv("POLYAI_HANDOFF_API_KEY");
  unsetenv("POLYAI_HANDOFF_MAX_ENTRIES");

  temp_file_remove(file);
  handoff_config_free(config);
}

int main(void) {
  test_fixture_echoes_the_key();
  test_echoed_key_is_redacted();
  test_config_errors_are_redacted();
  return check_summary("test_secrets");
}
