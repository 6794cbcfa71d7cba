/*
 * chat_template.c - the public chat-template API: parse a template once, render it for a conversation.
 *
 * A template is parsed into an immutable tree, so any number of threads can render it at once; each render has its
 * own arena and limits and is undone as a whole by freeing that arena. The conversation arrives as JSON text
 * (OpenAI-format messages and tools), read with jansson, whose objects keep their keys in the order written, which
 * templates can observe (tojson, items()). The variables a template sees are the ones llama.cpp defines: messages,
 * tools (only when given), bos_token, eos_token, add_generation_prompt, then the caller's extra keyword arguments.
 */
#include "text/jinja.h"
#include "text/template_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)
#define DEFAULT_MAX_STEPS ((uint64_t)100000000)

struct llamac_template {
    jprog prog;
    char *bos; /* the model's BOS / EOS text, or "" */
    char *eos;
};

llamac_template_inputs llamac_template_inputs_default(void) {
    llamac_template_inputs in;
    memset(&in, 0, sizeof in);
    in.add_generation_prompt = true;
    return in;
}

/* ---- parsing ---- */

/* setjmp lives in a function of its own whose locals never change after it, so nothing is indeterminate after
 * the longjmp back. */
static llamac_status parse_guarded(jprog *prog, jfail *fail, const char *source, size_t len) {
    if (setjmp(fail->jb)) {
        return fail->status;
    }
    jinja_parse(prog, source, len);
    return LLAMAC_OK;
}

static llamac_status template_parse(const char *source, size_t len, llamac_template **out) {
    size_t bad = 0;
    if (!llamac_utf8_valid(source, len, &bad)) {
        return llamac__fail(LLAMAC_E_UTF8, "the chat template is not valid UTF-8 (byte %zu)", bad);
    }
    llamac_template *t = llamac__calloc(1, sizeof *t);
    if (!t) {
        return LLAMAC_E_NO_MEMORY;
    }
    jfail fail;
    fail.status = LLAMAC_OK;
    fail.msg[0] = '\0';
    ja_init(&t->prog.arena, 0, &fail);
    llamac_status st = parse_guarded(&t->prog, &fail, source, len);
    t->prog.arena.fail = NULL; /* the tree is never allocated from again */
    if (st != LLAMAC_OK) {
        ja_free(&t->prog.arena);
        free(t);
        return llamac__fail(st, "chat template %s", fail.msg);
    }
    *out = t;
    return LLAMAC_OK;
}

static char *dup_or_empty(const char *s) {
    return llamac__strndup(s ? s : "", s ? strlen(s) : 0);
}

