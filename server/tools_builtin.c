/*
 * tools_builtin.c - llama-server's built-in agent tools (--tools): GET /tools lists them, POST /tools runs one
 * ({"tool": NAME, "params": {...}, "stream": false}), for a web UI whose model reads and writes files and runs
 * commands on the server's machine, as the server's user. Off by default: both answer 403 without --tools.
 *
 * The seven tools take and return what llama-server's take and return (names, parameters, the text the model sees
 * in plain_text_response, the same limits), so that its web UI works unchanged. A tool's own failure (no such file,
 * an edit that does not apply) is a 200 with {"error": "..."}, which the UI hands to the model; a malformed call
 * (missing or ill-typed parameter, unknown tool) is a 4xx. Files are written through a temporary file renamed over
 * the target, so a failure never leaves half a file. Paths are resolved against the x-tool-cwd header (else the
 * server's directory); commands run through tools_proc.c on the request's own thread, exec_shell_command's output
 * streamed as server-sent events with "stream": true. Only the host runtime exists: llama-server's docker, podman
 * and ssh runtimes (x-tool-runtime, --tools-runtime) are checked as it checks them, then refused.
 */
#define _GNU_SOURCE
#include "tools_builtin.h"

#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* llama-server's limits (server-tools.cpp at the pin). */
#define EXEC_OUTPUT_MAX ((size_t)16 << 10) /* exec_shell_command's output */
#define EXEC_TIMEOUT_DEFAULT 10            /* seconds */
#define EXEC_TIMEOUT_MAX 60
#define INFO_TIMEOUT_S 5    /* get_info's uname */
#define CLIENT_CHECK_MS 250 /* while a command is quiet, how often its client is looked at */

/* ---- a tool call ---- */

json_t *tool_error(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:o}", "error", tools_text_json(msg, strlen(msg)));
}

bool tool_param_required(struct call *c, const char *name, bool path, const char **out) {
    *out = NULL;
    if (!field_str(c->rq, c->params, name, out)) {
        return false;
    }
    if (!*out) {
        reply_error(c->rq, 400, name, "missing_required_parameter", "params.%s is required", name);
        return false;
    }
    if (path && strlen(*out) != json_string_length(json_object_get(c->params, name))) {
        reply_error(c->rq, 400, name, "invalid_value", "params.%s must not contain a NUL character", name);
        return false;
    }
    if (path && !**out) {
        reply_error(c->rq, 400, name, "invalid_value", "params.%s must not be empty", name);
        return false;
    }
    return true;
}

bool tool_param_int(struct call *c, const char *name, long long min, long long max, long long *out) {
    return field_int(c->rq, c->params, name, min, max, out);
}

char *tool_resolved(struct call *c, const char *path) {
    char *abs = tools_resolve(c->cwd, path);
    if (!abs) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return abs;
}

/* get_info: the operating system (uname -a) and the working directory the tools use. */
static json_t *tool_get_info(struct call *c) {
    const char *argv[] = { "uname", "-a", NULL };
    llamac__dynbuf out = LLAMAC__DYNBUF(4096);
    int code = -1;
    bool timed_out = false, cut = false;
    char err[256], here[PATH_MAX];
    bool ran = tools_run(argv, NULL, INFO_TIMEOUT_S, 4096, &out, &code, &timed_out, &cut, err, sizeof err);
    const char *os = "unknown";
    char *text = NULL;
    if (ran && code == 0 && !timed_out) {
        const char *s = llamac__dynbuf_ptr(&out) ? llamac__dynbuf_ptr(&out) : "";
        size_t n = llamac__dynbuf_len(&out);
        while (n && isspace((unsigned char)s[n - 1])) {
            n--;
        }
        text = tools_utf8(s, n);
        os = text ? text : os;
    }
    const char *cwd = c->cwd ? c->cwd : getcwd(here, sizeof here);
    json_t *res =
        json_pack("{s:s,s:o}", "os", os, "cwd", tools_text_json(cwd ? cwd : "unknown", strlen(cwd ? cwd : "unknown")));
    free(text);
    llamac__dynbuf_free(&out);
    return res;
}

