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
 *     library's process-wide locks are taken around fork(), every other
 *     lock it has belongs to one process, and fork() waits for the library's
 *     calls into libcurl that may hold one of OpenSSL's process-wide locks
 *     (each a non-blocking step: microseconds, up to milliseconds while
 *     hundreds of queued lookups are in flight). The statically linked
 *     Swift runtime sets up lazy globals and type metadata under locks of
 *     its own the first time a code path runs: the library runs every
 *     lookup, reservation and queue path once, on canned data, when the
 *     process's first client is made, so the one window left is a fork() at the
 *     instant another thread makes that first client. Never fork() inside
 *     the log callback.
 *   - The library is never unmapped: dlclose() leaves it loaded (-z
 *     nodelete), because libcurl resolver threads abandoned by lookups that
 *     timed out may still return into its code.
 *   - Transport: TLS 1.2 or later, certificates verified, redirects never
 *     followed, and no proxy used unless the configuration's proxy key asks
 *     for one (http_proxy, https_proxy, ALL_PROXY and the like in the
 *     environment are ignored otherwise). TLS secrets are never written
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
 * when the ABI breaks. Every function carries the symbol version node of the
 * minor release that added it (HANDOFF_1.0, HANDOFF_1.1), so a host built
 * against 1.1 fails to load against a 1.0 library with a clear message
 * rather than at its first call. Functions added since 1.0 say "since 1.1";
 * a host that must compile against both guards them with
 * #if HANDOFF_AT_LEAST_VERSION(1, 1, 0). */
#define HANDOFF_VERSION_MAJOR 1
#define HANDOFF_VERSION_MINOR 2
#define HANDOFF_VERSION_PATCH 0
#define HANDOFF_VERSION "1.2.0"
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
  HANDOFF_UNAVAILABLE,      /* failed fast without a request: the API has been failing
                               (circuit breaker open) or max_in_flight lookups are
                               already running */
  HANDOFF_CANCELLED         /* a queued lookup cancelled before it completed
                               (handoff_queue_cancel, handoff_queue_free); since 1.1 */
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
typedef struct handoff_queue handoff_queue;
typedef struct handoff_reservation handoff_reservation;
typedef struct handoff_attributes handoff_attributes;

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
 *                       per path per process. Rotation without a restart:
 *                       clients check the file (identity and modification
 *                       time, through symlinks) at most once a second and
 *                       use a new key from then on, and read it at once
 *                       after a 401 or 403, retrying once with the new key
 *                       within the deadline. A file that becomes unreadable
 *                       or holds no key keeps the key in use, logged once.
 *                       Requests in flight are never disturbed. The same for
 *                       dni_api_key_file
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
 *   dni_api_key         the x-api-key of DNI reservations (PolyAI issues a
 *                       different key for them in most cases); same rules and
 *                       secrecy as api_key. Unset: api_key is used
 *   dni_api_key_file    a file whose first line is that key, as api_key_file
 *   proxy               none (default: no proxy, whatever the environment
 *                       says), env (https_proxy or HTTPS_PROXY, and no_proxy,
 *                       read when the client is made), or http://host:port or
 *                       https://host:port. https requests tunnel through it
 *                       with CONNECT; a plain-HTTP request never goes through
 *                       a proxy. No credentials in the URL: see
 *                       proxy_auth_file. A proxy that cannot be reached or
 *                       refuses the tunnel gives HANDOFF_NETWORK with a
 *                       message that says it was the proxy
 *   proxy_auth_file     a file whose first line is user:password for the
 *                       proxy (Basic); redacted like the API key, and rotated
 *                       like api_key_file: checked at most once a second, and
 *                       read at once when the proxy refuses the tunnel with
 *                       407 (or 401), retrying once with what it holds now.
 *                       New tunnels use new credentials; one already open
 *                       stays as the proxy accepted it
 *   interface           the source interface or address of requests (libcurl's
 *                       CURLOPT_INTERFACE: a name, an address, "if!eth1",
 *                       "host!10.0.0.5"), for multi-homed SBCs
 *   ip_version          any (default), 4 or 6: the address family used
 *   resolve             host:port:address entries separated by spaces, as
 *                       curl's --resolve (addresses comma-separated, IPv6 in
 *                       brackets): pins the API's name, for split DNS, at
 *                       most 32 entries
 *   max_connections     connections the I/O thread of queued lookups opens at
 *                       once, 1..65536 (default 512); more transfers wait for
 *                       one (over HTTP/2 they share connections). Each is a
 *                       descriptor: keep it below the process's ulimit -n
 *   warm_connections    0..32 (default 0): connections handoff_client_new
 *                       and handoff_init make before returning, waiting at
 *                       most timeout_ms (a failure is logged, the client is
 *                       still made), as handoff_client_warm() does; also how
 *                       many handoff_client_warm() makes. In a host that forks
 *                       after making its client, leave it at 0 and call
 *                       handoff_client_warm() in each child
 *   connection_max_idle_ms  100..110000 (default 45000): after a warm-up,
 *                       keep-warm replaces each warmed connection with a newly
 *                       warmed one (fresh DNS answer, no request) once it has
 *                       been idle 3/4 of this, before the server's idle
 *                       timeout or libcurl's (118 s) closes it; replacements
 *                       count in "connections" and "connections_warmed".
 *                       Queued lookups never reuse a connection idle this
 *                       long (rounded up to whole seconds), warmed or not
 *   hedge_after_ms      0..600000 or auto (default 0: off): a lookup
 *                       (synchronous or queued) whose request has no answer
 *                       after this long sends a second one, inside the same
 *                       deadline; the first answer wins and the other
 *                       request is cancelled. auto: the 95th percentile of
 *                       the last 512 answers' times in this process (at
 *                       least 20 ms; no hedge until 50 answers came). Never
 *                       for a DNI reservation, never while the circuit
 *                       breaker counts failures. Counted as "hedges" (also
 *                       in "requests") and "hedge_wins"
 *   hedge_max_percent   0..100 (default 5): the hedge budget, a token bucket:
 *                       each lookup that sends a request earns this percent of
 *                       a hedge, a hedge spends a whole one, the budget starts
 *                       empty and holds at most 10. Hedges are therefore at
 *                       most lookups x hedge_max_percent / 100
 *   keep_warm_ms        0..86400000 (default 600000): keep-warm goes on this
 *                       long after the last lookup, and starts again with the
 *                       next one; 0: off. Synchronous lookups keep the slots'
 *                       connections warm, queued lookups the I/O thread's:
 *                       a process that only queues (Kamailio's async
 *                       processes) does not keep its unused slots warm
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

