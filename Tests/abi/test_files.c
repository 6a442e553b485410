/*
 * test_files.c -- the files a configuration names: api_key_file, a config
 * file (handoff_init, handoff_config_load_file) and ca_file. A FIFO, a
 * directory or a symlink to either is refused at once with a message naming
 * the setting and the path; a symlink to a regular file works. A key file's
 * byte order mark is not part of the key, and a key file others can read is
 * warned about, once. Config files with CR LF line ends and a byte order mark
 * load; "[section]" lines are refused; base_url is checked byte by byte.
 *
 * Every call that could block on a FIFO runs under alarm(): a regression
 * kills the test (SIGALRM) instead of hanging it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "log_capture.h"

/* A refused file must be refused this fast (it used to block forever). */
#define PROMPT_MS 2000.0

static char dir[256];

static void path_in_dir(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", dir, name);
}

static unsigned guard_seconds(void) { return (unsigned)(30 * test_time_scale()); }

static void write_file(const char *path, const char *text, size_t length) {
  FILE *file = fopen(path, "wb");
  if (file == NULL || fwrite(text, 1, length, file) != length || fclose(file) != 0) {
    perror(path);
    exit(2);
  }
}

/* The call's error names the setting, the path and what the path is. */
static void check_refusal(const char *message, const char *setting, const char *path, const char *kind) {
  CHECK_CONTAINS(message, setting);
  CHECK_CONTAINS(message, path);
  CHECK_CONTAINS(message, kind);
}

static void check_prompt(double started, const char *what) {
  double took = now_ms() - started;
  if (!CHECK(took < PROMPT_MS * test_time_scale())) fprintf(stderr, "    %s took %.0f ms\n", what, took);
}

/* Each setting that names a file, given a non-regular file. */
static void refuse_everywhere(const char *path, const char *kind) {
  handoff_config *config = handoff_config_new();
  char text[512], *file;
  double started;

  alarm(guard_seconds());
  started = now_ms();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "api_key_file", path));
  check_prompt(started, "api_key_file");
  check_refusal(handoff_config_error(config), "api_key_file", path, kind);

  started = now_ms();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, path));
  check_prompt(started, "handoff_config_load_file");
  check_refusal(handoff_config_error(config), "config file", path, kind);

  started = now_ms();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(path));
  check_prompt(started, "handoff_init");
  check_refusal(handoff_init_error(), "config file", path, kind);

  started = now_ms();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "ca_file", path));
  check_prompt(started, "ca_file");
  check_refusal(handoff_config_error(config), "ca_file", path, kind);

  /* Named inside a config file: the file and line come first. */
  snprintf(text, sizeof text, "# keys\napi_key_file = %s\n", path);
  file = temp_file(text);
  started = now_ms();
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
  check_prompt(started, "api_key_file in a config file");
  check_refusal(handoff_config_error(config), "api_key_file", path, kind);
  CHECK_CONTAINS(handoff_config_error(config), ":2: ");
  temp_file_remove(file);
  alarm(0);
  handoff_config_free(config);
}

static void test_fifos_and_directories(void) {
  char fifo[300], subdir[300], link_to_fifo[300];
  path_in_dir(fifo, sizeof fifo, "fifo");
  path_in_dir(subdir, sizeof subdir, "subdir");
  path_in_dir(link_to_fifo, sizeof link_to_fifo, "link-to-fifo");
  if (!CHECK(mkfifo(fifo, 0600) == 0) || !CHECK(mkdir(subdir, 0700) == 0) ||
      !CHECK(symlink(fifo, link_to_fifo) == 0)) {
    perror("setup");
    return;
  }
  refuse_everywhere(fifo, "FIFO");
  refuse_everywhere(link_to_fifo, "FIFO");
  refuse_everywhere(subdir, "directory");
  unlink(link_to_fifo);
  unlink(fifo);
  rmdir(subdir);
}

/* ca_file is checked when set but read by handoff_client_new (https only):
 * a file that became a FIFO in between is refused there, and OpenSSL never
 * opens it. */
