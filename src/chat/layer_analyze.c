/*
 * layer_analyze.c - what the chat layer works out once per template: llama.cpp's source patches, the capabilities
 * (src/text/template_caps.c), the family that decides how messages reach the template, and for the templates of no
 * family, the reasoning markers.
 *
 * llama-server finds a generic template's reasoning markers by rendering pairs of conversations that differ in one
 * thing (an assistant message with reasoning or without, enable_thinking false or true, a tool call or not) and
 * reading the markers around what changed (common/chat-diff-analyzer.cpp). Whether it finds any decides whether
 * thinking is on by default, and the markers shape a continued assistant message. The comparisons and the way
 * markers are cut out of the renders are those of llama.cpp, so the same template yields the same markers.
 */
#include "chat/layer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- segments: text and markers (<...> or [...]) ---- */

typedef struct seg {
    bool marker;
    const char *p;
    size_t n;
} seg;

typedef struct segs {
    llamac__dynbuf buf; /* the segments' storage; v and n are views of it */
    seg *v;
    size_t n;
    bool failed;
} segs;

static void segs_push(segs *s, bool marker, const char *p, size_t n) {
    seg *slot = llamac__dynbuf_grow(&s->buf, sizeof *slot);
    if (!slot) {
        s->failed = true;
        s->v = NULL;
        s->n = 0;
        return;
    }
    *slot = (seg){ marker, p, n };
    s->v = (seg *)(void *)s->buf.p;
    s->n = s->buf.len / sizeof *slot;
}

/* Splits text into markers (from '<' to the next '>', from '[' to the next ']') and the text between them. */
static void segmentize(const char *t, size_t n, segs *out) {
    memset(out, 0, sizeof *out);
    llamac__dynbuf_init(&out->buf, LAYER_TEXT_MAX);
    bool in_marker = false;
    char opener = 0;
    size_t border = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_marker && (t[i] == '<' || t[i] == '[')) {
            if (border < i) {
                segs_push(out, false, t + border, i - border);
            }
            border = i;
            in_marker = true;
            opener = t[i];
        } else if (in_marker && ((opener == '<' && t[i] == '>') || (opener == '[' && t[i] == ']'))) {
            segs_push(out, true, t + border, i - border + 1);
            border = i + 1;
            in_marker = false;
        }
    }
    if (border < n) {
        segs_push(out, false, t + border, n - border);
    }
}

static bool seg_eq(const seg *a, const seg *b) {
    return a->marker == b->marker && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static bool all_space(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isspace((unsigned char)p[i])) {
            return false;
        }
    }
    return true;
}

/* The segments that are not only white space. */
static void prune_space(segs *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!all_space(s->v[i].p, s->v[i].n)) {
            s->v[k++] = s->v[i];
        }
    }
    llamac__dynbuf_truncate(&s->buf, k * sizeof(seg));
    s->n = k;
}

/* ---- the diff of two renders ---- */

static char *dupn(const char *p, size_t n) {
    return llamac__strndup(p ? p : "", p ? n : 0);
}

static void concat_segs(llamac__dynbuf *b, const segs *s, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        llamac__dynbuf_add(b, s->v[i].p, s->v[i].n);
    }
}

