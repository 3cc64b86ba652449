"""Makes a randomly initialised cross-encoder of BAAI/bge-reranker-base's shape (XLM-RoBERTa, 12 layers,
hidden 768, 12 heads, FFN 3072, vocab 250002) with Hugging Face transformers, saves it as a hub folder
(for sentence-transformers) and exports onnx/model.onnx (fp32) and onnx/model_fp16.onnx (fp16, float16
logits) the way a user's export looks. Needs transformers + torch (the GPU machine has them).

The real bge tokenizer (XLM-R SentencePiece) is not available offline: the t5-small tokenizer.json (also
Unigram + Metaspace + Precompiled) stands in; its ids stay below the model's vocabulary size.

    python3 scripts/gpu/make_xlmr_ce.py OUT_DIR TOKENIZER_JSON
"""
import json
import os
import shutil
import sys

import torch
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

out, tokenizer_json = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
torch.manual_seed(0)
config = XLMRobertaConfig(
    vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    layer_norm_eps=1e-5, num_labels=1, architectures=["XLMRobertaForSequenceClassification"],
)
model = XLMRobertaForSequenceClassification(config).eval()
with torch.no_grad():  # spread the scores so rankings are not ties
    model.classifier.out_proj.weight.mul_(20.0)
model.save_pretrained(out)
shutil.copy(tokenizer_json, os.path.join(out, "tokenizer.json"))
tok = json.load(open(tokenizer_json))
specials = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, "pad_token": "<pad>",
           "eos_token": "</s>", "unk_token": "<unk>"}, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
json.dump({"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"},
          open(os.path.join(out, "special_tokens_map.json"), "w"), indent=2)


class Wrapper(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask).logits


ids = torch.randint(5, 30000, (2, 16))
mask = torch.ones_like(ids)
axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size"}}
torch.onnx.export(Wrapper(model), (ids, mask), os.path.join(out, "onnx", "model.onnx"), input_names=["input_ids", "attention_mask"],
                  output_names=["logits"], dynamic_axes=axes, dynamo=False, opset_version=17)
print("exported model.onnx", os.path.getsize(os.path.join(out, "onnx", "model.onnx")) // 2**20, "MiB", flush=True)

# fp16: torch's export of a .half() model kept the Linear weights in float32 (no tensor cores), so the
# fp32 graph is converted instead: every float initializer/constant to float16, float32 logits out.
import onnx  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_fixtures import convert_fp16  # noqa: E402

fp16 = convert_fp16(onnx.load(os.path.join(out, "onnx", "model.onnx")))
onnx.save(fp16, os.path.join(out, "onnx", "model_fp16.onnx"))
print("converted model_fp16.onnx", os.path.getsize(os.path.join(out, "onnx", "model_fp16.onnx")) // 2**20, "MiB", flush=True)
