/*
 * ollama.c - Ollama's API: /api/chat, /api/generate, /api/embed and /api/embeddings, /api/tags, /api/show, /api/ps,
 * /api/version, with Ollama's field names, defaults (streaming on), durations in nanoseconds, newline-delimited JSON
 * streams and its error shape, {"error": "message"}. /api/pull and /api/delete are ollama_hub.c's; in router mode
 * the listings and keep_alive are router_ollama.c's (ollama.h).
 *
 * Generation goes through the same parsed request as every dialect (request.h): a chat's messages and tools are
 * OpenAI's shape already, bar tool-call arguments as objects (Ollama has no tool_choice; llamac takes OpenAI's
 * tool_choice and parallel_tool_calls as an extension); `options` holds the sampling fields; `format` is
 * "json" or a JSON Schema; `think` reaches the template as the other dialects' thinking does. Models are named as
 * Ollama names them (NAME:TAG). This server serves one model, in its own process: it is listed and shown, and stays
 * loaded whatever `keep_alive` says (checked here; the router, which runs models in child processes, applies it).
 */
#define _GNU_SOURCE
#include "ollama.h"
#include "complete.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The Ollama API version these endpoints follow; clients compare it to the versions that added what they use. */
#define OLLAMA_API_VERSION "0.12.6"

json_t *ollama_error(unsigned status, const char *param, const char *code, const char *message) {
    (void)status;
    (void)param;
    (void)code;
    return json_pack("{s:s}", "error", message);
}

/* ---- names ---- */

void ollama_name(const char *id, char *buf, size_t cap) {
    const char *slash = strrchr(id, '/');
    bool tagged = strchr(slash ? slash : id, ':') != NULL;
    snprintf(buf, cap, "%s%s", id, tagged ? "" : ":latest");
}

/* `name` without a "hf.co/" or "huggingface.co/" prefix. */
static const char *without_host(const char *name) {
    static const char *const hosts[] = { "hf.co/", "huggingface.co/" };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        if (strncasecmp(name, hosts[i], strlen(hosts[i])) == 0) {
            return name + strlen(hosts[i]);
        }
    }
    return name;
}

bool ollama_name_is(const char *name, const char *id) {
    if (!name || !id) {
        return false;
    }
    if (strcmp(name, id) == 0) {
        return true;
    }
    char a[512], b[512];
    ollama_name(without_host(name), a, sizeof a);
    ollama_name(id, b, sizeof b);
    /* the name part exactly, the tag without regard to case */
    const char *ta = strrchr(a, ':'), *tb = strrchr(b, ':');
    return ta && tb && ta - a == tb - b && strncmp(a, b, (size_t)(ta - a)) == 0 && strcasecmp(ta, tb) == 0;
}

bool ollama_hub_spec(const char *name, char *spec, size_t cap) {
    const char *n = without_host(name);
    const char *colon = strrchr(n, ':');
    size_t len = colon ? (size_t)(colon - n) : strlen(n);
    const char *slash = memchr(n, '/', len);
    if (!slash || slash == n || slash + 1 == n + len || memchr(slash + 1, '/', (size_t)(n + len - slash - 1)) ||
        (colon && !colon[1])) {
        return false;
    }
    bool latest = colon && strcasecmp(colon + 1, "latest") == 0;
    int w =
        snprintf(spec, cap, "%.*s%s%s", (int)len, n, colon && !latest ? ":" : "", colon && !latest ? colon + 1 : "");
    return w > 0 && (size_t)w < cap;
}

/* The served model's Ollama name. */
static void served_name(const struct server *s, char *buf, size_t cap) {
    ollama_name(s->model_id ? s->model_id : "model", buf, cap);
}

/* Whether `name` names the served model; replies 404 as Ollama does when not. */
static bool find_model(struct request *rq, const char *name) {
    if (ollama_name_is(name, rq->s->model_id ? rq->s->model_id : "model")) {
        return true;
    }
    reply_error(rq, 404, "model", "model_not_found", "model '%s' not found", name ? name : "");
    return false;
}

/* The model a request names ("model", or the older "name"); false after replying when missing or not served. */
static bool request_model(struct request *rq, json_t *body, const char **name) {
    *name = NULL;
    if (!field_str(rq, body, "model", name) || (!*name && !field_str(rq, body, "name", name))) {
        return false;
    }
    if (!*name || !**name) {
        reply_error(rq, 400, "model", "missing_required_parameter", "model is required");
        return false;
    }
    return find_model(rq, *name);
}

/* ---- keep_alive ---- */

