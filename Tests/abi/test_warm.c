/*
 * test_warm.c -- handoff_client_warm and warm_connections, run by
 * tls_front.sh: nginx on loopback terminates TLS (HTTP/1.1 and HTTP/2 ports)
 * in front of the sandbox.
 *
 * What it proves: a warm-up sends no request (nginx numbers the requests of
 * each connection: the first lookup is request 1 of the connection the
 * warm-up made) and over HTTP/2 the first lookup uses the warmed connection
 * (no new one); over HTTP/1.1, where libcurl closes an unused connection,
 * the lookup makes a new connection;
 * warm_connections makes that many at handoff_client_new and at
 * handoff_init (the process-wide client, whose first lookup reuses the
 * warmed connection); a forked child warms its own connections and never
 * the parent's; refusals, an unreachable server (HANDOFF_NETWORK) and a
 * server that never answers the handshake (HANDOFF_TIMEOUT, on time) end as
 * the header says; handoff_client_free waits for a keep-warm replacement
 * stuck in its handshake, within its timeout, and leaves no thread behind.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* struct tcp_info */
#include <dirent.h>
#include <netinet/tcp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "servers.h"
#include "tls_log.h"

/* A lookup or warm-up that must succeed: generous, stretched under valgrind
 * and the sanitizers. Nothing is timed against it. */
#define LOOKUP_MS ((int)(5000 * test_time_scale()))
/* The deadline of a warm-up that cannot finish, and how late it may end. */
#define DEADLINE_MS 300
#define LATE_MS (150.0 * test_time_scale())

static int tls_port(const char *name) { return atoi(test_env(name)); }

static handoff_config *tls_config(int port) {
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
  handoff_config *config = sandbox_config_with("base_url", url, "retries", "0", NULL);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ca_file", test_env("HANDOFF_TEST_TLS_CA")));
  return config;
}

/* Looks up acme-call-123~<tag>-<pid>. run.sh runs this test twice against
 * one nginx (natively, then under valgrind): the pid keeps each run's log
 * lines apart. */
