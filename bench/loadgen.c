/*
 * loadgen.c -- the handoff lookup load generator of `make bench`.
 *
 * T threads each make N timed lookups (after W untimed warm-up lookups) in
 * one of four ways, against the same server and fixture:
 *   lib    this library: one handoff_client shared by every thread, default
 *          configuration, handoff_client_lookup() then a walk of the pairs;
 *   raw    the limit: libcurl + jansson by hand, one reused easy handle and
 *          one header list per thread, the body parsed and `data` flattened
 *          into key/value pairs;
 *   naive  the same parse, but a new easy handle and header list per lookup
 *          (a new TCP and TLS connection each time), as simple module code does;
 *   proc   a process per lookup: `curl -s ... | jq ...`, as AGI scripts do.
 * Every lookup is verified (status, entry count, customer_id), so a broken
 * run cannot look fast: the first failure stops its thread and the run
 * exits 1.
 *
 * Prints one JSON line per run on stdout. Latencies are clock_gettime
 * (CLOCK_MONOTONIC) around each lookup, stored in arrays allocated and
 * touched before the run; CPU time is getrusage (self, plus children for
 * proc) over the timed part only, and so are retired instructions, counted
 * per thread with perf_event_open (children included), the measure least
 * disturbed by a noisy machine.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <linux/perf_event.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "polyai_handoff.h"

enum mode { MODE_LIB, MODE_RAW, MODE_NAIVE, MODE_PROC };
static const char *mode_names[] = {"lib", "raw", "naive", "proc"};

#define MAX_THREADS 256
#define MAX_SETS 16
#define BODY_LIMIT 65536  /* the library's default max_response_bytes */
#define MAX_ENTRIES 32    /* the library's default max_entries */
#define MAX_DEPTH 8       /* the library's default max_depth */
#define KEY_BYTES 256
#define VALUE_BYTES 257   /* max_value_bytes 256 + NUL */

static struct {
    enum mode mode;
    const char *url;       /* base, e.g. http://127.0.0.1:8080 */
    const char *ca_file;
    const char *api_key;
    const char *account;
    const char *project;
    const char *fixture;
    const char *expect_customer;
    const char *percentiles_out;
    const char *rss_out;
    const char *label;
    const char *sets[MAX_SETS];
    int n_sets;
    int threads;
    long lookups;          /* timed, per thread */
    long warmup;           /* untimed, per thread */
    long expect_count;
    int timeout_ms;
    double max_seconds;
    int fixed_id;          /* every lookup asks for the bare fixture id */
} opt = {
    .mode = MODE_LIB,
    .api_key = "bench-key",
    .account = "acme",
    .project = "PROJECT-support",
    .fixture = "acme-call-123",
    .expect_customer = "12345",
    .label = "",
    .threads = 1,
    .lookups = 1000,
    .warmup = 20,
    .expect_count = 19,
    .timeout_ms = 2000,
    .max_seconds = 120,
};

static handoff_client *lib_client;
static pthread_barrier_t warm_barrier, go_barrier;
static uint64_t deadline_ns;  /* set by main before go_barrier */
static atomic_int stop_sampler;

/* "all" (user + kernel), "user" or "none": what the instruction counters see. */
static const char *instr_scope = "none";

static int perf_open(int exclude_kernel) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.disabled = 1;
    a.inherit = 1;  /* proc: count the shell, curl and jq too */
    a.exclude_hv = 1;
    if (exclude_kernel) a.exclude_kernel = 1;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* --------------------------------------------------------------- a worker */

struct buf {
    char *data;
    size_t len, cap;
    int grow;  /* naive: realloc as needed; raw: fixed, preallocated */
};

struct kv {
    char key[KEY_BYTES];
    char value[VALUE_BYTES];
};

