"""Reference side of scripts/spm-parity.mjs, run with Debian's python3 (python3-sentencepiece, python3-protobuf).

  python3 scripts/spm-parity.py encode MODEL CLASS < cases.jsonl > ids.jsonl
      Each line {"a": str, "b": str|null} -> {"ids": [...], "type_ids": [...]}: the sentencepiece library's ids
      mapped through the slow tokenizer class's conventions (what transformers' slow tokenizer gives).
  python3 scripts/spm-parity.py tokenizer-json MODEL CLASS [CONFIG] > tokenizer.json
      The tokenizer.json transformers' converter writes for the class, written here from the model protobuf as
      parsed by the protobuf library (independent of Winnow's C++ reader), for the `tokenizers` library to run.
  python3 scripts/spm-parity.py model-from-json TOKENIZER_JSON OUT_MODEL
      A sentencepiece model rebuilt from a converted Unigram tokenizer.json (T5's): its pieces, scores, the
      precompiled charsmap and T5's ids <pad>=0 </s>=1 <unk>=2.
"""
import base64
import json
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

META = "\u2581"


def load_proto(path):
    m = pb.ModelProto()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    return m


def conventions(sp, cls):
    """(piece id -> class id, template(single ids, pair ids) -> (ids, type_ids))."""
    if cls in ("XLMRobertaTokenizer", "CamembertTokenizer"):
        offset = 1 if cls == "XLMRobertaTokenizer" else 4
        unk = 3
        bos = 0 if cls == "XLMRobertaTokenizer" else sp.piece_to_id("<s>") + offset
        eos = 2 if cls == "XLMRobertaTokenizer" else sp.piece_to_id("</s>") + offset
        conv = lambda i: unk if i == sp.unk_id() else i + offset

        def template(a, b):
            ids = [bos] + a + [eos] + ([] if b is None else [eos] + b + [eos])
            return ids, [0] * len(ids)
    elif cls == "DebertaV2Tokenizer":
        cls_id, sep_id = sp.piece_to_id("[CLS]"), sp.piece_to_id("[SEP]")
        conv = lambda i: i

        def template(a, b):
            ids = [cls_id] + a + [sep_id]
            types = [0] * len(ids)
            if b is not None:
                ids += b + [sep_id]
                types += [1] * (len(b) + 1)
            return ids, types
    elif cls == "T5Tokenizer":
        eos = sp.eos_id()
        conv = lambda i: i

        def template(a, b):
            ids = a + [eos] + ([] if b is None else b + [eos])
            return ids, [0] * len(ids)
    else:
        raise SystemExit(f"unknown class {cls}")
    return conv, template


def encode(model, cls):
    sp = spm.SentencePieceProcessor(model_file=model)
    conv, template = conventions(sp, cls)
    out = []
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        a = [conv(i) for i in sp.encode(case["a"])]
        b = None if case.get("b") is None else [conv(i) for i in sp.encode(case["b"])]
        ids, types = template(a, b)
        out.append(json.dumps({"ids": ids, "type_ids": types}))
    sys.stdout.write("\n".join(out) + "\n")


