/*
 * cli_spec.c - the speculative-decoding options that run, chat and serve share, with llama-server's names: the draft
 * model (-md), its own offload, context, threads and KV types, the draft lengths and probability floor, and the draft
 * types.
 *
 * One option group (cli_group_spec, listed by run, chat and serve) takes the flags; cli_spec_check refuses
 * contradictory ones, cli_spec_open opens the draft model (refusing one whose vocabulary is not the target's) and its
 * context, cli_spec_close closes them. serve loads the draft model alone (cli_spec_load_model): its engine makes the
 * context, with a sequence per slot.
 */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void cli_spec_init(struct cli_spec *k) {
    memset(k, 0, sizeof *k);
    k->params = llamac_spec_params_default();
    k->params.ngram_min = k->params.ngram_max; /* n-grams of exactly --spec-ngram-size-n tokens, as llama.cpp */
    k->n_gpu_layers = 0;
    k->type_k = k->type_v = LLAMAC_KV_F16;
}

/* --spec-type: a comma-separated list of none, draft-simple (the -md model) and ngram-simple (n-gram lookup). */
static bool set_types(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    struct cli_spec *k = p->t.spec;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", value);
    k->type_given = true;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "none") == 0) {
            k->want_draft = k->params.ngram = false;
        } else if (strcmp(t, "draft-simple") == 0 || strcmp(t, "draft") == 0) {
            k->want_draft = true;
        } else if (strcmp(t, "ngram-simple") == 0 || strcmp(t, "ngram") == 0) {
            k->params.ngram = true;
        } else {
            cli_error(p->t.common, "unknown %s '%s' (expected none, draft-simple or ngram-simple)", p->name, t);
            return false;
        }
    }
    return true;
}

/* --spec-draft-p-min: a probability. */
static bool set_probability(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    float f;
    if (!cli_float(p->t.common, p->name, value, &f)) {
        return false;
    }
    if (!(f >= 0.0f && f <= 1.0f)) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected a probability from 0 to 1)", value, p->name);
        return false;
    }
    *(float *)field = f;
    return true;
}

/* --spec-ngram-size-n (the longest n-gram looked up) and --spec-ngram-size-n-min (the shortest; 0 until given, the
 * longest meanwhile: n-grams of exactly N tokens, as llama.cpp's ngram-simple), in either order: the flag's field,
 * then the library's ngram_min from the two. */
static bool set_ngram_size(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    if (!cli_set_i32(p, o, field, value)) {
        return false;
    }
    struct cli_spec *k = p->t.spec;
    k->params.ngram_min = k->ngram_min ? k->ngram_min : k->params.ngram_max;
    return true;
}

