/* nginx's request variables ($host, $http_NAME, $request_uri, map results, …): resolved to
 * numeric ids when a configuration loads, evaluated against the request being served. */
#ifndef WSSGATE_PROXY_HTTP_VARS_H
#define WSSGATE_PROXY_HTTP_VARS_H

#include "core/str.h"
#include "http/h1_parse.h"
#include "route/location.h"

struct gen;
struct conn;
struct srv_conf;
struct loc_conf;

enum {
    HV_HOST, HV_REMOTE_ADDR, HV_REMOTE_PORT, HV_PROXY_ADD_XFF, HV_SCHEME, HV_REQUEST_URI,
    HV_URI, HV_DOCUMENT_URI, HV_ARGS, HV_QUERY_STRING, HV_IS_ARGS, HV_REQUEST_METHOD,
    HV_SERVER_NAME, HV_SERVER_PORT, HV_SERVER_PROTOCOL, HV_DOCUMENT_ROOT, HV_FASTCGI_SCRIPT_NAME,
    HV_HTTP_HOST, HV_REQUEST, HV_CONTENT_LENGTH, HV_CONTENT_TYPE, HV_HTTPS, HV_NGINX_VERSION,
    HV_REMOTE_USER, HV_SERVER_ADDR, HV_REQUEST_PORT, HV_IS_REQUEST_PORT, HV_REQUEST_SCHEME,
    HV_NBUILTIN,
    HV_HTTP_BASE = 1000,  /* + index into gen->http_var_names */
    HV_MAP_BASE = 2000,   /* + index into gen->maps; $1..$9 are conf/vars.h's VAR_CAPTURE_BASE */
};

/* Resolves a variable name (without '$') to an id, registering $http_NAME names and finding map
 * outputs in g. Returns -1 for an unknown name. Load time only. */
int http_var_lookup(struct gen *g, struct str name);

/* Everything a variable may need while a request is being served. Values that must be computed
 * are written into `scratch`. */
struct req_vars {
    struct conn *c;
    const struct h1_request *req;
    struct str uri;                 /* normalized path */
    struct str capture_subject;
    struct loc_captures caps;
    const struct srv_conf *srv;
    const struct loc_conf *lc;
    struct gen *g;
    char scratch[2048];
    size_t scratch_used;
    int depth;                      /* map evaluation depth guard */
};

/* Value of variable id for this request (STR_NULL when it has none). */
struct str http_var_get(void *ctx, int id);

#endif
