/*
 * test_queue.c -- queued lookups: every rule of the header's "queued
 * lookups" section, against the sandbox.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "log_capture.h"
#include "queue_wait.h"


static char blackhole_url[64];

static int readable_now(int fd) {
  struct pollfd watch = {fd, POLLIN, 0};
  return poll(&watch, 1, 0) == 1 && (watch.revents & POLLIN) != 0;
}

static handoff_client *client_at(const char *url, const char *timeout_ms) {
  return sandbox_client_with("base_url", url, "timeout_ms", timeout_ms, NULL);
}

/* ms times the time scale, as a setting's text, in text[32]. For a timeout
 * that must not pass before the checks that come before it (valgrind runs
 * them 20 times slower). */
static const char *scaled_ms(char text[32], long ms) {
  snprintf(text, 32, "%ld", (long)((double)ms * test_time_scale()));
  return text;
}

/* A sandbox client whose lookups must succeed: the default timeout_ms
 * (2000) times the time scale (under valgrind on a loaded machine a plain
 * queued lookup took longer than 2 s). */
static handoff_client *ok_client(const char *key, const char *value) {
  char timeout[32];
  return sandbox_client_with("timeout_ms", scaled_ms(timeout, 2000), key, value, NULL);
}

/* Found, not found, by conversation id; the descriptor's flags and states. */
static void test_answers(void) {
  handoff_client *client = ok_client(NULL, NULL);
  handoff_queue *queue = new_queue(client);
  int fd = handoff_queue_fd(queue), seen[3] = {0, 0, 0};
  uint64_t tag = 0;
  handoff_result *r;
  int i;

  CHECK(fd >= 0);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK(!readable_now(fd));
  CHECK(handoff_queue_next(queue, &tag) == NULL);

  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 100));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "no-such-call", 0, 101));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup_id(queue, SUPPORT_CONVERSATION_ID, 0, 102));
  for (i = 0; i < 3; i++) {
    r = take(queue, &tag, 5000);
    if (!CHECK(r != NULL)) break;
    CHECK(tag >= 100 && tag <= 102);
    if (tag >= 100 && tag <= 102) seen[tag - 100]++;
    if (tag == 100) {
      check_acme_123(r);
      CHECK_CONTAINS(handoff_result_header_block(r), "X-PolyAI-Customer-Tier: gold\r\n");
    } else if (tag == 101) {
      CHECK_STATUS(HANDOFF_NOT_FOUND, r);
      CHECK_INT(404, handoff_result_http_status(r));
      CHECK_STR("Handoff state not found", handoff_result_error(r));
    } else {
      CHECK_STATUS(HANDOFF_OK, r);
      CHECK_STR(SUPPORT_CONVERSATION_ID, handoff_result_conversation_id(r));
      CHECK_STR("tier2", handoff_result_get(r, "queue"));
    }
    handoff_result_free(r);
  }
  CHECK_INT(1, seen[0]);
  CHECK_INT(1, seen[1]);
  CHECK_INT(1, seen[2]);
  /* Drained: nothing more, and the descriptor is quiet again. */
  CHECK(handoff_queue_next(queue, &tag) == NULL);
  CHECK(!readable_now(fd));
  CHECK_INT(3, client_stat(client, "lookups"));
  CHECK_INT(3, client_stat(client, "requests"));
  CHECK_INT(1, client_stat(client, "status.not_found"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Refused ids and timeouts complete at once: ready right after the call. */
static void test_refused_at_once(void) {
  handoff_client *client = ok_client(NULL, NULL);
  handoff_queue *queue = new_queue(client);
  char long_id[1100], control[] = "call\r\nX-Evil: 1";
  const char *ids[4];
  const char *messages[5] = {"shared_id is NULL", "shared_id is empty", "longer than 1024 bytes",
                             "control characters", "timeout_ms must be at most 600000"};
  uint64_t tag = 0;
  int i;
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  ids[0] = NULL;
  ids[1] = "";
  ids[2] = long_id;
  ids[3] = control;
  for (i = 0; i < 5; i++) {
    handoff_result *r;
    if (i < 4) {
      CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, ids[i], 0, (uint64_t)(200 + i)));
    } else {
      CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 600001, 204));
    }
    CHECK(readable_now(handoff_queue_fd(queue)));
    r = handoff_queue_next(queue, &tag);
    if (!CHECK(r != NULL)) continue;
    CHECK_INT(200 + i, tag);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    CHECK_CONTAINS(handoff_result_error(r), messages[i]);
    handoff_result_free(r);
  }
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup_id(queue, NULL, 0, 210));
  {
    handoff_result *r = handoff_queue_next(queue, &tag);
    CHECK_STATUS(HANDOFF_INVALID_ARGUMENT, r);
    CHECK_STR("conversation id is NULL", handoff_result_error(r));
    handoff_result_free(r);
  }
  CHECK_INT(0, client_stat(client, "requests"));
  /* NULL handles: nothing admitted, nothing crashes. */
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_queue_lookup(NULL, "acme-call-123", 0, 1));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_queue_lookup_id(NULL, "x", 0, 1));
  CHECK(handoff_queue_next(NULL, &tag) == NULL);
  CHECK_INT(-1, handoff_queue_fd(NULL));
  handoff_queue_cancel(NULL, 1);
  handoff_queue_free(NULL);
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* A server that never answers: the call returns at once (the synchronous
 * lookup would block its whole deadline), the completion is a timeout that
 * arrives by the deadline, counted from the call. */