void layer_diff_split(const char *left, const char *right, layer_diff *out) {
    memset(out, 0, sizeof *out);
    size_t ln = strlen(left), rn = strlen(right);
    segs L, R;
    segmentize(left, ln, &L);
    segmentize(right, rn, &R);
    if (L.failed || R.failed) {
        goto done;
    }
    if (L.n == 0 || R.n == 0) {
        out->prefix = dupn("", 0);
        out->suffix = dupn("", 0);
        out->left = dupn(L.n == 0 ? "" : left, L.n == 0 ? 0 : ln);
        out->right = dupn(L.n == 0 ? right : "", L.n == 0 ? rn : 0);
        goto done;
    }
    {
        size_t ls = 0, le = L.n - 1, rs = 0, re = R.n - 1;
        bool left_done = false, right_done = false;
        llamac__dynbuf prefix = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
        /* the suffix grows at the front: collect its segments, back to front */
        const seg **suf = malloc((L.n + R.n + 2) * sizeof *suf);
        size_t nsuf = 0;
        if (!suf) {
            goto done;
        }
        while (ls != le && rs != re) {
            bool advanced = false;
            if (seg_eq(&L.v[ls], &R.v[rs])) {
                llamac__dynbuf_add(&prefix, L.v[ls].p, L.v[ls].n);
                ls++;
                rs++;
                advanced = true;
            }
            if (seg_eq(&L.v[le], &R.v[re])) {
                suf[nsuf++] = &L.v[le];
                if (ls != le) {
                    le--;
                } else {
                    left_done = true;
                }
                if (rs != re) {
                    re--;
                } else {
                    right_done = true;
                }
                advanced = true;
            }
            if (!advanced) {
                break;
            }
        }
        if (ls == le && rs != re) {
            if (seg_eq(&L.v[ls], &R.v[re])) {
                suf[nsuf++] = &R.v[re];
                re--;
                left_done = true;
            } else if (seg_eq(&L.v[ls], &R.v[rs])) {
                llamac__dynbuf_add(&prefix, R.v[rs].p, R.v[rs].n);
                rs++;
                left_done = true;
            }
        } else if (rs == re && ls != le) {
            if (seg_eq(&L.v[le], &R.v[rs])) {
                suf[nsuf++] = &L.v[le];
                le--;
                right_done = true;
            } else if (seg_eq(&L.v[ls], &R.v[rs])) {
                llamac__dynbuf_add(&prefix, L.v[ls].p, L.v[ls].n);
                ls++;
                right_done = true;
            }
        } else if (ls == le && rs == re && seg_eq(&L.v[ls], &R.v[rs]) && L.v[ls].marker) {
            llamac__dynbuf_add(&prefix, R.v[rs].p, R.v[rs].n);
            left_done = true;
            right_done = true;
        }
        bool text_suffix = !L.v[le].marker && !R.v[re].marker;
        bool text_prefix = !R.v[rs].marker && !L.v[ls].marker;
        llamac__dynbuf rl = LLAMAC__DYNBUF(LAYER_TEXT_MAX), rr = LLAMAC__DYNBUF(LAYER_TEXT_MAX),
                       suffix = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
        concat_segs(&rl, &L, ls, left_done ? le : le + 1);
        concat_segs(&rr, &R, rs, right_done ? re : re + 1);
        llamac__dynbuf_add(&rl, "", 0);
        llamac__dynbuf_add(&rr, "", 0);
        size_t suffix_len = 0, prefix_len = 0;
        if (text_suffix) {
            while (suffix_len < llamac__dynbuf_len(&rl) && suffix_len < llamac__dynbuf_len(&rr) &&
                   llamac__dynbuf_ptr(&rl)[llamac__dynbuf_len(&rl) - 1 - suffix_len] ==
                       llamac__dynbuf_ptr(&rr)[llamac__dynbuf_len(&rr) - 1 - suffix_len]) {
                suffix_len++;
            }
        }
        if (text_prefix) {
            while (prefix_len < llamac__dynbuf_len(&rl) - suffix_len &&
                   prefix_len < llamac__dynbuf_len(&rr) - suffix_len &&
                   llamac__dynbuf_ptr(&rl)[prefix_len] == llamac__dynbuf_ptr(&rr)[prefix_len]) {
                prefix_len++;
            }
        }
        llamac__dynbuf_add(&prefix, llamac__dynbuf_ptr(&rl), prefix_len);
        llamac__dynbuf_add(&suffix, llamac__dynbuf_ptr(&rl) + llamac__dynbuf_len(&rl) - suffix_len, suffix_len);
        for (size_t k = nsuf; k-- > 0;) {
            llamac__dynbuf_add(&suffix, suf[k]->p, suf[k]->n);
        }
        free(suf);
        out->left = dupn(llamac__dynbuf_ptr(&rl) + prefix_len, llamac__dynbuf_len(&rl) - prefix_len - suffix_len);
        out->right = dupn(llamac__dynbuf_ptr(&rr) + prefix_len, llamac__dynbuf_len(&rr) - prefix_len - suffix_len);
        llamac__dynbuf_free(&rl);
        llamac__dynbuf_free(&rr);
        out->prefix = llamac__dynbuf_take(&prefix, NULL);
        out->suffix = llamac__dynbuf_take(&suffix, NULL);
        if (out->left && out->right && !out->left[0] && !out->right[0]) {
            /* no difference: all of it is the prefix */
            free(out->prefix);
            free(out->suffix);
            out->prefix = dupn(left, ln);
            out->suffix = dupn("", 0);
        }
        if (out->left && out->right && !out->left[0] && out->right[0] && ln <= rn && memcmp(right, left, ln) == 0) {
            /* left is a prefix of right: say so, rather than a rotated split */
            free(out->prefix);
            free(out->suffix);
            free(out->right);
            out->prefix = dupn(left, ln);
            out->suffix = dupn("", 0);
            out->right = dupn(right + ln, rn - ln);
        }
    }
done:
    llamac__dynbuf_free(&L.buf);
    llamac__dynbuf_free(&R.buf);
    if (!out->prefix || !out->suffix || !out->left || !out->right) {
        layer_diff_free(out);
    }
}

