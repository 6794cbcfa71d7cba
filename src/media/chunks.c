/*
 * chunks.c - prompts of text and media: tokenized into libmtmd's chunks, encoded, and evaluated into a sequence.
 *
 * Tokenizing is libmtmd's (mtmd_tokenize_from_parts; the text is split at the markers, as llama-mtmd-cli does, so the
 * tokens are the same). Encoding goes through the projector's lock, and its output is copied out under it, so that
 * encodes from several threads neither interleave nor read each other's embeddings. Evaluation checks what
 * llama.cpp would abort on or mis-handle first (the sequence, the room left, an image that non-causal attention
 * needs in one ubatch), then decodes text at explicit positions and media with libmtmd's helper, which lays out the
 * positions (M-RoPE's 2-D ones included) and switches attention to non-causal around an image when the projector
 * needs it.
 */
#include "media/media_internal.h"

#include "gen/gen_internal.h"

#include <stdlib.h>
#include <string.h>

static llamac_status guard_fail(const struct llamac__guard *g, llamac_status failed_status, const char *what,
                                const char *why) {
    if (g->kind == LLAMAC__GUARD_NO_MEMORY) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory %s", what);
    }
    if (g->kind == LLAMAC__GUARD_EXCEPTION) {
        return llamac__fail(LLAMAC_E_INTERNAL, "libmtmd failed %s: %s", what, g->what);
    }
    return llamac__fail(failed_status, "libmtmd failed %s (code %d)%s%s", what, g->code, why[0] ? ": " : "", why);
}

static llamac_status check_media_for(const llamac_mmproj *proj, const llamac_media *m, size_t i) {
    if (m->info.type == LLAMAC_MEDIA_AUDIO) {
        if (!proj->info.audio) {
            return llamac__fail(LLAMAC_E_UNSUPPORTED, "medium %zu is audio, and the projector takes no audio", i);
        }
        if (m->info.sample_rate != proj->info.audio_sample_rate) {
            return llamac__fail(LLAMAC_E_UNSUPPORTED,
                                "medium %zu is audio at %d Hz, made for another projector; this one takes %d Hz", i,
                                m->info.sample_rate, proj->info.audio_sample_rate);
        }
    } else if (!proj->info.vision) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "medium %zu is an image, and the projector takes no images", i);
    }
    return LLAMAC_OK;
}

static void chunks_totals(llamac_chunks *c) {
    c->n_tokens = mtmd_helper_get_n_tokens(c->chunks);
    c->n_pos = mtmd_helper_get_n_pos(c->chunks);
}

llamac_status llamac__mmproj_tokenize_parts(llamac_mmproj *proj, const struct llamac__prompt_part *parts,
                                            size_t n_parts, bool add_special, llamac_chunks **out) {
    *out = NULL;
    mtmd_input_text *texts = llamac__calloc(n_parts ? n_parts : 1, sizeof *texts);
    mtmd_input_part *mparts = llamac__calloc(n_parts ? n_parts : 1, sizeof *mparts);
    const mtmd_input_part **ptrs = llamac__calloc(n_parts ? n_parts : 1, sizeof *ptrs);
    llamac_chunks *c = llamac__calloc(1, sizeof *c);
    llamac_status st = LLAMAC_OK;
    if (!texts || !mparts || !ptrs || !c || !(c->chunks = mtmd_input_chunks_init())) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory tokenizing a prompt with media");
        goto fail;
    }
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].media) {
            if ((st = check_media_for(proj, parts[i].media, i)) != LLAMAC_OK) {
                goto fail;
            }
            mparts[i].bitmap = parts[i].media->bitmap;
        } else {
            texts[i] =
                (mtmd_input_text){ parts[i].text ? parts[i].text : "", parts[i].len, false, parts[i].parse_special };
            mparts[i].text = &texts[i];
        }
        ptrs[i] = &mparts[i];
    }
    struct llamac__guard g;
    llamac__capture_begin();
    llamac__mtmd_tokenize(proj->mctx, c->chunks, ptrs, n_parts, add_special, &g);
    const char *why = llamac__capture_end();
    if (g.kind != LLAMAC__GUARD_OK) {
        st = guard_fail(&g, LLAMAC_E_MEDIA, "to tokenize the prompt's media", why);
        goto fail;
    }
    c->proj = proj;
    llamac__mmproj_ref(proj);
    atomic_init(&c->refs, 1);
    chunks_totals(c);
    free(texts);
    free(mparts);
    free(ptrs);
    *out = c;
    return LLAMAC_OK;
