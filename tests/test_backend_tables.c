/* test_backend_tables.c: walks every backend's op table (codec and LM entries) and fails when an entry a backend
 * must have is NULL, or when an entry of a fast backend (cpu, cuda) is a reference (cpu-ref) implementation
 * without being declared shared (host/cpu/shared_ops.h). The checker is also run on doctored copies of the cpu
 * table (an entry unset, a reference codec op, a reference LM op) to show it catches each. The cuda table is
 * walked when a "cuda" backend can be created (the simulator build, or a GPU). */
#include "backend.h"
#include "cpu/shared_ops.h"
#include "lm/lm_ops.h"
#include "testutil.h"

typedef void (*fnptr)(void);

/* Every entry: X(field, required) */
#define MAIN_ENTRIES(X) X(alloc, 1) X(free, 1) X(upload, 1) X(download, 1) X(memset0, 1) X(copy, 1) X(sync, 1) \
    X(destroy, 1) X(conv1d, 1) X(conv_transpose1d, 1) X(snake, 1) X(gemm, 1) X(layernorm, 1) X(transpose, 1) \
    X(local_attention, 1) X(avgpool, 1) X(upsample_add, 1) X(vq_nearest, 1) X(embed, 1) X(unary, 1) X(axpby, 1) \
    X(noise_add, 1) X(copy2d, 1) X(copy2d_batch, 0)
#define LM_ENTRIES(X) X(rmsnorm, 1) X(rope, 1) X(kv_store, 1) X(paged_attention, 1) X(swiglu, 1) X(embedding, 1) \
    X(add_bias, 1) X(gather_rows, 1) X(paged_attention_planned, 0) X(sample, 1) X(mask_rows, 1) X(graph_run, 0)

typedef struct entry { const char *name; fnptr fn; int required; } entry;

static int list_entries(const srt_backend_ops *o, entry *e) {
    int n = 0;
#define MAIN_E(f, req) e[n++] = (entry){#f, (fnptr)o->f, req};
#define LM_E(f, req) e[n++] = (entry){"lm." #f, o->lm ? (fnptr)o->lm->f : NULL, req};
    MAIN_ENTRIES(MAIN_E)
    LM_ENTRIES(LM_E)
    return n;
}

static int is_shared(fnptr f) {
    for (const srt_shared_op *s = srt_shared_ops; s->fn; s++) if (s->fn == f) return 1;
    return 0;
}

/* Problems of table `fast` against the reference table `ref`: NULL required entries, entries equal to any
 * reference entry that are not declared shared. Prints each when verbose. */
static int table_problems(const srt_backend_ops *fast, const srt_backend_ops *ref, int verbose) {
    entry fe[64], re[64];
    int nf = list_entries(fast, fe), nr = list_entries(ref, re), bad = 0;
    if (!fast->lm) { if (verbose) fprintf(stderr, "  %s: no LM table\n", fast->name); bad++; }
    for (int i = 0; i < nf; i++) {
        if (!fe[i].fn) {
            if (fe[i].required) { if (verbose) fprintf(stderr, "  %s.%s is NULL\n", fast->name, fe[i].name); bad++; }
            continue;
        }
        if (fast == ref || is_shared(fe[i].fn)) continue;
        for (int j = 0; j < nr; j++)
            if (re[j].fn && re[j].fn == fe[i].fn) {
                if (verbose)
                    fprintf(stderr, "  %s.%s is the reference %s.%s, not declared shared\n", fast->name, fe[i].name,
                            ref->name, re[j].name);
                bad++;
            }
    }
    return bad;
}

int main(void) {
    srt_backend ref = {0}, cpu = {0}, cu = {0};
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &ref) == SRT_OK, "create cpu-ref: %s", srt_last_error());
    TEST_CHECK(srt_backend_create("cpu", 1, &cpu) == SRT_OK, "create cpu: %s", srt_last_error());
    if (!ref.ops || !cpu.ops) TEST_MAIN_END();

    TEST_CHECK(table_problems(ref.ops, ref.ops, 1) == 0, "cpu-ref: every required entry set");
    TEST_CHECK(table_problems(cpu.ops, ref.ops, 1) == 0, "cpu: complete, no undeclared reference entry");
    TEST_CHECK(cpu.ops->lm == &srt_cpu_lm_ops, "cpu runs the fast LM table (host/cpu/cpu_lm.c)");
    TEST_CHECK(ref.ops->host_memory && cpu.ops->host_memory, "both CPU backends declare host memory");
    /* the shared entries are really shared: each is in both CPU tables */
    for (const srt_shared_op *s = srt_shared_ops; s->fn; s++) {
        entry re[64], ce[64];
        int nr = list_entries(ref.ops, re), nc = list_entries(cpu.ops, ce), in_ref = 0, in_cpu = 0;
        for (int i = 0; i < nr; i++) in_ref |= re[i].fn == s->fn;
        for (int i = 0; i < nc; i++) in_cpu |= ce[i].fn == s->fn;
        TEST_CHECK(in_ref && in_cpu, "%s is in both CPU tables", s->name);
    }

    /* the checker catches an unset entry, a reference codec op and a reference LM op */
    srt_backend_ops doctored = *cpu.ops;
    doctored.snake = NULL;
    TEST_CHECK(table_problems(&doctored, ref.ops, 0) == 1, "an unset codec entry is caught");
    doctored = *cpu.ops;
    doctored.conv1d = ref.ops->conv1d;
    TEST_CHECK(table_problems(&doctored, ref.ops, 0) == 1, "a reference codec entry is caught");
    srt_lm_ops lm = *cpu.ops->lm;
    lm.paged_attention = ref.ops->lm->paged_attention;
    doctored = *cpu.ops;
    doctored.lm = &lm;
    TEST_CHECK(table_problems(&doctored, ref.ops, 0) == 1, "a reference LM entry is caught");
    lm = *cpu.ops->lm;
    lm.sample = NULL;
    TEST_CHECK(table_problems(&doctored, ref.ops, 0) == 1, "an unset LM entry is caught");
    doctored.lm = &srt_cpu_ref_lm_ops;
    TEST_CHECK(table_problems(&doctored, ref.ops, 0) >= 8, "the whole reference LM table is caught");

    if (srt_backend_create("cuda", 1, &cu) == SRT_OK) {
        TEST_CHECK(table_problems(cu.ops, ref.ops, 1) == 0, "cuda: complete, no reference entry");
        TEST_CHECK(table_problems(cu.ops, cpu.ops, 1) == 0, "cuda: no cpu entry");
        TEST_CHECK(!cu.ops->host_memory, "cuda tensors are device memory");
        srt_backend_destroy(&cu);
    } else {
        printf("no cuda backend here (%s): cuda table not walked\n", srt_last_error());
    }
    srt_backend_destroy(&cpu);
    srt_backend_destroy(&ref);
    TEST_MAIN_END();
}