static void test_never_blocks(void) {
  handoff_client *client = client_at(blackhole_url, "300");
  handoff_queue *queue = new_queue(client);
  double scale = test_time_scale(), start, took, waited;
  uint64_t tag = 0;
  handoff_result *r;

  start = now_ms();
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 7));
  took = now_ms() - start;
  if (!CHECK(took < 100 * scale)) fprintf(stderr, "    handoff_queue_lookup took %.1f ms\n", took);
  CHECK(handoff_queue_next(queue, &tag) == NULL);
  r = take(queue, &tag, 2000);
  waited = now_ms() - start;
  CHECK_INT(7, tag);
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  CHECK_STR("no complete answer within 300 ms", handoff_result_error(r));
  if (!CHECK(waited >= 295 && waited < 300 + 250 * scale)) fprintf(stderr, "    completed after %.1f ms\n", waited);
  handoff_result_free(r);

  /* A per-lookup deadline, shorter than the client's. */
  start = now_ms();
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-456", 100, 8));
  r = take(queue, &tag, 2000);
  waited = now_ms() - start;
  CHECK_INT(8, tag);
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  if (!CHECK(waited >= 95 && waited < 100 + 250 * scale)) fprintf(stderr, "    completed after %.1f ms\n", waited);
  handoff_result_free(r);
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Cancel: at once, exactly once, the other tags untouched. The timeout
 * (400 ms, scaled) must not pass before the cancelled ones are taken: the
 * checks expect them first. */
