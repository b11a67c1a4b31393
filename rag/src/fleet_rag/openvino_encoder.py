"""A sentence-transformers model whose transformer runs on OpenVINO's CPU runtime.

On an idle 2-core host with AMX it embeds as fast as torch in bfloat16 and answers a single query
in half the time; when another process takes a core, as Chroma, Ollama and Open WebUI do on a
fleet host, its one-thread streams keep 2-3x torch's throughput and a small fraction of its
query latency (torch's threads wait for each other). rag_bench.py prints both.

Only the first module, the Hugging Face transformer, is converted to OpenVINO's format;
tokenisation, pooling and normalisation stay with sentence-transformers, so the vectors are the
model's own.

The conversion traces the model with torch, once per model and library versions, in a child
process (`python -m fleet_rag.openvino_encoder`), into a cache folder (the service's data folder):
later starts only read it, and a process that both traced and ran the model sometimes aborted
as it exited ("terminate called without an active exception"), which a CLI must not do.

OpenVINO's model conversion reports usage to Google Analytics unless the user has opted out
(openvino-telemetry, installed with it): hosts are often air-gapped and the platform sends
nothing anywhere, so the conversion runs with OpenVINO's own no-op telemetry stub instead."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

# sentence-transformers' precision names -> OpenVINO's inference precision hints.
PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CONVERT_TIMEOUT = 600.0

log = logging.getLogger(__name__)


def _openvino() -> ModuleType:
    # A None entry makes `import openvino_telemetry` fail, and OpenVINO falls back to its stub.
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return sys.modules[openvino.__name__]


def available() -> bool:
    try:
        _openvino()
    except ImportError:
        return False
    return True


def supports(model: Any) -> bool:
    """Whether the model starts with a Hugging Face transformer (its `auto_model`)."""
    return len(model) > 0 and hasattr(model[0], "auto_model") and model.tokenizer is not None


def features(model: Any, texts: Sequence[str]) -> dict[str, Any]:
    """The transformer's inputs for texts, as sentence-transformers prepares them."""
    return dict(
        model.tokenizer(
            list(texts),
            padding=True,
            truncation="longest_first",
            max_length=model.max_seq_length,
            return_tensors="pt",
        )
    )


def cache_key(model_path: str) -> str:
    """Changes with the model's files and with the libraries that convert it."""
    import torch
    import transformers

    digest = hashlib.sha256(
        f"{model_path}|{_openvino().__version__}|{torch.__version__}|{transformers.__version__}".encode()
    )
    folder = Path(model_path)
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"|{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def convert(model_path: str, xml: Path) -> None:
    """Trace the model's transformer and save it in OpenVINO's format (the child's work)."""
    import torch
    from sentence_transformers import SentenceTransformer

    class Traced(torch.nn.Module):
        """The transformer with its padding mask given in 4-D, [batch, 1, 1, tokens], which
        transformers uses as it is: some releases (5.5) fail to trace the 2-D mask's expansion."""

        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None
        ) -> Any:  # the names become the converted model's inputs
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            mask = attention_mask[:, None, None, :].to(torch.bool)
            output = self.transformer(input_ids=input_ids, attention_mask=mask, **extra)
            return output.last_hidden_state

    ov = _openvino()
    model: Any = SentenceTransformer(model_path, device="cpu")
    sample = features(model, ["OpenVINO traces the model with this text.", "And this one."])
    inputs = [name for name in INPUTS if name in sample]  # some models take no token types
    # The trace warns that it fixes a few shape checks as constants: harmless for padded text
    # batches (the tests compare the vectors with torch's), and noise in the logs.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(
            Traced(model[0].auto_model.eval()),
            example_input={name: sample[name] for name in inputs},
        )
    for port, name in zip(converted.inputs, inputs, strict=True):  # forward's order
        port.get_tensor().set_names({name})
    # Weights kept in float32 (save_model would halve them): the precision is the runtime's choice.
    ov.save_model(converted, str(xml), compress_to_fp16=False)


