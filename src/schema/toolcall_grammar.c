/*
 * toolcall_grammar.c - GBNF grammars that make a model's output a valid tool call in its format.
 *
 * One rule per offered tool spells the call the way the format writes it, with the tool's name fixed and its
 * arguments valid for the tool's schema: a JSON object through the JSON Schema converter, or, for the formats that
 * write arguments property by property (Gemma 4, LFM2, the XML-ish families), one rule per property of the schema;
 * the root allows one call or (parallel) several. For tool_choice "auto" the grammar is
 * lazy: free text until a trigger pattern sees the format's call marker, then the grammar from that marker on.
 * The generic format is the exception: its grammar allows either a text response or calls, so it is never lazy.
 */
#include "core/internal.h"
#include "schema/toolcall.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOOLS 256

/* JSON in GBNF: at most one space or a newline and an indent between tokens, so that a weak model cannot spend
 * its tokens on blanks. */
static const char JSON_RULES[] =
    "tc-ws ::= ( \" \" | \"\\n\" \" \"{0,4} )?\n"
    "tc-obj ::= \"{\" tc-ws ( tc-member ( \",\" tc-ws tc-member )* )? \"}\"\n"
    "tc-member ::= tc-str tc-ws \":\" tc-ws tc-val tc-ws\n"
    "tc-val ::= tc-obj | tc-arr | tc-str | tc-num | \"true\" | \"false\" | \"null\"\n"
    "tc-arr ::= \"[\" tc-ws ( tc-val tc-ws ( \",\" tc-ws tc-val tc-ws )* )? \"]\"\n"
    "tc-str ::= \"\\\"\" tc-char* \"\\\"\"\n"
    "tc-char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )\n"
    "tc-num ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} ) ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n";

/* The most a tool grammar (or its trigger patterns) may take: each tool's arguments come from the JSON Schema
 * converter, which stops at 8 MiB, so this only backs that up. */
#define TC_GRAMMAR_MAX ((size_t)MAX_TOOLS * ((size_t)9 << 20))

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

/* A grammar as llamac_tool_grammar_build makes it: what the caller sees, then what llamac_tool_grammar_after_thinking
 * needs to know of it. */
typedef struct tc_grammar {
    llamac_tool_grammar pub; /* first: a llamac_tool_grammar * of a built grammar points to its tc_grammar */
    const char *marker;      /* the text that starts the forced calls (static, SHAPES), or NULL */
} tc_grammar;

void llamac_tool_grammar_free(llamac_tool_grammar *g) {
    if (!g) {
        return;
    }
    free(g->grammar);
    for (size_t i = 0; i < g->n_trigger_patterns; i++) {
        free(g->trigger_patterns[i]);
    }
    free(g->trigger_patterns);
    free(g);
}

/* A call as a JSON object {"<name_key>": "<name>", "<args_key>": <tc-args-i>}, as GBNF. */
static void kv_object(char *obj, size_t cap, const char *name_key, const char *name, const char *args_key, size_t i) {
    snprintf(obj, cap,
             "\"{\" tc-ws \"\\\"%s\\\"\" tc-ws \":\" tc-ws \"\\\"%s\\\"\" tc-ws \",\" tc-ws \"\\\"%s\\\"\" "
             "tc-ws \":\" tc-ws tc-args-%zu tc-ws \"}\"",
             name_key, name, args_key, i);
}

