/*
 * test_state.c - saving and restoring context state through buffers and files, and every way a saved state can be
 * wrong: another model, a flipped byte, truncation, random bytes, a missing file, an unwritable path.
 *
 * A restored context must behave exactly as the one that was saved: the next decode gives the same logits. A
 * rejected state must leave the target context exactly as it was, which is checked the same way.
 */
#include "helpers.h"

#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORIES "stories260K.gguf"
#define CHATML "stories260K-chatml.gguf"
#define TEXT_P "Once upon a time, there was a little girl named Lily. She loved to play outside."
#define TEXT_Q "The dog ran to the park and found a big red ball."

static llamac_model *stories;
static llamac_model *chatml;
static llamac_token *ptok, *qtok;
static size_t n_p, n_q;

static llamac_context *new_ctx(llamac_model *m, uint32_t n_ctx, llamac_kv_type type) {
    llamac_ctx_params cp = test_ctx_params(n_ctx);
    cp.type_k = type;
    cp.type_v = type;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    return ctx;
}

static llamac_pos pos_max(llamac_context *ctx) {
    llamac_pos p = -2;
    CHECK_OK(llamac_ctx_seq_pos_max(ctx, 0, &p));
    return p;
}

/* Decodes one token and copies the logits into out[512]. */
static void next_logits(llamac_context *ctx, llamac_token t, float *out) {
    CHECK_OK(llamac_ctx_decode(ctx, 0, &t, 1));
    test_last_logits(ctx, out, 512);
}

static bool write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Number of entries in the test's scratch directory whose name contains `part`. */
static int count_files_with(const char *part) {
    DIR *d = opendir(test_tmp("."));
    int n = 0;
    if (!d) {
        return -1;
    }
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strstr(e->d_name, part)) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The saved state of a stories260K context that decoded TEXT_P but its last token (the caller frees data). */
static bool saved_state(void **data, size_t *size) {
    llamac_context *ctx = new_ctx(stories, 512, LLAMAC_KV_F16);
    bool ok = false;
    if (ctx) {
        CHECK_OK(llamac_ctx_decode(ctx, 0, ptok, n_p - 1));
        ok = llamac_ctx_state_get(ctx, ptok, n_p - 1, data, size) == LLAMAC_OK;
        CHECK(ok);
    }
    llamac_ctx_free(ctx);
    return ok;
}

static void test_buffer_roundtrip(void) {
    llamac_context *a = new_ctx(stories, 512, LLAMAC_KV_F16);
    llamac_context *b = new_ctx(stories, 512, LLAMAC_KV_F16);
    llamac_context *c = new_ctx(stories, 512, LLAMAC_KV_F16);
    void *data = NULL;
    size_t size = 0;
    if (!a || !b || !c) {
        goto done;
    }
    static float want[512], got[512];
    CHECK_OK(llamac_ctx_decode(a, 0, ptok, n_p - 1));
    CHECK_OK(llamac_ctx_state_get(a, ptok, n_p - 1, &data, &size));
    CHECK(data != NULL && size > 64 + (n_p - 1) * sizeof(llamac_token));

    llamac_token *toks = NULL;
    size_t nt = 0;
    CHECK_OK(llamac_ctx_state_set(b, data, size, &toks, &nt));
    CHECK_INT(nt, n_p - 1);
    CHECK(toks && memcmp(toks, ptok, (n_p - 1) * sizeof *toks) == 0);
    llamac_free(toks);
    CHECK_INT(pos_max(b), (llamac_pos)n_p - 2);

    next_logits(a, ptok[n_p - 1], want);
    next_logits(b, ptok[n_p - 1], got);
    CHECK(test_logits_close(want, got, 512, 1e-5f));
    CHECK_INT(pos_max(b), (llamac_pos)n_p - 1);

    /* The token list is optional on both sides. */
    CHECK_OK(llamac_ctx_state_set(c, data, size, NULL, NULL));
    CHECK_INT(pos_max(c), (llamac_pos)n_p - 2);
    next_logits(c, ptok[n_p - 1], got);
    CHECK(test_logits_close(want, got, 512, 1e-5f));
    llamac_free(data);
    data = NULL;
    CHECK_OK(llamac_ctx_state_get(c, NULL, 0, &data, &size));
    toks = (llamac_token *)&nt;
    nt = 99;
    CHECK_OK(llamac_ctx_state_set(b, data, size, &toks, &nt));
    CHECK(toks == NULL);
    CHECK_INT(nt, 0);
    CHECK_INT(pos_max(b), (llamac_pos)n_p - 1);
done:
    llamac_free(data);
    llamac_ctx_free(a);
    llamac_ctx_free(b);
    llamac_ctx_free(c);
}

