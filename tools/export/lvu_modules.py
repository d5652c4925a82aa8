"""PyTorch modules of LongVU's vision side, as lvu exports them (docs/longvu.md §d).

* ``DinoEncoder`` / ``SiglipEncoder``: the HF backbones with LongVU's post-processing inside the graph: DINOv2's
  ``last_hidden_state`` without CLS, SigLIP's ``hidden_states[-1]`` (before the post-layernorm), each patch grid
  bilinearly resized (align_corners=False) to ``2·S × 2·S`` tokens (27×27 → 24×24 for S = 12).
* ``Sva``: the Spatial Vision Aggregator with the module structure and parameter names of LongVU's release
  (Cambrian's ``VisionTokenSampler`` with ``connector_only``, one query group): so a LongVU state dict loads into it
  after dropping the ``model.`` prefix (``--from-longvu``). Per tower ``mm_projector_aux_{i}`` = Linear→GELU→Linear→
  LayerNorm (tower 0 = SigLIP, 1 = DINOv2); one learned ``vision_query`` vector broadcast to all S² windows; the
  global context is the mean of tower 0's projected tokens; each layer of ``vision_sampler_0`` concatenates the
  projected context to the query (``proj_in``), attends to the query's r×r window (r = 2 for 24→12) of both towers
  (per-tower LayerNorm + bias-free K/V projections, learned ``pos_embed_{i}`` per window position, a key mask from
  the frame's padding), adds, normalises, applies a bias-free MLP and the outer residual.
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


def aux_projector(hidden: int, dim: int) -> nn.Sequential:
    """mm_projector_aux_i: Linear(hidden→dim) → GELU → Linear(dim→dim) → LayerNorm(dim)."""
    return nn.Sequential(nn.Linear(hidden, dim), nn.GELU(), nn.Linear(dim, dim), nn.LayerNorm(dim))


def norm_linear(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim, bias=False))


class SamplerMlp(nn.Module):
    """proj_out: bias-free Linear → GELU → Linear."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(dim, dim, bias=False)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class WindowCrossAttention(nn.Module):
    """cross_attn: each window's single query attends to the keys of its own window in every tower."""

    def __init__(self, dim: int, heads: int, towers: int):
        super().__init__()
        self.heads = heads
        self.towers = towers
        self.q_proj = norm_linear(dim)
        for i in range(towers):
            setattr(self, f"k_proj_{i}", norm_linear(dim))
            setattr(self, f"v_proj_{i}", norm_linear(dim))
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, windows, key_mask):
        # x (B, Q, D); windows: per tower (B, Q, K, D); key_mask (B, Q, towers·K) bool, True = attend
        b, q_n, d = x.shape
        h = self.heads
        dh = d // h
        k = torch.cat([getattr(self, f"k_proj_{i}")(w) for i, w in enumerate(windows)], dim=2)
        v = torch.cat([getattr(self, f"v_proj_{i}")(w) for i, w in enumerate(windows)], dim=2)
        k_n = k.shape[2]
        q = self.q_proj(x).reshape(b, q_n, h, 1, dh)
        k = k.reshape(b, q_n, k_n, h, dh).transpose(2, 3)  # (B, Q, H, K, dh)
        v = v.reshape(b, q_n, k_n, h, dh).transpose(2, 3)
        scores = (q * k).sum(-1) / (dh ** 0.5)  # (B, Q, H, K)
        scores = scores.masked_fill(~key_mask.unsqueeze(2), float("-inf"))
        att = torch.softmax(scores, dim=-1)
        y = (att.unsqueeze(-1) * v).sum(3).reshape(b, q_n, d)
        return self.o_proj(y)


class SamplerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, towers: int, window: int):
        super().__init__()
        self.proj_context = nn.Linear(dim, dim, bias=False)
        self.proj_in = nn.Linear(2 * dim, dim, bias=False)
        self.proj_out = SamplerMlp(dim)
        self.norm = nn.LayerNorm(dim)
        self.cross_attn = WindowCrossAttention(dim, heads, towers)
        for i in range(towers):
            setattr(self, f"pos_embed_{i}", nn.Parameter(torch.randn(window * window, dim)))

    def forward(self, x, context, windows, key_mask):
        residual = x
        ctx = self.proj_context(context).unsqueeze(1).expand(-1, x.shape[1], -1)
        x = self.proj_in(torch.cat([x, ctx], dim=-1))
        windows = [w + getattr(self, f"pos_embed_{i}") for i, w in enumerate(windows)]
        x = self.norm(x + self.cross_attn(x, windows, key_mask))
        return self.proj_out(x) + residual


class VisionSampler(nn.Module):
    def __init__(self, dim: int, heads: int, towers: int, window: int, depth: int):
        super().__init__()
        self.layers = nn.ModuleList([SamplerLayer(dim, heads, towers, window) for _ in range(depth)])


class Sva(nn.Module):
    """(dino (B, (rS)², Cd), siglip (B, (rS)², Cs), key_mask (B, (rS)²)) → (B, S², dim)."""

    def __init__(self, side: int, dim: int, dino_hidden: int, siglip_hidden: int, depth: int, heads: int,
                 window: int = 2):
        super().__init__()
        self.side = side
        self.window = window
        self.mm_projector_aux_0 = aux_projector(siglip_hidden, dim)
        self.mm_projector_aux_1 = aux_projector(dino_hidden, dim)
        self.vision_sampler_0 = VisionSampler(dim, heads, 2, window, depth)
        self.vision_query = nn.Parameter(torch.randn(1, dim))

    def windows(self, t):
        """(B, (rS)², C) → (B, S², r², C): each query's r×r window, row-major (Cambrian's rearrangement)."""
        b = t.shape[0]
        s, r = self.side, self.window
        g = t.reshape(b, s, r, s, r, -1).permute(0, 1, 3, 2, 4, 5)
        return g.reshape(b, s * s, r * r, t.shape[-1])

    def forward(self, dino_tokens, siglip_tokens, key_mask):
        sig = self.mm_projector_aux_0(siglip_tokens)
        din = self.mm_projector_aux_1(dino_tokens)
        context = sig.mean(dim=1)  # global context: the mean projected SigLIP token
        m = self.windows((key_mask > 0.5).unsqueeze(-1)).squeeze(-1)  # (B, S², r²)
        m = m | ~m.any(dim=-1, keepdim=True)  # a fully masked window attends to everything, as in LongVU
        mask = torch.cat([m, m], dim=-1)
        wins = [self.windows(sig), self.windows(din)]
        x = self.vision_query.reshape(1, 1, -1).expand(sig.shape[0], self.side * self.side, -1)
        for layer in self.vision_sampler_0.layers:
            x = layer(x, context, wins, mask)
        return x  # (B, S², dim)


class Projector(nn.Module):
    """mm_projector: Linear(dim→H) → GELU → Linear(H→H) (LongVU's names: mm_projector.0 / .2)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.mm_projector = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))

    def forward(self, x):
        return self.mm_projector(x)
