// The module tubelets._cuda: Python bindings of the CUDA backend. Compiled by
// the host compiler; the kernels live in composite_cuda.cu.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "composite.h"
#include "python_args.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, module) {
  using namespace tubelets;
  module.doc() = "tubelets CUDA compositing backend; see tubelets.native.";
  module.def(
      "paint",
      [](const std::string& dtype, const Layout5& size, const std::vector<StridedVideo>& outs,
         const std::vector<StridedVideo>& ins, uintptr_t source, const Layout5& source_size,
         const Layout5& source_stride, int64_t num_tubelets, const ParamPointers& params, int device,
         uintptr_t stream) {
        paint_cuda(make_paint_args(size, outs, ins, source, source_size, source_stride, num_tubelets, params),
                   parse_dtype(dtype), device, stream);
      },
      py::arg("dtype"), py::arg("size"), py::arg("outs"), py::arg("ins"), py::arg("source"),
      py::arg("source_size"), py::arg("source_stride"), py::arg("num_tubelets"), py::arg("params"),
      py::arg("device"), py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
      "Enqueues outs[p] = ins[p] with the tubelets painted on, on `stream` (a cudaStream_t) of "
      "`device`; the arguments are those of tubelets._C.paint.");
}
