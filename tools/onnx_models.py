#!/usr/bin/env python3
"""ONNX models for typed-nn's ONNX import and export: committed fixtures, a zoo of larger
models, a trained MNIST example, and a check of the files typed-nn exports.

Every model is exported in eval mode by torch.onnx.export at opset 17 with a dynamic batch:
one graph input `input` and one output `output`, whose first dimension is the symbolic
`batch`; weights inside the .onnx file (no external data); checked by onnx.checker
(full_check); the exporter's metadata_props (stack traces and the like) removed except in the
zoo. The exporter is the one torch uses by default (dynamo=True: torch.export, then
onnxscript, with its graph optimiser), which writes opset 18 at the least: its graph is
lowered to 17 here (lower_18_to_17: the reductions' axes, Split's num_outputs). The few
cases in LEGACY use the TorchScript exporter (dynamo=False) instead, each for the reason
given there. onnxruntime runs on one thread; reruns write the same bytes.

An "io" file, <name>.io.safetensors, holds "input" (float32; int64 token ids for a token
model) and "output" (float32, what onnxruntime computes from that input). Outputs are compared
by the max over elements of |a - b| / max(1, |b|), b the reference; 1e-4 at most passes.

    python3 tools/onnx_models.py fixtures [case ...]
        For every model of the PyTorch parity fixtures (tools/pytorch_parity.py's models(),
        loaded with the committed tests/fixtures/<case>.weights.safetensors), writes
        tests/fixtures/onnx/<case>.onnx and <case>.io.safetensors, whose input is the parity
        fixture's input batch. Checks onnxruntime against PyTorch's eval output, on that batch
        and on its first sample alone (so that the batch really is dynamic). Prints each
        graph's op types with counts and its declared input and output shapes. Skips, with
        the reason, models fed sequence lengths (packed sequences, key padding masks: the
        lengths would be baked into the graph) and models that fail to export; the loss
        fixtures have no model. Writes tests/fixtures/onnx/VERSIONS (torch, onnx,
        onnxruntime, onnxscript, opset) and, when no case is named, SUMMARY.txt (the printed
        op lists, shapes and skips). Exits 1 if an output disagrees.
    python3 tools/onnx_models.py zoo [--out DIR]
        Larger models, seeded, random weights, into DIR (default target/onnx_zoo, not
        committed): torchvision's resnet18, mobilenet_v2, squeezenet1_1 on [N, 3, 224, 224];
        a 2-layer nn.TransformerEncoder (d_model 64, 4 heads, feed-forward 128, batch first,
        no dropout) on [N, 16, 64]; an LSTM tagger (Embedding(100, 32), LSTM(32, 64),
        Linear(64, 10) at every step) on int64 tokens [N, 12]. BatchNorm running statistics
        are those of 4 random inputs, the io batch among them (training mode, cumulative
        average), so that the activations keep their scale (at initialisation mobilenet_v2's
        outputs are ~1e-9). Writes <name>.onnx and <name>.io.safetensors (a batch of 2),
        checked against PyTorch; prints op counts.
    python3 tools/onnx_models.py mnist [--epochs N]
        Trains a small CNN (Conv 8 k3, ReLU, MaxPool 2, Conv 16 k3, ReLU, MaxPool 2, Flatten,
        Linear 64, ReLU, Linear 10) with Adam (lr 1e-3, batch 64, seed 0, default 2 epochs,
        one thread) on data/mnist/, pixels scaled to [0, 1] as typed-nn's mnist::load scales
        them (p / 255, nothing else). Writes examples/onnx/mnist_cnn.onnx (input [batch, 1,
        28, 28]) and examples/onnx/mnist_cnn.json: PyTorch's and onnxruntime's accuracy and
        correct count on the 10,000 test images, the epochs and the seed.
    python3 tools/onnx_models.py check-export DIR
        Checks the models typed-nn exports: each DIR/<name>.onnx with a DIR/<name>.io.safetensors
        beside it ("input" float32 or int64, "output" float32, written by typed-nn). Passes when
        onnx.checker.check_model(full_check=True) accepts it, its default-domain opset is at
        least 17, the first dimension of its graph input is symbolic (a dim_param), and
        onnxruntime's output on "input" has the shape of "output" and is within 1e-4 of it
        (the relative error above, b = typed-nn's output). One line per model; exits 1 if any
        fails or if DIR holds no such pair.
    python3 tools/onnx_models.py all
        fixtures, then zoo, then mnist if examples/onnx/mnist_cnn.onnx or .json is missing.

CI does not run this; the fixtures and the MNIST example are committed and the tests read
them without Python. Needs torch, numpy, safetensors, onnx, onnxruntime, onnxscript (the
dynamo exporter), and torchvision for the zoo.
"""

