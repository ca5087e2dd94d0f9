"""serve_replicas.py: `snacrt serve` over data-parallel engine replicas (run by tests/test_serve_replicas.sh).
1. References: each (text, voice, seed) alone on a one-engine server (--device cpu).
2. CPU replicas (--devices cpu --replicas 2 --tp 2: two thread groups, each tensor parallel over 2 CPU ranks):
   64 concurrent seeded requests; every answer equals its reference (within 1 step of 16 bits: the batched codec
   decode is within 1e-5 of a lone one), both replicas took requests, /metrics has per-replica families and
   totals that add up.
3. Conversations (/v1/chat/completions, --layout spoken-chat) on 2 CPU replicas: 4 concurrent seeded chats land
   on both replicas and each answer equals the one engine's; a stream hung up by its client is cancelled on its
   replica (snacrt_replica_requests_cancelled_total) while the other replica's request ends with its reference.
4. Simulated GPUs (CUDASIM_DEVICES=4, --devices cuda:0-3 --tp 2: 2 replicas of 2 simulated devices, NCCL ranks on
   their own devices): 64 concurrent seeded requests (8 distinct, 7 tokens each: one frame group; the check is
   identity, not length) equal the same requests on one simulated device (--device cuda). Batches of more than 16
   rows run the LM head as one GEMM (cublas.c), so the 157k-vocabulary head costs a few steps, not 64 x 7.
5. An injected failure (SNACRT_TEST_FAIL_REPLICA=1:2: replica 1 fails at its 2nd audio callback) during 16
   concurrent requests (on the simulated devices of 4 in cudasim builds, else on CPU replicas): the requests on
   replica 0 all succeed with their reference audio, the others end with a 500 naming replica 1 (none is lost
   silently), /metrics counts the failure, and the replica is reloaded (restarts 1, up again) and serves new
   requests correctly."""
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from serve_util import Checker, Server, metric_value, pcm_max_diff, prometheus_problems, serving

C = Checker("serve_replicas")
COMBOS = [("Hello there.", "tara", 11), ("The quick brown fox.", "leo", 12), ("One, two, three!", "mia", 13),
          ("Good morning to you.", "zac", 14)]
TOKENS = 14


def body(combo, tokens=TOKENS):
    text, voice, seed = combo
    return {"model": "tts-1", "input": text, "voice": voice, "seed": seed, "max_tokens": tokens,
            "response_format": "pcm"}


def references(srv, combos, tokens=TOKENS):
    refs = {}
    for c in combos:
        st, _, data = srv.request("POST", "/v1/audio/speech", body(c, tokens))
        C.check(st == 200 and len(data) > 0, f"reference {c}: HTTP {st} {data[:200]!r}")
        refs[c] = data
    return refs


def concurrent(srv, jobs, tokens=TOKENS):
    with ThreadPoolExecutor(max_workers=len(jobs)) as ex:
        return list(ex.map(lambda c: srv.request("POST", "/v1/audio/speech", body(c, tokens), timeout=600), jobs))


def same(a, b):
    return len(a) == len(b) and pcm_max_diff(a, b) <= 1


def cpu_replicas(refs):
    with serving(C, Server("--devices", "cpu", "--replicas", "2", "--tp", "2", "--max-running", "32", "--max-queue",
                           "128", "--threads", "2", name="replicas-cpu")) as srv:
        log = srv.log()
        C.check("replica 0 on cpu#0" in log and "replica 1 on cpu#1" in log, f"replicas not announced:\n{log}")
        jobs = [COMBOS[j % len(COMBOS)] for j in range(64)]
        results = concurrent(srv, jobs)
        bad = [(j, st, data[:200]) for j, (c, (st, _, data)) in enumerate(zip(jobs, results))
               if st != 200 or not same(data, refs[c])]
        C.check(not bad, f"{len(bad)} of 64 answers differ from one engine's, first: {bad[:1]}")
        text = srv.metrics()
        C.check(not prometheus_problems(text), f"metrics not valid Prometheus text: {prometheus_problems(text)}")
        per = [metric_value(text, "snacrt_replica_requests_total", f'replica="{k}",devices="cpu#{k}"') for k in (0, 1)]
        total = metric_value(text, "snacrt_engine_requests_total", 'result="submitted"')
        C.check(all(p and p > 0 for p in per), f"both replicas must take requests: {per}")
        C.check(per[0] is not None and per[1] is not None and sum(per) == 64,
                f"replica request counts {per} must add up to 64")
        C.check(total == 64, f"total requests (sum over the replicas) {total}, want 64")


CHATS = [("Be brief.", "What is this?", 7), ("Answer in one word.", "Hello!", 8), ("Be kind.", "Who are you?", 9),
         ("Talk like a pirate.", "Where are we?", 10)]


def chat_body(c):
    system, user, seed = c
    return {"model": "gpt-4o-audio-preview", "seed": seed, "max_completion_tokens": 10,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}


