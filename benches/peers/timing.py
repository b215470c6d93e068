"""The timing harness of the Python peers (torch_bench.py, ort_bench.py), as the Rust harness
times: warm-up, then samples (calls shorter than MIN_SAMPLE_S timed in groups) until the
budget has passed and enough were taken; median and the 10th and 90th percentiles in µs."""

import time

# Calls shorter than this are timed in groups, as in the Rust harness.
MIN_SAMPLE_S = 50e-6
MAX_SAMPLES = 100_000


def time_calls(fn, seconds, min_samples=10):
    """Warm-up, then samples until `seconds` have passed and at least `min_samples` were taken."""
    warm_up = min(seconds / 3, 0.5)
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < warm_up:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    batch = int(MIN_SAMPLE_S / max(per_call, 1e-9)) + 1

    samples = []
    start = time.perf_counter()
    while len(samples) < min_samples or (
        time.perf_counter() - start < seconds and len(samples) < MAX_SAMPLES
    ):
        t = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t) * 1e6 / batch)
    samples.sort()

    def at(q):
        return samples[round((len(samples) - 1) * q)]

    return {
        "median_us": at(0.5),
        "p10_us": at(0.1),
        "p90_us": at(0.9),
        "samples": len(samples),
        "batch": batch,
    }
