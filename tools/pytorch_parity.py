#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures under tests/fixtures/.

For each network kind, builds the network in PyTorch with the module names typed-nn gives
(indices for unnamed layers, as nn.Sequential), runs one batch, and saves two files:

  <name>.weights.safetensors   the state_dict (what typed-nn's `load` reads)
  <name>.data.safetensors      input, target, output, loss, the gradient of every parameter
                               ("grad.<param>"), and every parameter after one Adam step
                               (lr 1e-2, "adam.<param>")

The torch version is recorded in each file's metadata and in tests/fixtures/TORCH_VERSION.
CI does not run this; the fixtures are committed.

    python3 tools/pytorch_parity.py
"""

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
LR = 1e-2


class Seq(nn.Module):
    """A recurrent layer (last state or every state) followed by other modules."""

    def __init__(self, **modules):
        super().__init__()
        self.order = list(modules)
        for name, m in modules.items():
            setattr(self, name, m)

    def forward(self, x):
        for name in self.order:
            m = getattr(self, name)
            if isinstance(m, (nn.RNN, nn.LSTM, nn.GRU)):
                out, _ = m(x)
                x = out if getattr(m, "keep_sequence", False) else out[:, -1, :]
            else:
                x = m(x)
        return x


def glorot(model):
    torch.manual_seed(1)
    for name, p in model.named_parameters():
        nn.init.uniform_(p, -0.5, 0.5) if p.dim() > 1 else nn.init.uniform_(p, -0.2, 0.2)


def run(name, model, x, target, loss_kind, logits_of):
    """logits_of(model, x) gives what the loss reads (the input of a final Softmax or Sigmoid)."""
    glorot(model)
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    out = model(x)
    z = logits_of(model, x)
    if loss_kind == "ce":
        loss = F.cross_entropy(z, target)
    elif loss_kind == "bce":
        loss = F.binary_cross_entropy_with_logits(z, target)
    else:
        loss = F.mse_loss(z, target)
    model.zero_grad()
    loss.backward()
    data = {
        "input": x.contiguous(),
        "target": (target.float() if loss_kind == "ce" else target).contiguous(),
        "output": out.detach().contiguous(),
        "loss": loss.detach().reshape(1),
    }
    for k, p in model.named_parameters():
        data["grad." + k] = p.grad.detach().clone().contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    opt.step()
    for k, p in model.named_parameters():
        data["adam." + k] = p.detach().clone().contiguous()
    meta = {"torch": torch.__version__, "loss": loss_kind, "lr": str(LR)}
    save_file(weights, os.path.join(OUT, name + ".weights.safetensors"), metadata=meta)
    save_file(data, os.path.join(OUT, name + ".data.safetensors"), metadata=meta)
    print(f"{name}: loss {loss.item():.6f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # Dense with every activation: [6] -> 5 tanh -> 5 leaky(0.1) -> 4 sigmoid -> 4 relu -> 3 softmax
    dense = nn.Sequential(
        nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 5), nn.LeakyReLU(0.1), nn.Linear(5, 4), nn.Sigmoid(),
        nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3), nn.Softmax(dim=1),
    )
    x = torch.rand(4, 6)
    run("dense", dense, x, torch.tensor([0, 2, 1, 2]), "ce", lambda m, x: m[:-1](x))

    # The seed CNN, smaller: [3, 16, 16] conv 4 k3, pool, conv 6 k3, pool, flatten, dense 10
    cnn = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(24, 10), nn.Softmax(dim=1),
    )
    x = torch.rand(3, 3, 16, 16)
    run("cnn", cnn, x, torch.tensor([3, 7, 0]), "ce", lambda m, x: m[:-1](x))

    # Pooling and padding: same-padded conv, average pooling, a rectangular kernel, global average
    pools = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(3, 4, (2, 3)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2),
    )
    x = torch.rand(3, 2, 8, 8)
    run("pools", pools, x, torch.rand(3, 2), "mse", lambda m, x: m(x))

    # Conv1d on [channels, length]
    conv1d = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(12, 2))
    x = torch.rand(3, 2, 10)
    run("conv1d", conv1d, x, torch.rand(3, 2), "mse", lambda m, x: m(x))

    # SimpleRNN -> Dense(1) -> Sigmoid, binary cross-entropy
    rnn = Seq(rnn=nn.RNN(2, 4, batch_first=True), out=nn.Linear(4, 1), act=nn.Sigmoid())
    x = torch.rand(3, 7, 2) - 0.5
    run("rnn", rnn, x, torch.tensor([[1.0], [0.0], [1.0]]), "bce", lambda m, x: m.out(m.rnn(x)[0][:, -1, :]))

    # LSTM -> Dense(3), cross-entropy on logits
    lstm = Seq(lstm=nn.LSTM(3, 4, batch_first=True), out=nn.Linear(4, 3))
    x = torch.rand(3, 5, 3) - 0.5
    run("lstm", lstm, x, torch.tensor([2, 0, 1]), "ce", lambda m, x: m(x))

    # GRU returning sequences -> Flatten -> Dense(2), MSE
    gru_layer = nn.GRU(3, 4, batch_first=True)
    gru_layer.keep_sequence = True
    gru = Seq(gru=gru_layer, flat=nn.Flatten(), out=nn.Linear(20, 2))
    x = torch.rand(3, 5, 3) - 0.5
    run("gru", gru, x, torch.rand(3, 2), "mse", lambda m, x: m(x))

    with open(os.path.join(OUT, "TORCH_VERSION"), "w") as f:
        f.write(torch.__version__ + "\n")


if __name__ == "__main__":
    main()
