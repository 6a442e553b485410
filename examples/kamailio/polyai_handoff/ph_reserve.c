/*
 * DNI reservations: polyai_handoff_reserve_dni(shared_id, "key=value;...")
 * reserves a number for the call with the module's client and puts it in
 * $polyai(dni).
 *
 * The attributes are a template written by the script: pairs separated by
 * ';', each value text and pseudo-variables. The template is cut into pairs
 * before any variable is evaluated, on its literal text only, so a value
 * taken from the caller ($fU holding ';x=1' or '"}') stays one value: each
 * goes whole to handoff_attributes_set(), which makes it an escaped JSON
 * string. JSON is never written here.
 *
 * Synchronous: the library has no queued reservation, and one in an async
 * process would stall every lookup queued there.
 */

#include <string.h>

#include "../../core/sr_module.h"
#include "../../core/dprint.h"
#include "../../core/pvar.h"
#include "../../core/ut.h"
#include "../../core/mod_fix.h"
#include "../../core/mem/mem.h"

#include "ph_module.h"

/* One piece of a value: literal text, or a variable. */
typedef struct ph_piece {
	str text;
	pv_spec_t *spec;
	struct ph_piece *next;
} ph_piece_t;

typedef struct ph_attr {
	char *key; /* NUL-terminated, in this block */
	ph_piece_t *pieces;
	struct ph_attr *next;
} ph_attr_t;

struct ph_attrs {
	char *text;			/* the template; pieces point into it */
	pv_elem_t *format;	/* its parse, which the specs belong to */
	ph_attr_t *list;
};

/* ---------------------------------------------------------- templates */

