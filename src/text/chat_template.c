/*
 * chat_template.c - the public chat-template API: parse a template once, render it for a conversation.
 *
 * A template is parsed into an immutable tree, so any number of threads can render it at once; each render has its
 * own arena and limits and is undone as a whole by freeing that arena. The conversation arrives as JSON text
 * (OpenAI-format messages and tools), read with jansson, whose objects keep their keys in the order written, which
 * templates can observe (tojson, items()). The variables a template sees are the ones llama.cpp defines: messages,
 * tools (only when given), bos_token, eos_token, add_generation_prompt, then the caller's extra keyword arguments.
 */
#include "text/template_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)
#define DEFAULT_MAX_STEPS ((uint64_t)100000000)

struct llamac_template {
    jprog prog;
    char *raw; /* the source as given (llama.cpp's chat code patches it before parsing) */
    size_t raw_len;
    char *bos; /* the model's BOS / EOS text, or "" */
    char *eos;
    char *builtin; /* one of llama.cpp's built-in formats (llama_chat_apply_template) by name; NULL: Jinja */
    /* what the chat layer works out about the template, once (llamac__template_attachment): a cache, so it lives
     * outside the template, which stays immutable */
    struct attachment *attachment;
};

struct attachment {
    pthread_mutex_t lock;
    void *data;
    void (*free_fn)(void *);
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
    t->attachment = llamac__calloc(1, sizeof *t->attachment);
    if (!t->attachment || pthread_mutex_init(&t->attachment->lock, NULL) != 0) {
        free(t->attachment);
        free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    jfail fail;
    fail.status = LLAMAC_OK;
    fail.msg[0] = '\0';
    t->raw = llamac__strndup(source, len);
    t->raw_len = len;
    if (!t->raw) {
        llamac_template_free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    ja_init(&t->prog.arena, 0, &fail);
    llamac_status st = parse_guarded(&t->prog, &fail, source, len);
    t->prog.arena.fail = NULL; /* the tree is never allocated from again */
    if (st != LLAMAC_OK) {
        llamac_template_free(t);
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

char *llamac__token_text(const llamac_model *model, llama_token tok) {
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

/* Parses `source` with the model's BOS/EOS texts, as llama.cpp's chat code takes them. */
static llamac_status template_for_model(const llamac_model *model, const char *source, size_t len,
                                        llamac_template **out) {
    llamac_template *t = NULL;
    llamac_status st = template_parse(source, len, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    t->bos = llamac__token_text(model, llama_vocab_bos(model->vocab));
    t->eos = llamac__token_text(model, llama_vocab_eos(model->vocab));
    if (!t->bos || !t->eos) {
        llamac_template_free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    *out = t;
    return llamac__ok();
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
    return template_for_model(model, src, strlen(src), out);
}

/* llama.cpp's fallback for a model without a chat template (common/chat.cpp): ChatML. */
const char llamac__chatml_source[] = "{%- for message in messages -%}\n"
                                     "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' "
                                     "-}}\n"
                                     "{%- endfor -%}\n"
                                     "{%- if add_generation_prompt -%}\n"
                                     "  {{- '<|im_start|>assistant\n' -}}\n"
                                     "{%- endif -%}";

llamac_status llamac_template_for_model(const llamac_model *model, bool tools, llamac_template **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_for_model: %s is NULL",
                            model ? "out" : "model");
    }
    /* as llama-server: the tool_use variant when tools are given, and also when the model has no default */
    const char *dflt = NULL, *tool_use = NULL;
    bool has_default = llamac_model_chat_template(model, NULL, &dflt) == LLAMAC_OK && dflt[0];
    bool has_tool_use = llamac_model_chat_template(model, "tool_use", &tool_use) == LLAMAC_OK && tool_use[0];
    const char *src = has_tool_use && (tools || !has_default) ? tool_use : has_default ? dflt : llamac__chatml_source;
    return template_for_model(model, src, strlen(src), out);
}

llamac_status llamac_template_builtin(const char *name, llamac_template **out) {
    if (out) {
        *out = NULL;
    }
    if (!name || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_template_builtin: %s is NULL", name ? "out" : "name");
    }
    const char *names[128];
    int32_t n = llama_chat_builtin_templates(names, sizeof names / sizeof names[0]);
    bool known = false;
    for (int32_t i = 0; i < n && i < (int32_t)(sizeof names / sizeof names[0]) && !known; i++) {
        known = strcmp(names[i], name) == 0;
    }
    if (!known) {
        char list[2048] = "";
        size_t at = 0;
        for (int32_t i = 0; i < n && i < (int32_t)(sizeof names / sizeof names[0]); i++) {
            int w = snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", names[i]);
            if (w < 0 || (size_t)w >= sizeof list - at) {
                break;
            }
            at += (size_t)w;
        }
        return llamac__fail(LLAMAC_E_NOT_FOUND, "\"%.64s\" is not one of llama.cpp's built-in chat templates (%s)",
                            name, list);
    }
    llamac_template *t = NULL;
    llamac_status st = template_parse("", 0, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    t->bos = dup_or_empty(NULL);
    t->eos = dup_or_empty(NULL);
    t->builtin = dup_or_empty(name);
    if (!t->bos || !t->eos || !t->builtin) {
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
    if (tmpl->attachment) {
        if (tmpl->attachment->free_fn) {
            tmpl->attachment->free_fn(tmpl->attachment->data);
        }
        pthread_mutex_destroy(&tmpl->attachment->lock);
        free(tmpl->attachment);
    }
    ja_free(&tmpl->prog.arena);
    free(tmpl->raw);
    free(tmpl->builtin);
    free(tmpl->bos);
    free(tmpl->eos);
    free(tmpl);
}

/* ---- what the chat layer needs ---- */

const char *llamac__template_source(const llamac_template *t, size_t *len) {
    *len = t->prog.src_len;
    return t->prog.src;
}

const char *llamac_template_source(const llamac_template *tmpl, size_t *len) {
    size_t n = tmpl && tmpl->raw && !tmpl->builtin ? tmpl->raw_len : 0;
    if (len) {
        *len = n;
    }
    return n ? tmpl->raw : "";
}

const char *llamac__template_raw_source(const llamac_template *t, size_t *len) {
    *len = t->raw_len;
    return t->raw;
}

const char *llamac__template_bos(const llamac_template *t) {
    return t->bos;
}

const char *llamac__template_eos(const llamac_template *t) {
    return t->eos;
}

const char *llamac__template_builtin(const llamac_template *t) {
    return t->builtin;
}

llamac_status llamac__template_new_like(const llamac_template *like, const char *source, size_t len,
                                        llamac_template **out) {
    llamac_template *t = NULL;
    llamac_status st = template_parse(source, len, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    t->bos = dup_or_empty(like->bos);
    t->eos = dup_or_empty(like->eos);
    if (!t->bos || !t->eos) {
        llamac_template_free(t);
        return LLAMAC_E_NO_MEMORY;
    }
    *out = t;
    return LLAMAC_OK;
}

void *llamac__template_attachment(const llamac_template *t, void *(*make)(const llamac_template *t, void *arg),
                                  void *arg, void (*free_fn)(void *)) {
    struct attachment *a = t->attachment;
    pthread_mutex_lock(&a->lock);
    if (!a->data) {
        a->data = make(t, arg);
        a->free_fn = a->data ? free_fn : NULL;
    }
    void *data = a->data;
    pthread_mutex_unlock(&a->lock);
    return data;
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
    json_t *vars; /* the variables, in order */
    const llamac__render_opts *opts;
    jstats stats;
    jfail fail;
    jrt rt;
    const jstr *result;
} render_job;

/* The value at `path` ("messages/1/tool_calls/0/function"): a variable, then array indices and object keys. */
static jv resolve(jrt *rt, jscope *g, const char *path) {
    const char *slash = strchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : strlen(path);
    jv v;
    if (!jscope_get(g, path, n, &v)) {
        return jv_undef(NULL);
    }
    while (slash) {
        path = slash + 1;
        slash = strchr(path, '/');
        n = slash ? (size_t)(slash - path) : strlen(path);
        if (jv_is_arr(v)) {
            size_t i = (size_t)strtoul(path, NULL, 10);
            v = i < v.u.a->n ? v.u.a->v[i] : jv_undef(NULL);
        } else if (v.t != JT_OBJECT || !jobj_get(rt, v.u.o, jv_str(js_new(rt, path, n)), &v)) {
            return jv_undef(NULL);
        }
    }
    return v;
}

static void render_run(render_job *job) {
    jrt *rt = &job->rt;
    jscope *g = jscope_new(rt, NULL);
    jscope_set_s(rt, g, "true", jv_bool(true));
    jscope_set_s(rt, g, "True", jv_bool(true));
    jscope_set_s(rt, g, "false", jv_bool(false));
    jscope_set_s(rt, g, "False", jv_bool(false));
    jscope_set_s(rt, g, "none", jv_none());
    jscope_set_s(rt, g, "None", jv_none());
    /* variables given the same JSON value share one value (llama.cpp binds reasoning_effort and reasoning_strength
     * to one string, which the probes watch) */
    size_t nvars = json_object_size(job->vars), i = 0;
    json_t **seen = ja_alloc(&rt->arena, (nvars ? nvars : 1) * sizeof *seen);
    jv *made = ja_alloc(&rt->arena, (nvars ? nvars : 1) * sizeof *made);
    const char *key;
    json_t *item;
    json_object_foreach(job->vars, key, item) {
        jv v;
        size_t k = 0;
        while (k < i && seen[k] != item) {
            k++;
        }
        v = k < i ? made[k] : from_json(rt, item, 0);
        seen[i] = item;
        made[i++] = v;
        jscope_set_s(rt, g, key, v);
    }
    const llamac__render_opts *o = job->opts;
    if (o && o->n_watch) {
        job->stats.n = o->n_watch < JSTAT_MAX_WATCH ? o->n_watch : JSTAT_MAX_WATCH;
        for (size_t w = 0; w < job->stats.n; w++) {
            job->stats.w[w].id = jv_identity(resolve(rt, g, o->watch[w]));
        }
        rt->stats = &job->stats;
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

llamac_status llamac__template_render_vars(const llamac_template *tmpl, json_t *vars, const llamac__render_opts *opts,
                                           char **out, size_t *len) {
    *out = NULL;
    if (len) {
        *len = 0;
    }
    render_job *job = llamac__calloc(1, sizeof *job);
    if (!job) {
        return LLAMAC_E_NO_MEMORY;
    }
    const llamac_template_inputs *lim = opts ? opts->limits : NULL;
    jrt *rt = &job->rt;
    job->tmpl = tmpl;
    job->vars = vars;
    job->opts = opts;
    rt->fail = &job->fail;
    ja_init(&rt->arena, lim && lim->max_memory ? lim->max_memory : DEFAULT_MAX_MEMORY, &job->fail);
    rt->src = tmpl->prog.src;
    rt->src_len = tmpl->prog.src_len;
    rt->max_steps = lim && lim->max_steps ? lim->max_steps : DEFAULT_MAX_STEPS;
    rt->max_output = lim && lim->max_output ? lim->max_output : DEFAULT_MAX_OUTPUT;
    rt->now = lim && lim->now ? (time_t)lim->now : time(NULL);
    llamac_status st = render_guarded(job);
    size_t bad = 0;
    if (opts && opts->watched) {
        for (size_t w = 0; w < opts->n_watch; w++) {
            opts->watched[w] = w < job->stats.n ? job->stats.w[w] : (jwatch){ NULL, false, 0 };
        }
    }
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
    if (tmpl->builtin) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "llamac_template_render: the built-in template \"%s\" has no Jinja source (render it "
                            "with llamac_template_apply)",
                            tmpl->builtin);
    }
    const char *bos = in->bos_token ? in->bos_token : tmpl->bos;
    const char *eos = in->eos_token ? in->eos_token : tmpl->eos;
    size_t bad = 0;
    if (!llamac_utf8_valid(bos, strlen(bos), &bad) || !llamac_utf8_valid(eos, strlen(eos), &bad)) {
        return llamac__fail(LLAMAC_E_UTF8, "the %s token text is not valid UTF-8 (byte %zu)",
                            llamac_utf8_valid(bos, strlen(bos), NULL) ? "EOS" : "BOS", bad);
    }
    json_t *messages = NULL, *tools = NULL, *kwargs = NULL, *vars = json_object();
    llamac_status st =
        vars ? llamac__template_load_json(in->messages_json, "messages", true, &messages) : LLAMAC_E_NO_MEMORY;
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->tools_json, "tools", true, &tools);
    }
    if (st == LLAMAC_OK) {
        st = llamac__template_load_json(in->kwargs_json, "kwargs", false, &kwargs);
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    /* the variables llama.cpp defines, in its order; every kwarg after them (it may replace one) */
    if (json_object_set(vars, "messages", messages) != 0 || (tools && json_object_set(vars, "tools", tools) != 0) ||
        json_object_set_new(vars, "bos_token", json_string(bos)) != 0 ||
        json_object_set_new(vars, "eos_token", json_string(eos)) != 0 ||
        json_object_set_new(vars, "add_generation_prompt", json_boolean(in->add_generation_prompt)) != 0 ||
        (kwargs && json_object_update(vars, kwargs) != 0)) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    llamac__render_opts opts = { in, NULL, 0, NULL };
    st = llamac__template_render_vars(tmpl, vars, &opts, out, len);
done:
    json_decref(messages);
    json_decref(tools);
    json_decref(kwargs);
    json_decref(vars);
    return st;
}
