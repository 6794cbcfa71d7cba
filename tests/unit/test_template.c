/*
 * test_template.c - the chat-template engine: fidelity against llama.cpp's own engine, each construct, errors with
 * their line numbers, and the limits.
 *
 * The fidelity sweep renders every template llama.cpp ships ($LLAMAC_LLAMA_SOURCE/models/templates) with every
 * conversation in tests/reference/templates/conversations and compares the bytes with what llama.cpp's engine gave
 * (tests/reference/templates, made by scripts/gen-reference.sh); where llama.cpp failed (.err), llamac must fail
 * too. The clock is fixed at the reference's time, in UTC.
 */
#include "helpers.h"

#include <dirent.h>
#include <ggml.h>
#include <gguf.h>
#include <jansson.h>
#include <stdint.h>
#include <time.h>

#define REF_NOW 1721995200 /* 2024-07-26 12:00:00 UTC, as LLAMAC_REF_NOW in scripts/gen-reference.sh */

/* Renders `src` with inputs; returns the status, *out the text (caller frees) or NULL. */
static llamac_status render(const char *src, const char *messages, const char *tools, const char *kwargs, bool agp,
                            char **out) {
    llamac_template *t = NULL;
    *out = NULL;
    llamac_status st = llamac_template_new(src, strlen(src), &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = messages;
    in.tools_json = tools;
    in.kwargs_json = kwargs;
    in.add_generation_prompt = agp;
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.now = REF_NOW;
    st = llamac_template_render(t, &in, out, NULL);
    llamac_template_free(t);
    return st;
}

/* Renders `src` with `messages` and `kwargs` (the test conversation when NULL) and returns the output, or
 * "ERROR: " and the message. The result stays valid until the next call. */
static char last_out[65536];
static llamac_status last_status;
static const char *RK(const char *src, const char *messages, const char *kwargs) {
    char *out = NULL;
    if (!messages) {
        messages =
            "[{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"Hello, World\"}]";
    }
    if (!kwargs) {
        kwargs = "{\"obj\": {\"b\": 2, \"a\": 1, \"c\": [1, 2.5, \"x\"]}, \"num\": 3, \"flt\": 2.5, \"nul\": null, "
                 "\"lst\": [3, 1, 2], \"s\": \"Hi There  you\"}";
    }
    last_status = render(src, messages, NULL, kwargs, true, &out);
    if (last_status == LLAMAC_OK) {
        snprintf(last_out, sizeof last_out, "%s", out);
    } else {
        snprintf(last_out, sizeof last_out, "ERROR: %s", llamac_last_error());
    }
    llamac_free(out);
    return last_out;
}

static const char *R(const char *src) {
    return RK(src, NULL, NULL);
}

/* The template must fail with LLAMAC_E_TEMPLATE and a message containing `needle`. */
#define CHECK_FAILS(src, needle)                                                                                       \
    do {                                                                                                               \
        R(src);                                                                                                        \
        CHECK_INT(last_status, LLAMAC_E_TEMPLATE);                                                                     \
        CHECK_ERROR_HAS(needle);                                                                                       \
    } while (0)

/* ---- the fidelity sweep ---- */

static char *dump(json_t *j) {
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static bool sweep_skipped; /* the test then ends as skipped (77) unless something failed */

static void test_fidelity_sweep(void) {
    const char *llama = getenv("LLAMAC_LLAMA_SOURCE");
    const char *root = getenv("LLAMAC_SOURCE_DIR");
    if (!llama || !llama[0] || !root || !root[0]) {
        fprintf(stderr, "SKIP fidelity sweep: LLAMAC_LLAMA_SOURCE (llama.cpp's models/templates) is not set\n");
        sweep_skipped = true;
        return;
    }
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/reference/templates", root);
    size_t n;
    char **names = test_list_references(dir, "", &n);
    CHECK(names != NULL);
    if (!names) {
        return;
    }

    size_t identical = 0, failed = 0;
    char failures[8192] = "";
    for (size_t i = 0; i < n; i++) {
        char tmpl_name[512], conv_name[512];
        const char *sep = strstr(names[i], "__");
        CHECK(sep != NULL);
        if (!sep) {
            continue;
        }
        snprintf(tmpl_name, sizeof tmpl_name, "%.*s", (int)(sep - names[i]), names[i]);
        snprintf(conv_name, sizeof conv_name, "%.*s", (int)(strlen(sep + 2) - 4), sep + 2);
        bool want_error = strcmp(names[i] + strlen(names[i]) - 4, ".err") == 0;

        char path[4096];
        snprintf(path, sizeof path, "%s/models/templates/%s.jinja", llama, tmpl_name);
        size_t src_len = 0;
        char *src = test_read_file(path, &src_len);
        snprintf(path, sizeof path, "%s/conversations/%s.json", dir, conv_name);
        char *conv_text = test_read_file(path, NULL);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t want_len = 0;
        char *want = test_read_file(path, &want_len);
        json_error_t jerr;
        json_t *conv = conv_text ? json_loads(conv_text, 0, &jerr) : NULL;
        CHECK(src && want && conv);
        if (!src || !want || !conv) {
            fprintf(stderr, "missing input for %s\n", names[i]);
            failed++;
            goto next;
        }
        char *messages = dump(json_object_get(conv, "messages"));
        char *tools = dump(json_object_get(conv, "tools"));
        char *kwargs = dump(json_object_get(conv, "kwargs"));
        json_t *agp = json_object_get(conv, "add_generation_prompt");

        llamac_template *t = NULL;
        char *out = NULL;
        size_t out_len = 0;
        llamac_status st = llamac_template_new(src, src_len, &t);
        if (st == LLAMAC_OK) {
            llamac_template_inputs in = llamac_template_inputs_default();
            in.messages_json = messages;
            in.tools_json = tools;
            in.kwargs_json = kwargs;
            in.add_generation_prompt = agp ? json_is_true(agp) : true;
            in.bos_token = json_string_value(json_object_get(conv, "bos_token"));
            in.eos_token = json_string_value(json_object_get(conv, "eos_token"));
            in.now = REF_NOW;
            st = llamac_template_render(t, &in, &out, &out_len);
        }
        bool ok = want_error ? st == LLAMAC_E_TEMPLATE
                             : (st == LLAMAC_OK && out_len == want_len && memcmp(out, want, want_len) == 0);
        if (ok) {
            identical++;
        } else {
            failed++;
            size_t used = strlen(failures);
            snprintf(failures + used, sizeof failures - used, "  %s: %s\n", names[i],
                     want_error        ? "llama.cpp fails, llamac renders"
                     : st != LLAMAC_OK ? llamac_last_error()
                                       : "different bytes");
            if (getenv("LLAMAC_TEMPLATE_DIFF") && st == LLAMAC_OK) {
                fprintf(stderr, "==== %s\n---- llamac\n%s\n---- llama.cpp\n%s\n", names[i], out, want);
            }
        }
        llamac_free(out);
        llamac_template_free(t);
        free(messages);
        free(tools);
        free(kwargs);
    next:
        json_decref(conv);
        free(src);
        free(conv_text);
        free(want);
    }
    fprintf(stderr, "%zu/%zu renderings byte-identical\n%s", identical, n, failures);
    CHECK_INT(failed, 0);
    CHECK(n >= 500); /* about 70 templates x 8 conversations */

    /* every template llama.cpp ships has references (a pin move that adds one must regenerate them) */
    snprintf(dir, sizeof dir, "%s/models/templates", llama);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    size_t templates = 0, covered = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".jinja") == 0) {
            templates++;
            char prefix[512];
            snprintf(prefix, sizeof prefix, "%.*s__", (int)(l - 6), e->d_name);
            for (size_t i = 0; i < n; i++) {
                if (strncmp(names[i], prefix, strlen(prefix)) == 0) {
                    covered++;
                    break;
                }
            }
        }
    }
    if (d) {
        closedir(d);
    }
    CHECK(templates > 60);
    CHECK_INT(covered, templates);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* Every expected string below is what llama.cpp's engine renders for the same template and variables. */

