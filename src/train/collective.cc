#include "train/collective.h"

#include <xgboost/c_api.h>

#include "train/xgboost_trainer.h"

namespace fraudops {

namespace {

// libxgboost's collective enumerations (xgboost::collective::DataType and Operation, as its
// Python package passes them).
constexpr int kInt64 = 4, kDouble = 7;
constexpr int kMax = 0, kMin = 1, kSum = 2;

Status Allreduce(void* data, size_t count, int type, int operation) {
  if (count == 0) return Status::Ok();
  return XgbCheck(XGCommunicatorAllreduce(data, count, type, operation), "XGCommunicatorAllreduce");
}

}  // namespace

Result<std::unique_ptr<Collective>> Collective::Join(const std::string& config) {
  FOPS_RETURN_IF_ERROR(XgbCheck(XGCommunicatorInit(config.c_str()), "XGCommunicatorInit"));
  return std::unique_ptr<Collective>(
      new Collective(XGCommunicatorGetRank(), XGCommunicatorGetWorldSize()));
}

Collective::~Collective() { XGCommunicatorFinalize(); }

Status Collective::Sum(std::span<double> values) {
  return Allreduce(values.data(), values.size(), kDouble, kSum);
}
Status Collective::Sum(std::span<int64_t> values) {
  return Allreduce(values.data(), values.size(), kInt64, kSum);
}
Status Collective::Max(std::span<double> values) {
  return Allreduce(values.data(), values.size(), kDouble, kMax);
}
Status Collective::Min(std::span<double> values) {
  return Allreduce(values.data(), values.size(), kDouble, kMin);
}

Status Collective::Broadcast(std::string& bytes, int root) {
  uint64_t size = bytes.size();
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGCommunicatorBroadcast(&size, sizeof size, root), "XGCommunicatorBroadcast"));
  bytes.resize(size);
  if (size == 0) return Status::Ok();
  return XgbCheck(XGCommunicatorBroadcast(bytes.data(), size, root), "XGCommunicatorBroadcast");
}

Result<std::string> Collective::AllGather(std::string mine) {
  std::string all;
  for (int root = 0; root < world_size_; ++root) {
    std::string part = root == rank_ ? std::move(mine) : std::string();
    FOPS_RETURN_IF_ERROR(Broadcast(part, root));
    all += part;
  }
  return all;
}

}  // namespace fraudops
