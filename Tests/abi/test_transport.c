/*
 * test_transport.c -- promises about sockets and deadlines:
 *   - every descriptor the library opens is close-on-exec, so a host's
 *     system() or fork+exec never inherits a connection;
 *   - a lookup that times out never returns before its deadline (libcurl's
 *     own timers, which round to whole milliseconds, must never fire first);
 *   - an operator reading the error sees what happened: the process's
 *     descriptor limit, or an oversized response header;
 *   - TLS below 1.2 is never offered, whatever the system's OpenSSL policy.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "servers.h"
#include "deadline_floor.h"

#define EARLY_ROUNDS 60
#define BIG_HEADER_BYTES (1 << 20)

/* Descriptors open now that lack FD_CLOEXEC; their numbers in `fds`. */
static int inheritable(int *fds, int max) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *entry;
  int count = 0;
  if (dir == NULL) return -1;
  while ((entry = readdir(dir)) != NULL) {
    int fd = atoi(entry->d_name);
    if (entry->d_name[0] == '.' || fd == dirfd(dir)) continue;
    if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC) && count < max) fds[count++] = fd;
  }
  closedir(dir);
  return count;
}

static handoff_client *fd_client;
static void *lookup_once(void *arg) {
  char id[32];
  snprintf(id, sizeof id, "no-such-call-%d", *(int *)arg); /* distinct ids: no shared flight */
  handoff_result_free(handoff_client_lookup(fd_client, id, 2000));
  return NULL;
}

static void test_close_on_exec(void) {
  int before[256], after[256], n_before, n_after, i, numbers[8];
  pthread_t threads[8];
  handoff_client *client = fd_client = sandbox_client();
  n_before = inheritable(before, 256);
  handoff_result_free(handoff_client_lookup(client, "acme-call-123", 2000));
  for (i = 0; i < 8; i++) {
    numbers[i] = i;
    pthread_create(&threads[i], NULL, lookup_once, &numbers[i]);
  }
  for (i = 0; i < 8; i++) pthread_join(threads[i], NULL);
  CHECK(client_stat(client, "requests") >= 9);
  n_after = inheritable(after, 256);
  if (!CHECK_INT(n_before, n_after)) {
    for (i = 0; i < n_after; i++) {
      char link[64], target[256] = "";
      snprintf(link, sizeof link, "/proc/self/fd/%d", after[i]);
      if (readlink(link, target, sizeof target - 1) < 0) strcpy(target, "?");
      fprintf(stderr, "    fd %d (%s) is inherited by exec\n", after[i], target);
    }
  }
  handoff_client_free(client);
}

/* The blackhole accepts and never answers: every lookup times out while
 * waiting for the answer. */
