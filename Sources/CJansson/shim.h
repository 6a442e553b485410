#ifndef HANDOFF_JANSSON_SHIM_H
#define HANDOFF_JANSSON_SHIM_H
#include <jansson.h>
#endif