void layer_diff_free(layer_diff *d) {
    free(d->prefix);
    free(d->suffix);
    free(d->left);
    free(d->right);
    memset(d, 0, sizeof *d);
}

/* ---- markers around the reasoning text ---- */

static size_t skip_space(const char *s, size_t n, size_t i) {
    while (i < n && isspace((unsigned char)s[i])) {
        i++;
    }
    return i;
}

/* A marker at i: where it ends, or 0 when there is none. */
static size_t marker_at(const char *s, size_t n, size_t i) {
    if (i >= n || (s[i] != '<' && s[i] != '[')) {
        return 0;
    }
    const char *close = memchr(s + i + 1, s[i] == '<' ? '>' : ']', n - i - 1);
    return close ? (size_t)(close - s) + 1 : 0;
}

static bool literal_at(const char *s, size_t n, size_t i, const char *lit) {
    size_t k = strlen(lit);
    return i + k <= n && memcmp(s + i, lit, k) == 0;
}

typedef struct tags {
    size_t pre_at, pre_n, post_at, post_n;
} tags;

/* `marker space LIT space marker space` at i: pre is the first marker and the space after it; post is the second
 * marker with the space around it (`post_lead`) or after it only. */
static bool wrapped_at(const char *s, size_t n, size_t i, const char *lit, bool post_lead, tags *t) {
    size_t e = marker_at(s, n, i);
    if (!e) {
        return false;
    }
    size_t a = skip_space(s, n, e);
    if (!literal_at(s, n, a, lit)) {
        return false;
    }
    size_t b = a + strlen(lit);
    size_t c = skip_space(s, n, b);
    size_t d = marker_at(s, n, c);
    if (!d) {
        return false;
    }
    size_t f = skip_space(s, n, d);
    t->pre_at = i;
    t->pre_n = a - i;
    t->post_at = post_lead ? b : c;
    t->post_n = f - t->post_at;
    return true;
}

/* `LIT space [marker space]` at i: post is the optional marker and the space after it. */
static bool delimited_at(const char *s, size_t n, size_t i, const char *lit, tags *t) {
    if (!literal_at(s, n, i, lit)) {
        return false;
    }
    size_t c = skip_space(s, n, i + strlen(lit));
    size_t d = marker_at(s, n, c);
    t->pre_at = t->pre_n = 0;
    t->post_at = c;
    t->post_n = d ? skip_space(s, n, d) - c : 0;
    return true;
}

/* The first position where the pattern matches, as llama.cpp's parse_anywhere_and_extract. */
static bool find_wrapped(const char *s, const char *lit, bool post_lead, tags *t) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (wrapped_at(s, n, i, lit, post_lead, t)) {
            return true;
        }
    }
    return false;
}

static bool find_delimited(const char *s, const char *lit, tags *t) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (delimited_at(s, n, i, lit, t)) {
            return true;
        }
    }
    return false;
}

/* ---- the reasoning analysis ---- */

#define USER_MSG "U_USER_MSG Hello END_U"
#define ASSISTANT_MSG "A_ASST_MSG I can help END_A"
#define THINKING "REASON_PART I am thinking END_R"
#define FUN_FIRST "FFF_FIRST_FUN_F"
#define FUN_SECOND "SSS_SECOND_FUN_S"
#define ARG_FIRST "AA_ARG_FST_AA"
#define ARG_SECOND "BB_ARG_SND_BB"

typedef enum { REASONING_NONE, REASONING_TAGS, REASONING_TOOLS_ONLY } reasoning_mode;

typedef struct analysis {
    const layer_info *info;
    const llamac_template *tmpl;
    reasoning_mode mode;
    char *start, *end;
} analysis;

static void set_str(char **dst, const char *p, size_t n) {
    char *s = dupn(p, n);
    if (s) {
        free(*dst);
        *dst = s;
    }
}

