/*
 * test_tool_fidelity.c - llamac's reading of model replies (llamac_tool_format_detect, llamac_tool_parse) against
 * llama.cpp's chat layer (common_chat_parse): for every template llama.cpp ships ($LLAMAC_LLAMA_SOURCE/models/
 * templates), the replies of tests/reference/tool_parse/replies.json - plain text and reasoning for every template,
 * tool calls in the syntax of the template's family, malformed calls - as llama-server reads them with tools and
 * thinking on, tools and thinking off, and no tools (scripts/reference/tool-parse.sh).
 *
 * A template's family in replies.json must be the format llamac detects; a template that llamac detects as no
 * family (generic) is compared on the common replies only. Content and reasoning_content compare as bytes, tool
 * calls by name and by arguments as JSON values (ids are random). Where llama.cpp refuses a reply (the server then
 * fails the request) llamac keeps the text as content: such cases are counted, not compared. The differences that
 * stand are listed, each with its reason, in tests/reference/tool_parse/known_differences.txt: a difference not
 * listed fails, and so does a listed one that no longer differs, so the list stays exact.
 */
#include "check.h"

#include <dirent.h>
#include <jansson.h>

static const char *llama_src, *root;
static char *known;          /* known_differences.txt */
static size_t n_known_found; /* listed differences met */

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool listed(const char *key) {
    size_t k = strlen(key);
    for (const char *line = known; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n >= k && memcmp(line, key, k) == 0 && (n == k || line[k] == ' ' || line[k] == '\t')) {
            return true;
        }
        line = end ? end + 1 : line + n;
    }
    return false;
}

/* NULL when llamac's message equals the reference case, else what differs (static). */
static const char *differs(const llamac_tool_message *m, json_t *c) {
    static char why[4096];
    const char *content = json_string_value(json_object_get(c, "content"));
    const char *reasoning = json_string_value(json_object_get(c, "reasoning_content"));
    json_t *calls = json_object_get(c, "tool_calls");
    if (!content || strcmp(m->content, content) != 0) {
        snprintf(why, sizeof why, "content \"%s\", llama.cpp \"%s\"", m->content, content ? content : "?");
        return why;
    }
    if (!reasoning || strcmp(m->reasoning_content, reasoning) != 0) {
        snprintf(why, sizeof why, "reasoning \"%s\", llama.cpp \"%s\"", m->reasoning_content,
                 reasoning ? reasoning : "?");
        return why;
    }
    if (m->n_tool_calls != json_array_size(calls)) {
        snprintf(why, sizeof why, "%zu tool calls, llama.cpp %zu", m->n_tool_calls, json_array_size(calls));
        return why;
    }
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        json_t *ref = json_array_get(calls, i);
        const char *name = json_string_value(json_object_get(ref, "name"));
        json_t *args = json_loads(m->tool_calls[i].arguments, JSON_DECODE_ANY, NULL);
        bool same = args && json_equal(args, json_object_get(ref, "arguments"));
        json_decref(args);
        if (!name || strcmp(m->tool_calls[i].name, name) != 0 || !same) {
            char *want = json_dumps(json_object_get(ref, "arguments"), JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(why, sizeof why, "call %zu %s %s, llama.cpp %s %s", i, m->tool_calls[i].name,
                     m->tool_calls[i].arguments, name ? name : "?", want ? want : "?");
            free(want);
            return why;
        }
    }
    return NULL;
}

/* The reply pushed into a stream byte by byte ends as the complete parse, and its deltas add up to it. */
static bool add_delta(const llamac_tool_delta *d, void *ud) {
    char **acc = ud; /* [0] content, [1] reasoning */
    if (d->kind == LLAMAC_TOOL_DELTA_CALL) {
        return true;
    }
    char **dst = &acc[d->kind == LLAMAC_TOOL_DELTA_REASONING];
    size_t have = *dst ? strlen(*dst) : 0;
    char *grown = realloc(*dst, have + d->len + 1);
    if (grown) {
        memcpy(grown + have, d->text, d->len);
        grown[have + d->len] = '\0';
        *dst = grown;
    }
    return grown != NULL;
}

