/* snacrt_codes.h (public API): SNAC codes to and from their file formats:
 *  json    {"sample_rate":R,"hop_length":H,"n_samples":N,"codes":[[level0...],[level1...],...]} (coarse first)
 *  npy     int32 array (n_coarse_frames, codes_per_frame) in the depth-first frame order below
 *  laion   space-separated codes, per coarse frame its code tree in pre-order: for 3 levels
 *          L0[i] L1[2i] L2[4i] L2[4i+1] L1[2i+1] L2[4i+2] L2[4i+3] (7 per frame; 15 for 4 levels)
 *  orpheus the laion order with Orpheus vocabulary offsets: id = 128266 + position*4096 + code */
#ifndef SNACRT_CODES_H
#define SNACRT_CODES_H

#include "snacrt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum srt_codes_format {
    SRT_CODES_AUTO = 0, SRT_CODES_JSON, SRT_CODES_NPY, SRT_CODES_LAION, SRT_CODES_ORPHEUS
} srt_codes_format;

#define SRT_ORPHEUS_AUDIO_BASE 128266
#define SRT_ORPHEUS_POSITION_STRIDE 4096

/* "json", "npy", "laion", "orpheus" -> format; SRT_ERR_INVALID_ARG for others. */
srt_status srt_codes_format_parse(const char *name, srt_codes_format *fmt);

/* Codes per coarse frame (sum over levels of stride0/stride_l), and the level and index-within-frame of each
 * position of the depth-first order: level_of[p], offset_of[p] (index = frame*(stride0/stride_l) + offset). */
int srt_codes_frame_layout(const srt_codec_info *info, int *level_of, int *offset_of, int max_positions);

/* Serialize (malloc'd buffer; text formats NUL-terminated, *size excludes the NUL). */
srt_status srt_codes_serialize(const srt_codec_info *info, const srt_codes *codes, srt_codes_format fmt,
                               char **data, size_t *size);
/* Parse any format (SRT_CODES_AUTO detects it: '{' json, "\x93NUMPY" npy, ids >= 128266 orpheus, else laion).
 * Validates lengths and ranges against the model; `what` names the input in errors. */
srt_status srt_codes_parse(const srt_codec_info *info, const char *data, size_t size, srt_codes_format fmt,
                           const char *what, srt_codes *out);

#ifdef __cplusplus
}
#endif
#endif