static void test_file_roundtrip(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s", test_tmp("roundtrip.state"));
    remove(path);
    llamac_context *a = new_ctx(stories, 512, LLAMAC_KV_F16);
    llamac_context *b = new_ctx(stories, 512, LLAMAC_KV_F16);
    if (a && b) {
        static float want[512], got[512];
        CHECK_OK(llamac_ctx_decode(a, 0, ptok, n_p - 1));
        CHECK_OK(llamac_ctx_state_save_file(a, path, ptok, n_p - 1));
        CHECK_INT(count_files_with(".tmp."), 0);
        /* The file holds exactly what state_get gives. */
        void *data = NULL;
        size_t size = 0, fsize = 0;
        CHECK_OK(llamac_ctx_state_get(a, ptok, n_p - 1, &data, &size));
        char *file = test_read_file(path, &fsize);
        CHECK(file && data && fsize == size && memcmp(file, data, size) == 0);
        free(file);
        llamac_free(data);

        llamac_token *toks = NULL;
        size_t nt = 0;
        CHECK_OK(llamac_ctx_state_load_file(b, path, &toks, &nt));
        CHECK_INT(nt, n_p - 1);
        CHECK(toks && memcmp(toks, ptok, (n_p - 1) * sizeof *toks) == 0);
        llamac_free(toks);
        next_logits(a, ptok[n_p - 1], want);
        next_logits(b, ptok[n_p - 1], got);
        CHECK(test_logits_close(want, got, 512, 1e-5f));

        /* Saving again over the file replaces it. */
        CHECK_OK(llamac_ctx_state_save_file(a, path, ptok, n_p));
        CHECK_OK(llamac_ctx_state_load_file(b, path, &toks, &nt));
        CHECK_INT(nt, n_p);
        llamac_free(toks);
        CHECK_INT(count_files_with(".tmp."), 0);
    }
    llamac_ctx_free(a);
    llamac_ctx_free(b);
}

/* A context that decoded TEXT_Q on `m`, its last logits in before[512]. */
static llamac_context *target_ctx(llamac_model *m, llamac_kv_type type, float *before) {
    llamac_context *ctx = new_ctx(m, 512, type);
    if (ctx) {
        const float *l = NULL;
        size_t n = 0;
        CHECK_OK(llamac_ctx_decode(ctx, 0, qtok, n_q - 1));
        CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &n));
        for (size_t i = 0; i < 512; i++) {
            before[i] = l && n == 512 ? l[i] : NAN;
        }
    }
    return ctx;
}

/* After a rejected restore, `ctx` must be what target_ctx() made: same positions, same outputs, same next step. */
static void check_untouched(llamac_context *ctx, llamac_model *m, llamac_kv_type type, const float *before) {
    static float now[512], want[512];
    CHECK_INT(pos_max(ctx), (llamac_pos)n_q - 2);
    const float *l = NULL;
    size_t n = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &n));
    CHECK(l && n == 512 && test_logits_close(l, before, 512, 1e-6f));

    llamac_context *ref = new_ctx(m, 512, type);
    if (ref) {
        CHECK_OK(llamac_ctx_decode(ref, 0, qtok, n_q - 1));
        next_logits(ref, qtok[n_q - 1], want);
        next_logits(ctx, qtok[n_q - 1], now);
        CHECK(test_logits_close(want, now, 512, 1e-5f));
    }
    llamac_ctx_free(ref);
}

static void test_wrong_model(void) {
    void *data = NULL;
    size_t size = 0;
    static float before[512];
    if (!saved_state(&data, &size)) {
        return;
    }
    llamac_context *c = target_ctx(chatml, LLAMAC_KV_F16, before);
    if (c) {
        llamac_token *toks = (llamac_token *)&size;
        size_t nt = 7;
        CHECK_STATUS(llamac_ctx_state_set(c, data, size, &toks, &nt), LLAMAC_E_STATE);
        CHECK_ERROR_HAS("different model");
        CHECK(toks == NULL);
        CHECK_INT(nt, 0);

        char path[1024];
        snprintf(path, sizeof path, "%s", test_tmp("other-model.state"));
        CHECK(write_file(path, data, size));
        CHECK_STATUS(llamac_ctx_state_load_file(c, path, NULL, NULL), LLAMAC_E_STATE);
        CHECK_ERROR_HAS("different model");
        CHECK_ERROR_HAS("other-model.state");
        check_untouched(c, chatml, LLAMAC_KV_F16, before);
    }
    llamac_ctx_free(c);
    llamac_free(data);
}

/* Same model, so our checks pass, but a cache of another type: llama.cpp refuses the data part-way through, and
 * the context must be restored from the snapshot taken before. */