/* A Go duration ("1h30m", "-1.5m", "0") or a bare number of seconds, in milliseconds; false when malformed. */
static bool duration_ms(const char *text, double *ms) {
    const char *p = text;
    double sign = 1;
    if (*p == '-' || *p == '+') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (!*p) {
        return false;
    }
    if (strspn(p, "0123456789.") == strlen(p)) { /* a number alone: seconds */
        char *end = NULL;
        double v = strtod(p, &end);
        *ms = sign * v * 1e3;
        return end != p && *end == '\0';
    }
    static const struct {
        const char *unit;
        double ms;
    } units[] = { { "ns", 1e-6 }, { "us", 1e-3 }, { "µs", 1e-3 }, { "ms", 1 },
                  { "s", 1e3 },   { "m", 60e3 },  { "h", 3600e3 } };
    double total = 0;
    while (*p) {
        char *end = NULL;
        if (!isdigit((unsigned char)*p) && *p != '.') {
            return false;
        }
        double v = strtod(p, &end);
        if (end == p) {
            return false;
        }
        p = end;
        size_t best = 0, which = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, n) == 0 && n > best) {
                best = n;
                which = i;
            }
        }
        if (best == 0) {
            return false;
        }
        total += v * units[which].ms;
        p += best;
    }
    *ms = sign * total;
    return true;
}

bool ollama_keep_alive(struct request *rq, json_t *body, bool *given, int64_t *ms) {
    json_t *v = json_object_get(body, "keep_alive");
    *given = v && !json_is_null(v);
    *ms = -1;
    if (!*given) {
        return true;
    }
    double d = 0;
    bool ok = false;
    if (json_is_number(v)) {
        d = json_number_value(v) * 1e3;
        ok = true;
    } else if (json_is_string(v)) {
        ok = duration_ms(json_string_value(v), &d);
    }
    if (!ok || isnan(d)) {
        if (json_is_string(v)) {
            reply_error(rq, 400, "keep_alive", "invalid_value", "time: invalid duration \"%s\"", json_string_value(v));
        } else {
            reply_error(rq, 400, "keep_alive", "invalid_type",
                        "keep_alive must be a duration (\"5m\", \"-1\") or a number of seconds");
        }
        return false;
    }
    /* negative: for ever (Ollama's); a time beyond a century is for ever too */
    *ms = d < 0 || d > 3.2e12 ? -1 : (int64_t)d;
    return true;
}

/* Checks a request's keep_alive: the one model of this server stays loaded whatever it says. */
static bool keep_alive_parse(struct request *rq, json_t *body) {
    bool given;
    int64_t ms;
    return ollama_keep_alive(rq, body, &given, &ms);
}

/* ---- what the listing endpoints show of a model ---- */

/* Ollama's way of writing a parameter count: "8.0B", "494.03M", "293.38K". */
static void human_number(uint64_t n, char *buf, size_t cap) {
    if (n >= 1000000000ull) {
        snprintf(buf, cap, "%.1fB", (double)n / 1e9);
    } else if (n >= 1000000ull) {
        snprintf(buf, cap, "%.2fM", (double)n / 1e6);
    } else if (n >= 1000ull) {
        snprintf(buf, cap, "%.2fK", (double)n / 1e3);
    } else {
        snprintf(buf, cap, "%llu", (unsigned long long)n);
    }
}

json_t *ollama_time_json(const struct timespec *ts) {
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char date[32], buf[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof buf, "%s.%09ldZ", date, ts->tv_nsec);
    return json_string(buf);
}

static json_t *now_json(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ollama_time_json(&ts);
}

json_t *ollama_mtime_json(const char *path) {
    struct stat st;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (path && stat(path, &st) == 0) {
        ts = st.st_mtim;
    }
    return ollama_time_json(&ts);
}

json_t *ollama_details(const char *arch, uint64_t n_params, const char *quant) {
    char params[32];
    human_number(n_params, params, sizeof params);
    arch = arch ? arch : "";
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s}", "parent_model", "", "format", "gguf", "family", arch,
                     "families", arch, "parameter_size", params, "quantization_level", quant ? quant : "");
}

/* The served model's details, from the loaded model. */
static json_t *details_json(const struct server *s) {
    llamac_model_info mi;
    llamac_model_get_info(s->model, &mi);
    const char *ft = mi.file_type ? mi.file_type : "";
    if (strncmp(ft, "(guessed) ", 10) == 0) {
        ft += 10;
    }
    if (strncmp(ft, "all ", 4) == 0) {
        ft += 4; /* llama.cpp's "all F32" is Ollama's "F32" */
    }
    return ollama_details(mi.architecture, mi.n_params, ft);
}

void ollama_digest_of(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    char real[PATH_MAX];
    if (!path || !realpath(path, real)) {
        return;
    }
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    if (strlen(base) == 64 && strspn(base, "0123456789abcdef") == 64 && strstr(real, "/blobs/")) {
        snprintf(buf, cap, "%s", base);
    }
}

