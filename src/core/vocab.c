/*
 * vocab.c - special tokens, tokenize, detokenize and token pieces.
 *
 * llama.cpp's text functions write into caller-sized buffers and signal "too small" with a negative count; here
 * the sizing is done for the caller, every token id is range-checked before llama.cpp sees it, and input text is
 * validated as UTF-8 where it enters.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

bool llamac__token_valid(const llamac_model *model, llamac_token token) {
    return model && token >= 0 && token < model->info.n_vocab;
}

llamac_status llamac__tokens_check(const llamac_model *model, const llamac_token *tokens, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!llamac__token_valid(model, tokens[i])) {
            return llamac__fail(LLAMAC_E_TOKEN_RANGE, "token %d at index %zu is outside the vocabulary (0..%d)",
                                tokens[i], i, model->info.n_vocab - 1);
        }
    }
    return LLAMAC_OK;
}

size_t llamac__common_prefix(const llamac_token *a, size_t na, const llamac_token *b, size_t nb) {
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return i;
}

llamac_token llamac_vocab_special(const llamac_model *model, llamac_special_token which) {
    if (!model) {
        return -1;
    }
    const struct llama_vocab *v = model->vocab;
    llama_token t;
    switch (which) {
    case LLAMAC_TOKEN_BOS: t = llama_vocab_bos(v); break;
    case LLAMAC_TOKEN_EOS: t = llama_vocab_eos(v); break;
    case LLAMAC_TOKEN_EOT: t = llama_vocab_eot(v); break;
    case LLAMAC_TOKEN_SEP: t = llama_vocab_sep(v); break;
    case LLAMAC_TOKEN_PAD: t = llama_vocab_pad(v); break;
    case LLAMAC_TOKEN_NL: t = llama_vocab_nl(v); break;
    case LLAMAC_TOKEN_MASK: t = llama_vocab_mask(v); break;
    case LLAMAC_TOKEN_FIM_PRE: t = llama_vocab_fim_pre(v); break;
    case LLAMAC_TOKEN_FIM_SUF: t = llama_vocab_fim_suf(v); break;
    case LLAMAC_TOKEN_FIM_MID: t = llama_vocab_fim_mid(v); break;
    case LLAMAC_TOKEN_FIM_PAD: t = llama_vocab_fim_pad(v); break;
    case LLAMAC_TOKEN_FIM_REP: t = llama_vocab_fim_rep(v); break;
    case LLAMAC_TOKEN_FIM_SEP: t = llama_vocab_fim_sep(v); break;
    default: return -1;
    }
    return llamac__token_valid(model, t) ? t : -1;
}

int32_t llamac_vocab_n_tokens(const llamac_model *model) {
    return model ? model->info.n_vocab : 0;
}

bool llamac_vocab_is_eog(const llamac_model *model, llamac_token token) {
    return llamac__token_valid(model, token) && llama_vocab_is_eog(model->vocab, token);
}

bool llamac_vocab_is_control(const llamac_model *model, llamac_token token) {
    return llamac__token_valid(model, token) && llama_vocab_is_control(model->vocab, token);
}

llamac_status llamac_tokenize(const llamac_model *model, const char *text, size_t len, unsigned flags,
                              llamac_token **tokens, size_t *n_tokens) {
    if (tokens) {
        *tokens = NULL;
    }
    if (n_tokens) {
        *n_tokens = 0;
    }
    if (!model || !tokens || !n_tokens || (!text && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tokenize: NULL argument");
    }
    if (flags & ~(unsigned)(LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tokenize: unknown flags 0x%x", flags);
    }
    if (len > (size_t)INT32_MAX - 16) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "text of %zu bytes is too long to tokenize", len);
    }
    size_t bad = 0;
    if (!llamac_utf8_valid(text, len, &bad)) {
        return llamac__fail(LLAMAC_E_UTF8, "text to tokenize is not valid UTF-8 (byte 0x%02x at offset %zu)",
                            (unsigned)(unsigned char)text[bad], bad);
    }
    bool add = (flags & LLAMAC_TOKENIZE_ADD_SPECIAL) != 0;
    bool parse = (flags & LLAMAC_TOKENIZE_PARSE_SPECIAL) != 0;
    static const char empty[1] = "";
    const char *src = text ? text : empty;
    /* Byte-level vocabularies produce at most one token per byte, plus the specials added around it. */
    size_t cap = len + 8;
    llamac_token *buf = llamac__malloc(cap * sizeof *buf);
    if (!buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    int32_t n = llama_tokenize(model->vocab, src, (int32_t)len, buf, (int32_t)cap, add, parse);
    if (n < 0 && n != INT32_MIN) {
        cap = (size_t) - (int64_t)n;
        llamac_token *bigger = realloc(buf, cap * sizeof *buf);
        if (!bigger) {
            free(buf);
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory for %zu tokens", cap);
        }
        buf = bigger;
        n = llama_tokenize(model->vocab, src, (int32_t)len, buf, (int32_t)cap, add, parse);
    }
    if (n < 0) {
        free(buf);
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp could not tokenize %zu bytes of text", len);
    }
    if (n == 0) {
        free(buf);
        buf = NULL;
    }
    *tokens = buf;
    *n_tokens = (size_t)n;
    return llamac__ok();
}

