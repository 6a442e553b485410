/*
 * polyai_handoff: a Kamailio module that looks up the PolyAI handoff state of
 * a call with libpolyai_handoff, appends it to the request as X-PolyAI-*
 * headers and gives each value to the script as $polyai(key) and
 * $xavp(polyai=>key); and reserves DNIs, the first half of the DNI-pool
 * flow ($polyai(dni)).
 *
 * This file: modparams, lifecycle, the synchronous lookups, what a result
 * does to a request (headers, xavp), $polyai() and KEMI. ph_async.c: the
 * asynchronous lookups (suspend, the async process, resume). ph_reserve.c:
 * DNI reservations and their attributes.
 *
 * It is built inside Kamailio's source tree (src/modules/polyai_handoff) like
 * any module; see ../build.sh and ../README.md.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../core/sr_module.h"
#include "../../core/dprint.h"
#include "../../core/mod_fix.h"
#include "../../core/data_lump.h"
#include "../../core/parser/msg_parser.h"
#include "../../core/xavp.h"
#include "../../core/pvar.h"
#include "../../core/kemi.h"
#include "../../core/mem/mem.h"

#include <polyai_handoff.h>

#include "ph_module.h"

MODULE_VERSION

/* Library keys set with modparam, applied in script order after
 * config_file and the environment. */
typedef struct ph_setting {
	char *key;
	char *value;
	struct ph_setting *next;
} ph_setting_t;

static ph_setting_t *ph_settings = NULL;
static ph_setting_t **ph_settings_tail = &ph_settings;

char *ph_config_file = NULL;
static int ph_use_env = 1;
static str ph_xavp_name = str_init("polyai");
static int ph_strip_incoming = 1;
static int ph_log_level = HANDOFF_LOG_WARNING;
/* 1: each SIP worker makes its connection to the API in child_init, before
 * its first call (handoff_client_warm), rather than during it. */
int ph_warm = 0;

/* Built in mod_init and inherited by every process at fork. */
handoff_config *ph_config = NULL;
/* This process's own client: made in child_init for SIP workers, after the
 * fork in the async processes, on first use in any other process. */
handoff_client *ph_client = NULL;

/* The status header's name ("X-PolyAI-Handoff-Status" unless header_prefix
 * says otherwise), for failures that have no result; per process. */
static char *ph_status_header = NULL;
/* Set while the module itself asks for a result it knows fails. */
static int ph_log_muted = 0;

/* The last request whose incoming X-PolyAI-* headers were removed, so that a
 * second lookup on the same request does not delete them twice. */
static unsigned int ph_stripped_msg_id = 0;
static int ph_stripped_msg_pid = 0;

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static int w_polyai_handoff_lookup(sip_msg_t *msg, char *id, char *unused);
static int w_polyai_handoff_lookup_id(sip_msg_t *msg, char *id, char *unused);
static int w_polyai_handoff_lookup_async(sip_msg_t *msg, char *id, char *route);
static int w_polyai_handoff_lookup_id_async(
		sip_msg_t *msg, char *id, char *route);
static int fixup_lookup_async(void **param, int param_no);
static int w_polyai_handoff_reserve_dni(
		sip_msg_t *msg, char *shared_id, char *attributes);
static const char *ph_status_header_name(void);
static int pv_parse_polyai_name(pv_spec_t *sp, str *in);
static int pv_get_polyai(sip_msg_t *msg, pv_param_t *param, pv_value_t *res);

/* ------------------------------------------------------------ modparams */