/* One render as the analysis makes it; NULL when the template fails on it. */
static char *analysis_render(analysis *a, json_t *messages, json_t *tools, bool agp, bool thinking) {
    json_t *extra = json_pack("{s:b}", "enable_thinking", thinking);
    layer_render r = { .messages = messages,
                       .tools = tools,
                       .add_generation_prompt = agp,
                       .enable_thinking = thinking,
                       .extra = extra,
                       .limits = &llamac__probe_limits };
    char *out = NULL;
    size_t len;
    if (!extra || layer_direct_apply(a->info, a->tmpl, &r, &out, &len) != LLAMAC_OK) {
        out = NULL;
    }
    json_decref(extra);
    return out;
}

static json_t *user_msg(void) {
    return json_pack("{s:s, s:s}", "role", "user", "content", USER_MSG);
}

/* An assistant message with or without reasoning changes the render: the markers around the reasoning. */
static void reasoning_presence(analysis *a) {
    json_t *ma = json_pack("[o, {s:s, s:s}]", user_msg(), "role", "assistant", "content", ASSISTANT_MSG);
    json_t *mb = json_pack("[o, {s:s, s:s, s:s}]", user_msg(), "role", "assistant", "content", ASSISTANT_MSG,
                           "reasoning_content", THINKING);
    char *oa = ma ? analysis_render(a, ma, NULL, false, true) : NULL;
    char *ob = oa && mb ? analysis_render(a, mb, NULL, false, true) : NULL;
    if (oa && ob) {
        layer_diff d;
        layer_diff_split(oa, ob, &d);
        if (d.right && d.right[0] && strstr(d.right, THINKING)) {
            tags t;
            if (find_wrapped(ob, THINKING, true, &t)) {
                /* both tags are never empty when the wrapped form matches */
                a->mode = REASONING_TAGS;
                set_str(&a->start, ob + t.pre_at, t.pre_n);
                set_str(&a->end, ob + t.post_at, t.post_n);
            } else if (find_delimited(ob, THINKING, &t) && t.post_n > 0) {
                a->mode = REASONING_TAGS;
                set_str(&a->end, ob + t.post_at, t.post_n);
            }
        }
        layer_diff_free(&d);
    }
    free(oa);
    free(ob);
    json_decref(ma);
    json_decref(mb);
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return k <= n && memcmp(s + n - k, tail, k) == 0;
}

/* Whether add_generation_prompt leaves a render as it is (llama-cpp-rwkv-world.jinja: `not add_generation_prompt
 * is defined` is always true, so the template sets it): llama.cpp's generation prompt, the difference, is empty. */
static bool generation_prompt_none(analysis *a) {
    json_t *msgs = json_pack("[o]", user_msg());
    char *without = msgs ? analysis_render(a, msgs, NULL, false, true) : NULL;
    char *with = without ? analysis_render(a, msgs, NULL, true, true) : NULL;
    bool same = without && with && strcmp(without, with) == 0;
    json_decref(msgs);
    free(without);
    free(with);
    return same;
}

