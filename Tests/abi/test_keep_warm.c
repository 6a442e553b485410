/*
 * test_keep_warm.c -- keep-warm, run by tls_front.sh against an nginx HTTP/2
 * port that closes connections idle for 2 s.
 *
 * What it proves: an HTTP/2 connection the server shut while idle never fails
 * a lookup; after a warm-up, a lookup that comes after 5 s of silence
 * (the server's idle timeout passed twice) still makes no connection of its
 * own: keep-warm replaced the idle one in time (and without keep-warm the
 * same lookup has to connect, so the check can fail); keep-warm stops
 * keep_warm_ms after the last lookup and starts again with the next one.
 * Not under valgrind: its handshakes there take longer than the server's
 * idle timeout.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#define LOOKUP_MS ((int)(5000 * test_time_scale()))
/* Longer than nginx's keepalive_timeout (2 s) on that port, twice. */
#define SILENCE_MS 5000

static handoff_client *idle_client(const char *keep_warm_ms) {
  char url[64];
  handoff_config *config;
  snprintf(url, sizeof url, "https://127.0.0.1:%s", test_env("HANDOFF_TEST_TLS_H2_IDLE_PORT"));
  config = sandbox_config_with("base_url", url, "retries", "0", "connection_max_idle_ms", "1000", "keep_warm_ms",
                               keep_warm_ms, NULL);
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ca_file", test_env("HANDOFF_TEST_TLS_CA")));
  return sandbox_client_from(config);
}

/* Connections this client made that no warm-up made: a lookup's own. The
 * library counts a warmed connection as warmed before it counts it at all;
 * read in that order too (warmed first), a replacement finishing between
 * the two reads can only make the difference look larger for a moment,
 * never hide a lookup's own connection. */
static long long unwarmed(handoff_client *client) {
  long long warmed = (long long)client_stat(client, "connections_warmed");
  long long all = (long long)client_stat(client, "connections");
  return all - warmed;
}

/* A lookup after the silence; returns how many connections it made itself
 * (every one before it was a warm-up's). A replacement finishing meanwhile
 * can make the difference look larger for a moment (see unwarmed): it is
 * waited on (bounded) to come back to 0, which a lookup's own connection
 * never lets it do. */
static long long connections_of_a_lookup_after_silence(handoff_client *client) {
  long long after;
  handoff_result *r;
  test_sleep_ms(SILENCE_MS);
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  WAIT_UNTIL((after = unwarmed(client)) == 0, 2000);
  return after;
}

/* libcurl 7.88 can take an idle HTTP/2 connection for dead when its socket
 * holds only part of a TLS record (see test_warm.c, REUSE_TRIES): rare, so
 * up to 2 tries, one of which must make no connection of its own. */
static void replaced_before_the_server_closes_them(void) {
  int try, reused = 0;
  for (try = 0; try < 2 && !reused; try++) {
    handoff_client *client = idle_client("60000");
    CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
    reused = connections_of_a_lookup_after_silence(client) == 0;
    /* 5 s at most 1 s idle each: several replacements. */
    CHECK(client_stat(client, "connections_warmed") >= 3);
    CHECK_INT(1, client_stat(client, "requests")); /* the lookup's: replacing sends nothing */
    handoff_client_free(client);
  }
  CHECK(reused);
}

static void without_keep_warm_the_lookup_connects(void) {
  handoff_client *client = idle_client("0");
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  CHECK_INT(1, connections_of_a_lookup_after_silence(client));
  CHECK_INT(1, client_stat(client, "connections_warmed"));
  handoff_client_free(client);
}

/* Regression: libcurl 7.88 reused an HTTP/2 connection nginx had shut after
 * its idle timeout and failed the lookup ("Error in the HTTP2 framing
 * layer"), retries or not. The slot now drops a connection whose server sent
 * its FIN. */
static void a_connection_the_server_shut_never_fails_a_lookup(void) {
  handoff_client *client = idle_client("0");
  handoff_result *r;
  int i;
  for (i = 0; i < 2; i++) {
    r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
    CHECK_STATUS(HANDOFF_OK, r);
    handoff_result_free(r);
    if (i == 0) test_sleep_ms(3000); /* past nginx's 2 s */
  }
  CHECK_INT(2, client_stat(client, "connections"));
  CHECK_INT(2, client_stat(client, "requests")); /* no retry */
  handoff_client_free(client);
}

static void stops_after_keep_warm_ms_and_starts_again(void) {
  double scale = test_time_scale();
  char keep_warm_ms[32];
  handoff_client *client;
  handoff_result *r;
  unsigned long long settled;
  snprintf(keep_warm_ms, sizeof keep_warm_ms, "%d", (int)(1500 * scale));
  client = idle_client(keep_warm_ms);
  CHECK_INT(HANDOFF_OK, handoff_client_warm(client, LOOKUP_MS));
  test_sleep_ms((long)(4000 * scale));
  settled = client_stat(client, "connections_warmed");
  test_sleep_ms((long)(2000 * scale));
  CHECK_INT(settled, client_stat(client, "connections_warmed"));

  /* A lookup arms it again: its connection gets replaced within a second. */
  r = handoff_client_lookup(client, "acme-call-123", LOOKUP_MS);
  CHECK_STATUS(HANDOFF_OK, r);
  handoff_result_free(r);
  WAIT_UNTIL(client_stat(client, "connections_warmed") > settled, 5000);
  CHECK(client_stat(client, "connections_warmed") > settled);
  handoff_client_free(client);
}

int main(void) {
  handoff_config *config = handoff_config_new();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "connection_max_idle_ms", "99"));
  CHECK_CONTAINS(handoff_config_error(config), "connection_max_idle_ms");
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "connection_max_idle_ms", "100"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "connection_max_idle_ms", "110000"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "connection_max_idle_ms", "110001")); /* libcurl's 118 s */
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "keep_warm_ms", "0"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "keep_warm_ms", "86400000"));
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "keep_warm_ms", "86400001"));
  CHECK_CONTAINS(handoff_config_error(config), "keep_warm_ms");
  handoff_config_free(config);

  a_connection_the_server_shut_never_fails_a_lookup();
  replaced_before_the_server_closes_them();
  without_keep_warm_the_lookup_connects();
  stops_after_keep_warm_ms_and_starts_again();
  return check_summary("test_keep_warm");
}
