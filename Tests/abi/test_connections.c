/*
 * test_connections.c -- run by tls_front.sh (nginx with TLS in front of the
 * sandbox). Kept-alive connections as a PBX's workers meet them:
 *   - the server closes idle connections (nginx: close_notify, then FIN)
 *     between sporadic lookups: no lookup may fail or need a retry for it,
 *     over TLS and plain HTTP, with retries = 0 and with the default;
 *   - a forked child that frees the client it inherited (and shuts the
 *     process client down) must not write to, or close, the parent's TLS
 *     connection: the parent's next lookup goes out on the same connection;
 *   - a child forked while another thread is in the middle of TLS
 *     handshakes makes its own TLS connections (its own CA store: OpenSSL
 *     locks a store while it verifies);
 *   - $SSLKEYLOGFILE, which libcurl honours, never receives the sessions'
 *     secrets (with them, a capture would show the x-api-key).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define SPORADIC_LOOKUPS 12
#define GAP_MS 350 /* longer than nginx's 200 ms keepalive_timeout */
#define LOOKUP_MS ((int)(2000 * test_time_scale()))

static long access_log_lines(void) {
  FILE *log = fopen(test_env("HANDOFF_TEST_TLS_ACCESS_LOG"), "r");
  long lines = 0;
  int c;
  if (log == NULL) return 0;
  while ((c = fgetc(log)) != EOF) lines += c == '\n';
  fclose(log);
  return lines;
}

/* nginx writes a request's line after sending the answer: poll for it. */
static int wait_access_log(long lines) {
  double until = now_ms() + 5000 * test_time_scale();
  while (now_ms() < until) {
    if (access_log_lines() >= lines) return 1;
    usleep(5000);
  }
  return 0;
}

/* "$server_port $connection ..." of access log line `index` (0-based). */
static long access_log_connection(long index) {
  FILE *log = fopen(test_env("HANDOFF_TEST_TLS_ACCESS_LOG"), "r");
  char line[1024];
  long port, connection = -1, at = 0;
  if (log == NULL) return -1;
  while (fgets(line, sizeof line, log) != NULL) {
    if (at++ == index && sscanf(line, "%ld %ld", &port, &connection) != 2) connection = -1;
  }
  fclose(log);
  return connection;
}

static handoff_client *client_for(const char *url, const char *retries) {
  return sandbox_client_with("base_url", url, "ca_file", test_env("HANDOFF_TEST_TLS_CA"), "retries", retries, NULL);
}

#define HANDSHAKE_FORKS 20
static atomic_int handshaking;
static atomic_int handshakes_done;
static const char *handshake_url;

/* New clients, so every lookup makes a TLS connection and verifies it. */
static void *handshakes(void *unused) {
  (void)unused;
  while (handshaking) {
    handoff_client *client = client_for(handshake_url, "0");
    handoff_result_free(handoff_client_lookup(client, "acme-call-123", LOOKUP_MS));
    handoff_client_free(client);
    atomic_fetch_add(&handshakes_done, 1);
  }
  return NULL;
}

static void fork_during_handshakes(const char *url) {
  pthread_t thread;
  handoff_client *client = client_for(url, "0");
  int i, hung = 0;
  handshake_url = url;
  handshaking = 1;
  pthread_create(&thread, NULL, handshakes, NULL);
  /* Fork only once both paths have run: the Swift runtime initialises some
   * things on a path's first run under locks of its own, which a fork at
   * that instant leaves held (the header's documented window). */
  handoff_result_free(handoff_client_lookup(client, "acme-call-123", LOOKUP_MS));
  {
    double until = now_ms() + 10000 * test_time_scale();
    while (handshakes_done < 1 && now_ms() < until) usleep(5000);
    CHECK(handshakes_done >= 1);
  }
  for (i = 0; i < test_iterations(HANDSHAKE_FORKS); i++) {
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
      handoff_result *r;
      char code[16];
      r = handoff_client_lookup(client, "acme-call-456", LOOKUP_MS);
      snprintf(code, sizeof code, "%d", handoff_result_status(r) == HANDOFF_OK ? 0 : 10 + (int)handoff_result_status(r));
      /* Leave by exec, not exit: under valgrind, what only the other
       * thread's stack pointed to is "lost" in this child, where that
       * thread does not exist, and a leak check at exit would say so. */
      execl("/bin/sh", "sh", "-c", "exit \"$0\"", code, (char *)NULL);
      _exit(99);
    }
    if (!CHECK(pid > 0)) break;
    if (!wait_or_show_stacks(pid, 20000, &status)) fprintf(stderr, "    fork %d: child hung\n", i);
    if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      hung++;
      fprintf(stderr, "    fork %d: child %s %d\n", i, WIFEXITED(status) ? "exited" : "killed by signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    usleep(10000);
  }
  handshaking = 0;
  pthread_join(thread, NULL);
  CHECK_INT(0, hung);
  handoff_client_free(client);
}

