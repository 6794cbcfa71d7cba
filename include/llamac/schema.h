/*
 * llamac/schema.h - constraints and tool calls: JSON Schema to GBNF grammars, the tool-call formats of model families,
 * their parsers (complete and streamed) and the grammars that force a valid call.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_SCHEMA_H
#define LLAMAC_SCHEMA_H

#include "chat.h"
#include "generate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * JSON Schema to grammar
 * ------------------------------------------------------------------------------------------------------------- */
/* JSON Schema -> GBNF. A schema (JSON text) becomes a GBNF grammar whose sentences are JSON texts valid under the
 * schema, for llamac_sampler_add_grammar. Enforced: type (one or a list), properties, required,
 * additionalProperties (boolean or schema), items, prefixItems (and draft-4 items arrays with additionalItems),
 * minItems/maxItems, enum, const, anyOf/oneOf/allOf, $ref to local JSON pointers ("#", "#/$defs/x",
 * "#/definitions/x", ...; recursive schemas become recursive rules), minLength/maxLength, pattern, format (date,
 * time, date-time, uuid), integer minimum/maximum/exclusiveMinimum/exclusiveMaximum.
 * Patterns are ECMA-262 as JSON Schema says (unanchored unless ^ and $ are given): literals, escapes (\d \w \s
 * \D \W \S \t \n \xHH \uHHHH ...), ".", classes with ranges and negation, groups ((...), (?:...), named),
 * alternation and the quantifiers ? * + {m} {m,} {m,n} (lazy forms too).
 * A grammar never rejects a valid instance, except for the choices a grammar must make: properties come in the
 * order of "properties", then additional ones; whitespace between tokens is llama.cpp's (none, one space, or one or
 * two newlines followed by up to 20 spaces/tabs); strings under pattern/format/enum/const use JSON's shortest
 * escapes; integers are written without fraction or exponent. A schema without "type" allows every type, each
 * constrained by the keywords that apply to it.
 * Relaxed (the grammar accepts a superset): oneOf is anyOf; allOf is merged keyword by keyword; number bounds,
 * multipleOf, uniqueItems, min/maxProperties, not, if/then/else, dependent*, contains, propertyNames and unknown
 * formats are ignored; patternProperties allows any additional key; lengths and counts above 256 are unbounded.
 * Refused with LLAMAC_E_SCHEMA, the message naming the keyword and its JSON pointer (e.g. "/properties/a/pattern"):
 * remote and anchor $refs, $dynamicRef, a $ref cycle without an object or array in between, patterns outside the
 * subset (lookaround, backreferences, \b, inner anchors, repeating what can match the empty string), \u0000 in
 * strings, and schemas that no value satisfies (false, minItems > maxItems, disjoint allOf types, ...). */

/* Options of the converter. */
typedef struct llamac_json_schema_params {
    const char *root_rule;   /* name of the rule matching an instance (borrowed; NULL: "root"); letters, digits and
                                '-' only. It is NOT prefixed with rule_prefix. */
    const char *rule_prefix; /* prepended to every other rule name (borrowed; NULL or "": none); letters, digits,
                                '-'. Use distinct prefixes to embed several schemas in one larger grammar. */
    bool dotall;             /* pattern "." also matches newlines (default false, like llama.cpp) */
    bool relax_patterns;     /* a pattern outside the supported regex subset accepts any string instead of failing
                                with LLAMAC_E_SCHEMA (default false; llama.cpp relaxes) */
} llamac_json_schema_params;

/* Default converter options: root rule "root", no prefix, dotall and relax_patterns false. Thread-safe. */
LLAMAC_API llamac_json_schema_params llamac_json_schema_params_default(void);

