/*
 * test_render.c -- header and variable names and blocks: exact output for
 * the reference fixture, the meta lines on failures, injection attempts,
 * the selection and size bounds, exactly what handoff_result_truncated
 * counts, and repeated keys.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define ZOE "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m"
#define STATUS_HEADER "X-PolyAI-Handoff-Status"
#define STATUS_VARIABLE "POLYAI_HANDOFF_STATUS"

static const char acme_headers[] =
  "X-PolyAI-Handoff-Status: ok\r\n"
  "X-PolyAI-Conversation-Id: " ACME_123_ID "\r\n"
  "X-PolyAI-Shared-Id: acme-call-123\r\n"
  "X-PolyAI-Customer-Id: 12345\r\n"
  "X-PolyAI-Handoff-Reason: successfully_identified\r\n"
  "X-PolyAI-Handoff-To: billing\r\n"
  "X-PolyAI-Customer-Tier: gold\r\n"
  "X-PolyAI-Customer-Name: " ZOE "\r\n"
  "X-PolyAI-Customer-Account-Number: 9223372036854775807\r\n"
  "X-PolyAI-Customer-Balance: 1234.50\r\n"
  "X-PolyAI-Previous-Calls-0: 2026-11-01\r\n"
  "X-PolyAI-Previous-Calls-1: 2026-11-15\r\n"
  "X-PolyAI-Vip: true\r\n"
  "X-PolyAI-Notes: \r\n";

static const char acme_variables[] =
  "POLYAI_HANDOFF_STATUS=ok\n"
  "POLYAI_CONVERSATION_ID=" ACME_123_ID "\n"
  "POLYAI_SHARED_ID=acme-call-123\n"
  "POLYAI_CUSTOMER_ID=12345\n"
  "POLYAI_HANDOFF_REASON=successfully_identified\n"
  "POLYAI_HANDOFF_TO=billing\n"
  "POLYAI_CUSTOMER_TIER=gold\n"
  "POLYAI_CUSTOMER_NAME=" ZOE "\n"
  "POLYAI_CUSTOMER_ACCOUNT_NUMBER=9223372036854775807\n"
  "POLYAI_CUSTOMER_BALANCE=1234.50\n"
  "POLYAI_PREVIOUS_CALLS_0=2026-11-01\n"
  "POLYAI_PREVIOUS_CALLS_1=2026-11-15\n"
  "POLYAI_VIP=true\n"
  "POLYAI_NOTES=\n";

static int is_token(const char *s, size_t length) {
  size_t i;
  if (length == 0) return 0;
  for (i = 0; i < length; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && strchr("-.!%*_+`'~", c) == NULL) return 0;
    if (c >= 0x80) return 0;
  }
  return 1;
}

static int is_variable_name(const char *s, size_t length) {
  size_t i;
  if (length == 0) return 0;
  for (i = 0; i < length; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

/* The header block is "Name: value\r\n" lines and nothing else: every name a
 * token, unique regardless of case, no CR or LF but the line ends, no
 * X-Evil. Returns the number of lines. */
static size_t check_header_block(const char *block, const char *fixture) {
  const char *line = block, *end;
  char names[128][160];
  size_t count = 0, i;
  if (!CHECK(block != NULL)) return 0;
  while (*line) {
    const char *colon, *cr = strchr(line, '\r'), *lf = strchr(line, '\n');
    end = strstr(line, "\r\n");
    if (!CHECK(end != NULL && cr == end && lf == end + 1)) {
      fprintf(stderr, "    %s: bare CR or LF, or no CRLF, in header line ", fixture);
      check_print_string(stderr, line);
      fputs("\n", stderr);
      return count;
    }
    colon = strchr(line, ':');
    if (!CHECK(colon != NULL && colon < end && colon[1] == ' ' && is_token(line, (size_t)(colon - line)))) {
      fprintf(stderr, "    %s: bad header line ", fixture);
      check_print_string(stderr, line);
      fputs("\n", stderr);
    } else {
      size_t length = (size_t)(colon - line);
      if (!CHECK(strncasecmp(line, "X-Evil", 6) != 0)) fprintf(stderr, "    %s: injected header\n", fixture);
      for (i = 0; i < count && i < 128; i++)
        if (!CHECK(strlen(names[i]) != length || strncasecmp(names[i], line, length) != 0))
          fprintf(stderr, "    %s: header %s twice\n", fixture, names[i]);
      if (count < 128 && length < sizeof names[0]) {
        memcpy(names[count], line, length);
        names[count][length] = '\0';
      }
    }
    count++;
    line = end + 2;
  }
  return count;
}

