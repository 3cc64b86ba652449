#!/usr/bin/python3
"""Export a Provence-style pruning reranker (OpenProvence or sentence-transformers PruningEncoder
layout) to a folder Winnow loads: model.onnx with outputs `ranking_logits` [B, 1] and
`pruning_logits` [B, T, 2], tokenizer files, the backbone config.json and winnow_pruning.json.

    /usr/bin/python3 scripts/pruning/export_pruning_onnx.py IN_DIR OUT_DIR [--opset 17]
        [--backend auto|transformers|plain] [--tolerance 1e-4]

Backends:
  transformers  AutoModelForSequenceClassification built from the backbone config, weights loaded
                strictly, forward(output_hidden_states=True); pruning head on hidden_states[-1].
                Works for any backbone transformers can build (ModernBERT, DeBERTa-v2, XLM-R, BERT...).
  plain         plain-PyTorch BERT / RoBERTa / XLM-R from scripts/fixtures/make_fixtures.py (no
                transformers needed). For these models hidden_states[-1] == last_hidden_state.
  auto          transformers if importable, else plain.

After export the ONNX graph is run on sample inputs (onnxruntime Python if importable, else
`node scripts/pruning/run_onnx.mjs` with onnxruntime-node) and compared with PyTorch: the tool
exits non-zero if max |diff| > --tolerance. See docs/pruning-export.md.
"""
import argparse
import inspect
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUN_ONNX_MJS = os.path.join(HERE, "run_onnx.mjs")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
OPTIONAL_TOKENIZER_FILES = ("vocab.txt", "merges.txt", "vocab.json", "added_tokens.json",
                            "sentencepiece.bpe.model", "spm.model")
DEFAULT_THRESHOLD = 0.1  # OpenProvence's DEFAULT_PROCESS_THRESHOLD when the config has none
DEFAULT_MAX_LENGTH = 512
BACKBONE_CONFIG_KEYS = ("base_model_config", "ranking_model_config", "backbone_config", "encoder_config",
                        "model_config")
PLAIN_MODEL_TYPES = ("bert", "roberta", "xlm-roberta")


class ExportError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# Weight files (no safetensors package needed)
# --------------------------------------------------------------------------------------------