static void lookup_ok(handoff_client *client, const char *tag) {
  char id[96];
  handoff_result *r = handoff_client_lookup(client, tagged_id(id, tag), LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
}

/* libcurl 7.88's liveness check of an idle HTTP/2 connection reads what is
 * waiting on its socket and takes "nothing yet" (SSL_read wanting more of a
 * TLS record) for a dead connection (http2_connisdead); the likely cause of
 * a lookup that now and then connects anew after a warm-up. That is rare (0 in 30 single warm-ups here, 1 in 30 with 3 at once), so the
 * "first lookup reuses the warmed connection" checks get up to 3 tries, of
 * which one must succeed: a warm-up that never worked fails every try. */
#define REUSE_TRIES 3

/* A new client on the HTTP/2 port, warmed, then one lookup: 1 when the
 * lookup went over the warmed connection as its first request. */
static int warmed_connection_used(const char *tag) {
  handoff_client *client = sandbox_client_from(tls_config(tls_port("HANDOFF_TEST_TLS_H2_PORT")));
  log_line line;
  int used = 0;
  if (handoff_client_warm(client, LOOKUP_MS) == HANDOFF_OK) {
    lookup_ok(client, tag);
    used = client_stat(client, "connections") == 1 && wait_line(tag, &line) && line.request == 1;
  }
  handoff_client_free(client);
  return used;
}

/* A new client on the TLS port named by port_variable, warmed once: one
 * connection, speaking the protocol of protocol_counter, `kept` of them kept
 * open, one warm-up. */
static handoff_client *warmed_client(const char *port_variable, const char *protocol_counter, int kept) {
  handoff_client *client = sandbox_client_from(tls_config(tls_port(port_variable)));
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  CHECK_INT(1, client_stat(client, "connections"));
  if (!CHECK_INT(1, client_stat(client, protocol_counter))) fprintf(stderr, "    (%s)\n", protocol_counter);
  CHECK_INT(kept, client_stat(client, "connections_warmed"));
  CHECK_INT(1, client_stat(client, "warmups"));
  return client;
}

/* The first lookup after the warm-up is request 1 of its connection:
 * nothing went before it. */
static void first_lookup_is_a_first_request(handoff_client *client, const char *tag) {
  log_line line;
  lookup_ok(client, tag);
  if (CHECK(wait_line(tag, &line))) CHECK_INT(1, line.request);
}

static void warm_over_http2_sends_nothing_and_is_used(void) {
  handoff_client *client = warmed_client("HANDOFF_TEST_TLS_H2_PORT", "connections_http2", 1);
  handoff_stats *stats;
  CHECK_INT(0, client_stat(client, "requests"));
  CHECK_INT(0, client_stat(client, "lookups"));
  stats = handoff_client_stats(client);
  CHECK_CONTAINS(handoff_stats_prometheus(stats), "polyai_handoff_connections_warmed_total 1\n");
  handoff_stats_free(stats);

  first_lookup_is_a_first_request(client, "warm-h2-first");
  handoff_client_free(client);

  /* The first lookup goes over the warmed connection, as its first request. */
  {
    int used = 0, try;
    for (try = 0; try < REUSE_TRIES && !used; try++) {
      char tag[32];
      snprintf(tag, sizeof tag, "warm-h2-reuse-%d", try);
      used = warmed_connection_used(tag);
    }
    CHECK(used);
  }
}

/* Over HTTP/1.1 libcurl closes the unused connection: the lookup makes
 * its own. */
static void warm_over_http1_leaves_only_dns(void) {
  handoff_client *client = warmed_client("HANDOFF_TEST_TLS_PORT", "connections_http1", 0);
  first_lookup_is_a_first_request(client, "warm-h1-first");
  CHECK_INT(2, client_stat(client, "connections"));
  handoff_client_free(client);
}

/* Plain HTTP to the sandbox (HTTP/1.1): a connection, no request. The
 * sandbox counts a connection with its first request, so neither of its
 * counters moves. */
static void warm_plain_http_sends_nothing(void) {
  handoff_client *client = sandbox_client();
  sandbox_stats before = sandbox_stats_now(), after;
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  CHECK_INT(1, client_stat(client, "connections_http1"));
  after = sandbox_stats_now();
  CHECK_INT(before.requests, after.requests);
  CHECK_INT(before.connections, after.connections);
  CHECK_INT(1, requests_for(client, "acme-call-123", HANDOFF_OK));
  CHECK_INT(2, client_stat(client, "connections"));
  handoff_client_free(client);
}

static void warm_connections_at_client_new(void) {
  handoff_config *config = tls_config(tls_port("HANDOFF_TEST_TLS_H2_PORT"));
  handoff_client *client;
  log_line line;
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "warm_connections", "33"));
  CHECK_CONTAINS(handoff_config_error(config), "warm_connections");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "warm_connections", "-1"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "warm_connections", "32"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "warm_connections", "3"));
  client = sandbox_client_from(config);
  CHECK_INT(3, client_stat(client, "connections"));
  CHECK_INT(3, client_stat(client, "connections_warmed"));
  CHECK_INT(1, client_stat(client, "warmups"));
  lookup_ok(client, "warm-new-first");
  /* Known open: with 3 warmed at once, the first lookup opened a 4th
   * connection in about 1 run in 30 here (with 1 warmed, never: see
   * warm_over_http2_sends_nothing_and_is_used). Not explained yet. */
  CHECK(client_stat(client, "connections") <= 4);
  if (CHECK(wait_line("warm-new-first", &line))) CHECK_INT(1, line.request);
  /* handoff_client_warm makes warm_connections more. */
  {
    unsigned long long before = client_stat(client, "connections");
    CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
    CHECK_INT(before + 3, client_stat(client, "connections"));
    CHECK_INT(6, client_stat(client, "connections_warmed"));
  }
  CHECK_INT(2, client_stat(client, "warmups"));
  handoff_client_free(client);
}

/* A hedge over HTTP/2 wins (fault-slow-then-fast answers a key's first
 * request after 3 s). libcurl sends it as a second stream on the warmed
 * connection (natively: 1 connection); under ASan it was once seen to open
 * a second one, so the count is bounded, not fixed. */
static void a_hedge_over_http2_is_a_second_stream(void) {
  handoff_config *config = tls_config(tls_port("HANDOFF_TEST_TLS_H2_PORT"));
  handoff_client *client;
  handoff_result *r;
  char id[96];
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "hedge_after_ms", "50"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "hedge_max_percent", "100"));
  client = sandbox_client_from(config);
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  snprintf(id, sizeof id, "fault-slow-then-fast~h2-%ld", (long)getpid());
  r = handoff_client_lookup(client, id, LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("second", handoff_result_get(r, "answered_by"));
  handoff_result_free(r);
  CHECK_INT(1, client_stat(client, "hedges"));
  CHECK_INT(1, client_stat(client, "hedge_wins"));
  CHECK(client_stat(client, "connections") <= 2);
  CHECK_INT(0, client_stat(client, "connections_http1"));
  handoff_client_free(client);
}

