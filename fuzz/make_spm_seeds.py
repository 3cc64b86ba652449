"""Writes fuzz/seeds/spm/: small sentencepiece models (ten pieces, unigram and BPE, in each class's id layout, one
with byte pieces and byte_fallback) for fuzz/sentencepiece_fuzz.cc; the trained models under
test/fixtures/tokenizers/spm are the other seeds. Run with Debian's python3 (python3-sentencepiece, -protobuf):
  /usr/bin/python3 fuzz/make_spm_seeds.py
"""
import os

from sentencepiece import sentencepiece_model_pb2 as pb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "spm")
WORDS = [("\u2581", -2.0), ("\u2581hello", -3.0), ("\u2581world", -3.5), ("h", -5.0), ("e", -5.0), ("l", -5.0),
         ("o", -5.0), ("ll", -4.0)]


def model(name, head, model_type, unk_id, byte_fallback=False):
    m = pb.ModelProto()
    for piece, score, kind in head + [(p, s, 1) for p, s in WORDS]:
        x = m.pieces.add()
        x.piece, x.score, x.type = piece, score, kind
    if byte_fallback:
        for b in range(256):
            x = m.pieces.add()
            x.piece, x.score, x.type = "<0x%02X>" % b, 0.0, 6
    m.trainer_spec.model_type = model_type
    m.trainer_spec.unk_id = unk_id
    m.trainer_spec.unk_piece = m.pieces[unk_id].piece
    m.trainer_spec.byte_fallback = byte_fallback
    m.normalizer_spec.name = "identity"
    data = m.SerializeToString()
    # The fuzzer picks the class from the input's length (size % 4): pad with an unknown field to hit it.
    want = {"xlmr": 0, "camembert": 1, "deberta": 2, "t5": 3}[name.split("-")[0]]
    pad = b""
    while (len(data) + len(pad)) % 4 != want:
        pad += b"\xf8\x07\x00"  # field 127 = 0, which sentencepiece does not define
    with open(os.path.join(OUT, name + ".model"), "wb") as f:
        f.write(data + pad)


os.makedirs(OUT, exist_ok=True)
fairseq = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
model("xlmr-unigram", fairseq, 1, 0)
model("xlmr-bpe", fairseq, 2, 0)
model("camembert-bytes", fairseq, 1, 0, byte_fallback=True)
model("t5-unigram", [("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2)], 1, 2)
model("deberta-bpe", [("[PAD]", 0.0, 3), ("[CLS]", 0.0, 3), ("[SEP]", 0.0, 3), ("[UNK]", 0.0, 2), ("<br>", 0.0, 4)], 2, 3)
