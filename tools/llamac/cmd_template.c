/*
 * cmd_template.c - `llamac template`: prints the prompt llama-server would make of a conversation, byte for byte,
 * for people debugging templates and for the chat-layer fidelity test.
 *
 * It renders through the chat layer (llamac_template_apply), as `llamac serve` and chat sessions do. The template
 * comes from the model (-m, which also supplies the BOS/EOS texts; its "tool_use" variant with tools; ChatML when it
 * has none) or from a file. A conversation is given as messages/tools files or as whole request bodies (--request,
 * as posted to /apply-template); several requests are rendered by one process, one JSON line each, so that a
 * template can be checked against many conversations without loading the model again.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct template_opts {
    const char *messages;
    const char *tools;
    bool no_generation_prompt;
    const char **requests; /* --request files, in order (owned array, borrowed strings) */
    size_t n_requests;
};

static bool add_request(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    struct template_opts *o = p->t.command;
    const char **grown = realloc(o->requests, (o->n_requests + 1) * sizeof *grown);
    if (!grown) {
        cli_error(p->t.common, "out of memory");
        return false;
    }
    grown[o->n_requests++] = value;
    o->requests = grown;
    return true;
}

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
    { .names = { "--request" },
      .arg = "FILE",
      .set = add_request,
      .help = "a request body as posted to /apply-template (messages, tools, chat_template_kwargs, "
              "add_generation_prompt, continue_final_message, reasoning_effort) instead of --messages; repeatable: "
              "with more than one, each answer is a JSON line, {\"prompt\": ...} or {\"error\": ...}" },
};
static const struct cli_group conversation_group = CLI_GROUP("Conversation", CLI_TARGET_COMMAND, conversation_rows);

static const struct cli_group *const template_groups[] = {
    &conversation_group, &cli_group_template, &cli_group_model, &cli_group_hub, &cli_group_log, NULL,
};

static int template_cmd(int argc, char **argv);

const struct cli_command cli_cmd_template = {
    .name = "template",
    .summary = "print the prompt llama-server makes of a conversation (JSON messages or request bodies)",
    .synopsis = "[MODEL.gguf | -m MODEL] --messages FILE.json [--tools FILE.json] [options]\n"
                "[MODEL.gguf | -m MODEL] --request BODY.json [--request BODY.json ...] [options]\n"
                "--chat-template-file FILE --messages FILE.json [--chat-template-kwargs JSON] [options]",
    .about = "Prints the prompt llama-server makes of the conversation (its /apply-template), exactly: no newline "
             "is added. It goes through the chat layer as llamac serve does. The model supplies the template (its "
             "tool_use variant with tools, ChatML when it has none) and the BOS/EOS token texts (only its "
             "vocabulary is loaded); without one the template comes from --chat-template-file and bos_token / "
             "eos_token are empty.\nExit status: 0 printed, 1 the conversation was refused or the template failed "
             "(the message names the message or the template line; with several requests, any of them), 2 bad "
             "command line.",
    .groups = template_groups,
    .run = template_cmd,
};

/* One JSON line for a request's answer; false when stdout fails. */
static bool print_answer(llamac_status st, const char *out, size_t len) {
    json_t *j =
        st == LLAMAC_OK ? json_pack("{s:s%}", "prompt", out, len) : json_pack("{s:s}", "error", llamac_last_error());
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    bool ok = text && printf("%s\n", text) >= 0;
    free(text);
    json_decref(j);
    return ok;
}

