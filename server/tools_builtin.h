/*
 * tools_builtin.h - what the built-in agent tools' files share (tools_builtin.c: GET and POST /tools and the seven
 * tools; tools_proc.c: running a command for them).
 *
 * A command runs in a process group of its own, its output read from one pipe (stdout and stderr together) by the
 * request's thread, under a deadline after which the whole group is killed: a command can neither outlive its time
 * nor leave children behind, and it never runs on the engine's thread or a polling thread.
 */
#ifndef LLAMAC_SERVER_TOOLS_BUILTIN_H
#define LLAMAC_SERVER_TOOLS_BUILTIN_H

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

#endif /* LLAMAC_SERVER_TOOLS_BUILTIN_H */