import argparse
import collections
import contextlib
import gzip
import io
import json
import logging
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
ONNX_FIXTURES = os.path.join(FIXTURES, "onnx")
EXAMPLES = os.path.join(ROOT, "examples", "onnx")
MNIST_DIR = os.path.join(ROOT, "data", "mnist")

OPSET = 17
# The lowest opset the dynamo exporter writes. Asked for 17, it converts its graph before
# optimising it, with onnx's version converter, which fails on ops its optimiser would have
# removed (a Pad folded into a Conv), has no adapter for Split-18 and leaves ReduceMean-18's
# noop_with_empty_axes behind. So dynamo exports at 18, optimised, and lower_18_to_17 rewrites
# the few ops whose form changed at 18 (see there); onnx.checker and onnxruntime check it.
DYNAMO_OPSET = 18
TOLERANCE = 1e-4

# Cases exported with the TorchScript exporter (dynamo=False) at opset 17, and why. Every other
# model goes through the dynamo exporter.
LEGACY = {
    "rnn": "dynamo unrolls nn.RNN over the steps (56 nodes: MatMul, Add, Tanh per step); "
    "TorchScript writes one RNN node",
    "upsample_linear": "dynamo writes 1-d linear upsampling as index arithmetic (GatherND, Sub, "
    "Mul, Add: 20 nodes); TorchScript writes Resize",
    "act_mish": "dynamo writes Mish, an opset-18 op with no opset-17 form; TorchScript writes "
    "Softplus, Tanh, Mul",
}

# Ops whose opset-18 form differs from their opset-17 one, and that lower_18_to_17 rewrites;
# any other op introduced or changed at 18 (Mish, GroupNormalization, Col2Im, ...) fails.
REDUCE_18 = {
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSumSquare",
}


def quiet():
    """Silences the exporters' progress messages and deprecation warnings."""
    warnings.filterwarnings("ignore")
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(logging.ERROR)


def ort():
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def export(model, x, path, legacy=False, strip=True):
    """Exports `model` (eval mode) on example input `x` to `path` at opset 17, batch dimension
    dynamic, and checks the file with onnx.checker (full_check). With `strip`, without the
    exporter's debugging notes (see strip_notes)."""
    import onnx

    model.eval()
    common = dict(input_names=["input"], output_names=["output"], do_constant_folding=True, verbose=False)
    # The dynamo exporter prints its progress, and on failure pages of advice, to stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        if legacy:
            torch.onnx.export(
                model, (x,), path, dynamo=False, opset_version=OPSET,
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **common,
            )
        else:
            torch.onnx.export(
                model, (x,), path, dynamo=True, opset_version=DYNAMO_OPSET, external_data=False,
                dynamic_shapes=({0: torch.export.Dim("batch")},), **common,
            )
    model_proto = onnx.load(path)
    if not legacy:
        try:
            lower_18_to_17(model_proto)
        except ValueError:
            os.remove(path)
            raise
    if strip:
        strip_notes(model_proto)
    onnx.save(model_proto, path)
    onnx.checker.check_model(model_proto, full_check=True)
    return model_proto


def strip_notes(model_proto):
    """Removes the metadata_props and doc strings the exporter leaves on the model, the graph,
    its nodes, values and initializers (each node's Python stack trace with this machine's
    paths and line numbers, its FX node, module names): committed files then hold no local
    paths and do not change when a line of Python moves. The zoo keeps them, as users' files
    have them."""
    graph = model_proto.graph
    model_proto.doc_string = ""
    graph.doc_string = ""
    items = [model_proto, graph, *graph.node, *graph.input, *graph.output, *graph.value_info, *graph.initializer]
    for item in items:
        del item.metadata_props[:]
        if hasattr(item, "doc_string"):
            item.doc_string = ""