/* Closes the client's circuit breaker by hand, for an operator who knows
 * the API is back (since 1.1): the consecutive failures it counted are
 * forgotten and the next lookup sends its request instead of failing fast
 * with HANDOFF_UNAVAILABLE until the cooldown ends. A probe lookup already
 * in flight no longer decides: its outcome counts like any other. Nothing
 * else changes: connections, cache and counters stay (breaker_open becomes
 * 0, breaker_opened keeps its count). Harmless when the breaker is closed or
 * off. In this process only: a forked child closes its own breaker, never
 * the parent's. Returns HANDOFF_OK, or HANDOFF_INVALID_ARGUMENT for a NULL
 * client. */
handoff_status handoff_client_breaker_reset(handoff_client *client);

/* Makes this process's connections to the API before its first lookup
 * (since 1.2), so that the lookup costs one round trip instead of four (DNS,
 * TCP, TLS, then the request): warm_connections of them (at least 1), at
 * once, each resolved, connected, through the proxy's tunnel if any, with
 * TLS verified and, where the server offers it, HTTP/2 set up. No request is
 * sent: nothing reaches the API or its logs. The connections are kept idle
 * for the lookups of this process, the calling thread's first. A warm-up
 * (keep-warm's replacements too) always asks DNS again rather than take
 * libcurl's cached answer, and that answer is then cached (60 s) for the
 * lookups: a replaced connection goes to where the API's name points now.
 *
 * Once a queue has been made on the client in this process
 * (handoff_queue_new), it also warms the connection of queued lookups, one,
 * on the I/O thread and at the same time (over HTTP/2 every queued lookup of
 * the process shares it): one more than the slots', so at least 2.
 *
 * Waits at most timeout_ms (<= 0: the client's timeout_ms; at most 600000).
 * Returns HANDOFF_OK when every connection was made, HANDOFF_TIMEOUT when
 * time ran out first, HANDOFF_NETWORK when one could not be made (the reason
 * is logged at warning level), HANDOFF_INVALID_ARGUMENT for a NULL client, a
 * timeout_ms above 600000 or a client for DNI reservations only (whose POSTs
 * always take a new connection). The breaker, the counters of lookups and
 * max_in_flight are not involved; statistics count "warmups" and
 * "connections_warmed".
 *
 * libcurl keeps a connection that has carried no request only when it is
 * multiplexed: over HTTP/1.1 it closes it, and a warm-up then leaves just the
 * DNS answer behind (a TLS 1.3 session ticket comes too late to be kept);
 * "connections_warmed" says how many were kept. A forked child never uses
 * its parent's connections: call this in each child after the fork (Kamailio:
 * child_init) rather than in the parent. Safe from any thread; the calling
 * thread waits, other threads' lookups do not.
 *
 * After a warm-up the client keeps the connections warm (keep_warm_ms,
 * connection_max_idle_ms): its I/O thread (the one of queued lookups,
 * started here if they have not) times the replacements, and a short-lived
 * library thread makes them (the I/O thread's own connection is replaced on
 * that thread, without blocking it, and the one it replaces is closed unless
 * a lookup started meanwhile, so no later lookup takes the older one);
 * neither calls host code. A warm-up of the I/O
 * thread's connection asked for while one is under way (handoff_queue_new()
 * with warm_connections, then this) waits for that one rather than make a
 * second connection (and tries again if that one runs out of time before
 * this call's timeout_ms). handoff_client_free()
 * waits for a replacement under way (at most connect_timeout_ms, else
 * timeout_ms). */
