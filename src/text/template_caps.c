/*
 * template_caps.c - what a chat template can take, found the way llama.cpp finds it (common/jinja/caps.cpp): render
 * small probe conversations and watch what the template does with certain values. Does it test whether content is a
 * string, iterate it, select parts from it? Does it ever look at the system message, at the tool's name, at an
 * argument inside a tool call? The chat layer adapts conversations to the answers (typed content parts or strings,
 * system messages folded, argument strings parsed), so the probes, their conversations and their conclusions follow
 * llama.cpp's exactly: a template llama-server adapts a conversation for is adapted the same way here.
 *
 * The engine records uses only for the few watched values, by identity, so a render that is not a probe pays one
 * NULL test per use.
 */
#include "text/template_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- recording ---- */

void jstat_record(jrt *rt, jv v, unsigned op) {
    const void *id = jv_identity(v);
    if (!id) {
        return;
    }
    for (size_t i = 0; i < rt->stats->n; i++) {
        jwatch *w = &rt->stats->w[i];
        if (w->id == id) {
            w->used = true;
            w->ops |= op;
        }
    }
}

void jstat_record_name(jrt *rt, jv v, const char *op_name, size_t len) {
    unsigned op = len == 10 && memcmp(op_name, "selectattr", 10) == 0 ? JSTAT_SELECTATTR : 0;
    jstat_record(rt, v, op);
}

void jstat_record_deep(jrt *rt, jv v, int depth) {
    jstep(rt); /* a value can hold another many times over: the walk counts against the step limit */
    jstat_record(rt, v, 0);
    if (depth >= JINJA_MAX_VALUE_DEPTH) {
        return; /* a value that contains itself: serialising it fails anyway */
    }
    if (jv_is_arr(v)) {
        for (size_t i = 0; i < v.u.a->n; i++) {
            jstat_record_deep(rt, v.u.a->v[i], depth + 1);
        }
    } else if (v.t == JT_OBJECT) {
        for (size_t i = 0; i < v.u.o->n; i++) {
            jstat_record_deep(rt, v.u.o->k[i], depth + 1);
            jstat_record_deep(rt, v.u.o->v[i], depth + 1);
        }
    }
}

/* ---- probes ---- */

/* Probe conversations are tiny: a template that needs more than this to render one cannot take it. */
const llamac_template_inputs llamac__probe_limits = { .max_output = (size_t)1 << 20,
                                                      .max_memory = (size_t)64 << 20,
                                                      .max_steps = 1000000 };

#define STRING_MARKER "STRING_MARKER"
#define REASONING_PLACEHOLDER "<REASONING_CONTENT_PLACEHOLDER>"

typedef struct probe {
    bool ok;      /* the render succeeded */
    char *output; /* what it rendered ("" when it failed) */
    jwatch w[JSTAT_MAX_WATCH];
} probe;

/* Renders `messages` (stolen) with `tools` (stolen; NULL: an empty list, as llama.cpp passes), the variables of
 * `extra` (stolen, may be NULL) set after the usual ones, watching the values at `paths`. */
static void probe_run(const llamac_template *tmpl, json_t *messages, json_t *tools, json_t *extra,
                      const char *const *paths, size_t n_paths, probe *p) {
    memset(p, 0, sizeof *p);
    json_t *vars = json_pack("{s:o, s:o, s:s, s:s, s:b}", "messages", messages, "tools", tools ? tools : json_array(),
                             "bos_token", "", "eos_token", "", "add_generation_prompt", 1);
    if (vars && extra) {
        json_object_update(vars, extra);
    }
    json_decref(extra);
    if (!vars) {
        return;
    }
    llamac__render_opts opts = { &llamac__probe_limits, paths, n_paths, p->w };
    size_t len = 0;
    p->ok = llamac__template_render_vars(tmpl, vars, &opts, &p->output, &len) == LLAMAC_OK;
    json_decref(vars);
}

static void probe_done(probe *p) {
    free(p->output);
    p->output = NULL;
}

static bool output_has(const probe *p, const char *needle) {
    return p->ok && p->output && strstr(p->output, needle) != NULL;
}

/* The probe tool: one function with one string argument. */
static json_t *probe_tools(void) {
    return json_pack("[{s:s, s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s]}}}]", "name", "tool", "type", "function",
                     "function", "name", "tool1", "description", "Tool description", "parameters", "type", "object",
                     "properties", "arg", "type", "string", "description", "Arg description", "required", "arg");
}

static json_t *probe_call(const char *id, bool object_args) {
    json_t *args = object_args ? json_pack("{s:s}", "arg", "value") : json_string("{\"arg\": \"value\"}");
    return json_pack("{s:s, s:s, s:{s:s, s:o}}", "id", id, "type", "function", "function", "name", "tool1", "arguments",
                     args);
}

/* A user turn, an assistant turn with these tool calls (stolen), the tool's answer, a reply and a user turn. */
static json_t *probe_tool_conversation(json_t *calls) {
    return json_pack("[{s:s, s:s}, {s:s, s:s, s:o}, {s:s, s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "role", "user",
                     "content", "User message", "role", "assistant", "content", "", "tool_calls", calls, "role", "tool",
                     "content", "Tool response", "tool_call_id", "call00001", "role", "assistant", "content",
                     "The tool response was 'tool response'", "role", "user", "content", "User message");
}