def lower_18_to_17(model_proto):
    """Rewrites, in place, an opset-18 graph of the default domain as opset 17: the reductions'
    `axes` input (a constant) becomes their attribute, as before 18 (noop_with_empty_axes, new
    at 18, only where 0); Split's `num_outputs` (new at 18) becomes an explicit `split` input
    of the sizes opset 18 gives (ceil(d / n), the last chunk smaller); Pad without its new
    `axes` input, Resize without its new attributes (antialias, axes,
    keep_aspect_ratio_policy) or with their defaults, and ScatterElements / ScatterND without
    the new reductions max, min are the same op at 17. Raises ValueError for anything else
    introduced or changed at 18 (Mish, GroupNormalization, ...), and for a subgraph."""
    import onnx
    from onnx import numpy_helper, shape_inference

    if default_opset(model_proto) != DYNAMO_OPSET:
        raise ValueError(f"opset {default_opset(model_proto)}, expected {DYNAMO_OPSET}")
    graph = model_proto.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    inferred = shape_inference.infer_shapes(model_proto, strict_mode=True).graph
    shapes = {}
    for vi in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
    attrs = lambda node: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def drop_attrs(node, names):
        keep = [a for a in node.attribute if a.name not in names]
        del node.attribute[:]
        node.attribute.extend(keep)

    for node in graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ValueError(f"{node.op_type} {node.name}: subgraphs are not lowered")
        if node.domain not in ("", "ai.onnx"):
            continue
        since = onnx.defs.get_schema(node.op_type, DYNAMO_OPSET).since_version
        if since < DYNAMO_OPSET:
            continue
        a = attrs(node)
        if node.op_type in REDUCE_18:
            if len(node.input) > 1 and node.input[1]:
                if node.input[1] not in constants:
                    raise ValueError(f"{node.op_type} {node.name}: axes not a constant")
                axes = [int(v) for v in constants[node.input[1]].reshape(-1)]
                del node.input[1:]
                node.attribute.append(onnx.helper.make_attribute("axes", axes))
            elif a.get("noop_with_empty_axes", 0):
                raise ValueError(f"{node.op_type} {node.name}: noop_with_empty_axes = 1")
            drop_attrs(node, {"noop_with_empty_axes"})
        elif node.op_type == "Split":
            if "num_outputs" in a:
                n, axis = a["num_outputs"], a.get("axis", 0)
                shape = shapes.get(node.input[0])
                if len(node.input) > 1 and node.input[1] or shape is None:
                    raise ValueError(f"Split {node.name}: num_outputs with a split input, or no shape")
                d = shape[axis]
                if d is None:
                    raise ValueError(f"Split {node.name}: dimension {axis} not static")
                chunk = -(-d // n)
                sizes = np.array([chunk] * (n - 1) + [d - chunk * (n - 1)], dtype=np.int64)
                name = f"{node.name or node.output[0]}_split_sizes"
                graph.initializer.append(numpy_helper.from_array(sizes, name))
                del node.input[1:]
                node.input.append(name)
                drop_attrs(node, {"num_outputs"})
        elif node.op_type == "Pad":
            if len(node.input) > 3 and node.input[3]:
                raise ValueError(f"Pad {node.name}: axes input (new at 18)")
        elif node.op_type == "Resize":
            defaults = {"antialias": 0, "keep_aspect_ratio_policy": b"stretch"}
            if "axes" in a or any(a.get(k, v) != v for k, v in defaults.items()):
                raise ValueError(f"Resize {node.name}: attributes new at 18 not at their defaults")
            drop_attrs(node, {"antialias", "axes", "keep_aspect_ratio_policy"})
        elif node.op_type in ("ScatterElements", "ScatterND"):
            if a.get("reduction", b"none") in (b"max", b"min"):
                raise ValueError(f"{node.op_type} {node.name}: reduction max/min (new at 18)")
        else:
            raise ValueError(f"{node.op_type} (opset {since}) has no opset-{OPSET} form")
    used = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    for o in model_proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = OPSET


def default_opset(model_proto):
    return next((o.version for o in model_proto.opset_import if o.domain in ("", "ai.onnx")), None)


def op_counts(model_proto):
    """Op types of every node, subgraphs (If, Loop, Scan bodies) and local functions included."""
    import onnx

    counts = collections.Counter()

    def walk(graph):
        for node in graph.node:
            domain = "" if node.domain in ("", "ai.onnx") else node.domain + "."
            counts[domain + node.op_type] += 1
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g)

    walk(model_proto.graph)
    for f in model_proto.functions:
        for node in f.node:
            counts[f"{f.name}/{node.op_type}"] += 1
    return counts


