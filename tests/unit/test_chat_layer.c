/*
 * test_chat_layer.c - the chat layer (llamac_template_apply) against llama-server's: every template llama.cpp ships
 * ($LLAMAC_LLAMA_SOURCE/models/templates) with every request body of tests/reference/chat/conversations, compared
 * byte for byte with what the pinned llama-server's /apply-template made of it (scripts/gen-reference.sh chat), its
 * refusals included; each template's probed capabilities against llama-server's /props; and the layer's own
 * behaviour and errors on small templates.
 *
 * The references were made with stories260K's vocabulary (BOS "<s>" added by its tokenizer) and carry the day they
 * were made (date.txt): the layer renders here with its clock on that day, in UTC, so the bytes compare as they are.
 */
#include "check.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *bigger = realloc(buf, cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}

static llamac_model *vocab; /* stories260K, vocabulary only */
static const char *llama_src, *ref_dir;
static char ref_path[2048];
static int64_t ref_now; /* noon (UTC) of the day the references were made */

static bool setup(void) {
    llama_src = getenv("LLAMAC_LLAMA_SOURCE");
    const char *root = getenv("LLAMAC_SOURCE_DIR");
    if (!llama_src || !llama_src[0] || !root || !root[0]) {
        return false;
    }
    snprintf(ref_path, sizeof ref_path, "%s/tests/reference/chat", root);
    ref_dir = ref_path;
    char path[2300];
    snprintf(path, sizeof path, "%s/date.txt", ref_dir);
    char *day = read_text(path, NULL);
    struct tm tm = { 0 };
    if (!day || sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
        free(day);
        return false;
    }
    free(day);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    ref_now = (int64_t)mktime(&tm); /* TZ is UTC */
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    return llamac_model_load(test_model("stories260K.gguf"), &mp, &vocab) == LLAMAC_OK;
}

static llamac_template *template_named(const char *name) {
    char path[2300];
    snprintf(path, sizeof path, "%s/models/templates/%s.jinja", llama_src, name);
    size_t len = 0;
    char *src = read_text(path, &len);
    llamac_template *t = NULL;
    if (src) {
        llamac_template_new(src, len, &t);
    }
    free(src);
    return t;
}

/* ---- capabilities ---- */

static void test_caps_match_llama_server(void) {
    char path[2300];
    snprintf(path, sizeof path, "%s/caps.tsv", ref_dir);
    char *tsv = read_text(path, NULL);
    CHECK(tsv != NULL);
    size_t n = 0, same = 0;
    for (char *line = tsv ? strtok(tsv, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab) {
            continue;
        }
        *tab = '\0';
        json_t *want = json_loads(tab + 1, 0, NULL);
        llamac_template *t = template_named(line);
        llamac_template_caps c;
        CHECK(want && t);
        if (!want || !t || llamac_template_get_caps(t, &c) != LLAMAC_OK) {
            json_decref(want);
            llamac_template_free(t);
            continue;
        }
        const struct {
            const char *key;
            bool got;
        } fields[] = { { "supports_string_content", c.string_content },
                       { "supports_typed_content", c.typed_content },
                       { "supports_system_role", c.system_role },
                       { "supports_tools", c.tools },
                       { "supports_tool_calls", c.tool_calls },
                       { "supports_parallel_tool_calls", c.parallel_tool_calls },
                       { "supports_object_arguments", c.object_arguments },
                       { "supports_preserve_reasoning", c.preserve_reasoning },
                       { "supports_reasoning_effort", c.reasoning_effort } };
        bool all = true;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            if (json_is_true(json_object_get(want, fields[k].key)) != fields[k].got) {
                fprintf(stderr, "caps: %s %s: llamac %d, llama-server %d\n", line, fields[k].key, fields[k].got,
                        !fields[k].got);
                all = false;
            }
        }
        same += all;
        n++;
        json_decref(want);
        llamac_template_free(t);
    }
    free(tsv);
    fprintf(stderr, "caps: %zu of %zu templates as llama-server probes them\n", same, n);
    CHECK_INT(same, n);
    CHECK(n >= 70);
}

/* ---- the sweep ---- */

/* The request body's fields in llamac_template_apply_params, read as llama-server reads them (the JSON texts are
 * owned by the caller's `keep`: keep[0] for llamac_free, the others NULL). */
static void inputs_from_body(json_t *body, llamac_template_apply_params *in, char **keep) {
    *in = llamac_template_apply_params_default();
    keep[0] = keep[1] = keep[2] = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    CHECK(text != NULL);
    if (text) {
        CHECK_OK(llamac_template_apply_params_from_json(text, in, &keep[0]));
    }
    free(text);
    in->now = ref_now;
}

