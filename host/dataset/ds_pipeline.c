/* ds_pipeline.c: what every pipeline stage of the tokenizer uses: the clock, failing the whole run (first failure
 * wins, everyone wakes up and stops), posting messages to the writer, and item keys. */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <time.h>

double ds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ds_pipe_fail(ds_pipe *p, srt_status st) {
    const char *msg = srt_last_error();
    pthread_mutex_lock(&p->mu);
    if (!p->cancelled) {
        p->cancelled = 1;
        p->fail_status = st;
        snprintf(p->fail_msg, sizeof p->fail_msg, "%s", msg && *msg ? msg : srt_status_name(st));
    }
    pthread_cond_broadcast(&p->cv_gate);
    pthread_cond_broadcast(&p->cv_pool);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_msg);
    pthread_mutex_unlock(&p->mu);
}

void ds_pipe_post(ds_pipe *p, ds_msg *m) {
    m->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->msg_tail) p->msg_tail->next = m; else p->msg_head = m;
    p->msg_tail = m;
    pthread_cond_signal(&p->cv_msg);
    pthread_mutex_unlock(&p->mu);
}

void ds_job_release(ds_long_job *job) {
    if (--job->refs > 0) return;
    while (job->head) {
        ds_piece *pc = job->head;
        job->head = pc->next;
        free(pc->x);
        free(pc);
    }
    free(job);
}

char *ds_item_key(const ds_unit *u, const ds_meta *m) {
    if (!m->split) return srt_strdup(u->key);
    size_t n = strlen(u->key) + 24;
    char *k = srt_malloc(n, "an item key");
    if (k) snprintf(k, n, "%s#%d", u->key, m->seg);
    return k;
}