/* Converts the JSON Schema `schema` (`len` bytes of UTF-8 JSON, borrowed) into GBNF rules. *out_gbnf is a
 * NUL-terminated grammar, caller frees with llamac_free; it defines params->root_rule (default "root") and rules
 * named with params->rule_prefix, one per line, so it can be used alone or appended to a larger grammar that
 * refers to the root rule. The root rule matches the value alone, without whitespace before or after it.
 * `params` NULL means defaults.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL schema/out, a bad rule name), LLAMAC_E_UTF8, LLAMAC_E_SCHEMA (not JSON,
 * not an object/boolean, an unsupported or contradictory keyword; the message names it with its JSON pointer; a
 * schema that no instance can satisfy, e.g. false, minItems > maxItems, is also LLAMAC_E_SCHEMA),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_json_schema_to_grammar(const char *schema, size_t len,
                                                       const llamac_json_schema_params *params, char **out_gbnf);

/* A grammar for any JSON object (llamac run --json; response_format json_object), in the same form as
 * llamac_json_schema_to_grammar's output. *out_gbnf: caller frees with llamac_free. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_json_grammar(const llamac_json_schema_params *params, char **out_gbnf);

/* Tool calls.
 *
 * Models write tool calls in a format of their family's own (Hermes `<tool_call>{...}</tool_call>`, Mistral
 * `[TOOL_CALLS][...]`, ...). The format is detected from the chat template's source; the parser turns output into
 * an OpenAI-shaped message (content, reasoning_content, tool_calls) and never fails on what a model writes: text that
 * is not a well-formed call stays content. The stream parser does the same piece by piece, as OpenAI deltas, and
 * the concatenated deltas always equal the complete parse. A grammar forces a valid call for the offered tools. */

/* Tool-call formats. Explicit numbers; append-only. */
typedef enum llamac_tool_format {
    LLAMAC_TOOL_FORMAT_GENERIC = 0,     /* {"tool_calls":[{"name":..,"arguments":..}]} / {"response":..} */
    LLAMAC_TOOL_FORMAT_HERMES = 1,      /* Hermes 2/3, Qwen 2.5/3: <tool_call>{"name","arguments"}</tool_call> */
    LLAMAC_TOOL_FORMAT_LLAMA3 = 2,      /* Llama 3.x: {"name":..,"parameters":..} or <|python_tag|> */
    LLAMAC_TOOL_FORMAT_MISTRAL = 3,     /* Mistral Nemo: [TOOL_CALLS][{"name","arguments","id"}] */
    LLAMAC_TOOL_FORMAT_QWEN3_CODER = 4, /* <tool_call><function=f><parameter=p>v</parameter></function>... */
    LLAMAC_TOOL_FORMAT_DEEPSEEK_R1 = 5, /* <｜tool▁call▁begin｜>function<｜tool▁sep｜>name\n```json\n{}\n``` */
    LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1 = 6, /* <｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜> */
    LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2 = 7, /* >>>name\n{...} (the prompt ends in ">>>"), >>>all\ntext */
    LLAMAC_TOOL_FORMAT_COMMAND_R7B = 8,      /* <|START_ACTION|>[{"tool_name","parameters"}]<|END_ACTION|> */
    LLAMAC_TOOL_FORMAT_HARMONY = 9,          /* gpt-oss: <|channel|>commentary to=functions.f<|message|>{}<|call|> */
    LLAMAC_TOOL_FORMAT_MISTRAL_ARGS = 10,    /* Mistral Small 3.2, Devstral, Ministral: [TOOL_CALLS]name[ARGS]{..} */
    LLAMAC_TOOL_FORMAT_GLM =
        11, /* GLM 4.5-4.7, Ling 3, Laguna, Spark: <tool_call>f<arg_key>k</arg_key><arg_value>v.. */
    LLAMAC_TOOL_FORMAT_KIMI_K2 =
        12, /* <|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{..}<|tool_call_end|> */
    LLAMAC_TOOL_FORMAT_MINIMAX_M2 = 13, /* <minimax:tool_call><invoke name="f"><parameter name="k">v</parameter>.. */
    LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2 = 14, /* V3.2, V4 (DSML): <｜DSML｜invoke name="f"><｜DSML｜parameter name="k".. */
    LLAMAC_TOOL_FORMAT_SEED_OSS = 15,      /* <seed:tool_call><function=f><parameter=k>v</parameter>.. */
    LLAMAC_TOOL_FORMAT_APRIEL = 16,        /* Apriel 1.5/1.6: <tool_calls>[{"name","arguments"}]</tool_calls> */
    LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1 = 17, /* <function=f>{...}</function> */
    LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2 = 18,  /* text functools[{"name","arguments"}, ...] */
    LLAMAC_TOOL_FORMAT_GEMMA4 = 19,           /* Gemma 4: <|tool_call>call:f{k:<|"|>v<|"|>,n:2}<tool_call|> */
    LLAMAC_TOOL_FORMAT_LFM2 = 20,             /* LFM2 / LFM2.5: <|tool_call_start|>[f(k="v", n=2)]<|tool_call_end|> */
    LLAMAC_TOOL_FORMAT_APERTUS = 21,          /* Apertus: <|tools_prefix|>[{"f": {...}}]<|tools_suffix|> */
    LLAMAC_TOOL_FORMAT_KIMI_K3 = 22, /* <|open|>tools<|sep|><|open|>call tool="f" index="1"<|sep|><|open|>argument.. */
    LLAMAC_TOOL_FORMAT_NEMOTRON_V2 = 23,    /* Nemotron Nano v2: <TOOLCALL>[{"name","arguments"}]</TOOLCALL> */
    LLAMAC_TOOL_FORMAT_GIGACHAT3 = 24,      /* GigaChat 3: <|message_sep|>\n\nfunction call<|role_sep|>\n{"name",..} */
    LLAMAC_TOOL_FORMAT_MINICPM5 = 25,       /* MiniCPM5: <function name="f"><param name="k">v</param></function> */
    LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS = 26, /* Command R+: Action:\n```json\n[{"tool_name","parameters"}]``` */
    LLAMAC_TOOL_FORMAT_MINIMAX_M3 = 27, /* ]<]minimax[>[<tool_call> ]<]minimax[>[<invoke name="f">]<]minimax[>[<k>v.. */
    LLAMAC_TOOL_FORMAT_GIGACHAT3_1 = 28, /* GigaChat 3.1: text<|function_call|>{"name","arguments"}: one call */
    LLAMAC_TOOL_FORMAT_HY3 = 29,         /* Hy3: <tool_calls:opensource>\n<tool_call:opensource>f<tool_sep:opensource>\n
                                            <arg_key:opensource>k</arg_key:opensource>\n<arg_value:opensource>v.. */
    LLAMAC_TOOL_FORMAT_SOLAR_OPEN = 30,  /* Solar Open: <|tool_calls|><|tool_call:begin|>id<|tool_call:name|>f
                                            <|tool_call:args|>{..}<|tool_call:end|><|calls|> */
    LLAMAC_TOOL_FORMAT_MUSE = 31         /* Muse Glimmer: to=f<|message|><atem:function_calls>\n<atem:invoke name="f">\n
                                            <atem:parameter name="k">v</atem:parameter>.. */
} llamac_tool_format;

