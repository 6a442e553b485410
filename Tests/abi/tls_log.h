/* tls_log.h -- nginx's access log of tls_front.sh, read by the C tests.
 *
 * The log format (tls/nginx.conf.in): port, connection serial, its request
 * number, "r" for a resumed TLS session, protocol, URI. nginx writes a line
 * after the response has gone out, so a test waits for it (bounded). */
#ifndef HANDOFF_TEST_TLS_LOG_H
#define HANDOFF_TEST_TLS_LOG_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
  long connection;
  long request;
  char reused[4];
} log_line;

/* The first line whose URI holds `text`; 1 when found. */
static inline int find_line(const char *text, log_line *out) {
  FILE *log = fopen(test_env("HANDOFF_TEST_TLS_ACCESS_LOG"), "r");
  char line[2048];
  int found = 0;
  if (log == NULL) return 0;
  while (!found && fgets(line, sizeof line, log) != NULL) {
    int port;
    char protocol[16], uri[1024];
    if (sscanf(line, "%d %ld %ld %3s %15s %1023s", &port, &out->connection, &out->request, out->reused, protocol,
               uri) == 6 && strstr(uri, text) != NULL)
      found = 1;
  }
  fclose(log);
  return found;
}

/* The id acme-call-123~<tag>-<pid> in id[96]: run.sh runs a test twice
 * against one nginx (natively, then under valgrind), and the pid keeps each
 * run's log lines apart. */
static inline const char *tagged_id(char id[96], const char *tag) {
  snprintf(id, 96, "acme-call-123~%s-%ld", tag, (long)getpid());
  return id;
}

/* The line of the lookup of tagged_id(tag) in this process, waited for. */
static inline int wait_line(const char *tag, log_line *out) {
  char text[96];
  int found;
  snprintf(text, sizeof text, "~%s-%ld", tag, (long)getpid());
  WAIT_UNTIL((found = find_line(text, out)), 5000);
  return found;
}

#endif
