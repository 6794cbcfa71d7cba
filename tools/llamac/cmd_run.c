/*
 * cmd_run.c - `llamac run`: single-shot completion of a prompt, streamed to stdout.
 *
 * stdout carries only the generated text, so `llamac run ... > out.txt` captures exactly the completion; the
 * progress bar, logs, timings and errors go to stderr. Ctrl-C cancels the generation cleanly (what was generated
 * stays on stdout) and exits with 130. With --image / --audio the prompt is text and media (cli_media.c): each
 * marker in it stands for the next medium, and a prompt without markers gets one per medium in front, as
 * llama-mtmd-cli does.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llamac_context *volatile running_ctx;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    if (running_ctx) {
        llamac_ctx_cancel(running_ctx);
    }
}

static const struct cli_group *const run_groups[] = {
    &cli_group_prompt, &cli_group_generate, &cli_group_sampling, &cli_group_constraint,
    &cli_group_spec,   &cli_group_adapters, &cli_group_media,    &cli_group_model,
    &cli_group_mmproj, &cli_group_hub,      &cli_group_load,     &cli_group_context,
    &cli_group_rope,   &cli_group_rotation, &cli_group_log,      NULL,
};

static int run(int argc, char **argv);

const struct cli_command cli_cmd_run = {
    .name = "run",
    .summary = "complete a prompt (single shot), streaming the text to stdout",
    .synopsis = "[MODEL.gguf | -m MODEL] [-p PROMPT | -f FILE | prompt on stdin] [options]",
    .about = "Generates a completion of the prompt and streams it to stdout; the progress bar, log and errors go to "
             "stderr. Ctrl-C stops the generation (what was generated stays) and exits with status 130.",
    .groups = run_groups,
    .run = run,
};

/* The last byte written to stdout, so that a terminal gets a final newline. */
struct output {
    char last;
};

static bool write_text(const char *text, size_t len, void *user_data) {
    struct output *out = user_data;
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        return false; /* stdout closed (e.g. a pipe reader exited): stop generating */
    }
    if (len > 0) {
        out->last = text[len - 1];
    }
    return true;
}

/* --reasoning-budget on a prompt: the thinking tags of the model's chat template (*tmpl keeps them; caller frees
 * with llamac_template_free), and a thinking block the prompt leaves open (it ends in "<think>\n") counted as
 * llama-server counts its generation prompt's. A model whose template does not think gets a warning. */
static bool budget_tags(const struct cli_common *c, const llamac_model *model, const char *prompt,
                        llamac_reasoning_budget *rb, llamac_template **tmpl) {
    if (rb->tokens < 0) {
        return true;
    }
    if (llamac_template_for_model(model, false, tmpl) != LLAMAC_OK ||
        llamac_template_reasoning_budget(*tmpl, prompt, rb) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        return false;
    }
    if (!rb->start) {
        cli_warn(c, "--reasoning-budget: the model's chat template has no thinking section; nothing is counted");
    }
    return true;
}

/* The prompt for n media: as given when it holds the projector's marker, else with one marker per medium in front
 * (llama-mtmd-cli's rule). Caller frees; NULL, the error printed, when out of memory. */