_ST_NP = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        data = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = np.asarray(data[base + a:base + b])
        if info["dtype"] == "BF16":
            u = raw.view("<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif info["dtype"] in _ST_NP:
            arr = raw.view(np.dtype(_ST_NP[info["dtype"]]).newbyteorder("<"))
        else:
            raise ExportError(f"{path}: unsupported safetensors dtype {info['dtype']} for {name}")
        out[name] = torch.from_numpy(np.array(arr.reshape(info["shape"]), dtype=arr.dtype.newbyteorder("=")))
    return out


def read_weights(folder, what):
    """model.safetensors (or sharded model-*.safetensors / *.index.json) or pytorch_model.bin."""
    files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    st = [f for f in files if f.endswith(".safetensors")]
    pt = [f for f in files if f.endswith(".bin") and ("pytorch_model" in f or f == "model.bin")]
    sd = {}
    if st:
        for f in st:
            sd.update(read_safetensors(os.path.join(folder, f)))
    elif pt:
        for f in pt:
            obj = torch.load(os.path.join(folder, f), map_location="cpu")
            if isinstance(obj, nn.Module):
                obj = obj.state_dict()
            if not isinstance(obj, dict):
                raise ExportError(f"{folder}/{f}: expected a state dict, got {type(obj).__name__}")
            if "state_dict" in obj and isinstance(obj["state_dict"], dict):
                obj = obj["state_dict"]
            sd.update(obj)
    else:
        raise ExportError(f"{what}: no *.safetensors or pytorch_model.bin in {folder}")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------------------------
# Layout detection and config resolution
# --------------------------------------------------------------------------------------------


def pick_threshold(*cfgs):
    for c in cfgs:
        if not isinstance(c, dict):
            continue
        for k in ("default_threadshold", "default_threshold", "default_pruning_threshold", "pruning_threshold",
                  "threshold"):
            if c.get(k) is not None:
                return float(c[k]), k
    return DEFAULT_THRESHOLD, None


def pick_max_length(*cfgs):
    for c in cfgs:
        if isinstance(c, dict) and c.get("max_length") is not None:
            return int(c["max_length"])
    return None


def backbone_config_from_openprovence(cfg, path):
    """The backbone (ranking model) config nested in an OpenProvence config.json. Accepted shapes:
      1. a dict under base_model_config / ranking_model_config / backbone_config / encoder_config /
         model_config, with its own `model_type` (what OpenProvenceConfig saves);
      2. the backbone's own fields at top level, with `base_model_type` (or `backbone_model_type`,
         `encoder_model_type`) naming its model_type, or `architectures` holding a
         *ForSequenceClassification class (e.g. ModernBertForSequenceClassification)."""
    for k in BACKBONE_CONFIG_KEYS:
        v = cfg.get(k)
        if isinstance(v, dict) and v:
            if not v.get("model_type"):
                raise ExportError(f"{path}: `{k}` has no `model_type`; cannot tell which backbone to build")
            return dict(v), f"nested `{k}`"
    mt = cfg.get("base_model_type") or cfg.get("backbone_model_type") or cfg.get("encoder_model_type")
    arch = [a for a in cfg.get("architectures") or [] if a.endswith("ForSequenceClassification")]
    if mt or arch:
        flat = {k: v for k, v in cfg.items() if k not in OPENPROVENCE_KEYS}
        if mt:
            flat["model_type"] = mt
        else:
            flat["model_type"] = ARCH_TO_TYPE.get(arch[0].replace("ForSequenceClassification", ""))
            if not flat["model_type"]:
                raise ExportError(f"{path}: cannot map architecture {arch[0]} to a model_type; add `base_model_type`")
        flat["architectures"] = arch or None
        if "hidden_size" not in flat:
            raise ExportError(f"{path}: top-level backbone fields assumed (model_type {flat['model_type']}) "
                              "but there is no `hidden_size`")
        return flat, "top-level fields"
    raise ExportError(
        f"{path}: cannot find the backbone config. Expected one of {', '.join(BACKBONE_CONFIG_KEYS)} (a dict "
        "with model_type), or the backbone's fields at top level with `base_model_type` or `architectures` "
        "[*ForSequenceClassification]. A config that only names `base_model_name_or_path` needs the hub: "
        "put that model's config.json under `base_model_config` first.")


OPENPROVENCE_KEYS = ("model_type", "auto_map", "architectures", "mode", "base_model_name_or_path",
                     "tokenizer_name_or_path", "pruning_config", "max_length", "num_pruning_labels",
                     "encoder_architecture", "default_threadshold", "default_threshold", "base_model_type",
                     "backbone_model_type", "encoder_model_type", "splitter_default_language",
                     "standalone_process_default_language")
ARCH_TO_TYPE = {"ModernBert": "modernbert", "Bert": "bert", "XLMRoberta": "xlm-roberta", "Roberta": "roberta",
                "DebertaV2": "deberta-v2", "Deberta": "deberta", "Electra": "electra", "DistilBert": "distilbert",
                "NewModel": "new", "Gemma3Text": "gemma3_text", "EuroBert": "eurobert"}


def split_head(sd, source, n_prune_labels=2):
    """Find the pruning head's Linear in a state dict: `[prefix.]classifier.weight/bias`, or the single
    2-D weight with `n_prune_labels` rows."""
    ws = [k for k in sd if k.endswith("classifier.weight")]
    if len(ws) != 1:
        ws = [k for k in sd if k.endswith("weight") and sd[k].dim() == 2 and sd[k].shape[0] == n_prune_labels]
    if len(ws) != 1:
        raise ExportError(f"{source}: cannot identify the pruning head weight (candidates: {ws or list(sd)})")
    w = ws[0]
    b = w[:-len("weight")] + "bias"
    extra = [k for k in sd if k not in (w, b)]
    if extra:
        raise ExportError(f"{source}: unexpected tensors besides the pruning classifier: {extra[:8]} "
                          "(weighted pooling heads are not supported)")
    bias = sd.get(b, torch.zeros(sd[w].shape[0]))
    return sd[w], bias


def load_source(in_dir):
    """Returns dict(layout, backbone_cfg, ranking_sd, head_w, head_b, threshold, max_length, tok_dirs)."""
    if not os.path.isdir(in_dir):
        raise ExportError(f"{in_dir}: not a folder")
    st_cfg_path = os.path.join(in_dir, "pruning_encoder_config.json")
    rm_dir, ph_dir = os.path.join(in_dir, "ranking_model"), os.path.join(in_dir, "pruning_head")
    if os.path.exists(st_cfg_path) or (os.path.isdir(rm_dir) and os.path.isdir(ph_dir)):
        # sentence-transformers PruningEncoder
        st_cfg = read_json(st_cfg_path) if os.path.exists(st_cfg_path) else {}
        if not os.path.exists(os.path.join(rm_dir, "config.json")):
            raise ExportError(f"{rm_dir}/config.json missing (sentence-transformers PruningEncoder layout)")
        backbone = read_json(os.path.join(rm_dir, "config.json"))
        ranking_sd = read_weights(rm_dir, "ranking_model")
        head_sd = read_weights(ph_dir, "pruning_head")
        head_cfg = read_json(os.path.join(ph_dir, "config.json")) if os.path.exists(os.path.join(ph_dir, "config.json")) else {}
        w, b = split_head(head_sd, ph_dir, int(head_cfg.get("num_labels", 2)))
        thr, thr_key = pick_threshold(st_cfg, st_cfg.get("pruning_config"), head_cfg)
        return dict(layout="sentence-transformers", backbone_cfg=backbone, backbone_from="ranking_model/config.json",
                    ranking_sd=ranking_sd, head_w=w, head_b=b, threshold=thr, threshold_key=thr_key,
                    max_length=pick_max_length(st_cfg),
                    tok_dirs=[rm_dir, in_dir])
    cfg_path = os.path.join(in_dir, "config.json")
    if not os.path.exists(cfg_path):
        raise ExportError(f"{in_dir}: neither pruning_encoder_config.json / ranking_model+pruning_head "
                          "(sentence-transformers) nor config.json (OpenProvence) found")
    cfg = read_json(cfg_path)
    if cfg.get("model_type") not in ("open_provence", "provence", "openprovence"):
        raise ExportError(f"{cfg_path}: model_type is {cfg.get('model_type')!r}, expected 'open_provence' "
                          "(or a sentence-transformers PruningEncoder folder)")
    backbone, how = backbone_config_from_openprovence(cfg, cfg_path)
    sd = read_weights(in_dir, "OpenProvence checkpoint")
    head_sd = {k[len("pruning_head."):]: v for k, v in sd.items() if k.startswith("pruning_head.")}
    if not head_sd:
        raise ExportError(f"{in_dir}: no `pruning_head.*` tensors in the checkpoint")
    rest = {k: v for k, v in sd.items() if not k.startswith("pruning_head.")}
    if any(k.startswith("ranking_model.") for k in rest):
        stray = [k for k in rest if not k.startswith("ranking_model.")]
        if stray:
            raise ExportError(f"{in_dir}: tensors outside ranking_model./pruning_head.: {stray[:8]}")
        ranking_sd = {k[len("ranking_model."):]: v for k, v in rest.items()}
    else:  # legacy checkpoints without the prefix (OpenProvence _convert_legacy_state_dict)
        ranking_sd = rest
    pcfg = cfg.get("pruning_config") or {}
    w, b = split_head(head_sd, f"{in_dir} pruning_head.*", int(cfg.get("num_pruning_labels") or pcfg.get("num_labels") or 2))
    if cfg.get("num_labels") is not None:
        backbone["num_labels"] = int(cfg["num_labels"])
    thr, thr_key = pick_threshold(cfg, pcfg)
    return dict(layout="open_provence", backbone_cfg=backbone, backbone_from=how, ranking_sd=ranking_sd,
                head_w=w, head_b=b, threshold=thr, threshold_key=thr_key, max_length=pick_max_length(cfg),
                tok_dirs=[in_dir])


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class PruningHead(nn.Module):  # OpenProvenceHead / ST pruning head at inference: dropout (identity) + Linear
    def __init__(self, w, b):
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            self.classifier.weight.copy_(w)
            self.classifier.bias.copy_(b)

    def forward(self, h):
        return self.classifier(self.dropout(h))


class PlainPruningReranker(nn.Module):
    def __init__(self, ranker, head, kind):
        super().__init__()
        self.ranker, self.head, self.kind = ranker, head, kind

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        if self.kind == "bert":
            h, pooled = self.ranker.bert(input_ids, attention_mask, token_type_ids)
            ranking = self.ranker.classifier(self.ranker.dropout(pooled))
        else:
            h, _ = self.ranker.roberta(input_ids, attention_mask)
            ranking = self.ranker.classifier(h)
        return ranking, self.head(h)  # h is hidden_states[-1] (== last_hidden_state for BERT/RoBERTa)


class HFPruningReranker(nn.Module):
    """head_input: "last-layer" = output of the last encoder layer, captured with a forward hook (what
    transformers 4.x returns as hidden_states[-1]: for ModernBERT BEFORE final_norm; the default);
    "hidden-states" = out.hidden_states[-1] of the installed transformers version (5.x: after
    final_norm for ModernBERT); "last-hidden-state" = the base model's last_hidden_state."""

    def __init__(self, ranker, head, use_tt, head_input, last_layer):
        super().__init__()
        self.ranker, self.head, self.use_tt, self.head_input = ranker, head, use_tt, head_input
        self._captured = None
        if head_input in ("last-layer", "last-hidden-state"):
            target = last_layer if head_input == "last-layer" else getattr(ranker, ranker.base_model_prefix)
            target.register_forward_hook(self._capture)

    def _capture(self, module, args, output):
        if isinstance(output, (tuple, list)):
            output = output[0]
        elif not torch.is_tensor(output):
            output = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        self._captured = output

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kw = dict(input_ids=input_ids, attention_mask=attention_mask, return_dict=True,
                  output_hidden_states=self.head_input == "hidden-states")
        if self.use_tt:
            kw["token_type_ids"] = token_type_ids
        out = self.ranker(**kw)
        h = out.hidden_states[-1] if self.head_input == "hidden-states" else self._captured
        self._captured = None
        return out.logits, self.head(h)


def find_last_layer(base, n_layers):
    """The last block of the encoder's layer list (ModernBERT `layers`, BERT/DeBERTa `encoder.layer`...)."""
    for name, m in base.named_modules():
        if isinstance(m, nn.ModuleList) and len(m) == n_layers and n_layers > 0:
            return name, m[-1]
    raise ExportError(f"cannot find a ModuleList of {n_layers} layers in {type(base).__name__}; "
                      "use --head-input hidden-states")


def build_plain(src):
    sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
    import make_fixtures as mf  # noqa: E402  (plain-PyTorch BERT with HF parameter names)

    bc = src["backbone_cfg"]
    mt = bc.get("model_type")
    if mt not in PLAIN_MODEL_TYPES:
        raise ExportError(f"--backend plain supports model_type {PLAIN_MODEL_TYPES}, not {mt!r}: "
                          "use --backend transformers (needs the transformers package)")
    if bc.get("hidden_act", "gelu") != "gelu" or bc.get("position_embedding_type", "absolute") != "absolute":
        raise ExportError(f"--backend plain needs hidden_act gelu and absolute positions (got "
                          f"{bc.get('hidden_act')}, {bc.get('position_embedding_type')}): use --backend transformers")
    sd = {k: v for k, v in src["ranking_sd"].items()
          if not k.endswith("embeddings.position_ids") and not k.endswith("embeddings.token_type_ids")}
    kind = "bert" if mt == "bert" else "roberta"
    cls_w = sd.get("classifier.weight") if kind == "bert" else sd.get("classifier.out_proj.weight")
    if cls_w is None:
        raise ExportError(f"ranking model weights have no classifier ({kind}): keys {list(sd)[:6]}...")
    c = mf.make_cfg("ranker", bc["hidden_size"], bc["num_hidden_layers"], bc["num_attention_heads"],
                    bc["intermediate_size"], vocab=bc["vocab_size"], max_pos=bc["max_position_embeddings"],
                    type_vocab=bc.get("type_vocab_size", 2), num_labels=cls_w.shape[0],
                    model_type="bert" if kind == "bert" else "xlm-roberta",
                    pad=bc.get("pad_token_id", 0 if kind == "bert" else 1), eps=bc.get("layer_norm_eps", 1e-12))
    ranker = mf.BertForSequenceClassification(c) if kind == "bert" else mf.XLMRobertaForSequenceClassification(c)
    if kind == "bert" and "bert.pooler.dense.weight" not in sd:
        raise ExportError("BERT ranking model without pooler weights: not a BertForSequenceClassification")
    missing, unexpected = ranker.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ExportError(f"plain {kind} backbone: missing {missing[:8]}, unexpected {unexpected[:8]}")
    model = PlainPruningReranker(ranker, PruningHead(src["head_w"], src["head_b"]), kind).eval()
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if kind == "bert" else [])
    return model, inputs, {"hidden_states_last_is_last_hidden_state": True,
                           "last_layer_output_is_last_hidden_state": True}