/* The rule tc-call-<i> for tool `name` in `format`. Arguments are rule tc-args-<i>. */
static void call_rule(llamac__dynbuf *g, llamac_tool_format format, size_t i, const char *name) {
    char obj[512];
    switch (format) {
    case LLAMAC_TOOL_FORMAT_HERMES:
        kv_object(obj, sizeof obj, "name", name, "arguments", i);
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<tool_call>\" \"\\n\"? %s \"\\n\"? \"</tool_call>\"\n", i, obj);
        break;
    case LLAMAC_TOOL_FORMAT_LLAMA3:
        kv_object(obj, sizeof obj, "name", name, "parameters", i);
        llamac__dynbuf_addf(g, "tc-call-%zu ::= %s\n", i, obj);
        break;
    case LLAMAC_TOOL_FORMAT_MISTRAL:
    case LLAMAC_TOOL_FORMAT_GENERIC:
        kv_object(obj, sizeof obj, "name", name, "arguments", i);
        llamac__dynbuf_addf(g, "tc-call-%zu ::= %s\n", i, obj);
        break;
    case LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS:
        kv_object(obj, sizeof obj, "tool_name", name, "parameters", i);
        llamac__dynbuf_addf(g, "tc-call-%zu ::= %s\n", i, obj);
        break;
    case LLAMAC_TOOL_FORMAT_COMMAND_R7B:
        kv_object(obj, sizeof obj, "tool_name", name, "parameters", i);
        /* The id member goes first: {"tool_call_id": "0", "tool_name": .., "parameters": ..}. */
        llamac__dynbuf_addf(
            g,
            "tc-call-%zu ::= \"{\" tc-ws \"\\\"tool_call_id\\\"\" tc-ws \":\" tc-ws \"\\\"\" [0-9]{1,3} \"\\\"\" "
            "tc-ws \",\" tc-ws %s\n",
            i, obj + 4);
        break;
    case LLAMAC_TOOL_FORMAT_QWEN3_CODER:
        llamac__dynbuf_addf(
            g, "tc-call-%zu ::= \"<tool_call>\\n<function=%s>\\n\" tc-args-%zu \"</function>\\n</tool_call>\"\n", i,
            name, i);
        break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_R1:
        llamac__dynbuf_addf(g,
                            "tc-call-%zu ::= \"" DS_CALL_BEGIN "function" DS_SEP "%s\\n```json\\n\" tc-args-%zu "
                            "\"\\n```" DS_CALL_END "\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"" DS_CALL_BEGIN "%s" DS_SEP "\" tc-args-%zu \"" DS_CALL_END "\"\n", i,
                            name, i);
        break;
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"%s\\n\" tc-args-%zu\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_MISTRAL_ARGS:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"%s[ARGS]\" tc-args-%zu\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_GLM:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<tool_call>%s\" tc-args-%zu \"\\n\"? \"</tool_call>\"\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_SEED_OSS:
        llamac__dynbuf_addf(
            g,
            "tc-call-%zu ::= \"<seed:tool_call>\\n<function=%s>\\n\" tc-args-%zu \"</function>\\n</seed:tool_call>\"\n",
            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_APRIEL:
    case LLAMAC_TOOL_FORMAT_NEMOTRON_V2:
    case LLAMAC_TOOL_FORMAT_GIGACHAT3:
    case LLAMAC_TOOL_FORMAT_GIGACHAT3_1:
    case LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2:
        kv_object(obj, sizeof obj, "name", name, "arguments", i);
        llamac__dynbuf_addf(g, "tc-call-%zu ::= %s\n", i, obj);
        break;
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<function=%s>\" tc-args-%zu \"</function>\"\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2:
        llamac__dynbuf_addf(
            g, "tc-call-%zu ::= \"" DSML "invoke name=\\\"%s\\\">\\n\" tc-args-%zu \"" DSML_CLOSE "invoke>\"\n", i,
            name, i);
        break;
    case LLAMAC_TOOL_FORMAT_KIMI_K3:
        llamac__dynbuf_addf(g,
                            "tc-call-%zu ::= \"<|open|>call tool=\\\"%s\\\" index=\\\"\" [0-9]{1,3} \"\\\"<|sep|>\" "
                            "tc-args-%zu \"<|close|>call<|sep|>\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_MINICPM5:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<function name=\\\"%s\\\">\" tc-args-%zu \"\\n\"? \"</function>\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M3:
        llamac__dynbuf_addf(
            g, "tc-call-%zu ::= \"" M3_NS "<invoke name=\\\"%s\\\">\" tc-args-%zu \"\\n\"? \"" M3_NS "</invoke>\"\n", i,
            name, i);
        break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M2:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<invoke name=\\\"%s\\\">\" tc-args-%zu \"\\n\"? \"</invoke>\"\n", i,
                            name, i);
        break;
    case LLAMAC_TOOL_FORMAT_KIMI_K2:
        llamac__dynbuf_addf(g,
                            "tc-call-%zu ::= \"<|tool_call_begin|>functions.%s:\" [0-9]{1,3} "
                            "\"<|tool_call_argument_begin|>\" tc-args-%zu \"<|tool_call_end|>\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_GEMMA4:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"<|tool_call>call:%s\" tc-args-%zu \"<tool_call|>\"\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_LFM2:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"%s(\" tc-args-%zu \")\"\n", i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_APERTUS:
        llamac__dynbuf_addf(g, "tc-call-%zu ::= \"{\" tc-ws \"\\\"%s\\\"\" tc-ws \":\" tc-ws tc-args-%zu tc-ws \"}\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_HARMONY:
        llamac__dynbuf_addf(
            g,
            "tc-call-%zu ::= \"<|channel|>commentary to=functions.%s\" \" <|constrain|>json\"? \"<|message|>\" "
            "tc-args-%zu \"<|call|>\"\n",
            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_HY3:
        llamac__dynbuf_addf(g,
                            "tc-call-%zu ::= \"<tool_call:opensource>%s<tool_sep:opensource>\" tc-args-%zu \"\\n\"? "
                            "\"</tool_call:opensource>\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_SOLAR_OPEN: /* the call's id: ten of a-z and 0-9, as the template asks */
        llamac__dynbuf_addf(g,
                            "tc-call-%zu ::= \"<|tool_call:begin|>\" [a-z0-9]{10} \"<|tool_call:name|>%s"
                            "<|tool_call:args|>\" tc-args-%zu \"<|tool_call:end|>\"\n",
                            i, name, i);
        break;
    case LLAMAC_TOOL_FORMAT_MUSE:
        llamac__dynbuf_addf(
            g,
            "tc-call-%zu ::= \" to=%s<|message|><atem:function_calls>\\n<atem:invoke name=\\\"%s\\\">\" "
            "tc-args-%zu \"\\n\"? \"</atem:invoke>\\n</atem:function_calls>\"\n",
            i, name, name, i);
        break;
    }
}

/* The rule `root` (its other rules prefixed `prefix`) for a value of `schema`, through the JSON Schema converter. */
static llamac_status schema_rule(llamac__dynbuf *g, const char *root, const char *prefix, json_t *schema,
                                 const char *tool_name) {
    char *text = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading the parameters of \"%s\"", tool_name);
    }
    llamac_json_schema_params sp = llamac_json_schema_params_default();
    sp.root_rule = root;
    sp.rule_prefix = prefix;
    sp.relax_patterns = true;
    char *gbnf = NULL;
    llamac_status st = llamac_json_schema_to_grammar(text, strlen(text), &sp, &gbnf);
    free(text);
    if (st != LLAMAC_OK) {
        char why[768];
        snprintf(why, sizeof why, "%s", llamac_last_error());
        return llamac__fail(st, "the parameters of tool \"%s\": %s", tool_name, why);
    }
    llamac__dynbuf_adds(g, gbnf);
    if (gbnf[0] && gbnf[strlen(gbnf) - 1] != '\n') {
        llamac__dynbuf_addc(g, '\n');
    }
    llamac_free(gbnf);
    return LLAMAC_OK;
}

/* The rule tc-args-<i>: the tool's parameters schema through the JSON Schema converter, or any object when the
 * tool has none. The converter's own rules get the prefix "tc<i>-" so that tools do not collide. */
static llamac_status args_rule(llamac__dynbuf *g, size_t i, json_t *params, const char *tool_name) {
    if (!params) {
        llamac__dynbuf_addf(g, "tc-args-%zu ::= tc-obj\n", i);
        return LLAMAC_OK;
    }
    char root[32], prefix[32];
    snprintf(root, sizeof root, "tc-args-%zu", i);
    snprintf(prefix, sizeof prefix, "tc%zu-", i);
    return schema_rule(g, root, prefix, params, tool_name);
}

/* ---- arguments property by property (Gemma 4, LFM2 and the XML-ish families), from the tool's schema ---- */

/* Values of any type, as the notations write them. */
static const char NATIVE_RULES[] =
    "g4-val ::= g4-str | g4-dict | g4-arr | tc-num | \"true\" | \"false\" | \"null\"\n"
    "g4-str ::= \"<|\\\"|>\" [^<]{0,4096} \"<|\\\"|>\"\n"
    "g4-dict ::= \"{\" ( g4-kv ( \",\" g4-kv )* )? \"}\"\n"
    "g4-kv ::= [a-zA-Z0-9_]{1,64} \":\" g4-val\n"
    "g4-arr ::= \"[\" ( g4-val ( \",\" g4-val )* )? \"]\"\n"
    "py-val ::= tc-str | tc-num | \"True\" | \"False\" | \"None\" | py-list | py-dict\n"
    "py-list ::= \"[\" ( py-val ( \", \" py-val )* )? \"]\"\n"
    "py-dict ::= \"{\" ( tc-str \": \" py-val ( \", \" tc-str \": \" py-val )* )? \"}\"\n";

/* A property name the rules can spell as a literal. */
static bool plain_key(const char *k) {
    size_t n = strlen(k);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        ok =
            (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_';
    }
    return ok;
}

/* Whether the XML-ish format writes its parameters as elements (raw strings, JSON for the other types). */
static bool xml_format(llamac_tool_format f) {
    return f == LLAMAC_TOOL_FORMAT_QWEN3_CODER || f == LLAMAC_TOOL_FORMAT_GLM || f == LLAMAC_TOOL_FORMAT_MINIMAX_M2 ||
           f == LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2 || f == LLAMAC_TOOL_FORMAT_SEED_OSS ||
           f == LLAMAC_TOOL_FORMAT_KIMI_K3 || f == LLAMAC_TOOL_FORMAT_MINICPM5 || f == LLAMAC_TOOL_FORMAT_HY3 ||
           f == LLAMAC_TOOL_FORMAT_MUSE;
}

/* Whether the XML-ish format takes its parameters in any order and number, none required: Kimi K3 and MiniCPM5, as
 * llama.cpp's chat layer constrains them (the others: the required ones first). */
static bool xml_any_order(llamac_tool_format f) {
    return f == LLAMAC_TOOL_FORMAT_KIMI_K3 || f == LLAMAC_TOOL_FORMAT_MINICPM5;
}

/* The schema a local "#/$defs/X" or "#/definitions/X" reference of the parameters `root` names, or NULL. */
static json_t *local_ref(json_t *root, const char *ref) {
    static const char *const bases[] = { "$defs", "definitions" };
    for (size_t b = 0; ref && b < 2; b++) {
        size_t n = strlen(bases[b]);
        if (!strncmp(ref, "#/", 2) && !strncmp(ref + 2, bases[b], n) && ref[2 + n] == '/') {
            return json_object_get(json_object_get(root, bases[b]), ref + 3 + n);
        }
    }
    return NULL;
}

/* The TC_T_* bit of a JSON type name or value. */
static unsigned type_bit(const char *name) {
    static const struct {
        const char *name;
        unsigned bits;
    } types[] = { { "string", TC_T_STRING },   { "integer", TC_T_INTEGER }, { "number", TC_T_NUMBER | TC_T_INTEGER },
                  { "boolean", TC_T_BOOLEAN }, { "null", TC_T_NULL },       { "object", TC_T_OBJECT },
                  { "array", TC_T_ARRAY } };
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++) {
        if (!strcmp(name, types[i].name)) {
            return types[i].bits;
        }
    }
    return 0;
}

static unsigned value_bit(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: return TC_T_STRING;
    case JSON_INTEGER: return TC_T_INTEGER;
    case JSON_REAL: return TC_T_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return TC_T_BOOLEAN;
    case JSON_NULL: return TC_T_NULL;
    case JSON_OBJECT: return TC_T_OBJECT;
    default: return TC_T_ARRAY;
    }
}

/* The most schema nodes tc_schema_types visits: past it (a schema that branches into many references) a value
 * may be anything. */
#define TYPES_BUDGET 4096

static unsigned schema_types(json_t *root, json_t *schema, int depth, unsigned *budget) {
    if (depth > 16) {
        return 0; /* a reference cycle contributes no type */
    }
    if (*budget == 0) {
        return TC_T_ANY;
    }
    (*budget)--;
    if (!json_is_object(schema)) {
        return json_is_true(schema) ? TC_T_ANY : 0;
    }
    json_t *ref = json_object_get(schema, "$ref"), *alts = json_object_get(schema, "oneOf");
    if (ref) {
        json_t *target = local_ref(root, json_string_value(ref));
        return target ? schema_types(root, target, depth + 1, budget) : 0;
    }
    alts = alts ? alts : json_object_get(schema, "anyOf");
    size_t k;
    json_t *v;
    unsigned t = 0;
    if (alts) {
        json_array_foreach(alts, k, v) {
            t |= schema_types(root, v, depth + 1, budget);
        }
        return t;
    }
    json_t *type = json_object_get(schema, "type");
    if (json_is_array(type)) {
        json_array_foreach(type, k, v) {
            t |= type_bit(json_string_value(v));
        }
        return t;
    }
    if (json_object_get(schema, "const")) {
        return value_bit(json_object_get(schema, "const"));
    }
    if (json_object_get(schema, "enum")) {
        json_array_foreach(json_object_get(schema, "enum"), k, v) {
            t |= value_bit(v);
        }
        return t;
    }
    if (json_is_string(type)) {
        return type_bit(json_string_value(type));
    }
    json_t *addl = json_object_get(schema, "additionalProperties");
    if (json_object_get(schema, "properties") || (addl && !json_is_true(addl))) {
        return TC_T_OBJECT;
    }
    json_t *all = json_object_get(schema, "allOf");
    if (all) {
        /* the types every constraining member allows */
        bool any = true;
        json_array_foreach(all, k, v) {
            unsigned tv = schema_types(root, v, depth + 1, budget);
            if (tv != TC_T_ANY) {
                t = any ? tv & ~(unsigned)TC_T_ANY : t & tv;
                any = false;
            }
        }
        return any ? TC_T_ANY : t;
    }
    if (json_object_get(schema, "items") || json_object_get(schema, "prefixItems")) {
        return TC_T_ARRAY;
    }
    if (json_object_get(schema, "pattern") || json_object_get(schema, "minLength") ||
        json_object_get(schema, "maxLength") || json_object_get(schema, "format")) {
        return TC_T_STRING;
    }
    return TC_T_ANY;
}

unsigned tc_schema_types(json_t *root, json_t *schema) {
    unsigned budget = TYPES_BUDGET;
    return schema_types(root, schema, 0, &budget);
}

/* Whether an XML-ish format writes a value of `schema` raw: when it may be a string (as llama.cpp's chat layer asks
 * of its schema model); a schema that constrains nothing is a string for Qwen3-Coder, JSON for the others. */
static bool raw_value(llamac_tool_format f, json_t *params, json_t *schema) {
    unsigned t = tc_schema_types(params, schema);
    return (t & TC_T_STRING) || (f == LLAMAC_TOOL_FORMAT_QWEN3_CODER && (t & TC_T_ANY));
}

/* A string's maxLength, within the 4096 bytes every string value of these rules may take. */
static long long max_length(json_t *schema) {
    json_int_t max = json_integer_value(json_object_get(schema, "maxLength"));
    return max <= 0 || max > 4096 ? 4096 : (long long)max;
}

/* The value of one property in Gemma 4's or LFM2's notation, by its schema's type: strings (their maxLength kept),
 * integers, numbers and booleans as the notation writes them; any other schema any value. */
static void native_value(llamac__dynbuf *g, bool gemma, json_t *schema) {
    const char *type = json_string_value(json_object_get(schema, "type"));
    long long max = max_length(schema);
    if (type && !strcmp(type, "string")) {
        if (gemma) {
            llamac__dynbuf_addf(g, "\"<|\\\"|>\" [^<]{0,%lld} \"<|\\\"|>\"", max);
        } else {
            llamac__dynbuf_addf(g, "\"\\\"\" [^\"\\\\\\x7F\\x00-\\x1F]{0,%lld} \"\\\"\"", max);
        }
    } else if (type && !strcmp(type, "integer")) {
        llamac__dynbuf_addf(g, "\"-\"? ( \"0\" | [1-9] [0-9]{0,15} )");
    } else if (type && !strcmp(type, "number")) {
        llamac__dynbuf_addf(g, "tc-num");
    } else if (type && !strcmp(type, "boolean")) {
        llamac__dynbuf_addf(g, gemma ? "( \"true\" | \"false\" )" : "( \"True\" | \"False\" )");
    } else {
        llamac__dynbuf_addf(g, gemma ? "g4-val" : "py-val");
    }
}

/* The opening of an XML-ish parameter element named `key` (NULL: any plain name); `str` says whether its value is a
 * raw string (-1: either), for the formats that say so in an attribute: DSML's string="true" or "false", Kimi K3's
 * type attribute (optional; "string" only for a raw string, as the reply parser reads it so). */
static void xml_open(llamac__dynbuf *g, llamac_tool_format f, const char *key, int str) {
    char name[96];
    snprintf(name, sizeof name, key ? "\"%s\"" : "[a-zA-Z0-9_]{1,64}", key);
    switch (f) {
    case LLAMAC_TOOL_FORMAT_QWEN3_CODER: llamac__dynbuf_addf(g, "\"<parameter=\" %s \">\\n\" ", name); break;
    case LLAMAC_TOOL_FORMAT_SEED_OSS: llamac__dynbuf_addf(g, "\"<parameter=\" %s \">\" ", name); break;
    case LLAMAC_TOOL_FORMAT_GLM:
        llamac__dynbuf_addf(g, "\"\\n\"? \"<arg_key>\" %s \"</arg_key>\" \"\\n\"? \"<arg_value>\" ", name);
        break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M2:
        llamac__dynbuf_addf(g, "\"\\n\"? \"<parameter name=\\\"\" %s \"\\\">\" ", name);
        break;
    case LLAMAC_TOOL_FORMAT_MINICPM5:
        llamac__dynbuf_addf(g, "\"\\n\"? \"<param name=\\\"\" %s \"\\\">\" ", name);
        break;
    case LLAMAC_TOOL_FORMAT_KIMI_K3:
        llamac__dynbuf_addf(g,
                            "\"<|open|>argument key=\\\"\" %s \"\\\"\" ( \" type=\\\"\" ( %s\"number\" | \"integer\" | "
                            "\"boolean\" | \"null\" | \"object\" | \"array\" ) \"\\\"\" )? \"<|sep|>\" ",
                            name, str ? "\"string\" | " : "");
        break;
    case LLAMAC_TOOL_FORMAT_HY3:
        llamac__dynbuf_addf(g,
                            "\"\\n\"? \"<arg_key:opensource>\" %s \"</arg_key:opensource>\" \"\\n\"? "
                            "\"<arg_value:opensource>\" ",
                            name);
        break;
    case LLAMAC_TOOL_FORMAT_MUSE:
        llamac__dynbuf_addf(g, "\"\\n\"? \"<atem:parameter name=\\\"\" %s \"\\\">\" ", name);
        break;
    default:
        llamac__dynbuf_addf(g, "\"" DSML "parameter name=\\\"\" %s \"\\\" string=\\\"\" %s \"\\\">\" ", name,
                            str < 0 ? "( \"true\" | \"false\" )"
                            : str   ? "\"true\""
                                    : "\"false\"");
        break;
    }
}

/* The closing of an XML-ish parameter element. */
static void xml_close(llamac__dynbuf *g, llamac_tool_format f) {
    switch (f) {
    case LLAMAC_TOOL_FORMAT_QWEN3_CODER: llamac__dynbuf_addf(g, " \"\\n</parameter>\\n\""); break;
    case LLAMAC_TOOL_FORMAT_SEED_OSS: llamac__dynbuf_addf(g, " \"</parameter>\\n\""); break;
    case LLAMAC_TOOL_FORMAT_GLM: llamac__dynbuf_addf(g, " \"</arg_value>\""); break;
    case LLAMAC_TOOL_FORMAT_MINIMAX_M2: llamac__dynbuf_addf(g, " \"</parameter>\""); break;
    case LLAMAC_TOOL_FORMAT_MINICPM5: llamac__dynbuf_addf(g, " \"</param>\""); break;
    case LLAMAC_TOOL_FORMAT_KIMI_K3: llamac__dynbuf_addf(g, " \"<|close|>argument<|sep|>\""); break;
    case LLAMAC_TOOL_FORMAT_HY3: llamac__dynbuf_addf(g, " \"</arg_value:opensource>\""); break;
    case LLAMAC_TOOL_FORMAT_MUSE: llamac__dynbuf_addf(g, " \"</atem:parameter>\""); break;
    default: llamac__dynbuf_addf(g, " \"" DSML_CLOSE "parameter>\\n\""); break;
    }
}

static llamac_status value_rule(llamac__dynbuf *g, size_t i, size_t k, json_t *schema, json_t *params,
                                const char *tool_name);

/* The rule tc<i>-p<k> for property `key` of schema `schema` (`params` holds its references): the notation's
 * "key:value" / "key=value", or an XML-ish element with a raw string, or JSON through the converter (rule
 * tc<i>-v<k>) for a value that cannot be a string. */
static llamac_status prop_rule(llamac__dynbuf *g, llamac_tool_format f, size_t i, size_t k, const char *key,
                               json_t *schema, json_t *params, const char *tool_name) {
    llamac__dynbuf_addf(g, "tc%zu-p%zu ::= ", i, k);
    if (!xml_format(f)) {
        bool gemma = f == LLAMAC_TOOL_FORMAT_GEMMA4;
        llamac__dynbuf_addf(g, "\"%s%s\" ", key, gemma ? ":" : "=");
        native_value(g, gemma, schema);
        llamac__dynbuf_addc(g, '\n');
        return LLAMAC_OK;
    }
    bool str = raw_value(f, params, schema);
    xml_open(g, f, key, str);
    if (str) {
        llamac__dynbuf_addf(g, "[^<]{0,%lld}", max_length(schema));
        xml_close(g, f);
        llamac__dynbuf_addc(g, '\n');
        return LLAMAC_OK;
    }
    llamac__dynbuf_addf(g, "tc%zu-v%zu", i, k);
    xml_close(g, f);
    llamac__dynbuf_addc(g, '\n');
    return value_rule(g, i, k, schema, params, tool_name);
}

/* The rule tc<i>-v<k>: JSON valid for property k's `schema` (`params` holds its references), through the converter. */
static llamac_status value_rule(llamac__dynbuf *g, size_t i, size_t k, json_t *schema, json_t *params,
                                const char *tool_name) {
    /* the property's schema alone, with the definitions its references may name */
    json_t *doc = json_is_object(schema) ? json_copy(schema) : json_incref(schema);
    static const char *const defs[] = { "$defs", "definitions" };
    for (size_t d = 0; doc && d < 2; d++) {
        json_t *v = json_object_get(params, defs[d]);
        if (v && !json_object_get(doc, defs[d])) {
            json_object_set(doc, defs[d], v);
        }
    }
    if (!doc) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading the parameters of \"%s\"", tool_name);
    }
    char root[48], prefix[48];
    snprintf(root, sizeof root, "tc%zu-v%zu", i, k);
    snprintf(prefix, sizeof prefix, "tc%zu-v%zu-", i, k);
    llamac_status st = schema_rule(g, root, prefix, doc, tool_name);
    json_decref(doc);
    return st;
}

