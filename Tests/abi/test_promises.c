/*
 * test_promises.c -- what the header promises about errors and limits, each
 * proved: handoff_config_error() is "" after every successful call taking
 * the config; handoff_init_error() stays valid and unchanged until the next
 * handoff_init()/handoff_shutdown(); a per-call timeout_ms above 600000 is
 * refused like the setting; a lookup never returns NULL, and running out of
 * memory aborts the process (like any allocation failure in the Swift
 * runtime) rather than returning NULL.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Fails one call on config, so its error is not "". */
static void fail_once(handoff_config *config) {
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "timeout_ms", "never"));
  CHECK(strlen(handoff_config_error(config)) > 0);
}

static void test_config_error_cleared_by_every_success(void) {
  handoff_config *config = sandbox_config_with(NULL);
  char *file = temp_file("variable_prefix = CLEARED_\n");
  handoff_client *client;

  fail_once(config);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "retries", "0"));
  CHECK_STR("", handoff_config_error(config));

  fail_once(config);
  CHECK_INT(HANDOFF_OK, handoff_config_load_file(config, file));
  CHECK_STR("", handoff_config_error(config));

  fail_once(config);
  CHECK_INT(HANDOFF_OK, handoff_config_load_env(config));
  CHECK_STR("", handoff_config_error(config));

  /* handoff_client_new takes the config too: its success clears the error
   * (it used to leave the last failure there). */
  fail_once(config);
  client = handoff_client_new(config, NULL);
  CHECK(client != NULL);
  CHECK_STR("", handoff_config_error(config));
  handoff_client_free(client);

  /* And a NULL argument is a failure like any other. */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, NULL, "x"));
  CHECK(strlen(handoff_config_error(config)) > 0);
  client = handoff_client_new(config, NULL);
  CHECK_STR("", handoff_config_error(config));
  handoff_client_free(client);

  temp_file_remove(file);
  handoff_config_free(config);
}

/* Valid until the next handoff_init() or handoff_shutdown(), whatever else
 * runs in between; a success makes it "". */
static void test_init_error_lifetime(void) {
  char *bad = temp_file("no_such_key = 1\n");
  char copy[1024];
  const char *message;
  handoff_config *config;
  handoff_client *client;
  handoff_result *r;

  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(bad));
  message = handoff_init_error();
  CHECK_CONTAINS(message, "no_such_key");
  snprintf(copy, sizeof copy, "%s", message);

  r = handoff_lookup("acme-call-123");
  CHECK_STATUS(HANDOFF_NOT_INITIALIZED, r);
  handoff_result_free(r);
  config = sandbox_config_with(NULL);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "bogus", "1"));
  client = sandbox_client_from(config);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  handoff_client_free(client);

  CHECK(handoff_init_error() == message);
  CHECK_STR(copy, message);

  {
    char text[512], *good;
    snprintf(text, sizeof text,
             "base_url = %s\naccount_id = " SANDBOX_ACCOUNT "\nproject_id = " SANDBOX_PROJECT
             "\napi_key = " SANDBOX_API_KEY "\n",
             sandbox_url());
    good = temp_file(text);
    CHECK_INT(HANDOFF_OK, handoff_init(good));
    CHECK_STR("", handoff_init_error());
    temp_file_remove(good);
  }
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(bad));
  CHECK_CONTAINS(handoff_init_error(), "no_such_key");
  handoff_shutdown();
  CHECK_STR("", handoff_init_error());
  temp_file_remove(bad);
}

/* Above 600000 ms the per-call timeout is refused, as timeout_ms is in a
 * configuration, instead of silently capped; <= 0 is the configured one. */
static void test_per_call_timeout_bound(void) {
  handoff_client *client = sandbox_client();
  static const int refused[] = {600001, 1000000, INT_MAX};
  size_t i;
  handoff_result *r;
  for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    r = handoff_client_lookup(client, "acme-call-123", refused[i]);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    CHECK_CONTAINS(handoff_result_error(r), "timeout_ms");
    CHECK_CONTAINS(handoff_result_error(r), "600000");
    CHECK_INT(0, handoff_result_http_status(r));
    handoff_result_free(r);
    r = handoff_client_lookup_id(client, ACME_123_ID, refused[i]);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    handoff_result_free(r);
  }
  /* No request was sent for any of them. */
  CHECK_INT(0, client_stat(client, "requests"));
  CHECK_INT(6, client_stat(client, "status.invalid_argument"));

  r = handoff_client_lookup(client, "acme-call-123", 600000);
  check_acme_123(r);
  handoff_result_free(r);
  r = handoff_client_lookup(client, "acme-call-123", -5);
  check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);
}

