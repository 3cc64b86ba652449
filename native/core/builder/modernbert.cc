// ModernBERT: ModernBertModel / ModernBertForSequenceClassification as transformers computes them (eager
// attention): token embeddings + norm, rotary positions (one theta for global layers, one for sliding-window
// layers), pre-norm layers with a fused Wqkv projection and a GeGLU MLP, final_norm, and the head
// (cls or mean pooling -> dense -> act -> norm -> classifier).
#include <cmath>
#include <limits>

#include "builder/architectures.h"
#include "runtime/custom_ops.h"

namespace winnow::builder {

namespace {

struct Dims {
  int64_t hidden, layers, heads, head, ffn, vocab, window;
  float eps;
  bool norm_bias, attention_bias, mlp_bias, classifier_bias;
  std::string act, classifier_act, pooling;
  std::vector<bool> sliding;  // per layer: sliding-window (local) attention
  double global_theta, local_theta;
};

// One rope_parameters entry ({"rope_type": "default", "rope_theta": ...}); `theta` keeps its value when the
// entry names none.
Status ReadRope(const ConfigReader& c, const nlohmann::json& rope, const std::string& key, double* theta) {
  auto it = rope.find(key);
  if (it == rope.end() || it->is_null()) return Status::Ok();
  const std::string where = "rope_parameters." + key;
  if (!it->is_object()) return c.Invalid(where, "must be an object");
  auto type = it->find("rope_type");
  if (type != it->end() && !type->is_null() && !(type->is_string() && type->get<std::string>() == "default"))
    return Status(codes::kModelUnsupported, c.path() + ": " + where + ".rope_type " + type->dump() +
                                                " is not one Winnow builds (only \"default\")");
  auto t = it->find("rope_theta");
  if (t != it->end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() <= 0) return c.Invalid(where + ".rope_theta", "must be a positive number");
    *theta = t->get<double>();
  }
  return Status::Ok();
}

StatusOr<Dims> ReadDims(const ConfigReader& c) {
  Dims d;
  WINNOW_ASSIGN_OR_RETURN(d.hidden, c.Int("hidden_size", 768));
  WINNOW_ASSIGN_OR_RETURN(d.layers, c.Int("num_hidden_layers", 22));
  WINNOW_ASSIGN_OR_RETURN(d.heads, c.Int("num_attention_heads", 12));
  WINNOW_ASSIGN_OR_RETURN(d.ffn, c.Int("intermediate_size", 1152));
  WINNOW_ASSIGN_OR_RETURN(d.vocab, c.Int("vocab_size", 50368, 1, 1 << 24));
  WINNOW_ASSIGN_OR_RETURN(d.window, c.Int("local_attention", 128));
  WINNOW_ASSIGN_OR_RETURN(double eps, c.Number("norm_eps", 1e-5));
  d.eps = static_cast<float>(eps);
  WINNOW_ASSIGN_OR_RETURN(d.norm_bias, c.Bool("norm_bias", false));
  WINNOW_ASSIGN_OR_RETURN(d.attention_bias, c.Bool("attention_bias", false));
  WINNOW_ASSIGN_OR_RETURN(d.mlp_bias, c.Bool("mlp_bias", false));
  WINNOW_ASSIGN_OR_RETURN(d.classifier_bias, c.Bool("classifier_bias", false));
  WINNOW_ASSIGN_OR_RETURN(d.act, c.String("hidden_activation", "gelu"));
  WINNOW_ASSIGN_OR_RETURN(d.classifier_act, c.String("classifier_activation", "gelu"));
  WINNOW_ASSIGN_OR_RETURN(d.pooling, c.String("classifier_pooling", "cls"));
  if (d.pooling != "cls" && d.pooling != "mean")
    return c.Invalid("classifier_pooling", "must be \"cls\" or \"mean\", not \"" + d.pooling + "\"");
  if (d.hidden % d.heads != 0)
    return c.Invalid("num_attention_heads", "(" + std::to_string(d.heads) + ") must divide the hidden size (" +
                                                std::to_string(d.hidden) + ")");
  d.head = d.hidden / d.heads;
  if (d.head % 2 != 0)
    return c.Invalid("num_attention_heads", "leaves an odd head size (" + std::to_string(d.head) +
                                                "); rotary embeddings need an even one");
  auto head_dim = c.json().find("head_dim");
  if (head_dim != c.json().end() && !head_dim->is_null() && !(head_dim->is_number_integer() && *head_dim == d.head))
    return Status(codes::kModelUnsupported, c.path() + ": head_dim " + head_dim->dump() +
                                                " differs from hidden_size / num_attention_heads (" +
                                                std::to_string(d.head) + "); Winnow builds only that one");

  // Which layers attend through the band: layer_types when the config has them, else every layer whose index is
  // not a multiple of global_attn_every_n_layers (the layout configs saved before layer_types).
  WINNOW_ASSIGN_OR_RETURN(int64_t every, c.Int("global_attn_every_n_layers", 3));
  auto types = c.json().find("layer_types");
  if (types != c.json().end() && !types->is_null()) {
    if (!types->is_array() || types->size() != static_cast<size_t>(d.layers))
      return c.Invalid("layer_types", "must be a list of " + std::to_string(d.layers) +
                                          " entries (one per layer), not " + types->dump());
    for (const auto& t : *types) {
      if (t == "full_attention") {
        d.sliding.push_back(false);
      } else if (t == "sliding_attention") {
        d.sliding.push_back(true);
      } else {
        return c.Invalid("layer_types", "entries must be \"full_attention\" or \"sliding_attention\", not " + t.dump());
      }
    }
  } else {
    for (int64_t i = 0; i < d.layers; ++i) d.sliding.push_back(i % every != 0);
  }

  // Rotary thetas: rope_parameters {full_attention, sliding_attention} (transformers 5), else global_rope_theta /
  // local_rope_theta (a null local theta means the global one, as in transformers 4).
  WINNOW_ASSIGN_OR_RETURN(d.global_theta, c.Number("global_rope_theta", 160000.0));
  d.local_theta = 10000.0;
  auto local = c.json().find("local_rope_theta");
  if (local != c.json().end() && local->is_null()) {
    d.local_theta = d.global_theta;
  } else {
    WINNOW_ASSIGN_OR_RETURN(d.local_theta, c.Number("local_rope_theta", 10000.0));
  }
  auto rope = c.json().find("rope_parameters");
  if (rope != c.json().end() && !rope->is_null()) {
    if (!rope->is_object()) return c.Invalid("rope_parameters", "must be an object");
    WINNOW_RETURN_IF_ERROR(ReadRope(c, *rope, "full_attention", &d.global_theta));
    WINNOW_RETURN_IF_ERROR(ReadRope(c, *rope, "sliding_attention", &d.local_theta));
  }
  auto scaling = c.json().find("rope_scaling");
  if (scaling != c.json().end() && !scaling->is_null())
    return Status(codes::kModelUnsupported, c.path() + ": rope_scaling " + scaling->dump() +
                                                " is not one Winnow builds (only unscaled rotary embeddings)");
  if (d.global_theta <= 0 || d.local_theta <= 0) return c.Invalid("global_rope_theta", "must be positive");
  return d;
}

// cos and sin [sequence, head] of the rotary embedding for positions 0..sequence-1: the angles
// position * inv_freq, the half-width table written twice (rotate_half pairs dimension i with i + head / 2).
std::pair<std::string, std::string> Rotary(GraphBuilder& b, const std::string& positions, int64_t head, double theta) {
  std::vector<float> inv(static_cast<size_t>(head / 2));
  // theta^(-2i/head) in long double: double pow is versioned GLIBC_2.29 on x86-64, past the glibc floor (2.28) the
  // prebuilds load on, while expl / logl are not.
  for (int64_t i = 0; i < head / 2; ++i)
    inv[static_cast<size_t>(i)] = static_cast<float>(
        std::exp(-std::log(static_cast<long double>(theta)) * static_cast<long double>(2 * i) /
                 static_cast<long double>(head)));
  const std::string half = b.Op("Mul", {b.Op("Unsqueeze", {positions, b.IntList({1})}), b.Floats({head / 2}, inv)});
  const std::string angles = b.Op("Concat", {half, half}, {onnx::IntAttribute("axis", -1)});
  return {b.Op("Cos", {angles}), b.Op("Sin", {angles})};
}

// x * cos + rotate_half(x) * sin over x [batch, heads, sequence, head], rotate_half(x) = [-x2, x1].
std::string ApplyRotary(GraphBuilder& b, const std::string& x, const std::pair<std::string, std::string>& cs,
                        int64_t head) {
  auto halves = b.Ops("Split", {x, b.IntList({head / 2, head / 2})}, 2, {onnx::IntAttribute("axis", -1)});
  std::string rotated = b.Op("Concat", {b.Op("Neg", {halves[1]}), halves[0]}, {onnx::IntAttribute("axis", -1)});
  return b.Op("Add", {b.Op("Mul", {x, cs.first}), b.Op("Mul", {rotated, cs.second})});
}

// A Linear whose weight stacks `count` blocks of `block` rows (Wqkv, Wi): with Winnow's operators one product per
// block (block 0 of `first` where given: only Winnow's operators compute a first row alone), else one product and a
// Split, as the module computes them.
StatusOr<std::vector<std::string>> RowBlocks(GraphBuilder& b, const std::string& x, const std::string& prefix,
                                             int64_t in, int64_t block, int64_t count, bool bias,
                                             const std::string& first = {}) {
  if (!b.winnow_ops()) {
    WINNOW_ASSIGN_OR_RETURN(std::string y, b.Linear(x, prefix, in, count * block, bias));
    return b.Ops("Split", {y, b.IntList(std::vector<int64_t>(static_cast<size_t>(count), block))},
                 static_cast<size_t>(count), {onnx::IntAttribute("axis", -1)});
  }
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) {
    WINNOW_ASSIGN_OR_RETURN(std::string y, b.LinearRows(i == 0 && !first.empty() ? first : x, prefix, in,
                                                        count * block, i * block, block, bias));
    out.push_back(y);
  }
  return out;
}

