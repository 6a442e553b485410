/*
 * polyai_handoff.h -- look up the PolyAI handoff state of a call from C.
 *
 * A PolyAI voice agent hands a call to a human (SIP REFER/INVITE/BYE or a DNI
 * pool). The PBX or ACD receiving it calls handoff_lookup() with the call's
 * shared id and gets, within a deadline, what the agent stored for it,
 * flattened into key/value pairs and rendered as SIP headers or channel
 * variables for routing.
 *
 * This header is the contract and the reference documentation.
 *
 * Conventions, true of every function below:
 *   - No function aborts or traps, whatever its arguments, the configuration,
 *     the network or the server does. The one exception is memory: when an
 *     allocation fails the process aborts, as it does for any allocation
 *     failure in the Swift runtime. No function returns NULL or an error
 *     status because memory ran out.
 *   - Every function that allocates names the function that frees it. Every
 *     *_free(NULL) is a harmless no-op.
 *   - Returned strings are "borrowed": owned by the object they came from and
 *     valid until that object is freed. Never free them yourself.
 *   - Every string passed in is NUL-terminated UTF-8 and is copied; the
 *     caller keeps ownership of it.
 *   - A lookup never returns NULL.
 *   - No message the library returns or logs contains the API key: where a
 *     server or a mistyped setting quotes it back, "<api key>" stands in its
 *     place.
 *   - Thread safety: clients and results may be used from any number of
 *     threads at once. A handoff_config is a plain value being edited: do not
 *     edit one from two threads at once.
 *   - Fork safety: a client created before fork() may be used in the child.
 *     The child gets its own connections, breaker, single-flight table,
 *     cache and counters, starting empty; it never uses, locks, writes to or
 *     closes the parent's, even when it frees the inherited client or calls
 *     handoff_shutdown(), and parses its own copy of the CA certificates.
 *     fork() while other threads are inside lookups or logging is safe: the
 *     library's process-wide locks are taken around fork() and every other
 *     lock it has belongs to one process. Two windows it cannot close: the
 *     statically linked Swift runtime builds some type metadata under locks
 *     of its own the first time a code path runs, and OpenSSL keeps global
 *     locks; a fork() at the instant another thread runs a lookup path for
 *     the very first time can leave one held (fork before the first lookup,
 *     as Kamailio does, or after one). Never fork() inside the log callback.
 *   - The library is never unmapped: dlclose() leaves it loaded (-z
 *     nodelete), because libcurl resolver threads abandoned by lookups that
 *     timed out may still return into its code.
 *   - Transport: TLS 1.2 or later, certificates verified, redirects never
 *     followed, and no proxy ever used (http_proxy, https_proxy, ALL_PROXY and
 *     the like in the environment are ignored). TLS secrets are never written
 *     to $SSLKEYLOGFILE. Connection sockets are close-on-exec (libcurl's
 *     resolver threads make short-lived socket pairs that are not).
 */
#ifndef POLYAI_HANDOFF_H
#define POLYAI_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/* The version of this header. The shared library's soname is
 * libpolyai_handoff.so.HANDOFF_VERSION_MAJOR; the major number changes only
 * when the ABI breaks. */
#define HANDOFF_VERSION_MAJOR 1
#define HANDOFF_VERSION_MINOR 0
#define HANDOFF_VERSION_PATCH 0
#define HANDOFF_VERSION "1.0.0"
/* 0xMMmmpp, comparable with <, like LIBCURL_VERSION_NUM. */
#define HANDOFF_VERSION_NUM \
  ((HANDOFF_VERSION_MAJOR << 16) | (HANDOFF_VERSION_MINOR << 8) | HANDOFF_VERSION_PATCH)
#define HANDOFF_AT_LEAST_VERSION(major, minor, patch) \
  (HANDOFF_VERSION_NUM >= (((major) << 16) | ((minor) << 8) | (patch)))

/* The version of the library loaded at run time, e.g. "1.0.0".
 * Returns a static string; never NULL. */
const char *handoff_version(void);

/* ----------------------------------------------------------------- status */

/* Why a call succeeded or failed. Values are only ever appended, never
 * renumbered or removed. */