static void test_sweep_matches_llama_server(void) {
    size_t n;
    char **names = test_list_references(ref_dir, "__", &n);
    CHECK(names != NULL);
    if (!names) {
        return;
    }
    size_t same = 0;
    char cur_tmpl[512] = "";
    llamac_template *t = NULL;
    const char *show = getenv("LLAMAC_CHAT_DIFF"); /* print the mismatches whose name contains this */
    for (size_t i = 0; i < n; i++) {
        const char *sep = strstr(names[i], "__");
        char tmpl_name[512], conv_name[512], path[2300];
        snprintf(tmpl_name, sizeof tmpl_name, "%.*s", (int)(sep - names[i]), names[i]);
        snprintf(conv_name, sizeof conv_name, "%.*s", (int)(strlen(sep + 2) - 4), sep + 2);
        bool refused = strcmp(names[i] + strlen(names[i]) - 4, ".err") == 0;
        if (strcmp(tmpl_name, cur_tmpl) != 0) {
            llamac_template_free(t);
            t = template_named(tmpl_name);
            snprintf(cur_tmpl, sizeof cur_tmpl, "%s", tmpl_name);
        }
        snprintf(path, sizeof path, "%s/conversations/%s.json", ref_dir, conv_name);
        json_t *body = json_load_file(path, 0, NULL);
        snprintf(path, sizeof path, "%s/%s", ref_dir, names[i]);
        size_t want_len = 0;
        char *want = read_text(path, &want_len);
        CHECK(t && body && want);
        if (!t || !body || !want) {
            json_decref(body);
            free(want);
            continue;
        }
        llamac_template_apply_params in;
        char *keep[3];
        inputs_from_body(body, &in, keep);
        char *out = NULL;
        size_t out_len = 0;
        llamac_status st = llamac_template_apply(t, vocab, &in, &out, &out_len);
        /* a refusal: the request (400), the template (400) or media this build cannot read (llama-server: 500) */
        bool ok = refused ? (st == LLAMAC_E_INVALID_ARGUMENT || st == LLAMAC_E_TEMPLATE || st == LLAMAC_E_UNSUPPORTED)
                          : st == LLAMAC_OK && out_len == want_len && memcmp(out, want, want_len) == 0;
        if (ok) {
            same++;
        } else {
            fprintf(stderr, "mismatch: %s: %s\n", names[i],
                    refused           ? (st == LLAMAC_OK ? "llama-server refuses, llamac renders" : llamac_last_error())
                    : st != LLAMAC_OK ? llamac_last_error()
                                      : "bytes");
            if (show && strstr(names[i], show)) {
                fprintf(stderr, "---- llamac\n%s\n---- llama-server\n%s\n----\n", st == LLAMAC_OK ? out : "", want);
            }
        }
        llamac_free(out);
        llamac_free(keep[0]);
        free(keep[1]);
        free(keep[2]);
        json_decref(body);
        free(want);
    }
    llamac_template_free(t);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    fprintf(stderr, "chat layer: %zu of %zu (template x conversation) pairs as llama-server renders them\n", same, n);
    CHECK_INT(same, n);
    CHECK(n >= 70 * 15);
}

/* ---- behaviour on small templates ---- */

/* Applies `src` (made for stories260K's vocabulary) to `messages`; the output, or "ERROR: " and the message. */
static char last[8192];
static llamac_status last_st;
static const char *apply_src(const char *src, const llamac_template_apply_params *base, const char *messages) {
    llamac_template *t = NULL;
    char *out = NULL;
    last_st = llamac_template_new(src, strlen(src), &t);
    if (last_st == LLAMAC_OK) {
        llamac_template_apply_params in = base ? *base : llamac_template_apply_params_default();
        in.messages_json = messages;
        in.now = 1721995200; /* 2024-07-26 12:00 UTC */
        last_st = llamac_template_apply(t, vocab, &in, &out, NULL);
    }
    if (last_st == LLAMAC_OK) {
        snprintf(last, sizeof last, "%s", out);
    } else {
        snprintf(last, sizeof last, "ERROR: %s", llamac_last_error());
    }
    llamac_free(out);
    llamac_template_free(t);
    return last;
}

#define LOOP "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
#define USER_HI "[{\"role\": \"user\", \"content\": \"Hi\"}]"