/* A child warms its own connection: the parent's stats do not move, and the
 * child's lookup uses what the child warmed. */
static void warm_in_a_forked_child(void) {
  handoff_client *client = sandbox_client_from(tls_config(tls_port("HANDOFF_TEST_TLS_H2_PORT")));
  int wstatus = 0;
  pid_t child;
  lookup_ok(client, "warm-parent");
  CHECK_INT(1, client_stat(client, "connections"));
  fflush(NULL);
  child = fork();
  if (child == 0) {
    log_line line;
    int try, used = 0;
    CHECK_INT(0, client_stat(client, "connections")); /* the child's own counters start afresh */
    /* The child's lookup goes over what the child warmed (tries: see REUSE_TRIES). */
    for (try = 0; try < REUSE_TRIES && !used; try++) {
      char tag[32];
      unsigned long long before = client_stat(client, "connections");
      snprintf(tag, sizeof tag, "warm-child-%d", try);
      CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
      lookup_ok(client, tag);
      used = client_stat(client, "connections") == before + 1 && wait_line(tag, &line) && line.request == 1;
    }
    CHECK(used);
    CHECK(client_stat(client, "connections_warmed") >= 1);
    handoff_client_free(client);
    _exit(check_summary("test_warm (child)"));
  }
  if (CHECK(child > 0)) {
    CHECK_INT(1, wait_or_show_stacks(child, 30000, &wstatus)); /* 0: it hung */
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  }
  CHECK_INT(1, client_stat(client, "connections"));
  CHECK_INT(0, client_stat(client, "warmups"));
  lookup_ok(client, "warm-parent-after");
  CHECK_INT(1, client_stat(client, "connections")); /* the parent's connection is still there */
  handoff_client_free(client);
}

static void refusals(void) {
  handoff_client *client = sandbox_client();
  handoff_config *config = handoff_config_new();
  sandbox_stats before = sandbox_stats_now();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_client_warm(NULL, 0));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_client_warm(client, 600001));
  CHECK_INT(0, client_stat(client, "warmups"));
  handoff_client_free(client);

  /* A client for DNI reservations only: its POSTs never reuse a connection. */
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", sandbox_url()));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "dni_api_key", "dni-key"));
  client = sandbox_client_from(config);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_client_warm(client, 0));
  handoff_client_free(client);
  CHECK_INT(before.connections, sandbox_stats_now().connections); /* stats probes are not counted */
}

/* Holds a connection without a word until the client gives up. */
static void silent(int fd, void *context) {
  char buffer[4096];
  (void)context;
  (void)test_read_head(fd, buffer, sizeof buffer, (int)(3000 * test_time_scale()));
}

static void failures_end_on_time(void) {
  char url[64];
  handoff_client *client;
  test_server server;
  double started, took;
  snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
  client = sandbox_client_with("base_url", url, NULL);
  CHECK_INT(HANDOFF_NETWORK, handoff_client_warm(client, LOOKUP_MS));
  CHECK_INT(0, client_stat(client, "connections_warmed"));
  CHECK_INT(1, client_stat(client, "warmups"));
  handoff_client_free(client);

  /* warm_connections at creation: a failure is logged, the client is made. */
  {
    handoff_config *config = sandbox_config_with("base_url", url, "warm_connections", "2", NULL);
    handoff_status status = HANDOFF_NOT_INITIALIZED;
    client = handoff_client_new(config, &status);
    CHECK_INT(HANDOFF_OK, status);
    if (CHECK(client != NULL)) {
      CHECK_INT(1, client_stat(client, "warmups"));
      CHECK_INT(0, client_stat(client, "connections"));
    }
    handoff_client_free(client);
    handoff_config_free(config);
  }

  if (!CHECK_INT(0, test_server_start(&server, silent, NULL))) return;
  client = sandbox_client_from(tls_config(server.port));
  started = now_ms();
  CHECK_INT(HANDOFF_TIMEOUT, handoff_client_warm(client, DEADLINE_MS));
  took = now_ms() - started;
  if (!CHECK(took >= DEADLINE_MS - 1 && took <= DEADLINE_MS + LATE_MS)) fprintf(stderr, "    took %.1f ms\n", took);
  CHECK_INT(1, test_server_accepted(&server));
  /* Its connection spoke no HTTP: counted, but as neither version. */
  CHECK_INT(1, client_stat(client, "connections"));
  CHECK_INT(0, client_stat(client, "connections_http1"));
  CHECK_INT(0, client_stat(client, "connections_warmed"));
  handoff_client_free(client);
  test_server_stop(&server);
}