static json_t *modified_json(const struct server *s) {
    if (!s->opt.model_path) {
        struct timespec ts = { (time_t)s->started, 0 };
        return ollama_time_json(&ts);
    }
    return ollama_mtime_json(s->opt.model_path);
}

/* A model entry of /api/tags (and the start of one of /api/ps). */
static json_t *model_entry(const struct server *s) {
    char name[512], digest[80];
    served_name(s, name, sizeof name);
    ollama_digest_of(s->opt.model_path, digest, sizeof digest);
    llamac_model_info mi;
    llamac_model_get_info(s->model, &mi);
    struct stat st;
    json_int_t size =
        s->opt.model_path && stat(s->opt.model_path, &st) == 0 ? (json_int_t)st.st_size : (json_int_t)mi.size_bytes;
    return json_pack("{s:s, s:s, s:o, s:I, s:s, s:o}", "name", name, "model", name, "modified_at", modified_json(s),
                     "size", size, "digest", digest, "details", details_json(s));
}

void handle_ollama_tags(struct request *rq) {
    reply_json(rq, 200, json_pack("{s:[o]}", "models", model_entry(rq->s)));
}

void handle_ollama_ps(struct request *rq) {
    struct server *s = rq->s;
    json_t *m = model_entry(s);
    json_object_del(m, "modified_at");
    llamac_engine_stats st = { 0 };
    if (s->engine) {
        llamac_engine_get_stats(s->engine, &st);
    }
    /* the one model never unloads: it expires when the server stops */
    json_object_set_new(m, "expires_at", json_string("2318-01-01T00:00:00Z"));
    json_object_set_new(m, "size_vram", json_integer(0));
    json_object_set_new(m, "context_length", json_integer((json_int_t)st.n_ctx_slot));
    reply_json(rq, 200, json_pack("{s:[o]}", "models", m));
}

void handle_ollama_version(struct request *rq) {
    reply_json(rq, 200, json_pack("{s:s}", "version", OLLAMA_API_VERSION));
}

/* A metadata value as Ollama's model_info shows it: numbers as numbers, booleans, strings; arrays are left out. */
static json_t *meta_value(const char *v) {
    if (v[0] == '[' || strncmp(v, "arr[", 4) == 0) {
        return NULL;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        return json_boolean(v[0] == 't');
    }
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v && *end == '\0' && errno == 0) {
        return json_integer(n);
    }
    double d = strtod(v, &end);
    if (*v && *end == '\0' && !isspace((unsigned char)v[0])) {
        return json_real(d);
    }
    return json_string(v);
}

void handle_ollama_show(struct request *rq) {
    struct server *s = rq->s;
    json_t *body = request_object(rq);
    const char *name = NULL;
    if (!body || !request_model(rq, body, &name)) {
        json_decref(body);
        return;
    }
    llamac_model_info mi;
    llamac_model_get_info(s->model, &mi);
    json_t *info = json_object();
    size_t n = llamac_model_meta_count(s->model);
    for (size_t i = 0; i < n; i++) {
        char *key = NULL, *value = NULL;
        if (llamac_model_meta_at(s->model, i, &key, &value) == LLAMAC_OK && strcmp(key, "tokenizer.chat_template")) {
            json_t *v = meta_value(value);
            if (v) {
                json_object_set_new(info, key, v);
            }
        }
        llamac_free(key);
        llamac_free(value);
    }
    json_object_set_new(info, "general.parameter_count", json_integer((json_int_t)mi.n_params));
    const char *tmpl = NULL;
    llamac_model_chat_template(s->model, NULL, &tmpl);
    json_t *caps = json_array();
    if (s->engine) {
        json_array_append_new(caps, json_string("completion"));
    }
    if (s->embd_ctx && !s->reranking) {
        json_array_append_new(caps, json_string("embedding"));
    }
    if (tmpl && strstr(tmpl, "tools")) {
        json_array_append_new(caps, json_string("tools"));
    }
    if (tmpl && (strstr(tmpl, "<think>") || strstr(tmpl, "enable_thinking"))) {
        json_array_append_new(caps, json_string("thinking"));
    }
    const struct llamac_sampling_params *sp = &s->opt.defaults.sampling;
    char params[256];
    snprintf(params, sizeof params, "temperature %g\ntop_k %d\ntop_p %g\nmin_p %g\nrepeat_penalty %g", (double)sp->temp,
             (int)sp->top_k, (double)sp->top_p, (double)sp->min_p, (double)sp->penalty_repeat);
    char modelfile[1024];
    snprintf(modelfile, sizeof modelfile, "# Modelfile of the model llamac serve serves\nFROM %s\n",
             s->opt.model_path ? s->opt.model_path : name);
    reply_json(rq, 200,
               json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "license", "", "modelfile", modelfile,
                         "parameters", params, "template", tmpl ? tmpl : "", "details", details_json(s), "model_info",
                         info, "capabilities", caps, "modified_at", modified_json(s)));
    json_decref(body);
}