static void test_rejected_by_llama(void) {
    void *data = NULL;
    size_t size = 0;
    static float before[512];
    if (!saved_state(&data, &size)) {
        return;
    }
    llamac_context *e = target_ctx(stories, LLAMAC_KV_F32, before);
    if (e) {
        CHECK_STATUS(llamac_ctx_state_set(e, data, size, NULL, NULL), LLAMAC_E_STATE);
        CHECK_ERROR_HAS("llama.cpp rejected the state");
        check_untouched(e, stories, LLAMAC_KV_F32, before);
    }
    llamac_ctx_free(e);
    llamac_free(data);
}

/* state_set on a mutated copy of `data` must fail with LLAMAC_E_STATE naming `needle`, leaving `ctx` empty. */
static void expect_bad_state(llamac_context *ctx, const void *bytes, size_t size, const char *needle) {
    CHECK_STATUS(llamac_ctx_state_set(ctx, bytes, size, NULL, NULL), LLAMAC_E_STATE);
    CHECK_ERROR_HAS(needle);
    CHECK_INT(pos_max(ctx), -1);
}

static void test_corrupt_data(void) {
    void *data = NULL;
    size_t size = 0;
    if (!saved_state(&data, &size)) {
        return;
    }
    llamac_context *ctx = new_ctx(stories, 512, LLAMAC_KV_F16);
    unsigned char *copy = malloc(size);
    if (!ctx || !copy) {
        goto done;
    }
    /* The header is 48 bytes: magic, version, header size, fingerprint, token count, state size, checksum. */
    memcpy(copy, data, size);
    copy[size - 1] ^= 0x01;
    expect_bad_state(ctx, copy, size, "checksum");
    memcpy(copy, data, size);
    copy[48] ^= 0x40; /* the first saved token */
    expect_bad_state(ctx, copy, size, "checksum");

    expect_bad_state(ctx, data, size - 1, "header describes");
    expect_bad_state(ctx, data, size / 2, "header describes");
    expect_bad_state(ctx, data, 20, "truncated");
    expect_bad_state(ctx, data, 0, "truncated");

    memcpy(copy, data, size);
    uint32_t version = 99;
    memcpy(copy + 8, &version, sizeof version);
    expect_bad_state(ctx, copy, size, "version 99");

    uint32_t x = 88172645u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        copy[i] = (unsigned char)x;
    }
    expect_bad_state(ctx, copy, size, "magic");

    /* The context still works. */
    CHECK_OK(llamac_ctx_state_set(ctx, data, size, NULL, NULL));
    CHECK_INT(pos_max(ctx), (llamac_pos)n_p - 2);
done:
    free(copy);
    llamac_ctx_free(ctx);
    llamac_free(data);
}

