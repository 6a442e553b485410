/*
 * client.c -- the lookup driver of `make bench-wan`.
 *
 * Makes --count lookups one after another, --interval-ms apart (the idle gap
 * between the end of one lookup and the start of the next, the time a server
 * sees the connection idle), in one of two modes with the same settings
 * (URL, TLS verified against --ca, HTTP/2 where the server offers it by ALPN,
 * TCP_NODELAY, keep-alive):
 *   raw  one reused curl easy handle (curl_easy_perform) and json_loadb of
 *        the body, as a well-written raw libcurl program would;
 *   lib  one handoff_client and handoff_client_lookup(). With --warm,
 *        handoff_client_warm() is called once before the first lookup if the
 *        library has it (looked up at run time, so this builds without it).
 * Every answer is checked (200, customer_id 12345). For each lookup it
 * records the latency (CLOCK_MONOTONIC around the call) and whether it paid
 * for a new connection: raw, CURLINFO_NUM_CONNECTS > 0; lib, the client's
 * "connections" counter went up.
 *
 * lib also prints the client's counters at the end: requests, hedges and
 * hedge_wins (hedged requests and those that answered first), connections
 * and connections_warmed.
 *
 * --idle-ms N (lib): after the lookups, the process stays idle N ms, looking
 * at the client's counters every --sample-ms (default 1000), then makes one
 * more lookup. It prints what the idle spell cost: CPU time of the process
 * (getrusage RUSAGE_SELF: every thread, the library's included, ended ones
 * too), connections opened (keep-warm's replacements), requests sent, the
 * first and last time a connection was opened, its start and end on the
 * wall clock (for the server's log), and the same from --idle-split-ms on,
 * to show keep-warm stopping keep_warm_ms after the last lookup.
 *
 * Prints one line of key=value pairs on stdout (bench/wan/run.sh parses it);
 * with --verbose, one line per lookup on stderr (--curl-verbose: and raw's
 * libcurl trace).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "polyai_handoff.h"

#define MAX_COUNT 100000
#define BODY_LIMIT 65536

static struct {
    const char *mode, *url, *account, *project, *api_key, *ca_file, *id_prefix, *slow_prefix;
    long interval_ms, count, max_seconds, timeout_ms, slow_every, idle_ms, idle_split_ms, sample_ms;
    double rtt_ms;
    int warm, verbose, curl_verbose;
    const char *sets[8]; /* --set key=value for lib */
    int set_count;
} opt = {.account = "wan", .project = "bench", .api_key = "wan-key", .id_prefix = "s1~wan",
         .interval_ms = 1000, .count = 10, .max_seconds = 60, .timeout_ms = 5000, .rtt_ms = 50,
         .idle_split_ms = -1, .sample_ms = 1000};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU of the whole process, every thread (ended ones too). */
static double cpu_ms(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {}
}

/* The id of lookup i: unique per run, and every slow_every-th one (if set)
 * an id the tail server answers late. */
static void make_id(char *out, size_t size, long i) {
    int slow = opt.slow_prefix && opt.slow_every > 0 && i % opt.slow_every == opt.slow_every - 1;
    snprintf(out, size, "%s-%ld", slow ? opt.slow_prefix : opt.id_prefix, i);
}

/* ------------------------------------------------------------------ raw */

struct body {
    char data[BODY_LIMIT];
    size_t len;
};

static size_t write_body(char *data, size_t size, size_t n, void *user) {
    struct body *b = user;
    size_t bytes = size * n;
    if (bytes > sizeof b->data - 1 - b->len) return 0;
    memcpy(b->data + b->len, data, bytes);
    b->len += bytes;
    return bytes;
}

struct raw {
    CURL *easy;
    struct curl_slist *headers;
    struct body body;
    char error[CURL_ERROR_SIZE];
    char url[2048];
};

