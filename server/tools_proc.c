/*
 * tools_proc.c - running a command for the built-in agent tools (exec_shell_command, get_info's uname, the git
 * listing of file_glob_search and grep_search): posix_spawn into a process group of its own, its output (stdout and
 * stderr together) through one pipe, a deadline after which the group is killed with SIGKILL.
 *
 * posix_spawn rather than fork: glibc's runs the child on the parent's memory until it execs (no copy of a server
 * that may hold gigabytes of model), and only async-signal-safe work happens in between. The server ignores SIGPIPE;
 * a command gets the default back, as it would from a shell.
 */
#define _GNU_SOURCE
#include "tools_builtin.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long output is still read after the group was killed: a child that left the group may hold the pipe open. */
#define DRAIN_AFTER_KILL_MS 1000

static void free_args(char **args) {
    for (size_t i = 0; args && args[i]; i++) {
        free(args[i]);
    }
    free(args);
}

bool tool_proc_start(struct tool_proc *p, const char *const argv[], const char *cwd, unsigned timeout_s, char *err,
                     size_t cap) {
    memset(p, 0, sizeof *p);
    p->fd = -1;
    struct stat st;
    if (cwd && stat(cwd, &st) != 0) {
        snprintf(err, cap, "working directory %s: %s", cwd, strerror(errno));
        return false;
    }
    if (cwd && !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "working directory %s: not a directory", cwd);
        return false;
    }
    size_t n = 0;
    while (argv[n]) {
        n++;
    }
    char **args = calloc(n + 1, sizeof *args); /* posix_spawn's argv is not const */
    bool copied = args != NULL;
    for (size_t i = 0; copied && i < n; i++) {
        copied = (args[i] = strdup(argv[i])) != NULL;
    }
    int pipefd[2];
    if (!copied || pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, cap, "cannot run %s: %s", argv[0], copied ? strerror(errno) : "out of memory");
        free_args(args);
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* no socket or file of the server's reaches the command */
#endif
    if (cwd) {
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    }
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = strchr(args[0], '/') ? posix_spawn(&pid, args[0], &fa, &attr, args, environ)
                                  : posix_spawnp(&pid, args[0], &fa, &attr, args, environ);
    free_args(args);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(err, cap, "cannot run %s: %s", argv[0], strerror(rc));
        return false;
    }
    p->pid = pid;
    p->fd = pipefd[0];
    p->deadline_ms = server_now_ms() + (int64_t)timeout_s * 1000;
    p->exit_code = -1;
    return true;
}

static void kill_group(struct tool_proc *p) {
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
    }
}

/* Reaps the child, killing its group at the deadline if it still runs (it may have closed its output early). */
static void reap(struct tool_proc *p) {
    while (p->pid > 0) {
        int status = 0;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            p->pid = 0;
            break;
        }
        if (r < 0 && errno != EINTR) { /* not ours to reap (cannot happen unless SIGCHLD is ignored) */
            p->pid = 0;
            break;
        }
        if (!p->timed_out && server_now_ms() >= p->deadline_ms) {
            p->timed_out = true;
            kill_group(p);
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

ssize_t tool_proc_read(struct tool_proc *p, char *buf, size_t cap, int wait_ms) {
    int64_t give_up = wait_ms >= 0 ? server_now_ms() + wait_ms : INT64_MAX;
    while (p->fd >= 0) {
        int64_t now = server_now_ms();
        if (!p->timed_out && now >= p->deadline_ms) {
            p->timed_out = true;
            p->drain_ms = now + DRAIN_AFTER_KILL_MS;
            kill_group(p);
        }
        int64_t until = p->timed_out ? p->drain_ms : p->deadline_ms;
        if (p->timed_out && now >= until) {
            break; /* the pipe is held open by something outside the group: stop reading */
        }
        if (now >= give_up) {
            return TOOL_PROC_AGAIN;
        }
        until = until < give_up ? until : give_up;
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
        int64_t wait = until - now;
        int n = poll(&pfd, 1, wait > 1000 ? 1000 : (int)wait);
        if (n < 0 && errno != EINTR) {
            kill_group(p);
            tool_proc_end(p);
            return -1;
        }
        if (n <= 0) {
            continue;
        }
        ssize_t got = read(p->fd, buf, cap);
        if (got > 0) {
            return got;
        }
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (got < 0) {
            kill_group(p);
            tool_proc_end(p);
            return -1;
        }
        break; /* end of output */
    }
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    reap(p);
    return 0;
}

void tool_proc_end(struct tool_proc *p) {
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (p->pid > 0) {
        kill_group(p);
        int status;
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
        }
        p->pid = 0;
    }
}
