// One ONNX model loaded into ONNX Runtime, with the execution provider chosen by `device`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "onnx/reader.h"
#include "runtime/ort_runtime.h"

namespace winnow::rt {

struct DeviceSpec {
  enum class Kind { kCpu, kCuda, kAuto } kind = Kind::kCpu;
  int device_id = 0;
};

// Parses "cpu", "cuda", "cuda:N", "auto". Errors: codes::kInvalidArgument.
StatusOr<DeviceSpec> ParseDevice(const std::string& s);

struct SessionConfig {
  int intra_op_threads = 0;  // 0: ONNX Runtime's default (one per physical core)
  DeviceSpec device;
  size_t gpu_mem_limit = 0;  // bytes, 0: no limit
  bool allow_tf32 = false;   // TF32 matmuls on CUDA: faster, but fp32 results drift ~1e-3
  // graph_rewrite.h: residual Add + layer norm fused. kAuto: CPU sessions (float32 norms exact, see inexact_norms,
  // so int8 graphs too); kAll: any device, and SkipLayerNormalization in graphs that quantize activations too (CUDA,
  // float16 norms: their int8 scores move).
  enum class Fusion { kOff, kAuto, kAll } fuse_layer_norm = Fusion::kAuto;
  // CPU sessions fuse float32 norms into com.winnow LayerNorm (ONNX Runtime's LayerNormalization arithmetic, bit for
  // bit, so int8 graphs too under kAuto); true: into SkipLayerNormalization as CUDA sessions do.
  // WINNOW_EXACT_LAYER_NORM=0 (comparisons).
  bool inexact_norms = false;
  // graph_rewrite.h FuseAttention: self-attention -> com.microsoft Attention / MultiHeadAttention. kAuto: float
  // graphs on the CPU whose blocks are narrower than auto_attention_max_width (measured faster there; unmeasured on
  // CUDA); kAll: any device and width, and quantized graphs when fuse_layer_norm is kAll too. The fused graph is
  // kept only when its outputs on a padded probe batch match the file as written.
  Fusion fuse_attention = Fusion::kAuto;
  // Heads x head size from which kAuto leaves attention alone: narrower blocks (MiniLM, e5-small) run faster fused;
  // at 768 and wider no gain was measured while the probe run made loading slower (docs/benchmark.md).
  // WINNOW_TEST_ATTENTION_AUTO_WIDTH moves it (tests).
  int64_t auto_attention_max_width = 768;
  // Fused blocks whose Q, K and V are projections of one input get them packed into one GEMM (com.microsoft
  // Attention); false keeps MultiHeadAttention over the projections as written. WINNOW_ATTENTION_PACK_QKV=0
  // (comparisons).
  bool pack_qkv = true;
  // quantize: 'int8' (graph_rewrite.h RewriteOptions::quantize_int8), CPU sessions: linear layers outside the task
  // head run as int8 DynamicQuantizeMatMul. Graphs that quantize activations already are loaded as they are.
  bool quantize_int8 = false;
  // dtype: 'bf16' (graph_rewrite.h RewriteOptions::bf16), CPU sessions: linear layers outside the task head run as
  // com.winnow MatMulBf16. A CPU without AMX-BF16 or AVX512-BF16 fails the load (codes::kBf16Unavailable); ignored
  // on CUDA.
  bool bf16 = false;
  // kernels: 'winnow' (default): graphs built from a checkpoint use Winnow's own CPU operators (builder::BuildOptions
  // ::winnow_ops) when the device is the CPU; false ('onnxruntime'): standard and ONNX Runtime operators only.
  bool winnow_kernels = true;
  // With Winnow's kernels, bf16 and int8 sessions on a CPU with a bf16 kernel may run com.winnow Attention's
  // products in bf16 (builder::BuildOptions::bf16_attention). Off: the float32 kernel is now the faster one
  // (docs/benchmark.md); WINNOW_ATTENTION_BF16=1 turns it on (comparisons).
  bool bf16_attention = false;
  // Multiplies every fused attention scale, so that the fusion is wrong and the load-time check must drop it.
  // WINNOW_TEST_ATTENTION_SCALE (tests only).
  float test_attention_scale = 1.0f;
  // CPU sessions hand ONNX Runtime even the graph as written naming the model file as the external data of its
  // weights (graph_rewrite.h WeightsInPlace), so ONNX Runtime maps them rather than copying them out of the file.
  // WINNOW_WEIGHTS_IN_PLACE=0 turns it off (comparisons).
  bool weights_in_place = true;
  // The same for CUDA sessions, whose weights ONNX Runtime would then copy to the device straight from the mapped
  // file instead of reading the whole file into host memory first. Off until checked on a GPU
  // (scripts/gpu/winnow_gpu.mjs measures the host peak both ways); WINNOW_WEIGHTS_IN_PLACE=cuda turns it on.
  bool weights_in_place_cuda = false;
  // ONNX Runtime's CPU matrix kernels keep a packed copy of every weight matrix (session.disable_prepacking off).
  // false: they pack on each call instead, and the weights live only in the mapped file (ModelOptions).
  bool prepack_weights = true;
  // Run through an IoBinding with input buffers reused between batches, staged in pinned (page-locked) host memory
  // on CUDA (faster, asynchronous copies to the device) and outputs landing there too. Off by default until measured
  // on a GPU; WINNOW_IO_BINDING=1 turns it on (the CPU runs the same code with ordinary memory, for tests).
  bool io_binding = false;
  // Non-empty: ONNX Runtime profiles the session (per-operator times) into <prefix>_<time>.json, written when the
  // session is released. WINNOW_PROFILE=<prefix> (bench/replay.mjs --profile). The load's probe sessions are not
  // profiled.
  std::string profile_prefix;
};

// A named int64 input of shape [batch, seq].
struct Int64Input {
  const char* name;
  const int64_t* data;
};

// "float32", "int64", ... for messages ("not a tensor" for nullopt).
const char* ElementTypeName(std::optional<ONNXTensorElementDataType> type);

class Session {
 public:
  ~Session();
  // Errors: codes::kOnnxInvalid (file cannot be parsed / loaded), codes::kCudaUnavailable, codes::kBf16Unavailable.
  static StatusOr<std::unique_ptr<Session>> Load(OrtRuntime* rt, const std::string& onnx_path,
                                                 const SessionConfig& config);

