/*
 * cmd_kv_quality.c - `llamac kv --quality`: what a quantized KV cache, with and without Hadamard rotation, does to
 * the model's predictions, measured against an F16 cache.
 *
 * Perplexity follows llama-perplexity (tools/perplexity/perplexity.cpp): the text is tokenized with BOS, cut into
 * chunks of n_ctx tokens whose first token is replaced by BOS, each chunk is evaluated from an empty cache, and only
 * the second half of each chunk is scored, so every scored token has at least n_ctx/2 tokens of context. The KL
 * divergence is its --kl-divergence measure, sum_i p_base(i) (log p_base(i) - log p(i)) averaged over the scored
 * tokens, with one difference: the F16 distributions are kept in full float precision instead of llama-perplexity's
 * 16-bit log-probability file, so identical logits give exactly 0.
 */
#include "kv_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct text_eval {
    llamac_token *tokens;
    size_t n_tokens;
    uint32_t chunk;
    size_t n_chunks;
    size_t n_scored;
    int32_t n_vocab;
    llamac_token bos;
    bool add_bos;
    llamac_token *prompt;
    size_t n_prompt;
    float *base_lp;         /* n_scored x n_vocab log-probabilities of the F16 cache */
    int32_t *base_top;      /* its most likely token at each scored position */
    llamac_token *base_gen; /* its greedy tokens */
    size_t n_base_gen;
    char *base_text;
};

static llamac_status make_ctx(const struct cli_common *c, llamac_model *model, llamac_kv_type k, llamac_kv_type v,
                              bool rotation, uint32_t n_ctx, uint32_t n_batch, llamac_context **out) {
    llamac_ctx_params p = c->ctx;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_seq_max = 1;
    p.kv_unified = false;
    p.type_k = k;
    p.type_v = v;
    p.attn_rotation = rotation ? LLAMAC_ATTN_ROT_ON : LLAMAC_ATTN_ROT_OFF;
    return llamac_ctx_new(model, &p, out);
}

/* Evaluates every chunk; for the base run (q == NULL) records the log-probabilities, otherwise compares with them.
 * *nll_sum receives the summed negative log-likelihood. */
static bool eval_text(const struct cli_common *c, llamac_context *ctx, struct text_eval *te, struct kv_quality *q,
                      double *nll_sum) {
    uint32_t n = te->chunk, first = n / 2;
    llamac_batch *batch = NULL;
    bool ok = false;
    size_t s = 0;
    double nll = 0, kld = 0, kld_max = 0;
    size_t same = 0;
    if (llamac_batch_new(n, 1, &batch) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        return false;
    }
    for (size_t ch = 0; ch < te->n_chunks; ch++) {
        const llamac_token *t = te->tokens + ch * n;
        llamac_batch_clear(batch);
        llamac_seq_id seq = 0;
        for (uint32_t k = 0; k < n; k++) {
            llamac_token tok = (k == 0 && te->add_bos) ? te->bos : t[k];
            if (llamac_batch_add(batch, tok, (llamac_pos)k, &seq, 1, k >= first) != LLAMAC_OK) {
                goto fail;
            }
        }
        if (llamac_ctx_kv_clear(ctx) != LLAMAC_OK || llamac_ctx_decode_batch(ctx, batch) != LLAMAC_OK) {
            goto fail;
        }
        for (uint32_t j = first; j + 1 < n; j++, s++) {
            const float *l = NULL;
            size_t nv = 0;
            if (llamac_ctx_logits(ctx, (int32_t)(j - first), &l, &nv) != LLAMAC_OK) {
                goto fail;
            }
            float max = l[0];
            int32_t top = 0;
            for (size_t i = 1; i < nv; i++) {
                if (l[i] > max) {
                    max = l[i];
                    top = (int32_t)i;
                }
            }
            double sum = 0;
            for (size_t i = 0; i < nv; i++) {
                sum += expf(l[i] - max);
            }
            double lse = log(fmax(sum, 1.0)); /* sum >= 1: the maximum adds exp(0); fmax says so to cppcheck */
            nll -= (double)(l[t[j + 1]] - max) - lse;
            float *base = te->base_lp + s * (size_t)te->n_vocab;
            if (!q) {
                for (size_t i = 0; i < nv; i++) {
                    base[i] = (float)((double)(l[i] - max) - lse);
                }
                te->base_top[s] = top;
                continue;
            }
            double d = 0;
            for (size_t i = 0; i < nv; i++) {
                float lp = (float)((double)(l[i] - max) - lse);
                d += exp((double)base[i]) * ((double)base[i] - (double)lp);
            }
            kld += d;
            kld_max = d > kld_max ? d : kld_max;
            same += top == te->base_top[s];
        }
    }
    *nll_sum = nll;
    if (q) {
        q->kld = kld / (double)s;
        q->kld_max = kld_max;
        q->same_top = (double)same / (double)s;
    }
    ok = true;
fail:
    if (!ok) {
        cli_error(c, "evaluating the text failed: %s", llamac_last_error());
    }
    llamac_batch_free(batch);
    return ok;
}