llamac_status llamac_template_new(const char *source, size_t len, llamac_template **out) {
    if (out) {
        *out = NULL;
    }
    if (!out || (!source && len)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_new: %s is NULL", out ? "source" : "out");
    }
    llamac_template *t = NULL;
    llamac_status st = template_parse(source ? source : "", len, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    t->bos = dup_or_empty(NULL);
    t->eos = dup_or_empty(NULL);
    if (!t->bos || !t->eos) {
        llamac_template_free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    *out = t;
    return llamac__ok();
}

/* The text of a special token as llama.cpp's chat code passes it to templates (special tokens rendered), or "". */
static char *token_text(const llamac_model *model, llama_token tok) {
    if (tok == LLAMA_TOKEN_NULL) {
        return dup_or_empty(NULL);
    }
    char small[256];
    int32_t n = llama_token_to_piece(model->vocab, tok, small, (int32_t)sizeof small, 0, true);
    if (n >= 0) {
        return llamac__strndup(small, (size_t)n);
    }
    size_t cap = (size_t)-n;
    char *big = llamac__malloc(cap + 1);
    if (!big) {
        return NULL;
    }
    n = llama_token_to_piece(model->vocab, tok, big, (int32_t)cap, 0, true);
    big[n > 0 ? n : 0] = '\0';
    return big;
}

llamac_status llamac_template_from_model(const llamac_model *model, const char *name, llamac_template **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_from_model: %s is NULL",
                            model ? "out" : "model");
    }
    const char *src = NULL;
    llamac_status st = llamac_model_chat_template(model, name, &src);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_template *t = NULL;
    st = template_parse(src, strlen(src), &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    t->bos = token_text(model, llama_vocab_bos(model->vocab));
    t->eos = token_text(model, llama_vocab_eos(model->vocab));
    if (!t->bos || !t->eos) {
        llamac_template_free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    *out = t;
    return llamac__ok();
}

void llamac_template_free(llamac_template *tmpl) {
    if (!tmpl) {
        return;
    }
    ja_free(&tmpl->prog.arena);
    free(tmpl->bos);
    free(tmpl->eos);
    free(tmpl);
}

/* ---- rendering ---- */

static jv from_json(jrt *rt, json_t *j, int depth) {
    if (depth > JINJA_MAX_VALUE_DEPTH) {
        rt->fail->status = LLAMAC_E_INVALID_ARGUMENT;
        snprintf(rt->fail->msg, sizeof rt->fail->msg, "the JSON input is nested more than %d levels deep",
                 JINJA_MAX_VALUE_DEPTH);
        longjmp(rt->fail->jb, 1);
    }
    switch (json_typeof(j)) {
    case JSON_NULL: return jv_none();
    case JSON_TRUE: return jv_bool(true);
    case JSON_FALSE: return jv_bool(false);
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_STRING: return jv_str(js_new(rt, json_string_value(j), json_string_length(j)));
    case JSON_ARRAY: {
        jarr *a = jarr_new(rt, json_array_size(j));
        size_t i;
        json_t *item;
        json_array_foreach(j, i, item) {
            jarr_push(rt, a, from_json(rt, item, depth + 1));
        }
        return jv_array(a);
    }
    case JSON_OBJECT: {
        jobj *o = jobj_new(rt);
        const char *key;
        json_t *item;
        json_object_foreach(j, key, item) {
            jobj_set(rt, o, jv_str(js_cstr(rt, key)), from_json(rt, item, depth + 1));
        }
        return jv_object(o);
    }
    }
    return jv_none();
}

typedef struct render_job {
    const llamac_template *tmpl;
    const llamac_template_inputs *in;
    json_t *messages, *tools, *kwargs; /* borrowed */
    const char *bos, *eos;
    jfail fail;
    jrt rt;
    const jstr *result;
} render_job;

static void render_run(render_job *job) {
    jrt *rt = &job->rt;
    jscope *g = jscope_new(rt, NULL);
    jscope_set_s(rt, g, "true", jv_bool(true));
    jscope_set_s(rt, g, "True", jv_bool(true));
    jscope_set_s(rt, g, "false", jv_bool(false));
    jscope_set_s(rt, g, "False", jv_bool(false));
    jscope_set_s(rt, g, "none", jv_none());
    jscope_set_s(rt, g, "None", jv_none());
    jscope_set_s(rt, g, "messages", from_json(rt, job->messages, 0));
    if (job->tools) {
        jscope_set_s(rt, g, "tools", from_json(rt, job->tools, 0));
    }
    jscope_set_s(rt, g, "bos_token", jv_str(js_cstr(rt, job->bos)));
    jscope_set_s(rt, g, "eos_token", jv_str(js_cstr(rt, job->eos)));
    jscope_set_s(rt, g, "add_generation_prompt", jv_bool(job->in->add_generation_prompt));
    if (job->kwargs) {
        const char *key;
        json_t *item;
        json_object_foreach(job->kwargs, key, item) {
            jscope_set_s(rt, g, key, from_json(rt, item, 0));
        }
    }
    job->result = jinja_render(rt, &job->tmpl->prog, g);
}

static llamac_status render_guarded(render_job *job) {
    if (setjmp(job->fail.jb)) {
        return job->fail.status;
    }
    render_run(job);
    return LLAMAC_OK;
}

llamac_status llamac__template_load_json(const char *text, const char *what, bool want_array, json_t **out) {
    *out = NULL;
    if (!text) {
        return LLAMAC_OK;
    }
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: invalid JSON at line %d, column %d: %s", what, err.line,
                            err.column, err.text);
    }
    if (want_array ? !json_is_array(j) : !json_is_object(j)) {
        json_decref(j);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s must be a JSON %s", what, want_array ? "array" : "object");
    }
    *out = j;
    return LLAMAC_OK;
}