static void test_expressions(void) {
    CHECK_STR(R("Hello {{ 'world' }}!"), "Hello world!");
    CHECK_STR(R("{{ 'a' ~ 'b' }}|{{ 1 + 2 }}|{{ 7 / 2 }}|{{ 7 % 3 }}|{{ 2 * 3.5 }}|{{ 'ab' * 3 }}|{{ -3 }}|{{ 1.0 }}"),
              "ab|3|3.5|1|7.0|ababab|-3|1.0");
    CHECK_STR(R("{{ 1 / 2 }}{{ 4 / 2 }}{{ 7.5 % 2 }}{{ 2 * 3 }}{{ 2 - 3.5 }}{{ 3 - 1 }}"), "0.52.01.56-1.52");
    CHECK_STR(R("{{ 3.0 }}|{{ 0.1 }}|{{ 1.23456789 }}|{{ 0.0000001 }}|{{ -0.0 }}|{{ 1.0 / 3 }}"),
              "3.0|0.1|1.234568|0.0|-0.0|0.333333");
    CHECK_STR(R("{{ 9223372036854775807 }}|{{ 9007199254740993 + 0 }}|{{ -5 % 3 }}|{{ 5 % -3 }}|{{ 2 / 0 }}"),
              "9223372036854775807|-9223372036854775808|-2|2|inf");
    CHECK_STR(R("{{ undefined_var ~ 'ok' }}|{{ nul ~ 'ok2' }}|{{ 'a' + 1 }}|{{ [1] + [2] }}"), "ok|ok2|a1|12");
    CHECK_STR(R("{{ 'a' in 'abc' }}|{{ 2 in [1,2] }}|{{ 'a' in obj }}|{{ 'z' not in obj }}|{{ x in undefined_thing }}|"
                "{{ none in [none] }}|{{ 1 == 1.0 }}|{{ true == 1 }}"),
              "True|True|True|True|False|True|True|True");
    CHECK_STR(R("{{ 5 > 3 }}{{ 5 >= 5 }}{{ 1.5 < 2 }}{{ 2 <= 1 }}"), "TrueTrueTrueFalse");
    CHECK_STR(R("{{ (1, 2) == (1, 2) }}|{{ [1, 2] == [1, 2] }}|{{ {'a': 1} == {'a': 1} }}|{{ none == none }}|"
                "{{ x == y }}|{{ 1 != 1.5 }}"),
              "True|True|True|True|True|True");
    CHECK_STR(R("{% if num > 2 %}big{% elif num > 1 %}mid{% else %}small{% endif %}|{{ 'yes' if s else 'no' }}|"
                "{{ 'sel' if false }}|{{ not nul }}|{{ num > 1 and flt < 3 }}|{{ nul or 'fallback' }}"),
              "big|yes||True|True|fallback");
    CHECK_STR(R("{{ 1 if true else 2 if false else 3 }}"), "1");
    /* what a statement prints: lists item by item, mappings and none not at all */
    CHECK_STR(R("{{ [1, 'a', none, 2.5, true] }}|{{ [1, 'a', none, 2.5, true] | string }}|{{ {'a': 1} }}|{{ none }}"),
              "1a2.5True|[1, 'a', None, 2.5, True]||");
    CHECK_STR(R("{{ {'a': 1, 'b': (1, 2), 'c': \"it's\"} | string }}"), "{'a': 1, 'b': (1, 2), 'c': \"it's\"}");
    CHECK_STR(R("{{ [x, y.z] | string }}|{{ ['ab'.upper] | string }}"),
              "[Undefined (hint: 'x'), Undefined (hint: 'object_property')]|[Function<upper>(TMPL:  ab\n)]");
    /* a list prints the items it has when its block ends */
    CHECK_STR(R("{%- set x = [] -%}{%- set _ = x.append(1) -%}{%- set _ = x.append('two') -%}{{ x }}|{{ x.pop() }}|"
                "{{ x }}"),
              "1|two|1");
    CHECK_STR(R("{{ \"a\\\"b\" }}{{ 'a\\'b' }}{{ \"tab\\there\" }}"), "a\"ba'btab\there");
}

