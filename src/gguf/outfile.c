/*
 * outfile.c - writing an output so that it appears complete or not at all.
 *
 * Every file the GGUF tools write goes to "PATH.tmp.XXXXXX" beside its final path (same directory, so the rename
 * is atomic on one filesystem), is flushed to disk, and only then renamed over PATH. A failure at any point removes
 * the temporary file; an existing PATH is untouched until the rename. The temporary file is created with mode 0666
 * less the umask (not mkstemp's 0600), so the result has the permissions any new file would have.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The directory part of `path` ("." when there is none). Caller frees. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return llamac__strndup(".", 1);
    }
    if (slash == path) {
        return llamac__strndup("/", 1);
    }
    return llamac__strndup(path, (size_t)(slash - path));
}

llamac_status llamac__output_check(const char *path, const char *const *inputs, size_t n_inputs) {
    if (!path[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the output path is empty");
    }
    char *dir = dir_of(path);
    if (!dir) {
        return LLAMAC_E_NO_MEMORY;
    }
    struct stat st;
    llamac_status status = LLAMAC_OK;
    if (stat(dir, &st) != 0) {
        status = llamac__fail(LLAMAC_E_IO, "cannot write '%s': directory '%s': %s", path, dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        status = llamac__fail(LLAMAC_E_IO, "cannot write '%s': '%s' is not a directory", path, dir);
    } else if (access(dir, W_OK) != 0) {
        status = llamac__fail(LLAMAC_E_IO, "cannot write '%s': directory '%s': %s", path, dir, strerror(errno));
    }
    free(dir);
    if (status != LLAMAC_OK) {
        return status;
    }
    struct stat out_st;
    if (stat(path, &out_st) != 0) {
        return LLAMAC_OK; /* a new file */
    }
    if (S_ISDIR(out_st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "cannot write '%s': it is a directory", path);
    }
    for (size_t i = 0; i < n_inputs; i++) {
        struct stat in_st;
        if (inputs[i] && stat(inputs[i], &in_st) == 0 && in_st.st_dev == out_st.st_dev &&
            in_st.st_ino == out_st.st_ino) {
            return llamac__fail(LLAMAC_E_IO, "refusing to overwrite the input: '%s' is the same file as '%s'", path,
                                inputs[i]);
        }
    }
    return LLAMAC_OK;
}

/* Creates a new temporary file beside o->path with O_EXCL, trying fresh random suffixes. */
static llamac_status create_tmp(struct llamac__outfile *o, const char *path) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    size_t len = strlen(path);
    o->path = llamac__strndup(path, len);
    o->tmp = llamac__malloc(len + 16);
    if (!o->path || !o->tmp) {
        llamac__out_discard(o);
        return LLAMAC_E_NO_MEMORY;
    }
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^ (uintptr_t)o;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            x ^= x << 13; /* xorshift64 */
            x ^= x >> 7;
            x ^= x << 17;
            suffix[i] = digits[x % (sizeof digits - 1)];
        }
        suffix[6] = '\0';
        snprintf(o->tmp, len + 16, "%s.tmp.%s", path, suffix);
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd >= 0) {
            return LLAMAC_OK;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    llamac_status st = llamac__fail(LLAMAC_E_IO, "cannot create '%s': %s", o->tmp, strerror(errno));
    free(o->tmp);
    o->tmp = NULL; /* nothing to remove */
    llamac__out_discard(o);
    return st;
}

llamac_status llamac__out_open(struct llamac__outfile *o, const char *path) {
    return create_tmp(o, path);
}

llamac_status llamac__out_reserve(struct llamac__outfile *o, const char *path) {
    llamac_status st = create_tmp(o, path);
    if (st == LLAMAC_OK) {
        close(o->fd);
        o->fd = -1;
    }
    return st;
}

static llamac_status write_failed(const struct llamac__outfile *o, int err) {
    return llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", o->path, strerror(err ? err : EIO));
}

llamac_status llamac__out_write(struct llamac__outfile *o, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return write_failed(o, w < 0 ? errno : ENOSPC);
        }
        p += w;
        n -= (size_t)w;
    }
    return LLAMAC_OK;
}

llamac_status llamac__out_zeros(struct llamac__outfile *o, size_t n) {
    static const unsigned char zeros[256];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        llamac_status st = llamac__out_write(o, zeros, k);
        if (st != LLAMAC_OK) {
            return st;
        }
        n -= k;
    }
    return LLAMAC_OK;
}

llamac_status llamac__out_finish(struct llamac__outfile *o) {
    int fd = o->fd;
    if (fd < 0) {
        fd = open(o->tmp, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return write_failed(o, errno);
        }
    }
    o->fd = -1;
    int err = 0;
    if (fsync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && !err) {
        err = errno;
    }
    return err ? write_failed(o, err) : LLAMAC_OK;
}

llamac_status llamac__out_commit(struct llamac__outfile *o) {
    if (rename(o->tmp, o->path) != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot move the finished file into '%s': %s", o->path, strerror(errno));
    }
    free(o->tmp);
    o->tmp = NULL;
    return LLAMAC_OK;
}

void llamac__out_discard(struct llamac__outfile *o) {
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
    }
    if (o->tmp) {
        unlink(o->tmp);
    }
    free(o->tmp);
    free(o->path);
    o->tmp = NULL;
    o->path = NULL;
}