/* The rule tc<i>-perm-<mask>: the properties tc<i>-p<k> whose bits are in `mask` (of the required ones, `req`), each
 * once, in any order (Qwen3-Coder writes its required parameters so). `done` marks the rules written. */
static void perm_rules(llamac__dynbuf *g, size_t i, const size_t *req, size_t n, unsigned mask, bool *done) {
    if (done[mask]) {
        return;
    }
    done[mask] = true;
    llamac__dynbuf_addf(g, "tc%zu-perm-%u ::= ", i, mask);
    bool first = true;
    for (size_t b = 0; b < n; b++) {
        if (mask & (1u << b)) {
            unsigned rest = mask & ~(1u << b);
            llamac__dynbuf_addf(g, "%stc%zu-p%zu", first ? "" : " | ", i, req[b]);
            if (rest) {
                llamac__dynbuf_addf(g, " tc%zu-perm-%u", i, rest);
            }
            first = false;
        }
    }
    llamac__dynbuf_addc(g, '\n');
    for (size_t b = 0; b < n; b++) {
        if ((mask & (1u << b)) && (mask & ~(1u << b))) {
            perm_rules(g, i, req, n, mask & ~(1u << b), done);
        }
    }
}

/* tc<i>-p<k> | ... for the properties `ks`. */
static void opt_alternatives(llamac__dynbuf *g, size_t i, const size_t *ks, size_t n) {
    for (size_t k = 0; k < n; k++) {
        llamac__dynbuf_addf(g, "%stc%zu-p%zu", k ? " | " : "", i, ks[k]);
    }
}