fail:
    if (c && c->chunks) {
        mtmd_input_chunks_free(c->chunks);
    }
    free(c);
    free(texts);
    free(mparts);
    free(ptrs);
    return st;
}

llamac_status llamac_mmproj_tokenize(llamac_mmproj *proj, const char *text, size_t len, unsigned flags,
                                     llamac_media *const *media, size_t n_media, llamac_chunks **out) {
    if (out) {
        *out = NULL;
    }
    if (!proj || !out || (!text && len > 0) || (!media && n_media > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_mmproj_tokenize: NULL argument");
    }
    if (flags & ~(unsigned)(LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tokenize flags 0x%x", flags);
    }
    for (size_t i = 0; i < n_media; i++) {
        if (!media[i]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "medium %zu is NULL", i);
        }
    }
    if (len > 0 && !llamac_utf8_valid(text, len, NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "the prompt is not valid UTF-8");
    }
    const char *marker = proj->marker;
    size_t mlen = strlen(marker);
    size_t n_markers = llamac__count_marker(text, len, marker, mlen);
    if (n_markers != n_media) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the prompt has %zu media markers (\"%s\") for %zu media; there must be one per medium",
                            n_markers, marker, n_media);
    }
    struct llamac__prompt_part *parts = llamac__calloc(2 * n_media + 1, sizeof *parts);
    if (!parts) {
        return LLAMAC_E_NO_MEMORY;
    }
    bool parse = (flags & LLAMAC_TOKENIZE_PARSE_SPECIAL) != 0;
    size_t np = 0, from = 0, k = 0;
    for (size_t i = 0; i + mlen <= len && k < n_media;) {
        if (memcmp(text + i, marker, mlen) == 0) {
            parts[np++] = (struct llamac__prompt_part){ text + from, i - from, parse, NULL };
            parts[np++] = (struct llamac__prompt_part){ NULL, 0, false, media[k++] };
            i += mlen;
            from = i;
        } else {
            i++;
        }
    }
    parts[np++] = (struct llamac__prompt_part){ text + from, len - from, parse, NULL };
    llamac_status st = llamac__mmproj_tokenize_parts(proj, parts, np, (flags & LLAMAC_TOKENIZE_ADD_SPECIAL) != 0, out);
    free(parts);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

void llamac__chunks_ref(llamac_chunks *chunks) {
    atomic_fetch_add(&chunks->refs, 1);
}

void llamac_chunks_free(llamac_chunks *chunks) {
    if (!chunks || atomic_fetch_sub(&chunks->refs, 1) != 1) {
        return;
    }
    mtmd_input_chunks_free(chunks->chunks);
    llamac__mmproj_unref(chunks->proj);
    free(chunks);
}

size_t llamac_chunks_count(const llamac_chunks *chunks) {
    return chunks ? mtmd_input_chunks_size(chunks->chunks) : 0;
}

size_t llamac_chunks_n_tokens(const llamac_chunks *chunks) {
    return chunks ? chunks->n_tokens : 0;
}

llamac_pos llamac_chunks_n_pos(const llamac_chunks *chunks) {
    return chunks ? chunks->n_pos : 0;
}

static llamac_chunk_type chunk_type(const mtmd_input_chunk *c) {
    switch (mtmd_input_chunk_get_type(c)) {
    case MTMD_INPUT_CHUNK_TYPE_IMAGE: return LLAMAC_CHUNK_IMAGE;
    case MTMD_INPUT_CHUNK_TYPE_AUDIO: return LLAMAC_CHUNK_AUDIO;
    default: return LLAMAC_CHUNK_TEXT;
    }
}

llamac_status llamac_chunks_get(const llamac_chunks *chunks, size_t i, llamac_chunk_info *out) {
    if (!chunks || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_chunks_get: NULL argument");
    }
    size_t n = mtmd_input_chunks_size(chunks->chunks);
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "chunk %zu is out of range (there are %zu)", i, n);
    }
    const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
    memset(out, 0, sizeof *out);
    out->type = chunk_type(c);
    out->n_tokens = mtmd_input_chunk_get_n_tokens(c);
    out->n_pos = mtmd_input_chunk_get_n_pos(c);
    if (out->type == LLAMAC_CHUNK_TEXT) {
        size_t nt = 0;
        out->tokens = mtmd_input_chunk_get_tokens_text(c, &nt);
    } else {
        out->id = mtmd_input_chunk_get_id(c);
    }
    return llamac__ok();
}

