/* test_cudasim_devices.cpp: the simulator's multi-GPU mode (CUDASIM_DEVICES=N, tests/cudasim/runtime.cpp).
 *  - the device count follows the env (1 by default, N when set; CUDASIM_NO_DEVICE=1 still means none);
 *  - cudaSetDevice accepts 0 .. N-1 and refuses N; the current device is per host thread (a new thread starts on 0);
 *  - cudaMalloc / cudaStreamCreate belong to the thread's current device; cudaMemGetInfo counts only the current
 *    device's allocations;
 *  - a kernel launched on (or an async copy into) a stream of another device is reported as a violation, the same
 *    launch after cudaSetDevice runs;
 *  - the NCCL substitute over ranks on devices 2 and 3 (srt_comm_nccl_*): the plan wraps around the devices, the
 *    all-reduce runs with each rank's thread on its own device. */
extern "C" {
#include "lm/comm.h"
}
#include "cuda/common.cuh"
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <pthread.h>

__global__ void fill_kernel(float *out, float v) { out[threadIdx.x] = v + (float)threadIdx.x; }

static int thread_device = -2;
static void *read_device(void *arg) {
    (void)arg;
    cudaGetDevice(&thread_device);
    return nullptr;
}

struct rank_job { srt_comm *comm; int device; float *buf; srt_status st; int dev_seen; };
static void *rank_main(void *arg) {
    rank_job *j = static_cast<rank_job *>(arg);
    j->st = j->comm->ops->enter_thread(j->comm);
    if (j->st != SRT_OK) return nullptr;
    cudaGetDevice(&j->dev_seen);
    cudaMalloc((void **)&j->buf, 4 * sizeof(float));
    float h[4] = {1.0f + (float)j->comm->rank, 2, 3, 4};
    cudaMemcpy(j->buf, h, sizeof h, cudaMemcpyHostToDevice);
    j->st = j->comm->ops->all_reduce_sum(j->comm, j->buf, j->buf, 4, nullptr);
    return nullptr;
}

