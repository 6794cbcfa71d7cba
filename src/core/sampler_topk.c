/*
 * sampler_topk.c - a sampler chain's top-k taken straight from the logits.
 *
 * llama.cpp's samplers work on an array of candidates the caller fills with every token of the vocabulary: for a
 * 151,936-token vocabulary that is 1.8 MB written and then partially sorted, about 250 µs per token, as long as a
 * whole decode step of a small model. When everything in the chain ahead of its first top-k sampler leaves the
 * candidates alone (logit biases aside, which are applied here one by one, as llama.cpp applies them), the k best
 * tokens can be picked straight from the logits, and the chain run from the sampler after the top-k: llama.cpp's
 * samplers then finish the work on the same k candidates, in the same order (highest logit first; equal logits by
 * token id, an order llama.cpp leaves unspecified). Chains of any other shape take the ordinary path.
 */
#include "internal.h"
#include "scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TOPK_OPEN = 0, TOPK_READY, TOPK_OFF };
enum { GREEDY_OPEN = 0, GREEDY_YES, GREEDY_NO };

/* The shortcut pays only while k is small against the vocabulary. */
#define TOPK_MAX_SHARE 8

/* After the top-k: a chain whose samplers keep the best candidate until one leaves it alone (temperature 0, greedy)
 * picks the best of all, whatever k is; the shortcut then takes a top-k of one, which spares the heap its work and
 * the rest of the chain its softmaxes over k candidates. The token and the random numbers drawn are the same. */
static void note_greedy(llamac_sampler *s, int32_t what) {
    if (s->fast_greedy == GREEDY_NO) {
        return;
    }
    /* A draw ends the chain: after a sampler that took the best it has nothing left to choose from. */
    if (what == LLAMAC__TOPK_TAKES_BEST) {
        s->fast_greedy = GREEDY_YES;
    } else if (what == LLAMAC__TOPK_BREAKS) {
        s->fast_greedy = GREEDY_NO;
    }
}

void llamac__topk_note(llamac_sampler *s, int32_t what, int32_t n_chain) {
    if (s->fast_state == TOPK_READY) {
        note_greedy(s, what);
        return;
    }
    if (s->fast_state != TOPK_OPEN || what == LLAMAC__TOPK_NEUTRAL) {
        return;
    }
    if (what > 0 && (int64_t)what * TOPK_MAX_SHARE <= s->model->info.n_vocab) {
        s->fast_state = TOPK_READY;
        s->fast_k = what;
        s->fast_after = n_chain;
    } else {
        s->fast_state = TOPK_OFF;
    }
}

static int cmp_token(const void *a, const void *b) {
    llama_token x = *(const llama_token *)a, y = *(const llama_token *)b;
    return (x > y) - (x < y);
}

static size_t bias_slot(const llamac_sampler *s, llama_token t) {
    const llama_token *at = bsearch(&t, s->fast_bias_tok, s->n_fast_bias_tok, sizeof t, cmp_token);
    return (size_t)(at - s->fast_bias_tok);
}

llamac_status llamac__topk_note_bias(llamac_sampler *s, const llama_logit_bias *b, size_t n) {
    if (s->fast_state == TOPK_READY && n > 0) {
        note_greedy(s, LLAMAC__TOPK_BREAKS); /* a bias after the top-k may bring another candidate to the top */
    }
    if (s->fast_state != TOPK_OPEN || n == 0) {
        return LLAMAC_OK;
    }
    size_t total = s->n_fast_bias + n;
    size_t n_vocab = (size_t)s->model->info.n_vocab;
    llama_logit_bias *all = realloc(s->fast_bias, total * sizeof *all);
    if (!all) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory recording logit biases");
    }
    s->fast_bias = all;
    memcpy(all + s->n_fast_bias, b, n * sizeof *b);
    s->n_fast_bias = total;
    free(s->fast_bias_tok);
    free(s->fast_bias_slot);
    free(s->fast_bias_val);
    s->fast_bias_tok = malloc(total * sizeof *s->fast_bias_tok);
    s->fast_bias_slot = malloc(total * sizeof *s->fast_bias_slot);
    s->fast_bias_val = malloc(total * sizeof *s->fast_bias_val);
    if (!s->fast_biased) {
        s->fast_biased = calloc(n_vocab / 8 + 1, 1);
    }
    if (!s->fast_bias_tok || !s->fast_bias_slot || !s->fast_bias_val || !s->fast_biased) {
        /* Not an error for the chain: it only loses the shortcut. */
        s->fast_state = TOPK_OFF;
        return LLAMAC_OK;
    }
    for (size_t i = 0; i < total; i++) {
        s->fast_bias_tok[i] = all[i].token;
        s->fast_biased[all[i].token / 8] |= (uint8_t)(1u << (all[i].token % 8));
    }
    qsort(s->fast_bias_tok, total, sizeof *s->fast_bias_tok, cmp_token);
    size_t u = 0;
    for (size_t i = 0; i < total; i++) {
        if (u == 0 || s->fast_bias_tok[u - 1] != s->fast_bias_tok[i]) {
            s->fast_bias_tok[u++] = s->fast_bias_tok[i];
        }
    }
    s->n_fast_bias_tok = u;
    for (size_t i = 0; i < total; i++) {
        s->fast_bias_slot[i] = bias_slot(s, all[i].token);
    }
    return LLAMAC_OK;
}

