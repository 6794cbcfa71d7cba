/*
 * llamac/base.h - the foundation every other part uses: versions, status codes and the error message, logging,
 * backends and devices.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_BASE_H
#define LLAMAC_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what libllamac exports; everything else in the library is hidden. */
#if defined(_WIN32) && defined(LLAMAC_SHARED)
#    ifdef LLAMAC_BUILD
#        define LLAMAC_API __declspec(dllexport)
#    else
#        define LLAMAC_API __declspec(dllimport)
#    endif
#elif defined(__GNUC__)
#    define LLAMAC_API __attribute__((visibility("default")))
#else
#    define LLAMAC_API
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------------------------- */

#define LLAMAC_VERSION_MAJOR 0
#define LLAMAC_VERSION_MINOR 1
#define LLAMAC_VERSION_PATCH 0
#define LLAMAC_VERSION_STRING "0.1.0"

/* The llamac version as "MAJOR.MINOR.PATCH". Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_version(void);

/* The llama.cpp commit (40 hex digits) this library was built against. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_llama_commit(void);

/* Number of ggml backends compiled in or loaded (CPU always; CUDA, Vulkan, BLAS, RPC when built with them).
 * Initialises the backends if needed. Thread-safe. */
LLAMAC_API size_t llamac_backend_count(void);

/* Name of backend `i` ("CPU", "CUDA", ...), or NULL when `i` is out of range. Owned by the library, valid until
 * the process ends. Thread-safe. */
LLAMAC_API const char *llamac_backend_name(size_t i);

/* ---------------------------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------------------------- */

/* Status codes. Explicit numbers; append-only across versions. */
typedef enum llamac_status {
    LLAMAC_OK = 0,
    LLAMAC_E_INVALID_ARGUMENT = 1,  /* a NULL, a bad length, a value out of its documented range */
    LLAMAC_E_NO_MEMORY = 2,         /* an allocation failed, or a request exceeds the memory available */
    LLAMAC_E_IO = 3,                /* a file could not be opened, read or written */
    LLAMAC_E_MODEL_LOAD = 4,        /* the file is not a model llama.cpp can load */
    LLAMAC_E_CONTEXT_CREATE = 5,    /* llama.cpp refused to create a context with these parameters */
    LLAMAC_E_TOKEN_RANGE = 6,       /* a token id outside the vocabulary */
    LLAMAC_E_CONTEXT_FULL = 7,      /* input does not fit in the context / positions past n_ctx */
    LLAMAC_E_DECODE = 8,            /* llama.cpp failed to evaluate a batch */
    LLAMAC_E_CANCELLED = 9,         /* a callback or llamac_ctx_cancel() stopped the work */
    LLAMAC_E_GRAMMAR = 10,          /* a GBNF grammar or trigger pattern is invalid */
    LLAMAC_E_STATE = 11,            /* a saved state is corrupt or belongs to another model */
    LLAMAC_E_UNSUPPORTED = 12,      /* the model or build cannot do this (e.g. embeddings on a vocab-only model) */
    LLAMAC_E_UTF8 = 13,             /* text is not valid UTF-8 */
    LLAMAC_E_NOT_FOUND = 14,        /* a metadata key, template or item does not exist */
    LLAMAC_E_BUFFER_TOO_SMALL = 15, /* the caller's buffer cannot hold the result; the needed size is returned */
    LLAMAC_E_INTERNAL = 16,         /* llama.cpp reported an error we could not classify */
    LLAMAC_E_TEMPLATE = 17,         /* a chat template has a syntax error, raised an exception, used something
                                       unsupported or exceeded a limit; the message names the template line */
    LLAMAC_E_SCHEMA = 18,           /* a JSON Schema is invalid or uses a keyword that cannot be enforced */
    LLAMAC_E_NETWORK = 19,          /* a download failed: host unreachable, connection dropped, HTTP error */
    LLAMAC_E_AUTH = 20,             /* a server refused access: gated or private repository, bad token */
    LLAMAC_E_BUSY = 21,             /* a queue or every slot is full; try again later */
    LLAMAC_E_ADAPTER = 22,          /* a LoRA adapter or control vector does not fit the model (made for another
                                       architecture or shape, a weight the model lacks) or is not that kind of file */
    LLAMAC_E_MEDIA = 23,            /* an image or audio input cannot be decoded, is in a format that is not accepted,
                                       or is outside a limit (dimensions, size, duration); the message says which */
    LLAMAC_E_TIMEOUT = 24           /* a time limit ran out: another server did not answer (or send more) in time */
} llamac_status;

/* A short constant description of a status ("invalid argument"). Unknown values give "unknown status".
 * Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_status_str(llamac_status status);

/* The message of the last failed call on this thread: what failed and the value that caused it. Empty string
 * when the last call succeeded or nothing has failed yet. Owned by the library, valid until the next llamac call
 * on this thread. Thread-safe (the message is thread-local). */
LLAMAC_API const char *llamac_last_error(void);

/* Releases memory that the library handed to the caller ("caller frees with llamac_free"). NULL is a no-op.
 * Thread-safe. */
LLAMAC_API void llamac_free(void *ptr);

/* ---------------------------------------------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------------------------------------------- */

typedef enum llamac_log_level {
    LLAMAC_LOG_DEBUG = 1,
    LLAMAC_LOG_INFO = 2,
    LLAMAC_LOG_WARN = 3,
    LLAMAC_LOG_ERROR = 4,
    LLAMAC_LOG_NONE = 5 /* as a minimum level: nothing is delivered */
} llamac_log_level;

