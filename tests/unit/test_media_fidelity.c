/*
 * test_media_fidelity.c - llamac's multimodal path gives what llama.cpp's own llama-mtmd-cli gives, built from the same
 * pinned source: the embeddings of each image and audio clip byte for byte (llama-mtmd-cli dumps them with
 * MTMD_DEBUG_EMBEDDINGS=FILE as [int32 n_tokens][int32 n_embd][float data]), and the same greedy text for the same
 * chat prompt, flash attention off on both sides, from llamac_generate_media on the rendered prompt and from a chat
 * session given the medium and the text as a message's parts. The cases are tests/reference/mtmd/cases.tsv; the
 * references come from scripts/reference/mtmd.sh, which runs this program with --write-fixtures DIR to write the very
 * projectors and media files the test uses (stories260K-chatml with projectors from llamac_synth_mmproj_write).
 */
#include "check.h"
#include "media_fixtures.h"

#include <sys/stat.h>

#define MODEL "stories260K-chatml.gguf"
#define N_THREADS 2

/* The projectors of the cases: a vision "mlp" one and an audio "ultravox" one with frames stacked by 16 (94 tokens
 * per 30 s, so its reference stays small). */
static bool write_projectors(const char *model, const char *dir) {
    char path[1200];
    llamac_synth_mmproj_params p = llamac_synth_mmproj_params_default();
    p.text_model = model;
    snprintf(path, sizeof path, "%s/mmproj-vision.gguf", dir);
    if (llamac_synth_mmproj_write(path, &p) != LLAMAC_OK) {
        return false;
    }
    p.vision = false;
    p.audio = true;
    p.stack_factor = 16;
    snprintf(path, sizeof path, "%s/mmproj-audio.gguf", dir);
    return llamac_synth_mmproj_write(path, &p) == LLAMAC_OK;
}

static bool write_fixtures(const char *model, const char *dir) {
    mkdir(dir, 0755);
    char path[1200];
    for (size_t i = 0; i < FX_N_FIXTURES; i++) {
        if (!fx_write(&fx_fixtures[i], dir, path, sizeof path)) {
            fprintf(stderr, "cannot write %s\n", path);
            return false;
        }
    }
    if (!write_projectors(model, dir)) {
        fprintf(stderr, "cannot write the projectors: %s\n", llamac_last_error());
        return false;
    }
    return true;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)end + 1);
    *n = buf ? fread(buf, 1, (size_t)end, f) : 0;
    if (buf) {
        buf[*n] = '\0';
    }
    fclose(f);
    return buf;
}

struct text {
    char buf[8192];
    size_t len;
};

static bool collect(const char *s, size_t n, void *ud) {
    struct text *t = ud;
    if (t->len + n < sizeof t->buf) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
    }
    return true;
}

/* The prompt llama-mtmd-cli makes of `-p TEXT`: one user message through the model's chat template. */
static char *chat_prompt(llamac_model *model, const char *text) {
    llamac_template *tmpl = NULL;
    CHECK_OK(llamac_template_from_model(model, NULL, &tmpl));
    char json[1024];
    snprintf(json, sizeof json, "[{\"role\":\"user\",\"content\":\"%s\"}]", text);
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = json;
    char *out = NULL;
    size_t len = 0;
    CHECK_OK(llamac_template_render(tmpl, &in, &out, &len));
    llamac_template_free(tmpl);
    return out;
}

/* Compares llamac's embeddings with llama-mtmd-cli's dump; says where they differ. */
static void compare_embd(const char *name, const float *e, size_t n_floats, int32_t n_embd, const char *ref_path) {
    size_t n = 0;
    unsigned char *ref = read_file(ref_path, &n);
    CHECK(ref != NULL);
    if (!ref) {
        return;
    }
    int32_t hdr[2] = { 0, 0 };
    if (n >= sizeof hdr) {
        memcpy(hdr, ref, sizeof hdr);
    }
    CHECK_INT(hdr[1], n_embd);
    CHECK_INT((long long)hdr[0] * hdr[1], (long long)n_floats);
    CHECK_INT(n, sizeof hdr + n_floats * sizeof(float));
    if (n == sizeof hdr + n_floats * sizeof(float)) {
        const float *r = (const float *)(ref + sizeof hdr);
        size_t differ = 0, first = 0;
        float worst = 0;
        for (size_t i = 0; i < n_floats; i++) {
            if (memcmp(&r[i], &e[i], sizeof(float)) != 0) {
                if (differ++ == 0) {
                    first = i;
                }
                float d = fabsf(r[i] - e[i]);
                worst = d > worst ? d : worst;
            }
        }
        if (differ) {
            fprintf(stderr,
                    "%s: %zu of %zu embedding values differ from llama-mtmd-cli's, the first at %zu (%g vs %g), "
                    "at most by %g\n",
                    name, differ, n_floats, first, (double)e[first], (double)r[first], (double)worst);
        }
        CHECK_INT(differ, 0);
    }
    free(ref);
}

