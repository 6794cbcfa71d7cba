/*
 * sampler_budget.c - the reasoning budget: a limit on how many tokens a thinking model thinks for, llama.cpp's
 * reasoning-budget sampler (common/reasoning-budget.cpp) with its states and transitions.
 *
 * It is a state machine over the selected tokens, not a filter of the chain: while it forces the end of the thinking
 * it leaves one token possible, otherwise it changes nothing, so it lives beside the chain (as the grammar does) and
 * llamac_sampler_sample consults it first. Tags are token sequences, matched as llama.cpp's Aho-Corasick matcher
 * matches them: the longest tag that ends at the current token, among the tokens since the last match or reset; a
 * handful of short tags makes a look at the recent tokens as good as the automaton.
 */
#include "internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Token sequences to watch for, with the recent tokens they are matched against. */
struct matcher {
    llama_token **seqs;
    size_t *lens;
    size_t n;
    llama_token *recent; /* the last `n_recent` tokens since a match or reset, at most the longest sequence */
    size_t n_recent, cap;
};

struct llamac__budget {
    const struct llama_vocab *vocab;
    struct matcher start, end;
    llama_token *forced;
    size_t n_forced;
    llama_token *prefill;
    size_t n_prefill;
    int32_t budget, remaining;
    llamac_budget_state state;
    size_t force_pos;
    int32_t end_match; /* the end tag that closed the block, or -1 */
};

static void matcher_free(struct matcher *m) {
    for (size_t i = 0; i < m->n; i++) {
        llamac_free(m->seqs[i]);
    }
    free(m->seqs);
    free(m->lens);
    free(m->recent);
}

static void matcher_reset(struct matcher *m) {
    m->n_recent = 0;
}

/* The index of the longest sequence that ends with `token`, or -1; a match starts over. */
static int32_t matcher_advance(struct matcher *m, llama_token token) {
    if (m->n_recent == m->cap) {
        memmove(m->recent, m->recent + 1, (m->cap - 1) * sizeof *m->recent);
        m->n_recent--;
    }
    m->recent[m->n_recent++] = token;
    int32_t best = -1;
    for (size_t i = 0; i < m->n; i++) {
        size_t len = m->lens[i];
        if (len <= m->n_recent && (best < 0 || len > m->lens[best]) &&
            memcmp(m->seqs[i], m->recent + m->n_recent - len, len * sizeof *m->recent) == 0) {
            best = (int32_t)i;
        }
    }
    if (best >= 0) {
        matcher_reset(m);
    }
    return best;
}

static llamac_status tokens_of(const llamac_model *model, const char *text, llama_token **out, size_t *n) {
    return llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_PARSE_SPECIAL, out, n);
}

/* Adds the tokens of `tag` to the matcher (a duplicate is dropped, as llama.cpp drops it). */
static llamac_status matcher_add(struct matcher *m, const llamac_model *model, const char *tag, const char *what) {
    llama_token *t = NULL;
    size_t n = 0;
    llamac_status st = tokens_of(model, tag, &t, &n);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (n == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reasoning budget: the %s \"%s\" has no tokens", what, tag);
    }
    for (size_t i = 0; i < m->n; i++) {
        if (m->lens[i] == n && memcmp(m->seqs[i], t, n * sizeof *t) == 0) {
            llamac_free(t);
            return LLAMAC_OK;
        }
    }
    m->seqs[m->n] = t;
    m->lens[m->n++] = n;
    if (n > m->cap) {
        llama_token *r = realloc(m->recent, n * sizeof *r);
        if (!r) {
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory creating a reasoning budget");
        }
        m->recent = r;
        m->cap = n;
    }
    return LLAMAC_OK;
}

static llamac_status matcher_init(struct matcher *m, size_t n) {
    memset(m, 0, sizeof *m);
    m->seqs = llamac__calloc(n, sizeof *m->seqs);
    m->lens = llamac__calloc(n, sizeof *m->lens);
    return m->seqs && m->lens ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
}

void llamac__budget_free(struct llamac__budget *b) {
    if (!b) {
        return;
    }
    matcher_free(&b->start);
    matcher_free(&b->end);
    free(b->forced);
    llamac_free(b->prefill);
    free(b);
}

