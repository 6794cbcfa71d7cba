/*
 * test_prefill.c - incremental prefill: random typing sessions give exactly the reply of a non-incremental turn.
 *
 * Each session types a message with a seeded PRNG (characters, backspaces, mid-line inserts and deletes, pastes),
 * calling update after every edit and a random number of decode steps in between, then presses Enter and
 * generates greedily. The same conversation in a second context, with plain llamac_chat_add + generate, must give
 * the same reply, and the generation must have reused what the prefill decoded. Runs on stories260K-chatml (ChatML
 * markers as plain text) and on a model synthesized with Qwen2's BPE vocabulary (markers as special tokens), with
 * speculation (decoding the rest of the prompt during a pause) on and off; with it, Enter after a pause must leave
 * only the prompt's last token, and the wasted speculative tokens are checked against the real renders.
 */
#include "helpers.h"

static llamac_model *stories;

struct rng {
    uint64_t s;
};

static uint32_t next(struct rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}

static uint32_t below(struct rng *r, uint32_t n) {
    return next(r) % n;
}

/* The message being typed: characters of up to 4 bytes each and a cursor, as a line editor holds it. */
#define MAX_CHARS 400
struct line {
    char ch[MAX_CHARS][5];
    size_t n;
    size_t cursor;
};

static size_t line_text(const struct line *l, char *out, size_t cap) {
    size_t len = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->ch[i]);
        if (len + k + 1 > cap) {
            break;
        }
        memcpy(out + len, l->ch[i], k);
        len += k;
    }
    out[len] = '\0';
    return len;
}

static void line_insert(struct line *l, const char *c) {
    if (l->n >= MAX_CHARS) {
        return;
    }
    memmove(l->ch[l->cursor + 1], l->ch[l->cursor], (l->n - l->cursor) * sizeof l->ch[0]);
    snprintf(l->ch[l->cursor], sizeof l->ch[0], "%s", c);
    l->n++;
    l->cursor++;
}

static void line_delete(struct line *l, size_t at) {
    if (at >= l->n) {
        return;
    }
    memmove(l->ch[at], l->ch[at + 1], (l->n - at - 1) * sizeof l->ch[0]);
    l->n--;
    if (l->cursor > at) {
        l->cursor--;
    }
}

static const char *const words[] = { "Once",  "upon", "a",   "time",  "there", "was",   "little", "girl",
                                     "named", "Lily", "she", "liked", "to",    "play",  "in",     "the",
                                     "park",  "with", "her", "dog",   "sun",   "happy", "big",    "tree" };
static const char *const extra[] = { "é", "ü", "—", "日", ",", ".", "?", "!", "\n", "  " };

/* Applies one random edit: mostly typing the next letter of a word, sometimes a backspace, a cursor move and
 * insert/delete in the middle, or a pasted phrase. */
static void random_edit(struct rng *r, struct line *l, bool unicode) {
    uint32_t op = below(r, 100);
    if (op < 70 || l->n == 0) {
        const char *w = words[below(r, sizeof words / sizeof words[0])];
        char c[2] = { w[below(r, (uint32_t)strlen(w))], 0 };
        if (below(r, 6) == 0) {
            c[0] = ' ';
        }
        line_insert(l, unicode && below(r, 12) == 0 ? extra[below(r, 10)] : c);
    } else if (op < 82) {
        if (l->cursor > 0) {
            line_delete(l, l->cursor - 1);
        }
    } else if (op < 90) {
        l->cursor = below(r, (uint32_t)l->n + 1);
        if (below(r, 2) == 0 && l->cursor < l->n) {
            line_delete(l, l->cursor);
        } else {
            line_insert(l, "x");
        }
        if (below(r, 2) == 0) {
            l->cursor = l->n; /* back to the end, as a typist does */
        }
    } else {
        for (int k = 0; k < 3; k++) {
            const char *w = words[below(r, sizeof words / sizeof words[0])];
            for (const char *p = w; *p; p++) {
                char c[2] = { *p, 0 };
                line_insert(l, c);
            }
            line_insert(l, " ");
        }
    }
}

static llamac_chat_params chat_params(void) {
    llamac_chat_params p = llamac_chat_params_default();
    p.system_prompt = "You are a helpful storyteller.";
    p.generate.max_tokens = 6;
    p.generate.sampling.temp = 0;
    return p;
}

