/*
 * engine_pos.c - where a slot's tokens sit: the model's position of each index of a slot's cache.
 *
 * The engine counts a slot's tokens by index (its cache, its prompt, n_cache), and a medium's tokens count as many
 * indices as it has tokens; the model counts positions, where a medium takes its n_pos (M-RoPE: an image of w x h
 * tokens takes max(w, h), libmtmd's mtmd_input_chunk_get_n_pos). The two differ only after such a medium, so a slot
 * keeps no table per token: its media record (start, n, pos, n_pos of each medium, which prefix reuse already keeps
 * to compare media by id) gives the offset, and this file is the one place that turns an index into a position.
 */
#include "engine/engine_internal.h"

#include <stdlib.h>
#include <string.h>

bool llamac__eng_media_record(struct eng_slot *s, const struct eng_request *q) {
    if (q->n_media > s->cap_media) {
        struct eng_media *m = realloc(s->media, q->n_media * sizeof *m);
        if (!m) {
            s->n_media = 0;
            return false;
        }
        s->media = m;
        s->cap_media = q->n_media;
    }
    s->n_media = q->n_media;
    if (q->n_media > 0) {
        memcpy(s->media, q->media, q->n_media * sizeof *s->media);
    }
    return true;
}

llamac_pos llamac__eng_pos(const struct eng_slot *s, size_t i) {
    /* The media are recorded in prompt order: the last one that starts before i decides. */
    const struct eng_media *m = NULL;
    for (size_t k = 0; k < s->n_media && s->media[k].start < i; k++) {
        m = &s->media[k];
    }
    if (!m) {
        return (llamac_pos)i;
    }
    size_t in = i - m->start;
    if (in >= m->n) {
        return m->pos + m->n_pos + (llamac_pos)(in - m->n);
    }
    return (llamac_pos)m->n == m->n_pos ? m->pos + (llamac_pos)in : m->pos;
}
