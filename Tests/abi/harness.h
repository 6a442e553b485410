/*
 * harness.h -- what the C ABI tests share: the sandbox's address and
 * credentials, its request counters, clocks, bounded waits, a closed port and
 * temporary files.
 *
 * run.sh starts the sandbox and passes HANDOFF_TEST_BASE_URL and
 * HANDOFF_TEST_BLACKHOLE_PORT. Include after defining _POSIX_C_SOURCE.
 */
#ifndef HANDOFF_TEST_HARNESS_H
#define HANDOFF_TEST_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>

#include "check.h"
#include "polyai_handoff.h"

/* The sandbox's fixtures. */
#define SANDBOX_API_KEY "sandbox-key"
#define SANDBOX_ACCOUNT "acme"
#define SANDBOX_PROJECT "PROJECT-support"
#define ACME_123_ID "0bba04d7-38b3-4fd3-a1a8-329c34517fc1"
#define SUPPORT_CONVERSATION_ID "c7a9e2f0-1b3d-4c5e-8f7a-9b0c1d2e3f4a"

static inline const char *test_env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL || *value == '\0') {
    fprintf(stderr, "%s is not set: run this test through Tests/abi/run.sh\n", name);
    exit(2);
  }
  return value;
}

static inline long test_env_long(const char *name, long fallback) {
  const char *value = getenv(name);
  char *end;
  long number;
  if (value == NULL || *value == '\0') return fallback;
  number = strtol(value, &end, 10);
  return *end == '\0' && number > 0 ? number : fallback;
}

static inline const char *sandbox_url(void) { return test_env("HANDOFF_TEST_BASE_URL"); }

/* Loop counts shrink under valgrind (run.sh sets HANDOFF_TEST_ITERATIONS). */
static inline long test_iterations(long fallback) {
  return test_env_long("HANDOFF_TEST_ITERATIONS", fallback);
}

/* Time bounds stretch under valgrind (HANDOFF_TEST_TIME_SCALE). */
static inline double test_time_scale(void) {
  return (double)test_env_long("HANDOFF_TEST_TIME_SCALE", 1);
}

static inline double now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

static inline void test_sleep_ms(long ms) {
  struct timespec pause;
  pause.tv_sec = ms / 1000;
  pause.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&pause, &pause) != 0) {
  }
}

/* Evaluates cond every 5 ms until it holds or bound_ms (times the time
 * scale) has passed; the caller then checks what it waited for. For state a
 * server writes after its response has gone out (nginx logs a request once
 * it is done with it), which a test must not read right after the response. */
#define WAIT_UNTIL(cond, bound_ms)                                              \
  do {                                                                          \
    double wait_until_end_ = now_ms() + (double)(bound_ms) * test_time_scale(); \
    while (!(cond) && now_ms() < wait_until_end_) test_sleep_ms(5);             \
  } while (0)

/* Waits up to bound_ms (times the time scale) for a child. One still
 * running has hung: its threads' stacks go to stderr (gdb, when installed),
 * so that a hang seen once says where it was, and it is killed. Returns 0
 * for a hang, with *status the killed child's. */
static inline int wait_or_show_stacks(pid_t pid, double bound_ms, int *status) {
  double end = now_ms() + bound_ms * test_time_scale();
  char command[160];
  while (now_ms() < end) {
    if (waitpid(pid, status, WNOHANG) == pid) return 1;
    test_sleep_ms(5);
  }
  snprintf(command, sizeof command,
           "command -v gdb >/dev/null && gdb -p %d -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(#|Thread)' >&2",
           (int)pid);
  if (system(command) != 0) fprintf(stderr, "    (no stacks: gdb is not installed or could not attach)\n");
  kill(pid, SIGKILL);
  waitpid(pid, status, 0);
  return 0;
}

/* A configuration for the sandbox, then any "key", "value" pairs up to NULL.
 * The circuit breaker is off: tests provoke failures in a row on purpose, and
 * test_resilience turns it back on to test it. */
static inline handoff_config *sandbox_config_with(const char *first_key, ...) {
  handoff_config *config = handoff_config_new();
  va_list args;
  const char *key;
  if (!CHECK(config != NULL)) exit(2);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", sandbox_url()));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "breaker_failures", "0"));
  va_start(args, first_key);
  for (key = first_key; key != NULL; key = va_arg(args, const char *)) {
    const char *value = va_arg(args, const char *);
    if (!CHECK_INT(HANDOFF_OK, handoff_config_set(config, key, value))) {
      fprintf(stderr, "    setting %s = %s: %s\n", key, value, handoff_config_error(config));
    }
  }
  va_end(args);
  return config;
}

