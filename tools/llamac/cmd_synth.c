/*
 * cmd_synth.c - `llamac synth`: writes a GGUF model of a chosen architecture and shape with seeded random weights.
 *
 * A thin shell over llamac_synth_write: each flag sets one field of llamac_synth_params, so the command and the
 * library make the same bytes. The vocabulary comes from --vocab-from, or else from $LLAMAC_VOCAB_DIR, a folder
 * holding llama.cpp's vocab files (its source tree's models/), where the architecture's file is found by name.
 * Parameter errors exit 2 before anything is written; a failed write exits 1 and leaves no file behind.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
    printf("usage: llamac synth -o OUT.gguf [--arch A | --like PRESET] [--vocab-from FILE] [shape options]\n\n"
           "Writes a complete, loadable GGUF with seeded random weights (same flags and seed: same bytes).\n"
           "Unset shape options come from the preset, else from the architecture's small default.\n\n"
           "  -o, --output FILE     the model to write (through a temporary file renamed into place)\n"
           "  --arch A              llama (default), qwen2, qwen3 or bert\n"
           "  --like PRESET         copy a real model's hyperparameters (see --list-presets)\n"
           "  --vocab-from FILE     GGUF whose tokenizer and chat template are copied (default: the arch's\n"
           "                        llama.cpp vocab file in $LLAMAC_VOCAB_DIR, e.g. llama.cpp/models)\n"
           "  --layers N            layers (default 2)\n"
           "  --embd N              embedding size (default 64)\n"
           "  --heads N             attention heads (default 4)\n"
           "  --kv-heads N          key/value heads (default: --heads)\n"
           "  --head-dim N          head size (default: embd / heads)\n"
           "  --ffn N               feed-forward size (default: 4 * embd)\n"
           "  --ctx N               training context length (default 2048; bert 512)\n"
           "  --rope-theta F        RoPE base frequency (default 10000; qwen 1000000)\n"
           "  --norm-eps F          norm epsilon (default 1e-5; qwen 1e-6; bert 1e-12)\n"
           "  --cls-out N           bert: add a classification head with N outputs (a reranker)\n"
           "  --untied-output       write a separate output matrix instead of reusing the token embeddings\n"
           "  --seed N              generator seed (default 0)\n"
           "  --init-std F          standard deviation of the weights (default 0.02)\n"
           "  --type f32|f16        weight type (default f32)\n"
           "  --name NAME           general.name (default: \"synthetic\" and the preset or arch)\n"
           "  --list-presets        print the presets and their shapes, then exit\n"
           "  -q, --quiet           do not print the summary line\n");
}

static bool parse_u64(const struct cli_common *c, const char *opt, const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        cli_error(c, "invalid value '%s' for %s (expected an integer from 0 to %llu)", s, opt,
                  (unsigned long long)UINT64_MAX);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* One line: `label`, the shape of `p` and the vocabulary. */
static void print_shape(const char *label, const llamac_synth_params *p, const char *vocab) {
    printf("%s %s layers %d embd %d heads %d/%d head_dim %d ffn %d ctx %d vocab %s\n", label, p->arch, p->n_layer,
           p->n_embd, p->n_head, p->n_head_kv, p->head_dim, p->n_ff, p->n_ctx_train, vocab);
}

static int list_presets(void) {
    printf("architectures:");
    for (size_t i = 0; i < llamac_synth_arch_count(); i++) {
        printf("%s %s", i ? "," : "", llamac_synth_arch_name(i));
    }
    printf("\npresets:\n");
    for (size_t i = 0; i < llamac_synth_preset_count(); i++) {
        llamac_synth_params in = llamac_synth_params_default(), p;
        in.like = llamac_synth_preset_name(i);
        if (llamac_synth_resolve(&in, &p) == LLAMAC_OK) {
            print_shape(in.like, &p, llamac_synth_default_vocab(p.arch));
        }
    }
    return EXIT_OK;
}

/* The integer shape flags, each an int32 field of the params. */
static enum cli_parse parse_shape(struct cli_common *c, llamac_synth_params *p, int argc, char **argv, int *i) {
    static const struct {
        const char *name;
        size_t offset;
    } ints[] = {
        { "--layers", offsetof(llamac_synth_params, n_layer) },
        { "--embd", offsetof(llamac_synth_params, n_embd) },
        { "--heads", offsetof(llamac_synth_params, n_head) },
        { "--kv-heads", offsetof(llamac_synth_params, n_head_kv) },
        { "--head-dim", offsetof(llamac_synth_params, head_dim) },
        { "--ffn", offsetof(llamac_synth_params, n_ff) },
        { "--ctx", offsetof(llamac_synth_params, n_ctx_train) },
        { "--cls-out", offsetof(llamac_synth_params, n_cls_out) },
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if (strcmp(argv[*i], ints[k].name) == 0) {
            const char *v = cli_value(c, argc, argv, i);
            long n;
            if (!v || !cli_int(c, ints[k].name, v, 1, INT32_MAX, &n)) {
                return CLI_ERROR;
            }
            int32_t n32 = (int32_t)n;
            memcpy((char *)p + ints[k].offset, &n32, sizeof n32);
            return CLI_TAKEN;
        }
    }
    return CLI_NOT_MINE;
}