handoff_status handoff_client_warm(handoff_client *client, int timeout_ms);

/* Frees a client. NULL is a no-op. Must not be called while another thread
 * is still inside a lookup on it. Results it returned stay valid. */
void handoff_client_free(handoff_client *client);

/* ------------------------------------------------------- queued lookups */

/*
 * Lookups that never block the caller, for hosts with an event loop
 * (Kamailio and OpenSIPS workers, libevent, libuv) or a thread per call
 * that must stay responsive. Since 1.1.
 *
 * handoff_queue_lookup() returns in microseconds: it validates the id,
 * answers from the cache or fails fast on the calling thread, and otherwise
 * hands the lookup to a library-owned I/O thread, which drives every queued
 * transfer of the client at once with one libcurl multi handle (DNS, connect,
 * TLS and the request happen there, never on the caller). When a lookup
 * completes, its result waits in the queue and handoff_queue_fd() becomes
 * readable; handoff_queue_next() takes the results, one per call.
 *
 * What a host can rely on:
 *   - HANDOFF_OK from handoff_queue_lookup() means exactly one completion
 *     with that tag will be delivered: the answer, HANDOFF_TIMEOUT by the
 *     deadline, or HANDOFF_CANCELLED. A refused id or timeout_ms, a cache hit,
 *     an open breaker or max_in_flight complete at once (ready for the next
 *     handoff_queue_next()).
 *   - The deadline counts from the handoff_queue_lookup() call, on the
 *     monotonic clock, time waiting for a connection included; the
 *     completion is ready by then.
 *   - A queued lookup is the synchronous one: retries inside the deadline,
 *     the breaker, single flight (one request per id, shared with
 *     synchronous lookups of the same client), the cache, max_in_flight,
 *     the statistics, the same result and rendering.
 *   - The library never calls host code on its threads. Log lines of queued
 *     lookups reach the log callback inside handoff_queue_next(), on the
 *     host's thread (Kamailio's logging is not thread safe).
 *   - Results outlive their queue and client.
 *   - Fork: a queue, its I/O thread and its descriptor belong to the process
 *     that made them. The thread starts with the first queued lookup of a
 *     client (or its first warm-up, for keep-warm), so a process that only
 *     creates clients (warm_connections 0) and queues, then forks workers,
 *     never runs it; each worker should make its own queue. In a
 *     child, an inherited queue admits nothing (HANDOFF_INVALID_ARGUMENT),
 *     has no descriptor (-1), gives no results, and handoff_queue_free()
 *     only closes the child's copy of the descriptor.
 *   - Thread safety: every queue function may be called from any thread,
 *     but for handoff_queue_free(), which must be the last call on a queue.
 *
 * A tag is the host's own number (a transaction index, a pointer): it is
 * given back with the result. Tags need not be unique; handoff_queue_cancel()
 * cancels every waiting lookup with its tag.
 */

/* A new queue for the client's lookups, or for the process-wide client
 * when client is NULL (the client in place now: the queue keeps it through
 * later handoff_init() or handoff_shutdown() calls). Free it with
 * handoff_queue_free(); the client may be freed first (the queue keeps what
 * it needs). NULL on failure, with *status_out = HANDOFF_NOT_INITIALIZED (NULL
 * client and no process-wide one) or HANDOFF_UNAVAILABLE (no descriptor could
 * be made: ulimit -n). status_out may be NULL.
 *
 * The client's first queue in this process makes its warm-ups cover the
 * I/O thread's connection (see handoff_client_warm). With warm_connections
 * > 0 that warm-up starts here, on the I/O thread, and this call does not
 * wait for it (since 1.2); statistics count it in "warmups" when it ends. */
