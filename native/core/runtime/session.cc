#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <sys/stat.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unordered_map>

#include "common/half.h"
#include "common/thread_pool.h"
#include "common/mmap.h"
#include "loaders/model_folder.h"
#include "gemm/matmul_bf16.h"
#include "gemm/matmul_int8.h"
#include "runtime/custom_ops.h"
#include "rewrite/graph_rewrite.h"

namespace winnow::rt {

StatusOr<DeviceSpec> ParseDevice(const std::string& s) {
  DeviceSpec d;
  if (s == "cpu") return d;
  if (s == "auto") {
    d.kind = DeviceSpec::Kind::kAuto;
    return d;
  }
  if (s == "cuda") {
    d.kind = DeviceSpec::Kind::kCuda;
    return d;
  }
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9 &&
      std::all_of(s.begin() + 5, s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    d.kind = DeviceSpec::Kind::kCuda;
    d.device_id = std::atoi(s.c_str() + 5);
    return d;
  }
  return Status(codes::kInvalidArgument, "Expected one of 'cpu', 'cuda', 'cuda:N', 'auto' for device but received '" + s + "'");
}

namespace {

std::string JoinLog(const std::vector<std::string>& log) {
  std::string out;
  for (const auto& line : log) {
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

// Appends the CUDA provider. Returns a Status naming the real cause (from ONNX Runtime's log) on failure.
Status AppendCuda(OrtRuntime* rt, Ort::SessionOptions& so, const SessionConfig& config) {
  const OrtApi& api = Ort::GetApi();
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  if (OrtStatus* st = api.CreateCUDAProviderOptions(&cuda)) {
    std::string msg = api.GetErrorMessage(st);
    api.ReleaseStatus(st);
    return Status(codes::kCudaUnavailable, "this ONNX Runtime library has no CUDA support: " + msg);
  }
  std::vector<std::string> keys = {"device_id", "arena_extend_strategy", "cudnn_conv_algo_search",
                                   "do_copy_in_default_stream", "use_tf32"};
  std::vector<std::string> values = {std::to_string(config.device.device_id), "kSameAsRequested", "HEURISTIC", "1",
                                     config.allow_tf32 ? "1" : "0"};
  if (config.gpu_mem_limit > 0) {
    keys.push_back("gpu_mem_limit");
    values.push_back(std::to_string(config.gpu_mem_limit));
  }
  std::vector<const char*> k, v;
  for (size_t i = 0; i < keys.size(); ++i) {
    k.push_back(keys[i].c_str());
    v.push_back(values[i].c_str());
  }
  Status result;
  if (OrtStatus* st = api.UpdateCUDAProviderOptions(cuda, k.data(), v.data(), k.size())) {
    result = Status(codes::kCudaUnavailable, std::string("invalid CUDA provider options: ") + api.GetErrorMessage(st));
    api.ReleaseStatus(st);
  } else if (OrtStatus* st2 = api.SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda)) {
    std::string msg = api.GetErrorMessage(st2);
    api.ReleaseStatus(st2);
    std::string log = JoinLog(rt->TakeRecentLog());
    result = Status(codes::kCudaUnavailable,
                    "the CUDA execution provider could not start: " + (log.empty() ? msg : log + " (" + msg + ")"));
  }
  api.ReleaseCUDAProviderOptions(cuda);
  return result;
}

// The rewrites of graph_rewrite.h applied in one pass to a file read in place (no copy of the weights besides
// the rewritten model). `model` is empty when there is nothing to rewrite or the file cannot be rewritten in
// memory (over 2 GiB, external weights whose files were not mapped, subgraphs).
struct Rewritten {
  std::string model;
  int skip_layer_norms = 0, attentions = 0, packed_qkv = 0, quantized_matmuls = 0, bf16_matmuls = 0;
};

Rewritten RewriteModel(std::string_view model, const RewriteOptions& o) {
  Rewritten out;
  if (model.empty() || !(o.layer_norms || o.attention || o.quantize_int8 || o.bf16)) return out;
  auto rewrite = RewriteGraph(model, o);
  if (rewrite.ok() && !rewrite->model.empty()) {
    out.model = std::move(rewrite->model);
    out.skip_layer_norms = rewrite->skip_layer_norms;
    out.attentions = rewrite->attentions;
    out.packed_qkv = rewrite->packed_qkv;
    out.quantized_matmuls = rewrite->quantized_matmuls;
    out.bf16_matmuls = rewrite->bf16_matmuls;
  }
  return out;
}

// FuseAttention's blocks in the file, counted without rewriting it (0 when it cannot be read or rewritten).
// `width`: the widest block's (heads x head size); `float16`: blocks with float16 weights; `quantizes`: the graph
// quantizes activations.
int AttentionBlocks(std::string_view model, bool quantized, const ExternalFiles* external_files, int64_t* width,
                    bool* float16, bool* quantizes) {
  *width = 0;
  *float16 = false;
  *quantizes = false;
  if (model.empty()) return 0;
  auto n = CountAttentionBlocks(model, quantized, external_files, width, float16, quantizes);
  return n.ok() ? *n : 0;
}

// Outputs of two graphs on the probe batch agree within `tolerance`, relative above 1 (fp32 graphs 1e-3, CUDA
// sessions, float16 or TF32, 2e-2; 0: bit for bit, as int8 graphs on the CPU must).
bool SameOutputs(const std::vector<float>& a, const std::vector<float>& b, float tolerance) {
  if (a.size() != b.size() || a.empty()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= tolerance * (1.0f + std::fabs(b[i])))) return false;
  return true;
}

// Session options for `config`: threads, logging, prepacking, profiling, Winnow's operators, and the CUDA provider
// when a device other than the CPU is asked for. `*use_cuda`: whether CUDA started ('auto' falls back to the CPU;
// 'cuda' that cannot start is an error).
Status MakeSessionOptions(OrtRuntime* rt, const SessionConfig& config, Ort::SessionOptions* so, bool* use_cuda) {
  so->SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  so->SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
  so->SetInterOpNumThreads(1);
  if (config.intra_op_threads > 0) so->SetIntraOpNumThreads(config.intra_op_threads);
  // Inputs are already on the host; keep ONNX Runtime's own logging quiet unless it matters.
  so->SetLogSeverityLevel(ORT_LOGGING_LEVEL_WARNING);
  // prepackWeights false: ONNX Runtime's CPU kernels keep no packed copy of the weights, which then stay in the
  // mapped model file only (shared between processes); the matrices are packed on each call instead.
  if (!config.prepack_weights) so->AddConfigEntry("session.disable_prepacking", "1");
  if (!config.profile_prefix.empty()) so->EnableProfiling(config.profile_prefix.c_str());
  // Winnow's operators (runtime/custom_ops.h), which the CPU rewrites use.
  if (OrtCustomOpDomain* domain = CustomOpDomain()) so->Add(domain);
  *use_cuda = false;
  if (config.device.kind == DeviceSpec::Kind::kCpu) return Status::Ok();
  Status st = AppendCuda(rt, *so, config);
  if (st.ok()) *use_cuda = true;
  return st.ok() || config.device.kind != DeviceSpec::Kind::kCuda ? Status::Ok() : st;
}

// Which load-time rewrites a session tries, from the config and the device it got.
struct RewritePlan {
  bool norms = false;                // fuse layer norms
  bool quantized_norms = false;      // ... in graphs that quantize activations too, with SkipLayerNormalization
  bool attention = false;            // fuse attention (then only blocks narrower than auto_attention_max_width)
  bool attention_quantized = false;  // ... in graphs that quantize activations too
  bool in_place = false;             // hand ONNX Runtime the graph with its weights named in place in the file
  bool quantize = false;             // linear layers to int8 (CPU sessions only: DynamicQuantizeMatMul is a CPU kernel)
  bool bf16 = false;                 // linear layers to com.winnow MatMulBf16 (CPU sessions only)
};

bool Int8Attention() {
  const char* v = std::getenv("WINNOW_INT8_ATTENTION");
  return v && std::strcmp(v, "1") == 0;
}

RewritePlan PlanRewrites(const SessionConfig& config, bool use_cuda) {
  RewritePlan p;
  // Unset (kAuto): CPU sessions only. On CUDA the rewrite is not measured yet, and ONNX Runtime's attention
  // fusion anchors on LayerNormalization nodes, which the rewrite removes.
  p.norms = config.fuse_layer_norm == SessionConfig::Fusion::kAll ||
            (config.fuse_layer_norm == SessionConfig::Fusion::kAuto && !use_cuda);
  p.quantized_norms = config.fuse_layer_norm == SessionConfig::Fusion::kAll;
  p.attention = config.fuse_attention == SessionConfig::Fusion::kAll ||
                (config.fuse_attention == SessionConfig::Fusion::kAuto && !use_cuda);
  // Graphs that quantize activations (int8 files) only when fuseAttention is true: an output one rounding step off
  // can land on another int8 step, so there the fused attention must compute the very floats of the graph as
  // written. On the CPU it does: ONNX Runtime's MultiHeadAttention kernel (int8 projections are not packed) runs
  // Softmax(Q·Kᵀ·scale + mask)·V through the routines the graph as written runs after ONNX Runtime's own fusions
  // (one GEMM with the scale as its alpha, the same softmax, one GEMM), and a padded key's score, whatever its
  // mask value, comes out of the softmax as the same underflowed term; the fused graph is kept only when the
  // probe's outputs are bit-identical. It is not the default: it was no faster (docs/benchmark.md). On CUDA int8
  // graphs need fuseLayerNorm true too, and are checked within the float tolerance.
  p.attention_quantized = config.fuse_attention == SessionConfig::Fusion::kAll && (!use_cuda || p.quantized_norms);
  // CPU sessions load even the graph as written with its weights in place (WeightsInPlace): ONNX Runtime would
  // otherwise copy every weight out of the file, the unused rows of a 250k-token embedding table too. CUDA sessions
  // copy the weights to the device either way; there only a rewrite maps the file, unless weights_in_place_cuda.
  p.in_place = config.weights_in_place && (!use_cuda || config.weights_in_place_cuda);
  p.quantize = config.quantize_int8 && !use_cuda;
  // Int8 projections can only be read by MultiHeadAttention, unpacked, which was no faster than attention as written
  // (docs/benchmark.md); WINNOW_INT8_ATTENTION=1 fuses it anyway (comparisons).
  if (p.quantize && !Int8Attention()) p.attention = false;
  // dtype 'bf16' on CUDA is ignored, as quantize is: the CUDA provider picks its own precision.
  p.bf16 = config.bf16 && !use_cuda && !p.quantize;
  return p;
}

// The model file mapped for the rewrites to read, with the external data files its initializers name, mapped too.
// The rewritten graph refers to the weights it keeps, as external data at their offsets in the model file on disk,
// which ONNX Runtime then maps and uses where they lie: the weights are neither copied into the rewritten model nor
// read into memory twice. The file is named by its real path (a hub-cache snapshot links into blobs/), and ONNX
// Runtime is told that folder. Empty (file.data() null) when the model cannot be rewritten in memory: over 2 GiB
// (past protobuf's limit), or an external data file named with a folder, outside the model file's real folder
// (ONNX Runtime resolves every external file in one folder) or missing.
struct MappedModel {
  MappedFile file;
  std::string built;  // a graph built in memory (builder/), instead of a file; its weights are in `external`
  std::string real_dir, real_name;  // the model file's real folder (with its '/') and name
  std::vector<MappedFile> data_files;
  ExternalFiles external;   // by location as the graph names them, viewing data_files
  ExternalRenames renames;  // locations that are links: their real names