  // A graph built in memory (native/core/builder) whose initializers name the files of `weights` (mapped by the
  // caller, who keeps them mapped while the session lives) as external data. `name` stands for the path in
  // messages. Same rewrites and checks as a file; ONNX Runtime refusing the graph is codes::kInternal.
  // `real_dir` (with its '/'): the folder where those files lie under the names the graph gives them; ONNX Runtime
  // then maps them itself and uses the weights where they lie, as it does an ONNX file's (handed over as buffers, it
  // copies each weight it does not pack, the embedding tables too). Empty: the buffers.
  static StatusOr<std::unique_ptr<Session>> LoadBuilt(OrtRuntime* rt, std::string model, const onnx::ExternalFiles& weights,
                                                      const std::string& name, const SessionConfig& config,
                                                      const std::string& real_dir = {});

  bool HasInput(const std::string& name) const;
  bool HasOutput(const std::string& name) const;
  // The declared shape of a tensor output (-1 for a dimension the graph leaves open); nullopt when there is no such
  // output, it is not a tensor, or ONNX Runtime cannot say.
  std::optional<std::vector<int64_t>> OutputShape(const std::string& name) const;
  // The element type of a tensor input / output; nullopt when there is no such one or it is not a tensor.
  std::optional<ONNXTensorElementDataType> InputElementType(const std::string& name) const;
  std::optional<ONNXTensorElementDataType> OutputElementType(const std::string& name) const;
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  // "cpu" or "cuda:N": where the session actually runs.
  const std::string& device() const { return device_; }
  const std::string& path() const { return path_; }
  // Layer norms fused at load, exact or into SkipLayerNormalization (0 when none matched or the rewrite was refused).
  int fused_layer_norms() const { return fused_layer_norms_; }
  // Self-attention blocks fused into MultiHeadAttention at load (0 unless asked for, or when the check failed).
  int fused_attentions() const { return fused_attentions_; }
  // Of those, how many run as com.microsoft Attention with Q, K, V packed (the rest: MultiHeadAttention).
  int packed_attentions() const { return packed_attentions_; }
  // MatMuls made int8 at load (SessionConfig::quantize_int8; 0 when off, or the graph was quantized already).
  int quantized_matmuls() const { return quantized_matmuls_; }
  // MatMuls made bf16 at load (SessionConfig::bf16; 0 when off, on CUDA, or the graph quantizes activations).
  int bf16_matmuls() const { return bf16_matmuls_; }
  // "off", "pinned" (CUDA: page-locked staging buffers) or "host" (ordinary memory: CPU sessions, or CUDA when
  // ONNX Runtime has no pinned allocator).
  const char* io_binding() const;

  // Runs the graph on int64 inputs of shape [batch, seq] and returns the named outputs.
  // Thread-safe (ONNX Runtime sessions are). Errors: codes::kInferenceFailed.
  Status Run(const std::vector<Int64Input>& inputs, int64_t batch, int64_t seq,
             const std::vector<const char*>& outputs, std::vector<Ort::Value>* results) const;

 private:
  Session() = default;
  void ReadNames();  // input_names_ / output_names_ from session_
  // One run on a tiny padded batch (2 x 16 tokens, the second row 9 long), so that a fused graph ONNX Runtime
  // accepts at load but cannot run (a skip of an unexpected shape) is caught at load. Appends every float /
  // float16 output element to `values` when given. False when the run fails or an input is not int64
  // [batch, seq].
  bool ProbeRun(std::vector<float>* values = nullptr) const;
  void EnableIoBinding(const SessionConfig& config);
  void CheckIoBinding(const SessionConfig& config);  // I/O binding kept only if it gives the plain path's outputs
  class Loader;  // session.cc: the candidate graphs of a load
  struct Source;  // session.cc: the graph to load (a file mapped, or a graph built in memory) and its weights
  static StatusOr<std::unique_ptr<Session>> LoadFrom(OrtRuntime* rt, const std::string& path,
                                                     const SessionConfig& config, const Source& source);
  Status RunBound(const std::vector<Int64Input>& inputs, int64_t batch, int64_t seq,
                  const std::vector<const char*>& outputs, std::vector<Ort::Value>* results) const;
  struct Binding;  // staging buffers and IoBindings, pooled per concurrent Run
  OrtRuntime* rt_ = nullptr;
  std::unique_ptr<Ort::Session> session_;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::string device_ = "cpu";
  std::string path_;
  int fused_layer_norms_ = 0;
  int fused_attentions_ = 0, packed_attentions_ = 0;
  int quantized_matmuls_ = 0;
  int bf16_matmuls_ = 0;
  std::unique_ptr<Binding> binding_;
};

}  // namespace winnow::rt
