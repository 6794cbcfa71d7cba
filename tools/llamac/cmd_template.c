/*
 * cmd_template.c - `llamac template`: prints the prompt a chat template makes of a conversation, byte for byte,
 * for people debugging templates.
 *
 * The template comes from the model (-m, which also supplies the BOS/EOS texts) or from a file. As llama.cpp does,
 * a model's "tool_use" template variant is used when tools are given and the model has one. The output is exactly
 * the rendered prompt: no newline is added.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct template_opts {
    const char *messages;
    const char *tools;
    bool no_generation_prompt;
};

static const struct cli_opt conversation_rows[] = {
    { .names = { "--messages" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct template_opts, messages),
      .help = "OpenAI-format messages: a JSON array (- reads standard input)" },
    { .names = { "--tools" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct template_opts, tools),
      .help = "OpenAI-format tools: a JSON array; with a model, selects its tool_use template when it has one" },
    { .names = { "--no-generation-prompt" },
      .set = cli_set_true,
      .offset = offsetof(struct template_opts, no_generation_prompt),
      .help = "do not end with the start of an assistant turn" },
};
static const struct cli_group conversation_group = CLI_GROUP("Conversation", CLI_TARGET_COMMAND, conversation_rows);

static const struct cli_group *const template_groups[] = {
    &conversation_group, &cli_group_template, &cli_group_model, &cli_group_hub, &cli_group_log, NULL,
};

static int template_cmd(int argc, char **argv);

const struct cli_command cli_cmd_template = {
    .name = "template",
    .summary = "print the prompt a chat template makes of a conversation (JSON messages)",
    .synopsis = "[MODEL.gguf | -m MODEL] --messages FILE.json [--tools FILE.json] [options]\n"
                "--chat-template-file FILE --messages FILE.json [--chat-template-kwargs JSON] [options]",
    .about = "Prints the prompt the model's chat template (or FILE's) makes of the conversation, exactly: no newline "
             "is added. The model supplies the template and the BOS/EOS token texts (only its vocabulary is "
             "loaded); without one the template comes from --chat-template-file and bos_token / eos_token are "
             "empty.\nExit status: 0 printed, 1 the template failed (the message names its line), 2 bad command "
             "line.",
    .groups = template_groups,
    .run = template_cmd,
};

/* The text of a special token of the model, or "" (caller frees with free). */
static char *special_text(const llamac_model *model, llamac_special_token which) {
    llamac_token tok = llamac_vocab_special(model, which);
    char buf[512];
    size_t need = 0;
    if (tok < 0 || llamac_token_to_piece(model, tok, true, buf, sizeof buf - 1, &need) != LLAMAC_OK) {
        return strdup("");
    }
    buf[need] = '\0';
    return strdup(buf);
}

static int template_cmd(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "template");
    struct cli_chat k = { 0 };
    struct template_opts o = { 0 };
    struct cli_targets t = { .common = &c, .chat = &k, .command = &o };
    struct cli_parser p;
    int status = cli_parse(&p, &cli_cmd_template, &t, argc, argv);
    if (status >= 0) {
        return status;
    }
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac template --help)", p.pos[0]);
        return EXIT_USAGE;
    }
    const char *template_file = k.template_file, *messages_file = o.messages, *tools_file = o.tools, *kwargs = k.kwargs;
    bool generation_prompt = !o.no_generation_prompt;
    if (!messages_file) {
        cli_error(&c, "no conversation given: pass --messages FILE.json");
        return EXIT_USAGE;
    }
    bool have_model = cli_model_path(&c) || c.hf_repo;
    if (!template_file && !have_model) {
        cli_error(&c, "no template given: pass -m MODEL or --chat-template-file FILE");
        return EXIT_USAGE;
    }
    if ((kwargs && !cli_json_object(&c, "--chat-template-kwargs", kwargs)) || !cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }

    int rc = EXIT_FAILURE_RUN;
    char *messages = NULL, *tools = NULL, *source = NULL, *bos = NULL, *eos = NULL, *out = NULL;
    llamac_model *model = NULL;
    llamac_template *tmpl = NULL;
    size_t len = 0;
    if (!(messages = cli_read_all(&c, strcmp(messages_file, "-") == 0 ? NULL : messages_file, &len))) {
        goto done;
    }
    if (tools_file && !(tools = cli_read_all(&c, strcmp(tools_file, "-") == 0 ? NULL : tools_file, &len))) {
        goto done;
    }
    if (have_model && !(model = cli_load_model(&c, true))) {
        goto done;
    }
    llamac_status st;
    if (template_file) {
        if (!(source = cli_read_all(&c, template_file, &len))) {
            goto done;
        }
        st = llamac_template_new(source, len, &tmpl);
    } else {
        const char *variant = NULL, *ignored = NULL;
        if (tools && llamac_model_chat_template(model, "tool_use", &ignored) == LLAMAC_OK) {
            variant = "tool_use";
        }
        st = llamac_template_from_model(model, variant, &tmpl);
    }
    if (st != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        goto done;
    }
    llamac_template_inputs in = llamac_template_inputs_default();
    in.messages_json = messages;
    in.tools_json = tools;
    in.kwargs_json = kwargs;
    in.add_generation_prompt = generation_prompt;
    if (template_file && model) {
        /* a template from a file still gets the model's BOS/EOS texts */
        bos = special_text(model, LLAMAC_TOKEN_BOS);
        eos = special_text(model, LLAMAC_TOKEN_EOS);
        if (!bos || !eos) {
            cli_error(&c, "out of memory");
            goto done;
        }
        in.bos_token = bos;
        in.eos_token = eos;
    }
    if (llamac_template_render(tmpl, &in, &out, &len) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        goto done;
    }
    if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error(&c, "cannot write to standard output");
        goto done;
    }
    rc = EXIT_OK;
done:
    llamac_free(out);
    llamac_template_free(tmpl);
    llamac_model_free(model);
    free(messages);
    free(tools);
    free(source);
    free(bos);
    free(eos);
    cli_common_close(&c);
    return rc;
}