static void test_token_counts(void) {
    llamac_context *big = new_ctx(stories, 512, LLAMAC_KV_F16);
    llamac_context *small = new_ctx(stories, 256, LLAMAC_KV_F16);
    llamac_token *many = calloc(300, sizeof *many);
    void *data = NULL;
    size_t size = 0;
    if (big && small && many) {
        for (size_t i = 0; i < 300; i++) {
            many[i] = (llamac_token)(1 + i);
        }
        /* A token list can be saved with any cache (here an empty one), but must fit the context. */
        CHECK_OK(llamac_ctx_state_get(big, many, 300, &data, &size));
        CHECK_STATUS(llamac_ctx_state_set(small, data, size, NULL, NULL), LLAMAC_E_STATE);
        CHECK_ERROR_HAS("holds 300 tokens");
        llamac_free(data);
        data = NULL;
        CHECK_STATUS(llamac_ctx_state_get(small, many, 300, &data, &size), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("300 tokens");
        CHECK(data == NULL);
        CHECK_INT(size, 0);
        many[5] = 512;
        CHECK_STATUS(llamac_ctx_state_get(big, many, 300, &data, &size), LLAMAC_E_TOKEN_RANGE);
        CHECK_ERROR_HAS("token 512 at index 5");
        CHECK(data == NULL);
    }
    free(many);
    llamac_free(data);
    llamac_ctx_free(big);
    llamac_ctx_free(small);
}

static void test_files(void) {
    void *data = NULL;
    size_t size = 0;
    if (!saved_state(&data, &size)) {
        return;
    }
    llamac_context *ctx = new_ctx(stories, 512, LLAMAC_KV_F16);
    if (!ctx) {
        llamac_free(data);
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s", test_tmp("truncated.state"));
    CHECK(write_file(path, data, size - 100));
    llamac_token *toks = (llamac_token *)&size;
    size_t nt = 5;
    CHECK_STATUS(llamac_ctx_state_load_file(ctx, path, &toks, &nt), LLAMAC_E_STATE);
    CHECK_ERROR_HAS("truncated.state");
    CHECK_ERROR_HAS("header describes");
    CHECK(toks == NULL);
    CHECK_INT(nt, 0);
    CHECK(write_file(path, data, 10));
    CHECK_STATUS(llamac_ctx_state_load_file(ctx, path, NULL, NULL), LLAMAC_E_STATE);
    CHECK_ERROR_HAS("truncated");
    CHECK(write_file(path, "", 0));
    CHECK_STATUS(llamac_ctx_state_load_file(ctx, path, NULL, NULL), LLAMAC_E_STATE);
    CHECK_INT(pos_max(ctx), -1);

    CHECK_STATUS(llamac_ctx_state_load_file(ctx, test_tmp("no-such.state"), NULL, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("No such file");
    CHECK_STATUS(llamac_ctx_state_load_file(ctx, test_tmp("."), NULL, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("directory");

    /* A save into a directory that does not exist fails and leaves nothing behind. */
    snprintf(path, sizeof path, "%s", test_tmp("no-such-dir/saved.state"));
    CHECK_STATUS(llamac_ctx_state_save_file(ctx, path, NULL, 0), LLAMAC_E_IO);
    CHECK_ERROR_HAS("No such file");
    CHECK_INT(count_files_with(".tmp."), 0);
    CHECK_INT(count_files_with("saved.state"), 0);
    CHECK(access(path, F_OK) != 0);

    /* A save over a FIFO is refused and leaves the FIFO as it was (issue 30: it used to become a regular file); a
     * symbolic link to a state file is written through, the link kept. */
    snprintf(path, sizeof path, "%s", test_tmp("fifo.state"));
    unlink(path);
    CHECK(mkfifo(path, 0644) == 0);
    CHECK_STATUS(llamac_ctx_state_save_file(ctx, path, NULL, 0), LLAMAC_E_IO);
    CHECK_ERROR_HAS("it is a FIFO (named pipe); only a regular file or a new path is replaced");
    struct stat sb;
    CHECK(lstat(path, &sb) == 0 && S_ISFIFO(sb.st_mode));
    unlink(path);
    char target[512];
    snprintf(target, sizeof target, "%s", test_tmp("target.state"));
    snprintf(path, sizeof path, "%s", test_tmp("link.state"));
    unlink(path);
    CHECK(write_file(target, "old", 3));
    CHECK(symlink("target.state", path) == 0);
    CHECK_OK(llamac_ctx_state_save_file(ctx, path, NULL, 0));
    CHECK(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(stat(target, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 3);
    CHECK_OK(llamac_ctx_state_load_file(ctx, path, NULL, NULL));
    CHECK_INT(count_files_with(".tmp."), 0);
    unlink(path);
    unlink(target);
    llamac_ctx_free(ctx);
    llamac_free(data);
}

static void test_null_arguments(void) {
    llamac_context *ctx = new_ctx(stories, 512, LLAMAC_KV_F16);
    if (!ctx) {
        return;
    }
    void *data = (void *)&ctx;
    size_t size = 3;
    CHECK_STATUS(llamac_ctx_state_get(NULL, NULL, 0, &data, &size), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(data == NULL);
    CHECK_INT(size, 0);
    CHECK_STATUS(llamac_ctx_state_get(ctx, NULL, 3, &data, &size), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_get(ctx, NULL, 0, NULL, &size), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_get(ctx, NULL, 0, &data, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_OK(llamac_ctx_state_get(ctx, NULL, 0, &data, &size));
    llamac_token *toks = NULL;
    CHECK_STATUS(llamac_ctx_state_set(NULL, data, size, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_set(ctx, NULL, size, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_set(ctx, data, size, &toks, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_save_file(ctx, NULL, NULL, 0), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_save_file(NULL, test_tmp("x.state"), NULL, 0), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_load_file(ctx, NULL, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_state_load_file(NULL, test_tmp("x.state"), NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_free(data);
    llamac_ctx_free(ctx);
}

int main(void) {
    CHECK_OK(llamac_model_load(test_model(STORIES), NULL, &stories));
    CHECK_OK(llamac_model_load(test_model(CHATML), NULL, &chatml));
    if (stories) {
        CHECK_OK(llamac_tokenize(stories, TEXT_P, strlen(TEXT_P), LLAMAC_TOKENIZE_ADD_SPECIAL, &ptok, &n_p));
        CHECK_OK(llamac_tokenize(stories, TEXT_Q, strlen(TEXT_Q), LLAMAC_TOKENIZE_ADD_SPECIAL, &qtok, &n_q));
    }
    if (stories && chatml && n_p > 10 && n_q > 10) {
        RUN(test_buffer_roundtrip);
        RUN(test_file_roundtrip);
        RUN(test_wrong_model);
        RUN(test_rejected_by_llama);
        RUN(test_corrupt_data);
        RUN(test_token_counts);
        RUN(test_files);
        RUN(test_null_arguments);
    }
    llamac_free(ptok);
    llamac_free(qtok);
    llamac_model_free(stories);
    llamac_model_free(chatml);
    TESTS_DONE();
}