/* The same for "NAME=value\n" lines. */
static size_t check_variables_block(const char *block, const char *fixture) {
  const char *line = block, *end;
  char names[128][160];
  size_t count = 0, i;
  if (!CHECK(block != NULL)) return 0;
  while (*line) {
    const char *equals;
    end = strchr(line, '\n');
    if (!CHECK(end != NULL)) return count;
    equals = strchr(line, '=');
    if (!CHECK(equals != NULL && equals < end && is_variable_name(line, (size_t)(equals - line)) &&
               memchr(line, '\r', (size_t)(end - line)) == NULL)) {
      fprintf(stderr, "    %s: bad variable line ", fixture);
      check_print_string(stderr, line);
      fputs("\n", stderr);
    } else {
      size_t length = (size_t)(equals - line);
      for (i = 0; i < count && i < 128; i++)
        if (!CHECK(strlen(names[i]) != length || strncmp(names[i], line, length) != 0))
          fprintf(stderr, "    %s: variable %s twice\n", fixture, names[i]);
      if (count < 128 && length < sizeof names[0]) {
        memcpy(names[count], line, length);
        names[count][length] = '\0';
      }
    }
    count++;
    line = end + 1;
  }
  return count;
}

/* Lines of a block after the meta lines must be the entries, in order. */
static void check_entries_in_blocks(const handoff_result *r, const char *fixture,
                                    const char *meta_header, const char *meta_variable) {
  const char *headers = handoff_result_header_block(r);
  const char *variables = handoff_result_variables_block(r);
  size_t i, count = handoff_result_count(r);
  size_t header_lines = check_header_block(headers, fixture);
  size_t variable_lines = check_variables_block(variables, fixture);
  char meta_line[256];

  /* The status line comes first, named with the configured prefix. */
  snprintf(meta_line, sizeof meta_line, "%s: %s\r\n", meta_header, handoff_status_name(handoff_result_status(r)));
  if (!CHECK(strncmp(headers, meta_line, strlen(meta_line)) == 0)) fprintf(stderr, "    (%s)\n", fixture);
  snprintf(meta_line, sizeof meta_line, "%s=%s\n", meta_variable, handoff_status_name(handoff_result_status(r)));
  if (!CHECK(strncmp(variables, meta_line, strlen(meta_line)) == 0)) fprintf(stderr, "    (%s)\n", fixture);
  size_t meta = 1 + (handoff_result_conversation_id(r) != NULL) + (handoff_result_shared_id(r) != NULL);
  char line[8192];

  if (!CHECK_INT(meta + count, variable_lines)) fprintf(stderr, "    (%s)\n", fixture);
  CHECK(header_lines <= meta + count);
  /* Entries left out of the header block are counted. */
  CHECK(handoff_result_truncated(r) >= meta + count - header_lines);
  for (i = 0; i < count; i++) {
    const char *name = handoff_result_header_name(r, i);
    const char *variable = handoff_result_variable_name(r, i);
    const char *value = handoff_result_value(r, i);
    if (!CHECK(name != NULL && variable != NULL && value != NULL)) continue;
    CHECK(is_token(name, strlen(name)));
    CHECK(is_variable_name(variable, strlen(variable)));
    CHECK(strpbrk(value, "\r\n") == NULL);
    snprintf(line, sizeof line, "%s=%s\n", variable, value);
    if (!CHECK_CONTAINS(variables, line)) fprintf(stderr, "    (%s)\n", fixture);
    if (header_lines == meta + count) {
      snprintf(line, sizeof line, "%s: %s\r\n", name, value);
      if (!CHECK_CONTAINS(headers, line)) fprintf(stderr, "    (%s)\n", fixture);
    }
  }
}

