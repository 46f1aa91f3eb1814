#!/usr/bin/env python3
"""Make fixtures/reference/mamba3-mimo/: Mamba-3 outputs computed as state-spaces/mamba computes them.

An independent torch implementation (written from reading the code, not copied from it) of:
  - mamba_ssm/modules/mamba3.py, Mamba3.forward / Mamba3._preprocess: the in_proj split
    z | x | B | C | dd_dt | dd_A | trap | angles, B and C rearranged "b l (r g n) -> b l r g n"
    (rank outermost) and RMS-normalised over n by B_norm / C_norm (eps 1e-5),
    A = clamp(-heavy_tail_activation(dd_A), max=-A_floor), DT = softplus(dd_dt + dt_bias);
  - tests/ops/tilelang/test_mamba3_mimo.py, mamba3_MIMO_step_ref: groups repeated to heads
    "b s r h_bc d -> b s r (h_bc g) d", B_bias / C_bias added per (head, rank), the angle state
    advanced by tanh(angle) * DT * pi and pairs rotated: (2i, 2i+1) for SISO, (i, i + N/2) for MIMO,
    as Mamba3.step (rotate_pairwise = not is_mimo) and the TileLang MIMO kernel
    (mamba_ssm/ops/tilelang/mamba3/mamba3_mimo_fwd.py) pair them (the step reference's default,
    rotate_pairwise=True, is the debugging convention; its chunk twin calls the halves kernel-aligned),
    S = exp(ADT) S + (1 - trap) DT exp(ADT) sum_r k_prev v_prev^T + trap DT sum_r k v^T,
    y_r = S q_r + D v_r with v_r = x * mimo_x_r, y_r * silu(z * mimo_z_r) (RMSNorm per head before the
    gate when is_outproj_norm), y = sum_r mimo_o_r * y_r; then out_proj.
SISO (rank 1) is the same with mimo_x = mimo_z = mimo_o = 1, as Mamba3.step passes.

Each case is one file <case>.safetensors holding the weights under mamba_ssm's names (in_proj.weight,
dt_bias, B_bias, C_bias, B_norm.weight, C_norm.weight, D, mimo_x, mimo_z, mimo_o, norm.weight,
out_proj.weight), `input` [batch, T, d_model] and `output` [batch, T, d_model], all float32 (computed
in float64 from the float32 values), and the config in the header's __metadata__ (key "config", JSON).
test/mixers/mamba3-fixture.test.ts compares hybridize's Mamba-3 against them.

How to run it: it needs torch and safetensors (the GPU machine has both); on the CPU, a second:
    python3 scripts/mamba3-reference.py fixtures/reference/mamba3-mimo
"""

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

CASES = {
    # groups > 1 and rank > 1: the layout under test
    "mimo-g2-r2": dict(d_model=8, nheads=4, headdim=3, d_state=8, ngroups=2, mimo_rank=2, is_outproj_norm=False),
    "mimo-g2-r3-outnorm": dict(d_model=6, nheads=4, headdim=2, d_state=8, ngroups=2, mimo_rank=3, is_outproj_norm=True),
    "siso-g1-r1": dict(d_model=8, nheads=2, headdim=4, d_state=8, ngroups=1, mimo_rank=1, is_outproj_norm=False),
}
BATCH, T, EPS, A_FLOOR = 2, 9, 1e-5, 1e-4


def num_rope_angles(d_state: int) -> int:
    # Mamba3.__init__ with rope_fraction 0.5: split_tensor_size = d_state * 0.5, made even, halved.
    split = int(d_state * 0.5)
    return (split - split % 2) // 2


def random_weights(c: dict, gen: torch.Generator) -> dict:
    H, P, N, G, R, Cm = c["nheads"], c["headdim"], c["d_state"], c["ngroups"], c["mimo_rank"], c["d_model"]
    S = num_rope_angles(N)
    proj = 2 * H * P + 2 * N * G * R + 3 * H + S

    def rnd(*shape, scale=1.0, offset=0.0):
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * scale + offset

    w = {
        "in_proj.weight": rnd(proj, Cm, scale=1 / math.sqrt(Cm)),
        "dt_bias": rnd(H, scale=0.5, offset=-0.5),
        # Away from their initial values (ones) so that a mistake in any of them shows.
        "B_bias": rnd(H, R, N, scale=0.2, offset=1.0),
        "C_bias": rnd(H, R, N, scale=0.2, offset=1.0),
        "B_norm.weight": rnd(N, scale=0.3, offset=1.0),
        "C_norm.weight": rnd(N, scale=0.3, offset=1.0),
        "D": rnd(H, scale=0.3, offset=1.0),
        "out_proj.weight": rnd(Cm, H * P, scale=1 / math.sqrt(H * P)),
    }
    if R > 1:
        for name in ("mimo_x", "mimo_z", "mimo_o"):
            w[name] = rnd(H, R, P, scale=0.3, offset=1.0)
    if c["is_outproj_norm"]:
        w["norm.weight"] = rnd(H * P, scale=0.3, offset=1.0)
    # Stored as float32; compute from exactly those values.
    return {k: v.float().double() for k, v in w.items()}


def rmsnorm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS) * weight


