// Per-pixel compositing math, shared by the CPU (composite_cpu.cpp) and CUDA
// (composite_cuda.cu) backends.
//
// Every function below mirrors tubelets/reference.py operation by operation in
// float32 (see the reference's module docstring for the formula). Built without
// contracting a*b + c into fused multiply-adds (-ffp-contract=off on the host,
// --fmad=false for nvcc) and without fast math, both backends reproduce the
// reference bit for bit.
//
// Layouts: the canvas is (P, B, C, T, H, W) and the source (B, C, T, Hs, Ws), both
// with arbitrary strides given in elements; the tubelet parameters are contiguous.
// All indices are 64-bit: B·C·T·H·W overflows 32 bits on real batches.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define TUBELETS_HD __host__ __device__ __forceinline__
#else
#define TUBELETS_HD inline
#endif

namespace tubelets {

// Indices into tubelets.params.SHAPES; any other value is painted as a rectangle,
// as in the reference.
enum Shape : int32_t { kRectangle = 0, kEllipse = 1, kRhombus = 2 };

// Storage of the two 16-bit float dtypes: the raw IEEE binary16 / bfloat16 bits.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// The pointers, sizes and strides of one paint call (see tubelets.reference.paint_).
struct PaintArgs {
  void* canvas;                 // (P, B, C, T, H, W), painted in place
  int64_t canvas_size[6];
  int64_t canvas_stride[6];     // in elements
  const void* source;           // (B, C, T, Hs, Ws), must not overlap the canvas
  int64_t source_size[5];
  int64_t source_stride[5];     // in elements
  int64_t num_tubelets;         // M
  const float* inv_affine;      // (B, M, T, 2, 3) output pixel -> patch coordinates
  const float* opacity;         // (B, M, T)
  const int32_t* boxes;         // (B, M, T, 4) inclusive (x0, y0, x1, y1)
  const int32_t* src_box;       // (B, M, 4) inclusive crop in source pixels
  const int32_t* src_frame;     // (B, M) in [0, T)
  const int32_t* shape;         // (B, M) a Shape
  const float* softness;        // (B, M) edge ramp width in patch units, 0 = hard
};

// Inclusive pixel box; empty when x1 < x0 or y1 < y0.
struct Box {
  int64_t x0, y0, x1, y1;
};

TUBELETS_HD bool is_empty(const Box& box) { return box.x1 < box.x0 || box.y1 < box.y0; }

TUBELETS_HD bool contains(const Box& box, int64_t x, int64_t y) {
  return x >= box.x0 && y >= box.y0 && x <= box.x1 && y <= box.y1;
}

// True when there is nothing to paint: no pixels or no tubelets.
TUBELETS_HD bool nothing_to_paint(const PaintArgs& args) {
  int64_t pixels = 1;
  for (int i = 0; i < 6; ++i) pixels *= args.canvas_size[i];
  return pixels == 0 || args.num_tubelets == 0;
}

// ---------------------------------------------------------------------------
// dtype conversions: exact widening to float32, and the reference's `quantise`
// (uint8: clamp(floor(v + 0.5), 0, 255); float16/bfloat16: round to nearest even).

TUBELETS_HD uint32_t bits_of(float value) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(value);
#else
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

TUBELETS_HD float float_of(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

TUBELETS_HD float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return float_of(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24, exact in float32
    const float magnitude = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));  // rebias 15 -> 127
}

// Rounds the integer `kept` up when the dropped low bits `dropped` (out of
// `half_way` * 2) are above one half, or exactly one half and `kept` is odd.
TUBELETS_HD uint32_t round_nearest_even(uint32_t kept, uint32_t dropped, uint32_t half_way) {
  return kept + (dropped > half_way || (dropped == half_way && (kept & 1u)));
}

TUBELETS_HD uint16_t float_to_half(float value) {
  const uint32_t bits = bits_of(value);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;    // NaN: a quiet NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;   // >= 65520 rounds to inf
  if (magnitude >= 0x38800000u) {                        // normal: >= 2^-14
    // Rebias the exponent and drop 13 mantissa bits; a carry out of the
    // mantissa correctly bumps the exponent.
    const uint32_t kept = (magnitude >> 13) - ((127u - 15u) << 10);
    return sign | uint16_t(round_nearest_even(kept, magnitude & 0x1fffu, 0x1000u));
  }
  if (magnitude <= 0x33000000u) return sign;  // <= 2^-25 rounds to (signed) zero
  // Subnormal: the significand with its implicit bit, in units of 2^-24.
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - (magnitude >> 23);  // 14 .. 24
  const uint32_t dropped = significand & ((1u << shift) - 1u);
  return sign | uint16_t(round_nearest_even(significand >> shift, dropped, 1u << (shift - 1u)));
}

