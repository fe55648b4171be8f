// The value checks of tubelets.ops for CPU tensors: what the torch version computes in
// ~30 small tensor ops (~130 µs a call for one clip, more than painting it takes), in
// one pass over the parameters. Host-only.
#pragma once

#include <cmath>
#include <cstdint>

#include "python_args.h"

namespace tubelets {

// In the order of the messages of tubelets.ops.value_checks.
enum ValueCheck : int32_t {
  kCheckMaps,         // inv_affine finite
  kCheckOpacity,      // opacity in [0, 1] (NaN fails)
  kCheckSoftness,     // softness finite and >= 0
  kCheckShape,        // shape in [0, shapes)
  kCheckSourceFrame,  // src_frame in [0, source_frames)
  kCheckCrop,         // src_box non-empty and inside the width × height source
  kValueChecks,
};

// The first check that some value fails, -1 if none. `params` as ParamPointers orders
// them: inv_affine (tubelets, frames, 2, 3) and opacity (tubelets, frames) float32,
// src_box (tubelets, 4), src_frame, shape int32 and softness float32 (tubelets), all
// contiguous; `tubelets` counts every clip's.
inline int32_t failed_value_check(const ParamPointers& params, int64_t tubelets, int64_t frames,
                                  int64_t source_frames, int64_t height, int64_t width, int32_t shapes) {
  const auto* inv_affine = reinterpret_cast<const float*>(params[0]);
  const auto* opacity = reinterpret_cast<const float*>(params[1]);
  const auto* src_box = reinterpret_cast<const int32_t*>(params[2]);
  const auto* src_frame = reinterpret_cast<const int32_t*>(params[3]);
  const auto* shape = reinterpret_cast<const int32_t*>(params[4]);
  const auto* softness = reinterpret_cast<const float*>(params[5]);
  bool passed[kValueChecks] = {true, true, true, true, true, true};
  for (int64_t i = 0; i < tubelets * frames * 6; ++i) passed[kCheckMaps] &= std::isfinite(inv_affine[i]);
  for (int64_t i = 0; i < tubelets * frames; ++i) passed[kCheckOpacity] &= opacity[i] >= 0.0f && opacity[i] <= 1.0f;
  for (int64_t i = 0; i < tubelets; ++i) {
    passed[kCheckSoftness] &= std::isfinite(softness[i]) && softness[i] >= 0.0f;
    passed[kCheckShape] &= shape[i] >= 0 && shape[i] < shapes;
    passed[kCheckSourceFrame] &= src_frame[i] >= 0 && src_frame[i] < source_frames;
    const int32_t* box = src_box + 4 * i;  // x0, y0, x1, y1
    passed[kCheckCrop] &= box[0] >= 0 && box[1] >= 0 && box[0] <= box[2] && box[1] <= box[3] &&
                           box[2] < width && box[3] < height;
  }
  for (int32_t check = 0; check < kValueChecks; ++check) {
    if (!passed[check]) return check;
  }
  return -1;
}

}  // namespace tubelets
