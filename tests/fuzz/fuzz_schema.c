/*
 * fuzz_schema.c - libFuzzer target for llamac_json_schema_to_grammar: arbitrary bytes as a JSON Schema.
 *
 * Invariants checked: the converter answers with OK or a documented error (LLAMAC_E_SCHEMA, LLAMAC_E_UTF8,
 * LLAMAC_E_NO_MEMORY) and a message, never anything else; and every grammar it produces is accepted by
 * llama.cpp's grammar parser (through a sampler over stories260K's vocabulary), with its root rule and with a
 * prefix, as the tool-call grammars embed it.
 */
#include "fuzz_model.h"
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static llamac_model *model;

static void load_once(void) {
    if (model) {
        return;
    }
    char path[1024];
    fuzz_model_path("stories260K.gguf", path, sizeof path);
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    if (llamac_model_load(path, &mp, &model) != LLAMAC_OK) {
        fprintf(stderr, "fuzz_schema: %s\n", llamac_last_error());
        abort();
    }
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
}

static void check_one(const char *text, size_t len, const llamac_json_schema_params *p) {
    char *g = NULL;
    llamac_status st = llamac_json_schema_to_grammar(text, len, p, &g);
    if (st != LLAMAC_OK) {
        if ((st != LLAMAC_E_SCHEMA && st != LLAMAC_E_UTF8 && st != LLAMAC_E_NO_MEMORY) || g != NULL ||
            llamac_last_error()[0] == '\0') {
            fprintf(stderr, "unexpected status %s: %s\n", llamac_status_str(st), llamac_last_error());
            abort();
        }
        return;
    }
    llamac_sampler *s = NULL;
    if (llamac_sampler_new(model, &s) != LLAMAC_OK) {
        abort();
    }
    if (llamac_sampler_add_grammar(s, g, p && p->root_rule ? p->root_rule : "root") != LLAMAC_OK) {
        fprintf(stderr, "llama.cpp rejects the produced grammar: %s\nschema: %.*s\ngrammar:\n%s\n", llamac_last_error(),
                (int)len, text, g);
        abort();
    }
    llamac_sampler_free(s);
    llamac_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_once();
    check_one((const char *)data, size, NULL);
    llamac_json_schema_params p = llamac_json_schema_params_default();
    p.root_rule = "tool-args";
    p.rule_prefix = "t1-";
    p.dotall = true;
    p.relax_patterns = true;
    check_one((const char *)data, size, &p);
    return 0;
}
