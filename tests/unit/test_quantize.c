/*
 * test_quantize.c - llamac_quantize and its names, parameters, checks, progress, cancel and safe writing.
 *
 * Byte-for-byte fidelity with llama-quantize is checked by tests/cli/test_quantize.sh against references; here the
 * library's own contract: the report agrees with the file written and with the dry run, every invalid parameter or
 * combination is refused with a message before any work (no file appears), failures and cancels leave no partial
 * output and no temporary file, the input is never touched, and an existing output is replaced only when the new
 * one is complete.
 */
#include "check.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* test_tmp's paths live in a small ring of buffers; these stay valid for the whole run. */
static const char *path_of(const char *name) {
    static char paths[64][1024];
    static int next;
    char *p = paths[next++ % 64];
    snprintf(p, sizeof paths[0], "%s", test_tmp(name));
    return p;
}

static const char *stories;
static char synth[1024];

static int count_files(const char *part) {
    DIR *d = opendir(path_of(""));
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        n += strstr(e->d_name, part) != NULL;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static uint64_t checksum(const char *path) {
    FILE *f = fopen(path, "rb");
    uint64_t h = 14695981039346656037ull;
    int c;
    while (f && (c = fgetc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 1099511628211ull;
    }
    if (f) {
        fclose(f);
    }
    return h;
}

/* The quantize call must fail with `status`, a message containing `needle`, and no output or temporary file. */
static void expect_refused(const char *in, const char *out, const llamac_quantize_params *p, llamac_status status,
                           const char *needle, int line) {
    llamac_quantize_report *r = (llamac_quantize_report *)1;
    llamac_status st = llamac_quantize(in, out, p, &r);
    bool ok = st == status && r == NULL && strstr(llamac_last_error(), needle) && (!out || !exists(out)) &&
              count_files(".tmp.") == 0;
    if (ok) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "%s:%d: expected %s with \"%s\", got %s: %s%s\n", __FILE__, line, llamac_status_str(status),
                needle, llamac_status_str(st), llamac_last_error(), out && exists(out) ? " (output exists)" : "");
    }
}
#define EXPECT_REFUSED(in, out, p, status, needle) expect_refused(in, out, p, status, needle, __LINE__)

