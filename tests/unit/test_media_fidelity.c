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
#include "helpers.h"
#include "media_fixtures.h"

#include <pthread.h>
#include <sys/stat.h>

#define MODEL "stories260K-chatml.gguf"
#define N_THREADS 2

static bool exists_newer_than_self(const char *path) {
    struct stat f, self;
    return stat(path, &f) == 0 && stat("/proc/self/exe", &self) == 0 && f.st_mtime > self.st_mtime;
}

/* The models and projectors of the cases, into `dir`:
 *   mmproj-vision.gguf   a LLaVA-style "mlp" projector for stories260K-chatml
 *   mmproj-audio.gguf    an "ultravox" one, frames stacked by 16 (94 tokens per 30 s: a small reference)
 *   mmproj-gemma3.gguf   Gemma 3's projector (non-causal images), 4 tokens per image
 *   qwen2vl-64.gguf      a qwen2vl text model (M-RoPE) with Qwen2's vocabulary and chat template, written only when
 *                        llama.cpp's source tree is there ($LLAMAC_LLAMA_SOURCE), with its Qwen2-VL projector
 *                        mmproj-qwen2vl.gguf (images at their aspect ratio, w x h tokens advancing max(w, h) positions)
 * The qwen2vl model (84 MB: Qwen2's vocabulary) is kept while it is newer than this program. */
static bool write_models(const char *model, const char *dir) {
    char path[1200], qwen[1200], vocab[1200];
    llamac_synth_mmproj_params p = llamac_synth_mmproj_params_default();
    p.text_model = model;
    snprintf(path, sizeof path, "%s/mmproj-vision.gguf", dir);
    bool ok = llamac_synth_mmproj_write(path, &p) == LLAMAC_OK;
    p.vision_projector = "gemma3";
    snprintf(path, sizeof path, "%s/mmproj-gemma3.gguf", dir);
    ok = ok && llamac_synth_mmproj_write(path, &p) == LLAMAC_OK;
    p.vision_projector = NULL;
    p.vision = false;
    p.audio = true;
    p.stack_factor = 16;
    snprintf(path, sizeof path, "%s/mmproj-audio.gguf", dir);
    ok = ok && llamac_synth_mmproj_write(path, &p) == LLAMAC_OK;
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-qwen2.gguf", src ? src : "");
    struct stat sb;
    if (!ok || !src || !src[0] || stat(vocab, &sb) != 0) {
        return ok;
    }
    snprintf(qwen, sizeof qwen, "%s/qwen2vl-64.gguf", dir);
    if (!exists_newer_than_self(qwen)) {
        llamac_synth_params tp = llamac_synth_params_default();
        tp.arch = "qwen2vl";
        tp.vocab_from = vocab;
        tp.n_head_kv = 2;
        tp.n_ctx_train = 1024;
        tp.untied_output = true;
        ok = llamac_synth_write(qwen, &tp) == LLAMAC_OK;
    }
    p = llamac_synth_mmproj_params_default();
    p.text_model = qwen;
    p.vision_projector = "qwen2vl";
    snprintf(path, sizeof path, "%s/mmproj-qwen2vl.gguf", dir);
    return ok && llamac_synth_mmproj_write(path, &p) == LLAMAC_OK;
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
    if (!write_models(model, dir)) {
        fprintf(stderr, "cannot write the models: %s\n", llamac_last_error());
        return false;
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
    unsigned char *ref = (unsigned char *)test_read_file(ref_path, &n);
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
        size_t differ = 0, first = 0;
        float worst = 0, r_first = 0;
        for (size_t i = 0; i < n_floats; i++) {
            float r; /* the dump's bytes, copied: they need not be aligned for a float */
            memcpy(&r, ref + sizeof hdr + i * sizeof r, sizeof r);
            if (memcmp(&r, &e[i], sizeof(float)) != 0) {
                if (differ++ == 0) {
                    first = i;
                    r_first = r;
                }
                float d = fabsf(r - e[i]);
                worst = d > worst ? d : worst;
            }
        }
        if (differ) {
            fprintf(stderr,
                    "%s: %zu of %zu embedding values differ from llama-mtmd-cli's, the first at %zu (%g vs %g), "
                    "at most by %g\n",
                    name, differ, n_floats, first, (double)e[first], (double)r_first, (double)worst);
        }
        /* Bit for bit on the CPU the references were written on; another CPU's SIMD kernels sum in another order
         * (measured on an AVX2-only AMD EPYC against AVX-512 references: at most 1.7e-6), while a wrong image, size,
         * position or projector moves values by tenths. */
        CHECK(worst <= 1e-5f);
    }
    free(ref);
}

