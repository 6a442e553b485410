/*
 * polyai-handoff -- look up the PolyAI handoff state of one call from a shell.
 *
 * The first client of include/polyai_handoff.h, and uses nothing else of the
 * library. The exit code is the handoff_status, so a dialplan can branch on it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyai_handoff.h"

#define PROGRAM "polyai-handoff"
/* sysexits.h: bad flags, and stdout could not be written. */
#define EXIT_USAGE 64
#define EXIT_OUTPUT 74

#define API_KEY_REFUSED                                                          \
  "the API key is not accepted as a flag (it would show in ps); use "           \
  "POLYAI_HANDOFF_API_KEY, api_key in a --config file, or --api-key-file"

enum format { FORMAT_VARS, FORMAT_HEADERS, FORMAT_JSON, FORMAT_ENTRIES };

/* One configuration setting from a flag, applied in command-line order. */
struct setting {
  const char *key;
  const char *value;
  char *owned; /* for --set: a copy of "key=value" split in place */
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROGRAM " (--shared-id ID | --id ID) [options]\n"
          "       " PROGRAM " reserve-dni --shared-id ID [--attr KEY=VALUE]... [options]\n"
          "       " PROGRAM " reserve-dni --shared-id ID --attributes-json JSON [options]\n"
          "       " PROGRAM " --help | --version\n"
          "\n"
          "Looks up the PolyAI handoff state of one call and prints it; with\n"
          "reserve-dni, reserves a DNI for a call about to be sent to the agent and\n"
          "prints the number.\n"
          "\n"
          "  --shared-id ID       the integrator's shared id of the call\n"
          "  --id ID              the PolyAI conversation id\n"
          "  --config FILE        ini file of configuration keys (read first)\n"
          "  --region R           us-1, uk-1 or euw-1\n"
          "  --base-url URL       overrides the region (https://, or http:// to loopback)\n"
          "  --account-id A       PolyAI account (workspace) id\n"
          "  --project-id P       PolyAI project (agent) id\n"
          "  --api-key-file F     file whose first line is the API key\n"
          "  --timeout-ms N       total deadline of the lookup\n"
          "  --ca-file F          PEM bundle of trusted CAs\n"
          "  --set KEY=VALUE      any configuration key (repeatable)\n"
          "  --format FORMAT      vars (default), headers, json or entries\n"
          "                       (reserve-dni: vars or json)\n"
          "  --quiet              no error line on stderr\n"
          "\n"
          "reserve-dni only:\n"
          "  --attr KEY=VALUE     an attribute the agent reads (repeatable); a dotted\n"
          "                       KEY nests, every VALUE is a JSON string, escaped\n"
          "  --attributes-json J  the attributes as one JSON object instead\n"
          "  --dni-api-key-file F file whose first line is the DNI reservation key\n"
          "                       (default: the API key)\n"
          "\n"
          "Settings apply in this order, later ones winning: --config FILE, then\n"
          "POLYAI_HANDOFF_<KEY> environment variables, then flags in the order given.\n"
          "The API key is never taken from a flag (it would show in ps): use\n"
          "POLYAI_HANDOFF_API_KEY, api_key in the config file, or --api-key-file.\n"
          "\n"
          "Formats:\n"
          "  vars     NAME=value lines, POLYAI_HANDOFF_STATUS first\n"
          "  headers  SIP header lines (CRLF), X-PolyAI-Handoff-Status first\n"
          "  entries  key=value lines of the flattened data\n"
          "  json     one object: status, http_status, conversation_id, shared_id,\n"
          "           error, data\n"
          "A failed lookup still prints the requested format (its status line says\n"
          "why) and writes \"" PROGRAM ": STATUS: reason\" to stderr.\n"
          "reserve-dni prints POLYAI_HANDOFF_STATUS=... and POLYAI_DNI=+NUMBER (vars),\n"
          "or {\"status\", \"http_status\", \"dni\", \"error\"} (json).\n"
          "\n"
          "Exit codes (the handoff_status of the lookup):\n"
          "   0 ok                the handoff state was found\n"
          "   1 invalid_argument  bad id or configuration; nothing was sent\n"
          "   2 bad_request       the API answered 400\n"
          "   3 unauthorized      the API answered 401\n"
          "   4 forbidden         the API answered 403\n"
          "   5 not_found         the API answered 404: no state for this id\n"
          "   6 server_error      the API answered 5xx\n"
          "   7 timeout           no full answer before the deadline\n"
          "   8 network           DNS, connect, TLS or transfer failure\n"
          "   9 protocol          an answer that is not the documented API\n"
          "  10 not_initialized   (not used by this program)\n"
          "  11 unavailable       failed fast: the API has been failing (circuit\n"
          "                       breaker) or too many lookups are running\n"
          "  64 usage             bad flags\n"
          "  74 output            stdout could not be written\n");
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...) {
  va_list args;
  fputs(PROGRAM ": ", stderr);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputs("\n\n", stderr);
  usage(stderr);
  return EXIT_USAGE;
}