static void test_names(void) {
    llamac_ftype f;
    CHECK_OK(llamac_ftype_from_name("q4_k_m", &f));
    CHECK_INT(f, LLAMAC_FTYPE_Q4_K_M);
    CHECK_OK(llamac_ftype_from_name("Q4_K", &f));
    CHECK_INT(f, LLAMAC_FTYPE_Q4_K_M);
    CHECK_OK(llamac_ftype_from_name("17", &f));
    CHECK_INT(f, LLAMAC_FTYPE_Q5_K_M);
    CHECK_OK(llamac_ftype_from_name("copy", &f));
    CHECK_INT(f, LLAMAC_FTYPE_COPY);
    CHECK_OK(llamac_ftype_from_name("0", &f));
    CHECK_INT(f, LLAMAC_FTYPE_F32);
    CHECK_STATUS(llamac_ftype_from_name("Q4_K_X", &f), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("unknown quantization type 'Q4_K_X' (valid: Q1_0, Q2_0, Q4_0");
    CHECK_STATUS(llamac_ftype_from_name("39", &f), LLAMAC_E_INVALID_ARGUMENT); /* NVFP4: llama-quantize has none */
    CHECK_STATUS(llamac_ftype_from_name(NULL, &f), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(llamac_ftype_name(LLAMAC_FTYPE_IQ4_NL), "IQ4_NL");
    CHECK_STR(llamac_ftype_describe(LLAMAC_FTYPE_Q4_K_M), "Q4_K - Medium");
    CHECK_STR(llamac_ftype_describe(LLAMAC_FTYPE_COPY), "copy");
    CHECK(llamac_ftype_name((llamac_ftype)5) == NULL);
    CHECK_INT(llamac_ftype_count(), 36);
    int round_trips = 0;
    for (size_t i = 0; i < llamac_ftype_count(); i++) {
        llamac_ftype a, b;
        CHECK_OK(llamac_ftype_at(i, &a));
        round_trips += llamac_ftype_from_name(llamac_ftype_name(a), &b) == LLAMAC_OK && a == b;
    }
    CHECK_INT(round_trips, 36);
    CHECK_STATUS(llamac_ftype_at(36, &f), LLAMAC_E_INVALID_ARGUMENT);

    llamac_tensor_type t;
    CHECK_OK(llamac_tensor_type_from_name("Q6_K", &t));
    CHECK_INT(t, LLAMAC_TYPE_Q6_K);
    CHECK_OK(llamac_tensor_type_from_name("bf16", &t));
    CHECK_INT(t, LLAMAC_TYPE_BF16);
    CHECK_STATUS(llamac_tensor_type_from_name("q8_K", &t), LLAMAC_E_INVALID_ARGUMENT); /* exists, cannot be written */
    CHECK_ERROR_HAS("unknown tensor type 'q8_K' (valid: f32, f16, bf16");
    CHECK_STR(llamac_tensor_type_name(LLAMAC_TYPE_Q4_K), "q4_K");
    CHECK_STR(llamac_tensor_type_name(26), "i32");
    CHECK(llamac_tensor_type_name(4) == NULL); /* removed from ggml */
    CHECK(llamac_tensor_type_name(-1) == NULL);
    CHECK(llamac_tensor_type_name(43) == NULL);

    llamac_quantize_params p = llamac_quantize_params_default();
    CHECK_INT(p.ftype, LLAMAC_FTYPE_Q8_0);
    CHECK_INT(p.n_threads, 0);
    CHECK(p.quantize_output && !p.allow_requantize && !p.pure && !p.keep_split && !p.dry_run);
    CHECK_INT(p.output_type, LLAMAC_TYPE_DEFAULT);
    CHECK_INT(p.token_embedding_type, LLAMAC_TYPE_DEFAULT);
    CHECK(p.imatrix == NULL && p.tensor_types == NULL && p.prune_layers == NULL && p.progress == NULL);
}

static float progress_seen[256];
static int progress_n;
static bool record_progress(float f, void *ud) {
    (void)ud;
    if (progress_n < 256) {
        progress_seen[progress_n] = f;
    }
    progress_n++;
    return true;
}

static void test_quantize_and_report(void) {
    const char *out = path_of("st-q8.gguf");
    remove(out);
    uint64_t before = checksum(stories);
    llamac_quantize_params p = llamac_quantize_params_default();
    p.dry_run = true;
    llamac_quantize_report *dry = NULL, *r = NULL;
    CHECK_OK(llamac_quantize(stories, NULL, &p, &dry));
    CHECK(!exists(out));
    p.dry_run = false;
    p.n_threads = 2;
    p.progress = record_progress;
    progress_n = 0;
    CHECK_OK(llamac_quantize(stories, out, &p, &r));
    CHECK_INT(checksum(stories), before);
    if (!dry || !r) {
        llamac_quantize_report_free(dry);
        llamac_quantize_report_free(r);
        return;
    }
    CHECK_INT(r->n_tensors, 48);
    CHECK_INT(r->n_params, 292800);
    CHECK_INT(r->size_from, 1171200);
    CHECK_INT(r->size_to, 364768);
    CHECK_INT(r->file_size_from, 1185376);
    struct stat st;
    CHECK(stat(out, &st) == 0 && (uint64_t)st.st_size == r->file_size_to);
    CHECK_INT(r->n_shards_to, 1);
    CHECK_INT(r->n_fallback, 5);        /* ffn_down has 172-wide rows: f16 instead of q8_0 */
    CHECK((st.st_mode & 0777) != 0600); /* a normal new file, not mkstemp's 0600 */
    CHECK(r->ms > 0.0);
    /* the dry run planned exactly what was done */
    CHECK_INT(dry->n_tensors, r->n_tensors);
    CHECK_INT(dry->size_to, r->size_to);
    CHECK_INT(dry->file_size_to, 0);
    CHECK_INT(dry->n_shards_to, 0);
    int same = 0;
    for (size_t i = 0; i < r->n_tensors && i < dry->n_tensors; i++) {
        same += strcmp(r->tensors[i].name, dry->tensors[i].name) == 0 &&
                r->tensors[i].type_to == dry->tensors[i].type_to && r->tensors[i].size_to == dry->tensors[i].size_to;
    }
    CHECK_INT(same, 48);
    /* the report agrees with the file */
    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open(out, &g));
    int agree = 0, q8 = 0, f16 = 0;
    for (size_t i = 0; g && i < r->n_tensors; i++) {
        llamac_gguf_tensor t;
        size_t k;
        llamac_gguf_tensor_at(g, i, &t);
        agree += strcmp(t.name, r->tensors[i].name) == 0 && t.type == r->tensors[i].type_to &&
                 t.size == r->tensors[i].size_to;
        q8 += r->tensors[i].type_to == LLAMAC_TYPE_Q8_0;
        f16 += r->tensors[i].type_to == LLAMAC_TYPE_F16;
        (void)k;
    }
    CHECK_INT(agree, 48);
    CHECK_INT(q8, 32);
    CHECK_INT(f16, 5);
    llamac_gguf_info info;
    llamac_gguf_get_info(g, &info);
    CHECK_INT(info.file_type, LLAMAC_FTYPE_Q8_0);
    CHECK_STR(info.file_type_name, "Q8_0");
    llamac_gguf_free(g);
    /* progress: once per tensor and once at the end, rising from 0 to 1 */
    CHECK_INT(progress_n, 49);
    int rising = 1;
    for (int i = 1; i < progress_n && i < 256; i++) {
        rising &= progress_seen[i] >= progress_seen[i - 1];
    }
    CHECK(rising && progress_seen[0] == 0.0f && progress_seen[48] == 1.0f && progress_seen[47] < 1.0f);
    /* the output loads and generates */
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(out, NULL, &m));
    llamac_model_free(m);
    llamac_quantize_report_free(dry);
    llamac_quantize_report_free(r);
    CHECK_INT(count_files(".tmp."), 0);
}