static int raw_init(struct raw *r) {
    char key_header[512];
    snprintf(key_header, sizeof key_header, "x-api-key: %s", opt.api_key);
    r->easy = curl_easy_init();
    r->headers = curl_slist_append(NULL, key_header);
    struct curl_slist *h = r->headers ? curl_slist_append(r->headers, "Accept: application/json") : NULL;
    if (!r->easy || !h) return -1;
    r->headers = h;
    CURL *e = r->easy;
    int ok = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, opt.timeout_ms) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error) == CURLE_OK;
    if (ok && opt.ca_file) ok = curl_easy_setopt(e, CURLOPT_CAINFO, opt.ca_file) == CURLE_OK;
    if (ok && opt.curl_verbose) ok = curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) == CURLE_OK;
    return ok ? 0 : -1;
}

/* 0 and the answer checked, or -1 with why in err. */
static int raw_lookup(struct raw *r, const char *id, int *new_conn, int *h2, char *err, size_t err_size) {
    char *escaped = curl_easy_escape(r->easy, id, 0);
    if (!escaped) return snprintf(err, err_size, "escape"), -1;
    snprintf(r->url, sizeof r->url, "%s/v1/%s/%s/handoff_state?shared_id=%s", opt.url, opt.account, opt.project,
             escaped);
    curl_free(escaped);
    r->body.len = 0;
    r->error[0] = 0;
    curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
    CURLcode rc = curl_easy_perform(r->easy);
    long connects = 0, status = 0, version = 0;
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &version);
    *new_conn = connects > 0;
    *h2 = version == CURL_HTTP_VERSION_2_0;
    if (rc != CURLE_OK) return snprintf(err, err_size, "%s: %s", curl_easy_strerror(rc), r->error), -1;
    if (status != 200) return snprintf(err, err_size, "HTTP %ld", status), -1;
    json_error_t jerr;
    json_t *root = json_loadb(r->body.data, r->body.len, 0, &jerr);
    if (!root) return snprintf(err, err_size, "bad JSON: %s", jerr.text), -1;
    const char *customer = json_string_value(json_object_get(json_object_get(root, "data"), "customer_id"));
    int ok = customer && strcmp(customer, "12345") == 0;
    if (!ok) snprintf(err, err_size, "customer_id %s", customer ? customer : "(none)");
    json_decref(root);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------ lib */

static uint64_t counter(handoff_client *client, const char *name) {
    handoff_stats *s = handoff_client_stats(client);
    uint64_t v = handoff_stats_get(s, name);
    handoff_stats_free(s);
    return v;
}

/* Connections no warm-up made (warmed read first: the library counts a
 * warmed one as warmed first, so a replacement between the reads can only
 * show as one more, never hide a lookup's own). */
static uint64_t unwarmed(handoff_client *client) {
    uint64_t warmed = counter(client, "connections_warmed");
    uint64_t all = counter(client, "connections");
    return all - warmed;
}

static void log_line(handoff_log_level level, const char *message, void *userdata) {
    (void)userdata;
    fprintf(stderr, "library %s: %s\n", level == HANDOFF_LOG_ERROR ? "error" : level == HANDOFF_LOG_WARNING ? "warning"
                                                                 : level == HANDOFF_LOG_INFO ? "info" : "debug", message);
}

static handoff_client *lib_init(void) {
    if (opt.verbose) {
        handoff_set_log_callback(log_line, NULL);
        handoff_set_log_level(HANDOFF_LOG_DEBUG);
    }
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%ld", opt.timeout_ms);
    const char *keys[][2] = {{"base_url", opt.url},       {"account_id", opt.account}, {"project_id", opt.project},
                             {"api_key", opt.api_key},    {"timeout_ms", timeout},     {"ca_file", opt.ca_file}};
    handoff_config *config = handoff_config_new();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!keys[i][1]) continue;
        if (handoff_config_set(config, keys[i][0], keys[i][1]) != HANDOFF_OK) {
            fprintf(stderr, "client: %s: %s\n", keys[i][0], handoff_config_error(config));
            handoff_config_free(config);
            return NULL;
        }
    }
    for (int i = 0; i < opt.set_count; i++) {
        char key[128];
        const char *eq = strchr(opt.sets[i], '=');
        if (!eq || (size_t)(eq - opt.sets[i]) >= sizeof key) {
            fprintf(stderr, "client: --set %s: expected key=value\n", opt.sets[i]);
            handoff_config_free(config);
            return NULL;
        }
        memcpy(key, opt.sets[i], (size_t)(eq - opt.sets[i]));
        key[eq - opt.sets[i]] = '\0';
        if (handoff_config_set(config, key, eq + 1) != HANDOFF_OK) {
            fprintf(stderr, "client: --set %s: %s\n", key, handoff_config_error(config));
            handoff_config_free(config);
            return NULL;
        }
    }
    handoff_client *client = handoff_client_new(config, NULL);
    if (!client) fprintf(stderr, "client: handoff_client_new: %s\n", handoff_config_error(config));
    handoff_config_free(config);
    return client;
}

