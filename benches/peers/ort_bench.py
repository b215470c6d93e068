"""O1-O4 of BENCHMARKS.md in onnxruntime on the CPU, timed like `peers run`.

    python ort_bench.py --threads 1 [--workloads O1,O3] [--seconds 1.5] [--zoo DIR]

Runs the zoo's ONNX files (`tools/onnx_models.py zoo` writes them into target/onnx_zoo) with
an `onnxruntime.InferenceSession` on the CPU execution provider: `intra_op_num_threads` =
--threads, `inter_op_num_threads` = 1, the default graph optimisations. Prints one JSON line
with the versions, then one per workload with the same keys as `peers run` and
torch_bench.py (median_us, p10_us, p90_us, samples, batch); any other workload is
"unsupported". `peers table` runs it; see README.md beside this file.
"""

import argparse
import json
import os
import platform
import sys

import numpy as np
import onnxruntime as ort

from timing import time_calls

# The zoo's model and the batch of each workload, on [batch, 3, 224, 224].
ZOO = {"O1": ("resnet18", 1), "O2": ("resnet18", 32), "O3": ("mobilenet_v2", 1), "O4": ("mobilenet_v2", 32)}


def run(workload, threads, seconds, zoo):
    if workload not in ZOO:
        return {"unsupported": "runs ONNX files: O1 to O4 only"}
    name, batch = ZOO[workload]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        os.path.join(zoo, f"{name}.onnx"), options, providers=["CPUExecutionProvider"]
    )
    x = np.random.default_rng(0).random((batch, 3, 224, 224), dtype=np.float32)
    feed = {session.get_inputs()[0].name: x}
    return time_calls(lambda: session.run(None, feed), seconds)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workloads", default=",".join(ZOO))
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--zoo", default=os.path.join(here, "..", "..", "target", "onnx_zoo"))
    # Accepted for the table's common arguments; the ONNX workloads read no data set.
    parser.add_argument("--data")
    args = parser.parse_args()

    print(json.dumps({
        "lib": "onnxruntime",
        "version": ort.__version__,
        "python": platform.python_version(),
    }), flush=True)
    for workload in args.workloads.split(","):
        record = {"lib": "onnxruntime", "workload": workload, "threads": str(args.threads)}
        try:
            record.update(run(workload, args.threads, args.seconds, args.zoo))
        except Exception as e:  # one failed workload must not hide the others' results
            record["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
