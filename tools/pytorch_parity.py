#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures under tests/fixtures/.

For each network kind, builds the network in PyTorch with the module names typed-nn gives
(indices for unnamed layers, as nn.Sequential), runs one batch, and saves two files:

  <name>.weights.safetensors   the state_dict (what typed-nn's `load` reads), buffers included
  <name>.data.safetensors      input, target; "eval_output" (the model in eval mode);
                               "output" (train mode), loss, the gradient of every parameter
                               ("grad.<param>"), every buffer after that training forward
                               ("buffer.<name>": BatchNorm's running statistics), and every
                               parameter after one Adam step (lr 1e-2, "adam.<param>") --
                               all but eval_output left out for models whose training pass is
                               random (dropout); "lengths" for a batch of padded sequences
                               (the model packs them: pack_padded_sequence, key_padding_mask)

Losses alone (no network) write one file each, loss_<case>.data.safetensors: "input" (what
the loss reads: logits, or log-probabilities after LogSoftmax), "target", the loss's settings
when it has any ("weight", "pos_weight", "delta", ...), "loss" and "grad" (d loss / d input,
from autograd), with PyTorch's default reduction="mean" unless the case says otherwise.

The torch version is recorded in each file's metadata and in tests/fixtures/TORCH_VERSION.
CI does not run this; the fixtures are committed. Names given on the command line write those
fixtures only (every model is still built and run, in order, so that the random inputs of
the others do not move).

    python3 tools/pytorch_parity.py [name ...]

models() gives every model as run() receives it, input and eval output with it, writing
nothing (tools/onnx_models.py exports them).
"""

import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
LR = 1e-2
ONLY = set()
# A list while models() runs: run() appends each model there and nothing is written.
COLLECT = None


def save(tensors, name, kind, meta):
    """Writes `<name>.<kind>.safetensors`, unless names were given and this is not one."""
    if COLLECT is None and (not ONLY or name in ONLY):
        save_file(tensors, os.path.join(OUT, f"{name}.{kind}.safetensors"), metadata=meta)


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


class Residual(nn.Module):
    """typed-nn's `Residual { body } shortcut { … }`: body(x) + shortcut(x), the shortcut the
    identity when absent; parameters under `body.` and `shortcut.`."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if hasattr(self, "shortcut") else x)


class Branches(nn.Module):
    """typed-nn's `Concat { … }` (along the channels) or `Add { … }`, branches named."""

    def __init__(self, mode, **branches):
        super().__init__()
        self.mode = mode
        self.names = list(branches)
        for name, b in branches.items():
            setattr(self, name, b)

    def forward(self, x):
        outs = [getattr(self, n)(x) for n in self.names]
        return torch.cat(outs, dim=1) if self.mode == "concat" else sum(outs)


class SelfAttention(nn.MultiheadAttention):
    """Self-attention, batch first: typed-nn's `MultiHeadAttention(heads, dim)`."""

    def __init__(self, heads, dim):
        super().__init__(dim, heads, batch_first=True)

    def forward(self, x):
        return super().forward(x, x, x, need_weights=False)[0]


class PositionalEmbedding(nn.Module):
    def __init__(self, tokens, features):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(tokens, features))

    def forward(self, x):
        return x + self.weight


class Packed(nn.Module):
    """A model over a batch of padded sequences with `lengths` (None: every sequence is whole),
    as PyTorch users write it: packed sequences for recurrences, a mask for attention and
    for the mean over steps."""

    lengths = None

    def run_rnn(self, rnn, x):
        if self.lengths is None:
            return rnn(x)
        packed = pack_padded_sequence(x, self.lengths, batch_first=True, enforce_sorted=False)
        out, h = rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, h

    def padding(self, x):
        """True at padded steps (key_padding_mask)."""
        return torch.arange(x.shape[1])[None, :] >= self.lengths[:, None]

    def mean_over_steps(self, h):
        if self.lengths is None:
            return h.mean(1)
        valid = (~self.padding(h)).float()[..., None]
        return (h * valid).sum(1) / self.lengths[:, None].float()


class BiLstmMean(Packed):
    """Bidirectional(LSTM(4, return_sequences = true)), GlobalAvgPool1d, Dense(3)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.mean_over_steps(self.run_rnn(self.rnn, x)[0]))


class BiGruSum(Packed):
    """Bidirectional(GRU(3), merge = sum), Dense(2): each direction's final state (h_n),
    summed."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(2, 3, batch_first=True, bidirectional=True)
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        h = self.run_rnn(self.rnn, x)[1]
        return self.out(h[0] + h[1])


class MaskedAttention(Packed):
    """MultiHeadAttention(2, 4) with padded keys masked, GlobalAvgPool1d, Dense(2)."""

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(4, 2, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        mask = None if self.lengths is None else self.padding(x)
        y = self.attention(x, x, x, key_padding_mask=mask, need_weights=False)[0]
        return self.out(self.mean_over_steps(y))


class CausalAttention(Packed):
    """MultiHeadAttention(2, 4, causal = true) with padded keys masked as well (both masks
    merged, as nn.MultiheadAttention merges attn_mask and key_padding_mask),
    GlobalAvgPool1d, Dense(2)."""

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(4, 2, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        t = x.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        mask = None if self.lengths is None else self.padding(x)
        y = self.attention(
            x, x, x, attn_mask=causal, is_causal=True, key_padding_mask=mask, need_weights=False
        )[0]
        return self.out(self.mean_over_steps(y))


class RopeSelfAttention(nn.Module):
    """Causal self-attention with rotary positions as Llama applies them ("rotate half",
    base 10000), on nn.MultiheadAttention's parameters (in_proj_weight, in_proj_bias,
    out_proj), through F.scaled_dot_product_attention(is_causal=True)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, f = x.shape
        d = f // self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d).transpose(1, 2) for z in (q, k, v))
        inv = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angle = torch.arange(t, dtype=torch.float64)[:, None] * inv[None, :]
        cos = torch.cat([angle.cos(), angle.cos()], -1).float()
        sin = torch.cat([angle.sin(), angle.sin()], -1).float()

        def rotate_half(z):
            return torch.cat([-z[..., d // 2:], z[..., : d // 2]], -1)

        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, f))


class RopeAttention(nn.Module):
    """MultiHeadAttention(2, 8, causal = true, rope = true), GlobalAvgPool1d, Dense(2)."""

    def __init__(self):
        super().__init__()
        self.attention = RopeSelfAttention(8, 2)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.attention(x).mean(1))


class Res(nn.Module):
    """Residual { layers }: x + body(x), parameters named body.0, body.1, ..."""

    def __init__(self, *layers):
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


class SwiGLU(nn.Module):
    """Llama's MLP: down_proj(silu(gate_proj(x)) * up_proj(x)), no biases."""

    def __init__(self, features, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(features, hidden, bias=False)
        self.up_proj = nn.Linear(features, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, features, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    """A pre-norm decoder block as Llama builds it (RMSNorm, causal attention with rotary
    positions, RMSNorm, SwiGLU), a final RMSNorm, the mean over steps, Dense(2)."""

    def __init__(self):
        super().__init__()
        self.attention = Res(nn.RMSNorm(8), RopeSelfAttention(8, 2))
        self.mlp = Res(nn.RMSNorm(8, eps=1e-6), SwiGLU(8, 12))
        self.norm = nn.RMSNorm(8)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.norm(self.mlp(self.attention(x))).mean(1))


class CrossParity(nn.Module):
    """(queries: [4, 6], memory: [5, 6]) -> CrossAttention(2, 6), GlobalAvgPool1d, Dense(2).
    The input of a sample is its two parts side by side, flat, as the Rust pair lays it out;
    with `part` set, the memory is padded after each row's length (key_padding_mask)."""

    part = None

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(6, 2, batch_first=True)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        q, kv = x[:, : 4 * 6].reshape(-1, 4, 6), x[:, 4 * 6 :].reshape(-1, 5, 6)
        mask = None
        if self.part is not None:
            mask = torch.arange(5)[None, :] >= self.part[3][:, None]
        y = self.attention(q, kv, kv, key_padding_mask=mask, need_weights=False)[0]
        return self.out(y.mean(1))


class DecoderParity(nn.Module):
    """(target: [4, 8], memory: [5, 8]) -> TransformerDecoderLayer(2, 8, 16), the target,
    GlobalAvgPool1d, Dense(2); the input flat as the Rust pair lays it out."""

    def __init__(self, norm_first, activation):
        super().__init__()
        self.decoder = nn.TransformerDecoderLayer(
            8, 2, 16, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
        )
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        target, memory = x[:, : 4 * 8].reshape(-1, 4, 8), x[:, 4 * 8 :].reshape(-1, 5, 8)
        mask = nn.Transformer.generate_square_subsequent_mask(4)
        y = self.decoder(target, memory, tgt_mask=mask, tgt_is_causal=True)
        return self.out(y.mean(1))


class TokenTagger(nn.Module):
    """Embedding(7, 5), LSTM(6, return_sequences = true), Dense(7, per_step = true), Softmax:
    a distribution over 7 tokens at every step."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 5)
        self.lstm = nn.LSTM(5, 6, batch_first=True)
        self.out = nn.Linear(6, 7)

    def logits(self, x):
        return self.out(self.lstm(self.emb(x.long()))[0])

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=-1)


class Permute(nn.Module):
    """Permute(1, 0): a sample's dimensions in another order, the batch left first."""

    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(0, *[d + 1 for d in self.dims])


class EvalNorms(nn.Sequential):
    """A Sequential whose batch normalisations stay in eval mode while the rest trains: their
    running statistics normalise, and are not updated."""

    def train(self, mode=True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.eval()
        return self


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation as torchvision writes it (its names: fc1, fc2), so that
    the fixture needs no torchvision."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


def glorot(model):
    torch.manual_seed(1)
    for name, p in model.named_parameters():
        nn.init.uniform_(p, -0.5, 0.5) if p.dim() > 1 else nn.init.uniform_(p, -0.2, 0.2)


def random_buffers(model):
    """Running statistics away from their initial 0 and 1, so that eval mode is tested."""
    g = torch.Generator().manual_seed(2)  # its own, so that later inputs do not move
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
            m.num_batches_tracked.fill_(3)


def run(name, model, x, target, loss_kind, logits_of=None, eval_only=False):
    """logits_of(model, x) gives what the loss reads (the input of a final Softmax or
    Sigmoid); None when that is the output itself (models with BatchNorm must not run a second
    training forward, which would update the running statistics twice)."""
    glorot(model)
    random_buffers(model)
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    if COLLECT is not None:
        COLLECT.append((name, copy.deepcopy(model), x.clone(), eval_out.clone()))
    model.train()
    params = sum(p.numel() for p in model.parameters())
    meta = {"torch": torch.__version__, "loss": loss_kind, "lr": str(LR), "params": str(params)}
    if eval_only:
        data = {"input": x.contiguous(), "eval_output": eval_out.contiguous()}
        save(weights, name, "weights", meta)
        save(data, name, "data", meta)
        print(f"{name}: eval only")
        return
    out = model(x)
    z = out if logits_of is None else logits_of(model, x)
    if loss_kind == "ce":
        loss = F.cross_entropy(z, target)
    elif loss_kind == "ce_steps":
        # A class per step, [B, T]; -100 (PyTorch's ignore_index) marks steps to skip.
        loss = F.cross_entropy(z.reshape(-1, z.shape[-1]), target.reshape(-1), ignore_index=-100)
    elif loss_kind == "bce":
        loss = F.binary_cross_entropy_with_logits(z, target)
    else:
        loss = F.mse_loss(z, target)
    model.zero_grad()
    loss.backward()
    data = {
        "input": x.contiguous(),
        "target": (target.float() if loss_kind.startswith("ce") else target).contiguous(),
        "output": out.detach().contiguous(),
        "eval_output": eval_out.contiguous(),
        "loss": loss.detach().reshape(1),
    }
    if getattr(model, "lengths", None) is not None:
        data["lengths"] = model.lengths.float()
    if getattr(model, "part", None) is not None:
        # The lengths of one part of a pair input: its offset in a row, its values, its
        # steps, and a length per row.
        offset, values, steps, lengths = model.part
        data["part"] = torch.tensor([offset, values, steps], dtype=torch.float32)
        data["part_lengths"] = lengths.float()
    for k, b in model.named_buffers():
        if b.dtype == torch.float32:
            data["buffer." + k] = b.detach().clone().contiguous()
    for k, p in model.named_parameters():
        data["grad." + k] = p.grad.detach().clone().contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    opt.step()
    for k, p in model.named_parameters():
        data["adam." + k] = p.detach().clone().contiguous()
    save(weights, name, "weights", meta)
    save(data, name, "data", meta)
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

    # Zero padding of the planes, then a convolution that reads the zeros
    zeropad = nn.Sequential(
        nn.ZeroPad2d((2, 2, 1, 1)), nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 5 * 8, 2)
    )
    x = torch.rand(3, 2, 5, 6)
    run("zeropad2d", zeropad, x, torch.rand(3, 2), "mse")

    # AvgPool1d with padding (counted, as PyTorch's count_include_pad)
    avgpool1d = nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.Tanh(), nn.AvgPool1d(3, stride=2, padding=1), nn.Flatten(), nn.Linear(12, 2)
    )
    x = torch.rand(3, 2, 10)
    run("avgpool1d", avgpool1d, x, torch.rand(3, 2), "mse")

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

    # Downsampling convolution: stride 2, padding 1 (PyTorch's usual), then padding (1, 2)
    conv_stride = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, (3, 2), padding=(1, 2)),
        nn.Flatten(), nn.Linear(4 * 5 * 8, 3),
    )
    x = torch.rand(3, 3, 9, 9)
    run("conv_stride_pad", conv_stride, x, torch.tensor([1, 0, 2]), "ce")

    # Dilation 2, grouped convolution, max and average pooling with padding, global max pooling
    conv_dilation = nn.Sequential(
        nn.Conv2d(2, 4, 3, dilation=2, padding=2), nn.Tanh(), nn.Conv2d(4, 6, 3, groups=2),
        nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2, stride=1, padding=1),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(6, 2),
    )
    x = torch.rand(3, 2, 8, 8)
    run("conv_dilation", conv_dilation, x, torch.rand(3, 2), "mse")

    # Depthwise (groups = channels, 2 filters each) and pointwise convolutions, no biases
    depthwise = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, groups=3, bias=False), nn.ReLU(), nn.Conv2d(6, 4, 1, bias=False),
        nn.Flatten(), nn.Linear(4 * 6 * 6, 3, bias=False),
    )
    x = torch.rand(3, 3, 6, 6)
    run("depthwise", depthwise, x, torch.tensor([2, 2, 0]), "ce")

    # BatchNorm2d and BatchNorm1d (on [features] and on [channels, length]): training and eval
    batchnorm = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3),
        nn.BatchNorm2d(4, momentum=0.3, eps=1e-3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3),
    )
    x = torch.rand(4, 3, 6, 6)
    run("batchnorm", batchnorm, x, torch.tensor([0, 1, 2, 1]), "ce")
    bn1d_seq = nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Flatten(), nn.Linear(18, 2))
    x = torch.rand(5, 2, 8)
    run("batchnorm1d_seq", bn1d_seq, x, torch.rand(5, 2), "mse")

    # LayerNorm over the last dimension, of a sequence and of a vector
    layernorm = nn.Sequential(
        nn.LayerNorm(6), nn.Flatten(), nn.Linear(24, 8), nn.LayerNorm(8, eps=1e-3), nn.Tanh(), nn.Linear(8, 3),
    )
    x = torch.rand(3, 4, 6)
    run("layernorm", layernorm, x, torch.rand(3, 3), "mse")

    # Dropout is the identity in eval mode
    dropout = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    x = torch.rand(4, 6)
    run("dropout_eval", dropout, x, None, "ce", eval_only=True)

    # A residual stage: a downsampling block (strided body, 1x1 strided projection shortcut,
    # BatchNorm on both paths) then an identity block
    def conv_bn(cin, cout, k, stride=1, padding=0):
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(cout)]

    resnet = nn.Sequential(
        *conv_bn(2, 4, 3, padding=1), nn.ReLU(),
        Residual(
            nn.Sequential(*conv_bn(4, 8, 3, 2, 1), nn.ReLU(), *conv_bn(8, 8, 3, padding=1)),
            shortcut=nn.Sequential(*conv_bn(4, 8, 1, 2)),
        ),
        nn.ReLU(),
        Residual(nn.Sequential(*conv_bn(8, 8, 3, padding=1), nn.ReLU(), *conv_bn(8, 8, 3, padding=1))),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3),
    )
    x = torch.rand(4, 2, 8, 8)
    run("residual", resnet, x, torch.tensor([0, 2, 1, 1]), "ce")

    # Inception-style concatenation of three named branches, then an Add with the identity
    concat = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
        Branches(
            "concat",
            a=nn.Sequential(nn.Conv2d(4, 2, 1)),
            b=nn.Sequential(nn.Conv2d(4, 3, 1), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1)),
            pool=nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(4, 2, 1)),
        ),
        Branches(**{"mode": "add", "0": nn.Identity(), "1": nn.Sequential(nn.Conv2d(7, 7, 1))}),
        nn.Flatten(), nn.Linear(7 * 6 * 6, 2),
    )
    x = torch.rand(3, 3, 6, 6)
    run("concat", concat, x, torch.rand(3, 2), "mse")

    # A pre-norm transformer encoder block on 5 tokens of 8 features
    transformer = nn.Sequential(
        PositionalEmbedding(5, 8),
        Residual(nn.Sequential(nn.LayerNorm(8), SelfAttention(2, 8))),
        Residual(nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))),
        nn.Flatten(), nn.Linear(40, 3),
    )
    x = torch.rand(3, 5, 8) - 0.5
    run("transformer", transformer, x, torch.tensor([2, 0, 1]), "ce")

    # Parameter counts of the examples' joined models, as PyTorch counts them
    # (sum(p.numel()) over parameters: running statistics are buffers).
    def block(cin, cout, stride):
        body = nn.Sequential(*conv_bn(cin, cout, 3, stride, 1), nn.ReLU(), *conv_bn(cout, cout, 3, padding=1))
        shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 else None
        return nn.Sequential(Residual(body, shortcut), nn.ReLU())

    mnist_resnet = nn.Sequential(
        *conv_bn(1, 8, 3, padding=1), nn.ReLU(),
        block(8, 8, 1), block(8, 8, 1), block(8, 16, 2), block(16, 16, 1), block(16, 32, 2), block(32, 32, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )

    def encoder(dim):
        return nn.Sequential(
            Residual(nn.Sequential(nn.LayerNorm(dim), SelfAttention(4, dim))),
            Residual(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))),
        )

    mnist_transformer = nn.Sequential(
        nn.Linear(28, 64), PositionalEmbedding(28, 64), encoder(64), encoder(64), nn.LayerNorm(64),
        nn.Flatten(), nn.Linear(28 * 64, 10),
    )
    # GroupNorm over groups of an image's channels, with a group per channel pair and a
    # given eps
    groupnorm = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.GroupNorm(3, 6), nn.ReLU(), nn.Conv2d(6, 4, 1),
        nn.GroupNorm(2, 4, eps=1e-3), nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
    )
    x = torch.rand(3, 3, 6, 6)
    run("groupnorm", groupnorm, x, torch.tensor([0, 2, 1]), "ce")

    # Sequences. A distribution over tokens at every step, cross-entropy per step with
    # ignored steps (ignore_index)
    x = torch.randint(0, 7, (3, 6)).float()
    target = torch.randint(0, 7, (3, 6))
    target[0, 4:] = -100
    target[2, 1] = -100
    run("step_ce", TokenTagger(), x, target, "ce_steps", lambda m, x: m.logits(x))

    # Bidirectional LSTM and the mean over steps, whole sequences and packed ones
    x = torch.rand(4, 5, 3) - 0.5
    run("bilstm", BiLstmMean(), x, torch.tensor([0, 2, 1, 2]), "ce")
    model = BiLstmMean()
    model.lengths = torch.tensor([5, 3, 1, 4])
    run("bilstm_lengths", model, x, torch.tensor([0, 2, 1, 2]), "ce")

    # Bidirectional GRU, the final states summed, whole sequences and packed ones
    x = torch.rand(3, 6, 2) - 0.5
    target = torch.rand(3, 2)
    run("bigru", BiGruSum(), x, target, "mse")
    model = BiGruSum()
    model.lengths = torch.tensor([6, 2, 4])
    run("bigru_lengths", model, x, target, "mse")

    # Attention ignoring padded keys (key_padding_mask), then the mean over the valid steps
    x = torch.rand(3, 5, 4) - 0.5
    model = MaskedAttention()
    model.lengths = torch.tensor([5, 2, 3])
    run("attention_mask", model, x, torch.rand(3, 2), "mse")

    # Causal attention (is_causal) with and without padded keys
    x = torch.rand(3, 5, 4) - 0.5
    target = torch.rand(3, 2)
    run("attention_causal", CausalAttention(), x, target, "mse")
    model = CausalAttention()
    model.lengths = torch.tensor([5, 2, 4])
    run("attention_causal_lengths", model, x, target, "mse")

    # Causal attention with rotary positions
    x = torch.rand(2, 6, 8) - 0.5
    run("attention_rope", RopeAttention(), x, torch.rand(2, 2), "mse")

    # Cross-attention: queries of one sequence over the keys and values of another
    x = torch.rand(3, 4 * 6 + 5 * 6) - 0.5
    run("cross_attention", CrossParity(), x, torch.rand(3, 2), "mse")
    model = CrossParity()
    model.part = (4 * 6, 5 * 6, 5, torch.tensor([5, 2, 3]))
    run("cross_attention_lengths", model, x, torch.rand(3, 2), "mse")

    # nn.TransformerDecoderLayer, pre-norm with GELU and post-norm with ReLU
    x = torch.rand(3, 4 * 8 + 5 * 8) - 0.5
    run("decoder_pre_norm", DecoderParity(True, "gelu"), x, torch.rand(3, 2), "mse")
    run("decoder_post_norm", DecoderParity(False, "relu"), x, torch.rand(3, 2), "mse")

    # Element-wise activations between two Dense layers, inputs spread over their kinks
    x = torch.rand(4, 6) * 6 - 3
    for name, act in [("silu", nn.SiLU()), ("softplus", nn.Softplus(2.0, 1.5)), ("elu", nn.ELU(0.5)), ("mish", nn.Mish()), ("hardswish", nn.Hardswish()), ("hardsigmoid", nn.Hardsigmoid()), ("relu6", nn.ReLU6())]:
        run(f"act_{name}", nn.Sequential(nn.Linear(6, 5), act, nn.Linear(5, 3)), x, torch.rand(4, 3), "mse")

    # The identity between two layers (an architecture's optional layer left out)
    run("identity", nn.Sequential(nn.Linear(6, 5), nn.Identity(), nn.Linear(5, 3)), x, torch.rand(4, 3), "mse")

    # Learnt slopes, one per feature
    run("act_prelu", nn.Sequential(nn.Linear(6, 5), nn.PReLU(5), nn.Linear(5, 3)), x, torch.rand(4, 3), "mse")

    # The gated linear unit halves the features
    run("act_glu", nn.Sequential(nn.Linear(6, 8), nn.GLU(), nn.Linear(4, 3)), x, torch.rand(4, 3), "mse")

    # A Llama-style block: RMSNorm, rotary causal attention, SwiGLU
    x = torch.rand(3, 5, 8) - 0.5
    run("llama_block", LlamaBlock(), x, torch.rand(3, 2), "mse")

    # Transposed convolutions: PyTorch's padding, output padding, dilation and groups
    up2d = nn.Sequential(
        nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), nn.Tanh(),
        nn.ConvTranspose2d(4, 2, (2, 3), stride=(1, 2), dilation=(2, 1), groups=2),
        nn.Flatten(), nn.Linear(2 * 10 * 21, 2),
    )
    run("conv_transpose2d", up2d, torch.rand(3, 3, 4, 5) - 0.5, torch.rand(3, 2), "mse")
    up1d = nn.Sequential(
        nn.ConvTranspose1d(3, 4, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose1d(4, 2, 3, stride=3, output_padding=2, bias=False),
        nn.Flatten(), nn.Linear(2 * 38, 2),
    )
    run("conv_transpose1d", up1d, torch.rand(3, 3, 6) - 0.5, torch.rand(3, 2), "mse")

    # Upsampling between convolutions: nearest, bilinear at two factors; bilinear with
    # align_corners; linear on sequences
    x = torch.rand(3, 2, 5, 6) - 0.5
    ups = nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(3, 8, 3), nn.Upsample(scale_factor=(2, 3), mode="bilinear"),
        nn.Flatten(), nn.Linear(8 * 8 * 18, 2),
    )
    run("upsample", ups, x, torch.rand(3, 2), "mse")
    corners = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True),
        nn.Flatten(), nn.Linear(4 * 9 * 12, 2),
    )
    run("upsample_align_corners", corners, x, torch.rand(3, 2), "mse")
    linear = nn.Sequential(
        nn.Conv1d(3, 4, 3), nn.Upsample(scale_factor=2, mode="linear"),
        nn.Conv1d(4, 2, 3), nn.Upsample(scale_factor=3, mode="linear", align_corners=True),
        nn.Flatten(), nn.Linear(2 * 24, 2),
    )
    run("upsample_linear", linear, torch.rand(3, 3, 7) - 0.5, torch.rand(3, 2), "mse")

    # A sub-pixel convolution: 8 channels rearranged into 2 of twice the height and width
    shuffle = nn.Sequential(nn.Conv2d(2, 8, 3), nn.PixelShuffle(2), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 8, 2))
    run("pixel_shuffle", shuffle, torch.rand(3, 2, 5, 6) - 0.5, torch.rand(3, 2), "mse")

    # Instance normalisation of images (with and without the affine step) and of sequences
    inorm2d = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.InstanceNorm2d(4, affine=True), nn.ReLU(),
        # No bias before a normalisation without the affine step: its gradient is zero
        # but for rounding, which Adam's step would magnify.
        nn.Conv2d(4, 3, 1, bias=False), nn.InstanceNorm2d(3, eps=1e-3), nn.Flatten(), nn.Linear(3 * 3 * 4, 2),
    )
    run("instancenorm2d", inorm2d, torch.rand(3, 2, 5, 6) - 0.5, torch.rand(3, 2), "mse")
    inorm1d = nn.Sequential(
        nn.Conv1d(3, 4, 3), nn.InstanceNorm1d(4, affine=True), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 5, 2)
    )
    run("instancenorm1d", inorm1d, torch.rand(3, 3, 7) - 0.5, torch.rand(3, 2), "mse")

    # Reshape: a Dense layer's features read as a sequence by a Conv1d
    reshape = nn.Sequential(
        nn.Linear(6, 12), nn.Unflatten(1, (3, 4)), nn.Conv1d(3, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4, 2)
    )
    run("reshape", reshape, torch.rand(3, 6) - 0.5, torch.rand(3, 2), "mse")

    # Permute: steps and features swapped around a Conv1d; an image's last dimension first
    permute = nn.Sequential(
        Permute(1, 0), nn.Conv1d(3, 4, 3), nn.ReLU(), Permute(1, 0), nn.Flatten(), nn.Linear(3 * 4, 2)
    )
    run("permute", permute, torch.rand(3, 5, 3) - 0.5, torch.rand(3, 2), "mse")
    permute3 = nn.Sequential(Permute(2, 0, 1), nn.Conv2d(4, 2, 2), nn.Flatten(), nn.Linear(2 * 1 * 2, 2))
    run("permute3", permute3, torch.rand(3, 2, 3, 4) - 0.5, torch.rand(3, 2), "mse")

    # Batch normalisation in eval mode while the rest trains (a frozen block)
    bn_eval = EvalNorms(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 4, 2))
    run("batchnorm_eval", bn_eval, torch.rand(3, 2, 5, 6) - 0.5, torch.rand(3, 2), "mse")

    # Squeeze-and-excitation after convolutions: ReLU and sigmoid (torchvision's defaults),
    # then Hardswish and Hardsigmoid (MobileNetV3's gate)
    se = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.Tanh(), SqueezeExcitation(4, 3),
        nn.Conv2d(4, 3, 1), SqueezeExcitation(3, 2, nn.Hardswish, nn.Hardsigmoid),
        nn.Flatten(), nn.Linear(3 * 4 * 5, 2),
    )
    run("squeeze_excitation", se, torch.rand(3, 2, 6, 7) - 0.5, torch.rand(3, 2), "mse")

    if ONLY or COLLECT is not None:
        return
    with open(os.path.join(OUT, "param_counts.txt"), "w") as f:
        f.write(f"# sum(p.numel() for p in model.parameters()), torch {torch.__version__}\n")
        for name, model in [("mnist_resnet", mnist_resnet), ("mnist_transformer", mnist_transformer)]:
            f.write(f"{name} {sum(p.numel() for p in model.parameters())}\n")

    with open(os.path.join(OUT, "TORCH_VERSION"), "w") as f:
        f.write(torch.__version__ + "\n")



