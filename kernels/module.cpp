// The Python module of the ganbench ops: one function per op, each dispatching on the device
// of its tensors to the C++ (CPU) or, in a CUDA build, the CUDA implementation.
#include <torch/python.h>

#include "bias_act.h"
#include "upfirdn2d.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "ganbench custom ops: upfirdn2d and bias_act";
  m.def("upfirdn2d", &ganbench::upfirdn2d,
        "upfirdn2d(x[N,C,H,W], f[fh,fw] correlation-form filter, upx, upy, downx, downy, "
        "padx0, padx1, pady0, pady1, variant) -> y[N,C,OH,OW]",
        pybind11::arg("x"), pybind11::arg("f"), pybind11::arg("upx"), pybind11::arg("upy"),
        pybind11::arg("downx"), pybind11::arg("downy"), pybind11::arg("padx0"),
        pybind11::arg("padx1"), pybind11::arg("pady0"), pybind11::arg("pady1"),
        pybind11::arg("variant") = 0);
  m.def("bias_act", &ganbench::bias_act,
        "bias_act(x, b, dy, g, mode, act, alpha, gain, clamp, dim, want_db) -> [out, db]",
        pybind11::arg("x"), pybind11::arg("b"), pybind11::arg("dy"), pybind11::arg("g"),
        pybind11::arg("mode"), pybind11::arg("act"), pybind11::arg("alpha"),
        pybind11::arg("gain"), pybind11::arg("clamp"), pybind11::arg("dim"),
        pybind11::arg("want_db"));
#ifdef GANBENCH_WITH_CUDA
  m.attr("with_cuda") = true;
#else
  m.attr("with_cuda") = false;
#endif
}
