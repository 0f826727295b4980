// upfirdn2d: upsample by zero insertion, pad (negative = crop), correlate with a 2D FIR
// filter, keep every down-th sample. Shared declarations of the CPU and CUDA versions.
//
// Output sample (oy, ox) of one (n, c) plane:
//
//   y[oy, ox] = sum_{ky, kx} f[ky, kx] * u[oy * downy + ky - pady0, ox * downx + kx - padx0]
//
// where u[j, i] = x[j / upy, i / upx] when upy divides j and upx divides i and the quotient
// lies inside the input, and 0 otherwise. f is in correlation form with the gain folded in
// (the Python side flips it and scales it), so the kernels only multiply and add.
#pragma once

#include <cstdint>

#include "common.h"

#ifndef GB_NO_ATEN
#include <ATen/ATen.h>
#endif

namespace ganbench {

struct Upfirdn2dParams {
  int64_t N, C, H, W;          // input size
  int64_t sxn, sxc, sxh, sxw;  // input strides, in elements
  int64_t OH, OW;              // output size (the output is contiguous NCHW)
  int64_t upx, upy, downx, downy;
  int64_t padx0, pady0;        // the far-side padding only enters through OH, OW
  int64_t fw, fh;              // filter size; the filter is a contiguous [fh, fw] array
};

// One output sample of one plane; `xp` points at the plane's first element. This is the
// whole CUDA kernel body and the CPU "generic" variant, which the tests compare against the
// PyTorch reference.
template <typename scalar_t, typename acc_t>
GB_HD acc_t upfirdn2d_point(const scalar_t* xp, const acc_t* f, const Upfirdn2dParams& p,
                            int64_t oy, int64_t ox) {
  const int64_t by = oy * p.downy - p.pady0;
  const int64_t bx = ox * p.downx - p.padx0;
  // Only the taps whose upsampled coordinate falls on an input sample contribute.
  const int64_t ky0 = pos_mod(-by, p.upy);
  const int64_t kx0 = pos_mod(-bx, p.upx);
  acc_t acc = acc_t(0);
  for (int64_t ky = ky0; ky < p.fh; ky += p.upy) {
    const int64_t iy = (by + ky) / p.upy;  // exact: upy divides by + ky
    if (iy < 0 || iy >= p.H) continue;
    const scalar_t* xrow = xp + iy * p.sxh;
    const acc_t* frow = f + ky * p.fw;
    for (int64_t kx = kx0; kx < p.fw; kx += p.upx) {
      const int64_t ix = (bx + kx) / p.upx;
      if (ix < 0 || ix >= p.W) continue;
      acc += frow[kx] * static_cast<acc_t>(xrow[ix * p.sxw]);
    }
  }
  return acc;
}

#ifndef GB_NO_ATEN
// Variants of the CPU implementation: the fast row kernel, or the per-sample code shared
// with CUDA (for tests).
enum Upfirdn2dVariant : int64_t { kUpfirdn2dFast = 0, kUpfirdn2dGeneric = 1 };

// x: [N, C, H, W] any strides; f: [fh, fw] contiguous, dtype = opmath(x.dtype);
// returns y: [N, C, OH, OW] contiguous.
at::Tensor upfirdn2d_cpu(const at::Tensor& x, const at::Tensor& f, const Upfirdn2dParams& p,
                         int64_t variant);
#ifdef GANBENCH_WITH_CUDA
at::Tensor upfirdn2d_cuda(const at::Tensor& x, const at::Tensor& f, const Upfirdn2dParams& p);
#endif

// The binding: checks arguments, computes the output size and dispatches by device.
at::Tensor upfirdn2d(const at::Tensor& x, const at::Tensor& f, int64_t upx, int64_t upy,
                     int64_t downx, int64_t downy, int64_t padx0, int64_t padx1, int64_t pady0,
                     int64_t pady1, int64_t variant);
#endif

}  // namespace ganbench
