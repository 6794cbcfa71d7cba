/*
 * tools_builtin.h - what the built-in agent tools' files share: tools_builtin.c (GET and POST /tools, the table of
 * tools, exec_shell_command and get_info), tools_files.c (the five file tools), tools_fs.c (paths, globs, listings,
 * reading and writing files whole), tools_proc.c (running a command).
 *
 * A command runs in a process group of its own, its output read from one pipe (stdout and stderr together) by the
 * request's thread, under a deadline after which the whole group is killed: a command can neither outlive its time
 * nor leave children behind, and it never runs on the engine's thread or a polling thread.
 */
#ifndef LLAMAC_SERVER_TOOLS_BUILTIN_H
#define LLAMAC_SERVER_TOOLS_BUILTIN_H

#include "dynbuf.h"
#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One running command. */
struct tool_proc {
    pid_t pid;           /* the child, leader of its process group; 0: none (reaped) */
    int fd;              /* the read end of its output pipe; -1: closed */
    int64_t deadline_ms; /* CLOCK_MONOTONIC: the group is killed then */
    int64_t drain_ms;    /* after the kill: output is read until then at most (a child that escaped the group may
                            hold the pipe open) */
    bool timed_out;      /* the deadline passed and the group was killed */
    int exit_code;       /* once reaped: the exit status, or 128 + the signal that ended it (a shell's convention) */
};

/* Starts argv[0] (searched in PATH when it has no '/') with argv, stdin from /dev/null, stdout and stderr into one
 * pipe, the working directory `cwd` (NULL: the server's), the server's environment, default signal dispositions and
 * a process group of its own; killed timeout_s seconds from now. False with a message in err (cap bytes): the
 * command could not start (no such program, cwd not a directory...). argv is borrowed (copied). Thread-safe. */
bool tool_proc_start(struct tool_proc *p, const char *const argv[], const char *cwd, unsigned timeout_s, char *err,
                     size_t cap);

/* Waits for the next output: returns the number of bytes read into buf (at most cap), or 0 when the output is over
 * and the child reaped (exit_code, timed_out set), or -1 on a read error (the group is killed and reaped as well),
 * or TOOL_PROC_AGAIN when nothing came within wait_ms (< 0: no such limit), so that the caller can look at its client.
 * Kills the group at the deadline. Blocks (at most until the deadline and a short drain after it). */
#define TOOL_PROC_AGAIN (-2)
ssize_t tool_proc_read(struct tool_proc *p, char *buf, size_t cap, int wait_ms);

/* Kills the group (if still running), closes the pipe and reaps the child. Idempotent. */
void tool_proc_end(struct tool_proc *p);

/* ---- tools_fs.c: what the file tools stand on ---- */

#define WALK_DEPTH_MAX 256 /* folders deep, at most, in a listing */

/* `path` as an absolute path: a leading ~ is $HOME, a relative path is under cwd (NULL: the server's directory);
 * "." and ".." resolved lexically, duplicate slashes dropped. malloc'd; NULL when out of memory. */
char *tools_resolve(const char *cwd, const char *path);

/* llama-server's rule for include and exclude: a glob without '/' matches the name at any depth, one with '/' the
 * whole relative path (as if it began with "**" "/", unless it begins with "**" or '/'); * and ? stay within a path
 * segment, ** crosses them (and "**" "/" also matches no folder at all), [...] is a class. */
bool tools_path_match(const char *pattern, const char *rel);

enum list_kind { LIST_FILES, LIST_DIRS, LIST_ALL };

struct entry {
    char *rel; /* '/'-separated, relative to the base */
    bool dir;
};

struct listing {
    struct entry *v;
    size_t n, cap;
    bool truncated; /* the time budget ran out, or a directory could not be read */
};

/* The entries under `base` (absolute) to max_depth levels (0: all): files from `git ls-files` when base is in a git
 * repository (what .gitignore leaves out stays out), else from a walk that lists links and bulky folders (.git,
 * node_modules, build, ...) without entering them; within 15 s. *l is filled in (tools_list_free frees it, whatever
 * the result); false when out of memory. */
bool tools_list(struct listing *l, const char *base, int max_depth, enum list_kind kind);
void tools_list_free(struct listing *l);

/* Runs argv to its end (tool_proc_start's terms): its output into out (max bytes kept; the rest read and dropped,
 * *truncated set), *exit_code, *timed_out. False with a message in err when it could not start. */
bool tools_run(const char *const argv[], const char *cwd, unsigned timeout_s, size_t max, llamac__dynbuf *out,
               int *exit_code, bool *timed_out, bool *truncated, char *err, size_t cap);

/* (s, n) as valid UTF-8, invalid bytes as U+FFFD: malloc'd and NUL-terminated (NULL when out of memory), or as a JSON
 * string (never NULL: "" when out of memory). */
char *tools_utf8(const char *s, size_t n);
json_t *tools_text_json(const char *s, size_t n);

/* A regular file's bytes, at most max, appended to out; false with errno set (EFBIG: larger than max; EISDIR). */
bool tools_read_all(const char *path, size_t max, llamac__dynbuf *out);

/* Lines of a file one at a time: set fd (open for reading), the rest zero. */
struct lines {
    int fd;
    char buf[65536];
    size_t pos, len;
    bool eof;
};

/* The next line (without its '\n', at most cap bytes of it: the rest is skipped) into *line; false at the end. As
 * std::getline: no empty line after a final '\n'. */
bool tools_next_line(struct lines *lr, llamac__dynbuf *line, size_t cap);

/* Writes (data, n) to the absolute path whole or not at all (a temporary file beside it, renamed over it), making the
 * folders above it; a link is written through; an existing file keeps its mode, a new one gets 0666 less the umask.
 * False with errno set. */
bool tools_write_whole(const char *abs, const char *data, size_t n);

/* ---- tools_builtin.c: a tool call ---- */

struct call {
    struct request *rq;
    json_t *params;  /* borrowed */
    const char *cwd; /* x-tool-cwd; NULL: the server's directory */
    bool base64;     /* x-resp-type: base64 (read_file) */
};

/* A tool's own failure, as the model sees it: {"error": MESSAGE} (with a 200). */
json_t *tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A required string parameter; replies 400 and returns false when it is missing or not a string, or (a path) empty
 * or holding a NUL. */
bool tool_param_required(struct call *c, const char *name, bool path, const char **out);

/* An optional integer parameter within [min, max] (field_int). */
bool tool_param_int(struct call *c, const char *name, long long min, long long max, long long *out);

/* A path parameter resolved against the call's folder (malloc'd); NULL after replying 500 (out of memory). */
char *tool_resolved(struct call *c, const char *path);

/* ---- tools_files.c: the file tools. Each returns its result (a tool's failure included, tool_error), or NULL
 * after replying with an error (a malformed call). ---- */
json_t *tool_read_file(struct call *c);
json_t *tool_file_glob_search(struct call *c);
json_t *tool_grep_search(struct call *c);
json_t *tool_write_file(struct call *c);
json_t *tool_edit_file(struct call *c);

#endif /* LLAMAC_SERVER_TOOLS_BUILTIN_H */