typedef enum {
  HANDOFF_OK = 0,           /* the handoff state was found and parsed */
  HANDOFF_INVALID_ARGUMENT, /* bad id, handle or configuration: no request was sent */
  HANDOFF_BAD_REQUEST,      /* the API answered 400 */
  HANDOFF_UNAUTHORIZED,     /* the API answered 401: missing or unknown API key */
  HANDOFF_FORBIDDEN,        /* the API answered 403: key not valid for this account/project/region */
  HANDOFF_NOT_FOUND,        /* the API answered 404: no handoff state for this id */
  HANDOFF_SERVER_ERROR,     /* the API answered 5xx */
  HANDOFF_TIMEOUT,          /* the deadline passed before a full answer arrived */
  HANDOFF_NETWORK,          /* DNS, connect, TLS or transfer failure */
  HANDOFF_PROTOCOL,         /* an answer that is not the documented API: bad JSON,
                               missing fields, oversized body, redirect, other status */
  HANDOFF_NOT_INITIALIZED,  /* handoff_lookup() before a successful handoff_init() */
  HANDOFF_UNAVAILABLE       /* failed fast without a request: the API has been failing
                               (circuit breaker open) or max_in_flight lookups are
                               already running */
  /* only ever appended */
} handoff_status;

/* A static, lower-case name for a status, e.g. "ok", "not_found", "timeout".
 * Unknown values give "unknown". Never NULL; never free it. These are the
 * names used in the X-PolyAI-Handoff-Status header and POLYAI_HANDOFF_STATUS. */
const char *handoff_status_name(handoff_status status);

/* ----------------------------------------------------- opaque handle types */

typedef struct handoff_config handoff_config;
typedef struct handoff_client handoff_client;
typedef struct handoff_result handoff_result;

/* ------------------------------------------------------ process-wide API */

/*
 * The simple API, as a dialplan module uses it: one client per process.
 *
 * handoff_init() builds the process-wide client from the ini file at
 * config_path (see "Configuration" below), then from POLYAI_HANDOFF_*
 * environment variables, which override the file. config_path NULL means the
 * environment only. On failure nothing changes: a client set up by an earlier
 * successful call stays in use. Calling it again replaces the client (a
 * configuration reload); lookups already running finish on the old one.
 *
 * Returns HANDOFF_OK, or HANDOFF_INVALID_ARGUMENT with the reason in
 * handoff_init_error().
 */
handoff_status handoff_init(const char *config_path);

/* Why the last handoff_init() in this process failed, or "" if it did not.
 * Borrowed: valid until the next handoff_init() or handoff_shutdown() on any
 * thread, which free it; copy it if another thread may call those meanwhile.
 * Never NULL. */
const char *handoff_init_error(void);

/* Looks up the handoff state stored under this shared_id (the id the
 * integrator passed to PolyAI, e.g. with a DNI reservation), waiting at most
 * the configured timeout_ms. Returns a new result; free it with
 * handoff_result_free(). Never NULL. Before
 * handoff_init() or after handoff_shutdown() the result's status is
 * HANDOFF_NOT_INITIALIZED. */
handoff_result *handoff_lookup(const char *shared_id);

/* The same, by PolyAI conversation id. */
handoff_result *handoff_lookup_id(const char *conversation_id);

/* Releases the process-wide client. Lookups already running finish normally;
 * later ones return HANDOFF_NOT_INITIALIZED. Harmless when not initialized. */
void handoff_shutdown(void);

/* ------------------------------------------------------------ configuration */