/* ---- generation: responses ---- */

/* What the writer needs of the request: the model's name as asked, chat or generate, the prompt's tokens (for
 * generate's `context`). */
struct gen_data {
    char model[256];
    bool chat;
    llamac_token *prompt;
    size_t n_prompt;
};

static void gen_data_free(void *p) {
    struct gen_data *g = p;
    if (g) {
        free(g->prompt);
        free(g);
    }
}

static json_t *chunk_new(const struct job *j) {
    const struct gen_data *g = j->dialect_data;
    return json_pack("{s:s, s:o}", "model", g ? g->model : j->model_id, "created_at", now_json());
}

static json_int_t ns(double ms) {
    return (json_int_t)(ms * 1e6);
}

/* The last object of a reply: done, why, the counts and durations (nanoseconds), a generate's context. */
static void add_final(const struct job *j, json_t *o) {
    const struct gen_data *g = j->dialect_data;
    const struct result *r = &j->choices[0].r;
    const llamac_engine_usage *u = &r->usage;
    json_object_set_new(o, "done", json_true());
    json_object_set_new(o, "done_reason", json_string(result_finish(r) == FINISH_LENGTH ? "length" : "stop"));
    if (g && !g->chat) {
        json_t *ctx = json_array();
        for (size_t i = 0; i < g->n_prompt; i++) {
            json_array_append_new(ctx, json_integer(g->prompt[i]));
        }
        for (size_t i = 0; i < r->n_tokens; i++) {
            json_array_append_new(ctx, json_integer(r->tokens[i]));
        }
        json_object_set_new(o, "context", ctx);
    }
    json_object_set_new(o, "total_duration", json_integer(ns(u->queue_ms + u->prompt_ms + u->generation_ms)));
    json_object_set_new(o, "load_duration", json_integer(0));
    json_object_set_new(o, "prompt_eval_count", json_integer((json_int_t)(r->n_prompt - u->cached_tokens)));
    json_object_set_new(o, "prompt_eval_duration", json_integer(ns(u->prompt_ms)));
    json_object_set_new(o, "eval_count", json_integer((json_int_t)u->generated_tokens));
    json_object_set_new(o, "eval_duration", json_integer(ns(u->generation_ms)));
}

/* Ollama's tool call: {"function": {"index", "name", "arguments": {...}}}. */
static json_t *tool_call_json(size_t index, const char *name, const char *arguments) {
    return json_pack("{s:{s:I, s:s, s:o}}", "function", "index", (json_int_t)index, "name", name ? name : "",
                     "arguments", arguments_json(arguments));
}

/* A piece of the reply: chat {"message": {"role", "content", "thinking"?, "tool_calls"?}}, generate
 * {"response", "thinking"?}. `content` and `thinking` are stolen (NULL: "" / none). */
static json_t *piece(const struct job *j, json_t *content, json_t *thinking, json_t *calls) {
    const struct gen_data *g = j->dialect_data;
    json_t *o = chunk_new(j);
    json_object_set_new(o, "done", json_false()); /* the last object says true (add_final) */
    if (!g || g->chat) {
        json_t *m = json_pack("{s:s, s:o}", "role", "assistant", "content", content ? content : json_string(""));
        if (thinking) {
            json_object_set_new(m, "thinking", thinking);
        }
        if (calls) {
            json_object_set_new(m, "tool_calls", calls);
        }
        json_object_set_new(o, "message", m);
    } else {
        json_object_set_new(o, "response", content ? content : json_string(""));
        if (thinking) {
            json_object_set_new(o, "thinking", thinking);
        }
        json_decref(calls);
    }
    return o;
}

static void respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    (void)gr;
    llamac_tool_message *m = reply_message(rq, j);
    if (!m) {
        return;
    }
    json_t *calls = NULL;
    if (m->n_tool_calls > 0) {
        calls = json_array();
        for (size_t i = 0; i < m->n_tool_calls; i++) {
            json_array_append_new(calls, tool_call_json(i, m->tool_calls[i].name, m->tool_calls[i].arguments));
        }
    }
    json_t *o =
        piece(j, text_json(m->content, strlen(m->content)),
              m->reasoning_content[0] ? text_json(m->reasoning_content, strlen(m->reasoning_content)) : NULL, calls);
    llamac_tool_message_free(m);
    add_final(j, o);
    reply_json(rq, 200, o);
}

