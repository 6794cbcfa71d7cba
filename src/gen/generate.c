/*
 * generate.c - one call from a prompt to streamed text: decode, sample, stop, time.
 *
 * Text reaches the callback through the library's one text-out path (text/textout.c): a UTF-8 gate (never half a
 * character) and a stop-string filter that holds back any tail that could still become a stop string, so a stop
 * string is never emitted even when it is split across tokens. Everything held back is released at the end unless
 * a stop string or the callback ended the text.
 *
 * With speculation on (spec.c proposes), one decode holds the last sampled token and a draft, and the loop samples
 * the following outputs in turn exactly as it would sample after single-token decodes; a drafted token is only a
 * KV entry the target may find already in place.
 */
#include "gen/gen_internal.h"
#include "text/textout.h"

#include <stdlib.h>
#include <string.h>

llamac_generate_params llamac_generate_params_default(void) {
    llamac_generate_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = 256;
    p.sampling = llamac_sampling_params_default();
    p.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL;
    p.spec = llamac_spec_params_default();
    return p;
}

const char *llamac_finish_reason_str(llamac_finish_reason reason) {
    switch (reason) {
    case LLAMAC_FINISH_NONE: return "none";
    case LLAMAC_FINISH_EOG: return "eog";
    case LLAMAC_FINISH_LENGTH: return "length";
    case LLAMAC_FINISH_STOP: return "stop";
    case LLAMAC_FINISH_CALLBACK: return "callback";
    case LLAMAC_FINISH_CANCELLED: return "cancelled";
    case LLAMAC_FINISH_CONTEXT_FULL: return "context_full";
    }
    return "unknown";
}

struct run {
    const llamac_generate_params *p;
    llamac_finish_reason finish;
};

static bool deliver(struct run *r, const char *text, size_t len) {
    if (len == 0 || !r->p->on_text) {
        return true;
    }
    if (!r->p->on_text(text, len, r->p->user_data)) {
        r->finish = LLAMAC_FINISH_CALLBACK;
        return false;
    }
    return true;
}

/* Delivers what the text-out path released; false when generation must end (a stop string, or the callback). */
static bool release(struct run *r, const llamac__textout_piece *piece) {
    bool keep_going = deliver(r, piece->text, piece->len);
    if (piece->stop && keep_going) {
        r->finish = LLAMAC_FINISH_STOP;
    }
    return keep_going && !piece->stop;
}

static llamac_status check_params(const llamac_context *ctx, const llamac_generate_params *p) {
    if (p->max_tokens < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_tokens %d must be -1 (no limit) or more", p->max_tokens);
    }
    llamac_status st = llamac__stops_check(p->stop, p->n_stop, "n_stop");
    if (st != LLAMAC_OK) {
        return st;
    }
    if (p->tokenize_flags & ~(unsigned)(LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tokenize flags 0x%x", p->tokenize_flags);
    }
    if (p->sampler && p->sampler->model != ctx->model && p->sampler->model->info.n_vocab != ctx->model->info.n_vocab) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the sampler belongs to a different model");
    }
    return llamac__seq_check(ctx, p->seq, false);
}

static void fill_result(llamac_generate_result *res, const llamac_context *ctx, llamac_finish_reason finish,
                        size_t n_prompt, size_t n_decoded, int32_t n_gen, double t0, double t_prompt, double t_first,
                        double t_end) {
    if (!res) {
        return;
    }
    memset(res, 0, sizeof *res);
    res->finish_reason = finish;
    res->n_prompt_tokens = (int32_t)n_prompt;
    res->n_generated_tokens = n_gen;
    res->load_ms = ctx->model->info.load_ms;
    if (t_prompt > 0) {
        res->prompt_ms = t_prompt - t0;
        res->prompt_tokens_per_s = res->prompt_ms > 0 ? (double)n_decoded * 1000.0 / res->prompt_ms : 0;
    }
    if (t_first > 0) {
        res->ttft_ms = t_first - t0;
        res->generation_ms = t_end - t_first;
        res->tokens_per_s =
            (n_gen > 1 && res->generation_ms > 0) ? (double)(n_gen - 1) * 1000.0 / res->generation_ms : 0;
    }
}

