/*
 * test_fork.c -- Kamailio and OpenSIPS create clients in the parent and fork
 * workers. A child must never use the parent's connections (which would mix
 * two processes' requests on one socket), and the parent's kept-alive
 * connection must survive the child untouched.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sys/wait.h>

#include "harness.h"

#define CHILD_THREADS 8

static handoff_client *shared_client;

static void *child_thread(void *unused) {
  handoff_result *r = handoff_client_lookup(shared_client, "acme-call-123", 2000);
  int ok = handoff_result_status(r) == HANDOFF_OK;
  (void)unused;
  handoff_result_free(r);
  return ok ? (void *)1 : NULL;
}

/* Runs in the child: returns the exit code. */
static int child_work(long connections_before) {
  pthread_t threads[CHILD_THREADS];
  void *ok;
  int failures = 0, i;
  handoff_result *r = handoff_client_lookup(shared_client, "acme-call-123", 2000);
  sandbox_stats after;
  if (handoff_result_status(r) != HANDOFF_OK) failures++;
  handoff_result_free(r);
  after = sandbox_stats_now();
  /* One new connection: the child opened its own instead of the parent's. */
  if (after.connections != connections_before + 1) failures++;
  for (i = 0; i < CHILD_THREADS; i++) pthread_create(&threads[i], NULL, child_thread, NULL);
  for (i = 0; i < CHILD_THREADS; i++) {
    pthread_join(threads[i], &ok);
    if (ok == NULL) failures++;
  }
  r = handoff_lookup("acme-call-456");
  if (handoff_result_status(r) != HANDOFF_OK) failures++;
  handoff_result_free(r);
  return failures == 0 ? 0 : 10 + failures;
}

int main(void) {
  sandbox_stats before, after_parent;
  handoff_result *r;
  pid_t child;
  int wstatus = 0;
  char *conf;
  char text[512];

  shared_client = sandbox_client();
  snprintf(text, sizeof text,
           "base_url = %s\naccount_id = %s\nproject_id = %s\napi_key = %s\n",
           sandbox_url(), SANDBOX_ACCOUNT, SANDBOX_PROJECT, SANDBOX_API_KEY);
  conf = temp_file(text);
  CHECK_INT(HANDOFF_OK, handoff_init(conf));

  /* The parent holds one kept-alive connection (and the process client one more). */
  r = handoff_client_lookup(shared_client, "acme-call-123", 2000);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  r = handoff_lookup("acme-call-123");
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  before = sandbox_stats_now();

  child = fork();
  if (child == 0) _exit(child_work(before.connections));
  CHECK(child > 0);
  CHECK(waitpid(child, &wstatus, 0) == child);
  CHECK(WIFEXITED(wstatus));
  CHECK_INT(0, WEXITSTATUS(wstatus));

  /* The parent goes on over the connection it had: no new one is opened. */
  after_parent = sandbox_stats_now();
  r = handoff_client_lookup(shared_client, "acme-call-456", 2000);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  r = handoff_lookup("acme-call-123");
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  CHECK_INT(after_parent.connections, sandbox_stats_now().connections); /* stats probes are not counted */

  handoff_shutdown();
  handoff_client_free(shared_client);
  temp_file_remove(conf);
  return check_summary("test_fork");
}
