/*
 * media_fetch.c - the bytes of a remote medium: an http(s) URL fetched under a size cap, a time limit and a
 * redirect limit (llamac serve's remote image_url), through the hub's HTTP piece (hub_http.c), so libllamac has one
 * libcurl client. It needs no libmtmd, so both builds have it.
 */
#include "dynbuf.h"
#include "hub/hub_internal.h"

#include <stdlib.h>

llamac_media_fetch_params llamac_media_fetch_params_default(void) {
    return (llamac_media_fetch_params){ .max_bytes = (size_t)10 << 20, .timeout_ms = 10000, .max_redirects = 5 };
}

llamac_status llamac_media_fetch(const char *url, const llamac_media_fetch_params *params, void **data, size_t *len) {
    if (data) {
        *data = NULL;
    }
    if (len) {
        *len = 0;
    }
    if (!url || !data || !len) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_fetch: url, data and len must not be NULL");
    }
    llamac_media_fetch_params p = params ? *params : llamac_media_fetch_params_default();
    if (p.max_bytes == 0 || p.timeout_ms == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_fetch: max_bytes and timeout_ms must be above 0");
    }
    llamac__dynbuf body = LLAMAC__DYNBUF(p.max_bytes);
    llamac_status st = hub__http_get(url, p.timeout_ms, p.max_redirects, &body);
    if (st == LLAMAC_OK) {
        char *bytes = llamac__dynbuf_take(&body, len);
        if (!bytes) { /* an empty answer allocates nothing */
            bytes = malloc(1);
            *len = 0;
        }
        if (!bytes) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory fetching %s", url);
        }
        *data = bytes;
    }
    llamac__dynbuf_free(&body);
    return st;
}
