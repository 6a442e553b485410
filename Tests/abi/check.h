/*
 * check.h -- the assertions of the C ABI tests.
 *
 * Every CHECK_* counts, and on failure prints file:line, what was expected
 * and what came, then carries on so one run shows every wrong value.
 * check_summary() turns the counts into the exit code. Safe from threads.
 */
#ifndef HANDOFF_TEST_CHECK_H
#define HANDOFF_TEST_CHECK_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "polyai_handoff.h"

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long check_passed;
static unsigned long check_failed;

/* Prints a string with control and non-ASCII bytes escaped, so a stray CR,
 * LF or NUL shows. Long strings are cut. */
static inline void check_print_string(FILE *out, const char *text) {
  const unsigned char *s = (const unsigned char *)text;
  size_t shown = 0;
  if (text == NULL) {
    fputs("NULL", out);
    return;
  }
  fputc('"', out);
  for (; *s && shown < 600; s++, shown++) {
    if (*s == '"' || *s == '\\') fprintf(out, "\\%c", *s);
    else if (*s == '\n') fputs("\\n", out);
    else if (*s == '\r') fputs("\\r", out);
    else if (*s < 0x20 || *s >= 0x7F) fprintf(out, "\\x%02x", *s);
    else fputc(*s, out);
  }
  if (*s) fputs("...", out);
  fputc('"', out);
}

/* Records one check. Returns ok so callers can add context on failure. */
static inline int check_record(int ok, const char *file, int line, const char *what) {
  pthread_mutex_lock(&check_lock);
  if (ok) {
    check_passed++;
  } else {
    check_failed++;
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
  }
  pthread_mutex_unlock(&check_lock);
  return ok;
}

static inline int check_string(const char *expected, const char *actual, const char *file,
                               int line, const char *expression) {
  int ok = (expected == NULL && actual == NULL) ||
           (expected != NULL && actual != NULL && strcmp(expected, actual) == 0);
  if (!check_record(ok, file, line, expression)) {
    pthread_mutex_lock(&check_lock);
    fputs("    expected: ", stderr);
    check_print_string(stderr, expected);
    fputs("\n    actual:   ", stderr);
    check_print_string(stderr, actual);
    fputs("\n", stderr);
    pthread_mutex_unlock(&check_lock);
  }
  return ok;
}

static inline int check_integer(long long expected, long long actual, const char *file, int line,
                                const char *expression) {
  int ok = expected == actual;
  if (!check_record(ok, file, line, expression)) {
    pthread_mutex_lock(&check_lock);
    fprintf(stderr, "    expected: %lld\n    actual:   %lld\n", expected, actual);
    pthread_mutex_unlock(&check_lock);
  }
  return ok;
}

static inline int check_status(handoff_status expected, const handoff_result *result,
                               const char *file, int line, const char *expression) {
  handoff_status actual = result != NULL ? handoff_result_status(result) : HANDOFF_INVALID_ARGUMENT;
  int ok = result != NULL && expected == actual;
  if (!check_record(ok, file, line, expression)) {
    pthread_mutex_lock(&check_lock);
    fprintf(stderr, "    expected: %s\n    actual:   %s (http %d, error ", handoff_status_name(expected),
            result != NULL ? handoff_status_name(actual) : "NULL result",
            handoff_result_http_status(result));
    check_print_string(stderr, handoff_result_error(result));
    fputs(")\n", stderr);
    pthread_mutex_unlock(&check_lock);
  }
  return ok;
}

static inline int check_contains(const char *haystack, const char *needle, int want,
                                 const char *file, int line, const char *expression) {
  int found = haystack != NULL && needle != NULL && strstr(haystack, needle) != NULL;
  int ok = haystack != NULL && found == want;
  if (!check_record(ok, file, line, expression)) {
    pthread_mutex_lock(&check_lock);
    fprintf(stderr, "    expected %s", want ? "to contain: " : "not to contain: ");
    check_print_string(stderr, needle);
    fputs("\n    in: ", stderr);
    check_print_string(stderr, haystack);
    fputs("\n", stderr);
    pthread_mutex_unlock(&check_lock);
  }
  return ok;
}

/* A condition; the expression is the message. */
#define CHECK(cond) check_record((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/* Strings, either of which may be NULL (NULL equals only NULL). */
#define CHECK_STR(expected, actual) \
  check_string((expected), (actual), __FILE__, __LINE__, #actual " == " #expected)
#define CHECK_NULL(actual) check_string(NULL, (actual), __FILE__, __LINE__, #actual " == NULL")
#define CHECK_INT(expected, actual)                                                         \
  check_integer((long long)(expected), (long long)(actual), __FILE__, __LINE__,             \
                #actual " == " #expected)
/* The status of a result, with its error message on failure. */
#define CHECK_STATUS(expected, result) \
  check_status((expected), (result), __FILE__, __LINE__, "status of " #result " == " #expected)
#define CHECK_CONTAINS(haystack, needle) \
  check_contains((haystack), (needle), 1, __FILE__, __LINE__, #haystack " contains " #needle)
#define CHECK_NOT_CONTAINS(haystack, needle) \
  check_contains((haystack), (needle), 0, __FILE__, __LINE__, #haystack " lacks " #needle)

/* Prints the totals and returns the process exit code. */
static inline int check_summary(const char *name) {
  pthread_mutex_lock(&check_lock);
  printf("%s: %lu checks passed, %lu failed\n", name, check_passed, check_failed);
  fflush(stdout);
  pthread_mutex_unlock(&check_lock);
  return check_failed == 0 && check_passed > 0 ? 0 : 1;
}

#endif /* HANDOFF_TEST_CHECK_H */
