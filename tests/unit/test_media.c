/*
 * test_media.c - multimodal input on a real model (stories260K-chatml) with projectors llamac_synth_mmproj_write
 * makes: synthesized projectors load in libmtmd; images and audio decode from files, buffers, pixels and samples; a
 * prompt with media tokenizes into the chunks libmtmd makes; encoding is deterministic and the image reaches the
 * model (different images, different text); and every way libmtmd would crash, abort, throw or start a program
 * (a key of the wrong type, a missing or short tensor, one audio sample, an image too large, an undecodable
 * buffer, encodes from several threads at once) ends in a precise LLAMAC_E_* error or a correct result instead.
 * The engine (llamac serve's) evaluates media into its slots and reuses them by id.
 */
#include "check.h"
#include "helpers.h"
#include "media_fixtures.h"

#include <errno.h>
#include <ggml.h>
#include <gguf.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODEL "stories260K-chatml.gguf"

static llamac_model *g_model;
static const char *g_vision; /* synthesized projectors */
static const char *g_audio;
static const char *g_both;
static const char *g_gemma3;  /* Gemma 3's projector: images decoded with non-causal attention */
static const char *g_qwen2vl; /* Qwen2-VL's, here only for its pre-checks */
static char g_fixtures[1024]; /* folder holding the fixtures */

static llamac_mmproj_params quiet_params(void) {
    llamac_mmproj_params p = llamac_mmproj_params_default();
    p.n_threads = 2;
    p.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    return p;
}

static llamac_mmproj *load_proj(const char *path) {
    llamac_mmproj_params p = quiet_params();
    llamac_mmproj *proj = NULL;
    CHECK_OK(llamac_mmproj_load(g_model, path, &p, &proj));
    return proj;
}

static const char *fixture(const char *file) {
    static char paths[8][1200];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", g_fixtures, file);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
}

/* ---- projectors ---- */

static void test_synth_and_load(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio), *b = load_proj(g_both);
    llamac_mmproj_info info;
    if (v && llamac_mmproj_get_info(v, &info) == LLAMAC_OK) {
        CHECK(info.vision);
        CHECK(!info.audio);
        CHECK_INT(info.audio_sample_rate, 0);
        CHECK_INT(info.n_embd, 64);
        CHECK(!info.mrope);
        CHECK(!info.non_causal);
        CHECK_STR(info.vision_projector, "mlp");
        CHECK(info.audio_projector == NULL);
        CHECK_STR(info.marker, "<__media__>");
    }
    if (a && llamac_mmproj_get_info(a, &info) == LLAMAC_OK) {
        CHECK(!info.vision);
        CHECK(info.audio);
        CHECK_INT(info.audio_sample_rate, 16000);
        CHECK_STR(info.audio_projector, "ultravox");
    }
    if (b && llamac_mmproj_get_info(b, &info) == LLAMAC_OK) {
        CHECK(info.vision && info.audio);
        CHECK_STR(info.vision_projector, "mlp");
        CHECK_STR(info.audio_projector, "ultravox");
    }
    /* The projector keeps its model alive. */
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
    llamac_mmproj_free(b);
}

static void test_synth_params(void) {
    llamac_synth_mmproj_params p = llamac_synth_mmproj_params_default();
    CHECK(p.vision && !p.audio);
    const char *out = test_tmp("bad-mmproj.gguf");
    unlink(out);
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_INVALID_ARGUMENT); /* no width to project to */
    CHECK_ERROR_HAS("n_embd_text");
    p.n_embd_text = 64;
    p.vision = false;
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("nothing to write");
    p.vision = true;
    p.n_head = 5;
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_head 5 does not divide n_embd 32");
    p.n_head = 0;
    p.patch_size = 5;
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("patch_size 5 does not divide image_size 32");
    p.patch_size = 0;
    p.init_std = 2;
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_INVALID_ARGUMENT);
    p.init_std = 0;
    p.text_model = "/nonexistent/model.gguf";
    p.n_embd_text = 0;
    CHECK_STATUS(llamac_synth_mmproj_write(out, &p), LLAMAC_E_IO);
    struct stat sb;
    CHECK(stat(out, &sb) != 0); /* nothing written */
    /* Same parameters, same bytes; another seed, other bytes. */
    p.text_model = test_model(MODEL);
    const char *a = test_tmp("same-a.gguf"), *b = test_tmp("same-b.gguf"), *c = test_tmp("same-c.gguf");
    CHECK_OK(llamac_synth_mmproj_write(a, &p));
    CHECK_OK(llamac_synth_mmproj_write(b, &p));
    p.seed = 7;
    CHECK_OK(llamac_synth_mmproj_write(c, &p));
    size_t na = 0, nb = 0, nc = 0;
    unsigned char *da = (unsigned char *)test_read_file(a, &na), *db = (unsigned char *)test_read_file(b, &nb),
                  *dc = (unsigned char *)test_read_file(c, &nc);
    CHECK(da && db && dc && na == nb && na == nc);
    CHECK(da && db && memcmp(da, db, na) == 0);
    CHECK(da && dc && memcmp(da, dc, na) != 0);
    free(da);
    free(db);
    free(dc);
}

static void test_load_errors(void) {
    llamac_mmproj *proj = (llamac_mmproj *)1;
    llamac_mmproj_params p = quiet_params();
    CHECK_STATUS(llamac_mmproj_load(NULL, g_vision, &p, &proj), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(proj == NULL);
    CHECK_STATUS(llamac_mmproj_load(g_model, "/nonexistent.gguf", &p, &proj), LLAMAC_E_IO);
    CHECK_STATUS(llamac_mmproj_load(g_model, ".", &p, &proj), LLAMAC_E_IO);
    const char *junk = test_tmp("junk.gguf");
    write_bytes(junk, "not a gguf file at all", 22);
    CHECK_STATUS(llamac_mmproj_load(g_model, junk, &p, &proj), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("not a GGUF file");
    /* A text model is not a projector. */
    CHECK_STATUS(llamac_mmproj_load(g_model, test_model(MODEL), &p, &proj), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("neither a vision nor an audio encoder");
    /* Parameters. */
    p.marker = "";
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_INVALID_ARGUMENT);
    p = quiet_params();
    p.marker = "\xff\xfe";
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_UTF8);
    p = quiet_params();
    p.image_min_tokens = 10;
    p.image_max_tokens = 5;
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_INVALID_ARGUMENT);
    p = quiet_params();
    p.max_audio_seconds = 0;
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_INVALID_ARGUMENT);
    p = quiet_params();
    p.offload = (llamac_mmproj_offload)7;
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_INVALID_ARGUMENT);
    /* A projector for another width: made for a 96-wide model, loaded with the 64-wide one. */
    llamac_synth_mmproj_params sp = llamac_synth_mmproj_params_default();
    sp.n_embd_text = 96;
    const char *wide = test_tmp("wide.gguf");
    CHECK_OK(llamac_synth_mmproj_write(wide, &sp));
    p = quiet_params();
    CHECK_STATUS(llamac_mmproj_load(g_model, wide, &p, &proj), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("mm.2.weight");
}

static bool cancel_progress(float progress, void *user_data) {
    (void)progress;
    (*(int *)user_data)++;
    return false;
}

static void test_load_cancel(void) {
    llamac_mmproj_params p = quiet_params();
    int calls = 0;
    p.progress = cancel_progress;
    p.progress_user_data = &calls;
    llamac_mmproj *proj = NULL;
    CHECK_STATUS(llamac_mmproj_load(g_model, g_vision, &p, &proj), LLAMAC_E_CANCELLED);
    CHECK(calls >= 1);
    CHECK(proj == NULL);
}

/* ---- the pre-check: files that would crash libmtmd ---- */

/* Copies the GGUF `src` into `dst` with edits: `edit` changes the metadata, tensor `drop` is left out, tensor
 * `shrink` keeps only its first `rows` rows (dimension 1). */