/* The M-RoPE model of `dir` (qwen2vl-64.gguf, which --write-fixtures makes only with the llama.cpp source) and its
 * projector, encoding with flash attention `fa`; false, with nothing loaded, when the model is not there. */
static bool load_qwen2vl(const char *dir, llamac_flash_attn fa, llamac_model **m, llamac_mmproj **proj) {
    char path[1200];
    snprintf(path, sizeof path, "%s/qwen2vl-64.gguf", dir);
    struct stat sb;
    *m = NULL;
    *proj = NULL;
    if (stat(path, &sb) != 0) {
        return false;
    }
    CHECK_OK(llamac_model_load(path, NULL, m));
    llamac_mmproj_params mp = llamac_mmproj_params_default();
    mp.n_threads = N_THREADS;
    mp.flash_attn = fa;
    mp.warmup = false;
    snprintf(path, sizeof path, "%s/mmproj-qwen2vl.gguf", dir);
    if (*m) {
        CHECK_OK(llamac_mmproj_load(*m, path, &mp, proj));
    }
    return true;
}

/* With M-RoPE an image advances positions by less than its tokens: a second turn that reuses the first from the cache
 * must continue at the right positions, so its reply equals a fresh session's on the same conversation. */
static void chat_mrope(const char *dir) {
    char path[1200];
    llamac_model *m = NULL;
    llamac_mmproj *proj = NULL;
    llamac_context *c1 = NULL, *c2 = NULL;
    llamac_media *img = NULL;
    if (!load_qwen2vl(dir, llamac_mmproj_params_default().flash_attn, &m, &proj)) {
        return;
    }
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 1024;
    cp.n_threads = N_THREADS;
    CHECK_OK(llamac_ctx_new(m, &cp, &c1));
    CHECK_OK(llamac_ctx_new(m, &cp, &c2));
    snprintf(path, sizeof path, "%s/stripes-64x16.png", dir);
    CHECK_OK(llamac_media_from_file(proj, path, &img));
    if (!c1 || !c2 || !img) {
        goto done;
    }
    llamac_chat_params chp = llamac_chat_params_default();
    chp.mmproj = proj;
    chp.generate.max_tokens = 8;
    chp.generate.sampling.temp = 0;
    llamac_chat *chat = NULL, *fresh = NULL;
    CHECK_OK(llamac_chat_new(c1, &chp, &chat));
    CHECK_OK(llamac_chat_new(c2, &chp, &fresh));
    const llamac_chat_part parts[2] = { { NULL, 0, img }, { "What is it?", 11, NULL } };
    struct test_sink t1 = { .len = 0 }, t2 = { .len = 0 }, f2 = { .len = 0 };
    llamac_chat_result r1, r2, fr;
    if (chat && fresh) {
        CHECK_OK(llamac_chat_add_parts(chat, "user", parts, 2));
        CHECK_OK(llamac_chat_generate(chat, test_on_text, &t1, &r1));
        CHECK_OK(llamac_chat_add(chat, "user", "And the colours?", 16));
        CHECK_OK(llamac_chat_generate(chat, test_on_text, &t2, &r2));
        CHECK(r2.n_reused_tokens >= r1.gen.n_prompt_tokens);
        CHECK_OK(llamac_chat_add_parts(fresh, "user", parts, 2));
        CHECK_OK(llamac_chat_add(fresh, "assistant", t1.text, t1.len));
        CHECK_OK(llamac_chat_add(fresh, "user", "And the colours?", 16));
        CHECK_OK(llamac_chat_generate(fresh, test_on_text, &f2, &fr));
        CHECK_INT(fr.n_reused_tokens, 0);
        CHECK_INT(fr.gen.n_prompt_tokens, r2.gen.n_prompt_tokens);
        CHECK_STR(t2.text, f2.text);
        fprintf(stderr, "%-12s turn 2 (%d of %d prompt tokens reused) %s\n", "mrope chat", r2.n_reused_tokens,
                r2.gen.n_prompt_tokens, t2.text);
    }
    llamac_chat_free(chat);
    llamac_chat_free(fresh);
done:
    llamac_media_free(img);
    llamac_ctx_free(c1);
    llamac_ctx_free(c2);
    llamac_mmproj_free(proj);
    llamac_model_free(m);
}

/* ---- the engine (llamac serve's) with an M-RoPE model ---- */