handoff_queue *handoff_queue_new(handoff_client *client, handoff_status *status_out);

/* The queue's descriptor: an eventfd, non-blocking and close-on-exec,
 * readable while a completion waits to be taken. Poll it for reading with
 * poll(), epoll (level-triggered, or edge-triggered draining
 * handoff_queue_next() until NULL), libevent, libuv or a reactor. Owned by
 * the queue: never read, write or close it. -1 for a NULL queue or in a
 * forked child. */
int handoff_queue_fd(const handoff_queue *queue);

/* Submits a lookup by shared id with a deadline of timeout_ms (<= 0: the
 * client's timeout_ms; above 600000 it completes at once with
 * HANDOFF_INVALID_ARGUMENT). Never blocks, never does I/O. Returns
 * HANDOFF_OK when the lookup was admitted (exactly one completion will
 * follow), else nothing was admitted and no completion follows:
 * HANDOFF_INVALID_ARGUMENT for a NULL queue or one inherited over fork(),
 * HANDOFF_UNAVAILABLE when the queue already holds 100000 lookups (waiting
 * or not yet taken). A NULL, empty, over-long or control-character id is
 * admitted and completes at once with HANDOFF_INVALID_ARGUMENT. */
handoff_status handoff_queue_lookup(handoff_queue *queue, const char *shared_id, int timeout_ms, uint64_t tag);

/* The same, by PolyAI conversation id. */
handoff_status handoff_queue_lookup_id(handoff_queue *queue, const char *conversation_id, int timeout_ms,
                                       uint64_t tag);

/* The next completed lookup's result (free it with handoff_result_free()),
 * with its tag in *tag_out (tag_out may be NULL), or NULL when none is
 * ready. Never blocks. Writes the log lines of queued lookups kept since the
 * last call to the log callback first, on this thread. */
handoff_result *handoff_queue_next(handoff_queue *queue, uint64_t *tag_out);

/* Completes every waiting lookup with this tag at once with
 * HANDOFF_CANCELLED (ready for handoff_queue_next()). A request already sent
 * goes on for other lookups of the same id and for the cache. No-op when
 * no lookup with the tag waits. */
void handoff_queue_cancel(handoff_queue *queue, uint64_t tag);

/* Cancels every waiting lookup, frees the results not taken and closes the
 * descriptor; no completion is delivered after it. NULL is a no-op. Results
 * already taken stay valid. Requests already sent end by their deadline on
 * the I/O thread. */
void handoff_queue_free(handoff_queue *queue);

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

/* ------------------------------------------------------- DNI reservations */

/*
 * The first half of the DNI-pool flow (since 1.1). Before the PBX sends a
 * caller to the PolyAI agent over the PSTN, it reserves a number for the call
 * (POST /v1/conversations/dni-reservation), passing the call's shared id and
 * what it knows as attributes; it dials the number; the agent reads the
 * attributes; when the agent hands the call back, the PBX looks up the
 * handoff state by the same shared id (handoff_lookup).
 *
 * The key is dni_api_key (see Configuration), else api_key; the agent is the
 * one linked to the key, so a client for reservations only needs no
 * account_id or project_id: set dni_api_key and neither of them (its lookups
 * are then refused with HANDOFF_INVALID_ARGUMENT).
 *
 * A reservation is not idempotent: it is sent again (within the deadline,
 * `retries` times at most) only when no connection could be made, so the
 * request certainly never left; never after a timeout, a connection lost
 * once the request was sent, or any answer. It always goes out on a new
 * connection, since libcurl silently repeats a request on a reused
 * connection found dead. It is never cached and never shared between
 * callers. The deadline, the breaker and max_in_flight are the lookups'.
 */

/* Reserves a DNI for the call with this shared id, waiting at most
 * timeout_ms (<= 0: the client's timeout_ms; above 600000 it is refused).
 * attributes_json is a JSON object of what the agent should know (NULL or
 * "" for none); shared_id is added to it. Refused with
 * HANDOFF_INVALID_ARGUMENT and nothing sent: a NULL client; shared_id NULL or
 * invalid as a lookup id is; attributes that are not a JSON object, over
 * 16384 bytes, nested deeper than 16 levels, or holding a different
 * shared_id. Never build attributes_json by pasting caller-controlled text:
 * use handoff_attributes below. Returns a new reservation; free it with
 * handoff_reservation_free(). Never NULL. */