struct worker {
    int index;
    pthread_t thread;
    uint64_t *lat;  /* ns, opt.lookups entries */
    int perf_fd;    /* retired instructions of this thread and its children, or -1 */
    uint64_t instructions;
    long done;
    long errors;
    char first_error[512];
    /* raw and naive */
    CURL *easy;
    struct curl_slist *headers;
    struct buf body;
    struct kv pairs[MAX_ENTRIES];
    size_t n_pairs;
    char url[2048];
    char error_buffer[CURL_ERROR_SIZE];
};

static void fail(struct worker *w, const char *fmt, ...) {
    if (w->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->first_error, sizeof w->first_error, fmt, ap);
        va_end(ap);
    }
}

/* The id of lookup i: the fixture name plus a unique numeric suffix, so no
 * cache or request coalescing can answer it. The server maps it back. */
static void lookup_id(char *out, size_t size, int thread, int phase, long i) {
    if (opt.fixed_id) {
        snprintf(out, size, "%s", opt.fixture);
        return;
    }
    snprintf(out, size, "%s.%d.%d.%ld", opt.fixture, thread, phase, i);
}

/* ----------------------------------------------------------------- lib */

__attribute__((noinline)) static int lookup_lib(struct worker *w, const char *id) {
    handoff_result *r = handoff_client_lookup(lib_client, id, opt.timeout_ms);
    if (!r) {
        fail(w, "lib: NULL result");
        return -1;
    }
    int ok = 0;
    handoff_status st = handoff_result_status(r);
    if (st != HANDOFF_OK) {
        fail(w, "lib: status %s (http %d): %s", handoff_status_name(st), handoff_result_http_status(r),
             handoff_result_error(r));
    } else {
        size_t n = handoff_result_count(r);
        const char *customer = NULL;
        for (size_t i = 0; i < n; i++) {  /* as a module setting one variable per pair */
            const char *k = handoff_result_key(r, i);
            const char *v = handoff_result_value(r, i);
            if (k && v && strcmp(k, "customer_id") == 0) customer = v;
        }
        if ((long)n != opt.expect_count)
            fail(w, "lib: %zu entries, expected %ld", n, opt.expect_count);
        else if (!customer || strcmp(customer, opt.expect_customer) != 0)
            fail(w, "lib: customer_id %s, expected %s", customer ? customer : "(none)", opt.expect_customer);
        else
            ok = 1;
    }
    handoff_result_free(r);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------- raw and naive */

static size_t write_body(char *data, size_t size, size_t count, void *user) {
    struct buf *b = user;
    size_t n = size * count;
    if (n > BODY_LIMIT - b->len) return 0;  /* over the cap: fail the transfer */
    if (b->len + n > b->cap) {
        if (!b->grow) return 0;
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return n;
}

/* Percent-encodes into out (RFC 3986 unreserved kept); 0 if it does not fit. */
static size_t url_escape(char *out, size_t size, const char *in) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (plain ? 1 : 3) >= size) return 0;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
    return o;
}

static int build_url(struct worker *w, const char *id) {
    int n = snprintf(w->url, sizeof w->url, "%s/v1/%s/%s/handoff_state?shared_id=", opt.url, opt.account, opt.project);
    if (n < 0 || (size_t)n >= sizeof w->url) return -1;
    return url_escape(w->url + n, sizeof w->url - (size_t)n, id) ? 0 : -1;
}

static struct curl_slist *make_headers(void) {
    char key_header[512];
    snprintf(key_header, sizeof key_header, "x-api-key: %s", opt.api_key);
    struct curl_slist *h = curl_slist_append(NULL, key_header);
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    if (!h2) curl_slist_free_all(h);
    return h2;
}

static int configure_easy(struct worker *w) {
    CURL *e = w->easy;
    int ok = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)opt.timeout_ms) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, &w->body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->error_buffer) == CURLE_OK;
    if (ok && opt.ca_file) ok = curl_easy_setopt(e, CURLOPT_CAINFO, opt.ca_file) == CURLE_OK;
    return ok ? 0 : -1;
}

static void add_pair(struct worker *w, const char *key, const char *value) {
    if (w->n_pairs >= MAX_ENTRIES) return;
    struct kv *p = &w->pairs[w->n_pairs++];
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->value, sizeof p->value, "%s", value);
}