static void stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    switch (d->kind) {
    case DELTA_TEXT:
        if (d->len > 0) {
            ndjson_line(out, piece(j, text_json(d->text, d->len), NULL, NULL));
        }
        break;
    case DELTA_REASONING: ndjson_line(out, piece(j, NULL, text_json(d->text, d->len), NULL)); break;
    case DELTA_BLOCK_STOP:
        /* Ollama sends a tool call whole, once its arguments are complete */
        if (d->block_kind == DELTA_TOOL_CALL) {
            json_t *call = tool_call_json(d->tool_index, d->tool_name, d->text);
            ndjson_line(out, piece(j, NULL, NULL, json_pack("[o]", call)));
        }
        break;
    case DELTA_END: {
        json_t *o = piece(j, NULL, NULL, NULL);
        add_final(j, o);
        ndjson_line(out, o);
        break;
    }
    case DELTA_ERROR:
        ndjson_line(out, json_pack("{s:s%}", "error", d->text ? d->text : "", d->text ? d->len : 0));
        break;
    default: break;
    }
}

/* ---- generation: requests ---- */

static const struct sampling_names option_names = {
    .max_tokens = "num_predict",
    .max_tokens_min = -2, /* -1: no limit; -2: until the context is full (the same here) */
    .temperature = "temperature",
    .top_p = "top_p",
    .top_k = "top_k",
    .min_p = "min_p",
    .seed = "seed",
    .repeat_penalty = "repeat_penalty",
    .presence_penalty = "presence_penalty",
    .frequency_penalty = "frequency_penalty",
    .stop = "stop",
    .typical_p = "typical_p",
    .repeat_last_n = "repeat_last_n",
    .mirostat = "mirostat",
    .mirostat_tau = "mirostat_tau",
    .mirostat_eta = "mirostat_eta",
};

/* options (sampling; num_ctx is checked, the server's context stays), format, keep_alive, stream (default on). */
static bool parse_common(struct request *rq, json_t *body, struct gen_request *gr) {
    json_t *options = json_object_get(body, "options");
    long long num_ctx = 0;
    if (options && !json_is_null(options) && !json_is_object(options)) {
        reply_error(rq, 400, "options", "invalid_type", "options must be an object");
        return false;
    }
    gr->stream = true;
    if (!gen_request_sampling(rq, gr, options, &option_names) || !field_bool(rq, body, "stream", &gr->stream) ||
        (options && !field_int(rq, options, "num_ctx", 1, INT32_MAX, &num_ctx)) || !keep_alive_parse(rq, body)) {
        return false;
    }
    json_t *format = json_object_get(body, "format");
    const char *f = json_string_value(format);
    if (json_is_object(format)) {
        return gen_request_constrain(rq, gr, NULL, format, "format", false, "format");
    }
    if (f && strcmp(f, "json") == 0) {
        return gen_request_constrain(rq, gr, NULL, NULL, "format", true, "format");
    }
    if (format && !json_is_null(format) && !(f && f[0] == '\0')) {
        reply_error(rq, 400, "format", "invalid_value", "invalid format: must be \"json\" or a JSON schema object");
        return false;
    }
    return true;
}

/* think: true / false, or an effort ("low", "medium", "high"). */
static bool parse_think(struct request *rq, json_t *body, struct chat_input *ci) {
    json_t *think = json_object_get(body, "think");
    if (!think || json_is_null(think)) {
        return true;
    }
    if (json_is_boolean(think)) {
        return chat_input_thinking(rq, ci, json_is_true(think) ? 1 : 0, NULL);
    }
    const char *e = json_string_value(think);
    if (!e || (strcmp(e, "low") && strcmp(e, "medium") && strcmp(e, "high"))) {
        reply_error(rq, 400, "think", "invalid_value", "think must be a boolean or \"low\", \"medium\" or \"high\"");
        return false;
    }
    return chat_input_thinking(rq, ci, 1, e);
}

static bool refuse_images(struct request *rq, json_t *obj, const char *where) {
    json_t *images = json_object_get(obj, "images");
    if (images && !json_is_null(images) && !(json_is_array(images) && json_array_size(images) == 0)) {
        reply_error(rq, 400, "images", "unsupported_value",
                    "%s has images: image input is not supported by this server (no multimodal model)", where);
        return false;
    }
    return true;
}

/* A message's base64 `images` and its text as OpenAI content parts, the images first: the server's projector reads
 * them where every dialect's media are read (chat_input_set); NULL after replying. */
static json_t *image_parts(struct request *rq, json_t *images, json_t *content, const char *where) {
    json_t *parts = json_array();
    size_t k;
    json_t *img;
    json_array_foreach(images, k, img) {
        if (!json_is_string(img)) {
            reply_error(rq, 400, "images", "invalid_type", "%s.images[%zu] must be a base64 string", where, k);
            json_decref(parts);
            return NULL;
        }
        json_array_append_new(parts, json_pack("{s:s, s:{s:O}}", "type", "image_url", "image_url", "url", img));
    }
    json_array_append_new(parts, json_pack("{s:s, s:o}", "type", "text", "text",
                                           json_is_string(content) ? json_incref(content) : json_string("")));
    return parts;
}