static int lib_lookup(handoff_client *client, const char *id, char *err, size_t err_size) {
    handoff_result *res = handoff_client_lookup(client, id, 0);
    handoff_status st = handoff_result_status(res);
    const char *customer = handoff_result_get(res, "customer_id");
    int ok = st == HANDOFF_OK && customer && strcmp(customer, "12345") == 0;
    if (!ok)
        snprintf(err, err_size, "%s (HTTP %d): %s", handoff_status_name(st), handoff_result_http_status(res),
                 handoff_result_error(res));
    handoff_result_free(res);
    return ok ? 0 : -1;
}

/* What an idle spell cost, from its start (or from --idle-split-ms). */
struct idle_mark {
    double cpu, mono;
    uint64_t conns, warmed, requests;
};

static struct idle_mark idle_mark(handoff_client *client) {
    struct idle_mark m;
    m.mono = now_ms();
    m.cpu = cpu_ms();
    m.warmed = counter(client, "connections_warmed");
    m.conns = counter(client, "connections");
    m.requests = counter(client, "requests");
    return m;
}

static void print_idle(const char *prefix, struct idle_mark a, struct idle_mark b) {
    printf(" %s_ms=%.0f %s_cpu_ms=%.2f %s_connections=%llu %s_warmed=%llu %s_requests=%llu", prefix, b.mono - a.mono,
           prefix, b.cpu - a.cpu, prefix, (unsigned long long)(b.conns - a.conns), prefix,
           (unsigned long long)(b.warmed - a.warmed), prefix, (unsigned long long)(b.requests - a.requests));
}

/* The idle spell of --idle-ms: counters looked at every --sample-ms (the
 * same in every mode, so it is in the baseline too). */
static void lib_idle(handoff_client *client) {
    double wall_start = wall_s();
    struct idle_mark start = idle_mark(client), split = start, prev = start;
    int have_split = 0;
    double first_conn = -1, last_conn = -1;
    for (;;) {
        double elapsed = now_ms() - start.mono;
        if (elapsed >= (double)opt.idle_ms) break;
        long step = opt.idle_ms - (long)elapsed;
        if (step > opt.sample_ms) step = opt.sample_ms;
        /* Wake at the split too, so that it is not rounded to a sample. */
        if (!have_split && opt.idle_split_ms >= 0 && opt.idle_split_ms - (long)elapsed > 0 &&
            opt.idle_split_ms - (long)elapsed < step)
            step = opt.idle_split_ms - (long)elapsed;
        sleep_ms(step);
        uint64_t conns = counter(client, "connections");
        double at = (now_ms() - start.mono) / 1e3;
        if (conns != prev.conns) {
            if (first_conn < 0) first_conn = at;
            last_conn = at;
            prev.conns = conns;
        }
        if (!have_split && opt.idle_split_ms >= 0 && now_ms() - start.mono >= (double)opt.idle_split_ms) {
            split = idle_mark(client);
            have_split = 1;
        }
    }
    struct idle_mark end = idle_mark(client);
    double wall_end = wall_s();
    printf(" idle_start=%.3f idle_end=%.3f idle_first_conn_s=%.1f idle_last_conn_s=%.1f", wall_start, wall_end,
           first_conn, last_conn);
    print_idle("idle", start, end);
    if (have_split) print_idle("idle_after_split", split, end);
}