  std::string_view bytes() const {
    if (!built.empty()) return built;
    return {reinterpret_cast<const char*>(file.data()), file.size()};
  }
};

MappedModel MapModel(const std::string& onnx_path, uint64_t size) {
  MappedModel mm;
  if (size == 0 || size >= (uint64_t{1} << 31)) return mm;
  if (char* real = realpath(onnx_path.c_str(), nullptr)) {
    const std::string r = real;
    std::free(real);
    mm.real_dir = r.substr(0, r.find_last_of('/') + 1);
    mm.real_name = r.substr(r.find_last_of('/') + 1);
  }
  if (mm.real_name.empty()) return mm;
  auto m = MappedFile::Open(onnx_path);
  if (!m.ok() || !m->data()) return mm;
  mm.file = std::move(*m);
  auto locations = ExternalDataLocations(mm.bytes());
  if (!locations.ok()) return MappedModel();
  const std::string folder = onnx_path.substr(0, onnx_path.find_last_of('/') + 1);  // as the graph names files
  for (const std::string& location : *locations) {
    const std::string real_path =
        location.find('/') == std::string::npos
            ? loaders::RealPathInside(mm.real_dir, folder + location, /*direct=*/true).value_or("")
            : "";
    const bool beside = !real_path.empty();
    auto data = beside ? MappedFile::Open(real_path) : StatusOr<MappedFile>(Status(codes::kIo, location));
    if (!data.ok() || !data->data()) return MappedModel();
    if (real_path.substr(mm.real_dir.size()) != location) mm.renames[location] = real_path.substr(mm.real_dir.size());
    mm.external[location] = std::string_view(reinterpret_cast<const char*>(data->data()), data->size());
    mm.data_files.push_back(std::move(*data));
  }
  return mm;
}

void TrimHeap() {
#if defined(__GLIBC__)
  // A load's transient buffers (a probe session's, ONNX Runtime's graph copies) are free by now, but glibc keeps
  // their pages where they lie between live blocks. Hand them back.
  malloc_trim(0);
#endif
}

}  // namespace

// Loads one session from candidate graphs: the file as written (its weights in place when it can be), and the
// rewritten graphs, each kept only when ONNX Runtime accepts it and it runs (and, for fused attention, reproduces
// the file on the probe batch).
class Session::Loader {
 public:
  Loader(Session* s, OrtRuntime* rt, const SessionConfig& config, const RewritePlan& plan, MappedModel mm,
         Ort::SessionOptions so, bool use_cuda)
      : s_(s), rt_(rt), config_(config), plan_(plan), mm_(std::move(mm)), so_(std::move(so)), use_cuda_(use_cuda) {
    // Only the rewritten graph is told where its weights are; the file as written, read by ONNX Runtime, resolves
    // its own external data as usual.
    written_so_ = so_.Clone();
    if (mapped() && !mm_.real_dir.empty())
      written_so_.AddConfigEntry("session.model_external_initializers_file_folder_path", mm_.real_dir.c_str());
    if (mapped()) ro_.external_weights = mm_.real_name;
    ro_.external_files = &mm_.external;
    ro_.external_renames = mm_.renames;
  }

