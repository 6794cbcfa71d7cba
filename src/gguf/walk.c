/*
 * walk.c - a careful reader of the GGUF header that says what is wrong with a malformed file, and where.
 *
 * llama.cpp's gguf parser refuses bad files safely but reports only what kind of thing failed ("failed to read
 * key-value pairs"), never where. This walker reads the same structure with the same rules (GGUF v2/v3: header,
 * key-value pairs, tensor table, aligned data section) and trusts no count, length or offset before checking it
 * against the bytes left, so it is safe on any input. On the first problem it names the field and its byte offset.
 * It accepts what gguf_init_from_file accepts, and in addition checks what llama.cpp only finds out when it loads
 * the tensor data: that every tensor's data lies inside the file, so a truncated file is called truncated.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STRING ((uint64_t)1 << 30) /* gguf.cpp's GGUF_MAX_STRING_LENGTH */
#define MAX_ARRAY ((uint64_t)1 << 30)  /* gguf.cpp's GGUF_MAX_ARRAY_ELEMENTS */
#define NAME_CAP 64                    /* ggml's GGML_MAX_NAME: names are shorter */
#define CACHE_CAP 65536

/* The bytes being checked: memory, or a file read through a small cache. */
struct source {
    const unsigned char *mem;
    int fd;
    uint64_t size;
    unsigned char *cache;
    uint64_t cache_off;
    size_t cache_len;
};

/* Copies n bytes at `off` (off + n <= size, checked by the caller). False when the file cannot be read. */
static bool source_get(struct source *s, uint64_t off, void *dst, size_t n) {
    if (s->mem) {
        memcpy(dst, s->mem + off, n);
        return true;
    }
    unsigned char *d = dst;
    while (n > 0) {
        if (off >= s->cache_off && off < s->cache_off + s->cache_len) {
            size_t k = (size_t)(s->cache_off + s->cache_len - off);
            k = k < n ? k : n;
            memcpy(d, s->cache + (off - s->cache_off), k);
            d += k;
            off += k;
            n -= k;
            continue;
        }
        ssize_t got;
        do {
            got = pread(s->fd, s->cache, CACHE_CAP, (off_t)off);
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
            if (got == 0) {
                errno = EIO; /* the file shrank while we read it */
            }
            return false;
        }
        s->cache_off = off;
        s->cache_len = (size_t)got;
    }
    return true;
}

/* One entry of a hash set of names: the hash and the index of the entry it came from (+1; 0 is empty). */
struct slot {
    uint64_t hash;
    size_t item;
};

struct walker {
    struct source src;
    uint64_t pos;
    char *err;
    size_t err_cap;
    char field[200];               /* what is being read, for messages */
    enum llamac__walk_result kind; /* of the failure */
};

static bool fail(struct walker *w, uint64_t off, const char *fmt, ...) LLAMAC_PRINTF(3, 4);