/* Ollama messages as OpenAI's: tool-call arguments objects become JSON text, `thinking` reasoning_content, a tool
 * message's tool_name its name. */
static json_t *convert_messages(struct request *rq, json_t *messages) {
    if (!json_is_array(messages)) {
        reply_error(rq, 400, "messages", "invalid_type", "messages must be an array");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        char where[32];
        snprintf(where, sizeof where, "messages[%zu]", i);
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (!json_is_object(m) || !role || (content && !json_is_null(content) && !json_is_string(content))) {
            reply_error(rq, 400, "messages", "invalid_type", "%s must have a string role and a string content", where);
            json_decref(out);
            return NULL;
        }
        json_t *images = json_object_get(m, "images");
        bool with_images = rq->s->mmproj && json_is_array(images) && json_array_size(images) > 0;
        json_t *value = NULL;
        if (with_images) {
            value = image_parts(rq, images, content, where);
        } else if (refuse_images(rq, m, where)) {
            value = json_is_string(content) ? json_incref(content) : json_string("");
        }
        if (!value) {
            json_decref(out);
            return NULL;
        }
        json_t *c = json_pack("{s:s, s:o}", "role", role, "content", value);
        json_t *thinking = json_object_get(m, "thinking");
        if (json_is_string(thinking) && json_string_length(thinking) > 0) {
            json_object_set(c, "reasoning_content", thinking);
        }
        json_t *name = json_object_get(m, "tool_name");
        if (json_is_string(name)) {
            json_object_set(c, "name", name);
        }
        json_t *call_id = json_object_get(m, "tool_call_id");
        if (json_is_string(call_id)) {
            json_object_set(c, "tool_call_id", call_id);
        }
        json_t *calls = json_object_get(m, "tool_calls");
        if (calls && !json_is_null(calls)) {
            json_t *oai = json_array();
            size_t k;
            json_t *tc;
            bool ok = json_is_array(calls);
            json_array_foreach(calls, k, tc) {
                json_t *fn = json_object_get(tc, "function");
                const char *fname = json_string_value(json_object_get(fn, "name"));
                json_t *args = json_object_get(fn, "arguments");
                char *text = json_is_object(args)   ? json_dumps(args, JSON_COMPACT)
                             : json_is_string(args) ? strdup(json_string_value(args))
                                                    : NULL;
                if (!fname || !text) {
                    free(text);
                    ok = false;
                    break;
                }
                char id[64];
                const char *given = json_string_value(json_object_get(tc, "id"));
                snprintf(id, sizeof id, "call_%zu_%zu", i, k);
                json_array_append_new(oai, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", given ? given : id, "type",
                                                     "function", "function", "name", fname, "arguments", text));
                free(text);
            }
            if (!ok) {
                reply_error(rq, 400, "messages", "invalid_value",
                            "%s.tool_calls must be an array of {\"function\": {\"name\", \"arguments\": {...}}}",
                            where);
                json_decref(oai);
                json_decref(c);
                json_decref(out);
                return NULL;
            }
            json_object_set_new(c, "tool_calls", oai);
        }
        json_array_append_new(out, c);
    }
    return out;
}

static struct gen_data *gen_data_new(const char *model, bool chat) {
    struct gen_data *g = calloc(1, sizeof *g);
    if (g) {
        snprintf(g->model, sizeof g->model, "%s", model);
        g->chat = chat;
    }
    return g;
}

void ollama_reply_done(struct request *rq, const char *model, bool chat, const char *why) {
    json_t *o = json_pack("{s:s, s:o}", "model", model, "created_at", now_json());
    if (chat) {
        json_object_set_new(o, "message", json_pack("{s:s, s:s}", "role", "assistant", "content", ""));
    } else {
        json_object_set_new(o, "response", json_string(""));
    }
    json_object_set_new(o, "done", json_true());
    json_object_set_new(o, "done_reason", json_string(why));
    reply_json(rq, 200, o);
}

static bool parse_chat(struct request *rq, json_t *body, struct gen_request *gr, bool *empty) {
    json_t *messages = json_object_get(body, "messages");
    *empty = !messages || (json_is_array(messages) && json_array_size(messages) == 0);
    if (*empty) {
        return true;
    }
    json_t *oai = convert_messages(rq, messages);
    if (!oai) {
        return false;
    }
    json_t *tools = json_object_get(body, "tools");
    struct chat_input ci;
    bool ok = chat_input_set(rq, &ci, oai, tools, NULL, "messages", false) && parse_think(rq, body, &ci) &&
              gen_request_openai_tools(rq, gr, body, tools) && gen_request_chat(rq, gr, &ci);
    chat_input_free(&ci);
    json_decref(oai);
    return ok;
}

