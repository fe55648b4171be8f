// CPU backend, the module tubelets._C: OpenMP over the B·T frames of the batch;
// in each frame, tubelet by tubelet, the pixels of the tubelet's box.
//
// Painting a whole tubelet before the next keeps each pixel's order of
// operations that of the reference (tubelets in index order, quantised after
// each), and touches only the boxes, not the union box around them.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

#include "composite.h"
#include "python_args.h"

namespace py = pybind11;

namespace tubelets {
namespace {

template <typename scalar_t>
void paint_frames(const PaintArgs& args, int num_threads) {
  const int64_t batch = args.canvas_size[1], frames = args.canvas_size[3];
  const int64_t height = args.canvas_size[4], width = args.canvas_size[5];
  // Boxes differ in size from frame to frame: hand frames out dynamically.
#pragma omp parallel for schedule(dynamic) num_threads(num_threads)
  for (int64_t bt = 0; bt < batch * frames; ++bt) {
    const int64_t b = bt / frames, t = bt % frames;
    for (int64_t m = 0; m < args.num_tubelets; ++m) {
      Box box = frame_box(args, b, m, t);
      box = Box{box.x0 < 0 ? 0 : box.x0, box.y0 < 0 ? 0 : box.y0,
                box.x1 < width ? box.x1 : width - 1, box.y1 < height ? box.y1 : height - 1};
      if (is_empty(box)) continue;
      const Patch patch = load_patch(args, b, m, t);
      for (int64_t y = box.y0; y <= box.y1; ++y) {
        for (int64_t x = box.x0; x <= box.x1; ++x) paint_pixel<scalar_t>(args, patch, b, t, y, x);
      }
    }
  }
}

void paint_cpu(const PaintArgs& args, Dtype dtype, int num_threads) {
  if (nothing_to_paint(args)) return;
  dispatch(dtype, [&](auto storage) { paint_frames<decltype(storage)>(args, num_threads); });
}

// Test hooks: the dtype conversions of composite.h over `count` values.
void quantise_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count) {
  dispatch(dtype, [&](auto storage) {
    using scalar_t = decltype(storage);
    const float* in = reinterpret_cast<const float*>(values);
    scalar_t* result = reinterpret_cast<scalar_t*>(out);
    for (int64_t i = 0; i < count; ++i) result[i] = quantise<scalar_t>(in[i]);
  });
}

void widen_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count) {
  dispatch(dtype, [&](auto storage) {
    using scalar_t = decltype(storage);
    const scalar_t* in = reinterpret_cast<const scalar_t*>(values);
    float* result = reinterpret_cast<float*>(out);
    for (int64_t i = 0; i < count; ++i) result[i] = to_float(in[i]);
  });
}

}  // namespace
}  // namespace tubelets

PYBIND11_MODULE(_C, module) {
  using namespace tubelets;
  module.doc() = "tubelets CPU compositing backend (OpenMP); see tubelets.native.";
  module.def(
      "paint",
      [](const std::string& dtype, uintptr_t canvas, const CanvasLayout& canvas_size,
         const CanvasLayout& canvas_stride, uintptr_t source, const SourceLayout& source_size,
         const SourceLayout& source_stride, int64_t num_tubelets, const ParamPointers& params,
         int num_threads) {
        paint_cpu(make_paint_args(canvas, canvas_size, canvas_stride, source, source_size,
                                  source_stride, num_tubelets, params),
                  parse_dtype(dtype), num_threads);
      },
      py::arg("dtype"), py::arg("canvas"), py::arg("canvas_size"), py::arg("canvas_stride"),
      py::arg("source"), py::arg("source_size"), py::arg("source_stride"),
      py::arg("num_tubelets"), py::arg("params"), py::arg("num_threads"),
      py::call_guard<py::gil_scoped_release>(),
      "Paints tubelets in place; the arguments are data pointers, sizes and strides "
      "(elements) of the tensors of tubelets.reference.paint_.");
  module.def(
      "quantise",
      [](const std::string& dtype, uintptr_t values, uintptr_t out, int64_t count) {
        quantise_array(parse_dtype(dtype), values, out, count);
      },
      py::arg("dtype"), py::arg("values"), py::arg("out"), py::arg("count"),
      "Test hook: float32 values -> dtype, as the kernels store a pixel.");
  module.def(
      "to_float",
      [](const std::string& dtype, uintptr_t values, uintptr_t out, int64_t count) {
        widen_array(parse_dtype(dtype), values, out, count);
      },
      py::arg("dtype"), py::arg("values"), py::arg("out"), py::arg("count"),
      "Test hook: dtype values -> float32, as the kernels read a pixel.");
}
