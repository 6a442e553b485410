/* queue_wait.h -- taking completions of queued lookups in the C tests. */
#ifndef HANDOFF_TEST_QUEUE_WAIT_H
#define HANDOFF_TEST_QUEUE_WAIT_H

#include <poll.h>
#include <stdlib.h>

#include "harness.h"

/* Waits (poll on the queue's descriptor) up to bound_ms times the time
 * scale for a completion, and takes it; NULL if none came. */
static inline handoff_result *take(handoff_queue *queue, uint64_t *tag, long bound_ms) {
  double end = now_ms() + (double)bound_ms * test_time_scale();
  for (;;) {
    struct pollfd watch = {handoff_queue_fd(queue), POLLIN, 0};
    handoff_result *r = handoff_queue_next(queue, tag);
    double left = end - now_ms();
    if (r != NULL) return r;
    if (left <= 0) return NULL;
    (void)poll(&watch, 1, (int)left + 1);
  }
}

/* A queue on `client`; the test ends if none can be made. */
static inline handoff_queue *new_queue(handoff_client *client) {
  handoff_status status = HANDOFF_NOT_INITIALIZED;
  handoff_queue *queue = handoff_queue_new(client, &status);
  if (!CHECK(queue != NULL) || !CHECK_INT(HANDOFF_OK, status)) exit(2);
  return queue;
}

#endif