/* ----------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank. */
static double pct(const double *sorted, long n, double p) {
    if (n <= 0) return 0;
    long rank = (long)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static void usage(void) {
    fprintf(stderr,
            "usage: client --mode raw|lib --url https://HOST:PORT [--account A] [--project P] [--api-key K]\n"
            "              [--ca FILE] [--interval-ms N] [--count N] [--max-seconds S] [--timeout-ms N]\n"
            "              [--id-prefix P] [--slow-prefix P --slow-every N] [--rtt-ms N] [--warm] [--verbose]\n"
            "              [--curl-verbose] [--set key=value]... [--idle-ms N [--idle-split-ms N]\n"
            "              [--sample-ms N]]\n");
    exit(2);
}

static long parse_long(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--warm")) { opt.warm = 1; continue; }
        if (!strcmp(a, "--verbose")) { opt.verbose = 1; continue; }
        if (!strcmp(a, "--curl-verbose")) { opt.curl_verbose = opt.verbose = 1; continue; }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--set") && opt.set_count < 8) opt.sets[opt.set_count++] = v;
        else if (!strcmp(a, "--mode")) opt.mode = v;
        else if (!strcmp(a, "--url")) opt.url = v;
        else if (!strcmp(a, "--account")) opt.account = v;
        else if (!strcmp(a, "--project")) opt.project = v;
        else if (!strcmp(a, "--api-key")) opt.api_key = v;
        else if (!strcmp(a, "--ca")) opt.ca_file = v;
        else if (!strcmp(a, "--id-prefix")) opt.id_prefix = v;
        else if (!strcmp(a, "--slow-prefix")) opt.slow_prefix = v;
        else if (!strcmp(a, "--slow-every")) opt.slow_every = parse_long(v, 0, MAX_COUNT);
        else if (!strcmp(a, "--interval-ms")) opt.interval_ms = parse_long(v, 0, 3600000);
        else if (!strcmp(a, "--count")) opt.count = parse_long(v, 1, MAX_COUNT);
        else if (!strcmp(a, "--max-seconds")) opt.max_seconds = parse_long(v, 1, 86400);
        else if (!strcmp(a, "--timeout-ms")) opt.timeout_ms = parse_long(v, 1, 600000);
        else if (!strcmp(a, "--rtt-ms")) opt.rtt_ms = (double)parse_long(v, 1, 100000);
        else if (!strcmp(a, "--idle-ms")) opt.idle_ms = parse_long(v, 0, 86400000);
        else if (!strcmp(a, "--idle-split-ms")) opt.idle_split_ms = parse_long(v, 0, 86400000);
        else if (!strcmp(a, "--sample-ms")) opt.sample_ms = parse_long(v, 1, 3600000);
        else usage();
    }
    int raw_mode = opt.mode && !strcmp(opt.mode, "raw");
    if (!opt.mode || (!raw_mode && strcmp(opt.mode, "lib")) || !opt.url || (raw_mode && opt.idle_ms)) usage();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    static struct raw r;
    handoff_client *client = NULL;
    const char *warm = "off";
    if (raw_mode) {
        if (raw_init(&r) != 0) {
            fprintf(stderr, "client: curl setup failed\n");
            return 1;
        }
    } else {
        client = lib_init();
        if (!client) return 1;
        if (opt.warm) {
            handoff_status (*warm_fn)(handoff_client *, int) =
                (handoff_status(*)(handoff_client *, int))dlsym(RTLD_DEFAULT, "handoff_client_warm");
            if (warm_fn) {
                handoff_status st = warm_fn(client, (int)opt.timeout_ms);
                warm = st == HANDOFF_OK ? "ok" : handoff_status_name(st);
            } else {
                warm = "absent";
            }
        }
    }

    double *lat = calloc((size_t)opt.count, sizeof *lat);
    if (!lat) return 1;
    long done = 0, errors = 0, handshakes = 0, h2 = 0;
    double start = now_ms(), bound = start + (double)opt.max_seconds * 1e3;
    char first_error[512] = "";
    for (long i = 0; i < opt.count; i++) {
        if (i > 0) {
            if (now_ms() + (double)opt.interval_ms > bound) break;
            sleep_ms(opt.interval_ms);
        }
        char id[256], err[512] = "";
        make_id(id, sizeof id, i);
        int new_conn = 0, is_h2 = 0, rc;
        /* The lookup's own connections: keep-warm's replacements (counted
         * as warmed) between lookups are not a handshake a lookup paid. */
        uint64_t conns_before = client ? unwarmed(client) : 0;
        double t0 = now_ms();
        if (raw_mode) {
            rc = raw_lookup(&r, id, &new_conn, &is_h2, err, sizeof err);
        } else {
            rc = lib_lookup(client, id, err, sizeof err);
        }
        double ms = now_ms() - t0;
        if (client) new_conn = unwarmed(client) > conns_before;
        handshakes += new_conn;
        h2 += is_h2;
        if (rc == 0) {
            lat[done++] = ms;
        } else {
            if (!errors) snprintf(first_error, sizeof first_error, "%s", err);
            errors++;
        }
        if (opt.verbose)
            fprintf(stderr, "%ld %s %.2f ms%s%s%s\n", i, id, ms, new_conn ? " new-connection" : "", rc ? " FAIL " : "",
                    err);
    }
    long attempted = done + errors;
    if (client) {
        /* Which protocol the library's connections spoke (ALPN). */
        h2 = (long)counter(client, "connections_http2");
    }
    qsort(lat, (size_t)done, sizeof *lat, cmp_double);
    double p50 = pct(lat, done, 50), p99 = pct(lat, done, 99), max = done ? lat[done - 1] : 0;
    printf("mode=%s interval_ms=%ld count=%ld lookups=%ld errors=%ld handshakes=%ld "
           "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f p50_rtt=%.2f p99_rtt=%.2f max_rtt=%.2f %s=%ld warm=%s",
           opt.mode, opt.interval_ms, opt.count, attempted, errors, handshakes, p50, p99, max, p50 / opt.rtt_ms,
           p99 / opt.rtt_ms, max / opt.rtt_ms, raw_mode ? "h2_lookups" : "h2_connections", h2, warm);
    if (client) {
        printf(" requests=%llu hedges=%llu hedge_wins=%llu connections=%llu connections_warmed=%llu",
               (unsigned long long)counter(client, "requests"), (unsigned long long)counter(client, "hedges"),
               (unsigned long long)counter(client, "hedge_wins"), (unsigned long long)counter(client, "connections"),
               (unsigned long long)counter(client, "connections_warmed"));
    }
    if (client && opt.idle_ms > 0) {
        fflush(stdout);
        lib_idle(client);
        /* The lookup after the spell: what the warming bought. */
        char id[256], err[512] = "";
        snprintf(id, sizeof id, "%s-after-idle", opt.id_prefix);
        uint64_t before = unwarmed(client);
        double t0 = now_ms();
        int rc = lib_lookup(client, id, err, sizeof err);
        double ms = now_ms() - t0;
        printf(" after_idle_ms=%.1f after_idle_rtt=%.2f after_idle_handshake=%d after_idle_ok=%d", ms,
               ms / opt.rtt_ms, unwarmed(client) > before, rc == 0);
        if (rc) {
            if (!errors) snprintf(first_error, sizeof first_error, "after idle: %s", err);
            errors++;
        }
    }
    if (errors) printf(" first_error=\"%s\"", first_error);
    printf("\n");
    free(lat);
    if (raw_mode) {
        curl_easy_cleanup(r.easy);
        curl_slist_free_all(r.headers);
    }
    handoff_client_free(client);
    curl_global_cleanup();
    return errors || attempted < opt.count ? 1 : 0;
}