static void test_control(void) {
    CHECK_STR(R("{%- for m in messages -%}\n  [{{ loop.index }}/{{ loop.length }} {{ loop.first }} {{ loop.last }} "
                "{{ loop.revindex }} {{ loop.previtem is defined }}] {{ m.role }}: {{ m['content'] }}\n{% endfor %}"),
              "[1/2 True False 2 False] system: sys\n[2/2 False True 1 True] user: Hello, World\n");
    CHECK_STR(R("{% for m in messages %}{{ loop.index }}:{{ loop.revindex0 }}:"
                "{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}"),
              "1:1:user 2:0:- ");
    CHECK_STR(R("{% for k, v in obj.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in obj %}{{ k }}{% endfor %}|"
                "{% for x in [] %}x{% else %}empty{% endfor %}"),
              "b=2;a=1;c=12.5x;|bac|empty");
    CHECK_STR(R("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}"
                "{{ i }}{% endfor %}|{% for i in [1,2,3] if i != 2 %}{{ i }}{{ loop.index }}{% endfor %}"),
              "02|1132");
    /* llama.cpp's quirks: a statement cut short by break prints nothing, and a loop whose passes all end in
     * continue runs its else block */
    CHECK_STR(R("{% for i in range(3) %}A{% if i == 1 %}B{% break %}{% endif %}C{% endfor %}|"
                "{% for i in range(2) %}{% continue %}{% else %}else-ran{% endfor %}"),
              "ACA|else-ran");
    CHECK_STR(R("{% for x in undefined_thing %}{{ x }}{% else %}none{% endfor %}"), "none");
    CHECK_STR(
        R("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for a, b in [(1, 2)] %}{{ a }}{% endfor %}"),
        "37|1");
    CHECK_STR(R("{% set ns = namespace(a=1, b='x') %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}"
                "{{ ns.a }} {{ ns.b }}"),
              "4 x");
    CHECK_STR(R("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}|{% for i in [1] %}{% set x = 3 %}"
                "{% endfor %}{{ x }}"),
              "2|2");
    CHECK_STR(R("{% set a, b = [1, 2] %}{{ a }}{{ b }}"), "12");
    CHECK_STR(R("{% set x %}block {{ 'set' | upper }}{% endset %}[{{ x }}]{% filter upper %}filtered {{ 'text' }}"
                "{% endfilter %}"),
              "[block SET]FILTERED TEXT");
    CHECK_STR(R("{% filter replace('a', 'o') %}banana{% endfilter %}"), "bonono");
    CHECK_STR(R("{% set d = {} %}{% set d.x = 1 %}{{ d.x }}{{ d | tojson }}"), "1{\"x\": 1}");
    CHECK_STR(R("{% generation %}gen{% endgeneration %}"), "gen");
    CHECK_STR(R("{% for x in 'abc' %}{{ x }}{% endfor %}"), "ERROR: chat template line 1, column 4: a for loop needs a "
                                                            "list or a mapping, got a string");
}

static void test_macros(void) {
    CHECK_STR(R("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} "
                "{{ greet('Al', '?') }} {{ greet(name='Zed') }} {{ greet(punct='.') }}"),
              "Hi Bob! Hi Al? Hi Zed! Hi !");
    /* llama.cpp binds parameter i only from the first i+1 arguments: m(b=3) leaves b at its default */
    CHECK_STR(R("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(b=3) }}|{{ m(1, b=5) }}|{{ m(1) }}|"
                "{{ m(a=7) }}"),
              "-2|1-5|1-2|7-2");
    /* a macro sees the variables of the place it is called from */
    CHECK_STR(R("{% macro m() %}{{ x }}{% endmacro %}{% set x = 'outer' %}{{ m() }}{% for i in [1] %}"
                "{% set x = 'loop' %}{{ m() }}{% endfor %}{{ x }}"),
              "outerloopouter");
    CHECK_STR(R("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner {{ 1 + 1 }}{% endcall %}"),
              "<inner 2>");
    CHECK_STR(R("{% macro row(x) %}[{{ caller(x * 2) }}]{% endmacro %}{% call(v) row(21) %}v={{ v }}{% endcall %}"),
              "[v=42]");
    CHECK_STR(R("{% macro m(x) %}{% if x > 0 %}{{ x }}{{ m(x - 1) }}{% endif %}{% endmacro %}{{ m(5) }}"), "54321");
    CHECK_STR(R("{%- macro render(schema, depth=0) -%}\n"
                "{%- if schema is mapping -%}{ {%- for k, v in schema.items() -%}{{ k }}: {{ render(v, depth + 1) }}"
                "{{ ', ' if not loop.last }}{%- endfor -%} }\n"
                "{%- elif schema is iterable and schema is not string -%}[{{ schema | length }}]\n"
                "{%- else -%}{{ schema }}{%- endif -%}\n{%- endmacro -%}\n{{ render(obj) }}"),
              "{b: 2, a: 1, c: [3]}");
    /* capitalize and title work on the pieces a string was joined from, as llama.cpp's do */
    CHECK_STR(R("{% macro up(s) %}{{ s }} and more{% endmacro %}{{ up('word') | capitalize }}|"
                "{{ up('two words') | title }}"),
              "Word and more|Two Words And More");
    CHECK_STR(
        R("{% set parts %}one {{ 'two' }} three{% endset %}{{ parts | capitalize }}|{{ (parts ~ ' four') | title }}"),
        "One Two three|One Two Three Four");
    CHECK_STR(R("{{ ('hello ' ~ 'world') | capitalize }}|{{ ('a b' ~ 'c d') | title }}"), "Hello World|A BC D");
}