static void sporadic(const char *url, const char *retries) {
  handoff_client *client = client_for(url, retries);
  int i, failed = 0;
  for (i = 0; i < test_iterations(SPORADIC_LOOKUPS); i++) {
    handoff_result *r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
    if (handoff_result_status(r) != HANDOFF_OK) {
      failed++;
      fprintf(stderr, "    %s retries=%s, lookup %d: %s: %s\n", url, retries, i,
              handoff_status_name(handoff_result_status(r)), handoff_result_error(r));
    }
    handoff_result_free(r);
    usleep(GAP_MS * 1000);
  }
  CHECK_INT(0, failed);
  CHECK_INT(0, client_stat(client, "retries"));
  CHECK_INT(test_iterations(SPORADIC_LOOKUPS), client_stat(client, "requests"));
  handoff_client_free(client);
}

int main(void) {
  char tls[64], http[64], trusted[64], text[512], *conf;
  handoff_client *client;
  handoff_result *r;
  long lines, first;
  int status = 0;
  pid_t pid;

  char *keylog = temp_file("");
  struct stat keylog_info;
  /* Before the first lookup: libcurl reads it when it initialises. */
  setenv("SSLKEYLOGFILE", keylog, 1);
  snprintf(tls, sizeof tls, "https://localhost:%s", test_env("HANDOFF_TEST_TLS_IDLE_PORT"));
  snprintf(http, sizeof http, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_HTTP_IDLE_PORT"));
  snprintf(trusted, sizeof trusted, "https://localhost:%s", test_env("HANDOFF_TEST_TLS_PORT"));

  fork_during_handshakes(trusted);
  sporadic(tls, "0");
  sporadic(http, "0");
  sporadic(tls, "1");
  sporadic(http, "1");

  /* A child frees what it inherited; the parent's connection is untouched. */
  snprintf(text, sizeof text, "base_url = %s\naccount_id = %s\nproject_id = %s\napi_key = %s\nca_file = %s\n",
           trusted, SANDBOX_ACCOUNT, SANDBOX_PROJECT, SANDBOX_API_KEY, test_env("HANDOFF_TEST_TLS_CA"));
  /* handoff_lookup() waits the configured timeout_ms. */
  snprintf(text + strlen(text), sizeof text - strlen(text), "timeout_ms = %d\n", LOOKUP_MS);
  conf = temp_file(text);
  CHECK_INT(HANDOFF_OK, handoff_init(conf));
  client = client_for(trusted, "0");
  lines = access_log_lines();
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  r = handoff_lookup("acme-call-456");
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  CHECK(wait_access_log(lines + 2));
  first = access_log_connection(lines);
  pid = fork();
  if (pid == 0) {
    handoff_client_free(client);
    handoff_shutdown();
    _exit(0);
  }
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  usleep(100000); /* time for nginx to act on anything the child sent */
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  CHECK(wait_access_log(lines + 3));
  if (!CHECK_INT(first, access_log_connection(lines + 2)))
    fprintf(stderr, "    the parent's connection was closed by the child\n");
  handoff_client_free(client);
  handoff_shutdown();
  temp_file_remove(conf);
  if (CHECK(stat(keylog, &keylog_info) == 0)) CHECK_INT(0, keylog_info.st_size);
  temp_file_remove(keylog);
  return check_summary("test_connections");
}
