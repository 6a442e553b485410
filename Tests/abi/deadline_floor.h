/*
 * deadline_floor.h -- a lookup that times out must never return before its
 * deadline: the library's clock decides, and libcurl's own timers (which
 * count whole milliseconds) must never fire first. Checked by the caller's
 * clock and by handoff_result_elapsed_us(). Include after harness.h.
 */
#ifndef HANDOFF_TEST_DEADLINE_FLOOR_H
#define HANDOFF_TEST_DEADLINE_FLOOR_H

/* Runs `rounds` lookups that must all time out, with odd deadlines; returns
 * how many returned early (each one printed). */
static inline int early_timeouts(handoff_client *client, long rounds) {
  static const int deadlines[] = {5, 13, 21, 37};
  int round, early = 0;
  for (round = 0; round < rounds; round++) {
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
  return early;
}

#endif /* HANDOFF_TEST_DEADLINE_FLOOR_H */
