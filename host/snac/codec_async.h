/* codec_async.h: batched encode in two halves, so a caller keeps two batches in flight on one device: submit pads
 * a batch into the slot's pinned host buffer, uploads it, queues the encoder + VQ and the codes' copy back, and
 * returns (cuda); collect waits for that batch and hands out its codes, with the device time the batch took
 * (events around its work on the stream). A backend without srt_async_ops (cpu) encodes inside submit (collect
 * then only hands out the codes, device time -1). The codes equal srt_codec_encode's for the same batch. */
#ifndef SRT_CODEC_ASYNC_H
#define SRT_CODEC_ASYNC_H

#include "snacrt.h"

typedef struct srt_encode_slot srt_encode_slot;

/* A slot of codec: pinned host buffers and a device input buffer (grown on demand, kept for the next batch). */
srt_status srt_encode_slot_create(srt_codec *codec, srt_encode_slot **out);
/* Queue one batch (the slot must be empty: new, or collected). audio[b] (n_samples[b]) may be reused on return. */
srt_status srt_encode_slot_submit(srt_encode_slot *s, int batch, const float *const *audio, const int64_t *n_samples);
/* Wait for the slot's batch: codes[b] (caller frees), *device_ms the device time of its work (-1: no timer).
 * The slot is empty afterwards, also on failure. */
srt_status srt_encode_slot_collect(srt_encode_slot *s, srt_codes *codes, double *device_ms);
/* Waits for a batch still in flight (its codes are dropped), frees the slot. NULL: nothing. */
void srt_encode_slot_free(srt_encode_slot *s);

#endif