static void test_refused_parameters(void) {
    const char *out = path_of("refused.gguf");
    llamac_quantize_params p = llamac_quantize_params_default();
    EXPECT_REFUSED(NULL, out, &p, LLAMAC_E_INVALID_ARGUMENT, "in is NULL");
    EXPECT_REFUSED(stories, NULL, &p, LLAMAC_E_INVALID_ARGUMENT, "out is NULL (allowed only for a dry run)");
    p.ftype = (llamac_ftype)5;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "ftype 5 is not a quantization type");
    p = llamac_quantize_params_default();
    p.n_threads = -1;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "n_threads -1 is out of range");
    p = llamac_quantize_params_default();
    p.output_type = (llamac_tensor_type)15; /* q8_K: ggml cannot write it as a model tensor */
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "output_type 15 is not a type quantization can write");

    llamac_tensor_type_override o[2] = { { "blk\\..*\\.ffn_down", LLAMAC_TYPE_Q6_K }, { "blk[", LLAMAC_TYPE_Q8_0 } };
    p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_Q4_K_M;
    p.tensor_types = o;
    p.n_tensor_types = 2;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "tensor_types[1]: 'blk[' is not a valid regular expression");
    o[1].pattern = "";
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "tensor_types[1]: the pattern is empty");
    o[1].pattern = "output";
    o[1].type = LLAMAC_TYPE_DEFAULT;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "tensor_types[1] ('output'): type -1 is not a type");
    p.tensor_types = NULL;
    p.n_tensor_types = 1;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "n_tensor_types is 1 but tensor_types is NULL");
}

