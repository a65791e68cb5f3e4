"""The PyTorch challenger: an MLP over categorical embeddings and standardised numbers.

Trained on CUDA when there is one, on the CPU otherwise; saved as a `state_dict` and loaded
with `weights_only=True`, so loading a model never runs code.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from flightpath.models.artifacts import ARTIFACT_FILES
from flightpath.models.features import FeatureSpec
from flightpath.models.threads import model_threads

WEIGHTS_FILE = ARTIFACT_FILES["torch"]


@dataclass
class MlpConfig:
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.1
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    batch_size: int = 2048
    max_epochs: int = 15
    patience: int = 2  # epochs without a better validation log loss before stopping
    seed: int = 7


@dataclass
class Scaling:
    """What the numeric inputs are standardised with, learnt on the training rows."""

    mean: list[float]
    std: list[float]


def size_of(vocabulary: int) -> int:
    """Embedding width: about half the vocabulary, at most 16."""
    return min(16, (vocabulary + 1) // 2 + 1)


class DelayMlp(nn.Module):
    def __init__(self, spec: FeatureSpec, config: MlpConfig) -> None:
        super().__init__()
        self.categorical = spec.categorical
        self.numeric = [i for i in range(len(spec.features)) if i not in self.categorical]
        # Index 0 of every embedding is "unseen or missing".
        sizes = [len(spec.vocabularies[spec.features[i]]) + 1 for i in self.categorical]
        self.embeddings = nn.ModuleList(nn.Embedding(size, size_of(size)) for size in sizes)
        width = sum(size_of(size) for size in sizes) + 2 * len(self.numeric)
        layers: list[nn.Module] = []
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = hidden
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, codes: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        """Log-odds per row from category codes (0 = unseen) and standardised numbers."""
        present = ~torch.isnan(numbers)
        inputs = [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        inputs += [torch.where(present, numbers, 0.0), present.float()]
        return self.body(torch.cat(inputs, dim=1)).squeeze(1)


@dataclass
class MlpDelayModel:
    spec: FeatureSpec
    config: MlpConfig
    scaling: Scaling
    network: DelayMlp
    epoch_seconds: list[float] = field(default_factory=list)

    def _tensors(self, matrix: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
        categorical, numeric = self.network.categorical, self.network.numeric
        codes = np.nan_to_num(matrix[:, categorical], nan=-1.0).astype(np.int64) + 1
        numbers = (matrix[:, numeric] - np.array(self.scaling.mean, np.float32)) / np.array(
            self.scaling.std, np.float32
        )
        return torch.from_numpy(codes).to(device), torch.from_numpy(numbers).to(device)

    def predict(self, matrix: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        if self.network.training:  # eval() walks every module: ~0.1 ms a call in the service
            self.network.eval()
        device = next(self.network.parameters()).device
        _use_model_threads()
        out = []
        with torch.inference_mode():
            for start in range(0, len(matrix), batch_size):
                codes, numbers = self._tensors(matrix[start : start + batch_size], device)
                out.append(torch.sigmoid(self.network(codes, numbers)).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty(0)

    def metadata(self) -> dict:
        return {"mlp": asdict(self.config), "scaling": asdict(self.scaling)}

    def save(self, directory: Path) -> None:
        state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
        torch.save(state, directory / WEIGHTS_FILE)

    @classmethod
    def load(cls, directory: Path, spec: FeatureSpec, metadata: dict) -> MlpDelayModel:
        return cls.from_weights((directory / WEIGHTS_FILE).read_bytes(), spec, metadata)

    @classmethod
    def from_weights(cls, weights: bytes, spec: FeatureSpec, metadata: dict) -> MlpDelayModel:
        """The model from a `weights.pt`'s bytes; tensors only, so a pickled object is refused."""
        config, scaling = MlpConfig(**metadata["mlp"]), Scaling(**metadata["scaling"])
        network = DelayMlp(spec, config)
        try:
            state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
        except Exception as error:
            # torch's refusal of a pickled object ends with advice to turn the protection off;
            # only its reason is worth repeating.
            reasons = [line.split("error:", 1)[1] for line in str(error).splitlines()
                       if "WeightsUnpickler error:" in line]  # fmt: skip
            if reasons:
                raise ValueError(f"holds more than tensors:{reasons[0]}") from None
            raise
        network.load_state_dict(state)
        return cls(spec, config, scaling, network)


def training_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _use_model_threads() -> None:
    """torch's CPU threads (process-wide) as `model_threads()` says; CUDA work is unaffected."""
    threads = model_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def train_mlp(
    spec: FeatureSpec,
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    config: MlpConfig | None = None,
    device: torch.device | None = None,
) -> MlpDelayModel:
    """Adam on the training rows; keep the epoch with the best validation log loss."""
    config = config or MlpConfig()
    device = device or training_device()
    _use_model_threads()
    torch.manual_seed(config.seed)
    numeric = [i for i in range(len(spec.features)) if i not in spec.categorical]
    values = train[0][:, numeric]
    scaling = Scaling(
        mean=np.nan_to_num(np.nanmean(values, axis=0)).tolist(),
        std=np.nan_to_num(np.nanstd(values, axis=0), nan=1.0).clip(1e-6).tolist(),
    )
    model = MlpDelayModel(spec, config, scaling, DelayMlp(spec, config).to(device))
    codes, numbers = model._tensors(train[0], device)
    labels = torch.from_numpy(train[1].astype(np.float32)).to(device)
    optimizer = torch.optim.AdamW(
        model.network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    best, best_state, stale = np.inf, None, 0
    for _ in range(config.max_epochs):
        started = time.perf_counter()
        model.network.train()
        order = torch.randperm(len(labels), generator=generator).to(device)
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model.network(codes[batch], numbers[batch]), labels[batch])
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        model.epoch_seconds.append(time.perf_counter() - started)
        loss_now = _log_loss(valid[1], model.predict(valid[0]))
        if loss_now < best - 1e-5:
            best, stale = loss_now, 0
            best_state = {k: v.detach().clone() for k, v in model.network.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.network.load_state_dict(best_state)
    return model


def _log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
