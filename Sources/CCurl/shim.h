// curl_easy_setopt and friends are variadic, which Swift cannot call. These
// typed wrappers are the only C the project adds; `static inline` keeps them
// out of the library's exported symbols.
#ifndef HANDOFF_CURL_SHIM_H
#define HANDOFF_CURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*handoff_curl_write_fn)(char *data, size_t size, size_t count, void *userdata);
typedef CURLcode (*handoff_curl_ssl_ctx_fn)(CURL *curl, void *ssl_ctx, void *userdata);
typedef curl_socket_t (*handoff_curl_open_socket_fn)(void *userdata, curlsocktype purpose, struct curl_sockaddr *address);
typedef int (*handoff_curl_close_socket_fn)(void *userdata, curl_socket_t socket);
typedef int (*handoff_curl_prereq_fn)(void *userdata, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                                      int conn_local_port);
typedef int (*handoff_curl_resolver_start_fn)(void *resolver_state, void *reserved, void *userdata);

static inline CURLcode handoff_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode handoff_curl_set_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode handoff_curl_set_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode handoff_curl_set_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode handoff_curl_set_share(CURL *h, CURLSH *v) { return curl_easy_setopt(h, CURLOPT_SHARE, v); }
static inline CURLcode handoff_curl_set_write(CURL *h, handoff_curl_write_fn f) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode handoff_curl_set_ssl_ctx(CURL *h, handoff_curl_ssl_ctx_fn f) { return curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, f); }
static inline CURLcode handoff_curl_set_open_socket(CURL *h, handoff_curl_open_socket_fn f) { return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, f); }
static inline CURLcode handoff_curl_set_close_socket(CURL *h, handoff_curl_close_socket_fn f) { return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, f); }
static inline CURLcode handoff_curl_set_prereq(CURL *h, handoff_curl_prereq_fn f) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, f); }
static inline CURLcode handoff_curl_set_resolver_start(CURL *h, handoff_curl_resolver_start_fn f) { return curl_easy_setopt(h, CURLOPT_RESOLVER_START_FUNCTION, f); }
static inline CURLcode handoff_curl_get_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
static inline CURLMcode handoff_curl_multi_set_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLSHcode handoff_curl_share_set_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }
static inline CURLSHcode handoff_curl_share_set_lock(CURLSH *s, curl_lock_function f) { return curl_share_setopt(s, CURLSHOPT_LOCKFUNC, f); }
static inline CURLSHcode handoff_curl_share_set_unlock(CURLSH *s, curl_unlock_function f) { return curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, f); }
static inline CURLSHcode handoff_curl_share_set_userdata(CURLSH *s, void *p) { return curl_share_setopt(s, CURLSHOPT_USERDATA, p); }


/* The TLS library libcurl was built with, and its default CA bundle and
 * directory (NULL when it has none). CURLVERSION_NOW is a macro. */
static inline const char *handoff_curl_tls_version(void) {
  const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
  return d != NULL ? d->ssl_version : NULL;
}
static inline const char *handoff_curl_default_ca_file(void) {
  const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
  return d != NULL && d->age >= CURLVERSION_NINTH ? d->cainfo : NULL;
}
static inline const char *handoff_curl_default_ca_path(void) {
  const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
  return d != NULL && d->age >= CURLVERSION_NINTH ? d->capath : NULL;
}

#endif