llamac_status llamac__generate_run(llamac_context *ctx, const struct llamac__gen_prompt *prompt,
                                   const llamac_generate_params *params, llamac_generate_result *result,
                                   llamac_token *decoded, size_t decoded_cap, size_t *n_decoded) {
    if (n_decoded) {
        *n_decoded = 0;
    }
    double t0 = llamac__now_ms();
    if (result) {
        memset(result, 0, sizeof *result);
    }
    const llamac_generate_params *p = params;
    llamac_sampler *sampler = p->sampler;
    llamac_sampler *own = NULL;
    llamac__stops stops;
    llamac__textout out;
    memset(&stops, 0, sizeof stops);
    memset(&out, 0, sizeof out);
    struct run r = { p, LLAMAC_FINISH_NONE };
    double t_prompt = 0, t_first = 0;
    int32_t n_gen = 0, n_drafted = 0, n_accepted = 0;
    const size_t n = prompt->n_total;
    uint32_t cap = llama_n_ctx_seq(ctx->lc);
    llamac__drafter drafter;
    memset(&drafter, 0, sizeof drafter);
    llamac_token *hist = NULL; /* prompt and output, for the drafter (speculation only) */
    llamac_status st = LLAMAC_OK;
    if ((uint64_t)prompt->n_pos >= cap) {
        st = llamac__fail(LLAMAC_E_CONTEXT_FULL,
                          "the prompt is %zu tokens; the context holds %u (with room for at least one more to "
                          "generate)",
                          n, cap);
        goto done;
    }

    if (llamac__spec_on(&p->spec)) {
        /* The drafter sees tokens only; a medium has none to draft from (llama-server refuses the pair too). */
        if (prompt->n_accept != prompt->n_total) {
            st = llamac__fail(LLAMAC_E_UNSUPPORTED,
                              "speculative decoding takes a text-only prompt; this one holds media");
            goto done;
        }
        if ((st = llamac__drafter_init(&drafter, ctx, &p->spec)) != LLAMAC_OK) {
            goto done;
        }
        hist = malloc(((size_t)cap + 1) * sizeof *hist);
        if (!hist) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory for the speculative draft's token list");
            goto done;
        }
        memcpy(hist, prompt->accept, prompt->n_accept * sizeof *hist);
    }
    if (sampler) {
        llamac_sampler_reset(sampler);
    } else {
        st = llamac_sampler_from_params(ctx->model, &p->sampling, &own);
        if (st != LLAMAC_OK) {
            goto done;
        }
        sampler = own;
    }
    if ((st = llamac__stops_copy(p->stop, p->n_stop, &stops)) != LLAMAC_OK ||
        (st = llamac__textout_init(&out)) != LLAMAC_OK) {
        goto done;
    }
    llamac__textout_begin(&out, &stops);

    /* Prompt: keep what the sequence already holds of it, clear the rest, evaluate the remainder, and let
     * penalties see the whole prompt (the grammar does not). */
    if (!llama_memory_seq_rm(llama_get_memory(ctx->lc), p->seq, prompt->keep_pos > 0 ? prompt->keep_pos : -1, -1)) {
        st =
            llamac__fail(LLAMAC_E_UNSUPPORTED, "the model's memory cannot drop positions from %d on", prompt->keep_pos);
        goto done;
    }
    for (size_t i = 0; i < prompt->n_accept; i++) {
        llama_sampler_accept(sampler->chain, prompt->accept[i]);
    }
    llama_pos pos = 0;
    st = prompt->eval(prompt->eval_data, ctx, p->seq, &pos);
    if (st == LLAMAC_E_CANCELLED) {
        r.finish = LLAMAC_FINISH_CANCELLED;
        st = LLAMAC_OK;
        goto done;
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    t_prompt = llamac__now_ms();
    if (p->max_tokens == 0) {
        r.finish = LLAMAC_FINISH_LENGTH;
        goto done;
    }
    int32_t out_i = -1; /* the output of the last decode to sample next */
    llamac_token draft[LLAMAC_SPEC_MAX_DRAFT + 1];
    size_t n_draft = 0, n_checked = 0; /* drafted tokens in the last batch, and how many have been accepted */
    size_t n_hist = prompt->n_accept;
    char piece[256];
    for (;;) {
        if (atomic_load(&ctx->cancel)) {
            r.finish = LLAMAC_FINISH_CANCELLED;
            break;
        }
        llamac_token tok;
        st = llamac_sampler_sample(sampler, ctx, out_i, &tok);
        if (st != LLAMAC_OK) {
            break;
        }
        if (n_gen == 0) {
            t_first = llamac__now_ms();
        }
        n_gen++;
        if (llama_vocab_is_eog(ctx->model->vocab, tok)) {
            r.finish = LLAMAC_FINISH_EOG;
            break;
        }
        size_t need = 0;
        st = llamac_token_to_piece(ctx->model, tok, false, piece, sizeof piece, &need);
        if (st != LLAMAC_OK) {
            break;
        }
        llamac__textout_piece released;
        st = llamac__textout_push(&out, piece, need, &released);
        if (st != LLAMAC_OK || !release(&r, &released)) {
            break;
        }
        if (p->max_tokens >= 0 && n_gen >= p->max_tokens) {
            r.finish = LLAMAC_FINISH_LENGTH;
            break;
        }
        if (hist) {
            hist[n_hist++] = tok;
        }
        if (n_checked < n_draft && tok == draft[n_checked]) {
            /* The target sampled the drafted token: its KV entry, decoded with the draft, is already in place. */
            n_checked++;
            n_accepted++;
            out_i++;
            if (decoded && n_decoded && *n_decoded < decoded_cap) {
                decoded[(*n_decoded)++] = tok;
            }
            pos++;
            continue;
        }
        if (n_draft > 0) {
            llamac__drafter_verified(&drafter, n_draft, n_checked);
            /* The rest of the draft was rejected (or used up): drop its KV entries. */
            llama_memory_seq_rm(llama_get_memory(ctx->lc), p->seq, pos, -1);
            n_draft = n_checked = 0;
        }
        if ((uint32_t)pos >= cap) {
            r.finish = LLAMAC_FINISH_CONTEXT_FULL;
            break;
        }
        /* Draft what the next decode can verify: room in the context and the batch, and no more than can still
         * be generated (the token after the last drafted one comes from the same decode). */
        if (hist) {
            size_t room = cap - (uint32_t)pos - 1;
            if (room > ctx->info.n_batch - 1) {
                room = ctx->info.n_batch - 1;
            }
            if (p->max_tokens >= 0 && room > (size_t)(p->max_tokens - n_gen - 1)) {
                room = (size_t)(p->max_tokens - n_gen - 1);
            }
            st = llamac__drafter_propose(&drafter, hist, n_hist, draft + 1, room, &n_draft);
            if (st != LLAMAC_OK) {
                break;
            }
            n_drafted += (int32_t)n_draft;
        }
        draft[0] = tok;
        st = n_draft > 0 ? llamac__ctx_decode_at(ctx, p->seq, draft, n_draft + 1, pos, LLAMAC__LOGITS_ALL)
                         : llamac__ctx_decode_at(ctx, p->seq, &tok, 1, pos, LLAMAC__LOGITS_LAST);
        if (n_draft > 0) {
            memmove(draft, draft + 1, n_draft * sizeof *draft);
        }
        if (st == LLAMAC_E_CANCELLED) {
            r.finish = LLAMAC_FINISH_CANCELLED;
            st = LLAMAC_OK;
            n_draft = 0;
            break;
        }
        if (st != LLAMAC_OK) {
            n_draft = 0;
            break;
        }
        if (decoded && n_decoded && *n_decoded < decoded_cap) {
            decoded[(*n_decoded)++] = tok;
        }
        pos++;
        out_i = 0;
    }
    if (n_draft > 0) {
        /* Generation ended inside a verified draft: the sequence holds exactly the tokens decoded as without
         * speculation (the last sampled token is not decoded). */
        llama_memory_seq_rm(llama_get_memory(ctx->lc), p->seq, pos, -1);
    }
    /* Release what the text-out path still holds, unless a stop string or the caller ended the text. */
    if (st == LLAMAC_OK && r.finish != LLAMAC_FINISH_STOP && r.finish != LLAMAC_FINISH_CALLBACK) {
        llamac__textout_piece released;
        st = llamac__textout_finish(&out, &released);
        if (st == LLAMAC_OK) {
            release(&r, &released);
        }
    }
done:
    fill_result(result, ctx, st == LLAMAC_OK ? r.finish : LLAMAC_FINISH_NONE, n, prompt->n_decode, n_gen, t0, t_prompt,
                t_first, llamac__now_ms());
    if (result) {
        result->n_drafted = n_drafted;
        result->n_accepted = n_accepted;
    }
    llamac__drafter_free(&drafter);
    free(hist);
    llamac__textout_free(&out);
    llamac__stops_free(&stops);
    llamac_sampler_free(own);
    atomic_store(&ctx->cancel, false);
    if (st == LLAMAC_OK) {
        llamac__ok();
    }
    return st;
}