/* Runs request a, and b from a's first token (both at once, in two slots), to the end. */
static void er_pair(llamac_engine *e, const llamac_engine_request *a, struct fx_run *wa, const llamac_engine_request *b,
                    struct fx_run *wb) {
    fx_run_init(wa, e, b);
    fx_run_init(wb, e, NULL);
    CHECK_OK(llamac_engine_submit(e, a, NULL));
    fx_run_wait(wa);
    CHECK_OK(wa->then_status);
    CHECK(wa->then == NULL); /* b was submitted */
    if (wa->then == NULL && wa->then_status == LLAMAC_OK) {
        fx_run_wait(wb);
    }
}

/* The engine places an M-RoPE model's tokens at its positions (an image of w x h tokens advances them by max(w, h)):
 * two requests with images at once in two slots answer what llama-mtmd-cli answers (the references the cases above
 * tie llamac_generate_media to); sent again, each reuses its slot's cache, the image included, one of them after its
 * cache was parked in host memory while the other slot generated, with the same answer; and a second turn that
 * shares the first's prefix with the image reuses it and answers as llamac_generate_media does on the whole
 * conversation. */
static void engine_mrope(const char *dir, const char *ref_dir) {
    char path[1200];
    llamac_model *m = NULL;
    llamac_mmproj *proj = NULL;
    llamac_context *ctx = NULL;
    llamac_engine *e = NULL;
    llamac_media *img[2] = { NULL, NULL };
    llamac_chunks *c[2] = { NULL, NULL }, *c2 = NULL;
    char *prompt[2] = { NULL, NULL }, *ref[2] = { NULL, NULL }, *turn2 = NULL;
    const char *text[2] = { "Look: <__media__> What is it?", "<__media__>Describe it" };
    const char *file[2] = { "gradient-32x32.png", "stripes-64x16.png" };
    const char *ref_name[2] = { "mrope", "mrope-wide" };
    const unsigned flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
    if (!load_qwen2vl(dir, LLAMAC_FLASH_ATTN_OFF, &m, &proj)) {
        return;
    }
    if (!proj) {
        goto done;
    }
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 1024;
    cp.n_threads = N_THREADS;
    cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 2;
    ep.n_ctx = 2048;
    ep.n_threads = N_THREADS;
    ep.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    CHECK_OK(llamac_engine_new(m, &ep, &e));
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, file[i]);
        CHECK_OK(llamac_media_from_file(proj, path, &img[i]));
        prompt[i] = chat_prompt(m, text[i]);
        if (img[i] && prompt[i]) {
            CHECK_OK(llamac_mmproj_tokenize(proj, prompt[i], strlen(prompt[i]), flags, &img[i], 1, &c[i]));
        }
        snprintf(path, sizeof path, "%s/%s.txt", ref_dir, ref_name[i]);
        size_t n = 0;
        ref[i] = test_read_file(path, &n);
        CHECK(ref[i] != NULL && n > 0);
    }
    if (!ctx || !e || !c[0] || !c[1] || !ref[0] || !ref[1]) {
        goto done;
    }
    /* Both at once, in two slots: llama-mtmd-cli's answers. */
    struct fx_run wa, wb;
    llamac_engine_request ra = fx_run_request(c[0], -1, 16, &wa), rb = fx_run_request(c[1], -1, 16, &wb);
    er_pair(e, &ra, &wa, &rb, &wb);
    CHECK_STR(wa.text.text, ref[0]);
    CHECK_STR(wb.text.text, ref[1]);
    CHECK(wa.res.slot != wb.res.slot);
    for (int i = 0; i < 2; i++) {
        const struct fx_run *w = i == 0 ? &wa : &wb;
        CHECK_INT(w->res.usage.prompt_tokens, (int32_t)llamac_chunks_n_tokens(c[i])); /* tokens, not positions */
        CHECK(llamac_chunks_n_pos(c[i]) < (llamac_pos)llamac_chunks_n_tokens(c[i]));
        CHECK_INT(w->res.usage.cached_tokens, 0);
    }
    int32_t slot_a = wa.res.slot, slot_b = wb.res.slot;
    struct test_sink first_a = wa.text;
    /* Again, each on its slot, the second while the first generates: everything but the last prompt token is reused,
     * the image included; the second slot's cache had been parked while the first request ran. */
    llamac_engine_stats before, after;
    CHECK_OK(llamac_engine_get_stats(e, &before));
    ra = fx_run_request(c[0], slot_a, 16, &wa);
    rb = fx_run_request(c[1], slot_b, 16, &wb);
    er_pair(e, &ra, &wa, &rb, &wb);
    CHECK_OK(llamac_engine_get_stats(e, &after));
    CHECK_STR(wa.text.text, ref[0]);
    CHECK_STR(wb.text.text, ref[1]);
    CHECK_INT(wa.res.usage.cached_tokens, wa.res.usage.prompt_tokens - 1);
    CHECK_INT(wb.res.usage.cached_tokens, wb.res.usage.prompt_tokens - 1);
    CHECK(after.slots_restored > before.slots_restored);
    /* A second turn: the first prompt, its answer, another question. */
    const char *next = "<|im_end|>\n<|im_start|>user\nAnd the colours?<|im_end|>\n<|im_start|>assistant\n";
    size_t len = strlen(prompt[0]) + first_a.len + strlen(next);
    turn2 = malloc(len + 1);
    CHECK(turn2 != NULL);
    if (!turn2) {
        goto done;
    }
    snprintf(turn2, len + 1, "%s%s%s", prompt[0], first_a.text, next);
    struct test_sink fresh = { .len = 0 };
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 16;
    gp.sampling.temp = 0;
    gp.tokenize_flags = flags;
    gp.on_text = test_on_text;
    gp.user_data = &fresh;
    CHECK_OK(llamac_generate_media(ctx, proj, turn2, len, &img[0], 1, &gp, NULL));
    CHECK_OK(llamac_mmproj_tokenize(proj, turn2, len, flags, &img[0], 1, &c2));
    if (c2) {
        ra = fx_run_request(c2, slot_a, 16, &wa);
        fx_run_init(&wa, e, NULL);
        CHECK_OK(llamac_engine_submit(e, &ra, NULL));
        fx_run_wait(&wa);
        CHECK_STR(wa.text.text, fresh.text);
        CHECK(wa.res.usage.cached_tokens >= (int32_t)llamac_chunks_n_tokens(c[0]));
        fprintf(stderr, "%-12s turn 2 (%d of %d prompt tokens reused) %s\n", "mrope engine", wa.res.usage.cached_tokens,
                wa.res.usage.prompt_tokens, wa.text.text);
    }