/*
 * Configuration keys. The same keys are accepted by handoff_config_set(), in
 * a file ("key = value" lines, '#' starts a comment line; see
 * handoff_config_load_file()) and as environment variables
 * POLYAI_HANDOFF_<KEY in upper case>:
 *
 *   region              us-1 (default), uk-1 or euw-1
 *   base_url            overrides region, e.g. a proxy or the sandbox.
 *                       https:// always; http:// only for a loopback host.
 *                       ASCII only (an international host name as xn--...),
 *                       no credentials, query or fragment
 *   account_id          PolyAI account (workspace) id; required
 *   project_id          PolyAI project (agent) id; required
 *   api_key             the x-api-key; required unless api_key_file is set
 *   api_key_file        a file whose first line is the key (keeps the secret
 *                       out of dialplans); read when the key is set. A UTF-8
 *                       byte order mark and the line end (LF or CR LF) are
 *                       not part of the key; at most 4160 bytes. A file that
 *                       group or others can read is logged as a warning, once
 *                       per path per process
 *   timeout_ms          total deadline of a lookup, 1..600000 (default 2000)
 *   connect_timeout_ms  deadline of the TCP+TLS connect, 1..600000
 *                       (default: timeout_ms)
 *   ca_file             PEM bundle of trusted CAs (default: the system's),
 *                       at most 8 MiB. With an https base_url it is parsed
 *                       once per process and shared by every connection, and
 *                       a file without a PEM certificate makes
 *                       handoff_client_new() fail
 *   user_agent          User-Agent header (default "polyai-handoff/VERSION")
 *   max_response_bytes  bigger bodies fail with HANDOFF_PROTOCOL,
 *                       1024..16777216 (default 65536)
 *   header_prefix       SIP header name prefix (default "X-PolyAI-"); must
 *                       start with "X-", so that no key the agent writes can
 *                       name a standard SIP header (Via, P-Asserted-Identity)
 *   variable_prefix     channel variable prefix (default "POLYAI_"); 1 to 64
 *                       of A-Z, 0-9, _, starting with a letter, so that no key
 *                       can name one of the host's own variables (EXTEN)
 *   include             comma-separated keys to keep, "prefix.*" globs allowed
 *                       (default: all)
 *   exclude             comma-separated keys to drop, same syntax (default: none)
 *   rename.<key>        the header/variable name for one key, used as is
 *                       after sanitising, e.g. rename.queue = X-Queue
 *   max_value_bytes     longest value, cut on a UTF-8 boundary, 1..4096
 *                       (default 256)
 *   max_entries         most data entries kept, 0..1024 (default 32)
 *   max_depth           deepest nesting flattened, 1..32 (default 8)
 *   max_header_block_bytes  largest handoff_result_header_block(), 128..65536
 *                       (default 1024: SIP over UDP must stay under the MTU)
 *   retries             extra attempts after a connection failure (refused,
 *                       reset, closed before a whole answer: the lookup is a
 *                       GET, safe to repeat) or a 502/503/504, inside the
 *                       deadline only, 0..5 (default 1); never after a TLS
 *                       verification failure, a timeout or any 4xx
 *   breaker_failures    consecutive timeouts, network errors or 5xx after which
 *                       lookups fail fast with HANDOFF_UNAVAILABLE, 0..1000
 *                       (default 5; 0 turns the breaker off)
 *   breaker_cooldown_ms how long the breaker stays open before one probe
 *                       lookup decides, 1..600000 (default 5000), jittered
 *                       0.75x..1.25x so that many workers do not probe at once
 *   max_in_flight       lookups running at once in this process, beyond which
 *                       lookups fail fast with HANDOFF_UNAVAILABLE, 1..100000
 *                       (default 256)
 *   cache_ttl_ms        how long a successful result is reused for the same id,
 *                       0..86400000 (default 0: no cache)
 *   cache_max_entries   most cached results, 1..1000000 (default 1024)
 *
 * Unknown keys and invalid values are errors naming the key, and a failed
 * call changes nothing (a file is applied whole or not at all).
 *
 * Every file named here (api_key_file, ca_file, a config file) must be a
 * regular file or a symbolic link to one. A FIFO, a directory or a device is
 * refused at once with an error naming the key and the path: it is opened
 * without blocking and never read.
 */

/* A new, empty configuration with every default. Free it with
 * handoff_config_free(). Never NULL. */
handoff_config *handoff_config_new(void);

/* Sets one key. Returns HANDOFF_OK, or HANDOFF_INVALID_ARGUMENT (unknown
 * key, invalid value, NULL argument) with the reason in
 * handoff_config_error(). */
handoff_status handoff_config_set(handoff_config *config, const char *key, const char *value);