def graph_inputs(model_proto):
    """Graph inputs that are not initializers (old exports list weights as inputs too)."""
    weights = {t.name for t in model_proto.graph.initializer}
    return [i for i in model_proto.graph.input if i.name not in weights]


def describe(value_info):
    """`name: float32[batch, 3, 16, 16]` as declared (dim_param or dim_value; ? if neither)."""
    import onnx

    t = value_info.type.tensor_type
    dims = []
    for d in t.shape.dim:
        dims.append(d.dim_param if d.HasField("dim_param") else str(d.dim_value) if d.HasField("dim_value") else "?")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name if t.elem_type else "?"
    return f"{value_info.name}: {dtype}[{', '.join(dims)}]"


def summary_lines(name, model_proto, exporter):
    counts = op_counts(model_proto)
    ops = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
    ins = "; ".join(describe(i) for i in graph_inputs(model_proto))
    outs = "; ".join(describe(o) for o in model_proto.graph.output)
    return [
        f"{name} ({exporter}, {sum(counts.values())} nodes)",
        f"    in  {ins}",
        f"    out {outs}",
        f"    ops {ops}",
    ]


def session(path):
    onnxruntime = ort()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_onnx(path, x):
    s = session(path)
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def max_error(a, b):
    """max |a - b| / max(1, |b|), b the reference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def save_io(path, x, y):
    from safetensors.numpy import save_file

    save_file({"input": np.ascontiguousarray(x), "output": np.ascontiguousarray(y, dtype=np.float32)}, path)


def versions():
    import onnx
    import onnxscript

    return {
        "torch": torch.__version__, "onnx": onnx.__version__,
        "onnxruntime": ort().__version__, "onnxscript": onnxscript.__version__, "opset": str(OPSET),
    }


# ---------------------------------------------------------------------------------------------
# fixtures


def parity_models():
    """tools/pytorch_parity.py's models, built as it builds them (its printing silenced)."""
    sys.path.insert(0, TOOLS)
    import pytorch_parity

    with contextlib.redirect_stdout(io.StringIO()):
        return pytorch_parity.models()


def skip_reason(model):
    if getattr(model, "lengths", None) is not None:
        return "takes sequence lengths (packed sequences or a key padding mask)"
    if getattr(model, "part", None) is not None:
        return "takes the lengths of one part of its input (a key padding mask)"
    return None