static void test_cancel(void) {
  char timeout[32];
  handoff_client *client = client_at(blackhole_url, scaled_ms(timeout, 400));
  handoff_queue *queue = new_queue(client);
  uint64_t tag = 0;
  handoff_result *r;
  int other = 0;

  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-456", 0, 2));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "unicode-call", 0, 2));
  handoff_queue_cancel(queue, 2);
  handoff_queue_cancel(queue, 99); /* no such tag: nothing happens */
  CHECK(readable_now(handoff_queue_fd(queue)));
  for (int i = 0; i < 2; i++) {
    r = handoff_queue_next(queue, &tag);
    if (!CHECK(r != NULL)) break;
    CHECK_INT(2, tag);
    CHECK_STATUS(HANDOFF_CANCELLED, r);
    CHECK_STR("cancelled", handoff_status_name(handoff_result_status(r)));
    CHECK_CONTAINS(handoff_result_variables_block(r), "POLYAI_HANDOFF_STATUS=cancelled\n");
    handoff_result_free(r);
  }
  CHECK(handoff_queue_next(queue, &tag) == NULL);
  /* Cancelling again, or after completion, delivers nothing more. */
  handoff_queue_cancel(queue, 2);
  CHECK(handoff_queue_next(queue, &tag) == NULL);
  /* Tag 1 still times out on its own (the bound, 2000 ms scaled, is well
   * past its timeout); then the cancelled ones' requests have ended too,
   * and gave nothing. */
  r = take(queue, &tag, 2000);
  CHECK_INT(1, tag);
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  handoff_result_free(r);
  test_sleep_ms((long)(100 * test_time_scale()));
  while ((r = handoff_queue_next(queue, &tag)) != NULL) {
    other++;
    handoff_result_free(r);
  }
  CHECK_INT(0, other);
  CHECK_INT(2, client_stat(client, "status.cancelled"));
  WAIT_UNTIL(client_stat(client, "in_flight") == 0, 2000);
  CHECK_INT(0, client_stat(client, "in_flight"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* One request for an id, shared by queued and synchronous lookups. The id
 * answers after 5 s, so that every lookup has joined the flight before the
 * answer comes, under valgrind and a loaded CPU too (a 100 ms answer let a
 * late thread ask on its own). */
struct sync_lookup {
  handoff_client *client;
  handoff_result *result;
};

static void *sync_lookup(void *arg) {
  struct sync_lookup *job = arg;
  job->result = handoff_client_lookup(job->client, "fault-slow", 0);
  return NULL;
}

static void check_late(handoff_result *r) {
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("late", handoff_result_get(r, "handoff_to"));
}

static void test_single_flight(void) {
  handoff_client *client = sandbox_client_with("timeout_ms", "20000", NULL);
  handoff_queue *queue = new_queue(client);
  struct sync_lookup job = {client, NULL};
  pthread_t thread;
  uint64_t tag = 0;
  long before;
  int i, done = 0;

  /* A queued leader, a queued follower, a synchronous follower. */
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-slow", 0, 1));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-slow", 0, 2));
  CHECK_INT(0, pthread_create(&thread, NULL, sync_lookup, &job));
  for (i = 0; i < 2; i++) {
    handoff_result *r = take(queue, &tag, 15000);
    if (!CHECK(r != NULL)) break;
    check_late(r);
    done++;
    handoff_result_free(r);
  }
  pthread_join(thread, NULL);
  check_late(job.result);
  handoff_result_free(job.result);
  CHECK_INT(2, done);
  CHECK_INT(3, client_stat(client, "lookups"));
  CHECK_INT(1, client_stat(client, "requests"));
  CHECK_INT(2, client_stat(client, "shared"));

  /* The other way round: a queued follower of a synchronous leader. The
   * sandbox counts a request on receipt, so once its count has grown the
   * thread's request is out and its lookup leads the flight (the answer is
   * 5 s away). The in-flight count rose before the flight was joined. */
  job.result = NULL;
  before = sandbox_stats_now().requests;
  CHECK_INT(0, pthread_create(&thread, NULL, sync_lookup, &job));
  WAIT_UNTIL(sandbox_stats_now().requests > before, 2000);
  CHECK(sandbox_stats_now().requests == before + 1);
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-slow", 0, 3));
  {
    handoff_result *r = take(queue, &tag, 15000);
    CHECK_INT(3, tag);
    check_late(r);
    handoff_result_free(r);
  }
  pthread_join(thread, NULL);
  check_late(job.result);
  handoff_result_free(job.result);
  CHECK_INT(2, client_stat(client, "requests"));
  CHECK_INT(3, client_stat(client, "shared"));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Cache hits, an open breaker and max_in_flight complete at once. */
static void test_fast_paths(void) {
  uint64_t tag = 0;
  handoff_result *r;
  char refused[64];
  {
    handoff_client *client = ok_client("cache_ttl_ms", "60000");
    handoff_queue *queue = new_queue(client);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
    r = take(queue, &tag, 5000);
    check_acme_123(r);
    handoff_result_free(r);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 2));
    r = handoff_queue_next(queue, &tag);
    CHECK_INT(2, tag);
    check_acme_123(r);
    handoff_result_free(r);
    CHECK_INT(1, client_stat(client, "cache_hits"));
    CHECK_INT(1, client_stat(client, "requests"));
    handoff_queue_free(queue);
    handoff_client_free(client);
  }
  {
    handoff_client *client;
    handoff_queue *queue;
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d", closed_port());
    client = sandbox_client_with("base_url", refused, "breaker_failures", "1", "retries", "0", NULL);
    queue = new_queue(client);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
    r = take(queue, &tag, 5000);
    CHECK_STATUS(HANDOFF_NETWORK, r);
    handoff_result_free(r);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 2));
    r = handoff_queue_next(queue, &tag);
    CHECK_INT(2, tag);
    CHECK_STATUS(HANDOFF_UNAVAILABLE, r);
    CHECK_CONTAINS(handoff_result_error(r), "circuit breaker open");
    handoff_result_free(r);
    CHECK_INT(1, client_stat(client, "breaker_opened"));
    handoff_queue_free(queue);
    handoff_client_free(client);
  }
  {
    /* The timeout (300 ms, scaled) must not pass before tag 3's refusal is
     * taken; take's bound (3000 ms, scaled) is well past it. */
    char timeout[32];
    handoff_client *client =
        sandbox_client_with("base_url", blackhole_url, "max_in_flight", "2", "timeout_ms", scaled_ms(timeout, 300), NULL);
    handoff_queue *queue = new_queue(client);
    int i, unavailable = 0, timeouts = 0;
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-456", 0, 2));
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "unicode-call", 0, 3));
    r = handoff_queue_next(queue, &tag);
    CHECK_INT(3, tag);
    CHECK_STATUS(HANDOFF_UNAVAILABLE, r);
    CHECK_CONTAINS(handoff_result_error(r), "max_in_flight");
    handoff_result_free(r);
    for (i = 0; i < 2; i++) {
      r = take(queue, &tag, 3000);
      if (handoff_result_status(r) == HANDOFF_TIMEOUT) timeouts++;
      if (handoff_result_status(r) == HANDOFF_UNAVAILABLE) unavailable++;
      handoff_result_free(r);
    }
    CHECK_INT(2, timeouts);
    CHECK_INT(0, unavailable);
    /* The places are given back. */
    WAIT_UNTIL(client_stat(client, "in_flight") == 0, 2000);
    CHECK_INT(0, client_stat(client, "in_flight"));
    CHECK_INT(1, client_stat(client, "rejected_in_flight"));
    handoff_queue_free(queue);
    handoff_client_free(client);
  }
}

