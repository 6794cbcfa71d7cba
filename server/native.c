/*
 * native.c - llama-server's own endpoints besides completions: /tokenize, /detokenize and /apply-template (the
 * prompt of a chat request, rendered by the library's llamac_template_apply as chat completions render it).
 *
 * Request and reply shapes are llama-server's, so scripts written against it keep working: /tokenize takes
 * {"content", "add_special", "parse_special", "with_pieces"} and answers {"tokens"}, /detokenize answers
 * {"content"}, /apply-template answers {"prompt"}.
 */
#include "dynbuf.h"
#include "request.h"

#include <stdlib.h>
#include <string.h>

/* The largest /tokenize reply: 16 times the largest body, at least 64 MiB (a piece and its JSON are a few dozen
 * bytes per token; a token at least a byte of the content). */
static size_t tokenize_reply_max(const struct server *s) {
    size_t cap = s->opt.max_body * 16;
    return cap > ((size_t)64 << 20) ? cap : (size_t)64 << 20;
}

void handle_tokenize(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *content = NULL;
    bool add_special = false, parse_special = true, with_pieces = false;
    llamac_token *t = NULL;
    size_t n = 0;
    json_t *c = json_object_get(body, "content");
    if (!c) {
        reply_error(rq, 400, "content", "missing_required_parameter", "'content' is required");
        goto done;
    }
    if (!field_str(rq, body, "content", &content) || !field_bool(rq, body, "add_special", &add_special) ||
        !field_bool(rq, body, "parse_special", &parse_special) || !field_bool(rq, body, "with_pieces", &with_pieces)) {
        goto done;
    }
    if (!content) {
        reply_error(rq, 400, "content", "invalid_type", "'content' must be a string");
        goto done;
    }
    size_t max = rq->s->prompt_bytes_max;
    if (max > 0 && json_string_length(c) > max) {
        /* llama.cpp's tokenizers need tens of bytes per byte of text: a text no slot could take as a prompt is not
         * tokenized (issue 30: a 4 MiB text cost 2.2 GiB, 230 MiB of it the tokenizer's own) */
        reply_error(rq, 400, "content", "context_length_exceeded",
                    "'content' has %zu bytes, more than a slot's context can hold in any tokenization (%zu bytes); "
                    "tokenize it in parts",
                    json_string_length(c), max);
        goto done;
    }
    unsigned flags =
        (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u) | (parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    llamac_status st = llamac_tokenize(rq->s->model, content, json_string_length(c), flags, &t, &n);
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, "content", "invalid_value", "%s", llamac_last_error());
        goto done;
    }
    /* The reply is written as text, not built as jansson values: a value per token (an object per piece) cost
     * 2 GiB for a 4 MiB body (issue 30). Its size is capped; past the cap the request is refused. */
    llamac__dynbuf out = LLAMAC__DYNBUF(tokenize_reply_max(rq->s));
    llamac__dynbuf_adds(&out, "{\"tokens\":[");
    for (size_t i = 0; i < n && llamac__dynbuf_error(&out) == LLAMAC__DYNBUF_OK; i++) {
        if (i > 0) {
            llamac__dynbuf_addc(&out, ',');
        }
        if (!with_pieces) {
            llamac__dynbuf_addf(&out, "%d", (int)t[i]);
            continue;
        }
        char piece[256];
        size_t needed = 0;
        if (llamac_token_to_piece(rq->s->model, t[i], true, piece, sizeof piece, &needed) != LLAMAC_OK ||
            needed > sizeof piece) {
            needed = 0;
        }
        llamac__dynbuf_addf(&out, "{\"id\":%d,\"piece\":", (int)t[i]);
        if (llamac_utf8_valid(piece, needed, NULL)) {
            json_t *str = json_stringn(piece, needed);
            char *text = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
            llamac__dynbuf_adds(&out, text ? text : "\"\"");
            free(text);
            json_decref(str);
        } else {
            /* part of a character: the bytes, as llama-server gives them */
            llamac__dynbuf_addc(&out, '[');
            for (size_t k = 0; k < needed; k++) {
                if (k > 0) {
                    llamac__dynbuf_addc(&out, ',');
                }
                llamac__dynbuf_addf(&out, "%u", (unsigned)(unsigned char)piece[k]);
            }
            llamac__dynbuf_addc(&out, ']');
        }
        llamac__dynbuf_addc(&out, '}');
    }
    llamac__dynbuf_adds(&out, "]}");
    if (llamac__dynbuf_error(&out) == LLAMAC__DYNBUF_TOO_BIG) {
        reply_error(rq, 400, "content", "response_too_large",
                    "the reply for %zu tokens%s would pass the server's limit of %zu bytes; tokenize less at once", n,
                    with_pieces ? " with their pieces" : "", tokenize_reply_max(rq->s));
    } else if (llamac__dynbuf_error(&out) != LLAMAC__DYNBUF_OK) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
    } else {
        rq->text = llamac__dynbuf_take(&out, NULL);
        rq->content_type = "application/json";
        rq->status = 200;
    }
    llamac__dynbuf_free(&out);