static void test_filters(void) {
    CHECK_STR(R("{{ '  padded  ' | trim }}|{{ 'Hello World' | lower }}|{{ 'hello world' | title }}|"
                "{{ 'hELLO' | capitalize }}"),
              "padded|hello world|Hello World|Hello");
    CHECK_STR(R("{{ lst | length }}|{{ lst | first }}|{{ lst | last }}|{{ lst | sort }}|{{ lst | sort(reverse=true) }}|"
                "{{ lst | reverse | list }}|{{ lst | min }}|{{ lst | max }}|{{ lst | join('-') }}|{{ s | length }}|"
                "{{ obj | length }}"),
              "3|3|2|123|321|213|1|3|3-1-2|13|3");
    CHECK_STR(R("{{ messages | map(attribute='role') | join(',') }}|"
                "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|"
                "{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='content') | first }}|"
                "{{ messages | selectattr('role') | list | length }}"),
              "system,user|1|sys|2");
    CHECK_STR(R("{{ messages | selectattr('role', 'in', ['user', 'x']) | list | length }}|"
                "{{ [1, 2, 3] | reject('equalto', 2) | list }}"),
              "1|13");
    CHECK_STR(R("{{ [1, 'a'] | join }}|{{ [[1, 2], [3, 4]] | join(',', attribute=1) }}|"
                "{{ messages | join(', ', attribute='role') }}"),
              "1a|2,4|system, user");
    CHECK_STR(R("{{ ['a', 'b'] | map(attribute=0) | list }}|{{ [[1, 2], [3]] | map(attribute=1, default='d') | list }}|"
                "{{ messages | map(attribute='nope', default='z') | list }}"),
              "|2d|zz");
    CHECK_STR(R("{{ undefined_var | default('dflt') }}|{{ nul | default('d2') }}|{{ '' | default('d3', true) }}|"
                "{{ 0 | default(5) }}"),
              "dflt|d2|d3|0");
    CHECK_STR(R("{{ '5' | int + 1 }}|{{ '2.5' | float }}|{{ 3 | float }}|{{ 3.7 | int }}|{{ 'x' | int }}|"
                "{{ true | int }}|{{ -1 | abs }}|{{ -1.5 | abs }}"),
              "6|2.5|3.0|3|0|1|1|1.5");
    CHECK_STR(R("{{ 'hello' | replace('l', 'L') }}|{{ none | trim }}|{{ 12 | upper }}|{{ [1] | lower }}"),
              "heLLo|None|12|[1]");
    CHECK_STR(R("{{ '   \\n  x  \\n  ' | indent(2) }}|{{ 'a\\nb\\n\\nc\\n' | indent(4, true) }}|"
                "{{ 'a\\n\\nb' | indent(2, false, true) }}|{{ '\\nabc' | indent }}"),
              "   \n    x  \n    |    a\n    b\n\n    c\n|a\n  \n  b|abc");
    CHECK_STR(R("{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{k}}{{v}}{% endfor %}|"
                "{% for k, v in {'b': 1, 'a': 2} | dictsort(reverse=true) %}{{k}}{% endfor %}|"
                "{% for k, v in {'b': 1, 'a': 2} | dictsort(by='value') %}{{k}}{% endfor %}"),
              "a2b1|ba|ba");
    CHECK_STR(R("{{ obj | items | list }}|{{ obj.keys() | list }}|{{ obj.values() | list }}"),
              "b2a1c12.5x|bac|2112.5x");
    CHECK_STR(R("{{ \"x\" | string }}|{{ 3 | string }}|{{ 2.0 | string }}|{{ true | string }}|{{ none | string }}"),
              "x|3|2|True|None");
    /* ties keep the order libstdc++'s std::sort leaves them in */
    CHECK_STR(R("{{ [{'n': 'b', 'k': 1}, {'n': 'a', 'k': 1}, {'n': 'c', 'k': 0}] | sort(attribute='k') | "
                "map(attribute='n') | join }}"),
              "cba");
    CHECK_STR(R("{% set items = [] %}{% for i in range(20) %}{% set _ = items.append({'k': i % 3, 'i': i}) %}"
                "{% endfor %}{{ items | sort(attribute='k') | map(attribute='i') | join(',') }}"),
              "18,3,15,6,12,9,0,10,19,16,13,7,4,1,11,8,14,5,17,2");
    CHECK_STR(R("{% set items = [] %}{% for i in range(40) %}{% set _ = items.append({'k': (i * 7) % 5, 'i': i}) %}"
                "{% endfor %}{{ items | sort(attribute='k', reverse=true) | map(attribute='i') | join(',') }}"),
              "17,2,37,22,7,32,27,12,9,24,14,29,19,34,4,39,21,1,26,31,36,16,11,6,18,23,38,13,28,3,8,33,0,20,5,35,10,30,"
              "15,25");
    CHECK_STR(R("{{ [3, 1.5, 2, 1] | sort }}|{{ ['b', 'A', 'a', 'B'] | sort }}"), "11.523|ABab");
    CHECK_FAILS("{{ 'x' | foo }}", "line 1, column 10: unknown filter 'foo' for a string");
    CHECK_FAILS("{{ [3, 1, 2] | unique }}", "unsupported: 'unique' is not implemented for a list");
    CHECK_FAILS("{{ obj | default(1) }}", "unknown filter 'default' for a mapping");
}