int main(int argc, char **argv) {
    const char *model_path = test_model(MODEL);
    if (argc == 3 && strcmp(argv[1], "--write-fixtures") == 0) {
        return write_fixtures(model_path, argv[2]) ? 0 : 1;
    }
    const char *src = getenv("LLAMAC_SOURCE_DIR");
    char ref_dir[1024], cases_path[1100];
    snprintf(ref_dir, sizeof ref_dir, "%s/tests/reference/mtmd", src && src[0] ? src : ".");
    snprintf(cases_path, sizeof cases_path, "%s/cases.tsv", ref_dir);
    FILE *cases = fopen(cases_path, "r");
    if (!cases) {
        fprintf(stderr, "cannot read %s\n", cases_path);
        return 1;
    }
    llamac_model *model = NULL;
    if (llamac_model_load(model_path, NULL, &model) != LLAMAC_OK) {
        fprintf(stderr, "cannot load %s: %s\n", model_path, llamac_last_error());
        return 1;
    }
    llamac_mmproj *probe = NULL;
    if (llamac_mmproj_load(model, model_path, NULL, &probe) == LLAMAC_E_UNSUPPORTED) {
        fprintf(stderr, "SKIP: %s\n", llamac_last_error());
        return 77;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmp("fixtures"));
    CHECK(write_fixtures(model_path, dir));
    llamac_mmproj_params mp = llamac_mmproj_params_default();
    mp.n_threads = N_THREADS;
    mp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    llamac_mmproj *vision = NULL, *audio = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/mmproj-vision.gguf", dir);
    CHECK_OK(llamac_mmproj_load(model, path, &mp, &vision));
    snprintf(path, sizeof path, "%s/mmproj-audio.gguf", dir);
    CHECK_OK(llamac_mmproj_load(model, path, &mp, &audio));
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 2048;
    cp.n_threads = N_THREADS;
    cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
    if (!vision || !audio || !ctx) {
        return 1;
    }

    char line[1024];
    int n_cases = 0;
    struct text first_text = { "", 0 };
    bool other_differs = false;
    while (fgets(line, sizeof line, cases)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#') {
            continue;
        }
        /* name, projector (vision | audio), media file, tokens to predict, the user's text */
        char *fields[5] = { NULL, NULL, NULL, NULL, NULL };
        char *save = NULL, *tok = strtok_r(line, "\t", &save);
        for (int f = 0; f < 5 && tok; f++, tok = strtok_r(NULL, "\t", &save)) {
            fields[f] = tok;
        }
        if (!fields[4]) {
            fprintf(stderr, "malformed case line in %s\n", cases_path);
            check_failed++;
            continue;
        }
        n_cases++;
        const char *name = fields[0];
        llamac_mmproj *proj = strcmp(fields[1], "audio") == 0 ? audio : vision;
        snprintf(path, sizeof path, "%s/%s", dir, fields[2]);
        llamac_media *m = NULL;
        CHECK_OK(llamac_media_from_file(proj, path, &m));
        char *prompt = chat_prompt(model, fields[4]);
        if (!m || !prompt) {
            free(prompt);
            continue;
        }
        /* Embeddings: the medium's chunk, encoded. */
        llamac_chunks *c = NULL;
        CHECK_OK(llamac_mmproj_tokenize(proj, prompt, strlen(prompt),
                                        LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &m, 1, &c));
        for (size_t i = 0; c && i < llamac_chunks_count(c); i++) {
            llamac_chunk_info ci;
            CHECK_OK(llamac_chunks_get(c, i, &ci));
            if (ci.type != LLAMAC_CHUNK_TEXT) {
                float *e = NULL;
                size_t n = 0;
                CHECK_OK(llamac_mmproj_encode(proj, c, i, &e, &n));
                snprintf(path, sizeof path, "%s/%s.embd", ref_dir, name);
                if (e) {
                    compare_embd(name, e, n, 64, path);
                }
                llamac_free(e);
            }
        }
        llamac_chunks_free(c);
        /* Greedy text. */
        struct text t = { "", 0 };
        llamac_generate_params gp = llamac_generate_params_default();
        gp.max_tokens = atoi(fields[3]);
        gp.sampling.temp = 0;
        gp.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
        gp.on_text = collect;
        gp.user_data = &t;
        CHECK_OK(llamac_generate_media(ctx, proj, prompt, strlen(prompt), &m, 1, &gp, NULL));
        snprintf(path, sizeof path, "%s/%s.txt", ref_dir, name);
        size_t n_ref = 0;
        char *ref = (char *)read_file(path, &n_ref);
        CHECK(ref != NULL);
        if (ref) {
            if (strcmp(t.buf, ref) != 0) {
                fprintf(stderr, "%s: llamac's text differs from llama-mtmd-cli's\n", name);
            }
            CHECK_STR(t.buf, ref);
            CHECK(n_ref > 0);
        }
        /* The same through a chat session: the medium, then the text after the marker. */
        llamac_chat_params chp = llamac_chat_params_default();
        chp.mmproj = proj;
        chp.generate.max_tokens = gp.max_tokens;
        chp.generate.sampling.temp = 0;
        llamac_chat *chat = NULL;
        CHECK_OK(llamac_chat_new(ctx, &chp, &chat));
        const char *after = strstr(fields[4], "<__media__>");
        after = after ? after + strlen("<__media__>") : fields[4];
        const llamac_chat_part parts[2] = { { NULL, 0, m }, { after, strlen(after), NULL } };
        struct text ct = { "", 0 };
        if (chat) {
            CHECK_OK(llamac_chat_add_parts(chat, "user", parts, 2));
            CHECK_OK(llamac_chat_generate(chat, collect, &ct, NULL));
            if (ref) {
                CHECK_STR(ct.buf, ref);
            }
        }
        llamac_chat_free(chat);
        if (n_cases == 1) {
            first_text = t;
        } else if (strcmp(fields[1], "vision") == 0 && strcmp(t.buf, first_text.buf) != 0) {
            other_differs = true;
        }
        fprintf(stderr, "%-12s %s\n", name, t.buf);
        free(ref);
        free(prompt);
        llamac_media_free(m);
    }
    fclose(cases);
    CHECK(n_cases >= 5);
    CHECK(other_differs); /* other images, other text: the image reaches the model */
    llamac_ctx_free(ctx);
    llamac_mmproj_free(vision);
    llamac_mmproj_free(audio);
    llamac_model_free(model);
    TESTS_DONE();
}