/* Whether the token's text ends on a whole UTF-8 character (llama.cpp's common_utf8_is_complete of its piece,
 * special tokens rendered as nothing). */
static bool piece_complete(const struct llama_vocab *vocab, llama_token token) {
    char buf[256];
    int32_t n = llama_token_to_piece(vocab, token, buf, (int32_t)sizeof buf, 0, false);
    if (n <= 0) {
        return true; /* nothing (a special token), or a piece past the buffer, which no tag or character is */
    }
    for (int32_t i = 1; i <= (n < 4 ? n : 4); i++) {
        unsigned char c = (unsigned char)buf[n - i];
        if ((c & 0xC0) != 0x80) {
            int expected = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return i >= expected;
        }
    }
    return false;
}

static void start_block(struct llamac__budget *b) {
    b->state = LLAMAC_BUDGET_COUNTING;
    b->remaining = b->budget;
    if (b->remaining <= 0) {
        b->state = LLAMAC_BUDGET_FORCING;
        b->force_pos = 0;
    }
}

const llama_token *llamac__budget_accept(struct llamac__budget *b, llama_token token, size_t *n) {
    int32_t match = -1;
    *n = 0;
    switch (b->state) {
    case LLAMAC_BUDGET_IDLE:
        if (matcher_advance(&b->start, token) >= 0) {
            start_block(b);
        }
        return NULL;
    case LLAMAC_BUDGET_COUNTING:
    case LLAMAC_BUDGET_WAITING: {
        match = matcher_advance(&b->end, token);
        if (match >= 0) {
            b->state = LLAMAC_BUDGET_DONE;
            b->end_match = match;
            break;
        }
        bool complete = piece_complete(b->vocab, token);
        if (b->state == LLAMAC_BUDGET_WAITING) {
            if (complete) {
                b->state = LLAMAC_BUDGET_FORCING;
                b->force_pos = 0;
                matcher_reset(&b->end);
            }
        } else if (--b->remaining <= 0) {
            b->state = complete ? LLAMAC_BUDGET_FORCING : LLAMAC_BUDGET_WAITING;
            b->force_pos = 0;
            matcher_reset(&b->end);
        }
        return NULL;
    }
    case LLAMAC_BUDGET_FORCING:
        /* the end tag is watched for inside the forced tokens too, so that it is reported when done */
        match = matcher_advance(&b->end, token);
        if (++b->force_pos >= b->n_forced) {
            b->state = LLAMAC_BUDGET_DONE;
            b->end_match = match;
            break;
        }
        return NULL;
    case LLAMAC_BUDGET_DONE:
    default:
        /* some models think in several blocks: each gets a fresh budget */
        if (matcher_advance(&b->start, token) >= 0) {
            matcher_reset(&b->end);
            b->end_match = -1;
            start_block(b);
        }
        return NULL;
    }
    if (b->end_match < 0) {
        return NULL;
    }
    *n = b->end.lens[b->end_match];
    return b->end.seqs[b->end_match];
}

void llamac__budget_reset(struct llamac__budget *b) {
    b->state = LLAMAC_BUDGET_IDLE;
    b->remaining = b->budget;
    b->force_pos = 0;
    b->end_match = -1;
    matcher_reset(&b->start);
    matcher_reset(&b->end);
    size_t n;
    for (size_t i = 0; i < b->n_prefill; i++) {
        (void)llamac__budget_accept(b, b->prefill[i], &n);
    }
}

llamac_budget_state llamac__budget_state(const struct llamac__budget *b) {
    return b->state;
}

llama_token llamac__budget_forced(const struct llamac__budget *b) {
    return b->state == LLAMAC_BUDGET_FORCING && b->force_pos < b->n_forced ? b->forced[b->force_pos] : -1;
}

