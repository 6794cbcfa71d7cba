/*
 * outfile.h - the one way libllamac writes a file: complete or not at all, and never over anything but a file.
 *
 * Every output (quantize, split and merge shards, synthetic models, context state, chat sessions) is written to a
 * temporary file beside its final path and renamed into place when complete (outfile.c). Only a regular file or a
 * new path is replaced: a device (/dev/null), a FIFO, a socket or a directory is refused with a message naming what
 * it is. A symbolic link is written through: its target is replaced (the link stays), as a shell's `>` would write
 * into it; a link whose target does not exist is refused.
 */
#ifndef LLAMAC_OUTFILE_H
#define LLAMAC_OUTFILE_H

#include "core/internal.h"

/* An output written to a temporary file beside its final path and renamed into place when complete. */
struct llamac__outfile {
    char *path; /* final path: the caller's, or the target of the symbolic link it names */
    char *tmp;  /* temporary path, created (empty) by _reserve or _open */
    int fd;     /* -1 when not open */
};

#define LLAMAC__OUTFILE_INIT                                                                                           \
    { NULL, NULL, -1 }

/* Checks that `path` can be written: it is a regular file, a symbolic link to one, or a new path in an existing,
 * writable directory, and it is none of the `n_inputs` input files (compared by device and inode). */
llamac_status llamac__output_check(const char *path, const char *const *inputs, size_t n_inputs);

/* Checks `path` as llamac__output_check does (without inputs) and creates the temporary file "PATH.tmp.XXXXXX"
 * beside the final path (mode 0666 less the umask, like any new file), kept open. */
llamac_status llamac__out_open(struct llamac__outfile *o, const char *path);

/* As _open, but closes the temporary file again: for writers that open the path themselves (llama.cpp). */
llamac_status llamac__out_reserve(struct llamac__outfile *o, const char *path);

/* Writes n bytes; on failure sets LLAMAC_E_IO naming the final path and the system's reason. */
llamac_status llamac__out_write(struct llamac__outfile *o, const void *data, size_t n);

/* Writes n zero bytes. */
llamac_status llamac__out_zeros(struct llamac__outfile *o, size_t n);

/* Flushes the temporary file to disk and closes it (a full disk can first show here). */
llamac_status llamac__out_finish(struct llamac__outfile *o);

/* Renames the finished temporary file to the final path. */
llamac_status llamac__out_commit(struct llamac__outfile *o);

/* Closes and removes the temporary file, if any, and frees the paths. Safe on an outfile set to
 * LLAMAC__OUTFILE_INIT, a failed one, or a committed one. */
void llamac__out_discard(struct llamac__outfile *o);

/* The whole course for an output that is one buffer: open, write, finish, commit; on failure nothing is left. */
llamac_status llamac__out_save(const char *path, const void *data, size_t n);

#endif /* LLAMAC_OUTFILE_H */