/* Encodes a media chunk into a new buffer of n_tokens * n_embd floats, under the projector's lock. */
static llamac_status encode_chunk(llamac_mmproj *proj, const mtmd_input_chunk *c, float **embd, size_t *n_floats) {
    size_t n = mtmd_input_chunk_get_n_tokens(c) * (size_t)proj->info.n_embd;
    float *buf = llamac__malloc((n ? n : 1) * sizeof *buf);
    if (!buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    struct llamac__guard g;
    pthread_mutex_lock(&proj->encode_lock);
    llamac__capture_begin();
    llamac__mtmd_encode(proj->mctx, c, buf, n, &g);
    const char *why = llamac__capture_end();
    pthread_mutex_unlock(&proj->encode_lock);
    if (g.kind != LLAMAC__GUARD_OK) {
        free(buf);
        return guard_fail(&g, LLAMAC_E_DECODE, "to encode a medium", why);
    }
    *embd = buf;
    if (n_floats) {
        *n_floats = n;
    }
    return LLAMAC_OK;
}

llamac_status llamac_mmproj_encode(llamac_mmproj *proj, const llamac_chunks *chunks, size_t i, float **embd,
                                   size_t *n_floats) {
    if (embd) {
        *embd = NULL;
    }
    if (n_floats) {
        *n_floats = 0;
    }
    if (!proj || !chunks || !embd) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_mmproj_encode: NULL argument");
    }
    if (chunks->proj != proj) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the chunks were made by another projector");
    }
    size_t n = mtmd_input_chunks_size(chunks->chunks);
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "chunk %zu is out of range (there are %zu)", i, n);
    }
    const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
    if (chunk_type(c) == LLAMAC_CHUNK_TEXT) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "chunk %zu is text; only media chunks are encoded", i);
    }
    llamac_status st = encode_chunk(proj, c, embd, n_floats);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

/* Checks that chunks from `first` on can be evaluated into ctx's sequence `seq` from position n_past. */
static llamac_status check_eval(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                const llamac_chunks *chunks, size_t first, llama_pos n_past) {
    if (chunks->proj != proj) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the chunks were made by another projector");
    }
    if (ctx->model != proj->model) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the context's model is not the projector's model");
    }
    if (ctx->info.embeddings) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "media are evaluated for generation, not into an embeddings context");
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t n = mtmd_input_chunks_size(chunks->chunks);
    int64_t n_pos = 0;
    for (size_t i = first; i < n; i++) {
        const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
        n_pos += mtmd_input_chunk_get_n_pos(c);
        if (chunk_type(c) == LLAMAC_CHUNK_TEXT) {
            continue;
        }
        size_t nt = mtmd_input_chunk_get_n_tokens(c);
        if (mtmd_decode_use_non_causal(proj->mctx, c) && (nt > ctx->info.n_batch || nt > ctx->info.n_ubatch)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "chunk %zu is a medium of %zu tokens, which this projector's model attends to "
                                "non-causally, all in one batch; the context's n_batch is %u and n_ubatch %u: create "
                                "it with both at least %zu",
                                i, nt, ctx->info.n_batch, ctx->info.n_ubatch, nt);
        }
    }
    uint32_t cap = llama_n_ctx_seq(ctx->lc);
    if ((int64_t)n_past + n_pos > (int64_t)cap) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL,
                            "the prompt takes %lld positions from position %d; sequence %d holds %u", (long long)n_pos,
                            n_past, seq, cap);
    }
    return LLAMAC_OK;
}

