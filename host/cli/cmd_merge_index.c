/* cmd_merge_index.c: `snacrt merge-index OUT_DIR`: join the plans and done-logs of the tokenize workers in OUT_DIR
 * into index.json, index.items.jsonl and errors.jsonl (host/dataset/ds_index.c); prints a JSON summary. */
#include "cli/cli_common.h"
#include "snacrt_dataset.h"
#include <string.h>

static const char *usage =
    "usage: snacrt merge-index OUT_DIR\n"
    "  Joins what `snacrt tokenize --shard-index I --num-shards N` workers wrote into OUT_DIR: index.json (shards,\n"
    "  totals, items_digest), index.items.jsonl (every item sorted by key: shard, offset, n_samples, codes hash) and\n"
    "  errors.jsonl. Fails, writing nothing, when a worker or a shard is missing, a worker belongs to another run,\n"
    "  or a key appears twice. The digest and items file do not depend on the number of workers.\n";

int srt_cmd_merge_index(int argc, char **argv) {
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("merge-index", usage, "unknown option %s", argv[i]);
        if (dir) return cli_usage_error("merge-index", usage, "only one OUT_DIR may be given");
        dir = argv[i];
    }
    if (!dir) return cli_usage_error("merge-index", usage, "need OUT_DIR");
    srt_ds_merge_result r;
    srt_status st = srt_ds_merge_index(dir, &r);
    if (st != SRT_OK) return cli_fail("merge-index", st);
    printf("{\"workers\":%d,\"shards\":%lld,\"items\":%lld,\"errors\":%lld,\"audio_hours\":%.6f,\"items_digest\":\"%s\"}\n",
           r.n_workers, (long long)r.shards, (long long)r.items, (long long)r.errors, r.audio_seconds / 3600.0,
           r.items_digest);
    return 0;
}
