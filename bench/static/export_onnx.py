"""Writes onnx/model.onnx for a Model2Vec folder the way model2vec's ONNX export does (as on the hub,
e.g. minishlab/potion-base-8M/onnx/model.onnx): torch.nn.EmbeddingBag(mode="mean") over the table,
inputs `input_ids` (int64 [num_tokens], flat) and `offsets` (int64 [batch]), output `embeddings`
[batch, dim] (L2-normalised when config.json says normalize). Also writes a minimal
tokenizer_config.json when missing, so transformers.js's AutoTokenizer can load the folder.

    /usr/bin/python3 bench/static/export_onnx.py bench/models/potion-base-8m
"""
import json
import os
import struct
import sys

import numpy as np
import torch


def read_table(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    t = header.get("embeddings") or header["embedding.weight"]
    b, e = t["data_offsets"]
    dt = {"F32": np.float32, "F16": np.float16, "I8": np.int8}[t["dtype"]]
    return np.frombuffer(data[b:e], dtype=dt).reshape(t["shape"]).astype(np.float32)


class TorchStaticModel(torch.nn.Module):
    def __init__(self, vectors, normalize):
        super().__init__()
        self.embedding_bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(vectors), mode="mean", freeze=True)
        self.normalize = normalize

    def forward(self, input_ids, offsets):
        x = self.embedding_bag(input_ids, offsets)
        if self.normalize:
            x = torch.nn.functional.normalize(x, p=2, dim=1)
        return x


def main(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    model = TorchStaticModel(read_table(os.path.join(folder, "model.safetensors")), bool(cfg.get("normalize")))
    model.eval()
    os.makedirs(os.path.join(folder, "onnx"), exist_ok=True)
    ids = torch.tensor([1, 2, 3, 4, 5], dtype=torch.int64)
    offsets = torch.tensor([0, 2], dtype=torch.int64)
    torch.onnx.export(
        model, (ids, offsets), os.path.join(folder, "onnx", "model.onnx"),
        input_names=["input_ids", "offsets"], output_names=["embeddings"],
        dynamic_axes={"input_ids": {0: "num_tokens"}, "offsets": {0: "batch_size"}, "embeddings": {0: "batch_size"}},
        opset_version=14, do_constant_folding=True,
    )
    tc = os.path.join(folder, "tokenizer_config.json")
    if not os.path.exists(tc):
        json.dump({"tokenizer_class": "BertTokenizer", "model_max_length": 1000000, "do_lower_case": True}, open(tc, "w"))
    print("wrote", os.path.join(folder, "onnx", "model.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