/* The length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) return (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    unsigned char lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
    return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
  }
  if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    unsigned char lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4 : 0;
  }
  return 0;
}

/* A JSON string, or null for NULL. Invalid UTF-8 becomes U+FFFD so the
 * output always parses. */
static void put_json_string(FILE *out, const char *text) {
  const unsigned char *s = (const unsigned char *)text;
  if (text == NULL) {
    fputs("null", out);
    return;
  }
  fputc('"', out);
  while (*s) {
    size_t length;
    switch (*s) {
    case '"': fputs("\\\"", out); s++; continue;
    case '\\': fputs("\\\\", out); s++; continue;
    case '\n': fputs("\\n", out); s++; continue;
    case '\r': fputs("\\r", out); s++; continue;
    case '\t': fputs("\\t", out); s++; continue;
    default: break;
    }
    if (*s < 0x20 || *s == 0x7F) {
      fprintf(out, "\\u%04x", (unsigned)*s);
      s++;
      continue;
    }
    length = utf8_sequence(s);
    if (length == 0) {
      fputs("\xEF\xBF\xBD", out);
      s++;
    } else {
      fwrite(s, 1, length, out);
      s += length;
    }
  }
  fputc('"', out);
}

static void print_result(FILE *out, const handoff_result *result, enum format format,
                         const char *error) {
  size_t i, count;
  const char *data;
  switch (format) {
  case FORMAT_VARS:
    fputs(handoff_result_variables_block(result), out);
    break;
  case FORMAT_HEADERS:
    fputs(handoff_result_header_block(result), out);
    break;
  case FORMAT_ENTRIES:
    count = handoff_result_count(result);
    for (i = 0; i < count; i++)
      fprintf(out, "%s=%s\n", handoff_result_key(result, i), handoff_result_value(result, i));
    break;
  case FORMAT_JSON:
    data = handoff_result_data_json(result);
    fputs("{\"status\":", out);
    put_json_string(out, handoff_status_name(handoff_result_status(result)));
    fprintf(out, ",\"http_status\":%d,\"conversation_id\":", handoff_result_http_status(result));
    put_json_string(out, handoff_result_conversation_id(result));
    fputs(",\"shared_id\":", out);
    put_json_string(out, handoff_result_shared_id(result));
    fputs(",\"error\":", out);
    put_json_string(out, error);
    /* The library promises compact JSON; "{}" keeps the line valid if not. */
    fprintf(out, ",\"data\":%s}\n", data != NULL && *data ? data : "{}");
    break;
  }
}

/* Applies the flag settings in order; on failure returns the status and
 * leaves the reason in handoff_config_error(config). */
static handoff_status apply_settings(handoff_config *config, const struct setting *settings,
                                     size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    handoff_status status = handoff_config_set(config, settings[i].key, settings[i].value);
    if (status != HANDOFF_OK) return status;
  }
  return HANDOFF_OK;
}