/* Flattens v under key (of length len in a KEY_BYTES buffer): dotted keys
 * for objects, indexes for arrays, values as strings. */
static void flatten(struct worker *w, json_t *v, char *key, size_t len, int depth) {
    char scalar[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= MAX_DEPTH) return;
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) {
            int n = snprintf(key + len, KEY_BYTES - len, len ? ".%s" : "%s", k);
            if (n > 0 && len + (size_t)n < KEY_BYTES) flatten(w, child, key, len + (size_t)n, depth + 1);
            key[len] = 0;
        }
        return;
    }
    case JSON_ARRAY: {
        if (depth >= MAX_DEPTH) return;
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            int n = snprintf(key + len, KEY_BYTES - len, len ? ".%zu" : "%zu", i);
            if (n > 0 && len + (size_t)n < KEY_BYTES) flatten(w, child, key, len + (size_t)n, depth + 1);
            key[len] = 0;
        }
        return;
    }
    case JSON_STRING: add_pair(w, key, json_string_value(v)); return;
    case JSON_INTEGER:
        snprintf(scalar, sizeof scalar, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        add_pair(w, key, scalar);
        return;
    case JSON_REAL:
        snprintf(scalar, sizeof scalar, "%.17g", json_real_value(v));
        add_pair(w, key, scalar);
        return;
    case JSON_TRUE: add_pair(w, key, "true"); return;
    case JSON_FALSE: add_pair(w, key, "false"); return;
    case JSON_NULL: add_pair(w, key, ""); return;
    }
}