/* The queue's bound: 100,000 lookups held (waiting or not yet taken); the
 * next is not admitted, and one taken makes room. (Not under valgrind or a
 * sanitizer: 100,000 results there take minutes.) */
static void test_queue_bound(void) {
  handoff_client *client;
  handoff_queue *queue;
  handoff_result *r;
  uint64_t tag = 0;
  long i, admitted = 0;
  if (test_time_scale() > 1) return;
  /* max_in_flight 1: all but the first complete at once (unavailable) and
   * are held, not taken. */
  client = sandbox_client_with("base_url", blackhole_url, "max_in_flight", "1", "timeout_ms", "2000", NULL);
  queue = new_queue(client);
  for (i = 0; i < 100000; i++) admitted += handoff_queue_lookup(queue, "acme-call-123", 0, (uint64_t)i) == HANDOFF_OK;
  CHECK_INT(100000, admitted);
  CHECK_INT(HANDOFF_UNAVAILABLE, handoff_queue_lookup(queue, "acme-call-123", 0, 100000));
  CHECK_INT(HANDOFF_UNAVAILABLE, handoff_queue_lookup_id(queue, SUPPORT_CONVERSATION_ID, 0, 100000));
  r = handoff_queue_next(queue, &tag);
  CHECK(r != NULL);
  handoff_result_free(r);
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 100001));
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Freeing a queue with lookups waiting, and results outliving it all. */
static void test_free_and_lifetimes(void) {
  handoff_client *client = client_at(blackhole_url, "500");
  handoff_client *fast = ok_client(NULL, NULL);
  handoff_queue *queue = new_queue(client), *other = new_queue(fast);
  handoff_result *kept;
  uint64_t tag = 0;
  char id[32];
  int i;

  for (i = 0; i < 50; i++) {
    snprintf(id, sizeof id, "pending-%d", i);
    CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, id, 0, (uint64_t)i));
  }
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(other, "acme-call-123", 0, 1));
  kept = take(other, &tag, 5000);
  handoff_queue_free(queue); /* 50 requests still out on the I/O thread */
  handoff_client_free(client);
  handoff_queue_free(other);
  handoff_client_free(fast);
  check_acme_123(kept);
  CHECK_CONTAINS(handoff_result_header_block(kept), "X-PolyAI-Customer-Id: 12345\r\n");
  handoff_result_free(kept);

  /* The client may go first: the queue keeps it. */
  client = ok_client(NULL, NULL);
  queue = new_queue(client);
  handoff_client_free(client);
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 5));
  kept = take(queue, &tag, 5000);
  check_acme_123(kept);
  handoff_result_free(kept);
  handoff_queue_free(queue);
}