/* The generation prompt with enable_thinking false and true: a marker that opens (or closes) the reasoning. */
static void thinking_enabled(analysis *a) {
    json_t *msgs = json_pack("[o]", user_msg());
    char *oa = msgs ? analysis_render(a, msgs, NULL, true, false) : NULL;
    char *ob = oa ? analysis_render(a, msgs, NULL, true, true) : NULL;
    json_decref(msgs);
    if (!oa || !ob) {
        free(oa);
        free(ob);
        return;
    }
    layer_diff d;
    layer_diff_split(oa, ob, &d);
    char *lt = d.left ? layer_trim(d.left, strlen(d.left)) : NULL;
    char *rt = d.right ? layer_trim(d.right, strlen(d.right)) : NULL;
    if (lt && rt) {
        if (!lt[0] && d.right[0]) {
            if (rt[0] && ends_with(ob, rt) && (!a->start || !a->start[0])) {
                set_str(&a->start, d.right, strlen(d.right));
                a->mode = REASONING_TAGS;
            }
        } else if (!rt[0] && d.left[0]) {
            if (lt[0] && ends_with(oa, lt) && (!a->end || !a->end[0])) {
                segs s;
                segmentize(oa, strlen(oa), &s);
                prune_space(&s);
                if (!s.failed && s.n >= 2 && s.v[s.n - 1].n == strlen(lt) &&
                    memcmp(s.v[s.n - 1].p, lt, s.v[s.n - 1].n) == 0 && s.v[s.n - 2].marker) {
                    set_str(&a->start, s.v[s.n - 2].p, s.v[s.n - 2].n);
                }
                llamac__dynbuf_free(&s.buf);
                set_str(&a->end, d.left, strlen(d.left));
                a->mode = REASONING_TAGS;
            }
        } else if (lt[0] && rt[0]) {
            /* the two renders differ elsewhere too: anchor on the end of one and look for two markers after it in
             * the other */
            for (int dir = 0; dir < 2; dir++) {
                const char *base = dir == 0 ? ob : oa, *ext = dir == 0 ? oa : ob;
                size_t bn = strlen(base), en = strlen(ext);
                size_t len = bn < 64 ? bn : 64;
                const char *anchor = base + bn - len;
                size_t pos = (size_t)-1;
                for (size_t i = en >= len ? en - len + 1 : 0; i-- > 0;) {
                    if (memcmp(ext + i, anchor, len) == 0) {
                        pos = i;
                        break;
                    }
                }
                if (pos == (size_t)-1 || pos + len >= en) {
                    continue;
                }
                char *extra = layer_trim(ext + pos + len, en - pos - len);
                if (!extra || !extra[0]) {
                    free(extra);
                    continue;
                }
                segs s;
                segmentize(extra, strlen(extra), &s);
                prune_space(&s);
                bool found = !s.failed && s.n == 2 && s.v[0].marker && s.v[1].marker;
                if (found) {
                    if (!a->start || !a->start[0]) {
                        set_str(&a->start, s.v[0].p, s.v[0].n);
                    }
                    if (!a->end || !a->end[0]) {
                        set_str(&a->end, s.v[1].p, s.v[1].n);
                    }
                    a->mode = REASONING_TAGS;
                }
                llamac__dynbuf_free(&s.buf);
                free(extra);
                if (found) {
                    break;
                }
            }
        }
    }
    if (a->mode == REASONING_NONE && (!a->start || !a->start[0]) && a->end && a->end[0]) {
        a->mode = REASONING_TAGS;
    }
    free(lt);
    free(rt);
    layer_diff_free(&d);
    free(oa);
    free(ob);
}

static json_t *analysis_tools(void) {
    json_t *params = json_pack("{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:[]}", "type", "object", "properties", ARG_FIRST,
                               "type", "string", "description", "First argument", ARG_SECOND, "type", "string",
                               "description", "Second argument", "required");
    json_t *tools =
        json_pack("[{s:s, s:{s:s, s:s, s:O}}, {s:s, s:{s:s, s:s, s:O}}]", "type", "function", "function", "name",
                  FUN_FIRST, "description", "Test function foo", "parameters", params, "type", "function", "function",
                  "name", FUN_SECOND, "description", "Test function bar", "parameters", params);
    json_decref(params);
    return tools;
}

/* Reasoning shown only with a tool call: the markers around it then. */
static void reasoning_scope(analysis *a) {
    json_t *tools = analysis_tools();
    json_t *ma = json_pack("[o, {s:s, s:s, s:s}]", user_msg(), "role", "assistant", "content", ASSISTANT_MSG,
                           "reasoning_content", THINKING);
    json_t *mb =
        json_pack("[o, {s:s, s:n, s:s, s:[{s:s, s:s, s:{s:s, s:{s:s, s:s}}}]}]", user_msg(), "role", "assistant",
                  "content", "reasoning_content", THINKING, "tool_calls", "id", "call00001", "type", "function",
                  "function", "name", FUN_FIRST, "arguments", ARG_FIRST, "VVVV", ARG_SECOND, "XXXX");
    char *oa = tools && ma ? analysis_render(a, ma, tools, false, true) : NULL;
    char *ob = oa && mb ? analysis_render(a, mb, tools, false, true) : NULL;
    if (oa && ob && !strstr(oa, THINKING) && strstr(ob, THINKING)) {
        a->mode = REASONING_TOOLS_ONLY;
        tags t;
        if (find_wrapped(ob, THINKING, false, &t)) {
            set_str(&a->start, ob + t.pre_at, t.pre_n);
            set_str(&a->end, ob + t.post_at, t.post_n);
        } else if (find_delimited(ob, THINKING, &t)) {
            set_str(&a->end, ob + t.post_at, t.post_n);
        } else {
            a->mode = REASONING_NONE;
        }
    }
    free(oa);
    free(ob);
    json_decref(tools);
    json_decref(ma);
    json_decref(mb);
}

