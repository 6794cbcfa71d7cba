/*
 * cli_adapter.c - the adapter flags of run, chat and serve, as llama.cpp names them: --lora FNAME and
 * --lora-scaled FNAME:SCALE (comma-separated lists, repeatable), --control-vector FNAME, --control-vector-scaled
 * FNAME:SCALE and --control-vector-layer-range START END (also START,END as one value); serve adds
 * --lora-init-without-apply (load, apply at scale 0) in its own table.
 *
 * cli_group_adapters' setters only record the files in the command's struct cli_common; cli_adapters_load loads them
 * for the model (each checked by the library, whose message names the file) and cli_adapters_apply puts them on a
 * context.
 */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Splits the list `value` into entries; `scaled` entries are FNAME:SCALE. The value is an argv string (or the part of
 * one after '='), which C lets a program modify: it is split in place, so the paths live as long as the command line.
 */
static bool add_list(struct cli_parser *p, struct cli_adapters *a, const char *value, bool scaled, bool cvec) {
    struct cli_common *c = p->t.common;
    const char *opt = p->name;
    char *arg = p->argv[p->next - 1]; /* the argument `value` ends (after '=' when inline) */
    for (char *item = arg + strlen(arg) - strlen(value), *next; item; item = next) {
        next = strchr(item, ',');
        if (next) {
            *next++ = '\0';
        }
        float scale = 1.0f;
        if (scaled) {
            char *colon = strchr(item, ':');
            if (!colon || strchr(colon + 1, ':')) {
                cli_error(c, "invalid value '%s' for %s (expected FNAME:SCALE)", item, opt);
                return false;
            }
            *colon = '\0';
            if (!cli_float(c, opt, colon + 1, &scale)) {
                return false;
            }
        }
        size_t *n = cvec ? &a->n_cvec : &a->n_lora;
        if (!item[0]) {
            cli_error(c, "%s: an empty file name (expected FNAME%s,...)", opt, scaled ? ":SCALE" : "");
            return false;
        }
        if (*n == CLI_MAX_ADAPTERS) {
            cli_error(c, "too many %s (at most %d)", cvec ? "control vectors" : "LoRA adapters", CLI_MAX_ADAPTERS);
            return false;
        }
        struct cli_adapter_file *f = cvec ? &a->cvec[*n] : &a->lora[*n];
        f->path = item;
        f->scale = scale;
        (*n)++;
    }
    return true;
}

static bool set_lora(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return add_list(p, field, value, false, false);
}

static bool set_lora_scaled(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return add_list(p, field, value, true, false);
}

static bool set_cvec(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return add_list(p, field, value, false, true);
}

static bool set_cvec_scaled(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return add_list(p, field, value, true, true);
}

/* START END as llama.cpp takes it (two arguments), or START,END / "START END" as one. */
static bool set_layer_range(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    struct cli_adapters *a = field;
    char first[32];
    size_t len = strcspn(value, ", ");
    const char *second = value[len] ? value + len + 1 : NULL;
    if (len >= sizeof first) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected START END)", value, p->name);
        return false;
    }
    memcpy(first, value, len);
    first[len] = '\0';
    long start, end;
    if (!cli_int(p->t.common, p->name, first, 1, INT32_MAX, &start) || (!second && !(second = cli_next_value(p, o))) ||
        !cli_int(p->t.common, p->name, second, 1, INT32_MAX, &end)) {
        return false;
    }
    a->layer_start = (int32_t)start;
    a->layer_end = (int32_t)end;
    return true;
}

#define AD offsetof(struct cli_common, adapters)

static const struct cli_opt adapter_rows[] = {
    { .names = { "--lora" },
      .arg = "FNAME",
      .set = set_lora,
      .offset = AD,
      .help = "apply a LoRA adapter at scale 1; a comma-separated list for several (repeatable)" },
    { .names = { "--lora-scaled" },
      .arg = "FNAME:SCALE",
      .set = set_lora_scaled,
      .offset = AD,
      .help = "apply a LoRA adapter at SCALE; a comma-separated list for several (repeatable)" },
    { .names = { "--control-vector" },
      .arg = "FNAME",
      .set = set_cvec,
      .offset = AD,
      .help = "add a control vector; a comma-separated list for several (repeatable)" },
    { .names = { "--control-vector-scaled" },
      .arg = "FNAME:SCALE",
      .set = set_cvec_scaled,
      .offset = AD,
      .help = "add a control vector at SCALE; a comma-separated list for several (repeatable)" },
    { .names = { "--control-vector-layer-range" },
      .arg = "START END",
      .set = set_layer_range,
      .offset = AD,
      .help = "the layers the control vectors apply to, two arguments as llama.cpp takes them or START,END as one "
              "(default: all)" },
};
const struct cli_group cli_group_adapters = CLI_GROUP("Adapters", CLI_TARGET_COMMON, adapter_rows);

bool cli_adapters_load(struct cli_common *c, struct cli_adapters *a, llamac_model *model) {
    for (size_t k = 0; k < a->n_lora; k++) {
        if (llamac_adapter_load(model, a->lora[k].path, &a->loaded[k]) != LLAMAC_OK) {
            cli_error(c, "%s", llamac_last_error());
            return false;
        }
    }
    for (size_t k = 0; k < a->n_cvec; k++) {
        if (llamac_cvec_load(model, a->cvec[k].path, &a->cvecs[k]) != LLAMAC_OK) {
            cli_error(c, "%s", llamac_last_error());
            return false;
        }
    }
    if ((a->layer_start || a->layer_end) && a->n_cvec == 0) {
        cli_error(c, "--control-vector-layer-range needs a --control-vector");
        return false;
    }
    return true;
}

bool cli_adapters_apply(struct cli_common *c, const struct cli_adapters *a, llamac_context *ctx) {
    llamac_adapter_scale set[CLI_MAX_ADAPTERS];
    llamac_cvec_scale cset[CLI_MAX_ADAPTERS];
    for (size_t k = 0; k < a->n_lora; k++) {
        set[k].adapter = a->loaded[k];
        set[k].scale = a->lora[k].scale;
    }
    for (size_t k = 0; k < a->n_cvec; k++) {
        cset[k].cvec = a->cvecs[k];
        cset[k].scale = a->cvec[k].scale;
    }
    if ((a->n_lora > 0 && llamac_ctx_set_adapters(ctx, set, a->n_lora) != LLAMAC_OK) ||
        (a->n_cvec > 0 && llamac_ctx_set_cvec(ctx, cset, a->n_cvec, a->layer_start, a->layer_end) != LLAMAC_OK)) {
        cli_error(c, "%s", llamac_last_error());
        return false;
    }
    return true;
}

void cli_adapters_free(struct cli_adapters *a) {
    for (size_t k = 0; k < a->n_lora; k++) {
        llamac_adapter_free(a->loaded[k]);
    }
    for (size_t k = 0; k < a->n_cvec; k++) {
        llamac_cvec_free(a->cvecs[k]);
    }
    memset(a, 0, sizeof *a);
}