/* ---- exec_shell_command ---- */

struct exec_args {
    const char *command;
    unsigned timeout_s;
    size_t max_output;
};

static bool exec_args(struct call *c, struct exec_args *a) {
    long long timeout = EXEC_TIMEOUT_DEFAULT, max = (long long)EXEC_OUTPUT_MAX;
    if (!tool_param_required(c, "command", true, &a->command) ||
        !tool_param_int(c, "timeout", 1, LLONG_MAX, &timeout) ||
        !tool_param_int(c, "max_output_size", 0, LLONG_MAX, &max)) {
        return false;
    }
    a->timeout_s = (unsigned)(timeout < EXEC_TIMEOUT_MAX ? timeout : EXEC_TIMEOUT_MAX);
    a->max_output = (size_t)max < EXEC_OUTPUT_MAX ? (size_t)max : EXEC_OUTPUT_MAX;
    return true;
}

/* The socket of a request's client, to notice that it has gone while a command runs (-1: not known). */
static int client_fd(struct request *rq) {
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    return ci ? (int)ci->connect_fd : -1;
}

/* "\n[exit code: N]", and why it ended early. */
static void exec_tail(llamac__dynbuf *b, const struct tool_proc *p, bool truncated) {
    if (truncated) {
        llamac__dynbuf_adds(b, "\n[output truncated]");
    }
    llamac__dynbuf_addf(b, "\n[exit code: %d]", p->exit_code);
    if (p->timed_out) {
        llamac__dynbuf_adds(b, " [exit due to timed out]");
    }
}

/* exec_shell_command: /bin/sh -c COMMAND, stdout and stderr together, within its time and output limits. */
static json_t *tool_exec_shell_command(struct call *c) {
    struct exec_args a;
    if (!exec_args(c, &a)) {
        return NULL;
    }
    const char *argv[] = { "/bin/sh", "-c", a.command, NULL };
    struct tool_proc p;
    char err[512];
    if (!tool_proc_start(&p, argv, c->cwd, a.timeout_s, err, sizeof err)) {
        return tool_error("%s", err);
    }
    llamac__dynbuf out = LLAMAC__DYNBUF(SIZE_MAX);
    bool truncated = false;
    char buf[4096];
    int fd = client_fd(c->rq);
    for (;;) { /* read past the cap: the child must not block on a full pipe */
        ssize_t n = tool_proc_read(&p, buf, sizeof buf, CLIENT_CHECK_MS);
        if (n == TOOL_PROC_AGAIN && (atomic_load(&c->rq->s->stopping) || (fd >= 0 && connection_gone(fd)))) {
            break; /* nobody waits for the answer, or the server stops: the command is killed (tool_proc_end) */
        }
        if (n == TOOL_PROC_AGAIN) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        size_t have = llamac__dynbuf_len(&out), take = (size_t)n;
        if (have + take > a.max_output) {
            take = a.max_output - have;
            truncated = true;
        }
        llamac__dynbuf_add(&out, buf, take);
    }
    tool_proc_end(&p);
    exec_tail(&out, &p, truncated);
    json_t *res =
        json_pack("{s:o}", "plain_text_response", tools_text_json(llamac__dynbuf_ptr(&out), llamac__dynbuf_len(&out)));
    llamac__dynbuf_free(&out);
    return res;
}

/* The stream of exec_shell_command ("stream": true), as llama-server's: one event {"chunk": TEXT} per piece of
 * output as it comes, one with the exit code, then {"done": true}. Its reader runs on the request's thread. */
struct exec_stream {
    struct tool_proc p;
    int fd;                   /* the client's socket */
    struct server *s;         /* stopping: the command is killed */
    llamac_utf8_stream *utf8; /* a piece may end inside a character */
    size_t sent, max_output;
    bool truncated, over;
    llamac__dynbuf pending; /* the events not yet handed over */
    size_t off;
};

