/* ds_seq_internal.h: the sequence context shared by ds_seq.c (items) and ds_seq_write.c (packing, files). */
#ifndef SRT_DS_SEQ_INTERNAL_H
#define SRT_DS_SEQ_INTERNAL_H

#include "dataset/ds_seq.h"

struct srt_ds_seq_ctx {
    const srt_ds_run_options *o;
    srt_layout *layout;
    srt_lm *lm;                     /* its tokenizer only (srt_lm_load_tokenizer) */
    const char *text_column;
    int32_t pad_id;                 /* packed padding (mask 0, in no document): end_of_text when named, else 0 */
    int64_t audio_lo, audio_hi;     /* the layout's audio ids: [lo, hi) */
};

#endif