/* The process-wide client, through a NULL client. */
static void test_process_client(void) {
  handoff_status status = HANDOFF_OK;
  handoff_queue *queue;
  handoff_result *r;
  uint64_t tag = 0;
  handoff_shutdown();
  CHECK(handoff_queue_new(NULL, &status) == NULL);
  CHECK_INT(HANDOFF_NOT_INITIALIZED, status);
  setenv("POLYAI_HANDOFF_BASE_URL", sandbox_url(), 1);
  setenv("POLYAI_HANDOFF_ACCOUNT_ID", SANDBOX_ACCOUNT, 1);
  setenv("POLYAI_HANDOFF_PROJECT_ID", SANDBOX_PROJECT, 1);
  setenv("POLYAI_HANDOFF_API_KEY", SANDBOX_API_KEY, 1);
  CHECK_INT(HANDOFF_OK, handoff_init(NULL));
  queue = new_queue(NULL);
  handoff_shutdown(); /* the queue keeps the client it was made with */
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 9));
  r = take(queue, &tag, 5000);
  CHECK_INT(9, tag);
  check_acme_123(r);
  handoff_result_free(r);
  handoff_queue_free(queue);
}

/* Log lines of queued lookups reach the callback on the thread that calls
 * handoff_queue_next, and only there. */
static pthread_t main_thread;
static int lines_elsewhere;

static void log_here(handoff_log_level level, const char *message, void *userdata) {
  if (!pthread_equal(pthread_self(), main_thread)) {
    pthread_mutex_lock(&log_lock);
    lines_elsewhere++;
    pthread_mutex_unlock(&log_lock);
  }
  collect(level, message, userdata);
}

