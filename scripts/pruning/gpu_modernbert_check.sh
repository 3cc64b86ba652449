#!/usr/bin/env bash
# One-shot check of the transformers backend with a ModernBERT backbone (run where `transformers`,
# `safetensors` and `onnxruntime` Python packages are installed, e.g. the GPU machine; CPU is enough):
#
#   bash scripts/pruning/gpu_modernbert_check.sh [WORK_DIR]
#
# 1. builds a random ModernBertForSequenceClassification sized down (hidden 64, 2 layers, 4 heads,
#    FFN 128, vocab 50368, local_attention 16 so sliding-window layers matter at 40 tokens) + a
#    pruning head, saved as an OpenProvence folder AND a sentence-transformers PruningEncoder folder;
# 2. prints whether ModernBertModel's hidden_states[-1] equals last_hidden_state in this transformers
#    version (4.x: no, hidden_states[-1] is before final_norm; 5.17: yes, it is after) and whether the
#    last layer's output (what the exporter feeds the head by default) equals either;
# 3. exports both with export_pruning_onnx.py --backend transformers (the tool checks ONNX vs PyTorch
#    to 1e-4 and exits non-zero otherwise) and checks the two exports give identical outputs.
# Env: PYTHON (default python3), MODERNBERT_TOKENIZER (folder with tokenizer.json; default
# ${WINNOW_TOKENIZERS:-/work/shared/tokenizers}/modernbert-base; a stand-in is made if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
WORK=${1:-$(mktemp -d /tmp/pruning-modernbert.XXXXXX)}
TOK=${MODERNBERT_TOKENIZER:-${WINNOW_TOKENIZERS:-/work/shared/tokenizers}/modernbert-base}
mkdir -p "$WORK"
echo "work dir: $WORK; tokenizer: $TOK"
"$PY" -c 'import torch, transformers, onnx; print("torch", torch.__version__, "transformers", transformers.__version__, "onnx", onnx.__version__)'
"$PY" -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)' || echo "onnxruntime Python missing: the check will use node + onnxruntime-node"

"$PY" - "$WORK" "$TOK" <<'EOF'
import json, os, shutil, sys
import torch
from transformers import ModernBertConfig, ModernBertForSequenceClassification
from safetensors.torch import save_file

work, tok = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
cfg = ModernBertConfig(vocab_size=50368, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, global_attn_every_n_layers=2, local_attention=16,
                       max_position_embeddings=8192, pad_token_id=50283, bos_token_id=50281,
                       eos_token_id=50282, cls_token_id=50281, sep_token_id=50282,
                       classifier_pooling="mean", num_labels=1)
model = ModernBertForSequenceClassification(cfg).eval()
with torch.no_grad():  # larger-than-HF random weights so outputs vary visibly
    for n, p in model.named_parameters():
        if p.dim() == 2 and "embeddings" not in n:
            p.normal_(0, p.shape[1] ** -0.5)
        elif p.dim() == 1:
            p.add_(torch.randn_like(p) * 0.1)
head_w = torch.randn(2, 64) * 64 ** -0.5
head_b = torch.randn(2) * 0.1

# hidden_states[-1] vs last_hidden_state
ids = torch.randint(5, 2000, (2, 40)); mask = torch.ones_like(ids); mask[1, 30:] = 0; ids[1, 30:] = 50283
with torch.no_grad():
    o = model.model(input_ids=ids, attention_mask=mask, output_hidden_states=True, return_dict=True)
    d = (o.hidden_states[-1] - o.last_hidden_state).abs().max().item()
    d_norm = (model.model.final_norm(o.hidden_states[-1]) - o.last_hidden_state).abs().max().item()
print(f"RESULT hidden_states: {len(o.hidden_states)} entries; hidden_states[-1] == last_hidden_state: {d == 0} "
      f"(max |diff| {d:.4g}); final_norm(hidden_states[-1]) vs last_hidden_state max |diff| {d_norm:.3g}")

base = json.loads(cfg.to_json_string(use_diff=False))
for k in ("architectures", "_name_or_path", "transformers_version", "id2label", "label2id"):
    base.pop(k, None)
