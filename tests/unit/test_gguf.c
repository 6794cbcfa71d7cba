/*
 * test_gguf.c - GGUF metadata (llamac_gguf_*), split and merge.
 *
 * A real model (stories260K) gives known values for every info field and accessor. Malformed files are built here
 * byte by byte, so each test knows the exact offset of the field it breaks and checks that the message names that
 * field at that offset; every prefix of a valid file and thousands of byte mutations must fail cleanly (or load).
 * Split and merge are checked for round trips (every metadata value and every tensor byte kept) and their errors.
 */
#include "helpers.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a small GGUF writer for hand-made files ---- */

struct image {
    unsigned char b[4096];
    size_t n;
    /* offsets of the fields tests break */
    size_t kv_off[4], kv_type_off[4], kv_n_off[4], kv_value_off[4];
    size_t t_off[4], t_ndims_off[4], t_ne_off[4], t_type_off[4], t_offset_off[4];
    size_t data_off;
};

static void put(struct image *im, const void *p, size_t n) {
    memcpy(im->b + im->n, p, n);
    im->n += n;
}
static void put_u32(struct image *im, uint32_t v) {
    put(im, &v, 4);
}
static void put_u64(struct image *im, uint64_t v) {
    put(im, &v, 8);
}
static void put_str(struct image *im, const char *s) {
    put_u64(im, strlen(s));
    put(im, s, strlen(s));
}
static void set_u32(struct image *im, size_t at, uint32_t v) {
    memcpy(im->b + at, &v, 4);
}
static void set_u64(struct image *im, size_t at, uint64_t v) {
    memcpy(im->b + at, &v, 8);
}

/* GGUF v3: key0 = "general.architecture" string "llama" (or key0/string given), key1 = u32[3] {1, 2, 3}, then
 * n_tensors f32 tensors [4, 2] named by `names`, data 32 bytes each. */
static void build(struct image *im, const char *key0, const char *key1, const char *const *names, size_t n_tensors) {
    memset(im, 0, sizeof *im);
    put(im, "GGUF", 4);
    put_u32(im, 3);
    put_u64(im, n_tensors);
    put_u64(im, 2);
    im->kv_off[0] = im->n;
    put_str(im, key0);
    im->kv_type_off[0] = im->n;
    put_u32(im, 8);
    im->kv_value_off[0] = im->n;
    put_str(im, "llama");
    im->kv_off[1] = im->n;
    put_str(im, key1);
    im->kv_type_off[1] = im->n;
    put_u32(im, 9);
    put_u32(im, 4);
    im->kv_n_off[1] = im->n;
    put_u64(im, 3);
    im->kv_value_off[1] = im->n;
    for (uint32_t v = 1; v <= 3; v++) {
        put_u32(im, v);
    }
    for (size_t t = 0; t < n_tensors; t++) {
        im->t_off[t] = im->n;
        put_str(im, names[t]);
        im->t_ndims_off[t] = im->n;
        put_u32(im, 2);
        im->t_ne_off[t] = im->n;
        put_u64(im, 4);
        put_u64(im, 2);
        im->t_type_off[t] = im->n;
        put_u32(im, 0);
        im->t_offset_off[t] = im->n;
        put_u64(im, 32 * t);
    }
    while (im->n % 32) {
        im->b[im->n++] = 0;
    }
    im->data_off = im->n;
    for (size_t t = 0; t < n_tensors; t++) {
        for (int i = 0; i < 8; i++) {
            float f = (float)(t * 10 + (size_t)i);
            put(im, &f, 4);
        }
    }
}

static const char *one_tensor[] = { "t" };

static void build_default(struct image *im) {
    build(im, "general.architecture", "test.arr", one_tensor, 1);
}