static void test_ca_file_replaced_by_fifo(void) {
  char ca[300], fifo[300];
  handoff_config *config;
  handoff_status status = HANDOFF_OK;
  double started;
  path_in_dir(ca, sizeof ca, "ca.pem");
  path_in_dir(fifo, sizeof fifo, "ca-fifo");
  write_file(ca, "placeholder\n", 12);
  config = handoff_config_new();
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", "https://127.0.0.1:1"));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "account_id", SANDBOX_ACCOUNT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "project_id", SANDBOX_PROJECT));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key", SANDBOX_API_KEY));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "ca_file", ca));
  if (!CHECK(mkfifo(fifo, 0600) == 0) || !CHECK(rename(fifo, ca) == 0)) return;

  alarm(guard_seconds());
  started = now_ms();
  CHECK(handoff_client_new(config, &status) == NULL);
  check_prompt(started, "handoff_client_new with a FIFO ca_file");
  alarm(0);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, status);
  check_refusal(handoff_config_error(config), "ca_file", ca, "FIFO");
  handoff_config_free(config);
  unlink(ca);
}

static handoff_result *lookup_with_key_file(const char *key_file) {
  handoff_config *config = sandbox_config_with("api_key_file", key_file, NULL);
  handoff_client *client = sandbox_client_from(config);
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 0);
  handoff_client_free(client);
  return r;
}

static void test_key_files(void) {
  char key[300], link_to_key[300], bom_key[300], open_key[300];
  handoff_config *config;
  handoff_result *r;
  int lines;

  path_in_dir(key, sizeof key, "key");
  path_in_dir(link_to_key, sizeof link_to_key, "link-to-key");
  path_in_dir(bom_key, sizeof bom_key, "bom-key");
  path_in_dir(open_key, sizeof open_key, "open-key");
  write_file(key, SANDBOX_API_KEY "\n", strlen(SANDBOX_API_KEY) + 1);
  write_file(bom_key, "\xEF\xBB\xBF" SANDBOX_API_KEY "\r\n", strlen(SANDBOX_API_KEY) + 5);
  write_file(open_key, SANDBOX_API_KEY "\n", strlen(SANDBOX_API_KEY) + 1);
  chmod(key, 0600);
  chmod(bom_key, 0400);
  chmod(open_key, 0644);
  if (!CHECK(symlink(key, link_to_key) == 0)) return;

  handoff_set_log_callback(collect, NULL);
  reset_log();

  /* A Kubernetes secret is a symlink to the file. */
  r = lookup_with_key_file(link_to_key);
  check_acme_123(r);
  handoff_result_free(r);

  /* Notepad's byte order mark is not part of the key (it used to be: 403). */
  r = lookup_with_key_file(bom_key);
  check_acme_123(r);
  handoff_result_free(r);
  CHECK_INT(0, count_lines()); /* owner-only files: no warning */

  /* Readable by others: one warning naming the file, however often it is read. */
  r = lookup_with_key_file(open_key);
  check_acme_123(r);
  handoff_result_free(r);
  lines = count_lines();
  CHECK_INT(1, lines);
  pthread_mutex_lock(&log_lock);
  CHECK_CONTAINS(log_text, "api_key_file");
  CHECK_CONTAINS(log_text, open_key);
  CHECK_CONTAINS(log_text, "group or others");
  CHECK_CONTAINS(log_text, "0644");
  CHECK_NOT_CONTAINS(log_text, SANDBOX_API_KEY);
  pthread_mutex_unlock(&log_lock);
  config = handoff_config_new();
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key_file", open_key));
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "api_key_file", open_key));
  handoff_config_free(config);
  CHECK_INT(1, count_lines());

  handoff_set_log_callback(NULL, NULL);
  unlink(link_to_key);
  unlink(key);
  unlink(bom_key);
  unlink(open_key);
}

/* A file written on Windows: CR LF line ends, maybe a byte order mark. It
 * used to be refused ("base_url: must not contain spaces or control
 * characters"): as Swift Characters "\r\n" is one, so no line ever split. */