/* Applies every "key = value" line of an ini-style file: UTF-8, at most
 * 1 MiB, lines ending in LF or CR LF, a UTF-8 byte order mark at the start
 * skipped. Blank lines and lines starting with '#' or ';' are ignored;
 * values may be quoted with "". There are no sections: a line starting with
 * '[' is an error naming the file and line. All or nothing: on any error no
 * key of the file is applied. */
handoff_status handoff_config_load_file(handoff_config *config, const char *path);

/* Applies every POLYAI_HANDOFF_<KEY> environment variable that is set. All
 * or nothing, like handoff_config_load_file(). */
handoff_status handoff_config_load_env(handoff_config *config);

/* Why the last call taking this config (handoff_config_set,
 * handoff_config_load_file, handoff_config_load_env, handoff_client_new)
 * failed, or "" if it succeeded. Borrowed: valid until the next such call
 * (on any thread: a handoff_client_new() elsewhere replaces it too) or
 * handoff_config_free(). Never NULL (for a NULL config it returns a
 * static message). Never contains the API key (see the conventions). */
const char *handoff_config_error(const handoff_config *config);

/* Frees a configuration. NULL is a no-op. Clients made from it are
 * unaffected (they copy it). */
void handoff_config_free(handoff_config *config);

/* ----------------------------------------------------------------- clients */

/* A new client for this configuration, which is copied. Free it with
 * handoff_client_free(). Fails (NULL, *status_out = HANDOFF_INVALID_ARGUMENT,
 * reason in handoff_config_error(config)) when a required key is missing or
 * ca_file holds no certificate (or is no longer a regular file); on success
 * handoff_config_error(config) becomes "". For an https base URL it parses
 * the CA certificates here (once per process and file), not during lookups.
 * status_out may be NULL. A client keeps its connections alive between
 * lookups and is safe to use from many threads at once. */
handoff_client *handoff_client_new(const handoff_config *config, handoff_status *status_out);

/* Looks up by shared id, waiting at most timeout_ms (<= 0: the client's
 * timeout_ms; at most 600000, like the setting). Returns a new result; free
 * it with handoff_result_free(). Never NULL. A NULL client, a timeout_ms
 * above 600000, or a NULL, empty, over-long (> 1024 bytes), non-UTF-8 or
 * control-character id gives HANDOFF_INVALID_ARGUMENT without sending a
 * request. */
handoff_result *handoff_client_lookup(handoff_client *client, const char *shared_id, int timeout_ms);

/* The same, by PolyAI conversation id. */
handoff_result *handoff_client_lookup_id(handoff_client *client, const char *conversation_id, int timeout_ms);

/* Frees a client. NULL is a no-op. Must not be called while another thread
 * is still inside a lookup on it. Results it returned stay valid. */
void handoff_client_free(handoff_client *client);

/* ----------------------------------------------------------------- results */

/*
 * A result is immutable: read it from any thread. Every string it returns is
 * borrowed and valid until handoff_result_free(). Every function accepts a
 * NULL result and then returns 0, NULL or HANDOFF_INVALID_ARGUMENT.
 *
 * The data object is flattened into entries, in document order: nested
 * objects give dotted keys ("customer.tier"), arrays indexed keys
 * ("previous_calls.0"); values are strings as stored, numbers exactly as the
 * JSON wrote them, "true"/"false", and "" for null. Keys and values never
 * contain control characters (they become spaces) or invalid UTF-8 (U+FFFD);
 * keys are cut to 512 bytes, values to max_value_bytes. A NUL in a JSON key
 * becomes U+FFFD. Empty objects and arrays give no entry.
 *
 * include/exclude match each key as handoff_result_key() returns it. Entries
 * they do not select are left out as asked and never counted. Of the entries
 * they select, those nested deeper than max_depth and those after the first
 * max_entries are left out and counted by handoff_result_truncated().
 *
 * A key repeated within one JSON object, or two keys that become equal once
 * their invalid UTF-8 or NUL is mended, is one key: its last value is kept,
 * at the place of its first occurrence (as JavaScript's JSON.parse does).
 * Everything agrees with that one value: the entries, handoff_result_get(),
 * handoff_result_data_json(), both blocks, and the top-level "id",
 * "shared_id" and "data". Keys that differ in the JSON but are equal once
 * flattened, made safe or cut ({"a.b":1,"a":{"b":2}}, or keys that differ
 * only in control characters) stay separate entries in document order:
 * handoff_result_get() returns the first, and each gets its own header and
 * variable name ("-2", "_2", ...).
 */