llamac_status llamac_template_render(const llamac_template *tmpl, const llamac_template_inputs *in, char **out,
                                     size_t *len) {
    if (out) {
        *out = NULL;
    }
    if (len) {
        *len = 0;
    }
    if (!tmpl || !in || !out || !in->messages_json) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_render: %s is NULL",
                            !tmpl  ? "tmpl"
                            : !in  ? "in"
                            : !out ? "out"
                                   : "in->messages_json");
    }
    json_t *messages = NULL, *tools = NULL, *kwargs = NULL;
    llamac_status st = llamac__template_load_json(in->messages_json, "messages", true, &messages);
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->tools_json, "tools", true, &tools);
    }
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->kwargs_json, "kwargs", false, &kwargs);
    }
    if (st == LLAMAC_OK) {
        st = llamac__template_render_json(tmpl, in, messages, tools, kwargs, out, len);
    }
    json_decref(messages);
    json_decref(tools);
    json_decref(kwargs);
    return st;
}

llamac_status llamac__template_render_json(const llamac_template *tmpl, const llamac_template_inputs *in,
                                           json_t *messages, json_t *tools, json_t *kwargs, char **out, size_t *len) {
    *out = NULL;
    if (len) {
        *len = 0;
    }
    const char *bos = in->bos_token ? in->bos_token : tmpl->bos;
    const char *eos = in->eos_token ? in->eos_token : tmpl->eos;
    size_t bad = 0;
    if (!llamac_utf8_valid(bos, strlen(bos), &bad) || !llamac_utf8_valid(eos, strlen(eos), &bad)) {
        return llamac__fail(LLAMAC_E_UTF8, "the %s token text is not valid UTF-8 (byte %zu)",
                            llamac_utf8_valid(bos, strlen(bos), NULL) ? "EOS" : "BOS", bad);
    }
    render_job *job = llamac__calloc(1, sizeof *job);
    if (!job) {
        return LLAMAC_E_NO_MEMORY;
    }
    jrt *rt = &job->rt;
    job->tmpl = tmpl;
    job->in = in;
    job->bos = bos;
    job->eos = eos;
    job->messages = messages;
    job->tools = tools;
    job->kwargs = kwargs;
    llamac_status st;
    rt->fail = &job->fail;
    ja_init(&rt->arena, in->max_memory ? in->max_memory : DEFAULT_MAX_MEMORY, &job->fail);
    rt->src = tmpl->prog.src;
    rt->src_len = tmpl->prog.src_len;
    rt->max_steps = in->max_steps ? in->max_steps : DEFAULT_MAX_STEPS;
    rt->max_output = in->max_output ? in->max_output : DEFAULT_MAX_OUTPUT;
    rt->now = in->now ? (time_t)in->now : time(NULL);
    st = render_guarded(job);
    if (st == LLAMAC_E_TEMPLATE) {
        /* "chat template line 3, column 7: ..." when the error has a place, "chat template: ..." otherwise */
        st = llamac__fail(st, "chat template%s%s", strncmp(job->fail.msg, "line ", 5) == 0 ? " " : ": ", job->fail.msg);
    } else if (st != LLAMAC_OK) {
        st = llamac__fail(st, "%s", job->fail.msg);
    } else if (!llamac_utf8_valid(job->result->p, job->result->len, &bad)) {
        st = llamac__fail(LLAMAC_E_TEMPLATE,
                          "chat template output is not valid UTF-8 at byte %zu (the template cut a character apart)",
                          bad);
    } else {
        char *text = llamac__strndup(job->result->p, job->result->len);
        if (!text) {
            st = LLAMAC_E_NO_MEMORY;
        } else {
            *out = text;
            if (len) {
                *len = job->result->len;
            }
            st = llamac__ok();
        }
    }
    ja_free(&rt->arena);
    free(job);
    return st;
}