/* The most required parameters Qwen3-Coder's rule takes in any order (as llama.cpp's chat layer); past it, in
 * order. */
#define MAX_PERMUTE 6

/* Splits the properties of `props` (at most MAX_TOOLS) by the schema's `required` list (NULL or not a list: none is
 * required), each kept in its order: the indexes of the required ones into req, of the others into opt. */
static void split_required(json_t *props, json_t *required, size_t *req, size_t *n_req, size_t *opt, size_t *n_opt) {
    const char *key;
    json_t *schema;
    size_t k = 0;
    *n_req = *n_opt = 0;
    json_object_foreach(props, key, schema) {
        bool is_req = false;
        size_t ri;
        json_t *rv;
        json_array_foreach(required, ri, rv) {
            is_req = is_req || (json_is_string(rv) && !strcmp(json_string_value(rv), key));
        }
        if (is_req) {
            req[(*n_req)++] = k;
        } else {
            opt[(*n_opt)++] = k;
        }
        k++;
    }
}

/* The rule tc-args-<i> for the formats that write arguments property by property, from the tool's `properties`:
 * Gemma 4 ({key:value,...}) and LFM2 (key=value, ...): the required ones in order, then the others, each optional
 * (any of them, in any order, when none is required); the XML-ish families, as llama.cpp's chat layer constrains
 * them: the required ones in order (Qwen3-Coder: in any order), then any of the others, any number of times (Kimi K3,
 * MiniCPM5: none required, any of them any number of times). Any key when the schema names no property, or one the
 * rules cannot spell. */
