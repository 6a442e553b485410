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
#include <poll.h>

#include "harness.h"
#include "servers.h"

#define BODY "{\"id\":\"c1\",\"shared_id\":\"s1\",\"data\":{\"k\":\"v\"}}"

typedef struct {
  int listener;
  volatile int stopping;
  pthread_mutex_t lock;
  long serving; /* connections that carried a request */
} server;

static void serve(server *s, int fd) {
  char head[4096];
  static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n" BODY;
  int counted = 0;
  /* Idle connections stay open as long as a loaded machine may take between
   * two lookups; handoff_client_free closes ours. */
  while (!s->stopping && test_read_head(fd, head, sizeof head, (int)(5000 * test_time_scale())) > 0) {
    if (strstr(head, "\r\n\r\n") == NULL) continue;
    if (!counted) {
      pthread_mutex_lock(&s->lock);
      s->serving++;
      pthread_mutex_unlock(&s->lock);
      counted = 1;
    }
    if (test_write_all(fd, answer, sizeof answer - 1) != 0) break;
  }
}

static void *accept_loop(void *arg) {
  server *s = arg;
  while (!s->stopping) {
    struct pollfd entry = {s->listener, POLLIN, 0};
    int fd;
    if (poll(&entry, 1, 50) <= 0) continue;
    fd = accept(s->listener, NULL, NULL);
    if (fd < 0) continue;
    serve(s, fd);
    close(fd);
  }
  return NULL;
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
  server s;
  struct sockaddr_in address;
  socklen_t size = sizeof address;
  int port, filler[2], taken[8], i;
  pthread_t thread;
  char url[64];
  handoff_client *client;
  handoff_result *r;

  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.lock, NULL);
  s.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!CHECK_INT(0, bind(s.listener, (struct sockaddr *)&address, sizeof address)) ||
      !CHECK_INT(0, listen(s.listener, 0)) ||
      !CHECK_INT(0, getsockname(s.listener, (struct sockaddr *)&address, &size)))
    return check_summary("test_abandoned_connect");
  port = ntohs(address.sin_port);
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
  if (!CHECK_INT(0, pthread_create(&thread, NULL, accept_loop, &s))) return check_summary("test_abandoned_connect");
  for (i = 0; i < 5; i++) {
    r = handoff_client_lookup(client, "s1", (int)(5000 * test_time_scale()));
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
  }
  pthread_mutex_lock(&s.lock);
  CHECK_INT(1, s.serving); /* one connection for the five */
  pthread_mutex_unlock(&s.lock);
  CHECK_INT(5, client_stat(client, "status.ok"));

  handoff_client_free(client);
  s.stopping = 1;
  pthread_join(thread, NULL);
  close(s.listener);
  for (i = 0; i < 8; i++) close(taken[i]);
  return check_summary("test_abandoned_connect");
}