static void rewrite(const char *src, const char *dst, void (*edit)(struct gguf_context *), const char *drop,
                    const char *shrink, int64_t rows) {
    struct ggml_context *data = NULL;
    struct gguf_init_params ip = { .no_alloc = false, .ctx = &data };
    struct gguf_context *in = gguf_init_from_file(src, ip);
    CHECK(in != NULL);
    if (!in) {
        return;
    }
    struct gguf_context *out = gguf_init_empty();
    gguf_set_kv(out, in);
    if (edit) {
        edit(out);
    }
    struct ggml_init_params gp = { .mem_size = 16 * 1024 * 1024, .mem_buffer = NULL, .no_alloc = false };
    struct ggml_context *extra = ggml_init(gp);
    for (int64_t i = 0; i < gguf_get_n_tensors(in); i++) {
        const char *name = gguf_get_tensor_name(in, i);
        struct ggml_tensor *t = ggml_get_tensor(data, name);
        if (drop && strcmp(name, drop) == 0) {
            continue;
        }
        if (shrink && strcmp(name, shrink) == 0) {
            struct ggml_tensor *s = ggml_new_tensor_2d(extra, t->type, t->ne[0], rows);
            memcpy(s->data, t->data, ggml_row_size(t->type, t->ne[0]) * (size_t)rows);
            ggml_set_name(s, name);
            t = s;
        }
        gguf_add_tensor(out, t);
    }
    CHECK(gguf_write_to_file(out, dst, false));
    gguf_free(out);
    gguf_free(in);
    ggml_free(extra);
    ggml_free(data);
}

static void image_size_as_string(struct gguf_context *g) {
    gguf_set_val_str(g, "clip.vision.image_size", "32");
}

static void eps_as_u32(struct gguf_context *g) {
    gguf_set_val_u32(g, "clip.audio.attention.layer_norm_epsilon", 1);
}

static void has_vision_as_u8(struct gguf_context *g) {
    gguf_set_val_u8(g, "clip.has_vision_encoder", 1);
}

static void name_as_array(struct gguf_context *g) {
    const int32_t v[2] = { 1, 2 };
    gguf_set_arr_data(g, "general.name", GGUF_TYPE_INT32, v, 2);
}

static void no_projector_type(struct gguf_context *g) {
    gguf_remove_key(g, "clip.projector_type");
}