def rotate(t: torch.Tensor, angle: torch.Tensor, mimo: bool) -> torch.Tensor:
    """t [..., N], angle [..., S]: pairs (2s, 2s+1) (SISO) or (s, s + N/2) (MIMO) for s < S rotated."""
    out = t.clone()
    S, N = angle.shape[-1], t.shape[-1]
    first, second = (slice(0, S), slice(N // 2, N // 2 + S)) if mimo else (slice(0, 2 * S, 2), slice(1, 2 * S, 2))
    a0, a1 = t[..., first], t[..., second]
    cos, sin = torch.cos(angle), torch.sin(angle)
    out[..., first] = a0 * cos - a1 * sin
    out[..., second] = a0 * sin + a1 * cos
    return out


def reference(c: dict, w: dict, u: torch.Tensor) -> torch.Tensor:
    H, P, N, G, R = c["nheads"], c["headdim"], c["d_state"], c["ngroups"], c["mimo_rank"]
    S = num_rope_angles(N)
    Bn, L, _ = u.shape
    ones = torch.ones(H, R, P, dtype=torch.float64)
    mimo_x, mimo_z, mimo_o = (w.get(n, ones) for n in ("mimo_x", "mimo_z", "mimo_o"))
    zx = u @ w["in_proj.weight"].T
    z, x, B, C, dd_dt, dd_A, trap, angles = torch.split(zx, [H * P, H * P, N * G * R, N * G * R, H, H, H, S], dim=-1)
    z = z.reshape(Bn, L, H, P)
    x = x.reshape(Bn, L, H, P)
    # (r g n): rank outermost; then group g serves heads g*(H/G) .. (g+1)*(H/G)-1.
    B = rmsnorm(B.reshape(Bn, L, R, G, N), w["B_norm.weight"]).repeat_interleave(H // G, dim=3)
    C = rmsnorm(C.reshape(Bn, L, R, G, N), w["C_norm.weight"]).repeat_interleave(H // G, dim=3)
    k_all = B.permute(0, 1, 3, 2, 4) + w["B_bias"]  # [b, l, h, r, n]
    q_all = C.permute(0, 1, 3, 2, 4) + w["C_bias"]
    heavy = torch.where(dd_A >= 0, 1 + dd_A, 1 / (1 - dd_A))
    A = torch.clamp(-heavy, max=-A_FLOOR)
    DT = F.softplus(dd_dt + w["dt_bias"])
    lam = torch.sigmoid(trap)

    state = torch.zeros(Bn, H, P, N, dtype=torch.float64)
    k_prev = torch.zeros(Bn, H, R, N, dtype=torch.float64)
    v_prev = torch.zeros(Bn, H, R, P, dtype=torch.float64)
    angle = torch.zeros(Bn, H, S, dtype=torch.float64)
    outs = []
    for t in range(L):
        dt = DT[:, t]  # [b, h]
        alpha = torch.exp(A[:, t] * dt)
        beta = (1 - lam[:, t]) * dt * alpha
        gamma = lam[:, t] * dt
        angle = angle + torch.tanh(angles[:, t]).unsqueeze(1) * dt.unsqueeze(-1) * math.pi
        k = rotate(k_all[:, t], angle.unsqueeze(2), R > 1)
        q = rotate(q_all[:, t], angle.unsqueeze(2), R > 1)
        v = x[:, t].unsqueeze(2) * mimo_x  # [b, h, r, p]
        prev_kv = torch.einsum("bhrn,bhrp->bhpn", k_prev, v_prev)
        curr_kv = torch.einsum("bhrn,bhrp->bhpn", k, v)
        state = alpha[..., None, None] * state + beta[..., None, None] * prev_kv + gamma[..., None, None] * curr_kv
        y = torch.einsum("bhpn,bhrn->bhrp", state, q) + w["D"][None, :, None, None] * v
        if c["is_outproj_norm"]:
            y = rmsnorm(y, w["norm.weight"].reshape(H, 1, P))
        y = y * F.silu(z[:, t].unsqueeze(2) * mimo_z)
        outs.append(torch.einsum("bhrp,hrp->bhp", y, mimo_o).reshape(Bn, H * P))
        k_prev, v_prev = k, v
    return torch.stack(outs, dim=1) @ w["out_proj.weight"].T


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: mamba3-reference.py OUTPUT_FOLDER")
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, c) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(21 + i)
        w = random_weights(c, gen)
        u = (torch.rand(BATCH, T, c["d_model"], generator=gen, dtype=torch.float64) * 2 - 1).float().double()
        out = reference(c, w, u)
        if not torch.isfinite(out).all():
            sys.exit(f"{name}: non-finite output")
        config = {**c, "num_rope_angles": num_rope_angles(c["d_state"]), "A_floor": A_FLOOR, "eps": EPS, "batch": BATCH, "seqlen": T}
        tensors = {k: v.float().contiguous() for k, v in w.items()}
        tensors["input"] = u.float().contiguous()
        tensors["output"] = out.float().contiguous()
        tmp = folder / f".{name}.safetensors.tmp"
        save_file(tensors, str(tmp), metadata={"config": json.dumps(config), "made_by": "scripts/mamba3-reference.py"})
        tmp.rename(folder / f"{name}.safetensors")
        print(f"{name}: output norm {out.norm().item():.6f}", file=sys.stderr)


if __name__ == "__main__":
    main()
