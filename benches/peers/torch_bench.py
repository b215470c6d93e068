"""W1-W13, E1-E3 and O1-O4 of BENCHMARKS.md in PyTorch on the CPU, timed like `peers run`.

    python torch_bench.py --threads 1 [--workloads W1,W3] [--seconds 1.5] [--data DIR]

Prints one JSON line with the versions, then one per workload with the same keys as
`peers run` (median_us, p10_us, p90_us, samples, batch; E1-E3: seconds, accuracy). O1-O4
run torchvision's resnet18 and mobilenet_v2 (the models the ONNX zoo is exported from) with
their own random weights.
`peers table` runs it; see README.md beside this file.
"""

import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time
from array import array

import torch
from torch import nn
from torch.nn import functional as F

from timing import time_calls

WORKLOADS = [
    "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13", "E1", "E2", "E3",
    "O1", "O2", "O3", "O4",
]
# O1-O4: the torchvision model and the batch, on [batch, 3, 224, 224].
ZOO = {"O1": ("resnet18", 1), "O2": ("resnet18", 32), "O3": ("mobilenet_v2", 1), "O4": ("mobilenet_v2", 32)}
# W11: characters generated per call (its figures are per character).
GENERATED = 200
# W13: tokens generated per call (its figures are per token).
GPT_GENERATED = 256


def mlp():
    """W1-W3, E1: logits; the softmax is applied at inference and fused into the loss in training."""
    return nn.Sequential(
        nn.Linear(784, 128), nn.ReLU(),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )


def tiny():
    return nn.Sequential(
        nn.Linear(4, 16), nn.Tanh(),
        nn.Linear(16, 16), nn.Tanh(),
        nn.Linear(16, 2),
    )


def cnn():
    """W5-W6: the seed CNN on [3, 64, 64]."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 14 * 14, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def mnist_cnn():
    """E2: the CNN of examples/mnist_cnn.rs on [1, 28, 28]."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


class SeedRnn(nn.Module):
    """W7-W8: SimpleRNN(50, tanh) over 100 steps, the last state into Linear(50, 1)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 50, batch_first=True)
        self.out = nn.Linear(50, 1)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.out(h[-1])


class SeqLstm(nn.Module):
    """W9, E3: LSTM(128) over 28 rows of 28 features, the last state into Linear(128, 10)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.out(h[-1])


class CharLm(nn.Module):
    """W10-W11: Embedding(100, 64), LSTM(256) returning every step, Linear(256, 100) at every
    step; the (h, c) state passed in and out, as generation loops carry it."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 64)
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.out = nn.Linear(256, 100)

    def forward(self, x, state=None):
        h, state = self.lstm(self.emb(x), state)
        return self.out(h), state


def step_cross_entropy(output, y):
    """Cross-entropy at every step: the logits [B, T, 100] against classes [B, T]."""
    logits, _ = output
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def generate(model, seconds):
    """W11: 200 characters, greedily, one step at a time with the (h, c) state carried;
    the figures per character."""
    model.eval()

    @torch.inference_mode()
    def run():
        token, state = torch.zeros(1, 1, dtype=torch.long), None
        for _ in range(GENERATED):
            logits, state = model(token, state)
            token = torch.softmax(logits[:, -1], dim=-1).argmax(-1, keepdim=True)
        return token

    stats = time_calls(run, seconds)
    for key in ("median_us", "p10_us", "p90_us"):
        stats[key] /= GENERATED
    return stats


class GptBlock(nn.Module):
    """A pre-norm block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)), the
    attention causal through F.scaled_dot_product_attention (PyTorch's fused kernel), or
    one query against a key-value cache that the caller carries."""

    def __init__(self, dim=128, heads=4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def attend(self, x, cache):
        b, t, f = x.shape
        q, k, v = (
            z.view(b, t, self.heads, f // self.heads).transpose(1, 2)
            for z in self.qkv(self.ln1(x)).chunk(3, dim=-1)
        )
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            # Generation: this step's key and value join the cache, the query sees them all.
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
            y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(b, t, f))

    def forward(self, x, cache=None):
        x = x + self.attend(x, cache)
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    """W12-W13: Embedding(100, 128) and learnt positions, two pre-norm blocks (causal
    attention, 4 heads, MLP 128->512 GELU->128), LayerNorm, Linear(128, 100) per step."""

    def __init__(self, window):
        super().__init__()
        self.emb, self.pos = nn.Embedding(100, 128), nn.Embedding(window, 128)
        self.blocks = nn.ModuleList([GptBlock(), GptBlock()])
        self.ln, self.out = nn.LayerNorm(128), nn.Linear(128, 100)

    def forward(self, x, caches=None, start=0):
        positions = torch.arange(start, start + x.shape[1])
        h = self.emb(x) + self.pos(positions)
        for i, block in enumerate(self.blocks):
            h = block(h, None if caches is None else caches[i])
        return self.out(self.ln(h))


def step_logits_cross_entropy(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def generate_gpt(model, seconds):
    """W13: 256 tokens, greedily, one step at a time with each block's key-value cache
    carried; the figures per token."""
    model.eval()

    @torch.inference_mode()
    def run():
        token, caches = torch.zeros(1, 1, dtype=torch.long), [{}, {}]
        for step in range(GPT_GENERATED):
            logits = model(token, caches, step)
            token = torch.softmax(logits[:, -1], dim=-1).argmax(-1, keepdim=True)
        return token

    stats = time_calls(run, seconds)
    for key in ("median_us", "p10_us", "p90_us"):
        stats[key] /= GPT_GENERATED
    return stats


def infer(model, x, head, seconds):
    model.eval()

    @torch.inference_mode()
    def step():
        return head(model(x))

    return time_calls(step, seconds)


def train(model, x, y, loss_fn, seconds):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return time_calls(step, seconds)


def labels(n):
    return torch.arange(n) % 10


def read_idx(path):
    """An IDX file (gzipped or not) as (dims, bytes)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndims}I", raw[4 : 4 + 4 * ndims])
    return dims, raw[4 + 4 * ndims :]