static void stream_agrees(const llamac_tool_parse_params *p, const char *text, size_t len,
                          const llamac_tool_message *whole, const char *key) {
    llamac_tool_stream *st = NULL;
    CHECK_OK(llamac_tool_stream_new(p, &st));
    char *acc[2] = { NULL, NULL };
    for (size_t i = 0; st && i < len; i++) {
        CHECK_OK(llamac_tool_stream_push(st, text + i, 1, add_delta, acc));
    }
    CHECK_OK(llamac_tool_stream_finish(st, add_delta, acc));
    const llamac_tool_message *m = llamac_tool_stream_message(st);
    bool same = m && strcmp(m->content, whole->content) == 0 &&
                strcmp(m->reasoning_content, whole->reasoning_content) == 0 && m->n_tool_calls == whole->n_tool_calls &&
                strcmp(acc[0] ? acc[0] : "", whole->content) == 0 &&
                strcmp(acc[1] ? acc[1] : "", whole->reasoning_content) == 0;
    for (size_t i = 0; same && i < m->n_tool_calls; i++) {
        same = strcmp(m->tool_calls[i].arguments, whole->tool_calls[i].arguments) == 0;
    }
    if (!same) {
        check_failed++;
        fprintf(stderr, "%s: streamed byte by byte, the reply reads differently\n", key);
    }
    free(acc[0]);
    free(acc[1]);
    llamac_tool_stream_free(st);
}

static size_t n_templates, n_compared, n_agree, n_refused, n_family_cases;
static char undetected[8192];
static char *offered_tools; /* the tools of replies.json, as JSON text: offered where a variant has tools */

static void one_template(const char *dir, const char *file) {
    char path[4096], name[512];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 5), file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t err;
    json_t *ref = json_load_file(path, 0, &err);
    CHECK(json_is_object(ref));
    snprintf(path, sizeof path, "%s/models/templates/%s.jinja", llama_src, name);
    char *src = test_read_file(path, NULL);
    CHECK(src != NULL);
    if (!ref || !src) {
        json_decref(ref);
        free(src);
        return;
    }
    n_templates++;
    llamac_template *tmpl = NULL;
    CHECK_OK(llamac_template_new(src, strlen(src), &tmpl));
    llamac_tool_format fmt = llamac_tool_format_detect(src);
    const char *family = json_string_value(json_object_get(ref, "family"));
    if (fmt != LLAMAC_TOOL_FORMAT_GENERIC || (family && family[0])) {
        if (!family || strcmp(family, llamac_tool_format_name(fmt)) != 0) {
            check_failed++;
            fprintf(stderr, "%s: llamac detects %s, its family is %s\n", name, llamac_tool_format_name(fmt),
                    family && family[0] ? family : "none that llamac parses");
        }
    } else {
        size_t used = strlen(undetected);
        snprintf(undetected + used, sizeof undetected - used, "%s%s", used ? ", " : "", name);
    }
    size_t vi;
    json_t *v;
    json_array_foreach(json_object_get(ref, "variants"), vi, v) {
        const char *vname = json_string_value(json_object_get(v, "name"));
        json_t *cases = json_object_get(v, "cases");
        if (!cases) {
            continue; /* llama.cpp cannot make chat parameters for this template */
        }
        /* the parameters llamac serve reads a reply to this prompt with */
        const char *prompt = json_string_value(json_object_get(v, "prompt"));
        llamac_tool_parse_params p;
        CHECK_OK(llamac_template_parse_params(tmpl, prompt ? prompt : "", json_is_true(json_object_get(v, "tools")),
                                              LLAMAC_REASONING_DEEPSEEK, &p));
        CHECK_INT(p.format, fmt);
        if (json_is_true(json_object_get(v, "tools"))) {
            p.tools = offered_tools; /* values typed by the tools' schemas, as llama-server reads them */
        }
        size_t ci;
        json_t *c;
        json_array_foreach(cases, ci, c) {
            const char *fam = json_string_value(json_object_get(c, "family"));
            const char *reply = json_string_value(json_object_get(c, "reply"));
            char key[1024];
            snprintf(key, sizeof key, "%s %s %s/%s", name, vname, fam, reply);
            if (json_object_get(c, "error")) {
                n_refused++;
                continue;
            }
            if (strcmp(fam, "common") != 0) {
                n_family_cases++;
            }
            /* the reply's text is in replies.json */
            json_t *text = json_object_get(c, "text");
            CHECK(json_is_string(text));
            if (!json_is_string(text)) {
                continue;
            }
            llamac_tool_message *m = NULL;
            CHECK_OK(llamac_tool_parse(json_string_value(text), json_string_length(text), &p, &m));
            if (!m) {
                continue;
            }
            n_compared++;
            stream_agrees(&p, json_string_value(text), json_string_length(text), m, key);
            const char *why = differs(m, c);
            bool known_diff = listed(key);
            if (!why) {
                n_agree++;
            }
            if (why && !known_diff) {
                check_failed++;
                fprintf(stderr, "%s (llamac %s): %s\n", key, llamac_tool_format_name(fmt), why);
            } else if (!why && known_diff) {
                check_failed++;
                fprintf(stderr, "%s: listed in known_differences.txt but agrees now\n", key);
            } else if (why) {
                n_known_found++;
            }
            llamac_tool_message_free(m);
        }
    }
    llamac_template_free(tmpl);
    json_decref(ref);
    free(src);
}