/* A client from sandbox_config_with(); the config is freed. */
#define sandbox_client_with(...) sandbox_client_from(sandbox_config_with(__VA_ARGS__))
#define sandbox_client() sandbox_client_from(sandbox_config_with(NULL))

static inline handoff_client *sandbox_client_from(handoff_config *config) {
  handoff_status status = HANDOFF_NOT_INITIALIZED;
  handoff_client *client = handoff_client_new(config, &status);
  if (!CHECK(client != NULL) || !CHECK_INT(HANDOFF_OK, status)) {
    fprintf(stderr, "    handoff_client_new: %s\n", handoff_config_error(config));
    exit(2);
  }
  handoff_config_free(config);
  return client;
}

static inline int sandbox_port(void) {
  const char *url = sandbox_url();
  const char *colon = strrchr(url, ':');
  return colon != NULL ? atoi(colon + 1) : 0;
}

/* An HTTP/1.0 request without a body (GET, or POST to a control endpoint)
 * to 127.0.0.1:port on a fresh connection, with an x-api-key header when
 * api_key is not NULL. Returns a malloc'ed response (headers and body) or
 * NULL. */
static inline char *loopback_http(int port, const char *method, const char *path, const char *api_key) {
  struct sockaddr_in address;
  char request[512], *response = NULL;
  size_t length = 0, capacity = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return NULL;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    close(fd);
    return NULL;
  }
  snprintf(request, sizeof request,
           "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n%s%s%s\r\n", method, path,
           api_key != NULL ? "x-api-key: " : "", api_key != NULL ? api_key : "", api_key != NULL ? "\r\n" : "");
  if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
    close(fd);
    return NULL;
  }
  for (;;) {
    ssize_t got;
    if (capacity - length < 1024) {
      char *bigger = realloc(response, capacity + 4096);
      if (bigger == NULL) break;
      response = bigger;
      capacity += 4096;
    }
    got = read(fd, response + length, capacity - length - 1);
    if (got <= 0) break;
    length += (size_t)got;
  }
  close(fd);
  if (response != NULL) response[length] = '\0';
  return response;
}

static inline char *loopback_request(int port, const char *path, const char *api_key) {
  return loopback_http(port, "GET", path, api_key);
}

/* The same to the sandbox. */
static inline char *sandbox_request(const char *path, const char *api_key) {
  return loopback_request(sandbox_port(), path, api_key);
}

static inline char *sandbox_get(const char *path) { return sandbox_request(path, NULL); }

static inline long json_field(const char *text, const char *name) {
  char pattern[64];
  const char *at;
  snprintf(pattern, sizeof pattern, "\"%s\"", name);
  at = text != NULL ? strstr(text, pattern) : NULL;
  if (at == NULL) return -1;
  at = strchr(at + strlen(pattern), ':');
  return at != NULL ? strtol(at + 1, NULL, 10) : -1;
}

/* One counter of a client (see handoff_stats_get); 0 if there is none. */
static inline unsigned long long client_stat(handoff_client *client, const char *name) {
  handoff_stats *stats = handoff_client_stats(client);
  unsigned long long value;
  if (!CHECK(stats != NULL)) return 0;
  value = handoff_stats_get(stats, name);
  handoff_stats_free(stats);
  return value;
}

/* The sandbox's counters of handoff_state requests and TCP connections. */
typedef struct {
  long requests;
  long connections;
} sandbox_stats;

/* The counters of the sandbox at 127.0.0.1:port (another one than the
 * main, e.g. the slow one). */
static inline sandbox_stats sandbox_stats_at(int port) {
  sandbox_stats stats = {-1, -1};
  char *response = loopback_request(port, "/_sandbox/stats", NULL);
  const char *body = response != NULL ? strstr(response, "\r\n\r\n") : NULL;
  if (body != NULL) {
    stats.requests = json_field(body, "requests");
    stats.connections = json_field(body, "connections");
  }
  if (!CHECK(stats.requests >= 0 && stats.connections >= 0)) {
    fputs("    GET /_sandbox/stats answered: ", stderr);
    check_print_string(stderr, response);
    fputs("\n", stderr);
  }
  free(response);
  return stats;
}