/* Name of a format ("hermes", "llama3", ...); "unknown" for other values. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_tool_format_name(llamac_tool_format format);

/* The format a model with this chat template writes tool calls in, found from markers in the template's source
 * (NUL-terminated, borrowed; NULL or a template without tool support gives LLAMAC_TOOL_FORMAT_GENERIC).
 * Never fails. Thread-safe. */
LLAMAC_API llamac_tool_format llamac_tool_format_detect(const char *template_source);

/* What happens to a model's thinking (<think>...</think>, Harmony's analysis channel, Command R's thinking). */
typedef enum llamac_reasoning_format {
    LLAMAC_REASONING_NONE = 0,    /* left in content, markers included */
    LLAMAC_REASONING_DEEPSEEK = 1 /* moved to reasoning_content, markers removed (llama.cpp's "deepseek") */
} llamac_reasoning_format;

/* How llamac_tool_parse and the stream read output. */
typedef struct llamac_tool_parse_params {
    llamac_tool_format format;         /* default GENERIC */
    llamac_reasoning_format reasoning; /* default DEEPSEEK */
    bool reasoning_open;     /* the prompt ended inside the thinking block (a template that opens <think> for the
                                model): output is reasoning until </think> (command-r7b: Cohere2 MoE's
                                <|END_THINKING|>, <|START_TEXT|> or <|START_ACTION|>). Default false */
    bool parse_tool_calls;   /* false: only <think> reasoning is read, the rest is content (tool_choice "none";
                                keep true for harmony and command-r7b, whose replies are all markers). Default true */
    const char *think_start; /* the markers of the thinking block at the start of a reply (NUL-terminated, borrowed
                                for the parse or the stream's life): NULL (default) the format's own (<think> and */
    const char *think_end;   /* </think>, Mistral's [THINK] and [/THINK]); "" (either) the template has no thinking
                                block, so none is read. Harmony and Command R7B read their own markers in any case.
                                llamac_template_parse_params sets them from the template. */
    const char *lead;        /* what the end of the prompt already wrote of the reply, as llama-server counts it: with
                                reasoning_open the text after the thinking marker (e.g. "\n"), which begins
                                reasoning_content; else the text after a thinking block the prompt closed, which begins
                                content (NUL-terminated, borrowed like the markers); NULL (default) none */
    bool think_ends_at_call; /* a call marker ends the thinking block too, as </think> does (llama.cpp's Qwen3.5 /
                                Nemotron 3 / StepFun and Ling 3 readers; the qwen3-coder and glm formats' <tool_call>,
                                glm's only with reasoning_open): reasoning runs up to the first of them, and the
                                marker begins the rest (a call, or without tools content). llamac_template_parse_params
                                sets it. Default false */
    const char *tools;       /* the offered tools (an OpenAI "tools" JSON array, NUL-terminated, borrowed like the
                                markers): the XML-ish formats (qwen3-coder, seed-oss, glm, minimax-m2) type a
                                parameter's value by its property's schema as llama.cpp does - a parameter that may be
                                a string (qwen3-coder: that can only be one) stays text ("123" stays "123"), any other
                                is JSON when it reads as JSON. NULL (default), text that is not such an array, or a
                                tool or property not in it: a value is JSON when it reads as JSON, else text */
} llamac_tool_parse_params;

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_tool_parse_params llamac_tool_parse_params_default(void);