static void test_extra_context(void) {
    /* today's date in llama-server's two formats, and enable_thinking false where there is no thinking section */
    CHECK_STR(apply_src("{{ date_string }}|{{ datetime }}|{{ enable_thinking }}|{{ preserve_reasoning }}|"
                        "{{ preserve_thinking }}|{{ add_generation_prompt is defined }}",
                        NULL, USER_HI),
              "26 Jul 2024|Jul 26 2024|False|True|True|True");
    llamac_template_apply_params in = llamac_template_apply_params_default();
    in.add_generation_prompt = false;
    in.chat_template_kwargs_json = "{\"preserve_reasoning\": false, \"x\": [1, 2]}";
    CHECK_STR(
        apply_src("{{ add_generation_prompt is defined }}|{{ clear_thinking }}|{{ drop_thinking }}|{{ x|tojson }}", &in,
                  USER_HI),
        "False|True|True|[1, 2]");
    in = llamac_template_apply_params_default();
    in.reasoning_effort = "high";
    CHECK_STR(apply_src("{{ reasoning_effort }}/{{ reasoning_strength }}", &in, USER_HI), "high/high");
}

static void test_thinking(void) {
    /* a template with a thinking section: on by default, off by --reasoning off, a kwarg or reasoning_effort none */
    const char *src = LOOP "{% if add_generation_prompt %}<a>{% if enable_thinking is false %}<think></think>"
                           "{% endif %}{% endif %}";
    llamac_template_apply_params in = llamac_template_apply_params_default();
    CHECK_STR(apply_src(src, &in, USER_HI), "[user:Hi]<a>");
    in.thinking = LLAMAC_THINKING_OFF;
    CHECK_STR(apply_src(src, &in, USER_HI), "[user:Hi]<a><think></think>");
    in.chat_template_kwargs_json = "{\"enable_thinking\": true}";
    CHECK_STR(apply_src(src, &in, USER_HI), "[user:Hi]<a>");
    in = llamac_template_apply_params_default();
    in.chat_template_kwargs_json = "{\"enable_thinking\": false}";
    CHECK_STR(apply_src(src, &in, USER_HI), "[user:Hi]<a><think></think>");
    in = llamac_template_apply_params_default();
    in.reasoning_effort = "none";
    CHECK_STR(apply_src(src, &in, USER_HI), "[user:Hi]<a><think></think>");
    in = llamac_template_apply_params_default();
    in.chat_template_kwargs_json = "{\"enable_thinking\": \"no\"}";
    CHECK_STR(apply_src(src, &in, USER_HI),
              "ERROR: chat_template_kwargs: invalid type for \"enable_thinking\" (expected boolean, got string)");
    CHECK_INT(last_st, LLAMAC_E_INVALID_ARGUMENT);
    /* a template without one: off unless asked for */
    in = llamac_template_apply_params_default();
    CHECK_STR(apply_src(LOOP "{{ enable_thinking }}", &in, USER_HI), "[user:Hi]False");
    in.thinking = LLAMAC_THINKING_ON;
    CHECK_STR(apply_src(LOOP "{{ enable_thinking }}", &in, USER_HI), "[user:Hi]True");
    llamac_template *t = NULL;
    llamac_template_caps caps;
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    CHECK_OK(llamac_template_get_caps(t, &caps));
    CHECK(caps.thinking);
    llamac_template_free(t);
}