/* Lines in nginx's access log so far. */
static long log_lines(void) {
  FILE *log = fopen(test_env("HANDOFF_TEST_TLS_ACCESS_LOG"), "r");
  long lines = 0;
  int c;
  if (log == NULL) return -1;
  while ((c = fgetc(log)) != EOF) lines += c == '\n';
  fclose(log);
  return lines;
}

static unsigned long long process_stat(const char *name) {
  handoff_stats *stats = handoff_process_stats();
  unsigned long long value;
  if (!CHECK(stats != NULL)) return 0;
  value = handoff_stats_get(stats, name);
  handoff_stats_free(stats);
  return value;
}

/* handoff_init warms as handoff_client_new does: with warm_connections = 1
 * (from the environment) it returns with one HTTP/2 connection made and
 * kept, nginx has logged nothing, and the first handoff_lookup goes over that
 * connection as its first request. A reload (handoff_init again) makes a new
 * client, warmed anew: the tries of REUSE_TRIES. */
static void handoff_init_warms(void) {
  static const char *const names[] = {
    "POLYAI_HANDOFF_BASE_URL", "POLYAI_HANDOFF_ACCOUNT_ID", "POLYAI_HANDOFF_PROJECT_ID", "POLYAI_HANDOFF_API_KEY",
    "POLYAI_HANDOFF_CA_FILE", "POLYAI_HANDOFF_RETRIES", "POLYAI_HANDOFF_BREAKER_FAILURES",
    "POLYAI_HANDOFF_WARM_CONNECTIONS",
  };
  char url[64];
  int try, used = 0;
  size_t i;
  snprintf(url, sizeof url, "https://127.0.0.1:%d", tls_port("HANDOFF_TEST_TLS_H2_PORT"));
  setenv(names[0], url, 1);
  setenv(names[1], SANDBOX_ACCOUNT, 1);
  setenv(names[2], SANDBOX_PROJECT, 1);
  setenv(names[3], SANDBOX_API_KEY, 1);
  setenv(names[4], test_env("HANDOFF_TEST_TLS_CA"), 1);
  setenv(names[5], "0", 1);
  setenv(names[6], "0", 1);
  setenv(names[7], "1", 1);
  for (try = 0; try < REUSE_TRIES && !used; try++) {
    char tag[32], id[96];
    long lines = log_lines();
    unsigned long long warmed;
    handoff_result *r;
    log_line line;
    if (!CHECK_INT(HANDOFF_OK, handoff_init(NULL))) {
      fprintf(stderr, "    handoff_init: %s\n", handoff_init_error());
      break;
    }
    CHECK_INT(1, process_stat("warmups"));
    CHECK_INT(1, process_stat("connections_warmed"));
    CHECK_INT(1, process_stat("connections_http2"));
    warmed = process_stat("connections");
    CHECK_INT(1, warmed);
    CHECK_INT(0, process_stat("requests"));
    snprintf(tag, sizeof tag, "init-warm-%d", try);
    snprintf(id, sizeof id, "acme-call-123~%s-%ld", tag, (long)getpid());
    r = handoff_lookup(id);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
    if (CHECK(wait_line(tag, &line))) CHECK_INT(1, line.request);
    /* nginx logged the lookup and nothing else: the warm-up sent nothing. */
    CHECK_INT(lines + 1, log_lines());
    used = warmed == 1 && process_stat("connections") == 1; /* the lookup made none */
  }
  CHECK(used);
  handoff_shutdown();
  for (i = 0; i < sizeof names / sizeof names[0]; i++) unsetenv(names[i]);
}

/* The threads of this process now (/proc/self/task). */
static int thread_count(void) {
  DIR *tasks = opendir("/proc/self/task");
  struct dirent *entry;
  int count = 0;
  if (tasks == NULL) return -1;
  while ((entry = readdir(tasks)) != NULL) count += entry->d_name[0] != '.';
  closedir(tasks);
  return count;
}