static void sse_event(llamac__dynbuf *b, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (s) {
        llamac__dynbuf_addf(b, "data: %s\n\n", s);
    }
    free(s);
}

static void chunk_event(llamac__dynbuf *b, const char *s, size_t n) {
    if (n > 0) {
        sse_event(b, json_pack("{s:s%}", "chunk", s, n));
    }
}

static ssize_t exec_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    struct exec_stream *x = cls;
    while (x->off == llamac__dynbuf_len(&x->pending)) {
        if (x->over) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        llamac__dynbuf_reset(&x->pending);
        x->off = 0;
        char buf[4096];
        ssize_t n = tool_proc_read(&x->p, buf, sizeof buf, CLIENT_CHECK_MS);
        if (n == TOOL_PROC_AGAIN && (atomic_load(&x->s->stopping) || (x->fd >= 0 && connection_gone(x->fd)))) {
            tool_proc_end(&x->p); /* the client has gone, or the server stops: the command is killed */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (n == TOOL_PROC_AGAIN) {
            continue;
        }
        const char *t;
        size_t tn;
        if (n > 0) {
            size_t take = (size_t)n;
            if (x->sent + take > x->max_output) {
                take = x->max_output - x->sent;
                x->truncated = true;
            }
            x->sent += take;
            if (take > 0 && llamac_utf8_stream_push(x->utf8, buf, take, &t, &tn) == LLAMAC_OK) {
                chunk_event(&x->pending, t, tn);
            }
            continue;
        }
        if (llamac_utf8_stream_flush(x->utf8, &t, &tn) == LLAMAC_OK) {
            chunk_event(&x->pending, t, tn);
        }
        tool_proc_end(&x->p);
        llamac__dynbuf tail = LLAMAC__DYNBUF(256);
        exec_tail(&tail, &x->p, x->truncated);
        chunk_event(&x->pending, llamac__dynbuf_ptr(&tail), llamac__dynbuf_len(&tail));
        llamac__dynbuf_free(&tail);
        sse_event(&x->pending, n < 0 ? json_pack("{s:b,s:s}", "done", 1, "error", "reading the command's output failed")
                                     : json_pack("{s:b}", "done", 1));
        x->over = true;
    }
    size_t n = llamac__dynbuf_len(&x->pending) - x->off;
    n = n < max ? n : max;
    memcpy(out, llamac__dynbuf_ptr(&x->pending) + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

/* The stream is over or its client gone: the command's whole group is killed if it still runs. */
static void exec_free(void *cls) {
    struct exec_stream *x = cls;
    tool_proc_end(&x->p);
    llamac_utf8_stream_free(x->utf8);
    llamac__dynbuf_free(&x->pending);
    free(x);
}

static void exec_stream_start(struct call *c) {
    struct exec_args a;
    if (!exec_args(c, &a)) {
        return;
    }
    struct exec_stream *x = calloc(1, sizeof *x);
    if (!x || llamac_utf8_stream_new(&x->utf8) != LLAMAC_OK) {
        free(x);
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return;
    }
    llamac__dynbuf_init(&x->pending, SIZE_MAX);
    x->max_output = a.max_output;
    x->fd = client_fd(c->rq);
    x->s = c->rq->s;
    const char *argv[] = { "/bin/sh", "-c", a.command, NULL };
    char err[512];
    if (!tool_proc_start(&x->p, argv, c->cwd, a.timeout_s, err, sizeof err)) {
        /* as llama-server's stream: the failure is the done event's error */
        sse_event(&x->pending, json_pack("{s:b,s:s}", "done", 1, "error", err));
        x->over = true;
        x->p.fd = -1;
    }
    struct MHD_Response *r = http_stream_response(MHD_SIZE_UNKNOWN, 4096, exec_read, x, exec_free);
    if (!r) {
        exec_free(x);
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    c->rq->response = r;
    c->rq->status = 200;
}

/* ---- the table of tools ---- */

struct tool {
    const char *name, *display_name;
    bool write;  /* permissions.write: it changes files or runs commands */
    bool stream; /* "stream": true is allowed */
    const char *description;
    const char *parameters; /* JSON Schema of params */
    json_t *(*run)(struct call *c);
};

static const struct tool tools[] = {
    { "read_file", "Read file", false, false,
      "Return the text of a file, or only the lines start_line to end_line (1-based, inclusive). With append_loc, "
      "every line starts with its number and an arrow (\"7\xe2\x86\x92...\").",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to read\"},"
      "\"start_line\":{\"type\":\"integer\",\"description\":\"The first line returned, counted from 1 (default: 1)\"},"
      "\"end_line\":{\"type\":\"integer\",\"description\":\"The last line returned (default: the file's last)\"},"
      "\"append_loc\":{\"type\":\"boolean\",\"description\":\"Begin every line with its number\"}},"
      "\"required\":[\"path\"]}",
      tool_read_file },
    { "file_glob_search", "File search", false, false,
      "List the files under a directory whose paths match a glob pattern, searching subdirectories too. Files that "
      ".gitignore excludes (inside a git repository) and bulky directories such as .git, node_modules, build and "
      "dist are left out. A pattern without '/' (\"*.cpp\") is matched against file names at any depth; a pattern "
      "with '/' against the path relative to the directory, as if it began with \"**/\" unless it begins with "
      "\"**/\" or '/'. type \"dir\" lists directories (their paths end with '/' in the text), \"all\" both; "
      "directory listings ignore .gitignore.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The directory to search\"},"
      "\"include\":{\"type\":\"string\",\"description\":\"Glob of the paths to list, e.g. \\\"*.cpp\\\" or "
      "\\\"src/**/*.cpp\\\" (default: **)\"},"
      "\"exclude\":{\"type\":\"string\",\"description\":\"Glob of the paths to leave out\"},"
      "\"type\":{\"type\":\"string\",\"description\":\"What to list: \\\"file\\\" (default), \\\"dir\\\" or "
      "\\\"all\\\"\"},"
      "\"max_depth\":{\"type\":\"integer\",\"description\":\"How many levels of subdirectories to search (default: 0, "
      "all; 1: the directory's own entries only)\"},"
      "\"limit\":{\"type\":\"integer\",\"description\":\"At most this many results, 100 at most (default: 100)\"}},"
      "\"required\":[\"path\"]}",
      tool_file_glob_search },
    { "grep_search", "Grep search", false, false,
      "Find the lines that match a regular expression in a file, or in the files under a directory (shown with their "
      "paths relative to it). Files that .gitignore excludes (inside a git repository) and bulky directories such as "
      ".git, node_modules, build and dist are skipped. include and exclude are globs: without '/' they match file "
      "names at any depth, with '/' the relative path (as if it began with \"**/\" unless it is anchored).",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file or directory to search\"},"
      "\"pattern\":{\"type\":\"string\",\"description\":\"The regular expression to find (a plain string with "
      "literal)\"},"
      "\"include\":{\"type\":\"string\",\"description\":\"Glob of the files to search (default: **)\"},"
      "\"exclude\":{\"type\":\"string\",\"description\":\"Glob of the files to skip\"},"
      "\"return_line_numbers\":{\"type\":\"boolean\",\"description\":\"Show the number of each line\"},"
      "\"literal\":{\"type\":\"boolean\",\"description\":\"Find pattern as it is written, not as a regular "
      "expression (default: false)\"},"
      "\"ignore_case\":{\"type\":\"boolean\",\"description\":\"Ignore the difference between upper and lower case "
      "(default: false)\"},"
      "\"context_lines\":{\"type\":\"integer\",\"description\":\"Lines shown before and after each match (default: "
      "0)\"}},"
      "\"required\":[\"path\",\"pattern\"]}",
      tool_grep_search },
    { "exec_shell_command", "Execute shell command", true, true,
      "Run a command with the shell and return what it printed (stdout and stderr together) and its exit code.",
      "{\"type\":\"object\",\"properties\":{"
      "\"command\":{\"type\":\"string\",\"description\":\"The shell command\"},"
      "\"timeout\":{\"type\":\"integer\",\"description\":\"Seconds before the command is killed (default 10, at most "
      "60)\"},"
      "\"max_output_size\":{\"type\":\"integer\",\"description\":\"At most this many bytes of output are returned "
      "(default 16384)\"}},"
      "\"required\":[\"command\"]}",
      tool_exec_shell_command },
    { "write_file", "Write file", true, false,
      "Replace the content of a file, or create it along with the directories it needs. edit_file changes parts of "
      "a file.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to write\"},"
      "\"content\":{\"type\":\"string\",\"description\":\"Its new content\"}},"
      "\"required\":[\"path\",\"content\"]}",
      tool_write_file },
    { "edit_file", "Edit file", true, false,
      "Change a file by replacing exact pieces of text. Each edits[].old_text must occur exactly once in the file as "
      "it is now (edits do not see each other's results) and must not overlap another edit: merge neighbouring "
      "changes into one edit. write_file replaces a whole file.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to change\"},"
      "\"edits\":{\"type\":\"array\",\"description\":\"The replacements, one or more\",\"items\":{\"type\":\"object\","
      "\"properties\":{"
      "\"old_text\":{\"type\":\"string\",\"description\":\"The text replaced: found exactly once in the file, not "
      "overlapping another edit\"},"
      "\"new_text\":{\"type\":\"string\",\"description\":\"The text put in its place\"}},"
      "\"required\":[\"old_text\",\"new_text\"]}}},"
      "\"required\":[\"path\",\"edits\"]}",
      tool_edit_file },
    { "get_info", "Get Runtime Info", false, false,
      "Tell the operating system (name and version) and the working directory the tools use.",
      "{\"type\":\"object\",\"properties\":{}}", tool_get_info },
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

bool server_tools_parse(const char *list, unsigned *mask, char *err, size_t cap) {
    *mask = 0;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        const char *name = p;
        while (n && *name == ' ') {
            name++, n--;
        }
        while (n && name[n - 1] == ' ') {
            n--;
        }
        size_t i = 0;
        if (n == 3 && strncmp(name, "all", 3) == 0) {
            *mask |= (1u << N_TOOLS) - 1;
        } else {
            for (; i < N_TOOLS && (strlen(tools[i].name) != n || strncmp(tools[i].name, name, n) != 0); i++) {
            }
            if (i == N_TOOLS) {
                llamac__dynbuf known = LLAMAC__DYNBUF(1024);
                for (size_t k = 0; k < N_TOOLS; k++) {
                    llamac__dynbuf_addf(&known, "%s%s", k ? ", " : "", tools[k].name);
                }
                snprintf(err, cap, "unknown tool \"%.*s\"; the tools are all, %s", (int)n, name,
                         llamac__dynbuf_ptr(&known) ? llamac__dynbuf_ptr(&known) : "");
                llamac__dynbuf_free(&known);
                return false;
            }
            *mask |= 1u << i;
        }
        p += strcspn(p, ",");
        if (!*p++) {
            break;
        }
    }
    return true;
}

static bool tools_enabled(struct request *rq) {
    if (rq->s->opt.tools == 0) {
        reply_error(rq, 403, NULL, "feature_disabled",
                    "this feature is disabled: start llamac serve with --tools (e.g. --tools all) for the built-in "
                    "tools");
        return false;
    }
    return true;
}

void handle_tools_get(struct request *rq) {
    if (!tools_enabled(rq)) {
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < N_TOOLS; i++) {
        if (!(rq->s->opt.tools & (1u << i))) {
            continue;
        }
        const struct tool *t = &tools[i];
        json_t *params = json_loads(t->parameters, 0, NULL);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:{s:b},s:b,s:{s:s,s:{s:s,s:s,s:o}}}", "display_name",
                                              t->display_name, "tool", t->name, "type", "server", "permissions",
                                              "write", t->write, "uses_cwd", 1, "definition", "type", "function",
                                              "function", "name", t->name, "description", t->description, "parameters",
                                              params ? params : json_object()));
    }
    if (!list) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    reply_json(rq, 200, list);
}