/* Runs `sessions` seeded typing sessions of two turns each on `model`; returns the prefill's statistics summed. */
static void typing_sessions(llamac_model *model, int sessions, uint64_t seed, int32_t margin, bool unicode,
                            bool speculate, llamac_prefill_stats *sum) {
    memset(sum, 0, sizeof *sum);
    llamac_ctx_params cp = test_ctx_params(1024);
    llamac_chat_params p = chat_params();
    for (int s = 0; s < sessions; s++) {
        struct rng r = { seed * 7919u + (uint64_t)s * 104729u + 1u };
        llamac_context *live_ctx = NULL, *ref_ctx = NULL;
        llamac_chat *live = NULL, *ref = NULL;
        llamac_prefill *pf = NULL;
        CHECK_OK(llamac_ctx_new(model, &cp, &live_ctx));
        CHECK_OK(llamac_ctx_new(model, &cp, &ref_ctx));
        if (live_ctx && ref_ctx) {
            CHECK_OK(llamac_chat_new(live_ctx, &p, &live));
            CHECK_OK(llamac_chat_new(ref_ctx, &p, &ref));
        }
        llamac_prefill_params pp = llamac_prefill_params_default();
        pp.margin = margin;
        pp.speculate = speculate;
        pp.step_tokens = 1 + (int32_t)below(&r, 24);
        if (live) {
            CHECK_OK(llamac_prefill_new(live, &pp, &pf));
        }
        for (int turn = 0; pf && ref && turn < 2; turn++) {
            static struct line l;
            memset(&l, 0, sizeof l);
            char text[MAX_CHARS * 4 + 1];
            size_t len = 0;
            int edits = 20 + (int)below(&r, 60);
            for (int e = 0; e < edits; e++) {
                random_edit(&r, &l, unicode);
                len = line_text(&l, text, sizeof text);
                CHECK_OK(llamac_prefill_update(pf, text, len));
                uint32_t steps = below(&r, 4);
                for (uint32_t k = 0; k < steps; k++) {
                    CHECK_OK(llamac_prefill_step(pf, NULL));
                }
            }
            bool paused = below(&r, 2) == 0;
            if (paused) {
                size_t left = 1;
                for (int k = 0; k < 200 && left > 0; k++) {
                    CHECK_OK(llamac_prefill_step(pf, &left));
                }
                CHECK_INT(left, 0);
                CHECK_INT(llamac_prefill_pending(pf), 0);
            }
            CHECK_OK(llamac_prefill_flush(pf, text, len));
            struct test_sink a = { { 0 }, 0 }, b = { { 0 }, 0 };
            llamac_chat_result ra, rb;
            CHECK_OK(llamac_chat_generate(live, test_on_text, &a, &ra));
            CHECK_OK(llamac_chat_add(ref, "user", text, len));
            CHECK_OK(llamac_chat_generate(ref, test_on_text, &b, &rb));
            CHECK_STR(a.text, b.text);
            CHECK_INT(ra.gen.n_prompt_tokens, rb.gen.n_prompt_tokens);
            CHECK_INT(ra.gen.n_generated_tokens, rb.gen.n_generated_tokens);
            llamac_prefill_stats st;
            llamac_prefill_get_stats(pf, &st, false);
            CHECK_INT(ra.n_reused_tokens, st.last_reused); /* the generation reused what the prefill left */
            CHECK_INT(ra.n_decoded_tokens, st.last_remaining);
            if (paused && speculate) {
                CHECK_INT(st.last_remaining, 1); /* only the prompt's last token is decoded at Enter */
            }
        }
        llamac_prefill_stats st;
        llamac_prefill_get_stats(pf, &st, false);
        sum->n_updates += st.n_updates;
        sum->n_decoded += st.n_decoded;
        sum->n_invalidated += st.n_invalidated;
        sum->n_spec_decoded += st.n_spec_decoded;
        sum->n_spec_wasted += st.n_spec_wasted;
        sum->n_spec_used += st.n_spec_used;
        CHECK(st.n_spec_decoded <= st.n_decoded);
        CHECK(st.n_spec_wasted <= st.n_invalidated);
        CHECK(st.n_spec_used + st.n_spec_wasted <= st.n_spec_decoded);
        if (!speculate) {
            CHECK_INT(st.n_spec_decoded, 0);
        }
        sum->n_flushes += st.n_flushes;
        sum->n_reused += st.n_reused;
        sum->n_remaining += st.n_remaining;
        llamac_prefill_free(pf);
        llamac_chat_free(live);
        llamac_chat_free(ref);
        llamac_ctx_free(live_ctx);
        llamac_ctx_free(ref_ctx);
    }
}

