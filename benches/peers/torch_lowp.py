"""W1, W2, W5, O1 (inference) and W3, W6 (training) of BENCHMARKS.md in PyTorch and
onnxruntime at low precision on the CPU, timed like `peers run`, to set beside typed-nn's
int8 and bf16 networks.

    python torch_lowp.py --threads 1 [--workloads W1,W2,W5,O1,W3,W6] [--seconds 1.5]

The models, inputs and timed calls are torch_bench.py's (imported from it). Variants:

- inference (W1, W2, W5, and O1: torchvision's resnet18 at batch 1), eval mode under `torch.inference_mode()`, softmax head included:
  - `f32`: as torch_bench.py;
  - `int8-dynamic`: `torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, qint8)` on
    the x86 quantised engine (weights int8, activations quantised per call; W5's convolutions
    stay f32);
  - `int8-static`: FX graph mode, `prepare_fx`/`convert_fx` with
    `get_default_qconfig_mapping("x86")`, calibrated on 32 random inputs of the workload's shape;
  - `bf16-autocast`: each call under `torch.autocast("cpu", dtype=torch.bfloat16)`;
  - `ort-f32`, `ort-int8`: the f32 model with its softmax exported by `torch.onnx.export`
    (dynamo exporter, fixed batch) to a temporary directory, as is and after onnxruntime's
    `quant_pre_process` and `quantize_dynamic` (int8 weights, activations quantised per
    call; every op type it knows, so W5's Conv too, as ConvInteger), in an
    `InferenceSession` as ort_bench.py makes it (CPU execution provider,
    `intra_op_num_threads` = --threads, `inter_op_num_threads` = 1, default optimisations);
  - `ort-int8-linear` (W5 and O1): the same with only MatMul and Gemm quantised, the
    convolutions left f32, as `int8-dynamic` does in PyTorch;
- training (W3, W6), one Adam step per call as torch_bench.py: `f32`, and `bf16-autocast`
  (forward and loss under autocast, backward and the step outside it).

Prints one JSON line with the versions and the CPU's features as PyTorch sees them, then one
per (workload, variant) with torch_bench.py's keys (median_us, p10_us, p90_us, samples,
batch) plus "variant"; inference lines also "max_abs_err": the largest difference of the
variant's softmax output from `f32`'s on the timed input. A variant that fails prints
"error" instead of the times.

torch 2.x deprecates `torch.ao.quantization` (for torchao); its deprecation warnings are
silenced here, its kernels (fbgemm/oneDNN under the x86 engine) are what is timed.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import warnings

import torch
from torch import nn

from timing import time_calls
from torch_bench import cnn, infer, labels, mlp, train

WORKLOADS = ["W1", "W2", "W5", "O1", "W3", "W6"]
INFER_VARIANTS = ["f32", "int8-dynamic", "int8-static", "bf16-autocast", "ort-f32", "ort-int8",
                  "ort-int8-linear"]
TRAIN_VARIANTS = ["f32", "bf16-autocast"]
CALIBRATION = 32


def softmax(z):
    return torch.softmax(z, dim=1)


def inference_case(workload):
    if workload == "W1":
        return mlp(), (1, 784)
    if workload == "W2":
        return mlp(), (64, 784)
    if workload == "W5":
        return cnn(), (1, 3, 64, 64)
    if workload == "O1":
        # torchvision's resnet18 at batch 1, the model the ONNX zoo exports (random weights).
        import torchvision

        return torchvision.models.resnet18(weights=None), (1, 3, 224, 224)
    raise ValueError(f"unknown inference workload {workload}")


def training_case(workload):
    if workload == "W3":
        return mlp(), torch.rand(64, 784), labels(64)
    if workload == "W6":
        return cnn(), torch.rand(32, 3, 64, 64), labels(32)
    raise ValueError(f"unknown training workload {workload}")


def infer_autocast(model, x, head, seconds):
    model.eval()

    @torch.inference_mode()
    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return head(model(x))

    return time_calls(step, seconds)


def train_autocast(model, x, y, loss_fn, seconds):
    """torch_bench.py's `train` with the forward pass and the loss under bf16 autocast; the
    backward pass and the optimizer step outside it (no GradScaler: bf16 needs none)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return time_calls(step, seconds)


def quantize_static(model, shape):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    model.eval()
    example = torch.rand(shape)
    prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example_inputs=(example,))
    with torch.inference_mode():
        for _ in range(CALIBRATION):
            prepared(torch.rand(shape))
    return convert_fx(prepared)