/* Opening the image must fail with LLAMAC_E_MODEL_LOAD and a message containing `needle`. */
static void expect_malformed(const struct image *im, size_t size, const char *needle, int line) {
    llamac_gguf *g = (llamac_gguf *)1;
    llamac_status st = llamac_gguf_open_buffer(im->b, size, &g);
    if (st == LLAMAC_E_MODEL_LOAD && g == NULL && strstr(llamac_last_error(), needle)) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "%s:%d: expected a malformed-file error with \"%s\", got %s: %s\n", __FILE__, line, needle,
                llamac_status_str(st), llamac_last_error());
    }
    llamac_gguf_free(st == LLAMAC_OK ? g : NULL);
}
#define EXPECT_MALFORMED(im, size, needle) expect_malformed(im, size, needle, __LINE__)

static void test_hand_made_file(void) {
    struct image im;
    build_default(&im);
    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open_buffer(im.b, im.n, &g));
    llamac_gguf_info info;
    CHECK_OK(llamac_gguf_get_info(g, &info));
    CHECK_INT(info.version, 3);
    CHECK_STR(info.architecture, "llama");
    CHECK_INT(info.n_kv, 2);
    CHECK_INT(info.n_tensors, 1);
    CHECK_INT(info.n_params, 8);
    CHECK_INT(info.tensor_bytes, 32);
    CHECK_INT(info.metadata_size, im.data_off);
    CHECK_INT(info.file_type, -1);
    CHECK(info.name == NULL && info.chat_template == NULL && info.tokenizer == NULL);
    llamac_gguf_kv kv;
    CHECK_OK(llamac_gguf_kv_at(g, 1, &kv));
    CHECK_STR(kv.key, "test.arr");
    CHECK_INT(kv.type, LLAMAC_GGUF_ARRAY);
    CHECK_INT(kv.elem_type, LLAMAC_GGUF_UINT32);
    CHECK_INT(kv.n, 3);
    CHECK_OK(llamac_gguf_arr_at(g, 1, 2, &kv));
    CHECK_INT(kv.type, LLAMAC_GGUF_UINT32);
    CHECK_INT(kv.uint_value, 3);
    llamac_gguf_tensor t;
    CHECK_OK(llamac_gguf_tensor_at(g, 0, &t));
    CHECK_STR(t.name, "t");
    CHECK_STR(t.type_name, "f32");
    CHECK_INT(t.n_dims, 2);
    CHECK_INT(t.ne[0], 4);
    CHECK_INT(t.ne[1], 2);
    CHECK_INT(t.offset, im.data_off);
    CHECK_INT(t.size, 32);
    llamac_gguf_free(g);
}