sd = {k: v.contiguous() for k, v in model.state_dict().items()}

def tokenizer_files(dst):
    os.makedirs(dst, exist_ok=True)
    if os.path.exists(os.path.join(tok, "tokenizer.json")):
        for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if os.path.exists(os.path.join(tok, f)):
                shutil.copyfile(os.path.join(tok, f), os.path.join(dst, f))
    else:  # stand-in: the check does not tokenize text
        from tokenizers import Tokenizer, models
        Tokenizer(models.BPE()).save(os.path.join(dst, "tokenizer.json"))

op = os.path.join(work, "src-openprovence")
tokenizer_files(op)
json.dump({"architectures": ["OpenProvenceModel"], "model_type": "open_provence", "mode": "reranking_pruning",
           "base_model_config": base, "pruning_config": {"hidden_size": 64, "num_labels": 2, "classifier_dropout": 0.1},
           "max_length": 8192, "num_labels": 1, "num_pruning_labels": 2, "default_threadshold": 0.1},
          open(os.path.join(op, "config.json"), "w"), indent=2)
tensors = {"ranking_model." + k: v for k, v in sd.items()}
tensors["pruning_head.classifier.weight"] = head_w
tensors["pruning_head.classifier.bias"] = head_b
save_file(tensors, os.path.join(op, "model.safetensors"), metadata={"format": "pt"})

st = os.path.join(work, "src-st")
model.save_pretrained(os.path.join(st, "ranking_model"))
tokenizer_files(os.path.join(st, "ranking_model"))
os.makedirs(os.path.join(st, "pruning_head"), exist_ok=True)
torch.save({"pruning_head.classifier.weight": head_w, "pruning_head.classifier.bias": head_b},
           os.path.join(st, "pruning_head", "pytorch_model.bin"))
json.dump({"max_length": 8192, "default_threshold": 0.1}, open(os.path.join(st, "pruning_encoder_config.json"), "w"))
print("sources written:", op, st)
EOF

"$PY" scripts/pruning/export_pruning_onnx.py "$WORK/src-openprovence" "$WORK/out-openprovence" --backend transformers
"$PY" scripts/pruning/export_pruning_onnx.py "$WORK/src-st" "$WORK/out-st" --backend transformers

# the transformers-5 reading of hidden_states[-1] (after final_norm), for comparison only
"$PY" scripts/pruning/export_pruning_onnx.py "$WORK/src-openprovence" "$WORK/out-hs" --backend transformers --head-input hidden-states

"$PY" - "$WORK" <<'EOF'
import json, os, sys
import numpy as np
sys.path.insert(0, "scripts/pruning")
import export_pruning_onnx as ex
work = sys.argv[1]
ids, mask, _ = ex.sample_inputs(50368, 50283, 3, 45, False, seed=7)
feeds = [{"input_ids": ids.numpy(), "attention_mask": mask.numpy()}]
a, runner = ex.run_onnx(os.path.join(work, "out-openprovence", "model.onnx"), feeds)
b, _ = ex.run_onnx(os.path.join(work, "out-st", "model.onnx"), feeds)
d = max(float(np.abs(a[0][k] - b[0][k]).max()) for k in ("ranking_logits", "pruning_logits"))
c, _ = ex.run_onnx(os.path.join(work, "out-hs", "model.onnx"), feeds)
dh = float(np.abs(a[0]["pruning_logits"] - c[0]["pruning_logits"]).max())
print(f"RESULT pruning_logits, head on last-layer output vs on this version's hidden_states[-1]: max |diff| {dh:.3g}")
meta = json.load(open(os.path.join(work, "out-openprovence", "winnow_pruning.json")))
print(f"RESULT openprovence vs st exports ({runner}): max |diff| {d:.3g}")
print("RESULT winnow_pruning.json:", json.dumps({k: meta[k] for k in ("inputs", "threshold", "max_length", "pruning_head_input",
      "hidden_states_last_is_last_hidden_state", "last_layer_output_is_hidden_states_last", "last_layer_output_is_last_hidden_state")}), json.dumps(meta["export"]))
sys.exit(0 if d <= 1e-6 else 1)
EOF
echo "ALL OK ($WORK)"