struct synth_opts {
    const char *out;
    bool list;
    bool quiet;
    bool help;
};

/* Every flag but the shape integers. */
static enum cli_parse parse_other(struct cli_common *c, llamac_synth_params *p, struct synth_opts *o, int argc,
                                  char **argv, int *i) {
    const char *a = argv[*i];
    const char *v = NULL;
    bool takes_value = strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--arch") == 0 ||
                       strcmp(a, "--like") == 0 || strcmp(a, "--vocab-from") == 0 || strcmp(a, "--name") == 0 ||
                       strcmp(a, "--seed") == 0 || strcmp(a, "--type") == 0 || strcmp(a, "--rope-theta") == 0 ||
                       strcmp(a, "--norm-eps") == 0 || strcmp(a, "--init-std") == 0;
    if (takes_value && !(v = cli_value(c, argc, argv, i))) {
        return CLI_ERROR;
    }
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
        o->out = v;
    } else if (strcmp(a, "--arch") == 0) {
        p->arch = v;
    } else if (strcmp(a, "--like") == 0) {
        p->like = v;
    } else if (strcmp(a, "--vocab-from") == 0) {
        p->vocab_from = v;
    } else if (strcmp(a, "--name") == 0) {
        p->name = v;
    } else if (strcmp(a, "--seed") == 0) {
        return parse_u64(c, a, v, &p->seed) ? CLI_TAKEN : CLI_ERROR;
    } else if (strcmp(a, "--rope-theta") == 0) {
        return cli_float(c, a, v, &p->rope_theta) ? CLI_TAKEN : CLI_ERROR;
    } else if (strcmp(a, "--norm-eps") == 0) {
        return cli_float(c, a, v, &p->norm_eps) ? CLI_TAKEN : CLI_ERROR;
    } else if (strcmp(a, "--init-std") == 0) {
        return cli_float(c, a, v, &p->init_std) ? CLI_TAKEN : CLI_ERROR;
    } else if (strcmp(a, "--type") == 0) {
        if (strcmp(v, "f32") == 0 || strcmp(v, "F32") == 0) {
            p->type = LLAMAC_SYNTH_F32;
        } else if (strcmp(v, "f16") == 0 || strcmp(v, "F16") == 0) {
            p->type = LLAMAC_SYNTH_F16;
        } else {
            cli_error(c, "invalid value '%s' for --type (expected f32 or f16; quantize a synthesized file for more)",
                      v);
            return CLI_ERROR;
        }
    } else if (strcmp(a, "--untied-output") == 0) {
        p->untied_output = true;
    } else if (strcmp(a, "--list-presets") == 0) {
        o->list = true;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        o->quiet = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        o->help = true;
    } else {
        return CLI_NOT_MINE;
    }
    return CLI_TAKEN;
}

/* --vocab-from, else $LLAMAC_VOCAB_DIR/<the arch's llama.cpp vocab>; NULL (with the error printed) when neither. */
static const char *vocab_path(const struct cli_common *c, const llamac_synth_params *resolved, char *buf, size_t cap) {
    if (resolved->vocab_from) {
        return resolved->vocab_from;
    }
    const char *file = llamac_synth_default_vocab(resolved->arch);
    const char *dir = getenv("LLAMAC_VOCAB_DIR");
    if (!dir || !dir[0]) {
        cli_error(c,
                  "no vocabulary: pass --vocab-from FILE, or set LLAMAC_VOCAB_DIR to llama.cpp's models/ folder "
                  "(for %s it holds %s)",
                  resolved->arch, file);
        return NULL;
    }
    int n = snprintf(buf, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) {
        cli_error(c, "LLAMAC_VOCAB_DIR is too long");
        return NULL;
    }
    return buf;
}

int cmd_synth(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "synth");
    llamac_synth_params p = llamac_synth_params_default();
    struct synth_opts o = { 0 };
    for (int i = 1; i < argc; i++) {
        enum cli_parse r = parse_shape(&c, &p, argc, argv, &i);
        if (r == CLI_NOT_MINE) {
            r = parse_other(&c, &p, &o, argc, argv, &i);
        }
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_NOT_MINE) {
            cli_error(&c, "unknown argument '%s' (see llamac synth --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (o.help) {
        usage();
        return EXIT_OK;
    }
    if (o.list) {
        return list_presets();
    }
    if (!o.out || !o.out[0]) {
        cli_error(&c, "no output file: pass -o OUT.gguf");
        return EXIT_USAGE;
    }
    llamac_synth_params resolved;
    if (llamac_synth_resolve(&p, &resolved) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        return EXIT_USAGE;
    }
    char buf[4096];
    if (!(p.vocab_from = vocab_path(&c, &resolved, buf, sizeof buf))) {
        return EXIT_USAGE;
    }
    if (llamac_synth_write(o.out, &p) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        return EXIT_FAILURE_RUN;
    }
    if (!o.quiet) {
        printf("wrote %s: ", o.out);
        print_shape(resolved.name, &resolved, p.vocab_from);
    }
    return EXIT_OK;
}
