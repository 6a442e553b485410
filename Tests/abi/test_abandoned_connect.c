/*
 * test_abandoned_connect.c -- a connect abandoned before TCP connected
 * leaves nothing behind that costs later lookups a handshake.
 *
 * Regression: libcurl 7.88 closes a socket whose connect it abandons (the
 * lookup's deadline passed during connect(); a hedge cancelled then) with
 * close(), not the library's close-socket callback, so the slot kept the
 * number as one of its connections. Once another descriptor took the number
 * (here /dev/null, in a host anything), the slot read it as "the server
 * closed an idle connection" before every lookup, dropped its good
 * connection and paid a new handshake each time (seen in make bench-wan:
 * 291 handshakes in 300 lookups after one cancelled hedge).
 *
 * The server is a listener whose accept queue is full (backlog 0, one
 * connection queued and never accepted): Linux drops the SYNs of any other
 * (with the default net.ipv4.tcp_syncookies = 1), so the lookup's connect()
 * hangs until its deadline. The listener then
 * serves: five lookups must share one connection.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>

#include "harness.h"
#include "servers.h"

#define BODY "{\"id\":\"c1\",\"shared_id\":\"s1\",\"data\":{\"k\":\"v\"}}"

/* Serves HTTP/1.1 keep-alive; counts the connections that carried a
 * request (the queued filler connection carries none). */
static test_server server;
static pthread_mutex_t serving_lock = PTHREAD_MUTEX_INITIALIZER;
static long serving;

static void serve(int fd, void *context) {
  char head[4096];
  static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n" BODY;
  int counted = 0;
  (void)context;
  /* Idle connections stay open as long as a loaded machine may take between
   * two lookups; handoff_client_free closes ours. */
  while (!server.stopping && test_read_head(fd, head, sizeof head, (int)(5000 * test_time_scale())) > 0) {
    if (strstr(head, "\r\n\r\n") == NULL) continue;
    if (!counted) {
      pthread_mutex_lock(&serving_lock);
      serving++;
      pthread_mutex_unlock(&serving_lock);
      counted = 1;
    }
    if (test_write_all(fd, answer, sizeof answer - 1) != 0) break;
  }
}

/* A non-blocking connect to 127.0.0.1:port, left as it is. */
static int connect_to(int port) {
  struct sockaddr_in address;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((unsigned short)port);
  (void)connect(fd, (struct sockaddr *)&address, sizeof address);
  return fd;
}

int main(void) {
  int port, filler[2], taken[8], i;
  char url[64];
  handoff_client *client;
  handoff_result *r;

  if (!CHECK_INT(0, test_server_listen(&server, 0, serve, NULL))) return check_summary("test_abandoned_connect");
  port = server.port;
  for (i = 0; i < 2; i++) filler[i] = connect_to(port);
  test_sleep_ms(100); /* the first is queued; the queue is full */

  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  client = sandbox_client_with("base_url", url, "retries", "0", NULL);
  r = handoff_client_lookup(client, "s1", 300);
  CHECK_STATUS(HANDOFF_TIMEOUT, r); /* in connect(): the SYN was dropped */
  handoff_result_free(r);
  /* The abandoned socket's number (and the next ones) become other files. */
  for (i = 0; i < 8; i++) taken[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);

  /* Now the listener serves. */
  for (i = 0; i < 2; i++) close(filler[i]);
  if (!CHECK_INT(0, test_server_serve(&server))) return check_summary("test_abandoned_connect");
  for (i = 0; i < 5; i++) {
    r = handoff_client_lookup(client, "s1", (int)(5000 * test_time_scale()));
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
  }
  pthread_mutex_lock(&serving_lock);
  CHECK_INT(1, serving); /* one connection for the five */
  pthread_mutex_unlock(&serving_lock);
  CHECK_INT(5, client_stat(client, "status.ok"));

  handoff_client_free(client);
  test_server_stop(&server);
  for (i = 0; i < 8; i++) close(taken[i]);
  return check_summary("test_abandoned_connect");
}
