/*
 * fuzz_chat.c - libFuzzer target for llamac_chat_load, the parser of saved chat sessions (untrusted files).
 *
 * Any input must be rejected with LLAMAC_E_STATE (or accepted, when it happens to be a valid session), and a
 * rejected input must leave the session and its sequence exactly as they were: the conversation and the sequence's
 * last position are compared after every input. The input goes through a file, as llamac_chat_load reads one.
 */
#include "fuzz_model.h"
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llamac_model *model;
static llamac_context *ctx;
static llamac_chat *chat;
static unsigned char *good;
static size_t good_size;
static char *good_messages;
static llamac_pos good_pos;
static char path[64] = "/tmp/llamac-fuzz-chat.XXXXXX";

static void remove_file(void) {
    unlink(path);
}

static void setup_once(void) {
    if (chat) {
        return;
    }
    char model_path[1024];
    fuzz_model_path("stories260K-chatml.gguf", model_path, sizeof model_path);
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 256;
    cp.n_threads = 1;
    llamac_chat_params p = llamac_chat_params_default();
    p.system_prompt = "Be brief.";
    p.generate.max_tokens = 4;
    p.generate.sampling.temp = 0;
    int fd = mkstemp(path);
    if (fd < 0 || llamac_model_load(model_path, NULL, &model) != LLAMAC_OK ||
        llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK || llamac_chat_new(ctx, &p, &chat) != LLAMAC_OK ||
        llamac_chat_add(chat, "user", "Hi", 2) != LLAMAC_OK ||
        llamac_chat_generate(chat, NULL, NULL, NULL) != LLAMAC_OK || llamac_chat_save(chat, path) != LLAMAC_OK ||
        llamac_chat_messages_json(chat, &good_messages) != LLAMAC_OK ||
        llamac_ctx_seq_pos_max(ctx, 0, &good_pos) != LLAMAC_OK) {
        fprintf(stderr, "fuzz_chat: %s\n", llamac_last_error());
        abort();
    }
    close(fd);
    atexit(remove_file);
    FILE *f = fopen(path, "rb");
    good = malloc(1 << 16);
    good_size = f && good ? fread(good, 1, 1 << 16, f) : 0;
    if (f) {
        fclose(f);
    }
    if (good_size == 0 || good_size == 1 << 16) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    /* Inputs starting with 'P' patch the fuzz bytes into a valid session, to reach past the header checks. */
    const uint8_t *bytes = data;
    size_t len = size;
    uint8_t *buf = NULL;
    if (size > 3 && data[0] == 'P') {
        len = good_size;
        buf = malloc(len);
        memcpy(buf, good, len);
        size_t at = ((size_t)data[1] << 8 | data[2]) % len;
        size_t n = size - 3 < len - at ? size - 3 : len - at;
        memcpy(buf + at, data + 3, n);
        bytes = buf;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        abort();
    }
    free(buf);
    llamac_status s = llamac_chat_load(chat, path);
    if (s != LLAMAC_OK && s != LLAMAC_E_STATE) {
        abort();
    }
    char *messages = NULL;
    llamac_pos pos = -2;
    if (llamac_chat_messages_json(chat, &messages) != LLAMAC_OK || strcmp(messages, good_messages) != 0 ||
        llamac_ctx_seq_pos_max(ctx, 0, &pos) != LLAMAC_OK || pos != good_pos) {
        abort(); /* a rejected input changed the session, or an accepted one is not the saved session */
    }
    llamac_free(messages);
    return 0;
}