static void test_tojson(void) {
    CHECK_STR(R("{{ obj | tojson }}"), "{\"b\": 2, \"a\": 1, \"c\": [1, 2.5, \"x\"]}");
    CHECK_STR(R("{{ obj | tojson(indent=2) }}"),
              "{\n  \"b\": 2,\n  \"a\": 1,\n  \"c\": [\n    1,\n    2.5,\n    \"x\"\n  ]\n}");
    CHECK_STR(R("{{ obj | tojson(indent=0) }}|{{ [] | tojson(indent=2) }}|{{ [[]] | tojson(indent=1) }}"),
              "{\n\"b\": 2,\n\"a\": 1,\n\"c\": [\n1,\n2.5,\n\"x\"\n]\n}|[]|[\n []\n]");
    CHECK_STR(R("{{ lst | tojson(separators=(',', ':')) }}"), "[3,1,2]");
    CHECK_STR(R("{{ \"ü\" | tojson(ensure_ascii=true) }}{{ ['é', {'ß': 'ö'}, '🎉'] | tojson(ensure_ascii=true) }}"),
              "\"\\u00fc\"[\"\\u00e9\", {\"\\u00df\": \"\\u00f6\"}, \"\\ud83c\\udf89\"]");
    CHECK_STR(R("{{ 'héllo ✓' | tojson }}"), "\"héllo ✓\"");
    CHECK_STR(R("{{ [0.5, 1.5] | tojson }}|{{ 1.23456789 | tojson }}|{{ 1234567.0 | tojson }}|{{ 0.0 | tojson }}"),
              "[0.5, 1.5]|1.23457|1.23457e+06|0");
    CHECK_STR(R("{{ \"it's\" | tojson }}|{{ 'a\\nb\\t\"c\"' | tojson }}"), "\"it's\"|\"a\\nb\\t\\\"c\\\"\"");
    CHECK_STR(
        R("{{ {1: 'int', 1.0: 'flt'} | tojson }}|{{ {true: 'b', 1: 'i'} | string }}|{{ {(1, 2): 't'} | tojson }}"),
        "{\"1\": \"flt\"}|{True: 'i'}|{\"(1, 2)\": \"t\"}");
    CHECK_FAILS("{{ obj | tojson(sort_keys=true) }}", "sort_keys");
}

static void test_tests(void) {
    CHECK_STR(R("{{ x is defined }}|{{ nul is none }}|{{ s is string }}|{{ obj is mapping }}|{{ lst is iterable }}|"
                "{{ num is number }}|{{ flt is float }}|{{ num is integer }}|{{ true is boolean }}|{{ 3 is odd }}|"
                "{{ 4 is even }}|{{ 'x' is lower }}|{{ 5 is divisibleby(5) }}|{{ 1 is equalto(1) }}|{{ 3 is gt(2) }}"),
              "False|True|True|True|True|True|True|True|True|True|True|True|True|True|True");
    CHECK_STR(R("{{ [] is iterable }}{{ {} is iterable }}{{ none is iterable }}{{ x is iterable }}{{ x is not none }}"),
              "TrueFalseFalseTrueTrue");
    CHECK_FAILS("{{ 1 is prime }}", "unknown test 'prime'");
    CHECK_FAILS("{{ 1 is sameas(1) }}", "not implemented");
}

static void test_methods(void) {
    CHECK_STR(R("{{ 'a,b,,c'.split(',') }}|{{ 'a b  c'.split() | tojson }}|{{ 'a-b-c'.rsplit('-', 1) | tojson }}|"
                "{{ 'abc'.replace('b', 'XX') }}|{{ 'abc'.replace('', '-') }}|{{ 'x{}y{}'.format(1, 'z') }}"),
              "abc|[\"a\", \"b\", \"\", \"c\"]|[\"a-b\", \"c\"]|aXXc|-a-b-c-|x1yz");
    CHECK_STR(R("{{ messages[0].content.startswith('sy') }}|{{ 'abc'.endswith('bc') }}|{{ '  x '.strip() }}|"
                "{{ 'xxaxx'.strip('x') }}|{{ 'ab'.upper() }}|{{ '--a--'.lstrip('-') }}|{{ '--a--'.rstrip('-') }}"),
              "True|True|x|a|AB|a--|--a");
    CHECK_STR(R("{{ {'a': 1}.get('a') }}{{ {'a': none}.get('a', 3) }}{{ {}.get('a') }}"), "1");
    CHECK_STR(R("{{ {'items': 5}.items }}|{{ {'items': 5}['items'] }}|{{ lst.length }}"), "|5|");
    CHECK_STR(R("{{ 'Hello World'.title() }}{{ 'x'.capitalize() }}{{ 'a_b-c d'.title() }}"), "Hello WorldXA_b-c D");
    CHECK_STR(R("{% set x = namespace() %}{% set x.a = [1] %}{% set _ = x.a.append(2) %}{{ x.a }}{{ x.a | length }}"),
              "122");
    CHECK_FAILS("{{ '{}{}'.format(1) }}", "expected at least 3 arguments");
    CHECK_FAILS("{{ '{x}'.format(1) }}", "only takes {} placeholders");
}

