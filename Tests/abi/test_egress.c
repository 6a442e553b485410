/*
 * test_egress.c -- run by egress_front.sh: the egress keys (proxy,
 * proxy_auth_file, interface, ip_version, resolve) against real tinyproxy
 * instances in front of nginx with TLS in front of the sandbox.
 */
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char tls_url[64];

/* The whole of a proxy's log now (malloc'ed; "" if unreadable). */
static char *read_log(const char *variable) {
  FILE *file = fopen(test_env(variable), "r");
  char *text = calloc(1, 1 << 20);
  if (file != NULL && text != NULL) {
    size_t length = fread(text, 1, (1 << 20) - 1, file);
    text[length] = '\0';
  }
  if (file != NULL) fclose(file);
  return text;
}

/* How many times needle occurs in the proxy's log. */
static int log_count(const char *variable, const char *needle) {
  char *text = read_log(variable), *at = text;
  int count = 0;
  while (at != NULL && (at = strstr(at, needle)) != NULL) {
    count++;
    at += strlen(needle);
  }
  free(text);
  return count;
}

static handoff_client *tls_client_with(const char *key, const char *value, const char *key2, const char *value2) {
  handoff_config *config = sandbox_config_with("base_url", tls_url, "ca_file", test_env("HANDOFF_TEST_TLS_CA"), NULL);
  if (key != NULL && !CHECK_INT(HANDOFF_OK, handoff_config_set(config, key, value)))
    fprintf(stderr, "    %s: %s\n", key, handoff_config_error(config));
  if (key2 != NULL && !CHECK_INT(HANDOFF_OK, handoff_config_set(config, key2, value2)))
    fprintf(stderr, "    %s: %s\n", key2, handoff_config_error(config));
  return sandbox_client_from(config);
}

static void expect_lookup(handoff_client *client, handoff_status status, const char *message) {
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 3000);
  if (status == HANDOFF_OK) check_acme_123(r);
  else CHECK_STATUS(status, r);
  if (message != NULL && !CHECK(strstr(handoff_result_error(r), message) != NULL))
    fprintf(stderr, "    expected \"%s\" in \"%s\"\n", message, handoff_result_error(r));
  CHECK(strstr(handoff_result_error(r), "s3cret-proxy-pass") == NULL);
  handoff_result_free(r);
}