/* Greedy continuation of the prompt: *out (malloc) holds the tokens, *text their text. */
static bool greedy(const struct cli_common *c, llamac_context *ctx, const struct text_eval *te, int32_t n_predict,
                   llamac_token **out, size_t *n_out, char **text) {
    llamac_model *model = llamac_ctx_model(ctx);
    llamac_token *gen = malloc((size_t)n_predict * sizeof *gen);
    size_t n = 0;
    *out = NULL;
    *n_out = 0;
    *text = NULL;
    if (!gen) {
        cli_error(c, "out of memory");
        return false;
    }
    if (llamac_ctx_kv_clear(ctx) != LLAMAC_OK || llamac_ctx_decode(ctx, 0, te->prompt, te->n_prompt) != LLAMAC_OK) {
        goto fail;
    }
    while (n < (size_t)n_predict) {
        const float *l = NULL;
        size_t nv = 0;
        if (llamac_ctx_logits(ctx, -1, &l, &nv) != LLAMAC_OK) {
            goto fail;
        }
        llamac_token best = 0;
        for (size_t i = 1; i < nv; i++) {
            if (l[i] > l[best]) {
                best = (llamac_token)i;
            }
        }
        if (llamac_vocab_is_eog(model, best)) {
            break;
        }
        gen[n++] = best;
        if (n < (size_t)n_predict && llamac_ctx_decode(ctx, 0, &best, 1) != LLAMAC_OK) {
            goto fail;
        }
    }
    size_t len = 0;
    char *t = NULL;
    if (n > 0 && llamac_detokenize(model, gen, n, 0, &t, &len) != LLAMAC_OK) {
        goto fail;
    }
    *text = strdup(t ? t : "");
    llamac_free(t);
    if (!*text) {
        cli_error(c, "out of memory");
        free(gen);
        return false;
    }
    *out = gen;
    *n_out = n;
    return true;
fail:
    cli_error(c, "greedy generation failed: %s", llamac_last_error());
    free(gen);
    return false;
}

/* The first character (UTF-8 code point) at which b differs from a, or -1 when they are equal. */
static long first_diff_char(const char *a, const char *b) {
    long chars = 0;
    size_t i = 0;
    while (a[i] && a[i] == b[i]) {
        if (((unsigned char)a[i] & 0xC0) != 0x80) {
            chars++;
        }
        i++;
    }
    if (a[i] == b[i]) {
        return -1;
    }
    /* back to the start of the character that differs */
    while (i > 0 && ((unsigned char)a[i] & 0xC0) == 0x80) {
        i--;
        chars--;
    }
    return chars;
}

