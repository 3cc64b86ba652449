// BERT and its relatives: BertModel / BertForSequenceClassification (pooler + classifier), RoBERTa, XLM-RoBERTa and
// CamemBERT (position ids from padding_idx, RobertaClassificationHead), ELECTRA (embedding projection,
// ElectraClassificationHead), DistilBERT (its own names, pre_classifier head). Post-norm encoder layers.
#include <cmath>
#include <limits>

#include "builder/architectures.h"
#include "runtime/custom_ops.h"

namespace winnow::builder {

namespace {

struct Dims {
  int64_t hidden, layers, heads, head, ffn, vocab, positions, types, embedding;
  float eps;
  std::string act;
};

// Parameter names of one family, relative to the base model's prefix.
struct Keys {
  std::string word, position, type, emb_norm, project;                     // embeddings
  std::string layer, q, k, v, attn_out, attn_norm, ffn_in, ffn_out, ffn_norm;  // per layer, after layer + N + "."
};

Keys BertNames() {
  return {"embeddings.word_embeddings.", "embeddings.position_embeddings.", "embeddings.token_type_embeddings.",
          "embeddings.LayerNorm.", "embeddings_project.", "encoder.layer.", "attention.self.query.",
          "attention.self.key.", "attention.self.value.", "attention.output.dense.", "attention.output.LayerNorm.",
          "intermediate.dense.", "output.dense.", "output.LayerNorm."};
}

Keys DistilBertNames() {
  return {"embeddings.word_embeddings.", "embeddings.position_embeddings.", "", "embeddings.LayerNorm.", "",
          "transformer.layer.", "attention.q_lin.", "attention.k_lin.", "attention.v_lin.", "attention.out_lin.",
          "sa_layer_norm.", "ffn.lin1.", "ffn.lin2.", "output_layer_norm."};
}

// A layer norm's parameters: weight / bias, or gamma / beta in checkpoints saved before transformers renamed them.
StatusOr<std::string> Norm(GraphBuilder& b, std::string_view x, const std::string& prefix, int64_t dim, float eps) {
  const Weights& w = b.weights();
  if (!w.Has(prefix + "weight") && w.Has(prefix + "gamma")) {
    WINNOW_ASSIGN_OR_RETURN(std::string gamma, b.Weight(prefix + "gamma", {dim}));
    WINNOW_ASSIGN_OR_RETURN(std::string beta, b.Weight(prefix + "beta", {dim}));
    return b.Op("LayerNormalization", {x, gamma, beta},
                {onnx::IntAttribute("axis", -1), onnx::FloatAttribute("epsilon", eps)});
  }
  return b.LayerNorm(x, prefix, dim, eps);
}

// Norm(h + x) after a sublayer. With Winnow's operators one com.winnow LayerNorm, which also takes h's bias when h
// is a Linear's output (GraphBuilder::ResidualNorm).
StatusOr<std::string> AddNorm(GraphBuilder& b, std::string_view h, std::string_view x, const std::string& prefix,
                              int64_t dim, float eps) {
  if (!b.winnow_ops()) return Norm(b, b.Op("Add", {h, x}), prefix, dim, eps);
  const bool old_names = !b.weights().Has(prefix + "weight") && b.weights().Has(prefix + "gamma");
  WINNOW_ASSIGN_OR_RETURN(std::string gamma, b.Weight(prefix + (old_names ? "gamma" : "weight"), {dim}));
  WINNOW_ASSIGN_OR_RETURN(std::string beta, b.Weight(prefix + (old_names ? "beta" : "bias"), {dim}));
  return b.ResidualNorm(h, x, gamma, beta, eps);
}

// One multi-head self-attention: Softmax(Q K^T / sqrt(head) + mask) V. With Winnow's operators, one com.winnow
// Attention over the three projections, reading attention_mask itself; otherwise the heads split and merged by
// Reshape + Transpose, the pattern the load-time attention rewrite fuses.
// x_first (Winnow's operators only; empty: none): x's first token, [batch, 1, hidden]; the output then holds that
// row alone, and with Q, K and V apart Q is projected from it.
StatusOr<std::string> SelfAttention(GraphBuilder& b, std::string_view x, std::string_view mask, const std::string& p,
                                    const Keys& n, const Dims& d, bool winnow_ops, bool bf16, bool pack_qkv,
                                    std::string_view x_first) {
  if (winnow_ops) {
    // Q, K and V read by the operator, which adds their biases itself: packed as one [hidden, 3·hidden] product
    // (BuildOptions::pack_qkv), or three (the Concat of their biases ONNX Runtime folds at load).
    std::vector<std::string> in;
    if (pack_qkv) {
      WINNOW_ASSIGN_OR_RETURN(std::string qkv, b.PackedLinear(x, {p + n.q, p + n.k, p + n.v}, d.hidden, d.hidden));
      in = {qkv, "", "", "attention_mask"};
      if (auto parts = b.TakeBias(qkv)) in = {parts->first, "", "", "attention_mask", parts->second};
    } else {
      WINNOW_ASSIGN_OR_RETURN(std::string q, b.Linear(x_first.empty() ? x : x_first, p + n.q, d.hidden, d.hidden));
      WINNOW_ASSIGN_OR_RETURN(std::string k, b.Linear(x, p + n.k, d.hidden, d.hidden));
      WINNOW_ASSIGN_OR_RETURN(std::string v, b.Linear(x, p + n.v, d.hidden, d.hidden));
      in = {q, k, v, "attention_mask"};
      if (b.HasPendingBias(q) && b.HasPendingBias(k) && b.HasPendingBias(v)) {
        auto qb = *b.TakeBias(q), kb = *b.TakeBias(k), vb = *b.TakeBias(v);
        in = {qb.first, kb.first, vb.first, "attention_mask",
              b.Op("Concat", {qb.second, kb.second, vb.second}, {onnx::IntAttribute("axis", 0)})};
      }
    }
    std::vector<std::string> attrs = {onnx::IntAttribute("num_heads", d.heads)};
    if (bf16) attrs.push_back(onnx::StringAttribute("precision", "bf16"));
    if (!x_first.empty()) attrs.push_back(onnx::IntAttribute("query_tokens", 1));
    std::string ctx = b.Op(rt::kAttentionOp, in, attrs, rt::kCustomDomain);
    return b.Linear(ctx, p + n.attn_out, d.hidden, d.hidden);
  }
  WINNOW_ASSIGN_OR_RETURN(std::string q, b.Linear(x, p + n.q, d.hidden, d.hidden));
  WINNOW_ASSIGN_OR_RETURN(std::string k, b.Linear(x, p + n.k, d.hidden, d.hidden));
  WINNOW_ASSIGN_OR_RETURN(std::string v, b.Linear(x, p + n.v, d.hidden, d.hidden));
  const std::string split = b.IntList({0, 0, d.heads, d.head});
  q = b.Op("Transpose", {b.Op("Reshape", {q, split})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  k = b.Op("Transpose", {b.Op("Reshape", {k, split})}, {onnx::IntsAttribute("perm", {0, 2, 3, 1})});
  v = b.Op("Transpose", {b.Op("Reshape", {v, split})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  std::string scores = b.Op("Div", {b.Op("MatMul", {q, k}), b.Scalar(std::sqrt(static_cast<float>(d.head)))});
  std::string probs = b.Op("Softmax", {b.Op("Add", {scores, mask})}, {onnx::IntAttribute("axis", -1)});
  std::string ctx = b.Op("Transpose", {b.Op("MatMul", {probs, v})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  ctx = b.Op("Reshape", {ctx, b.IntList({0, 0, d.hidden})});
  return b.Linear(ctx, p + n.attn_out, d.hidden, d.hidden);
}

}  // namespace

StatusOr<BuiltModel> BuildBertFamily(const ConfigReader& c, Weights* w, const BuildOptions& o) {
  WINNOW_ASSIGN_OR_RETURN(std::string type, c.String("model_type", ""));
  const bool distil = type == "distilbert";
  const bool roberta = type == "roberta" || type == "xlm-roberta" || type == "camembert";
  const bool electra = type == "electra";
  Dims d;
  if (distil) {
    WINNOW_ASSIGN_OR_RETURN(d.hidden, c.Int("dim", 768));
    WINNOW_ASSIGN_OR_RETURN(d.layers, c.Int("n_layers", 6));
    WINNOW_ASSIGN_OR_RETURN(d.heads, c.Int("n_heads", 12));
    WINNOW_ASSIGN_OR_RETURN(d.ffn, c.Int("hidden_dim", 4 * d.hidden));
    WINNOW_ASSIGN_OR_RETURN(d.act, c.String("activation", "gelu"));
    d.eps = 1e-12f;
    d.types = 0;
  } else {
    WINNOW_ASSIGN_OR_RETURN(d.hidden, c.Int("hidden_size", 768));
    WINNOW_ASSIGN_OR_RETURN(d.layers, c.Int("num_hidden_layers", 12));
    WINNOW_ASSIGN_OR_RETURN(d.heads, c.Int("num_attention_heads", 12));
    WINNOW_ASSIGN_OR_RETURN(d.ffn, c.Int("intermediate_size", 3072));
    WINNOW_ASSIGN_OR_RETURN(d.act, c.String("hidden_act", "gelu"));
    WINNOW_ASSIGN_OR_RETURN(double eps, c.Number("layer_norm_eps", 1e-12));
    d.eps = static_cast<float>(eps);
    WINNOW_ASSIGN_OR_RETURN(d.types, c.Int("type_vocab_size", 2, 0));
  }
  WINNOW_ASSIGN_OR_RETURN(d.vocab, c.Int("vocab_size", 30522, 1, 1 << 24));
  WINNOW_ASSIGN_OR_RETURN(d.positions, c.Int("max_position_embeddings", 512));
  WINNOW_ASSIGN_OR_RETURN(d.embedding, c.Int("embedding_size", d.hidden));
  if (!electra) d.embedding = d.hidden;
  if (d.hidden % d.heads != 0)
    return c.Invalid("num_attention_heads", "(" + std::to_string(d.heads) + ") must divide the hidden size (" +
                                                std::to_string(d.hidden) + ")");
  d.head = d.hidden / d.heads;
  WINNOW_ASSIGN_OR_RETURN(int64_t pad, c.Int("pad_token_id", roberta ? 1 : 0, 0, d.vocab - 1));
  const Keys n = distil ? DistilBertNames() : BertNames();

  // The base model's prefix: "bert." in a task model, "" in a bare BertModel (e5), the model type's own name else.
  const std::string base = distil ? "distilbert." : roberta ? "roberta." : electra ? "electra." : "bert.";
  WINNOW_RETURN_IF_ERROR(w->FindPrefix(n.word + "weight", {base, "", "model."}));
  const std::string p = w->prefix();

  GraphBuilder b(w, o.inline_all);
  b.UseWinnowOps(o.winnow_ops);
  b.UseWeightsInPlace(o.weights_in_place);
  b.UseExternalNames(&o.external_names);
  b.IdsInput("input_ids");
  b.IdsInput("attention_mask");
  const bool type_input = d.types > 1 && !distil;
  if (type_input) b.IdsInput("token_type_ids");

  // Embeddings: word + position + token type, then the norm (and ELECTRA's projection to the hidden size).
  WINNOW_ASSIGN_OR_RETURN(std::string word, b.Weight(p + n.word + "weight", {d.vocab, d.embedding}));
  std::string x = b.Op("Gather", {word, "input_ids"}, {onnx::IntAttribute("axis", 0)});
  std::string positions;
  if (roberta) {
    // create_position_ids_from_input_ids: cumsum(input_ids != pad) * (input_ids != pad) + pad.
    std::string real = b.Op("Cast", {b.Op("Not", {b.Op("Equal", {"input_ids", b.Int(pad)})})},
                            {onnx::IntAttribute("to", onnx::dtype::kInt64)});
    std::string cum = b.Op("CumSum", {real, b.Int(1)});
    positions = b.Op("Add", {b.Op("Mul", {cum, real}), b.Int(pad)});
  } else {
    std::string seq = b.Op("Gather", {b.Op("Shape", {"input_ids"}), b.Int(1)}, {onnx::IntAttribute("axis", 0)});
    positions = b.Op("Range", {b.Int(0), seq, b.Int(1)});
  }
  WINNOW_ASSIGN_OR_RETURN(std::string pos, b.Weight(p + n.position + "weight", {d.positions, d.embedding}));
  x = b.Op("Add", {x, b.Op("Gather", {pos, positions}, {onnx::IntAttribute("axis", 0)})});
  if (!distil && d.types > 0) {
    WINNOW_ASSIGN_OR_RETURN(std::string tt, b.Weight(p + n.type + "weight", {d.types, d.embedding}));
    // Without the input (RoBERTa's single type) every token is type 0.
    x = b.Op("Add", {x, b.Op("Gather", {tt, type_input ? std::string("token_type_ids") : b.Int(0)},
                             {onnx::IntAttribute("axis", 0)})});
  }
  WINNOW_ASSIGN_OR_RETURN(x, Norm(b, x, p + n.emb_norm, d.embedding, d.eps));
  if (d.embedding != d.hidden) {
    WINNOW_ASSIGN_OR_RETURN(x, b.Linear(x, p + n.project, d.embedding, d.hidden));
  }

  // The additive mask (1 - mask) * float32 min, [batch, 1, 1, sequence] (com.winnow Attention reads attention_mask).
  std::string mask;
  if (!o.winnow_ops) {
    std::string m = b.Op("Cast", {"attention_mask"}, {onnx::IntAttribute("to", onnx::dtype::kFloat)});
    m = b.Op("Mul", {b.Op("Sub", {b.Scalar(1.0f), m}), b.Scalar(std::numeric_limits<float>::lowest())});
    mask = b.Op("Unsqueeze", {m, b.IntList({1, 2})});
  }

  // A classifier reads the first token alone: with Winnow's operators the last layer computes that row only past
  // its K and V (every row of a layer's output depends on the others only through them).
  const bool first_only = o.winnow_ops && o.task == Task::kSequenceClassification;
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string l = p + n.layer + std::to_string(i) + ".";
    const std::string x_first =
        first_only && i == d.layers - 1 ? b.First(x, 1) : "";
    WINNOW_ASSIGN_OR_RETURN(std::string attn, SelfAttention(b, x, mask, l, n, d, o.winnow_ops, o.bf16_attention,
                                                            o.pack_qkv, x_first));
    WINNOW_ASSIGN_OR_RETURN(x, AddNorm(b, attn, x_first.empty() ? x : x_first, l + n.attn_norm, d.hidden, d.eps));
    WINNOW_ASSIGN_OR_RETURN(std::string h, b.Linear(x, l + n.ffn_in, d.hidden, d.ffn));
    WINNOW_ASSIGN_OR_RETURN(h, b.Activation(h, d.act));
    WINNOW_ASSIGN_OR_RETURN(h, b.Linear(h, l + n.ffn_out, d.ffn, d.hidden));
    WINNOW_ASSIGN_OR_RETURN(x, AddNorm(b, h, x, l + n.ffn_norm, d.hidden, d.eps));
  }

  if (o.task == Task::kFeatureExtraction) {
    HiddenStateOutput(b, x, d.hidden);
  } else {
    // The first token's hidden state through the family's head (outer(): "ranking_model." in pruning checkpoints).
    const std::string q = w->outer();
    std::string cls = b.Op("Gather", {x, b.Int(0)}, {onnx::IntAttribute("axis", 1)});
    const std::string head = q + (distil ? "classifier." : roberta || electra ? "classifier.out_proj." : "classifier.");
    WINNOW_ASSIGN_OR_RETURN(const int64_t labels, HeadLabels(*w, head));
    if (distil) {
      WINNOW_ASSIGN_OR_RETURN(cls, b.Linear(cls, q + "pre_classifier.", d.hidden, d.hidden));
      cls = b.Op("Relu", {cls});
    } else if (roberta || electra) {
      WINNOW_ASSIGN_OR_RETURN(cls, b.Linear(cls, q + "classifier.dense.", d.hidden, d.hidden));
      if (roberta) {
        cls = b.Op("Tanh", {cls});
      } else {
        WINNOW_ASSIGN_OR_RETURN(cls, b.Activation(cls, d.act));
      }
    } else {
      WINNOW_ASSIGN_OR_RETURN(cls, b.Linear(cls, p + "pooler.dense.", d.hidden, d.hidden));
      cls = b.Op("Tanh", {cls});
    }
    WINNOW_ASSIGN_OR_RETURN(std::string logits, b.Linear(cls, head, d.hidden, labels));
    WINNOW_RETURN_IF_ERROR(TaskOutputs(b, o, logits, labels, x, d.hidden));
  }
  BuiltModel out = FinishModel(b, type, type);
  out.winnow_attentions = o.winnow_ops ? static_cast<int>(d.layers) : 0;
  out.bf16_attentions = o.winnow_ops && o.bf16_attention ? static_cast<int>(d.layers) : 0;
  return out;
}

}  // namespace winnow::builder