int main(void) {
    cudasim_set_quiet(1);
    int count = -1;
    unsetenv("CUDASIM_DEVICES");
    TEST_CHECK(cudaGetDeviceCount(&count) == cudaSuccess && count == 1, "default device count %d, want 1", count);
    TEST_CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice, "cudaSetDevice(1) with one device must fail");
    cudaGetLastError();
    setenv("CUDASIM_DEVICES", "4", 1);
    TEST_CHECK(cudaGetDeviceCount(&count) == cudaSuccess && count == 4, "CUDASIM_DEVICES=4: count %d", count);
    TEST_CHECK(cudasim_device_count() == 4, "cudasim_device_count %d", cudasim_device_count());
    TEST_CHECK(cudaSetDevice(4) == cudaErrorInvalidDevice, "cudaSetDevice(4) of 4 devices must fail");
    cudaGetLastError();

    /* per-device allocations and memory info */
    size_t free0 = 0, free2 = 0, total = 0, free2_after = 0, free0_after = 0;
    TEST_CHECK(cudaSetDevice(2) == cudaSuccess, "cudaSetDevice(2)");
    int cur = -1;
    cudaGetDevice(&cur);
    TEST_CHECK(cur == 2, "current device %d after cudaSetDevice(2)", cur);
    pthread_t t;
    pthread_create(&t, nullptr, read_device, nullptr);
    pthread_join(t, nullptr);
    TEST_CHECK(thread_device == 0, "a new host thread must start on device 0 (got %d)", thread_device);
    cudaMemGetInfo(&free2, &total);
    cudaSetDevice(0);
    cudaMemGetInfo(&free0, &total);
    cudaSetDevice(2);
    float *d2 = nullptr;
    TEST_CHECK(cudaMalloc((void **)&d2, 1 << 20) == cudaSuccess, "cudaMalloc on device 2");
    TEST_CHECK(cudasim_pointer_device(d2) == 2 && cudasim_pointer_device(d2 + 1000) == 2,
               "allocation made on device 2 reads device %d", cudasim_pointer_device(d2));
    TEST_CHECK(cudasim_device_bytes(2) >= (1 << 20) && cudasim_device_bytes(1) == 0, "device bytes: 2 has %zu, 1 has %zu",
               cudasim_device_bytes(2), cudasim_device_bytes(1));
    cudaMemGetInfo(&free2_after, &total);
    cudaSetDevice(0);
    cudaMemGetInfo(&free0_after, &total);
    TEST_CHECK(free2 - free2_after == (1 << 20) && free0_after == free0,
               "cudaMemGetInfo: device 2 free fell by %zu (want 1 MiB), device 0's by %zu (want 0)",
               free2 - free2_after, free0 - free0_after);

    /* streams belong to a device; launching on another device's stream is refused */
    cudaSetDevice(2);
    cudaStream_t s2;
    cudaStreamCreate(&s2);
    TEST_CHECK(cudasim_stream_device(s2) == 2, "stream of device %d, want 2", cudasim_stream_device(s2));
    cudasim_clear_error();
    LAUNCH(fill_kernel, 1, 32, 0, s2, d2, 1.0f);
    TEST_CHECK(cudaStreamSynchronize(s2) == cudaSuccess && cudasim_error_count() == 0,
               "launch on device 2's stream from device 2: %s", cudasim_last_error());
    float h[32];
    cudaMemcpy(h, d2, sizeof h, cudaMemcpyDeviceToHost);
    TEST_CHECK(h[0] == 1.0f && h[31] == 32.0f, "kernel on device 2 wrote %g .. %g", h[0], h[31]);
    cudaSetDevice(1);
    cudasim_clear_error();
    LAUNCH(fill_kernel, 1, 32, 0, s2, d2, 1.0f);
    TEST_CHECK(cudaStreamSynchronize(s2) == cudaErrorLaunchFailure && strstr(cudasim_last_error(), "device 2") &&
               strstr(cudasim_last_error(), "current device is 1"),
               "launch on device 2's stream from device 1 not reported: '%s'", cudasim_last_error());
    cudaGetLastError();
    cudasim_clear_error();
    cudaMemcpyAsync(d2, h, sizeof h, cudaMemcpyHostToDevice, s2);
    TEST_CHECK(cudaStreamSynchronize(s2) == cudaErrorLaunchFailure && strstr(cudasim_last_error(), "cudaMemcpyAsync"),
               "async copy on device 2's stream from device 1 not reported: '%s'", cudasim_last_error());
    cudaGetLastError();
    cudasim_clear_error();
    cudaSetDevice(2);
    cudaStreamDestroy(s2);
    cudaFree(d2);
    TEST_CHECK(cudasim_device_bytes(2) == 0, "device 2 still holds %zu bytes", cudasim_device_bytes(2));

    /* NCCL ranks on devices 2 and 3: each rank's thread on its device */
    int devices[2] = {-1, -1};
    TEST_CHECK(srt_comm_nccl_devices(2, 2, devices) == SRT_OK && devices[0] == 2 && devices[1] == 3,
               "tp 2 from cuda:2 planned on %d, %d", devices[0], devices[1]);
    int wrap[2] = {-1, -1};
    TEST_CHECK(srt_comm_nccl_devices(2, 3, wrap) == SRT_OK && wrap[0] == 3 && wrap[1] == 0,
               "tp 2 from cuda:3 wraps to %d, %d", wrap[0], wrap[1]);
    srt_comm *comms[2] = {nullptr, nullptr};
    TEST_CHECK(srt_comm_nccl_create_group(2, devices, comms) == SRT_OK, "NCCL group: %s", srt_last_error());
    if (comms[0]) {
        rank_job jobs[2] = {{comms[0], 2, nullptr, SRT_OK, -1}, {comms[1], 3, nullptr, SRT_OK, -1}};
        pthread_t th[2];
        for (int r = 0; r < 2; r++) pthread_create(&th[r], nullptr, rank_main, &jobs[r]);
        for (int r = 0; r < 2; r++) pthread_join(th[r], nullptr);
        for (int r = 0; r < 2; r++) {
            TEST_CHECK(jobs[r].st == SRT_OK && jobs[r].dev_seen == devices[r], "rank %d: status %d on device %d", r,
                       (int)jobs[r].st, jobs[r].dev_seen);
            TEST_CHECK(cudasim_pointer_device(jobs[r].buf) == devices[r], "rank %d's buffer on device %d", r,
                       cudasim_pointer_device(jobs[r].buf));
            float out[4] = {0};
            cudaMemcpy(out, jobs[r].buf, sizeof out, cudaMemcpyDeviceToHost);
            TEST_CHECK(out[0] == 3.0f && out[3] == 8.0f, "rank %d all-reduce: %g .. %g", r, out[0], out[3]);
            cudaFree(jobs[r].buf);
            comms[r]->ops->destroy(comms[r]);
        }
    }

    setenv("CUDASIM_NO_DEVICE", "1", 1);
    TEST_CHECK(cudaGetDeviceCount(&count) == cudaErrorNoDevice && count == 0, "CUDASIM_NO_DEVICE wins: %d", count);
    cudaGetLastError();
    unsetenv("CUDASIM_NO_DEVICE");
    TEST_MAIN_END();
}