handoff_reservation *handoff_client_reserve_dni(handoff_client *client, const char *shared_id,
                                                const char *attributes_json, int timeout_ms);

/* The same with the process-wide client (HANDOFF_NOT_INITIALIZED before
 * handoff_init()) and its timeout_ms. */
handoff_reservation *handoff_reserve_dni(const char *shared_id, const char *attributes_json);

/* The outcome: HANDOFF_OK with a number, or why not, as for lookups
 * (HANDOFF_PROTOCOL for any status other than 400, 401, 403, 404 and 5xx,
 * e.g. 409 or 429, with the API's error_message when it sent one). A 200
 * whose "dni" is not an optional '+' and 1 to 32 digits is HANDOFF_PROTOCOL
 * and the value is never returned. */
handoff_status handoff_reservation_status(const handoff_reservation *reservation);

/* The reserved number, e.g. "+15550100": NULL unless HANDOFF_OK. Only an
 * optional '+' and 1 to 32 ASCII digits, so it is safe in a Request-URI or a
 * Dial() string as it is. Borrowed. */
const char *handoff_reservation_dni(const handoff_reservation *reservation);

/* Why it failed, "" on success. Borrowed. Never NULL (for a NULL reservation,
 * a static message). */
const char *handoff_reservation_error(const handoff_reservation *reservation);

/* The HTTP status of the answer, 0 if none arrived. */
int handoff_reservation_http_status(const handoff_reservation *reservation);

/* How long the reservation took, in microseconds. */
int64_t handoff_reservation_elapsed_us(const handoff_reservation *reservation);

/* Frees a reservation. NULL is a no-op. */
void handoff_reservation_free(handoff_reservation *reservation);

/*
 * Attributes built from key/value pairs, safe whatever the values hold: a
 * dialplan takes them from caller-controlled headers ($fU, $hdr(...)), where
 * pasting them into JSON would be an injection. Every value becomes a JSON
 * string, escaped; a dotted key nests ("customer.tier" gives
 * {"customer":{"tier":...}}); keys keep the order they were first set in and
 * setting one again replaces its value. A plain value being edited, like
 * handoff_config: do not edit one from two threads at once.
 */

/* A new, empty set of attributes. Free it with handoff_attributes_free().
 * Never NULL. */
handoff_attributes *handoff_attributes_new(void);

/* Sets key to value. Returns HANDOFF_OK, or HANDOFF_INVALID_ARGUMENT with
 * the reason in handoff_attributes_error() and nothing changed: a NULL
 * argument; a key that is empty, over 256 bytes, has an empty part ("a..b")
 * or more than 8 parts, is not UTF-8 or holds control characters; a value
 * over 4096 bytes or not UTF-8; a key that would put keys inside a value
 * ("a" then "a.b") or replace keys with a value ("a.b" then "a"); more than
 * 256 values. */
handoff_status handoff_attributes_set(handoff_attributes *attributes, const char *key, const char *value);

/* The attributes as a compact JSON object, "{}" when empty: pass it to
 * handoff_client_reserve_dni(). Borrowed: valid until the next
 * handoff_attributes_set() or handoff_attributes_free(). NULL for NULL. */
const char *handoff_attributes_json(const handoff_attributes *attributes);

/* Why the last handoff_attributes_set() failed, or "" if it did not.
 * Borrowed, like handoff_attributes_json(). Never NULL. */
const char *handoff_attributes_error(const handoff_attributes *attributes);

/* Frees attributes. NULL is a no-op. */
void handoff_attributes_free(handoff_attributes *attributes);

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
 *   reservations           DNI reservations, whatever their outcome (counted
 *                          apart: none of the lookup counters above includes them)
 *   reservation_status.<name>  reservations that ended with that status
 *   reservation_requests   HTTP requests reservations sent
 *   connections            new connections opened (lookups', queued lookups'
 *                          and reservations'): each one paid a handshake
 *   connections_http1, connections_http2  those of them that spoke HTTP/1.x
 *                          and HTTP/2 (by ALPN: HTTP/2 where the server
 *                          offers it); the rest failed before HTTP
 *   warmups                warm-ups (handoff_client_warm, warm_connections)
 *   connections_warmed     connections they made and kept open for lookups
 *                          (HTTP/2 ones; see handoff_client_warm), keep-warm's
 *                          replacements included
 *   hedges, hedge_wins     hedged requests sent (also in "requests"), and
 *                          those that answered before the request they raced
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