/* Decodes one medium's embeddings at n_past; the helper picks positions and attention. */
static llamac_status decode_media(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                  const mtmd_input_chunk *c, float *embd, llama_pos n_past, llama_pos *new_n_past) {
    struct llamac__guard g;
    ctx->n_outputs = -1;
    llamac__capture_begin();
    llamac__mtmd_decode_media(proj->mctx, ctx->lc, c, embd, n_past, seq, (int32_t)ctx->info.n_batch, new_n_past, &g);
    const char *why = llamac__capture_end();
    if (g.kind == LLAMAC__GUARD_OK) {
        ctx->n_outputs = 0; /* embeddings in, no logits out */
        return LLAMAC_OK;
    }
    if (g.kind == LLAMAC__GUARD_FAILED && (llamac__ctx_take_cancel(ctx) || g.code == 2)) {
        return llamac__fail(LLAMAC_E_CANCELLED, "decoding was cancelled");
    }
    if (g.kind == LLAMAC__GUARD_FAILED && g.code == 1) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL, "no room in the KV cache for a medium of %zu tokens (n_ctx %u)%s%s",
                            mtmd_input_chunk_get_n_tokens(c), ctx->info.n_ctx, why[0] ? ": " : "", why);
    }
    return guard_fail(&g, LLAMAC_E_DECODE, "to decode a medium", why);
}

/* Encodes a media chunk and decodes its embeddings at *n_past, which it advances. */
static llamac_status eval_media(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq, const mtmd_input_chunk *c,
                                llama_pos *n_past) {
    float *embd = NULL;
    llamac_status st = encode_chunk(proj, c, &embd, NULL);
    if (st != LLAMAC_OK) {
        return st;
    }
    llama_pos next = *n_past;
    st = decode_media(proj, ctx, seq, c, embd, *n_past, &next);
    free(embd);
    if (st == LLAMAC_OK) {
        *n_past = next;
    }
    return st;
}

llamac_status llamac__mmproj_eval_from(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                       const llamac_chunks *chunks, size_t first, size_t skip_tokens, llama_pos n_past,
                                       llama_pos *n_past_out) {
    llamac_status st = check_eval(proj, ctx, seq, chunks, first, n_past);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t n = mtmd_input_chunks_size(chunks->chunks);
    for (size_t i = first; i < n; i++) {
        if (llamac__ctx_take_cancel(ctx)) {
            return llamac__fail(LLAMAC_E_CANCELLED, "evaluating the prompt was cancelled");
        }
        const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
        bool last = i + 1 == n;
        if (chunk_type(c) == LLAMAC_CHUNK_TEXT) {
            size_t nt = 0;
            const llama_token *tokens = mtmd_input_chunk_get_tokens_text(c, &nt);
            size_t skip = i == first ? skip_tokens : 0;
            if (skip < nt &&
                (st = llamac__ctx_decode_at(ctx, seq, tokens + skip, nt - skip, n_past,
                                            last ? LLAMAC__LOGITS_LAST : LLAMAC__LOGITS_NONE)) != LLAMAC_OK) {
                return st;
            }
            n_past += (llama_pos)(nt - (skip < nt ? skip : nt));
            continue;
        }
        if ((st = eval_media(proj, ctx, seq, c, &n_past)) != LLAMAC_OK) {
            return st;
        }
    }
    if (n_past_out) {
        *n_past_out = n_past;
    }
    return LLAMAC_OK;
}

llamac_status llamac__mmproj_eval_media(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                        const llamac_chunks *chunks, size_t i, llama_pos n_past,
                                        llama_pos *n_past_out) {
    *n_past_out = n_past;
    if (i >= mtmd_input_chunks_size(chunks->chunks)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "chunk %zu is out of range", i);
    }
    const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
    if (chunk_type(c) == LLAMAC_CHUNK_TEXT) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "chunk %zu is text, not a medium", i);
    }
    llamac_status st = check_eval(proj, ctx, seq, chunks, i, n_past);
    return st == LLAMAC_OK ? eval_media(proj, ctx, seq, c, n_past_out) : st;
}