static void test_typing_stories(void) {
    llamac_prefill_stats st;
    typing_sessions(stories, 4, 1, 2, false, true, &st);
    fprintf(stderr,
            "  stories margin 2, speculation: updates %lld decoded %lld (speculative %lld) invalidated %lld "
            "(speculative %lld) reused %lld (speculative %lld) remaining %lld\n",
            (long long)st.n_updates, (long long)st.n_decoded, (long long)st.n_spec_decoded, (long long)st.n_invalidated,
            (long long)st.n_spec_wasted, (long long)st.n_reused, (long long)st.n_spec_used, (long long)st.n_remaining);
    CHECK_INT(st.n_flushes, 8);
    CHECK(st.n_decoded > 0);
    CHECK(st.n_reused > st.n_remaining); /* most of each prompt was decoded before Enter */
    CHECK(st.n_spec_decoded > 0);
    CHECK(st.n_spec_used > 0);
    typing_sessions(stories, 5, 2, 0, true, false, &st);
    CHECK_INT(st.n_flushes, 10);
    CHECK(st.n_reused > st.n_remaining);
}

static llamac_model *qwen2_model(void) {
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    if (!src || !src[0]) {
        fprintf(stderr, "skip: LLAMAC_LLAMA_SOURCE is not set\n");
        return NULL;
    }
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-qwen2.gguf", src);
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "qwen2";
    sp.vocab_from = vocab;
    sp.n_layer = 2;
    sp.n_embd = 32;
    sp.n_head = 2;
    sp.untied_output = true;
    sp.init_std = 0.5f;
    sp.seed = 11;
    const char *path = test_tmp("prefill-qwen2.gguf");
    llamac_model *m = NULL;
    CHECK_OK(llamac_synth_write(path, &sp));
    CHECK_OK(llamac_model_load(path, NULL, &m));
    return m;
}

/* The final prompt of `msg` as the chat renders it (a fresh session with chat_params()). */
static void prompt_of(llamac_model *model, const char *msg, llamac_token **toks, size_t *n) {
    llamac_ctx_params cp = test_ctx_params(1024);
    llamac_chat_params p = chat_params();
    llamac_context *ctx = NULL;
    llamac_chat *chat = NULL;
    *toks = NULL;
    *n = 0;
    CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
    if (ctx) {
        CHECK_OK(llamac_chat_new(ctx, &p, &chat));
    }
    if (chat) {
        CHECK_OK(llamac_chat_add(chat, "user", msg, strlen(msg)));
        CHECK_OK(llamac_chat_prompt(chat, NULL, NULL, toks, n));
    }
    llamac_chat_free(chat);
    llamac_ctx_free(ctx);
}

/* Speculation on the ChatML model: a pause decodes the whole prompt but its last token; typing on wastes exactly
 * the speculative tokens that no longer match; Enter after a pause decodes one token and answers as a fresh turn. */
