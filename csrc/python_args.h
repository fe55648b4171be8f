// The Python-facing arguments of both modules (tubelets._C, tubelets._cuda):
// data pointers as integers, sizes and strides as int64 sequences, the dtype by
// name. No libtorch here, so one build serves every torch version.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "composite.h"

namespace tubelets {

using CanvasLayout = std::array<int64_t, 6>;  // sizes or strides of (P, B, C, T, H, W)
using SourceLayout = std::array<int64_t, 5>;  // sizes or strides of (B, C, T, Hs, Ws)
// Data pointers of inv_affine, opacity, boxes, src_box, src_frame, shape, softness.
using ParamPointers = std::array<uintptr_t, 7>;

inline Dtype parse_dtype(const std::string& name) {
  if (name == "uint8") return Dtype::kUInt8;
  if (name == "float16") return Dtype::kFloat16;
  if (name == "bfloat16") return Dtype::kBFloat16;
  if (name == "float32") return Dtype::kFloat32;
  throw std::invalid_argument("tubelets: unsupported dtype " + name);
}

inline PaintArgs make_paint_args(uintptr_t canvas, const CanvasLayout& canvas_size,
                                 const CanvasLayout& canvas_stride, uintptr_t source,
                                 const SourceLayout& source_size,
                                 const SourceLayout& source_stride, int64_t num_tubelets,
                                 const ParamPointers& params) {
  if (source_size[0] != canvas_size[1] || source_size[1] != canvas_size[2]) {
    throw std::invalid_argument("tubelets: source and canvas differ in batch or channels");
  }
  PaintArgs args;
  args.canvas = reinterpret_cast<void*>(canvas);
  args.source = reinterpret_cast<const void*>(source);
  for (int i = 0; i < 6; ++i) {
    args.canvas_size[i] = canvas_size[i];
    args.canvas_stride[i] = canvas_stride[i];
  }
  for (int i = 0; i < 5; ++i) {
    args.source_size[i] = source_size[i];
    args.source_stride[i] = source_stride[i];
  }
  args.num_tubelets = num_tubelets;
  // Every pixel a tubelet paints reads the source, so an empty one is an error
  // (as in the reference) unless nothing is painted at all.
  const bool empty_source = source_size[2] == 0 || source_size[3] == 0 || source_size[4] == 0;
  if (empty_source && !nothing_to_paint(args)) {
    throw std::invalid_argument("tubelets: the source has no pixels");
  }
  args.inv_affine = reinterpret_cast<const float*>(params[0]);
  args.opacity = reinterpret_cast<const float*>(params[1]);
  args.boxes = reinterpret_cast<const int32_t*>(params[2]);
  args.src_box = reinterpret_cast<const int32_t*>(params[3]);
  args.src_frame = reinterpret_cast<const int32_t*>(params[4]);
  args.shape = reinterpret_cast<const int32_t*>(params[5]);
  args.softness = reinterpret_cast<const float*>(params[6]);
  return args;
}

}  // namespace tubelets