static void test_acme_blocks(handoff_client *client) {
  handoff_result *r = handoff_client_lookup(client, "acme-call-123", 0);
  check_acme_123(r);
  CHECK_STR(acme_headers, handoff_result_header_block(r));
  CHECK_STR(acme_variables, handoff_result_variables_block(r));
  CHECK_STR("X-PolyAI-Customer-Id", handoff_result_header_name(r, 0));
  CHECK_STR("X-PolyAI-Customer-Tier", handoff_result_header_name(r, 3));
  CHECK_STR("X-PolyAI-Previous-Calls-1", handoff_result_header_name(r, 8));
  CHECK_STR("POLYAI_CUSTOMER_ID", handoff_result_variable_name(r, 0));
  CHECK_STR("POLYAI_CUSTOMER_TIER", handoff_result_variable_name(r, 3));
  CHECK_STR("POLYAI_CUSTOMER_ACCOUNT_NUMBER", handoff_result_variable_name(r, 5));
  CHECK_STR("POLYAI_PREVIOUS_CALLS_0", handoff_result_variable_name(r, 7));
  CHECK(handoff_result_header_block(r) == handoff_result_header_block(r));
  check_entries_in_blocks(r, "acme-call-123", STATUS_HEADER, STATUS_VARIABLE);
  handoff_result_free(r);
}

static void test_failure_blocks(handoff_client *client) {
  static const char *const ids[] = {"no-such-call", "fault-500", "fault-garbage"};
  static const char *const names[] = {"not_found", "server_error", "protocol"};
  char line[128];
  size_t i;
  for (i = 0; i < 3; i++) {
    handoff_result *r = handoff_client_lookup(client, ids[i], 0);
    snprintf(line, sizeof line, "X-PolyAI-Handoff-Status: %s\r\n", names[i]);
    CHECK(strncmp(handoff_result_header_block(r), line, strlen(line)) == 0);
    CHECK_CONTAINS(handoff_result_header_block(r), line);
    snprintf(line, sizeof line, "POLYAI_HANDOFF_STATUS=%s\n", names[i]);
    CHECK(strncmp(handoff_result_variables_block(r), line, strlen(line)) == 0);
    CHECK_CONTAINS(handoff_result_variables_block(r), line);
    /* Only meta lines: no entries, no conversation id. */
    CHECK(check_header_block(handoff_result_header_block(r), ids[i]) <= 2);
    CHECK(check_variables_block(handoff_result_variables_block(r), ids[i]) <= 2);
    CHECK_NOT_CONTAINS(handoff_result_header_block(r), "Conversation-Id");
    handoff_result_free(r);
  }
}