static void test_refused_combinations(void) {
    const char *out = path_of("refused.gguf");
    llamac_tensor_type_override o[1] = { { "output", LLAMAC_TYPE_F16 } };
    llamac_quantize_params p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_COPY;
    p.tensor_types = o;
    p.n_tensor_types = 1;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "COPY copies every tensor unchanged, so tensor_types would have no effect");
    p.n_tensor_types = 0;
    p.pure = true;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "so pure would have no effect");
    p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_F16;
    p.tensor_types = o;
    p.n_tensor_types = 1;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "tensor_types apply only when the file type quantizes; llama.cpp ignores them for F16");

    int32_t layers[] = { 3, 28, 29 };
    p = llamac_quantize_params_default();
    p.prune_layers = layers;
    p.n_prune_layers = 3;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "cannot prune layer 29: the model has 5 layers (0 to 4)");
    int32_t all[] = { 4, 3, 2, 1, 0, 2 };
    p.prune_layers = all;
    p.n_prune_layers = 6;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "pruning all 5 layers would leave an empty model");
    int32_t negative[] = { -1 };
    p.prune_layers = negative;
    p.n_prune_layers = 1;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "prune_layers[0] is -1");
    p.prune_layers = NULL;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "n_prune_layers is 1 but prune_layers is NULL");

    llamac_kv_override kv[1];
    memset(kv, 0, sizeof kv);
    p = llamac_quantize_params_default();
    p.kv_overrides = kv;
    p.n_kv_overrides = 1;
    kv[0].key = "general.alignment";
    kv[0].type = LLAMAC_KV_OVERRIDE_INT;
    kv[0].int_value = 64;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "'general.alignment' describes the file's layout and cannot be overridden");
    kv[0].key = "split.count";
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "'split.count' describes the file's layout");
    kv[0].key = "test.big";
    kv[0].int_value = 5000000000ll;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "kv_overrides[0] ('test.big'): 5000000000 does not fit the u32 that quantization writes");
    kv[0].type = LLAMAC_KV_OVERRIDE_STR;
    kv[0].str_value = NULL;
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT, "string must be 0 to 127 bytes");

    /* found in llama.cpp's own plan, before any work */
    p = llamac_quantize_params_default();
    p.output_type = LLAMAC_TYPE_Q4_K; /* stories' rows are 64 wide; q4_K blocks are 256 */
    EXPECT_REFUSED(stories, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "tensor 'output.weight' has rows of 64 elements; q4_K stores blocks of 256");
    p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_IQ2_XXS;
    EXPECT_REFUSED(synth, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "IQ2_XXS needs an importance matrix: tensor 'blk.0.attn_k.weight' becomes iq2_xxs");
    p = llamac_quantize_params_default();
    p.token_embedding_type = LLAMAC_TYPE_IQ1_S; /* ggml would abort: IQ1_S cannot be made without importance data */
    EXPECT_REFUSED(synth, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "Q8_0 needs an importance matrix: tensor 'token_embd.weight' becomes iq1_s");
    p.dry_run = true;
    EXPECT_REFUSED(synth, NULL, &p, LLAMAC_E_INVALID_ARGUMENT, "needs an importance matrix");

    /* a quantized input */
    const char *q8 = path_of("syn-q8.gguf");
    p = llamac_quantize_params_default();
    CHECK_OK(llamac_quantize(synth, q8, &p, NULL));
    p.ftype = LLAMAC_FTYPE_Q4_0;
    EXPECT_REFUSED(q8, out, &p, LLAMAC_E_INVALID_ARGUMENT,
                   "tensor 'token_embd.weight' is already quantized (q8_0); converting it to q6_K needs "
                   "allow_requantize");
    p.allow_requantize = true;
    CHECK_OK(llamac_quantize(q8, out, &p, NULL));
    CHECK(exists(out));
    remove(out);
    remove(q8);
}

