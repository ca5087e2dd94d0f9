/* test_ds_progress.c: the tokenize progress line measures encoded audio against this run's total audio: readers
 * that have decoded every file while little is encoded do not make it 100%; the total is extrapolated from the
 * units read (marked ~) and exact once all are read; the ETA follows the encoded audio rate; --resume's skipped
 * units are not this run's work; 100% only when finished. */
#include "snacrt_dataset.h"
#include "testutil.h"

static double percent(const char *line) {
    const char *b = strchr(line, ']');
    return b ? atof(b + 1) : -1;
}

int main(void) {
    char line[512];
    /* 10 files, all read (100 s of audio), the 5 short ones encoded (10 s) after 5 s: 10% (not 50%), eta 45 s */
    srt_ds_progress p = {.units_total = 10, .units_done = 5, .units_read = 10, .audio_seconds_read = 100,
                         .audio_seconds = 10, .wall_seconds = 5, .items = 1, .shards_total = 1};
    srt_ds_progress_format(&p, line, sizeof line);
    TEST_CHECK(percent(line) > 9.9 && percent(line) < 10.1, "all read, 10%% encoded: %s", line);
    TEST_CHECK(strstr(line, "eta 45s") != NULL, "eta from the encoded audio rate: %s", line);
    TEST_CHECK(strstr(line, "audio 0.003 of 0.028 h") != NULL, "exact total once all read: %s", line);
    /* 2 of 10 read (20 s): the total is extrapolated to ~100 s */
    p.units_read = 2;
    p.audio_seconds_read = 20;
    srt_ds_progress_format(&p, line, sizeof line);
    TEST_CHECK(strstr(line, "of ~0.028 h") != NULL, "extrapolated total marked ~: %s", line);
    TEST_CHECK(percent(line) > 9.9 && percent(line) < 10.1, "extrapolated: 10%%: %s", line);
    /* everything encoded but not finished (index, final shard): not 100% */
    p.units_read = 10;
    p.audio_seconds_read = 100;
    p.audio_seconds = 100;
    p.units_done = 10;
    srt_ds_progress_format(&p, line, sizeof line);
    TEST_CHECK(percent(line) < 100.0, "not 100%% before finished: %s", line);
    p.finished = 1;
    srt_ds_progress_format(&p, line, sizeof line);
    TEST_CHECK(percent(line) == 100.0 && strstr(line, "eta done"), "finished: %s", line);
    /* nothing encoded yet: units done; nothing read: eta unknown */
    srt_ds_progress q = {.units_total = 4, .wall_seconds = 1};
    srt_ds_progress_format(&q, line, sizeof line);
    TEST_CHECK(percent(line) == 0.0 && strstr(line, "eta ?"), "start: %s", line);
    /* --resume: 6 of 10 units skipped; 4 to do, all read (40 s), 20 s encoded: 50% of this run */
    srt_ds_progress r = {.units_total = 10, .units_skipped = 6, .units_done = 8, .units_read = 4,
                         .audio_seconds_read = 40, .audio_seconds = 20, .wall_seconds = 10};
    srt_ds_progress_format(&r, line, sizeof line);
    TEST_CHECK(percent(line) > 49.9 && percent(line) < 50.1, "resume: this run's work: %s", line);
    TEST_CHECK(strstr(line, "eta 10s") != NULL, "resume eta: %s", line);
    TEST_MAIN_END();
}