static void test_fidelity(void) {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/reference/tool_parse", root);
    char path[4096];
    snprintf(path, sizeof path, "%s/replies.json", dir);
    json_error_t err;
    json_t *replies = json_load_file(path, 0, &err);
    offered_tools = json_dumps(json_object_get(replies, "tools"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(replies);
    CHECK(offered_tools != NULL);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) {
        free(offered_tools);
        return;
    }
    char *names[256] = { 0 };
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0 && strcmp(e->d_name, "replies.json") != 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        one_template(dir, names[i]);
        free(names[i]);
    }
    free(offered_tools);
    CHECK(n_templates >= 70);
    fprintf(stderr,
            "%zu templates: %zu replies compared (%zu of a tool-call family), %zu agree, %zu known differences; "
            "%zu refused by llama.cpp (not compared)\nno family llamac parses: %s\n",
            n_templates, n_compared, n_family_cases, n_agree, n_known_found, n_refused, undetected);
}

/* llama.cpp's template models/templates/NAME.jinja, parsed; NULL (the failure counted) when it cannot be read or
 * parsed. */
static llamac_template *pinned_template(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/templates/%s.jinja", llama_src, name);
    char *src = test_read_file(path, NULL);
    CHECK(src != NULL);
    llamac_template *tmpl = NULL;
    if (src) {
        CHECK_OK(llamac_template_new(src, strlen(src), &tmpl));
    }
    free(src);
    return tmpl;
}

