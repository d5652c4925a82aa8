"""PyTorch modules of LongVU's vision side, as lvu exports them (LONGVU.md §d).

* ``DinoEncoder`` / ``SiglipEncoder``: the HF backbones with LongVU's post-processing inside the graph: DINOv2's
  ``last_hidden_state`` without CLS, SigLIP's ``hidden_states[-1]`` (before the post-layernorm), each patch grid
  bilinearly resized (align_corners=False) to ``2·S × 2·S`` tokens (27×27 → 24×24 for S = 12).
* ``Sva``: the Spatial Vision Aggregator, written from the description in LONGVU.md §d: per tower an auxiliary
  projector Linear→GELU→Linear→LayerNorm to ``dim``; S×S learned queries with positional embeddings; each query
  cross-attends to its 2×2 cell in both token maps (8 keys, with learned key position embeddings), with the mean of
  the SigLIP tokens as a global context concatenated to the query; ``depth`` layers, ``heads`` heads.
  It is not the official Cambrian code (not available here); its state-dict names are lvu's own.
* ``Projector``: ``mm_projector`` = Linear(dim→H) → GELU → Linear(H→H).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def resize_tokens(h: torch.Tensor, side: int) -> torch.Tensor:
    """(B, g·g, C) patch tokens → (B, side·side, C) by bilinear interpolation of the grid."""
    b, n, c = h.shape
    g = math.isqrt(int(n))  # static for a given model: traced as a constant
    grid = h.transpose(1, 2).reshape(b, c, g, g)
    if g != side:
        grid = F.interpolate(grid, size=(side, side), mode="bilinear", align_corners=False)
    return grid.flatten(2).transpose(1, 2)


class DinoEncoder(nn.Module):
    def __init__(self, backbone, out_side: int):
        super().__init__()
        self.backbone = backbone
        self.out_side = out_side

    def forward(self, pixel_values):
        h = self.backbone(pixel_values=pixel_values).last_hidden_state[:, 1:, :]
        return resize_tokens(h, self.out_side)


class SiglipEncoder(nn.Module):
    def __init__(self, backbone, out_side: int):
        super().__init__()
        self.backbone = backbone
        self.out_side = out_side

    def forward(self, pixel_values):
        h = self.backbone(pixel_values=pixel_values, output_hidden_states=True).hidden_states[-1]
        return resize_tokens(h, self.out_side)


class AuxProjector(nn.Module):
    """mm_projector_aux_i: Linear(hidden→dim) → GELU → Linear(dim→dim) → LayerNorm(dim)."""

    def __init__(self, hidden: int, dim: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.fc2(F.gelu(self.fc1(x))))


class SvaLayer(nn.Module):
    def __init__(self, dim: int, heads: int, keys: int):
        super().__init__()
        self.heads = heads
        self.proj_context = nn.Linear(dim, dim, bias=False)
        self.proj_in = nn.Linear(2 * dim, dim, bias=False)
        self.key_pos = nn.Parameter(torch.randn(keys, dim) * 0.02)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.out1 = nn.Linear(dim, dim)
        self.out2 = nn.Linear(dim, dim)

    def forward(self, queries, context, cells):
        # queries (B, Q, D); context (B, D); cells (B, Q, K, D): each query sees only its own cell
        b, q_n, d = queries.shape
        k_n = cells.shape[2]
        h = self.heads
        dh = d // h
        residual = queries
        ctx = self.proj_context(context).unsqueeze(1).expand(b, q_n, d)
        x = self.proj_in(torch.cat([queries, ctx], dim=-1))
        kv = cells + self.key_pos
        q = self.q(x).reshape(b, q_n, h, 1, dh)
        k = self.k(kv).reshape(b, q_n, k_n, h, dh).transpose(2, 3)  # (B, Q, H, K, dh)
        v = self.v(kv).reshape(b, q_n, k_n, h, dh).transpose(2, 3)
        att = torch.softmax((q * k).sum(-1) / (dh ** 0.5), dim=-1)  # (B, Q, H, K)
        y = (att.unsqueeze(-1) * v).sum(3).reshape(b, q_n, d)
        x = self.norm(x + self.o(y))
        x = self.out2(F.gelu(self.out1(x)))
        return x + residual


class Sva(nn.Module):
    def __init__(self, side: int, dim: int, dino_hidden: int, siglip_hidden: int, depth: int, heads: int):
        super().__init__()
        self.side = side
        self.dim = dim
        self.aux_siglip = AuxProjector(siglip_hidden, dim)
        self.aux_dino = AuxProjector(dino_hidden, dim)
        self.queries = nn.Parameter(torch.randn(side * side, dim) * 0.02)
        self.query_pos = nn.Parameter(torch.randn(side * side, dim) * 0.02)
        self.layers = nn.ModuleList([SvaLayer(dim, heads, 8) for _ in range(depth)])

    def cells(self, tokens):
        """(B, (2S)², D) → (B, S², 4, D): the 2×2 cell of each query, row-major."""
        b, _, d = tokens.shape
        s = self.side
        g = tokens.reshape(b, s, 2, s, 2, d).permute(0, 1, 3, 2, 4, 5)
        return g.reshape(b, s * s, 4, d)

    def forward(self, dino_tokens, siglip_tokens):
        sig = self.aux_siglip(siglip_tokens)
        din = self.aux_dino(dino_tokens)
        cells = torch.cat([self.cells(sig), self.cells(din)], dim=2)  # (B, S², 8, D)
        context = sig.mean(dim=1)  # global context: the mean SigLIP token
        x = (self.queries + self.query_pos).unsqueeze(0).expand(sig.shape[0], -1, -1)
        for layer in self.layers:
            x = layer(x, context, cells)
        return x  # (B, S², D)


class Projector(nn.Module):
    """mm_projector: Linear(dim→H) → GELU → Linear(H→H)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))
