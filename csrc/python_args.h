// The Python-facing arguments of both modules (tubelets._C, tubelets._cuda):
// data pointers as integers, sizes and strides as int64 sequences, the dtype by
// name. No libtorch here, so one build serves every torch version.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "composite.h"

namespace tubelets {

using Layout5 = std::array<int64_t, 5>;                // sizes or strides of (B, C, T, H, W)
using StridedVideo = std::pair<uintptr_t, Layout5>;    // data pointer, strides (elements)
// Data pointers of inv_affine, opacity, src_box, src_frame, shape, softness.
using ParamPointers = std::array<uintptr_t, 6>;

inline Dtype parse_dtype(const std::string& name) {
  if (name == "uint8") return Dtype::kUInt8;
  if (name == "float16") return Dtype::kFloat16;
  if (name == "bfloat16") return Dtype::kBFloat16;
  if (name == "float32") return Dtype::kFloat32;
  throw std::invalid_argument("tubelets: unsupported dtype " + name);
}

inline PaintArgs make_paint_args(const Layout5& size, const std::vector<StridedVideo>& outs,
                                 const std::vector<StridedVideo>& ins, uintptr_t source,
                                 const Layout5& source_size, const Layout5& source_stride,
                                 int64_t num_tubelets, const ParamPointers& params, uintptr_t masks,
                                 bool source_alpha) {
  const size_t least = masks != 0 ? 0 : 1;
  if (outs.size() != ins.size() || outs.size() < least || outs.size() > size_t(kMaxCopies)) {
    throw std::invalid_argument("tubelets: give " + std::to_string(least) + " to " + std::to_string(kMaxCopies) +
                                " outputs and as many inputs");
  }
  if (source_size[0] != size[0] || source_size[1] != size[1] + (source_alpha ? 1 : 0)) {
    throw std::invalid_argument("tubelets: source and outputs differ in batch or channels");
  }
  if (masks != 0 && num_tubelets > 127) {
    throw std::invalid_argument("tubelets: masks tell at most 127 tubelets apart");
  }
  PaintArgs args;
  args.copies = int64_t(outs.size());
  for (int i = 0; i < 5; ++i) {
    args.size[i] = size[i];
    args.source_size[i] = source_size[i];
    args.source_stride[i] = source_stride[i];
  }
  for (int64_t p = 0; p < args.copies; ++p) {
    args.out[p] = reinterpret_cast<void*>(outs[p].first);
    args.in[p] = reinterpret_cast<const void*>(ins[p].first);
    for (int i = 0; i < 5; ++i) {
      args.out_stride[p][i] = outs[p].second[i];
      args.in_stride[p][i] = ins[p].second[i];
    }
  }
  args.source = reinterpret_cast<const void*>(source);
  args.num_tubelets = num_tubelets;
  // Every pixel a tubelet paints reads the source, so an empty one is an error
  // (as in the reference) unless nothing is painted at all.
  const bool empty_source = source_size[2] == 0 || source_size[3] == 0 || source_size[4] == 0;
  if (empty_source && num_tubelets > 0 && num_pixels(args) > 0) {
    throw std::invalid_argument("tubelets: the source has no pixels");
  }
  args.inv_affine = reinterpret_cast<const float*>(params[0]);
  args.opacity = reinterpret_cast<const float*>(params[1]);
  args.src_box = reinterpret_cast<const int32_t*>(params[2]);
  args.src_frame = reinterpret_cast<const int32_t*>(params[3]);
  args.shape = reinterpret_cast<const int32_t*>(params[4]);
  args.softness = reinterpret_cast<const float*>(params[5]);
  args.source_alpha = source_alpha;
  args.masks = reinterpret_cast<int8_t*>(masks);
  return args;
}

}  // namespace tubelets