static llamac_status props_args_rule(llamac__dynbuf *g, llamac_tool_format f, size_t i, json_t *params,
                                     const char *tool_name) {
    bool gemma = f == LLAMAC_TOOL_FORMAT_GEMMA4, xml = xml_format(f);
    const char *sep = xml ? "" : gemma ? "\",\" " : "\", \" ";
    json_t *props = json_object_get(params, "properties");
    json_t *required = xml_any_order(f) ? NULL : json_object_get(params, "required");
    const char *key;
    json_t *schema;
    bool plain = json_is_object(props) && json_object_size(props) > 0 && json_object_size(props) <= MAX_TOOLS;
    json_object_foreach(props, key, schema) {
        plain = plain && plain_key(key);
    }
    if (!plain) {
        if (xml) {
            llamac__dynbuf_addf(g, "tc-args-%zu ::= ( ", i);
            xml_open(g, f, NULL, -1);
            llamac__dynbuf_addf(g, "[^<]{0,4096}");
            xml_close(g, f);
            llamac__dynbuf_addf(g, " )*\n");
        } else if (gemma) {
            llamac__dynbuf_addf(g, "tc-args-%zu ::= \"{\" ( g4-kv ( \",\" g4-kv )* )? \"}\"\n", i);
        } else {
            llamac__dynbuf_addf(g,
                                "tc-args-%zu ::= ( [a-zA-Z0-9_]{1,64} \"=\" py-val ( %s[a-zA-Z0-9_]{1,64} "
                                "\"=\" py-val )* )?\n",
                                i, sep);
        }
        return LLAMAC_OK;
    }
    /* which properties are required, and one rule per property */
    size_t req[MAX_TOOLS], opt[MAX_TOOLS], n_req, n_opt, k = 0;
    split_required(props, required, req, &n_req, opt, &n_opt);
    json_object_foreach(props, key, schema) {
        llamac_status st = prop_rule(g, f, i, k, key, schema, params, tool_name);
        if (st != LLAMAC_OK) {
            return st;
        }
        k++;
    }
    bool permute = f == LLAMAC_TOOL_FORMAT_QWEN3_CODER && n_req > 1 && n_req <= MAX_PERMUTE;
    if (permute) {
        bool done[1u << MAX_PERMUTE] = { false };
        perm_rules(g, i, req, n_req, (1u << n_req) - 1, done);
    }
    llamac__dynbuf_addf(g, "tc-args-%zu ::= %s", i, gemma ? "\"{\" " : "");
    if (permute) {
        llamac__dynbuf_addf(g, "tc%zu-perm-%u ", i, (1u << n_req) - 1);
    } else {
        for (k = 0; k < n_req; k++) {
            llamac__dynbuf_addf(g, "%stc%zu-p%zu ", k ? sep : "", i, req[k]);
        }
    }
    if (n_opt > 0 && !xml && n_req > 0) {
        /* each optional one at most once, in order */
        for (k = 0; k < n_opt; k++) {
            llamac__dynbuf_addf(g, "( %stc%zu-p%zu )? ", sep, i, opt[k]);
        }
    } else if (n_opt > 0) {
        /* any of them, any number of times (the notations: separated, none required) */
        llamac__dynbuf_addf(g, xml ? "( " : "( ( ");
        opt_alternatives(g, i, opt, n_opt);
        if (xml) {
            llamac__dynbuf_addf(g, " )* ");
        } else {
            llamac__dynbuf_addf(g, " ) ( %s( ", sep);
            opt_alternatives(g, i, opt, n_opt);
            llamac__dynbuf_addf(g, " ) )* )? ");
        }
    }
    llamac__dynbuf_addf(g, "%s\n", gemma ? "\"}\"" : "");
    return LLAMAC_OK;
}

/* The rule tc-args-<i> for MiniMax M3, from the tool's `properties`, as llama.cpp's MiniMax M3 grammar takes them: an
 * element M3_NS<key>value M3_NS</key> per property, the required ones first in order, then any of the others any
 * number of times; a value that may be a string raw (within its maxLength), a list or an object with properties as
 * elements (tc-m3-el: the schemas of their members are not followed), any other value JSON valid for its schema. Any
 * elements when the schema names no property, or one the rules cannot spell. */
static llamac_status m3_args_rule(llamac__dynbuf *g, size_t i, json_t *params, const char *tool_name) {
    json_t *props = json_object_get(params, "properties"), *required = json_object_get(params, "required");
    const char *key;
    json_t *schema;
    bool plain = json_is_object(props) && json_object_size(props) > 0 && json_object_size(props) <= MAX_TOOLS;
    json_object_foreach(props, key, schema) {
        plain = plain && plain_key(key);
    }
    if (!plain) {
        llamac__dynbuf_addf(g, "tc-args-%zu ::= ( \"\\n\"? tc-m3-el )*\n", i);
        return LLAMAC_OK;
    }
    size_t req[MAX_TOOLS], opt[MAX_TOOLS], n_req, n_opt, k = 0;
    split_required(props, required, req, &n_req, opt, &n_opt);
    json_object_foreach(props, key, schema) {
        unsigned t = tc_schema_types(params, schema);
        bool elements = !(t & ~(unsigned)(TC_T_OBJECT | TC_T_ARRAY)) &&
                        ((t & TC_T_ARRAY) || json_object_size(json_object_get(schema, "properties")) > 0);
        llamac__dynbuf_addf(g, "tc%zu-p%zu ::= \"\\n\"? \"" M3_NS "<%s>\" ", i, k, key);
        if (t & TC_T_STRING) {
            llamac__dynbuf_addf(g, "[^<]{0,%lld}", max_length(schema));
        } else if (elements) {
            llamac__dynbuf_addf(g, "( \"\\n\"? tc-m3-el )* \"\\n\"?");
        } else {
            llamac__dynbuf_addf(g, "tc%zu-v%zu", i, k);
        }
        llamac__dynbuf_addf(g, " \"" M3_NS "</%s>\"\n", key);
        if (!(t & TC_T_STRING) && !elements) {
            llamac_status st = value_rule(g, i, k, schema, params, tool_name);
            if (st != LLAMAC_OK) {
                return st;
            }
        }
        k++;
    }
    llamac__dynbuf_addf(g, "tc-args-%zu ::= ", i);
    for (k = 0; k < n_req; k++) {
        llamac__dynbuf_addf(g, "tc%zu-p%zu ", i, req[k]);
    }
    if (n_opt > 0) {
        llamac__dynbuf_addf(g, "( ");
        opt_alternatives(g, i, opt, n_opt);
        llamac__dynbuf_addf(g, " )*");
    }
    llamac__dynbuf_addc(g, '\n');
    return LLAMAC_OK;
}

/* How each format writes its list of calls, in GBNF: the opening before the first call, the separator between two
 * calls (NULL: the format writes one call only), the closing after the last; and the marker, the text that starts
 * the calls (NULL: none): the lazy grammar's trigger (triggers()), and what the text before a forced call cannot
 * contain (llamac_tool_grammar_after_thinking). A call is tc-call. The formats whose list takes more than this table
 * says are kept apart in root_rule. */
typedef struct tc_list_shape {
    const char *open, *sep, *close, *marker;
} tc_list_shape;

#define JSON_SEP "\",\" tc-ws"