def chat_answers(srv, chats):
    with ThreadPoolExecutor(max_workers=len(chats)) as ex:
        res = list(ex.map(lambda c: srv.request("POST", "/v1/chat/completions", chat_body(c), timeout=600), chats))
    out = []
    for c, (st, _, data) in zip(chats, res):
        msg = json.loads(data)["choices"][0]["message"].get("content") if st == 200 else None
        C.check(st == 200 and isinstance(msg, str) and msg, f"chat {c}: HTTP {st} {data[:300]!r}")
        out.append(msg)
    return out


def chat_replicas():
    with serving(C, Server("--layout", "spoken-chat", "--device", "cpu", "--threads", "2", name="replicas-chat1"),
                 "one chat engine") as one:
        want = chat_answers(one, CHATS)
    with serving(C, Server("--layout", "spoken-chat", "--devices", "cpu", "--replicas", "2", "--threads", "2",
                           name="replicas-chat2")) as srv:
        got = chat_answers(srv, CHATS)
        C.check(got == want, f"chats on 2 replicas differ from one engine's: {got} vs {want}")
        text = srv.metrics()
        per = [metric_value(text, "snacrt_replica_requests_total", f'replica="{k}",devices="cpu#{k}"') for k in (0, 1)]
        C.check(all(p and p > 0 for p in per) and sum(p or 0 for p in per) == 4,
                f"the 4 chats must spread over both replicas: {per}")