static void test_crlf_and_bom_config(void) {
  static const char *const starts[] = {"", "\xEF\xBB\xBF"};
  size_t i;
  for (i = 0; i < 2; i++) {
    char text[1024], *file;
    handoff_config *config = handoff_config_new();
    handoff_result *r;
    snprintf(text, sizeof text,
             "%s# written on Windows\r\n"
             "base_url = %s\r\n"
             "account_id = " SANDBOX_ACCOUNT "\r\n"
             "project_id = \"" SANDBOX_PROJECT "\"\r\n"
             "\r\n"
             "api_key = " SANDBOX_API_KEY "\r\n"
             "variable_prefix = CRLF_\r\n",
             starts[i], sandbox_url());
    file = temp_file(text);
    if (!CHECK_INT(HANDOFF_OK, handoff_config_load_file(config, file)))
      fprintf(stderr, "    %s\n", handoff_config_error(config));
    check_config_lookup(config, "CRLF_CUSTOMER_ID");

    /* handoff_init reads the same way. */
    if (!CHECK_INT(HANDOFF_OK, handoff_init(file))) fprintf(stderr, "    %s\n", handoff_init_error());
    r = handoff_lookup("acme-call-123");
    check_acme_123(r);
    handoff_result_free(r);
    handoff_shutdown();
    temp_file_remove(file);
  }
  /* A byte order mark anywhere but the start is no blank. */
  {
    handoff_config *config = handoff_config_new();
    char *file = temp_file("timeout_ms = 100\n\xEF\xBB\xBFretries = 1\n");
    CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
    CHECK_CONTAINS(handoff_config_error(config), ":2: ");
    temp_file_remove(file);
    handoff_config_free(config);
  }
  /* Environment values trimmed as bytes too: "\r\n" used to stay. */
  {
    handoff_config *config = handoff_config_new();
    setenv("POLYAI_HANDOFF_TIMEOUT_MS", "1500\r\n", 1);
    if (!CHECK_INT(HANDOFF_OK, handoff_config_load_env(config)))
      fprintf(stderr, "    %s\n", handoff_config_error(config));
    unsetenv("POLYAI_HANDOFF_TIMEOUT_MS");
    handoff_config_free(config);
  }
}

/* "[section]" lines are refused, naming the file and line: they used to be
 * skipped, so keys of two sections silently overrode each other. */
static void test_sections_refused(void) {
  handoff_config *config = sandbox_config_with(NULL);
  char *file = temp_file("variable_prefix = SECTION_\n[polyai]\nretries = 0\n");
  char where[512];
  snprintf(where, sizeof where, "%s:2: ", file);
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_load_file(config, file));
  CHECK_CONTAINS(handoff_config_error(config), where);
  CHECK_CONTAINS(handoff_config_error(config), "[section]");
  CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_init(file));
  CHECK_CONTAINS(handoff_init_error(), where);
  /* Nothing of the file was applied. */
  check_config_lookup(config, "POLYAI_CUSTOMER_ID");
  temp_file_remove(file);
}

/* base_url is checked on bytes, as libcurl reads it: "@" or " " followed by
 * a combining mark is one Swift Character, and used to slip through. */
static void test_base_url_bytes(void) {
  static const char *const refused[] = {
    "https://user@\xCC\x81" "api.example.com",  /* "@" + U+0301 */
    "https://user:pw@\xCC\x81" "127.0.0.1",
    "https://a \xCC\x81" "b.example.com",       /* " " + U+0301 */
    "http://127.0.0.1:1/?\xCC\x81",            /* "?" + U+0301 */
    "https://api.example.com\xEF\xBC\xA0" "evil.example", /* U+FF20 FULLWIDTH COMMERCIAL AT */
  };
  handoff_config *config = handoff_config_new();
  size_t i;
  for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    if (!CHECK_INT(HANDOFF_INVALID_ARGUMENT, handoff_config_set(config, "base_url", refused[i])))
      fprintf(stderr, "    accepted base_url %s\n", refused[i]);
    CHECK_CONTAINS(handoff_config_error(config), "base_url");
  }
  CHECK_INT(HANDOFF_OK, handoff_config_set(config, "base_url", "HTTPS://api.example.com/polyai/"));
  handoff_config_free(config);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/handoff-files-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  test_fifos_and_directories();
  test_ca_file_replaced_by_fifo();
  test_key_files();
  test_crlf_and_bom_config();
  test_sections_refused();
  test_base_url_bytes();
  rmdir(dir);
  return check_summary("test_files");
}
