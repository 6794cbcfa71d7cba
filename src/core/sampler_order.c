/*
 * sampler_order.c - the names and letters of the samplers whose order llamac_sampling_params.samplers chooses, as
 * llama.cpp's --samplers and --sampler-seq spell them.
 *
 * One table holds each sampler's canonical name and letter; the spellings llama.cpp also accepts (kebab-case, no
 * separator, a few short aliases) are derived from it or listed beside it, so a name means the same here as there.
 * Where llama.cpp warns about an unknown name and leaves it out, llamac refuses it: a typo would otherwise change the
 * chain silently.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct {
    llamac_sampler_type type;
    const char *name;
    char letter;
} samplers[] = {
    { LLAMAC_SAMPLER_PENALTIES, "penalties", 'e' },
    { LLAMAC_SAMPLER_DRY, "dry", 'd' },
    { LLAMAC_SAMPLER_TOP_N_SIGMA, "top_n_sigma", 's' },
    { LLAMAC_SAMPLER_TOP_K, "top_k", 'k' },
    { LLAMAC_SAMPLER_TYPICAL_P, "typ_p", 'y' },
    { LLAMAC_SAMPLER_TOP_P, "top_p", 'p' },
    { LLAMAC_SAMPLER_MIN_P, "min_p", 'm' },
    { LLAMAC_SAMPLER_XTC, "xtc", 'x' },
    { LLAMAC_SAMPLER_TEMPERATURE, "temperature", 't' },
    { LLAMAC_SAMPLER_INFILL, "infill", 'i' },
    { LLAMAC_SAMPLER_ADAPTIVE_P, "adaptive_p", 'a' },
};
#define N_SAMPLERS (sizeof samplers / sizeof samplers[0])

/* llama.cpp's short aliases, beside the spellings derived from the canonical names. */
static const struct {
    const char *alias;
    llamac_sampler_type type;
} aliases[] = { { "nucleus", LLAMAC_SAMPLER_TOP_P },
                { "temp", LLAMAC_SAMPLER_TEMPERATURE },
                { "typ", LLAMAC_SAMPLER_TYPICAL_P } };

/* Whether `name` (already lower-case) spells `canonical`: as it is, with '-' for each '_', or without the '_'s. */
static bool spells(const char *name, const char *canonical) {
    for (int form = 0; form < 3; form++) {
        const char *n = name, *c = canonical;
        for (; *c; c++) {
            if (*c == '_' && form == 2) {
                continue;
            }
            char want = *c == '_' && form == 1 ? '-' : *c;
            if (*n != want) {
                break;
            }
            n++;
        }
        if (!*c && !*n) {
            return true;
        }
    }
    return false;
}

llamac_status llamac_sampler_type_from_name(const char *name, llamac_sampler_type *out) {
    if (!name || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_type_from_name: %s is NULL",
                            name ? "out" : "name");
    }
    char lower[32];
    size_t len = strlen(name);
    if (len < sizeof lower) {
        for (size_t i = 0; i <= len; i++) {
            lower[i] = (char)tolower((unsigned char)name[i]);
        }
        for (size_t i = 0; i < N_SAMPLERS; i++) {
            if (spells(lower, samplers[i].name)) {
                *out = samplers[i].type;
                return llamac__ok();
            }
        }
        for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
            if (strcmp(lower, aliases[i].alias) == 0) {
                *out = aliases[i].type;
                return llamac__ok();
            }
        }
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                        "unknown sampler \"%.64s\"; the samplers are penalties, dry, top_n_sigma, top_k, typ_p, top_p, "
                        "min_p, xtc, temperature, infill and adaptive_p",
                        name);
}

llamac_status llamac_sampler_type_from_char(char c, llamac_sampler_type *out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_type_from_char: out is NULL");
    }
    for (size_t i = 0; i < N_SAMPLERS; i++) {
        if (c == samplers[i].letter) {
            *out = samplers[i].type;
            return llamac__ok();
        }
    }
    char shown[8];
    unsigned char u = (unsigned char)c;
    if (isprint(u)) {
        snprintf(shown, sizeof shown, "'%c'", c);
    } else {
        snprintf(shown, sizeof shown, "0x%02x", (unsigned)u);
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                        "unknown sampler letter %s; the letters are e (penalties), d (dry), s (top_n_sigma), k "
                        "(top_k), y (typ_p), p (top_p), m (min_p), x (xtc), t (temperature), i (infill) and a "
                        "(adaptive_p)",
                        shown);
}

const char *llamac_sampler_type_name(llamac_sampler_type type) {
    for (size_t i = 0; i < N_SAMPLERS; i++) {
        if (type == samplers[i].type) {
            return samplers[i].name;
        }
    }
    return NULL;
}
