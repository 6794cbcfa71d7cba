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

static void usage(void) {
    printf("usage: llamac template [-m MODEL] [--chat-template-file FILE] --messages FILE.json [--tools FILE.json]\n"
           "                       [--chat-template-kwargs JSON] [--no-generation-prompt]\n\n"
           "Prints the prompt the model's chat template (or FILE's) makes of the conversation, exactly.\n\n"
           "  -m, --model FILE            the model whose template and BOS/EOS token texts to use (vocabulary only)\n"
           "  --chat-template-file FILE   use this Jinja template instead of the model's\n"
           "  --messages FILE             OpenAI-format messages: a JSON array (- reads standard input)\n"
           "  --tools FILE                OpenAI-format tools: a JSON array; with -m, selects the model's tool_use\n"
           "                              template when it has one\n"
           "  --chat-template-kwargs JSON extra template variables, e.g. '{\"enable_thinking\": false}'\n"
           "  --no-generation-prompt      do not end with the start of an assistant turn\n"
           "  -q, --quiet, -v, --verbose  as for the other commands\n\n"
           "Without -m the template comes from --chat-template-file and bos_token / eos_token are empty.\n"
           "Exit status: 0 printed, 1 the template failed (the message names its line), 2 bad command line.\n");
}

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

int cmd_template(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "template");
    const char *template_file = NULL, *messages_file = NULL, *tools_file = NULL, *kwargs = NULL;
    bool generation_prompt = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = cli_parse_common(&c, argc, argv, &i);
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        const char **value = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (strcmp(a, "--chat-template-file") == 0) {
            value = &template_file;
        } else if (strcmp(a, "--messages") == 0) {
            value = &messages_file;
        } else if (strcmp(a, "--tools") == 0) {
            value = &tools_file;
        } else if (strcmp(a, "--chat-template-kwargs") == 0) {
            value = &kwargs;
        } else if (strcmp(a, "--no-generation-prompt") == 0) {
            generation_prompt = false;
        } else {
            cli_error(&c, "unknown option '%s' (see llamac template --help)", a);
            return EXIT_USAGE;
        }
        if (value && !(*value = cli_value(&c, argc, argv, &i))) {
            return EXIT_USAGE;
        }
    }
    if (!messages_file) {
        cli_error(&c, "no conversation given: pass --messages FILE.json");
        return EXIT_USAGE;
    }
    const char *env_model = getenv("LLAMAC_MODEL");
    bool have_model = (c.model_path && c.model_path[0]) || (env_model && env_model[0]) || c.hf_repo;
    if (!template_file && !have_model) {
        cli_error(&c, "no template given: pass -m MODEL or --chat-template-file FILE");
        return EXIT_USAGE;
    }
    cli_setup_logging(&c);

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
        cli_error(&c, "%s", llamac_last_error());
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
        cli_error(&c, "%s", llamac_last_error());
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
    return rc;
}