/* x-tool-runtime: llama-server runs the tools in a container (docker-container:ID, podman-container:ID) or on a host
 * over ssh (ssh:TARGET). A malformed one is refused as llama-server refuses it (500, its message; an id or target
 * that could pass for an option never reaches a command line); a well-formed one too, as llamac runs the tools on
 * its own machine only. False after replying. */
static bool runtime_refused(struct request *rq, const char *runtime) {
    static const char *const engines[] = { "docker", "podman" };
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(engines[i]);
        if (strncmp(runtime, engines[i], n) != 0) {
            continue;
        }
        if (strncmp(runtime + n, "-container:", 11) == 0) {
            const char *id = runtime + n + 11;
            bool ok = isalnum((unsigned char)*id);
            for (const char *p = id; ok && *p; p++) {
                ok = isalnum((unsigned char)*p) || strchr(".-_", *p);
            }
            if (!ok) {
                reply_error(rq, 500, NULL, NULL, "invalid container id: %s", id);
                return true;
            }
            goto unsupported;
        }
        if (runtime[n] == ':') {
            reply_error(rq, 500, NULL, NULL, "tool runtime must name a running container: %s", runtime);
            return true;
        }
    }
    if (strncmp(runtime, "ssh:", 4) == 0) {
        const char *target = runtime + 4;
        bool ok = *target && *target != '-';
        for (const char *p = target; ok && *p; p++) {
            ok = isalnum((unsigned char)*p) || strchr(".-_@", *p);
        }
        if (!ok) {
            reply_error(rq, 500, NULL, NULL, "invalid ssh target: %s", target);
            return true;
        }
        goto unsupported;
    }
    reply_error(rq, 500, NULL, NULL, "unknown tool runtime: %s", runtime);
    return true;