def cancel_on_replica(refs):
    """A long stream lands on replica 0 (both empty: the first); its client hangs up: replica 0 cancels it while a
    request on replica 1 (the one with more free KV capacity then) ends with its reference. The stream asks for
    20,000 tokens (seconds even on a fast machine; its unread audio fits the 32 MB stream buffer), so it is still
    running when the other request is routed and when its client hangs up: with 1,000 it could end first."""
    lab = [f'replica="{k}",devices="cpu#{k}"' for k in (0, 1)]
    with serving(C, Server("--devices", "cpu", "--replicas", "2", "--threads", "2", "--max-running", "4",
                           "--max-tokens", "20000", "--stream-buffer-max", str(1 << 25),
                           name="replicas-cancel")) as srv:
        c = srv.conn()
        c.request("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": "Hello there.", "stream": True,
                                                          "max_tokens": 20000, "response_format": "pcm"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        first = r.read1(100)
        C.check(r.status == 200 and first, f"the long stream runs: {r.status}")
        text = srv.metrics()
        C.check(metric_value(text, "snacrt_replica_running", lab[0]) == 1, "the long stream runs on replica 0")
        with ThreadPoolExecutor(max_workers=1) as ex:
            other = ex.submit(lambda: srv.request("POST", "/v1/audio/speech", body(COMBOS[0]), timeout=600))
            c.close()                                         # hang up: the stream is cancelled on replica 0
            st, _, data = other.result()
        C.check(st == 200 and same(data, refs[COMBOS[0]]), f"the request on replica 1 ends with its reference: {st}")
        deadline = time.time() + 30
        while time.time() < deadline:
            text = srv.metrics()
            if metric_value(text, "snacrt_replica_requests_cancelled_total", lab[0]) == 1:
                break
            time.sleep(0.05)
        C.check(metric_value(text, "snacrt_replica_requests_cancelled_total", lab[0]) == 1 and
                metric_value(text, "snacrt_replica_running", lab[0]) == 0 and
                metric_value(text, "snacrt_replica_active_requests", lab[0]) == 0,
                f"replica 0 cancels the hung-up stream: {[l for l in text.splitlines() if lab[0] in l]}")
        C.check(metric_value(text, "snacrt_replica_requests_cancelled_total", lab[1]) == 0 and
                metric_value(text, "snacrt_replica_requests_total", lab[1]) == 1, "replica 1 ran the other request")
        C.check(metric_value(text, "snacrt_engine_requests_total", 'result="cancelled"') == 1, "1 cancelled in total")


SIM_COMBOS = [(f"Sentence number {j}.", ("tara", "leo", "mia", "zac")[j % 4], 20 + j) for j in range(8)]
SIM_TOKENS = 7
# the identity check needs a row's logits independent of its batch (8 rows here, up to 32 on the replicas): the exact
# LM precision (the bf16 default rounds activations above the small-M rows only: cuda/backend_cuda.h)
SIM_ENV = dict(os.environ, CUDASIM_DEVICES="4", OMP_WAIT_POLICY="passive", SNACRT_CUDA_LM_PRECISION="exact")


def simulated_refs():
    """The 8 distinct requests together on one simulated device."""
    with serving(C, Server("--device", "cuda", "--max-running", "8", name="replicas-sim1", env=SIM_ENV),
                 "one simulated device") as one:
        want = {}
        for c, (st, _, data) in zip(SIM_COMBOS, concurrent(one, SIM_COMBOS, SIM_TOKENS)):
            C.check(st == 200 and len(data) > 0, f"one simulated device: HTTP {st} {data[:200]!r}")
            want[c] = data
    return want


def simulated_gpus(want):
    with serving(C, Server("--devices", "cuda:0-3", "--tp", "2", "--max-running", "32", "--max-queue", "128",
                           name="replicas-sim4", env=SIM_ENV)) as srv:
        log = srv.log()
        C.check("replica 0 on cuda:0-1" in log and "replica 1 on cuda:2-3" in log, f"replicas not announced:\n{log}")
        jobs = [SIM_COMBOS[j % len(SIM_COMBOS)] for j in range(64)]
        t0 = time.time()
        results = concurrent(srv, jobs, SIM_TOKENS)
        took = time.time() - t0
        bad = [(j, st, len(data)) for j, (c, (st, _, data)) in enumerate(zip(jobs, results))
               if st != 200 or not same(data, want[c])]
        C.check(not bad, f"{len(bad)} of 64 answers on 2 replicas x tp 2 differ from one simulated device "
                f"(job, HTTP, bytes): {bad[:4]}")
        text = srv.metrics()
        per = [metric_value(text, "snacrt_replica_requests_total", f'replica="{k}",devices="{d}"')
               for k, d in ((0, "cuda:0-1"), (1, "cuda:2-3"))]
        C.check(all(p and p > 0 for p in per) and sum(p or 0 for p in per) == 64,
                f"both simulated replicas must take requests, 64 in all: {per}")
        C.check("violation" not in srv.log() and "current device" not in srv.log(),
                f"simulator violations:\n{srv.log()[-2000:]}")
        print(f"serve_replicas: 64 requests on 4 simulated devices (2 replicas x tp 2) in {took:.1f} s", flush=True)


def failure(refs, combos, tokens, labels, *args, env=None):
    """labels: the /metrics devices label of replicas 0 and 1; args: the server's replica options."""
    env = dict(env or os.environ, SNACRT_TEST_FAIL_REPLICA="1:2", OMP_WAIT_POLICY="passive")
    lab = [f'replica="{k}",devices="{labels[k]}"' for k in (0, 1)]
    with serving(C, Server(*args, "--max-running", "16", name="replicas-fail", env=env)) as srv:
        jobs = [combos[j % len(combos)] for j in range(16)]
        results = concurrent(srv, jobs, tokens)
        ok = [j for j, (st, _, _) in enumerate(results) if st == 200]
        lost = [j for j, (st, _, _) in enumerate(results) if st != 200]
        for j in ok:
            C.check(same(results[j][2], refs[jobs[j]]), f"request {j} on the healthy replica differs from its reference")
        C.check(len(lost) > 0 and len(ok) > 0, f"the failure must hit some requests and spare others: ok {ok}, lost {lost}")
        for j in lost:
            st, _, data = results[j]
            msg = ""
            try:
                msg = json.loads(data)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            C.check(st == 500 and "replica 1" in msg and "failed" in msg,
                    f"request {j} lost with the replica must get a 500 naming it: HTTP {st} {data[:300]!r}")
        text = ""
        deadline = time.time() + 120
        while time.time() < deadline:
            text = srv.metrics()
            if metric_value(text, "snacrt_replica_restarts_total", lab[1]) == 1:
                break
            time.sleep(0.2)
        C.check(metric_value(text, "snacrt_replica_failures_total", lab[1]) == 1, "replica 1's failure not counted")
        C.check(metric_value(text, "snacrt_replica_restarts_total", lab[1]) == 1 and
                metric_value(text, "snacrt_replica_up", lab[1]) == 1, "replica 1 not reloaded and up again")
        C.check(metric_value(text, "snacrt_replica_failures_total", lab[0]) == 0, "replica 0 must not fail")
        on0 = metric_value(text, "snacrt_replica_requests_total", lab[0]) or 0
        C.check(0 < on0 <= len(ok) and metric_value(text, "snacrt_replica_requests_failed_total", lab[0]) == 0,
                f"every one of replica 0's {on0} requests must succeed ({len(ok)} of 16 did)")
        again = concurrent(srv, combos[:2] * 2, tokens)
        C.check(all(st == 200 and same(d, refs[c]) for c, (st, _, d) in zip(combos[:2] * 2, again)),
                "after the restart every request must succeed again")


def main():
    one = Server("--device", "cpu", "--threads", "2", name="replicas-ref")
    try:
        refs = references(one, COMBOS)
    finally:
        one.stop()
        one.close()
    cpu_replicas(refs)
    chat_replicas()
    cancel_on_replica(refs)
    if os.environ.get("SNACRT_TEST_NO_CUDASIM") != "1":
        want = simulated_refs()
        simulated_gpus(want)
        failure(want, SIM_COMBOS, SIM_TOKENS, ("cuda:0-1", "cuda:2-3"), "--devices", "cuda:0-3", "--tp", "2",
                env=SIM_ENV)
    else:
        failure(refs, COMBOS, TOKENS, ("cpu#0", "cpu#1"), "--devices", "cpu", "--replicas", "2", "--threads", "2")
    C.finish()


main()