  void Load() {
    std::vector<float> without;
    const bool check_attention = ProbeAsWritten(&without);
    ro_.layer_norms = plan_.norms;
    ro_.quantized_norms = plan_.quantized_norms;
    // On the CPU, float32 norms become com.winnow LayerNorm: ONNX Runtime's own LayerNormalization arithmetic, so
    // int8 graphs are rewritten too with their scores unchanged.
    ro_.exact_norms = !use_cuda_ && CustomOpDomain() != nullptr && !config_.inexact_norms;
    ro_.attention = check_attention;
    ro_.quantized_attention = plan_.attention_quantized;
    ro_.pack_qkv = config_.pack_qkv;
    ro_.test_scale = config_.test_attention_scale;
    ro_.quantize_int8 = plan_.quantize;
    // Winnow's int8 kernel (AMX, AVX512-VNNI or AVX2) where this CPU runs one (WINNOW_INT8_KERNEL=onnxruntime:
    // DynamicQuantizeMatMul).
    ro_.int8_amx = plan_.quantize && !use_cuda_ && CustomOpDomain() != nullptr &&
                   gemm::ActiveInt8Isa() != gemm::Int8Isa::kNone;
    ro_.bf16 = plan_.bf16;
    Rewritten rw = RewriteModel(mm_.bytes(), ro_);
    if (rw.attentions > 0) {
      std::vector<float> with;
      auto fused = TryLoad(rw.model, &with);
      std::string().swap(rw.model);
      // Int8 graphs on the CPU: bit for bit (see RewritePlan::attention_quantized).
      // Int8 or bf16 at load: the fused graph is compared with the float file, within their error.
      const float tolerance = use_cuda_                                        ? 2e-2f
                              : graph_quantizes_                               ? 0.0f
                              : rw.quantized_matmuls > 0 || rw.bf16_matmuls > 0 ? 5e-2f
                                                                               : 1e-3f;
      if (fused && SameOutputs(with, without, tolerance)) {
        s_->session_ = std::move(fused);
        s_->ReadNames();
        s_->fused_attentions_ = rw.attentions;
        s_->packed_attentions_ = rw.packed_qkv;
        s_->fused_layer_norms_ = rw.skip_layer_norms;
        s_->quantized_matmuls_ = rw.quantized_matmuls;
        s_->bf16_matmuls_ = rw.bf16_matmuls;
      } else {
        fused.reset();
        ro_.attention = false;
        rw = RewriteModel(mm_.bytes(), ro_);  // norms only
      }
    }
    if (!s_->session_ && (s_->session_ = TryLoad(rw.model, nullptr))) {
      s_->ReadNames();
      s_->fused_layer_norms_ = rw.skip_layer_norms;
      s_->quantized_matmuls_ = rw.quantized_matmuls;
      s_->bf16_matmuls_ = rw.bf16_matmuls;
    }
    if (!s_->session_) LoadFile(so_, written_so_);
    TrimHeap();
  }

