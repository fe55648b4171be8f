// The SIMD span kernel, written once over an instruction set `S`: composite.h's
// paint_pixel for S::kLanes pixels of a row at a time. Included by paint_avx512.cpp
// and paint_avx2.cpp inside their `#pragma GCC target` regions and anonymous
// namespaces, after each defines its `S` (see either file for the vocabulary: float
// vectors F, int32 vectors I, lane masks M, and the loads, stores and gathers).
//
// Each step mirrors paint_pixel operation by operation in float32: the same products
// and sums in the same order, S::max/S::min for clamp() (both give the second operand
// for a NaN, as clamp's selects do), truncating conversions where it truncates. So the
// results are those of the reference, bit for bit; tests/test_native.py compares every
// kernel this CPU runs with the portable passes and the reference.
//
// Pixels outside the span, or where alpha <= 0, are masked off: nothing is read from
// the crop there, and no output or mask value changes. The source positions of every
// lane are clamped into the crop, so even masked-off lanes would read inside it. The
// taps come from the tubelet's Crop: a uint8 lane reads its four in one 32-bit gather,
// a float32 lane in four gathers from the padded crop.
//
// Not a header of its own: no include guard, no includes; the includer provides
// paint_span.h and the intrinsics.

// clamp(value, low, high) of composite.h: S::max(v, low) is `v > low ? v : low`,
// S::min(a, high) is `a < high ? a : high`.
template <class S>
inline typename S::F clamp_lanes(typename S::F value, typename S::F low, typename S::F high) {
  return S::min(S::max(value, low), high);
}

// A tubelet's constants, one per lane.
template <class S>
struct Lanes {
  using F = typename S::F;
  using I = typename S::I;
  F m0, m2, m3, m5;  // the map's entries that do not multiply y
  F opacity, softness;
  F centre_x, centre_y, half_x, half_y, x_lo, y_lo, x_hi, y_hi;
  I last_x, last_y;  // x_hi, y_hi as integers
  I width, origin;   // the crop's cells per row, and Crop::origin
};

template <class S>
Lanes<S> lanes_of(const Patch& patch, int64_t width, int64_t origin) {
  const float* m = patch.affine;
  return Lanes<S>{S::set1(m[0]), S::set1(m[2]), S::set1(m[3]), S::set1(m[5]),
                  S::set1(patch.opacity), S::set1(patch.softness),
                  S::set1(patch.centre_x), S::set1(patch.centre_y),
                  S::set1(patch.half_x), S::set1(patch.half_y),
                  S::set1(float(patch.x_lo)), S::set1(float(patch.y_lo)),
                  S::set1(float(patch.x_hi)), S::set1(float(patch.y_hi)),
                  S::set1i(int32_t(patch.x_hi)), S::set1i(int32_t(patch.y_hi)),
                  S::set1i(int32_t(width)), S::set1i(int32_t(origin))};
}

// shape_alpha of composite.h, for one shape.
template <class S, int32_t kShape>
inline typename S::F distance_lanes(typename S::F ux, typename S::F uy, typename S::F ax, typename S::F ay) {
  if (kShape == kEllipse) return S::sqrt(S::add(S::mul(ux, ux), S::mul(uy, uy)));
  if (kShape == kRhombus) return S::add(ax, ay);
  return S::max(ax, ay);  // ax > ay ? ax : ay
}

// Whether a hard-edged shape covers u: distance_lanes <= 1. For an ellipse sqrt(s) <= 1
// exactly when s <= 1 + 2^-23, since sqrt is correctly rounded and monotone and
// sqrt(1 + 2^-23) rounds to 1: that spares the square root.
template <class S, int32_t kShape>
inline typename S::M covers_lanes(typename S::F ux, typename S::F uy, typename S::F ax, typename S::F ay) {
  if (kShape == kEllipse) {
    const typename S::F squared = S::add(S::mul(ux, ux), S::mul(uy, uy));
    return S::le(squared, S::set1(1.00000012f));  // 1 + 2^-23
  }
  return S::le(distance_lanes<S, kShape>(ux, uy, ax, ay), S::set1(1.0f));
}

