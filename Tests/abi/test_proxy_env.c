/*
 * test_proxy_env.c -- a PBX host often has a proxy set in its environment
 * for other software. The library must never use it: the proxy would see
 * the x-api-key of a plain-HTTP request, and could forge the answer. A
 * loopback listener poses as each kind of proxy variable; it must never be
 * connected to, and every lookup must reach the sandbox itself.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "servers.h"

static const char *const variables[] = {
  "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy",
};
static const char *const schemes[] = {"http", "socks5", "socks5h", "socks4"};

static void clear_proxies(void) {
  size_t i;
  for (i = 0; i < sizeof variables / sizeof variables[0]; i++) unsetenv(variables[i]);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
}

int main(void) {
  test_server proxy;
  size_t v, s;
  char url[128];

  if (!CHECK(test_server_start(&proxy, NULL, NULL) == 0)) return check_summary("test_proxy_env");

  for (v = 0; v < sizeof variables / sizeof variables[0]; v++) {
    for (s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
      handoff_client *client;
      handoff_result *r;
      clear_proxies();
      snprintf(url, sizeof url, "%s://127.0.0.1:%d", schemes[s], proxy.port);
      setenv(variables[v], url, 1);

      /* Plain HTTP to the sandbox: straight there, never through the proxy. */
      client = sandbox_client();
      r = handoff_client_lookup(client, "acme-call-123", 2000);
      if (handoff_result_status(r) != HANDOFF_OK) fprintf(stderr, "    %s=%s\n", variables[v], url);
      check_acme_123(r);
      handoff_result_free(r);
      handoff_client_free(client);

      /* HTTPS to a port nothing listens on: fails there, never tunnels. */
      snprintf(url, sizeof url, "https://localhost:%d", closed_port());
      client = sandbox_client_with("base_url", url, NULL);
      r = handoff_client_lookup(client, "acme-call-123", 1000);
      CHECK_STATUS(HANDOFF_NETWORK, r);
      handoff_result_free(r);
      handoff_client_free(client);

      if (!CHECK_INT(0, test_server_accepted(&proxy)))
        fprintf(stderr, "    the proxy from %s (%s) was used\n", variables[v], schemes[s]);
    }
  }
  clear_proxies();
  test_server_stop(&proxy);
  return check_summary("test_proxy_env");
}