 private:
  bool mapped() const { return !mm_.bytes().empty(); }
  bool built() const { return !mm_.built.empty(); }

  // A graph written here (its weights named in place) as the session; false, with ONNX Runtime's log of the
  // refusal taken, when ONNX Runtime refuses it.
  bool OpenWritten(const std::string& model, const Ort::SessionOptions& options) {
    try {
      s_->session_ = std::make_unique<Ort::Session>(rt_->env(), model.data(), model.size(), options);
      s_->ReadNames();
      return true;
    } catch (const Ort::Exception&) {
      s_->session_.reset();
      rt_->TakeRecentLog();
      return false;
    }
  }

  // A rewritten graph ONNX Runtime refuses, or cannot run on the probe batch, is dropped for the next one.
  std::unique_ptr<Ort::Session> TryLoad(const std::string& model, std::vector<float>* probe) {
    if (model.empty() || !OpenWritten(model, written_so_)) return nullptr;
    try {
      if (s_->ProbeRun(probe)) return std::move(s_->session_);
    } catch (const Ort::Exception&) {
    }
    s_->session_.reset();
    rt_->TakeRecentLog();
    return nullptr;
  }

  // The graph as written: with its weights in place when it can be (plan_.in_place), else the file read by ONNX
  // Runtime.
  void LoadFile(const Ort::SessionOptions& file_so, const Ort::SessionOptions& written_so) {
    if (built()) {  // a built graph refers to its weights already: ONNX Runtime's refusal is the load's error
      s_->session_ = std::make_unique<Ort::Session>(rt_->env(), mm_.built.data(), mm_.built.size(), written_so);
      s_->ReadNames();
      return;
    }
    if (plan_.in_place && mapped()) {
      auto written = WeightsInPlace(mm_.bytes(), ro_);
      if (written.ok() && !written->model.empty() && OpenWritten(written->model, written_so)) return;
    }
    s_->session_ = std::make_unique<Ort::Session>(rt_->env(), s_->path_.c_str(), file_so);
    s_->ReadNames();
  }