static void test_speculation(llamac_model *qm) {
    const char *a = "Tell me a story about a dog";
    const char *b = "Tell me a story about a dog and a cat";
    llamac_token *ta = NULL, *tb = NULL;
    size_t na = 0, nb = 0;
    prompt_of(qm, a, &ta, &na);
    prompt_of(qm, b, &tb, &nb);
    llamac_ctx_params cp = test_ctx_params(1024);
    llamac_chat_params p = chat_params();
    llamac_context *ctx = NULL, *ref_ctx = NULL;
    llamac_chat *chat = NULL, *ref = NULL;
    llamac_prefill *pf = NULL;
    CHECK_OK(llamac_ctx_new(qm, &cp, &ctx));
    CHECK_OK(llamac_ctx_new(qm, &cp, &ref_ctx));
    if (ctx && ref_ctx) {
        CHECK_OK(llamac_chat_new(ctx, &p, &chat));
        CHECK_OK(llamac_chat_new(ref_ctx, &p, &ref));
    }
    if (chat) {
        CHECK_OK(llamac_prefill_new(chat, NULL, &pf)); /* defaults: speculation on, margin 2 */
    }
    if (!pf || !ref || na < 8 || nb < 8) {
        goto done;
    }
    CHECK_OK(llamac_prefill_update(pf, a, strlen(a)));
    CHECK_INT(llamac_prefill_pending(pf), na - 1); /* all of the prompt but its last token */
    size_t left = 1;
    while (left > 0) {
        CHECK_OK(llamac_prefill_step(pf, &left));
    }
    llamac_prefill_stats st;
    llamac_prefill_get_stats(pf, &st, false);
    CHECK_INT(st.n_decoded, na - 1);
    /* margin 2 + "<|im_end|>\n<|im_start|>assistant\n" (5 tokens) - the last token */
    CHECK_INT(st.n_spec_decoded, 2 + 5 - 1);
    size_t spec_lo = na - 1 - (size_t)st.n_spec_decoded;
    size_t k = 0;
    while (k < na - 1 && k < nb && ta[k] == tb[k]) {
        k++;
    }
    CHECK_OK(llamac_prefill_update(pf, b, strlen(b))); /* the user types on */
    llamac_prefill_get_stats(pf, &st, false);
    CHECK_INT(st.n_invalidated, na - 1 - k);
    CHECK_INT(st.n_spec_wasted, na - 1 - (k > spec_lo ? k : spec_lo));
    CHECK(st.n_spec_wasted >= 4); /* at least the template's text after the message, but its last token */
    left = 1;
    while (left > 0) {
        CHECK_OK(llamac_prefill_step(pf, &left));
    }
    CHECK_OK(llamac_prefill_flush(pf, b, strlen(b)));
    llamac_prefill_get_stats(pf, &st, false);
    CHECK_INT(st.last_reused, nb - 1);
    CHECK_INT(st.last_remaining, 1);
    CHECK_INT(st.n_spec_used, 6);
    struct test_sink x = { { 0 }, 0 }, y = { { 0 }, 0 };
    llamac_chat_result rx, ry;
    CHECK_OK(llamac_chat_generate(chat, test_on_text, &x, &rx));
    CHECK_INT(rx.n_decoded_tokens, 1);
    CHECK_OK(llamac_chat_add(ref, "user", b, strlen(b)));
    CHECK_OK(llamac_chat_generate(ref, test_on_text, &y, &ry));
    CHECK_STR(x.text, y.text);
done:
    llamac_prefill_free(pf);
    llamac_chat_free(chat);
    llamac_chat_free(ref);
    llamac_ctx_free(ctx);
    llamac_ctx_free(ref_ctx);
    free(ta);
    free(tb);
}

static void test_typing_qwen2(void) {
    llamac_model *qm = qwen2_model();
    if (!qm) {
        return;
    }
    llamac_prefill_stats st;
    typing_sessions(qm, 5, 3, 2, true, true, &st);
    fprintf(stderr,
            "  qwen2 margin 2, speculation: updates %lld decoded %lld (speculative %lld) invalidated %lld "
            "(speculative %lld) reused %lld (speculative %lld) remaining %lld\n",
            (long long)st.n_updates, (long long)st.n_decoded, (long long)st.n_spec_decoded, (long long)st.n_invalidated,
            (long long)st.n_spec_wasted, (long long)st.n_reused, (long long)st.n_spec_used, (long long)st.n_remaining);
    CHECK_INT(st.n_flushes, 10);
    CHECK(st.n_reused > st.n_remaining);
    CHECK(st.n_spec_used > 0);
    typing_sessions(qm, 3, 4, 0, false, false, &st);
    CHECK_INT(st.n_flushes, 6);

    /* The template's text after the message is never decoded early: with margin 0 and the queue drained, Enter
     * leaves exactly "<|im_end|>\n<|im_start|>assistant\n" (5 tokens; the markers are special tokens here), and
     * margin 2 leaves 2 more (speculation off). Typing at the end of the line, the margin wastes less than no
     * margin. */
    int64_t wasted[2] = { 0, 0 };
    for (int32_t margin = 0; margin <= 2; margin += 2) {
        llamac_ctx_params cp = test_ctx_params(1024);
        llamac_chat_params p = chat_params();
        llamac_context *ctx = NULL;
        llamac_chat *chat = NULL;
        llamac_prefill *pf = NULL;
        llamac_prefill_params pp = llamac_prefill_params_default();
        pp.margin = margin;
        pp.speculate = false;
        CHECK_OK(llamac_ctx_new(qm, &cp, &ctx));
        if (ctx) {
            CHECK_OK(llamac_chat_new(ctx, &p, &chat));
        }
        if (chat) {
            CHECK_OK(llamac_prefill_new(chat, &pp, &pf));
        }
        if (pf) {
            const char *msg = "Tell me a story about a dog, a cat and the unbelievable adventures they had";
            for (size_t i = 1; i <= strlen(msg); i++) {
                CHECK_OK(llamac_prefill_update(pf, msg, i));
                CHECK_OK(llamac_prefill_step(pf, NULL));
            }
            size_t left = 1;
            while (left > 0) {
                CHECK_OK(llamac_prefill_step(pf, &left));
            }
            CHECK_OK(llamac_prefill_flush(pf, msg, strlen(msg)));
            llamac_prefill_stats st1;
            llamac_prefill_get_stats(pf, &st1, true);
            CHECK_INT(st1.last_remaining, 5 + margin);
            wasted[margin / 2] = st1.n_invalidated;
            llamac_prefill_get_stats(pf, &st1, false);
            CHECK_INT(st1.n_updates, 0); /* reset */
        }
        llamac_prefill_free(pf);
        llamac_chat_free(chat);
        llamac_ctx_free(ctx);
    }
    fprintf(stderr, "  qwen2 typing at the end: wasted %lld tokens with margin 0, %lld with margin 2\n",
            (long long)wasted[0], (long long)wasted[1]);
    CHECK(wasted[1] < wasted[0]);
    test_speculation(qm);
    llamac_model_free(qm);
}

