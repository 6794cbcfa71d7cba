/*
 * fuzz_gguf.c - libFuzzer target for llamac_gguf_open_buffer, the GGUF metadata reader (untrusted files).
 *
 * Any input must be either read completely (then every accessor works on every entry, array element and tensor,
 * and every tensor's data lies inside the input) or refused with LLAMAC_E_MODEL_LOAD and a message naming the field
 * and its byte offset. Anything else aborts, so the fuzzer reports it.
 */
#include "llamac.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llamac_gguf *g = NULL;
    llamac_status st = llamac_gguf_open_buffer(size ? (const void *)data : (const void *)"", size, &g);
    if (st != LLAMAC_OK) {
        const char *msg = llamac_last_error();
        if (st == LLAMAC_E_NO_MEMORY) {
            return 0;
        }
        if (st != LLAMAC_E_MODEL_LOAD || g != NULL ||
            (size > 0 && !strstr(msg, " at offset ") && !strstr(msg, "not a GGUF file"))) {
            abort();
        }
        return 0;
    }
    llamac_gguf_info info;
    if (llamac_gguf_get_info(g, &info) != LLAMAC_OK || info.n_shards != 1 || info.file_size != size) {
        abort();
    }
    for (size_t i = 0; i < llamac_gguf_kv_count(g); i++) {
        llamac_gguf_kv kv;
        if (llamac_gguf_kv_at(g, i, &kv) != LLAMAC_OK || !kv.key) {
            abort();
        }
        /* keys may hold a NUL byte, which a C string cannot: lookup then finds the first key equal up to it */
        size_t found = SIZE_MAX;
        llamac_gguf_kv same;
        if (llamac_gguf_find_key(g, kv.key, &found) != LLAMAC_OK || found > i ||
            llamac_gguf_kv_at(g, found, &same) != LLAMAC_OK || strcmp(same.key, kv.key) != 0) {
            abort();
        }
        for (uint64_t j = 0; kv.type == LLAMAC_GGUF_ARRAY && j < kv.n && j < 4096; j++) {
            llamac_gguf_kv e;
            if (llamac_gguf_arr_at(g, i, j, &e) != LLAMAC_OK || e.type != kv.elem_type) {
                abort();
            }
            if (e.type == LLAMAC_GGUF_STRING && (!e.str_value || strlen(e.str_value) != e.str_len)) {
                abort();
            }
        }
        if (kv.type == LLAMAC_GGUF_ARRAY && llamac_gguf_arr_at(g, i, kv.n, &kv) == LLAMAC_OK) {
            abort(); /* one past the end must be refused */
        }
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < llamac_gguf_tensor_count(g); i++) {
        llamac_gguf_tensor t;
        if (llamac_gguf_tensor_at(g, i, &t) != LLAMAC_OK || !t.name || !t.type_name || t.offset > size ||
            t.size > size - t.offset) {
            abort();
        }
        bytes += t.size;
    }
    if (bytes != info.tensor_bytes) {
        abort();
    }
    llamac_gguf_free(g);
    return 0;
}