static void test_adaptations(void) {
    /* no system role: the system text goes before the first user message's; developer is system */
    const char *no_system = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system') }}"
                            "{% endif %}[{{ m.role }}:{{ m.content }}]{% endfor %}";
    CHECK_STR(apply_src(no_system, NULL,
                        "[{\"role\": \"developer\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
                        "\"content\": \"Hi\"}]"),
              "[user:Be brief.\nHi]");
    /* null content becomes "", content parts are joined for a template that takes strings */
    CHECK_STR(apply_src(LOOP, NULL,
                        "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}, "
                        "{\"type\": \"text\", \"text\": \"b\"}]}, {\"role\": \"assistant\", "
                        "\"content\": null, \"tool_calls\": []}, {\"role\": \"user\", \"content\": \"c\"}]"),
              "[user:a\nb][assistant:][user:c]");
    /* tool-call arguments: a string parsed for a template that reads arguments as an object, an object written out
     * compactly for one that prints the string */
#define CALLS(args)                                                                                                    \
    "[{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "         \
    "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": " args "}}]}, "                          \
    "{\"role\": \"tool\", \"content\": \"r\"}]"
    const char *object_args = "{% for m in messages %}{% for c in m.tool_calls or [] %}{% for k, v in "
                              "c.function.arguments.items() %}{{ k }}={{ v }};{% endfor %}{% endfor %}{% endfor %}";
    CHECK_STR(apply_src(object_args, NULL, CALLS("\"{\\\"x\\\": 1.5, \\\"s\\\": \\\"caf\\\\u00e9\\\"}\"")),
              "x=1.5;s=caf\xc3\xa9;");
    const char *string_args = "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments }}"
                              "{% endfor %}{% endfor %}";
    CHECK_STR(apply_src(string_args, NULL, CALLS("{\"b\": [true, null], \"a\": \"t\\\"\\n\"}")),
              "{\"b\":[true,null],\"a\":\"t\\\"\\n\"}");
    /* a trailing assistant message is continued, not answered */
    CHECK_STR(apply_src(LOOP "{% if add_generation_prompt %}<gen>{% endif %}", NULL,
                        "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                        "\"content\": \"Hel\"}]"),
              "[user:Hi]<gen>Hel"); /* a generic template: its generation prompt, then the text */
    llamac_template_apply_params in = llamac_template_apply_params_default();
    in.prefill_assistant = false;
    CHECK_STR(apply_src(LOOP "{% if add_generation_prompt %}<gen>{% endif %}", &in,
                        "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                        "\"content\": \"Hel\"}]"),
              "[user:Hi][assistant:Hel]<gen>");
    /* the model's tokenizer adds the BOS: its text is not in the prompt (llamac_template_render keeps it) */
    CHECK_STR(apply_src("{{ bos_token }}" LOOP "{{ eos_token }}", NULL, USER_HI), "[user:Hi]</s>");
    /* the model's BOS/EOS texts reach any template; without a model the template's own (none here) and nothing is
     * dropped, and llamac_template_render keeps what it renders */
    llamac_template *t = NULL;
    const char *src = "{{ bos_token }}x{{ eos_token }}";
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    llamac_template_apply_params p = llamac_template_apply_params_default();
    p.messages_json = USER_HI;
    char *out = NULL;
    CHECK_OK(llamac_template_apply(t, NULL, &p, &out, NULL));
    CHECK_STR(out, "x");
    llamac_free(out);
    CHECK_OK(llamac_template_apply(t, vocab, &p, &out, NULL));
    CHECK_STR(out, "x</s>");
    llamac_free(out);
    llamac_template_inputs raw = llamac_template_inputs_default();
    raw.messages_json = USER_HI;
    raw.bos_token = "[B]";
    CHECK_OK(llamac_template_render(t, &raw, &out, NULL));
    CHECK_STR(out, "[B]x");
    llamac_free(out);
    llamac_template_free(t);
}