/* Around keys and values as written (a KEMI template may span lines). */
static int ph_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int ph_piece_add(ph_piece_t ***tail, char *s, int len, pv_spec_t *spec)
{
	ph_piece_t *piece;

	if(spec == NULL && len <= 0)
		return 0;
	piece = (ph_piece_t *)pkg_malloc(sizeof(ph_piece_t));
	if(piece == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	memset(piece, 0, sizeof(ph_piece_t));
	piece->text.s = s;
	piece->text.len = spec != NULL ? 0 : len;
	piece->spec = spec;
	**tail = piece;
	*tail = &piece->next;
	return 0;
}

/* Strips blanks from the start of the first literal piece and the end of
 * the last one: around the value as written, never inside a variable's. */
static void ph_trim_value(ph_attr_t *attr)
{
	ph_piece_t *p, *last = NULL;

	if(attr->pieces != NULL && attr->pieces->spec == NULL) {
		p = attr->pieces;
		while(p->text.len > 0 && ph_is_blank(p->text.s[0])) {
			p->text.s++;
			p->text.len--;
		}
	}
	for(p = attr->pieces; p != NULL; p = p->next)
		last = p;
	if(last != NULL && last->spec == NULL)
		while(last->text.len > 0 && ph_is_blank(last->text.s[last->text.len - 1]))
			last->text.len--;
}

static void ph_attr_list_free(ph_attr_t *list)
{
	ph_attr_t *next;
	ph_piece_t *p, *pn;

	for(; list != NULL; list = next) {
		next = list->next;
		for(p = list->pieces; p != NULL; p = pn) {
			pn = p->next;
			pkg_free(p);
		}
		pkg_free(list);
	}
}

void ph_attrs_free(ph_attrs_t *attrs)
{
	if(attrs == NULL)
		return;
	ph_attr_list_free(attrs->list);
	pv_elem_free_all(attrs->format);
	if(attrs->text != NULL)
		pkg_free(attrs->text);
	pkg_free(attrs);
}

/* Ends the key being read (s, len: its literal text) as a new pair. */
static ph_attr_t *ph_attr_new(ph_attr_t ***tail, char *s, int len)
{
	ph_attr_t *attr;

	while(len > 0 && ph_is_blank(*s)) {
		s++;
		len--;
	}
	while(len > 0 && ph_is_blank(s[len - 1]))
		len--;
	if(len == 0) {
		LM_ERR("attributes: a pair has no key before '='\n");
		return NULL;
	}
	attr = (ph_attr_t *)pkg_malloc(sizeof(ph_attr_t) + len + 1);
	if(attr == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memset(attr, 0, sizeof(ph_attr_t));
	attr->key = (char *)(attr + 1);
	memcpy(attr->key, s, len);
	attr->key[len] = '\0';
	if(strcmp(attr->key, "shared_id") == 0) {
		LM_ERR("attributes: shared_id is the first parameter, not an"
			   " attribute\n");
		pkg_free(attr);
		return NULL;
	}
	**tail = attr;
	*tail = &attr->next;
	return attr;
}

/* True when s..end is blank (or empty). */
static int ph_blank_span(const char *s, const char *end)
{
	for(; s < end; s++)
		if(!ph_is_blank(*s))
			return 0;
	return 1;
}

/* Cuts the parsed template into pairs at the ';' and '=' of its literal
 * text. A key is literal text only; a variable may stand in a value only.
 * Each element of the parse is text then at most one variable, so a key
 * never spans two of them. */
static int ph_attrs_split(ph_attrs_t *attrs)
{
	ph_attr_t **tail = &attrs->list, *attr = NULL;
	ph_piece_t **ptail = NULL;
	pv_elem_t *e;
	char *seg, *p, *end;

	for(e = attrs->format; e != NULL; e = e->next) {
		seg = e->text.s;
		end = seg + (e->text.len > 0 ? e->text.len : 0);
		for(p = seg; p < end; p++) {
			if(attr == NULL && *p == '=') {
				if((attr = ph_attr_new(&tail, seg, (int)(p - seg))) == NULL)
					return -1;
				ptail = &attr->pieces;
				seg = p + 1;
			} else if(*p == ';') {
				if(attr != NULL) {
					if(ph_piece_add(&ptail, seg, (int)(p - seg), NULL) < 0)
						return -1;
					ph_trim_value(attr);
					attr = NULL;
				} else if(!ph_blank_span(seg, p)) {
					LM_ERR("attributes: [%.*s] has no '='\n", (int)(p - seg),
							seg);
					return -1;
				}
				seg = p + 1;
			}
		}
		if(attr != NULL) {
			if(ph_piece_add(&ptail, seg, (int)(end - seg), NULL) < 0)
				return -1;
		} else if(e->spec != NULL) {
			LM_ERR("attributes: a key cannot hold a variable\n");
			return -1;
		} else if(!ph_blank_span(seg, end)) {
			LM_ERR("attributes: [%.*s] has no '='\n", (int)(end - seg), seg);
			return -1;
		}
		if(e->spec != NULL && ph_piece_add(&ptail, NULL, 0, e->spec) < 0)
			return -1;
	}
	if(attr != NULL)
		ph_trim_value(attr);
	return 0;
}

/* Checks every key with the library, as the values will be set: empty
 * parts, too many levels, "a" then "a.b". */
static int ph_attrs_check_keys(ph_attrs_t *attrs)
{
	handoff_attributes *probe = handoff_attributes_new();
	ph_attr_t *attr;
	int rc = 0;

	if(probe == NULL) {
		LM_ERR("out of memory\n");
		return -1;
	}
	for(attr = attrs->list; attr != NULL; attr = attr->next) {
		if(handoff_attributes_set(probe, attr->key, "") != HANDOFF_OK) {
			LM_ERR("attributes: key [%s]: %s\n", attr->key,
					handoff_attributes_error(probe));
			rc = -1;
			break;
		}
	}
	handoff_attributes_free(probe);
	return rc;
}

/* "caller=$fU; customer.language = en-GB": a new template, or NULL
 * (logged). Free it with ph_attrs_free(). */
ph_attrs_t *ph_attrs_parse(str *text)
{
	ph_attrs_t *attrs;
	str copy;

	if(text == NULL || text->len < 0 || (text->len > 0 && text->s == NULL)) {
		LM_ERR("no attributes\n");
		return NULL;
	}
	attrs = (ph_attrs_t *)pkg_malloc(sizeof(ph_attrs_t));
	if(attrs == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memset(attrs, 0, sizeof(ph_attrs_t));
	attrs->text = (char *)pkg_malloc(text->len + 1);
	if(attrs->text == NULL) {
		PKG_MEM_ERROR;
		pkg_free(attrs);
		return NULL;
	}
	if(text->len > 0)
		memcpy(attrs->text, text->s, text->len);
	attrs->text[text->len] = '\0';
	copy.s = attrs->text;
	copy.len = text->len;
	if(copy.len > 0 && pv_parse_format(&copy, &attrs->format) < 0) {
		LM_ERR("attributes [%.*s]: invalid variable\n", copy.len, copy.s);
		ph_attrs_free(attrs);
		return NULL;
	}
	if(ph_attrs_split(attrs) < 0 || ph_attrs_check_keys(attrs) < 0) {
		LM_ERR("attributes [%.*s] refused: write \"key=value;key=value\","
			   " variables in values only\n",
				copy.len, copy.s);
		ph_attrs_free(attrs);
		return NULL;
	}
	return attrs;
}

/* -------------------------------------------------------------- values */

#define PH_VALUE_MAX (1 << 20)

typedef struct ph_buf {
	char *s;
	int len;
	int size;
} ph_buf_t;

static int ph_buf_add(ph_buf_t *b, const char *s, int len)
{
	char *grown;
	int size;

	if(len < 0)
		return 0;
	/* Far above what the library takes (it refuses the value): no overflow. */
	if(len > PH_VALUE_MAX || b->len > PH_VALUE_MAX - len) {
		LM_ERR("an attribute value over %d bytes\n", PH_VALUE_MAX);
		return -1;
	}
	if(b->len + len + 1 > b->size) {
		size = b->size > 0 ? b->size : 256;
		while(size < b->len + len + 1)
			size *= 2;
		grown = (char *)pkg_realloc(b->s, size);
		if(grown == NULL) {
			PKG_MEM_ERROR;
			return -1;
		}
		b->s = grown;
		b->size = size;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

/* The value of one pair into b: its text and the values of its variables,
 * $null (or a variable that cannot be read) as "". */
static int ph_attr_value(sip_msg_t *msg, ph_attr_t *attr, ph_buf_t *b)
{
	ph_piece_t *p;
	pv_value_t v;
	char *num;
	int len, rc;

	b->len = 0;
	if(ph_buf_add(b, "", 0) < 0)
		return -1;
	for(p = attr->pieces; p != NULL; p = p->next) {
		if(p->spec == NULL) {
			if(ph_buf_add(b, p->text.s, p->text.len) < 0)
				return -1;
			continue;
		}
		memset(&v, 0, sizeof(v));
		if(pv_get_spec_value(msg, p->spec, &v) != 0)
			continue;
		rc = 0;
		if(v.flags & PV_VAL_NULL) {
			/* "" */
		} else if(v.flags & PV_VAL_STR) {
			rc = ph_buf_add(b, v.rs.s, v.rs.len);
		} else if(v.flags & PV_VAL_INT) {
			num = sint2str(v.ri, &len);
			rc = ph_buf_add(b, num, len);
		}
		pv_value_destroy(&v);
		if(rc < 0)
			return -1;
	}
	return 0;
}

/* The attributes for this request, through the library's builder. NULL
 * when a value is refused (*status INVALID_ARGUMENT, logged) or memory ran
 * out (*status HANDOFF_OK). */
static handoff_attributes *ph_attrs_build(
		sip_msg_t *msg, ph_attrs_t *attrs, handoff_status *status)
{
	handoff_attributes *built = handoff_attributes_new();
	ph_buf_t b = {NULL, 0, 0};
	ph_attr_t *attr;

	*status = HANDOFF_OK;
	if(built == NULL) {
		LM_ERR("out of memory\n");
		return NULL;
	}
	for(attr = attrs != NULL ? attrs->list : NULL; attr != NULL;
			attr = attr->next) {
		if(ph_attr_value(msg, attr, &b) < 0)
			goto error;
		/* A NUL would cut the value short: refuse it rather than send less. */
		if(memchr(b.s, '\0', b.len) != NULL) {
			LM_WARN("attribute %s: the value holds a NUL byte; nothing"
					" reserved\n",
					attr->key);
			*status = HANDOFF_INVALID_ARGUMENT;
			goto error;
		}
		if(handoff_attributes_set(built, attr->key, b.s) != HANDOFF_OK) {
			LM_WARN("attribute %s: %s; nothing reserved\n", attr->key,
					handoff_attributes_error(built));
			*status = HANDOFF_INVALID_ARGUMENT;
			goto error;
		}
	}
	if(b.s != NULL)
		pkg_free(b.s);
	return built;

error:
	if(b.s != NULL)
		pkg_free(b.s);
	handoff_attributes_free(built);
	return NULL;
}

/* --------------------------------------------------------- reservation */

/* 1 with $polyai(dni) set, else -status (-100: the module failed). Blocks
 * up to timeout_ms. */
int ph_reserve_dni(sip_msg_t *msg, str *shared_id, ph_attrs_t *attrs)
{
	handoff_attributes *built;
	handoff_reservation *r;
	handoff_status status;
	char *sid;
	int rc;

	if(msg == NULL || shared_id == NULL || shared_id->len < 0)
		return PH_RC_INTERNAL;
	ph_control_apply();
	if(ph_client == NULL && ph_config != NULL)
		ph_client_create(PH_ROLE_OTHER);

	built = ph_attrs_build(msg, attrs, &status);
	if(built == NULL) {
		if(status == HANDOFF_OK)
			return PH_RC_INTERNAL;
		return ph_set_reservation(NULL, shared_id) < 0 ? PH_RC_INTERNAL
													   : -(int)status;
	}
	sid = (char *)pkg_malloc(shared_id->len + 1);
	if(sid == NULL) {
		PKG_MEM_ERROR;
		handoff_attributes_free(built);
		return PH_RC_INTERNAL;
	}
	if(shared_id->len > 0)
		memcpy(sid, shared_id->s, shared_id->len);
	sid[shared_id->len] = '\0';
	/* A NULL client gives a reservation with status invalid_argument. */
	r = handoff_client_reserve_dni(
			ph_client, sid, handoff_attributes_json(built), 0);
	pkg_free(sid);
	ph_stats_publish();
	handoff_attributes_free(built);
	if(r == NULL) {
		LM_ERR("out of memory\n");
		return PH_RC_INTERNAL;
	}
	status = handoff_reservation_status(r);
	if(status != HANDOFF_OK)
		LM_DBG("reservation for [%.*s]: %s (%s)\n", shared_id->len,
				shared_id->s, handoff_status_name(status),
				handoff_reservation_error(r));
	rc = status == HANDOFF_OK ? 1 : -(int)status;
	if(ph_set_reservation(r, shared_id) < 0)
		rc = PH_RC_INTERNAL;
	handoff_reservation_free(r);
	return rc;
}

/* The template parsed at start; a bad one refuses the script. */
int ph_fixup_reserve_dni(void **param, int param_no)
{
	ph_attrs_t *attrs;
	str text;

	if(param_no == 1)
		return fixup_spve_null(param, 1);
	if(param_no != 2)
		return 0;
	text.s = (char *)*param;
	text.len = text.s != NULL ? (int)strlen(text.s) : 0;
	attrs = ph_attrs_parse(&text);
	if(attrs == NULL)
		return -1;
	*param = (void *)attrs;
	return 0;
}

int ph_fixup_free_reserve_dni(void **param, int param_no)
{
	if(param_no == 1)
		return fixup_free_spve_null(param, 1);
	if(param_no == 2 && *param != NULL) {
		ph_attrs_free((ph_attrs_t *)*param);
		*param = NULL;
	}
	return 0;
}

/* KEMI: the same template, parsed for each call (variables come from
 * Kamailio's cache of parsed specs, as ki_xlog does). */
int ph_reserve_dni_text(sip_msg_t *msg, str *shared_id, str *text)
{
	ph_attrs_t *attrs = ph_attrs_parse(text);
	int rc;

	if(attrs == NULL) {
		if(ph_set_reservation(NULL, shared_id) < 0)
			return PH_RC_INTERNAL;
		return -(int)HANDOFF_INVALID_ARGUMENT;
	}
	rc = ph_reserve_dni(msg, shared_id, attrs);
	ph_attrs_free(attrs);
	return rc;
}