// Where the lanes sample the source: the index of the cell of (x0, y0) in the crop's
// plane, and the weights.
template <class S>
struct Taps {
  typename S::I at;
  typename S::F fx, fy;
};

template <class S>
inline Taps<S> taps_of(const Lanes<S>& k, typename S::F ux, typename S::F uy) {
  const typename S::F sx = clamp_lanes<S>(S::add(k.centre_x, S::mul(ux, k.half_x)), k.x_lo, k.x_hi);
  const typename S::F sy = clamp_lanes<S>(S::add(k.centre_y, S::mul(uy, k.half_y)), k.y_lo, k.y_hi);
  const typename S::I x0 = S::mini(S::cvtt(sx), k.last_x);
  const typename S::I y0 = S::mini(S::cvtt(sy), k.last_y);
  return Taps<S>{S::subi(S::addi(S::mullo(y0, k.width), x0), k.origin),
                 S::sub(sx, S::cvt(x0)), S::sub(sy, S::cvt(y0))};
}

// bilinear() of composite.h.
template <class S>
inline typename S::F bilinear_lanes(typename S::F v00, typename S::F v01, typename S::F v10, typename S::F v11,
                                    typename S::F fx, typename S::F fy) {
  const typename S::F top = S::add(v00, S::mul(fx, S::sub(v01, v00)));
  const typename S::F bottom = S::add(v10, S::mul(fx, S::sub(v11, v10)));
  return S::add(top, S::mul(fy, S::sub(bottom, top)));
}

// The bilinear sample of one plane of the crop at `taps`, in the lanes of `mask`.
// uint8: quads, one 32-bit gather per lane (`width` is not needed).
template <class S>
inline typename S::F sample_lanes(const Quad<uint8_t>* plane, int64_t, const Taps<S>& taps, typename S::M mask) {
  const typename S::I byte = S::set1i(0xff);
  const typename S::I quad = S::gather(plane, taps.at, mask);
  const typename S::F v00 = S::cvt(S::andi(quad, byte));
  const typename S::F v01 = S::cvt(S::andi(S::template srli<8>(quad), byte));
  const typename S::F v10 = S::cvt(S::andi(S::template srli<16>(quad), byte));
  const typename S::F v11 = S::cvt(S::template srli<24>(quad));
  return bilinear_lanes<S>(v00, v01, v10, v11, taps.fx, taps.fy);
}

// float32: the padded crop of paint_span.h, a row of `width` values.
template <class S>
inline typename S::F sample_lanes(const float* plane, int64_t width, const Taps<S>& taps, typename S::M mask) {
  const float* below = plane + width;
  return bilinear_lanes<S>(S::gather(plane, taps.at, mask), S::gather(plane + 1, taps.at, mask),
                           S::gather(below, taps.at, mask), S::gather(below + 1, taps.at, mask), taps.fx,
                           taps.fy);
}

// quantise() of composite.h: the stored form of float32 values, for S::store.
template <class S>
inline typename S::I quantise_lanes(typename S::F value, uint8_t) {
  const typename S::F clamped = clamp_lanes<S>(S::add(value, S::set1(0.5f)), S::zero(), S::set1(255.0f));
  return S::cvtt(clamped);
}
template <class S>
inline typename S::F quantise_lanes(typename S::F value, float) {
  return value;
}

// quantise_lanes of a bilinear sample itself. A uint8 sample lies in [0, 255]: each of
// bilinear()'s a + f·(b - a), with f in [0, 1], rounds to a value between a and b, as
// rounding is monotone and a, b - a are exact. So clamp() changes nothing, and
// truncating v + 0.5 <= 255.5 gives at most 255.
template <class S>
inline typename S::I quantise_sample_lanes(typename S::F value, uint8_t) {
  return S::cvtt(S::add(value, S::set1(0.5f)));
}
template <class S>
inline typename S::F quantise_sample_lanes(typename S::F value, float) {
  return value;
}

