/*
 * fuzz_template.c - libFuzzer target for the chat-template engine: the input is a template (and, after a line
 * "#####", the messages JSON), parsed and rendered with a fixed conversation under tight limits.
 *
 * Invariants checked: every call returns OK or a template / JSON / UTF-8 error with a message (never a crash, a hang
 * or a leak), a render's output is valid UTF-8 within the output limit, and rendering twice gives the same bytes.
 * The chat layer (llamac_template_apply: capability probes, adaptations, continuation) runs on the same input.
 */
#include "llamac.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char messages[] =
    "[{\"role\": \"system\", \"content\": \"You are helpful.\"},"
    " {\"role\": \"user\", \"content\": \"Hi \\u00e9\\u65e5 \\ud83c\\udf89 \\\"q\\\"\"},"
    " {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\","
    " \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1.5, \"y\": [true, null]}}}]},"
    " {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"ok\"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"parts\"}]}]";
static const char tools[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"number\"}}}}}]";

static bool acceptable(llamac_status st) {
    return st == LLAMAC_OK || st == LLAMAC_E_TEMPLATE || st == LLAMAC_E_UTF8 || st == LLAMAC_E_INVALID_ARGUMENT ||
           st == LLAMAC_E_UNSUPPORTED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *src = (const char *)data;
    size_t src_len = size;
    char *msgs = NULL;
    const char *sep = NULL;
    for (size_t i = 0; i + 7 <= size && !sep; i++) {
        if (memcmp(src + i, "\n#####\n", 7) == 0) {
            sep = src + i;
        }
    }
    if (sep) {
        src_len = (size_t)(sep - src);
        size_t rest = size - src_len - 7;
        msgs = malloc(rest + 1);
        if (!msgs) {
            return 0;
        }
        memcpy(msgs, sep + 7, rest);
        msgs[rest] = '\0';
    }
    llamac_template *t = NULL;
    llamac_status st = llamac_template_new(src, src_len, &t);
    if (!acceptable(st) || (st == LLAMAC_OK) != (t != NULL) || (st != LLAMAC_OK && !llamac_last_error()[0])) {
        abort();
    }
    if (t) {
        llamac_template_inputs in = llamac_template_inputs_default();
        in.messages_json = msgs ? msgs : messages;
        in.tools_json = tools;
        in.kwargs_json = "{\"enable_thinking\": false, \"n\": 3}";
        in.bos_token = "<s>";
        in.eos_token = "</s>";
        in.now = 1721995200;
        in.max_output = 1 << 16;
        in.max_memory = 32 << 20;
        in.max_steps = 20000;
        char *out = NULL, *again = NULL;
        size_t len = 0, len2 = 0;
        st = llamac_template_render(t, &in, &out, &len);
        if (!acceptable(st) || (st == LLAMAC_OK) != (out != NULL) || (st != LLAMAC_OK && !llamac_last_error()[0])) {
            abort();
        }
        if (out && (len > in.max_output || !llamac_utf8_valid(out, len, NULL))) {
            abort();
        }
        llamac_status st2 = llamac_template_render(t, &in, &again, &len2);
        if (st2 != st || (out && (len2 != len || memcmp(out, again, len) != 0))) {
            abort();
        }
        llamac_free(again);
        /* the chat layer: probes, adaptations and the render, a continued last message for variety; only for a
         * template that rendered within the tight limits above, since the layer renders with the default ones */
        llamac_template_apply_params ap = llamac_template_apply_params_default();
        ap.messages_json = in.messages_json;
        ap.tools_json = tools;
        ap.chat_template_kwargs_json = in.kwargs_json;
        ap.now = in.now;
        ap.continue_final_message = LLAMAC_CONTINUE_AUTO;
        ap.add_generation_prompt = (size & 1) != 0;
        bool rendered = out != NULL;
        llamac_free(out);
        out = NULL;
        st = rendered ? llamac_template_apply(t, NULL, &ap, &out, &len) : LLAMAC_E_TEMPLATE;
        if (rendered &&
            (!acceptable(st) || (st == LLAMAC_OK) != (out != NULL) || (st != LLAMAC_OK && !llamac_last_error()[0]))) {
            abort();
        }
        if (out && !llamac_utf8_valid(out, len, NULL)) {
            abort();
        }
        llamac_free(out);
        llamac_template_free(t);
    }
    free(msgs);
    return 0;
}
