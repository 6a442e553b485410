/*
 * test_deadline_floor.c -- run by dns_stall.sh, inside a network namespace
 * whose only resolver never answers. A lookup that times out must never
 * return before its deadline: the library's clock decides, and libcurl's
 * own timers (which count whole milliseconds, and fired up to 0.8 ms early
 * while resolving) are set past it. Checked by the caller's clock and by
 * handoff_result_elapsed_us().
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#define ROUNDS 40

int main(void) {
  static const int deadlines[] = {7, 13, 21, 30};
  handoff_config *config = handoff_config_new();
  handoff_client *client;
  int round, early = 0;
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "region", "us-1"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "breaker_failures", "0"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "retries", "0"));
  client = handoff_client_new(config, NULL);
  handoff_config_free(config);
  if (!CHECK(client != NULL)) return check_summary("test_deadline_floor");
  for (round = 0; round < test_iterations(ROUNDS); round++) {
    int deadline = deadlines[round % 4];
    double started = now_ms(), took;
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", deadline);
    took = now_ms() - started;
    CHECK_STATUS(HANDOFF_TIMEOUT, r);
    if (took < deadline || handoff_result_elapsed_us(r) < (int64_t)deadline * 1000) {
      early++;
      fprintf(stderr, "    deadline %d ms: returned after %.3f ms (elapsed_us %lld): %s\n", deadline, took,
              (long long)handoff_result_elapsed_us(r), handoff_result_error(r));
    }
    handoff_result_free(r);
  }
  CHECK_INT(0, early);
  handoff_client_free(client);
  return check_summary("test_deadline_floor");
}
