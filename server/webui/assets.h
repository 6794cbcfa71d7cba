/*
 * assets.h - the chat page's files as they are embedded in the binary (generated at build time by
 * cmake/EmbedAssets.cmake from the list in server/webui/CMakeLists.txt; served by server/static.c).
 */
#ifndef LLAMAC_WEBUI_ASSETS_H
#define LLAMAC_WEBUI_ASSETS_H

#include <stddef.h>

struct webui_asset {
    const char *path;         /* as requested: "/index.html", "/js/app.js", ... */
    const char *etag;         /* quoted strong ETag of the raw bytes */
    const char *etag_gz;      /* quoted strong ETag of the gzip bytes */
    const unsigned char *raw; /* the file */
    size_t raw_len;
    const unsigned char *gz; /* the file compressed with gzip -9 */
    size_t gz_len;
};

/* The files, webui_n_assets of them (none in a build with -DLLAMAC_WEBUI=OFF). */
extern const struct webui_asset webui_assets[];
extern const size_t webui_n_assets;

#endif /* LLAMAC_WEBUI_ASSETS_H */
