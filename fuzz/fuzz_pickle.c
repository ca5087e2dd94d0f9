/* fuzz_pickle.c: the pickle virtual machine alone (host/weights/pickle.c) on a data.pkl. */
#include "fuzz_util.h"
#include "weights/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);   /* exact size: ASan sees any read past the end */
    if (!copy) return 0;
    memcpy(copy, data, size);
    srt_pickle *pk = NULL;
    const srt_pk_value *root = NULL;
    if (srt_pickle_load(copy, size, "fuzz.pkl", &pk, &root) == SRT_OK) {
        (void)srt_pk_dict_get(root, "state_dict");
        srt_pickle_free(pk);
    }
    free(copy);
    return 0;
}
