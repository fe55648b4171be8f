// One tubelet painted over spans of rows, the CPU backend's inner loop: the portable
// passes of composite_cpu.cpp, or the AVX-512 kernel of paint_avx512.cpp, chosen at run
// time. Both compute composite.h's paint_pixel for every pixel of a span, bit for bit.
#pragma once

#include <stdint.h>

#include "composite.h"

namespace tubelets {

// The sizes and strides a span needs, copied out of PaintArgs: stores through
// uint8_t* may alias anything, and would make the compiler reload PaintArgs.
struct Layout {
  int64_t copies, channels;
  int64_t source_plane, source_row, source_column;        // source strides of C, Hs, Ws
  int64_t out_plane[kMaxCopies], out_row[kMaxCopies], out_column[kMaxCopies];  // output strides of C, H, W
};

// Rows y0 .. y0 + count - 1 of a tubelet's box, row y0 + i over the columns
// spans[i].x0 .. spans[i].x1 (none if x1 < x0). `frames[p]` points at channel 0 of the
// frame in output p, `source` at channel 0 of the tubelet's source frame.
template <typename scalar_t>
struct Rows {
  const Layout& layout;
  const Patch& patch;
  int64_t y0, count;
  const Box* spans;
  const scalar_t* source;
  scalar_t* const* frames;
};

// Whether this CPU runs paint_rows_avx512 (AVX-512 F, BW, VL and DQ).
bool cpu_has_avx512();

// paint_avx512.cpp: the rows in 16-pixel steps, for uint8 and float32 outputs whose
// rows, and the source's, are contiguous (composite_cpu.cpp's fast path). Every read
// is inside the crop, 4 bytes wide for uint8: the caller makes sure that the crop's
// last pixel in the last channel is at least 3 bytes before the end of the source.
template <typename scalar_t>
void paint_rows_avx512(const Rows<scalar_t>& rows);

}  // namespace tubelets