// ModernBertAttention (eager): Wqkv's q, k, v, rotary on q and k, Softmax(q k^T / sqrt(head) + mask) v, heads
// merged, Wo; as the module computes them without Winnow's operators (one product and a Split, the heads apart by
// Transpose, `mask` additive). With them: q, k and v are three products of Wqkv's row blocks, and one com.winnow
// Attention rotates q and k itself (rope's tables as inputs) and reads attention_mask, a sliding (`local`) layer's
// band as its window. first_only (Winnow's operators only): the first query token alone, q
// projected from it (the output [batch, 1, hidden]).
StatusOr<std::string> Attention(GraphBuilder& b, const std::string& x, const std::string& mask,
                                const std::pair<std::string, std::string>& rope, const std::string& l, const Dims& d,
                                bool local, bool first_only) {
  WINNOW_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                          RowBlocks(b, x, l + "attn.Wqkv.", d.hidden, d.hidden, 3, d.attention_bias,
                                    first_only ? b.First(x, 1) : std::string()));
  if (b.winnow_ops()) {
    // The operator rotates Q's and K's rows as it reads them (its cos and sin inputs; Q's first row is position 0's).
    std::vector<std::string> attrs = {onnx::IntAttribute("num_heads", d.heads)};
    if (local) attrs.push_back(onnx::IntAttribute("window", d.window / 2));
    if (first_only) attrs.push_back(onnx::IntAttribute("query_tokens", 1));
    const std::string ctx = b.Op(rt::kAttentionOp, {parts[0], parts[1], parts[2], "attention_mask", "", "", "", "",
                                                    rope.first, rope.second},
                                 attrs, rt::kCustomDomain);
    return b.Linear(ctx, l + "attn.Wo.", d.hidden, d.hidden, d.attention_bias);
  }
  const std::string split = b.IntList({0, 0, d.heads, d.head});
  std::vector<std::string> heads;
  for (const std::string& part : parts)
    heads.push_back(b.Op("Transpose", {b.Op("Reshape", {part, split})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})}));
  const std::string q = ApplyRotary(b, heads[0], rope, d.head);
  const std::string k = ApplyRotary(b, heads[1], rope, d.head);
  std::string scores = b.Op("MatMul", {q, b.Op("Transpose", {k}, {onnx::IntsAttribute("perm", {0, 1, 3, 2})})});
  scores = b.Op("Mul", {scores, b.Scalar(static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.head))))});
  std::string probs = b.Op("Softmax", {b.Op("Add", {scores, mask})}, {onnx::IntAttribute("axis", -1)});
  std::string ctx = b.Op("Transpose", {b.Op("MatMul", {probs, heads[2]})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  ctx = b.Op("Reshape", {ctx, b.IntList({0, 0, d.hidden})});
  return b.Linear(ctx, l + "attn.Wo.", d.hidden, d.hidden, d.attention_bias);
}

// ModernBertMLP: Wi -> (input, gate) halves -> act(input) * gate -> Wo. With Winnow's operators the halves are two
// products of Wi's row blocks (the activation then takes the input's bias: BiasGelu); else one product and a Split.
StatusOr<std::string> Mlp(GraphBuilder& b, const std::string& x, const std::string& l, const Dims& d) {
  WINNOW_ASSIGN_OR_RETURN(std::vector<std::string> halves, RowBlocks(b, x, l + "mlp.Wi.", d.hidden, d.ffn, 2, d.mlp_bias));
  WINNOW_ASSIGN_OR_RETURN(std::string act, b.Activation(halves[0], d.act));
  return b.Linear(b.Op("Mul", {act, halves[1]}), l + "mlp.Wo.", d.ffn, d.hidden, d.mlp_bias);
}

}  // namespace