static void test_indexing(void) {
    CHECK_STR(R("{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ [1,2,3,4,5][-2:] }}|{{ [1,2,3,4,5][::2] }}|{{ 'abc'[0] }}|"
                "{{ 'abc'[-1] }}|{{ lst[-1] }}|{{ lst[5] is defined }}"),
              "bc|fedcba|45|135|a||2|False");
    CHECK_STR(R("{{ [1, 2, 3][1:] }}|{{ (1, 2, 3)[1:] }}|{{ [1, 2][5:] }}|{{ 'abc'[5:] }}|{{ 'abcdef'[-3:-1] }}|"
                "{{ 'abcdef'[4:1:-1] }}"),
              "23|23|||de|edc");
    CHECK_STR(R("{{ messages[0]['role'] | upper }}{{ messages | length }}{{ messages[-1].content }}"
                "{{ messages[99].content }}"),
              "SYSTEM2Hello, World");
    CHECK_STR(R("{{ obj.a }}{{ obj['b'] }}{{ obj.c[1] }}{{ obj.missing }}{{ obj.missing.deeper }}"), "122.5");
    CHECK_FAILS("{{ lst[true] }}", "a boolean cannot index a list");
    CHECK_FAILS("{{ {[1]: 2} }}", "a list cannot be an object key");
}

static void test_whitespace(void) {
    /* trim_blocks and lstrip_blocks as Hugging Face sets them, plus the '-' markers */
    CHECK_STR(R("  {% if true %}\n    indented\n  {% endif %}\ntext   {%- if true -%}   stripped   {%- endif %}\n"
                "{# comment #}\nafter"),
              "    indented\ntextstrippedafter");
    CHECK_STR(R("{{ 'x' }}\n  {%- if true %}\n y{% endif %}"), "x y");
    CHECK_STR(R("{%- for m in messages %}\n{{- m.role }}\n{% endfor -%}\nEND"), "system\nuser\nEND");
    CHECK_STR(R("{{ 'a' }}{# comment {{ with }} tags #}{{ 'b' }}"), "ab");
    CHECK_STR(R("ab  {% set x = 1 %}c"), "ab  c");
    /* llama.cpp drops text of one character before a block at the very start */
    CHECK_STR(R("a{% set x = 1 %}b"), "b");
    /* one trailing newline of the template is dropped; CRLF counts as LF */
    CHECK_STR(R("{{ 'x' }}\n"), "x");
    CHECK_STR(R("{% if true %}\r\nA\r\n{% endif %}\r\n"), "A\n");
}

static void test_variables(void) {
    char *out = NULL;
    llamac_template *t = NULL;
    const char *src =
        "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ messages | length }}|"
        "{{ tools is defined }}|{{ tools | length }}|{{ enable_thinking }}|{{ strftime_now('%Y-%m-%d') }}";
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    llamac_template_inputs in = llamac_template_inputs_default();
    CHECK(in.add_generation_prompt);
    CHECK(in.messages_json == NULL);
    in.messages_json = "[{\"role\": \"user\", \"content\": \"hi\"}]";
    in.now = REF_NOW;
    size_t len = 0;
    CHECK_OK(llamac_template_render(t, &in, &out, &len));
    CHECK_STR(out, "||True|1|False|0||2024-07-26");
    CHECK_INT(len, strlen("||True|1|False|0||2024-07-26"));
    llamac_free(out);
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.add_generation_prompt = false;
    in.tools_json = "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]";
    in.kwargs_json = "{\"enable_thinking\": false, \"bos_token\": \"[BOS]\"}";
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "[BOS]|</s>|False|1|True|1|False|2024-07-26");
    llamac_free(out);
    /* the key order of the input JSON is kept */
    in.kwargs_json = "{\"z\": 1, \"a\": {\"y\": 2, \"b\": 3}}";
    llamac_template_free(t);
    src = "{{ a | tojson }}{% for k in a %}{{ k }}{% endfor %}";
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "{\"y\": 2, \"b\": 3}yb");
    llamac_free(out);
    llamac_template_free(t);
}

