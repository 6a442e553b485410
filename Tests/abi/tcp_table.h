/* tcp_table.h -- the kernel's IPv4 TCP table (/proc/net/tcp) of this
 * network namespace, read by the C tests that count connections no log
 * shows: ones that never sent a request (warm-ups), and ones waiting in a
 * listener's accept queue. */
#ifndef HANDOFF_TEST_TCP_TABLE_H
#define HANDOFF_TEST_TCP_TABLE_H

#include <arpa/inet.h>
#include <stdio.h>

#define TCP_ESTABLISHED_STATE 0x01
#define TCP_LISTEN_STATE 0x0A

/* One row; remote_address as the kernel prints it, which on this machine
 * equals inet_addr()'s value for the same address. */
typedef struct {
  unsigned remote_address;
  int local, remote, state;
  long queue; /* for a listener: the connections waiting to be accepted */
} tcp_row;

/* The sum of `match(row, want)` over the table's rows; -1 if it cannot be read. */
static inline int tcp_table_sum(int (*match)(const tcp_row *row, const tcp_row *want), const tcp_row *want) {
  FILE *table = fopen("/proc/net/tcp", "r");
  char line[512];
  int sum = 0;
  if (table == NULL) return -1;
  if (fgets(line, sizeof line, table) == NULL) { /* the header */
    fclose(table);
    return -1;
  }
  while (fgets(line, sizeof line, table) != NULL) {
    unsigned local_address, local, remote, state;
    unsigned long tx_queue, rx_queue;
    tcp_row row;
    if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X %8lX:%8lX", &local_address, &local, &row.remote_address, &remote, &state,
               &tx_queue, &rx_queue) != 7)
      continue;
    row.local = (int)local;
    row.remote = (int)remote;
    row.state = (int)state;
    row.queue = (long)rx_queue;
    sum += match(&row, want);
  }
  fclose(table);
  return sum;
}

static inline int tcp_established_match(const tcp_row *row, const tcp_row *want) {
  return row->state == TCP_ESTABLISHED_STATE && row->remote == want->remote &&
         (want->remote_address == 0 || row->remote_address == want->remote_address);
}

static inline int tcp_accept_queue_match(const tcp_row *row, const tcp_row *want) {
  return row->local == want->local && row->state == TCP_LISTEN_STATE ? (int)row->queue : 0;
}

/* Connections of this namespace to port (on any address) open now. */
static inline int tcp_established_to(int port) {
  tcp_row want = {0, 0, port, 0, 0};
  return tcp_table_sum(tcp_established_match, &want);
}

/* Connections of this namespace to address:port (IPv4) open now. */
static inline int tcp_established_to_address(const char *address, int port) {
  tcp_row want = {(unsigned)inet_addr(address), 0, port, 0, 0};
  return tcp_table_sum(tcp_established_match, &want);
}

/* Connections a listener on `port` has not accepted yet. */
static inline int tcp_accept_queue(int port) {
  tcp_row want = {0, port, 0, 0, 0};
  return tcp_table_sum(tcp_accept_queue_match, &want);
}

#endif