  // A fused attention graph is kept only if it computes what the file as written computes (the rewrite assumes a
  // right-padded mask and, for scaled_dot_product_attention exports, the usual scale). When the file has blocks to
  // fuse, the graph as written runs the probe batch first, into `*without`, before anything is rewritten: one
  // model in memory at a time. False when there is nothing to fuse or the probe could not run.
  bool ProbeAsWritten(std::vector<float>* without) {
    int64_t width = 0;
    bool float16 = false;
    // ONNX Runtime's CPU kernels for the fused ops are float32 only: a float16 graph's fused form would be refused
    // after the probe had run.
    if (!plan_.attention ||
        AttentionBlocks(mm_.bytes(), plan_.attention_quantized, &mm_.external, &width, &float16, &graph_quantizes_) == 0 ||
        (float16 && !use_cuda_) ||
        !(config_.fuse_attention == SessionConfig::Fusion::kAll || width < config_.auto_attention_max_width))
      return false;
    // The reference session runs one small batch and is dropped: it is built cheaply, without ONNX Runtime's graph
    // fusions and without prepacking its weights (a copy of every matrix). With prepackWeights false the options
    // carry that entry already, and ONNX Runtime logs a warning (kept for the load's error text) when an entry is
    // set twice. Int8 graphs on the CPU, checked bit for bit, get the session as configured instead: in them both
    // settings change the arithmetic (the products' scaling, the packed kernels' rounding), and the int8 steps that
    // follow carry it far.
    const bool as_configured = graph_quantizes_ && !use_cuda_;
    auto cheap = [&](const Ort::SessionOptions& options) {
      Ort::SessionOptions c = options.Clone();
      c.DisableProfiling();
      if (as_configured) return c;
      c.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_BASIC);
      if (config_.prepack_weights) c.AddConfigEntry("session.disable_prepacking", "1");
      return c;
    };
    LoadFile(cheap(so_), cheap(written_so_));
    const bool ok = s_->ProbeRun(without);
    s_->session_.reset();
    TrimHeap();  // that session's freed heap (its graph copies), before the next one loads
    return ok;
  }

  Session* s_;
  OrtRuntime* rt_;
  const SessionConfig& config_;
  const RewritePlan plan_;
  MappedModel mm_;
  Ort::SessionOptions so_;
  Ort::SessionOptions written_so_{nullptr};
  const bool use_cuda_;
  bool graph_quantizes_ = false;
  RewriteOptions ro_;
};

struct Session::Source {
  std::function<MappedModel(const RewritePlan&)> map;
  bool built = false;                        // a graph Winnow built (ONNX Runtime refusing it is Winnow's bug)
  const ExternalFiles* in_memory = nullptr;  // a built graph's weight files, handed to ONNX Runtime by name
};

namespace {

// ONNX Runtime starts its intra-op threads while it builds the session, and where the system refuses one, one of
// its own threads can end the process (an uncaught std::system_error). Starting as many here first turns a thread
// limit into an error.
Status CheckThreads(const SessionConfig& config) {
  const int want = config.intra_op_threads > 0 ? config.intra_op_threads
                                               : static_cast<int>(std::thread::hardware_concurrency());
  ThreadPool probe(want - 1);
  return probe.Start();
}

}  // namespace

StatusOr<std::unique_ptr<Session>> Session::Load(OrtRuntime* rt, const std::string& onnx_path,
                                                 const SessionConfig& config) {
  struct stat sb;
  if (stat(onnx_path.c_str(), &sb) != 0) return Status(codes::kModelNotFound, "no ONNX file at " + onnx_path);
  WINNOW_RETURN_IF_ERROR(CheckThreads(config));
  Source source;
  source.map = [&](const RewritePlan& plan) {
    return plan.norms || plan.attention || plan.in_place || plan.quantize || plan.bf16 ? MapModel(onnx_path, static_cast<uint64_t>(sb.st_size))
                                                         : MappedModel();
  };
  return LoadFrom(rt, onnx_path, config, source);
}