TUBELETS_HD float bfloat16_to_float(uint16_t bfloat) { return float_of(uint32_t(bfloat) << 16); }

TUBELETS_HD uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = bits_of(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40u);  // quiet NaN
  return uint16_t(round_nearest_even(bits >> 16, bits & 0xffffu, 0x8000u));
}

TUBELETS_HD float to_float(uint8_t value) { return float(value); }
TUBELETS_HD float to_float(Half value) { return half_to_float(value.bits); }
TUBELETS_HD float to_float(BFloat16 value) { return bfloat16_to_float(value.bits); }
TUBELETS_HD float to_float(float value) { return value; }

template <typename scalar_t>
TUBELETS_HD scalar_t quantise(float value);

template <>
TUBELETS_HD uint8_t quantise<uint8_t>(float value) {
  // fmaxf drops a NaN (from a NaN opacity), which then stores 0.
  return uint8_t(fminf(fmaxf(floorf(value + 0.5f), 0.0f), 255.0f));
}
template <>
TUBELETS_HD Half quantise<Half>(float value) {
  return Half{float_to_half(value)};
}
template <>
TUBELETS_HD BFloat16 quantise<BFloat16>(float value) {
  return BFloat16{float_to_bfloat16(value)};
}
template <>
TUBELETS_HD float quantise<float>(float value) {
  return value;
}

// ---------------------------------------------------------------------------
// One tubelet in one frame.

// boxes[b, m, t]: the pixels the tubelet may touch in frame t of clip b.
TUBELETS_HD Box frame_box(const PaintArgs& args, int64_t b, int64_t m, int64_t t) {
  const int32_t* box = args.boxes + ((b * args.num_tubelets + m) * args.canvas_size[3] + t) * 4;
  return Box{box[0], box[1], box[2], box[3]};
}

// The parameters of tubelet m in frame t of clip b, gathered once and reused for
// every pixel of its box.
struct Patch {
  float affine[6];                   // row-major 2x3, output pixel (x, y, 1) -> u
  float opacity;
  float softness;
  int32_t shape;
  float centre_x, centre_y;          // centre of the crop, source pixels
  float half_x, half_y;              // half size of the crop, source pixels
  int64_t x_lo, y_lo, x_hi, y_hi;    // the crop clamped to the source frame
  int64_t frame;                     // source frame
};

TUBELETS_HD int64_t clamp_index(int64_t index, int64_t last) {
  return index < 0 ? 0 : index > last ? last : index;
}

TUBELETS_HD Patch load_patch(const PaintArgs& args, int64_t b, int64_t m, int64_t t) {
  const int64_t bm = b * args.num_tubelets + m;
  const int64_t bmt = bm * args.canvas_size[3] + t;
  Patch patch;
  for (int i = 0; i < 6; ++i) patch.affine[i] = args.inv_affine[bmt * 6 + i];
  patch.opacity = args.opacity[bmt];
  patch.softness = args.softness[bm];
  patch.shape = args.shape[bm];
  const int32_t* crop = args.src_box + bm * 4;
  const int64_t x0 = crop[0], y0 = crop[1], x1 = crop[2], y1 = crop[3];
  patch.centre_x = float(x0 + x1) * 0.5f;
  patch.centre_y = float(y0 + y1) * 0.5f;
  patch.half_x = float(x1 - x0 + 1) * 0.5f;
  patch.half_y = float(y1 - y0 + 1) * 0.5f;
  const int64_t last_x = args.source_size[4] - 1, last_y = args.source_size[3] - 1;
  patch.x_lo = clamp_index(x0, last_x);
  patch.y_lo = clamp_index(y0, last_y);
  patch.x_hi = clamp_index(x1, last_x);
  patch.y_hi = clamp_index(y1, last_y);
  patch.frame = args.src_frame[bm];
  return patch;
}

