/*
 * servers.h -- small loopback TCP servers that C tests start in-process:
 * each binds 127.0.0.1 port 0, reads the port back, counts the connections
 * it accepts and serves them one after another with the test's handler, on
 * a thread of its own. Include after harness.h.
 */
#ifndef HANDOFF_TEST_SERVERS_H
#define HANDOFF_TEST_SERVERS_H

#include <errno.h>
#include <pthread.h>
#include <poll.h>

/* Serves one accepted connection; the server closes fd afterwards. */
typedef void (*test_server_handler)(int fd, void *context);

typedef struct {
  int listener;
  int port;
  volatile int stopping;
  int serving; /* test_server_serve() started the thread */
  pthread_t thread;
  pthread_mutex_t lock;
  long accepted;
  test_server_handler handler;
  void *context;
} test_server;

static void *test_server_loop(void *arg) {
  test_server *server = arg;
  while (!server->stopping) {
    struct pollfd entry = {server->listener, POLLIN, 0};
    int fd;
    if (poll(&entry, 1, 50) <= 0) continue;
    fd = accept(server->listener, NULL, NULL);
    if (fd < 0) continue;
    pthread_mutex_lock(&server->lock);
    server->accepted++;
    pthread_mutex_unlock(&server->lock);
    if (server->handler != NULL) server->handler(fd, server->context);
    close(fd);
  }
  return NULL;
}

/* Listens on 127.0.0.1, port 0, with this backlog, but accepts nothing
 * until test_server_serve(): connections queue (a full queue drops SYNs,
 * as test_abandoned_connect needs). handler NULL closes each connection at
 * once. Returns 0 on success. */
static inline int test_server_listen(test_server *server, int backlog, test_server_handler handler, void *context) {
  struct sockaddr_in address;
  socklen_t size = sizeof address;
  int one = 1;
  memset(server, 0, sizeof *server);
  server->handler = handler;
  server->context = context;
  pthread_mutex_init(&server->lock, NULL);
  server->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->listener < 0) return -1;
  setsockopt(server->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(server->listener, (struct sockaddr *)&address, sizeof address) != 0 ||
      listen(server->listener, backlog) != 0 ||
      getsockname(server->listener, (struct sockaddr *)&address, &size) != 0)
    return -1;
  server->port = ntohs(address.sin_port);
  return 0;
}

/* Starts accepting what test_server_listen() listens for. */
static inline int test_server_serve(test_server *server) {
  server->serving = pthread_create(&server->thread, NULL, test_server_loop, server) == 0;
  return server->serving ? 0 : -1;
}

/* A server that accepts at once (backlog 64). */
static inline int test_server_start(test_server *server, test_server_handler handler, void *context) {
  return test_server_listen(server, 64, handler, context) == 0 ? test_server_serve(server) : -1;
}

static inline long test_server_accepted(test_server *server) {
  long accepted;
  pthread_mutex_lock(&server->lock);
  accepted = server->accepted;
  pthread_mutex_unlock(&server->lock);
  return accepted;
}

/* Stops accepting (if it was) and closes the listener. */
static inline void test_server_stop(test_server *server) {
  server->stopping = 1;
  if (server->serving) pthread_join(server->thread, NULL);
  close(server->listener);
  pthread_mutex_destroy(&server->lock);
}

/* Reads what arrives on fd until a blank line (the end of a request's head),
 * EOF or timeout_ms; returns the bytes read. */
static inline size_t test_read_head(int fd, char *buffer, size_t size, int timeout_ms) {
  size_t length = 0;
  while (length + 1 < size) {
    struct pollfd entry = {fd, POLLIN, 0};
    ssize_t got;
    if (poll(&entry, 1, timeout_ms) <= 0) break;
    got = read(fd, buffer + length, size - 1 - length);
    if (got <= 0) break;
    length += (size_t)got;
    buffer[length] = '\0';
    if (strstr(buffer, "\r\n\r\n") != NULL) break;
  }
  buffer[length] = '\0';
  return length;
}

static inline int test_write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t wrote = write(fd, data, length);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return -1;
    data += wrote;
    length -= (size_t)wrote;
  }
  return 0;
}

#endif /* HANDOFF_TEST_SERVERS_H */