/* Whether a --set key names the API key itself (its value would show in ps).
 * Surrounding blanks are ignored in case a config parser ever trims them. */
static int is_api_key(const char *key) {
  size_t length;
  key += strspn(key, " \t");
  length = strlen(key);
  while (length > 0 && (key[length - 1] == ' ' || key[length - 1] == '\t')) length--;
  return (length == strlen("api_key") && strncmp(key, "api_key", length) == 0) ||
         (length == strlen("dni_api_key") && strncmp(key, "dni_api_key", length) == 0);
}

/* Prints a reservation as vars or json. */
static void print_reservation(FILE *out, const handoff_reservation *r, enum format format, const char *error) {
  handoff_status status = handoff_reservation_status(r);
  const char *dni = handoff_reservation_dni(r);
  if (format == FORMAT_JSON) {
    fprintf(out, "{\"status\":\"%s\",\"http_status\":%d,\"dni\":", handoff_status_name(status),
            handoff_reservation_http_status(r));
    if (dni != NULL) put_json_string(out, dni);
    else fputs("null", out);
    fputs(",\"error\":", out);
    put_json_string(out, error);
    fputs("}\n", out);
    return;
  }
  fprintf(out, "POLYAI_HANDOFF_STATUS=%s\n", handoff_status_name(status));
  /* Only digits and a '+': nothing here can break a line or a shell. */
  if (dni != NULL) fprintf(out, "POLYAI_DNI=%s\n", dni);
}

