/*
 * rpc.c - ggml RPC servers (llamac rpc-server, ggml-rpc-server) as devices of this process, and serving this
 * machine's devices to others.
 *
 * ggml's RPC client aborts the process when a peer cannot be reached or speaks another protocol version, so each
 * endpoint is checked here first: the address parsed, a TCP connection made within a deadline, and the protocol's
 * hello exchanged (its wire format and version come from ggml-rpc.h and ggml's RPC server); only then is it handed to
 * ggml, which keeps its devices for the life of the process. An endpoint is registered once per process.
 */
#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef LLAMAC_HAVE_RPC
#    include <ggml-rpc.h>
#endif

enum { RPC_PROBE_MS = 5000, RPC_MAX_ENDPOINTS = 16, RPC_ENDPOINT_MAX = 256 };

/* Splits "host:port" (the last colon; "[v6]:port" too) into host and port; false on any other shape. */
static bool split_endpoint(const char *ep, char *host, size_t host_cap, char *port, size_t port_cap) {
    const char *colon = strrchr(ep, ':');
    if (!colon || colon == ep || colon[1] == '\0') {
        return false;
    }
    const char *h = ep;
    size_t hn = (size_t)(colon - ep);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    char *end = NULL;
    errno = 0;
    long pn = strtol(colon + 1, &end, 10);
    if (hn == 0 || hn >= host_cap || errno || *end || pn < 1 || pn > 65535 || strlen(colon + 1) >= port_cap) {
        return false;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    snprintf(port, port_cap, "%ld", pn);
    return true;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static bool wait_fd(int fd, short events, double deadline) {
    for (;;) {
        double left = deadline - llamac__now_ms();
        if (left <= 0) {
            return false;
        }
        struct pollfd p = { fd, events, 0 };
        int r = poll(&p, 1, (int)left + 1);
        if (r > 0) {
            return true;
        }
        if (r == 0 || errno != EINTR) {
            return false;
        }
    }
}

static bool send_all(int fd, const void *buf, size_t n, double deadline) {
    const unsigned char *p = buf;
    while (n > 0) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
            return false;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool recv_all(int fd, void *buf, size_t n, double deadline) {
    unsigned char *p = buf;
    while (n > 0) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            return false;
        }
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0) {
            if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

#ifdef LLAMAC_HAVE_RPC
/* The hello of the RPC protocol this build speaks: command 14, a request of the client's 24 capability bytes (zero:
 * plain TCP), a reply of major, minor, patch, padding and the server's 24 capability bytes. */
enum { RPC_CMD_HELLO_ID = 14, RPC_CAPS = 24 };

/* Connects to `ep` and exchanges the hello; on failure sets the error naming the endpoint. */
static llamac_status probe(const char *ep) {
    char host[RPC_ENDPOINT_MAX], port[8];
    if (!split_endpoint(ep, host, sizeof host, port, sizeof port)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "RPC server '%s' is not HOST:PORT (e.g. 127.0.0.1:50052)", ep);
    }
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        return llamac__fail(LLAMAC_E_NETWORK, "RPC server %s: cannot resolve '%s': %s", ep, host, gai_strerror(gai));
    }
    double deadline = llamac__now_ms() + RPC_PROBE_MS;
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
        } else if (!wait_fd(fd, POLLOUT, deadline)) {
            err = ETIMEDOUT;
        } else {
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
        if (err != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        return llamac__fail(LLAMAC_E_NETWORK,
                            "RPC server %s: cannot connect: %s (is `llamac rpc-server` running there?)", ep,
                            strerror(err ? err : ECONNREFUSED));
    }
    unsigned char req[1 + 8 + RPC_CAPS] = { RPC_CMD_HELLO_ID };
    uint64_t req_size = RPC_CAPS;
    memcpy(req + 1, &req_size, sizeof req_size); /* the protocol is little-endian, as the hosts it runs on */
    unsigned char rsp[4 + RPC_CAPS];
    uint64_t rsp_size = 0;
    bool ok = send_all(fd, req, sizeof req, deadline) && recv_all(fd, &rsp_size, sizeof rsp_size, deadline) &&
              rsp_size == sizeof rsp && recv_all(fd, rsp, sizeof rsp, deadline);
    close(fd);
    if (!ok) {
        return llamac__fail(LLAMAC_E_NETWORK,
                            "RPC server %s: no valid reply to the RPC hello within %d s (not a ggml RPC server, or "
                            "one of another protocol version; this build speaks %d.%d)",
                            ep, RPC_PROBE_MS / 1000, RPC_PROTO_MAJOR_VERSION, RPC_PROTO_MINOR_VERSION);
    }
    if (rsp[0] != RPC_PROTO_MAJOR_VERSION || rsp[1] > RPC_PROTO_MINOR_VERSION) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "RPC server %s speaks protocol %u.%u.%u; this build speaks %d.%d.%d (use the same "
                            "llama.cpp version on both sides)",
                            ep, rsp[0], rsp[1], rsp[2], RPC_PROTO_MAJOR_VERSION, RPC_PROTO_MINOR_VERSION,
                            RPC_PROTO_PATCH_VERSION);
    }
    return LLAMAC_OK;
}

static pthread_mutex_t rpc_lock = PTHREAD_MUTEX_INITIALIZER;
static char rpc_registered[RPC_MAX_ENDPOINTS][RPC_ENDPOINT_MAX];
static size_t n_rpc_registered;

static bool registered(const char *ep) {
    for (size_t i = 0; i < n_rpc_registered; i++) {
        if (strcmp(rpc_registered[i], ep) == 0) {
            return true;
        }
    }
    return false;
}

