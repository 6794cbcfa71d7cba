/*
 * chat_opts.h - the options of `llamac chat`, shared by its two front ends: the line REPL (cmd_chat.c) and the
 * live terminal UI (`--live`, cmd_chat_live.c). Both are one command with one option table, so every flag of chat
 * works with --live as well; the few that only the live UI has are rejected without it.
 */
#ifndef LLAMAC_CHAT_OPTS_H
#define LLAMAC_CHAT_OPTS_H

#include "cli.h"

struct chat_opts {
    struct cli_chat chat;             /* -sys, --keep-turns, --session, template flags */
    struct cli_constraint constraint; /* --grammar, --json, ... */
    bool live;                        /* --live */
    long debounce_ms;                 /* --debounce-ms (live) */
    long margin;                      /* --prefill-margin (live) */
    long step_tokens;                 /* --prefill-step (live) */
    bool no_prefill;                  /* --no-prefill (live) */
    bool no_speculate;                /* --no-speculate (live) */
};

/* Runs `llamac chat --live` with the parsed options and the chat parameters they make (template, system prompt,
 * grammar, sampling: ready for llamac_chat_new). Returns the exit status. */
int cmd_chat_live(struct cli_common *c, struct chat_opts *o, llamac_chat_params *cp);

#endif /* LLAMAC_CHAT_OPTS_H */