int main(int argc, char **argv) {
  static const struct option options[] = {
    {"shared-id", required_argument, NULL, 's'},
    {"id", required_argument, NULL, 'i'},
    {"config", required_argument, NULL, 'c'},
    {"region", required_argument, NULL, 'r'},
    {"base-url", required_argument, NULL, 'b'},
    {"account-id", required_argument, NULL, 'a'},
    {"project-id", required_argument, NULL, 'p'},
    {"api-key-file", required_argument, NULL, 'k'},
    /* Only to refuse it: getopt_long would otherwise take "--api-key" as an
     * abbreviation of --api-key-file. */
    {"api-key", required_argument, NULL, 'K'},
    {"timeout-ms", required_argument, NULL, 't'},
    {"ca-file", required_argument, NULL, 'C'},
    {"set", required_argument, NULL, 'S'},
    {"format", required_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"attr", required_argument, NULL, 'A'},
    {"attributes-json", required_argument, NULL, 'J'},
    {"dni-api-key-file", required_argument, NULL, 'D'},
    {"dni-api-key", required_argument, NULL, 'K'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  struct setting *settings;
  size_t setting_count = 0, i;
  const char *shared_id = NULL, *conversation_id = NULL, *config_path = NULL, *attributes_json = NULL;
  int reserve = argc > 1 && strcmp(argv[1], "reserve-dni") == 0;
  handoff_attributes *attributes = NULL;
  handoff_reservation *reservation = NULL;
  enum format format = FORMAT_VARS;
  int quiet = 0, option, exit_code;
  handoff_config *config = NULL;
  handoff_client *client = NULL;
  handoff_result *result = NULL;
  handoff_status status;
  const char *error;
  char *config_error = NULL;

  /* Every option adds at most one setting. */
  settings = calloc((size_t)(argc > 0 ? argc : 1), sizeof *settings);
  if (settings == NULL) {
    fputs(PROGRAM ": out of memory\n", stderr);
    return HANDOFF_INVALID_ARGUMENT;
  }

  if (reserve) {
    /* The subcommand: getopt reads the flags after it. */
    argv[1] = argv[0];
    argv++;
    argc--;
  }
  opterr = 0;
  /* ":" first: a missing value returns ':' rather than '?'. */
  while ((option = getopt_long(argc, argv, ":", options, NULL)) != -1) {
    struct setting *next = &settings[setting_count];
    switch (option) {
    case 's':
    case 'i':
      if (shared_id != NULL || conversation_id != NULL) {
        exit_code = usage_error("give exactly one of --shared-id and --id");
        goto done;
      }
      *(option == 's' ? &shared_id : &conversation_id) = optarg;
      break;
    case 'c': config_path = optarg; break;
    case 'A':
    case 'J':
      if (!reserve) {
        exit_code = usage_error("%s is for reserve-dni", option == 'A' ? "--attr" : "--attributes-json");
        goto done;
      }
      if (option == 'J') {
        attributes_json = optarg;
      } else {
        char *copy = strdup(optarg), *equals = copy != NULL ? strchr(copy, '=') : NULL;
        if (attributes == NULL) attributes = handoff_attributes_new();
        if (equals == NULL || equals == copy) {
          free(copy);
          exit_code = usage_error("--attr needs KEY=VALUE, got \"%s\"", optarg);
          goto done;
        }
        *equals = '\0';
        if (handoff_attributes_set(attributes, copy, equals + 1) != HANDOFF_OK) {
          exit_code = usage_error("--attr %s: %s", copy, handoff_attributes_error(attributes));
          free(copy);
          goto done;
        }
        free(copy);
      }
      break;
    case 'D': next->key = "dni_api_key_file"; next->value = optarg; setting_count++; break;
    case 'r': next->key = "region"; next->value = optarg; setting_count++; break;
    case 'b': next->key = "base_url"; next->value = optarg; setting_count++; break;
    case 'a': next->key = "account_id"; next->value = optarg; setting_count++; break;
    case 'p': next->key = "project_id"; next->value = optarg; setting_count++; break;
    case 'k': next->key = "api_key_file"; next->value = optarg; setting_count++; break;
    case 't': next->key = "timeout_ms"; next->value = optarg; setting_count++; break;
    case 'C': next->key = "ca_file"; next->value = optarg; setting_count++; break;
    case 'S': {
      char *equals;
      next->owned = strdup(optarg);
      if (next->owned == NULL) {
        fputs(PROGRAM ": out of memory\n", stderr);
        exit_code = HANDOFF_INVALID_ARGUMENT;
        goto done;
      }
      setting_count++;
      equals = strchr(next->owned, '=');
      if (equals == NULL || equals == next->owned) {
        exit_code = usage_error("--set needs KEY=VALUE, got \"%s\"", optarg);
        goto done;
      }
      *equals = '\0';
      if (is_api_key(next->owned)) {
        exit_code = usage_error(API_KEY_REFUSED);
        goto done;
      }
      next->key = next->owned;
      next->value = equals + 1;
      break;
    }
    case 'f':
      if (strcmp(optarg, "vars") == 0) format = FORMAT_VARS;
      else if (strcmp(optarg, "headers") == 0) format = FORMAT_HEADERS;
      else if (strcmp(optarg, "json") == 0) format = FORMAT_JSON;
      else if (strcmp(optarg, "entries") == 0) format = FORMAT_ENTRIES;
      else {
        exit_code = usage_error("unknown --format \"%s\" (vars, headers, json or entries)", optarg);
        goto done;
      }
      break;
    case 'K':
      exit_code = usage_error(API_KEY_REFUSED);
      goto done;
    case 'q': quiet = 1; break;
    case 'h':
      usage(stdout);
      exit_code = fflush(stdout) == 0 ? 0 : EXIT_OUTPUT;
      goto done;
    case 'V':
      printf(PROGRAM " %s (header %s)\n", handoff_version(), HANDOFF_VERSION);
      exit_code = fflush(stdout) == 0 ? 0 : EXIT_OUTPUT;
      goto done;
    case ':':
      exit_code = usage_error("option needs a value: %s", argv[optind - 1]);
      goto done;
    default:
      if (optopt != 0) exit_code = usage_error("unknown option: -%c", optopt);
      else exit_code = usage_error("unknown option: %s", argv[optind - 1]);
      goto done;
    }
  }
  if (optind < argc) {
    exit_code = usage_error("unexpected argument: %s", argv[optind]);
    goto done;
  }
  if (reserve && (conversation_id != NULL || shared_id == NULL)) {
    exit_code = usage_error("reserve-dni needs --shared-id (and takes no --id)");
    goto done;
  }
  if (reserve && attributes != NULL && attributes_json != NULL) {
    exit_code = usage_error("give --attr or --attributes-json, not both");
    goto done;
  }
  if (reserve && format != FORMAT_VARS && format != FORMAT_JSON) {
    exit_code = usage_error("reserve-dni prints vars or json");
    goto done;
  }
  if (shared_id == NULL && conversation_id == NULL) {
    exit_code = usage_error("give one of --shared-id and --id");
    goto done;
  }

  config = handoff_config_new();
  if (config == NULL) {
    fputs(PROGRAM ": out of memory\n", stderr);
    exit_code = HANDOFF_INVALID_ARGUMENT;
    goto done;
  }
  status = HANDOFF_OK;
  if (config_path != NULL) status = handoff_config_load_file(config, config_path);
  if (status == HANDOFF_OK) status = handoff_config_load_env(config);
  if (status == HANDOFF_OK) status = apply_settings(config, settings, setting_count);
  if (status == HANDOFF_OK) client = handoff_client_new(config, &status);
  if (client == NULL && status == HANDOFF_OK) status = HANDOFF_INVALID_ARGUMENT;
  if (status != HANDOFF_OK) {
    config_error = strdup(handoff_config_error(config));
    if (config_error == NULL) {
      fputs(PROGRAM ": out of memory\n", stderr);
      exit_code = HANDOFF_INVALID_ARGUMENT;
      goto done;
    }
  }

  if (reserve) {
    reservation = handoff_client_reserve_dni(client, shared_id,
                                             attributes != NULL ? handoff_attributes_json(attributes) : attributes_json, 0);
    status = handoff_reservation_status(reservation);
    error = config_error != NULL ? config_error : handoff_reservation_error(reservation);
    if (status != HANDOFF_OK && !quiet)
      fprintf(stderr, PROGRAM ": %s: %s\n", handoff_status_name(status), error);
    print_reservation(stdout, reservation, format, error);
    exit_code = (int)status;
    if (fflush(stdout) != 0 || ferror(stdout)) {
      if (!quiet) fprintf(stderr, PROGRAM ": cannot write the output: %s\n", strerror(errno));
      exit_code = EXIT_OUTPUT;
    }
    goto done;
  }

  /* Without a client this still yields an invalid_argument result, so the
   * output has its usual shape and status line. */
  result = shared_id != NULL ? handoff_client_lookup(client, shared_id, 0)
                             : handoff_client_lookup_id(client, conversation_id, 0);
  if (result == NULL) {
    fputs(PROGRAM ": out of memory\n", stderr);
    exit_code = HANDOFF_INVALID_ARGUMENT;
    goto done;
  }
  status = handoff_result_status(result);
  error = config_error != NULL ? config_error : handoff_result_error(result);
  if (status != HANDOFF_OK && !quiet)
    fprintf(stderr, PROGRAM ": %s: %s\n", handoff_status_name(status), error);

  print_result(stdout, result, format, error);
  exit_code = (int)status;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (!quiet) fprintf(stderr, PROGRAM ": cannot write the output: %s\n", strerror(errno));
    exit_code = EXIT_OUTPUT;
  }

done:
  handoff_reservation_free(reservation);
  handoff_attributes_free(attributes);
  handoff_result_free(result);
  handoff_client_free(client);
  handoff_config_free(config);
  free(config_error);
  for (i = 0; i < setting_count; i++) free(settings[i].owned);
  free(settings);
  return exit_code;
}
