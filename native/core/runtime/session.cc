#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/stat.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unordered_map>

#include "common/half.h"
#include "common/thread_pool.h"
#include "common/mmap.h"
#include "runtime/custom_ops.h"
#include "runtime/graph_rewrite.h"

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
  int skip_layer_norms = 0, attentions = 0, packed_qkv = 0;
};

Rewritten RewriteModel(const MappedFile& file, const RewriteOptions& o) {
  Rewritten out;
  if (!file.data() || !(o.layer_norms || o.attention)) return out;
  auto rewrite = RewriteGraph(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), o);
  if (rewrite.ok() && !rewrite->model.empty()) {
    out.model = std::move(rewrite->model);
    out.skip_layer_norms = rewrite->skip_layer_norms;
    out.attentions = rewrite->attentions;
    out.packed_qkv = rewrite->packed_qkv;
  }
  return out;
}

// FuseAttention's blocks in the file, counted without rewriting it (0 when it cannot be read or rewritten).
// `width`: the widest block's (heads x head size); `float16`: blocks with float16 weights; `quantizes`: the graph
// quantizes activations.
int AttentionBlocks(const MappedFile& file, bool quantized, const ExternalFiles* external_files, int64_t* width,
                    bool* float16, bool* quantizes) {
  *width = 0;
  *float16 = false;
  *quantizes = false;
  if (!file.data()) return 0;
  auto n = CountAttentionBlocks(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), quantized,
                                external_files, width, float16, quantizes);
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

}  // namespace

