/*
 * backend.c - llama.cpp backend initialisation, versions, and the device list.
 *
 * llama_backend_init() is process-wide and cheap to keep; we run it exactly once (the first time any llamac call
 * needs it) and keep a public reference count only so that init/free pairs behave as documented. Devices and
 * backends come straight from ggml's registry.
 */
#include "internal.h"

#include <ggml-backend.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static atomic_int backend_refs;

static void backend_init_once(void) {
    llamac__log_install();
    llama_backend_init();
}

void llamac__backend_ensure(void) {
    pthread_once(&backend_once, backend_init_once);
}

llamac_status llamac_backend_init(void) {
    llamac__backend_ensure();
    atomic_fetch_add(&backend_refs, 1);
    return llamac__ok();
}

void llamac_backend_free(void) {
    int refs = atomic_load(&backend_refs);
    while (refs > 0 && !atomic_compare_exchange_weak(&backend_refs, &refs, refs - 1)) {
    }
    /* The backends stay initialised: llama.cpp cannot re-initialise them safely once freed, and they hold no
     * per-use resources. */
}

static const char *const numa_names[] = { "disabled", "distribute", "isolate", "numactl" };
static pthread_mutex_t numa_lock = PTHREAD_MUTEX_INITIALIZER;
static llamac_numa numa_set = LLAMAC_NUMA_DISABLED;

llamac_status llamac_numa_init(llamac_numa strategy) {
    if (strategy < LLAMAC_NUMA_DISABLED || strategy > LLAMAC_NUMA_NUMACTL) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "numa strategy %d is invalid", (int)strategy);
    }
    if (strategy == LLAMAC_NUMA_DISABLED) {
        return llamac__ok();
    }
    llamac__backend_ensure();
    llamac_status st = LLAMAC_OK;
    pthread_mutex_lock(&numa_lock);
    if (numa_set == LLAMAC_NUMA_DISABLED) {
        /* ggml's numbering is llamac's: GGML_NUMA_STRATEGY_DISTRIBUTE 1, ISOLATE 2, NUMACTL 3 */
        llama_numa_init((enum ggml_numa_strategy)strategy);
        numa_set = strategy;
    } else if (numa_set != strategy) {
        st = llamac__fail(LLAMAC_E_UNSUPPORTED, "the NUMA strategy is already %s for this process; it cannot become %s",
                          numa_names[numa_set], numa_names[strategy]);
    }
    pthread_mutex_unlock(&numa_lock);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

const char *llamac_version(void) {
    return LLAMAC_VERSION_STRING;
}

const char *llamac_llama_commit(void) {
    return LLAMAC_LLAMA_COMMIT_STR;
}

size_t llamac_backend_count(void) {
    llamac__backend_ensure();
    return ggml_backend_reg_count();
}

const char *llamac_backend_name(size_t i) {
    llamac__backend_ensure();
    if (i >= ggml_backend_reg_count()) {
        return NULL;
    }
    return ggml_backend_reg_name(ggml_backend_reg_get(i));
}

size_t llamac_device_count(void) {
    llamac__backend_ensure();
    return ggml_backend_dev_count();
}

llamac_status llamac_device_get(size_t i, llamac_device_info *out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_device_get: out is NULL");
    }
    llamac__backend_ensure();
    size_t n = ggml_backend_dev_count();
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "device index %zu out of range (%zu devices)", i, n);
    }
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    out->name = ggml_backend_dev_name(dev);
    out->description = ggml_backend_dev_description(dev);
    switch (ggml_backend_dev_type(dev)) {
    case GGML_BACKEND_DEVICE_TYPE_CPU: out->type = LLAMAC_DEVICE_CPU; break;
    case GGML_BACKEND_DEVICE_TYPE_GPU: out->type = LLAMAC_DEVICE_GPU; break;
    case GGML_BACKEND_DEVICE_TYPE_IGPU: out->type = LLAMAC_DEVICE_IGPU; break;
    case GGML_BACKEND_DEVICE_TYPE_ACCEL: out->type = LLAMAC_DEVICE_ACCEL; break;
    default: out->type = LLAMAC_DEVICE_OTHER; break;
    }
    size_t free_mem = 0, total_mem = 0;
    ggml_backend_dev_memory(dev, &free_mem, &total_mem);
    out->memory_free = free_mem;
    out->memory_total = total_mem;
    return llamac__ok();
}

void llamac__device_names(char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ggml_backend_dev_count() && used + 1 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", ggml_backend_dev_name(ggml_backend_dev_get(i)));
        used = w < 0 ? cap : used + (size_t)w;
    }
}

llamac_status llamac__buffer_type(const char *name, ggml_backend_buffer_type_t *out) {
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_buffer_type_t b = ggml_backend_dev_buffer_type(ggml_backend_dev_get(i));
        if (!b) {
            continue;
        }
        if (strcmp(ggml_backend_buft_name(b), name) == 0) {
            *out = b;
            return LLAMAC_OK;
        }
        if (used + 1 < sizeof known) {
            int w = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", ggml_backend_buft_name(b));
            used = w < 0 ? sizeof known : used + (size_t)w;
        }
    }
    return llamac__fail(LLAMAC_E_NOT_FOUND, "no buffer type named '%s' (available: %s)", name, known);
}

llamac_status llamac__parse_devices(const char *names, ggml_backend_dev_t *out, size_t cap, size_t *n_out) {
    size_t n = 0;
    for (const char *p = names;;) {
        size_t len = strcspn(p, ",");
        char name[128];
        if (len == 0 || len >= sizeof name || n == cap) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "device list '%s' has an empty, overlong or extra entry",
                                names);
        }
        memcpy(name, p, len);
        name[len] = '\0';
        ggml_backend_dev_t d = ggml_backend_dev_by_name(name);
        if (!d) {
            char known[512];
            llamac__device_names(known, sizeof known);
            return llamac__fail(LLAMAC_E_NOT_FOUND, "no device named '%s' (available: %s)", name, known);
        }
        out[n++] = d;
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    *n_out = n;
    return LLAMAC_OK;
}
