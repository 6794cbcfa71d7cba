/*
 * media.c - images and audio in requests: where a request names a medium (a data: URI, bare base64, a file:// URL
 * under --media-path), its bytes, and the medium the library makes of them with the server's projector.
 *
 * The rules and the messages are llama-server's (handle_media at the pin), so clients that look for its words find
 * them; its statuses differ where it answers a client's mistake with a 500 (no projector, bad base64, a file that is
 * not an image): here every one of those is a 400. A message's media parts become the server's marker in its text,
 * joined as llama-server joins them (no newline around a marker), and the rendered prompt is tokenized into chunks
 * with them (request.c). The marker is random per process (or LLAMA_MEDIA_MARKER's), so no user text can pass for one.
 * Remote http(s) URLs are fetched only with --remote-media, by the library (llamac_media_fetch: a size cap, a time
 * limit, a redirect limit, http and https only); every failure of a fetch is a 400 that says what went wrong.
 */
#include "request.h"

#include "dynbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

/* Decodes base64 (standard or URL-safe alphabet, padding optional, whitespace ignored) into *out (malloc). False for
 * any other character, data after padding, or a length that no encoding has. */
static bool b64_decode(const char *s, size_t len, unsigned char **out, size_t *n) {
    *out = NULL;
    *n = 0;
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    size_t o = 0, pad = 0, q = 0;
    uint32_t acc = 0;
    if (!buf) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad > 0) {
            free(buf);
            return false;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++q == 4) {
            buf[o++] = (unsigned char)(acc >> 16);
            buf[o++] = (unsigned char)(acc >> 8);
            buf[o++] = (unsigned char)acc;
            q = 0;
            acc = 0;
        }
    }
    if (q == 1 || pad > 2) {
        free(buf);
        return false;
    }
    if (q == 2) {
        buf[o++] = (unsigned char)(acc >> 4);
    } else if (q == 3) {
        buf[o++] = (unsigned char)(acc >> 10);
        buf[o++] = (unsigned char)(acc >> 2);
    }
    *out = buf;
    *n = o;
    return true;
}

/* The bytes of a file:// URL's file under --media-path (llama-server's rules: a relative name without "..", no
 * hidden or absolute paths). */
static bool read_local(struct request *rq, const char *param, const char *where, const char *name, unsigned char **out,
                       size_t *n) {
    const char *root = rq->s->opt.media_path;
    if (!root) {
        reply_error(rq, 400, param, "invalid_value",
                    "%s: file:// URLs are not allowed unless --media-path is specified", where);
        return false;
    }
    bool bad =
        !name[0] || name[0] == '/' || strstr(name, "..") || strstr(name, "/.") || name[0] == '.' || strchr(name, '\\');
    if (bad) {
        reply_error(rq, 400, param, "invalid_value", "%s: file path is not allowed: %s", where, name);
        return false;
    }
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = k > 0 && (size_t)k < sizeof path ? fopen(path, "rb") : NULL;
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f) {
            fclose(f);
        }
        reply_error(rq, 400, param, "invalid_value", "%s: file does not exist or cannot be opened: %s", where, name);
        return false;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    size_t got = buf ? fread(buf, 1, size, f) : 0;
    fclose(f);
    if (!buf || got != size) {
        free(buf);
        reply_error(rq, 400, param, "invalid_value", "%s: file does not exist or cannot be opened: %s", where, name);
        return false;
    }
    *out = buf;
    *n = size;
    return true;
}

/* The bytes of an http(s) URL, with --remote-media (llama-server fetches them always; its limits: 10 MiB, 10 s). */
static bool fetch_remote(struct request *rq, const char *param, const char *where, const char *url, size_t len,
                         unsigned char **out, size_t *n) {
    if (!rq->s->opt.remote_media) {
        reply_error(rq, 400, param, "invalid_value",
                    "%s: remote media URLs are not fetched by this server (start it with --remote-media): send the "
                    "image as a data: URI with base64",
                    where);
        return false;
    }
    if (memchr(url, '\0', len)) {
        reply_error(rq, 400, param, "invalid_value", "%s: Failed to download image: the URL holds a NUL", where);
        return false;
    }
    llamac_media_fetch_params fp = llamac_media_fetch_params_default();
    if (rq->s->opt.remote_media_timeout_s) {
        fp.timeout_ms = rq->s->opt.remote_media_timeout_s * 1000u;
    }
    void *data = NULL;
    llamac_status st = llamac_media_fetch(url, &fp, &data, n);
    if (st == LLAMAC_E_NO_MEMORY) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, 400, param, "invalid_value", "%s: Failed to download image: %s", where, llamac_last_error());
        return false;
    }
    *out = data;
    return true;
}

