/*
 * outfile.c - writing an output so that it appears complete or not at all, and only over a regular file.
 *
 * Every file libllamac writes goes to "PATH.tmp.XXXXXX" beside its final path (same directory, so the rename
 * is atomic on one filesystem), is flushed to disk, and only then renamed over PATH. A failure at any point removes
 * the temporary file; an existing PATH is untouched until the rename. The temporary file is created with mode 0666
 * less the umask (not mkstemp's 0600), so the result has the permissions any new file would have.
 *
 * A rename replaces whatever the path names, so what it names is checked first (resolve): a device, FIFO, socket or
 * directory is refused, and a symbolic link is followed to its target, which is what gets replaced.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "core/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* What a non-regular file is, for the refusal. */
static const char *kind_of(mode_t mode) {
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISCHR(mode)) {
        return "a character device";
    }
    if (S_ISBLK(mode)) {
        return "a block device";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO (named pipe)";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    return "not a regular file";
}

/* The path an output of `path` replaces: `path` itself when it is new or a regular file, the target of a symbolic
 * link to a regular file; anything else is refused. Caller frees *out. */
static llamac_status resolve(const char *path, char **out) {
    *out = NULL;
    if (!path[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the output path is empty");
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            return llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", path, strerror(errno));
        }
        *out = llamac__strndup(path, strlen(path)); /* a new file (its directory is checked next) */
        return *out ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
    }
    if (S_ISLNK(st.st_mode)) {
        char *target = realpath(path, NULL);
        if (!target) {
            return llamac__fail(LLAMAC_E_IO,
                                "cannot write '%s': it is a symbolic link whose target cannot be reached (%s); "
                                "outputs are written through a link to an existing file only",
                                path, strerror(errno));
        }
        if (stat(target, &st) != 0) {
            llamac_status f =
                llamac__fail(LLAMAC_E_IO, "cannot write '%s' (a link to '%s'): %s", path, target, strerror(errno));
            free(target);
            return f;
        }
        if (!S_ISREG(st.st_mode)) {
            llamac_status f = llamac__fail(LLAMAC_E_IO,
                                           "refusing to write '%s': it is a symbolic link to '%s', which is %s; only a "
                                           "regular file or a new path is replaced",
                                           path, target, kind_of(st.st_mode));
            free(target);
            return f;
        }
        *out = llamac__strndup(target, strlen(target)); /* llamac's allocator, freed like the others */
        free(target);
        return *out ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
    }
    if (!S_ISREG(st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO,
                            "refusing to write '%s': it is %s; only a regular file or a new path is replaced", path,
                            kind_of(st.st_mode));
    }
    *out = llamac__strndup(path, strlen(path));
    return *out ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
}

/* Checks that the directory of `final` (a resolved path) exists and can be written; `path` is the caller's. */
static llamac_status check_dir(const char *path, const char *final) {
    char *dir = dir_of(final);
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
    return status;
}

llamac_status llamac__output_check(const char *path, const char *const *inputs, size_t n_inputs) {
    char *final = NULL;
    llamac_status status = resolve(path, &final);
    if (status == LLAMAC_OK) {
        status = check_dir(path, final);
    }
    struct stat out_st;
    if (status != LLAMAC_OK || stat(final, &out_st) != 0) {
        free(final);
        return status; /* refused, or a new file */
    }
    free(final);
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
    llamac_status rst = resolve(path, &o->path);
    if (rst != LLAMAC_OK) {
        return rst;
    }
    path = o->path; /* the temporary file goes beside what is replaced: a link's target */
    size_t len = strlen(path);
    o->tmp = llamac__malloc(len + 16);
    if (!o->tmp) {
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
    /* the temporary file is ours: the message names the file the caller asked for */
    llamac_status st =
        llamac__fail(LLAMAC_E_IO, "cannot create a temporary file beside '%s': %s", path, strerror(errno));
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

llamac_status llamac__out_save(const char *path, const void *data, size_t n) {
    struct llamac__outfile o = LLAMAC__OUTFILE_INIT;
    llamac_status st = llamac__out_open(&o, path);
    if (st == LLAMAC_OK) {
        st = llamac__out_write(&o, data, n);
    }
    if (st == LLAMAC_OK) {
        st = llamac__out_finish(&o);
    }
    if (st == LLAMAC_OK) {
        st = llamac__out_commit(&o);
    }
    llamac__out_discard(&o);
    return st;
}