static bool fail(struct walker *w, uint64_t off, const char *fmt, ...) {
    int n = snprintf(w->err, w->err_cap, "%s at offset %llu: ", w->field, (unsigned long long)off);
    if (n >= 0 && (size_t)n < w->err_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err + n, w->err_cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static void set_field(struct walker *w, const char *fmt, ...) LLAMAC_PRINTF(2, 3);

static void set_field(struct walker *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->field, sizeof w->field, fmt, ap);
    va_end(ap);
}

static uint64_t left(const struct walker *w) {
    return w->src.size - w->pos;
}

/* Reads n bytes at the current position, failing with a precise message when the file ends first. */
static bool take(struct walker *w, void *dst, size_t n) {
    if (n > left(w)) {
        return fail(w, w->pos, "needs %zu bytes, only %llu left in the file (%llu bytes)", n,
                    (unsigned long long)left(w), (unsigned long long)w->src.size);
    }
    if (!source_get(&w->src, w->pos, dst, n)) {
        w->kind = LLAMAC__WALK_IO;
        return fail(w, w->pos, "cannot read the file: %s", strerror(errno));
    }
    w->pos += n;
    return true;
}

static bool take_u32(struct walker *w, uint32_t *v) {
    unsigned char b[4];
    if (!take(w, b, 4)) {
        return false;
    }
    memcpy(v, b, 4); /* GGUF is little-endian, as every host llama.cpp runs on */
    return true;
}

static bool take_u64(struct walker *w, uint64_t *v) {
    unsigned char b[8];
    if (!take(w, b, 8)) {
        return false;
    }
    memcpy(v, b, 8);
    return true;
}

/* Skips n bytes that must be in the file. */
static bool skip(struct walker *w, uint64_t n, const char *what) {
    if (n > left(w)) {
        return fail(w, w->pos, "%s of %llu bytes runs past the end of the file (%llu bytes left)", what,
                    (unsigned long long)n, (unsigned long long)left(w));
    }
    w->pos += n;
    return true;
}

/* Reads a string's length and checks it; the bytes follow at w->pos. */
static bool take_string_len(struct walker *w, uint64_t *len) {
    uint64_t at = w->pos;
    if (!take_u64(w, len)) {
        return false;
    }
    if (*len > MAX_STRING) {
        return fail(w, at, "string length %llu is more than GGUF's limit of %llu bytes", (unsigned long long)*len,
                    (unsigned long long)MAX_STRING);
    }
    if (*len > left(w)) {
        return fail(w, at, "string length %llu is more than the %llu bytes left in the file", (unsigned long long)*len,
                    (unsigned long long)left(w));
    }
    return true;
}

static uint64_t fnv_init(void) {
    return 14695981039346656037ull;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* Readable form of a name for messages: at most 60 bytes, unprintable bytes as '?'. */
static void preview(char *dst, size_t cap, const unsigned char *s, size_t len, bool cut) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < 60; i++) {
        dst[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    }
    if ((cut || len > 60) && n + 4 < cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

static const char *type_name(int32_t t) {
    static const char *names[] = { "u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
                                   "bool", "str", "arr", "u64", "i64", "f64" };
    return t >= 0 && t < 13 ? names[t] : "?";
}

static size_t type_size(int32_t t) {
    static const size_t sizes[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return t >= 0 && t < 13 ? sizes[t] : 0;
}

static bool valid_value_type(int32_t t) {
    return t >= 0 && t <= 12 && t != 9;
}

/* The names seen so far (keys or tensor names), in a hash set that grows with what was actually read, so a
 * count in the header can make it allocate nothing the file does not back with bytes. */
struct name_set {
    struct slot *slots; /* cap slots; item is an index + 1 into the arrays below, 0 when empty */
    size_t cap;
    size_t n, n_cap;
    uint64_t *hash;
    uint64_t *off; /* keys: where the key bytes are */
    uint64_t *len;
    uint64_t *entry_off;
    char (*names)[NAME_CAP]; /* tensor names */
};

static void set_free(struct name_set *set) {
    free(set->slots);
    free(set->hash);
    free(set->off);
    free(set->len);
    free(set->entry_off);
    free(set->names);
    memset(set, 0, sizeof *set);
}

static void set_insert_slot(struct name_set *set, size_t item) {
    for (size_t s = (size_t)set->hash[item] & (set->cap - 1);; s = (s + 1) & (set->cap - 1)) {
        if (set->slots[s].item == 0) {
            set->slots[s].hash = set->hash[item];
            set->slots[s].item = item + 1;
            return;
        }
    }
}

/* Makes room for one more item; false when out of memory. */
static bool set_grow(struct name_set *set, bool with_names) {
    if (set->n + 1 > set->n_cap) {
        size_t n_cap = set->n_cap ? set->n_cap * 2 : 64;
        uint64_t *hash = realloc(set->hash, n_cap * sizeof *hash);
        if (hash) {
            set->hash = hash;
        }
        uint64_t *off = realloc(set->off, n_cap * sizeof *off);
        if (off) {
            set->off = off;
        }
        uint64_t *len = realloc(set->len, n_cap * sizeof *len);
        if (len) {
            set->len = len;
        }
        uint64_t *entry_off = realloc(set->entry_off, n_cap * sizeof *entry_off);
        if (entry_off) {
            set->entry_off = entry_off;
        }
        char(*names)[NAME_CAP] = with_names ? realloc(set->names, n_cap * sizeof *names) : NULL;
        if (names) {
            set->names = names;
        }
        if (!hash || !off || !len || !entry_off || (with_names && !names)) {
            return false;
        }
        set->n_cap = n_cap;
    }
    if ((set->n + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 128;
        struct slot *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            return false;
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
        for (size_t i = 0; i < set->n; i++) {
            set_insert_slot(set, i);
        }
    }
    return true;
}

/* Compares two stretches of the source byte by byte. */
static bool same_bytes(struct walker *w, uint64_t a, uint64_t b, uint64_t len, bool *same) {
    unsigned char x[512], y[512];
    while (len > 0) {
        size_t k = len < sizeof x ? (size_t)len : sizeof x;
        if (!source_get(&w->src, a, x, k) || !source_get(&w->src, b, y, k)) {
            w->kind = LLAMAC__WALK_IO;
            return fail(w, a, "cannot read the file: %s", strerror(errno));
        }
        if (memcmp(x, y, k) != 0) {
            *same = false;
            return true;
        }
        a += k;
        b += k;
        len -= k;
    }
    *same = true;
    return true;
}

/* Reads metadata entry i: key, type, value(s). */
static bool walk_kv(struct walker *w, int64_t i, struct name_set *keys, uint64_t *align_entry, int32_t *align_type,
                    uint32_t *align_value) {
    uint64_t entry_off = w->pos;
    uint64_t len;
    set_field(w, "metadata entry %lld key", (long long)i);
    if (!take_string_len(w, &len)) {
        return false;
    }
    if (len == 0) {
        return fail(w, entry_off, "the key is empty");
    }
    uint64_t key_off = w->pos;
    unsigned char head[64];
    size_t head_len = len < sizeof head ? (size_t)len : sizeof head;
    uint64_t h = fnv_init();
    for (uint64_t done = 0; done < len;) {
        unsigned char chunk[4096];
        size_t k = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
        if (!take(w, chunk, k)) {
            return false;
        }
        if (done == 0) {
            memcpy(head, chunk, head_len);
        }
        h = fnv(h, chunk, k);
        done += k;
    }
    char name[80];
    preview(name, sizeof name, head, head_len, len > head_len);
    if (!set_grow(keys, false)) {
        w->kind = LLAMAC__WALK_NO_MEMORY;
        return fail(w, entry_off, "out of memory after %lld metadata entries", (long long)i);
    }
    for (size_t s = (size_t)h & (keys->cap - 1); keys->slots[s].item != 0; s = (s + 1) & (keys->cap - 1)) {
        size_t j = keys->slots[s].item - 1;
        if (keys->slots[s].hash == h && keys->len[j] == len) {
            bool same = false;
            if (!same_bytes(w, keys->off[j], key_off, len, &same)) {
                return false;
            }
            if (same) {
                return fail(w, entry_off, "key '%s' is a duplicate of metadata entry %zu (at offset %llu)", name, j,
                            (unsigned long long)keys->entry_off[j]);
            }
        }
    }
    size_t item = keys->n++;
    keys->hash[item] = h;
    keys->off[item] = key_off;
    keys->len[item] = len;
    keys->entry_off[item] = entry_off;
    set_insert_slot(keys, item);
    /* llama.cpp looks keys up as C strings (up to a NUL), taking the first match */
    size_t align_len = strlen(GGUF_KEY_GENERAL_ALIGNMENT);
    bool is_alignment = *align_type < 0 && len >= align_len &&
                        memcmp(head, GGUF_KEY_GENERAL_ALIGNMENT, align_len) == 0 &&
                        (len == align_len || head[align_len] == '\0');

    set_field(w, "metadata entry %lld ('%s') type", (long long)i, name);
    uint64_t type_off = w->pos;
    uint32_t raw;
    if (!take_u32(w, &raw)) {
        return false;
    }
    int32_t type = (int32_t)raw;
    bool is_array = type == LLAMAC_GGUF_ARRAY;
    uint64_t n = 1;
    if (is_array) {
        set_field(w, "metadata entry %lld ('%s') array element type", (long long)i, name);
        type_off = w->pos;
        if (!take_u32(w, &raw)) {
            return false;
        }
        type = (int32_t)raw;
        set_field(w, "metadata entry %lld ('%s') array length", (long long)i, name);
        uint64_t n_off = w->pos;
        if (!take_u64(w, &n)) {
            return false;
        }
        if (valid_value_type(type) && n > MAX_ARRAY) {
            return fail(w, n_off, "%llu elements are more than GGUF's limit of %llu", (unsigned long long)n,
                        (unsigned long long)MAX_ARRAY);
        }
    }
    if (!valid_value_type(type)) {
        return fail(w, type_off, "%d is not a GGUF value type (0 to 12%s)", type,
                    is_array ? ", arrays of arrays are not allowed" : "");
    }
    if (is_alignment) {
        *align_entry = entry_off;
        *align_type = is_array ? LLAMAC_GGUF_ARRAY : type;
    }
    set_field(w, "metadata entry %lld ('%s') value", (long long)i, name);
    if (type != LLAMAC_GGUF_STRING) {
        uint64_t bytes = n * type_size(type); /* n <= 2^30, size <= 8: no overflow */
        if (bytes > left(w)) {
            return fail(w, w->pos, "%s%llu %s value%s need %llu bytes, only %llu left in the file",
                        is_array ? "an array of " : "", (unsigned long long)n, type_name(type), n == 1 ? "" : "s",
                        (unsigned long long)bytes, (unsigned long long)left(w));
        }
        if (is_alignment && !is_array && type == LLAMAC_GGUF_UINT32) {
            unsigned char b[4];
            if (!source_get(&w->src, w->pos, b, 4)) {
                w->kind = LLAMAC__WALK_IO;
                return fail(w, w->pos, "cannot read the file: %s", strerror(errno));
            }
            memcpy(align_value, b, 4);
        }
        w->pos += bytes;
        return true;
    }
    if (is_array && n * 8 > left(w)) {
        return fail(w, w->pos, "an array of %llu strings needs at least %llu bytes, only %llu left in the file",
                    (unsigned long long)n, (unsigned long long)(n * 8), (unsigned long long)left(w));
    }
    for (uint64_t e = 0; e < n; e++) {
        if (is_array) {
            set_field(w, "metadata entry %lld ('%s') element %llu", (long long)i, name, (unsigned long long)e);
        }
        if (!take_string_len(w, &len) || !skip(w, len, "the string")) {
            return false;
        }
    }
    return true;
}

/* What the tensor table says about the tensors, kept for the data-section checks; names are in the name set. */
struct tensor_table {
    struct name_set names; /* off: where each offset is written, len: bytes of data, entry_off: the offset */
};

static bool walk_tensor(struct walker *w, int64_t i, struct tensor_table *tt) {
    uint64_t entry_off = w->pos;
    uint64_t len;
    set_field(w, "tensor %lld name", (long long)i);
    if (!take_string_len(w, &len)) {
        return false;
    }
    if (len >= NAME_CAP) {
        return fail(w, entry_off, "a name of %llu bytes is longer than ggml's limit of %d", (unsigned long long)len,
                    NAME_CAP - 1);
    }
    unsigned char raw_name[NAME_CAP];
    if (!take(w, raw_name, (size_t)len)) {
        return false;
    }
    struct name_set *set = &tt->names;
    if (!set_grow(set, true)) {
        w->kind = LLAMAC__WALK_NO_MEMORY;
        return fail(w, entry_off, "out of memory after %lld tensors", (long long)i);
    }
    /* ggml keeps names as C strings: a NUL inside cuts the name, as ggml_set_name does */
    size_t name_len = strnlen((const char *)raw_name, (size_t)len);
    size_t item = set->n;
    char *tname = set->names[item];
    memcpy(tname, raw_name, name_len);
    tname[name_len] = '\0';
    char name[80];
    preview(name, sizeof name, (const unsigned char *)tname, name_len, false);
    uint64_t h = fnv(fnv_init(), (const unsigned char *)tname, name_len);
    for (size_t s = (size_t)h & (set->cap - 1); set->slots[s].item != 0; s = (s + 1) & (set->cap - 1)) {
        size_t j = set->slots[s].item - 1;
        if (set->slots[s].hash == h && strcmp(set->names[j], tname) == 0) {
            return fail(w, entry_off, "name '%s' is a duplicate of tensor %zu", name, j);
        }
    }
    set->n++;
    set->hash[item] = h;
    set_insert_slot(set, item);

    set_field(w, "tensor %lld ('%s') dimension count", (long long)i, name);
    uint64_t at = w->pos;
    uint32_t n_dims;
    if (!take_u32(w, &n_dims)) {
        return false;
    }
    if (n_dims > GGML_MAX_DIMS) {
        return fail(w, at, "%u dimensions are more than ggml's %d", n_dims, GGML_MAX_DIMS);
    }
    int64_t ne[GGML_MAX_DIMS] = { 1, 1, 1, 1 };
    for (uint32_t d = 0; d < n_dims; d++) {
        set_field(w, "tensor %lld ('%s') dimension %u", (long long)i, name, d);
        at = w->pos;
        uint64_t v;
        if (!take_u64(w, &v)) {
            return false;
        }
        ne[d] = (int64_t)v;
        if (ne[d] < 0) {
            return fail(w, at, "%lld elements is negative", (long long)ne[d]);
        }
    }
    bool empty = ne[0] == 0 || ne[1] == 0 || ne[2] == 0 || ne[3] == 0;
    if (!empty && (INT64_MAX / ne[1] <= ne[0] || INT64_MAX / ne[2] <= ne[0] * ne[1] ||
                   INT64_MAX / ne[3] <= ne[0] * ne[1] * ne[2])) {
        return fail(w, at, "the shape %lld x %lld x %lld x %lld has too many elements", (long long)ne[0],
                    (long long)ne[1], (long long)ne[2], (long long)ne[3]);
    }

    set_field(w, "tensor %lld ('%s') type", (long long)i, name);
    at = w->pos;
    uint32_t raw_type;
    if (!take_u32(w, &raw_type)) {
        return false;
    }
    int32_t type = (int32_t)raw_type;
    if (type < 0 || type >= GGML_TYPE_COUNT) {
        return fail(w, at, "%d is not a ggml type (0 to %d)", type, GGML_TYPE_COUNT - 1);
    }
    int64_t blck = ggml_blck_size((enum ggml_type)type);
    size_t tsize = ggml_type_size((enum ggml_type)type);
    if (blck == 0 || tsize == 0) {
        return fail(w, at, "type %d is no longer supported by ggml", type);
    }
    if (ne[0] % blck != 0) {
        return fail(w, at, "type %s stores blocks of %lld elements, but a row has %lld",
                    ggml_type_name((enum ggml_type)type), (long long)blck, (long long)ne[0]);
    }
    uint64_t n_el = empty ? 0 : (uint64_t)(ne[0] * ne[1] * ne[2] * ne[3]);
    if (n_el / (uint64_t)blck > SIZE_MAX / tsize) {
        return fail(w, at, "the tensor's size in bytes does not fit in memory addresses");
    }
    set->len[item] = n_el / (uint64_t)blck * tsize;

    set_field(w, "tensor %lld ('%s') data offset", (long long)i, name);
    set->off[item] = w->pos;
    return take_u64(w, &set->entry_off[item]);
}

static bool walk_all(struct walker *w) {
    set_field(w, "header magic");
    unsigned char magic[4];
    if (!take(w, magic, 4)) {
        return false;
    }
    if (memcmp(magic, GGUF_MAGIC, 4) != 0) {
        char shown[8];
        preview(shown, sizeof shown, magic, 4, false);
        w->kind = LLAMAC__WALK_NOT_GGUF;
        return fail(w, 0, "'%s' is not the GGUF magic 'GGUF': this is not a GGUF file", shown);
    }
    set_field(w, "header version");
    uint32_t version;
    if (!take_u32(w, &version)) {
        return false;
    }
    if (version == 0 || (version & 0xFFFFu) == 0) {
        return fail(w, 4, "version %u is invalid%s", version,
                    version ? " (a file of the other byte order, which this host cannot read)" : "");
    }
    if (version == 1) {
        return fail(w, 4, "GGUF version 1 is no longer supported");
    }
    if (version > GGUF_VERSION) {
        return fail(w, 4, "version %u is newer than the %d this build reads", version, GGUF_VERSION);
    }
    set_field(w, "header tensor count");
    uint64_t raw;
    if (!take_u64(w, &raw)) {
        return false;
    }
    int64_t n_tensors = (int64_t)raw;
    set_field(w, "header metadata count");
    if (!take_u64(w, &raw)) {
        return false;
    }
    int64_t n_kv = (int64_t)raw;
    /* Every entry takes bytes: a tensor at least 24 (name length, dimension count, type, offset), a key-value pair
     * at least 14. A count the file cannot hold is refused here, before any work. */
    if (n_tensors < 0 || (uint64_t)n_tensors > left(w) / 24) {
        set_field(w, "header tensor count");
        return fail(w, 8, "%lld tensors cannot fit in the %llu bytes left in the file", (long long)n_tensors,
                    (unsigned long long)left(w));
    }
    if (n_kv < 0 || (uint64_t)n_kv > left(w) / 14) {
        return fail(w, 16, "%lld metadata entries cannot fit in the %llu bytes left in the file", (long long)n_kv,
                    (unsigned long long)left(w));
    }

    bool ok = false;
    struct name_set keys;
    struct tensor_table tt;
    memset(&keys, 0, sizeof keys);
    memset(&tt, 0, sizeof tt);
    uint64_t align_entry = 0;
    int32_t align_type = -1;
    uint32_t align_value = 0;
    for (int64_t i = 0; i < n_kv; i++) {
        if (!walk_kv(w, i, &keys, &align_entry, &align_type, &align_value)) {
            goto done;
        }
    }
    uint64_t alignment = GGUF_DEFAULT_ALIGNMENT;
    if (align_type >= 0) {
        set_field(w, "metadata '%s'", GGUF_KEY_GENERAL_ALIGNMENT);
        if (align_type != LLAMAC_GGUF_UINT32) {
            fail(w, align_entry, "must be a u32, not %s", type_name(align_type));
            goto done;
        }
        if (align_value == 0 || (align_value & (align_value - 1)) != 0) {
            fail(w, align_entry, "%u is not a power of 2", align_value);
            goto done;
        }
        alignment = align_value;
    }
    for (int64_t i = 0; i < n_tensors; i++) {
        if (!walk_tensor(w, i, &tt)) {
            goto done;
        }
    }
    if (n_tensors == 0) {
        ok = true;
        goto done;
    }
    const struct name_set *t = &tt.names;
    uint64_t data_start = (w->pos + alignment - 1) / alignment * alignment;
    if (data_start > w->src.size) {
        set_field(w, "tensor data");
        fail(w, data_start, "the data section starts past the end of the file (%llu bytes): the file is truncated",
             (unsigned long long)w->src.size);
        goto done;
    }
    uint64_t expected = 0;
    for (size_t i = 0; i < t->n; i++) {
        char name[80];
        preview(name, sizeof name, (const unsigned char *)t->names[i], strlen(t->names[i]), false);
        set_field(w, "tensor %zu ('%s') data offset", i, name);
        if (t->entry_off[i] != expected) {
            fail(w, t->off[i], "%llu, expected %llu (tensors are stored in order, each padded to %llu bytes)",
                 (unsigned long long)t->entry_off[i], (unsigned long long)expected, (unsigned long long)alignment);
            goto done;
        }
        uint64_t padded = (t->len[i] + alignment - 1) / alignment * alignment;
        if (padded < t->len[i] || UINT64_MAX - expected < padded || expected + padded > SIZE_MAX) {
            fail(w, t->off[i], "the data section's size overflows");
            goto done;
        }
        expected += padded;
    }
    for (size_t i = 0; i < t->n; i++) {
        uint64_t end = data_start + t->entry_off[i] + t->len[i];
        if (end > w->src.size || end < data_start) {
            char name[80];
            preview(name, sizeof name, (const unsigned char *)t->names[i], strlen(t->names[i]), false);
            set_field(w, "tensor %zu ('%s') data", i, name);
            fail(w, data_start + t->entry_off[i],
                 "%llu bytes end at offset %llu, past the end of the file (%llu bytes): the file is truncated",
                 (unsigned long long)t->len[i], (unsigned long long)end, (unsigned long long)w->src.size);
            goto done;
        }
    }
    ok = true;
done:
    set_free(&keys);
    set_free(&tt.names);
    return ok;
}

enum llamac__walk_result llamac__gguf_walk(const unsigned char *mem, int fd, uint64_t size, char *err, size_t err_cap) {
    struct walker w;
    memset(&w, 0, sizeof w);
    w.src.mem = mem;
    w.src.fd = fd;
    w.src.size = size;
    w.err = err;
    w.err_cap = err_cap;
    w.kind = LLAMAC__WALK_MALFORMED;
    if (!mem) {
        w.src.cache = malloc(CACHE_CAP);
        if (!w.src.cache) {
            snprintf(err, err_cap, "out of memory");
            return LLAMAC__WALK_NO_MEMORY;
        }
    }
    bool ok = walk_all(&w);
    free(w.src.cache);
    return ok ? LLAMAC__WALK_OK : w.kind;
}
