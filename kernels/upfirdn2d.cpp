// upfirdn2d binding: argument checks, output size, dispatch to the CPU or CUDA version.
#include "upfirdn2d.h"

#include <ATen/OpMathType.h>

namespace ganbench {

at::Tensor upfirdn2d(const at::Tensor& x, const at::Tensor& f, int64_t upx, int64_t upy,
                     int64_t downx, int64_t downy, int64_t padx0, int64_t padx1, int64_t pady0,
                     int64_t pady1, int64_t variant) {
  TORCH_CHECK(x.dim() == 4, "upfirdn2d: x must be [N, C, H, W], got ", x.dim(), " dims");
  TORCH_CHECK(f.dim() == 2, "upfirdn2d: f must be a 2D [fh, fw] filter, got ", f.dim(), " dims");
  TORCH_CHECK(f.device() == x.device(), "upfirdn2d: f and x are on different devices");
  TORCH_CHECK(f.scalar_type() == at::toOpMathType(x.scalar_type()),
              "upfirdn2d: f must have dtype ", at::toOpMathType(x.scalar_type()), ", got ",
              f.scalar_type());
  TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1,
              "upfirdn2d: up and down must be >= 1");
  TORCH_CHECK(f.size(0) >= 1 && f.size(1) >= 1, "upfirdn2d: empty filter");

  Upfirdn2dParams p;
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.upx = upx;
  p.upy = upy;
  p.downx = downx;
  p.downy = downy;
  p.padx0 = padx0;
  p.pady0 = pady0;
  p.fh = f.size(0);
  p.fw = f.size(1);
  p.OH = floor_div(p.H * upy + pady0 + pady1 - p.fh, downy) + 1;
  p.OW = floor_div(p.W * upx + padx0 + padx1 - p.fw, downx) + 1;
  TORCH_CHECK(p.OH >= 1 && p.OW >= 1, "upfirdn2d: padding and filter leave an empty output (",
              p.OH, "x", p.OW, ")");

  const at::Tensor fc = f.contiguous();
  if (x.is_cuda()) {
#ifdef GANBENCH_WITH_CUDA
    p.sxn = x.stride(0);
    p.sxc = x.stride(1);
    p.sxh = x.stride(2);
    p.sxw = x.stride(3);
    return upfirdn2d_cuda(x, fc, p);
#else
    TORCH_CHECK(false, "upfirdn2d: this build of the ops has no CUDA support");
#endif
  }
  TORCH_CHECK(x.device().is_cpu(), "upfirdn2d: unsupported device ", x.device());
  // The fast CPU kernel reads rows contiguously; anything else (e.g. channels-last) is
  // copied to NCHW first. Planes and rows may have any stride.
  const at::Tensor xc = (x.stride(3) == 1 || p.W == 1) ? x : x.contiguous();
  p.sxn = xc.stride(0);
  p.sxc = xc.stride(1);
  p.sxh = xc.stride(2);
  p.sxw = xc.stride(3);
  return upfirdn2d_cpu(xc, fc, p, variant);
}

}  // namespace ganbench