/* Status, body parse, `data` walk and verification: shared by raw and naive. */
static int finish_curl(struct worker *w, CURLcode rc) {
    if (rc != CURLE_OK) {
        fail(w, "%s: %s: %s", mode_names[opt.mode], curl_easy_strerror(rc), w->error_buffer);
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fail(w, "%s: HTTP %ld", mode_names[opt.mode], status);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(w->body.data, w->body.len, 0, &jerr);
    if (!root) {
        fail(w, "%s: bad JSON: %s", mode_names[opt.mode], jerr.text);
        return -1;
    }
    int ok = 0;
    json_t *data = json_object_get(root, "data");
    if (!json_is_string(json_object_get(root, "id")) || !json_is_object(data)) {
        fail(w, "%s: no id or data", mode_names[opt.mode]);
    } else {
        char key[KEY_BYTES] = "";
        w->n_pairs = 0;
        flatten(w, data, key, 0, 0);
        const char *customer = NULL;
        for (size_t i = 0; i < w->n_pairs; i++)
            if (strcmp(w->pairs[i].key, "customer_id") == 0) customer = w->pairs[i].value;
        if ((long)w->n_pairs != opt.expect_count)
            fail(w, "%s: %zu entries, expected %ld", mode_names[opt.mode], w->n_pairs, opt.expect_count);
        else if (!customer || strcmp(customer, opt.expect_customer) != 0)
            fail(w, "%s: customer_id %s", mode_names[opt.mode], customer ? customer : "(none)");
        else
            ok = 1;
    }
    json_decref(root);
    return ok ? 0 : -1;
}

__attribute__((noinline)) static int lookup_raw(struct worker *w, const char *id) {
    if (build_url(w, id) != 0 || curl_easy_setopt(w->easy, CURLOPT_URL, w->url) != CURLE_OK) {
        fail(w, "raw: URL");
        return -1;
    }
    w->body.len = 0;
    w->error_buffer[0] = 0;
    return finish_curl(w, curl_easy_perform(w->easy));
}

__attribute__((noinline)) static int lookup_naive(struct worker *w, const char *id) {
    w->easy = curl_easy_init();
    w->headers = make_headers();
    w->body = (struct buf){.grow = 1};
    w->error_buffer[0] = 0;
    int result = -1;
    if (!w->easy || !w->headers || configure_easy(w) != 0 || build_url(w, id) != 0 ||
        curl_easy_setopt(w->easy, CURLOPT_URL, w->url) != CURLE_OK)
        fail(w, "naive: setup");
    else
        result = finish_curl(w, curl_easy_perform(w->easy));
    curl_easy_cleanup(w->easy);
    curl_slist_free_all(w->headers);
    free(w->body.data);
    w->easy = NULL;
    w->headers = NULL;
    w->body = (struct buf){0};
    return result;
}

/* ----------------------------------------------------------------- proc */

/* Flattens like the library (null included as "null"); jq's numbers are
 * doubles, so 9223372036854775807 comes out rounded: one reason not to. */
static const char jq_filter[] =
    ".data | paths(type != \"object\" and type != \"array\") as $p"
    " | \"\\($p | map(tostring) | join(\".\"))=\\(getpath($p))\"";

static int lookup_proc(struct worker *w, const char *id) {
    char escaped[1024], cmd[4096];
    if (!url_escape(escaped, sizeof escaped, id)) {
        fail(w, "proc: id");
        return -1;
    }
    int n = snprintf(cmd, sizeof cmd,
                     "curl -sS --max-time %d -H 'x-api-key: %s' %s%s%s"
                     " '%s/v1/%s/%s/handoff_state?shared_id=%s' | jq -r '%s'",
                     (opt.timeout_ms + 999) / 1000, opt.api_key, opt.ca_file ? "--cacert '" : "",
                     opt.ca_file ? opt.ca_file : "", opt.ca_file ? "'" : "", opt.url, opt.account, opt.project,
                     escaped, jq_filter);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        fail(w, "proc: command too long");
        return -1;
    }
    FILE *p = popen(cmd, "r");
    if (!p) {
        fail(w, "proc: popen: %s", strerror(errno));
        return -1;
    }
    char line[1024], expect[256];
    snprintf(expect, sizeof expect, "customer_id=%s\n", opt.expect_customer);
    long lines = 0;
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        lines++;
        if (strcmp(line, expect) == 0) found = 1;
    }
    int status = pclose(p);
    if (status != 0) {
        fail(w, "proc: pipeline exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    if (lines != opt.expect_count || !found) {
        fail(w, "proc: %ld lines, customer_id %s", lines, found ? "ok" : "missing");
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- threads */

static int lookup(struct worker *w, const char *id) {
    switch (opt.mode) {
    case MODE_LIB: return lookup_lib(w, id);
    case MODE_RAW: return lookup_raw(w, id);
    case MODE_NAIVE: return lookup_naive(w, id);
    case MODE_PROC: return lookup_proc(w, id);
    }
    return -1;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char id[256];
    if (strcmp(instr_scope, "none") != 0) w->perf_fd = perf_open(strcmp(instr_scope, "user") == 0);
    if (opt.mode == MODE_RAW) {
        /* Built once per thread, reused for every lookup. */
        w->easy = curl_easy_init();
        w->headers = make_headers();
        w->body = (struct buf){.data = malloc(BODY_LIMIT), .cap = BODY_LIMIT};
        if (!w->easy || !w->headers || !w->body.data || configure_easy(w) != 0) fail(w, "raw: setup");
    }
    for (long i = 0; i < opt.warmup && w->errors == 0; i++) {
        lookup_id(id, sizeof id, w->index, 0, i);
        lookup(w, id);
    }
    pthread_barrier_wait(&warm_barrier);
    pthread_barrier_wait(&go_barrier);
    if (w->perf_fd >= 0) {
        ioctl(w->perf_fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(w->perf_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
    for (long i = 0; i < opt.lookups && w->errors == 0; i++) {
        lookup_id(id, sizeof id, w->index, 1, i);
        uint64_t t0 = now_ns();
        int rc = lookup(w, id);
        uint64_t t1 = now_ns();
        if (rc != 0) break;
        w->lat[w->done++] = t1 - t0;
        if (t1 > deadline_ns) break;  /* time bound: the run reports truncated */
    }
    if (w->perf_fd >= 0) {
        ioctl(w->perf_fd, PERF_EVENT_IOC_DISABLE, 0);
        if (read(w->perf_fd, &w->instructions, sizeof w->instructions) != (ssize_t)sizeof w->instructions)
            w->instructions = 0;
        close(w->perf_fd);
    }
    if (opt.mode == MODE_RAW) {
        curl_easy_cleanup(w->easy);
        curl_slist_free_all(w->headers);
        free(w->body.data);
    }
    return NULL;
}

struct sampler {
    pthread_t thread;
    long max_kib;
    FILE *out;
    uint64_t t0;
};

static void *sampler_main(void *arg) {
    struct sampler *s = arg;
    /* Bounded: at most max_seconds + 60 samples of 1 s. */
    for (long i = 0; i < (long)opt.max_seconds + 60 && !atomic_load(&stop_sampler); i++) {
        long kib = rss_kib();
        if (kib > s->max_kib) s->max_kib = kib;
        if (s->out) fprintf(s->out, "%.1f %ld\n", (double)(now_ns() - s->t0) / 1e9, kib);
        for (int j = 0; j < 10 && !atomic_load(&stop_sampler); j++) usleep(100000);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double q) {
    if (n == 0) return 0;
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1] / 1000.0;
}

static double tv_us(struct timeval tv) { return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec; }

static void json_string_out(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --mode lib|raw|naive|proc --url BASE [--ca FILE] [--threads T]\n"
            "               [--lookups N] [--warmup W] [--max-seconds S] [--timeout-ms MS]\n"
            "               [--key K] [--fixture NAME] [--expect-count C] [--expect-customer ID]\n"
            "               [--set key=value]... [--percentiles-out FILE] [--rss-out FILE] [--label L]\n"
            "               [--fixed-id]\n"
            "       loadgen --versions\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--versions") == 0) {
            printf("{\"handoff\":\"%s\",\"libcurl\":\"%s\",\"jansson\":\"%s\"}\n", handoff_version(), curl_version(),
                   jansson_version_str());
            exit(0);
        }
        if (strcmp(a, "--fixed-id") == 0) {
            opt.fixed_id = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(a, "--mode") == 0) {
            int found = 0;
            for (int m = 0; m < 4; m++)
                if (strcmp(v, mode_names[m]) == 0) opt.mode = (enum mode)m, found = 1;
            if (!found) usage();
        } else if (strcmp(a, "--url") == 0) opt.url = v;
        else if (strcmp(a, "--ca") == 0) opt.ca_file = *v ? v : NULL;
        else if (strcmp(a, "--key") == 0) opt.api_key = v;
        else if (strcmp(a, "--fixture") == 0) opt.fixture = v;
        else if (strcmp(a, "--expect-customer") == 0) opt.expect_customer = v;
        else if (strcmp(a, "--expect-count") == 0) opt.expect_count = atol(v);
        else if (strcmp(a, "--threads") == 0) opt.threads = atoi(v);
        else if (strcmp(a, "--lookups") == 0) opt.lookups = atol(v);
        else if (strcmp(a, "--warmup") == 0) opt.warmup = atol(v);
        else if (strcmp(a, "--timeout-ms") == 0) opt.timeout_ms = atoi(v);
        else if (strcmp(a, "--max-seconds") == 0) opt.max_seconds = atof(v);
        else if (strcmp(a, "--percentiles-out") == 0) opt.percentiles_out = v;
        else if (strcmp(a, "--rss-out") == 0) opt.rss_out = v;
        else if (strcmp(a, "--label") == 0) opt.label = v;
        else if (strcmp(a, "--set") == 0 && opt.n_sets < MAX_SETS) opt.sets[opt.n_sets++] = v;
        else usage();
    }
    if (!opt.url || opt.threads < 1 || opt.threads > MAX_THREADS || opt.lookups < 1 || opt.lookups > 100000000 ||
        opt.warmup < 0 || opt.timeout_ms < 1 || opt.max_seconds <= 0)
        usage();
}

static int make_lib_client(void) {
    handoff_config *cfg = handoff_config_new();
    if (!cfg) return -1;
    struct { const char *k, *v; } keys[] = {
        {"base_url", opt.url}, {"account_id", opt.account}, {"project_id", opt.project},
        {"api_key", opt.api_key}, {"ca_file", opt.ca_file},
    };
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++) {
        if (!keys[i].v) continue;
        if (handoff_config_set(cfg, keys[i].k, keys[i].v) != HANDOFF_OK) {
            fprintf(stderr, "loadgen: %s: %s\n", keys[i].k, handoff_config_error(cfg));
            ok = 0;
        }
    }
    for (int i = 0; ok && i < opt.n_sets; i++) {
        char key[128];
        const char *eq = strchr(opt.sets[i], '=');
        if (!eq || (size_t)(eq - opt.sets[i]) >= sizeof key) usage();
        memcpy(key, opt.sets[i], (size_t)(eq - opt.sets[i]));
        key[eq - opt.sets[i]] = 0;
        if (handoff_config_set(cfg, key, eq + 1) != HANDOFF_OK) {
            fprintf(stderr, "loadgen: %s: %s\n", key, handoff_config_error(cfg));
            ok = 0;
        }
    }
    handoff_status st = HANDOFF_OK;
    if (ok) lib_client = handoff_client_new(cfg, &st);
    if (ok && !lib_client) fprintf(stderr, "loadgen: client: %s\n", handoff_config_error(cfg));
    handoff_config_free(cfg);
    return lib_client ? 0 : -1;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "loadgen: curl_global_init failed\n");
        return 2;
    }
    if (opt.mode == MODE_LIB && make_lib_client() != 0) return 2;

    int t = opt.threads;
    struct worker *workers = calloc((size_t)t, sizeof *workers);
    if (!workers) return 2;
    for (int i = 0; i < t; i++) {
        workers[i].index = i;
        workers[i].lat = malloc((size_t)opt.lookups * sizeof(uint64_t));
        if (!workers[i].lat) return 2;
        /* Fault the pages in before the run, so the soak's RSS does not count
         * them. Not 0: the compiler would make malloc+memset(0) a calloc,
         * which leaves fresh pages untouched. */
        memset(workers[i].lat, 0xa5, (size_t)opt.lookups * sizeof(uint64_t));
    }
    /* Opened here, on this thread, they would count it; each worker opens its own. */
    int probe = perf_open(0);
    if (probe >= 0) instr_scope = "all";
    else if ((probe = perf_open(1)) >= 0) instr_scope = "user";
    if (probe >= 0) close(probe);
    for (int i = 0; i < t; i++) workers[i].perf_fd = -1;
    pthread_barrier_init(&warm_barrier, NULL, (unsigned)t + 1);
    pthread_barrier_init(&go_barrier, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            return 2;
        }
    }

    pthread_barrier_wait(&warm_barrier);
    long rss_start = rss_kib();
    struct sampler sampler = {.max_kib = rss_start, .t0 = now_ns()};
    if (opt.rss_out) sampler.out = fopen(opt.rss_out, "w");
    pthread_create(&sampler.thread, NULL, sampler_main, &sampler);
    struct rusage self0, child0, self1, child1;
    getrusage(RUSAGE_SELF, &self0);
    getrusage(RUSAGE_CHILDREN, &child0);
    uint64_t t0 = now_ns();
    deadline_ns = t0 + (uint64_t)(opt.max_seconds * 1e9);
    pthread_barrier_wait(&go_barrier);
    for (int i = 0; i < t; i++) pthread_join(workers[i].thread, NULL);
    uint64_t t1 = now_ns();
    getrusage(RUSAGE_SELF, &self1);
    getrusage(RUSAGE_CHILDREN, &child1);
    long rss_end = rss_kib();
    atomic_store(&stop_sampler, 1);
    pthread_join(sampler.thread, NULL);
    if (sampler.out) fclose(sampler.out);
    if (rss_end > sampler.max_kib) sampler.max_kib = rss_end;

    long done = 0, errors = 0;
    uint64_t instructions = 0;
    int counted = strcmp(instr_scope, "none") != 0;
    const char *first_error = "";
    for (int i = 0; i < t; i++) {
        if (workers[i].perf_fd < 0) counted = 0;
        instructions += workers[i].instructions;
        done += workers[i].done;
        errors += workers[i].errors;
        if (!*first_error && workers[i].errors) first_error = workers[i].first_error;
    }
    int truncated = done < opt.lookups * t && errors == 0;
    uint64_t *all = malloc((size_t)(done ? done : 1) * sizeof(uint64_t));
    if (!all) return 2;
    size_t k = 0;
    double sum_us = 0;
    for (int i = 0; i < t; i++)
        for (long j = 0; j < workers[i].done; j++) {
            all[k++] = workers[i].lat[j];
            sum_us += (double)workers[i].lat[j] / 1000.0;
        }
    qsort(all, k, sizeof *all, cmp_u64);

    double wall = (double)(t1 - t0) / 1e9;
    double user_us = tv_us(self1.ru_utime) - tv_us(self0.ru_utime) + tv_us(child1.ru_utime) - tv_us(child0.ru_utime);
    double sys_us = tv_us(self1.ru_stime) - tv_us(self0.ru_stime) + tv_us(child1.ru_stime) - tv_us(child0.ru_stime);
    double per = done ? 1.0 / (double)done : 0;
    const char *proto = strncmp(opt.url, "https:", 6) == 0 ? "https" : "http";

    printf("{\"label\":");
    json_string_out(opt.label);
    printf(",\"mode\":\"%s\",\"proto\":\"%s\",\"threads\":%d,\"lookups\":%ld,\"errors\":%ld,\"truncated\":%d,"
           "\"wall_s\":%.4f,\"lookups_per_s\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"p999_us\":%.1f,\"max_us\":%.1f,\"cpu_us_per_lookup\":%.2f,\"user_us_per_lookup\":%.2f,"
           "\"sys_us_per_lookup\":%.2f,\"maxrss_kib\":%ld,\"child_maxrss_kib\":%ld,\"rss_start_kib\":%ld,"
           "\"rss_end_kib\":%ld,\"rss_max_kib\":%ld,\"instructions_per_lookup\":%.0f,\"instructions_scope\":\"%s\","
           "\"first_error\":",
           mode_names[opt.mode], proto, t, done, errors, truncated, wall, wall > 0 ? (double)done / wall : 0,
           sum_us * per, pct_us(all, k, 0.50), pct_us(all, k, 0.90), pct_us(all, k, 0.99), pct_us(all, k, 0.999),
           k ? (double)all[k - 1] / 1000.0 : 0, (user_us + sys_us) * per, user_us * per, sys_us * per,
           self1.ru_maxrss, child1.ru_maxrss, rss_start, rss_end, sampler.max_kib,
           counted && done ? (double)instructions / (double)done : -1, counted ? instr_scope : "none");
    json_string_out(first_error);
    printf("}\n");
    fflush(stdout);

    if (opt.percentiles_out && k) {
        /* "nines percentile latency_us": x = -log10(1 - q), for a
         * percentile plot (50% at 0.3, 99% at 2, 99.9% at 3). */
        FILE *f = fopen(opt.percentiles_out, "w");
        if (f) {
            double top = log10((double)k);
            for (double x = 0; x <= top + 1e-9; x += 0.02) {
                double q = 1.0 - pow(10.0, -x);
                fprintf(f, "%.3f %.5f %.1f\n", x, 100.0 * q, pct_us(all, k, q));
            }
            fclose(f);
        }
    }

    if (lib_client) handoff_client_free(lib_client);
    for (int i = 0; i < t; i++) free(workers[i].lat);
    free(workers);
    free(all);
    return errors ? 1 : 0;
}