/* The status of the lookup. */
handoff_status handoff_result_status(const handoff_result *result);

/* The HTTP status the API answered, or 0 when no response arrived. */
int handoff_result_http_status(const handoff_result *result);

/* Why the lookup failed: the API's error_message when it sent one (for an
 * unexpected status, after "unexpected HTTP status N: "), else our own
 * description. "" on success. Never NULL (for NULL it returns a static
 * message). Never contains the API key: if the server echoed it, it reads
 * "<api key>". */
const char *handoff_result_error(const handoff_result *result);

/* The PolyAI conversation id ("id") of the handoff state, or NULL when the
 * lookup failed. */
const char *handoff_result_conversation_id(const handoff_result *result);

/* The shared id of the handoff state, or NULL when the API sent none or the
 * lookup failed. */
const char *handoff_result_shared_id(const handoff_result *result);

/* The number of data entries (0 when the lookup failed). */
size_t handoff_result_count(const handoff_result *result);

/* The flattened key of entry index, e.g. "customer.tier", or NULL when
 * index >= handoff_result_count(). */
const char *handoff_result_key(const handoff_result *result, size_t index);

/* The value of entry index, or NULL when index is out of range. */
const char *handoff_result_value(const handoff_result *result, size_t index);

/* The value of the first entry whose key is key, or NULL if there is none
 * (two entries share a key only when their keys became equal once flattened,
 * made safe or cut; see above). */
const char *handoff_result_get(const handoff_result *result, const char *key);

/* The data object as compact JSON, numbers as the API wrote them, not
 * bounded by the entry limits nor filtered by include/exclude; a repeated key
 * appears once, with its last value (see above); "{}" when the lookup
 * failed. Never NULL for a non-NULL result. */
const char *handoff_result_data_json(const handoff_result *result);

/* How much of the output was left out or cut, by the bounds. The sum of,
 * one each:
 *   - an entry include/exclude select that max_depth or max_entries left out
 *     (a subtree too deep counts each entry it would have given);
 *   - a key cut to 512 bytes; a value cut to max_value_bytes;
 *   - a conversation id or shared id cut to 1024 bytes;
 *   - a line left out of handoff_result_header_block() by
 *     max_header_block_bytes: the meta lines (Conversation-Id, Shared-Id)
 *     count like entry lines.
 * So one entry whose value was cut and whose line did not fit counts 2.
 * Entries include/exclude do not select never count. Nothing is ever dropped
 * silently: 0 means the output is complete (but for what include/exclude
 * left out as asked). */
size_t handoff_result_truncated(const handoff_result *result);

/* The SIP header name of entry index, e.g. "X-PolyAI-Customer-Tier" for
 * "customer.tier": header_prefix plus the key in header case. Only RFC 3261
 * token characters; unique within the result. NULL when out of range. */
const char *handoff_result_header_name(const handoff_result *result, size_t index);

/* The channel variable name of entry index, e.g. "POLYAI_CUSTOMER_TIER":
 * variable_prefix plus the key in upper snake case. Only [A-Z0-9_]; unique
 * within the result. NULL when out of range. */
const char *handoff_result_variable_name(const handoff_result *result, size_t index);

/* Every header as "Name: value\r\n" lines, ready for Kamailio append_hf or
 * Asterisk PJSIP_HEADER(add,...). First the meta headers, present on every
 * result, success or not (shown with the default header_prefix; they use the
 * configured one):
 *   X-PolyAI-Handoff-Status: ok|not_found|timeout|unavailable|...   (handoff_status_name)
 *   X-PolyAI-Conversation-Id: ...                        (when known)
 *   X-PolyAI-Shared-Id: ...                              (when known)
 * then one line per entry, in order, until a line would take the block past
 * max_header_block_bytes: that line and all after it are left out (each one
 * counted by handoff_result_truncated). The status line is always there.
 * Never NULL for a non-NULL result. */
