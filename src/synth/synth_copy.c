/*
 * synth_copy.c - the copy model (llamac_synth_params.copy_period = K): weights whose greedy continuation repeats the
 * input with period K, the token after position m being the one at m - K + 1, at the size and cost per token of the
 * random model of the same shape (only the values differ).
 *
 * It is built in Qwen2's first layer, which adds its Q, K and V biases before the rotary embedding:
 *   - Q and K weights are zero, so query and key are their biases, the same at every position. Each rotary pair
 *     (i, i + head_dim/2) of the key bias is (a, 0); the query bias holds it turned back by theta_j * (K - 1). After
 *     the rotation by the positions the score of query m on key n is a^2/sqrt(head_dim) * sum_j cos(theta_j * (m - n
 *     - (K - 1))), greatest at n = m - K + 1. `a` is chosen so that the margin over every other offset within the
 *     training context (computed here, offset by offset) is ATTN_GAP logits: the softmax takes that position alone.
 *   - A token's identity lives in the first `rank` embedding dimensions (the width the grouped values carry; zero
 *     elsewhere). The value is the identity on them, and the attention output returns each KV head's value (read
 *     through the first query head of its group) to them, scaled so that the residual becomes E_m + ALPHA * E_p.
 *   - The FFN adds nothing (ffn_down zero), nor do the later layers unless copy_noise gives their attention output
 *     and ffn_down random values, damped: those perturb the logits, so a model cut to its first layers (a layer-skip
 *     draft) agrees with the full one on most tokens but not all.
 * With the head tied to the embeddings the logits are E_t . h: the copied token's ALPHA * |E_p|^2 beats the own
 * token's |E_m|^2 and every other token's (random vectors: the nearest of 150k in 128 dimensions has cosine ~0.45).
 */
#include "synth/synth_internal.h"

#include <math.h>

#define ATTN_GAP 32.0 /* logits between the copied position and any other */
#define ALPHA 6.0     /* the copied embedding's weight in the residual, the own token's being 1 */
#define LOGIT 32.0    /* about the copied token's logit: |E_p| * |rms-normed residual| */
#define MAX_KEY_AMP 64.0
#define MAX_GAP_TERMS (1LL << 28) /* offsets times rotary pairs computed for the margin */

/* Rotary frequency of pair j: theta^(-2j/d), as NEOX-style RoPE (pairs j and j + d/2) turns it per position. */
static double pair_freq(double theta, int32_t head_dim, int32_t j) {
    return pow(theta, -2.0 * j / head_dim);
}

llamac_status llamac__synth_copy_plan(const llamac_synth_params *p, struct llamac__synth_copy *c) {
    const int32_t pairs = p->head_dim / 2, k = p->copy_period;
    if ((long long)p->n_ctx_train * pairs > MAX_GAP_TERMS) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "copy_period: the attention margin cannot be checked over n_ctx_train %d offsets with "
                            "head_dim %d (at most %lld offsets times rotary pairs); lower n_ctx_train",
                            p->n_ctx_train, p->head_dim, MAX_GAP_TERMS);
    }
    /* The score at every offset m - n the context allows, against the one at K - 1 (pairs / 1 each). */
    double best_other = -INFINITY;
    for (int32_t off = 0; off < p->n_ctx_train; off++) {
        if (off == k - 1) {
            continue;
        }
        double s = 0.0;
        for (int32_t j = 0; j < pairs; j++) {
            s += cos(pair_freq(p->rope_theta, p->head_dim, j) * (double)(off - (k - 1)));
        }
        best_other = s > best_other ? s : best_other;
    }
    double gap = p->n_ctx_train > 1 ? pairs - best_other : pairs; /* in units of a^2 / sqrt(head_dim) */
    double key_amp = sqrt(ATTN_GAP * sqrt((double)p->head_dim) / gap);
    if (!(key_amp <= MAX_KEY_AMP)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "copy_period %d: the rotary frequencies (head_dim %d, rope_theta %g) hardly tell offset %d "
                            "from the others within n_ctx_train %d (margin %.3g of %d)",
                            k, p->head_dim, (double)p->rope_theta, k - 1, p->n_ctx_train, gap, pairs);
    }
    const int64_t kv = (int64_t)p->head_dim * p->n_head_kv;
    c->period = k;
    c->head_dim = p->head_dim;
    c->n_head = p->n_head;
    c->n_head_kv = p->n_head_kv;
    c->rank = kv < p->n_embd ? kv : p->n_embd;
    c->rope_theta = p->rope_theta;
    c->embd_std = LOGIT / sqrt((double)c->rank * p->n_embd);
    /* The attention input is E_p / rms(E_p) (norm weights 1), with |E_p| about embd_std * sqrt(rank). */
    c->out_scale = ALPHA * c->embd_std * sqrt((double)c->rank / p->n_embd);
    c->key_amp = key_amp;
    return LLAMAC_OK;
}

float llamac__synth_copy_value(const struct llamac__synth_copy *c, enum llamac__fill fill, const int64_t ne[4],
                               int64_t i, float normal) {
    const int64_t col = i % ne[0], row = i / ne[0]; /* a matrix's input and output index */
    const int32_t half = c->head_dim / 2;
    switch (fill) {
    case LLAMAC__FILL_COPY_EMBD: return col < c->rank ? (float)(normal * c->embd_std) : 0.0f;
    case LLAMAC__FILL_COPY_V: return row == col && row < c->rank ? 1.0f : 0.0f;
    case LLAMAC__FILL_COPY_OUT: {
        if (row >= c->rank) {
            return 0.0f;
        }
        const int64_t group = c->n_head / c->n_head_kv, kv_head = row / c->head_dim, w = row % c->head_dim;
        return col == kv_head * group * c->head_dim + w ? (float)c->out_scale : 0.0f;
    }
    case LLAMAC__FILL_COPY_K_BIAS: return (i % c->head_dim) < half ? (float)c->key_amp : 0.0f;
    case LLAMAC__FILL_COPY_Q_BIAS: {
        const int32_t w = (int32_t)(i % c->head_dim), j = w % half;
        const double phase = pair_freq(c->rope_theta, c->head_dim, j) * (c->period - 1);
        return (float)(w < half ? c->key_amp * cos(phase) : -c->key_amp * sin(phase));
    }
    default: return 0.0f;
    }
}