static void test_errors(void) {
    /* syntax errors name the line and column */
    llamac_template *t = (llamac_template *)&t;
    const char *bad = "line one\n{% if true %}\n{{ 1 + }}\n{% endif %}";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK(t == NULL);
    CHECK_ERROR_HAS("line 3, column 8: unexpected '}}' in an expression");
    bad = "{% for x in y %}never closed";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("missing {% endfor %}");
    bad = "ok\n\n{% include 'other.jinja' %}";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("line 3, column 4: unknown or unsupported statement {% include %}");
    bad = "{{ 'unterminated }}";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("line 1, column 4: unterminated string literal");
    bad = "{# no end";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("missing end of comment tag");
    bad = "{{ 10 // 3 }}";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("unexpected '/'");
    bad = "{{ 99999999999999999999 }}";
    CHECK_STATUS(llamac_template_new(bad, strlen(bad), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("out of range");
    CHECK_STATUS(llamac_template_new("\xff", 1, &t), LLAMAC_E_UTF8);
    CHECK_STATUS(llamac_template_new(NULL, 3, &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_new("x", 1, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_template_free(NULL);

    /* runtime errors name the line and the construct */
    CHECK_FAILS("{% for m in messages %}\n{% if m.role == 'system' %}\n  {{ raise_exception('System role not "
                "supported') }}\n{% endif %}{% endfor %}",
                "line 3, column 21: raise_exception: System role not supported");
    CHECK_FAILS("\n{{ undefined_var + 1 }}", "line 2, column 18: 'undefined_var' is undefined (operator +)");
    CHECK_FAILS("{{ messages[0]() }}", "is not a function");
    CHECK_FAILS("{{ num.x.y() }}", "is not a function");
    CHECK_FAILS("{% break %}", "outside a loop");
    CHECK_FAILS("{% macro m() %}{% break %}{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}",
                "cannot leave the body of 'm'");
    CHECK_FAILS("{% for a, b in [[1, 2, 3]] %}{% endfor %}", "too many items to unpack");
    CHECK_FAILS("{% set l = [1] %}{% set l.x = 1 %}", "cannot assign an attribute of a list");
    CHECK_FAILS("{{ 5 > 3 > 1 }}", "operator > is not defined between a boolean and an integer");
    CHECK_FAILS("{{ 'é'[0] }}", "not valid UTF-8");

    /* bad inputs */
    t = NULL;
    CHECK_OK(llamac_template_new("x", 1, &t));
    llamac_template_inputs in = llamac_template_inputs_default();
    char *out = (char *)&in;
    size_t len = 7;
    CHECK_STATUS(llamac_template_render(t, &in, &out, &len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_INT(len, 0);
    CHECK_ERROR_HAS("messages_json is NULL");
    in.messages_json = "[{\"role\": \"user\",";
    CHECK_STATUS(llamac_template_render(t, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("messages: invalid JSON at line 1");
    in.messages_json = "{\"role\": \"user\"}";
    CHECK_STATUS(llamac_template_render(t, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("messages must be a JSON array");
    in.messages_json = "[]";
    in.kwargs_json = "[1]";
    CHECK_STATUS(llamac_template_render(t, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("kwargs must be a JSON object");
    in.kwargs_json = NULL;
    in.tools_json = "[\"\xff\"]";
    CHECK_STATUS(llamac_template_render(t, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("tools: invalid JSON");
    in.tools_json = NULL;
    in.bos_token = "\xc3";
    CHECK_STATUS(llamac_template_render(t, &in, &out, NULL), LLAMAC_E_UTF8);
    in.bos_token = NULL;
    CHECK_STATUS(llamac_template_render(NULL, &in, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_render(t, NULL, &out, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_render(t, &in, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "x");
    CHECK_STR(llamac_last_error(), "");
    llamac_free(out);
    llamac_template_free(t);
    CHECK_STR(llamac_status_str(LLAMAC_E_TEMPLATE), "chat template error");
}

/* Renders `src` with tight limits. */
static llamac_status render_limited(const char *src, size_t max_output, size_t max_memory, uint64_t max_steps) {
    llamac_template *t = NULL;
    llamac_status st = llamac_template_new(src, strlen(src), &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = "[]";
    in.max_output = max_output;
    in.max_memory = max_memory;
    in.max_steps = max_steps;
    char *out = NULL;
    st = llamac_template_render(t, &in, &out, NULL);
    llamac_free(out);
    llamac_template_free(t);
    return st;
}

static void test_limits(void) {
    /* endless recursion is an error, not a stack overflow */
    CHECK_FAILS("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "macro calls are nested more than 100");
    CHECK_FAILS("{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(150) }}",
                "nested more than 100");
    /* output beyond the cap */
    CHECK_STATUS(render_limited("{% for i in range(100000) %}0123456789{% endfor %}", 100000, 0, 0), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("exceeds the limit of 100000 bytes (max_output)");
    CHECK_STATUS(render_limited("{% for i in range(100) %}0123456789{% endfor %}", 1000, 0, 0), LLAMAC_OK);
    CHECK_STATUS(render_limited("{{ 'x' * 100000000000 }}", 0, 0, 0), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("max_output");
    /* a string grown in a loop */
    CHECK_STATUS(render_limited("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                                "{% endfor %}",
                                0, 0, 0),
                 LLAMAC_E_TEMPLATE);
    /* time and memory */
    CHECK_STATUS(
        render_limited("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", 0, 0, 100000),
        LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("did not finish within 100000 steps (max_steps)");
    CHECK_STATUS(render_limited("{% set x = range(10000000) %}", 0, 1 << 20, 0), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("working memory (max_memory)");
    /* nesting: while parsing, and in values */
    char deep[4096];
    size_t w = 0;
    w += (size_t)snprintf(deep + w, sizeof deep - w, "{{ ");
    for (int i = 0; i < 1000; i++) {
        deep[w++] = '(';
    }
    w += (size_t)snprintf(deep + w, sizeof deep - w, "1");
    for (int i = 0; i < 1000; i++) {
        deep[w++] = ')';
    }
    snprintf(deep + w, sizeof deep - w, " }}");
    llamac_template *t = NULL;
    CHECK_STATUS(llamac_template_new(deep, strlen(deep), &t), LLAMAC_E_TEMPLATE);
    CHECK_ERROR_HAS("more than 200 levels deep");
    CHECK_FAILS("{% set x = [] %}{% set _ = x.append(x) %}{{ x | tojson }}", "nested more than 256 levels");
    CHECK_FAILS("{% set x = [] %}{% set _ = x.append(x) %}{{ x | string }}", "nested more than 256 levels");
    CHECK_FAILS("{% set x = [] %}{% set _ = x.append(x) %}{{ x }}", "nested more than 256 levels");
    /* a long chain of ~ is deep to evaluate */
    char chain[40000];
    w = (size_t)snprintf(chain, sizeof chain, "{{ 'a'");
    for (int i = 0; i < 3000; i++) {
        w += (size_t)snprintf(chain + w, sizeof chain - w, " ~ 'a'");
    }
    snprintf(chain + w, sizeof chain - w, " }}");
    CHECK_FAILS(chain, "more than 1000 levels deep");
}

static void test_from_model(void) {
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *model = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K-chatml.gguf"), &mp, &model));
    llamac_template *t = NULL;
    CHECK_OK(llamac_template_from_model(model, NULL, &t));
    llamac_template_free(t);
    CHECK_STATUS(llamac_template_from_model(model, "tool_use", &t), LLAMAC_E_NOT_FOUND);
    CHECK(t == NULL);
    CHECK_ERROR_HAS("no chat template named 'tool_use'");
    CHECK_OK(llamac_template_from_model(model, NULL, &t));
    llamac_model_free(model); /* the template does not depend on the model */
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = "[{\"role\": \"user\", \"content\": \"Hi\"}]";
    char *out = NULL;
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    llamac_free(out);
    llamac_template_free(t);
    const char *src = "[{{ bos_token }}][{{ eos_token }}]";
    CHECK_OK(llamac_model_load(test_model("stories260K-chatml.gguf"), &mp, &model));
    CHECK_OK(llamac_template_from_model(model, NULL, &t));
    llamac_template_free(t);
    llamac_model_free(model);
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "[][]");
    llamac_free(out);
    llamac_template_free(t);
    /* a model without a template: no fallback */
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), &mp, &model));
    CHECK_STATUS(llamac_template_from_model(model, NULL, &t), LLAMAC_E_NOT_FOUND);
    CHECK_STATUS(llamac_template_from_model(NULL, NULL, &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_from_model(model, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_model_free(model);
}

/* The BOS/EOS texts a template from a model gets: the model's special tokens as text. The test model gets a template
 * that prints them (and a tool_use variant) by rewriting its metadata with ggml's GGUF writer. */
static const char *model_with_templates(void) {
    const char *path = test_tmp("stories260K-tmpl.gguf");
    struct gguf_init_params gp = { true, NULL };
    struct gguf_context *src = gguf_init_from_file(test_model("stories260K-chatml.gguf"), gp);
    CHECK(src != NULL);
    if (!src) {
        return NULL;
    }
    /* the metadata alone, like llama.cpp's ggml-vocab-*.gguf files: enough for a vocab-only load */
    struct gguf_context *g = gguf_init_empty();
    gguf_set_kv(g, src);
    gguf_set_val_str(g, "tokenizer.chat_template", "[{{ bos_token }}][{{ eos_token }}]");
    gguf_set_val_str(g, "tokenizer.chat_template.tool_use", "tools: {{ tools | length }}");
    CHECK(gguf_write_to_file(g, path, false));
    gguf_free(g);
    gguf_free(src);
    return path;
}

static void test_model_tokens(void) {
    const char *path = model_with_templates();
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *model = NULL;
    CHECK_OK(llamac_model_load(path, &mp, &model));
    llamac_template *t = NULL;
    CHECK_OK(llamac_template_from_model(model, NULL, &t));
    char bos[64] = "", eos[64] = "", want[160];
    size_t need = 0;
    CHECK_OK(
        llamac_token_to_piece(model, llamac_vocab_special(model, LLAMAC_TOKEN_BOS), true, bos, sizeof bos - 1, &need));
    bos[need] = '\0';
    CHECK_OK(
        llamac_token_to_piece(model, llamac_vocab_special(model, LLAMAC_TOKEN_EOS), true, eos, sizeof eos - 1, &need));
    eos[need] = '\0';
    CHECK_STR(bos, "<s>");
    CHECK_STR(eos, "</s>");
    snprintf(want, sizeof want, "[%s][%s]", bos, eos);
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = "[]";
    char *out = NULL;
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, want);
    llamac_free(out);
    in.bos_token = "B"; /* the caller's texts win */
    in.eos_token = "";
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "[B][]");
    llamac_free(out);
    llamac_template_free(t);
    CHECK_OK(llamac_template_from_model(model, "tool_use", &t));
    in.tools_json = "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]";
    CHECK_OK(llamac_template_render(t, &in, &out, NULL));
    CHECK_STR(out, "tools: 1");
    llamac_free(out);
    llamac_template_free(t);
    llamac_model_free(model);
}

#include <pthread.h>

typedef struct render_thread {
    const llamac_template *t;
    char *out;
    llamac_status st;
} render_thread;

static void *render_worker(void *arg) {
    render_thread *r = arg;
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = "[{\"role\": \"user\", \"content\": \"one\"}, {\"role\": \"assistant\", \"content\": \"two\"}]";
    for (int i = 0; i < 50 && r->st == LLAMAC_OK; i++) {
        llamac_free(r->out);
        r->out = NULL;
        r->st = llamac_template_render(r->t, &in, &r->out, NULL);
    }
    return NULL;
}

static void test_threads(void) {
    const char *src = "{% for m in messages %}<{{ m.role | upper }}>{{ m.content }}{% endfor %}";
    llamac_template *t = NULL;
    CHECK_OK(llamac_template_new(src, strlen(src), &t));
    render_thread r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i].t = t;
        r[i].out = NULL;
        r[i].st = LLAMAC_OK;
        CHECK_INT(pthread_create(&th[i], NULL, render_worker, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(r[i].st);
        CHECK_STR(r[i].out, "<USER>one<ASSISTANT>two");
        llamac_free(r[i].out);
    }
    llamac_template_free(t);
}

int main(void) {
    setenv("TZ", "UTC", 1);
    tzset();
    RUN(test_expressions);
    RUN(test_control);
    RUN(test_macros);
    RUN(test_filters);
    RUN(test_tojson);
    RUN(test_tests);
    RUN(test_methods);
    RUN(test_indexing);
    RUN(test_whitespace);
    RUN(test_variables);
    RUN(test_errors);
    RUN(test_limits);
    RUN(test_threads);
    RUN(test_fidelity_sweep);
    RUN(test_from_model);
    RUN(test_model_tokens);
    if (!check_failed && sweep_skipped) {
        fprintf(stderr, "%d checks passed; the fidelity sweep did not run\n", check_passed);
        return 77;
    }
    TESTS_DONE();
}