/* The parameters llama-server reads a reply with, for a reply to `prompt` (NUL-terminated, borrowed: what
 * llamac_template_apply rendered with `tmpl`), into *out: the template's format (llamac_tool_format_detect of its
 * source); its thinking markers as llama.cpp's chat layer finds them (think_start and think_end, borrowed from `tmpl`
 * and valid while it lives; "" where the template has no thinking section, so that a <think> in the reply stays
 * content); `reasoning` as given, but LLAMAC_REASONING_NONE when the prompt already closed the thinking block
 * (enable_thinking false: "...<think>\n\n</think>\n\n"), so that the whole reply is content; reasoning_open when the
 * prompt ends inside the thinking block; think_ends_at_call for the templates whose calls end the thinking block
 * in llama.cpp's reader (Qwen3.5, Nemotron 3, StepFun 3.5, Ling 3); parse_tool_calls when `tools` (tools offered and
 * tool_choice not "none") and always for harmony and command-r7b, whose replies are all markers. out->tools is left
 * NULL: set it to the offered tools to type the XML-ish formats' values as llama-server does. Errors:
 * LLAMAC_E_INVALID_ARGUMENT (NULLs, an unknown reasoning value), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_template_parse_params(const llamac_template *tmpl, const char *prompt, bool tools,
                                                      llamac_reasoning_format reasoning, llamac_tool_parse_params *out);

/* The tags of a reasoning budget for a reply to `prompt` (NUL-terminated, borrowed: what llamac_template_apply
 * rendered with `tmpl`), as llama-server takes them from its chat layer: into *budget the template's thinking start
 * tag and end tags (the first is forced; Qwen3-Coder's "\n</think>", then "</think>" and "<tool_call>"; DeepSeek
 * V3.2's "</think>" and its call marker; gpt-oss's analysis channel and "<|end|>"), borrowed from `tmpl` and valid
 * while it lives, and as prefill the prompt's open thinking block (from the start tag on, pointing into `prompt`)
 * when the prompt ends inside one. budget->tokens and budget->message are left as they are. A template without a
 * thinking section (or a built-in one) gives no tags: start NULL, no ends, no prefill, and no budget applies.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_template_reasoning_budget(const llamac_template *tmpl, const char *prompt,
                                                          llamac_reasoning_budget *budget);

/* One call: `id` is "call_" and 24 random alphanumerics, `arguments` a JSON object as text. All NUL-terminated. */
typedef struct llamac_tool_call {
    char *id;
    char *name;
    char *arguments;
} llamac_tool_call;