def fixtures(cases):
    from safetensors.torch import load_file

    quiet()
    os.makedirs(ONNX_FIXTURES, exist_ok=True)
    models = parity_models()
    known = {name for name, *_ in models}
    unknown = set(cases) - known
    if unknown:
        sys.exit(f"unknown case(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    report, skipped, bad = [], [], []
    for name, model, _, _ in models:
        if cases and name not in cases:
            continue
        reason = skip_reason(model)
        if reason is not None:
            skipped.append((name, reason))
            print(f"{name}: skipped, {reason}")
            continue
        model.load_state_dict(load_file(os.path.join(FIXTURES, f"{name}.weights.safetensors")))
        model.eval()
        data = load_file(os.path.join(FIXTURES, f"{name}.data.safetensors"))
        x = data["input"]
        with torch.no_grad():
            expected = model(x)
            expected_one = model(x[:1])
        drift = max_error(expected.numpy(), data["eval_output"].numpy())
        onnx_path = os.path.join(ONNX_FIXTURES, f"{name}.onnx")
        io_path = os.path.join(ONNX_FIXTURES, f"{name}.io.safetensors")
        legacy = name in LEGACY
        try:
            model_proto = export(model, x, onnx_path, legacy=legacy)
        except Exception as e:  # noqa: BLE001 -- any exporter failure is a skip with its reason
            for p in (onnx_path, io_path):
                if os.path.exists(p):
                    os.remove(p)
            first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
            skipped.append((name, f"export failed: {type(e).__name__}: {first[:200]}"))
            print(f"{name}: skipped, export failed: {type(e).__name__}: {first[:200]}")
            continue
        y = run_onnx(onnx_path, x.numpy())
        y_one = run_onnx(onnx_path, x[:1].numpy())
        err = max_error(y, expected.numpy())
        err_one = max_error(y_one, expected_one.numpy())
        lines = summary_lines(name, model_proto, "torchscript" if legacy else "dynamo")
        status = f"    onnxruntime vs torch: batch {x.shape[0]} {err:.2e}, batch 1 {err_one:.2e}"
        if drift > TOLERANCE:
            status += f"; torch vs the committed eval_output {drift:.2e}"
        if max(err, err_one, drift) > TOLERANCE:
            bad.append(name)
            status += "  MISMATCH (io file not written)"
            if os.path.exists(io_path):
                os.remove(io_path)
        else:
            save_io(io_path, x.numpy(), y)
        print("\n".join(lines + [status]))
        report.append(lines)
    if not cases:
        dynamic_steps()
    with open(os.path.join(ONNX_FIXTURES, "VERSIONS"), "w") as f:
        f.writelines(f"{k} {v}\n" for k, v in versions().items())
    if not cases:
        write_summary(report, skipped)
    print(f"\n{len(report)} exported, {len(skipped)} skipped, {len(bad)} mismatched"
          + (f": {', '.join(bad)}" if bad else ""))
    for name, reason in skipped:
        print(f"  skipped {name}: {reason}")
    print("  the loss fixtures (loss_*) have no model")
    return 1 if bad else 0


def dynamic_steps():
    """per_step_dynamic: Linear, Tanh, Linear on every step of [batch, steps, 6] sequences,
    with the steps a named dimension as well as the batch (a const parameter of the imported
    network); the io file holds 5 steps."""
    import onnx

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3)).eval()
    x = torch.rand(2, 5, 6)
    path = os.path.join(ONNX_FIXTURES, "per_step_dynamic.onnx")
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(
            model, (x,), path, dynamo=False, opset_version=OPSET, input_names=["input"],
            output_names=["output"], do_constant_folding=True,
            dynamic_axes={"input": {0: "batch", 1: "steps"}, "output": {0: "batch", 1: "steps"}},
        )
    model_proto = onnx.load(path)
    strip_notes(model_proto)
    onnx.save(model_proto, path)
    onnx.checker.check_model(model_proto, full_check=True)
    y = run_onnx(path, x.numpy())
    with torch.no_grad():
        assert max_error(y, model(x).numpy()) <= TOLERANCE
    save_io(os.path.join(ONNX_FIXTURES, "per_step_dynamic.io.safetensors"), x.numpy(), y)
    print(f"per_step_dynamic: {op_counts(model_proto)}")


def write_summary(report, skipped):
    with open(os.path.join(ONNX_FIXTURES, "SUMMARY.txt"), "w") as f:
        f.write("# Written by tools/onnx_models.py fixtures: each graph's exporter, declared input and\n")
        f.write(f"# output, and op types with counts (opset {OPSET}).\n\n")
        for lines in report:
            f.write("\n".join(lines) + "\n")
        f.write("\n# Skipped\n")
        for name, reason in skipped:
            f.write(f"{name}: {reason}\n")
        f.write("loss_*: no model\n")


# ---------------------------------------------------------------------------------------------
# zoo


class LstmTagger(nn.Module):
    """Embedding(100, 32), LSTM(32, 64), Linear(64, 10) at every step: tokens [N, 12] to
    logits [N, 12, 10]."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


def zoo_models():
    """(name, build, input of a batch of 2); each built and fed from its own seed."""
    import torchvision

    def transformer():
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
        return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def images(g):
        return torch.rand(2, 3, 224, 224, generator=g)

    return [
        ("resnet18", lambda: torchvision.models.resnet18(weights=None), images),
        ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(weights=None), images),
        ("squeezenet1_1", lambda: torchvision.models.squeezenet1_1(weights=None), images),
        ("transformer_encoder", transformer, lambda g: torch.rand(2, 16, 64, generator=g) - 0.5),
        ("lstm_tagger", LstmTagger, lambda g: torch.randint(0, 100, (2, 12), generator=g)),
    ]


def calibrate_batchnorm(model, a, b):
    """Running statistics of BatchNorm layers from the batch [a, b] (a forward pass in
    training mode, cumulative average); models without BatchNorm are left alone."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.cat([a, b]))