static const tc_list_shape SHAPES[TC_FORMAT_LAST + 1] = {
    /* the list inside {"tool_calls": [...]}; root_rule adds the text response */
    [LLAMAC_TOOL_FORMAT_GENERIC] = { "\"{\" tc-ws \"\\\"tool_calls\\\"\" tc-ws \":\" tc-ws \"[\" tc-ws", JSON_SEP,
                                     "tc-ws \"]\" tc-ws \"}\"", NULL },
    [LLAMAC_TOOL_FORMAT_HERMES] = { "", "\"\\n\"", "", "<tool_call>" },
    [LLAMAC_TOOL_FORMAT_LLAMA3] = { "", NULL, "", NULL }, /* a bare call, its trigger anchored (triggers()) */
    [LLAMAC_TOOL_FORMAT_MISTRAL] = { "\"[TOOL_CALLS]\" \"[\" tc-ws", JSON_SEP, "\"]\"", "[TOOL_CALLS]" },
    [LLAMAC_TOOL_FORMAT_QWEN3_CODER] = { "", "\"\\n\"", "", "<tool_call>" },
    [LLAMAC_TOOL_FORMAT_DEEPSEEK_R1] = { "\"" DS_CALLS_BEGIN "\"", "\"\\n\"?", "\"" DS_CALLS_END "\"", DS_CALLS_BEGIN },
    [LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1] = { "\"" DS_CALLS_BEGIN "\"", "\"\\n\"?", "\"" DS_CALLS_END "\"",
                                           DS_CALLS_BEGIN },
    /* the prompt ends in ">>>"; its triggers are the tool names (triggers()) */
    [LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2] = { "\">>>\"?", "\">>>\"", "", NULL },
    [LLAMAC_TOOL_FORMAT_COMMAND_R7B] = { "\"<|START_ACTION|>[\" tc-ws", JSON_SEP, "tc-ws \"]<|END_ACTION|>\"",
                                         "<|START_ACTION|>" },
    /* root_rule puts an analysis channel before the open */
    [LLAMAC_TOOL_FORMAT_HARMONY] = { "", "\"<|start|>assistant\"", "", "<|channel|>commentary to=functions." },
    [LLAMAC_TOOL_FORMAT_MISTRAL_ARGS] = { "\"[TOOL_CALLS]\"", "\"[TOOL_CALLS]\"", "", "[TOOL_CALLS]" },
    [LLAMAC_TOOL_FORMAT_GLM] = { "", "\"\\n\"", "", "<tool_call>" },
    /* the section's opening is optional: the marker is what both openings start with (triggers() has both) */
    [LLAMAC_TOOL_FORMAT_KIMI_K2] = { "\"<|tool_calls_section_begin|>\"?", "", "\"<|tool_calls_section_end|>\"",
                                     "<|tool_call" },
    [LLAMAC_TOOL_FORMAT_MINIMAX_M2] = { "\"<minimax:tool_call>\\n\"", "\"\\n\"", "\"\\n\"? \"</minimax:tool_call>\"",
                                        "<minimax:tool_call>" },
    /* V3.2 names the block function_calls, V4 tool_calls (root_rule adds the second; triggers() has both) */
    [LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2] = { "\"" DSML "function_calls>\\n\"", "\"\\n\"",
                                           "\"\\n\" \"" DSML_CLOSE "function_calls>\"", DSML },
    [LLAMAC_TOOL_FORMAT_SEED_OSS] = { "", "\"\\n\"", "", "<seed:tool_call>" },
    [LLAMAC_TOOL_FORMAT_APRIEL] = { "\"<tool_calls>[\"", JSON_SEP, "\"]</tool_calls>\"", "<tool_calls>" },
    [LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1] = { "", "\"\\n\"", "", "<function=" },
    [LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2] = { "\"functools[\"", JSON_SEP, "\"]\"", "functools[" },
    [LLAMAC_TOOL_FORMAT_GEMMA4] = { "", "", "", "<|tool_call>" },
    [LLAMAC_TOOL_FORMAT_LFM2] = { "\"<|tool_call_start|>[\"", "\", \"", "\"]<|tool_call_end|>\"",
                                  "<|tool_call_start|>" },
    [LLAMAC_TOOL_FORMAT_APERTUS] = { "\"<|tools_prefix|>[\"", JSON_SEP, "\"]<|tools_suffix|>\"", "<|tools_prefix|>" },
    [LLAMAC_TOOL_FORMAT_KIMI_K3] = { "\"<|open|>tools<|sep|>\"", "", "\"<|close|>tools<|sep|>\"",
                                     "<|open|>tools<|sep|>" },
    [LLAMAC_TOOL_FORMAT_NEMOTRON_V2] = { "\"<TOOLCALL>[\"", JSON_SEP, "\"]</TOOLCALL>\"", "<TOOLCALL>" },
    [LLAMAC_TOOL_FORMAT_GIGACHAT3] = { "\"<|message_sep|>\\n\\nfunction call<|role_sep|>\\n\"", NULL, "",
                                       "<|message_sep|>\n\nfunction call<|role_sep|>\n" },
    [LLAMAC_TOOL_FORMAT_MINICPM5] = { "", "\"\\n\"", "", "<function name=\"" },
    [LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS] = { "\"Action:\\n```json\\n[\" tc-ws", JSON_SEP, "tc-ws \"]```\"",
                                            "Action:\n```json\n" },
    [LLAMAC_TOOL_FORMAT_MINIMAX_M3] = { "\"" M3_NS "<tool_call>\\n\"", "\"\\n\"", "\"\\n\"? \"" M3_NS "</tool_call>\"",
                                        "]<]minimax[>[<tool_call>" },
    [LLAMAC_TOOL_FORMAT_GIGACHAT3_1] = { "\"<|function_call|>\"", NULL, "", "<|function_call|>" },
    [LLAMAC_TOOL_FORMAT_HY3] = { "\"<tool_calls:opensource>\\n\"", "\"\\n\"", "\"\\n\"? \"</tool_calls:opensource>\"",
                                 "<tool_calls:opensource>" },
    /* (as llama.cpp's, which finds no thinking for Solar Open: no <|think|> message before the calls) */
    [LLAMAC_TOOL_FORMAT_SOLAR_OPEN] = { "\"<|tool_calls|>\"", "", "\"<|calls|>\"", "<|tool_calls|>" },
    /* each call a message to its tool; root_rule puts a reasoning message before the first, triggers() makes the
     * trigger of the tools' names */
    [LLAMAC_TOOL_FORMAT_MUSE] = { "", "\"<|eom|><|start|>assistant\"", "", NULL },
};

/* A list of calls as `shape` writes it: one call, or any number when `parallel` and the format writes several. */
static void calls_expr(llamac__dynbuf *g, const tc_list_shape *shape, bool parallel) {
    llamac__dynbuf_addf(g, "%s%stc-call", shape->open, shape->open[0] ? " " : "");
    if (parallel && shape->sep) {
        llamac__dynbuf_addf(g, " ( %s%stc-call )*", shape->sep, shape->sep[0] ? " " : "");
    }
    llamac__dynbuf_addf(g, "%s%s", shape->close[0] ? " " : "", shape->close);
}

/* The root: the calls as the format lists them (SHAPES), and what a few formats take besides. */
static void root_rule(llamac__dynbuf *g, llamac_tool_format format, bool parallel, bool allow_response) {
    const tc_list_shape *shape = &SHAPES[format];
    switch (format) {
    case LLAMAC_TOOL_FORMAT_GENERIC:
        llamac__dynbuf_addf(g, "tc-calls ::= ");
        calls_expr(g, shape, parallel);
        llamac__dynbuf_addf(g, "\nroot ::= tc-calls%s\n",
                            allow_response ? " | \"{\" tc-ws \"\\\"response\\\"\" tc-ws \":\" tc-ws tc-str tc-ws \"}\""
                                           : "");
        return;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2: {
        static const tc_list_shape v4 = { "\"" DSML "tool_calls>\\n\"", "\"\\n\"",
                                          "\"\\n\" \"" DSML_CLOSE "tool_calls>\"", NULL };
        llamac__dynbuf_addf(g, "root ::= ");
        calls_expr(g, shape, parallel);
        llamac__dynbuf_addf(g, " | ");
        calls_expr(g, &v4, parallel);
        llamac__dynbuf_addc(g, '\n');
        return;
    }
    case LLAMAC_TOOL_FORMAT_HARMONY:
        /* the analysis channel may come first: any text up to its end marker */
        llamac__dynbuf_addf(g, "root ::= ( \"<|channel|>analysis<|message|>\" tc-analysis-0 "
                               "\"<|end|><|start|>assistant\" )? ");
        calls_expr(g, shape, parallel);
        llamac__dynbuf_addc(g, '\n');
        (void)tc_gbnf_excluding(g, "tc-analysis", "<|end|>"); /* a valid marker: never fails */
        return;
    case LLAMAC_TOOL_FORMAT_MUSE:
        /* the reasoning message to "self" may come first: any text up to its end marker */
        llamac__dynbuf_addf(g, "root ::= ( \" to=self<|message|>\" tc-self-0 \"<|eom|><|start|>assistant\" )? ");
        calls_expr(g, shape, parallel);
        llamac__dynbuf_addc(g, '\n');
        (void)tc_gbnf_excluding(g, "tc-self", "<|eom|>"); /* a valid marker: never fails */
        return;
    default:
        llamac__dynbuf_addf(g, "root ::= ");
        calls_expr(g, shape, parallel);
        llamac__dynbuf_addc(g, '\n');
        return;
    }
}

/* Regex for the names, '.' escaped (the only special character a valid name can hold). */
static void names_regex(llamac__dynbuf *g, const char *const *names, size_t n) {
    llamac__dynbuf_addf(g, "(?:");
    for (size_t i = 0; i < n; i++) {
        llamac__dynbuf_addf(g, "%s", i ? "|" : "");
        for (const char *p = names[i]; *p; p++) {
            llamac__dynbuf_add(g, *p == '.' ? "\\." : p, *p == '.' ? 2 : 1);
        }
    }
    llamac__dynbuf_addf(g, ")");
}

/* Appends `s` as a regex that matches it (ECMAScript syntax, as llama.cpp's std::regex reads it). */
static void regex_literal(llamac__dynbuf *pat, const char *s) {
    for (; *s; s++) {
        if (*s == '\n') {
            llamac__dynbuf_adds(pat, "\\n");
            continue;
        }
        if (strchr("\\^$.|?*+()[]{}", *s)) {
            llamac__dynbuf_addc(pat, '\\');
        }
        llamac__dynbuf_addc(pat, *s);
    }
}