done:
    llamac_free(t);
    json_decref(body);
}

void handle_detokenize(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    llamac_token *t = NULL;
    char *text = NULL;
    size_t len = 0;
    json_t *arr = json_object_get(body, "tokens");
    if (!json_is_array(arr)) {
        reply_error(rq, 400, "tokens", arr ? "invalid_type" : "missing_required_parameter",
                    "'tokens' must be an array of token ids");
        goto done;
    }
    size_t n = json_array_size(arr);
    t = malloc((n ? n : 1) * sizeof *t);
    if (!t) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            reply_error(rq, 400, "tokens", "invalid_value", "'tokens[%zu]' must be a token id from 0 to %d", i,
                        (int)n_vocab - 1);
            goto done;
        }
        t[i] = (llamac_token)json_integer_value(v);
    }
    if (n > 0 && llamac_detokenize(rq->s->model, t, n, LLAMAC_DETOKENIZE_UNPARSE_SPECIAL, &text, &len) != LLAMAC_OK) {
        reply_error(rq, 400, "tokens", "invalid_value", "%s", llamac_last_error());
        goto done;
    }
    /* ids may end inside a character: invalid bytes become U+FFFD, as JSON needs valid text */
    json_t *content = text ? json_stringn(text, len) : json_string("");
    if (!content) {
        llamac_utf8_stream *u = NULL;
        const char *ok_text = "";
        size_t ok_len = 0;
        char *joined = NULL;
        if (llamac_utf8_stream_new(&u) == LLAMAC_OK) {
            const char *a = NULL, *b = NULL;
            size_t alen = 0, blen = 0;
            llamac_utf8_stream_push(u, text, len, &a, &alen);
            joined = malloc(alen + 8);
            if (joined) {
                memcpy(joined, a, alen);
                llamac_utf8_stream_flush(u, &b, &blen);
                if (blen <= 8) {
                    memcpy(joined + alen, b, blen);
                    ok_text = joined;
                    ok_len = alen + blen;
                }
            }
        }
        content = json_stringn(ok_text, ok_len);
        free(joined);
        llamac_utf8_stream_free(u);
    }
    reply_json(rq, 200, json_pack("{s:o}", "content", content));
done:
    free(t);
    llamac_free(text);
    json_decref(body);
}

void handle_apply_template(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    char *text = NULL;
    size_t len = 0;
    struct chat_input ci;
    if (chat_input_parse(rq, body, &ci) && render_chat(rq, &ci, &text, &len)) {
        reply_json(rq, 200, json_pack("{s:s%}", "prompt", text, len));
    }
    chat_input_free(&ci);
    llamac_free(text);
    json_decref(body);
}