StatusOr<std::unique_ptr<Session>> Session::LoadBuilt(OrtRuntime* rt, std::string model, const ExternalFiles& weights,
                                                      const std::string& name, const SessionConfig& config,
                                                      const std::string& real_dir) {
  WINNOW_RETURN_IF_ERROR(CheckThreads(config));
  Source source;
  source.map = [&](const RewritePlan&) {
    MappedModel mm;
    mm.built = std::move(model);
    mm.external = weights;
    mm.real_dir = real_dir;
    return mm;
  };
  source.built = true;
  if (real_dir.empty()) source.in_memory = &weights;
  return LoadFrom(rt, name, config, source);
}

StatusOr<std::unique_ptr<Session>> Session::LoadFrom(OrtRuntime* rt, const std::string& path,
                                                     const SessionConfig& config, const Source& src) {
  const ExternalFiles* in_memory = src.in_memory;
  std::unique_ptr<Session> s(new Session());
  s->rt_ = rt;
  s->path_ = path;
  rt->TakeRecentLog();
  try {
    Ort::SessionOptions so;
    bool use_cuda = false;
    WINNOW_RETURN_IF_ERROR(MakeSessionOptions(rt, config, &so, &use_cuda));
    if (in_memory && !in_memory->empty()) {
      // A built graph without a real folder (CUDA, WINNOW_WEIGHTS_IN_PLACE=0, files apart): ONNX Runtime reads its
      // checkpoint files from the mappings the caller holds, by the names the graph gives them, copying what it keeps.
      std::vector<std::string> names;
      std::vector<char*> buffers;
      std::vector<size_t> lengths;
      for (const auto& [file, bytes] : *in_memory) {
        names.push_back(file);
        buffers.push_back(const_cast<char*>(bytes.data()));
        lengths.push_back(bytes.size());
      }
      so.AddExternalInitializersFromFilesInMemory(names, buffers, lengths);
    }
    const RewritePlan plan = PlanRewrites(config, use_cuda);
    if (plan.bf16 && (gemm::ActiveBf16Isa() == gemm::Bf16Isa::kNone || !CustomOpDomain()))
      return Status(codes::kBf16Unavailable, std::string("dtype 'bf16' needs a CPU with ") + gemm::kBf16Requirement +
                                                 "; this one has neither (load without dtype for float32)");
    Loader(s.get(), rt, config, plan, src.map(plan), std::move(so), use_cuda).Load();
    s->device_ = use_cuda ? "cuda:" + std::to_string(config.device.device_id) : "cpu";
    if (config.io_binding) s->CheckIoBinding(config);
  } catch (const Ort::Exception& e) {
    std::string log = JoinLog(rt->TakeRecentLog());
    const char* code = config.device.kind == DeviceSpec::Kind::kCuda ? codes::kCudaUnavailable : codes::kOnnxInvalid;
    if (e.GetOrtErrorCode() == ORT_INVALID_PROTOBUF || e.GetOrtErrorCode() == ORT_INVALID_GRAPH ||
        e.GetOrtErrorCode() == ORT_NO_SUCHFILE)
      code = codes::kOnnxInvalid;
    // A graph Winnow built: its own bug, unless a checkpoint file ONNX Runtime opens went away meanwhile.
    if (src.built && code == codes::kOnnxInvalid) code = e.GetOrtErrorCode() == ORT_NO_SUCHFILE ? codes::kIo : codes::kInternal;
    return Status(code, "could not load " + path + ": " + e.what() + (log.empty() ? "" : " [" + log + "]"));
  }
  return s;
}

void Session::CheckIoBinding(const SessionConfig& config) {
  EnableIoBinding(config);
  // The bound path must run the probe batch and give what the plain path gives, or it is not used.
  std::vector<float> bound, plain;
  const bool ok = ProbeRun(&bound);
  auto binding = std::move(binding_);
  if (ok && ProbeRun(&plain) && SameOutputs(bound, plain, 1e-6f)) binding_ = std::move(binding);
  rt_->TakeRecentLog();
}

void Session::ReadNames() {
  Ort::AllocatorWithDefaultOptions alloc;
  input_names_.clear();
  output_names_.clear();
  for (size_t i = 0; i < session_->GetInputCount(); ++i)
    input_names_.emplace_back(session_->GetInputNameAllocated(i, alloc).get());
  for (size_t i = 0; i < session_->GetOutputCount(); ++i)
    output_names_.emplace_back(session_->GetOutputNameAllocated(i, alloc).get());
}