StatusOr<BuiltModel> BuildModernBert(const ConfigReader& c, Weights* w, const BuildOptions& o) {
  WINNOW_ASSIGN_OR_RETURN(Dims d, ReadDims(c));
  // "model." in a task model, "" in a bare ModernBertModel; the heads sit beside it, under outer().
  WINNOW_RETURN_IF_ERROR(w->FindPrefix("embeddings.tok_embeddings.weight", {"model.", ""}));
  const std::string p = w->prefix(), q = w->outer();

  GraphBuilder b(w, o.inline_all);
  b.UseWinnowOps(o.winnow_ops);
  b.UseWeightsInPlace(o.weights_in_place);
  b.UseExternalNames(&o.external_names);
  b.IdsInput("input_ids");
  b.IdsInput("attention_mask");

  WINNOW_ASSIGN_OR_RETURN(std::string tok, b.Weight(p + "embeddings.tok_embeddings.weight", {d.vocab, d.hidden}));
  std::string x = b.Op("Gather", {tok, "input_ids"}, {onnx::IntAttribute("axis", 0)});
  WINNOW_ASSIGN_OR_RETURN(x, b.LayerNorm(x, p + "embeddings.norm.", d.hidden, d.eps, d.norm_bias));

  // Positions 0..sequence-1 (right padding: pads take the positions after the text, as in transformers).
  const std::string seq = b.Op("Gather", {b.Op("Shape", {"input_ids"}), b.Int(1)}, {onnx::IntAttribute("axis", 0)});
  const std::string index = b.Op("Range", {b.Int(0), seq, b.Int(1)});  // [sequence] int64
  const std::string positions = b.Op("Cast", {index}, {onnx::IntAttribute("to", onnx::dtype::kFloat)});
  bool any_global = false, any_sliding = false;
  for (bool s : d.sliding) (s ? any_sliding : any_global) = true;
  std::pair<std::string, std::string> global_rope, local_rope;
  if (any_global) global_rope = Rotary(b, positions, d.head, d.global_theta);
  if (any_sliding) local_rope = Rotary(b, positions, d.head, d.local_theta);

  // Additive masks: padding (1 - mask) * float32 min [batch, 1, 1, sequence]; sliding layers also mask keys
  // farther than local_attention / 2 from the query: [batch, 1, sequence, sequence]. (Winnow's Attention reads
  // attention_mask and takes the band as an attribute.)
  const float lowest = std::numeric_limits<float>::lowest();
  auto float_mask = [&] { return b.Op("Cast", {"attention_mask"}, {onnx::IntAttribute("to", onnx::dtype::kFloat)}); };
  std::string global_mask, sliding_mask;
  if (!o.winnow_ops) {
    global_mask = b.Op("Mul", {b.Op("Sub", {b.Scalar(1.0f), float_mask()}), b.Scalar(lowest)});
    global_mask = b.Op("Unsqueeze", {global_mask, b.IntList({1, 2})});
  }
  if (any_sliding && !o.winnow_ops) {
    std::string distance = b.Op("Abs", {b.Op("Sub", {b.Op("Unsqueeze", {index, b.IntList({1})}),
                                                     b.Op("Unsqueeze", {index, b.IntList({0})})})});
    std::string band = b.Op("LessOrEqual", {distance, b.Int(d.window / 2)});  // [sequence, sequence] bool
    sliding_mask = b.Op("Where", {band, global_mask, b.Scalar(lowest)});
  }

  // A classifier with cls pooling reads the first token alone: with Winnow's kernels the last layer computes that
  // row only past its K and V (kernels: 'onnxruntime' keeps every row, the graph the tests compare with).
  const bool first_only = o.winnow_ops && o.task == Task::kSequenceClassification && d.pooling == "cls";
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string l = p + "layers." + std::to_string(i) + ".";
    const bool local = d.sliding[static_cast<size_t>(i)];
    const bool first = first_only && i == d.layers - 1;
    std::string h = x;  // layer 0's attn_norm is Identity
    if (i > 0) {
      WINNOW_ASSIGN_OR_RETURN(h, b.LayerNorm(x, l + "attn_norm.", d.hidden, d.eps, d.norm_bias));
    }
    WINNOW_ASSIGN_OR_RETURN(std::string attn, Attention(b, h, local ? sliding_mask : global_mask,
                                                        local ? local_rope : global_rope, l, d, local, first));
    if (first) x = b.First(x, 1);
    x = b.Op("Add", {x, attn});
    WINNOW_ASSIGN_OR_RETURN(h, b.LayerNorm(x, l + "mlp_norm.", d.hidden, d.eps, d.norm_bias));
    WINNOW_ASSIGN_OR_RETURN(h, Mlp(b, h, l, d));
    x = b.Op("Add", {x, h});
  }
  const std::string last_layer = x;  // the last layer's output, before final_norm
  WINNOW_ASSIGN_OR_RETURN(x, b.LayerNorm(x, p + "final_norm.", d.hidden, d.eps, d.norm_bias));

  if (o.task == Task::kFeatureExtraction) {
    HiddenStateOutput(b, x, d.hidden);
  } else {
    const std::string head = q + "classifier.";
    WINNOW_ASSIGN_OR_RETURN(const int64_t labels, HeadLabels(*w, head));
    std::string pooled;
    if (d.pooling == "cls") {
      pooled = b.Op("Gather", {x, b.Int(0)}, {onnx::IntAttribute("axis", 1)});
    } else {
      // Mean over the real tokens: sum(hidden * mask) / sum(mask).
      const std::string mask_f = float_mask();
      std::string sum = b.Op("ReduceSum", {b.Op("Mul", {x, b.Op("Unsqueeze", {mask_f, b.IntList({2})})}), b.IntList({1})},
                             {onnx::IntAttribute("keepdims", 0)});
      pooled = b.Op("Div", {sum, b.Op("ReduceSum", {mask_f, b.IntList({1})}, {onnx::IntAttribute("keepdims", 1)})});
    }
    WINNOW_ASSIGN_OR_RETURN(pooled, b.Linear(pooled, q + "head.dense.", d.hidden, d.hidden, d.classifier_bias));
    WINNOW_ASSIGN_OR_RETURN(pooled, b.Activation(pooled, d.classifier_act));
    WINNOW_ASSIGN_OR_RETURN(pooled, b.LayerNorm(pooled, q + "head.norm.", d.hidden, d.eps, d.norm_bias));
    WINNOW_ASSIGN_OR_RETURN(std::string logits, b.Linear(pooled, head, d.hidden, labels));
    // OpenProvence trained its pruning head on the last layer's output (transformers 4's hidden_states[-1]), which
    // for ModernBERT comes before final_norm.
    WINNOW_RETURN_IF_ERROR(TaskOutputs(b, o, logits, labels, last_layer, d.hidden));
  }
  return FinishModel(b, "modernbert", "modernbert");
}

}  // namespace winnow::builder