/* llamac_template_parse_params on its own: the thinking block as the prompt leaves it, and its errors. */
static void test_parse_params(void) {
    llamac_template *tmpl = pinned_template("Qwen-Qwen3-0.6B");
    llamac_tool_parse_params p;
    CHECK_STATUS(llamac_template_parse_params(NULL, "", false, LLAMAC_REASONING_DEEPSEEK, &p),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("tmpl is NULL");
    if (!tmpl) {
        return;
    }
    CHECK_STATUS(llamac_template_parse_params(tmpl, NULL, false, LLAMAC_REASONING_DEEPSEEK, &p),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("prompt is NULL");
    CHECK_STATUS(llamac_template_parse_params(tmpl, "", false, (llamac_reasoning_format)7, &p),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("unknown reasoning format 7");
    /* thinking on: a <think> block in the reply is reasoning */
    CHECK_OK(llamac_template_parse_params(tmpl, "<|im_start|>assistant\n", true, LLAMAC_REASONING_DEEPSEEK, &p));
    CHECK_INT(p.format, LLAMAC_TOOL_FORMAT_HERMES);
    CHECK(p.parse_tool_calls && !p.reasoning_open && p.reasoning == LLAMAC_REASONING_DEEPSEEK);
    CHECK(p.think_start && strstr(p.think_start, "<think>") && p.think_end && strstr(p.think_end, "</think>"));
    /* thinking off: the prompt closed the block, the reply is content as it is */
    CHECK_OK(llamac_template_parse_params(tmpl, "<|im_start|>assistant\n<think>\n\n</think>\n\n", false,
                                          LLAMAC_REASONING_DEEPSEEK, &p));
    CHECK(p.reasoning == LLAMAC_REASONING_NONE && !p.reasoning_open && !p.parse_tool_calls);
    llamac_tool_message *m = NULL;
    CHECK_OK(llamac_tool_parse("<think>x</think>y", 17, &p, &m));
    CHECK_STR(m ? m->content : NULL, "<think>x</think>y");
    llamac_tool_message_free(m);
    /* opened by the prompt: the reply is reasoning up to </think>, begun by what the prompt wrote after <think> */
    CHECK_OK(
        llamac_template_parse_params(tmpl, "<|im_start|>assistant\n<think>\n", false, LLAMAC_REASONING_DEEPSEEK, &p));
    CHECK(p.reasoning_open);
    CHECK_OK(llamac_tool_parse("why</think>\n\nso", 15, &p, &m));
    CHECK_STR(m ? m->reasoning_content : NULL, "why");
    CHECK_STR(m ? m->content : NULL, "so");
    llamac_tool_message_free(m);
    /* --reasoning-format none stays none */
    CHECK_OK(llamac_template_parse_params(tmpl, "<|im_start|>assistant\n", false, LLAMAC_REASONING_NONE, &p));
    CHECK(p.reasoning == LLAMAC_REASONING_NONE);
    llamac_template_free(tmpl);
    /* a template without a thinking section: <think> stays content */
    if ((tmpl = pinned_template("Qwen-Qwen2.5-7B-Instruct")) != NULL) {
        CHECK_OK(llamac_template_parse_params(tmpl, "<|im_start|>assistant\n", false, LLAMAC_REASONING_DEEPSEEK, &p));
        CHECK_STR(p.think_start, "");
        CHECK_OK(llamac_tool_parse("<think>x</think>y", 17, &p, &m));
        CHECK_STR(m ? m->content : NULL, "<think>x</think>y");
        CHECK_STR(m ? m->reasoning_content : NULL, "");
        llamac_tool_message_free(m);
        llamac_template_free(tmpl);
    }
    /* Qwen 3.5 and Ling 3: <tool_call> ends the thinking the prompt opened, as llama.cpp's readers take it; Qwen 3
     * above does not (its thinking ends only at </think>) */
    static const struct {
        const char *file, *prompt;
        bool ends_at_call;
    } at_call[] = { { "Qwen3.5-4B", "<|im_start|>assistant\n<think>\n", true },
                    { "inclusionai-ling-3.0-flash", "<role>ASSISTANT</role>\n<think>", true },
                    { "GLM-4.7-Flash", "<|assistant|><think>", false } };
    for (size_t k = 0; k < sizeof at_call / sizeof at_call[0]; k++) {
        if ((tmpl = pinned_template(at_call[k].file)) != NULL) {
            CHECK_OK(llamac_template_parse_params(tmpl, at_call[k].prompt, true, LLAMAC_REASONING_DEEPSEEK, &p));
            CHECK(p.reasoning_open && p.think_ends_at_call == at_call[k].ends_at_call);
            CHECK_OK(llamac_tool_parse("Checking.\n<tool_call>", 21, &p, &m));
            CHECK_STR(m ? m->reasoning_content : NULL,
                      at_call[k].ends_at_call ? "Checking.\n" : "Checking.\n<tool_call>");
            llamac_tool_message_free(m);
            llamac_template_free(tmpl);
        }
    }
    /* a template whose render add_generation_prompt does not change (llama-cpp-rwkv-world.jinja): llama.cpp's
     * generation prompt is empty, so the <think> the prompt ends with opens nothing and a reply's block is read */
    if ((tmpl = pinned_template("llama-cpp-rwkv-world")) != NULL) {
        CHECK_OK(llamac_template_parse_params(tmpl, "User: hi\n\nAssistant: <think>\n</think>", false,
                                              LLAMAC_REASONING_DEEPSEEK, &p));
        CHECK(!p.reasoning_open && p.reasoning == LLAMAC_REASONING_DEEPSEEK && !p.lead);
        CHECK_OK(llamac_tool_parse("<think>a</think>b", 17, &p, &m));
        CHECK_STR(m ? m->reasoning_content : NULL, "a");
        CHECK_STR(m ? m->content : NULL, "b");
        llamac_tool_message_free(m);
        llamac_template_free(tmpl);
    }
}

int main(void) {
    llama_src = getenv("LLAMAC_LLAMA_SOURCE");
    root = getenv("LLAMAC_SOURCE_DIR");
    if (!llama_src || !llama_src[0] || !root || !root[0]) {
        fprintf(stderr, "SKIP: LLAMAC_LLAMA_SOURCE (llama.cpp's models/templates) is not set\n");
        return 77;
    }
    char path[2300];
    snprintf(path, sizeof path, "%s/tests/reference/tool_parse/known_differences.txt", root);
    known = test_read_file(path, NULL);
    RUN(test_fidelity);
    RUN(test_parse_params);
    free(known);
    TESTS_DONE();
}