/* Trigger patterns for a lazy grammar: the whole output matched, the grammar applying from group 1: the format's
 * marker. The patterns go one after the other, a NUL between two; returns how many. */
static size_t triggers(llamac__dynbuf *pat, llamac_tool_format format, const char *const *names, size_t n) {
    switch (format) {
    case LLAMAC_TOOL_FORMAT_LLAMA3: /* a bare call: only at the start */
        llamac__dynbuf_addf(pat, "^\\s*(\\{\\s*\"name\")[\\s\\S]*$");
        return 1;
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2: /* a tool's name: at the start (after the prompt's ">>>"), or after >>> */
        llamac__dynbuf_addf(pat, "^(");
        names_regex(pat, names, n);
        llamac__dynbuf_addf(pat, "\\n)[\\s\\S]*$");
        llamac__dynbuf_addc(pat, '\0');
        llamac__dynbuf_addf(pat, "^[\\s\\S]*?>>>(");
        names_regex(pat, names, n);
        llamac__dynbuf_addf(pat, "\\n)[\\s\\S]*$");
        return 2;
    case LLAMAC_TOOL_FORMAT_KIMI_K2: /* the section, or a call without it */
        llamac__dynbuf_addf(pat, "^[\\s\\S]*?(<\\|tool_calls_section_begin\\|>|<\\|tool_call_begin\\|>)[\\s\\S]*$");
        return 1;
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2: /* either block */
        llamac__dynbuf_addf(pat, "^[\\s\\S]*?(" DSML "(?:function|tool)_calls>)[\\s\\S]*$");
        return 1;
    case LLAMAC_TOOL_FORMAT_MUSE: /* a message to one of the tools */
        llamac__dynbuf_addf(pat, "^[\\s\\S]*?( to=");
        names_regex(pat, names, n);
        llamac__dynbuf_addf(pat, "<\\|message\\|>)[\\s\\S]*$");
        return 1;
    default:
        if (!SHAPES[format].marker) {
            return 0;
        }
        llamac__dynbuf_addf(pat, "^[\\s\\S]*?(");
        regex_literal(pat, SHAPES[format].marker);
        llamac__dynbuf_addf(pat, ")[\\s\\S]*$");
        return 1;
    }
}

/* Decodes UTF-8 `s` into at most `cap` code points; the count, or -1 for invalid or too long text. */
static long utf8_cps(const char *s, uint32_t *cps, size_t cap) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        uint32_t c = *p;
        int more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (more < 0 || n == cap) {
            return -1;
        }
        c &= more ? 0x3Fu >> more : 0x7Fu;
        for (p++; more > 0; more--, p++) {
            if ((*p & 0xC0) != 0x80) {
                return -1;
            }
            c = c << 6 | (*p & 0x3Fu);
        }
        cps[n++] = c;
    }
    return (long)n;
}

/* Appends code point `c` as a GBNF escape (valid in a literal and in a character class). */
static void gbnf_cp(llamac__dynbuf *g, uint32_t c) {
    if (c < 0x100) {
        llamac__dynbuf_addf(g, "\\x%02X", (unsigned)c);
    } else if (c < 0x10000) {
        llamac__dynbuf_addf(g, "\\u%04X", (unsigned)c);
    } else {
        llamac__dynbuf_addf(g, "\\U%08X", (unsigned)c);
    }
}

/* The text seen is a marker's first k code points followed by c: how many of its first code points it ends with
 * now (n when the marker is complete). */
static size_t next_state(const uint32_t *m, size_t k, uint32_t c) {
    for (size_t j = k + 1; j > 0; j--) { /* the longest prefix of m that ends m[0..k) c */
        if (m[j - 1] != c) {
            continue;
        }
        size_t d = k + 1 - j; /* m[0..j-1) must equal m[d..k) */
        if (!memcmp(m, m + d, (j - 1) * sizeof *m)) {
            return j;
        }
    }
    return 0;
}

/* A matcher of the marker's prefixes: state k has just read its first k code points; a code point that would
 * complete the marker has no alternative, any other moves on, and the text may end in any state. The rules are
 * right-recursive, so llama.cpp's grammar stacks stay flat however long the text. */
bool tc_gbnf_excluding(llamac__dynbuf *g, const char *prefix, const char *marker) {
    uint32_t m[TC_EXCLUDE_MAX], set[TC_EXCLUDE_MAX];
    long len = utf8_cps(marker, m, TC_EXCLUDE_MAX);
    if (len < 0) {
        return false;
    }
    size_t n = (size_t)len, ns = 0;
    for (size_t i = 0; i < n; i++) { /* the marker's distinct code points */
        size_t k = 0;
        while (k < ns && set[k] != m[i]) {
            k++;
        }
        if (k == ns) {
            set[ns++] = m[i];
        }
    }
    if (n == 0) {
        llamac__dynbuf_addf(g, "%s-0 ::= [^\\x00]*\n", prefix); /* nothing to avoid (a NUL is never sampled) */
        return true;
    }
    for (size_t k = 0; k < n; k++) {
        llamac__dynbuf_addf(g, "%s-%zu ::= ( [^", prefix, k);
        for (size_t i = 0; i < ns; i++) {
            gbnf_cp(g, set[i]);
        }
        llamac__dynbuf_addf(g, "] %s-0", prefix);
        for (size_t i = 0; i < ns; i++) {
            size_t to = next_state(m, k, set[i]);
            if (to < n) {
                llamac__dynbuf_addf(g, " | \"");
                gbnf_cp(g, set[i]);
                llamac__dynbuf_addf(g, "\" %s-%zu", prefix, to);
            }
        }
        llamac__dynbuf_addf(g, " )?\n");
    }
    return true;
}

llamac_status llamac_tool_grammar_after_thinking(llamac_tool_grammar *grammar, const char *think_end) {
    if (!grammar || !think_end) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_grammar_after_thinking: %s is NULL",
                            grammar ? "think_end" : "grammar");
    }
    if (!grammar->grammar || grammar->lazy || !think_end[0]) {
        return llamac__ok(); /* nothing forced, or no thinking block to close */
    }
    const char *root = strstr(grammar->grammar, "root ::= ");
    if (!root || (root != grammar->grammar && root[-1] != '\n')) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the tool grammar has no root rule");
    }
    /* the marker's core: white space around it is reasoning before it, or the white space after it */
    char core[4 * TC_EXCLUDE_MAX + 1];
    size_t a = strspn(think_end, " \t\r\n"), b = strlen(think_end);
    while (b > a && strchr(" \t\r\n", think_end[b - 1])) {
        b--;
    }
    if (b == a) {
        return llamac__ok();
    }
    uint32_t m[TC_EXCLUDE_MAX];
    long n = -1;
    if (b - a < sizeof core) {
        memcpy(core, think_end + a, b - a);
        core[b - a] = '\0';
        n = utf8_cps(core, m, TC_EXCLUDE_MAX);
    }
    llamac__dynbuf g = LLAMAC__DYNBUF(TC_GRAMMAR_MAX);
    llamac__dynbuf_addf(&g, "root ::= tc-think-0 \"");
    for (long i = 0; i < n; i++) {
        gbnf_cp(&g, m[i]);
    }
    /* then text, as llama.cpp's chat layer allows it before forced calls: any that does not start them (the format's
     * marker); where the calls start with no marker, white space as llama.cpp's grammars space out (bounded, so
     * that a model cannot write only that) */
    const char *calls = ((const tc_grammar *)grammar)->marker;
    if (calls) {
        llamac__dynbuf_addf(&g, "\" tc-lead-0 tc-answer\n");
    } else {
        llamac__dynbuf_addf(&g, "\" ( \" \" | \"\\n\"{1,2} [ \\t]{0,20} )? tc-answer\n");
    }
    if (calls && !tc_gbnf_excluding(&g, "tc-lead", calls)) {
        llamac__dynbuf_free(&g);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the tool grammar's call marker is too long");
    }
    if (n < 0 || !tc_gbnf_excluding(&g, "tc-think", core)) {
        llamac__dynbuf_free(&g);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the thinking end marker is not UTF-8 of at most %d characters",
                            TC_EXCLUDE_MAX);
    }
    /* the calls as they were, their root renamed */
    llamac__dynbuf_add(&g, grammar->grammar, (size_t)(root - grammar->grammar));
    llamac__dynbuf_addf(&g, "tc-answer ::= %s", root + strlen("root ::= "));
    char *out = llamac__dynbuf_error(&g) ? NULL : llamac__dynbuf_take(&g, NULL);
    if (!out) {
        llamac_status st = llamac__dynbuf_error(&g) == LLAMAC__DYNBUF_TOO_BIG
                               ? llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                              "the grammar for these tools exceeds %zu bytes", TC_GRAMMAR_MAX)
                               : llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory building a tool grammar");
        llamac__dynbuf_free(&g);
        return st;
    }
    free(grammar->grammar);
    grammar->grammar = out;
    return llamac__ok();
}

