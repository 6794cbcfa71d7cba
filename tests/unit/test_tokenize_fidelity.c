/*
 * test_tokenize_fidelity.c - llamac_tokenize gives exactly llama.cpp's tokens on every tokenizer corpus that
 * llama.cpp ships (models/ggml-vocab-*.gguf with .inp cases).
 *
 * The expected ids in tests/reference/tokenize/ were produced by llama.cpp's llama-tokenize built from the pinned
 * source (scripts/gen-reference.sh). Needs the llama.cpp source tree for the vocabularies: skipped with a
 * prebuilt llama.cpp that has no source beside it.
 */
#include "check.h"

#include <dirent.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Parses "1 2 3" into ids; returns the count. */
static size_t parse_ids(const char *line, size_t len, llamac_token *ids, size_t cap) {
    size_t n = 0;
    size_t i = 0;
    while (i < len && n < cap) {
        while (i < len && line[i] == ' ') {
            i++;
        }
        if (i >= len) {
            break;
        }
        ids[n++] = (llamac_token)strtol(line + i, NULL, 10);
        while (i < len && line[i] != ' ') {
            i++;
        }
    }
    return n;
}

static int vocabs_checked;

static void check_vocab(const char *src, const char *ref_dir, const char *ref_name) {
    char name[256], vocab[1400], inp_path[1500], ref_path[2400];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(ref_name) - 4), ref_name);
    snprintf(vocab, sizeof vocab, "%s/models/%s.gguf", src, name);
    snprintf(inp_path, sizeof inp_path, "%s.inp", vocab);
    snprintf(ref_path, sizeof ref_path, "%s/%s", ref_dir, ref_name);
    size_t inp_len = 0, ref_len = 0;
    char *inp = slurp(inp_path, &inp_len);
    char *ref = slurp(ref_path, &ref_len);
    CHECK(inp != NULL);
    CHECK(ref != NULL);
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *model = NULL;
    CHECK_OK(llamac_model_load(vocab, &mp, &model));
    if (!inp || !ref || !model) {
        goto done;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sep_len = sizeof sep - 1;
    size_t pos = 0, ref_pos = 0;
    int cases = 0, mismatches = 0;
    llamac_token *expected = malloc(sizeof(llamac_token) * 65536);
    while (pos < inp_len && expected) {
        const char *next = strstr(inp + pos, sep);
        size_t case_len = next ? (size_t)(next - (inp + pos)) : inp_len - pos;
        const char *line = ref + ref_pos;
        const char *eol = strchr(line, '\n');
        CHECK(eol != NULL);
        if (!eol) {
            break;
        }
        size_t n_expected = parse_ids(line, (size_t)(eol - line), expected, 65536);
        llamac_token *got = NULL;
        size_t n_got = 0;
        llamac_status st = llamac_tokenize(model, inp + pos, case_len, 0, &got, &n_got);
        bool same =
            st == LLAMAC_OK && n_got == n_expected && (n_got == 0 || memcmp(got, expected, n_got * sizeof *got) == 0);
        if (!same) {
            mismatches++;
            fprintf(stderr, "%s case %d: %zu tokens, llama.cpp has %zu (%s)\n", name, cases, n_got, n_expected,
                    st == LLAMAC_OK ? "ids differ" : llamac_last_error());
        }
        llamac_free(got);
        cases++;
        ref_pos = (size_t)(eol - ref) + 1;
        if (!next) {
            break;
        }
        pos = (size_t)(next - inp) + sep_len;
    }
    free(expected);
    CHECK(cases > 0);
    CHECK_INT(mismatches, 0);
    CHECK_INT(ref_pos, ref_len); /* every reference line was used: the corpus and the reference agree in size */
    fprintf(stderr, "  %s: %d cases\n", name, cases);
    vocabs_checked++;
done:
    llamac_model_free(model);
    free(inp);
    free(ref);
}

static void test_all_corpora(void) {
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    const char *root = getenv("LLAMAC_SOURCE_DIR");
    if (!src || !src[0] || !root) {
        fprintf(stderr, "SKIP: no llama.cpp source tree (prebuilt llama.cpp)\n");
        exit(77);
    }
    char ref_dir[1024];
    snprintf(ref_dir, sizeof ref_dir, "%s/tests/reference/tokenize", root);
    DIR *d = opendir(ref_dir);
    CHECK(d != NULL);
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".txt") == 0) {
            check_vocab(src, ref_dir, e->d_name);
        }
    }
    closedir(d);
    CHECK(vocabs_checked >= 10);
}

int main(void) {
    RUN(test_all_corpora);
    TESTS_DONE();
}
