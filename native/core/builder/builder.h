// ONNX graphs built at load from a checkpoint (config.json + weights), for folders that ship no ONNX export.
// The graph is what the architecture's PyTorch module computes, written with standard ONNX operators (opset 17),
// so the load-time rewrites and ONNX Runtime's own fusions apply to it as to an exported file.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "builder/weights.h"
#include "common/status.h"

namespace winnow::builder {

// What the graph computes, after the encoder.
enum class Task {
  kSequenceClassification,  // output "logits" [batch, labels]: the model's classification head
  kFeatureExtraction,       // output "last_hidden_state" [batch, sequence, hidden]
  kPruning,                 // outputs "ranking_logits" [batch, 1] and "pruning_logits" [batch, sequence, 2]
};

struct BuildOptions {
  Task task = Task::kSequenceClassification;
  bool inline_all = false;  // every weight written into the model (for saving it as one file)
  // kPruning: the per-token head Linear(hidden, 2) over the last hidden state, by its full prefix
  // ("pruning_head.classifier." in OpenProvence checkpoints).
  std::string pruning_head = "pruning_head.classifier.";
  // Write Winnow's own fused CPU operators (runtime/custom_ops.h, domain com.winnow) where an architecture has them,
  // instead of their standard-operator form. Only for CPU sessions that register them; never for a saved graph.
  bool winnow_ops = false;
  // With winnow_ops: com.winnow Attention runs its two products in bf16 (attribute precision = "bf16";
  // attention/attention_bf16.h). Only where the CPU has a bf16 kernel.
  bool bf16_attention = false;
  // With winnow_ops: Q, K and V as one packed [hidden, 3·hidden] linear (bert.cc). Set for int8 and bf16 sessions,
  // whose GEMMs then quantize or round the block's input once; float32 keeps three (ONNX Runtime's MatMul ran the
  // packed product about 2 % slower end to end, docs/benchmark.md).
  bool pack_qkv = false;
  // Linear weights stored as float32 read in place by com.microsoft FusedMatMul (transB) instead of transposed
  // copies written into the graph (GraphBuilder::UseWeightsInPlace): no copy at load, and ONNX Runtime's packed
  // weights are the only ones left resident. CPU float32 and int8 sessions with winnow_ops (the int8 rewrite quantizes
  // FusedMatMul's [out, in] weights too); bf16's MatMulBf16 reads [in, out] weights.
  bool weights_in_place = false;
  // Checkpoint file (Tensor::file) -> the location external data names it by (its real name, for ONNX Runtime to
  // open in the files' real folder); files not in the map keep their own.
  std::map<std::string, std::string, std::less<>> external_names;
};

struct BuiltModel {
  std::string onnx;          // ModelProto bytes
  std::string architecture;  // config.json's model_type as built ("bert", "xlm-roberta", "modernbert", ...)
  int64_t inline_bytes = 0, external_bytes = 0;  // weights written into the model / referenced in the checkpoint
  int winnow_attentions = 0;  // self-attention blocks written as com.winnow Attention (BuildOptions::winnow_ops)
  int bf16_attentions = 0;    // of them, those with precision "bf16" (BuildOptions::bf16_attention)
};

// Builds the graph for config.json's model_type. `config_path` names the config in messages. Errors:
// codes::kModelUnsupported (a model_type or setting Winnow does not build), codes::kConfigInvalid (a bad value),
// codes::kCheckpointInvalid (a tensor missing or of another shape, named).
StatusOr<BuiltModel> Build(const nlohmann::json& config, const std::string& config_path, Weights* weights,
                           const BuildOptions& options);

}  // namespace winnow::builder
