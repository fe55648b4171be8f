// Tubelet sampling, shared by the native samplers: tubelets/sampling.py's reference
// (sample_reference) computed per clip in double, from the same counter-based random
// numbers (tubelets/philox.py), so the two agree to float32 rounding.
//
// One call of sample_clip writes every parameter of the M tubelets of one clip; clips
// are independent, so a batch is a loop (or a grid) over clips.
#pragma once

#include <math.h>
#include <stdint.h>

#include "composite.h"  // TUBELETS_HD

namespace tubelets {

// tubelets.philox.Stream: what each draw is for.
enum Stream : uint32_t {
  kCropSize = 0, kCropCorner = 1, kSourceFrame = 2, kShape = 3, kSoftness = 4, kOpacity = 5,
  kApplied = 6, kStaticStart = 7, kMotionTimes = 8, kLinearStep = 9, kLinearRadius = 10,
  kLinearAngle = 11, kLinearStart = 12, kNonlinearPoints = 13, kNonlinearLength = 14,
  kNonlinearStart = 15, kTransformTimes = 16, kRotation = 17, kScale = 18, kShear = 19,
  kCount = 20, kEasing = 21, kPatchAnchor = 22, kSoftEdge = 23, kOpacityTimes = 24,
};

enum Motion : int32_t { kStatic = 0, kLinear = 1, kNonlinear = 2 };

// tubelets.config.INTERPOLATIONS: the weight e(w) between two keyframes.
enum Easing : int32_t { kEaseLinear = 0, kAccelerate = 1, kDecelerate = 2, kEaseRandom = 3 };

// Philox4x32-10 (Salmon et al., SC 2011) of counter c, in place, with key (k0, k1).
TUBELETS_HD void philox4x32(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    const uint32_t c1 = c[1], c3 = c[3];
    c[0] = hi1 ^ c1 ^ k0;
    c[1] = lo1;
    c[2] = hi0 ^ c3 ^ k1;
    c[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// The draws of one tubelet: uniform(stream, i) is word i % 4 of Philox block
// (i / 4, clip, tubelet, stream) times 2^-32, exact in double.
class Draws {
 public:
  TUBELETS_HD Draws(uint64_t seed, int64_t clip, int64_t tubelet)
      : k0_(uint32_t(seed)), k1_(uint32_t(seed >> 32)), clip_(uint32_t(clip)),
        tubelet_(uint32_t(tubelet)) {}

  TUBELETS_HD double uniform(Stream stream, int64_t index) {
    const uint32_t block = uint32_t(index / 4);
    if (stream != stream_ || block != block_ || !cached_) {
      words_[0] = block;
      words_[1] = clip_;
      words_[2] = tubelet_;
      words_[3] = stream;
      philox4x32(words_, k0_, k1_);
      stream_ = stream;
      block_ = block;
      cached_ = true;
    }
    return double(words_[index % 4]) * (1.0 / 4294967296.0);
  }

  // low + (high - low) * uniform, as the reference's _between.
  TUBELETS_HD double between(Stream stream, int64_t index, const double range[2]) {
    return range[0] + (range[1] - range[0]) * uniform(stream, index);
  }

 private:
  uint32_t k0_, k1_, clip_, tubelet_;
  uint32_t words_[4] = {0, 0, 0, 0};
  Stream stream_ = kCropSize;
  uint32_t block_ = 0;
  bool cached_ = false;
};

// What to sample: tubelets.TubeletConfig, resolved for frames × height × width clips.
struct SampleConfig {
  int64_t count, frames, height, width;  // M, T, H, W
  int64_t min_count;                     // each clip paints min_count … M tubelets
  bool same_on_batch;                    // every clip draws clip 0's tubelets
  int32_t easing;                        // Easing
  bool opacity_keyframes;                // opacity keyframed (linear), not one value
  bool nonlinear_square;                 // one stretch of a non-linear path for both axes
  bool rotation_walk;                    // keyframe angles a walk of rotation_step °/frame
  double softness_p, patch_jitter, rotation_step;
  const double* anchors;                 // (num_anchors, 2) patch sizes, fractions of W and H
  int64_t num_anchors;                   // 0: sizes uniform in patch_size
  int32_t motion;                        // Motion
  bool rotation, scale, shear;           // which transforms
  int32_t keyframes, points;             // K, N
  int32_t shapes[3];                     // indices into SHAPES that may be drawn
  int32_t num_shapes;
  double patch_size[2], max_step[2], extent[2];
  double scale_range[2], rotation_range[2], shear_range[2], opacity[2], softness[2];
  double p;
  const double* nonlinear_matrix;  // (N, T): path = raw points @ matrix
};

// Where sample_clip writes, for the whole batch; shapes as tubelets.Tubelets.
struct SampleOutputs {
  float* inv_affine;             // (B, M, T, 2, 3)
  float* opacity;                // (B, M, T)
  int32_t* src_box;              // (B, M, 4)
  int32_t* src_frame;            // (B, M)
  int32_t* shape;                // (B, M)
  float* softness;               // (B, M)
  float* centers;                // (B, M, T, 2)
  float* angles;                 // (B, M, T)
  float* scales;                 // (B, M, T, 2)
  float* shears;                 // (B, M, T, 2)
  int64_t* motion_keyframes;     // (B, M, K') for linear motion, else unused
  int64_t* transform_keyframes;  // (B, M, K'), K' = min(K, T)
};

// Sorted keyframes: 0, the frames of the K'-2 smallest of T-2 uniforms (ties by frame),
// T-1. Returns K' = min(K, T). `values` holds T doubles of scratch.
TUBELETS_HD int64_t keyframe_times(Draws& draws, Stream stream, int64_t keyframes, int64_t frames,
                                   int64_t* times, double* values) {
  const int64_t count = keyframes < frames ? keyframes : frames;
  times[0] = 0;
  if (count == 1) return 1;
  for (int64_t i = 0; i < frames - 2; ++i) values[i] = draws.uniform(stream, i);
  // Rank each interior frame by its uniform; keep those ranked below count - 2.
  int64_t kept = 1;
  for (int64_t i = 0; i < frames - 2; ++i) {
    int64_t rank = 0;
    for (int64_t j = 0; j < frames - 2; ++j) {
      rank += values[j] < values[i] || (values[j] == values[i] && j < i);
    }
    if (rank < count - 2) times[kept++] = i + 1;  // frames ascend, so times stay sorted
  }
  times[count - 1] = frames - 1;
  return count;
}

// Value at frame t through values[k] (stride `dims`) at times[k], eased between keyframes by
// `easing` (kEaseLinear, kAccelerate or kDecelerate), as trajectories.interpolate.
TUBELETS_HD double interpolate(const int64_t* times, int64_t count, const double* values, int dims,
                               int d, int64_t t, int32_t easing) {
  if (count == 1) return values[d];
  int64_t segment = 0;  // last k with times[k] <= t, within [0, count - 2]
  while (segment + 1 < count - 1 && times[segment + 1] <= t) ++segment;
  const int64_t t0 = times[segment], t1 = times[segment + 1];
  double weight = double(t - t0) / double(t1 - t0);
  if (easing == kAccelerate) weight = weight * weight;
  if (easing == kDecelerate) weight = 1 - (1 - weight) * (1 - weight);
  const double v0 = values[segment * dims + d], v1 = values[(segment + 1) * dims + d];
  return v0 + weight * (v1 - v0);
}

constexpr int kMaxKeyframes = 64;  // the caller checks K <= this
constexpr double kPi = 3.14159265358979323846;

// Transform values at the keyframes: identity first, uniform in range after.
TUBELETS_HD void keyframe_values(Draws& draws, Stream stream, int64_t count, int dims,
                                 const double range[2], double identity, double* values) {
  for (int64_t k = 0; k < count; ++k) {
    for (int d = 0; d < dims; ++d) {
      values[k * dims + d] = k == 0 ? identity : draws.between(stream, k * dims + d, range);
    }
  }
}

// Centres (x, y) of one tubelet in every frame, in pixels (double), before snapping.
// `values` holds T doubles of scratch.
TUBELETS_HD void path(const SampleConfig& config, Draws& draws, int32_t easing, int64_t* motion_times,
                      int64_t& motion_count, double* centers, double* values) {
  const int64_t frames = config.frames;
  const double size[2] = {double(config.width), double(config.height)};
  const double limit[2] = {size[0] - 1, size[1] - 1};
  if (config.motion == kStatic) {
    for (int64_t t = 0; t < frames; ++t) {
      for (int d = 0; d < 2; ++d) centers[t * 2 + d] = draws.uniform(kStaticStart, d) * limit[d];
    }
  } else if (config.motion == kLinear) {
    motion_count = keyframe_times(draws, kMotionTimes, config.keyframes, frames, motion_times, values);
    double points[kMaxKeyframes * 2];
    const double step = draws.between(kLinearStep, 0, config.max_step);
    for (int d = 0; d < 2; ++d) points[d] = draws.uniform(kLinearStart, d) * limit[d];
    for (int64_t k = 0; k + 1 < motion_count; ++k) {
      const double root = sqrt(draws.uniform(kLinearRadius, k));
      const double angle = (2 * kPi) * draws.uniform(kLinearAngle, k);
      const double offset[2] = {step * size[0] * root * cos(angle), step * size[1] * root * sin(angle)};
      for (int d = 0; d < 2; ++d) {
        const double moved = points[k * 2 + d] + offset[d];
        const double above = moved > 0 ? moved : 0;  // clamp(min=0), then minimum(limit)
        points[(k + 1) * 2 + d] = above < limit[d] ? above : limit[d];
      }
    }
    for (int64_t t = 0; t < frames; ++t) {
      for (int d = 0; d < 2; ++d) centers[t * 2 + d] = interpolate(motion_times, motion_count, points, 2, d, t, easing);
    }
  } else {
    const int64_t n = config.points;
    for (int d = 0; d < 2; ++d) {
      // raw points @ matrix, point by point: each frame's sum adds the points in the
      // order a dot product would, and each Philox block is drawn once, not once a frame.
      for (int64_t t = 0; t < frames; ++t) centers[t * 2 + d] = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double point = draws.uniform(kNonlinearPoints, d * n + i);
        const double* weights = config.nonlinear_matrix + i * frames;
        for (int64_t t = 0; t < frames; ++t) centers[t * 2 + d] += point * weights[t];
      }
      double low = INFINITY, high = -INFINITY;
      for (int64_t t = 0; t < frames; ++t) {
        const double sum = centers[t * 2 + d];
        low = sum < low ? sum : low;
        high = sum > high ? sum : high;
      }
      const double span = high - low;
      const double length = draws.between(kNonlinearLength, config.nonlinear_square ? 0 : d, config.extent) * limit[d];
      const double start = draws.uniform(kNonlinearStart, d) * (limit[d] - length);
      for (int64_t t = 0; t < frames; ++t) {
        const double unit = span > 0 ? (centers[t * 2 + d] - low) / span : 0.5;
        centers[t * 2 + d] = start + unit * length;
      }
    }
  }
}

// The inverse map of tubelets.params.compile_inv_affine, in double, stored as float.
TUBELETS_HD void compile_inv_affine(double cx, double cy, double half_x, double half_y,
                                    double angle, double scale_x, double scale_y, double shear_x,
                                    double shear_y, float* map) {
  const double theta = angle * (kPi / 180.0);
  const double c = cos(theta), s = sin(theta);
  const double sx = scale_x * half_x, sy = scale_y * half_y;
  const double a00 = sx, a01 = shear_x * sy, a10 = shear_y * sx, a11 = (1 + shear_x * shear_y) * sy;
  const double f00 = c * a00 - s * a10, f01 = c * a01 - s * a11;
  const double f10 = s * a00 + c * a10, f11 = s * a01 + c * a11;
  const double det = f00 * f11 - f01 * f10;
  const double i00 = f11 / det, i01 = -f01 / det, i10 = -f10 / det, i11 = f00 / det;
  map[0] = float(i00);
  map[1] = float(i01);
  map[2] = float(-(i00 * cx + i01 * cy));
  map[3] = float(i10);
  map[4] = float(i11);
  map[5] = float(-(i10 * cx + i11 * cy));
}

// Every parameter of the M tubelets of clip b (drawn as clip 0's if same_on_batch).
// `scratch` holds 3·T + M doubles.
TUBELETS_HD void sample_clip(const SampleConfig& config, uint64_t seed, int64_t b,
                             const SampleOutputs& out, double* scratch) {
  const int64_t count = config.count, frames = config.frames;
  const int64_t clip = config.same_on_batch ? 0 : b;
  double* origins = scratch + 3 * frames;  // slot -> the slot it was drawn in, before sorting
  const double size[2] = {double(config.width), double(config.height)};
  // Crops, drawn per slot, then sorted into paint order: largest area first, stably.
  int32_t* boxes = out.src_box + b * count * 4;
  int32_t* source_frames = out.src_frame + b * count;
  for (int64_t m = 0; m < count; ++m) {
    Draws draws(seed, clip, m);
    int32_t box[4];
    int64_t pick = 0;  // the anchor of sampling.patch_anchors, if any
    if (config.num_anchors > 0) {
      pick = int64_t(draws.uniform(kPatchAnchor, 0) * double(config.num_anchors));
      pick = pick < config.num_anchors - 1 ? pick : config.num_anchors - 1;
    }
    for (int d = 0; d < 2; ++d) {
      const double unit = draws.uniform(kCropSize, d), jitter = config.patch_jitter;
      double extent = config.num_anchors > 0
                          ? config.anchors[pick * 2 + d] * exp(-jitter + 2 * jitter * unit) * size[d]
                          : (config.patch_size[0] + (config.patch_size[1] - config.patch_size[0]) * unit) * size[d];
      extent = nearbyint(extent);
      extent = extent < 1 ? 1 : extent;
      extent = extent < size[d] ? extent : size[d];
      double corner = floor(draws.uniform(kCropCorner, d) * (size[d] - extent + 1));
      corner = corner < size[d] - extent ? corner : size[d] - extent;
      box[d] = int32_t(corner);
      box[d + 2] = int32_t(corner + extent - 1);
    }
    int64_t frame = int64_t(draws.uniform(kSourceFrame, 0) * double(frames));
    frame = frame < frames - 1 ? frame : frames - 1;
    // Insertion: move smaller crops up one slot until this one's place.
    const int64_t area = int64_t(box[2] - box[0] + 1) * (box[3] - box[1] + 1);
    int64_t slot = m;
    for (; slot > 0; --slot) {
      const int32_t* above = boxes + (slot - 1) * 4;
      if (int64_t(above[2] - above[0] + 1) * (above[3] - above[1] + 1) >= area) break;
      for (int i = 0; i < 4; ++i) boxes[slot * 4 + i] = above[i];
      source_frames[slot] = source_frames[slot - 1];
      origins[slot] = origins[slot - 1];
    }
    for (int i = 0; i < 4; ++i) boxes[slot * 4 + i] = box[i];
    source_frames[slot] = int32_t(frame);
    origins[slot] = double(m);
  }

  Draws per_clip(seed, clip, 0);
  const bool applied = per_clip.uniform(kApplied, 0) < config.p;
  // The clip paints the slots drawn first: drawn uniformly from min_count … M (sampling._active).
  int64_t painted = count;
  if (config.min_count < count) {
    const int64_t choices = count - config.min_count;  // beyond the first
    const int64_t extra = int64_t(per_clip.uniform(kCount, 0) * double(choices + 1));
    painted = config.min_count + (extra < choices ? extra : choices);
  }
  for (int64_t m = 0; m < count; ++m) {
    Draws draws(seed, clip, m);
    const int64_t bm = b * count + m;
    const int32_t* box = out.src_box + bm * 4;
    int64_t choice = int64_t(draws.uniform(kShape, 0) * double(config.num_shapes));
    choice = choice < config.num_shapes - 1 ? choice : config.num_shapes - 1;
    out.shape[bm] = config.shapes[choice];
    out.softness[bm] = float(draws.between(kSoftness, 0, config.softness) *
                             (draws.uniform(kSoftEdge, 0) < config.softness_p ? 1.0 : 0.0));
    const double shown = (applied ? 1.0 : 0.0), active = (origins[m] < double(painted) ? 1.0 : 0.0);
    // Opacity: one level, or levels at keyframes of its own, linear in between.
    int64_t opacity_times[kMaxKeyframes], opacity_count = 1;
    double levels[kMaxKeyframes];
    opacity_times[0] = 0;
    if (config.opacity_keyframes) {
      opacity_count = keyframe_times(draws, kOpacityTimes, config.keyframes, frames, opacity_times, scratch + 2 * frames);
    }
    for (int64_t k = 0; k < opacity_count; ++k) levels[k] = draws.between(kOpacity, k, config.opacity);
    int32_t easing = config.easing;
    if (easing == kEaseRandom) {
      const int32_t drawn = int32_t(draws.uniform(kEasing, 0) * 3.0);
      easing = drawn < 2 ? drawn : 2;
    }

    int64_t motion_times[kMaxKeyframes], motion_count = 0;
    double* centers = scratch;
    double* values = scratch + 2 * frames;
    path(config, draws, easing, motion_times, motion_count, centers, values);
    if (config.motion == kLinear) {
      for (int64_t k = 0; k < motion_count; ++k) out.motion_keyframes[bm * motion_count + k] = motion_times[k];
    }
    int64_t times[kMaxKeyframes];
    const int64_t keys = keyframe_times(draws, kTransformTimes, config.keyframes, frames, times, values);
    for (int64_t k = 0; k < keys; ++k) out.transform_keyframes[bm * keys + k] = times[k];
    double angles[kMaxKeyframes], scales[kMaxKeyframes * 2], shears[kMaxKeyframes * 2];
    if (config.rotation && config.rotation_walk) {  // trajectories.rotation_walk
      angles[0] = 0.0;
      for (int64_t k = 1; k < keys; ++k) {
        angles[k] = angles[k - 1] + (2 * draws.uniform(kRotation, k) - 1) * config.rotation_step * double(times[k] - times[k - 1]);
      }
    } else {
      keyframe_values(draws, kRotation, config.rotation ? keys : 1, 1, config.rotation_range, 0.0, angles);
    }
    keyframe_values(draws, kScale, config.scale ? keys : 1, 2, config.scale_range, 1.0, scales);
    keyframe_values(draws, kShear, config.shear ? keys : 1, 2, config.shear_range, 0.0, shears);

    const double phase[2] = {double(box[0] + box[2]) * 0.5 - floor(double(box[0] + box[2]) * 0.5),
                             double(box[1] + box[3]) * 0.5 - floor(double(box[1] + box[3]) * 0.5)};
    const double half[2] = {double(box[2] - box[0] + 1) / 2, double(box[3] - box[1] + 1) / 2};
    for (int64_t t = 0; t < frames; ++t) {
      const int64_t bmt = bm * frames + t;
      double centre[2];
      for (int d = 0; d < 2; ++d) centre[d] = nearbyint(centers[t * 2 + d] - phase[d]) + phase[d];
      const double angle = config.rotation ? interpolate(times, keys, angles, 1, 0, t, easing) : 0.0;
      double scale[2], shear[2];
      for (int d = 0; d < 2; ++d) {
        scale[d] = config.scale ? interpolate(times, keys, scales, 2, d, t, easing) : 1.0;
        shear[d] = config.shear ? interpolate(times, keys, shears, 2, d, t, easing) : 0.0;
        out.centers[bmt * 2 + d] = float(centre[d]);
        out.scales[bmt * 2 + d] = float(scale[d]);
        out.shears[bmt * 2 + d] = float(shear[d]);
      }
      out.angles[bmt] = float(angle);
      out.opacity[bmt] = float(interpolate(opacity_times, opacity_count, levels, 1, 0, t, kEaseLinear) * shown * active);
      compile_inv_affine(centre[0], centre[1], half[0], half[1], angle, scale[0], scale[1], shear[0],
                         shear[1], out.inv_affine + bmt * 6);
    }
  }
}

}  // namespace tubelets
