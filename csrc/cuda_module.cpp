// The module tubelets._cuda: Python bindings of the CUDA backend. Compiled by
// the host compiler; the kernels live in composite_cuda.cu.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

#include "composite.h"
#include "python_args.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, module) {
  using namespace tubelets;
  module.doc() = "tubelets CUDA compositing backend; see tubelets.native.";
  module.def(
      "paint",
      [](const std::string& dtype, uintptr_t canvas, const CanvasLayout& canvas_size,
         const CanvasLayout& canvas_stride, uintptr_t source, const SourceLayout& source_size,
         const SourceLayout& source_stride, int64_t num_tubelets, const ParamPointers& params,
         int device, uintptr_t stream) {
        paint_cuda(make_paint_args(canvas, canvas_size, canvas_stride, source, source_size,
                                   source_stride, num_tubelets, params),
                   parse_dtype(dtype), device, stream);
      },
      py::arg("dtype"), py::arg("canvas"), py::arg("canvas_size"), py::arg("canvas_stride"),
      py::arg("source"), py::arg("source_size"), py::arg("source_stride"),
      py::arg("num_tubelets"), py::arg("params"), py::arg("device"), py::arg("stream"),
      py::call_guard<py::gil_scoped_release>(),
      "Enqueues the painting on `stream` (a cudaStream_t) of `device`; the arguments are "
      "data pointers, sizes and strides (elements) of the tensors of "
      "tubelets.reference.paint_.");
}
