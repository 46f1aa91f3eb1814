"""config.json in the layout transformers 4 wrote and the hub's files still carry, shared by the reference makers."""

import json
from pathlib import Path


def to_v4_layout(folder: Path) -> None:
    """Rewrite config.json as transformers 4 wrote it: rope_theta / rope_scaling (and partial_rotary_factor) at the
    top level instead of rope_parameters, torch_dtype instead of dtype."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    rope = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rope.pop("rope_theta")
    factor = rope.pop("partial_rotary_factor", None)
    if factor is not None:
        cfg["partial_rotary_factor"] = factor
    cfg["rope_scaling"] = None if rope.get("rope_type", "default") == "default" else rope
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
