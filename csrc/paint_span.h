// One tubelet painted over one span of a row, the CPU backend's inner loop: the
// portable passes of composite_cpu.cpp, or the AVX-512 kernel of paint_avx512.cpp,
// chosen at run time. Both compute composite.h's paint_pixel for every pixel of the
// span, bit for bit.
#pragma once

#include <stdint.h>

#include "composite.h"

namespace tubelets {

// The sizes and strides a span needs, copied out of PaintArgs: stores through
// uint8_t* may alias anything, and would make the compiler reload PaintArgs.
struct Layout {
  int64_t copies, channels;
  int64_t source_plane, source_row, source_column;        // source strides of C, Hs, Ws
  int64_t out_plane[kMaxCopies], out_column[kMaxCopies];  // output strides of C, W
};

// Columns span.x0 .. span.x1 of one row: `rows[p]` points at column 0, channel 0, of
// the row in output p, `source` at channel 0 of the tubelet's source frame.
template <typename scalar_t>
struct Span {
  const Layout& layout;
  const Patch& patch;
  PatchRow row;
  int64_t x0, x1;
  const scalar_t* source;
  scalar_t* const* rows;
};

// Whether this CPU runs paint_span_avx512 (AVX-512 F, BW, VL and DQ).
bool cpu_has_avx512();

// paint_avx512.cpp: the span in 16-pixel steps, for uint8 and float32 outputs whose
// rows, and the source's, are contiguous (composite_cpu.cpp's fast path). Every read
// is inside the crop, 4 bytes wide for uint8: the caller makes sure that the crop's
// last pixel in the last channel is at least 3 bytes before the end of the source.
template <typename scalar_t>
void paint_span_avx512(const Span<scalar_t>& span);

}  // namespace tubelets