static void test_malformed_fields(void) {
    struct image im;
    char msg[256];

    build_default(&im);
    memcpy(im.b, "GGUX", 4);
    EXPECT_MALFORMED(&im, im.n, "is not a GGUF file (192 bytes, no GGUF magic at offset 0)");

    build_default(&im);
    set_u32(&im, 4, 1);
    EXPECT_MALFORMED(&im, im.n, "header version at offset 4: GGUF version 1 is no longer supported");
    set_u32(&im, 4, 4);
    EXPECT_MALFORMED(&im, im.n, "header version at offset 4: version 4 is newer than the 3 this build reads");
    set_u32(&im, 4, 0x03000000);
    EXPECT_MALFORMED(&im, im.n, "other byte order");

    build_default(&im);
    set_u64(&im, 8, 1000000000000000000ull);
    EXPECT_MALFORMED(&im, im.n,
                     "header tensor count at offset 8: 1000000000000000000 tensors cannot fit in the 168 "
                     "bytes left in the file");
    build_default(&im);
    set_u64(&im, 16, UINT64_MAX);
    EXPECT_MALFORMED(&im, im.n, "header metadata count at offset 16: -1 metadata entries cannot fit");

    build_default(&im);
    set_u64(&im, im.kv_off[0], 1ull << 40);
    snprintf(msg, sizeof msg,
             "metadata entry 0 key at offset %zu: string length 1099511627776 is more than GGUF's limit of "
             "1073741824 bytes",
             im.kv_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);
    set_u64(&im, im.kv_off[0], 1000);
    snprintf(msg, sizeof msg,
             "metadata entry 0 key at offset %zu: string length 1000 is more than the %zu bytes left in the file",
             im.kv_off[0], im.n - im.kv_off[0] - 8);
    EXPECT_MALFORMED(&im, im.n, msg);
    set_u64(&im, im.kv_off[0], 0);
    snprintf(msg, sizeof msg, "metadata entry 0 key at offset %zu: the key is empty", im.kv_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build_default(&im);
    set_u32(&im, im.kv_type_off[0], 42);
    snprintf(msg, sizeof msg,
             "metadata entry 0 ('general.architecture') type at offset %zu: 42 is not a GGUF value type (0 to 12)",
             im.kv_type_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build_default(&im);
    set_u32(&im, im.kv_type_off[1] + 4, 9);
    EXPECT_MALFORMED(&im, im.n, "arrays of arrays are not allowed");
    build_default(&im);
    set_u64(&im, im.kv_n_off[1], 1ull << 31);
    snprintf(msg, sizeof msg,
             "metadata entry 1 ('test.arr') array length at offset %zu: 2147483648 elements are more than GGUF's "
             "limit",
             im.kv_n_off[1]);
    EXPECT_MALFORMED(&im, im.n, msg);
    set_u64(&im, im.kv_n_off[1], 1000);
    snprintf(msg, sizeof msg,
             "metadata entry 1 ('test.arr') value at offset %zu: an array of 1000 u32 values need 4000 bytes, only "
             "%zu left in the file",
             im.kv_value_off[1], im.n - im.kv_value_off[1]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build(&im, "test.same", "test.same", one_tensor, 1);
    snprintf(msg, sizeof msg,
             "metadata entry 1 key at offset %zu: key 'test.same' is a duplicate of metadata entry 0 (at offset %zu)",
             im.kv_off[1], im.kv_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build(&im, "general.alignment", "test.arr", one_tensor, 1);
    snprintf(msg, sizeof msg, "metadata 'general.alignment' at offset %zu: must be a u32, not str", im.kv_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build_default(&im);
    set_u32(&im, im.t_ndims_off[0], 5);
    snprintf(msg, sizeof msg, "tensor 0 ('t') dimension count at offset %zu: 5 dimensions are more than ggml's 4",
             im.t_ndims_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);
    build_default(&im);
    set_u64(&im, im.t_ne_off[0], (uint64_t)-4);
    snprintf(msg, sizeof msg, "tensor 0 ('t') dimension 0 at offset %zu: -4 elements is negative", im.t_ne_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);
    build_default(&im);
    set_u64(&im, im.t_ne_off[0], 1ull << 62);
    set_u64(&im, im.t_ne_off[0] + 8, 1ull << 62);
    EXPECT_MALFORMED(&im, im.n, "has too many elements");

    build_default(&im);
    set_u32(&im, im.t_type_off[0], 99);
    snprintf(msg, sizeof msg, "tensor 0 ('t') type at offset %zu: 99 is not a ggml type (0 to 42)", im.t_type_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);
    set_u32(&im, im.t_type_off[0], 4);
    EXPECT_MALFORMED(&im, im.n, "type 4 is no longer supported by ggml");
    set_u32(&im, im.t_type_off[0], 8);
    EXPECT_MALFORMED(&im, im.n, "type q8_0 stores blocks of 32 elements, but a row has 4");

    build_default(&im);
    set_u64(&im, im.t_offset_off[0], 32);
    snprintf(msg, sizeof msg, "tensor 0 ('t') data offset at offset %zu: 32, expected 0", im.t_offset_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);

    build_default(&im);
    snprintf(msg, sizeof msg,
             "tensor 0 ('t') data at offset %zu: 32 bytes end at offset %zu, past the end of the file (%zu bytes): "
             "the file is truncated",
             im.data_off, im.data_off + 32, im.n - 12);
    EXPECT_MALFORMED(&im, im.n - 12, msg);
    snprintf(msg, sizeof msg, "tensor data at offset %zu: the data section starts past the end of the file",
             im.data_off);
    EXPECT_MALFORMED(&im, im.data_off - 2, msg);

    const char *long_name[] = { "a_name_that_is_sixty_four_bytes_long_which_is_one_more_than_ggml" };
    CHECK_INT(strlen(long_name[0]), 64);
    build(&im, "general.architecture", "test.arr", long_name, 1);
    snprintf(msg, sizeof msg, "tensor 0 name at offset %zu: a name of 64 bytes is longer than ggml's limit of 63",
             im.t_off[0]);
    EXPECT_MALFORMED(&im, im.n, msg);
    const char *twice[] = { "w", "w" };
    build(&im, "general.architecture", "test.arr", twice, 2);
    snprintf(msg, sizeof msg, "tensor 1 name at offset %zu: name 'w' is a duplicate of tensor 0", im.t_off[1]);
    EXPECT_MALFORMED(&im, im.n, msg);
}

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Every prefix, and thousands of random byte changes, of a valid file: never a crash; a failure always names
 * the field and offset (the walker catches what llama.cpp's reader would refuse); a success is fully readable. */
static void test_never_crashes(void) {
    struct image im;
    const char *names[] = { "t0", "t1" };
    build(&im, "general.architecture", "test.arr", names, 2);
    int bad = 0;
    for (size_t n = 1; n < im.n; n++) {
        llamac_gguf *g = NULL;
        llamac_status st = llamac_gguf_open_buffer(im.b, n, &g);
        bad += st != LLAMAC_E_MODEL_LOAD || !strstr(llamac_last_error(), " at offset ");
        llamac_gguf_free(g);
    }
    CHECK_INT(bad, 0);
    uint64_t seed = 12345;
    int loaded = 0, refused = 0, unexplained = 0;
    for (int round = 0; round < 5000; round++) {
        struct image m = im;
        int changes = 1 + (int)(lcg(&seed) % 4);
        for (int c = 0; c < changes; c++) {
            m.b[lcg(&seed) % m.n] = (unsigned char)lcg(&seed);
        }
        llamac_gguf *g = NULL;
        llamac_status st = llamac_gguf_open_buffer(m.b, m.n, &g);
        if (st == LLAMAC_OK) {
            loaded++;
            llamac_gguf_info info;
            llamac_gguf_get_info(g, &info);
            for (size_t i = 0; i < llamac_gguf_kv_count(g); i++) {
                llamac_gguf_kv kv;
                CHECK_OK(llamac_gguf_kv_at(g, i, &kv));
                for (uint64_t j = 0; kv.type == LLAMAC_GGUF_ARRAY && j < kv.n && j < 64; j++) {
                    llamac_gguf_kv e;
                    CHECK_OK(llamac_gguf_arr_at(g, i, j, &e));
                }
            }
            for (size_t i = 0; i < llamac_gguf_tensor_count(g); i++) {
                llamac_gguf_tensor t;
                CHECK_OK(llamac_gguf_tensor_at(g, i, &t));
                CHECK(t.offset + t.size <= m.n);
            }
        } else {
            refused++;
            if (st != LLAMAC_E_MODEL_LOAD || !strstr(llamac_last_error(), " at offset ")) {
                unexplained++;
                fprintf(stderr, "  unexplained: %s: %s\n", llamac_status_str(st), llamac_last_error());
            }
        }
        llamac_gguf_free(g);
    }
    CHECK_INT(unexplained, 0);
    CHECK(loaded > 0 && refused > 0);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_stories(void) {
    const char *path = test_model("stories260K.gguf");
    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open(path, &g));
    llamac_gguf_info in;
    CHECK_OK(llamac_gguf_get_info(g, &in));
    CHECK_INT(in.version, 3);
    CHECK_INT(in.n_shards, 1);
    CHECK_INT(in.file_size, file_size(path));
    CHECK_INT(in.metadata_size, 14176);
    CHECK_INT(in.alignment, 32);
    CHECK_INT(in.n_kv, 19);
    CHECK_INT(in.n_tensors, 48);
    CHECK_INT(in.n_params, 292800);
    CHECK_INT(in.tensor_bytes, 1171200);
    CHECK_STR(in.architecture, "llama");
    CHECK_STR(in.name, "llama");
    CHECK_INT(in.file_type, -1);
    CHECK_INT(in.n_ctx_train, 2048);
    CHECK_INT(in.n_embd, 64);
    CHECK_INT(in.n_layer, 5);
    CHECK_INT(in.n_ff, 172);
    CHECK_INT(in.n_head, 8);
    CHECK_INT(in.n_head_kv, 4);
    CHECK_INT(in.head_dim_k, 8);
    CHECK_INT(in.head_dim_v, 8);
    CHECK_STR(in.tokenizer, "llama");
    CHECK_INT(in.n_vocab, 512);
    CHECK(in.chat_template == NULL);

    size_t k = 99;
    CHECK_OK(llamac_gguf_find_key(g, "llama.block_count", &k));
    llamac_gguf_kv kv;
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK_INT(kv.type, LLAMAC_GGUF_UINT32);
    CHECK_INT(kv.uint_value, 5);
    CHECK_STR(llamac_gguf_type_name(kv.type), "u32");
    CHECK_OK(llamac_gguf_find_key(g, "llama.attention.layer_norm_rms_epsilon", &k));
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK(kv.type == LLAMAC_GGUF_FLOAT32 && kv.float_value > 9.9e-6 && kv.float_value < 1.01e-5);
    CHECK_OK(llamac_gguf_find_key(g, "tokenizer.ggml.tokens", &k));
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK(kv.type == LLAMAC_GGUF_ARRAY && kv.elem_type == LLAMAC_GGUF_STRING && kv.n == 512 && !kv.str_value);
    CHECK_OK(llamac_gguf_arr_at(g, k, 1, &kv));
    CHECK_STR(kv.str_value, "<s>");
    CHECK_INT(kv.str_len, 3);
    CHECK_STATUS(llamac_gguf_arr_at(g, k, 512, &kv), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("element 512 out of range: 'tokenizer.ggml.tokens' has 512 elements");
    CHECK_OK(llamac_gguf_find_key(g, "general.name", &k));
    CHECK_STATUS(llamac_gguf_arr_at(g, k, 0, &kv), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("is not an array");
    CHECK_STATUS(llamac_gguf_find_key(g, "no.such.key", &k), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("no metadata key 'no.such.key'");
    CHECK_STATUS(llamac_gguf_kv_at(g, 19, &kv), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(kv.key == NULL);

    uint64_t sum = 0, end = 0;
    for (size_t i = 0; i < llamac_gguf_tensor_count(g); i++) {
        llamac_gguf_tensor t;
        CHECK_OK(llamac_gguf_tensor_at(g, i, &t));
        sum += t.size;
        end = t.offset + t.size > end ? t.offset + t.size : end;
        if (strcmp(t.name, "output_norm.weight") == 0) {
            /* the norm weights are real data: read them at the offset given */
            FILE *f = fopen(path, "rb");
            float v[64];
            CHECK(f && fseek(f, (long)t.offset, SEEK_SET) == 0 && fread(v, 4, 64, f) == 64);
            CHECK(v[0] > 0.01f && v[0] < 100.0f);
            fclose(f);
            CHECK_INT(t.n_dims, 1);
            CHECK_INT(t.ne[0], 64);
        }
    }
    CHECK_INT(sum, in.tensor_bytes);
    CHECK(end <= (uint64_t)file_size(path));
    CHECK_STATUS(llamac_gguf_tensor_at(g, 48, &(llamac_gguf_tensor){ 0 }), LLAMAC_E_INVALID_ARGUMENT);
    llamac_gguf_free(g);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_open_errors(void) {
    llamac_gguf *g = (llamac_gguf *)1;
    CHECK_STATUS(llamac_gguf_open(NULL, &g), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(g == NULL);
    CHECK_STATUS(llamac_gguf_open("x", NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_gguf_open(test_tmp("no-such-file.gguf"), &g), LLAMAC_E_IO);
    CHECK_ERROR_HAS("No such file or directory");
    CHECK_STATUS(llamac_gguf_open(test_tmp(""), &g), LLAMAC_E_IO);
    CHECK_ERROR_HAS("it is a directory");
    write_file(test_tmp("empty.gguf"), "", 0);
    CHECK_STATUS(llamac_gguf_open(test_tmp("empty.gguf"), &g), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("is empty (0 bytes), not a GGUF file");
    write_file(test_tmp("text.gguf"), "hello world\n", 12);
    CHECK_STATUS(llamac_gguf_open(test_tmp("text.gguf"), &g), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("is not a GGUF file (12 bytes, no GGUF magic at offset 0)");

    /* stories260K cut short: the message names the first tensor whose data is missing */
    FILE *f = fopen(test_model("stories260K.gguf"), "rb");
    static unsigned char buf[200000];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) {
        fclose(f);
    }
    write_file(test_tmp("trunc.gguf"), buf, 100000);
    CHECK_STATUS(llamac_gguf_open(test_tmp("trunc.gguf"), &g), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("tensor 0 ('token_embd.weight') data at offset 14176: 131072 bytes end at offset 145248, past "
                    "the end of the file (100000 bytes): the file is truncated");
    CHECK_STATUS(llamac_gguf_open_buffer(buf, 3000, &g), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("metadata entry 0 ('tokenizer.ggml.tokens') value at offset 69: an array of 512 strings needs at "
                    "least 4096 bytes, only 2931 left in the file");
    CHECK(n == sizeof buf);
    CHECK(g == NULL);
}

/* Files of `dir` whose name contains `part`. */
static int count_files(const char *dir, const char *part) {
    DIR *d = opendir(dir);
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

/* Every metadata value of a exists in b with the same type and value; every tensor has the same bytes. */
static void check_same_model(const char *pa, const char *pb) {
    llamac_gguf *a = NULL, *b = NULL;
    CHECK_OK(llamac_gguf_open(pa, &a));
    CHECK_OK(llamac_gguf_open(pb, &b));
    if (!a || !b) {
        llamac_gguf_free(a);
        llamac_gguf_free(b);
        return;
    }
    int diff = 0;
    for (size_t i = 0; i < llamac_gguf_kv_count(a); i++) {
        llamac_gguf_kv x, y;
        size_t j;
        llamac_gguf_kv_at(a, i, &x);
        if (llamac_gguf_find_key(b, x.key, &j) != LLAMAC_OK) {
            diff++;
            continue;
        }
        llamac_gguf_kv_at(b, j, &y);
        diff += x.type != y.type || x.elem_type != y.elem_type || x.n != y.n || x.int_value != y.int_value ||
                x.uint_value != y.uint_value || memcmp(&x.float_value, &y.float_value, sizeof x.float_value) != 0 ||
                (x.str_value && strcmp(x.str_value, y.str_value) != 0);
        for (uint64_t e = 0; x.type == LLAMAC_GGUF_ARRAY && e < x.n; e++) {
            llamac_gguf_arr_at(a, i, e, &x);
            llamac_gguf_arr_at(b, j, e, &y);
            diff += x.int_value != y.int_value || x.uint_value != y.uint_value ||
                    memcmp(&x.float_value, &y.float_value, sizeof x.float_value) != 0 ||
                    (x.str_value && strcmp(x.str_value, y.str_value) != 0);
            llamac_gguf_kv_at(a, i, &x);
        }
    }
    CHECK_INT(diff, 0);
    CHECK_INT(llamac_gguf_tensor_count(a), llamac_gguf_tensor_count(b));
    size_t na, nb;
    unsigned char *da = (unsigned char *)test_read_file(pa, &na), *db = (unsigned char *)test_read_file(pb, &nb);
    int tdiff = 0;
    for (size_t i = 0; da && db && i < llamac_gguf_tensor_count(a); i++) {
        llamac_gguf_tensor x, y;
        llamac_gguf_tensor_at(a, i, &x);
        llamac_gguf_tensor_at(b, i, &y);
        tdiff += strcmp(x.name, y.name) != 0 || x.type != y.type || x.size != y.size ||
                 memcmp(x.ne, y.ne, sizeof x.ne) != 0 || memcmp(da + x.offset, db + y.offset, x.size) != 0;
    }
    CHECK_INT(tdiff, 0);
    free(da);
    free(db);
    llamac_gguf_free(a);
    llamac_gguf_free(b);
}

static int progress_calls;
static float progress_last;
static bool count_progress(float f, void *ud) {
    (void)ud;
    progress_calls++;
    progress_last = f;
    return true;
}
static bool stop_at_half(float f, void *ud) {
    (void)ud;
    return f < 0.5f;
}

static void test_split_merge(void) {
    const char *model = test_model("stories260K.gguf");
    char prefix[1024], first[1100], merged[1024];
    snprintf(prefix, sizeof prefix, "%s", test_tmp("st-split"));
    snprintf(first, sizeof first, "%s-00001-of-00003.gguf", prefix);
    snprintf(merged, sizeof merged, "%s", test_tmp("st-merged.gguf"));
    llamac_split_params sp = llamac_split_params_default();
    CHECK_INT(sp.max_tensors, 128);
    CHECK_INT(sp.max_bytes, 0);
    sp.max_tensors = 20;
    sp.progress = count_progress;
    uint32_t n = 0;
    progress_calls = 0;
    CHECK_OK(llamac_gguf_split(model, prefix, &sp, &n));
    CHECK_INT(n, 3);
    CHECK(progress_calls >= 48 && progress_last == 1.0f);
    CHECK_INT(count_files(test_tmp(""), "st-split-0000"), 3);

    llamac_gguf *g = NULL;
    CHECK_OK(llamac_gguf_open(first, &g));
    llamac_gguf_info info;
    llamac_gguf_get_info(g, &info);
    CHECK_INT(info.n_shards, 3);
    CHECK_INT(info.n_tensors, 48);
    CHECK_INT(info.n_params, 292800);
    CHECK_INT(info.n_layer, 5);
    llamac_gguf_tensor t;
    CHECK_OK(llamac_gguf_tensor_at(g, 47, &t));
    CHECK_INT(t.shard, 2);
    llamac_gguf_free(g);

    CHECK_OK(llamac_gguf_merge(first, merged, NULL, NULL));
    check_same_model(model, merged);
    CHECK_OK(llamac_gguf_open(merged, &g));
    size_t k;
    llamac_gguf_kv kv;
    CHECK_OK(llamac_gguf_find_key(g, "split.count", &k));
    CHECK_OK(llamac_gguf_kv_at(g, k, &kv));
    CHECK_INT(kv.uint_value, 0);
    llamac_gguf_get_info(g, &info);
    CHECK_INT(info.n_shards, 1);
    llamac_gguf_free(g);

    /* by size: no shard holds more than 400000 bytes of tensor data unless one tensor alone is larger */
    sp = llamac_split_params_default();
    sp.max_bytes = 400000;
    CHECK_OK(llamac_gguf_split(model, test_tmp("st-size.gguf"), &sp, &n));
    CHECK_INT(n, 4);
    char path[1100];
    snprintf(path, sizeof path, "%s-00001-of-00004.gguf", test_tmp("st-size"));
    CHECK_OK(llamac_gguf_open(path, &g));
    uint64_t per[4] = { 0 };
    for (size_t i = 0; g && i < llamac_gguf_tensor_count(g); i++) {
        llamac_gguf_tensor_at(g, i, &t);
        per[t.shard] += (t.size + 31) / 32 * 32;
    }
    CHECK(per[0] <= 400000 && per[1] <= 400000 && per[2] <= 400000 && per[3] <= 400000 && per[3] > 0);
    llamac_gguf_free(g);

    /* errors, each leaving no file behind */
    sp = llamac_split_params_default();
    sp.max_tensors = 0;
    CHECK_STATUS(llamac_gguf_split(model, test_tmp("x"), &sp, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_tensors 0 must be at least 1");
    CHECK_INT(n, 0);
    sp.max_tensors = 20;
    CHECK_STATUS(llamac_gguf_split(first, prefix, &sp, &n), LLAMAC_E_IO);
    CHECK_ERROR_HAS("refusing to overwrite the input");
    sp.progress = stop_at_half;
    CHECK_STATUS(llamac_gguf_split(model, test_tmp("cancelled"), &sp, &n), LLAMAC_E_CANCELLED);
    CHECK_INT(count_files(test_tmp(""), "cancelled"), 0);
    CHECK_STATUS(llamac_gguf_merge(first, merged, stop_at_half, NULL), LLAMAC_E_CANCELLED);
    check_same_model(model, merged); /* the earlier merged file is untouched */
    CHECK_STATUS(llamac_gguf_merge(model, test_tmp("m.gguf"), NULL, NULL), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("is not a shard of a split model (it has no split.count)");
    snprintf(path, sizeof path, "%s-00002-of-00003.gguf", prefix);
    CHECK_STATUS(llamac_gguf_merge(path, test_tmp("m.gguf"), NULL, NULL), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("is shard 2 of a split model; merge from the first shard");
    CHECK_STATUS(llamac_gguf_merge(first, path, NULL, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("refusing to overwrite the input");
    char moved[1200];
    snprintf(moved, sizeof moved, "%s.moved", path);
    rename(path, moved);
    CHECK_STATUS(llamac_gguf_merge(first, test_tmp("m.gguf"), NULL, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("shard 2 of 3 of");
    CHECK_ERROR_HAS("is missing or unreadable");
    /* a shard of another split in its place */
    snprintf(path, sizeof path, "%s-00002-of-00003.gguf", prefix);
    char other[1100];
    snprintf(other, sizeof other, "%s-00003-of-00003.gguf", prefix);
    unsigned char copy_buf[1 << 16];
    size_t got;
    FILE *src = fopen(other, "rb"), *dst = fopen(path, "wb");
    while (src && dst && (got = fread(copy_buf, 1, sizeof copy_buf, src)) > 0) {
        fwrite(copy_buf, 1, got, dst);
    }
    if (src) {
        fclose(src);
    }
    if (dst) {
        fclose(dst);
    }
    CHECK_STATUS(llamac_gguf_merge(first, test_tmp("m.gguf"), NULL, NULL), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("should be shard 2 of 3, but says it is shard 3 of 3");
    rename(moved, path);
    CHECK_INT(count_files(test_tmp(""), "m.gguf"), 0);
    CHECK_INT(count_files(test_tmp(""), ".tmp."), 0);

    char *p = NULL;
    CHECK_OK(llamac_split_path("/m/x", 1, 3, &p));
    CHECK_STR(p, "/m/x-00002-of-00003.gguf");
    llamac_free(p);
    CHECK_STATUS(llamac_split_path("/m/x", 3, 3, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(p == NULL);
}

int main(void) {
    RUN(test_hand_made_file);
    RUN(test_malformed_fields);
    RUN(test_never_crashes);
    RUN(test_stories);
    RUN(test_open_errors);
    RUN(test_split_merge);
    TESTS_DONE();
}