static void test_every_fixture(handoff_client *client) {
  static const char *const ids[] = {"acme-call-123", "acme-call-456", "unicode-call", "number-edge",
                                    "header-injection", "empty-data", "deep", "duplicate-keys",
                                    "mended-duplicate-keys", "long-ids"};
  size_t i;
  for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    handoff_result *r = handoff_client_lookup(client, ids[i], 0);
    if (CHECK_STATUS(HANDOFF_OK, r)) check_entries_in_blocks(r, ids[i], STATUS_HEADER, STATUS_VARIABLE);
    handoff_result_free(r);
  }
  {
    handoff_result *r = handoff_client_lookup_id(client, SUPPORT_CONVERSATION_ID, 0);
    CHECK_STR("X-PolyAI-Handoff-Status: ok\r\n"
              "X-PolyAI-Conversation-Id: " SUPPORT_CONVERSATION_ID "\r\n"
              "X-PolyAI-Handoff-To: support\r\n"
              "X-PolyAI-Queue: tier2\r\n",
              handoff_result_header_block(r));
    CHECK_STR("POLYAI_HANDOFF_STATUS=ok\n"
              "POLYAI_CONVERSATION_ID=" SUPPORT_CONVERSATION_ID "\n"
              "POLYAI_HANDOFF_TO=support\n"
              "POLYAI_QUEUE=tier2\n",
              handoff_result_variables_block(r));
    handoff_result_free(r);
  }
}

static void test_header_injection(handoff_client *client) {
  handoff_result *r = handoff_client_lookup(client, "header-injection", 0);
  const char *headers = handoff_result_header_block(r);
  const char *variables = handoff_result_variables_block(r);
  size_t i;
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK(handoff_result_count(r) > 0);
  CHECK_NOT_CONTAINS(headers, "\r\nX-Evil");
  CHECK_NOT_CONTAINS(headers, "\nX-Evil");
  CHECK_NOT_CONTAINS(variables, "\nX-Evil");
  for (i = 0; i < handoff_result_count(r); i++) {
    const char *key = handoff_result_key(r, i), *value = handoff_result_value(r, i);
    const unsigned char *s;
    CHECK(strpbrk(key, "\r\n") == NULL);
    for (s = (const unsigned char *)value; *s; s++)
      if (!CHECK(*s >= 0x20 && *s != 0x7F)) fprintf(stderr, "    control byte in value of %s\n", key);
  }
  check_entries_in_blocks(r, "header-injection", STATUS_HEADER, STATUS_VARIABLE);
  handoff_result_free(r);
}

