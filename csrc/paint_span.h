// One tubelet painted over spans of rows, the CPU backend's inner loop: the portable
// passes of composite_cpu.cpp, or paint_simd.h's kernel in AVX-512 (paint_avx512.cpp) or
// AVX2 (paint_avx2.cpp), chosen at run time. Both compute composite.h's paint_pixel for every pixel of a span, bit for bit,
// reading the source through the tubelet's Crop.
#pragma once

#include <stdint.h>

#include "composite.h"

namespace tubelets {

// The sizes and strides a span needs, copied out of PaintArgs: stores through
// uint8_t* may alias anything, and would make the compiler reload PaintArgs.
struct Layout {
  int64_t copies, channels;  // channels of the outputs; a source alpha channel comes after them
  int64_t out_plane[kMaxCopies], out_row[kMaxCopies], out_column[kMaxCopies];  // output strides of C, H, W
  bool source_alpha;         // the crops have that alpha channel (PaintArgs::source_alpha)
  int64_t mask_row;          // elements per row of PaintArgs::masks: the frame's width
};

// The four source values a bilinear sample at source pixel (x, y) reads, in the order
// of composite.h's bilinear(): (x, y), (x1, y), (x, y1), (x1, y1), where x1 and y1 are
// the right and lower neighbours clamped to the crop, as source_point clamps them.
template <typename scalar_t>
struct Quad {
  scalar_t tap[4];
};

// What a crop is read into, per dtype. uint8: quads, so that one 32-bit gather reads
// all four taps of a pixel. Wider types: the values themselves, each row followed by a
// copy of its last value and the rows by a copy of the last row, so that the taps of
// (x, y) lie at +0, +1, +width and +width + 1 with the clamp built in; quads would be
// four times the bytes and spare no gather (a tap is a gather of its own either way).
template <typename scalar_t>
struct CropCell {
  using type = scalar_t;
  static constexpr bool kQuads = false;
};
template <>
struct CropCell<uint8_t> {
  using type = Quad<uint8_t>;
  static constexpr bool kQuads = true;
};

// A tubelet's crop, read from the source before any output pixel is written: channel
// c's cells at cells + c * plane, the cell of source pixel (x, y) at y * width + x -
// origin (width: cells per row). Every read stays inside the cells, and the source may
// be an output painted in place.
template <typename scalar_t>
struct Crop {
  using Cell = typename CropCell<scalar_t>::type;
  const Cell* cells;
  int64_t width, plane, origin;

  // The taps of the cell at `at` of channel plane `cells`, as bilinear() takes them.
  static void taps(const Cell* cells, int64_t at, int64_t width, scalar_t (&tap)[4]) {
    if constexpr (CropCell<scalar_t>::kQuads) {
      for (int k = 0; k < 4; ++k) tap[k] = cells[at].tap[k];
    } else {
      tap[0] = cells[at];
      tap[1] = cells[at + 1];
      tap[2] = cells[at + width];
      tap[3] = cells[at + width + 1];
    }
  }
};

// Rows y0 .. y0 + count - 1 of a tubelet's box, row y0 + i over the columns
// spans[i].x0 .. spans[i].x1 (none if x1 < x0). `frames[p]` points at channel 0 of the
// frame in output p.
template <typename scalar_t>
struct Rows {
  const Layout& layout;
  const Patch& patch;
  int64_t y0, count;
  const Box* spans;
  const Crop<scalar_t>& crop;
  scalar_t* const* frames;
  int8_t* masks;  // null, or the frame's (H, W) plane of PaintArgs::masks, given the tubelet's id
  int8_t id;
};

// Whether this CPU runs paint_rows_avx512 (AVX-512 F, BW, VL and DQ), paint_rows_avx2.
bool cpu_has_avx512();
bool cpu_has_avx2();

// The rows in 16-pixel (AVX-512) or 8-pixel (AVX2) steps, for uint8 and float32 outputs
// whose rows are contiguous, with quad indices that fit int32 (composite_cpu.cpp's fast
// path); AVX2 also needs rows of at least 8 pixels.
template <typename scalar_t>
void paint_rows_avx512(const Rows<scalar_t>& rows);
template <typename scalar_t>
void paint_rows_avx2(const Rows<scalar_t>& rows);

}  // namespace tubelets