#define SPEC(f) offsetof(struct cli_spec, f)
static const struct cli_opt spec_rows[] = {
    { .names = { "-md", "--model-draft", "--spec-draft-model" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = SPEC(model_path),
      .help = "draft model sharing the target's vocabulary" },
    { .names = { "-hfd", "-hfrd", "--hf-repo-draft", "--spec-draft-hf" },
      .arg = "OWNER/REPO[:QUANT]",
      .set = cli_set_str,
      .offset = SPEC(hf_repo),
      .help = "the draft model from the Hugging Face Hub, as -hf (downloaded once, then cached)" },
    { .names = { "--spec-type" },
      .arg = "TYPES",
      .set = set_types,
      .help = "none, draft-simple (the -md model), ngram-simple (n-gram lookup in the prompt and output); "
              "comma-separated (default: draft-simple with -md)" },
    { .names = { "--spec-draft-n-max", "--draft-max", "--draft", "--draft-n" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SPEC(params.n_max),
      .min = 1,
      .max = LLAMAC_SPEC_MAX_DRAFT,
      .field = "n_max",
      .help = "most tokens per draft (default: 16)" },
    { .names = { "--spec-draft-n-min", "--draft-min", "--draft-n-min" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SPEC(params.n_min),
      .min = 0,
      .max = LLAMAC_SPEC_MAX_DRAFT,
      .field = "n_min",
      .help = "drafts shorter than N are not verified (default: 0)" },
    { .names = { "--spec-draft-p-min", "--draft-p-min" },
      .arg = "P",
      .set = set_probability,
      .offset = SPEC(params.p_min),
      .field = "p_min",
      .help = "the draft model drafts while its top token's probability is at least P (default: 0.75)" },
    { .names = { "--spec-ngram-size-n", "--spec-ngram-simple-size-n" },
      .arg = "N",
      .set = set_ngram_size,
      .offset = SPEC(params.ngram_max),
      .min = 1,
      .max = 16,
      .help = "the n-gram length looked up (default: 3); with --spec-ngram-size-n-min, the longest" },
    { .names = { "--spec-ngram-size-n-min", "--spec-ngram-simple-size-n-min" },
      .arg = "N",
      .set = set_ngram_size,
      .offset = SPEC(ngram_min),
      .min = 1,
      .max = 16,
      .help = "when no n-gram of --spec-ngram-size-n tokens matches, shorter ones down to N; the longest match "
              "drafts (default: --spec-ngram-size-n alone, as llama.cpp)" },
    { .names = { "-ngld", "--gpu-layers-draft", "--n-gpu-layers-draft", "--spec-draft-ngl" },
      .arg = "N",
      .set = cli_set_gpu_layers,
      .offset = SPEC(n_gpu_layers),
      .min = -1,
      .max = INT32_MAX,
      .help = "draft model layers on the GPU, a number, all or auto (default: 0)" },
    { .names = { "-cd", "--ctx-size-draft", "--spec-draft-ctx-size" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = SPEC(n_ctx),
      .min = 0,
      .max = INT32_MAX / 2,
      .help = "the draft model's context (default: 0, the target's)" },
    { .names = { "-td", "--threads-draft", "--spec-draft-threads" },
      .arg = "N",
      .set = cli_set_threads,
      .offset = SPEC(n_threads),
      .min = -1,
      .max = 512, /* ggml's GGML_MAX_N_THREADS */
      .help = "the draft model's threads (default: -1, the target's)" },
    { .names = { "-ctkd", "--cache-type-k-draft", "--spec-draft-type-k" },
      .arg = "TYPE",
      .set = cli_set_kv_type,
      .offset = SPEC(type_k),
      .help = "the draft model's K cache type, as -ctk (default: f16)" },
    { .names = { "-ctvd", "--cache-type-v-draft", "--spec-draft-type-v" },
      .arg = "TYPE",
      .set = cli_set_kv_type,
      .offset = SPEC(type_v),
      .help = "the draft model's V cache type, as -ctv (default: f16)" },
};
const struct cli_group cli_group_spec = CLI_GROUP(
    "Speculative decoding (llama-server's names; the output is the same as without)", CLI_TARGET_SPEC, spec_rows);

bool cli_spec_given(const struct cli_spec *k) {
    struct cli_spec d;
    cli_spec_init(&d);
    return k->model_path || k->hf_repo || k->type_given || k->n_gpu_layers != d.n_gpu_layers || k->n_ctx ||
           k->n_threads || k->type_k != d.type_k || k->type_v != d.type_v ||
           memcmp(&k->params, &d.params, sizeof d.params) != 0;
}

bool cli_spec_check(struct cli_common *c, const struct cli_spec *k) {
    if (k->want_draft && !k->model_path && !k->hf_repo) {
        cli_error(c, "--spec-type draft-simple needs a draft model (-md FILE)");
        return false;
    }
    if (k->model_path && k->hf_repo) {
        cli_error(c, "pass either -md FILE or -hfd OWNER/REPO[:QUANT], not both");
        return false;
    }
    if (k->params.ngram_min > k->params.ngram_max) {
        cli_error(c, "--spec-ngram-size-n-min %d exceeds --spec-ngram-size-n %d", k->params.ngram_min,
                  k->params.ngram_max);
        return false;
    }
    if (k->params.n_min > k->params.n_max) {
        cli_error(c, "--spec-draft-n-min %d exceeds --spec-draft-n-max %d", k->params.n_min, k->params.n_max);
        return false;
    }
    return true;
}

bool cli_spec_wants_model(const struct cli_spec *k) {
    /* -md alone means the draft type; an explicit --spec-type list without draft-simple leaves the model unused */
    return (k->model_path || k->hf_repo) && (k->want_draft || !k->type_given);
}

bool cli_spec_load_model(struct cli_common *c, struct cli_spec *k, llamac_model *target) {
    if (k->hf_repo) { /* as -hf: the first GGUF file the name picks, from the cache or downloaded */
        llamac_hub_params hp = cli_hub_params(c);
        llamac_hub_list *files = NULL;
        char err[1024];
        if (cli_hub_pull(c, k->hf_repo, NULL, &hp, &files, err, sizeof err) != LLAMAC_OK) {
            cli_error(c, "draft model %s: %s", k->hf_repo, err);
            return false;
        }
        snprintf(k->hf_path, sizeof k->hf_path, "%s", llamac_hub_list_get(files, 0)->local_path);
        llamac_hub_list_free(files);
        k->model_path = k->hf_path;
    }
    llamac_model_params mp = c->model;
    mp.n_gpu_layers = k->n_gpu_layers;
    mp.tensor_overrides = NULL; /* -ot and -cmoe place the target's weights (llama.cpp's -otd, the draft's, is not
                                   offered) */
    mp.n_tensor_overrides = 0;
    mp.progress = NULL;
    if (llamac_model_load(k->model_path, &mp, &k->model) != LLAMAC_OK) {
        cli_error(c, "draft model: %s", llamac_last_error());
        return false;
    }
    if (llamac_model_check_draft(target, k->model) != LLAMAC_OK) {
        const char *target_path = cli_model_path(c);
        cli_error(c, "draft model %s cannot draft for %s: %s", k->model_path, target_path ? target_path : "",
                  llamac_last_error());
        return false;
    }
    return true;
}

bool cli_spec_open(struct cli_common *c, struct cli_spec *k, llamac_model *target, const llamac_ctx_params *target_cp,
                   llamac_spec_params *out) {
    *out = llamac_spec_params_default();
    if (cli_spec_wants_model(k)) {
        if (!cli_spec_load_model(c, k, target)) {
            return false;
        }
        llamac_ctx_params cp = *target_cp;
        cp.n_ctx = k->n_ctx ? k->n_ctx : target_cp->n_ctx;
        cp.n_seq_max = 1;
        cp.type_k = k->type_k;
        cp.type_v = k->type_v;
        if (k->n_threads) {
            cp.n_threads = cp.n_threads_batch = k->n_threads;
        }
        if (llamac_ctx_new(k->model, &cp, &k->ctx) != LLAMAC_OK) {
            cli_lib_error(c, "draft model's context");
            return false;
        }
    }
    k->params.draft = k->ctx;
    *out = k->params;
    return true;
}

void cli_spec_close(struct cli_spec *k) {
    llamac_ctx_free(k->ctx);
    llamac_model_free(k->model);
    k->ctx = NULL;
    k->model = NULL;
}