static void test_bounds(void) {
  handoff_client *client;
  handoff_result *r;
  const char *block;

  /* A small header block: whole lines of the full block, in order; each
   * entry line left out is counted. */
  client = sandbox_client_with("max_header_block_bytes", "256", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  block = handoff_result_header_block(r);
  CHECK(strlen(block) <= 256);
  {
    const char *full = acme_headers, *line = block;
    size_t kept = 0, total = 0;
    while (*full) {
      const char *end = strstr(full, "\r\n") + 2;
      total++;
      if (strncmp(line, full, (size_t)(end - full)) == 0) {
        line += end - full;
        kept++;
      }
      full = end;
    }
    if (!CHECK(*line == '\0')) {
      fputs("    not whole lines of the full block, in order: ", stderr);
      check_print_string(stderr, block);
      fputs("\n", stderr);
    }
    CHECK(kept >= 3 && kept < total);
    CHECK_INT(total - kept, handoff_result_truncated(r));
  }
  CHECK(strncmp(block, acme_headers, strlen("X-PolyAI-Handoff-Status: ok\r\n")) == 0);
  CHECK_INT(11, handoff_result_count(r));
  CHECK_STR(acme_variables, handoff_result_variables_block(r));
  handoff_result_free(r);
  handoff_client_free(client);

  /* The smallest block still has the status line. */
  client = sandbox_client_with("max_header_block_bytes", "128", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  block = handoff_result_header_block(r);
  CHECK(strlen(block) <= 128);
  CHECK(strncmp(block, "X-PolyAI-Handoff-Status: ok\r\n", 29) == 0);
  CHECK_INT(128, strlen(block)); /* the three meta lines fill it exactly */
  CHECK_INT(11, handoff_result_truncated(r));
  handoff_result_free(r);
  handoff_client_free(client);

  client = sandbox_client_with("include", "customer.*, handoff_to", "exclude", "customer.name", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_INT(4, handoff_result_count(r));
  CHECK_STR("handoff_to", handoff_result_key(r, 0));
  CHECK_STR("customer.tier", handoff_result_key(r, 1));
  CHECK_STR("customer.account_number", handoff_result_key(r, 2));
  CHECK_STR("customer.balance", handoff_result_key(r, 3));
  CHECK_INT(0, handoff_result_truncated(r)); /* left out as asked: not counted */
  CHECK_NULL(handoff_result_get(r, "customer_id"));
  /* data_json is not filtered. */
  CHECK_CONTAINS(handoff_result_data_json(r), "\"customer_id\":\"12345\"");
  handoff_result_free(r);
  handoff_client_free(client);

  /* Prefixes apply to the meta lines too. */
  client = sandbox_client_with("rename.handoff_to", "X-Queue", "header_prefix", "X-Acme-",
                               "variable_prefix", "ACME_", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK(strncmp(handoff_result_header_block(r), "X-Acme-Handoff-Status: ok\r\n", 27) == 0);
  CHECK(strncmp(handoff_result_variables_block(r), "ACME_HANDOFF_STATUS=ok\n", 23) == 0);
  CHECK_STR("X-Queue", handoff_result_header_name(r, 2));
  CHECK_STR("X-Acme-Customer-Id", handoff_result_header_name(r, 0));
  CHECK_STR("ACME_CUSTOMER_ID", handoff_result_variable_name(r, 0));
  CHECK_CONTAINS(handoff_result_header_block(r), "\r\nX-Queue: billing\r\n");
  CHECK_CONTAINS(handoff_result_header_block(r), "\r\nX-Acme-Customer-Tier: gold\r\n");
  CHECK_CONTAINS(handoff_result_variables_block(r), "\nACME_CUSTOMER_TIER=gold\n");
  check_entries_in_blocks(r, "acme-call-123 renamed", "X-Acme-Handoff-Status", "ACME_HANDOFF_STATUS");
  handoff_result_free(r);
  handoff_client_free(client);

  /* Values cut on a UTF-8 boundary: "Zo" then a two-byte character. */
  client = sandbox_client_with("max_value_bytes", "3", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STR("Zo", handoff_result_get(r, "customer.name"));
  CHECK_STR("123", handoff_result_get(r, "customer_id"));
  CHECK_STR("tru", handoff_result_get(r, "vip"));
  CHECK_STR("", handoff_result_get(r, "notes"));
  CHECK_INT(11, handoff_result_count(r));
  CHECK_INT(10, handoff_result_truncated(r)); /* every value but notes */
  CHECK_CONTAINS(handoff_result_data_json(r), ZOE);
  handoff_result_free(r);
  handoff_client_free(client);

  client = sandbox_client_with("max_entries", "2", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_INT(2, handoff_result_count(r));
  CHECK_INT(9, handoff_result_truncated(r));
  CHECK_STR("handoff_reason", handoff_result_key(r, 1));
  handoff_result_free(r);
  handoff_client_free(client);

  client = sandbox_client_with("max_entries", "0", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_INT(0, handoff_result_count(r));
  CHECK_INT(11, handoff_result_truncated(r));
  CHECK(strncmp(handoff_result_header_block(r), acme_headers, strlen(handoff_result_header_block(r))) == 0);
  handoff_result_free(r);
  handoff_client_free(client);

  /* max_depth 1: only top-level scalars. */
  client = sandbox_client_with("max_depth", "1", NULL);
  r = handoff_client_lookup(client, "acme-call-123", 0);
  CHECK_INT(5, handoff_result_count(r));
  CHECK_STR("customer_id", handoff_result_key(r, 0));
  CHECK_STR("handoff_to", handoff_result_key(r, 2));
  CHECK_STR("vip", handoff_result_key(r, 3));
  CHECK_STR("notes", handoff_result_key(r, 4));
  CHECK_INT(6, handoff_result_truncated(r)); /* the 4 customer.* and 2 previous_calls.* */
  handoff_result_free(r);
  handoff_client_free(client);
}

/* handoff_result_truncated counts, one each, the entries include/exclude keep
 * that max_depth or max_entries leave out, and the header-block lines left
 * out, meta lines too; never what include/exclude leave out. */
static void test_truncated_counts(void) {
  static const struct {
    const char *id, *key1, *value1, *key2, *value2;
    size_t count, truncated;
  } cases[] = {
    /* deep: one entry, l1.l2.....l12, 12 levels down. */
    {"deep", "include", "nothing.*", NULL, NULL, 0, 0},
    {"deep", "exclude", "l1.*", NULL, NULL, 0, 0},
    {"deep", "include", "l1.*", NULL, NULL, 0, 1},
    {"deep", NULL, NULL, NULL, NULL, 0, 1}, /* max_depth 8 */
    {"deep", "max_depth", "12", NULL, NULL, 1, 0},
    {"deep", "max_depth", "11", NULL, NULL, 0, 1},
    {"deep", "max_depth", "11", "include", "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12", 0, 1},
    {"deep", "max_depth", "11", "exclude", "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12", 0, 0},
    /* acme-call-123: 11 entries, 4 under customer, 2 under previous_calls. */
    {"acme-call-123", "max_entries", "0", "include", "nothing.*", 0, 0},
    {"acme-call-123", "max_entries", "1", "include", "customer.*", 1, 3},
    {"acme-call-123", "max_depth", "1", "include", "customer.*", 0, 4},
    {"acme-call-123", "max_depth", "1", "exclude", "customer.*", 5, 2},
    /* long-ids: a 100-byte conversation id, one entry. The block holds
     * Status (29 bytes), then Conversation-Id (128) only from 157 bytes. */
    {"long-ids", "max_header_block_bytes", "128", NULL, NULL, 1, 3},
    {"long-ids", "max_header_block_bytes", "156", NULL, NULL, 1, 3},
    {"long-ids", "max_header_block_bytes", "157", NULL, NULL, 1, 2},
    {"long-ids", NULL, NULL, NULL, NULL, 1, 0},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    handoff_client *client = cases[i].key1 == NULL ? sandbox_client()
                             : cases[i].key2 == NULL
                                 ? sandbox_client_with(cases[i].key1, cases[i].value1, NULL)
                                 : sandbox_client_with(cases[i].key1, cases[i].value1, cases[i].key2, cases[i].value2, NULL);
    handoff_result *r = handoff_client_lookup(client, cases[i].id, 0);
    int ok = CHECK_STATUS(HANDOFF_OK, r);
    ok &= CHECK_INT(cases[i].count, handoff_result_count(r));
    ok &= CHECK_INT(cases[i].truncated, handoff_result_truncated(r));
    if (!ok)
      fprintf(stderr, "    (%s, %s = %s, %s = %s)\n", cases[i].id, cases[i].key1 ? cases[i].key1 : "-",
              cases[i].value1 ? cases[i].value1 : "-", cases[i].key2 ? cases[i].key2 : "-",
              cases[i].value2 ? cases[i].value2 : "-");
    handoff_result_free(r);
    handoff_client_free(client);
  }
  {
    handoff_client *client = sandbox_client_with("max_header_block_bytes", "157", NULL);
    handoff_result *r = handoff_client_lookup(client, "long-ids", 0);
    CHECK_STR("X-PolyAI-Handoff-Status: ok\r\nX-PolyAI-Conversation-Id: long-ids-conversation-"
              "000000000000000000000000000000000000000000000000000000000000000000000000000000\r\n",
              handoff_result_header_block(r));
    handoff_result_free(r);
    handoff_client_free(client);
  }
}

/* A repeated key is one key, with its last value at its first place, in
 * every output; keys equal only once flattened stay two entries. */
static void test_duplicate_keys(handoff_client *client) {
  handoff_result *r = handoff_client_lookup(client, "duplicate-keys", 0);
  static const char *const keys[] = {"queue", "tier", "intent.secondary", "a.b", "a.b"};
  static const char *const values[] = {"second", "gold", "cancel", "flat", "nested"};
  size_t i;
  if (CHECK_STATUS(HANDOFF_OK, r) && CHECK_INT(5, handoff_result_count(r))) {
    for (i = 0; i < 5; i++) {
      CHECK_STR(keys[i], handoff_result_key(r, i));
      CHECK_STR(values[i], handoff_result_value(r, i));
    }
  }
  CHECK_STR("second", handoff_result_get(r, "queue"));
  CHECK_NULL(handoff_result_get(r, "intent.primary"));
  CHECK_STR("flat", handoff_result_get(r, "a.b")); /* the first of the two */
  CHECK_STR("{\"queue\":\"second\",\"tier\":\"gold\",\"intent\":{\"secondary\":\"cancel\"},"
            "\"a.b\":\"flat\",\"a\":{\"b\":\"nested\"}}",
            handoff_result_data_json(r));
  CHECK_STR("X-PolyAI-Handoff-Status: ok\r\n"
            "X-PolyAI-Conversation-Id: dup-1\r\n"
            "X-PolyAI-Shared-Id: duplicate-keys\r\n"
            "X-PolyAI-Queue: second\r\n"
            "X-PolyAI-Tier: gold\r\n"
            "X-PolyAI-Intent-Secondary: cancel\r\n"
            "X-PolyAI-A-B: flat\r\n"
            "X-PolyAI-A-B-2: nested\r\n",
            handoff_result_header_block(r));
  CHECK_STR("POLYAI_HANDOFF_STATUS=ok\n"
            "POLYAI_CONVERSATION_ID=dup-1\n"
            "POLYAI_SHARED_ID=duplicate-keys\n"
            "POLYAI_QUEUE=second\n"
            "POLYAI_TIER=gold\n"
            "POLYAI_INTENT_SECONDARY=cancel\n"
            "POLYAI_A_B=flat\n"
            "POLYAI_A_B_2=nested\n",
            handoff_result_variables_block(r));
  CHECK_INT(0, handoff_result_truncated(r));
  handoff_result_free(r);

  /* "a\xff" and "a\xfe" both become "a\xef\xbf\xbd" (U+FFFD): one key, the
   * last value. "id" is repeated too: the last one counts. */
  r = handoff_client_lookup(client, "mended-duplicate-keys", 0);
  CHECK_STATUS(HANDOFF_OK, r);
  CHECK_STR("dup-2", handoff_result_conversation_id(r));
  CHECK_STR("mended-duplicate-keys", handoff_result_shared_id(r));
  if (CHECK_INT(2, handoff_result_count(r))) {
    CHECK_STR("a\xef\xbf\xbd", handoff_result_key(r, 0));
    CHECK_STR("3", handoff_result_value(r, 0));
    CHECK_STR("b", handoff_result_key(r, 1));
    CHECK_STR("2", handoff_result_value(r, 1));
  }
  CHECK_STR("3", handoff_result_get(r, "a\xef\xbf\xbd"));
  CHECK_STR("{\"a\xef\xbf\xbd\":\"3\",\"b\":\"2\"}", handoff_result_data_json(r));
  CHECK_CONTAINS(handoff_result_header_block(r), "\r\nX-PolyAI-A: 3\r\nX-PolyAI-B: 2\r\n");
  CHECK_INT(0, handoff_result_truncated(r));
  handoff_result_free(r);
}

int main(void) {
  handoff_client *client = sandbox_client();
  test_acme_blocks(client);
  test_failure_blocks(client);
  test_every_fixture(client);
  test_header_injection(client);
  test_duplicate_keys(client);
  handoff_client_free(client);
  test_bounds();
  test_truncated_counts();
  return check_summary("test_render");
}
