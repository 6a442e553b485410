/*
 * test_egress_netns.c -- run by netns_front.sh in a client network namespace
 * joined to a server namespace by two veths: interface (a second address, an
 * interface name, ones that do not exist), ip_version and resolve (a name
 * pinned to the server's IPv4 and IPv6 addresses), proved by the peer
 * address nginx with TLS logs for each request (HANDOFF_TEST_NETNS_*); and
 * that keep-warm's replacements ask DNS again (the namespace's own hosts
 * file, changed by the test), so lookups follow the name.
 * Every client sends a user agent of its own, which tells its request's line.
 */
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "queue_wait.h"
#include "tcp_table.h"

static char base_url[128], pin_v4[160], pin_v6[160], pin_both[200], pin_both_v6_first[200];
static const char *host;

typedef struct {
  handoff_status status;
  int http_status;
  double took_ms;
  char error[512];
} outcome;

/* Looks up acme-call-123 with a new client (base_url, ca_file, and
 * user_agent = tag), configured by the "key", "value" pairs given up to NULL.
 * A lookup that succeeds has its result checked against the fixture. */
static outcome lookup_as(const char *tag, ...) {
  handoff_config *config = sandbox_config_with("base_url", base_url, "ca_file", test_env("HANDOFF_TEST_NETNS_CA"),
                                               "user_agent", tag, NULL);
  handoff_client *client;
  handoff_result *r;
  outcome result;
  const char *key;
  double start;
  va_list args;
  va_start(args, tag);
  for (key = va_arg(args, const char *); key != NULL; key = va_arg(args, const char *)) {
    const char *value = va_arg(args, const char *);
    if (!CHECK_INT(HANDOFF_OK, handoff_config_set(config, key, value)))
      fprintf(stderr, "    %s: %s = %s: %s\n", tag, key, value, handoff_config_error(config));
  }
  va_end(args);
  client = sandbox_client_from(config);
  start = now_ms();
  r = handoff_client_lookup(client, "acme-call-123", (int)(3000 * test_time_scale()));
  result.took_ms = now_ms() - start;
  result.status = handoff_result_status(r);
  result.http_status = handoff_result_http_status(r);
  snprintf(result.error, sizeof result.error, "%s", handoff_result_error(r));
  if (result.status == HANDOFF_OK) check_acme_123(r);
  handoff_result_free(r);
  handoff_client_free(client);
  return result;
}

/* The access log's line for tag's request, which ends in "tag": its peer
 * (remote) and server (local) addresses. Returns 0 if there is none yet. */
static int logged(const char *tag, char *peer, char *server, size_t size) {
  FILE *file = fopen(test_env("HANDOFF_TEST_NETNS_ACCESS_LOG"), "r");
  char line[1024], needle[128], remote[128], local[128];
  int found = 0;
  snprintf(needle, sizeof needle, " \"%s\"\n", tag);
  while (file != NULL && fgets(line, sizeof line, file) != NULL) {
    size_t length = strlen(line), tail = strlen(needle);
    if (length >= tail && strcmp(line + length - tail, needle) == 0 && sscanf(line, "%127s %127s", remote, local) == 2) {
      snprintf(peer, size, "%s", remote);
      snprintf(server, size, "%s", local);
      found = 1;
    }
  }
  if (file != NULL) fclose(file);
  return found;
}

/* How many lines of the access log end in "tag". */
static int logged_lines(const char *tag) {
  FILE *file = fopen(test_env("HANDOFF_TEST_NETNS_ACCESS_LOG"), "r");
  char line[1024], needle[128];
  int lines = 0;
  snprintf(needle, sizeof needle, " \"%s\"\n", tag);
  while (file != NULL && fgets(line, sizeof line, file) != NULL) {
    size_t length = strlen(line), tail = strlen(needle);
    if (length >= tail && strcmp(line + length - tail, needle) == 0) lines++;
  }
  if (file != NULL) fclose(file);
  return lines;
}

/* tag's lookup succeeded and nginx saw it come from peer, to server (NULL:
 * either server address). nginx logs a request once it is done with it:
 * waits up to 2 s for the line. */
static void expect_peer(const char *tag, outcome result, const char *peer, const char *server) {
  char seen_peer[128] = "", seen_server[128] = "";
  if (!CHECK_INT(HANDOFF_OK, result.status)) fprintf(stderr, "    %s: %s\n", tag, result.error);
  WAIT_UNTIL(logged(tag, seen_peer, seen_server, sizeof seen_peer), 2000);
  if (!CHECK_STR(peer, seen_peer)) fprintf(stderr, "    %s: the peer nginx logged\n", tag);
  if (server != NULL && !CHECK_STR(server, seen_server)) fprintf(stderr, "    %s: the server address nginx logged\n", tag);
}