def find(data, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(os.path.join(data, stem))


def load_mnist(data, split):
    dims, pixels = read_idx(find(data, f"{split}-images-idx3-ubyte"))
    _, classes = read_idx(find(data, f"{split}-labels-idx1-ubyte"))
    x = torch.tensor(array("B", pixels), dtype=torch.float32).reshape(dims[0], 784) / 255.0
    y = torch.tensor(array("B", classes), dtype=torch.long)
    return x, y


def epoch(data, model, shape):
    """One epoch of `model` over MNIST, shuffled batches of 64, then test accuracy; each
    image reshaped to `shape` (E1: 784, E2: 1x28x28, E3: 28 rows of 28)."""
    train_x, train_y = load_mnist(data, "train")
    test_x, test_y = load_mnist(data, "t10k")
    train_x = train_x.reshape(-1, *shape)
    test_x = test_x.reshape(-1, *shape)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(train_y))
    start = time.perf_counter()
    for i in range(0, len(order), 64):
        idx = order[i : i + 64]
        opt.zero_grad()
        loss_fn(model(train_x[idx]), train_y[idx]).backward()
        opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.inference_mode():
        accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
    return {"seconds": seconds, "accuracy": accuracy}


def run(workload, seconds, data):
    softmax = lambda z: torch.softmax(z, dim=1)
    if workload == "W1":
        return infer(mlp(), torch.rand(1, 784), softmax, seconds)
    if workload == "W2":
        return infer(mlp(), torch.rand(64, 784), softmax, seconds)
    if workload == "W3":
        return train(mlp(), torch.rand(64, 784), labels(64), nn.CrossEntropyLoss(), seconds)
    if workload == "W4":
        return infer(tiny(), torch.rand(1, 4), lambda z: z, seconds)
    if workload == "W5":
        return infer(cnn(), torch.rand(1, 3, 64, 64), softmax, seconds)
    if workload == "W6":
        return train(cnn(), torch.rand(32, 3, 64, 64), labels(32), nn.CrossEntropyLoss(), seconds)
    if workload == "W7":
        return infer(SeedRnn(), torch.rand(1, 100, 1), torch.sigmoid, seconds)
    if workload == "W8":
        targets = (torch.arange(32) % 2).float().reshape(32, 1)
        return train(SeedRnn(), torch.rand(32, 100, 1), targets, nn.BCEWithLogitsLoss(), seconds)
    if workload == "W9":
        return train(SeqLstm(), torch.rand(32, 28, 28), labels(32), nn.CrossEntropyLoss(), seconds)
    if workload == "W10":
        x, y = torch.randint(0, 100, (32, 64)), torch.randint(0, 100, (32, 64))
        return train(CharLm(), x, y, step_cross_entropy, seconds)
    if workload == "W11":
        return generate(CharLm(), seconds)
    if workload == "W12":
        x, y = torch.randint(0, 100, (16, 128)), torch.randint(0, 100, (16, 128))
        return train(Gpt(128), x, y, step_logits_cross_entropy, seconds)
    if workload == "W13":
        return generate_gpt(Gpt(GPT_GENERATED), seconds)
    if workload == "E1":
        return epoch(data, mlp(), (784,))
    if workload == "E2":
        return epoch(data, mnist_cnn(), (1, 28, 28))
    if workload == "E3":
        return epoch(data, SeqLstm(), (28, 28))
    if workload in ZOO:
        import torchvision

        name, batch = ZOO[workload]
        model = getattr(torchvision.models, name)(weights=None)
        return infer(model, torch.rand(batch, 3, 224, 224), lambda z: z, seconds)
    raise ValueError(f"unknown workload {workload}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "data", "mnist"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(json.dumps({
        "lib": "torch",
        "version": torch.__version__,
        "python": platform.python_version(),
    }), flush=True)
    for workload in args.workloads.split(","):
        record = {"lib": "torch", "workload": workload, "threads": str(args.threads)}
        try:
            record.update(run(workload, args.seconds, args.data))
        except Exception as e:  # one failed workload must not hide the others' results
            record["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