llamac_status llamac__rpc_add_servers(const char *list) {
    llamac__backend_ensure();
    llamac_status st = LLAMAC_OK;
    pthread_mutex_lock(&rpc_lock);
    const char *p = list;
    while (st == LLAMAC_OK) {
        size_t n = strcspn(p, ",");
        char ep[RPC_ENDPOINT_MAX];
        if (n == 0 || n >= sizeof ep) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "RPC server list '%s' has an %s entry", list,
                              n == 0 ? "empty" : "overlong");
            break;
        }
        memcpy(ep, p, n);
        ep[n] = '\0';
        if (!registered(ep)) {
            if (n_rpc_registered == RPC_MAX_ENDPOINTS) {
                st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "at most %d RPC servers per process", RPC_MAX_ENDPOINTS);
                break;
            }
            st = probe(ep);
            if (st != LLAMAC_OK) {
                break;
            }
            ggml_backend_reg_t r = ggml_backend_rpc_add_server(ep);
            if (!r) {
                st = llamac__fail(LLAMAC_E_NETWORK, "RPC server %s offers no device", ep);
                break;
            }
            ggml_backend_register(r);
            snprintf(rpc_registered[n_rpc_registered++], RPC_ENDPOINT_MAX, "%s", ep);
        }
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    pthread_mutex_unlock(&rpc_lock);
    return st;
}
#else
llamac_status llamac__rpc_add_servers(const char *list) {
    (void)list;
    (void)split_endpoint;
    (void)send_all;
    (void)recv_all;
    return llamac__fail(LLAMAC_E_UNSUPPORTED, "this build has no RPC backend (configure with -DLLAMAC_RPC=ON)");
}
#endif

llamac_rpc_server_params llamac_rpc_server_params_default(void) {
    llamac_rpc_server_params p;
    memset(&p, 0, sizeof p);
    p.host = "127.0.0.1";
    p.port = 50052;
    return p;
}

#ifdef LLAMAC_HAVE_RPC
/* The devices to serve: those named (comma-separated), else every accelerator, else the CPU. */
static llamac_status pick_devices(const char *names, ggml_backend_dev_t *out, size_t cap, size_t *n_out) {
    size_t n = 0;
    if (names && *names) {
        llamac_status st = llamac__parse_devices(names, out, cap, &n);
        if (st != LLAMAC_OK) {
            return st;
        }
    } else {
        ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
        for (size_t i = 0; i < ggml_backend_dev_count() && n < cap; i++) {
            ggml_backend_dev_t d = ggml_backend_dev_get(i);
            enum ggml_backend_dev_type t = ggml_backend_dev_type(d);
            /* an accelerator of this machine, not a device of a peer this process uses itself */
            if ((t == GGML_BACKEND_DEVICE_TYPE_GPU || t == GGML_BACKEND_DEVICE_TYPE_IGPU) &&
                ggml_backend_dev_backend_reg(d) != rpc) {
                out[n++] = d;
            }
        }
        if (n == 0) {
            ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
            if (cpu) {
                out[n++] = cpu;
            }
        }
    }
    *n_out = n;
    return n > 0 ? LLAMAC_OK : llamac__fail(LLAMAC_E_UNSUPPORTED, "no device to serve");
}

/* Binds host:port once ourselves, so an address in use or not of this machine gets a precise error (ggml's server
 * only says that it failed). */
static llamac_status check_bind(const char *host, uint16_t port) {
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "cannot resolve host '%s': %s", host, gai_strerror(gai));
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    int err = 0;
    if (fd < 0) {
        err = errno;
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
               bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(ai);
    if (err == EADDRINUSE) {
        return llamac__fail(LLAMAC_E_IO, "port %u on %s is in use (choose another with --port)", port, host);
    }
    if (err != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot listen on %s:%u: %s", host, port, strerror(err));
    }
    return LLAMAC_OK;
}
#endif

llamac_status llamac_rpc_serve(const llamac_rpc_server_params *params) {
    llamac_rpc_server_params defaults = llamac_rpc_server_params_default();
    const llamac_rpc_server_params *p = params ? params : &defaults;
    if (!p->host || !*p->host || p->port == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_rpc_serve: %s", p->port ? "host is empty" : "port is 0");
    }
    if (p->n_threads < 0 || p->n_threads > 1024) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_threads %d is out of range (0: default, 1..1024)",
                            p->n_threads);
    }
#ifdef LLAMAC_HAVE_RPC
    llamac__backend_ensure();
    ggml_backend_dev_t devs[16];
    size_t n_devs = 0;
    llamac_status st = pick_devices(p->devices, devs, sizeof devs / sizeof devs[0], &n_devs);
    if (st == LLAMAC_OK) {
        st = check_bind(p->host, p->port);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    char ep[RPC_ENDPOINT_MAX + 8];
    snprintf(ep, sizeof ep, strchr(p->host, ':') ? "[%s]:%u" : "%s:%u", p->host, p->port);
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n_threads = p->n_threads > 0 ? (size_t)p->n_threads : (size_t)(n_cpu > 1 ? n_cpu / 2 : 1);
    ggml_backend_rpc_start_server(ep, p->cache_dir, n_threads, n_devs, devs);
    return llamac__fail(LLAMAC_E_IO, "the RPC server on %s stopped (see the messages above)", ep);
#else
    return llamac__fail(LLAMAC_E_UNSUPPORTED, "this build has no RPC backend (configure with -DLLAMAC_RPC=ON)");
#endif
}