StatusOr<std::unique_ptr<Session>> Session::Load(OrtRuntime* rt, const std::string& onnx_path,
                                                 const SessionConfig& config) {
  struct stat sb;
  if (stat(onnx_path.c_str(), &sb) != 0) return Status(codes::kModelNotFound, "no ONNX file at " + onnx_path);
  {
    // ONNX Runtime starts its intra-op threads while it builds the session, and where the system refuses one, one
    // of its own threads can end the process (an uncaught std::system_error). Starting as many here first turns
    // a thread limit into an error.
    const int want = config.intra_op_threads > 0 ? config.intra_op_threads
                                                 : static_cast<int>(std::thread::hardware_concurrency());
    ThreadPool probe(want - 1);
    WINNOW_RETURN_IF_ERROR(probe.Start());
  }
  std::unique_ptr<Session> s(new Session());
  s->rt_ = rt;
  s->path_ = onnx_path;
  rt->TakeRecentLog();
  try {
    Ort::SessionOptions so;
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    so.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
    so.SetInterOpNumThreads(1);
    if (config.intra_op_threads > 0) so.SetIntraOpNumThreads(config.intra_op_threads);
    // Inputs are already on the host; keep ONNX Runtime's own logging quiet unless it matters.
    so.SetLogSeverityLevel(ORT_LOGGING_LEVEL_WARNING);
    // prepackWeights false: ONNX Runtime's CPU kernels keep no packed copy of the weights, which then stay in the
    // mapped model file only (shared between processes); the matrices are packed on each call instead.
    if (!config.prepack_weights) so.AddConfigEntry("session.disable_prepacking", "1");
    if (!config.profile_prefix.empty()) so.EnableProfiling(config.profile_prefix.c_str());
    // Winnow's operators (runtime/custom_ops.h), which the CPU rewrites use.
    if (OrtCustomOpDomain* domain = CustomOpDomain()) so.Add(domain);
    bool use_cuda = false;
    if (config.device.kind != DeviceSpec::Kind::kCpu) {
      Status st = AppendCuda(rt, so, config);
      if (st.ok()) {
        use_cuda = true;
      } else if (config.device.kind == DeviceSpec::Kind::kCuda) {
        return st;
      }
    }
    // Unset (kAuto): CPU sessions only. On CUDA the rewrite is not measured yet, and ONNX Runtime's attention
    // fusion anchors on LayerNormalization nodes, which the rewrite removes.
    const bool fuse = config.fuse_layer_norm == SessionConfig::Fusion::kAll ||
                      (config.fuse_layer_norm == SessionConfig::Fusion::kAuto && !use_cuda);
    const bool quantized = config.fuse_layer_norm == SessionConfig::Fusion::kAll;
    // Attention likewise, and then only for blocks narrower than config.auto_attention_max_width.
    const bool attention = config.fuse_attention == SessionConfig::Fusion::kAll ||
                           (config.fuse_attention == SessionConfig::Fusion::kAuto && !use_cuda);
    // Graphs that quantize activations (int8 files) only when fuseAttention is true: an output one rounding step off
    // can land on another int8 step, so there the fused attention must compute the very floats of the graph as
    // written. On the CPU it does: ONNX Runtime's MultiHeadAttention kernel (int8 projections are not packed) runs
    // Softmax(Q·Kᵀ·scale + mask)·V through the routines the graph as written runs after ONNX Runtime's own fusions
    // (one GEMM with the scale as its alpha, the same softmax, one GEMM), and a padded key's score, whatever its
    // mask value, comes out of the softmax as the same underflowed term; the fused graph is kept only when the
    // probe's outputs are bit-identical (below). It is not the default: unlike the packed form of float graphs it
    // was no faster (MiniLM int8, 2026-11-24: MultiHeadAttention took 27.9 % of the kernel time, as much as the
    // ops it replaces). On CUDA int8 graphs need fuseLayerNorm true too, and are checked within the float tolerance.
    const bool attention_quantized = config.fuse_attention == SessionConfig::Fusion::kAll &&
                                     (!use_cuda || quantized);
    // The file, mapped, for the rewrites to read (models over 2 GiB, past protobuf's limit, are loaded as written).
    // The rewritten graph refers to the weights it keeps in place, as external data at their offsets in the model
    // file on disk, which ONNX Runtime then maps and uses where they lie, as it does with a model.onnx_data: the
    // weights are neither copied into the rewritten model nor read into memory twice. The file is named by its
    // real path (a hub-cache snapshot links into blobs/), and ONNX Runtime is told that folder.
    // CPU sessions load even the graph as written this way (WeightsInPlace, config.weights_in_place): ONNX Runtime
    // would otherwise copy every weight out of the file, the unused rows of a 250k-token embedding table too. CUDA
    // sessions copy the weights to the device either way; there only a rewrite maps the file, unless
    // config.weights_in_place_cuda (not yet checked on a GPU).
    const bool in_place = config.weights_in_place && (!use_cuda || config.weights_in_place_cuda);
    MappedFile mapped;
    std::string real_dir, real_name;
    if ((fuse || attention || in_place) && sb.st_size > 0 && static_cast<uint64_t>(sb.st_size) < (uint64_t{1} << 31)) {
      if (char* real = realpath(onnx_path.c_str(), nullptr)) {
        const std::string r = real;
        std::free(real);
        real_dir = r.substr(0, r.find_last_of('/') + 1);
        real_name = r.substr(r.find_last_of('/') + 1);
      }
      auto m = real_name.empty() ? StatusOr<MappedFile>(Status(codes::kIo, onnx_path)) : MappedFile::Open(onnx_path);
      if (m.ok()) mapped = std::move(*m);
    }
    // A model whose weights are in its own external data files (model.onnx_data, as exporters write models over
    // 2 GiB): the rewrites read the weights they need from those files, mapped too, and the rewritten graph keeps
    // the references, renamed to the files' real names. ONNX Runtime resolves every external file in one folder,
    // so each file's real path must lie in the model file's real folder (in a hub-cache snapshot both are links
    // into blobs/); otherwise (a name with a folder in it, a missing file) the model is loaded as written.
    std::vector<MappedFile> data_files;
    ExternalFiles external_files;
    ExternalRenames renames;
    bool rewritable = mapped.data() != nullptr;
    if (rewritable) {
      auto locations = ExternalDataLocations(std::string_view(reinterpret_cast<const char*>(mapped.data()), mapped.size()));
      rewritable = locations.ok();
      const std::string folder = onnx_path.substr(0, onnx_path.find_last_of('/') + 1);  // as the graph names files
      for (const std::string& location : rewritable ? *locations : std::vector<std::string>{}) {
        char* real = location.find('/') == std::string::npos && location.find('\0') == std::string::npos
                         ? realpath((folder + location).c_str(), nullptr)
                         : nullptr;
        const std::string real_path = real ? real : "";
        std::free(real);
        const bool beside = !real_path.empty() && real_path.compare(0, real_dir.size(), real_dir) == 0 &&
                            real_path.find('/', real_dir.size()) == std::string::npos;
        auto m = beside ? MappedFile::Open(real_path) : StatusOr<MappedFile>(Status(codes::kIo, location));
        if (!m.ok() || !m->data()) {
          rewritable = false;
          break;
        }
        if (real_path.substr(real_dir.size()) != location) renames[location] = real_path.substr(real_dir.size());
        external_files[location] = std::string_view(reinterpret_cast<const char*>(m->data()), m->size());
        data_files.push_back(std::move(*m));
      }
    }
    if (!rewritable) {
      mapped = MappedFile();
      external_files.clear();
      data_files.clear();
      renames.clear();
    }
    // Only the rewritten graph is told where its weights are; the file as written, read by ONNX Runtime, resolves its
    // own external data as usual.
    Ort::SessionOptions rewritten_so = so.Clone();
    if (mapped.data()) rewritten_so.AddConfigEntry("session.model_external_initializers_file_folder_path", real_dir.c_str());
    // A graph written here (its weights named in place) as the session; false, with ONNX Runtime's log of the
    // refusal taken, when ONNX Runtime refuses it.
    auto open_written = [&](const std::string& model, const Ort::SessionOptions& options) {
      try {
        s->session_ = std::make_unique<Ort::Session>(rt->env(), model.data(), model.size(), options);
        s->ReadNames();
        return true;
      } catch (const Ort::Exception&) {
        s->session_.reset();
        rt->TakeRecentLog();
        return false;
      }
    };
    // A rewritten graph ONNX Runtime refuses, or cannot run on the probe batch, is dropped for the next one.
    auto try_load = [&](const std::string& model, std::vector<float>* probe) -> std::unique_ptr<Ort::Session> {
      if (model.empty() || !open_written(model, rewritten_so)) return nullptr;
      try {
        if (s->ProbeRun(probe)) return std::move(s->session_);
      } catch (const Ort::Exception&) {
      }
      s->session_.reset();
      rt->TakeRecentLog();
      return nullptr;
    };
    RewriteOptions ro;
    if (mapped.data()) ro.external_weights = real_name;
    ro.external_files = &external_files;
    ro.external_renames = std::move(renames);
    // The graph as written: with its weights in place when it can be (in_place), else the file read by ONNX Runtime.
    auto load_file = [&](const Ort::SessionOptions& file_so, const Ort::SessionOptions& written_so) {
      if (in_place && mapped.data()) {
        auto written = WeightsInPlace(std::string_view(reinterpret_cast<const char*>(mapped.data()), mapped.size()), ro);
        if (written.ok() && !written->model.empty() && open_written(written->model, written_so)) return;
      }
      s->session_ = std::make_unique<Ort::Session>(rt->env(), onnx_path.c_str(), file_so);
      s->ReadNames();
    };
    // A fused attention graph is kept only if it computes what the file as written computes (the rewrite assumes
    // a right-padded mask and, for scaled_dot_product_attention exports, the usual scale). When the file has
    // blocks to fuse, it runs the probe batch first, before anything is rewritten: one model in memory at a time.
    std::vector<float> without;
    bool check_attention = false;
    int64_t attention_width = 0;
    bool attention_float16 = false, graph_quantizes = false;
    // ONNX Runtime's CPU kernels for the fused ops are float32 only: a float16 graph's fused form would be refused
    // after the probe had run (bge-reranker-base shape, fp16 file, fuseAttention true: 2.6 s to load, 0.9 s without).
    if (attention &&
        AttentionBlocks(mapped, attention_quantized, &external_files, &attention_width, &attention_float16,
                        &graph_quantizes) > 0 &&
        !(attention_float16 && !use_cuda) &&
        (config.fuse_attention == SessionConfig::Fusion::kAll || attention_width < config.auto_attention_max_width)) {
      // The reference session runs one small batch and is dropped: it is built cheaply, without ONNX Runtime's
      // graph fusions and without prepacking its weights (a copy of every matrix). With prepackWeights false the
      // options carry that entry already, and ONNX Runtime logs a warning (kept for the load's error text) when an
      // entry is set twice. Int8 graphs on the CPU, checked bit for bit, get the session as configured instead: in
      // them both settings change the arithmetic (the products' scaling, the packed kernels' rounding), and the
      // int8 steps that follow carry it far (probe logits of the bge-reranker-base-shaped int8 file 0.15 apart
      // without the fusions; of the MiniLM-shaped one 1.4e-6 apart with them but without prepacking).
      const bool as_configured = graph_quantizes && !use_cuda;
      auto cheap = [&](const Ort::SessionOptions& options) {
        Ort::SessionOptions c = options.Clone();
        c.DisableProfiling();
        if (as_configured) return c;
        c.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_BASIC);
        if (config.prepack_weights) c.AddConfigEntry("session.disable_prepacking", "1");
        return c;
      };
      load_file(cheap(so), cheap(rewritten_so));
      check_attention = s->ProbeRun(&without);
      s->session_.reset();
#if defined(__GLIBC__)
      malloc_trim(0);  // hand that session's freed heap (its graph copies) back before the next one loads
#endif
    }
    ro.layer_norms = fuse;
    ro.quantized_norms = quantized;
    // On the CPU, float32 norms become com.winnow LayerNorm: ONNX Runtime's own LayerNormalization arithmetic, so
    // int8 graphs are rewritten too with their scores unchanged.
    ro.exact_norms = !use_cuda && CustomOpDomain() != nullptr && !config.inexact_norms;
    ro.attention = check_attention;
    ro.quantized_attention = attention_quantized;
    ro.pack_qkv = config.pack_qkv;
    ro.test_scale = config.test_attention_scale;
    Rewritten rw = RewriteModel(mapped, ro);
    if (rw.attentions > 0) {
      std::vector<float> with;
      auto fused = try_load(rw.model, &with);
      std::string().swap(rw.model);
      // Int8 graphs on the CPU: bit for bit (see attention_quantized).
      const float tolerance = use_cuda ? 2e-2f : graph_quantizes ? 0.0f : 1e-3f;
      if (fused && SameOutputs(with, without, tolerance)) {
        s->session_ = std::move(fused);
        s->ReadNames();
        s->fused_attentions_ = rw.attentions;
        s->packed_attentions_ = rw.packed_qkv;
        s->fused_layer_norms_ = rw.skip_layer_norms;
      } else {
        fused.reset();
        ro.attention = false;
        rw = RewriteModel(mapped, ro);  // norms only
      }
    }
    if (!s->session_) {
      if ((s->session_ = try_load(rw.model, nullptr))) {
        s->ReadNames();
        s->fused_layer_norms_ = rw.skip_layer_norms;
      }
    }
    if (!s->session_) load_file(so, rewritten_so);
#if defined(__GLIBC__)
    // The load's transient buffers (the probe session's, ONNX Runtime's graph copies) are free now, but glibc keeps
    // their pages where they lie between live blocks: 40-50 MiB on the bge-reranker-base shape. Hand them back.
    malloc_trim(0);
#endif
    s->device_ = use_cuda ? "cuda:" + std::to_string(config.device.device_id) : "cpu";
    if (config.io_binding) {
      s->EnableIoBinding(config);
      // The bound path must run the probe batch and give what the plain path gives, or it is not used.
      std::vector<float> bound, plain;
      const bool ok = s->ProbeRun(&bound);
      auto binding = std::move(s->binding_);
      if (ok && s->ProbeRun(&plain) && SameOutputs(bound, plain, 1e-6f)) s->binding_ = std::move(binding);
      rt->TakeRecentLog();
    }
  } catch (const Ort::Exception& e) {
    std::string log = JoinLog(rt->TakeRecentLog());
    const char* code = config.device.kind == DeviceSpec::Kind::kCuda ? codes::kCudaUnavailable : codes::kOnnxInvalid;
    if (e.GetOrtErrorCode() == ORT_INVALID_PROTOBUF || e.GetOrtErrorCode() == ORT_INVALID_GRAPH ||
        e.GetOrtErrorCode() == ORT_NO_SUCHFILE)
      code = codes::kOnnxInvalid;
    return Status(code, "could not load " + onnx_path + ": " + e.what() + (log.empty() ? "" : " [" + log + "]"));
  }
  return s;
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
