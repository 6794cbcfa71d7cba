/*
 * state.c - saving and restoring a context's state, validated so a bad file never touches the context.
 *
 * llama.cpp's own state loader checks little and can leave a context half-overwritten when the data does not
 * fit. Our container adds a header (magic, version, model fingerprint, sizes) and a checksum over the payload;
 * everything is verified before llama.cpp sees the data, and the context is snapshotted first so that even a
 * rejection by llama.cpp itself restores the previous state. The layout (native byte order):
 *   "LLAMACST" | u32 version | u32 header size | u64 fingerprint | u64 n_tokens | u64 state size | u64 checksum
 *   | n_tokens x i32 tokens | state bytes
 */
#include "internal.h"
#include "outfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "LLAMACST"
#define STATE_VERSION 1u

struct state_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t fingerprint;
    uint64_t n_tokens;
    uint64_t state_size;
    uint64_t checksum;
};

static uint64_t checksum(const void *a, size_t na, const void *b, size_t nb) {
    uint64_t h = 14695981039346656037ull;
    const unsigned char *p = a;
    for (size_t i = 0; i < na; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    p = b;
    for (size_t i = 0; i < nb; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

llamac_status llamac_ctx_state_get(llamac_context *ctx, const llamac_token *tokens, size_t n_tokens, void **data,
                                   size_t *size) {
    if (data) {
        *data = NULL;
    }
    if (size) {
        *size = 0;
    }
    if (!ctx || !data || !size || (!tokens && n_tokens > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_state_get: NULL argument");
    }
    if (n_tokens > ctx->info.n_ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu tokens are more than the context holds (%u)", n_tokens,
                            ctx->info.n_ctx);
    }
    llamac_status st = llamac__tokens_check(ctx->model, tokens, n_tokens);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t state_size = llama_state_get_size(ctx->lc);
    size_t tok_bytes = n_tokens * sizeof(llamac_token);
    size_t total = sizeof(struct state_header) + tok_bytes + state_size;
    unsigned char *buf = llamac__malloc(total);
    if (!buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    unsigned char *tok_dst = buf + sizeof(struct state_header);
    unsigned char *state_dst = tok_dst + tok_bytes;
    if (tok_bytes) {
        memcpy(tok_dst, tokens, tok_bytes);
    }
    size_t wrote = llama_state_get_data(ctx->lc, state_dst, state_size);
    if (wrote != state_size) {
        free(buf);
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp wrote %zu of %zu state bytes", wrote, state_size);
    }
    struct state_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, STATE_MAGIC, 8);
    h.version = STATE_VERSION;
    h.header_size = (uint32_t)sizeof h;
    h.fingerprint = ctx->model->fingerprint;
    h.n_tokens = n_tokens;
    h.state_size = state_size;
    h.checksum = checksum(tok_dst, tok_bytes, state_dst, state_size);
    memcpy(buf, &h, sizeof h);
    *data = buf;
    *size = total;
    return llamac__ok();
}

llamac_status llamac_ctx_state_set(llamac_context *ctx, const void *data, size_t size, llamac_token **tokens,
                                   size_t *n_tokens) {
    if (tokens) {
        *tokens = NULL;
    }
    if (n_tokens) {
        *n_tokens = 0;
    }
    if (!ctx || !data || (tokens && !n_tokens)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_state_set: NULL argument");
    }
    struct state_header h;
    if (size < sizeof h) {
        return llamac__fail(LLAMAC_E_STATE, "state data is truncated: %zu bytes, the header alone is %zu", size,
                            sizeof h);
    }
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, STATE_MAGIC, 8) != 0) {
        return llamac__fail(LLAMAC_E_STATE, "not a llamac state (bad magic)");
    }
    if (h.version != STATE_VERSION || h.header_size != sizeof h) {
        return llamac__fail(LLAMAC_E_STATE, "unsupported state version %u (this library reads version %u)", h.version,
                            STATE_VERSION);
    }
    if (h.fingerprint != ctx->model->fingerprint) {
        return llamac__fail(LLAMAC_E_STATE,
                            "the state was saved with a different model (fingerprint %016llx, this model %016llx)",
                            (unsigned long long)h.fingerprint, (unsigned long long)ctx->model->fingerprint);
    }
    if (h.n_tokens > ctx->info.n_ctx) {
        return llamac__fail(LLAMAC_E_STATE, "the state holds %llu tokens; this context holds %u",
                            (unsigned long long)h.n_tokens, ctx->info.n_ctx);
    }
    size_t tok_bytes = (size_t)h.n_tokens * sizeof(llamac_token);
    if (h.state_size > size || size - sizeof h - tok_bytes != h.state_size) {
        return llamac__fail(LLAMAC_E_STATE, "state data is %zu bytes; its header describes %llu", size,
                            (unsigned long long)(sizeof h + tok_bytes + h.state_size));
    }
    const unsigned char *tok_src = (const unsigned char *)data + sizeof h;
    const unsigned char *state_src = tok_src + tok_bytes;
    if (checksum(tok_src, tok_bytes, state_src, (size_t)h.state_size) != h.checksum) {
        return llamac__fail(LLAMAC_E_STATE, "state data is corrupt (checksum mismatch)");
    }
    llamac_token *tok_copy = NULL;
    if (tokens && h.n_tokens > 0) {
        tok_copy = llamac__malloc(tok_bytes);
        if (!tok_copy) {
            return LLAMAC_E_NO_MEMORY;
        }
        memcpy(tok_copy, tok_src, tok_bytes);
        if (llamac__tokens_check(ctx->model, tok_copy, (size_t)h.n_tokens) != LLAMAC_OK) {
            free(tok_copy);
            return llamac__fail(LLAMAC_E_STATE, "the state's token list holds ids outside the vocabulary");
        }
    }
    /* Snapshot, so that a rejection by llama.cpp leaves the context as it was. */
    size_t backup_size = llama_state_get_size(ctx->lc);
    unsigned char *backup = llamac__malloc(backup_size);
    if (!backup) {
        free(tok_copy);
        return LLAMAC_E_NO_MEMORY;
    }
    llama_state_get_data(ctx->lc, backup, backup_size);
    llamac__capture_begin();
    size_t read = llama_state_set_data(ctx->lc, state_src, (size_t)h.state_size);
    const char *why = llamac__capture_end();
    if (read != h.state_size) {
        llamac_status st = llamac__fail(LLAMAC_E_STATE, "llama.cpp rejected the state%s%s", why[0] ? ": " : "", why);
        llama_state_set_data(ctx->lc, backup, backup_size);
        free(backup);
        free(tok_copy);
        return st;
    }
    free(backup);
    ctx->n_outputs = -1;
    if (tokens) {
        *tokens = tok_copy;
        *n_tokens = (size_t)h.n_tokens;
    }
    return llamac__ok();
}

llamac_status llamac_ctx_state_save_file(llamac_context *ctx, const char *path, const llamac_token *tokens,
                                         size_t n_tokens) {
    if (!ctx || !path) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_state_save_file: NULL argument");
    }
    void *data = NULL;
    size_t size = 0;
    llamac_status st = llamac_ctx_state_get(ctx, tokens, n_tokens, &data, &size);
    if (st != LLAMAC_OK) {
        return st;
    }
    st = llamac__out_save(path, data, size);
    free(data);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

llamac_status llamac_ctx_state_load_file(llamac_context *ctx, const char *path, llamac_token **tokens,
                                         size_t *n_tokens) {
    if (tokens) {
        *tokens = NULL;
    }
    if (n_tokens) {
        *n_tokens = 0;
    }
    if (!ctx || !path) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_state_load_file: NULL argument");
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return llamac__fail(LLAMAC_E_IO, "cannot open state file '%s': %s", path, strerror(errno));
    }
    llamac_status st;
    unsigned char *buf = NULL;
    long end = -1;
    /* fopen succeeds on a directory, whose "size" would then be allocated. */
    struct stat info;
    if (fstat(fileno(f), &info) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read state file '%s': %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read state file '%s': %s", path,
                          S_ISDIR(info.st_mode) ? "it is a directory" : "not a regular file");
        goto done;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read state file '%s': %s", path, strerror(errno));
        goto done;
    }
    buf = llamac__malloc((size_t)end);
    if (!buf) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if (fread(buf, 1, (size_t)end, f) != (size_t)end) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read state file '%s'", path);
        goto done;
    }
    st = llamac_ctx_state_set(ctx, buf, (size_t)end, tokens, n_tokens);
    if (st != LLAMAC_OK) {
        char msg[900];
        snprintf(msg, sizeof msg, "%s", llamac_last_error());
        llamac__fail(st, "state file '%s': %s", path, msg);
    }
done:
    free(buf);
    fclose(f);
    return st;
}