llamac_status llamac_mmproj_eval(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                 const llamac_chunks *chunks, llamac_pos n_past, llamac_pos *n_past_out) {
    if (n_past_out) {
        *n_past_out = 0;
    }
    if (!proj || !ctx || !chunks) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_mmproj_eval: NULL argument");
    }
    if (n_past < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_past %d must be -1 (the sequence's end) or more", n_past);
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (n_past == -1) {
        n_past = llama_memory_seq_pos_max(llama_get_memory(ctx->lc), seq) + 1;
    }
    llama_pos held = llama_memory_seq_pos_max(llama_get_memory(ctx->lc), seq);
    if (n_past <= held) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_past %d is inside what sequence %d holds (up to position %d): remove those positions "
                            "first (llamac_ctx_seq_rm), or pass -1 to append",
                            n_past, seq, held);
    }
    llama_pos end = n_past;
    st = llamac__mmproj_eval_from(proj, ctx, seq, chunks, 0, 0, n_past, &end);
    atomic_store(&ctx->cancel, false);
    if (n_past_out) {
        *n_past_out = end;
    }
    return st == LLAMAC_OK ? llamac__ok() : st;
}

/* ---- generation from a prompt with media ---- */

struct chunk_prompt {
    llamac_mmproj *proj;
    const llamac_chunks *chunks;
};

static llamac_status eval_prompt(void *user_data, llamac_context *ctx, llamac_seq_id seq, llama_pos *n_past) {
    struct chunk_prompt *cp = user_data;
    return llamac__mmproj_eval_from(cp->proj, ctx, seq, cp->chunks, 0, 0, 0, n_past);
}

llamac_status llamac__chunks_text_tokens(const llamac_chunks *chunks, llamac_token **out, size_t *n_out) {
    size_t n = mtmd_input_chunks_size(chunks->chunks), total = 0;
    llamac_token *v = llamac__malloc((chunks->n_tokens ? chunks->n_tokens : 1) * sizeof *v);
    if (!v) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        const mtmd_input_chunk *c = mtmd_input_chunks_get(chunks->chunks, i);
        if (chunk_type(c) == LLAMAC_CHUNK_TEXT) {
            size_t nt = 0;
            const llama_token *t = mtmd_input_chunk_get_tokens_text(c, &nt);
            memcpy(v + total, t, nt * sizeof *t);
            total += nt;
        }
    }
    *out = v;
    *n_out = total;
    return LLAMAC_OK;
}

bool llamac__chunks_end_in_text(const llamac_chunks *chunks) {
    size_t n = mtmd_input_chunks_size(chunks->chunks);
    return n > 0 && chunk_type(mtmd_input_chunks_get(chunks->chunks, n - 1)) == LLAMAC_CHUNK_TEXT;
}

llamac_status llamac_generate_media(llamac_context *ctx, llamac_mmproj *proj, const char *prompt, size_t len,
                                    llamac_media *const *media, size_t n_media, const llamac_generate_params *params,
                                    llamac_generate_result *result) {
    if (result) {
        memset(result, 0, sizeof *result);
    }
    llamac_status st = llamac__generate_check(ctx, params);
    if (st == LLAMAC_OK && !proj) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_generate_media: NULL projector");
    }
    llamac_chunks *chunks = NULL;
    llamac_token *text = NULL;
    size_t n_text = 0;
    if (st == LLAMAC_OK) {
        st = llamac_mmproj_tokenize(proj, prompt, len, params->tokenize_flags, media, n_media, &chunks);
    }
    if (st == LLAMAC_OK && chunks->n_tokens == 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the prompt is empty (and the model adds no BOS token)");
    }
    if (st == LLAMAC_OK && !llamac__chunks_end_in_text(chunks)) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                          "the prompt ends with a medium; generation starts from the logits of text after it (add "
                          "text after the last marker)");
    }
    if (st == LLAMAC_OK) {
        st = check_eval(proj, ctx, params->seq, chunks, 0, 0);
    }
    if (st == LLAMAC_OK) {
        st = llamac__chunks_text_tokens(chunks, &text, &n_text);
    }
    if (st == LLAMAC_OK) {
        struct chunk_prompt cp = { proj, chunks };
        struct llamac__gen_prompt gp = { .eval = eval_prompt,
                                         .eval_data = &cp,
                                         .keep_pos = 0,
                                         .accept = text,
                                         .n_accept = n_text,
                                         .n_total = chunks->n_tokens,
                                         .n_decode = chunks->n_tokens,
                                         .n_pos = chunks->n_pos };
        st = llamac__generate_run(ctx, &gp, params, result, NULL, 0, NULL);
    } else if (ctx) {
        atomic_store(&ctx->cancel, false);
    }
    free(text);
    llamac_chunks_free(chunks);
    return st;
}
