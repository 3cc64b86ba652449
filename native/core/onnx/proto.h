// ONNX protobuf field numbers and enum values (onnx.proto), as the reader and writer use them.
#pragma once

#include <cstdint>

namespace winnow::onnx {

namespace model_f { constexpr uint32_t kIrVersion = 1, kProducerName = 2, kGraph = 7, kOpsetImport = 8; }
namespace opset_f { constexpr uint32_t kDomain = 1, kVersion = 2; }
namespace graph_f { constexpr uint32_t kNode = 1, kName = 2, kInitializer = 5, kInput = 11, kOutput = 12; }
namespace node_f { constexpr uint32_t kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7; }
namespace attr_f { constexpr uint32_t kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kG = 6, kFloats = 7, kInts = 8, kGraphs = 11, kType = 20; }
namespace tensor_f {
constexpr uint32_t kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kInt64Data = 7, kName = 8, kRawData = 9,
                   kDoubleData = 10, kExternalData = 13, kDataLocation = 14;
}
namespace value_f { constexpr uint32_t kName = 1, kType = 2; }               // ValueInfoProto
namespace type_f { constexpr uint32_t kTensorType = 1; }                    // TypeProto
namespace tensor_type_f { constexpr uint32_t kElemType = 1, kShape = 2; }  // TypeProto.Tensor
namespace shape_f { constexpr uint32_t kDim = 1; }                          // TensorShapeProto
namespace dim_f { constexpr uint32_t kValue = 1, kParam = 2; }              // TensorShapeProto.Dimension

// TensorProto.DataType
namespace dtype {
constexpr uint64_t kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kBool = 9, kFloat16 = 10, kDouble = 11,
                   kBfloat16 = 16;
}
// AttributeProto.AttributeType
constexpr uint64_t kAttrFloat = 1, kAttrInt = 2, kAttrString = 3, kAttrTensor = 4, kAttrFloats = 6, kAttrInts = 7;

}  // namespace winnow::onnx