/* Ollama's `context` (the tokens of an earlier generate) goes before the prompt; the prompt's own BOS then goes. */
static bool prepend_context(struct request *rq, json_t *body, struct gen_request *gr) {
    json_t *ctx = json_object_get(body, "context");
    if (!ctx || json_is_null(ctx) || (json_is_array(ctx) && json_array_size(ctx) == 0)) {
        return true;
    }
    if (!json_is_array(ctx)) {
        reply_error(rq, 400, "context", "invalid_type", "context must be an array of token ids");
        return false;
    }
    llamac_token *c = NULL;
    size_t n = 0;
    if (!request_token_ids(rq, ctx, "context", &c, &n)) {
        return false;
    }
    size_t skip = gr->n_tokens[0] > 0 && gr->tokens[0][0] == llamac_vocab_special(rq->s->model, LLAMAC_TOKEN_BOS);
    llamac_token *all = malloc((n + gr->n_tokens[0]) * sizeof *all);
    if (!all) {
        free(c);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    memcpy(all, c, n * sizeof *all);
    memcpy(all + n, gr->tokens[0] + skip, (gr->n_tokens[0] - skip) * sizeof *all);
    free(c);
    if (gr->tokens_malloced[0]) {
        free(gr->tokens[0]);
    } else {
        llamac_free(gr->tokens[0]);
    }
    gr->tokens[0] = all;
    gr->n_tokens[0] = n + gr->n_tokens[0] - skip;
    gr->tokens_malloced[0] = true;
    return true;
}

static bool parse_generate(struct request *rq, json_t *body, struct gen_request *gr, bool *empty) {
    const char *prompt = NULL, *system = NULL, *suffix = NULL, *tmpl = NULL;
    bool raw = false;
    if (!field_str(rq, body, "prompt", &prompt) || !field_str(rq, body, "system", &system) ||
        !field_str(rq, body, "suffix", &suffix) || !field_str(rq, body, "template", &tmpl) ||
        !field_bool(rq, body, "raw", &raw)) {
        return false;
    }
    json_t *images = json_object_get(body, "images");
    bool with_images = rq->s->mmproj && json_is_array(images) && json_array_size(images) > 0;
    if (rq->s->mmproj && images && !json_is_null(images) && !json_is_array(images)) {
        reply_error(rq, 400, "images", "invalid_type", "images must be an array of base64 strings");
        return false;
    }
    if (!with_images && !refuse_images(rq, body, "the request")) {
        return false;
    }
    if (with_images && raw) {
        reply_error(rq, 400, "images", "unsupported_value",
                    "images with raw true are not supported: send them without raw (the chat template places them), "
                    "or use /completion with multimodal_data");
        return false;
    }
    json_t *earlier = json_object_get(body, "context");
    if (with_images && json_is_array(earlier) && json_array_size(earlier) > 0) {
        reply_error(rq, 400, "context", "unsupported_value",
                    "context (an earlier generate's tokens) with images is not supported: send the conversation to "
                    "/api/chat instead");
        return false;
    }
    if (suffix && suffix[0]) {
        reply_error(rq, 400, "suffix", "unsupported_value", "suffix (insertion) is not supported by this server");
        return false;
    }
    if (tmpl && tmpl[0]) {
        reply_error(rq, 400, "template", "unsupported_value",
                    "template (a Go template) is not supported: the model's own chat template is used; send a "
                    "prompt with raw true to format it yourself");
        return false;
    }
    *empty = !prompt || !prompt[0];
    if (*empty) {
        return true;
    }
    gr->record_tokens = true;
    if (raw) {
        json_t *p = json_object_get(body, "prompt");
        return gen_request_add_prompt(rq, gr, p, "prompt") && prepend_context(rq, body, gr);
    }
    json_t *messages = json_array();
    if (system) {
        json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "system", "content", system));
    }
    json_t *content =
        with_images ? image_parts(rq, images, json_object_get(body, "prompt"), "request") : json_string(prompt);
    if (!content) {
        json_decref(messages);
        return false;
    }
    json_array_append_new(messages, json_pack("{s:s, s:o}", "role", "user", "content", content));
    struct chat_input ci;
    bool ok = chat_input_set(rq, &ci, messages, NULL, NULL, "prompt", false) && parse_think(rq, body, &ci) &&
              gen_request_chat(rq, gr, &ci) && prepend_context(rq, body, gr);
    chat_input_free(&ci);
    json_decref(messages);
    return ok;
}