/* A parsed assistant message (from llamac_tool_parse: caller frees with llamac_tool_message_free). Strings are
 * NUL-terminated, never NULL (empty when absent); tool_calls is NULL when n_tool_calls is 0. */
typedef struct llamac_tool_message {
    char *content;
    char *reasoning_content;
    llamac_tool_call *tool_calls;
    size_t n_tool_calls;
} llamac_tool_message;

/* Frees a message and its strings. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_tool_message_free(llamac_tool_message *message);

/* Parses a complete model output (len bytes, borrowed) into *out, caller frees with llamac_tool_message_free.
 * Whatever the text, this succeeds: a call is recognised once its name is known and its arguments open; arguments
 * cut short (max_tokens) or broken are closed where they stop - after the last complete member, or inside a string
 * value - so they are a JSON object whenever the text is UTF-8, and the text after the break is content; anything
 * that never became a call is content, byte for byte. The generic format is read as a whole: text that is not one
 * complete JSON object (cut short inside a call) is content, with no call, as llama.cpp reads it.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL text with len > 0, NULL out, an unknown format or reasoning value),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_parse(const char *text, size_t len, const llamac_tool_parse_params *params,
                                           llamac_tool_message **out);

/* A streamed piece of an assistant message, shaped as OpenAI's chat.completion.chunk delta. */
typedef enum llamac_tool_delta_kind {
    LLAMAC_TOOL_DELTA_CONTENT = 0,   /* text: a piece of content */
    LLAMAC_TOOL_DELTA_REASONING = 1, /* text: a piece of reasoning_content */
    LLAMAC_TOOL_DELTA_CALL = 2       /* a piece of tool call `index`: id and name in its first delta, then text:
                                        a piece of its arguments (may be empty in the first delta) */
} llamac_tool_delta_kind;

typedef struct llamac_tool_delta {
    llamac_tool_delta_kind kind;
    size_t index;     /* the call's position in tool_calls (CALL only) */
    const char *id;   /* the call's id in its first delta, else NULL */
    const char *name; /* the call's name in its first delta, else NULL */
    const char *text; /* not NUL-terminated; whole UTF-8 characters */
    size_t len;
} llamac_tool_delta;

/* Receives one delta; everything in it is borrowed for the call. Runs on the thread that pushes; it must not use
 * the stream. Return false to stop the push early: the deltas not yet delivered come with the next push or finish
 * (a finish stopped this way drops them). */
typedef bool (*llamac_tool_delta_fn)(const llamac_tool_delta *delta, void *user_data);

typedef struct llamac_tool_stream llamac_tool_stream;

/* Creates a stream parser (params NULL: defaults). *out is caller frees with llamac_tool_stream_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_stream_new(const llamac_tool_parse_params *params, llamac_tool_stream **out);

/* Frees a stream. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_tool_stream_free(llamac_tool_stream *stream);

/* Feeds the next len bytes of output (borrowed; any cut, even inside a character) and delivers the deltas now
 * decided to `fn` (may be NULL). Text that might start a call marker is held back until it is decided; in the
 * generic format a reply that starts with '{' is decided only at the end. Each push parses all the text so far
 * again (linear in its length), so the deltas always add up to the complete parse.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL stream, NULL text with len > 0, push after finish), LLAMAC_E_NO_MEMORY.
 * One thread per handle. */
LLAMAC_API llamac_status llamac_tool_stream_push(llamac_tool_stream *stream, const char *text, size_t len,
                                                 llamac_tool_delta_fn fn, void *user_data);

/* Ends the output: delivers the remaining deltas; afterwards the concatenated deltas equal
 * llamac_tool_stream_message(), which equals llamac_tool_parse() of all the text (ids aside).
 * Errors: as push. One thread per handle. */
LLAMAC_API llamac_status llamac_tool_stream_finish(llamac_tool_stream *stream, llamac_tool_delta_fn fn,
                                                   void *user_data);

/* The message so far (after finish: the final one), with the ids the deltas carry. Owned by the stream, valid
 * until the next push, finish, llamac_tool_stream_message or free. NULL for a NULL stream or when out of memory.
 * One thread per handle. */