/* tag's lookup failed with HANDOFF_NETWORK at once (no request: no HTTP
 * status; well inside its 3 s), with words containing each of the NULL-ended
 * strings given. */
static void expect_network_failure(const char *tag, outcome result, ...) {
  const char *word;
  va_list args;
  if (!CHECK_INT(HANDOFF_NETWORK, result.status)) fprintf(stderr, "    %s: %s\n", tag, result.error);
  CHECK_INT(0, result.http_status);
  if (!CHECK(result.took_ms < 1000 * test_time_scale())) fprintf(stderr, "    %s: took %.0f ms\n", tag, result.took_ms);
  va_start(args, result);
  for (word = va_arg(args, const char *); word != NULL; word = va_arg(args, const char *)) {
    if (!CHECK(strstr(result.error, word) != NULL))
      fprintf(stderr, "    %s: expected \"%s\" in \"%s\"\n", tag, word, result.error);
  }
  va_end(args);
  fprintf(stderr, "  %s: %s (%.1f ms)\n", tag, result.error, result.took_ms);
}

/* Packets an interface of this namespace has sent. */
static long long tx_packets(const char *name) {
  char path[256];
  long long packets = -1;
  FILE *file;
  snprintf(path, sizeof path, "/sys/class/net/%s/statistics/tx_packets", name);
  file = fopen(path, "r");
  if (file != NULL && fscanf(file, "%lld", &packets) != 1) packets = -1;
  if (file != NULL) fclose(file);
  CHECK(packets >= 0);
  return packets;
}

static void test_interface_address(void) {
  const char *first = test_env("HANDOFF_TEST_NETNS_CLIENT_V4"), *second = test_env("HANDOFF_TEST_NETNS_CLIENT_V4_SECOND");
  const char *first_v6 = test_env("HANDOFF_TEST_NETNS_CLIENT_V6"), *second_v6 = test_env("HANDOFF_TEST_NETNS_CLIENT_V6_SECOND");
  char host_second[80];
  /* Without interface, the first address is the source; with it, the one
   * named, each of the two on the same veth. */
  expect_peer("v4-default", lookup_as("v4-default", "resolve", pin_v4, NULL), first, NULL);
  expect_peer("v4-second", lookup_as("v4-second", "resolve", pin_v4, "interface", second, NULL), second, NULL);
  expect_peer("v4-first", lookup_as("v4-first", "resolve", pin_v4, "interface", first, NULL), first, NULL);
  snprintf(host_second, sizeof host_second, "host!%s", second);
  expect_peer("v4-host-second", lookup_as("v4-host-second", "resolve", pin_v4, "interface", host_second, NULL), second, NULL);
  /* The same over IPv6 (the second address is deprecated, so never the
   * default source). */
  expect_peer("v6-default", lookup_as("v6-default", "resolve", pin_v6, NULL), first_v6, NULL);
  expect_peer("v6-second", lookup_as("v6-second", "resolve", pin_v6, "interface", second_v6, NULL), second_v6, NULL);
}

/* interface = the name of the second veth: to the server's 10.77.1.1, which
 * the client otherwise reaches through the first, the request goes out
 * through the second (its packet counter, the most of the two) from its
 * address. */
static void expect_through_b(const char *tag, const char *interface) {
  const char *if_a = test_env("HANDOFF_TEST_NETNS_IF_A"), *if_b = test_env("HANDOFF_TEST_NETNS_IF_B");
  long long a = tx_packets(if_a), b = tx_packets(if_b);
  outcome result = lookup_as(tag, "resolve", pin_v4, "interface", interface, NULL);
  a = tx_packets(if_a) - a;
  b = tx_packets(if_b) - b;
  expect_peer(tag, result, test_env("HANDOFF_TEST_NETNS_IF_B_V4"), test_env("HANDOFF_TEST_NETNS_SERVER_V4"));
  if (!CHECK(b >= 5 && a < b)) fprintf(stderr, "    %s: packets sent through %s: %lld, through %s: %lld\n", tag, if_b, b, if_a, a);
}

static void test_interface_name(void) {
  char prefixed[80];
  expect_through_b("name-b", test_env("HANDOFF_TEST_NETNS_IF_B"));
  snprintf(prefixed, sizeof prefixed, "if!%s", test_env("HANDOFF_TEST_NETNS_IF_B"));
  expect_through_b("if-name-b", prefixed);
  /* The first veth's name: its first address. */
  expect_peer("name-a", lookup_as("name-a", "resolve", pin_v4, "interface", test_env("HANDOFF_TEST_NETNS_IF_A"), NULL),
              test_env("HANDOFF_TEST_NETNS_CLIENT_V4"), test_env("HANDOFF_TEST_NETNS_SERVER_V4"));
}