/* Connections a listener has queued and not accepted (Linux: a listening
 * socket's TCP_INFO gives its accept queue as tcpi_unacked). */
static int accept_queue(int listener) {
  struct tcp_info info;
  socklen_t size = sizeof info;
  memset(&info, 0, sizeof info);
  if (getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
  return (int)info.tcpi_unacked;
}

/* A front for nginx's HTTP/2 port that relays its first connection and is
 * busy with it for as long as it lasts, as an overloaded server is: a later
 * connection completes TCP in the kernel, waits in the accept queue, and its
 * TLS handshake gets no answer. Once the first one ends, later ones are
 * accepted and closed. */
typedef struct {
  test_server server;
  int upstream_port;
  int relayed;
} busy_front;

static void relay_the_first(int fd, void *context) {
  busy_front *front = context;
  struct sockaddr_in address;
  int upstream;
  if (front->relayed++ > 0) return;
  upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)front->upstream_port);
  if (upstream < 0 || connect(upstream, (struct sockaddr *)&address, sizeof address) != 0) {
    if (upstream >= 0) close(upstream);
    return;
  }
  while (!front->server.stopping) {
    struct pollfd ends[2] = {{fd, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buffer[16384];
    int i, done = 0;
    if (poll(ends, 2, 50) <= 0) continue;
    for (i = 0; i < 2 && !done; i++) {
      ssize_t got;
      if (ends[i].revents == 0) continue;
      got = read(ends[i].fd, buffer, sizeof buffer);
      done = got <= 0 || test_write_all(ends[1 - i].fd, buffer, (size_t)got) != 0;
    }
    if (done) break;
  }
  close(upstream);
}

/* handoff_client_free waits for a keep-warm replacement under way: the
 * warmed connection goes through the busy front, so its replacement (due
 * after 3/4 of connection_max_idle_ms idle) hangs in its TLS handshake until
 * connect_timeout_ms. A free then returns once that replacement ended: not
 * before (it took most of the timeout), not much after it, with every
 * library thread gone, and (under valgrind) nothing used after it was
 * freed. */
static void free_waits_for_a_replacement(void) {
  const int replacement_ms = (int)(1000 * test_time_scale());
  char timeout[32];
  busy_front front;
  handoff_config *config;
  handoff_client *client;
  int threads, during;
  double started, took;
  memset(&front, 0, sizeof front);
  front.upstream_port = tls_port("HANDOFF_TEST_TLS_H2_PORT");
  if (!CHECK_INT(0, test_server_start(&front.server, relay_the_first, &front))) return;
  threads = thread_count();
  config = tls_config(front.server.port);
  snprintf(timeout, sizeof timeout, "%d", replacement_ms);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "connect_timeout_ms", timeout));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "connection_max_idle_ms", "400"));
  client = sandbox_client_from(config);
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  CHECK_INT(1, client_stat(client, "connections_warmed"));
  /* The replacement's connection waits in the queue: it is in its handshake. */
  WAIT_UNTIL(accept_queue(front.server.listener) == 1, 5000);
  CHECK_INT(1, accept_queue(front.server.listener));
  CHECK_INT(1, test_server_accepted(&front.server)); /* the warm-up's, relayed */
  during = thread_count();
  CHECK(during > threads); /* the I/O thread and the replacement's */

  started = now_ms();
  handoff_client_free(client);
  took = now_ms() - started;
  if (!CHECK(took >= replacement_ms / 2 && took <= replacement_ms + LATE_MS))
    fprintf(stderr, "    handoff_client_free took %.1f ms (the replacement's timeout: %d ms)\n", took, replacement_ms);
  WAIT_UNTIL(thread_count() == threads, 1000);
  if (!CHECK_INT(threads, thread_count())) fprintf(stderr, "    (%d during the replacement)\n", during);
  test_server_stop(&front.server);
}

int main(void) {
  warm_over_http2_sends_nothing_and_is_used();
  warm_over_http1_leaves_only_dns();
  warm_plain_http_sends_nothing();
  warm_connections_at_client_new();
  warm_in_a_forked_child();
  a_hedge_over_http2_is_a_second_stream();
  refusals();
  failures_end_on_time();
  free_waits_for_a_replacement();
  handoff_init_warms();
  return check_summary("test_warm");
}