static void test_proxy_url(void) {
  const char *log = "HANDOFF_TEST_PROXY_LOG";
  char connect[64];
  int before;
  handoff_client *client;
  snprintf(connect, sizeof connect, "CONNECT 127.0.0.1:%s", test_env("HANDOFF_TEST_TLS_PORT"));

  /* https tunnels through the configured proxy. */
  before = log_count(log, connect);
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_PROXY_URL"), NULL, NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  WAIT_UNTIL(log_count(log, connect) > before, 2000);
  CHECK_INT(before + 1, log_count(log, connect));

  /* A plain-HTTP request never goes through it. */
  before = log_count(log, "CONNECT");
  client = sandbox_client_with("proxy", test_env("HANDOFF_TEST_PROXY_URL"), NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  test_sleep_ms(100);
  CHECK_INT(before, log_count(log, "CONNECT"));
  CHECK_INT(0, log_count(log, "GET http://"));

  /* proxy = env: https_proxy honoured, no_proxy too; none by default. */
  setenv("https_proxy", test_env("HANDOFF_TEST_PROXY_URL"), 1);
  before = log_count(log, connect);
  client = tls_client_with("proxy", "env", NULL, NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  WAIT_UNTIL(log_count(log, connect) > before, 2000);
  CHECK_INT(before + 1, log_count(log, connect));
  client = tls_client_with(NULL, NULL, NULL, NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  setenv("no_proxy", "127.0.0.1", 1);
  client = tls_client_with("proxy", "env", NULL, NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  test_sleep_ms(100);
  CHECK_INT(before + 1, log_count(log, connect));
  unsetenv("https_proxy");
  unsetenv("no_proxy");
}

static void test_proxy_failures(void) {
  char dead[64];
  handoff_client *client;
  handoff_reservation *reservation;

  /* Authentication: without the file 407; with it, through. */
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_AUTH_PROXY_URL"), NULL, NULL);
  expect_lookup(client, HANDOFF_NETWORK, "refused the CONNECT tunnel (it answered HTTP 407)");
  handoff_client_free(client);
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_AUTH_PROXY_URL"), "proxy_auth_file",
                           test_env("HANDOFF_TEST_PROXY_AUTH_FILE"));
  expect_lookup(client, HANDOFF_OK, NULL);
  /* Reservations tunnel the same way. */
  reservation = handoff_client_reserve_dni(client, "egress-reserve-1", NULL, 3000);
  CHECK(handoff_reservation_status(reservation) != HANDOFF_NETWORK);
  handoff_reservation_free(reservation);
  handoff_client_free(client);

  /* A proxy that refuses the tunnel, and one that is not there: the
   * message says it was the proxy. */
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_REFUSING_PROXY_URL"), NULL, NULL);
  expect_lookup(client, HANDOFF_NETWORK, "refused the CONNECT tunnel (it answered HTTP 403)");
  handoff_client_free(client);
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
  client = tls_client_with("proxy", dead, NULL, NULL);
  expect_lookup(client, HANDOFF_NETWORK, "cannot reach the proxy http://127.0.0.1:");
  handoff_client_free(client);
}

/* proxy_auth_file rotated while the client runs: the proxy's 407 makes the
 * client read the file at once and tunnel again with what it holds now,
 * inside the same lookup. */
static void test_proxy_auth_rotation(void) {
  char path[600];
  handoff_client *client;
  handoff_result *r;
  snprintf(path, sizeof path, "%s.rotating", test_env("HANDOFF_TEST_PROXY_AUTH_FILE"));
  write_secret_file(path, "handoff:wrong-pass-1\n");
  double refused_at, since;
  unsigned long long requests;
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_AUTH_PROXY_URL"), "proxy_auth_file", path);
  /* tinyproxy answers 407 or 401 to credentials it does not accept. */
  refused_at = now_ms();
  expect_lookup(client, HANDOFF_NETWORK, "refused the CONNECT tunnel (it answered HTTP 40");
  CHECK_INT(1, client_stat(client, "requests"));
  write_secret_file(path, "handoff:s3cret-proxy-pass\n");
  r = handoff_client_lookup(client, "acme-call-123", (int)(5000 * test_time_scale()));
  check_acme_123(r);
  CHECK(strstr(handoff_result_error(r), "s3cret-proxy-pass") == NULL);
  handoff_result_free(r);
  /* One lookup: the refused attempt, then the one with the new credentials;
   * unless a second has passed since the refusal's reread, when the
   * periodic check may have read them before the first attempt. */
  CHECK_INT(2, client_stat(client, "lookups"));
  requests = client_stat(client, "requests") - 1;
  since = now_ms() - refused_at;
  if (since < 1000) {
    CHECK_INT(2, requests);
  } else if (!CHECK(requests == 1 || requests == 2)) {
    fprintf(stderr, "    %llu requests, %.0f ms after the refusal\n", requests, since);
  }
  handoff_client_free(client);
  unlink(path);
}

static void test_interface(void) {
  handoff_client *client;
  int before = log_count("HANDOFF_TEST_PROXY_LOG", "127.0.0.2");
  /* From 127.0.0.2: the proxy (which logs its clients) sees that address. */
  client = tls_client_with("proxy", test_env("HANDOFF_TEST_PROXY_URL"), "interface", "127.0.0.2");
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  WAIT_UNTIL(log_count("HANDOFF_TEST_PROXY_LOG", "127.0.0.2") > before, 2000);
  CHECK(log_count("HANDOFF_TEST_PROXY_LOG", "127.0.0.2") > before);
  /* An address this host does not have: nothing can be sent. */
  client = sandbox_client_with("interface", "192.0.2.77", NULL);
  expect_lookup(client, HANDOFF_NETWORK, NULL);
  handoff_client_free(client);
}

static void test_ip_version_and_resolve(void) {
  char url[64], pin[96];
  handoff_client *client;
  int port = sandbox_port();
  /* The sandbox listens on 127.0.0.1 only; "localhost" also names ::1. */
  snprintf(url, sizeof url, "http://localhost:%d", port);
  client = sandbox_client_with("base_url", url, "ip_version", "4", NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
  client = sandbox_client_with("base_url", url, "ip_version", "6", NULL);
  expect_lookup(client, HANDOFF_NETWORK, NULL);
  handoff_client_free(client);
  /* resolve pins the name: to an address where nothing listens, then to
   * the sandbox's, even with IPv6 only asked for no longer in the way. */
  snprintf(pin, sizeof pin, "localhost:%d:127.0.0.9", port);
  client = sandbox_client_with("base_url", url, "resolve", pin, NULL);
  expect_lookup(client, HANDOFF_NETWORK, NULL);
  handoff_client_free(client);
  snprintf(pin, sizeof pin, "other.invalid:1:127.0.0.9 localhost:%d:127.0.0.1", port);
  client = sandbox_client_with("base_url", url, "resolve", pin, NULL);
  expect_lookup(client, HANDOFF_OK, NULL);
  handoff_client_free(client);
}

static void expect_setting_refused(const char *key, const char *value, const char *message) {
  handoff_config *config = handoff_config_new();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, key, value));
  if (!CHECK(strstr(handoff_config_error(config), message) != NULL))
    fprintf(stderr, "    %s = %s: %s\n", key, value, handoff_config_error(config));
  CHECK(strstr(handoff_config_error(config), "hunter22") == NULL);
  handoff_config_free(config);
}

static void test_settings(void) {
  handoff_config *config = handoff_config_new();
  expect_setting_refused("proxy", "http://user:hunter22@127.0.0.1:3128", "must not contain credentials");
  expect_setting_refused("proxy", "socks5://127.0.0.1:1080", "must be none, env, or http://host:port");
  expect_setting_refused("proxy", "http://127.0.0.1", "must be none, env, or http://host:port");
  expect_setting_refused("proxy", "http://127.0.0.1:3128/path", "must be none, env");
  expect_setting_refused("proxy", "http://127.0.0.1:99999", "must be none, env");
  expect_setting_refused("proxy_auth_file", "/nonexistent/proxy-auth", "proxy_auth_file");
  expect_setting_refused("ip_version", "5", "must be any, 4 or 6");
  expect_setting_refused("interface", "eth 0", "interface");
  expect_setting_refused("resolve", "api.example.com:443", "host:port:address");
  expect_setting_refused("resolve", "api.example.com:443:not-an-address", "host:port:address");
  expect_setting_refused("resolve", "api.example.com:0:127.0.0.1", "host:port:address");
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "proxy", "none"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "proxy", "https://proxy.example:8443/"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ip_version", "any"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "resolve", "api.example.com:443:192.0.2.1,[2001:db8::1]"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "interface", "if!lo"));
  handoff_config_free(config);
}

int main(void) {
  snprintf(tls_url, sizeof tls_url, "https://127.0.0.1:%s", test_env("HANDOFF_TEST_TLS_PORT"));
  test_settings();
  test_proxy_url();
  test_proxy_failures();
  test_proxy_auth_rotation();
  test_interface();
  test_ip_version_and_resolve();
  return check_summary("test_egress");
}