static void expect_refused(const char *path, const char *needle) {
    llamac_mmproj_params p = quiet_params();
    llamac_mmproj *proj = (llamac_mmproj *)1;
    CHECK_STATUS(llamac_mmproj_load(g_model, path, &p, &proj), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS(needle);
    CHECK(proj == NULL);
}

static void test_precheck(void) {
    const char *bad = test_tmp("bad.gguf");
    /* gguf aborts on a getter of the wrong type: each of these would kill the process inside libmtmd. */
    rewrite(g_vision, bad, image_size_as_string, NULL, NULL, 0);
    expect_refused(bad, "key 'clip.vision.image_size' is str, but libmtmd reads it as u32");
    rewrite(g_audio, bad, eps_as_u32, NULL, NULL, 0);
    expect_refused(bad, "key 'clip.audio.attention.layer_norm_epsilon' is u32, but libmtmd reads it as f32");
    rewrite(g_vision, bad, has_vision_as_u8, NULL, NULL, 0);
    expect_refused(bad, "key 'clip.has_vision_encoder' is u8, but libmtmd reads it as bool");
    rewrite(g_vision, bad, name_as_array, NULL, NULL, 0);
    expect_refused(bad, "key 'general.name' is an array of i32");
    rewrite(g_vision, bad, no_projector_type, NULL, NULL, 0);
    expect_refused(bad, "no projector type");
    /* An mlp projector without mm.2.weight: libmtmd dereferences it unconditionally. */
    rewrite(g_vision, bad, NULL, "mm.2.weight", NULL, 0);
    expect_refused(bad, "has no tensor 'mm.2.weight'");
    rewrite(g_vision, bad, NULL, "mm.0.bias", NULL, 0);
    expect_refused(bad, "has no tensor 'mm.0.bias'");
    rewrite(g_vision, bad, NULL, "v.blk.0.attn_q.weight", NULL, 0);
    expect_refused(bad, "has no tensor 'v.blk.0.attn_q.weight'");
    /* Position tables shorter than the image's patches or the audio window: asserts at encode time. */
    rewrite(g_vision, bad, NULL, NULL, "v.position_embd.weight", 10);
    expect_refused(bad, "'v.position_embd.weight' has 10 positions, but a 32x32 image in 8x8 patches needs 17");
    rewrite(g_audio, bad, NULL, NULL, "a.position_embd.weight", 1000);
    expect_refused(bad, "'a.position_embd.weight' has 1000 positions, but a 30-second window needs 1500");
    /* The Whisper graph asserts its biases. */
    rewrite(g_audio, bad, NULL, "a.blk.1.ln2.bias", NULL, 0);
    expect_refused(bad, "has no tensor 'a.blk.1.ln2.bias'");
    rewrite(g_audio, bad, NULL, "mm.a.mlp.2.weight", NULL, 0);
    expect_refused(bad, "has no tensor 'mm.a.mlp.2.weight'");
    /* A misshapen tensor. */
    rewrite(g_vision, bad, NULL, NULL, "mm.2.weight", 32);
    expect_refused(bad, "tensor 'mm.2.weight' has shape [64, 32], but dimension 1 must be 64");
    /* Gemma 3's graph adds its position table to the patches as it is: it must have one row per patch, exactly. */
    rewrite(g_gemma3, bad, NULL, NULL, "v.position_embd.weight", 15);
    expect_refused(bad, "tensor 'v.position_embd.weight' has shape [32, 15], but dimension 1 must be 16");
    rewrite(g_gemma3, bad, NULL, "mm.input_projection.weight", NULL, 0);
    expect_refused(bad, "has no tensor 'mm.input_projection.weight'");
    /* Qwen2-VL's graph adds the K bias unconditionally. */
    rewrite(g_qwen2vl, bad, NULL, "v.blk.1.attn_k.bias", NULL, 0);
    expect_refused(bad, "has no tensor 'v.blk.1.attn_k.bias'");
    rewrite(g_qwen2vl, bad, NULL, "v.patch_embd.weight.1", NULL, 0);
    expect_refused(bad, "has no tensor 'v.patch_embd.weight.1'");
    /* A cut file. */
    size_t n = 0;
    unsigned char *bytes = (unsigned char *)test_read_file(g_vision, &n);
    if (bytes) {
        write_bytes(bad, bytes, n / 2);
        expect_refused(bad, "truncated");
        free(bytes);
    }
}

/* ---- media ---- */

static void test_media_files(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    if (!v || !a) {
        return;
    }
    llamac_media *m = NULL, *m2 = NULL;
    llamac_media_info info;
    CHECK_OK(llamac_media_from_file(v, fixture("rings-48x40.png"), &m));
    if (m && llamac_media_get_info(m, &info) == LLAMAC_OK) {
        CHECK_INT(info.type, LLAMAC_MEDIA_IMAGE);
        CHECK_INT(info.nx, 48);
        CHECK_INT(info.ny, 40);
        CHECK_STR(info.format, "png");
        CHECK_INT(strlen(info.id), 64);
        CHECK(strspn(info.id, "0123456789abcdef") == 64);
    }
    /* The id is the content's: the same bytes from a buffer give the same id, other bytes another. */
    size_t n = 0;
    unsigned char *bytes = (unsigned char *)test_read_file(fixture("rings-48x40.png"), &n);
    CHECK_OK(llamac_media_from_buffer(v, bytes, n, &m2));
    llamac_media_info info2;
    if (m && m2 && llamac_media_get_info(m2, &info2) == LLAMAC_OK) {
        CHECK_STR(info2.id, info.id);
    }
    llamac_media_free(m2);
    m2 = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("gradient-32x32.png"), &m2));
    if (m && m2 && llamac_media_get_info(m2, &info2) == LLAMAC_OK) {
        CHECK(strcmp(info2.id, info.id) != 0);
    }
    llamac_media_free(m2);
    llamac_media_free(m);
    free(bytes);
    /* Audio. */
    m = NULL;
    CHECK_OK(llamac_media_from_file(a, fixture("tone-1s.wav"), &m));
    if (m && llamac_media_get_info(m, &info) == LLAMAC_OK) {
        CHECK_INT(info.type, LLAMAC_MEDIA_AUDIO);
        CHECK_INT(info.n_samples, 16000);
        CHECK_INT(info.sample_rate, 16000);
        CHECK_STR(info.format, "wav");
    }
    llamac_media_free(m);
    /* Modality: an image for the audio projector, audio for the vision one. */
    m = (llamac_media *)1;
    CHECK_STATUS(llamac_media_from_file(a, fixture("dot-1x1.png"), &m), LLAMAC_E_UNSUPPORTED);
    CHECK(m == NULL);
    CHECK_STATUS(llamac_media_from_file(v, fixture("tone-1s.wav"), &m), LLAMAC_E_UNSUPPORTED);
    CHECK_STATUS(llamac_media_from_file(v, "/nonexistent.png", &m), LLAMAC_E_IO);
    CHECK_STATUS(llamac_media_from_file(v, g_fixtures, &m), LLAMAC_E_IO);
    CHECK_STATUS(llamac_media_from_buffer(v, NULL, 3, &m), LLAMAC_E_INVALID_ARGUMENT);
    /* Raw pixels and samples. */
    uint8_t rgb[4 * 3 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) {
        rgb[i] = (uint8_t)(i * 7);
    }
    m = NULL;
    CHECK_OK(llamac_media_from_rgb(v, 4, 3, rgb, &m));
    if (m && llamac_media_get_info(m, &info) == LLAMAC_OK) {
        CHECK_INT(info.nx, 4);
        CHECK_INT(info.ny, 3);
        CHECK_STR(info.format, "rgb");
        CHECK_INT(strlen(info.id), 64);
    }
    llamac_media_free(m);
    CHECK_STATUS(llamac_media_from_rgb(v, 0, 3, rgb, &m), LLAMAC_E_INVALID_ARGUMENT);
    float pcm[800];
    for (size_t i = 0; i < 800; i++) {
        pcm[i] = fx_tone((uint32_t)i, 16000);
    }
    m = NULL;
    CHECK_OK(llamac_media_from_pcm(a, pcm, 800, &m));
    llamac_media_free(m);
    pcm[5] = NAN;
    CHECK_STATUS(llamac_media_from_pcm(a, pcm, 800, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("sample 5 is not a finite number");
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
}

/* One audio sample: libmtmd asserts (its buffer must hold more than one float). */
static void test_short_audio(void) {
    llamac_mmproj *a = load_proj(g_audio);
    if (!a) {
        return;
    }
    llamac_media *m = (llamac_media *)1;
    float one = 0.25f;
    CHECK_STATUS(llamac_media_from_pcm(a, &one, 1, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("1 samples (0.06 ms at 16000 Hz); at least 10 ms are needed");
    CHECK(m == NULL);
    const char *wav = test_tmp("one-sample.wav");
    CHECK(fx_write_wav(wav, 16000, 1, fx_tone));
    CHECK_STATUS(llamac_media_from_file(a, wav, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("at least 10 ms");
    CHECK(fx_write_wav(wav, 16000, 159, fx_tone)); /* 9.9 ms */
    CHECK_STATUS(llamac_media_from_file(a, wav, &m), LLAMAC_E_MEDIA);
    CHECK(fx_write_wav(wav, 16000, 160, fx_tone)); /* 10 ms */
    m = NULL;
    CHECK_OK(llamac_media_from_file(a, wav, &m));
    llamac_media_free(m);
    /* A header that claims 37 hours is refused before anything is decoded (decoding would allocate 8 GB). */
    unsigned char huge[44 + 64];
    memset(huge, 0, sizeof huge);
    FILE *f = fopen(wav, "rb");
    CHECK(f && fread(huge, 1, 44, f) == 44);
    if (f) {
        fclose(f);
    }
    fx_le(huge + 40, 0xFFFFFFF0u, 4);
    CHECK_STATUS(llamac_media_from_buffer(a, huge, sizeof huge, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("by its header");
    llamac_mmproj_free(a);
}

/* WAVs that libmtmd's decoder cannot open are refused before it sees them (it leaks on some of them): compressed
 * encodings, an inconsistent or missing "fmt " chunk, no whole frame of samples. A float WAV is taken. */
static void test_wav_checks(void) {
    llamac_mmproj *a = load_proj(g_audio);
    if (!a) {
        return;
    }
    llamac_media *m = (llamac_media *)1;
    /* MS-ADPCM with a 16-byte "fmt " chunk and 2 bytes of data: what make fuzz's fuzz_media found leaking */
    unsigned char adpcm[] = "RIFFD\3\0\0WAVEfmt \x10\0\0\0\2\0\1\0\x80\x3e\0\0\0\x7d\0\0\2\0\x10\0data\2\0\0\0\0\0";
    CHECK_STATUS(llamac_media_from_buffer(a, adpcm, sizeof adpcm - 1, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("encoding (format tag 0x0002, 16 bits) is not accepted");
    CHECK(m == NULL);
    unsigned char w[44 + 800];
    memset(w, 0, sizeof w);
    const char *path = test_tmp("checks.wav");
    FILE *f = NULL;
    CHECK(fx_write_wav(path, 16000, 400, fx_tone) && (f = fopen(path, "rb")) && fread(w, 1, sizeof w, f) == sizeof w);
    if (f) {
        fclose(f);
    }
    unsigned char bad[sizeof w];
    memcpy(bad, w, sizeof w);
    fx_le(bad + 32, 3, 2); /* frames of 3 bytes for 16-bit mono */
    CHECK_STATUS(llamac_media_from_buffer(a, bad, sizeof bad, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("inconsistent (1 channels, 16000 Hz, 3-byte frames of 16-bit samples)");
    CHECK_STATUS(llamac_media_from_buffer(a, w, 44 + 1, &m), LLAMAC_E_MEDIA); /* half a sample */
    CHECK_ERROR_HAS("the WAV holds 1 bytes of samples, less than one 2-byte frame");
    CHECK_STATUS(llamac_media_from_buffer(a, w, 36, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("the WAV has no \"data\" chunk");
    memcpy(bad, w, sizeof w);
    memcpy(bad + 12, "LIST", 4); /* the "fmt " chunk renamed */
    CHECK_STATUS(llamac_media_from_buffer(a, bad, sizeof bad, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("comes before its \"fmt \" chunk");
    memcpy(bad, w, sizeof w); /* 32-bit float, 200 samples (12.5 ms) */
    fx_le(bad + 20, 3, 2);
    fx_le(bad + 28, 16000 * 4, 4);
    fx_le(bad + 32, 4, 2);
    fx_le(bad + 34, 32, 2);
    for (int i = 0; i < 200; i++) {
        float v = 0.25f * (float)(i % 4) - 0.5f;
        memcpy(bad + 44 + 4 * i, &v, 4);
    }
    m = NULL;
    CHECK_OK(llamac_media_from_buffer(a, bad, sizeof bad, &m));
    llamac_media_free(m);
    llamac_mmproj_free(a);
}

/* A PNG header claiming w x h, with no pixel data after it. */
static size_t png_header(unsigned char *buf, uint32_t w, uint32_t h) {
    memcpy(buf, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    fx_be32(buf + 16, w);
    fx_be32(buf + 20, h);
    memcpy(buf + 24, "\x08\x02\0\0\0\0\0\0\0", 9);
    return 33;
}

static void test_image_limits(void) {
    llamac_mmproj *v = load_proj(g_vision);
    if (!v) {
        return;
    }
    unsigned char buf[64];
    llamac_media *m = (llamac_media *)1;
    /* 100000 x 100000 would make stb_image ask for 30 GB: refused from the header. */
    size_t n = png_header(buf, 100000, 100000);
    CHECK_STATUS(llamac_media_from_buffer(v, buf, n, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("100000 x 100000 pixels; the largest side accepted is 16384");
    CHECK(m == NULL);
    n = png_header(buf, 16000, 16000);
    CHECK_STATUS(llamac_media_from_buffer(v, buf, n, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("= 256000000 pixels; at most 67108864 are accepted");
    n = png_header(buf, 0, 7);
    CHECK_STATUS(llamac_media_from_buffer(v, buf, n, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("empty image");
    /* JPEG, GIF and BMP headers are read too. */
    static const unsigned char jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 'J',  'F',  0xFF, 0xC0,
                                          0x00, 0x11, 0x08, 0xEA, 0x60, 0xEA, 0x60, 0x03, 0x01, 0x22,
                                          0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9 };
    CHECK_STATUS(llamac_media_from_buffer(v, jpeg, sizeof jpeg, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("60000 x 60000 pixels");
    unsigned char jpeg_arith[sizeof jpeg];
    memcpy(jpeg_arith, jpeg, sizeof jpeg);
    jpeg_arith[9] = 0xC9;
    CHECK_STATUS(llamac_media_from_buffer(v, jpeg_arith, sizeof jpeg_arith, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("SOF9");
    static const unsigned char gif[] = { 'G', 'I', 'F', '8', '9', 'a', 0x10, 0x27, 0x10, 0x27, 0, 0, 0 };
    CHECK_STATUS(llamac_media_from_buffer(v, gif, sizeof gif, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("10000 x 10000 = 100000000 pixels");
    unsigned char bmp[54] = { 'B', 'M' };
    fx_le(bmp + 14, 40, 4);
    fx_le(bmp + 18, 20000, 4);
    fx_le(bmp + 22, (uint32_t)-5, 4); /* top-down */
    CHECK_STATUS(llamac_media_from_buffer(v, bmp, sizeof bmp, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("20000 x 5 pixels");
    /* Limits are the caller's to set. */
    llamac_mmproj_params p = quiet_params();
    p.max_image_side = 40;
    llamac_mmproj *small = NULL;
    CHECK_OK(llamac_mmproj_load(g_model, g_vision, &p, &small));
    if (small) {
        CHECK_STATUS(llamac_media_from_file(small, fixture("rings-48x40.png"), &m), LLAMAC_E_MEDIA);
        CHECK_ERROR_HAS("48 x 40 pixels; the largest side accepted is 40");
        m = NULL;
        CHECK_OK(llamac_media_from_file(small, fixture("gradient-32x32.png"), &m));
        llamac_media_free(m);
    }
    llamac_mmproj_free(small);
    p = quiet_params();
    p.max_media_bytes = 100;
    CHECK_OK(llamac_mmproj_load(g_model, g_vision, &p, &small));
    if (small) {
        CHECK_STATUS(llamac_media_from_file(small, fixture("gradient-32x32.png"), &m), LLAMAC_E_MEDIA);
        CHECK_ERROR_HAS("at most 100 are accepted");
    }
    llamac_mmproj_free(small);
    llamac_mmproj_free(v);
}

/* Buffers that are no accepted image or audio: refused, and never handed to ffprobe (a libmtmd built with video
 * support runs it from PATH on what stb_image cannot decode). A fake ffprobe in PATH records any call. */
static void test_undecodable(void) {
    llamac_mmproj *v = load_proj(g_vision);
    if (!v) {
        return;
    }
    const char *bin = test_tmp("fakebin");
    mkdir(bin, 0755);
    char script[1200], marker[1200];
    snprintf(script, sizeof script, "%s/ffprobe", bin);
    snprintf(marker, sizeof marker, "%s/ffprobe-ran", bin);
    unlink(marker);
    FILE *f = fopen(script, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "#!/bin/sh\ntouch '%s'\nexit 1\n", marker);
        fclose(f);
        chmod(script, 0755);
    }
    char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s:%s", bin, old_path ? old_path : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    llamac_media *m = (llamac_media *)1;
    static const unsigned char noise[] = { 0x13, 0x37, 0xC0, 0xDE, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
    CHECK_STATUS(llamac_media_from_buffer(v, noise, sizeof noise, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("not an accepted image or audio format");
    CHECK(m == NULL);
    CHECK_STATUS(llamac_media_from_buffer(v, noise, 0, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("empty");
    static const unsigned char webp[] = { 'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ' };
    CHECK_STATUS(llamac_media_from_buffer(v, webp, sizeof webp, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("WebP");
    /* A real PNG header over corrupt data: recognised, then stb_image fails, and libmtmd's fallback must not run. */
    size_t n = 0;
    unsigned char *png = (unsigned char *)test_read_file(fixture("gradient-32x32.png"), &n);
    if (png) {
        for (size_t i = 41; i < n - 12; i++) {
            png[i] ^= 0x5A;
        }
        CHECK_STATUS(llamac_media_from_buffer(v, png, n, &m), LLAMAC_E_MEDIA);
        CHECK_ERROR_HAS("cannot be decoded");
        png[9] = 0;
        CHECK_STATUS(llamac_media_from_buffer(v, png, 20, &m), LLAMAC_E_MEDIA);
        CHECK_ERROR_HAS("cut short");
        free(png);
    }
    /* A file that says it is a JPEG but is not one. */
    static const unsigned char fake_jpeg[] = { 0xFF, 0xD8, 0xFF, 0xDA, 0, 0, 0, 0 };
    CHECK_STATUS(llamac_media_from_buffer(v, fake_jpeg, sizeof fake_jpeg, &m), LLAMAC_E_MEDIA);
    CHECK_ERROR_HAS("no frame header");
    struct stat sb;
    CHECK(stat(marker, &sb) != 0 && errno == ENOENT);
    if (old_path) {
        setenv("PATH", old_path, 1);
    }
    free(old_path);
    llamac_mmproj_free(v);
}

/* ---- prompts ---- */

static void test_tokenize(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    if (!v || !a) {
        return;
    }
    llamac_media *img = NULL, *img2 = NULL, *snd = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("gradient-32x32.png"), &img));
    CHECK_OK(llamac_media_from_file(v, fixture("dot-1x1.png"), &img2));
    CHECK_OK(llamac_media_from_file(a, fixture("tone-1s.wav"), &snd));
    const char *prompt = "Look: <__media__> and <__media__>. What is it?";
    llamac_media *two[2] = { img, img2 };
    llamac_chunks *c = NULL;
    CHECK_OK(llamac_mmproj_tokenize(v, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, two, 2, &c));
    CHECK_INT(llamac_chunks_count(c), 5);
    llamac_chunk_info ci;
    size_t total = 0;
    for (size_t i = 0; i < llamac_chunks_count(c); i++) {
        CHECK_OK(llamac_chunks_get(c, i, &ci));
        CHECK_INT(ci.type, i % 2 ? LLAMAC_CHUNK_IMAGE : LLAMAC_CHUNK_TEXT);
        CHECK_INT(ci.n_pos, (int)ci.n_tokens);
        total += ci.n_tokens;
        if (ci.type == LLAMAC_CHUNK_IMAGE) {
            CHECK_INT(ci.n_tokens, 16); /* (32 / 8)^2, whatever the input size */
            CHECK(ci.id && strlen(ci.id) == 64);
            CHECK(ci.tokens == NULL);
        } else {
            CHECK(ci.tokens != NULL && ci.id == NULL);
        }
    }
    CHECK_INT(llamac_chunks_n_tokens(c), (long long)total);
    CHECK_INT(llamac_chunks_n_pos(c), (long long)total);
    /* The text chunks are the model's tokens of the text around the markers, BOS first. */
    llamac_token *t = NULL;
    size_t nt = 0;
    CHECK_OK(llamac_tokenize(g_model, "Look: ", 6, LLAMAC_TOKENIZE_ADD_SPECIAL, &t, &nt));
    CHECK_OK(llamac_chunks_get(c, 0, &ci));
    CHECK(ci.n_tokens == nt && t && memcmp(ci.tokens, t, nt * sizeof *t) == 0);
    llamac_free(t);
    CHECK_STATUS(llamac_chunks_get(c, 5, &ci), LLAMAC_E_INVALID_ARGUMENT);
    llamac_chunks_free(c);
    /* Audio: 30-second windows of 375 tokens (one window for a second of audio). */
    const char *ap = "Listen <__media__>";
    c = NULL;
    CHECK_OK(llamac_mmproj_tokenize(a, ap, strlen(ap), 0, &snd, 1, &c));
    CHECK_INT(llamac_chunks_count(c), 2);
    CHECK_OK(llamac_chunks_get(c, 1, &ci));
    CHECK_INT(ci.type, LLAMAC_CHUNK_AUDIO);
    CHECK_INT(ci.n_tokens, 375);
    llamac_chunks_free(c);
    /* Errors. */
    c = (llamac_chunks *)1;
    CHECK_STATUS(llamac_mmproj_tokenize(v, prompt, strlen(prompt), 0, two, 1, &c), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("2 media markers");
    CHECK(c == NULL);
    CHECK_STATUS(llamac_mmproj_tokenize(v, "no marker", 9, 0, two, 1, &c), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_mmproj_tokenize(v, "\xc3<__media__>", 12, 0, two, 1, &c), LLAMAC_E_UTF8);
    CHECK_STATUS(llamac_mmproj_tokenize(v, prompt, strlen(prompt), 0x40, two, 2, &c), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_mmproj_tokenize(v, ap, strlen(ap), 0, &snd, 1, &c), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("projector takes no audio");
    CHECK_STATUS(llamac_mmproj_tokenize(a, "<__media__>", 11, 0, &img, 1, &c), LLAMAC_E_UNSUPPORTED);
    llamac_media *null_media = NULL;
    CHECK_STATUS(llamac_mmproj_tokenize(v, "<__media__>", 11, 0, &null_media, 1, &c), LLAMAC_E_INVALID_ARGUMENT);
    /* A custom marker; the default one is then plain text. */
    llamac_mmproj_params p = quiet_params();
    p.marker = "[img]";
    llamac_mmproj *cm = NULL;
    CHECK_OK(llamac_mmproj_load(g_model, g_vision, &p, &cm));
    if (cm) {
        c = NULL;
        CHECK_OK(llamac_mmproj_tokenize(cm, "<__media__> [img]", 17, 0, &img, 1, &c));
        CHECK_INT(llamac_chunks_count(c), 2);
        llamac_chunks_free(c);
    }
    llamac_mmproj_free(cm);
    /* Media outlive the caller's handles inside chunks. */
    c = NULL;
    CHECK_OK(llamac_mmproj_tokenize(v, "<__media__>!", 12, 0, &img, 1, &c));
    llamac_media_free(img);
    llamac_media_free(img2);
    llamac_media_free(snd);
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
    CHECK_INT(llamac_chunks_count(c), 2);
    llamac_chunks_free(c);
}

static float *encode_file(llamac_mmproj *proj, const char *file, size_t *n) {
    llamac_media *m = NULL;
    llamac_chunks *c = NULL;
    float *embd = NULL;
    CHECK_OK(llamac_media_from_file(proj, fixture(file), &m));
    CHECK_OK(llamac_mmproj_tokenize(proj, "<__media__>", 11, 0, &m, 1, &c));
    CHECK_OK(llamac_mmproj_encode(proj, c, 0, &embd, n));
    llamac_chunks_free(c);
    llamac_media_free(m);
    return embd;
}

static void test_encode(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    if (!v || !a) {
        return;
    }
    size_t n1 = 0, n2 = 0, n3 = 0, na = 0;
    float *e1 = encode_file(v, "gradient-32x32.png", &n1);
    float *e2 = encode_file(v, "gradient-32x32.png", &n2);
    float *e3 = encode_file(v, "checker-32x32.png", &n3);
    CHECK_INT(n1, 16 * 64);
    CHECK(e1 && e2 && n1 == n2 && memcmp(e1, e2, n1 * sizeof *e1) == 0);
    CHECK(e1 && e3 && memcmp(e1, e3, n1 * sizeof *e1) != 0);
    bool finite = e1 != NULL;
    for (size_t i = 0; e1 && i < n1; i++) {
        finite = finite && isfinite(e1[i]);
    }
    CHECK(finite);
    float *ea = encode_file(a, "tone-1s.wav", &na);
    CHECK_INT(na, 375 * 64);
    llamac_free(e1);
    llamac_free(e2);
    llamac_free(e3);
    llamac_free(ea);
    /* Errors: a text chunk, a chunk out of range, chunks of another projector. */
    llamac_media *m = NULL;
    llamac_chunks *c = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("dot-1x1.png"), &m));
    CHECK_OK(llamac_mmproj_tokenize(v, "x<__media__>", 12, 0, &m, 1, &c));
    float *e = (float *)1;
    CHECK_STATUS(llamac_mmproj_encode(v, c, 0, &e, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("chunk 0 is text");
    CHECK(e == NULL);
    CHECK_STATUS(llamac_mmproj_encode(v, c, 9, &e, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_mmproj_encode(a, c, 1, &e, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("another projector");
    llamac_chunks_free(c);
    llamac_media_free(m);
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
}

/* Encodes from several threads at once on one projector: each must get its own image's embeddings (libmtmd keeps
 * the encoder's output in the projector; without the lock, threads would read each other's). */
struct encoder_job {
    llamac_mmproj *proj;
    llamac_chunks *chunks[2];
    const float *want[2];
    size_t n;
    int mismatches;
};

static void *encoder_thread(void *arg) {
    struct encoder_job *j = arg;
    for (int r = 0; r < 12; r++) {
        int k = r % 2;
        float *e = NULL;
        size_t n = 0;
        if (llamac_mmproj_encode(j->proj, j->chunks[k], 0, &e, &n) != LLAMAC_OK || n != j->n ||
            memcmp(e, j->want[k], n * sizeof *e) != 0) {
            j->mismatches++;
        }
        llamac_free(e);
    }
    return NULL;
}

static void test_encode_threads(void) {
    llamac_mmproj *v = load_proj(g_vision);
    if (!v) {
        return;
    }
    llamac_media *m[2] = { NULL, NULL };
    llamac_chunks *c[2] = { NULL, NULL };
    float *want[2] = { NULL, NULL };
    size_t n = 0;
    CHECK_OK(llamac_media_from_file(v, fixture("gradient-32x32.png"), &m[0]));
    CHECK_OK(llamac_media_from_file(v, fixture("rings-48x40.png"), &m[1]));
    for (int k = 0; k < 2; k++) {
        CHECK_OK(llamac_mmproj_tokenize(v, "<__media__>", 11, 0, &m[k], 1, &c[k]));
        CHECK_OK(llamac_mmproj_encode(v, c[k], 0, &want[k], &n));
    }
    struct encoder_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct encoder_job){ v, { c[i % 2], c[(i + 1) % 2] }, { want[i % 2], want[(i + 1) % 2] }, n, 0 };
        pthread_create(&th[i], NULL, encoder_thread, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].mismatches;
    }
    CHECK_INT(bad, 0);
    for (int k = 0; k < 2; k++) {
        llamac_free(want[k]);
        llamac_chunks_free(c[k]);
        llamac_media_free(m[k]);
    }
    llamac_mmproj_free(v);
}

/* ---- evaluation and generation ---- */

static llamac_context *new_ctx(uint32_t n_ctx) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = n_ctx;
    cp.n_threads = 2;
    cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(g_model, &cp, &ctx));
    return ctx;
}

static llamac_status gen(llamac_context *ctx, llamac_mmproj *proj, const char *file, const char *prompt,
                         struct test_sink *out, llamac_generate_result *res) {
    llamac_media *m = NULL;
    llamac_status st = llamac_media_from_file(proj, fixture(file), &m);
    CHECK_INT(st, LLAMAC_OK);
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 24;
    gp.sampling.temp = 0;
    gp.on_text = test_on_text;
    gp.user_data = out;
    out->len = 0;
    out->text[0] = '\0';
    st = llamac_generate_media(ctx, proj, prompt, strlen(prompt), &m, 1, &gp, res);
    llamac_media_free(m);
    return st;
}

static void test_generate(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    llamac_context *ctx = new_ctx(512);
    if (!v || !a || !ctx) {
        return;
    }
    /* The ChatML prompt llama-mtmd-cli makes of "<__media__>Describe it" (a story opening would drown the image). */
    const char *prompt = "<|im_start|>user\n<__media__>Describe it<|im_end|>\n<|im_start|>assistant\n";
    struct test_sink t1, t2, t3, ta;
    llamac_generate_result r1, r2;
    CHECK_OK(gen(ctx, v, "gradient-32x32.png", prompt, &t1, &r1));
    CHECK_OK(gen(ctx, v, "gradient-32x32.png", prompt, &t2, &r2));
    CHECK_OK(gen(ctx, v, "checker-32x32.png", prompt, &t3, &r2));
    CHECK(t1.len > 0);
    CHECK_STR(t1.text, t2.text);          /* greedy: the same image, the same text */
    CHECK(strcmp(t1.text, t3.text) != 0); /* the image reaches the model */
    CHECK_INT(r1.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(r1.n_generated_tokens, 24);
    /* BOS + the text's tokens + 16 image tokens. */
    llamac_token *t = NULL;
    size_t nt = 0, nt2 = 0;
    const char *before = "<|im_start|>user\n", *after = "Describe it<|im_end|>\n<|im_start|>assistant\n";
    CHECK_OK(llamac_tokenize(g_model, before, strlen(before), 0, &t, &nt));
    llamac_free(t);
    CHECK_OK(llamac_tokenize(g_model, after, strlen(after), 0, &t, &nt2));
    llamac_free(t);
    CHECK_INT(r1.n_prompt_tokens, 1 + 16 + (long long)(nt + nt2));
    CHECK_OK(llamac_tokenize(g_model, "Once upon a time", 16, 0, &t, &nt));
    llamac_free(t);
    /* The sequence holds the prompt and the generated tokens but the last. */
    llamac_pos max = -2;
    CHECK_OK(llamac_ctx_seq_pos_max(ctx, 0, &max));
    CHECK_INT(max, r1.n_prompt_tokens + 24 - 2);
    CHECK_OK(gen(ctx, a, "tone-1s.wav", "<__media__>Once upon a time", &ta, &r2));
    CHECK(ta.len > 0);
    CHECK_INT(r2.n_prompt_tokens, 1 + 375 + (long long)nt);
    /* The prompt must end in text. */
    CHECK_STATUS(gen(ctx, v, "dot-1x1.png", "Hello <__media__>", &t3, &r2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("ends with a medium");
    /* Speculative decoding drafts from tokens: a prompt with media is refused (llama-server refuses the pair too). */
    llamac_media *m = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("dot-1x1.png"), &m));
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 4;
    gp.spec.ngram = true;
    CHECK_STATUS(llamac_generate_media(ctx, v, prompt, strlen(prompt), &m, 1, &gp, NULL), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("speculative decoding takes a text-only prompt");
    llamac_media_free(m);
    llamac_ctx_free(ctx);
    /* Too long for the context: the audio's 375 tokens do not fit in 256. */
    ctx = new_ctx(256);
    CHECK_STATUS(gen(ctx, a, "tone-1s.wav", "<__media__>Once upon a time", &ta, &r2), LLAMAC_E_CONTEXT_FULL);
    llamac_ctx_free(ctx);
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
}

/* ---- the engine (llamac serve's) with media ---- */

/* Runs `prompt` with `file` as its one medium on the engine, greedy, 24 tokens; the text and result into *w. */
static llamac_status eng_run(llamac_engine *e, llamac_mmproj *proj, const char *file, const char *prompt,
                             struct fx_run *w) {
    llamac_media *m = NULL;
    CHECK_OK(llamac_media_from_file(proj, fixture(file), &m));
    llamac_chunks *chunks = NULL;
    CHECK_OK(llamac_mmproj_tokenize(proj, prompt, strlen(prompt),
                                    LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &m, 1, &chunks));
    llamac_media_free(m);
    fx_run_init(w, e, NULL);
    llamac_engine_request r = fx_run_request(chunks, -1, 24, w);
    llamac_status st = llamac_engine_submit(e, &r, NULL);
    llamac_chunks_free(chunks); /* the request holds its own reference */
    if (st == LLAMAC_OK) {
        fx_run_wait(w);
    }
    return st;
}

/* The engine decodes a prompt's media into a slot (the text the same as llamac_generate_media's), reuses a medium
 * whose id matches what the slot holds (cached_tokens), re-encodes one that differs, and refuses chunks it cannot
 * serve. */
static void test_engine(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    llamac_context *ctx = new_ctx(512);
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 1;
    ep.n_ctx = 512;
    ep.n_threads = 2;
    ep.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(g_model, &ep, &e));
    if (!v || !a || !ctx || !e) {
        return;
    }
    const char *prompt = "<|im_start|>user\n<__media__>Describe it<|im_end|>\n<|im_start|>assistant\n";
    struct test_sink ref, ref2;
    llamac_generate_result gr;
    CHECK_OK(gen(ctx, v, "gradient-32x32.png", prompt, &ref, &gr));
    CHECK_OK(gen(ctx, v, "checker-32x32.png", prompt, &ref2, &gr));
    struct fx_run w;
    CHECK_OK(eng_run(e, v, "gradient-32x32.png", prompt, &w));
    CHECK_STR(w.text.text, ref.text); /* the same text as llamac_generate_media */
    int32_t n_prompt = w.res.usage.prompt_tokens;
    CHECK_INT(n_prompt, gr.n_prompt_tokens); /* media tokens counted */
    CHECK_INT(w.res.usage.cached_tokens, 0);
    /* Again: everything but the last prompt token is reused, the image included (not encoded again). */
    CHECK_OK(eng_run(e, v, "gradient-32x32.png", prompt, &w));
    CHECK_STR(w.text.text, ref.text);
    CHECK_INT(w.res.usage.cached_tokens, n_prompt - 1);
    /* Another image at the same place: the cache is reused up to the image only, and the text is the other image's. */
    llamac_token *t = NULL;
    size_t nt = 0;
    CHECK_OK(llamac_tokenize(g_model, "<|im_start|>user\n", 17, LLAMAC_TOKENIZE_PARSE_SPECIAL, &t, &nt));
    llamac_free(t);
    CHECK_OK(eng_run(e, v, "checker-32x32.png", prompt, &w));
    CHECK_STR(w.text.text, ref2.text);
    CHECK(strcmp(ref.text, ref2.text) != 0);
    CHECK_INT(w.res.usage.cached_tokens, 1 + (int32_t)nt); /* BOS and the text before the image */
    /* Audio (375 tokens) from a second projector on the same engine. */
    CHECK_OK(eng_run(e, a, "tone-1s.wav", "<__media__>Once upon a time", &w));
    CHECK(w.text.len > 0);
    /* Refused at submit: a prompt ending with a medium, chunks of another model's projector, too long a prompt. */
    CHECK_STATUS(eng_run(e, v, "dot-1x1.png", "Hello <__media__>", &w), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("ends with a medium");
    llamac_model *other = NULL;
    CHECK_OK(llamac_model_load(test_model(MODEL), NULL, &other));
    llamac_mmproj *vo = NULL;
    llamac_mmproj_params qp = quiet_params();
    CHECK_OK(llamac_mmproj_load(other, g_vision, &qp, &vo));
    CHECK_STATUS(eng_run(e, vo, "dot-1x1.png", prompt, &w), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("another model");
    llamac_mmproj_free(vo);
    llamac_model_free(other);
    llamac_engine_free(e);
    ep.n_ctx = 256; /* a slot of 256 holds no 375-token audio */
    CHECK_OK(llamac_engine_new(g_model, &ep, &e));
    CHECK_STATUS(eng_run(e, a, "tone-1s.wav", "<__media__>Once upon a time", &w), LLAMAC_E_CONTEXT_FULL);
    llamac_engine_free(e);
    llamac_ctx_free(ctx);
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
}

/* llamac_mmproj_eval then llamac_generate_tokens-style continuation: eval is what generate_media does. */
static void test_eval(void) {
    llamac_mmproj *v = load_proj(g_vision);
    llamac_context *ctx = new_ctx(512);
    if (!v || !ctx) {
        return;
    }
    llamac_media *m = NULL;
    llamac_chunks *c = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("gradient-32x32.png"), &m));
    CHECK_OK(llamac_mmproj_tokenize(v, "<__media__>Once", 15, LLAMAC_TOKENIZE_ADD_SPECIAL, &m, 1, &c));
    llamac_pos end = -1;
    CHECK_OK(llamac_mmproj_eval(v, ctx, 0, c, 0, &end));
    CHECK_INT(end, (long long)llamac_chunks_n_pos(c));
    const float *logits = NULL;
    size_t nv = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &nv));
    CHECK_INT(nv, 512);
    /* Appending at the end (-1) continues the sequence. */
    CHECK_OK(llamac_mmproj_eval(v, ctx, 0, c, -1, &end));
    CHECK_INT(end, 2 * (long long)llamac_chunks_n_pos(c));
    /* Errors: sequence, n_past, room, another model's context. */
    CHECK_STATUS(llamac_mmproj_eval(v, ctx, 3, c, 0, &end), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_mmproj_eval(v, ctx, 0, c, -2, &end), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_mmproj_eval(v, ctx, 0, c, 500, &end), LLAMAC_E_CONTEXT_FULL);
    CHECK_ERROR_HAS("positions from position 500");
    CHECK_STATUS(llamac_mmproj_eval(v, ctx, 0, c, 5, &end), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("inside what sequence 0 holds");
    llamac_model *other = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &other));
    llamac_context *octx = NULL;
    CHECK_OK(llamac_ctx_new(other, NULL, &octx));
    CHECK_STATUS(llamac_mmproj_eval(v, octx, 0, c, 0, &end), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("not the projector's model");
    llamac_ctx_free(octx);
    llamac_model_free(other);
    /* A cancel request stops the evaluation. */
    CHECK_OK(llamac_ctx_kv_clear(ctx));
    llamac_ctx_cancel(ctx);
    CHECK_STATUS(llamac_mmproj_eval(v, ctx, 0, c, 0, &end), LLAMAC_E_CANCELLED);
    CHECK_OK(llamac_mmproj_eval(v, ctx, 0, c, 0, &end)); /* the request was consumed */
    llamac_chunks_free(c);
    llamac_media_free(m);
    llamac_ctx_free(ctx);
    llamac_mmproj_free(v);
}

/* ---- chat sessions with media ---- */

static llamac_chat *new_chat(llamac_context *ctx, llamac_mmproj *proj) {
    llamac_chat_params cp = llamac_chat_params_default();
    cp.mmproj = proj;
    cp.generate.max_tokens = 16;
    cp.generate.sampling.temp = 0;
    llamac_chat *chat = NULL;
    CHECK_OK(llamac_chat_new(ctx, &cp, &chat));
    return chat;
}

static void test_chat(void) {
    llamac_mmproj *v = load_proj(g_vision), *a = load_proj(g_audio);
    llamac_context *ctx = new_ctx(1024), *ctx2 = new_ctx(1024);
    if (!v || !a || !ctx || !ctx2) {
        return;
    }
    llamac_media *img = NULL, *img2 = NULL;
    CHECK_OK(llamac_media_from_file(v, fixture("gradient-32x32.png"), &img));
    CHECK_OK(llamac_media_from_file(v, fixture("checker-32x32.png"), &img2));
    llamac_chat *chat = new_chat(ctx, v);
    if (!chat || !img || !img2) {
        return;
    }
    /* Turn 1: an image and a question; the reply is llamac_generate_media's on the same prompt. */
    const llamac_chat_part parts[2] = { { NULL, 0, img }, { "Describe it", 11, NULL } };
    CHECK_OK(llamac_chat_add_parts(chat, "user", parts, 2));
    struct test_sink r1 = { .len = 0 };
    llamac_chat_result cr;
    CHECK_OK(llamac_chat_generate(chat, test_on_text, &r1, &cr));
    CHECK(r1.len > 0);
    CHECK_INT(cr.n_reused_tokens, 0);
    CHECK_INT(cr.gen.n_prompt_tokens, cr.n_decoded_tokens);
    int32_t turn1 = cr.gen.n_prompt_tokens;
    const char *prompt = "<|im_start|>user\n<__media__>Describe it<|im_end|>\n<|im_start|>assistant\n";
    struct test_sink g = { .len = 0 };
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 16;
    gp.sampling.temp = 0;
    gp.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
    gp.on_text = test_on_text;
    gp.user_data = &g;
    gp.stop = (const char *const[]){ "<|im_end|>" };
    gp.n_stop = 1;
    CHECK_OK(llamac_generate_media(ctx2, v, prompt, strlen(prompt), &img, 1, &gp, NULL));
    CHECK_STR(r1.text, g.text);
    /* The template saw the session's marker; the prompt's text shows it, and user text holding it is refused. */
    char *text = NULL;
    CHECK_OK(llamac_chat_prompt(chat, &text, NULL, NULL, NULL));
    const char *mk = text ? strstr(text, "<__llamac_media_") : NULL;
    CHECK(mk != NULL);
    if (mk) {
        const char *end = strstr(mk, "__>");
        CHECK(end != NULL);
        size_t mk_len = end ? (size_t)(end + 3 - mk) : 0;
        CHECK_INT(mk_len, 27);
        CHECK_STATUS(llamac_chat_add(chat, "user", mk, mk_len), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("media marker");
    }
    llamac_free(text);
    llamac_token *toks = NULL;
    size_t nt = 0;
    CHECK_STATUS(llamac_chat_prompt(chat, NULL, NULL, &toks, &nt), LLAMAC_E_UNSUPPORTED);
    /* Turn 2: text only; the image and the first turn come from the cache, and the reply is a fresh session's. */
    CHECK_OK(llamac_chat_add(chat, "user", "And then?", 9));
    struct test_sink r2 = { .len = 0 };
    CHECK_OK(llamac_chat_generate(chat, test_on_text, &r2, &cr));
    CHECK(cr.n_reused_tokens >= turn1); /* the whole first prompt, the image included, and most of the reply */
    CHECK_INT(cr.n_decoded_tokens, cr.gen.n_prompt_tokens - cr.n_reused_tokens);
    llamac_chat *fresh = new_chat(ctx2, v);
    if (fresh) {
        CHECK_OK(llamac_chat_add_parts(fresh, "user", parts, 2));
        CHECK_OK(llamac_chat_add(fresh, "assistant", r1.text, r1.len));
        CHECK_OK(llamac_chat_add(fresh, "user", "And then?", 9));
        struct test_sink f2 = { .len = 0 };
        llamac_chat_result fr;
        CHECK_OK(llamac_chat_generate(fresh, test_on_text, &f2, &fr));
        CHECK_INT(fr.n_reused_tokens, 0);
        CHECK_STR(r2.text, f2.text);
        CHECK_INT(fr.gen.n_prompt_tokens, cr.gen.n_prompt_tokens);
    }
    llamac_chat_free(fresh);
    /* Turn 3: another image; what precedes it is reused. */
    const llamac_chat_part parts2[2] = { { "Now this: ", 10, NULL }, { NULL, 0, img2 } };
    CHECK_OK(llamac_chat_add_parts(chat, "user", parts2, 2));
    struct test_sink r3 = { .len = 0 };
    CHECK_OK(llamac_chat_generate(chat, test_on_text, &r3, &cr));
    CHECK(cr.n_reused_tokens > 16 + 20);
    CHECK(cr.n_decoded_tokens >= 16);
    /* Saving a session with media is refused. */
    CHECK_STATUS(llamac_chat_save(chat, test_tmp("media.chat")), LLAMAC_E_UNSUPPORTED);
    /* Errors. */
    const llamac_chat_part both[1] = { { "x", 1, img } };
    CHECK_STATUS(llamac_chat_add_parts(chat, "user", both, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_chat_add_parts(chat, "assistant", parts, 2), LLAMAC_E_INVALID_ARGUMENT);
    const llamac_chat_part bad_utf8[1] = { { "\xc3", 1, NULL } };
    CHECK_STATUS(llamac_chat_add_parts(chat, "user", bad_utf8, 1), LLAMAC_E_UTF8);
    llamac_media *snd = NULL;
    CHECK_OK(llamac_media_from_file(a, fixture("tone-1s.wav"), &snd));
    const llamac_chat_part audio_part[1] = { { NULL, 0, snd } };
    CHECK_STATUS(llamac_chat_add_parts(chat, "user", audio_part, 1), LLAMAC_E_UNSUPPORTED);
    llamac_chat *plain = new_chat(ctx2, NULL);
    CHECK_STATUS(llamac_chat_add_parts(plain, "user", parts, 2), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("no projector");
    llamac_chat_free(plain);
    /* The session holds its media: the caller's handles may go first. */
    llamac_media_free(img);
    llamac_media_free(img2);
    llamac_chat_clear(chat);
    CHECK_INT(llamac_chat_n_messages(chat), 0);
    /* Audio in a session with an audio projector; too long for a small context: the old turns are evicted. */
    llamac_chat_free(chat);
    llamac_ctx_free(ctx);
    ctx = new_ctx(512);
    chat = new_chat(ctx, a);
    if (chat) {
        const llamac_chat_part ap[2] = { { NULL, 0, snd }, { "What is it?", 11, NULL } };
        CHECK_OK(llamac_chat_add_parts(chat, "user", ap, 2));
        struct test_sink t = { .len = 0 };
        CHECK_OK(llamac_chat_generate(chat, test_on_text, &t, &cr));
        CHECK(cr.gen.n_prompt_tokens > 375);
        CHECK_OK(llamac_chat_add_parts(chat, "user", ap, 2)); /* 2 x 375 tokens do not fit in 512 */
        CHECK_OK(llamac_chat_generate(chat, test_on_text, &t, &cr));
        CHECK_INT(cr.n_evicted_messages, 2);
        CHECK(cr.gen.n_prompt_tokens > 375 && cr.gen.n_prompt_tokens < 512);
    }
    llamac_chat_free(chat);
    llamac_media_free(snd);
    llamac_ctx_free(ctx);
    llamac_ctx_free(ctx2);
    llamac_mmproj_free(v);
    llamac_mmproj_free(a);
}

/* Gemma 3's images are decoded with non-causal attention, all of an image in one ubatch: a context whose n_ubatch
 * cannot hold one is refused before anything is decoded (llama.cpp would split the image and attend wrongly). */
static void test_non_causal(void) {
    llamac_mmproj *g = load_proj(g_gemma3), *q = load_proj(g_qwen2vl);
    if (!g || !q) {
        return;
    }
    llamac_mmproj_info info;
    CHECK_OK(llamac_mmproj_get_info(g, &info));
    CHECK(info.non_causal);
    CHECK_STR(info.vision_projector, "gemma3");
    CHECK_OK(llamac_mmproj_get_info(q, &info));
    CHECK(!info.non_causal);
    CHECK(!info.mrope); /* the text model has no M-RoPE */
    CHECK_STR(info.vision_projector, "qwen2vl_merger");
    llamac_media *img = NULL;
    llamac_chunks *c = NULL;
    CHECK_OK(llamac_media_from_file(g, fixture("gradient-32x32.png"), &img));
    const char *prompt = "<|im_start|>user\n<__media__>Describe it<|im_end|>\n<|im_start|>assistant\n";
    CHECK_OK(llamac_mmproj_tokenize(g, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &img, 1, &c));
    llamac_chunk_info ci;
    CHECK_INT(llamac_chunks_count(c), 3); /* the text and libmtmd's "<start_of_image>", the image, the rest */
    CHECK_OK(llamac_chunks_get(c, 1, &ci));
    CHECK_INT(ci.type, LLAMAC_CHUNK_IMAGE);
    CHECK_INT(ci.n_tokens, 4); /* (32 / 8 / 2)^2 */
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 256;
    cp.n_batch = 3;
    cp.n_ubatch = 3;
    llamac_context *small = NULL, *fits = NULL;
    CHECK_OK(llamac_ctx_new(g_model, &cp, &small));
    cp.n_batch = 4;
    cp.n_ubatch = 4;
    CHECK_OK(llamac_ctx_new(g_model, &cp, &fits));
    llamac_pos end = 0;
    if (small && fits && c) {
        CHECK_STATUS(llamac_mmproj_eval(g, small, 0, c, 0, &end), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("n_batch is 3 and n_ubatch 3: create it with both at least 4");
        llamac_pos max = 0;
        CHECK_OK(llamac_ctx_seq_pos_max(small, 0, &max));
        CHECK_INT(max, -1); /* nothing decoded */
        CHECK_OK(llamac_mmproj_eval(g, fits, 0, c, 0, &end));
        CHECK_INT(end, llamac_chunks_n_pos(c));
        /* The same generation from a context of 4-token batches and a default one. */
        llamac_context *big = new_ctx(256);
        struct test_sink a = { .len = 0 }, b = { .len = 0 };
        llamac_generate_params gp = llamac_generate_params_default();
        gp.max_tokens = 12;
        gp.sampling.temp = 0;
        gp.on_text = test_on_text;
        gp.user_data = &a;
        CHECK_OK(llamac_generate_media(fits, g, prompt, strlen(prompt), &img, 1, &gp, NULL));
        gp.user_data = &b;
        CHECK_OK(llamac_generate_media(big, g, prompt, strlen(prompt), &img, 1, &gp, NULL));
        CHECK(a.len > 0);
        CHECK_STR(a.text, b.text);
        llamac_ctx_free(big);
    }
    llamac_ctx_free(small);
    llamac_ctx_free(fits);
    llamac_chunks_free(c);
    llamac_media_free(img);
    llamac_mmproj_free(g);
    llamac_mmproj_free(q);
}

/* libmtmd's bitmap copy throws std::bad_alloc when memory runs out; llamac turns it into LLAMAC_E_NO_MEMORY. Run in
 * a child with its address space limited (not under ASan, which reserves terabytes of it). */
static void test_no_memory(void) {
    if (getenv("ASAN_OPTIONS")) {
        fprintf(stderr, "  (skipped under ASan)\n");
        return;
    }
    llamac_mmproj *v = load_proj(g_vision);
    if (!v) {
        return;
    }
    size_t side = 8192, n = side * side * 3; /* 192 MiB, within the default pixel limit */
    uint8_t *rgb = calloc(n, 1);
    CHECK(rgb != NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl;
        getrlimit(RLIMIT_AS, &rl);
        /* The address space the process has now, plus far less than the copy needs. */
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (f && fscanf(f, "%lu", &pages) == 1) {
            rl.rlim_cur = (rlim_t)(pages * (unsigned long)sysconf(_SC_PAGESIZE) + (8u << 20));
            if (setrlimit(RLIMIT_AS, &rl) != 0) {
                _exit(3);
            }
        }
        if (f) {
            fclose(f);
        }
        llamac_media *m = NULL;
        llamac_status st = llamac_media_from_rgb(v, (uint32_t)side, (uint32_t)side, rgb, &m);
        _exit(st == LLAMAC_E_NO_MEMORY && m == NULL ? 0 : 10 + (int)st);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    free(rgb);
    llamac_mmproj_free(v);
}

/* llamac_media_fetch's refusals that need no server (tests/cli/test_serve_remote_media.sh fetches from one): NULLs,
 * zero limits, schemes other than http(s), nothing listening. */
static void test_fetch(void) {
    llamac_media_fetch_params d = llamac_media_fetch_params_default();
    CHECK_INT(d.max_bytes, 10u << 20);
    CHECK_INT(d.timeout_ms, 10000);
    CHECK_INT(d.max_redirects, 5);
    void *data = (void *)1;
    size_t n = 7;
    CHECK_STATUS(llamac_media_fetch(NULL, NULL, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(data == NULL && n == 0);
    CHECK_STATUS(llamac_media_fetch("http://127.0.0.1:1/x.png", NULL, NULL, &n), LLAMAC_E_INVALID_ARGUMENT);
    llamac_media_fetch_params p = d;
    p.max_bytes = 0;
    CHECK_STATUS(llamac_media_fetch("http://127.0.0.1:1/x.png", &p, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_bytes and timeout_ms must be above 0");
    p = d;
    p.timeout_ms = 0;
    CHECK_STATUS(llamac_media_fetch("http://127.0.0.1:1/x.png", &p, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_media_fetch("file:///etc/passwd", NULL, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("only http and https URLs are fetched (file)");
    CHECK_STATUS(llamac_media_fetch("ftp://127.0.0.1/x.png", NULL, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("(ftp)");
    CHECK_STATUS(llamac_media_fetch("not a url", NULL, &data, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_media_fetch("http://127.0.0.1:1/x.png", NULL, &data, &n), LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("cannot fetch http://127.0.0.1:1/x.png");
    CHECK(data == NULL && n == 0);
}

int main(void) {
    const char *model = test_model(MODEL);
    llamac_model_params mp = llamac_model_params_default();
    if (llamac_model_load(model, &mp, &g_model) != LLAMAC_OK) {
        fprintf(stderr, "cannot load %s: %s\n", model, llamac_last_error());
        return 1;
    }
    llamac_mmproj *probe = NULL;
    if (llamac_mmproj_load(g_model, model, NULL, &probe) == LLAMAC_E_UNSUPPORTED) {
        fprintf(stderr, "SKIP: %s\n", llamac_last_error()); /* a build without libmtmd */
        llamac_model_free(g_model);
        return 77;
    }
    snprintf(g_fixtures, sizeof g_fixtures, "%s", test_tmp("fixtures"));
    mkdir(g_fixtures, 0755);
    char path[1200];
    for (size_t i = 0; i < FX_N_FIXTURES; i++) {
        CHECK(fx_write(&fx_fixtures[i], g_fixtures, path, sizeof path));
    }
    static char vision[1024], audio[1024], both[1024];
    snprintf(vision, sizeof vision, "%s", test_tmp("mmproj-vision.gguf"));
    snprintf(audio, sizeof audio, "%s", test_tmp("mmproj-audio.gguf"));
    snprintf(both, sizeof both, "%s", test_tmp("mmproj-both.gguf"));
    llamac_synth_mmproj_params sp = llamac_synth_mmproj_params_default();
    sp.text_model = model;
    CHECK_OK(llamac_synth_mmproj_write(vision, &sp));
    sp.vision = false;
    sp.audio = true;
    CHECK_OK(llamac_synth_mmproj_write(audio, &sp));
    sp.vision = true;
    CHECK_OK(llamac_synth_mmproj_write(both, &sp));
    static char gemma3[1024], qwen2vl[1024];
    snprintf(gemma3, sizeof gemma3, "%s", test_tmp("mmproj-gemma3.gguf"));
    snprintf(qwen2vl, sizeof qwen2vl, "%s", test_tmp("mmproj-qwen2vl.gguf"));
    sp.audio = false;
    sp.vision_projector = "gemma3";
    CHECK_OK(llamac_synth_mmproj_write(gemma3, &sp));
    sp.vision_projector = "qwen2vl";
    CHECK_OK(llamac_synth_mmproj_write(qwen2vl, &sp));
    g_vision = vision;
    g_audio = audio;
    g_both = both;
    g_gemma3 = gemma3;
    g_qwen2vl = qwen2vl;

    RUN(test_synth_and_load);
    RUN(test_synth_params);
    RUN(test_load_errors);
    RUN(test_load_cancel);
    RUN(test_precheck);
    RUN(test_media_files);
    RUN(test_short_audio);
    RUN(test_wav_checks);
    RUN(test_image_limits);
    RUN(test_undecodable);
    RUN(test_tokenize);
    RUN(test_encode);
    RUN(test_encode_threads);
    RUN(test_generate);
    RUN(test_eval);
    RUN(test_engine);
    RUN(test_chat);
    RUN(test_non_causal);
    RUN(test_no_memory);
    RUN(test_fetch);
    llamac_model_free(g_model);
    TESTS_DONE();
}