def build_transformers(src, head_input):
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification

    bc = dict(src["backbone_cfg"])
    mt = bc.pop("model_type")
    for k in ("transformers_version", "_name_or_path", "auto_map"):
        bc.pop(k, None)
    config = AutoConfig.for_model(mt, **bc)
    cls_rows = [v.shape[0] for k, v in src["ranking_sd"].items()
                if k.endswith("weight") and v.dim() == 2 and k.split(".")[0] in ("classifier", "score")
                and k.split(".")[-2] in ("classifier", "out_proj", "score")]
    if "num_labels" not in src["backbone_cfg"] and cls_rows:
        config.num_labels = cls_rows[-1]
    kw = {"attn_implementation": "eager"}  # exportable everywhere; the numerical reference path
    try:
        ranker = AutoModelForSequenceClassification.from_config(config, **kw)
    except (TypeError, ValueError):
        ranker = AutoModelForSequenceClassification.from_config(config)
    ranker.eval()
    sd = dict(src["ranking_sd"])
    own = ranker.state_dict()
    # tied / buffer keys a checkpoint may omit or carry
    missing, unexpected = ranker.load_state_dict(sd, strict=False)
    unexpected = [k for k in unexpected if not k.endswith(("position_ids", "token_type_ids"))]
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ExportError(f"transformers {type(ranker).__name__}: missing {missing[:8]}, unexpected {unexpected[:8]} "
                          f"(model has {len(own)} tensors, checkpoint {len(sd)})")
    sig = inspect.signature(ranker.forward).parameters
    use_tt = "token_type_ids" in sig and int(getattr(config, "type_vocab_size", 0) or 0) >= 2
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if use_tt else [])
    base = getattr(ranker, ranker.base_model_prefix)
    layer_name, last_layer = find_last_layer(base, int(config.num_hidden_layers))
    info = {"transformers_version": transformers.__version__, "ranker_class": type(ranker).__name__}
    # how the three candidate head inputs relate in this transformers version
    ids, mask, tt = sample_inputs(config.vocab_size, getattr(config, "pad_token_id", 0) or 0, 2, 12, use_tt)
    cap = {}
    hk = last_layer.register_forward_hook(lambda m, a, o: cap.setdefault("h", o[0] if isinstance(o, (tuple, list)) else o))
    with torch.no_grad():
        kwb = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True, return_dict=True)
        if use_tt:
            kwb["token_type_ids"] = tt
        o = base(**kwb)
    hk.remove()
    d_hs = (o.hidden_states[-1] - o.last_hidden_state).abs().max().item()
    d_layer_hs = (cap["h"] - o.hidden_states[-1]).abs().max().item()
    d_layer_lhs = (cap["h"] - o.last_hidden_state).abs().max().item()
    info.update(hidden_states_last_is_last_hidden_state=bool(d_hs == 0.0),
                last_layer_output_is_hidden_states_last=bool(d_layer_hs == 0.0),
                last_layer_output_is_last_hidden_state=bool(d_layer_lhs == 0.0))
    eq = lambda d: "==" if d == 0 else f"!= (max |diff| {d:.3g})"  # noqa: E731
    log(f"  {type(base).__name__} (transformers {transformers.__version__}): hidden_states[-1] {eq(d_hs)} "
        f"last_hidden_state; output of {layer_name}[-1] {eq(d_layer_hs)} hidden_states[-1], {eq(d_layer_lhs)} "
        f"last_hidden_state; pruning head input: {head_input}")
    model = HFPruningReranker(ranker, PruningHead(src["head_w"], src["head_b"]), use_tt, head_input, last_layer).eval()
    return model, inputs, info


