/*
 * test_unload.c -- run by dns_stall.sh inside a network namespace whose only
 * resolver never answers. Asterisk's "module unload" and FreeSWITCH's
 * "unload" dlclose() a module right after freeing its client. A lookup that
 * timed out there left libcurl's resolver thread blocked in getaddrinfo();
 * if dlclose() unmapped the library, that thread later woke up in unmapped
 * code and the host died with SIGSEGV. The library is built -z nodelete:
 * it stays mapped, and the resolver thread ends normally.
 *
 * Not linked to the library: it loads it with dlopen() like a host module
 * (HANDOFF_TEST_LIB is its path).
 */
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "check.h"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define LOOKUP_DEADLINE_MS 200
#define RESOLVER_WAIT_S 40

typedef handoff_config *(*config_new_fn)(void);
typedef handoff_status (*config_set_fn)(handoff_config *, const char *, const char *);
typedef handoff_client *(*client_new_fn)(const handoff_config *, handoff_status *);
typedef handoff_result *(*lookup_fn)(handoff_client *, const char *, int);
typedef handoff_status (*status_fn)(const handoff_result *);
typedef void (*free_fn)(void *);

/* Threads of this process, from /proc/self/status. */
static int thread_count(void) {
  char line[256];
  int threads = -1;
  FILE *status = fopen("/proc/self/status", "r");
  if (status == NULL) return -1;
  while (fgets(line, sizeof line, status) != NULL)
    if (sscanf(line, "Threads: %d", &threads) == 1) break;
  fclose(status);
  return threads;
}

static void *nothing(void *unused) { return unused; }

int main(void) {
  const char *path = getenv("HANDOFF_TEST_LIB");
  void *library, *again;
  handoff_config *config;
  handoff_client *client;
  handoff_result *result;
  int waited = 0, baseline;
  pthread_t warm;

  /* ThreadSanitizer starts a thread of its own at the first
   * pthread_create(): make that happen before counting. */
  if (pthread_create(&warm, NULL, nothing, NULL) == 0) pthread_join(warm, NULL);
  baseline = thread_count();

  if (path == NULL) {
    fprintf(stderr, "HANDOFF_TEST_LIB is not set\n");
    return 2;
  }
  library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!CHECK(library != NULL)) {
    fprintf(stderr, "    dlopen: %s\n", dlerror());
    return check_summary("test_unload");
  }
  {
    config_new_fn config_new = (config_new_fn)dlsym(library, "handoff_config_new");
    config_set_fn config_set = (config_set_fn)dlsym(library, "handoff_config_set");
    client_new_fn client_new = (client_new_fn)dlsym(library, "handoff_client_new");
    lookup_fn lookup = (lookup_fn)dlsym(library, "handoff_client_lookup");
    status_fn status = (status_fn)dlsym(library, "handoff_result_status");
    free_fn result_free = (free_fn)dlsym(library, "handoff_result_free");
    free_fn client_free = (free_fn)dlsym(library, "handoff_client_free");
    free_fn config_free = (free_fn)dlsym(library, "handoff_config_free");
    if (!CHECK(config_new && config_set && client_new && lookup && status && result_free && client_free && config_free))
      return check_summary("test_unload");
    config = config_new();
    /* A real region name: it has to go through the stalled resolver. */
    CHECK_INT(HANDOFF_OK, config_set(config, "region", "uk-1"));
    CHECK_INT(HANDOFF_OK, config_set(config, "account_id", "acme"));
    CHECK_INT(HANDOFF_OK, config_set(config, "project_id", "PROJECT-support"));
    CHECK_INT(HANDOFF_OK, config_set(config, "api_key", "sandbox-key"));
    client = client_new(config, NULL);
    config_free(config);
    if (!CHECK(client != NULL)) return check_summary("test_unload");
    result = lookup(client, "acme-call-123", LOOKUP_DEADLINE_MS);
    CHECK_INT(HANDOFF_TIMEOUT, status(result));
    result_free(result);
    client_free(client);
  }
  /* The lookup's resolver thread is still blocked in getaddrinfo(). */
  CHECK(thread_count() > baseline);
  CHECK_INT(0, dlclose(library));

  /* Still mapped: dlclose() cannot unload it. */
  again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (CHECK(again != NULL)) dlclose(again);

  /* The resolver gives up (resolv.conf's timeout and attempts) and its
   * thread returns into the library's code, which must still be there. */
  while (thread_count() > baseline && waited < RESOLVER_WAIT_S * 10) {
    usleep(100000);
    waited++;
  }
  CHECK_INT(baseline, thread_count());
  return check_summary("test_unload");
}
