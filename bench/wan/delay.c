/*
 * delay.c -- a fixed delay line for `make bench-wan`, in place of netem
 * (which this kernel does not have).
 *
 * Runs in the router namespace of bench/wan/netns.sh, whose FORWARD chain
 * sends every packet to NFQUEUE. Each packet is held for --delay-ms and then
 * accepted, in arrival order. Both directions cross the router, so a hold of
 * 25 ms makes a 50 ms round trip.
 *
 * Nothing blocks while packets are held: their ids wait in a FIFO with their
 * release times (a constant delay keeps the FIFO sorted), and ppoll() on the
 * queue's socket sleeps until the next release or the next packet, whichever
 * comes first. Only the packet metadata is copied to user space.
 *
 * On SIGTERM or SIGINT every held packet is accepted at once and it exits 0.
 *
 *   delay --queue N --delay-ms MS [--max-held N] [--max-seconds S]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct held {
    uint32_t id;
    int64_t release_ns;
};

static struct {
    struct held *ring;
    size_t cap, head, len;   /* FIFO: ring[head] is the oldest */
    int64_t delay_ns;
    uint64_t packets, overflow, max_len;
    int64_t late_max_ns;       /* released after its time, by scheduling */
    uint64_t late_1ms;         /* released more than 1 ms late */
} q;

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
    (void)msg;
    (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph) return 0;
    uint32_t id = ntohl(ph->packet_id);
    q.packets++;
    if (q.len == q.cap) {
        /* Full: pass it undelayed rather than drop it, and say so at exit. */
        q.overflow++;
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0 ? -1 : 0;
    }
    q.ring[(q.head + q.len) % q.cap] = (struct held){id, now_ns() + q.delay_ns};
    q.len++;
    if (q.len > q.max_len) q.max_len = q.len;
    return 0;
}

/* Accepts every held packet due by `until` (INT64_MAX: all of them). */
static int release(struct nfq_q_handle *qh, int64_t until) {
    while (q.len && q.ring[q.head].release_ns <= until) {
        if (until != INT64_MAX) {
            int64_t late = until - q.ring[q.head].release_ns;
            if (late > q.late_max_ns) q.late_max_ns = late;
            if (late > 1000000) q.late_1ms++;
        }
        if (nfq_set_verdict(qh, q.ring[q.head].id, NF_ACCEPT, 0, NULL) < 0) return -1;
        q.head = (q.head + 1) % q.cap;
        q.len--;
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: delay --queue N --delay-ms MS [--max-held N] [--max-seconds S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    long queue_num = -1, delay_ms = -1, max_held = 65536, max_seconds = 0;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (*end || v < 0) usage();
        if (!strcmp(argv[i], "--queue")) queue_num = v;
        else if (!strcmp(argv[i], "--delay-ms")) delay_ms = v;
        else if (!strcmp(argv[i], "--max-held")) max_held = v;
        else if (!strcmp(argv[i], "--max-seconds")) max_seconds = v;
        else usage();
    }
    if (queue_num < 0 || queue_num > 65535 || delay_ms < 0 || delay_ms > 10000 || max_held < 1 || max_held > 1 << 20)
        usage();
    q.cap = (size_t)max_held;
    q.delay_ns = (int64_t)delay_ms * 1000000;
    q.ring = calloc(q.cap, sizeof *q.ring);
    if (!q.ring) return 1;

    /* SIGTERM stays blocked but inside ppoll(), so it cannot slip in between
     * the check of `stop` and the sleep. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t blocked, during_poll;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &during_poll);
    sigdelset(&during_poll, SIGTERM);
    sigdelset(&during_poll, SIGINT);

    struct nfq_handle *h = nfq_open();
    if (!h) {
        perror("nfq_open");
        return 1;
    }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue_num, on_packet, NULL);
    if (!qh) {
        perror("nfq_create_queue");
        nfq_close(h);
        return 1;
    }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
        perror("nfq_set_mode");
        return 1;
    }
    /* The kernel's queue must hold what we hold, and GSO packets go through
     * whole (we never look at the payload). */
    if (nfq_set_queue_maxlen(qh, (uint32_t)max_held) < 0) perror("nfq_set_queue_maxlen");
    if (nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0) perror("nfq_set_queue_flags GSO");
    int fd = nfq_fd(h);
    int rcvbuf = 8 << 20, one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

    fprintf(stderr, "delay: queue %ld, %ld ms each way\n", queue_num, delay_ms);
    int64_t deadline = max_seconds ? now_ns() + (int64_t)max_seconds * 1000000000 : INT64_MAX;
    char buf[65536] __attribute__((aligned));
    int rc = 0;
    while (!stop && now_ns() < deadline) {
        int64_t t = now_ns();
        if (release(qh, t) < 0) {
            perror("nfq_set_verdict");
            rc = 1;
            break;
        }
        int64_t wait_ns = q.len ? q.ring[q.head].release_ns - t : 1000000000;
        if (wait_ns > 1000000000) wait_ns = 1000000000;
        if (wait_ns < 0) wait_ns = 0;
        struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = ppoll(&p, 1, &ts, &during_poll);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("ppoll");
            rc = 1;
            break;
        }
        if (n == 0) continue;
        /* Drain what is there without blocking. */
        for (int burst = 0; burst < 4096; burst++) {
            ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (got < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
                    perror("recv");
                    rc = 1;
                }
                break;
            }
            nfq_handle_packet(h, buf, (int)got);
        }
        if (rc) break;
    }
    release(qh, INT64_MAX);
    fprintf(stderr,
            "delay: %llu packets, at most %llu held, %llu passed undelayed (queue full), "
            "%llu released over 1 ms late, the latest %.1f ms late\n",
            (unsigned long long)q.packets, (unsigned long long)q.max_len, (unsigned long long)q.overflow,
            (unsigned long long)q.late_1ms, (double)q.late_max_ns / 1e6);
    nfq_destroy_queue(qh);
    nfq_close(h);
    free(q.ring);
    return rc;
}
