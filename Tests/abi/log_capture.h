/*
 * log_capture.h -- a log callback that keeps every line it receives (up to
 * 64 KiB, one per line) and counts them, for tests that check what the
 * library logged. Lock log_lock around reads of log_text.
 */
#ifndef HANDOFF_TEST_LOG_CAPTURE_H
#define HANDOFF_TEST_LOG_CAPTURE_H

#include <pthread.h>
#include <string.h>

#include "polyai_handoff.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[65536];
static size_t log_length;
static int log_lines;

static void collect(handoff_log_level level, const char *message, void *userdata) {
  size_t length = message != NULL ? strlen(message) : 0;
  (void)level;
  (void)userdata;
  pthread_mutex_lock(&log_lock);
  log_lines++;
  if (log_length + length + 2 < sizeof log_text) {
    memcpy(log_text + log_length, message, length);
    log_length += length;
    log_text[log_length++] = '\n';
    log_text[log_length] = '\0';
  }
  pthread_mutex_unlock(&log_lock);
}

static inline void reset_log(void) {
  pthread_mutex_lock(&log_lock);
  log_length = 0;
  log_text[0] = '\0';
  log_lines = 0;
  pthread_mutex_unlock(&log_lock);
}

static inline int count_lines(void) {
  int lines;
  pthread_mutex_lock(&log_lock);
  lines = log_lines;
  pthread_mutex_unlock(&log_lock);
  return lines;
}

#endif /* HANDOFF_TEST_LOG_CAPTURE_H */
