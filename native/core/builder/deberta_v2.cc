// DeBERTa-v2 and v3 (model_type "deberta-v2"): DebertaV2Model with disentangled attention (content-to-position and
// position-to-content scores over relative-position embeddings, log buckets), the optional convolution after the
// first layer, and DebertaV2ForSequenceClassification's head (ContextPooler over the first token, then the
// classifier), as transformers' modeling_deberta_v2.py computes them.
#include "builder/deberta_v2.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "builder/architectures.h"
#include "runtime/custom_ops.h"
#include "loaders/model_folder.h"

namespace winnow::builder {

namespace deberta {

int64_t LogBucket(int64_t d, int64_t bucket_size, int64_t max_position) {
  const int64_t mid = bucket_size / 2;
  const int64_t a = d < 0 ? -d : d;
  if (a <= mid) return d;
  // float32 throughout, as torch computes it: abs_pos / mid, the log of the float32 (max_position - 1) / mid,
  // ceil, + mid, times the sign, then truncated by .to(torch.long).
  const float denom = std::log(static_cast<float>(static_cast<double>(max_position - 1) / static_cast<double>(mid)));
  const float log_pos =
      std::ceil(std::log(static_cast<float>(a) / static_cast<float>(mid)) / denom * static_cast<float>(mid - 1)) +
      static_cast<float>(mid);
  return static_cast<int64_t>(d < 0 ? -log_pos : log_pos);
}

StatusOr<RelativeIndex> MakeRelativeIndex(int64_t span, int64_t bucket_size, int64_t max_position) {
  auto bucket = [&](int64_t d) { return bucket_size > 0 ? LogBucket(d, bucket_size, max_position) : d; };
  // The bucket grows with |d| (odd in d): once it reaches span both ends of the index are clamped; with
  // bucket_size / 2 == 1 it stays 1 past distance 1.
  RelativeIndex r;
  for (;; ++r.reach) {
    if (r.reach > kMaxReach)
      return Status(codes::kModelUnsupported, "relative positions that keep changing past distance " +
                                                  std::to_string(kMaxReach) + " (position_buckets " +
                                                  std::to_string(bucket_size) + ", max_relative_positions " +
                                                  std::to_string(max_position) + ") are not built");
    if (bucket(r.reach) >= span || (bucket_size > 0 && bucket_size / 2 == 1 && r.reach > 1)) break;
  }
  r.index.reserve(static_cast<size_t>(2 * r.reach + 1));
  for (int64_t d = -r.reach; d <= r.reach; ++d)
    r.index.push_back(std::clamp<int64_t>(bucket(d) + span, 0, 2 * span - 1));
  return r;
}

}  // namespace deberta

namespace {

struct Dims {
  int64_t hidden, layers, heads, head, ffn, vocab, positions, types, embedding;
  float eps;
  std::string act;
  bool relative, c2p, p2c, share_key, norm_rel, position_input;
  int64_t span = 0, buckets = 0, max_relative = 0;
  int64_t conv_kernel = 0, conv_groups = 1;
  std::string conv_act;
};

// "P2C | c2p" -> {"p2c", "c2p"}: lower-cased, split at '|', each item stripped (the config's "a|b" lists).
std::vector<std::string> SplitBars(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  std::vector<std::string> items;
  for (size_t start = 0;;) {
    const size_t bar = s.find('|', start);
    std::string item = s.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    item.erase(0, item.find_first_not_of(" \t\n"));
    item.erase(item.find_last_not_of(" \t\n") + 1);
    items.push_back(item);
    if (bar == std::string::npos) return items;
    start = bar + 1;
  }
}

// "p2c|c2p" (a string, as the config class splits it) or ["p2c", "c2p"].
Status ReadPosAttType(const ConfigReader& c, Dims* d) {
  d->c2p = d->p2c = false;
  auto it = c.json().find("pos_att_type");
  if (it == c.json().end() || it->is_null()) return Status::Ok();
  std::vector<std::string> items;
  if (it->is_string()) {
    items = SplitBars(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_string()) return c.Invalid("pos_att_type", "must list strings, not " + loaders::JsonText(*it));
      items.push_back(v.get<std::string>());
    }
  } else {
    return c.Invalid("pos_att_type", "must be a string or a list of strings, not " + loaders::JsonText(*it));
  }
  // Other entries (DeBERTa v1's "p2p") are ignored by DebertaV2's attention, so they are here too.
  for (const auto& s : items) {
    if (s == "c2p") d->c2p = true;
    if (s == "p2c") d->p2c = true;
  }
  return Status::Ok();
}

StatusOr<Dims> ReadDims(const ConfigReader& c) {
  Dims d;
  WINNOW_ASSIGN_OR_RETURN(d.hidden, c.Int("hidden_size", 1536));
  WINNOW_ASSIGN_OR_RETURN(d.layers, c.Int("num_hidden_layers", 24));
  WINNOW_ASSIGN_OR_RETURN(d.heads, c.Int("num_attention_heads", 24));
  WINNOW_ASSIGN_OR_RETURN(d.ffn, c.Int("intermediate_size", 6144));
  WINNOW_ASSIGN_OR_RETURN(d.act, c.String("hidden_act", "gelu"));
  WINNOW_ASSIGN_OR_RETURN(double eps, c.Number("layer_norm_eps", 1e-7));
  d.eps = static_cast<float>(eps);
  WINNOW_ASSIGN_OR_RETURN(d.vocab, c.Int("vocab_size", 128100, 1, 1 << 24));
  WINNOW_ASSIGN_OR_RETURN(d.positions, c.Int("max_position_embeddings", 512));
  WINNOW_ASSIGN_OR_RETURN(d.types, c.Int("type_vocab_size", 0, 0));
  WINNOW_ASSIGN_OR_RETURN(d.embedding, c.Int("embedding_size", d.hidden));
  WINNOW_ASSIGN_OR_RETURN(d.position_input, c.Bool("position_biased_input", true));
  if (d.hidden % d.heads != 0)
    return c.Invalid("num_attention_heads", "(" + std::to_string(d.heads) + ") must divide the hidden size (" +
                                                std::to_string(d.hidden) + ")");
  d.head = d.hidden / d.heads;
  // The attention's output dense is hidden x hidden, so a head size of another product cannot run in transformers.
  WINNOW_ASSIGN_OR_RETURN(int64_t head, c.Int("attention_head_size", d.head));
  if (head != d.head)
    return c.Invalid("attention_head_size", "(" + std::to_string(head) + ") times num_attention_heads must be the "
                                            "hidden size (" + std::to_string(d.hidden) + ")");
  WINNOW_ASSIGN_OR_RETURN(int64_t pooler, c.Int("pooler_hidden_size", d.hidden));
  if (pooler != d.hidden)
    return c.Invalid("pooler_hidden_size", "(" + std::to_string(pooler) + ") must be the hidden size (" +
                                               std::to_string(d.hidden) + "): the pooler reads the hidden states");

  WINNOW_RETURN_IF_ERROR(ReadPosAttType(c, &d));
  WINNOW_ASSIGN_OR_RETURN(d.relative, c.Bool("relative_attention", false));
  WINNOW_ASSIGN_OR_RETURN(d.share_key, c.Bool("share_att_key", false));
  WINNOW_ASSIGN_OR_RETURN(std::string norm, c.String("norm_rel_ebd", "none"));
  const std::vector<std::string> norms = SplitBars(norm);
  d.norm_rel = std::find(norms.begin(), norms.end(), "layer_norm") != norms.end();
  if (d.relative) {
    // max_relative_positions < 1 means max_position_embeddings; position_buckets > 0 replaces it as the span.
    WINNOW_ASSIGN_OR_RETURN(d.max_relative, c.Int("max_relative_positions", -1, std::numeric_limits<int32_t>::min()));
    if (d.max_relative < 1) d.max_relative = d.positions;
    WINNOW_ASSIGN_OR_RETURN(d.buckets, c.Int("position_buckets", -1, std::numeric_limits<int32_t>::min()));
    if (d.buckets > 0) {
      if (d.buckets < 2)
        return c.Invalid("position_buckets", "(" + std::to_string(d.buckets) + ") must be at least 2 (or -1: none)");
      if (d.max_relative - 1 <= d.buckets / 2)
        return c.Invalid("max_relative_positions",
                         "(" + std::to_string(d.max_relative) + ") must exceed position_buckets / 2 + 1 (" +
                             std::to_string(d.buckets / 2 + 1) + ") for log buckets");
    }
    d.span = d.buckets > 0 ? d.buckets : d.max_relative;
  }
  WINNOW_ASSIGN_OR_RETURN(d.conv_kernel, c.Int("conv_kernel_size", 0, 0, 1 << 10));
  if (d.conv_kernel > 0) {
    WINNOW_ASSIGN_OR_RETURN(d.conv_groups, c.Int("conv_groups", 1));
    WINNOW_ASSIGN_OR_RETURN(d.conv_act, c.String("conv_act", "tanh"));
    // padding (k - 1) // 2 on both sides keeps the length only for odd kernels (an even one fails in transformers).
    if (d.conv_kernel % 2 == 0)
      return c.Invalid("conv_kernel_size", "(" + std::to_string(d.conv_kernel) + ") must be odd");
    if (d.hidden % d.conv_groups != 0)
      return c.Invalid("conv_groups", "(" + std::to_string(d.conv_groups) + ") must divide the hidden size (" +
                                          std::to_string(d.hidden) + ")");
  }
  return d;
}

// A Linear's transposed weight and bias, loaded once: with share_att_key the query and key projections also
// project the relative embeddings.
struct Projection {
  GraphBuilder::ProductWeight weight;
  std::string bias;
};

StatusOr<Projection> LoadProjection(GraphBuilder& b, const std::string& prefix, const Dims& d, bool in_place = true) {
  Projection p;
  WINNOW_ASSIGN_OR_RETURN(p.weight, b.RowsWeight(prefix + "weight", d.hidden, d.hidden, 0, d.hidden, in_place));
  WINNOW_ASSIGN_OR_RETURN(p.bias, b.Weight(prefix + "bias", {d.hidden}));
  return p;
}

std::string Apply(GraphBuilder& b, std::string_view x, const Projection& p) {
  return b.Op("Add", {b.ProductOf(x, p.weight), p.bias});
}

// The relative embeddings [n, hidden] projected into heads, [heads, head, n]: the right-hand side of a MatMul.
std::string PositionHeads(GraphBuilder& b, std::string_view rel, const Projection& p, const Dims& d) {
  std::string h = b.Op("Reshape", {Apply(b, rel, p), b.IntList({0, d.heads, d.head})});
  return b.Op("Transpose", {h}, {onnx::IntsAttribute("perm", {1, 2, 0})});
}

// What the relative attention needs, made once for all layers.
struct Relative {
  // The (normalized) relative embeddings, all 2 * span rows [2 * span, hidden]: constant, so each layer's projection
  // of them is folded once at load. ONNX Runtime's operators: a run slices the rows [lo, hi] it reaches (begin, end:
  // [lo], [hi + 1]); Winnow's Attention takes them all.
  std::string rel, begin, end;
  // Winnow's operators: [S, S] int32 at (i, j): index(i - j), the rows of both terms com.winnow Attention computes.
  std::string index;
  // Otherwise Gather picks them from the flattened rows of Q·posKᵀ / K·posQᵀ [B, H, S, n] by [S, S] indices:
  // i (c2p) or j (p2c) * n + index(i - j) - lo.
  std::string c2p, p2c;
};

// DisentangledSelfAttention: scores Q K^T + c2p + p2c, each over sqrt(head * (1 + #types)), masked where either
// token is padding (masked_fill with the float32 minimum, then softmax), times V. With Winnow's operators one
// com.winnow Attention takes Q, K, V, attention_mask, the position keys and queries of every relative row (folded at
// load) and the index, and computes only the terms the scores read (no [B, H, S, n] products, no [B, H, S, S]
// tensor); a padding query row attends to every key alike (query_mask), as
// the masked_fill does. first_only (Winnow's operators only): the first query token alone (Q projected from it; the
// output [B, 1, hidden]).
StatusOr<std::string> Attention(GraphBuilder& b, std::string_view x, std::string_view mask, const Relative& r,
                                const std::string& p, const Dims& d, bool first_only) {
  const std::string split = b.IntList({0, 0, d.heads, d.head});
  const std::string a = p + "attention.self.";
  WINNOW_ASSIGN_OR_RETURN(Projection qp, LoadProjection(b, a + "query_proj.", d));
  WINNOW_ASSIGN_OR_RETURN(Projection kp, LoadProjection(b, a + "key_proj.", d));
  WINNOW_ASSIGN_OR_RETURN(Projection vp, LoadProjection(b, a + "value_proj.", d));
  const std::string q = Apply(b, first_only ? b.First(x, 1) : std::string(x), qp), k = Apply(b, x, kp),
                    v = Apply(b, x, vp);
  auto heads = [&](const std::string& t) {  // [B, S, hidden] -> [B, H, S, h]
    return b.Op("Transpose", {b.Op("Reshape", {t, split})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  };
  const int64_t factor = 1 + (d.c2p ? 1 : 0) + (d.p2c ? 1 : 0);
  // The position keys / queries (share_att_key: the key and query projections' own): [H, h, 2 * span], all rows
  // (Winnow's Attention), or [H, h, n], the rows the run reaches.
  // They are products of constants, folded at load: their weights transposed inline (GraphBuilder::RowsWeight).
  auto positions = [&](const Projection& own, const char* name, const char* shared) -> StatusOr<std::string> {
    Projection pp = own;
    if (!d.share_key) {
      WINNOW_ASSIGN_OR_RETURN(pp, LoadProjection(b, a + name, d, false));
    } else if (pp.weight.trans_b) {
      WINNOW_ASSIGN_OR_RETURN(pp.weight, b.RowsWeight(a + shared + "weight", d.hidden, d.hidden, 0, d.hidden, false));
    }
    if (b.winnow_ops()) return PositionHeads(b, r.rel, pp, d);
    return b.Op("Slice", {PositionHeads(b, r.rel, pp, d), r.begin, r.end, b.IntList({2})});
  };
  if (b.winnow_ops()) {
    std::vector<std::string> in = {q, k, v, "attention_mask"};
    if (!r.rel.empty()) {
      in.push_back("");  // no bias input: the projections add theirs
      std::string pk, pq;
      if (d.c2p) {
        WINNOW_ASSIGN_OR_RETURN(pk, positions(kp, "pos_key_proj.", "key_proj."));  // [H, h, 2 * span]
      }
      if (d.p2c) {
        WINNOW_ASSIGN_OR_RETURN(pq, positions(qp, "pos_query_proj.", "query_proj."));  // [H, h, 2 * span]
      }
      in.insert(in.end(), {pk, pq, r.index});
    }
    std::vector<std::string> attrs = {
        onnx::IntAttribute("num_heads", d.heads), onnx::IntAttribute("query_mask", 1),
        onnx::FloatAttribute("scale", 1.0f / std::sqrt(static_cast<float>(d.head * factor)))};
    if (first_only) attrs.push_back(onnx::IntAttribute("query_tokens", 1));
    const std::string ctx = b.Op(rt::kAttentionOp, in, attrs, rt::kCustomDomain);
    return b.Linear(ctx, p + "attention.output.dense.", d.hidden, d.hidden);
  }
  // torch.sqrt of the float32 head * factor; every term is divided by it, applied here to Q and to the
  // position queries (the smaller operands).
  const std::string scale = b.Scalar(std::sqrt(static_cast<float>(d.head * factor)));
  const std::string kh = heads(k);
  const std::string qs = b.Op("Div", {heads(q), scale});
  const std::string kt = b.Op("Transpose", {kh}, {onnx::IntsAttribute("perm", {0, 1, 3, 2})});  // [B,H,h,S]
  std::string scores = b.Op("MatMul", {qs, kt});
  if (!r.rel.empty()) {
    // One score per (row, column) from the flattened rows of s [B, H, rows, n] (Relative says how).
    auto pick = [&](const std::string& s, const std::string& index) {
      return b.Op("Gather", {b.Op("Reshape", {s, b.IntList({0, 0, -1})}), index}, {onnx::IntAttribute("axis", 2)});
    };
    if (d.c2p) {
      WINNOW_ASSIGN_OR_RETURN(std::string pk, positions(kp, "pos_key_proj.", "key_proj."));
      scores = b.Op("Add", {scores, pick(b.Op("MatMul", {qs, pk}), r.c2p)});
    }
    if (d.p2c) {
      // p2c(i, j) = k_j · posQ[index(i - j)]: from K·posQᵀ [B, H, S, n], row j.
      WINNOW_ASSIGN_OR_RETURN(std::string pq, positions(qp, "pos_query_proj.", "query_proj."));
      scores = b.Op("Add", {scores, pick(b.Op("MatMul", {kh, b.Op("Div", {pq, scale})}), r.p2c)});
    }
  }
  scores = b.Op("Where", {std::string(mask), scores, b.Scalar(std::numeric_limits<float>::lowest())});
  std::string probs = b.Op("Softmax", {scores}, {onnx::IntAttribute("axis", -1)});
  std::string ctx = b.Op("Transpose", {b.Op("MatMul", {probs, heads(v)})}, {onnx::IntsAttribute("perm", {0, 2, 1, 3})});
  ctx = b.Op("Reshape", {ctx, b.IntList({0, 0, d.hidden})});
  return b.Linear(ctx, p + "attention.output.dense.", d.hidden, d.hidden);
}

// The relative embeddings rows the sequence can reach and the indices into the c2p / p2c scores (Relative), from the
// sequence length alone. Rows: index(d) for d = i - j in [-(S-1), S-1] runs from index(-(S-1)) to index(S-1)
// (it grows with d): with ONNX Runtime's operators a run slices those n rows from each layer's projections (of all
// rows, folded at load); Winnow's Attention takes all rows and the index itself. p2c's index for (i, j),
// clamp(span - bucket(j - i)), is index(i - j) too (the bucket is odd in d).
StatusOr<Relative> MakeRelative(GraphBuilder& b, std::string_view seq, const std::string& prefix, const Dims& d) {
  WINNOW_ASSIGN_OR_RETURN(deberta::RelativeIndex ri, deberta::MakeRelativeIndex(d.span, d.buckets, d.max_relative));
  const std::string table = b.Ints({static_cast<int64_t>(ri.index.size())}, ri.index);
  const std::string reach = b.Int(ri.reach);
  auto lookup = [&](const std::string& dist) {  // index(dist), dist clipped to [-reach, reach]
    std::string c = b.Op("Max", {b.Op("Min", {dist, reach}), b.Int(-ri.reach)});
    return b.Op("Gather", {table, b.Op("Add", {c, reach})}, {onnx::IntAttribute("axis", 0)});
  };
  Relative r;
  WINNOW_ASSIGN_OR_RETURN(std::string emb, b.Weight(prefix + "encoder.rel_embeddings.weight", {2 * d.span, d.hidden}));
  r.rel = emb;
  if (d.norm_rel) {
    WINNOW_ASSIGN_OR_RETURN(r.rel, b.LayerNorm(r.rel, prefix + "encoder.LayerNorm.", d.hidden, d.eps));
  }
  const std::string pos = b.Op("Range", {b.Int(0), seq, b.Int(1)});
  const std::string rows = b.Op("Unsqueeze", {pos, b.IntList({1})});  // i, [S, 1]
  const std::string cols = b.Op("Unsqueeze", {pos, b.IntList({0})});  // j, [1, S]
  if (b.winnow_ops()) {
    r.index = b.Op("Cast", {lookup(b.Op("Sub", {rows, cols}))}, {onnx::IntAttribute("to", onnx::dtype::kInt32)});
    return r;
  }
  const std::string last = b.Op("Max", {b.Op("Sub", {seq, b.Int(1)}), b.Int(0)});
  const std::string lo = lookup(b.Op("Neg", {last})), hi = lookup(last);
  r.begin = b.Op("Unsqueeze", {lo, b.IntList({0})});
  r.end = b.Op("Unsqueeze", {b.Op("Add", {hi, b.Int(1)}), b.IntList({0})});
  const std::string index = b.Op("Sub", {lookup(b.Op("Sub", {rows, cols})), lo});  // [S, S]
  const std::string n = b.Op("Add", {b.Op("Sub", {hi, lo}), b.Int(1)});
  r.c2p = b.Op("Add", {b.Op("Mul", {rows, n}), index});
  r.p2c = b.Op("Add", {b.Op("Mul", {cols, n}), index});
  return r;
}

}  // namespace

StatusOr<BuiltModel> BuildDebertaV2(const ConfigReader& c, Weights* w, const BuildOptions& o) {
  WINNOW_ASSIGN_OR_RETURN(std::string type, c.String("model_type", ""));
  WINNOW_ASSIGN_OR_RETURN(Dims d, ReadDims(c));
  WINNOW_RETURN_IF_ERROR(w->FindPrefix("embeddings.word_embeddings.weight", {"deberta.", "", "model."}));
  const std::string p = w->prefix();

  GraphBuilder b(w, o.inline_all);
  b.UseWinnowOps(o.winnow_ops);
  b.UseWeightsInPlace(o.weights_in_place);
  b.UseExternalNames(&o.external_names);
  b.IdsInput("input_ids");
  b.IdsInput("attention_mask");
  const bool type_input = d.types > 1;
  if (type_input) b.IdsInput("token_type_ids");
  const std::string seq =
      b.Op("Gather", {b.Op("Shape", {"input_ids"}), b.Int(1)}, {onnx::IntAttribute("axis", 0)});

  // Embeddings: word (+ absolute position when position_biased_input) (+ token type), the projection to the hidden
  // size, the norm, then zeroed at padding (times the mask).
  WINNOW_ASSIGN_OR_RETURN(std::string word, b.Weight(p + "embeddings.word_embeddings.weight", {d.vocab, d.embedding}));
  std::string x = b.Op("Gather", {word, "input_ids"}, {onnx::IntAttribute("axis", 0)});
  if (d.position_input) {
    WINNOW_ASSIGN_OR_RETURN(std::string pos,
                            b.Weight(p + "embeddings.position_embeddings.weight", {d.positions, d.embedding}));
    const std::string positions = b.Op("Range", {b.Int(0), seq, b.Int(1)});
    x = b.Op("Add", {x, b.Op("Gather", {pos, positions}, {onnx::IntAttribute("axis", 0)})});
  }
  if (d.types > 0) {
    WINNOW_ASSIGN_OR_RETURN(std::string tt,
                            b.Weight(p + "embeddings.token_type_embeddings.weight", {d.types, d.embedding}));
    x = b.Op("Add", {x, b.Op("Gather", {tt, type_input ? std::string("token_type_ids") : b.Int(0)},
                             {onnx::IntAttribute("axis", 0)})});
  }
  if (d.embedding != d.hidden) {
    WINNOW_ASSIGN_OR_RETURN(x, b.Linear(x, p + "embeddings.embed_proj.", d.embedding, d.hidden, false));
  }
  WINNOW_ASSIGN_OR_RETURN(x, b.LayerNorm(x, p + "embeddings.LayerNorm.", d.hidden, d.eps));
  const std::string mask_f = b.Op("Cast", {"attention_mask"}, {onnx::IntAttribute("to", onnx::dtype::kFloat)});
  const std::string token_mask = b.Op("Unsqueeze", {mask_f, b.IntList({2})});  // [B, S, 1]
  x = b.Op("Mul", {x, token_mask});

  // The attention mask [B, 1, S, S]: mask_i * mask_j != 0 (Winnow's Attention reads attention_mask itself).
  std::string mask;
  if (!o.winnow_ops) {
    const std::string mb = b.Op("Cast", {"attention_mask"}, {onnx::IntAttribute("to", onnx::dtype::kBool)});
    mask = b.Op("And", {b.Op("Unsqueeze", {mb, b.IntList({1, 2})}), b.Op("Unsqueeze", {mb, b.IntList({1, 3})})});
  }

  // The ContextPooler reads the first token alone: with Winnow's kernels the last layer computes that row only past
  // its K and V (kernels: 'onnxruntime' keeps every row). Not where the one layer is also the ConvLayer's input.
  const bool first_only = o.winnow_ops && o.task == Task::kSequenceClassification && !(d.layers == 1 && d.conv_kernel > 0);
  Relative rel;
  if (d.relative && (d.c2p || d.p2c)) {
    WINNOW_ASSIGN_OR_RETURN(rel, MakeRelative(b, seq, p, d));
  }
  const std::string embedded = x;
  for (int64_t i = 0; i < d.layers; ++i) {
    const std::string l = p + "encoder.layer." + std::to_string(i) + ".";
    const bool first = first_only && i == d.layers - 1;
    WINNOW_ASSIGN_OR_RETURN(std::string attn, Attention(b, x, mask, rel, l, d, first));
    WINNOW_ASSIGN_OR_RETURN(x, b.AddLayerNorm(attn, first ? b.First(x, 1) : x, l + "attention.output.LayerNorm.",
                                              d.hidden, d.eps));
    WINNOW_ASSIGN_OR_RETURN(std::string h, b.Linear(x, l + "intermediate.dense.", d.hidden, d.ffn));
    WINNOW_ASSIGN_OR_RETURN(h, b.Activation(h, d.act));
    WINNOW_ASSIGN_OR_RETURN(h, b.Linear(h, l + "output.dense.", d.ffn, d.hidden));
    WINNOW_ASSIGN_OR_RETURN(x, b.AddLayerNorm(h, x, l + "output.LayerNorm.", d.hidden, d.eps));
    if (i == 0 && d.conv_kernel > 0) {
      // ConvLayer over the embeddings: Conv1d (padding (k - 1) / 2), zero at padding, the activation, the norm of
      // the first layer's output plus it, times the mask.
      const std::string cv = p + "encoder.conv.";
      WINNOW_ASSIGN_OR_RETURN(std::string kernel, b.Weight(cv + "conv.weight", {d.hidden, d.hidden / d.conv_groups,
                                                                                 d.conv_kernel}));
      WINNOW_ASSIGN_OR_RETURN(std::string bias, b.Weight(cv + "conv.bias", {d.hidden}));
      const int64_t pad = (d.conv_kernel - 1) / 2;
      const std::string channels = b.Op("Transpose", {embedded}, {onnx::IntsAttribute("perm", {0, 2, 1})});
      std::string out = b.Op("Conv", {channels, kernel, bias},
                             {onnx::IntsAttribute("kernel_shape", {d.conv_kernel}),
                              onnx::IntsAttribute("pads", {pad, pad}), onnx::IntAttribute("group", d.conv_groups)});
      out = b.Op("Mul", {b.Op("Transpose", {out}, {onnx::IntsAttribute("perm", {0, 2, 1})}), token_mask});
      WINNOW_ASSIGN_OR_RETURN(out, b.Activation(out, d.conv_act));
      WINNOW_ASSIGN_OR_RETURN(x, b.LayerNorm(b.Op("Add", {x, out}), cv + "LayerNorm.", d.hidden, d.eps));
      x = b.Op("Mul", {x, token_mask});
    }
  }

  if (o.task == Task::kFeatureExtraction) {
    HiddenStateOutput(b, x, d.hidden);
  } else {
    // ContextPooler (dense over the first token, then pooler_hidden_act), then the classifier (outer():
    // "ranking_model." in pruning checkpoints).
    const std::string q = w->outer();
    const std::string head = q + "classifier.";
    WINNOW_ASSIGN_OR_RETURN(const int64_t labels, HeadLabels(*w, head));
    WINNOW_ASSIGN_OR_RETURN(std::string pooler_act, c.String("pooler_hidden_act", "gelu"));
    std::string cls = b.Op("Gather", {x, b.Int(0)}, {onnx::IntAttribute("axis", 1)});
    WINNOW_ASSIGN_OR_RETURN(cls, b.Linear(cls, q + "pooler.dense.", d.hidden, d.hidden));
    WINNOW_ASSIGN_OR_RETURN(cls, b.Activation(cls, pooler_act));
    WINNOW_ASSIGN_OR_RETURN(std::string logits, b.Linear(cls, head, d.hidden, labels));
    WINNOW_RETURN_IF_ERROR(TaskOutputs(b, o, logits, labels, x, d.hidden));
  }
  return FinishModel(b, type, type);
}

}  // namespace winnow::builder