/* A chat (chat true) or generate body into *gr; false after replying. *empty: nothing to generate (a load). */
static bool parse(struct request *rq, json_t *body, bool chat, struct gen_request *gr, const char **model,
                  bool *empty) {
    *empty = false;
    if (!request_model(rq, body, model) || !parse_common(rq, body, gr) ||
        !(chat ? parse_chat(rq, body, gr, empty) : parse_generate(rq, body, gr, empty))) {
        return false;
    }
    return *empty || gen_request_finish(rq, gr);
}

bool ollama_request_check(struct request *rq, json_t *body, bool chat) {
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    const char *model = NULL;
    bool empty = false;
    bool ok = parse(rq, body, chat, &gr, &model, &empty);
    gen_request_free(&gr);
    return ok;
}

/* parse, then what the response shows of the request; an empty chat or prompt is answered at once. */
static bool parse_run(struct request *rq, json_t *body, struct gen_request *gr, bool chat) {
    const char *model = NULL;
    bool empty = false;
    if (!parse(rq, body, chat, gr, &model, &empty)) {
        return false;
    }
    if (empty) { /* an empty chat or prompt loads the model in Ollama; here it is loaded already */
        ollama_reply_done(rq, model, chat, "load");
        return false;
    }
    struct gen_data *g = gen_data_new(model, chat);
    if (!g || (!chat && !(g->prompt = malloc((gr->n_tokens[0] + 1) * sizeof *g->prompt)))) {
        gen_data_free(g);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    if (!chat) {
        memcpy(g->prompt, gr->tokens[0], gr->n_tokens[0] * sizeof *g->prompt);
        g->n_prompt = gr->n_tokens[0];
    }
    gr->dialect_data = g;
    gr->dialect_data_free = gen_data_free;
    return true;
}

static bool parse_chat_run(struct request *rq, json_t *body, struct gen_request *gr) {
    return parse_run(rq, body, gr, true);
}

static bool parse_generate_run(struct request *rq, json_t *body, struct gen_request *gr) {
    return parse_run(rq, body, gr, false);
}

static const struct dialect ollama_chat = { "ollama-", "application/x-ndjson", stream_event,
                                            respond,   parse_chat_run,         false };
static const struct dialect ollama_generate = { "ollama-", "application/x-ndjson", stream_event,
                                                respond,   parse_generate_run,     false };

void handle_ollama_chat(struct request *rq) {
    handle_generation(rq, &ollama_chat);
}

void handle_ollama_generate(struct request *rq) {
    handle_generation(rq, &ollama_generate);
}

/* ---- embeddings ---- */

void handle_ollama_embed(struct request *rq) {
    json_t *body = request_object(rq);
    const char *model = NULL;
    bool truncate = true;
    long long dims = 0;
    struct embeddings em = { 0 };
    if (!body || !request_model(rq, body, &model) || !field_bool(rq, body, "truncate", &truncate) ||
        !field_int(rq, body, "dimensions", 1, INT32_MAX, &dims) || !keep_alive_parse(rq, body)) {
        json_decref(body);
        return;
    }
    llamac_embed_params ep = llamac_embed_params_default();
    ep.truncate = truncate;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (embed_inputs(rq, body, "input", &ep, &em)) {
        if (dims > 0 && (size_t)dims != em.dim) {
            reply_error(rq, 400, "dimensions", "invalid_value", "dimensions %lld: this model's embeddings have %zu",
                        dims, em.dim);
        } else {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            json_t *vecs = json_array();
            for (size_t i = 0; i < em.n; i++) {
                json_array_append_new(vecs, embedding_json(&em, i));
            }
            reply_json(rq, 200,
                       json_pack("{s:s, s:o, s:I, s:I, s:I}", "model", model, "embeddings", vecs, "total_duration",
                                 ns(ms), "load_duration", (json_int_t)0, "prompt_eval_count", (json_int_t)em.tokens));
        }
    }
    embeddings_free(&em);
    json_decref(body);
}

/* The older endpoint: one "prompt", its vector not normalised (as Ollama's is not). */
void handle_ollama_embeddings(struct request *rq) {
    json_t *body = request_object(rq);
    const char *model = NULL;
    struct embeddings em = { 0 };
    if (!body || !request_model(rq, body, &model) || !keep_alive_parse(rq, body)) {
        json_decref(body);
        return;
    }
    json_t *prompt = json_object_get(body, "prompt");
    if (!json_is_string(prompt) || json_string_length(prompt) == 0) {
        reply_error(rq, 400, "prompt", "invalid_value", "prompt must be a non-empty string");
    } else {
        llamac_embed_params ep = llamac_embed_params_default();
        ep.normalize = LLAMAC_EMBD_NORM_NONE;
        if (embed_inputs(rq, body, "prompt", &ep, &em)) {
            reply_json(rq, 200, json_pack("{s:o}", "embedding", embedding_json(&em, 0)));
        }
    }
    embeddings_free(&em);
    json_decref(body);
}