/* Bad arguments, step bounds, llamac_prefill_cancel and llamac_ctx_cancel. */
static void test_errors_and_cancel(void) {
    llamac_ctx_params cp = test_ctx_params(1024);
    llamac_chat_params p = chat_params();
    llamac_context *ctx = NULL;
    llamac_chat *chat = NULL;
    llamac_prefill *pf = NULL;
    CHECK_OK(llamac_ctx_new(stories, &cp, &ctx));
    if (ctx) {
        CHECK_OK(llamac_chat_new(ctx, &p, &chat));
    }
    if (!chat) {
        goto done;
    }
    llamac_prefill_params pp = llamac_prefill_params_default();
    CHECK_INT(pp.margin, 2);
    CHECK_INT(pp.step_tokens, 16);
    CHECK(pp.speculate);
    pf = (llamac_prefill *)1;
    CHECK_STATUS(llamac_prefill_new(NULL, NULL, &pf), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(pf == NULL);
    pp.margin = -1;
    CHECK_STATUS(llamac_prefill_new(chat, &pp, &pf), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("margin -1");
    pp = llamac_prefill_params_default();
    pp.step_tokens = 0;
    CHECK_STATUS(llamac_prefill_new(chat, &pp, &pf), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("step_tokens 0");
    pp.step_tokens = 4;
    CHECK_OK(llamac_prefill_new(chat, &pp, &pf));
    if (!pf) {
        goto done;
    }
    CHECK_STATUS(llamac_prefill_update(pf, NULL, 3), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_prefill_update(pf, "caf\xc3", 4), LLAMAC_E_UTF8); /* cut inside a character */
    CHECK_STATUS(llamac_prefill_flush(pf, "\xff", 1), LLAMAC_E_UTF8);
    CHECK_STATUS(llamac_prefill_step(NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(llamac_prefill_pending(NULL), 0);
    CHECK_INT(llamac_chat_n_messages(chat), 1); /* the failed flush added nothing */

    const char *msg = "Once upon a time there was a little girl who liked to play in the park";
    CHECK_OK(llamac_prefill_update(pf, msg, strlen(msg)));
    size_t queued = llamac_prefill_pending(pf);
    CHECK(queued > 8);
    size_t left = 0;
    CHECK_OK(llamac_prefill_step(pf, &left));
    CHECK_INT(left, queued - 4); /* one step decodes at most step_tokens */
    llamac_ctx_cancel(ctx);
    CHECK_STATUS(llamac_prefill_step(pf, &left), LLAMAC_E_CANCELLED);
    CHECK_INT(left, queued - 4); /* the stopped batch stays queued */
    CHECK_OK(llamac_prefill_step(pf, &left));
    CHECK_INT(left, queued - 8);
    llamac_prefill_cancel(pf);
    CHECK_INT(llamac_prefill_pending(pf), 0);
    CHECK_OK(llamac_prefill_step(pf, &left));
    CHECK_INT(left, 0);
    llamac_prefill_stats st;
    llamac_prefill_get_stats(pf, &st, false);
    CHECK_INT(st.n_decoded, 8);
    llamac_prefill_get_stats(NULL, &st, false);
    CHECK_INT(st.n_decoded, 0);
    llamac_prefill_free(NULL);
done:
    llamac_prefill_free(pf);
    llamac_chat_free(chat);
    llamac_ctx_free(ctx);
}

int main(void) {
    CHECK_OK(llamac_model_load(test_model("stories260K-chatml.gguf"), NULL, &stories));
    if (!stories) {
        return 1;
    }
    RUN(test_errors_and_cancel);
    RUN(test_typing_stories);
    RUN(test_typing_qwen2);
    llamac_model_free(stories);
    TESTS_DONE();
}