static void write_bytes(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void write_file(const char *path, const char *text) {
    write_bytes(path, text, strlen(text));
}

static void test_files(void) {
    const char *out = path_of("files.gguf");
    llamac_quantize_params p = llamac_quantize_params_default();
    EXPECT_REFUSED(path_of("missing.gguf"), out, &p, LLAMAC_E_IO, "No such file or directory");
    EXPECT_REFUSED(path_of(""), out, &p, LLAMAC_E_IO, "it is a directory");
    EXPECT_REFUSED(stories, path_of("nodir/out.gguf"), &p, LLAMAC_E_IO, "directory");
    EXPECT_REFUSED(stories, path_of("nodir/out.gguf"), &p, LLAMAC_E_IO, "nodir': No such file or directory");
    write_file(path_of("text.gguf"), "not a model\n");
    EXPECT_REFUSED(path_of("text.gguf"), out, &p, LLAMAC_E_MODEL_LOAD, "is not a GGUF file");

    /* the input itself, by name and by another name for the same file */
    const char *copy = path_of("input-copy.gguf");
    const char *link_name = path_of("input-link.gguf");
    CHECK_OK(llamac_quantize(stories, copy,
                             &(llamac_quantize_params){ .ftype = LLAMAC_FTYPE_COPY,
                                                        .quantize_output = true,
                                                        .output_type = LLAMAC_TYPE_DEFAULT,
                                                        .token_embedding_type = LLAMAC_TYPE_DEFAULT },
                             NULL));
    uint64_t sum = checksum(copy);
    llamac_quantize_report *r = (llamac_quantize_report *)1;
    CHECK_STATUS(llamac_quantize(copy, copy, &p, &r), LLAMAC_E_IO);
    CHECK_ERROR_HAS("refusing to overwrite the input");
    CHECK(r == NULL);
    remove(link_name);
    CHECK(link(copy, link_name) == 0);
    CHECK_STATUS(llamac_quantize(copy, link_name, &p, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("refusing to overwrite the input");
    CHECK_INT(checksum(copy), sum);
    remove(link_name);

    /* a truncated input: the message says where */
    FILE *f = fopen(stories, "rb"), *t = fopen(path_of("trunc.gguf"), "wb");
    static char buf[100000];
    if (f && t) {
        fwrite(buf, 1, fread(buf, 1, sizeof buf, f), t);
    }
    if (f) {
        fclose(f);
    }
    if (t) {
        fclose(t);
    }
    EXPECT_REFUSED(path_of("trunc.gguf"), out, &p, LLAMAC_E_MODEL_LOAD,
                   "tensor 0 ('token_embd.weight') data at offset 14176: 131072 bytes end at offset 145248, past the "
                   "end of the file (100000 bytes): the file is truncated");

    /* an existing output: kept when the call fails, replaced when it succeeds */
    write_file(out, "previous contents\n");
    p.ftype = LLAMAC_FTYPE_IQ2_XXS;
    CHECK_STATUS(llamac_quantize(synth, out, &p, NULL), LLAMAC_E_INVALID_ARGUMENT);
    char back[64] = { 0 };
    f = fopen(out, "rb");
    if (f) {
        CHECK(fread(back, 1, sizeof back - 1, f) > 0);
        fclose(f);
    }
    CHECK_STR(back, "previous contents\n");
    p.ftype = LLAMAC_FTYPE_Q8_0;
    CHECK_OK(llamac_quantize(stories, out, &p, NULL));
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size == 379168);
    remove(out);
    remove(copy);
    CHECK_INT(count_files(".tmp."), 0);
}

/* A full disk, simulated by a file-size limit (with SIGXFSZ ignored, writes past it fail with EFBIG). */
static void test_write_failure(void) {
    const char *out = path_of("limited.gguf");
    uint64_t before = checksum(stories);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 100000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    llamac_quantize_params p = llamac_quantize_params_default();
    llamac_status st = llamac_quantize(stories, out, &p, NULL);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", llamac_last_error());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_INT(st, LLAMAC_E_IO);
    char want[1100];
    snprintf(want, sizeof want, "cannot write '%s': File too large", out);
    CHECK_STR(msg, want);
    CHECK(!exists(out));
    CHECK_INT(count_files(".tmp."), 0);
    CHECK_INT(checksum(stories), before);
}

/* Cancel from the progress callback: llama.cpp stops within a tensor, nothing is written. */
static int tensor_lines;
static void count_tensor_lines(llamac_log_level level, const char *line, void *ud) {
    (void)level;
    (void)ud;
    tensor_lines += line[0] == '[' && strchr(line, '/') != NULL;
}
static int cancel_calls;
static bool cancel_third(float f, void *ud) {
    (void)f;
    (void)ud;
    return ++cancel_calls < 3;
}

static void test_cancel(void) {
    const char *out = path_of("cancelled.gguf");
    llamac_quantize_params p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_Q4_K_M;
    p.progress = cancel_third;
    cancel_calls = 0;
    tensor_lines = 0;
    llamac_log_set(count_tensor_lines, LLAMAC_LOG_DEBUG, NULL);
    llamac_quantize_report *r = (llamac_quantize_report *)1;
    CHECK_STATUS(llamac_quantize(synth, out, &p, &r), LLAMAC_E_CANCELLED);
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
    CHECK_ERROR_HAS("was cancelled by the progress callback; nothing was written");
    CHECK(r == NULL);
    CHECK_INT(cancel_calls, 3);
    /* the dry run logs 20 tensor lines; the real run stops after the third tensor (at most one more line) */
    CHECK(tensor_lines >= 23 && tensor_lines <= 24);
    CHECK(!exists(out));
    CHECK_INT(count_files(".tmp."), 0);
}

static void test_imatrix(void) {
    const char *src = getenv("LLAMAC_SOURCE_DIR");
    char gguf_im[1024], dat_im[1024];
    snprintf(gguf_im, sizeof gguf_im, "%s/tests/reference/quantize/synth.imatrix.gguf", src ? src : "..");
    snprintf(dat_im, sizeof dat_im, "%s/tests/reference/quantize/synth.imatrix.dat", src ? src : "..");
    const char *out = path_of("iq2.gguf");
    llamac_quantize_params p = llamac_quantize_params_default();
    p.ftype = LLAMAC_FTYPE_IQ2_XXS;
    p.imatrix = gguf_im;
    llamac_quantize_report *r = NULL;
    CHECK_OK(llamac_quantize(synth, out, &p, &r));
    int iq2 = 0;
    for (size_t i = 0; r && i < r->n_tensors; i++) {
        iq2 += r->tensors[i].type_to == LLAMAC_TYPE_IQ2_XXS;
    }
    CHECK_INT(iq2, 12); /* attn_q/k/output and ffn_gate/up in both layers, ffn_down of layer 1 */
    llamac_quantize_report_free(r);
    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open(out, &g));
    size_t k;
    llamac_gguf_kv kv;
    CHECK_OK(llamac_gguf_find_key(g, "quantize.imatrix.file", &k));
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK_STR(kv.str_value, gguf_im);
    CHECK_OK(llamac_gguf_find_key(g, "quantize.imatrix.entries_count", &k));
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK_INT(kv.uint_value, 14);
    CHECK_OK(llamac_gguf_find_key(g, "quantize.imatrix.dataset", &k));
    llamac_gguf_free(g);
    p.imatrix = dat_im;
    CHECK_OK(llamac_quantize(synth, out, &p, NULL));

    /* an importance matrix that is not one, and one of another model */
    write_bytes(path_of("bad.imatrix"), "\x05\x00\x00\x00\xff\xff\x00\x00", 8);
    p.imatrix = path_of("bad.imatrix");
    EXPECT_REFUSED(synth, path_of("x.gguf"), &p, LLAMAC_E_INVALID_ARGUMENT,
                   "entry 0 at offset 4: the name length runs past the end of the file");
    p.imatrix = path_of("no.imatrix");
    EXPECT_REFUSED(synth, path_of("x.gguf"), &p, LLAMAC_E_IO, "cannot open importance matrix");
    snprintf(gguf_im, sizeof gguf_im, "%s/tests/reference/quantize/stories260K.imatrix.gguf", src ? src : "..");
    p.imatrix = gguf_im;
    EXPECT_REFUSED(synth, path_of("x.gguf"), &p, LLAMAC_E_INVALID_ARGUMENT,
                   "the importance matrix has 64 values for 'blk.0.attn_k.weight', which needs 256");
    p.ftype = LLAMAC_FTYPE_COPY;
    EXPECT_REFUSED(synth, path_of("x.gguf"), &p, LLAMAC_E_INVALID_ARGUMENT, "so imatrix would have no effect");
    remove(out);
}

static void test_prune_and_split(void) {
    const char *out = path_of("pruned.gguf");
    int32_t layers[] = { 0 };
    llamac_quantize_params p = llamac_quantize_params_default();
    p.prune_layers = layers;
    p.n_prune_layers = 1;
    llamac_quantize_report *r = NULL;
    CHECK_OK(llamac_quantize(synth, out, &p, &r));
    CHECK_INT(r ? r->n_tensors : 0, 11); /* 20 tensors less one layer of 9 */
    llamac_quantize_report_free(r);
    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open(out, &g));
    llamac_gguf_info info;
    llamac_gguf_get_info(g, &info);
    CHECK_INT(info.n_layer, 1);
    size_t k;
    llamac_gguf_tensor t;
    int blk0 = 0, blk1 = 0;
    for (size_t i = 0; g && i < llamac_gguf_tensor_count(g); i++) {
        llamac_gguf_tensor_at(g, i, &t);
        blk0 += strncmp(t.name, "blk.0.", 6) == 0;
        blk1 += strncmp(t.name, "blk.1.", 6) == 0;
    }
    CHECK_INT(blk0, 9); /* layer 1 became layer 0 */
    CHECK_INT(blk1, 0);
    (void)k;
    llamac_gguf_free(g);
    remove(out);

    /* keep_split: shards like the input's, named after the output prefix */
    char first[1100];
    llamac_split_params sp = llamac_split_params_default();
    sp.max_tensors = 8;
    CHECK_OK(llamac_gguf_split(synth, path_of("syn-split"), &sp, NULL));
    snprintf(first, sizeof first, "%s-00001-of-00003.gguf", path_of("syn-split"));
    p = llamac_quantize_params_default();
    p.keep_split = true;
    r = NULL;
    CHECK_OK(llamac_quantize(first, path_of("kept.gguf"), &p, &r));
    CHECK_INT(r ? r->n_shards_to : 0, 3);
    llamac_quantize_report_free(r);
    CHECK_INT(count_files("kept-0000"), 3);
    char kept[1100];
    snprintf(kept, sizeof kept, "%s-00001-of-00003.gguf", path_of("kept"));
    CHECK_OK(llamac_gguf_open(kept, &g));
    llamac_gguf_get_info(g, &info);
    CHECK_INT(info.n_shards, 3);
    CHECK_INT(info.n_tensors, 20);
    llamac_gguf_free(g);
    /* onto the input's own shards: refused */
    CHECK_STATUS(llamac_quantize(first, path_of("syn-split"), &p, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("refusing to overwrite the input");
    CHECK_INT(count_files(".tmp."), 0);
}

int main(void) {
    stories = test_model("stories260K.gguf");
    snprintf(synth, sizeof synth, "%s", path_of("synth.gguf"));
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "llama";
    sp.n_layer = 2;
    sp.n_embd = 256;
    sp.n_ff = 512;
    sp.n_head = 4;
    sp.seed = 7;
    sp.vocab_from = stories;
    if (llamac_synth_write(synth, &sp) != LLAMAC_OK) {
        fprintf(stderr, "cannot synthesize the test model: %s\n", llamac_last_error());
        return 1;
    }
    RUN(test_names);
    RUN(test_quantize_and_report);
    RUN(test_refused_parameters);
    RUN(test_refused_combinations);
    RUN(test_files);
    RUN(test_write_failure);
    RUN(test_cancel);
    RUN(test_imatrix);
    RUN(test_prune_and_split);
    TESTS_DONE();
}