llamac_status llamac_detokenize(const llamac_model *model, const llamac_token *tokens, size_t n_tokens, unsigned flags,
                                char **text, size_t *len) {
    if (text) {
        *text = NULL;
    }
    if (len) {
        *len = 0;
    }
    if (!model || !text || !len || (!tokens && n_tokens > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_detokenize: NULL argument");
    }
    if (flags & ~(unsigned)(LLAMAC_DETOKENIZE_REMOVE_SPECIAL | LLAMAC_DETOKENIZE_UNPARSE_SPECIAL)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_detokenize: unknown flags 0x%x", flags);
    }
    if (n_tokens > (size_t)INT32_MAX / 64) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu tokens are too many to detokenize at once", n_tokens);
    }
    llamac_status st = llamac__tokens_check(model, tokens, n_tokens);
    if (st != LLAMAC_OK) {
        return st;
    }
    bool remove = (flags & LLAMAC_DETOKENIZE_REMOVE_SPECIAL) != 0;
    bool unparse = (flags & LLAMAC_DETOKENIZE_UNPARSE_SPECIAL) != 0;
    size_t cap = n_tokens * 8 + 16;
    char *buf = llamac__malloc(cap);
    if (!buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    int32_t n = n_tokens
                    ? llama_detokenize(model->vocab, tokens, (int32_t)n_tokens, buf, (int32_t)cap - 1, remove, unparse)
                    : 0;
    if (n < 0 && n != INT32_MIN) {
        cap = (size_t) - (int64_t)n + 1;
        char *bigger = realloc(buf, cap);
        if (!bigger) {
            free(buf);
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory for %zu bytes of text", cap);
        }
        buf = bigger;
        n = llama_detokenize(model->vocab, tokens, (int32_t)n_tokens, buf, (int32_t)cap - 1, remove, unparse);
    }
    if (n < 0) {
        free(buf);
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp could not detokenize %zu tokens", n_tokens);
    }
    buf[n] = '\0';
    *text = buf;
    *len = (size_t)n;
    return llamac__ok();
}

llamac_status llamac_token_to_piece(const llamac_model *model, llamac_token token, bool special, char *buf, size_t cap,
                                    size_t *needed) {
    if (needed) {
        *needed = 0;
    }
    if (!model || !needed || (!buf && cap > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_token_to_piece: NULL argument");
    }
    if (!llamac__token_valid(model, token)) {
        return llamac__fail(LLAMAC_E_TOKEN_RANGE, "token %d is outside the vocabulary (0..%d)", token,
                            model->info.n_vocab - 1);
    }
    char small[64];
    int32_t n = llama_token_to_piece(model->vocab, token, small, (int32_t)sizeof small, 0, special);
    if (n < 0) {
        /* A piece longer than 64 bytes: measure it into a heap buffer. */
        size_t big_cap = (size_t) - (int64_t)n;
        char *big = llamac__malloc(big_cap);
        if (!big) {
            return LLAMAC_E_NO_MEMORY;
        }
        n = llama_token_to_piece(model->vocab, token, big, (int32_t)big_cap, 0, special);
        if (n >= 0) {
            *needed = (size_t)n;
            if ((size_t)n <= cap) {
                memcpy(buf, big, (size_t)n);
            }
        }
        free(big);
    } else {
        *needed = (size_t)n;
        if ((size_t)n <= cap && n > 0) {
            memcpy(buf, small, (size_t)n);
        }
    }
    if (n < 0) {
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp could not render token %d", token);
    }
    if ((size_t)n > cap) {
        return llamac__fail(LLAMAC_E_BUFFER_TOO_SMALL, "token %d needs %d bytes; the buffer holds %zu", token, n, cap);
    }
    return llamac__ok();
}
