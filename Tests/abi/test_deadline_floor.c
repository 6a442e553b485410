/*
 * test_deadline_floor.c -- run by dns_stall.sh, inside a network namespace
 * whose only resolver never answers: lookups that time out while resolving
 * never return before their deadline (deadline_floor.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "deadline_floor.h"

#define ROUNDS 40

int main(void) {
  handoff_config *config = handoff_config_new();
  handoff_client *client;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "region", "us-1"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "breaker_failures", "0"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "retries", "0"));
  client = handoff_client_new(config, NULL);
  handoff_config_free(config);
  if (!CHECK(client != NULL)) return check_summary("test_deadline_floor");
  CHECK_INT(0, early_timeouts(client, test_iterations(ROUNDS)));
  handoff_client_free(client);
  return check_summary("test_deadline_floor");
}
