/*
 * cmd_rpc_server.c - `llamac rpc-server`: this machine's devices for a model split across machines.
 *
 * A thin shell over llamac_rpc_serve (ggml's RPC server): clients load layers onto it with --rpc HOST:PORT (llamac's
 * commands, or llama.cpp's tools of the same version). The protocol has no authentication or encryption, so it
 * listens on loopback unless told otherwise, and warns loudly when it is.
 */
#include "cli.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

struct rpc_opts {
    llamac_rpc_server_params p;
    long port;
    bool cache;
};

static const struct cli_opt rpc_rows[] = {
    { .names = { "-H", "--host" },
      .arg = "ADDR",
      .set = cli_set_str,
      .offset = offsetof(struct rpc_opts, p.host),
      .help = "address to listen on (default 127.0.0.1; anything else is reachable by anyone who can reach the "
              "address: the protocol has no authentication)" },
    { .names = { "-p", "--port" },
      .arg = "N",
      .set = cli_set_long,
      .offset = offsetof(struct rpc_opts, port),
      .min = 1,
      .max = 65535,
      .help = "port (default 50052)" },
    { .names = { "-d", "--device" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = offsetof(struct rpc_opts, p.devices),
      .help = "comma-separated devices to serve (default: every accelerator, else the CPU)" },
    { .names = { "-t", "--threads" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = offsetof(struct rpc_opts, p.n_threads),
      .min = 1,
      .max = 1024,
      .help = "threads of the CPU device (default: half the CPUs)" },
    { .names = { "-c", "--cache" },
      .set = cli_set_true,
      .offset = offsetof(struct rpc_opts, cache),
      .help = "keep the tensors clients send in a local cache ($LLAMA_CACHE or ~/.cache/llama.cpp/rpc), so a "
              "model loaded again is sent as hashes" },
};
static const struct cli_group rpc_group =
    CLI_GROUP("RPC server (ggml-rpc-server's names)", CLI_TARGET_COMMAND, rpc_rows);
static const struct cli_group *const rpc_groups[] = { &rpc_group, &cli_group_log, NULL };

static int rpc_server(int argc, char **argv);

const struct cli_command cli_cmd_rpc_server = {
    .name = "rpc-server",
    .summary = "serve this machine's devices to --rpc clients (ggml RPC)",
    .synopsis = "[-H ADDR] [-p PORT] [-d DEVICES] [-t N] [-c]",
    .about = "Serves this machine's devices (its GPUs, else its CPU) over ggml's RPC protocol until stopped, so that "
             "a model larger than one machine can be split across several: `llamac run --rpc HOST:PORT,HOST:PORT "
             "-m MODEL ...` on the machine holding the model file. Clients and servers must come from the same "
             "llama.cpp version. The protocol has no authentication or encryption: keep it on loopback and reach "
             "other machines through an SSH tunnel or a VPN such as WireGuard.",
    .groups = rpc_groups,
    .run = rpc_server,
};

/* Whether every address `host` resolves to is a loopback one (127.0.0.0/8, ::1). */
static bool is_loopback(const char *host) {
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
        return false;
    }
    bool all = true;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)a->ai_addr;
            all &= (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)a->ai_addr;
            all &= memcmp(&v6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0;
        } else {
            all = false;
        }
    }
    freeaddrinfo(ai);
    return all;
}

/* mkdir -p. */
static bool make_dirs(char *path) {
    for (char *s = path + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            bool ok = mkdir(path, 0755) == 0 || errno == EEXIST;
            *s = saved;
            if (!ok) {
                return false;
            }
            if (saved == '\0') {
                return true;
            }
        }
    }
}

/* ~/.cache/llama.cpp/rpc (or $LLAMA_CACHE/rpc, $XDG_CACHE_HOME/llama.cpp/rpc), as ggml-rpc-server's --cache. */
static bool cache_dir(const struct cli_common *c, char *out, size_t cap) {
    const char *base = getenv("LLAMA_CACHE");
    int n;
    if (base && *base) {
        n = snprintf(out, cap, "%s/rpc", base);
    } else if ((base = getenv("XDG_CACHE_HOME")) && *base) {
        n = snprintf(out, cap, "%s/llama.cpp/rpc", base);
    } else if ((base = getenv("HOME")) && *base) {
        n = snprintf(out, cap, "%s/.cache/llama.cpp/rpc", base);
    } else {
        cli_error(c, "-c: no cache directory (set LLAMA_CACHE)");
        return false;
    }
    if (n < 0 || (size_t)n >= cap || !make_dirs(out)) {
        cli_error(c, "-c: cannot create the cache directory %s", out);
        return false;
    }
    return true;
}

static int rpc_server(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "rpc-server");
    struct rpc_opts o = { .p = llamac_rpc_server_params_default(), .port = 50052 };
    struct cli_targets t = { .common = &c, .command = &o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_rpc_server, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac rpc-server --help)", p.pos[0]);
        return EXIT_USAGE;
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_FAILURE_RUN;
    }
    o.p.port = (uint16_t)o.port;
    char dir[4096];
    if (o.cache) {
        if (!cache_dir(&c, dir, sizeof dir)) {
            return EXIT_FAILURE_RUN;
        }
        o.p.cache_dir = dir;
    }
    if (!is_loopback(o.p.host)) {
        fprintf(stderr,
                "llamac rpc-server: WARNING: listening on %s, not loopback: anyone who can reach this address can "
                "use this machine's devices and memory (the RPC protocol has no authentication or encryption). "
                "Prefer 127.0.0.1 with an SSH tunnel or a VPN.\n",
                o.p.host);
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* ggml's banner reaches a log file or pipe at once */
    llamac_rpc_serve(&o.p);
    cli_lib_error(&c, NULL);
    return EXIT_FAILURE_RUN;
}
