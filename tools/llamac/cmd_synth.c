/*
 * cmd_synth.c - `llamac synth`: writes a GGUF model of a chosen architecture and shape with seeded random weights.
 *
 * A thin shell over llamac_synth_write: each flag sets one field of llamac_synth_params, so the command and the
 * library make the same bytes. The vocabulary comes from --vocab-from, or else from $LLAMAC_VOCAB_DIR, a folder
 * holding llama.cpp's vocab files (its source tree's models/), where the architecture's file is found by name.
 * Parameter errors exit 2 before anything is written; a failed write exits 1 and leaves no file behind. With --lora
 * or --control-vector it writes an adapter for a base model (-m) instead, over llamac_synth_lora_write and
 * llamac_synth_cvec_write; with --mmproj a multimodal projector for a text model (-m), over llamac_synth_mmproj_write.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct synth_opts {
    llamac_synth_params p;
    const char *out;
    bool list;
    bool lora, cvec;               /* --lora, --control-vector: write an adapter instead of a model */
    llamac_synth_lora_params a;    /* the adapter's flags (seed, init_std, type and name come from p) */
    llamac_token tokens[64];       /* --alora-invocation-tokens */
    bool mmproj;                   /* --mmproj: write a projector instead (its kind in mm.vision / mm.audio) */
    llamac_synth_mmproj_params mm; /* the projector's own flags (the encoder's shape, seed, std, type come from p) */
};

/* --mmproj vision|audio|vision,audio. */
static bool set_mmproj_kind(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    struct synth_opts *so = field;
    bool both = strcmp(value, "vision,audio") == 0 || strcmp(value, "audio,vision") == 0;
    so->mm.vision = both || strcmp(value, "vision") == 0;
    so->mm.audio = both || strcmp(value, "audio") == 0;
    if (!so->mm.vision && !so->mm.audio) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected vision, audio or vision,audio)", value, p->name);
        return false;
    }
    so->mmproj = true;
    return true;
}

/* --alora-invocation-tokens "1,2,3" into the adapter's token list. */
static bool set_tokens(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    struct synth_opts *so = field;
    char buf[32];
    so->a.n_alora_invocation_tokens = 0;
    for (const char *s = value; *s || s == value;) {
        size_t len = strcspn(s, ",");
        long id;
        if (len == 0 || len >= sizeof buf || so->a.n_alora_invocation_tokens == 64) {
            cli_error(p->t.common, "invalid value '%s' for %s (expected up to 64 token ids: 1,2,3)", value, p->name);
            return false;
        }
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!cli_int(p->t.common, p->name, buf, 0, INT32_MAX, &id)) {
            return false;
        }
        so->tokens[so->a.n_alora_invocation_tokens++] = (llamac_token)id;
        s += len + (s[len] == ',');
    }
    so->a.alora_invocation_tokens = so->tokens;
    return true;
}

static bool set_u64(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return parse_u64(p->t.common, p->name, value, field);
}

static bool set_weight_type(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    if (strcmp(value, "f32") == 0 || strcmp(value, "F32") == 0) {
        *(int *)field = LLAMAC_SYNTH_F32;
    } else if (strcmp(value, "f16") == 0 || strcmp(value, "F16") == 0) {
        *(int *)field = LLAMAC_SYNTH_F16;
    } else {
        cli_error(p->t.common, "invalid value '%s' for %s (expected f32 or f16; quantize a synthesized file for more)",
                  value, p->name);
        return false;
    }
    return true;
}

#define SP(f) offsetof(struct synth_opts, p.f)
#define SHAPE(name_, field_, help_)                                                                                    \
    {                                                                                                                  \
        .names = { name_ }, .arg = "N", .set = cli_set_i32, .offset = SP(field_), .min = 1, .max = INT32_MAX,          \
        .help = help_                                                                                                  \
    }