static void test_logs_on_host_thread(void) {
  handoff_client *client = ok_client("retries", "1");
  handoff_queue *queue = new_queue(client);
  uint64_t tag = 0;
  handoff_result *r;
  main_thread = pthread_self();
  reset_log();
  handoff_set_log_level(HANDOFF_LOG_DEBUG);
  handoff_set_log_callback(log_here, NULL);
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-500", 0, 1));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-503", 0, 2));
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 3));
  for (int i = 0; i < 3; i++) {
    r = take(queue, &tag, 5000);
    CHECK(r != NULL);
    handoff_result_free(r);
  }
  handoff_set_log_callback(NULL, NULL);
  handoff_set_log_level(HANDOFF_LOG_WARNING);
  pthread_mutex_lock(&log_lock);
  CHECK_CONTAINS(log_text, "lookup shared_id=fault-500: server_error");
  CHECK_CONTAINS(log_text, "lookup shared_id=fault-503: server_error");
  CHECK_CONTAINS(log_text, "retrying in");
  CHECK_CONTAINS(log_text, "lookup shared_id=acme-call-123: ok, 11 entries");
  CHECK_CONTAINS(log_text, "queued");
  CHECK_INT(0, lines_elsewhere);
  pthread_mutex_unlock(&log_lock);
  handoff_queue_free(queue);
  handoff_client_free(client);
}

/* Threads of this process, from /proc. */
static int thread_count(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  int threads = -1;
  if (status == NULL) return -1;
  while (fgets(line, sizeof line, status) != NULL) {
    if (strncmp(line, "Threads:", 8) == 0) threads = atoi(line + 8);
  }
  fclose(status);
  return threads;
}

/* Fork: the I/O thread starts with the first queued lookup, so a parent
 * that only made the client and a queue forks without it; a child's calls
 * on the inherited queue fail cleanly and its own queue works. */
static void test_fork(void) {
  handoff_client *client = ok_client(NULL, NULL);
  handoff_queue *queue;
  int before = thread_count(), status = 0;
  uint64_t tag = 0;
  handoff_result *r;
  pid_t child;

  queue = new_queue(client);
  CHECK_INT(before, thread_count());
  child = fork();
  if (child == 0) {
    int failures = 0;
    handoff_queue *own;
    failures += handoff_queue_lookup(queue, "acme-call-123", 0, 1) != HANDOFF_INVALID_ARGUMENT;
    failures += handoff_queue_fd(queue) != -1;
    failures += handoff_queue_next(queue, &tag) != NULL;
    handoff_queue_cancel(queue, 1);
    handoff_queue_free(queue);
    own = handoff_queue_new(client, NULL);
    failures += own == NULL;
    if (own != NULL) {
      failures += handoff_queue_lookup(own, "acme-call-123", 0, 2) != HANDOFF_OK;
      r = take(own, &tag, 5000);
      failures += handoff_result_status(r) != HANDOFF_OK || tag != 2;
      handoff_result_free(r);
      handoff_queue_free(own);
    }
    handoff_client_free(client);
    _exit(failures == 0 ? 0 : 1);
  }
  CHECK(child > 0);
  CHECK_INT(child, waitpid(child, &status, 0));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* The parent's queue: untouched by the child's free, and now it runs. */
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 3));
  r = take(queue, &tag, 5000);
  CHECK_INT(3, tag);
  check_acme_123(r);
  handoff_result_free(r);
  CHECK_INT(before + 1, thread_count());

  /* Forked while the I/O thread runs and a lookup is out: the child's
   * inherited queue still fails cleanly. */
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "fault-slow", 200, 4));
  child = fork();
  if (child == 0) {
    int failures = handoff_queue_lookup(queue, "acme-call-123", 0, 5) != HANDOFF_INVALID_ARGUMENT;
    failures += handoff_queue_next(queue, &tag) != NULL;
    handoff_queue_free(queue);
    /* Ends by exec, not _exit: the parent's I/O thread does not exist in
     * this child, and what only its stack pointed to (its start closure, the
     * connection libcurl is making) is out of a leak checker's reach, which
     * valgrind would report as lost at this child's exit. */
    if (failures == 0) execl("/bin/true", "true", (char *)NULL);
    _exit(1);
  }
  CHECK_INT(child, waitpid(child, &status, 0));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  r = take(queue, &tag, 3000);
  CHECK_INT(4, tag);
  CHECK_STATUS(HANDOFF_TIMEOUT, r);
  handoff_result_free(r);
  handoff_queue_free(queue);
  /* Freeing the client ends its I/O thread. */
  handoff_client_free(client);
  WAIT_UNTIL(thread_count() == before, 2000);
  CHECK_INT(before, thread_count());
}