static void test_interface_missing(void) {
  const char *missing_if = test_env("HANDOFF_TEST_NETNS_MISSING_IF");
  char prefixed[80];
  /* Nothing can be bound: a network failure at once, which says so. */
  expect_network_failure("missing-name", lookup_as("missing-name", "resolve", pin_v4, "interface", missing_if, NULL),
                         missing_if, NULL);
  snprintf(prefixed, sizeof prefixed, "if!%s", missing_if);
  expect_network_failure("missing-if-name", lookup_as("missing-if-name", "resolve", pin_v4, "interface", prefixed, NULL),
                         missing_if, NULL);
  expect_network_failure("missing-address", lookup_as("missing-address", "resolve", pin_v4, "interface",
                                                      test_env("HANDOFF_TEST_NETNS_MISSING_V4"), NULL),
                         "bind", "Cannot assign requested address", NULL);
}

static void test_ip_version(void) {
  const char *v4 = test_env("HANDOFF_TEST_NETNS_CLIENT_V4"), *v6 = test_env("HANDOFF_TEST_NETNS_CLIENT_V6");
  const char *server_v4 = test_env("HANDOFF_TEST_NETNS_SERVER_V4"), *server_v6 = test_env("HANDOFF_TEST_NETNS_SERVER_V6");
  char peer[128] = "", server[128] = "";
  outcome result;
  /* The name pinned to both of the server's addresses, in either order:
   * ip_version picks the family, whichever comes first. */
  expect_peer("both-4", lookup_as("both-4", "resolve", pin_both, "ip_version", "4", NULL), v4, server_v4);
  expect_peer("both-6", lookup_as("both-6", "resolve", pin_both, "ip_version", "6", NULL), v6, server_v6);
  expect_peer("v6-first-4", lookup_as("v6-first-4", "resolve", pin_both_v6_first, "ip_version", "4", NULL), v4, server_v4);
  expect_peer("v6-first-6", lookup_as("v6-first-6", "resolve", pin_both_v6_first, "ip_version", "6", NULL), v6, server_v6);
  /* any: either family works. */
  result = lookup_as("both-any", "resolve", pin_both, "ip_version", "any", NULL);
  CHECK_INT(HANDOFF_OK, result.status);
  WAIT_UNTIL(logged("both-any", peer, server, sizeof peer), 2000);
  if (!CHECK(strcmp(peer, v4) == 0 || strcmp(peer, v6) == 0)) fprintf(stderr, "    both-any: peer \"%s\"\n", peer);
  /* A family the pinned addresses lack: nothing to connect to. */
  expect_network_failure("v4-only-6", lookup_as("v4-only-6", "resolve", pin_v4, "ip_version", "6", NULL), host, NULL);
  expect_network_failure("v6-only-4", lookup_as("v6-only-4", "resolve", pin_v6, "ip_version", "4", NULL), host, NULL);
  /* The name is known only through resolve. */
  expect_network_failure("no-resolve", lookup_as("no-resolve", NULL), host, NULL);
}

/* The failed lookups sent nothing: no line of theirs, now that the lines of
 * the lookups after them are there. */
static void test_nothing_sent(void) {
  static const char *const tags[] = {"missing-name", "missing-if-name", "missing-address", "v4-only-6", "v6-only-4", "no-resolve"};
  char peer[128], server[128];
  size_t i;
  expect_peer("last", lookup_as("last", "resolve", pin_v4, NULL), test_env("HANDOFF_TEST_NETNS_CLIENT_V4"), NULL);
  for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    if (!CHECK(!logged(tags[i], peer, server, sizeof peer))) fprintf(stderr, "    %s reached nginx from %s\n", tags[i], peer);
  }
}

/* Points api.handoff.test at `address` in the namespace's hosts file
 * (rewritten in place: /etc/hosts there is a mount of this very file). */
static void point_host_at(const char *address) {
  FILE *hosts = fopen(test_env("HANDOFF_TEST_NETNS_HOSTS"), "w");
  if (!CHECK(hosts != NULL)) return;
  fprintf(hosts, "127.0.0.1 localhost\n::1 localhost\n");
  if (address != NULL) fprintf(hosts, "%s %s\n", address, host);
  CHECK_INT(0, fclose(hosts));
}

/* A warmed client's connections, to where the name pointed then; the name
 * moves to the server's second address. A reservation right after (a new
 * connection, always) still takes the cached answer: a warm-up's fresh one
 * stays in libcurl's cache (60 s) for the transfers after it, and the other
 * names' too. Then keep-warm replaces both connections (the slot's and the
 * I/O thread's), and the lookups after that, synchronous and queued, reach
 * the second address: a warm-up asks DNS again, where the cache would have
 * kept the first. */