def converted(model_path: str, cache_dir: Path) -> Path:
    """The model in OpenVINO's format, converted by a child process unless already cached."""
    final = cache_dir / cache_key(model_path)
    xml = final / "model.xml"
    if xml.exists():
        return xml
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=cache_dir))
    try:
        try:
            child = subprocess.run(
                [sys.executable, "-m", __name__, model_path, str(work / "model.xml")],
                capture_output=True,
                text=True,
                timeout=CONVERT_TIMEOUT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"converting {model_path} for OpenVINO took more than {CONVERT_TIMEOUT:g} s"
            ) from None
        if child.returncode != 0 or not (work / "model.xml").exists():
            raise RuntimeError(
                f"converting {model_path} for OpenVINO failed (exit {child.returncode}): "
                + child.stderr.strip()[-2000:]
            )
        try:
            work.rename(final)  # complete or not there: a reader never sees half a model
        except OSError:
            if not xml.exists():  # not another process converting the same model
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return xml


class OpenVinoEncoder:
    def __init__(
        self, model: Any, model_path: str, precision: str, cache_dir: Path | None = None
    ) -> None:
        if not supports(model):
            raise ValueError("the openvino embedding backend needs a transformer-based model")
        self.model = model
        self.model_path = model_path
        self.hint = PRECISION_HINTS[precision]
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:  # a folder of this process's own
            self._scratch = tempfile.TemporaryDirectory(prefix="fleet-rag-openvino-")
            cache_dir = Path(self._scratch.name)
        self.cache_dir = cache_dir
        self._compiled: Any = None
        self._requests: list[Any] = []
        self._lock = threading.Lock()  # one set of infer requests, shared by the service's threads

    def _compile(self) -> Any:
        try:
            xml = converted(self.model_path, self.cache_dir)
        except PermissionError:
            log.warning("%s is not writable: converting into a temporary folder", self.cache_dir)
            self._scratch = tempfile.TemporaryDirectory(prefix="fleet-rag-openvino-")
            self.cache_dir = Path(self._scratch.name)
            xml = converted(self.model_path, self.cache_dir)
        core = _openvino().Core()
        model = core.read_model(str(xml))
        # Two streams of one thread each on a 2-core host: a batch per core, tokenised meanwhile.
        return core.compile_model(
            model, "CPU", {"INFERENCE_PRECISION_HINT": self.hint, "PERFORMANCE_HINT": "THROUGHPUT"}
        )

    @property
    def ready(self) -> bool:
        return self._compiled is not None

    def prepare(self) -> None:
        """Convert (or read the cached conversion) and compile; RuntimeError when it cannot."""
        with self._lock:
            if self._compiled is not None:
                return
            compiled = self._compile()
            # No Python callbacks on OpenVINO's threads (AsyncInferQueue): with them the process
            # sometimes aborted as it exited. encode() waits for the requests itself.
            count = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
            self._requests = [compiled.create_infer_request() for _ in range(count)]
            self._compiled = compiled

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Sentence embeddings (not normalised) in the order of texts."""
        self.prepare()
        with self._lock:
            names = [port.get_any_name() for port in self._compiled.inputs]
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            batches = [order[at : at + batch_size] for at in range(0, len(order), batch_size)]
            hidden: list[np.ndarray | None] = [None] * len(batches)
            inputs: list[Any] = [None] * len(batches)
            running: dict[int, int] = {}  # request slot -> batch index

            def collect(slot: int) -> None:
                request = self._requests[slot]
                request.wait()
                hidden[running.pop(slot)] = request.get_output_tensor(0).data.copy()

            for index, batch in enumerate(batches):
                slot = index % len(self._requests)
                if slot in running:
                    collect(slot)
                inputs[index] = features(self.model, [texts[i] for i in batch])
                self._requests[slot].start_async({n: inputs[index][n].numpy() for n in names})
                running[slot] = index
            for slot in list(running):
                collect(slot)
            return self._pool(order, batches, hidden, inputs)

    def _pool(
        self,
        order: list[int],
        batches: list[list[int]],
        hidden: list[np.ndarray | None],
        inputs: list[Any],
    ) -> np.ndarray:
        import torch

        vectors: np.ndarray | None = None
        for batch, states, batch_features in zip(batches, hidden, inputs, strict=True):
            batch_features["token_embeddings"] = torch.from_numpy(states)
            for module in list(self.model)[1:]:  # pooling, normalisation, dense layers
                batch_features = module(batch_features)
            pooled = batch_features["sentence_embedding"].float().numpy()
            if vectors is None:
                vectors = np.empty((len(order), pooled.shape[1]), dtype=np.float32)
            vectors[batch] = pooled
        assert vectors is not None
        return vectors


if __name__ == "__main__":  # the conversion child: MODEL_PATH OUTPUT_XML
    logging.basicConfig(level=logging.WARNING)
    convert(sys.argv[1], Path(sys.argv[2]))