/* The adjustments llama.cpp makes to the analysis for particular templates (chat-diff-analyzer.cpp, workarounds)
 * that concern the reasoning markers. */
static void reasoning_workarounds(analysis *a, const char *src, size_t n) {
    if (layer_has(src, n, "content.split('</think>')") && !layer_has(src, n, "reasoning_content") &&
        !layer_has(src, n, "<SPECIAL_12>") && a->mode == REASONING_NONE) {
        a->mode = REASONING_TAGS; /* older Qwen / DeepSeek thinking templates */
        set_str(&a->start, "<think>", 7);
        set_str(&a->end, "</think>", 8);
    }
    if (layer_has(
            src, n,
            "Write your thoughts between <think></think> and write your response between <response></response>")) {
        a->mode = REASONING_TAGS; /* Granite 3.3 */
        set_str(&a->start, "<think>", 7);
        set_str(&a->end, "</think>", 8);
    }
    if (layer_has(src, n, "<SPECIAL_10>") && layer_has(src, n, "<SPECIAL_11>") && layer_has(src, n, "<SPECIAL_12>") &&
        layer_has(src, n, "<TOOL_RESPONSE>")) {
        a->mode = REASONING_TAGS; /* Nemotron Nano v2 */
        set_str(&a->start, "<think>\n", 8);
        set_str(&a->end, "</think>", 8);
    }
    if (layer_has(src, n, "laguna_glm_thinking")) {
        char *s = a->start ? layer_trim(a->start, strlen(a->start)) : NULL;
        char *e = a->end ? layer_trim(a->end, strlen(a->end)) : NULL;
        if (s) {
            free(a->start);
            a->start = s;
        }
        if (e) {
            free(a->end);
            a->end = e;
        }
    }
}

/* ---- families ---- */

static layer_family detect_family(const char *s, size_t n) {
#define HAS(x) layer_has(s, n, x)
    if (HAS("[SYSTEM_PROMPT]") && HAS("[TOOL_CALLS]") && HAS("[ARGS]") && !HAS("[CALL_ID]")) {
        return FAMILY_MINISTRAL3;
    }
    if (HAS("<|channel|>")) {
        return FAMILY_GPT_OSS;
    }
    if (HAS("<atem:function_calls>") && HAS("<|eom|>")) {
        return FAMILY_MUSE_GLIMMER;
    }
    if (HAS(">>>all") && HAS(">>>${recipient}")) {
        return FAMILY_FUNCTIONARY_V32;
    }
    if (HAS("<|tool_calls_section_begin|>") && HAS("<|tool_call_begin|>")) {
        return FAMILY_KIMI_K2;
    }
    if (HAS("<|open|>") && HAS("<|close|>") && HAS("<|end_of_msg|>")) {
        return FAMILY_KIMI_K3;
    }
    if (HAS("<role>ASSISTANT</role>") && HAS("<arg_key>")) {
        return FAMILY_LING3;
    }
    if (HAS("<|START_TEXT|>") && HAS("<|START_ACTION|>")) {
        return FAMILY_COHERE2MOE;
    }
    if ((HAS("<|tool_list_start|>") && HAS("<|tool_list_end|>")) ||
        (HAS("List of tools: [") && !HAS("<|tool_list_start|>"))) {
        return FAMILY_LFM2;
    }
    if (HAS("<|role_sep|>") && HAS("<|message_sep|>") && !HAS("<|function_call|>")) {
        return FAMILY_GIGACHAT_V3;
    }
    if (HAS("]<]minimax[>[") && HAS("<tool_call>") && HAS("<invoke name=")) {
        return FAMILY_MINIMAX_M3;
    }
    if (HAS("dsml_token") && HAS("DSML") && (HAS("function_calls") || HAS("tool_calls"))) {
        return FAMILY_DEEPSEEK_V32;
    }
    if (HAS("'<|tool_call>call:'")) {
        return FAMILY_GEMMA4;
    }
    if (HAS("Tool usage guidelines:") && HAS("<function name=\"") && HAS("<param name=\"")) {
        return FAMILY_MINICPM5;
    }
    if (HAS("<tool_call>") && HAS("<function=") && HAS("<parameter=") &&
        !HAS("'<tool_call><function=' ~ tool_call.name ~ '>'")) {
        return FAMILY_QWEN3_CODER;
    }
    return FAMILY_GENERIC;
#undef HAS
}

/* The source patches llama.cpp applies before parsing (common_chat_templates_init): a gpt-oss check that raises on
 * its own channel markers, and a Mistral check that refuses an assistant message with empty content and no calls. */