// Columns x0 .. x1 of the row whose products m1·y, m4·y are `row`, for `channels`
// channels (a constant where the caller's template fixes it); out[p] points at channel
// 0, column 0 of the row in output p, a row of `row_width` pixels. With `source_alpha`
// the crop's plane `channels` is an alpha channel; `mask`, if not null, points at column
// 0 of the row in the masks, which get `id` where the tubelet paints.
template <class S, typename scalar_t, int32_t kShape, bool kSoft>
inline void paint_row(const Lanes<S>& k, PatchRow row, int64_t x0, int64_t x1, int64_t row_width,
                      int64_t channels, int64_t copies, const typename Crop<scalar_t>::Cell* cells, int64_t width,
                      int64_t plane, const int64_t* out_plane, scalar_t* const* out, bool source_alpha,
                      int8_t* mask, int8_t id) {
  using F = typename S::F;
  using M = typename S::M;
  const F one = S::set1(1.0f), zero = S::zero();
  const F x_from_y = S::set1(row.x_from_y), y_from_y = S::set1(row.y_from_y);
  for (int64_t x = x0; x <= x1; x += S::kLanes) {
    // The lanes cover columns start .. start + kLanes - 1, of which `lanes` are x .. x1.
    const typename S::Window window = S::window(x, x1, row_width);
    const int64_t start = window.start;
    const M lanes = window.lanes;
    // u of paint_pixel: (m0·x + m1·y) + m2, (m3·x + m4·y) + m5.
    const F column = S::cvt(S::addi(S::set1i(int32_t(start)), S::iota()));
    const F ux = S::add(S::add(S::mul(k.m0, column), x_from_y), k.m2);
    const F uy = S::add(S::add(S::mul(k.m3, column), y_from_y), k.m5);
    const F ax = S::abs(ux), ay = S::abs(uy);
    const M inside = S::both(S::le(ax, one), S::le(ay, one));
    const F coverage =
        kSoft ? clamp_lanes<S>(S::div(S::sub(one, distance_lanes<S, kShape>(ux, uy, ax, ay)), k.softness), zero, one)
              : S::zero_unless(covers_lanes<S, kShape>(ux, uy, ax, ay), one);
    F alpha = S::zero_unless(inside, S::mul(k.opacity, coverage));
    // blend() keeps the pixel where alpha <= 0, and paints where it is not (NaN included).
    M paint = S::both(lanes, S::nle(alpha, zero));
    if (S::none(paint)) continue;
    const Taps<S> taps = taps_of<S>(k, ux, uy);
    if (source_alpha) {  // source_coverage of composite.h
      const F sample = sample_lanes<S>(cells + channels * plane, width, taps, paint);
      alpha = S::mul(alpha, clamp_lanes<S>(S::mul(sample, S::set1(alpha_unit<scalar_t>())), zero, one));
      paint = S::both(paint, S::nle(alpha, zero));
      if (S::none(paint)) continue;
    }
    if (mask != nullptr) S::store_id(mask + start, paint, id);
    const M opaque = S::ge(alpha, one);
    if (S::none(S::but_not(paint, opaque))) {  // all opaque: the canvas is not read (reads that miss the cache stall)
      for (int64_t c = 0; c < channels; ++c) {
        const auto stored = quantise_sample_lanes<S>(sample_lanes<S>(cells + c * plane, width, taps, paint), scalar_t{});
        for (int64_t p = 0; p < copies; ++p) S::store(out[p] + c * out_plane[p] + start, paint, stored);
      }
      continue;
    }
    const F keep = S::sub(one, alpha);
    for (int64_t c = 0; c < channels; ++c) {
      const F value = sample_lanes<S>(cells + c * plane, width, taps, paint);
      const F painted = S::mul(value, alpha);
      for (int64_t p = 0; p < copies; ++p) {
        scalar_t* at = out[p] + c * out_plane[p] + start;
        // before·(1 - alpha) + value·alpha, or value where alpha >= 1.
        const F mixed = S::add(S::mul(S::load(at, paint), keep), painted);
        S::store(at, paint, quantise_lanes<S>(S::select(opaque, value, mixed), scalar_t{}));
      }
    }
  }
}

