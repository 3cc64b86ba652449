#include "builder/weights.h"

namespace winnow::builder {

Status Weights::FindPrefix(const std::string& probe, const std::vector<std::string>& prefixes) {
  for (const char* outer : {"", "ranking_model."})
    for (const std::string& p : prefixes)
      if (Has(outer + p + probe)) {
        outer_ = outer;
        prefix_ = outer + p;
        return Status::Ok();
      }
  std::string tried;
  for (const std::string& p : prefixes) tried += (tried.empty() ? "" : ", ") + p + probe;
  return Status(codes::kCheckpointInvalid, checkpoint_->dir() + "/" + checkpoint_->source() +
                                               " does not hold the model's weights: none of " + tried + " is in it");
}

bool Weights::Has(std::string_view name) const { return overrides_.count(name) || checkpoint_->Get(name); }

const OwnedTensor* Weights::Override(std::string_view name) const {
  auto it = overrides_.find(name);
  return it == overrides_.end() ? nullptr : &it->second;
}

const checkpoint::Tensor* Weights::Stored(std::string_view name) const {
  return overrides_.count(name) ? nullptr : checkpoint_->Get(name);
}

std::vector<int64_t> Weights::Shape(std::string_view name) const {
  if (const OwnedTensor* o = Override(name)) return o->shape;
  if (const checkpoint::Tensor* t = checkpoint_->Get(name)) return t->shape;
  return {};
}

StatusOr<std::vector<float>> Weights::Floats(const std::string& name) const {
  if (const OwnedTensor* o = Override(name)) return o->values;
  const checkpoint::Tensor* t = checkpoint_->Get(name);
  if (!t) return Status(codes::kCheckpointInvalid, checkpoint_->source() + " has no tensor " + name);
  return checkpoint::ToFloat(*t, name);
}

}  // namespace winnow::builder