bool Session::ProbeRun(std::vector<float>* values) const {
  for (size_t i = 0; i < session_->GetInputCount(); ++i) {
    Ort::TypeInfo type = session_->GetInputTypeInfo(i);  // owns what `info` views
    if (type.GetONNXType() != ONNX_TYPE_TENSOR) return false;
    auto info = type.GetTensorTypeAndShapeInfo();
    if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 || info.GetDimensionsCount() != 2) return false;
  }
  // Ids 1-15 exist in every vocabulary; distinct tokens so that attention is not uniform.
  constexpr int64_t kBatch = 2, kSeq = 16, kShortRow = 9;
  std::vector<std::vector<int64_t>> data;
  data.reserve(input_names_.size());  // Int64Input points into these
  std::vector<Int64Input> inputs;
  for (const auto& name : input_names_) {
    std::vector<int64_t> v(kBatch * kSeq, 0);
    for (int64_t r = 0; r < kBatch; ++r)
      for (int64_t j = 0; j < kSeq; ++j) {
        const bool real = r == 0 || j < kShortRow;
        int64_t& x = v[r * kSeq + j];
        if (name == "attention_mask") x = real ? 1 : 0;
        else if (name == "input_ids") x = real ? 1 + (r * 5 + j * 7) % 15 : 0;
        else if (name == "position_ids") x = j;
      }
    data.push_back(std::move(v));
    inputs.push_back({name.c_str(), data.back().data()});
  }
  std::vector<const char*> outputs;
  for (const auto& name : output_names_) outputs.push_back(name.c_str());
  std::vector<Ort::Value> results;
  if (!Run(inputs, kBatch, kSeq, outputs, &results).ok()) return false;
  if (values) {
    for (auto& v : results) {
      if (!v.IsTensor()) continue;
      auto info = v.GetTensorTypeAndShapeInfo();
      const size_t n = info.GetElementCount();
      if (info.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        const float* p = v.GetTensorData<float>();
        values->insert(values->end(), p, p + n);
      } else if (info.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16) {
        const uint16_t* p = reinterpret_cast<const uint16_t*>(v.GetTensorRawData());
        for (size_t i = 0; i < n; ++i) values->push_back(HalfToFloat(p[i]));
      }
    }
  }
  return true;
}

// ---- I/O binding ---------------------------------------------------------------------------------------

struct Session::Binding {
  struct Buffer {
    void* data = nullptr;
    size_t bytes = 0;
  };
  // One Run's staging buffers (by input name) and its IoBinding; a Run takes a free set or makes one, so
  // concurrent Runs never share buffers, and returns it after (the copies to the device are done by then).
  struct Set {
    std::unordered_map<std::string, Buffer> buffers;
    std::unique_ptr<Ort::IoBinding> io;
  };
  Ort::MemoryInfo host{nullptr};
  std::unique_ptr<Ort::Allocator> pinned;  // the session's CudaPinned allocator; null: aligned host memory
  std::mutex mu;
  std::vector<std::unique_ptr<Set>> free_sets;

  void* Allocate(size_t bytes) {
    if (pinned) return pinned->Alloc(bytes);
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  }
  void Free(void* p) {
    if (!p) return;
    if (pinned) pinned->Free(p);
    else std::free(p);
  }
  ~Binding() {
    for (auto& set : free_sets)
      for (auto& [name, buf] : set->buffers) Free(buf.data);
  }
};

Session::~Session() {
  binding_.reset();  // its buffers may come from the session's allocator: freed before the session goes
  session_.reset();
}

const char* Session::io_binding() const {
  if (!binding_) return "off";
  return binding_->pinned ? "pinned" : "host";
}

void Session::EnableIoBinding(const SessionConfig& config) {
  auto b = std::make_unique<Binding>();
  if (device_ != "cpu") {
    try {
      Ort::MemoryInfo pinned("CudaPinned", OrtDeviceAllocator, config.device.device_id, OrtMemTypeCPUOutput);
      b->pinned = std::make_unique<Ort::Allocator>(*session_, pinned);
      b->host = std::move(pinned);
    } catch (const Ort::Exception&) {
      b->pinned.reset();
    }
  }
  if (!b->pinned) b->host = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
  binding_ = std::move(b);
}

