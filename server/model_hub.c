/*
 * model_hub.c - the Hugging Face cache as the server changes it (model_hub.h): the download and the removal that
 * Ollama's /api/pull and /api/delete and the router's POST and DELETE /models share, over llamac_hub_pull and
 * llamac_hub_remove, with the router's list read again afterwards.
 */
#include "model_hub.h"
#include "router.h"

#include <stdio.h>
#include <string.h>

llamac_hub_params model_hub_params(const struct server *s) {
    llamac_hub_params p = llamac_hub_params_default();
    p.token = s->opt.hub_token; /* not --offline: it is for -hf at start; a download asked for through the API is
                                   made (llama-server's router does; Ollama's /api/pull refuses itself offline) */
    return p;
}

unsigned model_hub_status(llamac_status st) {
    switch (st) {
    case LLAMAC_E_INVALID_ARGUMENT: return 400;
    case LLAMAC_E_NOT_FOUND: return 404;
    case LLAMAC_E_AUTH: return 403;
    case LLAMAC_E_NETWORK: return 502;
    default: return 500;
    }
}

llamac_status model_hub_check(const struct server *s, const char *spec, llamac_hub_list **files, char *err,
                              size_t cap) {
    char repo[512];
    snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
    llamac_hub_params hp = model_hub_params(s);
    llamac_hub_list *list = NULL;
    llamac_status st = llamac_hub_repo_files(repo, &hp, &list);
    if (st != LLAMAC_OK) {
        snprintf(err, cap, "%s", llamac_last_error());
    }
    if (files) {
        *files = list;
    } else {
        llamac_hub_list_free(list);
    }
    return st;
}

/* In router mode, the models read again; LLAMAC_E_IO with `what` and the reason in err when they cannot be. */
static llamac_status rescan(struct server *s, const char *what, const char *spec, char *err, size_t cap) {
    char why[512];
    if (s->router && !router_rescan(s, why, sizeof why)) {
        snprintf(err, cap, "'%s' was %s, but the models cannot be read again: %s", spec, what, why);
        return LLAMAC_E_IO;
    }
    return LLAMAC_OK;
}

llamac_status model_hub_pull(struct server *s, const char *spec, llamac_hub_progress_fn progress, void *user_data,
                             llamac_hub_list **files, char *err, size_t cap) {
    if (files) {
        *files = NULL;
    }
    llamac_hub_params hp = model_hub_params(s);
    hp.want_mmproj = true;
    hp.progress = progress;
    hp.progress_user_data = user_data;
    llamac_hub_list *list = NULL;
    llamac_status st = llamac_hub_pull(spec, NULL, &hp, &list);
    if (st != LLAMAC_OK) {
        snprintf(err, cap, "%s", llamac_last_error());
    } else {
        st = rescan(s, "pulled", spec, err, cap);
    }
    if (files && st == LLAMAC_OK) {
        *files = list;
    } else {
        llamac_hub_list_free(list);
    }
    return st;
}

llamac_status model_hub_remove(struct server *s, const char *spec, size_t *removed, char *err, size_t cap) {
    llamac_hub_params hp = model_hub_params(s);
    *removed = 0;
    llamac_status st = llamac_hub_remove(spec, &hp, removed);
    if (st != LLAMAC_OK) {
        snprintf(err, cap, "%s", llamac_last_error());
    }
    char why[1024] = "";
    llamac_status listed = rescan(s, "removed", spec, why, sizeof why); /* files may be gone even when it failed */
    if (st == LLAMAC_OK && listed != LLAMAC_OK) {
        snprintf(err, cap, "%s", why);
        st = listed;
    }
    return st;
}