/* A token prompt: the tokens after the cached ones, decoded at the end of what the sequence keeps. */
struct token_prompt {
    const llamac_token *tokens;
    size_t n, n_cached;
};

static llamac_status eval_tokens(void *user_data, llamac_context *ctx, llamac_seq_id seq, llama_pos *n_past) {
    const struct token_prompt *t = user_data;
    llamac_status st = llamac__ctx_decode_at(ctx, seq, t->tokens + t->n_cached, t->n - t->n_cached,
                                             (llama_pos)t->n_cached, LLAMAC__LOGITS_LAST);
    *n_past = (llama_pos)t->n;
    return st;
}

llamac_status llamac__generate_check(llamac_context *ctx, const llamac_generate_params *params) {
    if (!ctx || !params) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_generate: NULL argument");
    }
    return check_params(ctx, params);
}

llamac_status llamac__generate_from(llamac_context *ctx, const llamac_token *prompt, size_t n, size_t n_cached,
                                    const llamac_generate_params *params, llamac_generate_result *result,
                                    llamac_token *decoded, size_t decoded_cap, size_t *n_decoded) {
    if (n_decoded) {
        *n_decoded = 0;
    }
    if (result) {
        memset(result, 0, sizeof *result);
    }
    llamac_status st = llamac__generate_check(ctx, params);
    if (st == LLAMAC_OK && !prompt && n > 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_generate: NULL argument");
    }
    if (st == LLAMAC_OK && n == 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the prompt is empty (and the model adds no BOS token)");
    }
    if (st == LLAMAC_OK) {
        st = llamac__tokens_check(ctx->model, prompt, n);
    }
    if (st == LLAMAC_OK && n_cached >= n) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu of the %zu prompt tokens are cached; one must be decoded",
                          n_cached, n);
    }
    if (st == LLAMAC_OK && n_cached > 0 &&
        (size_t)(llama_memory_seq_pos_max(llama_get_memory(ctx->lc), params->seq) + 1) < n_cached) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "sequence %d holds fewer than the %zu tokens said to be cached",
                          params->seq, n_cached);
    }
    if (st != LLAMAC_OK) {
        if (ctx) {
            atomic_store(&ctx->cancel, false);
        }
        return st;
    }
    struct token_prompt tp = { prompt, n, n_cached };
    struct llamac__gen_prompt gp = { .eval = eval_tokens,
                                     .eval_data = &tp,
                                     .keep_pos = (llama_pos)n_cached,
                                     .accept = prompt,
                                     .n_accept = n,
                                     .n_total = n,
                                     .n_decode = n - n_cached,
                                     .n_pos = (llama_pos)n };
    return llamac__generate_run(ctx, &gp, params, result, decoded, decoded_cap, n_decoded);
}

llamac_status llamac_generate_tokens(llamac_context *ctx, const llamac_token *prompt, size_t n,
                                     const llamac_generate_params *params, llamac_generate_result *result) {
    return llamac__generate_from(ctx, prompt, n, 0, params, result, NULL, 0, NULL);
}

llamac_status llamac_generate(llamac_context *ctx, const char *prompt, size_t len, const llamac_generate_params *params,
                              llamac_generate_result *result) {
    if (result) {
        memset(result, 0, sizeof *result);
    }
    if (!ctx || !params || (!prompt && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_generate: NULL argument");
    }
    llamac_token *tokens = NULL;
    size_t n = 0;
    llamac_status st = llamac_tokenize(ctx->model, prompt, len, params->tokenize_flags, &tokens, &n);
    if (st != LLAMAC_OK) {
        atomic_store(&ctx->cancel, false);
        return st;
    }
    st = llamac_generate_tokens(ctx, tokens, n, params, result);
    free(tokens);
    return st;
}