static const char *const patches[][2] = {
    { "{%- if \"<|channel|>analysis<|message|>\" in message.content or \"<|channel|>final<|message|>\" in "
      "message.content %}",
      "{%- if false %}" },
    { "{%- if (message['content'] is none or message['content'] == '' or message['content']|length == 0) and "
      "(message['tool_calls'] is not defined or message['tool_calls'] is none or message['tool_calls']|length == 0) "
      "%}",
      "{%- if false %}" },
};
static const char *const patch_guards[] = { "<|channel|>", "[TOOL_CALLS]" };

/* The source with every occurrence of the patched checks replaced, or NULL when nothing changes. */
static char *patched_source(const char *src, size_t n, size_t *out_len) {
    char *cur = NULL;
    size_t cur_n = n;
    for (size_t k = 0; k < sizeof patches / sizeof patches[0]; k++) {
        const char *s = cur ? cur : src;
        const char *from = patches[k][0], *to = patches[k][1];
        size_t fn = strlen(from), tn = strlen(to);
        if (!layer_has(s, cur_n, patch_guards[k]) || !layer_has(s, cur_n, from)) {
            continue;
        }
        llamac__dynbuf b = LLAMAC__DYNBUF(LAYER_TEXT_MAX);
        size_t i = 0;
        while (i < cur_n) {
            if (i + fn <= cur_n && memcmp(s + i, from, fn) == 0) {
                llamac__dynbuf_add(&b, to, tn);
                i += fn;
            } else {
                llamac__dynbuf_add(&b, s + i, 1);
                i++;
            }
        }
        size_t bn = llamac__dynbuf_len(&b);
        char *next = llamac__dynbuf_take(&b, NULL);
        free(cur);
        if (!next) {
            return NULL;
        }
        cur = next;
        cur_n = bn;
    }
    *out_len = cur_n;
    return cur;
}

static void info_free(void *p) {
    layer_info *info = p;
    if (!info) {
        return;
    }
    llamac_template_free(info->patched);
    free(info->reasoning_start);
    free(info->reasoning_end);
    free(info->budget_start_owned);
    free(info->budget_end_owned);
    free(info);
}

/* The markers of a reply's thinking block, as llama.cpp's parser for the family reads them (common/chat.cpp and its
 * autoparser: the reasoning markers, trimmed). False: out of memory. */
static bool think_markers(layer_info *info) {
    static const char *const marks[][2] = {
        [FAMILY_MINISTRAL3] = { "[THINK]", "[/THINK]" },
        [FAMILY_KIMI_K3] = { "<|open|>think<|sep|>", "<|close|>think<|sep|>" },
        [FAMILY_COHERE2MOE] = { "<|START_THINKING|>", "<|END_THINKING|>" },
        [FAMILY_MINIMAX_M3] = { "<mm:think>", "</mm:think>" },
        [FAMILY_GEMMA4] = { "<|channel>thought", "<channel|>" },
        [FAMILY_QWEN3_CODER] = { "<think>\n", "</think>\n\n" },
    };
    info->think_start = info->think_end = "";
    if (info->family == FAMILY_GPT_OSS) {
        info->think_start = info->think_end = NULL;
    } else if (!info->supports_thinking) {
        return true;
    } else if (info->family == FAMILY_GENERIC) {
        /* as the analysis found them, white space included: the parser's optional white space comes from it */
        info->think_start = info->reasoning_start;
        info->think_end = info->reasoning_end;
    } else if (info->family < sizeof marks / sizeof marks[0] && marks[info->family][0]) {
        info->think_start = marks[info->family][0];
        info->think_end = marks[info->family][1];
    } else {
        info->think_start = "<think>";
        info->think_end = "</think>";
    }
    return true;
}

/* The tags of a reasoning budget: the families' own (common/chat.cpp's parsers set thinking_start_tag and
 * thinking_end_tags), else the thinking markers trimmed, as the autoparser gives them. False: out of memory. */