def zoo(out):
    quiet()
    os.makedirs(out, exist_ok=True)
    bad = []
    for seed, (name, build, make_input) in enumerate(zoo_models()):
        torch.manual_seed(seed)
        model = build()
        x = make_input(torch.Generator().manual_seed(100 + seed))
        calibrate_batchnorm(model, make_input(torch.Generator().manual_seed(200 + seed)), x)
        model.eval()
        with torch.no_grad():
            expected = model(x)
        onnx_path = os.path.join(out, f"{name}.onnx")
        model_proto = export(model, x, onnx_path, strip=False)  # as users' files are
        y = run_onnx(onnx_path, x.numpy())
        err = max_error(y, expected.numpy())
        save_io(os.path.join(out, f"{name}.io.safetensors"), x.numpy(), y)
        lines = summary_lines(name, model_proto, "dynamo")
        lines.append(f"    io {name}.io.safetensors: input {x.numpy().dtype}{list(x.shape)}, output {y.dtype}{list(y.shape)}")
        lines.append(f"    onnxruntime vs torch {err:.2e}" + ("  MISMATCH" if err > TOLERANCE else ""))
        print("\n".join(lines))
        if err > TOLERANCE:
            bad.append(name)
    print(f"\nzoo in {out}: {len(bad)} mismatched" + (f": {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------------
# mnist


def read_idx(path):
    """An IDX file (gzipped or raw) as a uint8 array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def mnist_split(images, labels):
    """Images [n, 1, 28, 28] scaled as typed-nn's mnist::load scales them (p / 255), labels."""
    x = read_idx(os.path.join(MNIST_DIR, images)).astype(np.float32) / np.float32(255.0)
    y = read_idx(os.path.join(MNIST_DIR, labels)).astype(np.int64)
    return torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(y)


def mnist_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def mnist(epochs, seed=0, batch=64, lr=1e-3):
    quiet()
    torch.set_num_threads(1)  # the same sums in the same order on every run
    train_x, train_y = mnist_split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    test_x, test_y = mnist_split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    torch.manual_seed(seed)
    model = mnist_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(train_x), generator=order)
        total = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i: i + batch]
            loss = nn.functional.cross_entropy(model(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch}: mean training loss {total / len(perm):.4f}")
    model.eval()
    with torch.no_grad():
        logits = model(test_x)
    correct = int((logits.argmax(1) == test_y).sum())
    os.makedirs(EXAMPLES, exist_ok=True)
    onnx_path = os.path.join(EXAMPLES, "mnist_cnn.onnx")
    model_proto = export(model, test_x[:2], onnx_path)
    onnx_logits = run_onnx(onnx_path, test_x.numpy())
    onnx_correct = int((onnx_logits.argmax(1) == test_y.numpy()).sum())
    n = len(test_y)
    result = {
        "model": "Conv2d(1,8,3) ReLU MaxPool2d(2) Conv2d(8,16,3) ReLU MaxPool2d(2) Flatten Linear(400,64) ReLU Linear(64,10)",
        "input": "input: float32[batch, 1, 28, 28], pixels / 255 (typed-nn's mnist::load); output: logits [batch, 10]",
        "training": f"Adam lr {lr}, batch {batch}, cross-entropy, torch.set_num_threads(1)",
        "epochs": epochs,
        "seed": seed,
        "test_images": n,
        "torch_test_correct": correct,
        "torch_test_accuracy": correct / n,
        "onnxruntime_test_correct": onnx_correct,
        "onnxruntime_test_accuracy": onnx_correct / n,
        "onnxruntime_vs_torch_max_error": max_error(onnx_logits, logits.numpy()),
        "versions": versions(),
    }
    with open(os.path.join(EXAMPLES, "mnist_cnn.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("\n".join(summary_lines("mnist_cnn", model_proto, "dynamo")))
    print(f"test accuracy: torch {correct}/{n}, onnxruntime {onnx_correct}/{n}; "
          f"{os.path.getsize(onnx_path)} bytes in {os.path.relpath(onnx_path, ROOT)}")
    return 0 if onnx_correct == correct and result["onnxruntime_vs_torch_max_error"] <= TOLERANCE else 1


# ---------------------------------------------------------------------------------------------
# check-export


def check_one(onnx_path, io_path):
    """(node count or None, max error or None, None or why it fails)."""
    import onnx
    from safetensors.numpy import load_file

    try:
        model_proto = onnx.load(onnx_path)
        onnx.checker.check_model(model_proto, full_check=True)
    except Exception as e:  # noqa: BLE001 -- a model onnx rejects is a failure, with onnx's words
        return None, None, f"onnx.checker: {one_line(e)}"
    nodes = sum(op_counts(model_proto).values())
    opset = default_opset(model_proto)
    if opset is None or opset < OPSET:
        return nodes, None, f"opset {opset}, expected >= {OPSET}"
    inputs = graph_inputs(model_proto)
    if len(inputs) != 1:
        return nodes, None, f"{len(inputs)} graph inputs, expected 1"
    dims = inputs[0].type.tensor_type.shape.dim
    if not dims or not dims[0].dim_param:
        return nodes, None, f"batch dimension not symbolic: {describe(inputs[0])}"
    try:
        io_tensors = load_file(io_path)
    except Exception as e:  # noqa: BLE001
        return nodes, None, f"{os.path.basename(io_path)}: {one_line(e)}"
    if set(io_tensors) != {"input", "output"}:
        return nodes, None, f"io tensors {sorted(io_tensors)}, expected input and output"
    x, expected = io_tensors["input"], io_tensors["output"]
    if x.dtype not in (np.float32, np.int64) or expected.dtype != np.float32:
        return nodes, None, f"io dtypes input {x.dtype}, output {expected.dtype}"
    try:
        y = run_onnx(onnx_path, x)
    except Exception as e:  # noqa: BLE001
        return nodes, None, f"onnxruntime: {one_line(e)}"
    if y.shape != expected.shape:
        return nodes, None, f"onnxruntime output {list(y.shape)}, typed-nn's {list(expected.shape)}"
    err = max_error(y, expected)
    if not err <= TOLERANCE:
        return nodes, err, f"max error {err:.2e} > {TOLERANCE:.0e}"
    return nodes, err, None


def one_line(e, limit=200):
    return " ".join(str(e).split())[:limit]


def check_export(directory):
    if not os.path.isdir(directory):
        print(f"{directory}: not a directory")
        return 1
    names = sorted(
        f[: -len(".onnx")] for f in os.listdir(directory)
        if f.endswith(".onnx") and os.path.exists(os.path.join(directory, f[: -len(".onnx")] + ".io.safetensors"))
    )
    if not names:
        print(f"{directory}: no <name>.onnx with a <name>.io.safetensors beside it")
        return 1
    failed = 0
    for name in names:
        nodes, err, why = check_one(os.path.join(directory, f"{name}.onnx"), os.path.join(directory, f"{name}.io.safetensors"))
        nodes_s = "-" if nodes is None else str(nodes)
        err_s = "-" if err is None else f"{err:.2e}"
        print(f"{name:32s} {nodes_s:>5s} ops  max error {err_s:>9s}  " + ("PASS" if why is None else f"FAIL ({why})"))
        failed += why is not None
    print(f"{len(names) - failed}/{len(names)} passed")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fixtures", help="tests/fixtures/onnx from the parity models")
    p.add_argument("cases", nargs="*")
    p = sub.add_parser("zoo", help="larger models into target/onnx_zoo")
    p.add_argument("--out", default=os.path.join(ROOT, "target", "onnx_zoo"))
    p = sub.add_parser("mnist", help="train and export examples/onnx/mnist_cnn")
    p.add_argument("--epochs", type=int, default=2)
    p = sub.add_parser("check-export", help="check typed-nn's exported models in DIR")
    p.add_argument("dir")
    sub.add_parser("all", help="fixtures, zoo, and mnist when its files are missing")
    args = parser.parse_args()

    if args.command == "fixtures":
        return fixtures(args.cases)
    if args.command == "zoo":
        return zoo(args.out)
    if args.command == "mnist":
        return mnist(args.epochs)
    if args.command == "check-export":
        return check_export(args.dir)
    status = fixtures([])
    status |= zoo(os.path.join(ROOT, "target", "onnx_zoo"))
    if not all(os.path.exists(os.path.join(EXAMPLES, f"mnist_cnn.{e}")) for e in ("onnx", "json")):
        status |= mnist(2)
    return status


if __name__ == "__main__":
    sys.exit(main())
