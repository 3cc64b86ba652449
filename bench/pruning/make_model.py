#!/usr/bin/python3
"""A MiniLM-sized pruning reranker for the benchmark (hidden 384, 6 layers, 12 heads, FFN 1536,
bert-base-uncased tokenizer, random weights, calibrated heads), OpenProvence layout, exported with
scripts/pruning/export_pruning_onnx.py --backend plain.

    /usr/bin/python3 bench/pruning/make_model.py   # -> bench/pruning/models/pruning-minilm (not committed)
"""
import os
import shutil
import subprocess
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
sys.path.insert(0, os.path.join(REPO, "scripts", "pruning"))
import make_fixtures as mf  # noqa: E402
import make_pruning_fixtures as mpf  # noqa: E402

NAME = "pruning-minilm"
OUT = os.path.join(HERE, "models")


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, ".gitignore"), "w") as f:
        f.write("*\n")
    c = mf.make_cfg(NAME, 384, 6, 12, 1536)
    tok = os.path.join(mf.TOKENIZERS, "bert-base-uncased", "tokenizer.json")
    model = mf.init_weights(mf.BertForSequenceClassification(c), 602)
    mf.calibrate_classifier(model, model.classifier, tok)
    head = nn.Linear(c.hidden_size, 2)
    g = torch.Generator().manual_seed(603)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) / c.hidden_size ** 0.5)
        head.bias.zero_()
    mpf.calibrate_head(model, head, tok)
    ranking = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    backbone = mf.bert_config(c, ["BertForSequenceClassification"], 1)
    src = os.path.join(OUT, NAME + "-src")
    shutil.rmtree(src, ignore_errors=True)
    mf.bert_tokenizer_files(src)
    base = {k: v for k, v in backbone.items() if k not in ("_name_or_path", "architectures")}
    mf.write_json(os.path.join(src, "config.json"), {
        "architectures": ["OpenProvenceModel"], "model_type": "open_provence", "base_model_config": base,
        "max_length": 512, "num_labels": 1, "default_threadshold": 0.1})
    tensors = {"ranking_model." + k: v for k, v in ranking.items()}
    tensors["pruning_head.classifier.weight"] = head.weight.detach().numpy().copy()
    tensors["pruning_head.classifier.bias"] = head.bias.detach().numpy().copy()
    mf.write_safetensors(os.path.join(src, "model.safetensors"), tensors, metadata={"format": "pt"})
    dst = os.path.join(OUT, NAME)
    shutil.rmtree(dst, ignore_errors=True)
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "pruning", "export_pruning_onnx.py"), src, dst,
                    "--backend", "plain"], check=True)
    shutil.rmtree(src)


if __name__ == "__main__":
    main()
