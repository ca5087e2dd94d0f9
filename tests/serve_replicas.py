"""serve_replicas.py: `snacrt serve` over data-parallel engine replicas (run by tests/test_serve_replicas.sh).
1. References: each (text, voice, seed) alone on a one-engine server (--device cpu).
2. CPU replicas (--devices cpu --replicas 2 --tp 2: two thread groups, each tensor parallel over 2 CPU ranks):
   64 concurrent seeded requests; every answer equals its reference (within 1 step of 16 bits: the batched codec
   decode is within 1e-5 of a lone one), both replicas took requests, /metrics has per-replica families and
   totals that add up.
3. Simulated GPUs (CUDASIM_DEVICES=4, --devices cuda:0-3 --tp 2: 2 replicas of 2 simulated devices, NCCL ranks on
   their own devices): 2 concurrent requests (one per replica) equal the same requests on one simulated device (--device cuda).
   Small: the simulator runs ~1 s per token of the 157k-vocabulary tiny model.
4. An injected failure (SNACRT_TEST_FAIL_REPLICA=1:2: replica 1 fails at its 2nd audio callback) during 16
   concurrent requests: the requests on replica 0 all succeed with their reference audio, the others end with a
   500 naming replica 1 (none is lost silently), /metrics counts the failure, and the replica is reloaded
   (restarts 1, up again) and serves a new request correctly."""
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from serve_util import Checker, Server, metric_value, pcm_max_diff, prometheus_problems, sanitizer_report

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
    srv = Server("--devices", "cpu", "--replicas", "2", "--tp", "2", "--max-running", "32", "--max-queue", "128",
                 "--threads", "2", name="replicas-cpu")
    try:
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
        C.check(srv.stop() == 0, "SIGTERM must exit 0")
        C.check(not sanitizer_report(srv.log()), f"sanitizer report:\n{srv.log()[-3000:]}")
    finally:
        srv.close()


def simulated_gpus():
    env = dict(os.environ, CUDASIM_DEVICES="4", OMP_WAIT_POLICY="passive")
    jobs = COMBOS[:2]
    one = Server("--device", "cuda", "--max-running", "4", name="replicas-sim1", env=env)
    try:
        want = {}
        for c, (st, _, data) in zip(jobs, concurrent(one, jobs, 7)):
            C.check(st == 200, f"one simulated device: HTTP {st} {data[:200]!r}")
            want.setdefault(c, data)
    finally:
        one.stop()
        one.close()
    srv = Server("--devices", "cuda:0-3", "--tp", "2", "--max-running", "4", name="replicas-sim4", env=env)
    try:
        log = srv.log()
        C.check("replica 0 on cuda:0-1" in log and "replica 1 on cuda:2-3" in log, f"replicas not announced:\n{log}")
        results = concurrent(srv, jobs, 7)
        for c, (st, _, data) in zip(jobs, results):
            C.check(st == 200 and c in want and same(data, want[c]),
                    f"{c} on 2 replicas x tp 2 differs from one simulated device (HTTP {st}, {len(data)} bytes)")
        text = srv.metrics()
        per = [metric_value(text, "snacrt_replica_requests_total", f'replica="{k}",devices="{d}"')
               for k, d in ((0, "cuda:0-1"), (1, "cuda:2-3"))]
        C.check(all(p and p > 0 for p in per), f"both simulated replicas must take requests: {per}")
        C.check("violation" not in srv.log() and "current device" not in srv.log(),
                f"simulator violations:\n{srv.log()[-2000:]}")
        C.check(srv.stop() == 0, "SIGTERM must exit 0")
        C.check(not sanitizer_report(srv.log()), f"sanitizer report:\n{srv.log()[-3000:]}")
    finally:
        srv.close()


def failure(refs):
    env = dict(os.environ, SNACRT_TEST_FAIL_REPLICA="1:2", OMP_WAIT_POLICY="passive")
    srv = Server("--devices", "cpu", "--replicas", "2", "--max-running", "16", "--threads", "2", name="replicas-fail",
                 env=env)
    try:
        jobs = [COMBOS[j % len(COMBOS)] for j in range(16)]
        results = concurrent(srv, jobs)
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
        deadline = time.time() + 60
        while time.time() < deadline:
            text = srv.metrics()
            if metric_value(text, "snacrt_replica_restarts_total", 'replica="1",devices="cpu#1"') == 1:
                break
            time.sleep(0.2)
        C.check(metric_value(text, "snacrt_replica_failures_total", 'replica="1",devices="cpu#1"') == 1,
                "replica 1's failure not counted")
        C.check(metric_value(text, "snacrt_replica_restarts_total", 'replica="1",devices="cpu#1"') == 1 and
                metric_value(text, "snacrt_replica_up", 'replica="1",devices="cpu#1"') == 1,
                "replica 1 not reloaded and up again")
        C.check(metric_value(text, "snacrt_replica_failures_total", 'replica="0",devices="cpu#0"') == 0,
                "replica 0 must not fail")
        again = concurrent(srv, COMBOS[:2] * 2)
        C.check(all(st == 200 and same(d, refs[c]) for c, (st, _, d) in zip(COMBOS[:2] * 2, again)),
                "after the restart every request must succeed again")
        C.check(srv.stop() == 0, "SIGTERM must exit 0")
        C.check(not sanitizer_report(srv.log()), f"sanitizer report:\n{srv.log()[-3000:]}")
    finally:
        srv.close()


def main():
    one = Server("--device", "cpu", "--threads", "2", name="replicas-ref")
    try:
        refs = references(one, COMBOS)
    finally:
        one.stop()
        one.close()
    cpu_replicas(refs)
    failure(refs)
    if os.environ.get("SNACRT_TEST_NO_CUDASIM") != "1":
        simulated_gpus()
    C.finish()


main()