static void test_never_early(void) {
  char url[64];
  handoff_client *client;
  snprintf(url, sizeof url, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_BLACKHOLE_PORT"));
  client = sandbox_client_with("base_url", url, "retries", "0", NULL);
  CHECK_INT(0, early_timeouts(client, test_iterations(EARLY_ROUNDS)));
  handoff_client_free(client);
}

/* In a child: with the descriptor limit reached, a new connection cannot be
 * made, and the error says so in words an operator can search for. */
static int child_out_of_descriptors(void) {
  struct rlimit limit;
  handoff_client *client = sandbox_client();
  handoff_result *r;
  int fd, code = 0;
  /* The client's slot (and its libcurl handles) exists already. */
  handoff_result_free(handoff_client_lookup(client, "acme-call-123", 2000));
  handoff_client_free(client);
  client = sandbox_client();
  fd = open("/dev/null", O_RDONLY);
  limit.rlim_cur = limit.rlim_max = (rlim_t)fd + 8;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 30;
  while (open("/dev/null", O_RDONLY) >= 0) {}
  /* Two free for libcurl's wakeup pair, none for the connection. */
  close(fd);
  close(fd + 1);
  r = handoff_client_lookup(client, "acme-call-123", 2000);
  if (handoff_result_status(r) != HANDOFF_NETWORK) code = 31;
  else if (strstr(handoff_result_error(r), "EMFILE") == NULL || strstr(handoff_result_error(r), "descriptor") == NULL) code = 32;
  if (code != 0) fprintf(stderr, "    EMFILE: %s: %s\n", handoff_status_name(handoff_result_status(r)), handoff_result_error(r));
  handoff_result_free(r);
  return code;
}

static void test_descriptor_limit(void) {
  int status = 0;
  pid_t pid = fork();
  if (pid == 0) _exit(child_out_of_descriptors());
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_INT(0, WEXITSTATUS(status));
}

/* Answers with a 1 MB header line. */
static void big_header(int fd, void *unused) {
  static char line[BIG_HEADER_BYTES + 64];
  char head[4096];
  (void)unused;
  test_read_head(fd, head, sizeof head, 2000);
  memcpy(line, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
  memset(line + 24, 'a', BIG_HEADER_BYTES);
  memcpy(line + 24 + BIG_HEADER_BYTES, "\r\n\r\n", 4);
  test_write_all(fd, line, 24 + BIG_HEADER_BYTES + 4);
}

static void test_big_header(void) {
  test_server server;
  handoff_client *client;
  handoff_result *r;
  char url[64];
  if (!CHECK(test_server_start(&server, big_header, NULL) == 0)) return;
  snprintf(url, sizeof url, "http://127.0.0.1:%d", server.port);
  client = sandbox_client_with("base_url", url, "retries", "0", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 5000);
  CHECK_STATUS(HANDOFF_PROTOCOL, r);
  if (!CHECK(strstr(handoff_result_error(r), "header") != NULL && strstr(handoff_result_error(r), "100 KB") != NULL))
    fprintf(stderr, "    error: %s\n", handoff_result_error(r));
  handoff_result_free(r);
  handoff_client_free(client);
  test_server_stop(&server);
}

/* Keeps the lowest TLS version the ClientHello offers (0x0301 = TLS 1.0). */
static int lowest_offered = 0x10000;
static void client_hello(int fd, void *unused) {
  unsigned char hello[4096];
  ssize_t got, at;
  size_t length = 0;
  (void)unused;
  while (length < sizeof hello) {
    struct pollfd entry = {fd, POLLIN, 0};
    if (poll(&entry, 1, 2000) <= 0) break;
    got = read(fd, hello + length, sizeof hello - length);
    if (got <= 0) break;
    length += (size_t)got;
    if (length >= 5 && length >= 5u + (size_t)((hello[3] << 8) | hello[4])) break;
  }
  /* record(5) handshake(4) version(2) random(32) session id, ciphers, compression, extensions */
  if (length < 44 || hello[0] != 0x16 || hello[5] != 0x01) return;
  at = 43;
  at += 1 + hello[at];
  if (at + 2 > (ssize_t)length) return;
  at += 2 + ((hello[at] << 8) | hello[at + 1]);
  if (at + 1 > (ssize_t)length) return;
  at += 1 + hello[at];
  if (at + 2 > (ssize_t)length) return;
  at += 2;
  while (at + 4 <= (ssize_t)length) {
    int type = (hello[at] << 8) | hello[at + 1], size = (hello[at + 2] << 8) | hello[at + 3];
    if (type == 43 && at + 5 <= (ssize_t)length) { /* supported_versions */
      int i, n = hello[at + 4];
      for (i = 0; i + 1 < n && at + 6 + i < (ssize_t)length; i += 2) {
        int version = (hello[at + 5 + i] << 8) | hello[at + 6 + i];
        if ((version & 0x0F0F) == 0x0A0A) continue; /* GREASE */
        if (version < lowest_offered) lowest_offered = version;
      }
    }
    at += 4 + size;
  }
}

static void test_tls_minimum(void) {
  test_server server;
  handoff_client *client;
  handoff_result *r;
  char url[64];
  /* A system policy that would allow TLS 1.0 (Debian's own says 1.2). */
  char *conf = temp_file(
      "openssl_conf = handoff_test\n[handoff_test]\nssl_conf = handoff_ssl\n"
      "[handoff_ssl]\nsystem_default = handoff_tls\n[handoff_tls]\nMinProtocol = TLSv1\nCipherString = DEFAULT@SECLEVEL=0\n");
  if (!CHECK(test_server_start(&server, client_hello, NULL) == 0)) return;
  setenv("OPENSSL_CONF", conf, 1);
  snprintf(url, sizeof url, "https://localhost:%d", server.port);
  client = sandbox_client_with("base_url", url, "retries", "0", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 3000);
  CHECK_STATUS(HANDOFF_NETWORK, r);
  handoff_result_free(r);
  handoff_client_free(client);
  test_server_stop(&server);
  unsetenv("OPENSSL_CONF");
  CHECK(lowest_offered != 0x10000); /* a ClientHello with supported_versions arrived */
  if (!CHECK(lowest_offered >= 0x0303)) fprintf(stderr, "    offered TLS version 0x%04x\n", lowest_offered);
  temp_file_remove(conf);
}

int main(void) {
  /* First: OpenSSL reads OPENSSL_CONF once, at its first initialisation. */
  test_tls_minimum();
  test_close_on_exec();
  test_never_early();
  test_descriptor_limit();
  test_big_header();
  return check_summary("test_transport");
}