# --------------------------------------------------------------------------------------------
# Export and verification
# --------------------------------------------------------------------------------------------


def sample_inputs(vocab, pad_id, batch, seq, with_tt, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, max(6, min(vocab, 2000)), (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    tt = torch.zeros_like(ids)
    for b in range(batch):
        valid = seq - (b * 3) % max(1, seq // 2)  # rows of decreasing length -> right padding
        ids[b, valid:] = pad_id
        mask[b, valid:] = 0
        tt[b, valid // 2:valid] = 1
    return ids, mask, tt


def torch_onnx_export(model, args, path, input_names, opset):
    """TorchScript exporter (dynamic_axes, one self-contained file); on torch >= 2.x where it fails,
    falls back to the dynamo exporter. Returns the exporter used."""
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in input_names}
    dyn["ranking_logits"] = {0: "batch_size"}
    dyn["pruning_logits"] = {0: "batch_size", 1: "sequence_length"}
    kw = dict(input_names=input_names, output_names=["ranking_logits", "pruning_logits"], dynamic_axes=dyn,
              opset_version=opset, do_constant_folding=True)
    has_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters
    try:
        with torch.no_grad():
            torch.onnx.export(model, tuple(args), path, **(dict(kw, dynamo=False) if has_dynamo else kw))
        return "torchscript"
    except Exception as e:  # noqa: BLE001
        if not has_dynamo:
            raise ExportError(f"torch.onnx.export failed: {type(e).__name__}: {e}") from e
        log(f"  TorchScript exporter failed ({type(e).__name__}: {str(e)[:300]}); retrying with dynamo=True")
    from torch.export import Dim
    b, t = Dim("batch_size", min=1), Dim("sequence_length", min=2)
    shapes = tuple({0: b, 1: t} for _ in input_names)
    try:
        with torch.no_grad():
            torch.onnx.export(model, tuple(args), path, input_names=input_names,
                              output_names=["ranking_logits", "pruning_logits"], dynamic_shapes=shapes,
                              opset_version=max(opset, 18), dynamo=True, external_data=False)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"torch.onnx.export (dynamo) failed: {type(e).__name__}: {e}") from e
    return "dynamo"


def canonical_dim_names(path, input_names):
    """Rename the symbolic batch / sequence dims to batch_size / sequence_length (dynamo names them
    s0, s1 or after the Dim) so every export has the same signature."""
    import onnx
    m = onnx.load(path)
    first = m.graph.input[0].type.tensor_type.shape.dim
    ren = {}
    if first[0].dim_param:
        ren[first[0].dim_param] = "batch_size"
    if first[1].dim_param:
        ren[first[1].dim_param] = "sequence_length"
    if all(k == v for k, v in ren.items()):
        return
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in ren:
                d.dim_param = ren[d.dim_param]
    onnx.save(m, path)


def check_contract(path, input_names):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ins = [(i.name, i.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
           for i in m.graph.input]
    outs = [(o.name, o.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
            for o in m.graph.output]
    want_in = [(n, onnx.TensorProto.INT64, ["batch_size", "sequence_length"]) for n in input_names]
    want_out = [("ranking_logits", onnx.TensorProto.FLOAT, ["batch_size", 1]),
                ("pruning_logits", onnx.TensorProto.FLOAT, ["batch_size", "sequence_length", 2])]
    if ins != want_in or outs != want_out:
        raise ExportError(f"{path}: ONNX signature {ins} -> {outs}, expected {want_in} -> {want_out}")
    return m


def run_onnx(path, feeds_list):
    """feeds_list: list of {name: int64 ndarray}. Returns list of {output: ndarray}. onnxruntime
    Python if importable, else node + onnxruntime-node."""
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        return [dict(zip(names, sess.run(None, f))) for f in feeds_list], f"onnxruntime {ort.__version__} (Python)"
    node = shutil.which("node")
    if node is None:
        raise ExportError("cannot run the ONNX check: neither the onnxruntime Python package nor `node` is available")
    with tempfile.TemporaryDirectory() as td:
        inp, outp = os.path.join(td, "in.json"), os.path.join(td, "out.json")
        with open(inp, "w") as f:
            json.dump([{k: {"dtype": "int64", "dims": list(v.shape), "data": v.reshape(-1).tolist()}
                        for k, v in feeds.items()} for feeds in feeds_list], f)
        r = subprocess.run([node, RUN_ONNX_MJS, path, inp, outp], capture_output=True, text=True)
        if r.returncode != 0:
            raise ExportError(f"node run_onnx.mjs failed ({r.returncode}):\n{r.stderr[-3000:]}")
        res = read_json(outp)
    return [{k: np.asarray(v["data"], dtype=np.float32).reshape(v["dims"]) for k, v in o.items()} for o in res], \
        "onnxruntime-node (node scripts/pruning/run_onnx.mjs)"


def verify(model, path, input_names, vocab, pad_id, tol):
    shapes = [(2, 16), (3, 23), (1, 5), (4, 40)]
    feeds_list, refs = [], []
    for i, (b, t) in enumerate(shapes):
        ids, mask, tt = sample_inputs(vocab, pad_id, b, t, "token_type_ids" in input_names, seed=100 + i)
        args = [ids, mask] + ([tt] if "token_type_ids" in input_names else [])
        with torch.no_grad():
            r, p = model(*args)
        refs.append((r.numpy(), p.numpy(), mask.numpy()))
        feeds_list.append({n: a.numpy().astype(np.int64) for n, a in zip(input_names, args)})
    outs, runner = run_onnx(path, feeds_list)
    worst_r = worst_p = worst_pad = 0.0
    for (r, p, mask), o in zip(refs, outs):
        if o["ranking_logits"].shape != r.shape or o["pruning_logits"].shape != p.shape:
            raise ExportError(f"ONNX output shapes {o['ranking_logits'].shape}, {o['pruning_logits'].shape} "
                              f"!= PyTorch {r.shape}, {p.shape}")
        worst_r = max(worst_r, float(np.abs(o["ranking_logits"] - r).max()))
        dp = np.abs(o["pruning_logits"] - p)
        worst_p = max(worst_p, float(dp[mask.astype(bool)].max()))
        if (mask == 0).any():
            worst_pad = max(worst_pad, float(np.nan_to_num(dp[~mask.astype(bool)], nan=np.inf).max()))
    keep = np.concatenate([torch.softmax(torch.from_numpy(p), -1)[..., 1].numpy()[m.astype(bool)]
                           for _, p, m in refs])
    return dict(runner=runner, shapes=shapes, ranking_max_abs_diff=worst_r, pruning_max_abs_diff=worst_p,
                pruning_padded_positions_max_abs_diff=worst_pad,
                keep_prob_quantiles=[round(float(q), 4) for q in np.quantile(keep, [0, 0.1, 0.5, 0.9, 1])]), \
        max(worst_r, worst_p) <= tol and np.isfinite(worst_r) and np.isfinite(worst_p)


def copy_tokenizer(src, out_dir):
    copied = []
    for name in TOKENIZER_FILES + OPTIONAL_TOKENIZER_FILES:
        for d in src["tok_dirs"]:
            p = os.path.join(d, name)
            if os.path.exists(p):
                shutil.copyfile(p, os.path.join(out_dir, name))
                copied.append(name)
                break
    if "tokenizer.json" not in copied:
        raise ExportError(f"no tokenizer.json in {' or '.join(src['tok_dirs'])}: Winnow needs the fast-tokenizer file")
    return copied


def export(in_dir, out_dir, opset=17, backend="auto", tol=1e-4, head_input="last-layer"):
    src = load_source(in_dir)
    bc = src["backbone_cfg"]
    log(f"source: {src['layout']} layout, backbone model_type {bc.get('model_type')} ({src['backbone_from']}), "
        f"{len(src['ranking_sd'])} ranking tensors, pruning head {tuple(src['head_w'].shape)}")
    if src["head_w"].shape[0] != 2:
        raise ExportError(f"pruning head has {src['head_w'].shape[0]} labels; expected 2 (prune, keep)")
    if backend == "auto":
        try:
            import transformers  # noqa: F401
            backend = "transformers"
        except ImportError:
            backend = "plain"
    if backend == "plain" and head_input != "last-layer":
        raise ExportError("--head-input applies to --backend transformers (for plain BERT all three are equal)")
    model, input_names, info = build_plain(src) if backend == "plain" else build_transformers(src, head_input)
    vocab = int(bc["vocab_size"])
    pad_id = bc.get("pad_token_id")
    pad_id = 0 if pad_id is None else int(pad_id)
    with torch.no_grad():
        ids, mask, tt = sample_inputs(vocab, pad_id, 1, 8, False)
        r, _ = model(ids, mask, tt if "token_type_ids" in input_names else None)
    if r.shape[-1] != 1:
        raise ExportError(f"ranking model has {r.shape[-1]} labels; the pruning contract needs num_labels 1")

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    ids, mask, tt = sample_inputs(vocab, pad_id, 2, 16, True, seed=0)
    args = [ids, mask] + ([tt] if "token_type_ids" in input_names else [])
    exporter = torch_onnx_export(model, args, path, input_names, opset)
    canonical_dim_names(path, input_names)
    check_contract(path, input_names)
    report, ok = verify(model, path, input_names, vocab, pad_id, tol)
    log(f"  check ({report['runner']}, shapes {report['shapes']}): max |diff| ranking_logits "
        f"{report['ranking_max_abs_diff']:.3g}, pruning_logits {report['pruning_max_abs_diff']:.3g} "
        f"(padded positions {report['pruning_padded_positions_max_abs_diff']:.3g}); tolerance {tol:g}")
    log(f"  keep-probability quantiles (0, .1, .5, .9, 1) on the check inputs: {report['keep_prob_quantiles']}")
    if not ok:
        os.replace(path, path + ".FAILED")
        raise ExportError(f"ONNX and PyTorch outputs DIFFER: max |diff| ranking {report['ranking_max_abs_diff']:.3g}, "
                          f"pruning {report['pruning_max_abs_diff']:.3g} > {tol:g}; the graph was renamed to {path}.FAILED")

    copied = copy_tokenizer(src, out_dir)
    cfg = {k: v for k, v in bc.items()}
    cfg["num_labels"] = 1
    cfg.setdefault("architectures", None)
    if not cfg["architectures"]:
        cfg["architectures"] = [ARCH_NAME.get(cfg["model_type"], "AutoModel") + "ForSequenceClassification"]
    cfg.pop("id2label", None)
    cfg.pop("label2id", None)
    cfg["id2label"], cfg["label2id"] = {"0": "LABEL_0"}, {"LABEL_0": 0}
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(sorted(cfg.items())), f, indent=2)
        f.write("\n")
    max_length = src["max_length"] or int(bc.get("max_position_embeddings") or DEFAULT_MAX_LENGTH)
    if bc.get("model_type") in ("roberta", "xlm-roberta") and max_length > bc.get("max_position_embeddings", 514) - 2:
        max_length = bc["max_position_embeddings"] - 2
    meta = {
        "format": "winnow-pruning-reranker",
        "version": 1,
        "model": "model.onnx",
        "inputs": input_names,
        "outputs": {"ranking_logits": "[batch, 1] float32; score = sigmoid",
                    "pruning_logits": "[batch, sequence, 2] float32; keep probability = softmax(-1)[..., 1]"},
        "threshold": src["threshold"],
        "max_length": max_length,
        "source_layout": src["layout"],
        "threshold_from": src["threshold_key"] or f"default {DEFAULT_THRESHOLD}",
        "pruning_head_input": {"last-layer": "output of the last encoder layer (transformers 4.x hidden_states[-1])",
                               "hidden-states": "hidden_states[-1] of transformers " + info.get("transformers_version", "?"),
                               "last-hidden-state": "last_hidden_state"}[head_input] if backend == "transformers"
        else "output of the last encoder layer (== hidden_states[-1] == last_hidden_state for BERT/RoBERTa)",
        **{k: v for k, v in info.items() if k.startswith(("hidden_states_", "last_layer_"))},
        "export": {"backend": backend, "exporter": exporter, "opset": opset, "torch": torch.__version__,
                   **{k: v for k, v in info.items() if k in ("transformers_version", "ranker_class")},
                   "check": {k: report[k] for k in ("runner", "ranking_max_abs_diff", "pruning_max_abs_diff")}},
    }
    with open(os.path.join(out_dir, "winnow_pruning.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    log(f"wrote {out_dir}: model.onnx ({os.path.getsize(path) / 1e6:.1f} MB), config.json, winnow_pruning.json "
        f"(threshold {src['threshold']}, max_length {max_length}), {', '.join(copied)}")
    return meta


ARCH_NAME = {v: k for k, v in ARCH_TO_TYPE.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("in_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--backend", choices=["auto", "transformers", "plain"], default="auto")
    ap.add_argument("--head-input", choices=["last-layer", "hidden-states", "last-hidden-state"], default="last-layer",
                    help="what the pruning head reads (transformers backend). last-layer (default): the last encoder "
                         "layer's output = hidden_states[-1] as transformers 4.x returns it, the states OpenProvence "
                         "models were trained on (ModernBERT: before final_norm)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |ONNX - PyTorch| allowed (default 1e-4)")
    a = ap.parse_args()
    torch.manual_seed(0)
    try:
        export(a.in_dir, a.out_dir, a.opset, a.backend, a.tolerance, a.head_input)
    except ExportError as e:
        print(f"export_pruning_onnx: ERROR: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