def generate_merges(sp_vocab, vocab_scores):
    # transformers' generate_merges(vocab, vocab_scores): splits of each piece into two original pieces.
    scores = dict(vocab_scores)
    merges = []
    for piece, score in scores.items():
        local = []
        for k in range(1, len(piece)):
            l, r = piece[:k], piece[k:]
            if l in sp_vocab and r in sp_vocab:
                local.append((l, r, score))
        local.sort(key=lambda x: (sp_vocab[x[0]], sp_vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
    return [[l, r] for l, r, _ in merges]


def tokenizer_json(model, cls, config_path=None):
    proto = load_proto(model)
    config = json.load(open(config_path)) if config_path else {}
    pieces = [(p.piece, p.score) for p in proto.pieces]
    fairseq = cls in ("XLMRobertaTokenizer", "CamembertTokenizer")
    if cls == "XLMRobertaTokenizer":
        vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces[3:] + [("<mask>", 0.0)]
        unk_id = 3
    elif cls == "CamembertTokenizer":
        vocab = [("<s>NOTUSED", 0.0), ("<pad>", 0.0), ("</s>NOTUSED", 0.0), ("<unk>", 0.0), ("<unk>NOTUSED", -100.0)]
        vocab += pieces[1:] + [("<mask>", 0.0)]
        unk_id = 3
    elif cls == "T5Tokenizer":
        extra = config.get("extra_ids", 100)
        vocab = pieces + [(f"<extra_id_{i}>", 0.0) for i in range(extra - 1, -1, -1)]
        unk_id = proto.trainer_spec.unk_id
    else:
        vocab = pieces
        unk_id = proto.trainer_spec.unk_id
    index = {}
    for i, (p, _) in enumerate(vocab):
        index[p] = i

    # Added tokens: control / user-defined pieces, then the class's special tokens (no config files here).
    added = []
    for p in proto.pieces:
        if p.type in (3, 4):
            added.append({"content": p.piece, "special": p.type == 3, "lstrip": False})
    defaults = {
        "XLMRobertaTokenizer": ["<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"],
        "CamembertTokenizer": ["<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>",
                               "<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"],
        "DebertaV2Tokenizer": ["[CLS]", "[SEP]", "[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"],
        "T5Tokenizer": ["</s>", "<unk>", "<pad>"] + [f"<extra_id_{i}>" for i in range(config.get("extra_ids", 100))],
    }[cls]
    for t in defaults:
        if all(a["content"] != t for a in added):
            added.append({"content": t, "special": True, "lstrip": fairseq and t == "<mask>"})
    next_id = len(vocab)
    for a in added:
        if a["content"] in index:
            a["id"] = index[a["content"]]
        else:
            a["id"] = next_id
            next_id += 1
    added.sort(key=lambda a: a["id"])
    added_tokens = [{"id": a["id"], "content": a["content"], "single_word": False, "lstrip": a["lstrip"],
                     "rstrip": False, "normalized": False, "special": a["special"]} for a in added]
    ids = {a["content"]: a["id"] for a in added}

    charsmap = proto.normalizer_spec.precompiled_charsmap
    precompiled = {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()}
    if cls == "DebertaV2Tokenizer":
        norms = ([{"type": "Lowercase"}] if config.get("do_lower_case") else []) + [
            {"type": "Strip", "strip_left": True, "strip_right": True}]
        norms += [precompiled] if charsmap else []
        norms += [{"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]
    else:
        norms = ([precompiled] if charsmap else []) + [
            {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": META}]
    scheme = "always"
    if cls == "T5Tokenizer":
        scheme = "never" if not config.get("add_prefix_space", True) else (
            "always" if config.get("legacy", True) else "first")
    meta = {"type": "Metaspace", "replacement": META, "prepend_scheme": scheme, "split": True}
    if cls == "DebertaV2Tokenizer":
        pre = {"type": "Sequence", "pretokenizers": (
            [{"type": "Punctuation", "behavior": "Isolated"}] if config.get("split_by_punct") else []) + [meta]}
    else:
        pre = meta
    if fairseq:
        single, pair = ["<s>", "A", "</s>"], ["<s>", "A", "</s>", "</s>", "B", "</s>"]
        types_single, types_pair = [0] * 3, [0] * 6
    elif cls == "DebertaV2Tokenizer":
        single, pair = ["[CLS]", "A", "[SEP]"], ["[CLS]", "A", "[SEP]", "B", "[SEP]"]
        types_single, types_pair = [0] * 3, [0, 0, 0, 1, 1]
    else:
        single, pair = ["A", "</s>"], ["A", "</s>", "B", "</s>"]
        types_single, types_pair = [0] * 2, [0] * 4

    def tmpl(items, types):
        return [{"Sequence": {"id": t, "type_id": ty}} if t in ("A", "B") else {"SpecialToken": {"id": t, "type_id": ty}}
                for t, ty in zip(items, types)]

    special = {t: {"id": t, "ids": [ids.get(t, index.get(t))], "tokens": [t]} for t in set(single)
               if t not in ("A", "B")}
    post = {"type": "TemplateProcessing", "single": tmpl(single, types_single), "pair": tmpl(pair, types_pair),
            "special_tokens": special}
    bf = proto.trainer_spec.byte_fallback
    decoder = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, meta]} if bf else meta
    if proto.trainer_spec.model_type == 1:
        model_json = {"type": "Unigram", "unk_id": unk_id, "vocab": [[p, s] for p, s in vocab], "byte_fallback": bf}
    else:
        sp_vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
        model_json = {"type": "BPE", "dropout": None, "unk_token": proto.trainer_spec.unk_piece,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                      "byte_fallback": bf, "ignore_merges": False, "vocab": {p: i for i, (p, _) in enumerate(vocab)},
                      "merges": generate_merges(sp_vocab, vocab)}
    doc = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
           "normalizer": {"type": "Sequence", "normalizers": norms}, "pre_tokenizer": pre, "post_processor": post,
           "decoder": decoder, "model": model_json}
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")


def model_from_json(path, out):
    doc = json.load(open(path, encoding="utf-8"))
    m = pb.ModelProto()
    vocab = doc["model"]["vocab"]
    added = {a["content"] for a in doc["added_tokens"] if a["content"].startswith("<extra_id_")}
    for piece, score in vocab:
        if piece in added:
            continue  # T5's extra ids come from the class (extra_ids), not the model
        p = m.pieces.add()
        p.piece = piece
        p.score = score
        p.type = {"<pad>": 3, "</s>": 3, "<unk>": 2}.get(piece, 1)
    t = m.trainer_spec
    t.model_type = 1
    t.vocab_size = len(m.pieces)
    t.pad_id, t.eos_id, t.unk_id, t.bos_id = 0, 1, 2, -1
    n = m.normalizer_spec
    n.name = "nmt_nfkc"
    norm = doc["normalizer"]
    n.precompiled_charsmap = base64.b64decode(norm["precompiled_charsmap"])
    n.add_dummy_prefix = n.remove_extra_whitespaces = n.escape_whitespaces = True
    with open(out, "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "encode":
        encode(sys.argv[2], sys.argv[3])
    elif cmd == "tokenizer-json":
        tokenizer_json(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "model-from-json":
        model_from_json(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