llamac_status llamac_tool_grammar_build(llamac_tool_format format, const char *tools_json, llamac_tool_choice choice,
                                        const char *name, bool parallel, llamac_tool_grammar **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_grammar_build: out is NULL");
    }
    *out = NULL;
    if ((unsigned)format > TC_FORMAT_LAST) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tool format %d", (int)format);
    }
    if ((unsigned)choice > LLAMAC_TOOL_CHOICE_NAMED) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tool_choice %d", (int)choice);
    }
    if (choice == LLAMAC_TOOL_CHOICE_NAMED && (!name || !name[0])) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tool_choice names no function");
    }
    json_error_t err;
    json_t *tools = tools_json ? json_loads(tools_json, 0, &err) : json_array();
    llamac__dynbuf g = LLAMAC__DYNBUF(TC_GRAMMAR_MAX), pat = LLAMAC__DYNBUF(TC_GRAMMAR_MAX);
    const char *names[MAX_TOOLS];
    json_t *schemas[MAX_TOOLS];
    size_t n = 0;
    llamac_status st = LLAMAC_OK;
    llamac_tool_grammar *res = NULL;
    if (!json_is_array(tools)) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tools is not a JSON array%s%s", tools ? "" : ": ",
                          tools ? "" : err.text);
        goto fail;
    }
    if (json_array_size(tools) > MAX_TOOLS) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu tools offered; at most %d are supported",
                          json_array_size(tools), MAX_TOOLS);
        goto fail;
    }
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        json_t *type = json_object_get(tool, "type");
        const char *nm = json_string_value(json_object_get(fn, "name"));
        if (!json_is_object(fn) || (type && !(json_is_string(type) && !strcmp(json_string_value(type), "function")))) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tools[%zu] is not {\"type\":\"function\",\"function\":{..}}",
                              i);
            goto fail;
        }
        if (!nm || !valid_name(nm)) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                              "tools[%zu].function.name must be 1-64 of a-z, A-Z, 0-9, '_', '-', '.', ':'", i);
            goto fail;
        }
        json_t *params = json_object_get(fn, "parameters");
        if (params && !json_is_object(params)) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tools[%zu].function.parameters is not a JSON object", i);
            goto fail;
        }
        if (choice != LLAMAC_TOOL_CHOICE_NAMED || !strcmp(nm, name)) {
            schemas[n] = params;
            names[n++] = nm;
        }
    }
    if (choice == LLAMAC_TOOL_CHOICE_NAMED && n == 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tool_choice names \"%s\", which is not among the tools", name);
        goto fail;
    }
    if (n == 0 && choice == LLAMAC_TOOL_CHOICE_REQUIRED) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tool_choice \"required\" with no tools");
        goto fail;
    }
    tc_grammar *made = llamac__calloc(1, sizeof *made);
    if (!made) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    res = &made->pub;
    if (choice == LLAMAC_TOOL_CHOICE_NONE || n == 0) {
        json_decref(tools);
        *out = res;
        return llamac__ok();
    }
    bool lazy = choice == LLAMAC_TOOL_CHOICE_AUTO && format != LLAMAC_TOOL_FORMAT_GENERIC;
    made->marker = lazy ? NULL : SHAPES[format].marker;
    root_rule(&g, format, parallel, choice == LLAMAC_TOOL_CHOICE_AUTO);
    llamac__dynbuf_addf(&g, "tc-call ::= ");
    for (i = 0; i < n; i++) {
        llamac__dynbuf_addf(&g, "%stc-call-%zu", i ? " | " : "", i);
    }
    llamac__dynbuf_addf(&g, "\n");
    for (i = 0; i < n; i++) {
        call_rule(&g, format, i, names[i]);
        /* Gemma 4 and LFM2 write arguments in notations of their own, Qwen3-Coder, Seed-OSS, GLM, MiniMax, DSML, Kimi
         * K3 and MiniCPM5 as XML elements: their rules are built property by property; MiniMax M3 names its elements
         * after the parameters; the others write a JSON object */
        if (format == LLAMAC_TOOL_FORMAT_MINIMAX_M3) {
            st = m3_args_rule(&g, i, schemas[i], names[i]);
        } else if (xml_format(format) || format == LLAMAC_TOOL_FORMAT_GEMMA4 || format == LLAMAC_TOOL_FORMAT_LFM2) {
            st = props_args_rule(&g, format, i, schemas[i], names[i]);
        } else {
            st = args_rule(&g, i, schemas[i], names[i]);
        }
        if (st != LLAMAC_OK) {
            goto fail;
        }
    }
    llamac__dynbuf_adds(&g, JSON_RULES);
    if (format == LLAMAC_TOOL_FORMAT_GEMMA4 || format == LLAMAC_TOOL_FORMAT_LFM2) {
        llamac__dynbuf_adds(&g, NATIVE_RULES);
    }
    if (format == LLAMAC_TOOL_FORMAT_MINIMAX_M3) {
        /* an element holds text without the namespace token, or elements (an object's members, a list's items) */
        llamac__dynbuf_adds(&g, "tc-m3-el ::= \"" M3_NS "<\" [a-zA-Z0-9_.-]{1,64} \">\" ( ( \"\\n\"? tc-m3-el )+ "
                                "\"\\n\"? | tc-m3-text-0 ) \"" M3_NS "</\" [a-zA-Z0-9_.-]{1,64} \">\"\n");
        (void)tc_gbnf_excluding(&g, "tc-m3-text", M3_NS); /* a valid marker: never fails */
    }
    size_t np = lazy ? triggers(&pat, format, names, n) : 0;
    if (llamac__dynbuf_error(&g) || llamac__dynbuf_error(&pat)) {
        st = llamac__dynbuf_error(&g) == LLAMAC__DYNBUF_TOO_BIG
                 ? llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the grammar for these tools exceeds %zu bytes",
                                TC_GRAMMAR_MAX)
                 : llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory building a tool grammar");
        goto fail;
    }
    res->grammar = llamac__dynbuf_take(&g, NULL);
    if (!res->grammar) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory building a tool grammar");
        goto fail;
    }
    res->lazy = lazy;
    if (np) {
        res->trigger_patterns = llamac__calloc(np, sizeof *res->trigger_patterns);
        if (!res->trigger_patterns) {
            st = LLAMAC_E_NO_MEMORY;
            goto fail;
        }
        const char *p = llamac__dynbuf_ptr(&pat);
        for (size_t k = 0; k < np; k++) {
            res->trigger_patterns[k] = llamac__strndup(p, strlen(p));
            if (!res->trigger_patterns[k]) {
                st = LLAMAC_E_NO_MEMORY;
                goto fail;
            }
            res->n_trigger_patterns = k + 1;
            p += strlen(p) + 1;
        }
    }
    llamac__dynbuf_free(&pat);
    json_decref(tools);
    *out = res;
    return llamac__ok();
fail:
    llamac_tool_grammar_free(res);
    llamac__dynbuf_free(&g);
    llamac__dynbuf_free(&pat);
    json_decref(tools);
    return st;
}