/* The forced tokens: the message's, then the first end tag's (tokenized apart, as llama.cpp does). */
static llamac_status forced_tokens(struct llamac__budget *b, const llamac_model *model, const char *message) {
    llama_token *msg = NULL;
    size_t n_msg = 0;
    if (message && message[0]) {
        llamac_status st = tokens_of(model, message, &msg, &n_msg);
        if (st != LLAMAC_OK) {
            return st;
        }
    }
    size_t n_end = b->end.lens[0];
    b->forced = llamac__malloc((n_msg + n_end) * sizeof *b->forced);
    if (!b->forced) {
        llamac_free(msg);
        return LLAMAC_E_NO_MEMORY;
    }
    if (n_msg) {
        memcpy(b->forced, msg, n_msg * sizeof *msg);
    }
    memcpy(b->forced + n_msg, b->end.seqs[0], n_end * sizeof *b->forced);
    b->n_forced = n_msg + n_end;
    llamac_free(msg);
    return LLAMAC_OK;
}

/* The prefill's tokens, less a leading token that is only a space the text does not start with (some tokenizers add
 * one before a special token; llama.cpp leaves it out). */
static llamac_status prefill_tokens(struct llamac__budget *b, const llamac_model *model, const char *prefill) {
    if (!prefill || !prefill[0]) {
        return LLAMAC_OK;
    }
    llamac_status st = tokens_of(model, prefill, &b->prefill, &b->n_prefill);
    if (st != LLAMAC_OK || b->n_prefill == 0) {
        return st;
    }
    char buf[8];
    int32_t n = llama_token_to_piece(b->vocab, b->prefill[0], buf, (int32_t)sizeof buf, 0, true);
    if (n > 0 && isspace((unsigned char)buf[0]) && !isspace((unsigned char)prefill[0])) {
        memmove(b->prefill, b->prefill + 1, (b->n_prefill - 1) * sizeof *b->prefill);
        b->n_prefill--;
    }
    return LLAMAC_OK;
}

static llamac_status budget_check(const llamac_sampler *s, const llamac_reasoning_budget *rb) {
    if (!s || !rb) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_add_reasoning_budget: %s is NULL",
                            s ? "budget" : "sampler");
    }
    if (s->budget) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the chain already has a reasoning budget");
    }
    if (rb->tokens < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "reasoning budget %d must be -1 (unlimited), 0 (no thinking) or a number of tokens",
                            rb->tokens);
    }
    if (!rb->start || !rb->start[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reasoning budget: the thinking start tag is %s",
                            rb->start ? "empty" : "NULL");
    }
    if (rb->n_ends == 0 || !rb->ends) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reasoning budget: no thinking end tag is given");
    }
    for (size_t i = 0; i < rb->n_ends; i++) {
        if (!rb->ends[i] || !rb->ends[i][0]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "reasoning budget: end tag %zu is %s", i,
                                rb->ends[i] ? "empty" : "NULL");
        }
    }
    return LLAMAC_OK;
}

llamac_status llamac_sampler_add_reasoning_budget(llamac_sampler *s, const llamac_reasoning_budget *rb) {
    llamac_status st = budget_check(s, rb);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct llamac__budget *b = llamac__calloc(1, sizeof *b);
    if (!b) {
        return LLAMAC_E_NO_MEMORY;
    }
    b->vocab = s->model->vocab;
    b->budget = rb->tokens < 0 ? INT32_MAX : rb->tokens;
    if ((st = matcher_init(&b->start, 1)) != LLAMAC_OK || (st = matcher_init(&b->end, rb->n_ends)) != LLAMAC_OK ||
        (st = matcher_add(&b->start, s->model, rb->start, "start tag")) != LLAMAC_OK) {
        goto fail;
    }
    for (size_t i = 0; i < rb->n_ends; i++) {
        if ((st = matcher_add(&b->end, s->model, rb->ends[i], "end tag")) != LLAMAC_OK) {
            goto fail;
        }
    }
    if ((st = forced_tokens(b, s->model, rb->message)) != LLAMAC_OK ||
        (st = prefill_tokens(b, s->model, rb->prefill)) != LLAMAC_OK) {
        goto fail;
    }
    llamac__budget_reset(b);
    s->budget = b;
    s->count++;
    return llamac__ok();
fail:
    llamac__budget_free(b);
    return st;
}

llamac_budget_state llamac_sampler_budget_state(const llamac_sampler *s) {
    return s && s->budget ? s->budget->state : LLAMAC_BUDGET_NONE;
}