done:
    llamac_engine_free(e);
    for (int i = 0; i < 2; i++) {
        llamac_chunks_free(c[i]);
        llamac_media_free(img[i]);
        free(prompt[i]);
        free(ref[i]);
    }
    llamac_chunks_free(c2);
    free(turn2);
    llamac_ctx_free(ctx);
    llamac_mmproj_free(proj);
    llamac_model_free(m);
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
        fclose(cases);
        return 1;
    }
    llamac_mmproj *probe = NULL;
    if (llamac_mmproj_load(model, model_path, NULL, &probe) == LLAMAC_E_UNSUPPORTED) {
        fprintf(stderr, "SKIP: %s\n", llamac_last_error());
        llamac_model_free(model);
        fclose(cases);
        return 77;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmp("fixtures"));
    CHECK(write_fixtures(model_path, dir));
    llamac_model_free(model);
    char path[1200];
    char line[1024];
    int n_cases = 0, n_skipped = 0;
    struct test_sink first_text = { .len = 0 };
    bool other_differs = false;
    while (fgets(line, sizeof line, cases)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#') {
            continue;
        }
        /* name, model, projector, media file, tokens to predict, the user's text */
        char *f[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
        char *save = NULL, *tok = strtok_r(line, "\t", &save);
        for (int k = 0; k < 6 && tok; k++, tok = strtok_r(NULL, "\t", &save)) {
            f[k] = tok;
        }
        if (!f[5]) {
            fprintf(stderr, "malformed case line in %s\n", cases_path);
            check_failed++;
            continue;
        }
        const char *name = f[0];
        /* The model: a test model, else one written into the fixtures. */
        const char *models_dir = getenv("LLAMAC_TEST_MODELS");
        snprintf(path, sizeof path, "%s/%s", models_dir && models_dir[0] ? models_dir : "../shared/models", f[1]);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, f[1]);
        }
        if (stat(path, &sb) != 0) {
            fprintf(stderr, "%-12s skipped: no %s (it needs llama.cpp's source tree for its vocabulary)\n", name, f[1]);
            n_skipped++;
            continue;
        }
        n_cases++;
        llamac_model *m = NULL;
        llamac_mmproj *proj = NULL;
        llamac_context *ctx = NULL;
        llamac_media *medium = NULL;
        char *prompt = NULL, *ref = NULL;
        CHECK_OK(llamac_model_load(path, NULL, &m));
        llamac_mmproj_params mp = llamac_mmproj_params_default();
        mp.n_threads = N_THREADS;
        mp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
        mp.warmup = false; /* Qwen2-VL's warmup image is 46 x 46 tokens: gigabytes of attention */
        snprintf(path, sizeof path, "%s/%s", dir, f[2]);
        if (m) {
            CHECK_OK(llamac_mmproj_load(m, path, &mp, &proj));
        }
        llamac_ctx_params cp = llamac_ctx_params_default();
        cp.n_ctx = 1024;
        cp.n_threads = N_THREADS;
        cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
        if (proj) {
            CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
            snprintf(path, sizeof path, "%s/%s", dir, f[3]);
            CHECK_OK(llamac_media_from_file(proj, path, &medium));
            prompt = chat_prompt(m, f[5]);
        }
        if (!ctx || !medium || !prompt) {
            goto next;
        }
        /* Embeddings: the medium's chunk, encoded. */
        llamac_chunks *c = NULL;
        CHECK_OK(llamac_mmproj_tokenize(proj, prompt, strlen(prompt),
                                        LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &medium, 1, &c));
        llamac_mmproj_info pi;
        llamac_mmproj_get_info(proj, &pi);
        for (size_t i = 0; c && i < llamac_chunks_count(c); i++) {
            llamac_chunk_info ci;
            CHECK_OK(llamac_chunks_get(c, i, &ci));
            if (ci.type != LLAMAC_CHUNK_TEXT) {
                if (pi.mrope) {
                    CHECK(ci.n_pos < (llamac_pos)ci.n_tokens); /* w x h tokens advance max(w, h) positions */
                }
                float *e = NULL;
                size_t n = 0;
                CHECK_OK(llamac_mmproj_encode(proj, c, i, &e, &n));
                snprintf(path, sizeof path, "%s/%s.embd", ref_dir, name);
                if (e) {
                    compare_embd(name, e, n, pi.n_embd, path);
                }
                llamac_free(e);
            }
        }
        llamac_chunks_free(c);
        /* Greedy text from llamac_generate_media. */
        struct test_sink t = { .len = 0 };
        llamac_generate_params gp = llamac_generate_params_default();
        gp.max_tokens = atoi(f[4]);
        gp.sampling.temp = 0;
        gp.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
        gp.on_text = test_on_text;
        gp.user_data = &t;
        CHECK_OK(llamac_generate_media(ctx, proj, prompt, strlen(prompt), &medium, 1, &gp, NULL));
        snprintf(path, sizeof path, "%s/%s.txt", ref_dir, name);
        size_t n_ref = 0;
        ref = test_read_file(path, &n_ref);
        CHECK(ref != NULL && n_ref > 0);
        if (ref) {
            if (strcmp(t.text, ref) != 0) {
                fprintf(stderr, "%s: llamac's text differs from llama-mtmd-cli's\n", name);
            }
            CHECK_STR(t.text, ref);
        }
        /* The same through a chat session: the text before the marker, the medium, the text after it. */
        llamac_chat_params chp = llamac_chat_params_default();
        chp.mmproj = proj;
        chp.generate.max_tokens = gp.max_tokens;
        chp.generate.sampling.temp = 0;
        llamac_chat *chat = NULL;
        CHECK_OK(llamac_chat_new(ctx, &chp, &chat));
        const char *mk = strstr(f[5], "<__media__>");
        const char *after = mk ? mk + strlen("<__media__>") : f[5];
        const llamac_chat_part parts[3] = { { f[5], mk ? (size_t)(mk - f[5]) : 0, NULL },
                                            { NULL, 0, medium },
                                            { after, strlen(after), NULL } };
        struct test_sink ct = { .len = 0 };
        if (chat) {
            bool lead = parts[0].len > 0;
            CHECK_OK(llamac_chat_add_parts(chat, "user", lead ? parts : parts + 1, lead ? 3 : 2));
            CHECK_OK(llamac_chat_generate(chat, test_on_text, &ct, NULL));
            if (ref) {
                CHECK_STR(ct.text, ref);
            }
        }
        llamac_chat_free(chat);
        if (n_cases == 1) {
            first_text = t;
        } else if (strcmp(f[1], "stories260K-chatml.gguf") == 0 && strcmp(f[2], "mmproj-vision.gguf") == 0 &&
                   strcmp(t.text, first_text.text) != 0) {
            other_differs = true;
        }
        fprintf(stderr, "%-12s %s\n", name, t.text);
    next:
        free(ref);
        free(prompt);
        llamac_media_free(medium);
        llamac_ctx_free(ctx);
        llamac_mmproj_free(proj);
        llamac_model_free(m);
    }
    fclose(cases);
    chat_mrope(dir);
    engine_mrope(dir, ref_dir);
    CHECK(n_cases + n_skipped >= 8);
    CHECK(n_cases >= 6);
    CHECK(other_differs); /* other images, other text: the image reaches the model */
    TESTS_DONE();
}