/* How often the library's I/O threads ("polyai-handoff") have gone to sleep
 * (voluntary context switches, /proc/self/task), summed; -1 if none runs. */
static long io_thread_sleeps(void) {
  DIR *tasks = opendir("/proc/self/task");
  struct dirent *task;
  long sleeps = -1;
  if (tasks == NULL) return -1;
  while ((task = readdir(tasks)) != NULL) {
    char path[300], line[256];
    FILE *file;
    int ours = 0;
    if (task->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
    if ((file = fopen(path, "r")) == NULL) continue;
    ours = fgets(line, sizeof line, file) != NULL && strcmp(line, "polyai-handoff\n") == 0;
    fclose(file);
    if (!ours) continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/status", task->d_name);
    if ((file = fopen(path, "r")) == NULL) continue;
    while (fgets(line, sizeof line, file) != NULL) {
      if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0) sleeps = (sleeps < 0 ? 0 : sleeps) + atol(line + 24);
    }
    fclose(file);
  }
  closedir(tasks);
  return sleeps;
}

/* With nothing to do (the lookup done, its deadline past, no keep-warm) the
 * I/O thread sleeps until something wakes it: it used to wake every second,
 * some 0.27 s of CPU an hour in every idle process. */
#define IDLE_WINDOW_MS 4500
static void test_idle_io_thread_sleeps(void) {
  char timeout[32];
  handoff_client *client = sandbox_client_with("timeout_ms", scaled_ms(timeout, 1000), NULL);
  handoff_queue *queue = new_queue(client);
  uint64_t tag = 0;
  handoff_result *r;
  long before, after;
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 1));
  r = take(queue, &tag, 10000);
  if (CHECK(r != NULL)) CHECK_INT(HANDOFF_OK, handoff_result_status(r));
  handoff_result_free(r);
  /* Its deadline's timer goes off (and is dropped) by then. */
  test_sleep_ms((long)(1000 * test_time_scale()) + 1500);
  before = io_thread_sleeps();
  CHECK(before >= 0);
  test_sleep_ms(IDLE_WINDOW_MS);
  after = io_thread_sleeps();
  if (!CHECK(after - before <= 1)) fprintf(stderr, "    the I/O thread slept %ld times in %d ms\n", after - before, IDLE_WINDOW_MS);
  /* Asleep, it still answers at once. */
  CHECK_INT(HANDOFF_OK, handoff_queue_lookup(queue, "acme-call-123", 0, 2));
  r = take(queue, &tag, 10000);
  if (CHECK(r != NULL)) CHECK_INT(HANDOFF_OK, handoff_result_status(r));
  handoff_result_free(r);
  handoff_queue_free(queue);
  handoff_client_free(client);
}

static void *nothing(void *arg) { return arg; }

int main(void) {
  pthread_t first;
  /* ThreadSanitizer starts a thread of its own with the first
   * pthread_create: have it before test_fork counts threads. */
  CHECK_INT(0, pthread_create(&first, NULL, nothing, NULL));
  pthread_join(first, NULL);
  snprintf(blackhole_url, sizeof blackhole_url, "http://127.0.0.1:%s", test_env("HANDOFF_TEST_BLACKHOLE_PORT"));
  test_fork();
  test_idle_io_thread_sleeps();
  test_answers();
  test_refused_at_once();
  test_never_blocks();
  test_cancel();
  test_single_flight();
  test_fast_paths();
  test_free_and_lifetimes();
  test_queue_bound();
  test_process_client();
  test_logs_on_host_thread();
  return check_summary("test_queue");
}