// Coverage from the shape mask, before opacity, at patch coordinates u (|u| <= 1).
TUBELETS_HD float shape_alpha(int32_t shape, float softness, float ux, float uy) {
  const float ax = fabsf(ux), ay = fabsf(uy);
  const float distance = shape == kEllipse   ? sqrtf(ux * ux + uy * uy)
                         : shape == kRhombus ? ax + ay
                                             : fmaxf(ax, ay);
  if (softness > 0.0f) return fminf(fmaxf((1.0f - distance) / softness, 0.0f), 1.0f);
  return distance <= 1.0f ? 1.0f : 0.0f;
}

// Paints one tubelet into output pixel (x, y) of frame t of clip b, in all P
// canvases. The caller has checked that the pixel lies in the tubelet's box.
// The canvas itself carries the pixel from one tubelet to the next, quantised,
// exactly as the reference stores it after every tubelet.
template <typename scalar_t>
TUBELETS_HD void paint_pixel(const PaintArgs& args, const Patch& patch, int64_t b, int64_t t,
                             int64_t y, int64_t x) {
  const float xf = float(x), yf = float(y);
  const float* map = patch.affine;
  const float ux = (map[0] * xf + map[1] * yf) + map[2];
  const float uy = (map[3] * xf + map[4] * yf) + map[5];
  // Written so that a NaN (from a degenerate map) is outside too.
  if (!(fabsf(ux) <= 1.0f && fabsf(uy) <= 1.0f)) return;
  const float alpha = patch.opacity * shape_alpha(patch.shape, patch.softness, ux, uy);
  if (alpha <= 0.0f) return;

  // Source position, clamped into the crop: fminf/fmaxf as the reference's fmin/fmax.
  const float sx = fminf(fmaxf(patch.centre_x + ux * patch.half_x, float(patch.x_lo)),
                         float(patch.x_hi));
  const float sy = fminf(fmaxf(patch.centre_y + uy * patch.half_y, float(patch.y_lo)),
                         float(patch.y_hi));
  const float floor_x = floorf(sx), floor_y = floorf(sy);
  const float fx = sx - floor_x, fy = sy - floor_y;
  const int64_t x0 = int64_t(floor_x), y0 = int64_t(floor_y);
  const int64_t x1 = x0 + 1 < patch.x_hi ? x0 + 1 : patch.x_hi;
  const int64_t y1 = y0 + 1 < patch.y_hi ? y0 + 1 : patch.y_hi;

  const int64_t* ss = args.source_stride;
  const int64_t* cs = args.canvas_stride;
  const scalar_t* frame =
      static_cast<const scalar_t*>(args.source) + b * ss[0] + patch.frame * ss[2];
  const int64_t at00 = y0 * ss[3] + x0 * ss[4], at01 = y0 * ss[3] + x1 * ss[4];
  const int64_t at10 = y1 * ss[3] + x0 * ss[4], at11 = y1 * ss[3] + x1 * ss[4];
  scalar_t* pixel = static_cast<scalar_t*>(args.canvas) + b * cs[1] + t * cs[3] + y * cs[4] +
                    x * cs[5];
  const int64_t copies = args.canvas_size[0], channels = args.canvas_size[2];
  for (int64_t c = 0; c < channels; ++c) {
    const scalar_t* plane = frame + c * ss[1];
    const float v00 = to_float(plane[at00]), v01 = to_float(plane[at01]);
    const float v10 = to_float(plane[at10]), v11 = to_float(plane[at11]);
    const float top = v00 + fx * (v01 - v00);
    const float bottom = v10 + fx * (v11 - v10);
    const float value = top + fy * (bottom - top);
    for (int64_t p = 0; p < copies; ++p) {
      scalar_t& out = pixel[p * cs[0] + c * cs[2]];
      const float before = to_float(out);
      out = quantise<scalar_t>(alpha >= 1.0f ? value : before * (1.0f - alpha) + value * alpha);
    }
  }
}

// ---------------------------------------------------------------------------
// Host side.

enum class Dtype { kUInt8, kFloat16, kBFloat16, kFloat32 };

// Calls f with a value of the storage type of dtype, e.g. f(Half{}).
template <typename F>
void dispatch(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::kUInt8: return f(uint8_t{});
    case Dtype::kFloat16: return f(Half{});
    case Dtype::kBFloat16: return f(BFloat16{});
    case Dtype::kFloat32: return f(float{});
  }
}

// Defined in composite_cuda.cu: paints on `device`, enqueued on `stream` (a
// cudaStream_t); throws std::runtime_error if the launch fails.
void paint_cuda(const PaintArgs& args, Dtype dtype, int device, uintptr_t stream);

}  // namespace tubelets