Status Session::RunBound(const std::vector<Int64Input>& inputs, int64_t batch, int64_t seq,
                         const std::vector<const char*>& outputs, std::vector<Ort::Value>* results) const {
  Binding& b = *binding_;
  std::unique_ptr<Binding::Set> set;
  {
    std::lock_guard<std::mutex> lk(b.mu);
    if (!b.free_sets.empty()) {
      set = std::move(b.free_sets.back());
      b.free_sets.pop_back();
    }
  }
  if (!set) set = std::make_unique<Binding::Set>();
  Status status = Status::Ok();
  try {
    if (!set->io) set->io = std::make_unique<Ort::IoBinding>(*session_);
    set->io->ClearBoundInputs();
    set->io->ClearBoundOutputs();
    const size_t count = static_cast<size_t>(batch * seq);
    const int64_t shape[2] = {batch, seq};
    for (const auto& in : inputs) {
      Binding::Buffer& buf = set->buffers[in.name];
      if (buf.bytes < count * sizeof(int64_t)) {
        // Room for larger batches to come: grow by at least half.
        const size_t bytes = std::max(count * sizeof(int64_t), buf.bytes + buf.bytes / 2);
        b.Free(buf.data);
        buf = {};
        buf.data = b.Allocate(bytes);
        if (!buf.data) throw std::bad_alloc();
        buf.bytes = bytes;
      }
      std::memcpy(buf.data, in.data, count * sizeof(int64_t));
      Ort::Value v = Ort::Value::CreateTensor<int64_t>(b.host, static_cast<int64_t*>(buf.data), count, shape, 2);
      set->io->BindInput(in.name, v);
    }
    for (const char* name : outputs) set->io->BindOutput(name, b.host);
    session_->Run(Ort::RunOptions{nullptr}, *set->io);
    *results = set->io->GetOutputValues();
    set->io->ClearBoundInputs();  // the input values view the buffers; nothing keeps them past this Run
  } catch (const Ort::Exception& e) {
    status = FromOrtException(e, codes::kInferenceFailed, "inference failed on " + path_);
  } catch (const std::bad_alloc&) {
    status = Status(codes::kInferenceFailed, "inference failed on " + path_ + ": out of memory for the input buffers");
  }
  std::lock_guard<std::mutex> lk(b.mu);
  b.free_sets.push_back(std::move(set));
  return status;
}

bool Session::HasInput(const std::string& name) const {
  return std::find(input_names_.begin(), input_names_.end(), name) != input_names_.end();
}
bool Session::HasOutput(const std::string& name) const {
  return std::find(output_names_.begin(), output_names_.end(), name) != output_names_.end();
}

namespace {

// The element type of the tensor `type_info()` describes; nullopt when it is not a tensor or ONNX Runtime cannot say.
template <class TypeInfoFn>
std::optional<ONNXTensorElementDataType> ElementTypeOf(TypeInfoFn type_info) {
  try {
    Ort::TypeInfo type = type_info();
    if (type.GetONNXType() != ONNX_TYPE_TENSOR) return std::nullopt;
    return type.GetTensorTypeAndShapeInfo().GetElementType();
  } catch (const Ort::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<ONNXTensorElementDataType> Session::InputElementType(const std::string& name) const {
  const auto it = std::find(input_names_.begin(), input_names_.end(), name);
  if (it == input_names_.end()) return std::nullopt;
  return ElementTypeOf([&] { return session_->GetInputTypeInfo(static_cast<size_t>(it - input_names_.begin())); });
}

std::optional<ONNXTensorElementDataType> Session::OutputElementType(const std::string& name) const {
  const auto it = std::find(output_names_.begin(), output_names_.end(), name);
  if (it == output_names_.end()) return std::nullopt;
  return ElementTypeOf([&] { return session_->GetOutputTypeInfo(static_cast<size_t>(it - output_names_.begin())); });
}

const char* ElementTypeName(std::optional<ONNXTensorElementDataType> type) {
  if (!type) return "not a tensor";
  switch (*type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return "uint16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "int16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "string";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "uint32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "uint64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "bfloat16";
    default: return "another element type";
  }
}

std::optional<std::vector<int64_t>> Session::OutputShape(const std::string& name) const {
  const auto it = std::find(output_names_.begin(), output_names_.end(), name);
  if (it == output_names_.end()) return std::nullopt;
  try {
    Ort::TypeInfo type = session_->GetOutputTypeInfo(static_cast<size_t>(it - output_names_.begin()));
    if (type.GetONNXType() != ONNX_TYPE_TENSOR) return std::nullopt;
    return type.GetTensorTypeAndShapeInfo().GetShape();
  } catch (const Ort::Exception&) {
    return std::nullopt;
  }
}

Status Session::Run(const std::vector<Int64Input>& inputs, int64_t batch, int64_t seq,
                    const std::vector<const char*>& outputs, std::vector<Ort::Value>* results) const {
  if (binding_) return RunBound(inputs, batch, seq, outputs, results);
  try {
    auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const int64_t shape[2] = {batch, seq};
    std::vector<Ort::Value> values;
    std::vector<const char*> names;
    values.reserve(inputs.size());
    for (const auto& in : inputs) {
      values.push_back(Ort::Value::CreateTensor<int64_t>(mem, const_cast<int64_t*>(in.data),
                                                         static_cast<size_t>(batch * seq), shape, 2));
      names.push_back(in.name);
    }
    *results = session_->Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), outputs.data(),
                             outputs.size());
  } catch (const Ort::Exception& e) {
    return FromOrtException(e, codes::kInferenceFailed, "inference failed on " + path_);
  }
  return Status::Ok();
}

}  // namespace winnow::rt