def ort_session(model, shape, threads, variant, directory):
    import onnxruntime as ort

    f32_path = os.path.join(directory, "f32.onnx")
    if not os.path.exists(f32_path):
        exported = nn.Sequential(model, nn.Softmax(dim=1)).eval()
        # The dynamo exporter prints its progress to stdout, which holds only JSON lines here.
        with contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(exported, (torch.rand(shape),), f32_path, dynamo=True,
                              external_data=False)
    path = f32_path
    if variant != "ort-f32":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process

        prepared = os.path.join(directory, "prepared.onnx")
        if not os.path.exists(prepared):
            quant_pre_process(f32_path, prepared)
        path = os.path.join(directory, f"{variant}.onnx")
        op_types = ["MatMul", "Gemm"] if variant == "ort-int8-linear" else None
        quantize_dynamic(prepared, path, op_types_to_quantize=op_types,
                         weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def max_abs_err(y, reference):
    if reference is None:
        return None
    y = torch.as_tensor(y).float()
    return (y - reference).abs().max().item()


def run_inference(workload, variant, threads, seconds, directory, reference):
    """The variant's timings, and its softmax output on the timed input."""
    model, shape = inference_case(workload)
    model.eval()
    x = torch.rand(shape)
    if variant in ("f32", "int8-dynamic", "int8-static"):
        if variant == "int8-dynamic":
            model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        elif variant == "int8-static":
            model = quantize_static(model, shape)
        stats = infer(model, x, softmax, seconds)
        with torch.inference_mode():
            y = softmax(model(x))
    elif variant == "bf16-autocast":
        stats = infer_autocast(model, x, softmax, seconds)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = softmax(model(x))
    elif variant in ("ort-f32", "ort-int8", "ort-int8-linear"):
        if variant == "ort-int8-linear" and workload not in ("W5", "O1"):
            return None, None  # the MLPs hold only MatMul/Gemm: the same as ort-int8
        session = ort_session(model, shape, threads, variant, directory)
        feed = {session.get_inputs()[0].name: x.numpy()}
        try:
            stats = time_calls(lambda: session.run(None, feed), seconds)
            y = session.run(None, feed)[0]
        finally:
            del session  # its thread pool must not spin beside the next variant's
    else:
        raise ValueError(f"unknown variant {variant}")
    y = torch.as_tensor(y).float()
    stats["max_abs_err"] = max_abs_err(y, reference)
    return stats, y


def run_training(workload, variant, seconds):
    model, x, y = training_case(workload)
    if variant == "f32":
        return train(model, x, y, nn.CrossEntropyLoss(), seconds)
    if variant == "bf16-autocast":
        return train_autocast(model, x, y, nn.CrossEntropyLoss(), seconds)
    raise ValueError(f"unknown variant {variant}")


def header():
    record = {
        "lib": "torch-lowp",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "quantized_engine": torch.backends.quantized.engine,
    }
    try:
        import onnxruntime

        record["onnxruntime"] = onnxruntime.__version__
    except Exception as e:
        record["onnxruntime"] = f"not importable: {type(e).__name__}: {e}"
    # What the CPU offers for bf16 and int8 as PyTorch's cpuinfo sees it (oneDNN picks its
    # kernels from the same CPUID bits).
    try:
        caps = torch.cpu.get_capabilities()
        for key in ("avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"):
            record[key] = caps.get(key)
    except Exception as e:
        record["capabilities"] = f"unavailable: {type(e).__name__}: {e}"
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if check is not None:
        try:
            record["mkldnn_bf16_supported"] = bool(check())
        except Exception:
            pass
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated")
    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "x86"
    torch.manual_seed(0)
    print(json.dumps(header()), flush=True)
    for workload in args.workloads.split(","):
        training = workload in ("W3", "W6")
        variants = TRAIN_VARIANTS if training else INFER_VARIANTS
        reference = None  # f32's softmax output
        with tempfile.TemporaryDirectory(prefix=f"torch_lowp_{workload}_") as directory:
            for variant in variants:
                lib = "onnxruntime" if variant.startswith("ort-") else "torch"
                record = {"lib": lib, "workload": workload, "variant": variant,
                          "threads": str(args.threads)}
                torch.manual_seed(0)  # each variant the same weights and inputs
                try:
                    if training:
                        record.update(run_training(workload, variant, args.seconds))
                    else:
                        stats, y = run_inference(
                            workload, variant, args.threads, args.seconds, directory, reference
                        )
                        if stats is None:
                            continue
                        if variant == "f32":
                            reference = y
                            del stats["max_abs_err"]
                        record.update(stats)
                except Exception as e:  # one failed variant must not hide the others' results
                    record["error"] = f"{type(e).__name__}: {e}".strip()[:500]
                print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