LLAMAC_API const llamac_tool_message *llamac_tool_stream_message(llamac_tool_stream *stream);

/* OpenAI tool_choice. */
typedef enum llamac_tool_choice {
    LLAMAC_TOOL_CHOICE_AUTO = 0,     /* text or calls; the grammar is lazy (applies from a trigger) */
    LLAMAC_TOOL_CHOICE_NONE = 1,     /* no calls: no grammar */
    LLAMAC_TOOL_CHOICE_REQUIRED = 2, /* at least one call of any offered tool */
    LLAMAC_TOOL_CHOICE_NAMED = 3     /* a call of the one named tool */
} llamac_tool_choice;

/* A grammar that makes output a valid call in a format. */
typedef struct llamac_tool_grammar {
    char *grammar;           /* GBNF with root "root"; NULL when no grammar applies (tool_choice none) */
    bool lazy;               /* apply with llamac_sampler_add_grammar_lazy and the patterns below */
    char **trigger_patterns; /* regexes over the output so far, as llamac_sampler_add_grammar_lazy takes them */
    size_t n_trigger_patterns;
} llamac_tool_grammar;

/* Frees a grammar. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_tool_grammar_free(llamac_tool_grammar *grammar);

/* Builds the grammar for `tools_json` (borrowed, NUL-terminated: an OpenAI "tools" array of
 * {"type":"function","function":{"name","description","parameters"}}), `choice` (`name`: the tool for
 * LLAMAC_TOOL_CHOICE_NAMED, else ignored, borrowed) and `parallel` (several calls allowed). Arguments follow each
 * tool's `parameters` schema: through the JSON Schema converter for the JSON formats, by its `properties` (names and
 * simple types) for Gemma 4 and LFM2; for the XML-ish formats by its `properties` too, as llama.cpp constrains them
 * (only those names, the required ones present, a value that may be a string raw, any other JSON of the property's
 * schema; Kimi K3 and MiniCPM5 require none, as llama.cpp), any parameter name when the schema names no properties.
 * *out is caller frees with llamac_tool_grammar_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (tools not a JSON array of functions with names - the message names the index;
 * a named tool that is not offered; no tools with choice required/named; a grammar past 256 x 9 MiB),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_grammar_build(llamac_tool_format format, const char *tools_json,
                                                   llamac_tool_choice choice, const char *name, bool parallel,
                                                   llamac_tool_grammar **out);

/* Makes a forced grammar (tool_choice required or named: not lazy) leave room for the thinking block a prompt left
 * open (llamac_template_parse_params' reasoning_open, with its think_end): the reply becomes reasoning text that does
 * not contain the marker (`think_end` without the white space around it; borrowed, NUL-terminated UTF-8 of at most
 * 64 characters), the marker, then text that does not contain the marker the format's calls start with (the reply's
 * content; where the calls start with no marker - Llama 3, Functionary v3.2, generic - a space or one or two
 * newlines and an indent, optional), then the calls the grammar forced before - as llama.cpp's chat layer forces
 * them. Without that room the call would be written inside the thinking block and read as reasoning. `grammar` must
 * be one llamac_tool_grammar_build made. A lazy grammar, one with no grammar (tool_choice none) or a think_end of only
 * white space is left as it is; so is `grammar` on failure.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs; a think_end that is not UTF-8 or too long; a grammar past the size
 * llamac_tool_grammar_build allows), LLAMAC_E_NO_MEMORY. Not thread-safe on one grammar. */
LLAMAC_API llamac_status llamac_tool_grammar_after_thinking(llamac_tool_grammar *grammar, const char *think_end);

/* Checks a chat history (borrowed, NUL-terminated OpenAI "messages" JSON array) before it reaches a template:
 * every assistant tool call has a function name and its arguments are a string holding a JSON object (or an
 * object). Errors: LLAMAC_E_INVALID_ARGUMENT naming the message index and what is wrong ("messages[3].tool_calls[0]
 * .function.arguments is not valid JSON: ..."). Thread-safe. */
LLAMAC_API llamac_status llamac_tool_history_check(const char *messages_json);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_SCHEMA_H */