static void test_replacements_ask_dns_again(void) {
  const char *first = test_env("HANDOFF_TEST_NETNS_SERVER_V4"), *second = test_env("HANDOFF_TEST_NETNS_SERVER_V4_SECOND");
  int port = atoi(test_env("HANDOFF_TEST_NETNS_PORT"));
  char peer[128] = "", server[128] = "", max_idle[16];
  handoff_config *config;
  handoff_client *client;
  handoff_queue *queue;
  handoff_reservation *reservation;
  handoff_result *r;
  uint64_t tag = 0;
  point_host_at(first);
  /* Replacements after 3/4 of it: the reservation comes well before. */
  snprintf(max_idle, sizeof max_idle, "%d", (int)(2000 * test_time_scale()));
  config = sandbox_config_with("base_url", base_url, "ca_file", test_env("HANDOFF_TEST_NETNS_CA"), "user_agent", "dns-moved",
                               "ip_version", "4", "connection_max_idle_ms", max_idle, "keep_warm_ms", "600000", NULL);
  client = sandbox_client_from(config);
  queue = new_queue(client);
  if (CHECK_INT(HANDOFF_OK, handoff_client_warm(client, (int)(3000 * test_time_scale())))) {
    CHECK_INT(2, client_stat(client, "connections_warmed"));
    point_host_at(second);
    reservation = handoff_client_reserve_dni(client, "dns-moved-1", NULL, (int)(3000 * test_time_scale()));
    CHECK(handoff_reservation_status(reservation) != HANDOFF_NETWORK);
    handoff_reservation_free(reservation);
    WAIT_UNTIL(logged("dns-moved", peer, server, sizeof peer), 2000);
    if (!CHECK_STR(first, server)) fprintf(stderr, "    dns-moved: the reservation reached %s\n", server);
    /* Both replaced (after 1.5 s idle, scaled), and the replaced ones (and
     * the reservation's, in the slot replaced) closed. */
    WAIT_UNTIL(client_stat(client, "connections_warmed") >= 4 && tcp_established_to_address(first, port) == 0, 15000);
    CHECK_INT(0, tcp_established_to_address(first, port));
    CHECK(client_stat(client, "connections_warmed") >= 4);
    r = handoff_client_lookup(client, "acme-call-123", (int)(3000 * test_time_scale()));
    CHECK_INT(HANDOFF_OK, handoff_result_status(r));
    handoff_result_free(r);
    WAIT_UNTIL(logged_lines("dns-moved") == 2, 2000);
    CHECK(logged("dns-moved", peer, server, sizeof peer));
    if (!CHECK_STR(second, server)) fprintf(stderr, "    dns-moved: the synchronous lookup reached %s\n", server);
    server[0] = '\0';
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", (int)(3000 * test_time_scale()), 5));
    r = take(queue, &tag, 10000);
    if (CHECK(r != NULL)) CHECK_INT(HANDOFF_OK, handoff_result_status(r));
    handoff_result_free(r);
    WAIT_UNTIL(logged_lines("dns-moved") == 3, 2000);
    CHECK(logged("dns-moved", peer, server, sizeof peer));
    if (!CHECK_STR(second, server)) fprintf(stderr, "    dns-moved: the queued lookup reached %s\n", server);
  }
  handoff_queue_free(queue);
  handoff_client_free(client);
  point_host_at(NULL);
}

int main(void) {
  const char *port = test_env("HANDOFF_TEST_NETNS_PORT");
  const char *server_v4 = test_env("HANDOFF_TEST_NETNS_SERVER_V4"), *server_v6 = test_env("HANDOFF_TEST_NETNS_SERVER_V6");
  host = test_env("HANDOFF_TEST_NETNS_HOST");
  /* The name the certificate was made for: TLS is verified against it. */
  snprintf(base_url, sizeof base_url, "https://%s:%s", host, port);
  snprintf(pin_v4, sizeof pin_v4, "%s:%s:%s", host, port, server_v4);
  snprintf(pin_v6, sizeof pin_v6, "%s:%s:[%s]", host, port, server_v6);
  snprintf(pin_both, sizeof pin_both, "%s:%s:%s,[%s]", host, port, server_v4, server_v6);
  snprintf(pin_both_v6_first, sizeof pin_both_v6_first, "%s:%s:[%s],%s", host, port, server_v6, server_v4);
  test_interface_address();
  test_interface_name();
  test_interface_missing();
  test_ip_version();
  test_nothing_sent();
  test_replacements_ask_dns_again();
  return check_summary("test_egress_netns");
}