static bool prepare(const struct cli_common *c, llamac_model *model, const struct kv_quality_opts *o,
                    struct text_eval *te) {
    size_t len = 0;
    char *text = cli_read_all(c, o->text_path, &len);
    if (!text) {
        return false;
    }
    llamac_status st = llamac_tokenize(model, text, len, LLAMAC_TOKENIZE_ADD_SPECIAL, &te->tokens, &te->n_tokens);
    free(text);
    if (st != LLAMAC_OK) {
        cli_error(c, "%s: %s", o->text_path, llamac_last_error());
        return false;
    }
    te->bos = llamac_vocab_special(model, LLAMAC_TOKEN_BOS);
    te->add_bos = te->n_tokens > 0 && te->bos >= 0 && te->tokens[0] == te->bos;
    te->chunk = o->chunk;
    if (te->chunk < 4 || te->n_tokens < 2 * (size_t)te->chunk) {
        cli_error(c,
                  "%s has %zu tokens; perplexity with chunks of %u tokens needs at least %zu (two chunks, as "
                  "llama-perplexity)",
                  o->text_path, te->n_tokens, te->chunk, 2 * (size_t)te->chunk);
        return false;
    }
    te->n_chunks = te->n_tokens / te->chunk;
    if (o->max_chunks > 0 && te->n_chunks > o->max_chunks) {
        te->n_chunks = o->max_chunks;
    }
    te->n_scored = te->n_chunks * (te->chunk - 1 - te->chunk / 2);
    te->n_vocab = llamac_vocab_n_tokens(model);
    double need = (double)te->n_scored * te->n_vocab * sizeof *te->base_lp;
    if (need > 4.0 * 1024 * 1024 * 1024) {
        cli_error(c,
                  "keeping the F16 distributions of %zu tokens x %d entries needs %.1f GiB; evaluate fewer chunks "
                  "with --chunks N",
                  te->n_scored, te->n_vocab, need / (1024.0 * 1024 * 1024));
        return false;
    }
    te->base_lp = malloc(te->n_scored * (size_t)te->n_vocab * sizeof *te->base_lp);
    te->base_top = malloc(te->n_scored * sizeof *te->base_top);
    if (!te->base_lp || !te->base_top) {
        cli_error(c, "out of memory for %zu x %d log-probabilities", te->n_scored, te->n_vocab);
        return false;
    }
    st = llamac_tokenize(model, o->prompt, strlen(o->prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &te->prompt, &te->n_prompt);
    if (st != LLAMAC_OK || te->n_prompt == 0) {
        cli_error(c, "--prompt: %s", st != LLAMAC_OK ? llamac_last_error() : "empty prompt");
        return false;
    }
    return true;
}

static void print_row(const struct kv_quality *q, double base_ppl) {
    char rot[32];
    snprintf(rot, sizeof rot, "%s%s", q->rotation ? "on" : "off", q->rotation && !q->rotated ? " (inactive)" : "");
    printf("%-18s %-14s", q->config->label, rot);
    if (q->skipped) {
        printf(" skipped: %s\n", q->why);
        return;
    }
    char div[48];
    if (q->diverge_char < 0) {
        snprintf(div, sizeof div, "never");
    } else {
        snprintf(div, sizeof div, "char %ld (token %ld)", q->diverge_char, q->diverge_token);
    }
    printf(" %10.4f %+10.4f %11.6g %11.6g %8.2f%%  %s\n", q->ppl, q->ppl - base_ppl, q->kld, q->kld_max,
           100.0 * q->same_top, div);
}

bool kv_quality_run(struct cli_common *c, llamac_model *model, const struct kv_config *configs, size_t n_configs,
                    const struct kv_quality_opts *opts, struct kv_quality *results, size_t *n_scored, double *base_ppl,
                    char **base_text) {
    struct text_eval te;
    memset(&te, 0, sizeof te);
    llamac_context *ctx = NULL;
    bool ok = false;
    *base_text = NULL;
    if (!prepare(c, model, opts, &te)) {
        goto done;
    }
    uint32_t n_ctx = te.chunk;
    if (te.n_prompt + (size_t)opts->n_predict > n_ctx) {
        n_ctx = (uint32_t)(te.n_prompt + (size_t)opts->n_predict);
    }
    /* the reference: an F16 cache (never rotated) */
    double nll = 0;
    llamac_status st = make_ctx(c, model, LLAMAC_KV_F16, LLAMAC_KV_F16, false, n_ctx, te.chunk, &ctx);
    if (st != LLAMAC_OK) {
        cli_error(c, "F16 reference context: %s", llamac_last_error());
        goto done;
    }
    if (!eval_text(c, ctx, &te, NULL, &nll) ||
        !greedy(c, ctx, &te, opts->n_predict, &te.base_gen, &te.n_base_gen, &te.base_text)) {
        goto done;
    }
    llamac_ctx_free(ctx);
    ctx = NULL;
    *base_ppl = exp(nll / (double)te.n_scored);
    *n_scored = te.n_scored;
    printf("Quality on %s: %zu chunks of %u tokens, %zu tokens scored (the second half of each chunk, as\n"
           "llama-perplexity). KL divergence is of each next-token distribution from the F16 cache's; the greedy\n"
           "text (%d tokens from \"%s\") is compared with the F16 cache's, character by character.\n"
           "Rotation is exact in real arithmetic, but a quantized cache is not: the figures are measured differences.\n"
           "F16 cache: PPL %.4f\n\n",
           opts->text_path, te.n_chunks, te.chunk, te.n_scored, opts->n_predict, opts->prompt, *base_ppl);
    printf("%-18s %-14s %10s %10s %11s %11s %9s  %s\n", "type (K/V)", "rotation", "PPL", "dPPL", "mean KLD", "max KLD",
           "same top", "greedy text differs at");
    for (size_t i = 0; i < 2 * n_configs; i++) {
        struct kv_quality *q = &results[i];
        memset(q, 0, sizeof *q);
        q->config = &configs[i / 2];
        q->rotation = i % 2 == 0;
        q->diverge_char = q->diverge_token = -1;
        st = make_ctx(c, model, q->config->k, q->config->v, q->rotation, n_ctx, te.chunk, &ctx);
        if (st != LLAMAC_OK) {
            q->skipped = true;
            snprintf(q->why, sizeof q->why, "%s", llamac_last_error());
            print_row(q, *base_ppl);
            continue;
        }
        llamac_ctx_info info;
        llamac_ctx_get_info(ctx, &info);
        q->rotated = info.attn_rot_k || info.attn_rot_v;
        snprintf(q->why, sizeof q->why, "%s", info.attn_rot_why);
        llamac_token *gen = NULL;
        size_t n_gen = 0;
        if (!eval_text(c, ctx, &te, q, &nll) || !greedy(c, ctx, &te, opts->n_predict, &gen, &n_gen, &q->text)) {
            goto done;
        }
        q->ppl = exp(nll / (double)te.n_scored);
        q->diverge_char = first_diff_char(te.base_text, q->text);
        for (size_t k = 0; k < n_gen || k < te.n_base_gen; k++) {
            if (k >= n_gen || k >= te.n_base_gen || gen[k] != te.base_gen[k]) {
                q->diverge_token = (long)k;
                break;
            }
        }
        free(gen);
        llamac_ctx_free(ctx);
        ctx = NULL;
        print_row(q, *base_ppl);
    }
    *base_text = te.base_text;
    te.base_text = NULL;
    ok = true;
done:
    llamac_ctx_free(ctx);
    llamac_free(te.tokens);
    llamac_free(te.prompt);
    free(te.base_lp);
    free(te.base_top);
    free(te.base_gen);
    free(te.base_text);
    return ok;
}