static void test_refusals(void) {
    llamac_template_apply_params in = llamac_template_apply_params_default();
    CHECK_STR(apply_src(LOOP, NULL, "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"user\"}]"),
              "ERROR: messages[1]: all non-assistant messages must contain 'content'");
    CHECK_INT(last_st, LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(apply_src(LOOP, NULL, "[{\"role\": \"assistant\"}]"),
              "ERROR: messages[0]: an assistant message must contain either 'content' or 'tool_calls'");
    CHECK_STR(apply_src(LOOP, NULL, "[{\"role\": \"user\", \"content\": 7}]"),
              "ERROR: messages[0]: 'content' must be a string or an array of content parts");
    CHECK_STR(apply_src(LOOP, NULL, "[{\"content\": \"x\"}]"), "ERROR: messages[0]: missing 'role'");
    CHECK_STR(apply_src(LOOP, NULL, "[\"hello\"]"), "ERROR: messages[0]: a message must be a JSON object");
    apply_src(LOOP, NULL,
              "[{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": "
              "\"data:,\"}}]}]");
    CHECK_ERROR_HAS("messages[0].content[0]: image_url input is not supported");
    apply_src(LOOP, NULL, "[{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]");
    CHECK_ERROR_HAS("messages[0].content[0]: 'text' must be a string");
    apply_src(LOOP, NULL, "[{\"role\": \"user\", \"content\": \"Hi\", \"reasoning_content\": null}]");
    CHECK_ERROR_HAS("messages[0]: 'reasoning_content' must be a string");
    apply_src(LOOP, NULL,
              "[{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": null, "
              "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}]");
    CHECK_ERROR_HAS("messages[1].tool_calls[0].function: missing 'arguments'");
    /* a template that reads arguments as an object: a string that is not JSON is refused */
    const char *object_args = "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments.arg }}"
                              "{% endfor %}{% endfor %}";
    apply_src(object_args, NULL,
              "[{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": null, "
              "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": "
              "\"{\\\"x\\\": \"}}]}, {\"role\": \"tool\", \"content\": \"r\"}]");
    CHECK_ERROR_HAS("messages[1].tool_calls[0].function.arguments is not valid JSON");
    apply_src(LOOP, NULL,
              "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"a\"},"
              " {\"role\": \"assistant\", \"content\": \"b\"}]");
    CHECK_ERROR_HAS("messages[2]: cannot have 2 or more assistant messages at the end of the list");
    in.continue_final_message = LLAMAC_CONTINUE_AUTO;
    apply_src(LOOP, &in, "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"a\"}]");
    CHECK_ERROR_HAS("cannot set both add_generation_prompt and continue_final_message");
    in.add_generation_prompt = false;
    apply_src(LOOP, &in,
              "[{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": null, "
              "\"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": "
              "\"{}\"}}]}]");
    CHECK_ERROR_HAS("messages[1]: cannot continue an assistant message that contains tool calls");
    in = llamac_template_apply_params_default();
    in.tools_json = "[{\"type\": \"function\", \"function\": {\"description\": \"d\"}}]";
    apply_src(LOOP, &in, USER_HI);
    CHECK_ERROR_HAS("tools[0]: missing 'function.name'");
    in.tools_json = "{\"type\": \"function\"}";
    apply_src(LOOP, &in, USER_HI);
    CHECK_ERROR_HAS("tools must be a JSON array");
    in = llamac_template_apply_params_default();
    in.chat_template_kwargs_json = "[1]";
    apply_src(LOOP, &in, USER_HI);
    CHECK_ERROR_HAS("chat_template_kwargs must be a JSON object");
    apply_src(LOOP, NULL, "[{\"role\": \"user\"");
    CHECK_ERROR_HAS("messages: invalid JSON at line 1");
    CHECK_STR(apply_src(LOOP, NULL, "{}"), "ERROR: messages must be a JSON array");
    /* the template's own refusal keeps its place and text */
    apply_src("{{ raise_exception('Conversation roles must alternate') }}", NULL, USER_HI);
    CHECK_INT(last_st, LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("chat template line 1, column 19: raise_exception: Conversation roles must alternate");
    /* NULLs and values out of range */
    llamac_template *t = NULL;
    const char *src = LOOP;
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    char *out = NULL;
    in = llamac_template_apply_params_default();
    CHECK_STATUS(llamac_template_apply(t, vocab, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("params->messages_json is NULL");
    in.messages_json = USER_HI;
    CHECK_STATUS(llamac_template_apply(NULL, vocab, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_apply(t, vocab, NULL, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_apply(t, vocab, &in, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    in.continue_final_message = (llamac_continuation)9;
    CHECK_STATUS(llamac_template_apply(t, vocab, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("continue_final_message out of range");
    in.continue_final_message = LLAMAC_CONTINUE_NONE;
    in.thinking = (llamac_thinking)-1;
    CHECK_STATUS(llamac_template_apply(t, vocab, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("thinking out of range");
    CHECK(out == NULL);
    llamac_template_caps caps;
    CHECK_STATUS(llamac_template_get_caps(NULL, &caps), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_get_caps(t, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_template_free(t);
}

/* Many threads apply one template at once, the first use (the probes) included. */
typedef struct worker {
    const llamac_template *t;
    char *out;
    llamac_status st;
} worker;

static void *apply_worker(void *arg) {
    worker *w = arg;
    llamac_template_apply_params in = llamac_template_apply_params_default();
    in.messages_json = "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": "
                       "\"Hi\"}]";
    in.now = 1721995200;
    w->st = llamac_template_apply(w->t, vocab, &in, &w->out, NULL);
    return NULL;
}

static void test_threads(void) {
    llamac_template *t = template_named("Qwen-Qwen3-0.6B");
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    worker w[4] = { { 0 } };
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i].t = t;
        CHECK_INT(pthread_create(&th[i], NULL, apply_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(w[i].st, LLAMAC_OK);
        CHECK_STR(w[i].out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        llamac_free(w[i].out);
    }
    llamac_template_free(t);
}

int main(void) {
    setenv("TZ", "UTC", 1);
    tzset();
    if (!setup()) {
        fprintf(stderr, "SKIP: llama.cpp's templates, the references or stories260K are missing\n");
        return 77;
    }
    RUN(test_caps_match_llama_server);
    RUN(test_sweep_matches_llama_server);
    RUN(test_extra_context);
    RUN(test_thinking);
    RUN(test_adaptations);
    RUN(test_refusals);
    RUN(test_threads);
    llamac_model_free(vocab);
    TESTS_DONE();
}