/* The bytes a media URL stands for (llama-server's handle_media): an http(s) URL, a data: URI with base64, a file://
 * URL, bare base64. *release is what frees them (the library's buffer for a fetched URL). */
static bool url_bytes(struct request *rq, const char *param, const char *where, const char *url, size_t len,
                      unsigned char **out, size_t *n, void (**release)(void *)) {
    *release = free;
    if (len >= 4 && strncmp(url, "http", 4) == 0) {
        *release = llamac_free;
        return fetch_remote(rq, param, where, url, len, out, n);
    }
    if (strncmp(url, "file://", 7) == 0) {
        return read_local(rq, param, where, url + 7, out, n);
    }
    const char *data = url;
    size_t dlen = len;
    if (strncmp(url, "data:", 5) == 0) {
        const char *comma = memchr(url, ',', len);
        if (!comma || memchr(comma + 1, ',', len - (size_t)(comma + 1 - url))) {
            reply_error(rq, 400, param, "invalid_value", "%s: Invalid uri-encoded base64 value", where);
            return false;
        }
        size_t hlen = (size_t)(comma - url);
        if (strncmp(url, "data:image/", 11) != 0 && strncmp(url, "data:audio/", 11) != 0 &&
            strncmp(url, "data:video/", 11) != 0) {
            reply_error(rq, 400, param, "invalid_value", "%s: Invalid uri format: %.*s", where,
                        (int)(hlen > 200 ? 200 : hlen), url);
            return false;
        }
        if (hlen < 6 || memcmp(comma - 6, "base64", 6) != 0) {
            reply_error(rq, 400, param, "invalid_value", "%s: uri must be base64 encoded", where);
            return false;
        }
        data = comma + 1;
        dlen = len - hlen - 1;
    }
    if (!b64_decode(data, dlen, out, n) || *n == 0) {
        free(*out);
        *out = NULL;
        reply_error(rq, 400, param, "invalid_value", "%s: Invalid base64 value", where);
        return false;
    }
    return true;
}

bool media_from_url(struct request *rq, const char *param, const char *where, const char *url, size_t len,
                    llamac_media_type type, llamac_media **out) {
    *out = NULL;
    llamac_mmproj_info pi = { 0 };
    if (rq->s->mmproj) {
        llamac_mmproj_get_info(rq->s->mmproj, &pi);
    }
    bool image = type == LLAMAC_MEDIA_IMAGE, audio = type == LLAMAC_MEDIA_AUDIO;
    if ((image && !pi.vision) || (audio && !pi.audio) || (!pi.vision && !pi.audio)) {
        reply_error(rq, 400, param, "unsupported_value",
                    "%s: %s input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
                    where,
                    image   ? "image"
                    : audio ? "audio"
                            : "multimodal");
        return false;
    }
    unsigned char *bytes = NULL;
    size_t n = 0;
    void (*release)(void *) = free;
    if (!url_bytes(rq, param, where, url, len, &bytes, &n, &release)) {
        return false;
    }
    llamac_status st = llamac_media_from_buffer(rq->s->mmproj, bytes, n, out);
    release(bytes);
    if (st == LLAMAC_E_NO_MEMORY) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    if (st == LLAMAC_E_UNSUPPORTED) { /* an image for an audio projector, or audio for a vision one */
        reply_error(rq, 400, param, "unsupported_value", "%s: %s", where, llamac_last_error());
        return false;
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, 400, param, "invalid_value", "%s: Failed to load image or audio file: %s", where,
                    llamac_last_error());
        return false;
    }
    llamac_media_info mi;
    llamac_media_get_info(*out, &mi);
    if (type != 0 && mi.type != type) {
        llamac_media_free(*out);
        *out = NULL;
        reply_error(rq, 400, param, "invalid_value", "%s is %s, not %s", where,
                    mi.type == LLAMAC_MEDIA_IMAGE ? "an image" : "audio", image ? "an image" : "audio");
        return false;
    }
    return true;
}