/* Renders each --request file with `p`'s other fields; the status of the run. */
static int render_requests(struct cli_common *c, const struct template_opts *o, const llamac_template *tmpl,
                           const llamac_model *model, const llamac_template_apply_params *p) {
    bool all_ok = true;
    for (size_t k = 0; k < o->n_requests; k++) {
        llamac_template_apply_params q = *p;
        char *out = NULL, *keep = NULL;
        size_t len = 0;
        char *body = cli_read_all(c, strcmp(o->requests[k], "-") == 0 ? NULL : o->requests[k], &len);
        if (!body) {
            return EXIT_FAILURE_RUN;
        }
        llamac_status st = llamac_template_apply_params_from_json(body, &q, &keep);
        if (st == LLAMAC_OK) {
            st = llamac_template_apply(tmpl, model, &q, &out, &len);
        }
        all_ok = all_ok && st == LLAMAC_OK;
        bool written = true;
        if (o->n_requests == 1) {
            if (st != LLAMAC_OK) {
                cli_error(c, "%s: %s", o->requests[k], llamac_last_error());
            } else {
                written = fwrite(out, 1, len, stdout) == len;
            }
        } else {
            written = print_answer(st, out, len);
        }
        llamac_free(out);
        llamac_free(keep);
        free(body);
        if (!written) {
            cli_error(c, "cannot write to standard output");
            return EXIT_FAILURE_RUN;
        }
    }
    return all_ok ? EXIT_OK : EXIT_FAILURE_RUN;
}

static int template_cmd(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "template");
    struct cli_chat k = { 0 };
    struct template_opts o = { 0 };
    struct cli_targets t = { .common = &c, .chat = &k, .command = &o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_template, &t, argc, argv);
    char *messages = NULL, *tools = NULL, *out = NULL;
    llamac_model *model = NULL;
    llamac_template *tmpl = NULL;
    if (rc >= 0) {
        goto done;
    }
    rc = EXIT_USAGE;
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac template --help)", p.pos[0]);
        goto done;
    }
    if (!o.messages == (o.n_requests == 0)) {
        cli_error(&c, o.n_requests ? "--request and --messages do not go together"
                                   : "no conversation given: pass --messages FILE.json or --request FILE.json");
        goto done;
    }
    bool have_model = cli_model_path(&c) || c.hf_repo;
    if (!k.template_file && !k.template_name && !have_model) {
        cli_error(&c, "no template given: pass -m MODEL, --chat-template-file FILE or --chat-template NAME");
        goto done;
    }
    if (!cli_template_check(&c, &k)) {
        goto done;
    }
    if ((k.kwargs && !cli_json_object(&c, "--chat-template-kwargs", k.kwargs)) || !cli_setup_logging(&c)) {
        goto done;
    }

    rc = EXIT_FAILURE_RUN;
    size_t len = 0;
    if (o.messages && !(messages = cli_read_all(&c, strcmp(o.messages, "-") == 0 ? NULL : o.messages, &len))) {
        goto done;
    }
    if (o.tools && !(tools = cli_read_all(&c, strcmp(o.tools, "-") == 0 ? NULL : o.tools, &len))) {
        goto done;
    }
    if (have_model && !(model = cli_load_model(&c, true))) {
        goto done;
    }
    if (!cli_template_from_flags(&c, &k, &tmpl)) {
        goto done;
    }
    /* else the template llama-server picks; a request file's tools do not change it (one template for all) */
    if (!tmpl) {
        cli_template_note(&c, &k, model);
        if (llamac_template_for_model(model, tools != NULL, &tmpl) != LLAMAC_OK) {
            cli_lib_error(&c, NULL);
            goto done;
        }
    }
    llamac_template_apply_params ap = llamac_template_apply_params_default();
    ap.thinking = (llamac_thinking)k.thinking;
    ap.chat_template_kwargs_json = k.kwargs;
    if (o.n_requests) {
        rc = render_requests(&c, &o, tmpl, model, &ap);
        if (fflush(stdout) != 0) {
            cli_error(&c, "cannot write to standard output");
            rc = EXIT_FAILURE_RUN;
        }
        goto done;
    }
    ap.messages_json = messages;
    ap.tools_json = tools;
    ap.add_generation_prompt = !o.no_generation_prompt;
    if (llamac_template_apply(tmpl, model, &ap, &out, &len) != LLAMAC_OK) {
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
    free(o.requests);
    cli_common_close(&c);
    return rc;
}