unsupported:
    reply_error(rq, 501, NULL, "not_supported",
                "tool runtime %s: llamac serve runs the built-in tools on its own machine only (no docker, podman or "
                "ssh runtime)",
                runtime);
    return true;
}

void handle_tools_post(struct request *rq) {
    if (!tools_enabled(rq)) {
        return;
    }
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *name = NULL;
    bool stream = false;
    json_t *params = json_object_get(body, "params");
    if (!field_str(rq, body, "tool", &name) || !field_bool(rq, body, "stream", &stream)) {
        goto done;
    }
    if (!name) {
        reply_error(rq, 400, "tool", "missing_required_parameter", "'tool' is required: the name of the tool to run");
        goto done;
    }
    if (params && !json_is_null(params) && !json_is_object(params)) {
        reply_error(rq, 400, "params", "invalid_type", "'params' must be an object");
        goto done;
    }
    const char *runtime = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-tool-runtime");
    if (runtime && *runtime && runtime_refused(rq, runtime)) {
        goto done;
    }
    size_t i = 0;
    for (; i < N_TOOLS && (!(rq->s->opt.tools & (1u << i)) || strcmp(tools[i].name, name) != 0); i++) {
    }
    if (i == N_TOOLS) {
        reply_error(rq, 404, "tool", "not_found", "unknown tool \"%s\"", name);
        goto done;
    }
    if (stream && !tools[i].stream) {
        reply_error(rq, 404, "stream", "not_supported", "tool \"%s\" does not support stream = true", name);
        goto done;
    }
    const char *cwd = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-tool-cwd");
    const char *resp_type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-resp-type");
    json_t *none = json_object();
    /* a cwd or runtime in params is not the model's to choose: the headers (the UI's) decide */
    struct call c = { rq, params && json_is_object(params) ? params : none, cwd && *cwd ? cwd : NULL,
                      resp_type && strcmp(resp_type, "base64") == 0 };
    if (stream) {
        exec_stream_start(&c);
    } else {
        json_t *res = tools[i].run(&c);
        if (res) {
            reply_json(rq, 200, res);
        }
    }
    json_decref(none);
done:
    json_decref(body);
}