void llamac__template_probe_caps(const llamac_template *tmpl, llamac__caps *out) {
    llamac__caps c = { .string_content = true,
                       .typed_content = false,
                       .system_role = true,
                       .tools = true,
                       .tool_calls = true,
                       .parallel_tool_calls = true,
                       .object_arguments = false,
                       .preserve_reasoning = false,
                       .reasoning_effort = false };
    probe p;

    /* content as a string: is it tested for being a string, or used as an array of parts? */
    static const char *const content_path[] = { "messages/0/content" };
    probe_run(tmpl, json_pack("[{s:s, s:s}]", "role", "user", "content", STRING_MARKER), NULL, NULL, content_path, 1,
              &p);
    bool checks_for_string = (p.w[0].ops & JSTAT_TEST_IS_STRING) != 0;
    bool used_as_array = (p.w[0].ops & (JSTAT_SELECTATTR | JSTAT_ARRAY_ACCESS)) != 0;
    if (used_as_array) {
        c.typed_content = true;
    }
    if (!p.ok || (used_as_array && !output_has(&p, STRING_MARKER))) {
        c.string_content = false;
    }
    probe_done(&p);
    if (checks_for_string) {
        probe_run(tmpl, json_pack("[{s:s, s:[]}]", "role", "user", "content"), NULL, NULL, content_path, 1, &p);
        if (p.ok && (p.w[0].ops & (JSTAT_SELECTATTR | JSTAT_ARRAY_ACCESS))) {
            c.typed_content = true;
        }
        probe_done(&p);
    }

    /* a system message: is its content used at all? */
    probe_run(tmpl,
              json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", "System message", "role", "user",
                        "content", "User message"),
              NULL, NULL, content_path, 1, &p);
    if (!p.w[0].used) {
        c.system_role = false;
    }
    probe_done(&p);

    /* a tool call with arguments as an object: are the tools described, the calls shown, an argument read? */
    static const char *const tool_paths[] = { "tools/0/function/name", "messages/1/tool_calls",
                                              "messages/1/tool_calls/0/function/arguments/arg" };
    probe_run(tmpl, probe_tool_conversation(json_pack("[o]", probe_call("call00001", true))), probe_tools(), NULL,
              tool_paths, 3, &p);
    if (p.ok) {
        if (!p.w[0].used) {
            c.tools = false;
        }
        if (!p.w[1].used) {
            c.tool_calls = false;
        } else if (p.w[2].used) {
            c.object_arguments = true;
        }
    }
    probe_done(&p);
    if (!c.object_arguments) {
        /* the same with the arguments as a JSON string */
        probe_run(tmpl, probe_tool_conversation(json_pack("[o]", probe_call("call00001", false))), probe_tools(), NULL,
                  tool_paths, 2, &p);
        if (!p.ok) {
            c.tool_calls = false;
            c.tools = false;
        } else {
            if (!p.w[0].used) {
                c.tools = false;
            }
            if (!p.w[1].used) {
                c.tool_calls = false;
            }
        }
        probe_done(&p);
    }

    /* two calls in one message: is the second one shown? */
    static const char *const parallel_path[] = { "messages/1/tool_calls/1/function" };
    probe_run(tmpl,
              probe_tool_conversation(json_pack("[o, o]", probe_call("call00001", c.object_arguments),
                                                probe_call("call00002", c.object_arguments))),
              probe_tools(), NULL, parallel_path, 1, &p);
    if (!p.ok || !p.w[0].used) {
        c.parallel_tool_calls = false;
    }
    probe_done(&p);

    /* reasoning of an earlier turn, with every "keep the reasoning" switch on: is it printed? */
    probe_run(tmpl,
              json_pack("[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]", "role", "user",
                        "content", "User message", "role", "assistant", "content", "Assistant message",
                        "reasoning_content", REASONING_PLACEHOLDER, "role", "user", "content", "User message", "role",
                        "assistant", "content", "Assistant message", "reasoning_content", "Reasoning content", "role",
                        "user", "content", "User message"),
              NULL,
              json_pack("{s:b, s:b, s:b, s:b, s:b}", "enable_thinking", 1, "preserve_thinking", 1, "clear_thinking", 0,
                        "truncate_history_thinking", 0, "drop_thinking", 0),
              NULL, 0, &p);
    c.preserve_reasoning = output_has(&p, REASONING_PLACEHOLDER);
    probe_done(&p);

    /* a reasoning effort (one value under both names llama.cpp binds): is it used? */
    static const char *const effort_path[] = { "reasoning_effort" };
    json_t *low = json_string("low");
    json_t *extra =
        json_pack("{s:b, s:O, s:O}", "enable_thinking", 1, "reasoning_effort", low, "reasoning_strength", low);
    json_decref(low);
    probe_run(tmpl, json_pack("[{s:s, s:s}]", "role", "user", "content", "User message"), NULL, extra, effort_path, 1,
              &p);
    c.reasoning_effort = p.w[0].used;
    probe_done(&p);

    *out = c;
}
