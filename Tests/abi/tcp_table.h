/* tcp_table.h -- the kernel's IPv4 TCP table (/proc/net/tcp), read by the C
 * tests that count connections no log shows: ones that never sent a request
 * (warm-ups), and ones waiting in a listener's accept queue. */
#ifndef HANDOFF_TEST_TCP_TABLE_H
#define HANDOFF_TEST_TCP_TABLE_H

#include <stdio.h>

#define TCP_ESTABLISHED_STATE 0x01
#define TCP_LISTEN_STATE 0x0A

/* The sum of `match` over the table's rows: each row's local and remote
 * ports, state and receive queue (for a listener: the connections waiting
 * to be accepted); -1 if the table cannot be read. */
static inline int tcp_table_count(int (*match)(int local, int remote, int state, long queue, int port), int port) {
  FILE *table = fopen("/proc/net/tcp", "r");
  char line[512];
  int count = 0;
  if (table == NULL) return -1;
  if (fgets(line, sizeof line, table) == NULL) { /* the header */
    fclose(table);
    return -1;
  }
  while (fgets(line, sizeof line, table) != NULL) {
    unsigned local_address, remote_address, local, remote, state;
    unsigned long tx_queue, rx_queue;
    if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X %8lX:%8lX", &local_address, &local, &remote_address, &remote, &state,
               &tx_queue, &rx_queue) != 7)
      continue;
    count += match((int)local, (int)remote, (int)state, (long)rx_queue, port);
  }
  fclose(table);
  return count;
}

static inline int tcp_established_to_match(int local, int remote, int state, long queue, int port) {
  (void)local, (void)queue;
  return remote == port && state == TCP_ESTABLISHED_STATE;
}

static inline int tcp_accept_queue_match(int local, int remote, int state, long queue, int port) {
  (void)remote;
  return local == port && state == TCP_LISTEN_STATE ? (int)queue : 0;
}

/* Connections of this machine to 127.0.0.1:port that are open now. */
static inline int tcp_established_to(int port) { return tcp_table_count(tcp_established_to_match, port); }

/* Connections a listener on `port` has not accepted yet. */
static inline int tcp_accept_queue(int port) { return tcp_table_count(tcp_accept_queue_match, port); }

#endif