/* Under valgrind or a sanitizer the address-space limit means nothing. */
static int memory_limit_applies(void) {
  return test_time_scale() <= 1 && getenv("ASAN_OPTIONS") == NULL && getenv("TSAN_OPTIONS") == NULL;
}

static char big_value[4097];

/* The most results the child keeps before giving up on running out. */
#define OOM_MAX_RESULTS (1L << 21)
static handoff_result *kept[OOM_MAX_RESULTS];

/* A child that keeps every result of a lookup, with its address space
 * capped: the lookup that finds no memory must abort the process; it may
 * never return NULL (exit 3), nor may the cap never bite (exit 4). */
/* Touches 1 MiB of stack, so that the pages are mapped before an address
 * space limit. */
__attribute__((noinline)) static void grow_stack(void) {
  volatile char pad[1 << 20];
  size_t i;
  for (i = 0; i < sizeof pad; i += 4096) pad[i] = 1;
}

static void test_out_of_memory_aborts(void) {
  pid_t child;
  int status = 0;
  if (!memory_limit_applies()) {
    printf("test_promises: under valgrind or a sanitizer, skipping the out-of-memory child\n");
    return;
  }
  fflush(stdout);
  fflush(stderr);
  child = fork();
  if (child == 0) {
    handoff_client *client = sandbox_client();
    /* The runtime's report of the failed allocation is noise here. */
    if (freopen("/dev/null", "w", stderr) == NULL) _exit(2);
    struct rlimit limit;
    unsigned long pages = 0;
    long i;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm == NULL || fscanf(statm, "%lu", &pages) != 1) _exit(2);
    fclose(statm);
    /* The stack grown first: under the limit, a stack that has to grow
     * dies of SIGSEGV wherever it is, which is not what this tests. */
    grow_stack();
    memset(big_value, 'v', 4096);
    /* 64 MiB more than the child maps now. */
    limit.rlim_cur = limit.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)64 << 20);
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(2);
    for (i = 0; i < OOM_MAX_RESULTS; i++) {
      /* Refused before any request: only the library's own allocations. */
      kept[i] = handoff_client_lookup(client, "", 0);
      if (kept[i] == NULL) _exit(3);
      /* And attributes of 64 KiB each, kept too, so that the allocation that
       * fails is most likely a large one: the Swift runtime formats its
       * out-of-memory message with malloc, and when even that fails it
       * dies of SIGSEGV in fputs(NULL) instead of aborting (its bug, which
       * a test that ran out on a small allocation hit 8 times in 12). */
      if (i % 16 == 0) {
        handoff_attributes *attributes = handoff_attributes_new();
        char key[16];
        int k;
        if (attributes == NULL) _exit(3);
        for (k = 0; k < 16; k++) {
          snprintf(key, sizeof key, "k%d", k);
          if (handoff_attributes_set(attributes, key, big_value) != HANDOFF_OK) _exit(3);
        }
      }
    }
    _exit(4);
  }
  if (!CHECK(child > 0)) return;
  if (!CHECK(waitpid(child, &status, 0) == child)) return;
  if (!CHECK(WIFSIGNALED(status))) {
    fprintf(stderr, "    the child exited with %d (3: a lookup returned NULL; 4: memory never ran out)\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return;
  }
  /* abort() or a Swift runtime trap, not a stray pointer. */
  if (!CHECK(WTERMSIG(status) == SIGABRT || WTERMSIG(status) == SIGILL || WTERMSIG(status) == SIGTRAP))
    fprintf(stderr, "    the child died of signal %d\n", WTERMSIG(status));
}

int main(void) {
  /* First, while this process has no other threads to fork with. */
  test_out_of_memory_aborts();
  test_config_error_cleared_by_every_success();
  test_init_error_lifetime();
  test_per_call_timeout_bound();
  return check_summary("test_promises");
}