static int ph_setting_append(const char *key, size_t klen, const char *value)
{
	size_t vlen = strlen(value);
	ph_setting_t *s;

	s = (ph_setting_t *)pkg_malloc(sizeof(ph_setting_t) + klen + vlen + 2);
	if(s == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	s->key = (char *)(s + 1);
	memcpy(s->key, key, klen);
	s->key[klen] = '\0';
	s->value = s->key + klen + 1;
	memcpy(s->value, value, vlen + 1);
	s->next = NULL;
	*ph_settings_tail = s;
	ph_settings_tail = &s->next;
	return 0;
}

static int ph_setting_add(const char *key, modparam_t type, void *val)
{
	char number[32];
	const char *value;

	if(PARAM_TYPE_MASK(type) == PARAM_INT) {
		snprintf(number, sizeof(number), "%d", (int)(long)val);
		value = number;
	} else {
		value = (const char *)val;
	}
	if(value == NULL) {
		LM_ERR("modparam %s has no value\n", key);
		return -1;
	}
	return ph_setting_append(key, strlen(key), value);
}

/* modparam("polyai_handoff", "set", "rename.queue = X-Queue"): any key. */
static int ph_param_set(modparam_t type, void *val)
{
	const char *text = (const char *)val;
	const char *eq, *key, *end, *value;

	(void)type;
	if(text == NULL || (eq = strchr(text, '=')) == NULL) {
		LM_ERR("modparam set expects \"key = value\"\n");
		return -1;
	}
	key = text;
	while(*key == ' ' || *key == '\t')
		key++;
	end = eq;
	while(end > key && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	value = eq + 1;
	while(*value == ' ' || *value == '\t')
		value++;
	if(end == key) {
		LM_ERR("modparam set: no key before '='\n");
		return -1;
	}
	return ph_setting_append(key, (size_t)(end - key), value);
}

/* One handler per library key; each is exported twice, as string and as
 * integer, so that modparam("polyai_handoff", "timeout_ms", 1500) and
 * "1500" both work. */
#define PH_KEY(k)                                         \
	static int ph_param_##k(modparam_t type, void *val)   \
	{                                                     \
		return ph_setting_add(#k, type, val);             \
	}
#define PH_KEY_EXPORT(k)                                          \
	{#k, PARAM_STRING | PARAM_USE_FUNC, (void *)ph_param_##k},    \
	{#k, PARAM_INT | PARAM_USE_FUNC, (void *)ph_param_##k}

PH_KEY(region)
PH_KEY(proxy)
PH_KEY(proxy_auth_file)
PH_KEY(interface)
PH_KEY(ip_version)
PH_KEY(resolve)
PH_KEY(base_url)
PH_KEY(account_id)
PH_KEY(project_id)
PH_KEY(api_key)
PH_KEY(api_key_file)
PH_KEY(timeout_ms)
PH_KEY(connect_timeout_ms)
PH_KEY(ca_file)
PH_KEY(user_agent)
PH_KEY(max_response_bytes)
PH_KEY(header_prefix)
PH_KEY(variable_prefix)
PH_KEY(include)
PH_KEY(exclude)
PH_KEY(max_value_bytes)
PH_KEY(max_entries)
PH_KEY(max_depth)
PH_KEY(max_header_block_bytes)
PH_KEY(retries)
PH_KEY(breaker_failures)
PH_KEY(breaker_cooldown_ms)
PH_KEY(max_in_flight)
PH_KEY(cache_ttl_ms)
PH_KEY(cache_max_entries)
PH_KEY(max_connections)
PH_KEY(dni_api_key)
PH_KEY(dni_api_key_file)

/* clang-format off */
static param_export_t params[] = {
	{"config_file",    PARAM_STRING, &ph_config_file},
	{"use_env",        PARAM_INT,    &ph_use_env},
	{"xavp_name",      PARAM_STR,    &ph_xavp_name},
	{"strip_incoming", PARAM_INT,    &ph_strip_incoming},
	{"log_level",      PARAM_INT,    &ph_log_level},
	{"set",            PARAM_STRING | PARAM_USE_FUNC, (void *)ph_param_set},
	{"async_workers",     PARAM_INT, &ph_async_workers},
	{"async_max_pending", PARAM_INT, &ph_async_max_pending},
	PH_KEY_EXPORT(region),
	PH_KEY_EXPORT(base_url),
	PH_KEY_EXPORT(account_id),
	PH_KEY_EXPORT(project_id),
	PH_KEY_EXPORT(api_key),
	PH_KEY_EXPORT(api_key_file),
	PH_KEY_EXPORT(timeout_ms),
	PH_KEY_EXPORT(connect_timeout_ms),
	PH_KEY_EXPORT(ca_file),
	PH_KEY_EXPORT(user_agent),
	PH_KEY_EXPORT(max_response_bytes),
	PH_KEY_EXPORT(header_prefix),
	PH_KEY_EXPORT(variable_prefix),
	PH_KEY_EXPORT(include),
	PH_KEY_EXPORT(exclude),
	PH_KEY_EXPORT(max_value_bytes),
	PH_KEY_EXPORT(max_entries),
	PH_KEY_EXPORT(max_depth),
	PH_KEY_EXPORT(max_header_block_bytes),
	PH_KEY_EXPORT(retries),
	PH_KEY_EXPORT(breaker_failures),
	PH_KEY_EXPORT(breaker_cooldown_ms),
	PH_KEY_EXPORT(max_in_flight),
	PH_KEY_EXPORT(cache_ttl_ms),
	PH_KEY_EXPORT(cache_max_entries),
	PH_KEY_EXPORT(max_connections),
	PH_KEY_EXPORT(dni_api_key),
	PH_KEY_EXPORT(dni_api_key_file),
	PH_KEY_EXPORT(proxy),
	PH_KEY_EXPORT(proxy_auth_file),
	PH_KEY_EXPORT(interface),
	PH_KEY_EXPORT(ip_version),
	PH_KEY_EXPORT(resolve),
	{"warm",           PARAM_INT,    &ph_warm},
	{0, 0, 0}
};

static cmd_export_t cmds[] = {
	{"polyai_handoff_lookup", (cmd_function)w_polyai_handoff_lookup, 1,
		fixup_spve_null, fixup_free_spve_null,
		REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{"polyai_handoff_lookup_id", (cmd_function)w_polyai_handoff_lookup_id, 1,
		fixup_spve_null, fixup_free_spve_null,
		REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{"polyai_handoff_lookup_async", (cmd_function)w_polyai_handoff_lookup_async, 2,
		fixup_lookup_async, fixup_free_spve_spve, REQUEST_ROUTE},
	{"polyai_handoff_lookup_id_async", (cmd_function)w_polyai_handoff_lookup_id_async, 2,
		fixup_lookup_async, fixup_free_spve_spve, REQUEST_ROUTE},
	{"polyai_handoff_reserve_dni", (cmd_function)w_polyai_handoff_reserve_dni, 2,
		ph_fixup_reserve_dni, ph_fixup_free_reserve_dni,
		REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

static pv_export_t mod_pvs[] = {
	{{"polyai", (sizeof("polyai") - 1)}, PVT_OTHER, pv_get_polyai, 0,
		pv_parse_polyai_name, 0, 0, 0},
	{{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};

struct module_exports exports = {
	"polyai_handoff",
	DEFAULT_DLFLAGS,
	cmds,
	params,
	ph_rpc_methods,
	mod_pvs,
	0,              /* response function */
	mod_init,
	child_init,
	mod_destroy
};
/* clang-format on */

/* --------------------------------------------------------------- logging */

/* The library calls this on the thread doing a synchronous lookup, and for
 * queued lookups inside handoff_queue_next() in the async process: never on
 * a library thread (Kamailio's logging is not thread safe). */
static void ph_log(handoff_log_level level, const char *message, void *userdata)
{
	(void)userdata;
	if(ph_log_muted)
		return;
	switch(level) {
		case HANDOFF_LOG_ERROR:
			LM_ERR("%s\n", message);
			break;
		case HANDOFF_LOG_WARNING:
			LM_WARN("%s\n", message);
			break;
		case HANDOFF_LOG_INFO:
			LM_INFO("%s\n", message);
			break;
		default:
			LM_DBG("%s\n", message);
			break;
	}
}

/* ------------------------------------------------------------- lifecycle */

static int mod_init(void)
{
	char why[PH_WHY_MAX];
	handoff_client *probe;

	if(atoi(handoff_version()) != HANDOFF_VERSION_MAJOR) {
		LM_ERR("libpolyai_handoff %s loaded, major %d expected\n",
				handoff_version(), HANDOFF_VERSION_MAJOR);
		return -1;
	}
	if(ph_xavp_name.s == NULL || ph_xavp_name.len <= 0) {
		LM_ERR("xavp_name must not be empty\n");
		return -1;
	}
	if(ph_log_level < HANDOFF_LOG_ERROR)
		ph_log_level = HANDOFF_LOG_ERROR;
	if(ph_log_level > HANDOFF_LOG_DEBUG)
		ph_log_level = HANDOFF_LOG_DEBUG;
	handoff_set_log_callback(ph_log, NULL);
	handoff_set_log_level((handoff_log_level)ph_log_level);

	/* A missing account, project or key fails the start, not the first call. */
	ph_config = ph_config_build(&probe, why, sizeof(why));
	if(ph_config == NULL) {
		LM_ERR("%s\n", why);
		return -1;
	}
	handoff_client_free(probe);
	if(ph_stats_mod_init() < 0 || ph_rpc_mod_init() < 0
			|| ph_async_mod_init() < 0)
		return -1;
	LM_INFO("libpolyai_handoff %s\n", handoff_version());
	return 0;
}

/* The configuration as at start: config_file (read again each time), then
 * the environment, then modparams; and a client made from it, which proves
 * it complete. NULL with the reason in why. */
handoff_config *ph_config_build(
		handoff_client **client_out, char *why, size_t size)
{
	handoff_config *config = handoff_config_new();
	handoff_status status;
	ph_setting_t *s;

	*client_out = NULL;
	if(config == NULL) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	if(ph_config_file != NULL && ph_config_file[0] != '\0'
			&& handoff_config_load_file(config, ph_config_file)
					   != HANDOFF_OK) {
		snprintf(why, size, "config_file %s: %s", ph_config_file,
				handoff_config_error(config));
		goto refused;
	}
	if(ph_use_env && handoff_config_load_env(config) != HANDOFF_OK) {
		snprintf(why, size, "environment: %s", handoff_config_error(config));
		goto refused;
	}
	for(s = ph_settings; s != NULL; s = s->next) {
		if(handoff_config_set(config, s->key, s->value) != HANDOFF_OK) {
			snprintf(why, size, "modparam %s: %s", s->key,
					handoff_config_error(config));
			goto refused;
		}
	}
	*client_out = handoff_client_new(config, &status);
	if(*client_out == NULL) {
		snprintf(why, size, "configuration: %s", handoff_config_error(config));
		goto refused;
	}
	return config;

refused:
	handoff_config_free(config);
	return NULL;
}

/* With async lookups on, also reads the status header's name (for their
 * fast failures) before the process takes calls. The process's slot of
 * statistics is its own from here. */
int ph_client_create(ph_role_t role)
{
	handoff_status status = HANDOFF_OK;

	if(ph_client != NULL)
		return 0;
	ph_client = handoff_client_new(ph_config, &status);
	if(ph_client == NULL) {
		LM_ERR("no client: %s (%s)\n", handoff_status_name(status),
				handoff_config_error(ph_config));
		return -1;
	}
	if(ph_async_enabled())
		ph_status_header_name();
	ph_stats_claim(role);
	ph_stats_publish();
	return 0;
}

/* polyai_handoff.reload reached this process: the configuration built
 * again, as at start, and a new client from it; the old one's counters go
 * on in the statistics. On failure the client in use stays. */
int ph_client_reload(void)
{
	char why[PH_WHY_MAX];
	handoff_config *config;
	handoff_client *client;
	int had_client = ph_client != NULL;

	config = ph_config_build(&client, why, sizeof(why));
	if(config == NULL) {
		LM_ERR("reload: %s; the configuration in use stays\n", why);
		return -1;
	}
	if(ph_async_in_process()) {
		/* Its queue keeps the old client until its lookups complete. */
		if(ph_async_replace_client(client) < 0) {
			handoff_client_free(client);
			handoff_config_free(config);
			return -1;
		}
	} else if(ph_client != NULL) {
		/* Between lookups: none runs on it in this process. */
		ph_stats_retire(ph_client);
		handoff_client_free(ph_client);
	}
	ph_client = client;
	handoff_config_free(ph_config);
	ph_config = config;
	/* header_prefix may have changed. */
	if(ph_status_header != NULL) {
		pkg_free(ph_status_header);
		ph_status_header = NULL;
	}
	if(ph_async_enabled())
		ph_status_header_name();
	if(!had_client)
		ph_stats_claim(PH_ROLE_OTHER);
	ph_stats_publish();
	LM_INFO("reload: configuration read again, new client in use\n");
	return 0;
}

/* Kamailio forks after mod_init: each SIP worker gets its own client, with
 * its own connections, breaker and cache. PROC_MAIN forks the async
 * processes, which make theirs after the fork. PROC_INIT, before any fork,
 * is when the number of processes is known, for the statistics table. */
static int child_init(int rank)
{
	if(rank == PROC_INIT)
		return ph_stats_init();
	if(ph_async_child_init(rank) < 0)
		return -1;
	if(rank <= 0)
		return 0;
	if(ph_client_create(PH_ROLE_SIP_WORKER) < 0)
		return -1;
	/* After the fork: the parent's connections are never the child's. A
	 * failure is logged by the library; the worker still starts. */
	if(ph_warm)
		(void)handoff_client_warm(ph_client, 0);
	return 0;
}

static void mod_destroy(void)
{
	handoff_client_free(ph_client);
	ph_client = NULL;
	handoff_config_free(ph_config);
	ph_config = NULL;
}

/* --------------------------------------------------------------- headers */

/* The header prefix, read back from the status line that starts every
 * block ("<prefix>Handoff-Status: ..."), so that it follows header_prefix
 * wherever it was set. */
static str ph_block_prefix(const char *block)
{
	static const char suffix[] = "Handoff-Status:";
	str prefix = {NULL, 0};
	const char *colon = strchr(block, ':');
	size_t slen = sizeof(suffix) - 1;

	if(colon == NULL || (size_t)(colon + 1 - block) < slen)
		return prefix;
	if(strncasecmp(colon + 1 - slen, suffix, slen) != 0)
		return prefix;
	prefix.s = (char *)block;
	prefix.len = (int)(colon + 1 - slen - block);
	return prefix;
}

/* True if name is one of the header names in block. */
static int ph_block_has_name(const char *block, str *name)
{
	const char *line = block;

	while(*line != '\0') {
		const char *colon = strchr(line, ':');
		const char *eol = strstr(line, "\r\n");
		if(colon == NULL)
			return 0;
		if((eol == NULL || colon < eol) && colon - line == name->len
				&& strncasecmp(line, name->s, name->len) == 0)
			return 1;
		if(eol == NULL)
			return 0;
		line = eol + 2;
	}
	return 0;
}

/* Removes headers that a caller could have sent to spoof ours: every
 * non-standard header named with our prefix or named like one we add. */
static int ph_strip_incoming_headers(sip_msg_t *msg, const char *block)
{
	hdr_field_t *hf;
	str prefix;

	if(msg->id == ph_stripped_msg_id && msg->pid == ph_stripped_msg_pid)
		return 0;
	prefix = ph_block_prefix(block);
	if(prefix.len <= 0)
		return 0;
	for(hf = msg->headers; hf != NULL; hf = hf->next) {
		if(hf->type != HDR_OTHER_T)
			continue;
		if((hf->name.len >= prefix.len
				   && strncasecmp(hf->name.s, prefix.s, prefix.len) == 0)
				|| ph_block_has_name(block, &hf->name)) {
			if(del_lump(msg, hf->name.s - msg->buf, hf->len, 0) == NULL) {
				LM_ERR("cannot remove header %.*s\n", hf->name.len,
						hf->name.s);
				return -1;
			}
		}
	}
	ph_stripped_msg_id = msg->id;
	ph_stripped_msg_pid = msg->pid;
	return 0;
}

/* Appends the block after the last header, like append_hf. */
static int ph_append_block(sip_msg_t *msg, const char *block)
{
	struct lump *anchor;
	size_t len = strlen(block);
	char *copy;

	if(len == 0)
		return 0;
	anchor = anchor_lump(msg, msg->unparsed - msg->buf, 0, 0);
	if(anchor == NULL) {
		LM_ERR("cannot anchor the new headers\n");
		return -1;
	}
	copy = (char *)pkg_malloc(len);
	if(copy == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	memcpy(copy, block, len);
	if(insert_new_lump_before(anchor, copy, (int)len, 0) == NULL) {
		LM_ERR("cannot add the new headers\n");
		pkg_free(copy);
		return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- xavp */

static int ph_xavp_fail(sr_xavp_t **fields)
{
	LM_ERR("cannot store the result in $xavp(%.*s)\n", ph_xavp_name.len,
			ph_xavp_name.s);
	xavp_destroy_list(fields);
	return -1;
}

static int ph_xavp_prepend(sr_xavp_t **list, const char *name, const char *value)
{
	str xname;
	sr_xval_t xval;

	if(name == NULL || value == NULL || name[0] == '\0')
		return 0;
	xname.s = (char *)name;
	xname.len = (int)strlen(name);
	memset(&xval, 0, sizeof(xval));
	xval.type = SR_XTYPE_STR;
	xval.v.s.s = (char *)value;
	xval.v.s.len = (int)strlen(value);
	return xavp_add_value(&xname, &xval, list) == NULL ? -1 : 0;
}

/* Adds fields as $xavp(polyai) (the old one removed first). */
static int ph_xavp_store(sr_xavp_t *fields)
{
	sr_xval_t root;

	memset(&root, 0, sizeof(root));
	root.type = SR_XTYPE_XAVP;
	root.v.xavp = fields;
	if(xavp_add_value(&ph_xavp_name, &root, NULL) == NULL)
		return ph_xavp_fail(&fields);
	return 0;
}

/* Replaces $xavp(polyai) with one field per entry. Fields are prepended, so
 * they are added last to first: the meta fields end up first and win over a
 * data key of the same name, and data keys keep document order. Without a
 * result (a failure before any lookup), only handoff_status. */
static int ph_set_xavp(handoff_result *r, handoff_status status)
{
	sr_xavp_t *fields = NULL;
	size_t i;

	xavp_rm_by_name(&ph_xavp_name, 1, NULL);
	if(r != NULL) {
		for(i = handoff_result_count(r); i > 0; i--) {
			if(ph_xavp_prepend(&fields, handoff_result_key(r, i - 1),
					   handoff_result_value(r, i - 1))
					< 0)
				goto error;
		}
		if(ph_xavp_prepend(&fields, "shared_id", handoff_result_shared_id(r))
						< 0
				|| ph_xavp_prepend(&fields, "conversation_id",
						   handoff_result_conversation_id(r))
						   < 0)
			goto error;
		status = handoff_result_status(r);
	}
	if(ph_xavp_prepend(&fields, "handoff_status", handoff_status_name(status))
			< 0)
		goto error;
	return ph_xavp_store(fields);

error:
	return ph_xavp_fail(&fields);
}

/* Replaces $xavp(polyai) with what a reservation gives: handoff_status,
 * shared_id and, on success, dni. r NULL: refused before any request
 * (invalid_argument). */
int ph_set_reservation(handoff_reservation *r, str *shared_id)
{
	sr_xavp_t *fields = NULL;
	handoff_status status =
			r != NULL ? handoff_reservation_status(r) : HANDOFF_INVALID_ARGUMENT;
	char *sid = NULL;
	int rc;

	xavp_rm_by_name(&ph_xavp_name, 1, NULL);
	if(shared_id != NULL && shared_id->len > 0) {
		sid = (char *)pkg_malloc(shared_id->len + 1);
		if(sid == NULL) {
			PKG_MEM_ERROR;
			return -1;
		}
		memcpy(sid, shared_id->s, shared_id->len);
		sid[shared_id->len] = '\0';
	}
	/* Prepended: last to first. */
	if((r != NULL && ph_xavp_prepend(&fields, "dni", handoff_reservation_dni(r)) < 0)
			|| ph_xavp_prepend(&fields, "shared_id", sid) < 0
			|| ph_xavp_prepend(&fields, "handoff_status", handoff_status_name(status))
					   < 0) {
		if(sid != NULL)
			pkg_free(sid);
		return ph_xavp_fail(&fields);
	}
	rc = ph_xavp_store(fields);
	if(sid != NULL)
		pkg_free(sid);
	return rc;
}

/* -------------------------------------------------- results to requests */

/* Strips the request's own X-PolyAI-* headers and appends the block. */
static int ph_apply_block(sip_msg_t *msg, const char *block)
{
	if(msg->first_line.type != SIP_REQUEST || block == NULL)
		return 0;
	if(parse_headers(msg, HDR_EOH_F, 0) == -1) {
		LM_ERR("cannot parse the request headers\n");
		return -1;
	}
	if((ph_strip_incoming && ph_strip_incoming_headers(msg, block) < 0)
			|| ph_append_block(msg, block) < 0)
		return -1;
	return 0;
}

/* What a lookup gives a request, success or not: its headers and
 * $xavp(polyai). 0, or -1 when the module failed (logged). */
int ph_apply_result(sip_msg_t *msg, handoff_result *r)
{
	int rc = ph_apply_block(msg, handoff_result_header_block(r));

	if(ph_set_xavp(r, HANDOFF_OK) < 0)
		rc = -1;
	return rc;
}

/* The status header's name, read once per process (and after a reload)
 * from a result the library renders itself: an empty id fails at once,
 * without a request (and without the warning it logs for a script's empty
 * id). Asked of a client of its own, so that the statistics count only the
 * script's lookups. */
static const char *ph_status_header_name(void)
{
	handoff_client *scratch;
	handoff_result *r;
	const char *block, *colon;

	if(ph_status_header != NULL)
		return ph_status_header;
	ph_log_muted = 1;
	scratch = handoff_client_new(ph_config, NULL);
	r = handoff_client_lookup(scratch, "", 0);
	handoff_client_free(scratch);
	ph_log_muted = 0;
	block = handoff_result_header_block(r);
	colon = block != NULL ? strchr(block, ':') : NULL;
	if(colon != NULL && colon > block) {
		ph_status_header = (char *)pkg_malloc(colon - block + 1);
		if(ph_status_header != NULL) {
			memcpy(ph_status_header, block, colon - block);
			ph_status_header[colon - block] = '\0';
		}
	}
	handoff_result_free(r);
	return ph_status_header != NULL ? ph_status_header
									: "X-PolyAI-Handoff-Status";
}

/* The same for a failure that has no result (the async lookup could not be
 * handed over): the status header alone and handoff_status. */
int ph_apply_status(sip_msg_t *msg, handoff_status status)
{
	const char *name = ph_status_header_name();
	const char *value = handoff_status_name(status);
	size_t len = strlen(name) + 2 + strlen(value) + 2;
	char *block;
	int rc;

	block = (char *)pkg_malloc(len + 1);
	if(block == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	snprintf(block, len + 1, "%s: %s\r\n", name, value);
	rc = ph_apply_block(msg, block);
	pkg_free(block);
	if(ph_set_xavp(NULL, status) < 0)
		rc = -1;
	return rc;
}

/* --------------------------------------------------------------- lookups */

static int ph_lookup(sip_msg_t *msg, str *id, int by_conversation_id)
{
	char *cid;
	handoff_result *r;
	handoff_status status;
	int rc;

	if(msg == NULL || id == NULL || id->len < 0)
		return PH_RC_INTERNAL;
	ph_control_apply();
	if(ph_client == NULL && ph_config != NULL)
		ph_client_create(PH_ROLE_OTHER);

	cid = (char *)pkg_malloc(id->len + 1);
	if(cid == NULL) {
		PKG_MEM_ERROR;
		return PH_RC_INTERNAL;
	}
	if(id->len > 0)
		memcpy(cid, id->s, id->len);
	cid[id->len] = '\0';
	/* A NULL client gives a result with status invalid_argument. */
	r = by_conversation_id ? handoff_client_lookup_id(ph_client, cid, 0)
						   : handoff_client_lookup(ph_client, cid, 0);
	pkg_free(cid);
	ph_stats_publish();
	if(r == NULL) {
		LM_ERR("out of memory\n");
		return PH_RC_INTERNAL;
	}

	status = handoff_result_status(r);
	if(status != HANDOFF_OK)
		LM_DBG("lookup of [%.*s]: %s (%s)\n", id->len, id->s,
				handoff_status_name(status), handoff_result_error(r));
	rc = status == HANDOFF_OK ? 1 : -(int)status;
	if(ph_apply_result(msg, r) < 0)
		rc = PH_RC_INTERNAL;
	handoff_result_free(r);
	return rc;
}

static int ph_lookup_param(sip_msg_t *msg, char *id, int by_conversation_id)
{
	str sid = {NULL, 0};

	if(fixup_get_svalue(msg, (gparam_t *)id, &sid) < 0) {
		LM_ERR("cannot get the id\n");
		return PH_RC_INTERNAL;
	}
	return ph_lookup(msg, &sid, by_conversation_id);
}

static int w_polyai_handoff_lookup(sip_msg_t *msg, char *id, char *unused)
{
	(void)unused;
	return ph_lookup_param(msg, id, 0);
}

static int w_polyai_handoff_lookup_id(sip_msg_t *msg, char *id, char *unused)
{
	(void)unused;
	return ph_lookup_param(msg, id, 1);
}

/* Both parameters: strings with variables. Without tm or with
 * async_workers 0 the script is refused at start. */
static int fixup_lookup_async(void **param, int param_no)
{
	if(param_no == 1 && !ph_async_enabled()) {
		LM_ERR("asynchronous lookups need the tm module and async_workers"
			   " >= 1\n");
		return -1;
	}
	return fixup_spve_spve(param, param_no);
}

static int ph_lookup_async_param(
		sip_msg_t *msg, char *id, char *route, int by_conversation_id)
{
	str sid = {NULL, 0};
	str sroute = {NULL, 0};

	if(fixup_get_svalue(msg, (gparam_t *)id, &sid) < 0
			|| fixup_get_svalue(msg, (gparam_t *)route, &sroute) < 0) {
		LM_ERR("cannot get the id or the route name\n");
		return PH_RC_INTERNAL;
	}
	return ph_lookup_async(msg, &sid, &sroute, by_conversation_id);
}

static int w_polyai_handoff_lookup_async(sip_msg_t *msg, char *id, char *route)
{
	return ph_lookup_async_param(msg, id, route, 0);
}

static int w_polyai_handoff_lookup_id_async(
		sip_msg_t *msg, char *id, char *route)
{
	return ph_lookup_async_param(msg, id, route, 1);
}

static int w_polyai_handoff_reserve_dni(
		sip_msg_t *msg, char *shared_id, char *attributes)
{
	str sid = {NULL, 0};

	if(fixup_get_svalue(msg, (gparam_t *)shared_id, &sid) < 0) {
		LM_ERR("cannot get the shared id\n");
		return PH_RC_INTERNAL;
	}
	return ph_reserve_dni(msg, &sid, (ph_attrs_t *)attributes);
}

/* ------------------------------------------------------------ $polyai() */

/* $polyai(customer.tier) or $polyai($var(key)). */
static int pv_parse_polyai_name(pv_spec_t *sp, str *in)
{
	pv_spec_t *dyn;
	char *copy;

	if(sp == NULL || in == NULL || in->s == NULL || in->len <= 0)
		return -1;
	if(in->s[0] == PV_MARKER) {
		dyn = (pv_spec_t *)pkg_malloc(sizeof(pv_spec_t));
		if(dyn == NULL) {
			PKG_MEM_ERROR;
			return -1;
		}
		memset(dyn, 0, sizeof(pv_spec_t));
		if(pv_parse_spec(in, dyn) == NULL) {
			LM_ERR("invalid name [%.*s]\n", in->len, in->s);
			pkg_free(dyn);
			return -1;
		}
		sp->pvp.pvn.type = PV_NAME_PVAR;
		sp->pvp.pvn.u.dname = (void *)dyn;
		return 0;
	}
	copy = (char *)pkg_malloc(in->len + 1);
	if(copy == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	memcpy(copy, in->s, in->len);
	copy[in->len] = '\0';
	sp->pvp.pvn.type = PV_NAME_INTSTR;
	sp->pvp.pvn.u.isname.type = AVP_NAME_STR;
	sp->pvp.pvn.u.isname.name.s.s = copy;
	sp->pvp.pvn.u.isname.name.s.len = in->len;
	return 0;
}

static int pv_get_polyai(sip_msg_t *msg, pv_param_t *param, pv_value_t *res)
{
	str key;
	pv_value_t dyn;
	sr_xavp_t *root, *field;

	if(param == NULL)
		return -1;
	if(param->pvn.type == PV_NAME_PVAR) {
		memset(&dyn, 0, sizeof(dyn));
		if(pv_get_spec_value(msg, (pv_spec_t *)param->pvn.u.dname, &dyn) != 0
				|| !(dyn.flags & PV_VAL_STR))
			return pv_get_null(msg, param, res);
		key = dyn.rs;
	} else {
		key = param->pvn.u.isname.name.s;
	}
	if(key.len <= 0)
		return pv_get_null(msg, param, res);
	root = xavp_get(&ph_xavp_name, NULL);
	if(root == NULL || root->val.type != SR_XTYPE_XAVP)
		return pv_get_null(msg, param, res);
	field = xavp_get(&key, root->val.v.xavp);
	if(field == NULL || field->val.type != SR_XTYPE_STR)
		return pv_get_null(msg, param, res);
	return pv_get_strval(msg, param, res, &field->val.v.s);
}

/* ------------------------------------------------------------------ KEMI */

static int ki_polyai_handoff_lookup(sip_msg_t *msg, str *id)
{
	return ph_lookup(msg, id, 0);
}

static int ki_polyai_handoff_lookup_id(sip_msg_t *msg, str *id)
{
	return ph_lookup(msg, id, 1);
}

static int ki_polyai_handoff_lookup_async(sip_msg_t *msg, str *id, str *fn)
{
	return ph_lookup_async(msg, id, fn, 0);
}

static int ki_polyai_handoff_lookup_id_async(sip_msg_t *msg, str *id, str *fn)
{
	return ph_lookup_async(msg, id, fn, 1);
}

static int ki_polyai_handoff_reserve_dni(
		sip_msg_t *msg, str *shared_id, str *attributes)
{
	return ph_reserve_dni_text(msg, shared_id, attributes);
}

/* clang-format off */
static sr_kemi_t ph_kemi_exports[] = {
	{ str_init("polyai_handoff"), str_init("lookup"),
		SR_KEMIP_INT, ki_polyai_handoff_lookup,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("polyai_handoff"), str_init("lookup_id"),
		SR_KEMIP_INT, ki_polyai_handoff_lookup_id,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("polyai_handoff"), str_init("lookup_async"),
		SR_KEMIP_INT, ki_polyai_handoff_lookup_async,
		{ SR_KEMIP_STR, SR_KEMIP_STR, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("polyai_handoff"), str_init("lookup_id_async"),
		SR_KEMIP_INT, ki_polyai_handoff_lookup_id_async,
		{ SR_KEMIP_STR, SR_KEMIP_STR, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("polyai_handoff"), str_init("reserve_dni"),
		SR_KEMIP_INT, ki_polyai_handoff_reserve_dni,
		{ SR_KEMIP_STR, SR_KEMIP_STR, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	sr_kemi_modules_add(ph_kemi_exports);
	return 0;
}