static const struct cli_opt file_rows[] = {
    { .names = { "-o", "--output" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct synth_opts, out),
      .help = "the model to write (through a temporary file renamed into place)" },
    { .names = { "--arch" },
      .arg = "A",
      .set = cli_set_str,
      .offset = SP(arch),
      .help = "llama (default), qwen2, qwen3, bert or qwen2vl" },
    { .names = { "--like" },
      .arg = "PRESET",
      .set = cli_set_str,
      .offset = SP(like),
      .help = "copy a real model's hyperparameters (see --list-presets)" },
    { .names = { "--vocab-from" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = SP(vocab_from),
      .help = "GGUF whose tokenizer and chat template are copied (default: the arch's llama.cpp vocab file in "
              "$LLAMAC_VOCAB_DIR, e.g. llama.cpp/models)" },
    { .names = { "--name" },
      .arg = "NAME",
      .set = cli_set_str,
      .offset = SP(name),
      .help = "general.name (default: \"synthetic\" and the preset or arch)" },
    { .names = { "--list-presets" },
      .set = cli_set_true,
      .offset = offsetof(struct synth_opts, list),
      .help = "print the presets and their shapes, then exit" },
};
static const struct cli_group file_group = CLI_GROUP("Model", CLI_TARGET_COMMAND, file_rows);

static const struct cli_opt shape_rows[] = {
    SHAPE("--layers", n_layer, "layers (default: 2)"),
    SHAPE("--embd", n_embd, "embedding size (default: 64)"),
    SHAPE("--heads", n_head, "attention heads (default: 4)"),
    SHAPE("--kv-heads", n_head_kv, "key/value heads (default: --heads)"),
    SHAPE("--head-dim", head_dim, "head size (default: embd / heads)"),
    SHAPE("--ffn", n_ff, "feed-forward size (default: 4 * embd)"),
    SHAPE("--ctx", n_ctx_train, "training context length (default: 2048; bert 512)"),
    { .names = { "--rope-theta" },
      .arg = "F",
      .set = cli_set_float,
      .offset = SP(rope_theta),
      .help = "RoPE base frequency (default: 10000; qwen 1000000)" },
    { .names = { "--norm-eps" },
      .arg = "F",
      .set = cli_set_float,
      .offset = SP(norm_eps),
      .help = "norm epsilon (default: 1e-5; qwen 1e-6; bert 1e-12)" },
    SHAPE("--cls-out", n_cls_out, "bert: add a classification head with N outputs (a reranker)"),
    { .names = { "--untied-output" },
      .set = cli_set_true,
      .offset = SP(untied_output),
      .help = "write a separate output matrix instead of reusing the token embeddings" },
};
static const struct cli_group shape_group =
    CLI_GROUP("Shape (unset: from the preset, else the arch's small default)", CLI_TARGET_COMMAND, shape_rows);

static const struct cli_opt weight_rows[] = {
    { .names = { "--seed" }, .arg = "N", .set = set_u64, .offset = SP(seed), .help = "generator seed (default: 0)" },
    { .names = { "--init-std" },
      .arg = "F",
      .set = cli_set_float,
      .offset = SP(init_std),
      .help = "standard deviation of the weights (default: 0.02)" },
    { .names = { "--type" },
      .arg = "f32|f16",
      .set = set_weight_type,
      .offset = SP(type),
      .help = "weight type (default: f32)" },
    { .names = { "--copy-period" },
      .arg = "K",
      .set = cli_set_i32,
      .offset = SP(copy_period),
      .min = 1,
      .max = INT32_MAX,
      .help = "qwen2: a copy model instead of random weights: greedy decoding repeats the last K tokens over and "
              "over (K = a block's length in the prompt: it copies the block); same size and cost per token" },
    { .names = { "--copy-noise" },
      .arg = "F",
      .set = cli_set_float,
      .offset = SP(copy_noise),
      .help = "with --copy-period: the layers after the first perturb the logits with random outputs this fraction "
              "of --init-std (0 to 1), so a --layers cut of the same model is a draft that mostly agrees "
              "(default: 0, they add nothing)" },
};
static const struct cli_group weight_group = CLI_GROUP("Weights", CLI_TARGET_COMMAND, weight_rows);

#define SA(f) offsetof(struct synth_opts, a.f)

static const struct cli_opt adapter_rows[] = {
    { .names = { "--lora" },
      .set = cli_set_true,
      .offset = offsetof(struct synth_opts, lora),
      .help = "write a LoRA adapter for the base model (-m) instead of a model" },
    { .names = { "--control-vector" },
      .set = cli_set_true,
      .offset = offsetof(struct synth_opts, cvec),
      .help = "write a control vector for the base model (-m) instead of a model" },
    { .names = { "-m", "--model" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = SA(base),
      .help = "the base model of --lora / --control-vector" },
    { .names = { "--targets" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = SA(targets),
      .help = "--lora: weights to adapt, without blk.N. and .weight (default: attn_q,attn_v; all)" },
    { .names = { "--rank" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SA(rank),
      .min = 1,
      .max = 65536,
      .help = "--lora: rank of the matrices (default: 8)" },
    { .names = { "--alpha" },
      .arg = "F",
      .set = cli_set_float,
      .offset = SA(alpha),
      .help = "--lora: adapter.lora.alpha (default: the rank)" },
    { .names = { "--task-name" },
      .arg = "S",
      .set = cli_set_str,
      .offset = SA(task_name),
      .help = "--lora: adapter.lora.task_name" },
    { .names = { "--prompt-prefix" },
      .arg = "S",
      .set = cli_set_str,
      .offset = SA(prompt_prefix),
      .help = "--lora: adapter.lora.prompt_prefix" },
    { .names = { "--alora-invocation-tokens" },
      .arg = "N,N,...",
      .set = set_tokens,
      .offset = 0,
      .help = "--lora: make it an activated LoRA invoked by these tokens" },
};
static const struct cli_group adapter_group =
    CLI_GROUP("Adapters (--seed, --init-std, --type, --name as for models)", CLI_TARGET_COMMAND, adapter_rows);

#define SM(f) offsetof(struct synth_opts, mm.f)
#define MM_SHAPE(name_, field_, help_)                                                                                 \
    {                                                                                                                  \
        .names = { name_ }, .arg = "N", .set = cli_set_i32, .offset = SM(field_), .min = 1, .max = INT32_MAX,          \
        .help = help_                                                                                                  \
    }

static const struct cli_opt mmproj_rows[] = {
    { .names = { "--mmproj" },
      .arg = "vision|audio|vision,audio",
      .set = set_mmproj_kind,
      .offset = 0,
      .help = "write a multimodal projector for the text model (-m) instead of a model: a CLIP ViT with a "
              "LLaVA-style mlp projector (vision) and/or a Whisper-style encoder with an ultravox projector (audio)" },
    MM_SHAPE("--image-size", image_size, "--mmproj: images are resized to N x N (default: 32)"),
    MM_SHAPE("--patch-size", patch_size, "--mmproj: in N x N patches, one token each (default: 8)"),
    MM_SHAPE("--mel-bins", n_mel_bins, "--mmproj: audio mel channels (default: 80)"),
    MM_SHAPE("--stack-factor", stack_factor, "--mmproj: audio frames per projected token (default: 4)"),
    { .names = { "--projector" },
      .arg = "mlp|gemma3|qwen2vl",
      .set = cli_set_str,
      .offset = SM(vision_projector),
      .help = "--mmproj: the vision projector: LLaVA-style (default), Gemma 3's (SigLIP, pooled, decoded "
              "non-causally) or Qwen2-VL's (for M-RoPE models)" },
    MM_SHAPE("--merge", n_merge, "--mmproj gemma3: patches pooled per side into one token (default: 2)"),
};
static const struct cli_group mmproj_group = CLI_GROUP("Projectors (-m is the text model; --embd, --heads, --layers, "
                                                       "--ffn shape the encoder (default: 32, 4, 2, 4 * embd); "
                                                       "--seed, --init-std, --type as for models)",
                                                       CLI_TARGET_COMMAND, mmproj_rows);

static const struct cli_group *const synth_groups[] = { &file_group,   &shape_group,   &weight_group, &adapter_group,
                                                        &mmproj_group, &cli_group_log, NULL };

static int synth(int argc, char **argv);

const struct cli_command cli_cmd_synth = {
    .name = "synth",
    .summary = "write a GGUF model of a chosen architecture and shape with seeded random weights",
    .synopsis = "-o OUT.gguf [--arch A | --like PRESET] [--vocab-from FILE] [shape options]\n"
                "--lora -m BASE.gguf -o OUT.gguf [adapter options]\n"
                "--control-vector -m BASE.gguf -o OUT.gguf [--seed N] [--init-std F]\n"
                "--mmproj vision|audio|vision,audio -m TEXT_MODEL.gguf -o OUT.gguf [projector options]",
    .about = "Writes a complete, loadable GGUF with seeded random weights (same flags and seed: same bytes). -q drops "
             "the summary line. With --lora (or --control-vector) it writes a LoRA adapter (or a control vector) with "
             "seeded random values for BASE, a synthesized or real model, that llama.cpp and llamac load with it. With "
             "--mmproj "
             "it writes a multimodal projector (mmproj) for TEXT_MODEL that libmtmd loads with it.",
    .groups = synth_groups,
    .run = synth,
};

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

/* The flags that only a model (or only a LoRA adapter) takes; a control vector takes -m, -o, --seed, --init-std. */
static const char *const model_only[] = { "--arch",      "--like",    "--vocab-from",    "--list-presets",
                                          "--layers",    "--embd",    "--heads",         "--kv-heads",
                                          "--head-dim",  "--ffn",     "--ctx",           "--rope-theta",
                                          "--norm-eps",  "--cls-out", "--untied-output", "--copy-period",
                                          "--copy-noise" };
static const char *const lora_only[] = { "--targets",   "--rank",          "--alpha",
                                         "--task-name", "--prompt-prefix", "--alora-invocation-tokens",
                                         "--type",      "--name" };
static const char *const adapter_only[] = {
    "-m", "--targets", "--rank", "--alpha", "--task-name", "--prompt-prefix", "--alora-invocation-tokens"
};
static const char *const mmproj_only[] = { "--image-size",   "--patch-size", "--mel-bins",
                                           "--stack-factor", "--projector",  "--merge" };
/* What a projector does not take: the text model's shape beyond the encoder's four, and the adapters' flags. */
static const char *const not_mmproj[] = {
    "--arch",          "--like",      "--vocab-from", "--list-presets",   "--kv-heads",
    "--head-dim",      "--ctx",       "--rope-theta", "--norm-eps",       "--cls-out",
    "--untied-output", "--name",      "--lora",       "--control-vector", "--targets",
    "--rank",          "--alpha",     "--task-name",  "--prompt-prefix",  "--alora-invocation-tokens",
    "--copy-period",   "--copy-noise"
};

/* The first flag of `names` given, or NULL. */
static const char *given_any(const struct cli_parser *p, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (cli_given(p, names[i])) {
            return names[i];
        }
    }
    return NULL;
}

/* llamac synth --mmproj, after the parse: the encoder's shape and the weights' flags are the model's rows. */
static int synth_mmproj(struct cli_common *c, const struct cli_parser *parser, struct synth_opts *o) {
    const char *bad = given_any(parser, not_mmproj, sizeof not_mmproj / sizeof *not_mmproj);
    if (bad) {
        cli_error(c, "'%s' does not apply to synth --mmproj (see llamac synth --help)", bad);
        return EXIT_USAGE;
    }
    if (!o->out || !o->out[0]) {
        cli_error(c, "no output file: pass -o OUT.gguf");
        return EXIT_USAGE;
    }
    if (!o->a.base) {
        cli_error(c, "no text model: pass -m MODEL.gguf (the projection targets its embedding width)");
        return EXIT_USAGE;
    }
    o->mm.text_model = o->a.base;
    o->mm.n_embd = o->p.n_embd;
    o->mm.n_head = o->p.n_head;
    o->mm.n_layer = o->p.n_layer;
    o->mm.n_ff = o->p.n_ff;
    o->mm.seed = o->p.seed;
    o->mm.init_std = o->p.init_std;
    o->mm.type = o->p.type;
    llamac_status st = llamac_synth_mmproj_write(o->out, &o->mm);
    if (st != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return st == LLAMAC_E_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAILURE_RUN;
    }
    if (!c->quiet) {
        const char *vp = o->mm.vision_projector ? o->mm.vision_projector : "mlp";
        printf("wrote %s: mmproj%s%s%s%s for %s\n", o->out, o->mm.vision ? " vision (" : "", o->mm.vision ? vp : "",
               o->mm.vision ? ")" : "", o->mm.audio ? " audio (ultravox)" : "", o->mm.text_model);
    }
    return EXIT_OK;
}

/* llamac synth --lora / --control-vector, after the parse. */
static int synth_adapter(struct cli_common *c, const struct cli_parser *parser, struct synth_opts *o) {
    const char *what = o->cvec ? "--control-vector" : "--lora";
    const char *bad =
        o->lora && o->cvec ? "--control-vector" : given_any(parser, model_only, sizeof model_only / sizeof *model_only);
    if (!bad) {
        bad = given_any(parser, mmproj_only, sizeof mmproj_only / sizeof *mmproj_only);
    }
    if (!bad && o->cvec) {
        bad = given_any(parser, lora_only, sizeof lora_only / sizeof *lora_only);
    }
    if (bad) {
        cli_error(c, "'%s' does not apply to synth %s (see llamac synth --help)", bad, what);
        return EXIT_USAGE;
    }
    if (!o->a.base || !o->out || !o->out[0]) {
        cli_error(c, "%s", !o->a.base ? "no base model: pass -m BASE.gguf" : "no output file: pass -o OUT.gguf");
        return EXIT_USAGE;
    }
    llamac_status st;
    if (o->cvec) {
        llamac_synth_cvec_params cp = llamac_synth_cvec_params_default();
        cp.base = o->a.base;
        cp.seed = o->p.seed;
        cp.init_std = o->p.init_std;
        st = llamac_synth_cvec_write(o->out, &cp);
    } else {
        o->a.seed = o->p.seed;
        o->a.init_std = o->p.init_std;
        o->a.type = o->p.type;
        o->a.name = o->p.name;
        st = llamac_synth_lora_write(o->out, &o->a);
    }
    if (st != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return st == LLAMAC_E_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAILURE_RUN;
    }
    if (!c->quiet) {
        printf("wrote %s: %s for %s\n", o->out, o->cvec ? "control vector" : "LoRA adapter", o->a.base);
    }
    return EXIT_OK;
}

static int synth(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "synth");
    struct synth_opts o = { .p = llamac_synth_params_default(), .mm = llamac_synth_mmproj_params_default() };
    struct cli_targets t = { .common = &c, .command = &o };
    struct cli_parser parser;
    int rc = cli_parse(&parser, &cli_cmd_synth, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (parser.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac synth --help)", parser.pos[0]);
        return EXIT_USAGE;
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    if (o.mmproj) {
        return synth_mmproj(&c, &parser, &o);
    }
    if (o.lora || o.cvec) {
        return synth_adapter(&c, &parser, &o);
    }
    const char *bad = given_any(&parser, adapter_only, sizeof adapter_only / sizeof *adapter_only);
    if (bad) {
        cli_error(&c, "'%s' applies to synth --lora or --control-vector only (see llamac synth --help)", bad);
        return EXIT_USAGE;
    }
    if ((bad = given_any(&parser, mmproj_only, sizeof mmproj_only / sizeof *mmproj_only))) {
        cli_error(&c, "'%s' applies to synth --mmproj only (see llamac synth --help)", bad);
        return EXIT_USAGE;
    }
    llamac_synth_params p = o.p;
    if (o.list) {
        return list_presets();
    }
    if (!o.out || !o.out[0]) {
        cli_error(&c, "no output file: pass -o OUT.gguf");
        return EXIT_USAGE;
    }
    llamac_synth_params resolved, shape = p;
    shape.copy_period = 0;
    shape.copy_noise = 0.0f;
    if (p.copy_period > 0 && llamac_synth_resolve(&shape, &resolved) == LLAMAC_OK &&
        p.copy_period > resolved.n_ctx_train) {
        cli_error(&c, "--copy-period %d is longer than the training context (--ctx %d)", p.copy_period,
                  resolved.n_ctx_train);
        return EXIT_USAGE;
    }
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
    if (!c.quiet) {
        printf("wrote %s: ", o.out);
        print_shape(resolved.name, &resolved, p.vocab_from);
    }
    return EXIT_OK;
}