/* Receives one complete log line (no trailing newline), from llamac, llama.cpp or ggml. Runs on whichever thread
 * logged, possibly several at once; it must not call back into llamac. `line` is borrowed for the call. */
typedef void (*llamac_log_fn)(llamac_log_level level, const char *line, void *user_data);

/* Installs the log hook. The library is silent by default (no hook). Lines below `min_level` are dropped.
 * Pass fn = NULL to go silent again. llama.cpp's reasons for a failed load are captured into llamac_last_error()
 * whatever the hook. Thread-safe. */
LLAMAC_API void llamac_log_set(llamac_log_fn fn, llamac_log_level min_level, void *user_data);

/* ---------------------------------------------------------------------------------------------------------------
 * Backend and devices
 * ------------------------------------------------------------------------------------------------------------- */

/* Initialises llama.cpp's backends. Reference-counted and idempotent: every successful call is paired with one
 * llamac_backend_free(). Loading a model initialises the backends by itself, so calling this is optional.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_backend_init(void);

/* Drops one reference taken by llamac_backend_init(). Extra calls are no-ops. Thread-safe. */
LLAMAC_API void llamac_backend_free(void);

/* Where llama.cpp's CPU threads run on a machine with several NUMA nodes (llama.cpp's --numa). */
typedef enum llamac_numa {
    LLAMAC_NUMA_DISABLED = 0,   /* no NUMA handling (the default) */
    LLAMAC_NUMA_DISTRIBUTE = 1, /* spread the threads evenly over the nodes */
    LLAMAC_NUMA_ISOLATE = 2,    /* only the CPUs of the node the process started on */
    LLAMAC_NUMA_NUMACTL = 3     /* the CPUs numactl (the process's CPU affinity) allows */
} llamac_numa;

/* Sets the NUMA strategy for the whole process, as llama.cpp's llama_numa_init: call it before the first model is
 * loaded (a model mapped before does not get NUMA-aware page placement). The first strategy other than
 * LLAMAC_NUMA_DISABLED holds for the process (llama.cpp cannot change it); on a machine with one node it changes
 * nothing. Errors: LLAMAC_E_INVALID_ARGUMENT (not a llamac_numa), LLAMAC_E_UNSUPPORTED (another strategy was set
 * before; the message names it). Thread-safe. */
LLAMAC_API llamac_status llamac_numa_init(llamac_numa strategy);

typedef enum llamac_device_type {
    LLAMAC_DEVICE_CPU = 0,
    LLAMAC_DEVICE_GPU = 1,
    LLAMAC_DEVICE_IGPU = 2,
    LLAMAC_DEVICE_ACCEL = 3,
    LLAMAC_DEVICE_OTHER = 4
} llamac_device_type;

typedef struct llamac_device_info {
    const char *name;        /* e.g. "CPU", "CUDA0"; owned by the library, valid until the process ends */
    const char *description; /* e.g. the processor or GPU model; owned as `name` */
    llamac_device_type type;
    size_t memory_free;  /* bytes; 0 when unknown */
    size_t memory_total; /* bytes; 0 when unknown */
} llamac_device_info;

/* Number of devices (CPU included). Thread-safe. */
LLAMAC_API size_t llamac_device_count(void);

/* Describes device `i` into *out. Errors: LLAMAC_E_INVALID_ARGUMENT (out NULL, i out of range). Thread-safe. */
LLAMAC_API llamac_status llamac_device_get(size_t i, llamac_device_info *out);

/* ---- ggml RPC: devices of other machines ----
 * A model larger than one machine is split across ggml RPC servers (`llamac rpc-server`, or llama.cpp's
 * ggml-rpc-server of the same version) with llamac_model_params.rpc_servers: their devices then take layers as GPUs
 * do. The protocol has no authentication or encryption: serve on loopback, or reach other machines through an SSH
 * tunnel or a VPN (WireGuard), never on an open network. */

typedef struct llamac_rpc_server_params {
    const char *host;      /* address to listen on; borrowed; default "127.0.0.1" */
    uint16_t port;         /* default 50052 */
    const char *devices;   /* borrowed; comma-separated device names (llamac_device_get); NULL: every accelerator
                              of this machine, else the CPU */
    const char *cache_dir; /* borrowed; a directory where tensors sent by clients are kept, so a client loading the
                              same model again sends only their hashes; NULL: no cache */
    int32_t n_threads;     /* threads of the CPU device; 0: half the online CPUs */
} llamac_rpc_server_params;

/* The defaults: 127.0.0.1:50052, the accelerators (else the CPU), no cache. Thread-safe. */
LLAMAC_API llamac_rpc_server_params llamac_rpc_server_params_default(void);

/* Serves this machine's devices to RPC clients, one client at a time, until the process ends: it returns only when
 * it cannot serve. params NULL means defaults; borrowed for the call. Errors: LLAMAC_E_INVALID_ARGUMENT (empty host,
 * port 0, n_threads out of 0..1024, a host that does not resolve), LLAMAC_E_NOT_FOUND (no device of that name),
 * LLAMAC_E_IO (the address is in use or not of this machine; the server stopped), LLAMAC_E_UNSUPPORTED (a build
 * without RPC). ggml's server prints its banner on stdout. One call per process. */
LLAMAC_API llamac_status llamac_rpc_serve(const llamac_rpc_server_params *params);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_BASE_H */