def save_loss(name, inputs, target, loss_fn, **settings):
    """One loss case: loss_fn(inputs, target) with autograd's gradient; each case draws
    from a generator of its own, so that adding or regenerating one moves no other."""
    x = inputs.clone().requires_grad_(True)
    loss = loss_fn(x, target)
    loss.backward()
    data = {"input": inputs, "target": target.float(), "loss": loss.detach().reshape(1), "grad": x.grad}
    for key, value in settings.items():
        data[key] = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    data = {k: v.detach().contiguous() for k, v in data.items()}
    save(data, name, "data", {"torch": torch.__version__})
    print(f"{name}: loss {loss.item():.6f}")


def losses():
    gen = lambda seed: torch.Generator().manual_seed(seed)

    # L1: a few outputs equal to their targets, where PyTorch's gradient is 0
    g = gen(101)
    x = torch.randn(4, 5, generator=g)
    t = torch.randn(4, 5, generator=g)
    t[0, 1], t[2, 3], t[3, 0] = x[0, 1], x[2, 3], x[3, 0]
    save_loss("loss_l1", x, t, F.l1_loss)

    # Huber and smooth L1 with thresholds other than the default 1, residuals on both sides
    # of them; smooth L1 with beta = 0 (PyTorch's L1 loss, gradient 0 at a tie)
    g = gen(102)
    x = torch.randn(4, 5, generator=g)
    t = x - 2 * torch.randn(4, 5, generator=g)
    save_loss("loss_huber", x, t, lambda x, t: F.huber_loss(x, t, delta=0.5), delta=0.5)
    save_loss("loss_smooth_l1", x, t, lambda x, t: F.smooth_l1_loss(x, t, beta=0.7), beta=0.7)
    t[1, 2] = x[1, 2]
    save_loss("loss_smooth_l1_beta0", x, t, lambda x, t: F.smooth_l1_loss(x, t, beta=0.0), beta=0.0)

    # NLL of log-probabilities: class labels, and a class per step [B, T] with ignored steps
    # (-100, PyTorch's ignore_index)
    g = gen(103)
    x = F.log_softmax(torch.randn(4, 5, generator=g), dim=-1)
    save_loss("loss_nll", x, torch.tensor([1, 4, 0, 1]), F.nll_loss)
    x = F.log_softmax(torch.randn(3, 4, 5, generator=g), dim=-1)
    t = torch.tensor([[0, 3, -100, 4], [2, -100, -100, 1], [4, 4, 0, -100]])
    nll_steps = lambda x, t: F.nll_loss(x.reshape(-1, 5), t.reshape(-1), ignore_index=-100)
    save_loss("loss_nll_steps", x, t, nll_steps)

    # KL divergence, batchmean: log-probabilities against probabilities with exact zeros,
    # then against log-probabilities (log_target)
    g = gen(104)
    x = F.log_softmax(torch.randn(4, 5, generator=g), dim=-1)
    t = F.softmax(torch.randn(4, 5, generator=g), dim=-1)
    t[0, 2], t[3, 4] = 0.0, 0.0
    kl = lambda x, t: F.kl_div(x, t, reduction="batchmean")
    save_loss("loss_kl_div", x, t, kl)
    t = F.log_softmax(torch.randn(4, 5, generator=g), dim=-1)
    kl_log = lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True)
    save_loss("loss_kl_div_log_target", x, t, kl_log)

    # Cross-entropy with class weights and label smoothing, apart and together: labels
    # (a class twice, so that the weights of the labels' classes sum unevenly), a class per
    # step with ignored steps, probability targets
    g = gen(105)
    z = torch.randn(6, 5, generator=g)
    y = torch.tensor([1, 4, 0, 1, 3, 1])
    w = torch.rand(5, generator=g) + 0.2
    ce = lambda **kw: lambda z, y: F.cross_entropy(z, y, **kw)
    save_loss("loss_ce_weighted", z, y, ce(weight=w), weight=w)
    save_loss("loss_ce_smoothing", z, y, ce(label_smoothing=0.2), label_smoothing=0.2)
    save_loss("loss_ce_weighted_smoothing", z, y, ce(weight=w, label_smoothing=0.1), weight=w, label_smoothing=0.1)
    z = torch.randn(3, 4, 5, generator=g)
    y = torch.tensor([[0, 3, -100, 4], [2, -100, -100, 1], [4, 4, 0, -100]])
    ce_steps = lambda z, y: F.cross_entropy(z.reshape(-1, 5), y.reshape(-1), weight=w, label_smoothing=0.1)
    save_loss("loss_ce_steps_weighted_smoothing", z, y, ce_steps, weight=w, label_smoothing=0.1)
    z = torch.randn(6, 5, generator=g)
    p = F.softmax(2 * torch.randn(6, 5, generator=g), dim=-1)
    save_loss("loss_ce_probs_weighted_smoothing", z, p, ce(weight=w, label_smoothing=0.1), weight=w, label_smoothing=0.1)

    # BCE with logits and a positive weight per element of the last dimension: on [B, K]
    # (multi-label) and on [B, T, K], broadcast over the steps; targets 0, 1 and between
    g = gen(106)
    pw = torch.tensor([0.5, 1.0, 3.0, 0.0, 2.0])
    bce = lambda z, t: F.binary_cross_entropy_with_logits(z, t, pos_weight=pw)
    z = 2 * torch.randn(4, 5, generator=g)
    t = (torch.rand(4, 5, generator=g) > 0.5).float()
    t[0, 0], t[2, 2] = 0.3, 0.8
    save_loss("loss_bce_pos_weight", z, t, bce, pos_weight=pw)
    z = 2 * torch.randn(2, 3, 5, generator=g)
    t = (torch.rand(2, 3, 5, generator=g) > 0.5).float()
    save_loss("loss_bce_pos_weight_steps", z, t, bce, pos_weight=pw)


def models():
    """(name, model in eval mode with the weights run() saves, input, eval output) of every
    model fixture, in order, built as main() builds them; writes nothing. For other tools
    (tools/onnx_models.py)."""
    global COLLECT
    COLLECT = []
    try:
        main()
        return COLLECT
    finally:
        COLLECT = None


if __name__ == "__main__":
    ONLY.update(sys.argv[1:])
    main()
    losses()
