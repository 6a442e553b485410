/*
 * test_process_api.c -- the process-wide client: handoff_init from the
 * environment and from a file, reloads, failed reloads, shutdown.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void set_sandbox_environment(void) {
  setenv("POLYAI_HANDOFF_BASE_URL", sandbox_url(), 1);
  setenv("POLYAI_HANDOFF_ACCOUNT_ID", SANDBOX_ACCOUNT, 1);
  setenv("POLYAI_HANDOFF_PROJECT_ID", SANDBOX_PROJECT, 1);
  setenv("POLYAI_HANDOFF_API_KEY", SANDBOX_API_KEY, 1);
}

static void clear_environment(void) {
  unsetenv("POLYAI_HANDOFF_BASE_URL");
  unsetenv("POLYAI_HANDOFF_ACCOUNT_ID");
  unsetenv("POLYAI_HANDOFF_PROJECT_ID");
  unsetenv("POLYAI_HANDOFF_API_KEY");
  unsetenv("POLYAI_HANDOFF_VARIABLE_PREFIX");
  unsetenv("POLYAI_HANDOFF_BOGUS");
}

static void expect_not_initialized(void) {
  handoff_result *r = handoff_lookup("acme-call-123");
  CHECK_STATUS(HANDOFF_NOT_INITIALIZED, r);
  CHECK_INT(0, handoff_result_http_status(r));
  CHECK(strlen(handoff_result_error(r)) > 0);
  CHECK_NULL(handoff_result_conversation_id(r));
  CHECK_INT(0, handoff_result_count(r));
  CHECK_STR("{}", handoff_result_data_json(r));
  CHECK_CONTAINS(handoff_result_header_block(r), "X-PolyAI-Handoff-Status: not_initialized\r\n");
  CHECK_CONTAINS(handoff_result_variables_block(r), "POLYAI_HANDOFF_STATUS=not_initialized\n");
  handoff_result_free(r);
  r = handoff_lookup_id(ACME_123_ID);
  CHECK_STATUS(HANDOFF_NOT_INITIALIZED, r);
  handoff_result_free(r);
  r = handoff_lookup(NULL);
  CHECK_STATUS(HANDOFF_NOT_INITIALIZED, r);
  handoff_result_free(r);
}

/* handoff_lookup of acme-call-123 works and names variables with prefix. */
static void expect_working(const char *variable_prefix) {
  char name[64];
  handoff_result *r = handoff_lookup("acme-call-123");
  check_acme_123(r);
  snprintf(name, sizeof name, "%sCUSTOMER_ID", variable_prefix);
  CHECK_STR(name, handoff_result_variable_name(r, 0));
  handoff_result_free(r);
}

int main(void) {
  char text[1024];
  char *file, *reload, *bad, *incomplete;
  handoff_result *r, *kept;

  clear_environment();
  CHECK_STR("", handoff_init_error());
  expect_not_initialized();
  handoff_shutdown(); /* harmless when not initialized */
  expect_not_initialized();

  /* Nothing configured: fails, names what is missing. */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(NULL));
  CHECK_CONTAINS(handoff_init_error(), "account_id");
  expect_not_initialized();

  /* From the environment alone. */
  set_sandbox_environment();
  CHECK_INT(HANDOFF_OK, handoff_init(NULL));
  CHECK_STR("", handoff_init_error());
  expect_working("POLYAI_");
  r = handoff_lookup_id(ACME_123_ID);
  check_acme_123(r);
  handoff_result_free(r);
  r = handoff_lookup_id(SUPPORT_CONVERSATION_ID);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("support", handoff_result_get(r, "handoff_to"));
  handoff_result_free(r);
  r = handoff_lookup("no-such-call");
  CHECK_STATUS(HANDOFF_NOT_FOUND, r);
  CHECK_STR("Handoff state not found", handoff_result_error(r));
  handoff_result_free(r);
  r = handoff_lookup(NULL);
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
  handoff_result_free(r);
  r = handoff_lookup("");
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
  handoff_result_free(r);
  r = handoff_lookup_id(NULL);
  CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
  handoff_result_free(r);

  /* From a file; the environment overrides it. */
  clear_environment();
  snprintf(text, sizeof text,
           "base_url = %s\naccount_id = " SANDBOX_ACCOUNT "\nproject_id = " SANDBOX_PROJECT
           "\napi_key = " SANDBOX_API_KEY "\nvariable_prefix = FILE_\n",
           sandbox_url());
  file = temp_file(text);
  snprintf(text, sizeof text,
           "base_url = %s\naccount_id = " SANDBOX_ACCOUNT "\nproject_id = " SANDBOX_PROJECT
           "\napi_key = " SANDBOX_API_KEY "\nvariable_prefix = RELOAD_\n",
           sandbox_url());
  reload = temp_file(text);
  bad = temp_file("variable_prefix = BAD_\nno_such_key = 1\n");
  incomplete = temp_file("variable_prefix = INCOMPLETE_\n");

  if (!CHECK_INT(HANDOFF_OK, handoff_init(file))) fprintf(stderr, "    %s\n", handoff_init_error());
  CHECK_STR("", handoff_init_error());
  expect_working("FILE_");
  setenv("POLYAI_HANDOFF_VARIABLE_PREFIX", "ENV_", 1);
  CHECK_INT(HANDOFF_OK, handoff_init(file));
  expect_working("ENV_");
  unsetenv("POLYAI_HANDOFF_VARIABLE_PREFIX");

  /* Failed inits keep the client in use and say why. */
  CHECK_INT(HANDOFF_OK, handoff_init(file));
  kept = handoff_lookup("acme-call-123");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(bad));
  CHECK_CONTAINS(handoff_init_error(), "no_such_key");
  expect_working("FILE_");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init("/nonexistent/polyai.ini"));
  CHECK_CONTAINS(handoff_init_error(), "/nonexistent/polyai.ini");
  expect_working("FILE_");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(incomplete));
  CHECK_CONTAINS(handoff_init_error(), "account_id");
  expect_working("FILE_");
  setenv("POLYAI_HANDOFF_BOGUS", "1", 1);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(file));
  CHECK_CONTAINS(handoff_init_error(), "BOGUS");
  expect_working("FILE_");
  unsetenv("POLYAI_HANDOFF_BOGUS");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(NULL)); /* env alone is incomplete now */
  expect_working("FILE_");

  /* A reload replaces the client and clears the error. */
  CHECK_INT(HANDOFF_OK, handoff_init(reload));
  CHECK_STR("", handoff_init_error());
  expect_working("RELOAD_");

  /* Shutdown: later lookups are not_initialized; results already returned
   * stay valid. */
  handoff_shutdown();
  expect_not_initialized();
  handoff_shutdown();
  expect_not_initialized();
  check_acme_123(kept);
  CHECK_STR("FILE_CUSTOMER_ID", handoff_result_variable_name(kept, 0));
  CHECK_CONTAINS(handoff_result_variables_block(kept), "FILE_CUSTOMER_ID=12345\n");
  handoff_result_free(kept);

  /* A failed init after shutdown leaves it shut down. */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(bad));
  expect_not_initialized();

  /* And it can start again. */
  CHECK_INT(HANDOFF_OK, handoff_init(file));
  expect_working("FILE_");
  handoff_shutdown();
  expect_not_initialized();

  temp_file_remove(file);
  temp_file_remove(reload);
  temp_file_remove(bad);
  temp_file_remove(incomplete);
  return check_summary("test_process_api");
}