void llamac__topk_free(llamac_sampler *s) {
    free(s->fast_bias);
    free(s->fast_bias_tok);
    free(s->fast_bias_slot);
    free(s->fast_bias_val);
    free(s->fast_biased);
}

/* Whether candidate a ranks below b: a lower logit, or the same logit and a higher id; NaN ranks lowest. */
static bool ranks_below(const llama_token_data *a, const llama_token_data *b) {
    if (isnan(a->logit)) {
        return !isnan(b->logit) || a->id > b->id;
    }
    if (isnan(b->logit)) {
        return false;
    }
    return a->logit < b->logit || (a->logit == b->logit && a->id > b->id);
}

/* h[0..n) is a heap with the lowest-ranked candidate on top. */
static void sift_down(llama_token_data *h, size_t n, size_t i) {
    for (;;) {
        size_t low = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ranks_below(&h[l], &h[low])) {
            low = l;
        }
        if (r < n && ranks_below(&h[r], &h[low])) {
            low = r;
        }
        if (low == i) {
            return;
        }
        llama_token_data t = h[i];
        h[i] = h[low];
        h[low] = t;
        i = low;
    }
}

static void sift_up(llama_token_data *h, size_t i) {
    while (i > 0 && ranks_below(&h[i], &h[(i - 1) / 2])) {
        llama_token_data t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Offers a candidate to the heap of the k best found so far. */
static void offer(llama_token_data *h, size_t *n, size_t k, llama_token id, float logit) {
    llama_token_data c = { id, logit, 0.0f };
    if (*n < k) {
        h[*n] = c;
        sift_up(h, (*n)++);
    } else if (ranks_below(&h[0], &c)) {
        h[0] = c;
        sift_down(h, k, 0);
    }
}

static bool biased(const llamac_sampler *s, size_t t) {
    return s->n_fast_bias && (s->fast_biased[t / 8] >> (t % 8) & 1);
}

/* Offers every unbiased token of logits[from, to). */
static void offer_span(const llamac_sampler *s, llama_token_data *h, size_t *n, size_t k, const float *logits,
                       size_t from, size_t to) {
    for (size_t t = from; t < to; t++) {
        if (!biased(s, t)) {
            offer(h, n, k, (llama_token)t, logits[t]);
        }
    }
}

bool llamac__topk_apply(llamac_sampler *s, const float *logits, size_t n_vocab, llama_token_data_array *arr) {
    if (s->fast_state != TOPK_READY || n_vocab != (size_t)s->model->info.n_vocab) {
        return false;
    }
    size_t k = s->fast_greedy == GREEDY_YES ? 1 : (size_t)s->fast_k, n = 0, t = 0;
    llama_token_data *h = s->cur;
    for (; t < n_vocab && n < k; t++) {
        if (!biased(s, t)) {
            offer(h, &n, k, (llama_token)t, logits[t]);
        }
    }
    /* Most tokens fall below the k-th best at once: skip whole blocks below it before looking at any one. */
    size_t whole = t + (n_vocab - t) / LLAMAC__SCAN_BLOCK * LLAMAC__SCAN_BLOCK;
    while ((t = llamac__skip_below(logits, t, whole, h[0].logit)) < whole) {
        offer_span(s, h, &n, k, logits, t, t + LLAMAC__SCAN_BLOCK);
        t += LLAMAC__SCAN_BLOCK;
    }
    offer_span(s, h, &n, k, logits, whole, n_vocab);
    if (s->n_fast_bias) {
        for (size_t i = 0; i < s->n_fast_bias_tok; i++) {
            s->fast_bias_val[i] = logits[s->fast_bias_tok[i]];
        }
        for (size_t i = 0; i < s->n_fast_bias; i++) {
            s->fast_bias_val[s->fast_bias_slot[i]] += s->fast_bias[i].bias;
        }
        for (size_t i = 0; i < s->n_fast_bias_tok; i++) {
            offer(h, &n, k, s->fast_bias_tok[i], s->fast_bias_val[i]);
        }
    }
    /* Heap order to best first: move the lowest-ranked to the end, one at a time. */
    for (size_t m = n; m > 1; m--) {
        llama_token_data low = h[0];
        h[0] = h[m - 1];
        h[m - 1] = low;
        sift_down(h, m - 1, 0);
    }
    arr->data = h;
    arr->size = n;
    arr->selected = -1;
    arr->sorted = true;
    int32_t n_chain = llama_sampler_chain_n(s->chain);
    for (int32_t i = s->fast_after; i < n_chain; i++) {
        llama_sampler_apply(llama_sampler_chain_get(s->chain, i), arr);
    }
    return true;
}