static char *prompt_with_markers(const struct cli_common *c, llamac_mmproj *proj, const char *prompt, size_t *len,
                                 size_t n) {
    llamac_mmproj_info info;
    llamac_mmproj_get_info(proj, &info);
    size_t mlen = strlen(info.marker);
    bool has = strstr(prompt, info.marker) != NULL; /* the prompt is NUL-terminated */
    size_t add = has ? 0 : n * mlen;
    char *s = malloc(*len + add + 1);
    if (!s) {
        cli_error(c, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < add; i += mlen) {
        memcpy(s + i, info.marker, mlen);
    }
    memcpy(s + add, prompt, *len);
    *len += add;
    s[*len] = '\0';
    return s;
}

static int run(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "run");
    llamac_generate_params gp = llamac_generate_params_default();
    struct cli_sampling sampling = { .params = &gp.sampling };
    struct cli_generate generate = { .params = &gp };
    struct cli_constraint constraint = { 0 };
    struct cli_prompt o = { 0 };
    struct cli_spec spec;
    cli_spec_init(&spec);
    struct cli_targets t = { .common = &c,
                             .sampling = &sampling,
                             .generate = &generate,
                             .constraint = &constraint,
                             .prompt = &o,
                             .spec = &spec };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_run, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (the prompt is given with -p TEXT, -f FILE or on standard input)",
                  p.pos[0]);
        return EXIT_USAGE;
    }
    if (o.text && o.file) {
        cli_error(&c, "give the prompt with -p or -f, not both");
        return EXIT_USAGE;
    }
    if (!cli_constraint_check(&c, &constraint) || !cli_spec_check(&c, &spec) || !cli_media_check(&c, false) ||
        !cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }

    rc = EXIT_FAILURE_RUN;
    char *prompt_buf = NULL;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    llamac_template *budget_tmpl = NULL;
    llamac_mmproj *proj = NULL;
    llamac_media *media[CLI_MAX_MEDIA] = { NULL };
    char *with_markers = NULL;
    const struct cli_media *mm = &c.media;
    size_t prompt_len = 0;
    if (o.text) {
        prompt_len = strlen(o.text);
    } else {
        if (!o.file && isatty(STDIN_FILENO) && !c.quiet) {
            fprintf(stderr, "llamac run: reading the prompt from standard input; end it with Ctrl-D (or give it with "
                            "-p TEXT)\n");
        }
        prompt_buf = cli_read_all(&c, o.file, &prompt_len);
        if (!prompt_buf) {
            goto done;
        }
        o.text = prompt_buf;
    }
    if (!cli_constraint_grammar(&c, &constraint, &gp.sampling.grammar)) {
        goto done;
    }
    gp.tokenize_flags =
        (o.no_bos ? 0u : LLAMAC_TOKENIZE_ADD_SPECIAL) | (o.parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    struct output out = { '\n' };
    gp.on_text = write_text;
    gp.user_data = &out;

    model = cli_load_model(&c, false);
    if (model && !cli_sampling_check(&c, model, &gp.sampling)) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (model && !budget_tags(&c, model, o.text, &gp.sampling.reasoning_budget, &budget_tmpl)) {
        goto done;
    }
    if (!model || !cli_adapters_load(&c, &c.adapters, model) || !cli_load_mmproj(&c, model, &proj)) {
        goto done;
    }
    for (size_t i = 0; i < mm->n_files; i++) {
        bool image = mm->types[i] == LLAMAC_MEDIA_IMAGE;
        if (!(media[i] = cli_load_medium(&c, proj, image ? "--image" : "--audio", mm->files[i], mm->types[i]))) {
            goto done;
        }
    }
    if (mm->n_files > 0 && !(with_markers = prompt_with_markers(&c, proj, o.text, &prompt_len, mm->n_files))) {
        goto done;
    }
    if (!(ctx = cli_new_context(&c, model, &c.ctx)) || !cli_adapters_apply(&c, &c.adapters, ctx)) {
        goto done;
    }
    if (!cli_spec_open(&c, &spec, model, &c.ctx, &gp.spec)) {
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    running_ctx = ctx;
    signal(SIGINT, on_sigint);
    llamac_generate_result res;
    llamac_status st = mm->n_files > 0
                           ? llamac_generate_media(ctx, proj, with_markers, prompt_len, media, mm->n_files, &gp, &res)
                           : llamac_generate(ctx, o.text, prompt_len, &gp, &res);
    signal(SIGINT, SIG_DFL);
    running_ctx = NULL;
    if (st != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        goto done;
    }
    cli_log(&c, LLAMAC_LOG_INFO,
            "llamac run: finish %s | load %.1f ms | prompt %d tokens in %.1f ms (%.1f tok/s) | first token %.1f ms | "
            "%d tokens generated at %.1f tok/s",
            llamac_finish_reason_str(res.finish_reason), res.load_ms, res.n_prompt_tokens, res.prompt_ms,
            res.prompt_tokens_per_s, res.ttft_ms, res.n_generated_tokens, res.tokens_per_s);
    if (res.n_drafted > 0) {
        cli_log(&c, LLAMAC_LOG_INFO, "llamac run: drafted %d tokens, accepted %d (%.1f%%)", res.n_drafted,
                res.n_accepted, 100.0 * res.n_accepted / res.n_drafted);
    }
    if (res.finish_reason == LLAMAC_FINISH_CALLBACK) {
        cli_error(&c, "cannot write to standard output");
        goto done;
    }
    if (out.last != '\n' && isatty(STDOUT_FILENO)) {
        putchar('\n'); /* on a terminal, the shell's prompt starts on a line of its own; a pipe gets the text exactly */
    }
    rc = interrupted ? EXIT_INTERRUPTED : EXIT_OK;
done:
    for (size_t i = 0; i < mm->n_files; i++) {
        llamac_media_free(media[i]);
    }
    free(with_markers);
    llamac_mmproj_free(proj);
    cli_spec_close(&spec);
    llamac_ctx_free(ctx);
    cli_adapters_free(&c.adapters);
    llamac_template_free(budget_tmpl);
    llamac_model_free(model);
    free(prompt_buf);
    cli_constraint_free(&constraint);
    cli_common_close(&c);
    return rc;
}