// The rows, for `kChannels` channels and `kCopies` copies (0: those of the layout,
// known only at run time).
// Everything the loops read is a local: a store through uint8_t* may alias anything
// else, and would make the compiler reload it after every store.
template <class S, typename scalar_t, int32_t kShape, bool kSoft, int64_t kChannels, int64_t kCopies>
void paint_block(const Rows<scalar_t>& rows) {
  const Layout& layout = rows.layout;
  const int64_t channels = kChannels ? kChannels : layout.channels, copies = kCopies ? kCopies : layout.copies;
  const int64_t row_width = layout.mask_row;
  const auto* cells = rows.crop.cells;
  const int64_t width = rows.crop.width, plane = rows.crop.plane;
  int64_t out_plane[kMaxCopies], out_row[kMaxCopies];
  scalar_t* frames[kMaxCopies];
  for (int64_t p = 0; p < kMaxCopies; ++p) {
    const bool used = p < copies;
    out_plane[p] = used ? layout.out_plane[p] : 0;
    out_row[p] = used ? layout.out_row[p] : 0;
    frames[p] = used ? rows.frames[p] : nullptr;
  }
  const Patch& patch = rows.patch;
  const Lanes<S> k = lanes_of<S>(patch, rows.crop.width, rows.crop.origin);
  for (int64_t i = 0; i < rows.count; ++i) {
    const Box span = rows.spans[i];
    if (span.x1 < span.x0) continue;
    const int64_t y = rows.y0 + i;
    scalar_t* out[kMaxCopies];
    for (int64_t p = 0; p < kMaxCopies; ++p) out[p] = frames[p] + y * out_row[p];
    // Stores that miss the cache fill the store queue and stall: ask for the next row's
    // lines early, with intent to write (float32: a span is several lines per plane).
    if (sizeof(scalar_t) > 1 && i + 1 < rows.count) {
      const Box next = rows.spans[i + 1];
      for (int64_t p = 0; p < copies; ++p) {
        for (int64_t c = 0; c < channels; ++c) {
          const scalar_t* next_row = out[p] + out_row[p] + c * out_plane[p];
          for (int64_t x = next.x0; x < next.x1; x += 64 / int64_t(sizeof(scalar_t))) __builtin_prefetch(next_row + x, 1);
          if (next.x0 <= next.x1) __builtin_prefetch(next_row + next.x1, 1);
        }
      }
    }
    int8_t* mask = rows.masks != nullptr ? rows.masks + y * layout.mask_row : nullptr;
    paint_row<S, scalar_t, kShape, kSoft>(k, patch_row(patch, y), span.x0, span.x1, row_width, channels, copies,
                                          cells, width, plane, out_plane, out, layout.source_alpha, mask, rows.id);
  }
}

template <class S, typename scalar_t, int32_t kShape, bool kSoft>
void paint_channels(const Rows<scalar_t>& rows) {
  // RGB unrolled, and for pairs (the overlay's two clips) their stores too: on the
  // paper's case 25 % fewer instructions than the channels alone (cachegrind), ~3 % less
  // time on the benchmark's Zen 3.
  if (rows.layout.channels == 3 && rows.layout.copies == 2) {
    paint_block<S, scalar_t, kShape, kSoft, 3, 2>(rows);
  } else if (rows.layout.channels == 3) {
    paint_block<S, scalar_t, kShape, kSoft, 3, 0>(rows);
  } else {
    paint_block<S, scalar_t, kShape, kSoft, 0, 0>(rows);
  }
}

template <class S, typename scalar_t, int32_t kShape>
void paint_shape(const Rows<scalar_t>& rows) {
  if (rows.patch.softness > 0.0f) {
    paint_channels<S, scalar_t, kShape, true>(rows);
  } else {
    paint_channels<S, scalar_t, kShape, false>(rows);
  }
}

template <class S, typename scalar_t>
void paint_rows_with(const Rows<scalar_t>& rows) {
  switch (rows.patch.shape) {
    case kEllipse: return paint_shape<S, scalar_t, kEllipse>(rows);
    case kRhombus: return paint_shape<S, scalar_t, kRhombus>(rows);
    default: return paint_shape<S, scalar_t, kRectangle>(rows);  // any other value: a rectangle
  }
}
