"""The model folder vLLM serves: checked, and converted once from the packaged GGUF when missing.

The conversion runs in the vLLM venv (``serving/convert_gguf.py``), writes into a temporary
folder next to the target and is renamed into place at the end, so an interrupted run never
leaves a half model where :func:`ensure_model` would accept it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

from serving.settings import Settings

log = logging.getLogger(__name__)

CONVERT_SCRIPT = Path(__file__).with_name("convert_gguf.py")
CONVERT_TIMEOUT_S = 900.0
_TAIL_LINES = 30


class ModelPrepareError(RuntimeError):
    """The model folder is unusable or the conversion failed; the message says what to do."""


def model_problems(folder: Path) -> list[str]:
    """What keeps ``folder`` from being a servable model (empty when it is complete)."""
    if not folder.is_dir():
        return [f"{folder} does not exist"]
    problems = []
    config = folder / "config.json"
    try:
        if not isinstance(json.loads(config.read_text(encoding="utf-8")), dict):
            problems.append("config.json is not a JSON object")
    except FileNotFoundError:
        problems.append("no config.json")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problems.append(f"config.json is not valid JSON ({error})")
    if not any(folder.glob("*.safetensors")):
        problems.append("no *.safetensors weights")
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer.model").is_file():
        problems.append("no tokenizer.json or tokenizer.model")
    if not chat_template(folder):
        problems.append("no chat template (tokenizer_config.json or chat_template.jinja)")
    return problems


def chat_template(folder: Path) -> str | None:
    """The chat template saved with the tokenizer: transformers 5 writes chat_template.jinja, older ones the config."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8") or None
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    template = config.get("chat_template") if isinstance(config, dict) else None
    return template if isinstance(template, str) and template else None


def ensure_model(settings: Settings) -> Path:
    """The model folder, converting the packaged SmolLM2 GGUF into the default cache folder when needed."""
    target = settings.model_dir
    problems = model_problems(target)
    if not problems:
        return target
    if settings.server.model_dir is not None:
        raise ModelPrepareError(
            f"the configured model folder is not usable: {'; '.join(problems)}. "
            "Point SHIFTREC_SERVER__MODEL_DIR at a safetensors model folder, or unset it to use the packaged SmolLM2."
        )
    if target.exists() and any(target.iterdir()):
        raise ModelPrepareError(
            f"{target} exists but is not a complete model ({'; '.join(problems)}); delete it and run "
            "`shiftrec prepare-model` again"
        )
    _convert_packaged_gguf(settings.server.python, target)
    return target


def _convert_packaged_gguf(python: Path, target: Path) -> None:
    if not python.is_file():
        raise ModelPrepareError(f"the vLLM venv's python is missing at {python}; run `make setup` to create .venv-vllm")
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting the packaged SmolLM2 GGUF to safetensors in %s (about 30 s, once)", target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.converting-") as scratch:
        staged = Path(scratch) / "model"
        _run_converter(python, staged)
        problems = model_problems(staged)
        if problems:
            raise ModelPrepareError(f"the conversion finished but its output is incomplete: {'; '.join(problems)}")
        try:
            os.replace(staged, target)  # atomic; replaces only a missing or empty target
        except OSError:
            if model_problems(target):
                raise
            log.info("another process finished converting %s first; using it", target)


def _run_converter(python: Path, out: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    try:
        done = subprocess.run(
            [str(python), str(CONVERT_SCRIPT), "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=CONVERT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ModelPrepareError(f"the GGUF conversion did not finish in {CONVERT_TIMEOUT_S:.0f} s") from error
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-_TAIL_LINES:])
        raise ModelPrepareError(
            f"the GGUF conversion failed (exit {done.returncode}); is .venv-vllm complete (`make setup`)?\n{tail}"
        )
