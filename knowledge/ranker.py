"""The learned ranker: small linear models over the features, stored as one JSON file with its training hash."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from knowledge.features import CANDIDATE_FEATURES, QUESTION_FEATURES

SHIPPED_RANKER = Path(__file__).parent / "data" / "ranker.json"
REMEMBERED_PREFIX = "log-"  # ids of remembered questions that came with a ranker (moderators' judgements)
FORMAT_VERSION = 1


class RankerError(ValueError):
    """A ranker file that cannot be used, with a reason a person can act on."""


@dataclass(frozen=True)
class LinearModel:
    """Standardised logistic regression: p = sigmoid(((x - mean) / scale) · coef + intercept)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probability per row (rows: n × features, or one row)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        z = ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


@dataclass(frozen=True)
class Ranker:
    """Which window to quote, which sentence to mark, and whether to answer at all."""

    window: LinearModel  # P(the candidate's window holds the answer)
    sentence: LinearModel  # P(the candidate sentence itself holds the answer): the bold sentence
    abstain: LinearModel  # P(the question is answerable) from the question's features
    answer_threshold: float  # answer when P(answerable) is at least this
    quote_floor: float  # the first quote (and "more") needs this window probability; below it, only within the budget
    features: tuple[str, ...] = CANDIDATE_FEATURES
    question_features: tuple[str, ...] = QUESTION_FEATURES
    candidates: int = 40
    training: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        """The ranker as plain data."""
        data = asdict(self)
        data["version"] = FORMAT_VERSION
        return data

    def with_training(self, **notes) -> "Ranker":
        """The same ranker with more notes on its training (e.g. questions to remember, figures)."""
        return replace(self, training={**self.training, **notes})

    def remembered_items(self) -> list:
        """Labelled questions that came with this ranker (judged in the log) for the engine to remember."""
        from knowledge.labelled import LabelledItem, parse_item

        items = []
        for n, raw in enumerate(self.training.get("remember") or [], 1):
            try:
                item = parse_item(raw, n)
            except ValueError:
                continue
            if not item.id.startswith(REMEMBERED_PREFIX):
                item = LabelledItem(**{**item.__dict__, "id": f"{REMEMBERED_PREFIX}{item.id}"})
            items.append(item)
        return items

    def save(self, path: Path | str) -> None:
        """Write the ranker file atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def linear_from(data: dict, width: int, name: str) -> LinearModel:
    """Read one linear model, checking its width."""
    model = LinearModel(tuple(map(float, data["mean"])), tuple(map(float, data["scale"])),
                        tuple(map(float, data["coef"])), float(data["intercept"]))
    if not (len(model.mean) == len(model.scale) == len(model.coef) == width):
        raise RankerError(f"the {name} model has the wrong number of features")
    return model


def load_ranker(path: Path | str = SHIPPED_RANKER) -> Ranker:
    """Read a ranker file written by `python -m bot train`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RankerError(f"No ranker file at {path}: run `python -m bot train`.") from None
    except (OSError, ValueError) as exc:
        raise RankerError(f"The ranker file {path} cannot be read ({exc}): run `python -m bot train`.") from None
    try:
        if data.get("version") != FORMAT_VERSION or tuple(data["features"]) != CANDIDATE_FEATURES \
                or tuple(data["question_features"]) != QUESTION_FEATURES:
            raise RankerError(f"The ranker file {path} was made for other features: run `python -m bot train`.")
        return Ranker(
            window=linear_from(data["window"], len(CANDIDATE_FEATURES), "window"),
            sentence=linear_from(data["sentence"], len(CANDIDATE_FEATURES), "sentence"),
            abstain=linear_from(data["abstain"], len(QUESTION_FEATURES), "abstention"),
            answer_threshold=float(data["answer_threshold"]), quote_floor=float(data["quote_floor"]),
            candidates=int(data.get("candidates", 40)), training=dict(data.get("training") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, RankerError):
            raise
        raise RankerError(f"The ranker file {path} is damaged ({exc}): run `python -m bot train`.") from None


def one_hot_model(names: tuple[str, ...], weights: dict[str, float], intercept: float) -> LinearModel:
    """A hand-set linear model over a few named features."""
    return LinearModel(tuple(0.0 for _ in names), tuple(1.0 for _ in names),
                       tuple(float(weights.get(n, 0.0)) for n in names), intercept)


def fallback_ranker() -> Ranker:
    """The hand-set fusion of the first engine, used when no trained ranker file can be read."""
    relevance = {"dense_best": 20.0, "known_share": 8.0, "covered_share": 3.0, "lexical_best": 2.0}
    return Ranker(
        window=one_hot_model(CANDIDATE_FEATURES, {"base_score_gap": 10.0}, 0.0),
        sentence=one_hot_model(CANDIDATE_FEATURES, {"sentence_sim": 10.0, "sentence_bm25_rel": 3.0}, 0.0),
        abstain=one_hot_model(QUESTION_FEATURES, relevance, -20.0 * 0.735),
        answer_threshold=0.5, quote_floor=0.004, training={"note": "hand-set fallback"},
    )