static inline sandbox_stats sandbox_stats_now(void) { return sandbox_stats_at(sandbox_port()); }

/* Looks up id and returns how many requests reached the sandbox. */
static inline long requests_for(handoff_client *client, const char *id, handoff_status expected) {
  sandbox_stats before = sandbox_stats_now(), after;
  handoff_result *r = handoff_client_lookup(client, id, 0);
  if (!CHECK_STATUS(expected, r)) fprintf(stderr, "    (shared_id %s)\n", id);
  handoff_result_free(r);
  after = sandbox_stats_now();
  return after.requests - before.requests;
}

/* Writes a secret file as secret managers rotate one: a new file (0600)
 * renamed over path. */
static inline void write_secret_file(const char *path, const char *text) {
  char next[1024];
  FILE *file;
  snprintf(next, sizeof next, "%s.next", path);
  file = fopen(next, "w");
  if (!CHECK(file != NULL)) return;
  fputs(text, file);
  fclose(file);
  CHECK_INT(0, chmod(next, 0600));
  CHECK_INT(0, rename(next, path));
}

/* A loopback port nothing listens on, so a connection to it is refused: a
 * socket bound to port 0 and never listened on. It stays bound for the whole
 * process, so no other program can be handed the port and answer on it. */
static inline int closed_port(void) {
  static int port;
  struct sockaddr_in address;
  socklen_t size = sizeof address;
  int fd;
  if (port != 0) return port;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
      getsockname(fd, (struct sockaddr *)&address, &size) == 0)
    port = ntohs(address.sin_port);
  if (port == 0) close(fd);
  return port;
}

/* A new temporary file holding text; returns its malloc'ed path. */
static inline char *temp_file(const char *text) {
  const char *dir = getenv("TMPDIR");
  size_t size = strlen(dir != NULL && *dir ? dir : "/tmp") + 32;
  char *path = malloc(size);
  int fd;
  if (path == NULL) exit(2);
  snprintf(path, size, "%s/handoff-test-XXXXXX", dir != NULL && *dir ? dir : "/tmp");
  fd = mkstemp(path);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    perror("temp_file");
    exit(2);
  }
  close(fd);
  return path;
}

static inline void temp_file_remove(char *path) {
  if (path != NULL) unlink(path);
  free(path);
}

/* Checks a result against the acme-call-123 fixture, field by field. */
static inline void check_acme_123(const handoff_result *r) {
  static const char *const keys[] = {
    "customer_id", "handoff_reason", "handoff_to", "customer.tier", "customer.name",
    "customer.account_number", "customer.balance", "previous_calls.0", "previous_calls.1",
    "vip", "notes",
  };
  static const char *const values[] = {
    "12345", "successfully_identified", "billing", "gold", "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m",
    "9223372036854775807", "1234.50", "2026-11-01", "2026-11-15", "true", "",
  };
  size_t i, count = sizeof keys / sizeof keys[0];
  if (!CHECK_STATUS(HANDOFF_OK, r)) return;
  CHECK_INT(200, handoff_result_http_status(r));
  CHECK_STR("", handoff_result_error(r));
  CHECK_STR(ACME_123_ID, handoff_result_conversation_id(r));
  CHECK_STR("acme-call-123", handoff_result_shared_id(r));
  CHECK_INT(count, handoff_result_count(r));
  CHECK_INT(0, handoff_result_truncated(r));
  for (i = 0; i < count && i < handoff_result_count(r); i++) {
    CHECK_STR(keys[i], handoff_result_key(r, i));
    CHECK_STR(values[i], handoff_result_value(r, i));
    CHECK_STR(values[i], handoff_result_get(r, keys[i]));
  }
}

/* Makes a client from config (which it frees), looks up acme-call-123 and
 * checks the result and the variable name of its first entry, which shows
 * the variable_prefix the configuration ended with. */
static inline void check_config_lookup(handoff_config *config, const char *first_variable) {
  handoff_client *client = sandbox_client_from(config);
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 0);
  check_acme_123(r);
  CHECK_STR(first_variable, handoff_result_variable_name(r, 0));
  handoff_result_free(r);
  handoff_client_free(client);
}

#endif /* HANDOFF_TEST_HARNESS_H */