const char *handoff_result_header_block(const handoff_result *result);

/* Every variable as "NAME=value\n" lines, the same meta entries first
 * (POLYAI_HANDOFF_STATUS, POLYAI_CONVERSATION_ID, POLYAI_SHARED_ID with the
 * default variable_prefix), then one line per entry, not bounded by
 * max_header_block_bytes. Never NULL for a non-NULL result. */
const char *handoff_result_variables_block(const handoff_result *result);

/* Frees a result and every string it returned. NULL is a no-op. */
void handoff_result_free(handoff_result *result);

/* ---------------------------------------------------------------- logging */

typedef enum {
  HANDOFF_LOG_ERROR = 0,
  HANDOFF_LOG_WARNING,
  HANDOFF_LOG_INFO,
  HANDOFF_LOG_DEBUG
} handoff_log_level;

/* Receives one log line (no trailing newline). message is borrowed for the
 * duration of the call only. Called on the thread doing the lookup, so it
 * must be thread-safe and quick (hand the line to the host's logger), with no
 * library lock held: it may call any function of this library. Lines never
 * contain the API key ("<api key>" stands in for it). */
typedef void (*handoff_log_fn)(handoff_log_level level, const char *message, void *userdata);

/* Installs the process-wide log callback; NULL removes it (the default: the
 * library logs nothing). userdata is passed back unchanged. Once this returns,
 * the callback it replaced is never called again by any thread, so its
 * userdata may be freed and its module unloaded: it waits, without a time
 * limit, for calls already inside the old callback to return, so do not call
 * it while holding a lock that callback takes. Called from inside a log
 * callback (which cannot wait for its own call) it does not wait: later lines
 * go to the new callback, but other threads may still be inside the old one,
 * so do not free its userdata there. */
void handoff_set_log_callback(handoff_log_fn fn, void *userdata);

/* Lines above this level are not even formatted. Default HANDOFF_LOG_WARNING. */
void handoff_set_log_level(handoff_log_level max_level);

/* ------------------------------------------------------------ statistics */

/*
 * A snapshot of a client's counters, for operators, in this process (a
 * forked child's start at 0). Counter names:
 *   lookups                every lookup, whatever its outcome
 *   status.<name>          lookups that ended with that status, e.g. status.timeout
 *   requests               HTTP requests sent (retries included, cache hits not)
 *   retries                extra attempts made
 *   cache_hits, shared     lookups answered from the cache / by another
 *                          thread's request for the same id (single flight)
 *   breaker_opened         times the circuit breaker opened
 *   breaker_open           1 while it is open, else 0
 *   in_flight              lookups running now (process-wide)
 *   rejected_in_flight     lookups refused by max_in_flight
 *   latency_us_sum         total lookup time in microseconds
 *   latency_le_<ms>        lookups that took at most <ms> milliseconds, for
 *                          <ms> in 1 2 5 10 25 50 100 250 500 1000 2500 5000 10000
 */
typedef struct handoff_stats handoff_stats;

/* A new snapshot of this client's counters; free it with handoff_stats_free().
 * NULL for a NULL client. */
handoff_stats *handoff_client_stats(handoff_client *client);

/* The same for the process-wide client; NULL when not initialized. */
handoff_stats *handoff_process_stats(void);

/* The value of the named counter, or 0 for an unknown name or NULL. */
uint64_t handoff_stats_get(const handoff_stats *stats, const char *name);

/* The snapshot in the Prometheus text format (polyai_handoff_* metrics, a
 * latency histogram). Borrowed: valid until handoff_stats_free(). Never NULL
 * for a non-NULL snapshot. */
const char *handoff_stats_prometheus(const handoff_stats *stats);

/* Frees a snapshot. NULL is a no-op. */
void handoff_stats_free(handoff_stats *stats);

/* How long the lookup took, in microseconds. */
int64_t handoff_result_elapsed_us(const handoff_result *result);

#ifdef __cplusplus
}
#endif

#endif /* POLYAI_HANDOFF_H */