/* The medium of a content part of type image_url ({"image_url": {"url"}}) or input_audio ({"input_audio": {"data",
 * "format"}}, or a "url"). */
static bool part_media(struct request *rq, const char *param, const char *where, json_t *part, bool image,
                       llamac_media **out) {
    json_t *obj = json_object_get(part, image ? "image_url" : "input_audio");
    json_t *url = json_object_get(obj, image ? "url" : "data");
    if (!image && !url) {
        url = json_object_get(obj, "url");
    }
    if (!json_is_object(obj) || !json_is_string(url)) {
        reply_error(rq, 400, param, "invalid_type", "%s needs %s", where,
                    image ? "an object 'image_url' with a string 'url'"
                          : "an object 'input_audio' with a string 'data' (base64) and a 'format'");
        return false;
    }
    return media_from_url(rq, param, where, json_string_value(url), json_string_length(url),
                          image ? LLAMAC_MEDIA_IMAGE : LLAMAC_MEDIA_AUDIO, out);
}

/* Message i's content parts as one string with a marker per medium (llama-server's join: text parts on lines of
 * their own, no newline before or after a marker), its media appended to ci's. */
static bool message_media(struct request *rq, struct chat_input *ci, const char *param, size_t i, json_t *m,
                          json_t *content) {
    llamac__dynbuf b = LLAMAC__DYNBUF(SIZE_MAX / 2);
    bool after_marker = false, ok = true;
    const char *marker = rq->s->marker;
    size_t k;
    json_t *part;
    json_array_foreach(content, k, part) {
        char where[96];
        snprintf(where, sizeof where, "%s[%zu].content[%zu]", param, i, k);
        const char *type = json_string_value(json_object_get(part, "type"));
        bool image = type && strcmp(type, "image_url") == 0, audio = type && strcmp(type, "input_audio") == 0;
        if (image || audio) {
            if (ci->n_media >= MAX_MEDIA) {
                reply_error(rq, 400, param, "invalid_value", "%s: a conversation may hold at most %d media", where,
                            MAX_MEDIA);
                ok = false;
                break;
            }
            if (!(ok = part_media(rq, param, where, part, image, &ci->media[ci->n_media]))) {
                break;
            }
            ci->n_media++;
            llamac__dynbuf_adds(&b, marker);
            after_marker = true;
            continue;
        }
        json_t *text = json_object_get(part, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text)) {
            reply_error(rq, 400, param, "invalid_value",
                        "%s must be a text part with a string 'text', an image_url or an input_audio part", where);
            ok = false;
            break;
        }
        if (!after_marker && llamac__dynbuf_len(&b) > 0) {
            llamac__dynbuf_add(&b, "\n", 1);
        }
        llamac__dynbuf_add(&b, json_string_value(text), json_string_length(text));
        after_marker = false;
    }
    size_t len = 0;
    char *s = llamac__dynbuf_take(&b, &len);
    if (ok && (!s || json_object_set_new(m, "content", json_stringn(s ? s : "", len)) != 0)) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        ok = false;
    }
    free(s);
    return ok;
}

json_t *chat_input_media(struct request *rq, struct chat_input *ci, json_t *messages, const char *param) {
    json_t *copy = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *content = json_object_get(m, "content");
        bool has = false;
        size_t k;
        json_t *part;
        json_array_foreach(content, k, part) {
            const char *type = json_string_value(json_object_get(part, "type"));
            has |= type && (strcmp(type, "image_url") == 0 || strcmp(type, "input_audio") == 0);
        }
        if (!has) {
            continue;
        }
        if (!copy && !(copy = json_deep_copy(messages))) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
            return NULL;
        }
        if (!message_media(rq, ci, param, i, json_array_get(copy, i), content)) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy ? copy : json_incref(messages);
}