static bool budget_tags(layer_info *info) {
    info->budget_start = NULL;
    info->n_budget_ends = 0;
    const char *const *ends = NULL;
    static const char *const qwen3_coder[] = { "\n</think>", "</think>", "<tool_call>", NULL };
    static const char *const ling3[] = { "</think>", "<tool_call>", NULL };
    static const char *const deepseek_v32[] = { "</think>",
                                                "<\xef\xbd\x9c"
                                                "DSML\xef\xbd\x9c"
                                                "function_calls>",
                                                NULL };
    static const char *const deepseek_v4[] = { "</think>",
                                               "<\xef\xbd\x9c"
                                               "DSML\xef\xbd\x9c"
                                               "tool_calls>",
                                               NULL };
    static const char *const gpt_oss[] = { "<|end|>", NULL };
    if (info->family == FAMILY_GPT_OSS) {
        info->budget_start = "<|channel|>analysis<|message|>";
        ends = gpt_oss;
    } else if (!info->supports_thinking || info->family == FAMILY_MUSE_GLIMMER) {
        return true; /* no thinking, or (Muse Glimmer) a thinking llama.cpp gives no tags for */
    } else if (info->family == FAMILY_QWEN3_CODER || info->family == FAMILY_LING3 ||
               info->family == FAMILY_DEEPSEEK_V32) {
        info->budget_start = "<think>";
        ends = info->family == FAMILY_QWEN3_CODER ? qwen3_coder
               : info->family == FAMILY_LING3     ? ling3
               : info->deepseek_v4                ? deepseek_v4
                                                  : deepseek_v32;
    } else {
        info->budget_start_owned = layer_trim(info->think_start, strlen(info->think_start));
        info->budget_end_owned = layer_trim(info->think_end, strlen(info->think_end));
        if (!info->budget_start_owned || !info->budget_end_owned) {
            return false;
        }
        if (info->budget_start_owned[0] && info->budget_end_owned[0]) {
            info->budget_start = info->budget_start_owned;
            info->budget_ends[0] = info->budget_end_owned;
            info->n_budget_ends = 1;
        }
        return true;
    }
    for (; ends[info->n_budget_ends]; info->n_budget_ends++) {
        info->budget_ends[info->n_budget_ends] = ends[info->n_budget_ends];
    }
    return true;
}

static void *info_make(const llamac_template *tmpl, void *arg) {
    (void)arg;
    layer_info *info = llamac__calloc(1, sizeof *info);
    if (!info) {
        return NULL;
    }
    size_t raw_n, n;
    const char *raw = llamac__template_raw_source(tmpl, &raw_n);
    char *patched = patched_source(raw, raw_n, &n);
    if (patched) {
        /* the patched text parses: it only replaces a condition by `false` */
        llamac_status st = llamac__template_new_like(tmpl, patched, n, &info->patched);
        free(patched);
        if (st != LLAMAC_OK) {
            info_free(info);
            return NULL;
        }
    }
    const llamac_template *t = layer_template(info, tmpl);
    const char *src = llamac__template_source(t, &n);
    llamac__template_probe_caps(t, &info->caps);
    info->family = detect_family(src, n);
    info->trim_content = layer_has(src, n, "You have access to the following functions in JSONSchema format");
    info->developer_stays = layer_has(src, n, "<|channel|>");
    info->gemma4_old = info->family == FAMILY_GEMMA4 && !layer_has(src, n, "{#- OpenAI Chat Completions:");
    info->deepseek_v4 = info->family == FAMILY_DEEPSEEK_V32 && !layer_has(src, n, "function_calls");
    switch (info->family) {
    case FAMILY_FUNCTIONARY_V32:
    case FAMILY_GIGACHAT_V3: info->supports_thinking = false; break;
    case FAMILY_QWEN3_CODER: info->supports_thinking = layer_has(src, n, "<think>"); break;
    case FAMILY_GENERIC: {
        analysis a = { .info = info, .tmpl = tmpl, .mode = REASONING_NONE };
        reasoning_presence(&a);
        thinking_enabled(&a);
        if (info->caps.tool_calls) {
            reasoning_scope(&a);
        }
        reasoning_workarounds(&a, src, n);
        info->no_generation_prompt = generation_prompt_none(&a);
        info->supports_thinking = a.mode != REASONING_NONE;
        info->reasoning_start = a.start ? a.start : dupn("", 0);
        info->reasoning_end = a.end ? a.end : dupn("", 0);
        if (!info->reasoning_start || !info->reasoning_end) {
            info_free(info);
            return NULL;
        }
        break;
    }
    default: info->supports_thinking = true; break;
    }
    if (!think_markers(info) || !budget_tags(info)) {
        info_free(info);
        return NULL;
    }
    return info;
}

const layer_info *layer_info_get(const llamac_template *tmpl) {
    return llamac__template_attachment(tmpl, info_make, NULL, info_free);
}
